//! gru-cosim: the system wiring, checker, workloads and CLI.

pub mod bench;
pub mod check;
pub mod chiplet_cmds;
pub mod coverage;
pub mod coverage_report;
pub mod mutants;
pub mod platform;
pub mod run_cmd;
pub mod regress;
pub mod scenario;
pub mod stats_report;
pub mod system;
pub mod trace;
pub mod waves;
pub mod workload;

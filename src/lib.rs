//! gru-cosim: the system wiring, checker, workloads and CLI.

pub mod bench;
pub mod chiplet_cmds;
pub mod run_cmd;
pub mod scenario;
pub mod system;
pub mod trace;
pub mod workload;

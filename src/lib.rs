//! gru-cosim: the system wiring, checker, scenarios and CLI.

pub mod chiplet_cmds;

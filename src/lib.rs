//! gru-cosim: the system wiring, checker, scenarios and CLI.

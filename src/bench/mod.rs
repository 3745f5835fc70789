//! `gru-cosim bench`: the performance report.

pub mod machine;
pub mod svg;

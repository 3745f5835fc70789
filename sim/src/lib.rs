//! gru_chiplet under simulation: the Verilated RTL, the cycle-accurate reference model, and the
//! lockstep comparison, all behind [`ports::CycleModel`].

// Links the Verilator runtime after the models (rustc drops unreferenced crates).
extern crate verilated_rt as _;

pub mod handles;
pub mod model;
pub mod ports;
#[cfg(gru_rtl)]
pub mod rtl;

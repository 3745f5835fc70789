//! gru_chiplet under simulation: the Verilated RTL, the cycle-accurate reference model, and the
//! lockstep comparison, all behind [`ports::CycleModel`]; [`chiplet::Chiplet`] puts a
//! transaction-level API (MMIO lines, CB requests, memory server) over any of them.

// Links the Verilator runtime after the models (rustc drops unreferenced crates).
extern crate verilated_rt as _;

pub mod chiplet;
/// The handle table lives with the driver (which must not depend on Verilator); re-exported so
/// that the model and tests name it as the hardware's.
pub use gru_driver::gru::handles;
pub mod lockstep;
pub mod model;
pub mod mutant;
pub mod ports;
pub mod rtl;
pub mod stimulus;

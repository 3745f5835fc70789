//! gru_chiplet under simulation: the Verilated RTL, the cycle-accurate reference model, and the
//! lockstep comparison, all behind [`ports::CycleModel`]; [`chiplet::Chiplet`] puts a
//! transaction-level API (MMIO lines, CB requests, memory server) over any of them.

// Links the Verilator runtime after the models (rustc drops unreferenced crates).
extern crate verilated_rt as _;

pub mod chiplet;
/// The hardware ABI (handle layouts, codes, debug-port layout), generated from
/// `abi/gru_abi.toml` like the RTL's `rtl/gru_defs.vh`.
pub use gru_abi as handles;
pub mod lockstep;
pub mod model;
pub mod monitor;
pub mod mutant;
pub mod ports;
pub mod rtl;
pub mod skip;
pub mod stimulus;

//! The Verilator runtime, compiled once for every Verilated model in the workspace.
//!
//! This crate has no Rust API: depending on it links `libverilated.a` (and `stdc++`, `z`,
//! `pthread`, `atomic`) after the models, and exports the Verilator root to dependent build
//! scripts as `DEP_VERILATED_ROOT`.

//! The kernel side of gru-cosim: a deterministic simulated kernel runtime ([`kernel`]), a primary
//! MMU that emits MMU-notifier callbacks in Linux's order ([`mm`], [`notifier`]), the data oracle
//! for CPU-only workloads ([`oracle`]), the semantic event log ([`trace`]) and the GRU driver
//! ([`gru`]), whose handle table the chiplet model shares.
//!
//! Nothing here knows about Verilator: hardware is reached through [`kernel::Hardware`].

pub mod gru;
pub mod kernel;
pub mod mm;
pub mod notifier;
pub mod oracle;
pub mod trace;

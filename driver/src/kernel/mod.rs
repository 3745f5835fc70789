//! The simulated kernel runtime: clock, CPUs, deterministic executor, interrupts, contexts
//! and synchronisation.

pub mod clock;
pub mod context;
pub mod cost;
mod cpu;
pub mod executor;
pub mod irq;
pub mod sync;

pub use clock::Clock;
pub use context::{AtomicCtx, Await, IrqCtx, ProcCtx};
pub use executor::{Kernel, KernelConfig, KernelError, PollCounts, TaskId};
pub use irq::{FakeIrqLines, Hardware, IrqLevels, NoHardware, NUM_IRQ_LINES};
pub use sync::{
    smp_mb, smp_rmb, smp_wmb, Atomic, ReadGuard, RwSem, SpinGuard, SpinLock, WaitQueue, WriteGuard,
};

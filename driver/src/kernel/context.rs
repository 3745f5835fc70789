//! Execution contexts as types.
//!
//! Everything a kernel path may do takes the context it runs in. [`AtomicCtx`] can spin, try
//! locks, touch memory and spend cycles, but never sleep. [`ProcCtx`] (a thread) and [`IrqCtx`]
//! (an interrupt handler) both dereference to it. Sleeping calls — `get_user_pages`, a sleeping
//! lock, a wait — take `&ProcCtx`, so they do not compile from interrupt context:
//!
//! ```compile_fail,E0308
//! use gru_driver::kernel::{IrqCtx, WaitQueue};
//! async fn handler(ctx: &IrqCtx, wq: &WaitQueue) {
//!     wq.wait_event(ctx, || true).await; // expected `&ProcCtx`, found `&IrqCtx`
//! }
//! ```
//!
//! while the same call from a thread does:
//!
//! ```
//! use gru_driver::kernel::{ProcCtx, WaitQueue};
//! async fn thread(ctx: &ProcCtx, wq: &WaitQueue) {
//!     wq.wait_event(ctx, || true).await;
//! }
//! ```

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::executor::{Kernel, Outcome, TaskId};

/// A context that must not sleep: the capabilities shared by threads and interrupt handlers.
pub struct AtomicCtx {
    kernel: Kernel,
    task: TaskId,
}

impl AtomicCtx {
    /// The kernel this code runs in.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The running task.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// The CPU the task is running on now (threads may migrate between sleeps).
    pub fn cpu(&self) -> usize {
        self.kernel.current_cpu().unwrap_or(0)
    }

    /// The current cycle.
    pub fn now(&self) -> u64 {
        self.kernel.now()
    }

    /// An await point that spends `cycles` on this CPU (at least one). An interrupt may
    /// preempt a thread at any such point.
    pub fn cost(&self, cycles: u64) -> Await {
        Await::new(&self.kernel, Outcome::Busy(cycles.max(1)))
    }

    /// A busy-wait step that ends, like `cost(1)`, on the next cycle the task runs, with the
    /// promise that the code after it, until its next await point, makes no progress before
    /// cycle `until` (a poll that will find nothing and spin again). The executor then skips
    /// those polls: it charges the same cycles and makes the same scheduling draws as if it had
    /// polled every cycle, so a run is unchanged, only cheaper. `until` at or before the next
    /// cycle is exactly `cost(1)`.
    pub fn spin_until(&self, until: u64) -> Await {
        Await::new(&self.kernel, Outcome::Spin(until))
    }
}

/// Process context: a kernel thread or a user thread in a system call. May sleep.
pub struct ProcCtx {
    atomic: AtomicCtx,
}

impl ProcCtx {
    pub(crate) fn new(kernel: Kernel, task: TaskId) -> Self {
        Self {
            atomic: AtomicCtx { kernel, task },
        }
    }

    /// Sleep for `cycles`, leaving the CPU to other tasks.
    pub fn sleep(&self, cycles: u64) -> Await {
        let until = self.now() + cycles.max(1);
        Await::new(&self.kernel, Outcome::Sleep(until))
    }

    /// `schedule()`: give the CPU up and go back to the run queue.
    pub fn yield_now(&self) -> Await {
        Await::new(&self.kernel, Outcome::Yield)
    }

    /// Block until another task calls [`Kernel::wake`] for this task. Callers re-check their
    /// condition afterwards, since wake-ups may be spurious.
    pub(crate) fn block(&self) -> Await {
        Await::new(&self.kernel, Outcome::Block)
    }
}

impl Deref for ProcCtx {
    type Target = AtomicCtx;
    fn deref(&self) -> &AtomicCtx {
        &self.atomic
    }
}

/// Interrupt context: the handler of one IRQ line on one CPU. Cannot sleep.
pub struct IrqCtx {
    atomic: AtomicCtx,
    line: u32,
}

impl IrqCtx {
    pub(crate) fn new(kernel: Kernel, task: TaskId, line: u32) -> Self {
        Self {
            atomic: AtomicCtx { kernel, task },
            line,
        }
    }

    /// The interrupt line being handled.
    pub fn line(&self) -> u32 {
        self.line
    }
}

impl Deref for IrqCtx {
    type Target = AtomicCtx;
    fn deref(&self) -> &AtomicCtx {
        &self.atomic
    }
}

/// An await point: on its first poll it tells the executor what the task is doing (spending
/// cycles, blocking, sleeping, yielding) and returns `Pending`; the next poll completes it.
#[must_use = "an await point does nothing unless awaited"]
pub struct Await {
    kernel: Kernel,
    outcome: Option<Outcome>,
}

impl Await {
    fn new(kernel: &Kernel, outcome: Outcome) -> Self {
        Self {
            kernel: kernel.clone(),
            outcome: Some(outcome),
        }
    }
}

impl Future for Await {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        match self.outcome.take() {
            Some(outcome) => {
                self.kernel.set_outcome(outcome);
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

//! Per-CPU scheduling state.

use super::executor::TaskId;

/// One simulated CPU: the thread it runs, the interrupt handler preempting that thread, and
/// the cycle until which its current await point keeps it busy.
#[derive(Debug, Default)]
pub(crate) struct Cpu {
    /// The thread on this CPU, possibly preempted by `irq`.
    pub thread: Option<TaskId>,
    /// The interrupt handler running on this CPU; handlers do not nest.
    pub irq: Option<TaskId>,
    /// The CPU is busy (spending cycles of an await point) until this cycle.
    pub busy_until: u64,
    /// `local_irq_save` depth: interrupts are held pending while non-zero.
    pub irq_disabled: u32,
}

impl Cpu {
    /// The task to poll next on this CPU, if any.
    pub fn running(&self) -> Option<TaskId> {
        self.irq.or(self.thread)
    }
}

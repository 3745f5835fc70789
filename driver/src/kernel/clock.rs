//! The one clock of the co-simulation: the chiplets' cycle counter.

use std::cell::Cell;
use std::rc::Rc;

/// A cycle counter shared (by cloning the handle) between the kernel model and the hardware.
#[derive(Clone, Debug, Default)]
pub struct Clock(Rc<Cell<u64>>);

impl Clock {
    /// A clock at cycle 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current cycle.
    pub fn now(&self) -> u64 {
        self.0.get()
    }

    /// Only the executor moves time, so that hardware and software agree on it.
    pub(crate) fn set(&self, cycle: u64) {
        self.0.set(cycle);
    }
}

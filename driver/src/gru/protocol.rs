//! Protocol tracepoints: the steps of the driver's own protocol, reported as they happen (like
//! Linux tracepoints), so that a monitor outside the driver can check their order. They change
//! nothing the driver does. The monitor (gru-cosim's `driver protocol` check) is the only reader.

use std::cell::RefCell;

use crate::mm::MmId;

/// One protocol step of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolEvent {
    /// The TFH of `cbr` was read (its state, cause and stale bit as of now).
    TfhRead { chiplet: usize, cbr: usize },
    /// A dropin of the miss on `cbr` tested `range_active` of `mm` (the guard that must follow
    /// the TFH read: an invalidate starting after the test marks the TFH stale).
    RangeActiveTested { chiplet: usize, cbr: usize, mm: MmId },
    /// INTERRUPT_SYNC of context `ctx` completed: no CB of it is in flight.
    InterruptSyncDone { chiplet: usize, ctx: usize },
    /// The tracker of `mm` on `chiplet` set the bit of context `ctx`, under ASID base `asid`.
    TrackerLoaded { chiplet: usize, ctx: usize, mm: MmId, asid: u32 },
    /// The tracker of `mm` cleared the bit of context `ctx`: its flushes stop covering it.
    TrackerCleared { chiplet: usize, ctx: usize, mm: MmId },
    /// A flush found no context of `mm` loaded on `chiplet` and dropped its ASID there.
    AsidDropped { chiplet: usize, mm: MmId },
    /// The whole chiplet was purged so that the ASID allocator may hand out ASIDs again.
    AsidsRecycled { chiplet: usize },
}

/// Receives each protocol step with its cycle.
pub type ProtocolObserver = Box<dyn Fn(u64, &ProtocolEvent)>;

/// Where the driver reports its protocol steps (nowhere until an observer is set).
#[derive(Default)]
pub(crate) struct Tracepoints(RefCell<Option<ProtocolObserver>>);

impl Tracepoints {
    pub(crate) fn set(&self, f: ProtocolObserver) {
        *self.0.borrow_mut() = Some(f);
    }

    pub(crate) fn emit(&self, cycle: u64, e: ProtocolEvent) {
        if let Some(f) = self.0.borrow().as_ref() {
            f(cycle, &e);
        }
    }
}

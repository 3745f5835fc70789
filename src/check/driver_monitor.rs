//! The driver checked against its own protocol, step by step, from its protocol tracepoints
//! (`gru_driver::gru::protocol`). These are layer monitors: the chip's race guard and context
//! tags absorb some driver bugs, so no end-to-end check sees them; a monitor fails at the first
//! step out of order.
//!
//! - A dropin's `range_active` test follows a read of its TFH: an invalidate that starts after
//!   the read marks the TFH stale, one before it is seen by the test; tested first, the window
//!   between is covered by neither the driver nor (for what it reads) the chip.
//! - A context's tracker bit is cleared only after INTERRUPT_SYNC has drained the context: until
//!   then its CBs may run, and flushes must keep naming it.
//! - No two address spaces hold one ASID on a chiplet: an ASID stays with the mm whose tracker
//!   took it until a flush drops it (zero-ASID skip) or a recycling purge of the chiplet (limit
//!   reset or wrap) frees every ASID no loaded context holds.

use std::collections::{HashMap, HashSet};

use gru_driver::gru::protocol::ProtocolEvent;
use gru_driver::mm::MmId;

use super::{Check, Checker};
use crate::trace::SysEvent;

/// What the monitor remembers of the driver's steps.
#[derive(Default)]
pub(super) struct Protocol {
    /// (chiplet, CBR) whose TFH was read since its last `range_active` test.
    tfh_read: HashSet<(usize, usize)>,
    /// (chiplet, context) drained by INTERRUPT_SYNC since the tracker loaded it.
    synced: HashSet<(usize, usize)>,
    /// (chiplet, context) → (mm, ASID base) of each loaded tracker bit.
    loaded: HashMap<(usize, usize), (MmId, u32)>,
    /// (chiplet, ASID base) → the mm whose tracker holds it.
    holders: HashMap<(usize, u32), MmId>,
    /// Protocol steps reported.
    heard: u64,
}

impl Checker {
    /// One protocol step of the driver at `cycle`.
    pub fn protocol_event(&self, cycle: u64, e: &ProtocolEvent) {
        let bad = {
            let mut p = self.protocol.borrow_mut();
            p.heard += 1;
            match *e {
                ProtocolEvent::TfhRead { chiplet, cbr } => {
                    p.tfh_read.insert((chiplet, cbr));
                    return;
                }
                ProtocolEvent::RangeActiveTested { chiplet, cbr, mm } => (!p.tfh_read.remove(&(chiplet, cbr))).then(|| {
                    format!("chiplet {chiplet} CBR {cbr}: the dropin tested range_active of {mm} before reading the TFH it guards")
                }),
                ProtocolEvent::InterruptSyncDone { chiplet, ctx } => {
                    p.synced.insert((chiplet, ctx));
                    return;
                }
                ProtocolEvent::TrackerLoaded { chiplet, ctx, mm, asid } => {
                    p.synced.remove(&(chiplet, ctx));
                    p.loaded.insert((chiplet, ctx), (mm, asid));
                    let other = p.holders.insert((chiplet, asid), mm).filter(|&m| m != mm);
                    other.map(|m| format!("chiplet {chiplet}: {mm} loaded context {ctx} under ASID {asid:#x}, which {m}'s tracker holds"))
                }
                ProtocolEvent::AsidDropped { chiplet, mm } => {
                    p.holders.retain(|&(c, _), &mut m| c != chiplet || m != mm);
                    return;
                }
                ProtocolEvent::AsidsRecycled { chiplet } => {
                    let Protocol { holders, loaded, .. } = &mut *p;
                    holders.retain(|&(c, a), _| c != chiplet || loaded.iter().any(|(&(lc, _), &(_, la))| lc == c && la == a));
                    return;
                }
                ProtocolEvent::TrackerCleared { chiplet, ctx, mm } => {
                    p.loaded.remove(&(chiplet, ctx));
                    (!p.synced.remove(&(chiplet, ctx))).then(|| {
                        format!("chiplet {chiplet}: {mm} cleared the tracker bit of context {ctx} before INTERRUPT_SYNC drained it")
                    })
                }
            }
        };
        self.verdict(cycle, Check::DriverProtocol, bad);
    }
}

impl Checker {
    /// At the end of a run: the monitor heard the driver. Every dropin the chips saw follows a
    /// TFH read the driver reports, so a run with dropins and no protocol step means silent
    /// tracepoints, and a monitor that would pass any protocol (cargo-mutants' empty
    /// `set_protocol_observer` went unnoticed before).
    pub fn protocol_heard(&self, cycle: u64) {
        let dropins = self.events.borrow().iter().filter(|e| matches!(e, SysEvent::Dropin { .. })).count();
        let heard = self.protocol.borrow().heard;
        let bad = (dropins > 0 && heard == 0)
            .then(|| format!("the chips saw {dropins} dropins but the driver reported no protocol step: its tracepoints are silent and the protocol monitor checked nothing"));
        self.verdict(cycle, Check::DriverProtocol, bad);
    }
}

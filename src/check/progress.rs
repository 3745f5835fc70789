//! Forward progress: every CB a thread issues completes — with IDLE or EXCEPTION; CALL_OS only
//! hands the miss to the OS — within [`MAX_REFAULTS`] faults and [`PROGRESS_CYCLES`] cycles.
//! A CB that re-faults forever while dropins keep "making progress" passes the hang watchdog
//! (something happens every cycle); this check names it instead: its CBR, address, and what
//! kept repeating. A livelock refaults every few hundred cycles, so the fault bound fails it
//! within 10⁵ cycles; the cycle bound catches a CB that stalls without faulting.

use std::collections::HashMap;

use gru_driver::gru::handles::{CbStatus, Tfh};
use gru_driver::mm::MmId;

use super::{Check, Checker};

/// Cycles a CB may take from issue to its final completion, checked every run slice (2,000
/// cycles). The longest legitimate CB of the default workload over 200 seeds of each era takes
/// about 134,000 cycles (a classic-era CALL_OS miss waiting behind an mm operation), so the
/// bound leaves a margin of seven.
pub const PROGRESS_CYCLES: u64 = 1_000_000;

/// Faults one CB may take: dropins installed, dropins the race guard discarded, and CALL_OS
/// completions. The most any CB of 80 default-workload runs (40 seeds of each era) needed was
/// 17; a CB that needs more than this is not being served.
pub const MAX_REFAULTS: u32 = 48;

/// A CB issued and not yet finally completed.
#[derive(Clone, Debug, Default)]
pub(super) struct Outstanding {
    issued: u64,
    vaddr: u64,
    write: bool,
    /// Dropins written for its CBR since the issue, installed and discarded.
    installed: u32,
    discarded: u32,
    /// CALL_OS completions since the issue, and the cause of the last.
    call_os: u32,
    last_cause: u8,
    /// The last dropin: fill vaddr, ASID and pfn.
    last_fill: Option<(u64, u32, u64)>,
    reported: bool,
    /// The address space of the issuing thread, if the run registered it.
    mm: Option<MmId>,
}

/// The outstanding CBs by (chiplet, CBR).
pub(super) type InFlight = HashMap<(usize, u8), Outstanding>;

impl Checker {
    /// A thread of `mm` issued a CB.
    pub(super) fn cb_issued(&self, cycle: u64, chiplet: usize, cbr: u8, vaddr: u64, write: bool, mm: Option<MmId>) {
        let o = Outstanding { issued: cycle, vaddr, write, mm, ..Outstanding::default() };
        self.in_flight.borrow_mut().insert((chiplet, cbr), o);
    }

    /// A dropin was written for `cbr`.
    pub(super) fn cb_dropin(&self, chiplet: usize, cbr: usize, tfh: &Tfh, installed: bool) {
        let Ok(cbr) = u8::try_from(cbr) else { return };
        if let Some(o) = self.in_flight.borrow_mut().get_mut(&(chiplet, cbr)) {
            if installed {
                o.installed += 1;
            } else {
                o.discarded += 1;
            }
            o.last_fill = Some((tfh.fillvaddr, tfh.fillasid, tfh.pfn));
        }
        self.refaults(chiplet, cbr);
    }

    /// A CB completed with `status`.
    pub(super) fn cb_completed(&self, cycle: u64, chiplet: usize, cbr: u8, status: u8, cause: u8) {
        let issued = self.in_flight.borrow().contains_key(&(chiplet, cbr));
        let bad = (!issued).then(|| format!("chiplet {chiplet} CBR {cbr} completed (status {status}, cause {cause}) a CB no thread issued"));
        self.verdict(cycle, Check::Ownership, bad);
        if status == CbStatus::CallOs as u8 {
            if let Some(o) = self.in_flight.borrow_mut().get_mut(&(chiplet, cbr)) {
                o.call_os += 1;
                o.last_cause = cause;
            }
            self.refaults(chiplet, cbr);
            return;
        }
        if self.in_flight.borrow_mut().remove(&(chiplet, cbr)).is_some() {
            self.verdict(cycle, Check::Progress, None);
        }
    }

    /// The address space whose thread issued the CB outstanding on `cbr`, if known.
    pub(super) fn cb_owner(&self, chiplet: usize, cbr: usize) -> Option<MmId> {
        let cbr = u8::try_from(cbr).ok()?;
        self.in_flight.borrow().get(&(chiplet, cbr)).and_then(|o| o.mm)
    }

    /// More than [`MAX_REFAULTS`] faults for one CB fail it at once.
    fn refaults(&self, chiplet: usize, cbr: u8) {
        let over = self
            .in_flight
            .borrow()
            .get(&(chiplet, cbr))
            .is_some_and(|o| !o.reported && o.installed + o.discarded + o.call_os > MAX_REFAULTS);
        if over {
            self.stuck(self.now(), chiplet, cbr, format!("more than {MAX_REFAULTS} faults"));
        }
    }

    /// Every CB outstanding for more than [`PROGRESS_CYCLES`] fails (once).
    pub fn check_progress(&self, now: u64) {
        let late: Vec<(usize, u8)> = self
            .in_flight
            .borrow()
            .iter()
            .filter(|(_, o)| !o.reported && now - o.issued > PROGRESS_CYCLES)
            .map(|(&k, _)| k)
            .collect();
        for (chiplet, cbr) in late {
            self.stuck(now, chiplet, cbr, format!("not complete after {PROGRESS_CYCLES} cycles"));
        }
    }

    fn stuck(&self, now: u64, chiplet: usize, cbr: u8, why: String) {
        let Some(o) = self.in_flight.borrow_mut().get_mut(&(chiplet, cbr)).map(|o| {
            o.reported = true;
            o.clone()
        }) else {
            return;
        };
        let fill = o.last_fill.map_or("no dropin".to_owned(), |(va, asid, pfn)| format!("last dropin va {va:#x} asid {asid:#x} pfn {pfn}"));
        let detail = format!(
            "chiplet {chiplet} CBR {cbr} {} of {:#x} issued at cycle {}: {why}; {} dropins installed, {} discarded as stale, {} CALL_OS (last cause {}); {fill}",
            if o.write { "store" } else { "load" },
            o.vaddr,
            o.issued,
            o.installed,
            o.discarded,
            o.call_os,
            o.last_cause,
        );
        self.verdict(now, Check::Progress, Some(detail));
    }
}

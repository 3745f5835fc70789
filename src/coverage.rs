//! Functional coverage of the race windows: named cover points a secondary-MMU engineer
//! worries about, each hit when a run entered its window. Every run and every regression
//! reports `coverage: <hit> of <total> cover points` and can write which ones (JSON).
//!
//! Points are read from what the run leaves behind — the kernel's trace (notifier calls in
//! their era), the MMIO trace (handle commands and the states read before them), the checks'
//! hardware events (dropins kept or discarded by the race guard, purges and what they removed,
//! CB completions) and, for windows only the driver can see, its Linux-named statistics.
//! Coverage is a measure of the stimulus, not a verdict, so reading the driver's counters is
//! fine here. A point applies to one era or to both; a run's total counts only its era's.

use std::collections::{BTreeMap, HashMap};

use gru_driver::gru::handles::{CbStatus, CchOpc, HandleStatus, TfhCause, TfhOpc, TfhState, TghOpc, PageSize, TGH_FULL_PURGE_N};
use gru_driver::gru::hw::DecodedLine;
use gru_driver::notifier::{Era, Event, NotifierCall, Range};
use gru_driver::trace::TraceEvent;
use serde::{Deserialize, Serialize};

use crate::system::{System, SystemModel};
use crate::trace::SysEvent;

/// A cover point: its id, the era it applies to (none: both) and the window it names.
pub struct Point {
    /// Stable id (`area.window`).
    pub id: &'static str,
    /// The era whose runs can hit it.
    pub era: Option<Era>,
    /// What the window is.
    pub what: &'static str,
}

const fn p(id: &'static str, era: Option<Era>, what: &'static str) -> Point {
    Point { id, era, what }
}

const M: Option<Era> = Some(Era::Modern);
const C: Option<Era> = Some(Era::Classic);

/// Every cover point.
pub const POINTS: &[Point] = &[
    // Notifier events × era.
    p("notifier.modern.unmap", M, "invalidate_range_start with MMU_NOTIFY_UNMAP (munmap, madvise, mremap)"),
    p("notifier.modern.clear", M, "invalidate_range_start with MMU_NOTIFY_CLEAR (COW break, swap-out, KSM, THP split)"),
    p("notifier.modern.protection_vma", M, "invalidate_range_start with MMU_NOTIFY_PROTECTION_VMA (mprotect)"),
    p("notifier.modern.protection_page", M, "invalidate_range_start with MMU_NOTIFY_PROTECTION_PAGE (fork write-protect)"),
    p("notifier.classic.range", C, "classic invalidate_range_start/end"),
    p("notifier.classic.invalidate_page", C, "classic invalidate_page (swap-out, migration)"),
    p("notifier.classic.change_pte", C, "classic change_pte (COW break, KSM)"),
    p("notifier.classic.release", C, "classic release at exit"),
    // Shootdowns that removed what the chip held, by the operation that asked.
    p("held.modern.unmap", M, "an UNMAP range purged entries the chip held"),
    p("held.modern.clear", M, "a CLEAR range (COW break, swap-out) purged entries the chip held"),
    p("held.modern.protection_vma", M, "an mprotect purged entries the chip held"),
    p("held.modern.protection_page", M, "a fork write-protect purged entries the chip held"),
    p("held.classic.range", C, "a classic range purged entries the chip held"),
    p("held.classic.invalidate_page", C, "a classic invalidate_page purged an entry the chip held"),
    p("held.zero_page", None, "a purge removed an entry of the shared zero page (COW break or unmap while the chip read it)"),
    p("held.dirty_clear", None, "a swap-out, migration or COW break (modern CLEAR, classic invalidate_page) purged a writable entry: the chip may have dirtied the page"),
    // Purges.
    p("purge.hit", None, "a TGH invalidate that removed entries"),
    p("purge.empty", None, "a TGH invalidate that found nothing to remove"),
    p("purge.multi_ctx", None, "one TGH write purging several contexts at once"),
    p("purge.full_asid", None, "a full ASID purge (n = 1023, range over 1024 pages)"),
    p("purge.global", None, "a global purge of every context (ASID limit reset or wrap)"),
    p("purge.two_tgh_in_flight", None, "two TGHs of one chiplet in flight at once"),
    // The race guard and the driver's gates.
    p("race.stale_discard_irq", None, "a dropin discarded by the race guard on the interrupt path"),
    p("race.stale_discard_call_os", None, "a dropin discarded by the race guard on the CALL_OS path"),
    p("race.tfh_read_stale", None, "the driver read a TFH the race guard had marked stale"),
    p("race.range_active_irq", None, "an interrupt-path dropin refused because range_active > 0"),
    p("race.mmap_lock_busy_irq", None, "an interrupt-path dropin refused because mmap_lock was busy"),
    p("race.load_during_flush", None, "a context loaded (CCH ALLOCATE/START) while a TGH of its chiplet was in flight"),
    p("race.unload_during_flush", None, "a context unloaded (INTERRUPT_SYNC/DEALLOCATE) while a TGH of its chiplet was in flight"),
    p("race.unload_pending_fault", None, "a DEALLOCATE refused because a fault of the context was pending"),
    p("race.load_own_flush", None, "a context of an mm loaded (CCH ALLOCATE/START) while a flush of that mm was in progress"),
    p("race.unload_own_flush", None, "a context of an mm unloaded (INTERRUPT_SYNC/DEALLOCATE) while a flush of that mm was in progress"),
    p("race.range_active_call_os", None, "a CALL_OS dropin that had to wait because range_active > 0"),
    p("race.tlbmod_during_protect", M, "a store's TLB_MOD reached the thread (CALL_OS) while an mprotect range was in progress"),
    // TFH commands × the state the driver read before them.
    p("tfh.write_restart.miss_fmm", None, "WRITE_RESTART on a MISS_FMM TFH (interrupt-path dropin)"),
    p("tfh.write_restart.miss_upm", None, "WRITE_RESTART on a MISS_UPM TFH (CALL_OS dropin)"),
    p("tfh.user_polling_mode.miss_fmm", None, "USER_POLLING_MODE on a MISS_FMM TFH (miss handed to the thread)"),
    p("tfh.exception.miss_upm", None, "EXCEPTION on a MISS_UPM TFH (no translation: the CB fails)"),
    // CB completions.
    p("cb.done", None, "a CB completed"),
    p("cb.exception", None, "a CB completed with EXCEPTION"),
    p("cb.call_os_miss", None, "a CB completed with CALL_OS, cause TLB_MISS"),
    p("cb.call_os_mod", None, "a CB completed with CALL_OS, cause TLB_MOD (store to a read-only entry)"),
    // Dropins.
    p("dropin.readonly", None, "a read-only (dirty = 0) entry installed"),
    p("dropin.huge", None, "a 2M entry installed"),
    p("dropin.writable", None, "a writable (dirty = 1) entry installed"),
    // ASIDs.
    p("asid.new", None, "a context got a fresh ASID"),
    p("asid.reuse", None, "a context reused its mm's ASID"),
    p("asid.wrap", None, "the ASID allocator wrapped (or reset its limit) with contexts loaded"),
    p("asid.zero_skip", None, "a flush skipped a chiplet with no loaded context and dropped the ASID"),
    p("asid.renewed", None, "an mm issued under a new ASID on a chiplet where it had one (reload after a zero-ASID skip)"),
];

/// The points a run or a regression hit: id → times hit (every point listed, 0 if missed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The era of the run (decides which points apply); none for a mix of eras.
    pub era: Option<String>,
    /// Hits of every applicable point.
    pub hits: BTreeMap<String, u64>,
}

impl Coverage {
    /// No point hit yet, for a run of `era`.
    /// The points of an era are those of its notifier API: classic-unlocked runs count the
    /// classic points.
    pub fn new(era: Era) -> Self {
        let hits = POINTS.iter().filter(|p| p.era.is_none_or(|e| e == era.api())).map(|p| (p.id.to_owned(), 0)).collect();
        Coverage { era: Some(era.to_string()), hits }
    }

    /// Count a hit of `id` (ignored if the point does not apply to this run's era).
    pub fn hit(&mut self, id: &str) {
        self.hit_n(id, 1);
    }

    fn hit_n(&mut self, id: &str, n: u64) {
        debug_assert!(POINTS.iter().any(|p| p.id == id), "unknown cover point {id}");
        if let Some(h) = self.hits.get_mut(id) {
            *h += n;
        }
    }

    /// Add another run's hits (a regression's union).
    pub fn merge(&mut self, other: &Coverage) {
        if self.era != other.era {
            self.era = None;
        }
        for (id, n) in &other.hits {
            *self.hits.entry(id.clone()).or_default() += n;
        }
    }

    /// (points hit, applicable points).
    pub fn score(&self) -> (usize, usize) {
        (self.hits.values().filter(|&&n| n > 0).count(), self.hits.len())
    }

    /// The points not hit.
    pub fn missed(&self) -> Vec<&str> {
        self.hits.iter().filter(|(_, &n)| n == 0).map(|(id, _)| id.as_str()).collect()
    }

    /// `coverage: <hit> of <total> cover points`.
    pub fn summary(&self) -> String {
        let (hit, total) = self.score();
        format!("coverage: {hit} of {total} cover points")
    }
}

fn event_id(e: Option<Event>) -> Option<&'static str> {
    Some(match e? {
        Event::Unmap => "unmap",
        Event::Clear => "clear",
        Event::ProtectionVma => "protection_vma",
        Event::ProtectionPage => "protection_page",
        // Migration announces MMU_NOTIFY_CLEAR (try_to_migrate), as Linux does for
        // non-device pages; MIGRATE is only migrate_vma's, which the model has not.
        Event::Migrate | Event::SoftDirty | Event::Release => return None,
    })
}

/// What a run hit, from its traces, the checks' events and the driver's counters.
pub fn measure<M: SystemModel>(sys: &System<M>) -> Coverage {
    let era = sys.config().era;
    let mut cov = Coverage::new(era);
    kernel_points(sys, era, &mut cov);
    mmio_points(sys, &mut cov);
    for id in ["race.load_own_flush", "race.unload_own_flush", "asid.renewed"] {
        cov.hit_n(id, sys.checker.window_hits(id));
    }
    for (id, stat) in [
        ("race.range_active_irq", "tlb_dropin_fail_range_active"),
        ("race.mmap_lock_busy_irq", "intr_mm_lock_failed"),
        ("race.range_active_call_os", "call_os_wait_queue"),
        ("asid.new", "asid_new"),
        ("asid.reuse", "asid_reuse"),
        ("asid.wrap", "asid_wrap"),
        ("asid.zero_skip", "flush_tlb_gru_zero_asid"),
    ] {
        cov.hit_n(id, sys.stat(stat));
    }
    cov
}

/// Notifier calls by era, and the purges that removed entries, by the call that asked.
fn kernel_points<M: SystemModel>(sys: &System<M>, era: Era, cov: &mut Coverage) {
    // The last invalidation before each purge: (cycle, kind).
    let mut asks: Vec<(u64, String)> = Vec::new();
    for r in sys.kernel.trace().records() {
        let TraceEvent::Notifier { notifier, call, .. } = &r.event else { continue };
        if notifier != "mmu" {
            continue;
        }
        let kind = match (era.api(), call) {
            (Era::Modern, NotifierCall::Start(range)) => event_id(range.event).map(|e| format!("modern.{e}")),
            (Era::Classic, NotifierCall::Start(_)) => Some("classic.range".to_owned()),
            (Era::Classic, NotifierCall::Page(_)) => Some("classic.invalidate_page".to_owned()),
            (Era::Classic, NotifierCall::ChangePte(..)) => Some("classic.change_pte".to_owned()),
            (Era::Classic, NotifierCall::Release) => Some("classic.release".to_owned()),
            _ => None,
        };
        if let Some(k) = kind {
            cov.hit(&format!("notifier.{k}"));
            asks.push((r.cycle, k));
        }
    }
    for e in sys.checker.logged() {
        if let SysEvent::Purge { cycle, entries, dirty, .. } = e {
            let i = asks.partition_point(|(c, _)| *c <= cycle);
            if let (true, Some((_, k))) = (entries > 0, i.checked_sub(1).and_then(|i| asks.get(i))) {
                if POINTS.iter().any(|p| p.id == format!("held.{k}")) {
                    cov.hit(&format!("held.{k}"));
                }
                if dirty > 0 && (k == "modern.clear" || k == "classic.invalidate_page") {
                    cov.hit("held.dirty_clear");
                }
            }
        }
    }
}

/// The cycles in which some mprotect range (modern PROTECTION_VMA) was between start and end.
fn protect_windows<M: SystemModel>(sys: &System<M>) -> Vec<(u64, u64)> {
    let mut open: Vec<(Range, u64)> = Vec::new();
    let mut done = Vec::new();
    for r in sys.kernel.trace().records() {
        let TraceEvent::Notifier { notifier, call, .. } = &r.event else { continue };
        match call {
            NotifierCall::Start(range) if notifier == "mmu" && range.event == Some(Event::ProtectionVma) => open.push((*range, r.cycle)),
            NotifierCall::End(range) if notifier == "mmu" => {
                if let Some(i) = open.iter().position(|(o, _)| o == range) {
                    done.push((open.remove(i).1, r.cycle));
                }
            }
            _ => {}
        }
    }
    done
}

/// Handle commands, the states read before them, TGHs in flight, completions and dropins.
fn mmio_points<M: SystemModel>(sys: &System<M>, cov: &mut Coverage) {
    // Per chiplet: TGHs started and not yet seen IDLE by a poll.
    let mut tgh_busy: HashMap<usize, Vec<usize>> = HashMap::new();
    // Per (chiplet, CBR): the TFH state the driver last read.
    let mut tfh_state: HashMap<(usize, usize), u8> = HashMap::new();
    let mut last_cch_op: HashMap<(usize, usize), u8> = HashMap::new();
    let logged = sys.checker.logged();
    // Whether the dropin written at (cycle, chiplet, CBR) was installed or discarded.
    let dropins: HashMap<(u64, usize, usize), bool> = logged
        .iter()
        .filter_map(|e| match *e {
            SysEvent::Dropin { cycle, chiplet, cbr, installed, .. } => Some(((cycle, chiplet, cbr), installed)),
            _ => None,
        })
        .collect();
    for ev in sys.hw.trace().iter().filter(|e| !e.err) {
        let c = ev.chiplet;
        let busy = tgh_busy.get(&c).is_some_and(|v| !v.is_empty());
        let started = ev.req.write && ev.req.dwen & 1 != 0 && ev.req.data[0] & 1 != 0;
        match ev.line {
            DecodedLine::Tgh(i, t) if ev.req.write && started && t.opc == TghOpc::Invalidate as u8 => {
                if busy {
                    cov.hit("purge.two_tgh_in_flight");
                }
                tgh_busy.entry(c).or_default().push(i);
                if t.ctxbitmap.count_ones() > 1 {
                    cov.hit("purge.multi_ctx");
                }
                if t.global {
                    cov.hit("purge.global");
                } else if t.n == TGH_FULL_PURGE_N {
                    cov.hit("purge.full_asid");
                }
            }
            DecodedLine::Tgh(i, t) if !ev.req.write && t.status != HandleStatus::Active as u8 => {
                tgh_busy.entry(c).or_default().retain(|&g| g != i);
            }
            DecodedLine::Tfh(cbr, t) if !ev.req.write => {
                tfh_state.insert((c, cbr), t.state);
                if t.stale && TfhState::try_from(u64::from(t.state)).is_ok_and(TfhState::is_pending) {
                    cov.hit("race.tfh_read_stale");
                }
            }
            DecodedLine::Tfh(cbr, t) if started => {
                let state = tfh_state.get(&(c, cbr)).copied().and_then(|s| TfhState::try_from(u64::from(s)).ok());
                let id = match (TfhOpc::try_from(u64::from(t.opc)), state) {
                    (Ok(TfhOpc::WriteRestart), Some(TfhState::MissFmm)) => "tfh.write_restart.miss_fmm",
                    (Ok(TfhOpc::WriteRestart), Some(TfhState::MissUpm)) => "tfh.write_restart.miss_upm",
                    (Ok(TfhOpc::UserPollingMode), Some(TfhState::MissFmm)) => "tfh.user_polling_mode.miss_fmm",
                    (Ok(TfhOpc::Exception), Some(TfhState::MissUpm)) => "tfh.exception.miss_upm",
                    _ => continue,
                };
                cov.hit(id);
                let stale = dropins.get(&(ev.cycle, c, cbr)) == Some(&false);
                match state {
                    Some(TfhState::MissFmm) if stale => cov.hit("race.stale_discard_irq"),
                    Some(TfhState::MissUpm) if stale => cov.hit("race.stale_discard_call_os"),
                    _ => {}
                }
            }
            DecodedLine::Cch(ctx, h) if started => {
                last_cch_op.insert((c, ctx), h.opc);
                let op = CchOpc::try_from(u64::from(h.opc));
                if busy && matches!(op, Ok(CchOpc::Allocate | CchOpc::Start)) {
                    cov.hit("race.load_during_flush");
                }
                if busy && matches!(op, Ok(CchOpc::InterruptSync | CchOpc::Deallocate)) {
                    cov.hit("race.unload_during_flush");
                }
            }
            DecodedLine::Cch(ctx, h) if !ev.req.write && h.status == HandleStatus::Exception as u8 => {
                if last_cch_op.get(&(c, ctx)) == Some(&(CchOpc::Deallocate as u8)) {
                    cov.hit("race.unload_pending_fault");
                }
            }
            _ => {}
        }
    }
    let protects = protect_windows(sys);
    for e in logged {
        match e {
            SysEvent::CbDone { cycle, status, cause, .. } => match CbStatus::try_from(u64::from(status)) {
                Ok(CbStatus::Idle) => cov.hit("cb.done"),
                Ok(CbStatus::Exception) => cov.hit("cb.exception"),
                Ok(CbStatus::CallOs) if cause == TfhCause::TlbMod as u8 => {
                    cov.hit("cb.call_os_mod");
                    if protects.iter().any(|&(s, e)| s <= cycle && cycle <= e) {
                        cov.hit("race.tlbmod_during_protect");
                    }
                }
                Ok(CbStatus::CallOs) => cov.hit("cb.call_os_miss"),
                Err(_) => {}
            },
            SysEvent::Dropin { installed: true, dirty, pagesize, .. } => {
                cov.hit(if dirty { "dropin.writable" } else { "dropin.readonly" });
                if pagesize == PageSize::P2M as u8 {
                    cov.hit("dropin.huge");
                }
            }
            SysEvent::Purge { entries, zero, .. } => {
                cov.hit(if entries > 0 { "purge.hit" } else { "purge.empty" });
                if zero > 0 {
                    cov.hit("held.zero_page");
                }
            }
            _ => {}
        }
    }
}

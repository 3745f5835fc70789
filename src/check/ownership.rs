//! Who owns what on the chips, from ground truth only. Each CB request is attributed to the
//! address space of the thread that issued it (the run registers its threads with
//! [`Checker::thread_of`]); the CCH of the issuing context, read from the chip, names the ASIDs
//! that address space uses there. Which entries an address space can reach, whose frame a dropin
//! maps, and which contexts a flush must cover all follow from this, never from the driver's
//! bookkeeping (`Gts`, trackers), which may be the thing that is wrong.
//!
//! An ASID stays with the address space that first issued under it until a full purge of the
//! chiplet (every context, every ASID) makes recycling it safe; two address spaces issuing under
//! one ASID in between is a failure.

use std::collections::HashMap;

use gru_driver::gru::handles::{ctx_of_cbr, Cch, CchOpc, CchState, PageSize, Tgh, CBR_PER_CTX, HS_CCH_COUNT, TGH_FULL_PURGE_N, TGH_VADDRMASK};
use gru_driver::gru::GRUMAXINVAL;
use gru_driver::kernel::TaskId;
use gru_driver::mm::{MmId, PAGE_SHIFT};
use gru_sim::model::TlbEntry;

use super::{Check, Checker};

/// What the checks learned of ownership on the chips.
#[derive(Default)]
pub(super) struct Ownership {
    /// The address space of each thread of the run.
    threads: HashMap<TaskId, MmId>,
    /// (chiplet, ASID) → the address space whose threads issued under it since the chiplet's
    /// last full purge.
    asids: HashMap<(usize, u32), MmId>,
    /// (chiplet, context) → cycle of its last CCH ALLOCATE.
    allocated: HashMap<(usize, usize), u64>,
    /// (chiplet, mm) → the region-0 ASID the mm last issued under.
    last_asid: HashMap<(usize, MmId), u32>,
    /// chiplet → its CCHs as read from the chip since its last CCH write. A CCH's state and
    /// ASIDs change only at a CCH command, so one read serves every CB issue and every scan
    /// until the next: a full-state read per CB issue was a quarter of an RTL run.
    cch: HashMap<usize, Vec<Cch>>,
}

/// Whether TGH `t` purges every context and every ASID of its chiplet.
fn is_full_chip_purge(t: &Tgh) -> bool {
    t.global && t.n == TGH_FULL_PURGE_N && t.ctxbitmap == u16::MAX
}

/// Whether a CCH in `state` translates for its context (allocated).
pub(super) fn allocated(c: &Cch) -> bool {
    c.state != CchState::Inactive as u8
}

impl Checker {
    /// Thread `task` of the run belongs to `mm`: its CB requests are that address space's.
    pub fn thread_of(&self, task: TaskId, mm: MmId) {
        self.owners.borrow_mut().threads.insert(task, mm);
    }

    /// The address space whose thread is issuing now, if the run registered it.
    pub(super) fn issuer(&self) -> Option<MmId> {
        let task = self.mmu.kernel().current_task()?;
        self.owners.borrow().threads.get(&task).copied()
    }

    /// A CB request of `mm` on `cbr`: the ASIDs its context's CCH holds now are `mm`'s on the
    /// chiplet; one already used by another address space since the last full purge fails.
    pub(super) fn attribute(&self, cycle: u64, chiplet: usize, cbr: u8, mm: MmId) {
        let ctx = ctx_of_cbr(usize::from(cbr), CBR_PER_CTX);
        let Some(cch) = self.cchs(chiplet).get(ctx).copied() else {
            return;
        };
        if !allocated(&cch) {
            return;
        }
        let mut clash = None;
        {
            let mut o = self.owners.borrow_mut();
            for &asid in &cch.asid {
                match o.asids.get(&(chiplet, asid)) {
                    Some(&other) if other != mm => clash = clash.or(Some((asid, other))),
                    _ => {
                        o.asids.insert((chiplet, asid), mm);
                    }
                }
            }
        }
        let renewed = self.owners.borrow_mut().last_asid.insert((chiplet, mm), cch.asid[0]).is_some_and(|a| a != cch.asid[0]);
        if renewed {
            self.saw("asid.renewed");
        }
        let bad = clash.map(|(asid, other)| {
            format!("chiplet {chiplet} context {ctx} (CBR {cbr}): {mm} issued under ASID {asid:#x}, which {other} used since the chiplet's last full purge")
        });
        self.verdict(cycle, Check::Ownership, bad);
    }

    /// A CCH command was written, giving the context region-0 ASID `asid`: remember when a
    /// context was (re)allocated, and note loads and unloads racing a flush of their own mm.
    pub(super) fn cch_command(&self, cycle: u64, chiplet: usize, ctx: usize, opc: u8, asid: u32) {
        let op = CchOpc::try_from(u64::from(opc));
        let mut o = self.owners.borrow_mut();
        o.cch.remove(&chiplet);
        if op == Ok(CchOpc::Allocate) {
            o.allocated.insert((chiplet, ctx), cycle);
        }
        drop(o);
        let flushing = self.asid_owner(chiplet, asid).is_some_and(|mm| self.flushing.borrow().keys().any(|k| k.1 == mm));
        match op {
            Ok(CchOpc::Allocate | CchOpc::Start) if flushing => self.saw("race.load_own_flush"),
            Ok(CchOpc::InterruptSync | CchOpc::Deallocate) if flushing => self.saw("race.unload_own_flush"),
            _ => {}
        }
    }

    /// The cycle context `ctx` of `chiplet` was last allocated.
    pub(super) fn allocated_at(&self, chiplet: usize, ctx: usize) -> u64 {
        self.owners.borrow().allocated.get(&(chiplet, ctx)).copied().unwrap_or(0)
    }

    /// A TGH started: a full purge of the chiplet frees every ASID for recycling.
    pub(super) fn purge_started(&self, chiplet: usize, t: &Tgh) {
        if is_full_chip_purge(t) {
            self.owners.borrow_mut().asids.retain(|&(c, _), _| c != chiplet);
        }
    }

    /// The CCHs of `chiplet`, read from the chip once per CCH write.
    fn cchs(&self, chiplet: usize) -> Vec<Cch> {
        let cached = self.owners.borrow().cch.get(&chiplet).cloned();
        cached.unwrap_or_else(|| {
            let read = (self.cch)(chiplet);
            self.owners.borrow_mut().cch.insert(chiplet, read.clone());
            read
        })
    }

    /// The address space that owns `asid` on `chiplet`, if a thread issued under it.
    pub(super) fn asid_owner(&self, chiplet: usize, asid: u32) -> Option<MmId> {
        self.owners.borrow().asids.get(&(chiplet, asid)).copied()
    }

    /// The loaded contexts of `chiplet` (chip CCH state) whose ASIDs `mm` owns, with their CCH.
    pub(super) fn contexts_of(&self, mm: MmId, chiplet: usize) -> Vec<(usize, Cch)> {
        self.cchs(chiplet)
            .into_iter()
            .enumerate()
            .take(HS_CCH_COUNT)
            .filter(|(_, c)| allocated(c) && c.asid.iter().any(|&a| self.asid_owner(chiplet, a) == Some(mm)))
            .collect()
    }

    /// The entries of `chiplet`'s TLB that `mm` can hit now: valid entries of a loaded context
    /// (chip CCH state) under one of that context's ASIDs, which `mm` owns. Entries in a slot
    /// since deallocated, or under an ASID the context no longer has, are unreachable until a
    /// load makes them reachable again, and are judged then (by the checks at that load's use).
    pub(super) fn reachable(&self, mm: MmId, chiplet: usize) -> Vec<TlbEntry> {
        let contexts = self.contexts_of(mm, chiplet);
        if contexts.is_empty() {
            return Vec::new();
        }
        (self.tlb)(chiplet)
            .into_iter()
            .filter(|e| contexts.iter().any(|(s, c)| usize::from(e.ctx) == *s && c.asid.contains(&e.asid) && self.asid_owner(chiplet, e.asid) == Some(mm)))
            .collect()
    }
}

/// The pages `[first, last]` a TGH covers for a flush starting at `start` (vpns), or all.
/// Whether TGH `t` purges exactly pages `[first, last]` of its ASID: the range's pages at base
/// page size with the whole `vaddrmask`, or a full purge of the ASID when the range has more
/// than `GRUMAXINVAL` pages (Linux's `gru_flush_tlb_range`).
pub(super) fn tgh_exact(t: &Tgh, first: u64, last: u64) -> bool {
    if t.global || t.vaddrmask != TGH_VADDRMASK.value_mask() {
        return false;
    }
    if last - first + 1 >= GRUMAXINVAL {
        return t.n == TGH_FULL_PURGE_N;
    }
    t.n != TGH_FULL_PURGE_N && PageSize::vpn_shift_of(t.pagesize) == 0 && t.vaddr >> PAGE_SHIFT == first && u64::from(t.n) == last - first
}

/// What TGH `t` purges, for reports.
pub(super) fn tgh_span(t: &Tgh) -> String {
    let what = if t.n == TGH_FULL_PURGE_N { "all pages".to_owned() } else { format!("{} pages of size code {} from {:#x}", u64::from(t.n) + 1, t.pagesize, t.vaddr) };
    format!("TGH asid {:#x}{} vaddrmask {:#x}: {what}", t.asid, if t.global { " global" } else { "" }, t.vaddrmask)
}

pub(super) fn tgh_covers(t: &Tgh, asid: u32, ctx: usize, first: u64, last: u64) -> bool {
    if t.ctxbitmap >> ctx & 1 == 0 || !(t.global || t.asid == asid) {
        return false;
    }
    if t.n == TGH_FULL_PURGE_N {
        return true;
    }
    let shift = PageSize::vpn_shift_of(t.pagesize);
    let s = (t.vaddr >> PAGE_SHIFT) >> shift << shift;
    let e = s + ((u64::from(t.n) + 1) << shift);
    s <= first && last < e
}

//! The shootdown contract: when `invalidate_range_start` (or a classic `invalidate_page` /
//! `change_pte`) returns, no chiplet holds an entry the mm can hit in the range, and nothing of
//! the range is installed until the matching `invalidate_range_end`.

use std::rc::Weak;

use gru_driver::gru::handles::{PageSize, Tfh, HS_CCH_COUNT};
use gru_driver::mm::{MmId, PAGE_SHIFT};
use gru_driver::notifier::{ChainWatcher, Range};
use gru_sim::model::TlbEntry;

use super::{holds_asid, Check, Checker};

impl Checker {
    /// The entries of `chiplet`'s TLB that `mm` can hit now: those of a context slot holding
    /// one of the mm's contexts, under that context's ASIDs. Entries under an ASID the driver
    /// dropped, or in a slot since unloaded, are unreachable until the ASID is handed out
    /// again, which takes a full purge of the chiplet.
    fn reachable(&self, mm: MmId, chiplet: usize) -> Vec<TlbEntry> {
        let slots: Vec<_> = (0..HS_CCH_COUNT).filter_map(|s| self.gru.loaded(chiplet, s).filter(|g| g.mm_id() == mm).map(|g| (s, g))).collect();
        if slots.is_empty() {
            return Vec::new();
        }
        (self.tlb)(chiplet)
            .into_iter()
            .filter(|e| slots.iter().any(|(s, g)| usize::from(e.ctx) == *s && holds_asid(g, e.asid)))
            .collect()
    }

    /// The shootdown contract after `what` returned: no chiplet holds an entry `mm` can hit
    /// that overlaps `[start, end)`.
    pub(super) fn scan(&self, what: &str, mm: MmId, start: u64, end: u64) {
        if self.released.borrow().contains(&mm) {
            return;
        }
        let (first, last) = (start >> PAGE_SHIFT, (end.max(start + 1) - 1) >> PAGE_SHIFT);
        let left: Vec<String> = (0..self.chiplets)
            .flat_map(|c| {
                self.reachable(mm, c)
                    .into_iter()
                    .filter(|e| e.vpn <= last && first < e.vpn + (1 << e.shift()))
                    .map(move |e| format!("chiplet {c} ctx {} asid {:#x} va {:#x} -> pfn {}", e.ctx, e.asid, e.vpn << PAGE_SHIFT, e.pfn))
            })
            .collect();
        let bad = (!left.is_empty())
            .then(|| format!("{what} {mm} [{start:#x}, {end:#x}) returned with entries left: {}", left.join("; ")));
        self.verdict(self.now(), Check::Contract, bad);
    }

    /// A dropin landed in the TLB: it must not fall in a range whose invalidation has returned
    /// from `invalidate_range_start` but not reached `invalidate_range_end`.
    pub(super) fn installed(&self, cycle: u64, chiplet: usize, t: &Tfh) {
        let len = 1u64 << (PageSize::vpn_shift_of(t.pagesize) + PAGE_SHIFT);
        let (lo, hi) = (t.fillvaddr & !(len - 1), (t.fillvaddr & !(len - 1)) + len);
        let open = self.open.borrow().clone();
        let bad = open.iter().find(|&&(mm, s, e)| {
            lo < e
                && s < hi
                && (0..HS_CCH_COUNT).any(|slot| {
                    self.gru
                        .loaded(chiplet, slot)
                        .is_some_and(|g| g.mm_id() == mm && holds_asid(&g, t.fillasid))
                })
        });
        if let Some((mm, s, e)) = bad {
            let detail = format!(
                "chiplet {chiplet} installed a dropin of {mm} va {:#x} (asid {:#x}, pfn {}) inside [{s:#x}, {e:#x}) between its invalidate_range_start and invalidate_range_end",
                t.fillvaddr, t.fillasid, t.pfn
            );
            self.verdict(cycle, Check::Contract, Some(detail));
        }
    }
}

/// The checker's watch on one mm's notifier chain (weak: the chain must not keep the
/// checker alive).
pub(super) struct Watch(pub(super) Weak<Checker>);

impl ChainWatcher for Watch {
    fn range_started(&self, mm: MmId, range: &Range) {
        if let Some(c) = self.0.upgrade() {
            c.scan("invalidate_range_start", mm, range.start, range.end);
            c.open.borrow_mut().push((mm, range.start, range.end));
        }
    }

    fn range_ending(&self, mm: MmId, range: &Range) {
        if let Some(c) = self.0.upgrade() {
            let mut open = c.open.borrow_mut();
            if let Some(i) = open.iter().position(|&o| o == (mm, range.start, range.end)) {
                open.remove(i);
            }
        }
    }

    fn page_invalidated(&self, mm: MmId, addr: u64) {
        if let Some(c) = self.0.upgrade() {
            let page = addr >> PAGE_SHIFT << PAGE_SHIFT;
            c.scan("invalidate_page", mm, page, page + (1 << PAGE_SHIFT));
        }
    }

    fn pte_changed(&self, mm: MmId, addr: u64) {
        if let Some(c) = self.0.upgrade() {
            let page = addr >> PAGE_SHIFT << PAGE_SHIFT;
            c.scan("change_pte", mm, page, page + (1 << PAGE_SHIFT));
        }
    }

    /// The GRU does not flush at release (Linux's `gru_release` only marks the mm): its
    /// threads are gone and the contexts are unloaded when the file closes. Later callbacks
    /// reach no notifier, so the contract no longer applies to the mm.
    fn released(&self, mm: MmId) {
        if let Some(c) = self.0.upgrade() {
            c.released.borrow_mut().insert(mm);
        }
    }
}

//! The shootdown contract: when `invalidate_range_start` (or a classic `invalidate_page` /
//! `change_pte`) returns, no chiplet holds an entry the mm can hit in the range, and nothing of
//! the range is installed until the matching `invalidate_range_end`.

use std::rc::Weak;

use gru_driver::gru::handles::{PageSize, Tfh, Tgh};
use gru_driver::mm::{Leaf, MmId, Present, PAGE_SHIFT};
use gru_sim::model::TlbEntry;
use gru_driver::notifier::{ChainWatcher, Range};

use super::ownership::{tgh_covers, tgh_exact, tgh_span};
use super::{Check, Checker};

impl Checker {
    /// The shootdown contract after `what` returned: no chiplet holds an entry `mm` can hit
    /// that overlaps `[start, end)`.
    pub(super) fn scan(&self, what: &str, mm: MmId, start: u64, end: u64) {
        let task = self.mmu.kernel().current_task();
        let window = self.flushing.borrow_mut().remove(&(task, mm, start, end));
        if self.released.borrow().contains(&mm) {
            return;
        }
        let (first, last) = (start >> PAGE_SHIFT, (end.max(start + 1) - 1) >> PAGE_SHIFT);
        if let Some((since, at)) = window {
            self.covered(what, mm, (start, end), (first, last), since, at);
        }
        // An entry made after invalidate_page's PTE change from the new PTE is no stale one:
        // classic-unlocked Linux sets the new PTE and drops the page-table lock before it calls
        // invalidate_page, so a dropin of that PTE (page_mkclean's clean read-only one) may land
        // meanwhile. In the classic era the PTE is still clear then, and nothing matches it.
        // And one made stale by a later PTE change of the same page whose own invalidate_page is
        // still under way (two page_mkclean passes overlap): that call's flush owes it, and its
        // return is judged the same way.
        let later = |e: &TlbEntry| {
            let owed = self.mmu.with_phys(|p| p.pending_mappings(e.pfn).iter().filter(|m| m.mm == mm && m.va == start).count());
            what == "invalidate_page" && owed >= 2
        };
        let current = |e: &TlbEntry| what == "invalidate_page" && (self.matches_pte(mm, e) || later(e));
        let left: Vec<String> = (0..self.chiplets)
            .flat_map(|c| {
                self.reachable(mm, c)
                    .into_iter()
                    .filter(|e| e.vpn <= last && first < e.vpn + (1 << e.shift()))
                    .filter(|e| !current(e))
                    .map(move |e| format!("chiplet {c} ctx {} asid {:#x} va {:#x} -> pfn {}", e.ctx, e.asid, e.vpn << PAGE_SHIFT, e.pfn))
            })
            .collect();
        let bad = (!left.is_empty())
            .then(|| format!("{what} {mm} [{start:#x}, {end:#x}) returned with entries left: {}", left.join("; ")));
        self.verdict(self.now(), Check::Contract, bad);
    }

    /// Every context loaded on a chiplet under an ASID `mm` owns (chip CCH state) must be
    /// covered by a TGH started since the flush began (purges from index `since`, cycle `at`):
    /// its slot in the bitmap, its ASID for the range's region (or global), the pages of the
    /// range. A context allocated after the flush began is exempt: it was not loaded when the
    /// flush chose its contexts, and what it may reach is judged by the entries left.
    ///
    /// And by one that purges no more than the range (Linux's flush: the range's pages under the
    /// mm's ASID, a full purge of the ASID only above `GRUMAXINVAL` pages): a TGH that covers it
    /// only by purging more — a full or global purge, a wider range, a partial `vaddrmask` — is an
    /// over-flush, which costs every other entry it takes a miss and hides a wrong range.
    fn covered(&self, what: &str, mm: MmId, (start, end): (u64, u64), (first, last): (u64, u64), since: usize, at: u64) {
        let purges = self.purges.borrow();
        let purges = purges.get(since..).unwrap_or_default();
        let region = ((start >> 61) & 3) as usize;
        let (mut missed, mut wide) = (Vec::new(), Vec::new());
        for c in 0..self.chiplets {
            for (ctx, cch) in self.contexts_of(mm, c) {
                let asid = cch.asid[region];
                let covering: Vec<&Tgh> = purges.iter().filter(|(_, pc, t)| *pc == c && tgh_covers(t, asid, ctx, first, last)).map(|(_, _, t)| t).collect();
                if self.allocated_at(c, ctx) >= at {
                    continue;
                }
                let name = format!("chiplet {c} context {ctx} (ASID {asid:#x})");
                if covering.is_empty() {
                    missed.push(name);
                } else if !covering.iter().any(|t| tgh_exact(t, first, last)) {
                    wide.push(format!("{name} by {}", covering.iter().map(|t| tgh_span(t)).collect::<Vec<_>>().join(", ")));
                }
            }
        }
        let bad = if !missed.is_empty() {
            Some(format!("{what} {mm} [{start:#x}, {end:#x}) returned; loaded contexts of {mm} covered by no TGH of the flush: {}", missed.join("; ")))
        } else if !wide.is_empty() {
            Some(format!("{what} {mm} [{start:#x}, {end:#x}) returned; over-flush: loaded contexts of {mm} covered only by TGHs that purge more than the range: {}", wide.join("; ")))
        } else {
            None
        };
        self.verdict(self.now(), Check::FlushCover, bad);
    }

    /// Whether entry `e` translates as `mm`'s page table does now: the PTE is present and
    /// accessible, maps the entry's frame, and allows a store if the entry is writable.
    fn matches_pte(&self, mm: MmId, e: &TlbEntry) -> bool {
        let va = e.vpn << PAGE_SHIFT;
        let leaf = self.mmu.mm(mm).and_then(|m| m.lookup(va));
        let p = match leaf {
            Some(Leaf::Pte(_, pte)) => pte.present(),
            Some(Leaf::Pmd(h, pte)) => pte.present().map(|p| Present { pfn: p.pfn + ((va - h) >> PAGE_SHIFT), ..p }),
            None => None,
        };
        p.is_some_and(|p| !p.protnone && p.pfn == e.pfn && (!e.dirty || (p.write && p.dirty)))
    }

    /// A dropin landed in the TLB: it must not fall in a range whose invalidation has returned
    /// from `invalidate_range_start` but not reached `invalidate_range_end`. The range's mm is
    /// the owner of the fill ASID on the chiplet (the entry is reachable by that mm).
    pub(super) fn installed(&self, cycle: u64, chiplet: usize, t: &Tfh) {
        let len = 1u64 << (PageSize::vpn_shift_of(t.pagesize) + PAGE_SHIFT);
        let (lo, hi) = (t.fillvaddr & !(len - 1), (t.fillvaddr & !(len - 1)) + len);
        let owner = self.asid_owner(chiplet, t.fillasid);
        let open = self.open.borrow().clone();
        let bad = open.iter().find(|&&(mm, s, e)| lo < e && s < hi && owner == Some(mm));
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
    fn flush_starting(&self, mm: MmId, start: u64, end: u64) {
        if let Some(c) = self.0.upgrade() {
            // Keyed by the invalidating task: two tasks may invalidate the same range at once.
            let task = c.mmu.kernel().current_task();
            let mark = (c.purges.borrow().len(), c.now());
            c.flushing.borrow_mut().insert((task, mm, start, end), mark);
        }
    }

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

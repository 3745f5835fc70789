//! The shapes every operation shares: "S · change PTEs · E · flush · free" for ranges, "clear +
//! flush one PTE, announce it as the era does, install the replacement" for single pages, and
//! the THP split that many operations need first.

use crate::kernel::{cost, ProcCtx};
use crate::mm::mm::{Mm, PtWork};
use crate::mm::pte::{Leaf, Present, Pte};
use crate::mm::{Pfn, HPAGE_MASK, HPAGE_SIZE, PAGES_PER_HPAGE, PAGE_SHIFT, PAGE_SIZE};
use crate::notifier::{Era, Event, Range};
use crate::trace::TraceEvent;

/// `struct mmu_gather`: pages unmapped under a range, put after the CPU TLB flush that follows
/// the range's end.
#[derive(Default)]
pub(crate) struct Gather {
    pages: Vec<(Pfn, u64)>,
    flush: Option<(u64, u64)>,
}

impl Gather {
    /// Queue `pages` frames from `pfn` for a put.
    pub fn page(&mut self, pfn: Pfn, pages: u64) {
        self.pages.push((pfn, pages));
    }

    /// Widen the range to flush.
    pub fn flush(&mut self, start: u64, end: u64) {
        self.flush = Some(
            self.flush
                .map_or((start, end), |(s, e)| (s.min(start), e.max(end))),
        );
    }

    /// `tlb_finish_mmu`: flush the CPU TLBs, then put the pages (freeing the last references).
    pub async fn finish(self, ctx: &ProcCtx, mm: &Mm) {
        if let Some((start, end)) = self.flush {
            mm.mmu().trace().push(TraceEvent::Flush {
                mm: mm.id(),
                start,
                end,
            });
            ctx.cost(cost::TLB_FLUSH).await;
        }
        for (pfn, pages) in self.pages {
            mm.mmu().put_pages(pfn, pages);
        }
    }
}

/// Announce `range`, do `body` under the page-table lock, end the range, then flush and free
/// what `body` gathered. Every range operation goes through here, so S precedes the first PTE
/// change and frees follow E.
pub(crate) async fn range_op<T>(
    ctx: &ProcCtx,
    mm: &Mm,
    range: Range,
    body: impl FnOnce(&mut PtWork<'_>) -> T,
) -> T {
    // Every range this model issues is blockable, so no notifier can refuse it.
    let _ = mm
        .notifiers()
        .invalidate_range_start(ctx, mm.id(), &range)
        .await;
    let mut gather = Gather::default();
    let ptl = mm.ptl().lock(ctx).await;
    let (out, cycles) = {
        let mut w = mm.work(&mut gather);
        let out = body(&mut w);
        (out, w.cycles)
    };
    ctx.cost(cycles).await;
    drop(ptl);
    mm.notifiers()
        .invalidate_range_end(ctx, mm.id(), &range)
        .await;
    gather.finish(ctx, mm).await;
    out
}

/// How [`replace_pte`] announces the change in the classic eras.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// `try_to_unmap_one`, `page_mkclean_one`: P after the clear + flush, under the PT lock
    /// (2.6.27–3.5); from 3.6 after the new PTE is set and the PT lock dropped.
    Page,
    /// KSM's `write_protect_page`: as [`Announce::Page`] until 3.5; from 3.6 a one-page range.
    PageOrRange,
    /// `do_wp_page`, KSM's `replace_page`: P, then `set_pte_at_notify`: C with the new PTE
    /// (2.6.27–3.5); from 3.6 a one-page range with C inside it.
    PageAndChange,
}

/// Replace the 4K PTE at `va`, which must still map `pfn`, with what `new` returns (`None`:
/// leave it). Modern: S(event, page) · clear + flush · set · E. Classic: clear + flush · P ·
/// [C] · set. Classic-unlocked: clear + flush · set · unlock · P, or S · clear + flush · [C] ·
/// set · E for a range. Returns the PTE found (its page reference now the caller's when it was
/// replaced), or `None` when the PTE no longer maps `pfn`.
pub(crate) async fn replace_pte(
    ctx: &ProcCtx,
    mm: &Mm,
    va: u64,
    pfn: Pfn,
    event: Event,
    announce: Announce,
    new: impl FnOnce(&mut PtWork<'_>, Present) -> Option<Pte>,
) -> Option<Present> {
    let era = mm.mmu().era();
    let range = Range::new(era, va, va + PAGE_SIZE, event);
    // The announcement: a range around the change, P under the lock (classic), or P after it.
    let ranged = era == Era::Modern || (era == Era::ClassicUnlocked && announce != Announce::Page);
    let page_after = era == Era::ClassicUnlocked && announce == Announce::Page;
    if ranged {
        let _ = mm
            .notifiers()
            .invalidate_range_start(ctx, mm.id(), &range)
            .await;
    }
    let ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    let (found, cycles) = {
        let mut w = mm.work(&mut gather);
        let found = match w.st.pt.lookup(va) {
            Some(Leaf::Pte(_, Pte::Present(old))) if old.pfn == pfn => {
                let replacement = new(&mut w, old);
                if replacement.is_some() {
                    // Classic: the mapping stays in the reverse map until invalidate_page has
                    // returned, as in Linux (`page_remove_rmap` follows
                    // `ptep_clear_flush_notify`): until then a device may still store through
                    // its old translation, and that store belongs to this mapping.
                    if era == Era::Classic {
                        w.clear(va, false, Pte::None);
                    } else {
                        w.unmap(va, false, Pte::None);
                    }
                    w.flush_now(va, va + PAGE_SIZE);
                    if page_after {
                        // Until invalidate_page returns, the device may still use its old
                        // translation of the page, whose PTE and reverse-map entry are gone
                        // (the caller still holds a reference): the store check reads this.
                        w.phys.pending_invalidate(pfn, mm.id(), va, true);
                    }
                }
                Some((old, replacement))
            }
            _ => None,
        };
        (found, w.cycles)
    };
    ctx.cost(cycles).await;
    if let Some((old, Some(replacement))) = found {
        if era == Era::Classic {
            mm.notifiers().invalidate_page(ctx, mm.id(), va).await;
        }
        if era.api() == Era::Classic && announce == Announce::PageAndChange {
            mm.notifiers()
                .change_pte(ctx, mm.id(), va, replacement)
                .await;
        }
        let mut w = mm.work(&mut gather);
        if era == Era::Classic {
            w.phys.remove_rmap(old.pfn, 1, mm.id(), va);
        }
        match replacement {
            Pte::Present(p) => w.map(va, false, p),
            Pte::None => {}
            other => {
                w.set(va, false, other);
            }
        }
    }
    drop(ptl);
    if page_after && matches!(found, Some((_, Some(_)))) {
        mm.notifiers().invalidate_page(ctx, mm.id(), va).await;
        mm.mmu().phys().pending_invalidate(pfn, mm.id(), va, false);
    }
    if ranged {
        mm.notifiers()
            .invalidate_range_end(ctx, mm.id(), &range)
            .await;
    }
    found.map(|(old, _)| old)
}

/// THP split: S(CLEAR, [h, h + 2M)) · the 2M leaf becomes a table of 512 PTEs · E. Does
/// nothing if no 2M leaf is at `haddr`.
pub(crate) async fn split_huge(ctx: &ProcCtx, mm: &Mm, haddr: u64) {
    if mm.state().pt.pmd(haddr).present().is_none() {
        return;
    }
    let range = Range::new(mm.mmu().era(), haddr, haddr + HPAGE_SIZE, Event::Clear);
    range_op(ctx, mm, range, |w| {
        let Some(p) = w.st.pt.pmd(haddr).present() else {
            return;
        };
        w.st.pt.set(haddr, true, Pte::None);
        for i in 0..PAGES_PER_HPAGE {
            let sub = Present {
                pfn: p.pfn + i,
                ..p
            };
            w.st.pt
                .set(haddr + (i << PAGE_SHIFT), false, Pte::Present(sub));
        }
        w.cycles += cost::PTE_UPDATE * PAGES_PER_HPAGE;
        w.trace.push(TraceEvent::PteTable {
            mm: w.mm,
            va: haddr,
            pfn: p.pfn,
        });
    })
    .await;
}

/// Split every 2M leaf that straddles `start` or `end`, so that `[start, end)` can be worked on
/// in 4K pages.
pub(crate) async fn split_huge_edges(ctx: &ProcCtx, mm: &Mm, start: u64, end: u64) {
    for edge in [start, end] {
        if edge % HPAGE_SIZE != 0 {
            split_huge(ctx, mm, edge & HPAGE_MASK).await;
        }
    }
}

/// Split every 2M leaf overlapping `[start, end)`.
pub(crate) async fn split_huge_all(ctx: &ProcCtx, mm: &Mm, start: u64, end: u64) {
    let leaves = mm.state().pt.pmds_in(start, end);
    for (h, _) in leaves {
        split_huge(ctx, mm, h).await;
    }
}

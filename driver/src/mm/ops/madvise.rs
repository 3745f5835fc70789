//! madvise(MADV_DONTNEED) and madvise(MADV_FREE).

use super::begin;
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{range_op, split_huge_edges};
use crate::mm::mm::{Mm, PtWork};
use crate::mm::pte::{Present, Pte};
use crate::mm::{user_range, MmError, PAGES_PER_HPAGE, PAGE_SHIFT, PAGE_SIZE, ZERO_PFN};
use crate::notifier::{Era, Event, Range};

/// The advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// `MADV_DONTNEED`: drop the pages; anonymous memory reads as zero afterwards, a file
    /// mapping reads the file again.
    DontNeed,
    /// `MADV_FREE` (4.5+, so modern era only): the pages may be dropped by reclaim while clean.
    Free,
}

/// `madvise(start, len, advice)`: per VMA, S(CLEAR) · zap (DONTNEED) or make PTEs clean and old
/// (FREE) · E · flush · free.
pub async fn madvise(
    ctx: &ProcCtx,
    mm: &Mm,
    start: u64,
    len: u64,
    advice: Advice,
) -> Result<(), MmError> {
    let end = user_range(start, len)?;
    mm.check_live()?;
    let era = mm.mmu().era();
    if advice == Advice::Free && era == Era::Classic {
        return Err(MmError::NotInEra {
            op: "MADV_FREE",
            era,
        });
    }
    begin(mm, format!("madvise {advice:?} [{start:#x}, {end:#x})"));
    let _lock = mm.mmap_lock().read(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    let segments = mm.state().vmas.clipped(start, end);
    if segments.is_empty() {
        return Err(MmError::NotMapped {
            mm: mm.id(),
            start,
            end,
        });
    }
    // `madvise_free_single_vma`: anonymous private memory only.
    if advice == Advice::Free && segments.iter().any(|v| v.backing.is_some()) {
        return Err(MmError::InvalidArgument("MADV_FREE of a shared or file mapping"));
    }
    split_huge_edges(ctx, mm, start, end).await;
    for seg in segments {
        let range = Range::new(era, seg.start, seg.end, Event::Clear);
        range_op(ctx, mm, range, |w| match advice {
            Advice::DontNeed => {
                w.zap(seg.start, seg.end);
                w.oracle.dontneed(w.mm, seg.start, seg.end);
            }
            Advice::Free => lazyfree_range(w, seg.start, seg.end),
        })
        .await;
    }
    Ok(())
}

/// `madvise_free_pte_range`: exclusive pages become clean, old and lazily freeable; swap entries
/// are dropped (the range then reads zero); shared pages are left alone.
fn lazyfree_range(w: &mut PtWork<'_>, start: u64, end: u64) {
    let before = w.cycles;
    for (va, pte, huge) in w.st.pt.leaves_in(start, end) {
        match pte {
            Pte::Present(p) => lazyfree_page(w, va, huge, p),
            Pte::Swap(slot) => {
                w.set(va, false, Pte::None);
                w.swap.put(slot);
                w.oracle.clear(w.mm, va, va + PAGE_SIZE);
            }
            Pte::Migration { .. } | Pte::None => {}
        }
    }
    if w.cycles > before {
        w.gather.flush(start, end);
    }
}

fn lazyfree_page(w: &mut PtWork<'_>, va: u64, huge: bool, p: Present) {
    let pages = if huge { PAGES_PER_HPAGE } else { 1 };
    let frames = p.pfn..p.pfn + pages;
    let exclusive = p.pfn != ZERO_PFN
        && frames
            .clone()
            .all(|f| w.phys.refcount(f) == 1 && !w.phys.flags(f).ksm);
    if !exclusive {
        return;
    }
    if p.dirty || p.young {
        w.set(
            va,
            huge,
            Pte::Present(Present {
                dirty: false,
                young: false,
                ..p
            }),
        );
    }
    for (i, f) in frames.enumerate() {
        let flags = w.phys.flags_mut(f);
        flags.dirty = false;
        flags.lazyfree = true;
        if let Some(slot) = w.phys.set_swap_cache(f, None) {
            w.swap.put(slot);
        }
        w.oracle.lazyfree(w.mm, va + ((i as u64) << PAGE_SHIFT));
    }
}

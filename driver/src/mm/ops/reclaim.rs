//! Reclaim: aging (clear_flush_young per mapping) and swap-out of one page.

use super::{begin, isolate_page, page_at};
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{replace_pte, Announce, Gather};
use crate::mm::mm::{Mm, Mmu};
use crate::mm::pte::{Leaf, Present, Pte};
use crate::mm::{FileId, MmError, Pfn, Slot, HPAGE_SIZE, PAGE_SIZE};
use crate::notifier::Event;
use crate::trace::TraceEvent;

/// `page_referenced` for the page mapped at `va`: per mapping, under that mm's page-table lock,
/// clear the accessed bit then Y(mapping range). True if the CPU or a notifier saw an access.
pub async fn reclaim_age(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<bool, MmError> {
    mm.check_live()?;
    let (pfn, _) = page_at(mm, va)?;
    begin(mm, format!("reclaim aging of pfn {pfn:#x}"));
    let mmu = mm.mmu();
    let mappings = mmu.phys().mappings(pfn).to_vec();
    let mut referenced = false;
    for m in mappings {
        let Some(target) = mmu.mm(m.mm) else { continue };
        let _ptl = target.ptl().lock(ctx).await;
        let (base, huge, p) = match target.lookup(m.va) {
            Some(Leaf::Pte(a, Pte::Present(p))) if p.pfn == pfn => (a, false, p),
            Some(Leaf::Pmd(h, Pte::Present(p))) if (p.pfn..p.pfn + 512).contains(&pfn) => {
                (h, true, p)
            }
            _ => continue,
        };
        if p.young {
            let mut gather = Gather::default();
            target
                .work(&mut gather)
                .set(base, huge, Pte::Present(Present { young: false, ..p }));
        }
        let end = base + if huge { HPAGE_SIZE } else { PAGE_SIZE };
        referenced |= target
            .notifiers()
            .clear_flush_young(ctx, target.id(), base, end)
            .await
            || p.young;
    }
    Ok(referenced)
}

/// What swap-out did with the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapOutcome {
    /// Written to this slot, then freed.
    Written(Slot),
    /// Clean copy already in this slot: freed without writeback.
    Clean(Slot),
    /// A clean `MADV_FREE` page: dropped, its mappings now read zero.
    Discarded,
    /// A dirty file page: unmapped, written to the file, dropped from the page cache.
    FileWritten,
    /// A clean file page: unmapped and dropped from the page cache (the file has its contents).
    FileDropped,
}

/// `shrink_page_list` for the page mapped at `va`: per mapping, S(CLEAR, page) · clear + flush ·
/// swap PTE · E (classic: clear + flush · P · swap PTE); then writeback if dirty, then free.
/// A clean lazily freed page is discarded instead.
pub async fn swap_out(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<SwapOutcome, MmError> {
    mm.check_live()?;
    let (pfn, huge) = page_at(mm, va)?;
    begin(mm, format!("swap-out of pfn {pfn:#x}"));
    let mmu = mm.mmu();
    let cached = mmu.phys().flags(pfn).mapping;
    if cached.is_some_and(|(file, _)| mmu.files().get(file).is_some_and(|f| f.shmem)) {
        return Err(MmError::NotEligible("shmem pages are not reclaimed in this model"));
    }
    let mms = mmu.mappers(pfn);
    let _locks = isolate_page(ctx, mmu, pfn, huge, &mms).await?;
    // Reclaim's isolation reference keeps the frame until it is done.
    mmu.phys().get(pfn, 1);
    let outcome = if let Some((file, index)) = cached {
        reclaim_file_page(ctx, mmu, pfn, file, index).await
    } else if is_discardable(mmu, pfn) {
        discard(ctx, mmu, pfn).await
    } else {
        write_out(ctx, mmu, pfn).await
    };
    mmu.put_pages(pfn, 1);
    outcome
}

fn is_discardable(mmu: &Mmu, pfn: Pfn) -> bool {
    let flags = mmu.phys().flags(pfn);
    flags.lazyfree && !flags.dirty && !any_mapping(mmu, pfn, |p| p.dirty)
}

fn any_mapping(mmu: &Mmu, pfn: Pfn, pred: impl Fn(Present) -> bool) -> bool {
    let mappings = mmu.phys().mappings(pfn).to_vec();
    mappings.iter().any(|m| {
        let pte = mmu.mm(m.mm).map(|t| t.state().pt.pte(m.va));
        pte.and_then(Pte::present).is_some_and(&pred)
    })
}

/// Unmap every mapping of `pfn`, replacing each PTE with what `new` makes of it, and put the
/// mappings' references. Returns the mappings replaced.
async fn unmap_all(
    ctx: &ProcCtx,
    mmu: &Mmu,
    pfn: Pfn,
    mut new: impl FnMut(&mut crate::mm::mm::PtWork<'_>, Present) -> Option<Pte>,
) -> Vec<(Mm, u64, Present)> {
    let mappings = mmu.phys().mappings(pfn).to_vec();
    let mut done = Vec::new();
    for m in mappings {
        let Some(target) = mmu.mm(m.mm) else { continue };
        // A mapping `new` leaves in place keeps its page reference.
        let mut replaced = false;
        let decide = |w: &mut crate::mm::mm::PtWork<'_>, p: Present| {
            let r = new(w, p);
            replaced = r.is_some();
            r
        };
        let found = replace_pte(ctx, &target, m.va, pfn, Event::Clear, Announce::Page, decide).await;
        if let Some(old) = found.filter(|_| replaced) {
            mmu.put_pages(pfn, 1);
            done.push((target, m.va, old));
        }
    }
    done
}

/// The lazyfree path: drop a clean page from every mapping; a mapping redirtied meanwhile is
/// left in place and the page survives.
async fn discard(ctx: &ProcCtx, mmu: &Mmu, pfn: Pfn) -> Result<SwapOutcome, MmError> {
    let done = unmap_all(ctx, mmu, pfn, |_, p| (!p.dirty).then_some(Pte::None)).await;
    for (target, va, _) in &done {
        mmu.trace().push(TraceEvent::Discard {
            mm: target.id(),
            va: *va,
        });
        if let Err(bug) = mmu.oracle().discard(target.id(), *va) {
            mmu.phys().record_bug(bug);
        }
    }
    if mmu.phys().mappings(pfn).is_empty() {
        Ok(SwapOutcome::Discarded)
    } else {
        Err(MmError::Busy("page redirtied"))
    }
}

/// The swap path: a slot (the swap cache's, or a new one, which makes the page dirty), swap PTEs
/// in every mapping, then writeback if dirty.
async fn write_out(ctx: &ProcCtx, mmu: &Mmu, pfn: Pfn) -> Result<SwapOutcome, MmError> {
    let cached = mmu.phys().swap_cache(pfn);
    let slot = match cached {
        Some(slot) => slot,
        None => {
            let slot = mmu.swap().alloc().ok_or(MmError::SwapFull)?;
            mmu.phys().set_swap_cache(pfn, Some(slot));
            mmu.phys().flags_mut(pfn).dirty = true;
            slot
        }
    };
    mmu.swap().begin_write(slot);
    unmap_all(ctx, mmu, pfn, |w, _| {
        w.swap.dup(slot);
        Some(Pte::Swap(slot))
    })
    .await;
    let dirty = mmu.phys().flags(pfn).dirty;
    // The slot holds the page from the moment the write starts (no mapping is left through
    // which the page could change), so the swap-ins waiting for it may go on.
    let data = dirty.then(|| mmu.phys().page(pfn));
    mmu.swap().end_write(slot, data);
    mmu.0.swap_wq.wake_all(ctx.kernel());
    if !dirty {
        return Ok(SwapOutcome::Clean(slot));
    }
    ctx.sleep(cost::SWAP_IO).await;
    mmu.phys().flags_mut(pfn).dirty = false;
    mmu.trace().push(TraceEvent::Writeback { pfn, slot });
    Ok(SwapOutcome::Written(slot))
}

/// A page-cache page: unmapped from every mapping (their dirty bits go to the page), written
/// back if dirty, then dropped from the cache. A store that reached the page behind the
/// kernel's back (through a device entry kept after `page_mkclean`) left it clean: it is lost
/// here, and the next read of the file shows it.
async fn reclaim_file_page(ctx: &ProcCtx, mmu: &Mmu, pfn: Pfn, file: FileId, index: u64) -> Result<SwapOutcome, MmError> {
    unmap_all(ctx, mmu, pfn, |_, _| Some(Pte::None)).await;
    let written = super::file::write_page(ctx, mmu, file, index).await;
    if !mmu.phys().mappings(pfn).is_empty() {
        return Err(MmError::Busy("page mapped again"));
    }
    if mmu.cached_page(file, index) == Some(pfn) {
        super::file::remove_from_cache(mmu, file, index, pfn);
    }
    Ok(if written { SwapOutcome::FileWritten } else { SwapOutcome::FileDropped })
}

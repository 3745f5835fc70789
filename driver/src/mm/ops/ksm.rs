//! KSM merge.

use super::{anon_page_at, begin, check_unpinned};
use crate::kernel::ProcCtx;
use crate::mm::invalidate::{replace_pte, split_huge, Announce};
use crate::mm::mm::{Mm, PtWork};
use crate::mm::pte::{Leaf, Present, Pte};
use crate::mm::{MmError, Pfn, HPAGE_MASK};
use crate::notifier::Event;

/// ksmd merging two identical pages: the page at `a` becomes the KSM page (write-protected:
/// S · wrprotect · E), then the page at `b` is write-protected and replaced by it (S ·
/// wrprotect · E; S · clear + flush · KSM PTE · E · put). Classic: P · wrprotect; P · C(ksm
/// pte) · replace.
pub async fn ksm_merge(ctx: &ProcCtx, a: (&Mm, u64), b: (&Mm, u64)) -> Result<(), MmError> {
    let ((mm_a, va_a), (mm_b, va_b)) = (a, b);
    mm_a.check_live()?;
    mm_b.check_live()?;
    begin(
        mm_a,
        format!(
            "ksm merge {}:{va_a:#x} <- {}:{va_b:#x}",
            mm_a.id(),
            mm_b.id()
        ),
    );
    let kpage = {
        let _lock = mm_a.mmap_lock().read(ctx).await;
        let pfn = small_page(ctx, mm_a, va_a).await?;
        write_protect(ctx, mm_a, va_a, pfn).await?;
        mm_a.mmu().phys().flags_mut(pfn).ksm = true;
        pfn
    };
    let _lock = mm_b.mmap_lock().read(ctx).await;
    let pfn = small_page(ctx, mm_b, va_b).await?;
    if pfn == kpage {
        return Ok(());
    }
    let mmu = mm_b.mmu();
    if !mmu.phys().same_contents(pfn, kpage) {
        return Err(MmError::NotEligible("contents differ"));
    }
    write_protect(ctx, mm_b, va_b, pfn).await?;
    // A store between the comparison and the write-protect would have changed the page.
    if !mmu.phys().same_contents(pfn, kpage) {
        return Err(MmError::NotEligible("contents changed"));
    }
    let ksm_pte = |w: &mut PtWork<'_>, old: Present| {
        w.phys.get(kpage, 1);
        Some(Pte::Present(Present {
            pfn: kpage,
            write: false,
            dirty: false,
            young: true,
            ..old
        }))
    };
    let replaced = replace_pte(
        ctx,
        mm_b,
        va_b,
        pfn,
        Event::Clear,
        Announce::PageAndChange,
        ksm_pte,
    )
    .await;
    if replaced.is_none() {
        return Err(MmError::Busy("page changed"));
    }
    mmu.put_pages(pfn, 1);
    Ok(())
}

/// The 4K page at `va`, splitting a 2M leaf first.
async fn small_page(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<Pfn, MmError> {
    if let Some(Leaf::Pmd(..)) = mm.lookup(va) {
        split_huge(ctx, mm, va & HPAGE_MASK).await;
    }
    Ok(anon_page_at(mm, va)?.0)
}

/// `write_protect_page`: S · (if writable or dirty) clear + flush · clean read-only PTE · E.
async fn write_protect(ctx: &ProcCtx, mm: &Mm, va: u64, pfn: Pfn) -> Result<(), MmError> {
    check_unpinned(mm.mmu(), pfn)?;
    let wrprotect = |_: &mut PtWork<'_>, p: Present| {
        (p.write || p.dirty).then_some(Pte::Present(Present {
            write: false,
            dirty: false,
            ..p
        }))
    };
    replace_pte(ctx, mm, va, pfn, Event::Clear, Announce::PageOrRange, wrprotect)
        .await
        .ok_or(MmError::Busy("page changed"))?;
    Ok(())
}

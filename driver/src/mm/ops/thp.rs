//! Transparent huge pages: split and collapse (khugepaged).

use super::begin;
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{range_op, split_huge, Gather};
use crate::mm::mm::Mm;
use crate::mm::pte::{Present, Pte};
use crate::mm::{MmError, HPAGE_MASK, HPAGE_SIZE, PAGE_SHIFT, ZERO_PFN};
use crate::notifier::{Event, Range};

/// `split_huge_pmd` of the 2M leaf covering `va`: S(CLEAR, [h, h + 2M)) · PMD → table · E.
pub async fn thp_split(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<(), MmError> {
    mm.check_live()?;
    let haddr = va & HPAGE_MASK;
    begin(mm, format!("thp split {haddr:#x}"));
    let _lock = mm.mmap_lock().read(ctx).await;
    if mm.state().pt.pmd(haddr).present().is_none() {
        return Err(MmError::NotEligible("no 2M leaf there"));
    }
    split_huge(ctx, mm, haddr).await;
    Ok(())
}

/// khugepaged collapsing `[haddr, haddr + 2M)`: scan (T per PTE not young), allocate the huge
/// page, then under the write lock S(CLEAR, [h, h + 2M)) · clear the PTEs + flush · E · copy
/// and free the small pages · set the PMD (no callback).
pub async fn thp_collapse(ctx: &ProcCtx, mm: &Mm, haddr: u64) -> Result<(), MmError> {
    if haddr % HPAGE_SIZE != 0 {
        return Err(MmError::InvalidArgument(
            "collapse address must be 2M-aligned",
        ));
    }
    mm.check_live()?;
    begin(mm, format!("thp collapse {haddr:#x}"));
    {
        let _lock = mm.mmap_lock().read(ctx).await;
        let young = scan(mm, haddr)?;
        let mut referenced = false;
        for (va, p) in young {
            referenced |= p || mm.notifiers().test_young(ctx, mm.id(), va).await;
        }
        if !referenced {
            return Err(MmError::NotEligible("no referenced page"));
        }
    }
    let huge = mm.mmu().alloc_huge()?;
    let _lock = mm.mmap_lock().write(ctx).await;
    if let Err(e) = scan(mm, haddr) {
        mm.mmu().put_pages(huge, 512);
        return Err(e);
    }
    let range = Range::new(mm.mmu().era(), haddr, haddr + HPAGE_SIZE, Event::Clear);
    let old = range_op(ctx, mm, range, |w| {
        let mut old = Vec::new();
        for (va, _) in w.st.pt.ptes_in(haddr, haddr + HPAGE_SIZE) {
            old.extend(w.unmap(va, false, Pte::None).map(|p| (va, p)));
        }
        w.flush_now(haddr, haddr + HPAGE_SIZE);
        old
    })
    .await;
    for (va, p) in old.into_iter().filter(|(_, p)| p.pfn != ZERO_PFN) {
        mm.mmu()
            .phys()
            .copy(p.pfn, huge + ((va - haddr) >> PAGE_SHIFT), 1);
        ctx.cost(cost::PAGE_COPY).await;
        mm.mmu().put_pages(p.pfn, 1);
    }
    let _ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    mm.work(&mut gather).map(
        haddr,
        true,
        Present {
            pfn: huge,
            write: true,
            dirty: true,
            young: true,
            protnone: false,
        },
    );
    Ok(())
}

/// Whether `[haddr, haddr + 2M)` can collapse: inside one writable VMA, no 2M leaf, every entry
/// none, the zero page or an exclusive small page. Returns each present page's address and
/// young bit.
fn scan(mm: &Mm, haddr: u64) -> Result<Vec<(u64, bool)>, MmError> {
    let st = mm.state();
    let end = haddr + HPAGE_SIZE;
    let vma = st
        .vmas
        .find(haddr)
        .filter(|v| v.end >= end && v.prot.writable() && v.backing.is_none());
    if vma.is_none() || st.pt.pmd(haddr) != Pte::None {
        return Err(MmError::NotEligible(
            "range not a writable anonymous small-page region",
        ));
    }
    let phys = mm.mmu().phys();
    let mut pages = Vec::new();
    for (va, pte) in st.pt.ptes_in(haddr, end) {
        let Pte::Present(p) = pte else {
            return Err(MmError::NotEligible("swap or migration entry"));
        };
        if p.pfn != ZERO_PFN && (phys.refcount(p.pfn) != 1 || phys.flags(p.pfn).ksm) {
            return Err(MmError::NotEligible("shared page"));
        }
        pages.push((va, p.young));
    }
    if pages.is_empty() {
        return Err(MmError::NotEligible("nothing mapped"));
    }
    Ok(pages)
}

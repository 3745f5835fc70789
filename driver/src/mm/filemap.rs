//! Faults on file-backed and shared memory (Linux `do_read_fault`, `do_shared_fault`,
//! `do_cow_fault`, `wp_page_shared`): the page comes from the file's page cache. A shared
//! mapping maps the cached page itself; a private one maps it read-only and copies it on the
//! first store.

use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::Gather;
use crate::mm::mm::Mm;
use crate::mm::pte::{Leaf, Present, Pte};
use crate::mm::vma::Vma;
use crate::mm::{FileId, MmError, Pfn};

/// The fault at `va` (page-aligned) in file-backed `vma`, if it is one of the file cases: no
/// PTE yet, or a store to a read-only PTE of a shared mapping. Anything else (a private COW
/// break, swap, a spurious fault) is the anonymous path's.
pub(crate) async fn file_fault(ctx: &ProcCtx, mm: &Mm, va: u64, write: bool, vma: &Vma, leaf: Option<Leaf>) -> Option<Result<(), MmError>> {
    let (file, index) = vma.pgoff(va)?;
    match leaf {
        None | Some(Leaf::Pte(_, Pte::None)) => Some(do_fault(ctx, mm, va, write, vma, file, index).await),
        Some(Leaf::Pte(_, Pte::Present(p))) if write && !p.write && vma.shared() => {
            wp_page_shared(ctx, mm, va, p).await;
            Some(Ok(()))
        }
        _ => None,
    }
}

/// No PTE: find the page in the cache (reading it in), then map it (shared, or a private read),
/// or map a copy of it (a private store).
async fn do_fault(ctx: &ProcCtx, mm: &Mm, va: u64, write: bool, vma: &Vma, file: FileId, index: u64) -> Result<(), MmError> {
    let mmu = mm.mmu();
    let size = mmu.file_size(file).ok_or(MmError::NoFile(file))?;
    if index >= size {
        return Err(MmError::SigBus { mm: mm.id(), addr: va, file });
    }
    let page = match mmu.cached_page(file, index) {
        Some(p) => p,
        None => {
            // Reading a page in waits for a truncate or hole punch under way
            // (`filemap_invalidate_lock_shared`), then sees its result.
            let sem = mmu.files().get(file).map(|f| f.lock.clone()).ok_or(MmError::NoFile(file))?;
            let _lock = sem.read(ctx).await;
            if mmu.file_size(file).map_or(true, |s| index >= s) {
                return Err(MmError::SigBus { mm: mm.id(), addr: va, file });
            }
            mmu.cache_page(file, index)?
        }
    };
    let shared = vma.shared();
    let (pfn, cow) = if write && !shared {
        // The copy and what the oracle says it holds, taken at the same instant.
        let words = mmu.oracle().page_words(mm.id(), va);
        let new = mmu.alloc_page()?;
        mmu.phys().copy(page, new, 1);
        ctx.cost(cost::PAGE_COPY).await;
        (new, Some(words))
    } else {
        // Our reference, so that a truncate meanwhile cannot free the page under us.
        mmu.phys().get(page, 1);
        ctx.cost(cost::PAGE_COPY).await;
        (page, None)
    };
    // Shmem asks for no `page_mkwrite`: its shared PTEs are writable from the first fault, and
    // clean until the first store (a writable clean PTE a dropin must not trust for stores).
    let shmem = mmu.files().get(file).is_some_and(|f| f.shmem);
    let pte = Present { pfn, write: write || (shared && shmem && vma.prot.writable()), dirty: write, young: true, protnone: false };
    if !install(ctx, mm, va, pte, (file, index, page), cow).await {
        mmu.put_pages(pfn, 1);
    }
    Ok(())
}

/// Install `pte` at `va` if the PTE is still none and page `index` of `file` is still cached
/// in frame `page` (a truncate or hole punch meanwhile makes the retried fault see the new
/// size, or a new page). A store marks the cached page dirty; a private copy tells the oracle
/// what it holds.
async fn install(ctx: &ProcCtx, mm: &Mm, va: u64, pte: Present, (file, index, page): (FileId, u64, Pfn), cow: Option<Vec<(u64, u64)>>) -> bool {
    let _ptl = mm.ptl().lock(ctx).await;
    let cached = mm.mmu().cached_page(file, index);
    let mut gather = Gather::default();
    let mut w = mm.work(&mut gather);
    if cached != Some(page) || w.st.pt.pte(va) != Pte::None {
        return false;
    }
    w.map(va, false, pte);
    match cow {
        Some(words) => w.oracle.cow(w.mm, va, words),
        None if pte.dirty => w.phys.flags_mut(pte.pfn).dirty = true,
        None => {}
    }
    true
}

/// A store to a read-only PTE of a shared mapping (`wp_page_shared` after `page_mkwrite`): the
/// same page becomes writable and dirty, with no callback (an upgrade), and the page is dirty.
async fn wp_page_shared(ctx: &ProcCtx, mm: &Mm, va: u64, old: Present) {
    let _ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    let mut w = mm.work(&mut gather);
    if w.st.pt.pte(va) == Pte::Present(old) {
        w.set(va, false, Pte::Present(Present { write: true, dirty: true, young: true, ..old }));
        w.phys.flags_mut(old.pfn).dirty = true;
    }
}

//! CPU loads and stores through the primary MMU, and the page-fault handler: demand zero (the
//! zero page on a read), COW break, swap-in, write upgrade, waiting on migration.

use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{replace_pte, split_huge, Announce, Gather};
use crate::mm::mm::Mm;
use crate::mm::pte::{Leaf, Present, Pte};
use crate::mm::vma::Vma;
use crate::mm::{MmError, Pfn, Slot, PAGES_PER_HPAGE, PAGE_MASK, PAGE_SHIFT, ZERO_PFN};
use crate::notifier::Event;

/// A CPU load of the 64-bit word at `va`, checked against the data oracle.
pub async fn cpu_load(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<u64, MmError> {
    loop {
        if let Some(value) = access(mm, va, None) {
            let checked = mm.mmu().oracle().check_load(ctx.now(), mm.id(), va, value);
            ctx.cost(cost::MEM_ACCESS).await;
            return checked.map(|()| value).map_err(MmError::from);
        }
        fault(ctx, mm, va, false).await?;
    }
}

/// A CPU store of `value` to the 64-bit word at `va`; the oracle learns the new value.
pub async fn cpu_store(ctx: &ProcCtx, mm: &Mm, va: u64, value: u64) -> Result<(), MmError> {
    loop {
        if access(mm, va, Some(value)).is_some() {
            mm.mmu().oracle().store(mm.id(), va, value);
            ctx.cost(cost::MEM_ACCESS).await;
            return Ok(());
        }
        fault(ctx, mm, va, true).await?;
    }
}

/// The hardware walk: if the translation allows the access, do it (setting the accessed and
/// dirty bits as the CPU does) and return the value read or written.
fn access(mm: &Mm, va: u64, store: Option<u64>) -> Option<u64> {
    let mut st = mm.state();
    let (base, huge, p) = match st.pt.lookup(va)? {
        Leaf::Pte(a, Pte::Present(p)) => (a, false, p),
        Leaf::Pmd(h, Pte::Present(p)) => (h, true, p),
        _ => return None,
    };
    if p.protnone || (store.is_some() && !p.write) {
        return None;
    }
    let paddr = ((p.pfn << PAGE_SHIFT) + (va - base)) & !7;
    let mut phys = mm.mmu().phys();
    let value = match store {
        Some(v) => {
            phys.write_u64(paddr, v).ok()?;
            v
        }
        None => phys.read_u64(paddr).ok()?,
    };
    let bits = Present {
        young: true,
        dirty: p.dirty || store.is_some(),
        ..p
    };
    st.pt.set(base, huge, Pte::Present(bits));
    Some(value)
}

/// A page fault from user mode: takes `mmap_lock` for reading around the handler.
async fn fault(ctx: &ProcCtx, mm: &Mm, va: u64, write: bool) -> Result<(), MmError> {
    ctx.cost(cost::FAULT).await;
    let _lock = mm.mmap_lock().read(ctx).await;
    handle_mm_fault(ctx, mm, va, write).await
}

/// `handle_mm_fault`: resolve one fault at `va`. The caller holds `mmap_lock`.
pub(crate) async fn handle_mm_fault(
    ctx: &ProcCtx,
    mm: &Mm,
    va: u64,
    write: bool,
) -> Result<(), MmError> {
    let vma = {
        let mut st = mm.state();
        let vma = st.vmas.find_mut(va).ok_or(MmError::SegFault {
            mm: mm.id(),
            addr: va,
            write,
        })?;
        let allowed = if write {
            vma.prot.writable()
        } else {
            vma.prot.readable()
        };
        if !allowed {
            return Err(MmError::SegFault {
                mm: mm.id(),
                addr: va,
                write,
            });
        }
        // Linux prepares an `anon_vma` when a fault may install an anonymous page: any fault
        // of anonymous memory, a store to a private file mapping.
        if vma.backing.is_none() || (write && !vma.shared()) {
            vma.anon = true;
        }
        *vma
    };
    let va = va & PAGE_MASK;
    let leaf = mm.lookup(va);
    if vma.backing.is_some() {
        if let Some(done) = crate::mm::filemap::file_fault(ctx, mm, va, write, &vma, leaf).await {
            return done;
        }
    }
    match leaf {
        None | Some(Leaf::Pte(_, Pte::None)) | Some(Leaf::Pmd(_, Pte::None)) => {
            do_anonymous(ctx, mm, va, write, vma).await
        }
        Some(Leaf::Pte(_, Pte::Swap(slot))) => do_swap_page(ctx, mm, va, slot, write).await,
        Some(Leaf::Pte(_, Pte::Migration { .. })) | Some(Leaf::Pmd(_, Pte::Migration { .. })) => {
            let wq = &mm.mmu().0.migration_wq;
            wq.wait_event(ctx, || {
                !matches!(mm.lookup(va), Some(Leaf::Pte(_, Pte::Migration { .. })))
            })
            .await;
            Ok(())
        }
        Some(Leaf::Pte(_, Pte::Present(p))) if write && !p.write => {
            do_wp_page(ctx, mm, va, p).await
        }
        Some(Leaf::Pmd(h, Pte::Present(p))) if write && !p.write => {
            do_huge_wp_page(ctx, mm, h, p).await
        }
        Some(Leaf::Pte(base, Pte::Present(p))) | Some(Leaf::Pmd(base, Pte::Present(p))) => {
            // Spurious, or a write to a writable clean PTE: set the bits and retry.
            let huge = matches!(leaf, Some(Leaf::Pmd(..)));
            let bits = Present {
                young: true,
                dirty: p.dirty || write,
                ..p
            };
            let _ptl = mm.ptl().lock(ctx).await;
            if mm.state().pt.lookup(va).and_then(leaf_pte) == Some(Pte::Present(p)) {
                mm.state().pt.set(base, huge, Pte::Present(bits));
                // A first store to a writable clean shmem PTE dirties its page.
                let mut phys = mm.mmu().phys();
                if write && p.pfn != ZERO_PFN && phys.flags(p.pfn).mapping.is_some() {
                    phys.flags_mut(p.pfn).dirty = true;
                }
            }
            Ok(())
        }
        Some(Leaf::Pmd(_, Pte::Swap(_))) => Ok(()),
    }
}

fn leaf_pte(leaf: Leaf) -> Option<Pte> {
    match leaf {
        Leaf::Pte(_, p) | Leaf::Pmd(_, p) => Some(p),
    }
}

/// Install `present` at `va` if the PTE is still none (another thread may have won).
async fn install_if_none(ctx: &ProcCtx, mm: &Mm, va: u64, present: Present) -> bool {
    let _ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    let mut w = mm.work(&mut gather);
    if w.st
        .pt
        .lookup(va)
        .is_some_and(|l| leaf_pte(l) != Some(Pte::None))
    {
        return false;
    }
    w.map(va, false, present);
    true
}

/// Demand zero: the zero page read-only on a read, a fresh zeroed page on a write.
async fn do_anonymous(
    ctx: &ProcCtx,
    mm: &Mm,
    va: u64,
    write: bool,
    vma: Vma,
) -> Result<(), MmError> {
    let fresh = |pfn| Present {
        pfn,
        write,
        dirty: write,
        young: true,
        protnone: false,
    };
    if !write {
        install_if_none(ctx, mm, va, fresh(ZERO_PFN)).await;
        return Ok(());
    }
    debug_assert!(vma.prot.writable());
    let pfn = mm.mmu().alloc_page()?;
    ctx.cost(cost::PAGE_ZERO).await;
    if !install_if_none(ctx, mm, va, fresh(pfn)).await {
        mm.mmu().put_pages(pfn, 1);
    }
    Ok(())
}

/// Swap-in. An exclusive slot read for a load stays in the swap cache with the page mapped
/// read-only (a later store upgrades it); otherwise the slot reference is dropped.
async fn do_swap_page(
    ctx: &ProcCtx,
    mm: &Mm,
    va: u64,
    slot: Slot,
    write: bool,
) -> Result<(), MmError> {
    // The swap-out that made this PTE may not have written the slot yet: wait for it.
    let mmu = mm.mmu();
    mmu.0.swap_wq.wait_event(ctx, || !mmu.swap().writing(slot) || mm.state().pt.pte(va) != Pte::Swap(slot)).await;
    ctx.sleep(cost::SWAP_IO).await;
    let pfn = mm.mmu().alloc_page()?;
    let _ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    let mut w = mm.work(&mut gather);
    if w.st.pt.pte(va) != Pte::Swap(slot) {
        drop(w);
        mm.mmu().put_pages(pfn, 1);
        return Ok(());
    }
    let data = w.swap.read(slot);
    w.phys.set_page(pfn, data);
    w.trace.push(crate::trace::TraceEvent::SwapIn { slot, pfn });
    if w.swap.count(slot) == 1 && !write {
        w.phys.set_swap_cache(pfn, Some(slot));
    } else {
        w.swap.put(slot);
    }
    w.map(
        va,
        false,
        Present {
            pfn,
            write,
            dirty: write,
            young: true,
            protnone: false,
        },
    );
    Ok(())
}

/// A store to a read-only PTE in a writable VMA: reuse an exclusive page (no notifier: x86 does
/// not flush an upgrade), otherwise copy it (COW break).
async fn do_wp_page(ctx: &ProcCtx, mm: &Mm, va: u64, old: Present) -> Result<(), MmError> {
    let mmu = mm.mmu();
    let flags = mmu.phys().flags(old.pfn);
    // A page-cache page is never reused: a private mapping's store always copies it.
    let exclusive = old.pfn != ZERO_PFN && mmu.phys().refcount(old.pfn) == 1 && !flags.ksm && flags.mapping.is_none();
    // The oracle's view of the page, taken when the copy is (a file page's contents are the
    // file's until the copy is in place).
    let mut words = flags.mapping.map(|_| mmu.oracle().page_words(mm.id(), va));
    if exclusive {
        let _ptl = mm.ptl().lock(ctx).await;
        let mut gather = Gather::default();
        let mut w = mm.work(&mut gather);
        if w.st.pt.pte(va) == Pte::Present(old) {
            w.set(
                va,
                false,
                Pte::Present(Present {
                    write: true,
                    dirty: true,
                    young: true,
                    ..old
                }),
            );
            // The page is about to differ from its swap copy: drop the cache.
            if let Some(slot) = w.phys.set_swap_cache(old.pfn, None) {
                w.swap.put(slot);
            }
        }
        return Ok(());
    }
    let new = cow_copy(ctx, mm, old.pfn).await?;
    // `pte_same`: the copy is only good for the PTE it was made from. Another thread may have
    // upgraded that PTE in place meanwhile (reuse) and stored through it, after the copy.
    let mut replaced = false;
    replace_pte(
        ctx,
        mm,
        va,
        old.pfn,
        Event::Clear,
        Announce::PageAndChange,
        |w, now| {
            replaced = now == old;
            if let Some(words) = words.take().filter(|_| replaced) {
                w.oracle.cow(w.mm, va, words);
            }
            replaced.then_some(Pte::Present(Present {
                pfn: new,
                write: true,
                dirty: true,
                young: true,
                protnone: false,
            }))
        },
    )
    .await;
    // The old page is put after the range ends; a lost race frees the copy instead.
    mmu.put_pages(if replaced { old.pfn } else { new }, 1);
    Ok(())
}

/// Allocate the COW copy of `from` (zeroed for the zero page), before any notification.
async fn cow_copy(ctx: &ProcCtx, mm: &Mm, from: Pfn) -> Result<Pfn, MmError> {
    let new = mm.mmu().alloc_page()?;
    if from == ZERO_PFN {
        ctx.cost(cost::PAGE_ZERO).await;
    } else {
        mm.mmu().phys().copy(from, new, 1);
        ctx.cost(cost::PAGE_COPY).await;
    }
    Ok(new)
}

/// A store to a read-only 2M leaf: upgrade it if every frame is exclusive, else split it and
/// let the retried fault break COW on the 4K page.
async fn do_huge_wp_page(ctx: &ProcCtx, mm: &Mm, haddr: u64, old: Present) -> Result<(), MmError> {
    let exclusive = (old.pfn..old.pfn + PAGES_PER_HPAGE).all(|p| mm.mmu().phys().refcount(p) == 1);
    if !exclusive {
        split_huge(ctx, mm, haddr).await;
        return Ok(());
    }
    let _ptl = mm.ptl().lock(ctx).await;
    let mut gather = Gather::default();
    let mut w = mm.work(&mut gather);
    if w.st.pt.pmd(haddr) == Pte::Present(old) {
        w.set(
            haddr,
            true,
            Pte::Present(Present {
                write: true,
                dirty: true,
                young: true,
                ..old
            }),
        );
    }
    Ok(())
}

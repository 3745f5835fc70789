//! mmap, munmap, mremap.

use super::begin;
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{range_op, split_huge_all, split_huge_edges};
use crate::mm::mm::Mm;
use crate::mm::mm::set_entry;
use crate::mm::pte::{Present, Pte};
use crate::mm::vma::{Backing, Prot, Vma};
use crate::mm::{user_range, MmError, HPAGE_SIZE, MMAP_BASE, PAGE_SIZE};
use crate::notifier::{Event, Range};
use crate::trace::TraceEvent;

/// `mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS [| MAP_FIXED])`: with `Some(addr)` the
/// range is unmapped first (as munmap); with `None` the kernel picks a free range (2M-aligned
/// for lengths of 2M or more). No callback for the new mapping itself.
pub async fn mmap(
    ctx: &ProcCtx,
    mm: &Mm,
    addr: Option<u64>,
    len: u64,
    prot: Prot,
) -> Result<u64, MmError> {
    do_mmap(ctx, mm, addr, len, prot, None).await
}

/// `mmap(addr, len, prot, MAP_SHARED | MAP_ANONYMOUS [| MAP_FIXED])`: a new shmem object of
/// `len` bytes, mapped shared; forked children share its pages (no COW).
pub async fn mmap_shared_anon(ctx: &ProcCtx, mm: &Mm, addr: Option<u64>, len: u64, prot: Prot) -> Result<u64, MmError> {
    user_range(addr.unwrap_or(MMAP_BASE), len)?;
    let file = mm.mmu().create_file(len / PAGE_SIZE, true);
    do_mmap(ctx, mm, addr, len, prot, Some(Backing { file, pgoff: 0, shared: true })).await
}

/// `mmap(addr, len, prot, MAP_SHARED or MAP_PRIVATE [| MAP_FIXED], fd, pgoff << 12)` of
/// `backing.file`. Pages beyond the end of the file may be mapped; touching them is a bus error.
pub async fn mmap_file(ctx: &ProcCtx, mm: &Mm, addr: Option<u64>, len: u64, prot: Prot, backing: Backing) -> Result<u64, MmError> {
    if mm.mmu().file_size(backing.file).is_none() {
        return Err(MmError::NoFile(backing.file));
    }
    if backing.pgoff.checked_add(len / PAGE_SIZE).is_none() {
        return Err(MmError::InvalidArgument("file offset overflows"));
    }
    do_mmap(ctx, mm, addr, len, prot, Some(backing)).await
}

async fn do_mmap(ctx: &ProcCtx, mm: &Mm, addr: Option<u64>, len: u64, prot: Prot, backing: Option<Backing>) -> Result<u64, MmError> {
    mm.check_live()?;
    user_range(addr.unwrap_or(MMAP_BASE), len)?;
    let at = addr.map_or_else(|| "anywhere".to_owned(), |a| format!("fixed {a:#x}"));
    let shown = Vma { start: 0, end: len, prot, anon: false, backing }.label();
    begin(mm, format!("mmap {at} len {len:#x} {shown}"));
    let _lock = mm.mmap_lock().write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    let start = match addr {
        Some(a) => {
            munmap_locked(ctx, mm, a, a + len).await;
            a
        }
        None => {
            let align = if len >= HPAGE_SIZE {
                HPAGE_SIZE
            } else {
                PAGE_SIZE
            };
            let a = mm.state().vmas.free_area(MMAP_BASE, len, align);
            user_range(a, len)?;
            a
        }
    };
    let vma = Vma { start, end: start + len, prot, anon: false, backing };
    mm.state().vmas.insert(vma);
    if let Some(b) = backing {
        mm.mmu().oracle().map_file(mm.id(), start, start + len, b.file, b.pgoff, b.shared);
    }
    mm.mmu().trace().push(TraceEvent::VmaMap {
        mm: mm.id(),
        start,
        end: start + len,
        prot: vma.label(),
    });
    Ok(start)
}

/// `mmap(addr, pages << 12, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, gru_fd, 0)`: the
/// GRU device's mapping (Linux `gru_file_mmap`, `VM_IO | VM_PFNMAP`), here with its PTEs set at
/// once as `gru_fault`'s `remap_pfn_range` sets them on first touch: present, writable and
/// dirty, on the first `pages` frames of GRU space, with no page reference and no reverse map.
/// `get_user_pages` refuses it ([`MmError::PfnMap`]).
pub async fn mmap_gru_space(ctx: &ProcCtx, mm: &Mm, addr: u64, pages: u64) -> Result<u64, MmError> {
    let gru = mm.mmu().phys().gru_space();
    if pages == 0 || pages > gru.end - gru.start {
        return Err(MmError::InvalidArgument("GRU space has 1..=GRU_SPACE_PAGES pages"));
    }
    let start = do_mmap(ctx, mm, Some(addr), pages * PAGE_SIZE, Prot::ReadWrite, None).await?;
    let _lock = mm.mmap_lock().write(ctx).await;
    if mm.state().vmas.clipped(start, start + pages * PAGE_SIZE).len() != 1 {
        // Unmapped or remapped by another thread meanwhile: the VMA is no longer ours.
        return Err(MmError::NotMapped { mm: mm.id(), start, end: start + pages * PAGE_SIZE });
    }
    for (i, pfn) in (gru.start..gru.start + pages).enumerate() {
        let pte = Pte::Present(Present { pfn, write: true, dirty: true, young: true, protnone: false });
        set_entry(mm.mmu().trace(), &mut mm.state(), mm.id(), start + i as u64 * PAGE_SIZE, false, pte);
    }
    Ok(start)
}

/// `munmap`: S(UNMAP, [start, end)) · zap · E · flush · free. Unmapping nothing is not an error
/// and emits nothing, as in Linux.
pub async fn munmap(ctx: &ProcCtx, mm: &Mm, start: u64, len: u64) -> Result<(), MmError> {
    let end = user_range(start, len)?;
    mm.check_live()?;
    begin(mm, format!("munmap [{start:#x}, {end:#x})"));
    let _lock = mm.mmap_lock().write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    munmap_locked(ctx, mm, start, end).await;
    Ok(())
}

/// `do_munmap` with `mmap_lock` held for writing. 2M leaves cut by the range are split when the
/// VMAs are split, before the unmap's own range.
pub(crate) async fn munmap_locked(ctx: &ProcCtx, mm: &Mm, start: u64, end: u64) {
    if mm.state().vmas.clipped(start, end).is_empty() {
        return;
    }
    split_huge_edges(ctx, mm, start, end).await;
    mm.state().vmas.remove(start, end);
    mm.mmu().trace().push(TraceEvent::VmaUnmap {
        mm: mm.id(),
        start,
        end,
    });
    let range = Range::new(mm.mmu().era(), start, end, Event::Unmap);
    range_op(ctx, mm, range, |w| {
        w.zap(start, end);
        w.oracle.clear(w.mm, start, end);
    })
    .await;
}

/// `mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new)`: the destination is unmapped
/// first (as munmap), then S(UNMAP, old range) · move PTEs · E, then the old VMA is unmapped
/// (`do_munmap`: another S/E with nothing left to zap).
pub async fn mremap(ctx: &ProcCtx, mm: &Mm, old: u64, len: u64, new: u64) -> Result<(), MmError> {
    let old_end = user_range(old, len)?;
    let new_end = user_range(new, len)?;
    if old < new_end && new < old_end {
        return Err(MmError::InvalidArgument("mremap ranges overlap"));
    }
    mm.check_live()?;
    begin(mm, format!("mremap [{old:#x}, {old_end:#x}) -> {new:#x}"));
    let _lock = mm.mmap_lock().write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    if !mm.state().vmas.covers(old, old_end) {
        return Err(MmError::NotMapped {
            mm: mm.id(),
            start: old,
            end: old_end,
        });
    }
    munmap_locked(ctx, mm, new, new_end).await;
    // A 2M leaf moves whole only if the move keeps it 2M-aligned.
    if (new.abs_diff(old)) % HPAGE_SIZE != 0 {
        split_huge_all(ctx, mm, old, old_end).await;
    } else {
        split_huge_edges(ctx, mm, old, old_end).await;
    }
    let moved = mm.state().vmas.clipped(old, old_end);
    for v in moved {
        let (start, end) = (v.start - old + new, v.end - old + new);
        let moved = Vma { start, end, ..v };
        mm.state().vmas.insert(moved);
        mm.mmu().trace().push(TraceEvent::VmaMap {
            mm: mm.id(),
            start,
            end,
            prot: moved.label(),
        });
    }
    let range = Range::new(mm.mmu().era(), old, old_end, Event::Unmap);
    range_op(ctx, mm, range, |w| {
        let dst = |va: u64| va - old + new;
        for (h, _) in w.st.pt.pmds_in(old, old_end) {
            if let Some(p) = w.unmap(h, true, Pte::None) {
                w.map(dst(h), true, p);
            }
        }
        for (va, pte) in w.st.pt.ptes_in(old, old_end) {
            match pte {
                Pte::Present(_) => {
                    if let Some(p) = w.unmap(va, false, Pte::None) {
                        w.map(dst(va), false, p);
                    }
                }
                other => {
                    w.set(va, false, Pte::None);
                    w.set(dst(va), false, other);
                }
            }
        }
        if w.cycles > 0 {
            w.gather.flush(old, old_end);
        }
        w.oracle.relocate(w.mm, old, new, len);
    })
    .await;
    munmap_locked(ctx, mm, old, old_end).await;
    Ok(())
}

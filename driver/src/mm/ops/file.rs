//! File operations: `pwrite`/`pread` through the page cache, writeback (`msync`, the periodic
//! flusher, reclaim) with `page_mkclean`, truncate and hole punch (`unmap_mapping_range`).

use std::rc::Rc;

use super::begin;
use crate::kernel::{cost, ProcCtx, RwSem};
use crate::mm::invalidate::{range_op, replace_pte, Announce};
use crate::mm::mm::{Mm, Mmu};
use crate::mm::pte::{Present, Pte};
use crate::mm::{user_range, FileId, MmError, Pfn, PAGE_SHIFT, PAGE_SIZE};
use crate::notifier::{Event, Range};
use crate::trace::TraceEvent;

/// The file page and the byte in it of `offset`, the file known.
fn locate(mmu: &Mmu, file: FileId, offset: u64) -> Result<(u64, u64), MmError> {
    mmu.file_size(file).ok_or(MmError::NoFile(file))?;
    Ok((offset >> PAGE_SHIFT, offset & (PAGE_SIZE - 1) & !7))
}

/// The file's `i_rwsem`.
fn i_rwsem(mmu: &Mmu, file: FileId) -> Result<Rc<RwSem>, MmError> {
    mmu.files().get(file).map(|f| f.lock.clone()).ok_or(MmError::NoFile(file))
}

/// `pwrite(fd, &value, 8, offset)` by a thread of `mm`: the word goes to the cached page, which
/// becomes dirty; the file grows to cover it. Every shared mapping of the page sees it at once.
pub async fn pwrite(ctx: &ProcCtx, mm: &Mm, file: FileId, offset: u64, value: u64) -> Result<(), MmError> {
    let mmu = mm.mmu();
    let (index, byte) = locate(mmu, file, offset)?;
    begin(mm, format!("pwrite {file} {offset:#x}"));
    let sem = i_rwsem(mmu, file)?;
    let _lock = sem.write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    if let Some(f) = mmu.files().get_mut(file) {
        f.size = f.size.max(index + 1);
    }
    mmu.oracle().extend_file(file, index + 1);
    let pfn = mmu.cache_page(file, index)?;
    let mut phys = mmu.phys();
    phys.write_u64((pfn << PAGE_SHIFT) + byte, value).map_err(|_| MmError::OutOfMemory)?;
    phys.flags_mut(pfn).dirty = true;
    drop(phys);
    mmu.oracle().file_store(file, offset, value);
    mmu.trace().push(TraceEvent::FileIo { file, offset, write: true, value });
    Ok(())
}

/// `pread(fd, &value, 8, offset)` by a thread of `mm`, checked against the data oracle. A read
/// at or beyond the end of the file is `EINVAL` here (Linux returns 0 bytes).
pub async fn pread(ctx: &ProcCtx, mm: &Mm, file: FileId, offset: u64) -> Result<u64, MmError> {
    let mmu = mm.mmu();
    let (index, byte) = locate(mmu, file, offset)?;
    begin(mm, format!("pread {file} {offset:#x}"));
    ctx.cost(cost::SYSCALL).await;
    if mmu.file_size(file).is_some_and(|s| index >= s) {
        return Err(MmError::InvalidArgument("read beyond the end of the file"));
    }
    let pfn = mmu.cache_page(file, index)?;
    let value = mmu.phys().read_u64((pfn << PAGE_SHIFT) + byte).map_err(|_| MmError::OutOfMemory)?;
    mmu.trace().push(TraceEvent::FileIo { file, offset, write: false, value });
    mmu.oracle().check_file_load(ctx.now(), mm.id(), file, offset, value)?;
    Ok(value)
}

/// `page_mkclean`: every shared mapping of `pfn` that is writable or dirty becomes read-only and
/// clean, announced per mapping as the era does (modern: S/E(PROTECTION_PAGE) around each
/// shared mapping's walk, even one with nothing to clean; classic: P after the clear + flush).
/// Private mappings of the page are skipped (`invalid_mkclean_vma`).
pub(crate) async fn page_mkclean(ctx: &ProcCtx, mmu: &Mmu, pfn: Pfn) {
    let mappings = mmu.phys().mappings(pfn).to_vec();
    for m in mappings {
        let Some(target) = mmu.mm(m.mm) else { continue };
        if !target.state().vmas.find(m.va).is_some_and(|v| v.shared()) {
            continue;
        }
        let clean = |_: &mut crate::mm::mm::PtWork<'_>, p: Present| {
            (p.write || p.dirty).then_some(Pte::Present(Present { write: false, dirty: false, ..p }))
        };
        replace_pte(ctx, &target, m.va, pfn, Event::ProtectionPage, Announce::Page, clean).await;
    }
}

/// Write page `index` of `file` back if it is dirty (`folio_clear_dirty_for_io` · `writepage`):
/// page_mkclean, the page clean, its contents to the backing store, then the I/O time. Returns
/// whether it was written.
pub(crate) async fn write_page(ctx: &ProcCtx, mmu: &Mmu, file: FileId, index: u64) -> bool {
    let Some(pfn) = mmu.cached_page(file, index) else { return false };
    if !mmu.phys().flags(pfn).dirty {
        return false;
    }
    page_mkclean(ctx, mmu, pfn).await;
    // The cache may have lost the page meanwhile (truncate): nothing to write then.
    if mmu.cached_page(file, index) != Some(pfn) {
        return false;
    }
    let data = {
        let mut phys = mmu.phys();
        phys.flags_mut(pfn).dirty = false;
        phys.page(pfn)
    };
    if let Some(f) = mmu.files().get_mut(file) {
        f.disk.insert(index, data);
    }
    mmu.trace().push(TraceEvent::FileWrite { file, index, pfn });
    ctx.sleep(cost::SWAP_IO).await;
    true
}

/// The flusher: write back every dirty cached page of `file` (shmem has no backing store:
/// nothing). Returns the pages written.
pub async fn writeback(ctx: &ProcCtx, mm: &Mm, file: FileId) -> Result<u64, MmError> {
    let mmu = mm.mmu();
    let shmem = mmu.files().get(file).ok_or(MmError::NoFile(file))?.shmem;
    begin(mm, format!("writeback {file}"));
    if shmem {
        return Ok(0);
    }
    write_range(ctx, mmu, file, 0, u64::MAX).await
}

async fn write_range(ctx: &ProcCtx, mmu: &Mmu, file: FileId, first: u64, end: u64) -> Result<u64, MmError> {
    let pages: Vec<u64> = mmu.files().get(file).map_or_else(Vec::new, |f| f.cache.range(first..end).map(|(&i, _)| i).collect());
    let mut written = 0;
    for index in pages {
        written += u64::from(write_page(ctx, mmu, file, index).await);
    }
    Ok(written)
}

/// `msync(start, len, MS_SYNC)`: for each shared file mapping in the range, write back the dirty
/// pages of the file it maps there. `ENOMEM` if part of the range is unmapped.
pub async fn msync(ctx: &ProcCtx, mm: &Mm, start: u64, len: u64) -> Result<u64, MmError> {
    let end = user_range(start, len)?;
    mm.check_live()?;
    begin(mm, format!("msync [{start:#x}, {end:#x})"));
    let vmas = {
        let _lock = mm.mmap_lock().read(ctx).await;
        ctx.cost(cost::SYSCALL).await;
        if !mm.state().vmas.covers(start, end) {
            return Err(MmError::NotMapped { mm: mm.id(), start, end });
        }
        mm.state().vmas.clipped(start, end)
    };
    let mmu = mm.mmu();
    let mut written = 0;
    for v in vmas.iter().filter(|v| v.shared()) {
        let (file, first) = v.pgoff(v.start).expect("a shared VMA has a file");
        if mmu.files().get(file).is_some_and(|f| !f.shmem) {
            written += write_range(ctx, mmu, file, first, first + ((v.end - v.start) >> PAGE_SHIFT)).await?;
        }
    }
    Ok(written)
}

/// `unmap_mapping_range(file, first, end - first, even_cows)`: in every VMA mapping file pages
/// `[first, end)`, S(CLEAR) · zap · E per VMA. The page-cache pages go; a private mapping's own
/// copies go too only with `even_cows` (truncate), not for a hole punch. Like Linux (which
/// holds `i_mmap_rwsem`, not `mmap_lock`), it does not stop the mm's VMAs from changing
/// meanwhile: the zap, atomic under the page-table lock, takes only PTEs whose VMA still maps
/// the file there.
async fn unmap_mapping_range(ctx: &ProcCtx, mmu: &Mmu, file: FileId, first: u64, end: u64, even_cows: bool) {
    for (mm, vmas) in mmu.file_mappers(file) {
        for v in vmas {
            let b = v.backing.expect("a mapper's VMA has the file");
            let pages = (v.end - v.start) >> PAGE_SHIFT;
            let (lo, hi) = (first.max(b.pgoff), end.min(b.pgoff + pages));
            if lo >= hi {
                continue;
            }
            let (s, e) = (v.start + ((lo - b.pgoff) << PAGE_SHIFT), v.start + ((hi - b.pgoff) << PAGE_SHIFT));
            let range = Range::new(mmu.era(), s, e, Event::Clear);
            range_op(ctx, &mm, range, |w| {
                let mut zapped = false;
                for (va, pte) in w.st.pt.ptes_in(s, e) {
                    let still = w.st.vmas.find(va).and_then(|v| v.pgoff(va)).is_some_and(|(f, i)| f == file && (first..end).contains(&i));
                    let take = match pte {
                        Pte::Present(p) => even_cows || w.phys.flags(p.pfn).mapping.is_some(),
                        Pte::Swap(_) | Pte::Migration { .. } => even_cows,
                        Pte::None => false,
                    };
                    if !(still && take) {
                        continue;
                    }
                    zapped = true;
                    match pte {
                        Pte::Present(_) => {
                            if let Some(old) = w.unmap(va, false, Pte::None) {
                                w.gather.page(old.pfn, 1);
                            }
                        }
                        Pte::Swap(slot) => {
                            w.set(va, false, Pte::None);
                            w.swap.put(slot);
                        }
                        _ => {
                            w.set(va, false, Pte::None);
                        }
                    }
                }
                if zapped {
                    w.gather.flush(s, e);
                }
            })
            .await;
        }
    }
}

/// Drop the cached pages `[first, end)` of `file` (`truncate_inode_pages_range`): each leaves
/// the cache first, so that no fault maps it again (a fault must then read the page anew, which
/// waits for the lock the caller holds), then any mapping a fault gave it since the caller's
/// unmap is zapped. Their contents on the backing store go too.
async fn drop_cached(ctx: &ProcCtx, mmu: &Mmu, file: FileId, first: u64, end: u64) {
    loop {
        let Some((index, pfn)) = mmu.files().get(file).and_then(|f| f.cache.range(first..end).next().map(|(&i, &p)| (i, p))) else {
            break;
        };
        // Our reference keeps the frame while its last mappings go.
        mmu.phys().get(pfn, 1);
        remove_from_cache(mmu, file, index, pfn);
        unmap_frame(ctx, mmu, pfn).await;
        mmu.put_pages(pfn, 1);
    }
    if let Some(f) = mmu.files().get_mut(file) {
        f.disk.retain(|&i, _| i < first || i >= end);
    }
}

/// `unmap_mapping_folio`: S(CLEAR, page) · zap · E in every mapping of `pfn`.
async fn unmap_frame(ctx: &ProcCtx, mmu: &Mmu, pfn: Pfn) {
    let mappings = mmu.phys().mappings(pfn).to_vec();
    for m in mappings {
        let Some(mm) = mmu.mm(m.mm) else { continue };
        let range = Range::new(mmu.era(), m.va, m.va + PAGE_SIZE, Event::Clear);
        range_op(ctx, &mm, range, |w| {
            if w.st.pt.pte(m.va).present().is_some_and(|p| p.pfn == pfn) {
                if let Some(old) = w.unmap(m.va, false, Pte::None) {
                    w.gather.page(old.pfn, 1);
                }
                w.gather.flush(m.va, m.va + PAGE_SIZE);
            }
        })
        .await;
    }
}

/// Take page `index` (frame `pfn`) out of the page cache and drop the cache's reference.
pub(crate) fn remove_from_cache(mmu: &Mmu, file: FileId, index: u64, pfn: Pfn) {
    if let Some(f) = mmu.files().get_mut(file) {
        f.cache.remove(&index);
    }
    mmu.phys().flags_mut(pfn).mapping = None;
    mmu.trace().push(TraceEvent::CacheDrop { file, index, pfn });
    mmu.put_pages(pfn, 1);
}

/// `truncate(file, pages * 4096)` by a thread of `mm`. Shrinking (`truncate_pagecache`):
/// unmap_mapping_range of everything beyond the new end, private copies included; the cached
/// pages dropped; unmap_mapping_range again for pages faulted in meanwhile. Accesses beyond
/// the end are bus errors from now on. Growing only sets the size (the new pages read zero).
pub async fn truncate(ctx: &ProcCtx, mm: &Mm, file: FileId, pages: u64) -> Result<(), MmError> {
    let mmu = mm.mmu();
    mmu.file_size(file).ok_or(MmError::NoFile(file))?;
    begin(mm, format!("truncate {file} to {pages} pages"));
    let sem = i_rwsem(mmu, file)?;
    let _lock = sem.write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    let old = mmu.file_size(file).unwrap_or(0);
    if let Some(f) = mmu.files().get_mut(file) {
        f.size = pages;
    }
    if pages >= old {
        mmu.oracle().extend_file(file, pages);
        return Ok(());
    }
    unmap_mapping_range(ctx, mmu, file, pages, u64::MAX, true).await;
    drop_cached(ctx, mmu, file, pages, u64::MAX).await;
    // Only now: until its mapping was zapped, a page beyond the new end still showed its old
    // contents, as in Linux (new faults there are bus errors from the size change on).
    mmu.oracle().truncate(file, pages);
    unmap_mapping_range(ctx, mmu, file, pages, u64::MAX, true).await;
    Ok(())
}

/// `fallocate(FALLOC_FL_PUNCH_HOLE)` of pages `[first, first + pages)` by a thread of `mm`:
/// unmap_mapping_range without private copies, then the cached pages dropped; the hole reads
/// zero, the size stays.
pub async fn punch_hole(ctx: &ProcCtx, mm: &Mm, file: FileId, first: u64, pages: u64) -> Result<(), MmError> {
    let mmu = mm.mmu();
    mmu.file_size(file).ok_or(MmError::NoFile(file))?;
    let end = first.checked_add(pages).filter(|_| pages > 0).ok_or(MmError::InvalidArgument("empty or overflowing hole"))?;
    begin(mm, format!("punch hole {file} [{first}, {end})"));
    let sem = i_rwsem(mmu, file)?;
    let _lock = sem.write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    unmap_mapping_range(ctx, mmu, file, first, end, false).await;
    drop_cached(ctx, mmu, file, first, end).await;
    // Only now: until the pages left the cache, a load could still see their old contents.
    mmu.oracle().punch_hole(file, first, end);
    Ok(())
}

//! Page walks for a secondary MMU: [`follow_page`] never sleeps and works from interrupt
//! context; [`get_user_pages`] may fault pages in and sleep, so it needs process context:
//!
//! ```compile_fail,E0308
//! use gru_driver::kernel::IrqCtx;
//! use gru_driver::mm::{get_user_pages, Mm};
//! async fn dropin(ctx: &IrqCtx, mm: &Mm) {
//!     let lock = mm.mmap_lock().try_read(ctx).unwrap();
//!     let _ = get_user_pages(ctx, mm, &lock, 0x1000, 1, true).await; // needs &ProcCtx
//! }
//! ```
//!
//! ```
//! use gru_driver::kernel::ProcCtx;
//! use gru_driver::mm::{get_user_pages, Mm};
//! async fn dropin(ctx: &ProcCtx, mm: &Mm) {
//!     let lock = mm.mmap_lock().try_read(ctx).unwrap();
//!     let _ = get_user_pages(ctx, mm, &lock, 0x1000, 1, true).await;
//! }
//! ```

use crate::kernel::{AtomicCtx, IrqCtx, ProcCtx, ReadGuard};
use crate::mm::fault::handle_mm_fault;
use crate::mm::mm::{Mm, Mmu};
use crate::mm::pte::{Leaf, Pte};
use crate::mm::{MmError, Pfn, HPAGE_SHIFT, PAGE_SHIFT, PAGE_SIZE};

/// What a walk found for one virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteInfo {
    /// The 4K frame holding the address.
    pub pfn: Pfn,
    /// log2 of the mapping's page size (12 or 21).
    pub page_shift: u32,
    /// Writable.
    pub write: bool,
    /// Dirty.
    pub dirty: bool,
}

impl PteInfo {
    /// Physical address of the start of the mapping's page (rounded down to its size).
    pub fn page_paddr(&self) -> u64 {
        (self.pfn << PAGE_SHIFT) & !((1u64 << self.page_shift) - 1)
    }
}

/// `follow_page` without taking a reference: the present, accessible translation of `va`, if
/// any. `lock` proves `mmap_lock` is held (in interrupt context, from `try_read`).
pub fn follow_page(
    _ctx: &AtomicCtx,
    mm: &Mm,
    lock: &ReadGuard<'_>,
    va: u64,
) -> Result<Option<PteInfo>, MmError> {
    if !mm.mmap_lock().is_held_by(lock) {
        return Err(MmError::WrongLock(mm.id()));
    }
    Ok(present(mm, va))
}

/// [`follow_page`] without `mmap_lock`, as GUP-fast walks from a CPU with interrupts off: a
/// page-table page is freed only after a TLB-shootdown IPI or an RCU grace period, which such a
/// CPU holds back, so the walk never reads freed tables. Linux's GRU driver does not do this
/// (it trylocks `mmap_lock`); the driver's off-by-default `lockless_irq_walk` option does.
pub fn follow_page_irqs_off(_ctx: &IrqCtx, mm: &Mm, va: u64) -> Option<PteInfo> {
    present(mm, va)
}

/// The present, accessible translation of `va`, if any.
fn present(mm: &Mm, va: u64) -> Option<PteInfo> {
    match mm.lookup(va) {
        Some(Leaf::Pte(_, Pte::Present(p))) if !p.protnone => Some(PteInfo {
            pfn: p.pfn,
            page_shift: PAGE_SHIFT,
            write: p.write,
            dirty: p.dirty,
        }),
        Some(Leaf::Pmd(h, Pte::Present(p))) if !p.protnone => Some(PteInfo {
            pfn: p.pfn + ((va - h) >> PAGE_SHIFT),
            page_shift: HPAGE_SHIFT,
            write: p.write,
            dirty: p.dirty,
        }),
        _ => None,
    }
}

/// A page reference from [`get_user_pages`]; dropping it puts the page (which may free it).
pub struct PageRef {
    mmu: Mmu,
    info: PteInfo,
}

impl PageRef {
    /// The translation the reference was taken on.
    pub fn info(&self) -> PteInfo {
        self.info
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        self.mmu.put_pages(self.info.pfn, 1);
    }
}

/// `get_user_pages`: fault `npages` pages from `start` in (writable and dirty if `write`) and
/// return them referenced. May sleep. `lock` proves `mmap_lock` is held for reading.
pub async fn get_user_pages(
    ctx: &ProcCtx,
    mm: &Mm,
    lock: &ReadGuard<'_>,
    start: u64,
    npages: u64,
    write: bool,
) -> Result<Vec<PageRef>, MmError> {
    let mut pages = Vec::new();
    for i in 0..npages {
        let va = start + i * PAGE_SIZE;
        loop {
            match follow_page(ctx, mm, lock, va)? {
                Some(info) if mm.mmu().phys().gru_space().contains(&info.pfn) => return Err(MmError::PfnMap { mm: mm.id(), addr: va }),
                Some(info) if !write || (info.write && info.dirty) => {
                    mm.mmu().phys().get(info.pfn, 1);
                    pages.push(PageRef {
                        mmu: mm.mmu().clone(),
                        info,
                    });
                    break;
                }
                _ => handle_mm_fault(ctx, mm, va, write).await?,
            }
        }
    }
    Ok(pages)
}

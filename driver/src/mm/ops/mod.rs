//! Memory-management operations, each an async function run by a task in process context and
//! emitting the notifier sequence Linux emits for it, in the selected era.

mod file;
mod ksm;
mod madvise;
mod mapping;
mod migrate;
mod mprotect;
mod process;
mod reclaim;
mod thp;

pub use file::{msync, pread, punch_hole, pwrite, truncate, writeback};
pub use ksm::ksm_merge;
pub use madvise::{madvise, Advice};
pub use mapping::{mmap, mmap_file, mmap_gru_space, mmap_shared_anon, mremap, munmap};
pub use migrate::migrate;
pub use mprotect::mprotect;
pub use process::{exit_mm, fork};
pub use reclaim::{reclaim_age, swap_out, SwapOutcome};
pub use thp::{thp_collapse, thp_split};

use crate::kernel::{AtomicCtx, ReadGuard};
use crate::mm::mm::{Mm, Mmu};
use crate::mm::pte::{Leaf, Pte};
use crate::mm::{MmError, Pfn, PAGE_SHIFT};
use crate::trace::TraceEvent;

/// Log the start of an operation, so golden traces read as "operation, then its effects".
fn begin(mm: &Mm, op: String) {
    mm.mmu().trace().push(TraceEvent::Op { mm: mm.id(), op });
}

/// The 4K frame mapped at `va` and whether it is part of a 2M leaf; only normal pages
/// qualify for the page-based daemons (not the zero page, not GRU space, not a non-present
/// entry).
fn page_at(mm: &Mm, va: u64) -> Result<(Pfn, bool), MmError> {
    let found = match mm.lookup(va) {
        Some(Leaf::Pte(_, Pte::Present(p))) => Some((p.pfn, false)),
        Some(Leaf::Pmd(h, Pte::Present(p))) => Some((p.pfn + ((va - h) >> PAGE_SHIFT), true)),
        _ => None,
    };
    found
        .filter(|&(pfn, _)| mm.mmu().phys().normal_page(pfn))
        .ok_or(MmError::NotEligible("no page mapped there"))
}

/// [`page_at`] for the daemons that handle anonymous pages only (KSM, and migration, which
/// this model does not do for page-cache pages).
fn anon_page_at(mm: &Mm, va: u64) -> Result<(Pfn, bool), MmError> {
    let (pfn, huge) = page_at(mm, va)?;
    if mm.mmu().phys().flags(pfn).mapping.is_some() {
        return Err(MmError::NotEligible("a page-cache page"));
    }
    Ok((pfn, huge))
}

/// Rmap-walking daemons hold `mmap_lock` of every mm mapping the page (trylock, as reclaim
/// would skip a contended page) so that fork, mremap and munmap cannot move its mappings
/// meanwhile.
fn trylock_all<'a>(ctx: &AtomicCtx, mms: &'a [Mm]) -> Result<Vec<ReadGuard<'a>>, MmError> {
    mms.iter()
        .map(|m| m.mmap_lock().try_read(ctx))
        .collect::<Option<Vec<_>>>()
        .ok_or(MmError::Busy("mmap_lock contended"))
}

/// Extra references (GUP pins) beyond the mappings make a page unmovable.
/// The common start of taking one page away from every process that maps it (swap-out,
/// migration): try-lock each mapper's `mmap_lock` (reclaim never sleeps on it), split a huge
/// mapping into 4K PTEs, refuse a pinned page. The guards hold the locks until the caller is done.
async fn isolate_page<'a>(
    ctx: &crate::kernel::ProcCtx,
    mmu: &Mmu,
    pfn: Pfn,
    huge: bool,
    mms: &'a [Mm],
) -> Result<Vec<ReadGuard<'a>>, MmError> {
    let locks = trylock_all(ctx, mms)?;
    if huge {
        split_mappings(ctx, mmu, pfn).await;
    }
    check_unpinned(mmu, pfn)?;
    Ok(locks)
}

fn check_unpinned(mmu: &Mmu, pfn: Pfn) -> Result<(), MmError> {
    let phys = mmu.phys();
    // The page cache's reference is not a pin.
    let holders = phys.mappings(pfn).len() + usize::from(phys.flags(pfn).mapping.is_some());
    if phys.refcount(pfn) as usize > holders {
        return Err(MmError::Busy("page pinned"));
    }
    Ok(())
}

/// Split every 2M leaf mapping `pfn`, so the page can be handled alone (`split_huge_page`).
async fn split_mappings(ctx: &crate::kernel::ProcCtx, mmu: &Mmu, pfn: Pfn) {
    let mappings = mmu.phys().mappings(pfn).to_vec();
    for m in mappings {
        let Some(mm) = mmu.mm(m.mm) else { continue };
        if let Some(Leaf::Pmd(h, _)) = mm.lookup(m.va) {
            crate::mm::invalidate::split_huge(ctx, &mm, h).await;
        }
    }
}

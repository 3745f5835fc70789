//! The primary MMU: physical frames, swap, page tables, VMAs, the CPU fault path, page walks and
//! the memory-management operations that emit MMU-notifier callbacks.

pub mod fault;
pub mod file;
mod filemap;
pub mod frame;
mod invalidate;
#[allow(clippy::module_inception)]
pub mod mm;
pub mod ops;
pub mod pte;
pub mod swap;
pub mod vma;
pub mod walk;

pub use fault::{cpu_load, cpu_store};
pub use file::FileId;
pub use frame::{Mapping, PageData, PageFlags, Pfn, PhysError, PhysEvent, PhysMem};
pub use mm::{Mm, MmId, Mmu, MmuConfig};
pub use pte::{Leaf, PageTable, Present, Pte};
pub use swap::{Slot, SwapDevice};
pub use vma::{Backing, Prot, Vma};
pub use walk::{follow_page, follow_page_irqs_off, get_user_pages, PageRef, PteInfo};

use crate::notifier::Era;
use crate::oracle::OracleMismatch;

/// log2 of the base page size.
pub const PAGE_SHIFT: u32 = 12;
/// The base page size.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Clears the offset within a base page.
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
/// log2 of the huge page size.
pub const HPAGE_SHIFT: u32 = 21;
/// The huge (PMD) page size.
pub const HPAGE_SIZE: u64 = 1 << HPAGE_SHIFT;
/// Clears the offset within a huge page.
pub const HPAGE_MASK: u64 = !(HPAGE_SIZE - 1);
/// Base pages per huge page.
pub const PAGES_PER_HPAGE: u64 = HPAGE_SIZE / PAGE_SIZE;
/// 64-bit words per base page.
pub const WORDS_PER_PAGE: usize = (PAGE_SIZE / 8) as usize;
/// The shared zero page: read faults on untouched anonymous memory map it read-only; it is
/// never freed and not reference-counted.
pub const ZERO_PFN: Pfn = 0;
/// Frames of GRU space *(model)*: the chiplets' handle and GSEG space in the physical address
/// map, right above RAM (one 256K GSEG, Linux's `GRU_GSEG_PAGESIZE`). It is no RAM: no page
/// references, no reverse map; `remap_pfn_range` maps it ([`ops::mmap_gru_space`]).
pub const GRU_SPACE_PAGES: u64 = 64;
/// Lowest address `mmap` picks when not given one *(model)*.
pub const MMAP_BASE: u64 = 0x1000_0000;
/// End of the user address space (x86-64, 4-level).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// Errors of memory-management calls, as the system call or fault would report them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmError {
    /// `EINVAL`.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// `ENOMEM`/`EFAULT`: part of the range is not mapped.
    #[error("{mm}: [{start:#x}, {end:#x}) is not fully mapped")]
    NotMapped {
        /// Address space.
        mm: MmId,
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
    },
    /// `SIGSEGV`: no VMA, or the access is not allowed by its protection.
    #[error("{mm}: segmentation fault on {} at {addr:#x}", if *.write { "store" } else { "load" })]
    SegFault {
        /// Address space.
        mm: MmId,
        /// Faulting address.
        addr: u64,
        /// A store.
        write: bool,
    },
    /// `SIGBUS`: a file page beyond the end of the file.
    #[error("{mm}: bus error at {addr:#x}: beyond the end of {file}")]
    SigBus {
        /// Address space.
        mm: MmId,
        /// Faulting address.
        addr: u64,
        /// The file mapped there.
        file: FileId,
    },
    /// No such file.
    #[error("no file {0}")]
    NoFile(FileId),
    /// No free frame.
    #[error("out of physical memory")]
    OutOfMemory,
    /// No free swap slot.
    #[error("swap device full")]
    SwapFull,
    /// `EAGAIN`/`EBUSY`: the page or a lock is busy; the daemon skips it.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// The page or range does not qualify for the operation (as a daemon would skip it).
    #[error("not eligible: {0}")]
    NotEligible(&'static str),
    /// The operation does not exist in the selected notifier era.
    #[error("{op} is not available in the {era} era")]
    NotInEra {
        /// Operation.
        op: &'static str,
        /// The era.
        era: Era,
    },
    /// `EFAULT` from `get_user_pages`: the address is in a `VM_IO | VM_PFNMAP` mapping (GRU
    /// space), which has no pages to pin.
    #[error("{mm}: {addr:#x} is in a VM_PFNMAP mapping (GRU space): no page to pin")]
    PfnMap {
        /// Address space.
        mm: MmId,
        /// The address.
        addr: u64,
    },
    /// The address space has exited.
    #[error("{0} has exited")]
    Exited(MmId),
    /// A lock guard proving `mmap_lock` is held belongs to another address space.
    #[error("the mmap_lock guard passed does not belong to {0}")]
    WrongLock(MmId),
    /// The data oracle caught a wrong value.
    #[error(transparent)]
    Oracle(#[from] OracleMismatch),
}

/// Check that `[start, start + len)` is a non-empty page-aligned user range; returns its end.
pub(crate) fn user_range(start: u64, len: u64) -> Result<u64, MmError> {
    if len == 0 || start % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
        return Err(MmError::InvalidArgument(
            "range must be non-empty and page-aligned",
        ));
    }
    match start.checked_add(len) {
        Some(end) if end <= TASK_SIZE => Ok(end),
        _ => Err(MmError::InvalidArgument(
            "range beyond the user address space",
        )),
    }
}

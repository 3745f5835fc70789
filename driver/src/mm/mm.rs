//! The primary MMU's shared state ([`Mmu`]) and address spaces ([`Mm`]) with their `mmap_lock`.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::kernel::{cost, Kernel, RwSem, SpinLock, WaitQueue};
use crate::mm::file::{FileId, Files};
use crate::mm::frame::PhysMem;
use crate::mm::pte::{Leaf, PageTable, Present, Pte};
use crate::mm::swap::SwapDevice;
use crate::mm::vma::{Vma, VmaTree};
use crate::mm::{MmError, Pfn, PAGES_PER_HPAGE, PAGE_SHIFT, ZERO_PFN};
use crate::notifier::{Era, NotifierChain};
use crate::oracle::Oracle;
use crate::trace::{Trace, TraceEvent};

/// An address space's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MmId(pub u32);

impl fmt::Display for MmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mm{}", self.0)
    }
}

/// Size of the machine and the notifier era.
#[derive(Clone, Copy, Debug)]
pub struct MmuConfig {
    /// Notifier API era.
    pub era: Era,
    /// Physical frames (4K each).
    pub frames: usize,
    /// Swap slots.
    pub swap_slots: usize,
}

impl Default for MmuConfig {
    fn default() -> Self {
        Self {
            era: Era::Modern,
            frames: 8192,
            swap_slots: 4096,
        }
    }
}

pub(crate) struct MmuInner {
    kernel: Kernel,
    era: Era,
    phys: RefCell<PhysMem>,
    swap: RefCell<SwapDevice>,
    oracle: RefCell<Oracle>,
    files: RefCell<Files>,
    /// Address spaces live until `exit_mm`, as in Linux, whoever else holds them.
    mms: RefCell<BTreeMap<MmId, Mm>>,
    next_mm: Cell<u32>,
    /// Threads waiting for a migration entry to go away.
    pub(crate) migration_wq: WaitQueue,
    /// Threads waiting for a swap slot's data to be written.
    pub(crate) swap_wq: WaitQueue,
}

/// The primary MMU: physical memory, swap, the data oracle and every address space.
#[derive(Clone)]
pub struct Mmu(pub(crate) Rc<MmuInner>);

impl Mmu {
    /// A machine with `cfg.frames` free frames and an empty swap device.
    pub fn new(kernel: &Kernel, cfg: MmuConfig) -> Self {
        Mmu(Rc::new(MmuInner {
            kernel: kernel.clone(),
            era: cfg.era,
            phys: RefCell::new(PhysMem::new(cfg.frames, kernel.trace().clone())),
            swap: RefCell::new(SwapDevice::new(cfg.swap_slots)),
            oracle: RefCell::new(Oracle::new(kernel.seed())),
            files: RefCell::default(),
            mms: RefCell::default(),
            next_mm: Cell::new(1),
            migration_wq: WaitQueue::new(),
            swap_wq: WaitQueue::new(),
        }))
    }

    /// The kernel runtime.
    pub fn kernel(&self) -> &Kernel {
        &self.0.kernel
    }

    /// The notifier era of this run.
    pub fn era(&self) -> Era {
        self.0.era
    }

    /// Work on physical memory (the chiplet's memory port goes through here).
    pub fn with_phys<R>(&self, f: impl FnOnce(&mut PhysMem) -> R) -> R {
        f(&mut self.0.phys.borrow_mut())
    }

    /// Work on the data oracle.
    pub fn with_oracle<R>(&self, f: impl FnOnce(&mut Oracle) -> R) -> R {
        f(&mut self.0.oracle.borrow_mut())
    }

    /// A new file of `pages` zero pages; `shmem` for the object behind shared anonymous
    /// memory (no backing store, no writeback).
    pub fn create_file(&self, pages: u64, shmem: bool) -> FileId {
        let id = self.files().create(pages, shmem);
        self.oracle().create_file(id, pages);
        id
    }

    /// A file's size in pages.
    pub fn file_size(&self, id: FileId) -> Option<u64> {
        self.0.files.borrow().get(id).map(|f| f.size)
    }

    /// The frame caching page `index` of `file`, if cached.
    pub fn cached_page(&self, id: FileId, index: u64) -> Option<Pfn> {
        self.0.files.borrow().get(id).and_then(|f| f.cache.get(&index).copied())
    }

    /// The address spaces mapping `file`, with the VMAs that do.
    pub(crate) fn file_mappers(&self, id: FileId) -> Vec<(Mm, Vec<Vma>)> {
        let mms: Vec<Mm> = self.0.mms.borrow().values().cloned().collect();
        mms.into_iter()
            .filter_map(|mm| {
                let vmas: Vec<Vma> = mm.vmas().into_iter().filter(|v| v.backing.is_some_and(|b| b.file == id)).collect();
                (!vmas.is_empty()).then_some((mm, vmas))
            })
            .collect()
    }

    pub(crate) fn files(&self) -> RefMut<'_, Files> {
        self.0.files.borrow_mut()
    }

    /// `filemap_fault`'s lookup: the frame caching page `index` of `file`, added to the cache
    /// (read from the backing store, or zero) if missing. The cache's reference is the only one
    /// it takes: a caller that maps the page takes its own.
    pub(crate) fn cache_page(&self, id: FileId, index: u64) -> Result<Pfn, MmError> {
        if let Some(pfn) = self.cached_page(id, index) {
            return Ok(pfn);
        }
        if self.file_size(id).is_none() {
            return Err(MmError::NoFile(id));
        }
        let pfn = self.alloc_page()?;
        let data = self.files().get(id).and_then(|f| f.disk.get(&index).cloned());
        let read = data.is_some();
        let mut phys = self.phys();
        if let Some(d) = data {
            phys.set_page(pfn, d);
        }
        phys.flags_mut(pfn).mapping = Some((id, index));
        drop(phys);
        if let Some(f) = self.files().get_mut(id) {
            f.cache.insert(index, pfn);
        }
        self.trace().push(TraceEvent::CacheAdd { file: id, index, pfn, read });
        Ok(pfn)
    }

    /// Swap slots in use.
    pub fn swap_used(&self) -> usize {
        self.0.swap.borrow().used()
    }

    /// A new, empty address space.
    pub fn create_mm(&self) -> Mm {
        let id = MmId(self.0.next_mm.get());
        self.0.next_mm.set(id.0 + 1);
        let inner = Rc::new(MmInner {
            id,
            mmu: self.clone(),
            mmap_lock: RwSem::new(),
            ptl: SpinLock::new(()),
            state: RefCell::default(),
            notifiers: NotifierChain::default(),
        });
        let mm = Mm(inner);
        self.0.mms.borrow_mut().insert(id, mm.clone());
        mm
    }

    /// The live address space `id`.
    pub fn mm(&self, id: MmId) -> Option<Mm> {
        self.0.mms.borrow().get(&id).cloned()
    }

    /// Kernel bugs seen by physical memory (a mapped frame freed, a double put).
    pub fn bugs(&self) -> Vec<String> {
        self.0.phys.borrow().bugs().to_vec()
    }

    /// Cross-check page tables, reverse maps, refcounts and swap counts; one line per violation.
    pub fn check_invariants(&self) -> Vec<String> {
        let mut errs = self.bugs();
        let phys = self.0.phys.borrow();
        let swap = self.0.swap.borrow();
        let mut mapped: BTreeSet<(Pfn, MmId, u64)> = BTreeSet::new();
        let mut slot_refs: BTreeMap<u32, u32> = BTreeMap::new();
        for mm in self.0.mms.borrow().values() {
            let st = mm.0.state.borrow();
            for (va, pte, huge) in st.pt.entries() {
                match pte {
                    Pte::Present(p) => {
                        let pages = if huge { PAGES_PER_HPAGE } else { 1 };
                        for i in (0..pages).filter(|_| phys.normal_page(p.pfn)) {
                            mapped.insert((p.pfn + i, mm.id(), va + (i << PAGE_SHIFT)));
                        }
                        if st.vmas.find(va).is_none() {
                            errs.push(format!("{} {va:#x}: mapped outside any VMA", mm.id()));
                        }
                    }
                    Pte::Swap(slot) => *slot_refs.entry(slot).or_default() += 1,
                    Pte::Migration { .. } | Pte::None => {}
                }
            }
        }
        let mut cached: BTreeMap<Pfn, (FileId, u64)> = BTreeMap::new();
        for (id, index, pfn) in self.0.files.borrow().cached() {
            if phys.flags(pfn).mapping != Some((id, index)) {
                errs.push(format!("{id}[{index}]: cached frame {pfn:#x} does not say so"));
            }
            cached.insert(pfn, (id, index));
        }
        for (pfn, refcount, rmap, cache) in phys.allocated_frames() {
            let holders = rmap.len() + usize::from(cached.remove(&pfn).is_some());
            if (refcount as usize) < holders {
                errs.push(format!(
                    "frame {pfn:#x}: refcount {refcount} below its {} mappings and cache",
                    holders
                ));
            }
            for m in rmap {
                if !mapped.remove(&(pfn, m.mm, m.va)) {
                    errs.push(format!(
                        "frame {pfn:#x}: reverse map {} {:#x} has no PTE",
                        m.mm, m.va
                    ));
                }
            }
            if let Some(slot) = cache {
                *slot_refs.entry(slot).or_default() += 1;
            }
        }
        errs.extend(cached.iter().map(|(pfn, (id, index))| format!("{id}[{index}]: cached frame {pfn:#x} is free")));
        errs.extend(mapped.iter().map(|(pfn, mm, va)| {
            format!("{mm} {va:#x} maps frame {pfn:#x} without a reverse map")
        }));
        for (slot, refs) in slot_refs {
            if swap.count(slot) != refs {
                errs.push(format!(
                    "swap slot {slot}: count {} but {refs} references",
                    swap.count(slot)
                ));
            }
        }
        errs
    }

    pub(crate) fn trace(&self) -> &Trace {
        self.0.kernel.trace()
    }

    pub(crate) fn phys(&self) -> RefMut<'_, PhysMem> {
        self.0.phys.borrow_mut()
    }

    pub(crate) fn swap(&self) -> RefMut<'_, SwapDevice> {
        self.0.swap.borrow_mut()
    }

    pub(crate) fn oracle(&self) -> RefMut<'_, Oracle> {
        self.0.oracle.borrow_mut()
    }

    pub(crate) fn alloc_page(&self) -> Result<Pfn, MmError> {
        self.phys().alloc().ok_or(MmError::OutOfMemory)
    }

    pub(crate) fn alloc_huge(&self) -> Result<Pfn, MmError> {
        self.phys().alloc_huge().ok_or(MmError::OutOfMemory)
    }

    /// Drop references; freed frames give back their swap-cache slots. The zero page and GRU
    /// space are not reference-counted.
    pub(crate) fn put_pages(&self, pfn: Pfn, pages: u64) {
        if !self.phys().normal_page(pfn) {
            return;
        }
        let slots = self.phys().put(pfn, pages);
        let mut swap = self.swap();
        for slot in slots {
            swap.put(slot);
        }
    }

    /// The live address spaces mapping `pfn`, each once, in reverse-map order.
    pub(crate) fn mappers(&self, pfn: Pfn) -> Vec<Mm> {
        let mut ids: Vec<MmId> = self.phys().mappings(pfn).iter().map(|m| m.mm).collect();
        ids.dedup();
        let mut seen = BTreeSet::new();
        ids.into_iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.mm(id))
            .collect()
    }

    pub(crate) fn forget_mm(&self, id: MmId) {
        self.0.mms.borrow_mut().remove(&id);
    }
}

pub(crate) struct MmInner {
    id: MmId,
    mmu: Mmu,
    mmap_lock: RwSem,
    ptl: SpinLock<()>,
    state: RefCell<MmState>,
    notifiers: NotifierChain,
}

/// VMAs and page table of one address space.
#[derive(Default)]
pub(crate) struct MmState {
    pub vmas: VmaTree,
    pub pt: PageTable,
    pub exited: bool,
}

/// An address space (`struct mm_struct`); cheap to clone.
#[derive(Clone)]
pub struct Mm(pub(crate) Rc<MmInner>);

impl Mm {
    /// Its identity.
    pub fn id(&self) -> MmId {
        self.0.id
    }

    /// The primary MMU it belongs to.
    pub fn mmu(&self) -> &Mmu {
        &self.0.mmu
    }

    /// `mmap_lock`.
    pub fn mmap_lock(&self) -> &RwSem {
        &self.0.mmap_lock
    }

    /// The page-table lock (one per mm in this model).
    pub fn ptl(&self) -> &SpinLock<()> {
        &self.0.ptl
    }

    /// Its MMU notifiers.
    pub fn notifiers(&self) -> &NotifierChain {
        &self.0.notifiers
    }

    /// A copy of its VMAs.
    pub fn vmas(&self) -> Vec<Vma> {
        self.0.state.borrow().vmas.iter().copied().collect()
    }

    /// The page-table leaf translating `va`, if any.
    pub fn lookup(&self, va: u64) -> Option<Leaf> {
        self.0.state.borrow().pt.lookup(va)
    }

    /// Whether `exit` has run.
    pub fn is_exited(&self) -> bool {
        self.0.state.borrow().exited
    }

    pub(crate) fn state(&self) -> RefMut<'_, MmState> {
        self.0.state.borrow_mut()
    }

    pub(crate) fn check_live(&self) -> Result<(), MmError> {
        if self.is_exited() {
            return Err(MmError::Exited(self.id()));
        }
        Ok(())
    }

    /// Page-table work under the page-table lock: every piece of state a PTE change touches.
    pub(crate) fn work<'a>(&'a self, gather: &'a mut crate::mm::invalidate::Gather) -> PtWork<'a> {
        let mmu = &self.0.mmu;
        PtWork {
            mm: self.id(),
            trace: mmu.trace(),
            st: self.state(),
            phys: mmu.phys(),
            swap: mmu.swap(),
            oracle: mmu.oracle(),
            gather,
            cycles: 0,
        }
    }
}

/// Synchronous page-table work: no await point may happen while it exists.
pub(crate) struct PtWork<'a> {
    pub mm: MmId,
    pub trace: &'a Trace,
    pub st: RefMut<'a, MmState>,
    pub phys: RefMut<'a, PhysMem>,
    pub swap: RefMut<'a, SwapDevice>,
    pub oracle: RefMut<'a, Oracle>,
    pub gather: &'a mut crate::mm::invalidate::Gather,
    /// Cycles the work cost, charged once it is done.
    pub cycles: u64,
}

impl PtWork<'_> {
    /// Write an entry, logging the change.
    pub fn set(&mut self, va: u64, huge: bool, new: Pte) -> Pte {
        self.cycles += cost::PTE_UPDATE;
        set_entry(self.trace, &mut self.st, self.mm, va, huge, new)
    }

    /// Map a page: the caller's reference on it becomes the mapping's.
    pub fn map(&mut self, va: u64, huge: bool, new: Present) {
        self.phys.add_rmap(new.pfn, pages(huge), self.mm, va);
        self.set(va, huge, Pte::Present(new));
    }

    /// Unmap a present page: its dirty bit goes to the page, the mapping's reference to the
    /// caller.
    pub fn unmap(&mut self, va: u64, huge: bool, new: Pte) -> Option<Present> {
        let old = self.clear(va, huge, new)?;
        self.phys.remove_rmap(old.pfn, pages(huge), self.mm, va);
        Some(old)
    }

    /// [`PtWork::unmap`] without the reverse-map removal, which the caller does later (Linux's
    /// `page_remove_rmap` after `ptep_clear_flush_notify`).
    pub fn clear(&mut self, va: u64, huge: bool, new: Pte) -> Option<Present> {
        let old = self.set(va, huge, new).present()?;
        if old.dirty && old.pfn != ZERO_PFN {
            for p in old.pfn..old.pfn + pages(huge) {
                self.phys.flags_mut(p).dirty = true;
            }
        }
        Some(old)
    }

    /// `flush_tlb_range` now rather than batched.
    pub fn flush_now(&mut self, start: u64, end: u64) {
        self.cycles += cost::TLB_FLUSH;
        self.trace.push(TraceEvent::Flush {
            mm: self.mm,
            start,
            end,
        });
    }

    /// Zap `[start, end)` (2M leaves must lie wholly inside): pages go to the gather, swap
    /// entries are released.
    pub fn zap(&mut self, start: u64, end: u64) {
        if !self.st.pt.populated(start, end) {
            return;
        }
        for (h, _) in self.st.pt.pmds_in(start, end) {
            if let Some(old) = self.unmap(h, true, Pte::None) {
                self.gather.page(old.pfn, PAGES_PER_HPAGE);
            }
        }
        for (va, pte) in self.st.pt.ptes_in(start, end) {
            match pte {
                Pte::Present(_) => {
                    if let Some(old) = self.unmap(va, false, Pte::None) {
                        self.gather.page(old.pfn, 1);
                    }
                }
                Pte::Swap(slot) => {
                    self.set(va, false, Pte::None);
                    self.swap.put(slot);
                }
                Pte::Migration { .. } => {
                    self.set(va, false, Pte::None);
                }
                Pte::None => {}
            }
        }
        self.gather.flush(start, end);
    }
}

/// Write an entry of `st`, logging the change (also used on a fork child's table).
pub(crate) fn set_entry(
    trace: &Trace,
    st: &mut MmState,
    mm: MmId,
    va: u64,
    huge: bool,
    new: Pte,
) -> Pte {
    let old = st.pt.set(va, huge, new);
    trace.push(TraceEvent::Pte {
        mm,
        va,
        huge,
        old,
        new,
    });
    old
}

pub(crate) fn pages(huge: bool) -> u64 {
    if huge {
        PAGES_PER_HPAGE
    } else {
        1
    }
}

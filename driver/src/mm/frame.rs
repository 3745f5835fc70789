//! Physical memory: frames with contents, refcount, reverse map and a generation bumped on every
//! free. The free list is LIFO so that a freed frame is reused soon and a stale translation
//! corrupts something visible.

use crate::mm::file::FileId;
use crate::mm::{MmId, Slot, GRU_SPACE_PAGES, PAGES_PER_HPAGE, PAGE_SHIFT, WORDS_PER_PAGE, ZERO_PFN};
use crate::trace::{Trace, TraceEvent};

/// A physical frame number (physical address >> 12).
pub type Pfn = u64;

/// The 512 64-bit words of a 4K page.
pub type PageData = Box<[u64; WORDS_PER_PAGE]>;

/// One mapping of a frame: the 4K virtual page `va` of address space `mm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mapping {
    /// The address space.
    pub mm: MmId,
    /// The virtual address of this frame in it.
    pub va: u64,
}

/// Page state flags the kernel keeps beside the PTE bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFlags {
    /// `PageDirty`: contents newer than any copy on swap (folded in from PTE dirty bits).
    pub dirty: bool,
    /// `MADV_FREE`d: reclaim may drop the contents if still clean.
    pub lazyfree: bool,
    /// A KSM page: shared read-only, any write copies.
    pub ksm: bool,
    /// In the page cache of this file at this page (`page->mapping`, `page->index`); the cache
    /// holds a reference.
    pub mapping: Option<(FileId, u64)>,
}

#[derive(Default)]
struct Frame {
    refcount: u32,
    generation: u64,
    data: Option<PageData>,
    rmap: Vec<Mapping>,
    flags: PageFlags,
    swap_cache: Option<Slot>,
}

/// Allocation and free notifications for a checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhysEvent {
    /// A frame was allocated in generation `generation`.
    Alloc {
        /// The frame.
        pfn: Pfn,
        /// Its generation while allocated.
        generation: u64,
    },
    /// A frame was freed; its generation is now `generation`.
    Free {
        /// The frame.
        pfn: Pfn,
        /// Its new generation.
        generation: u64,
    },
}

/// An access outside physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("physical address {0:#x} is outside memory")]
pub struct PhysError(pub u64);

/// Physical memory.
pub struct PhysMem {
    /// RAM (`ram` frames), then GRU space ([`GRU_SPACE_PAGES`] frames).
    frames: Vec<Frame>,
    ram: usize,
    free: Vec<Pfn>,
    trace: Trace,
    observer: Option<Box<dyn FnMut(PhysEvent)>>,
    bugs: Vec<String>,
    /// Mappings whose PTE is gone but whose `invalidate_page` has not returned yet
    /// (classic-unlocked era): frame, and the mapping it was.
    pending: Vec<(Pfn, Mapping)>,
}

impl PhysMem {
    /// `frames` frames of RAM, all free but the zero page (the lowest pfn is handed out
    /// first), and GRU space above them.
    pub(crate) fn new(frames: usize, trace: Trace) -> Self {
        let ram = frames.max(2);
        let mut frames_vec: Vec<Frame> = (0..ram + GRU_SPACE_PAGES as usize).map(|_| Frame::default()).collect();
        frames_vec[ZERO_PFN as usize].refcount = 1;
        let free = (ZERO_PFN + 1..ram as Pfn).rev().collect();
        Self {
            frames: frames_vec,
            ram,
            free,
            trace,
            observer: None,
            bugs: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Install the checker's hook, called on every allocation and free.
    pub fn set_observer(&mut self, observer: Box<dyn FnMut(PhysEvent)>) {
        self.observer = Some(observer);
    }

    /// Number of frames of RAM.
    pub fn size(&self) -> usize {
        self.ram
    }

    /// Number of allocated frames, not counting the zero page.
    pub fn allocated(&self) -> usize {
        self.ram - self.free.len() - 1
    }

    /// The frames of GRU space (Linux's `gru_start_paddr..gru_end_paddr`, in frames).
    pub fn gru_space(&self) -> std::ops::Range<Pfn> {
        self.ram as Pfn..self.frames.len() as Pfn
    }

    /// `vm_normal_page`: a frame of RAM with a page count and a reverse map; the zero page and
    /// GRU space have neither.
    pub fn normal_page(&self, pfn: Pfn) -> bool {
        pfn != ZERO_PFN && pfn < self.ram as Pfn
    }

    /// Read a 64-bit word (the address is rounded down to 8 bytes).
    pub fn read_u64(&self, paddr: u64) -> Result<u64, PhysError> {
        let frame = self
            .frames
            .get((paddr >> PAGE_SHIFT) as usize)
            .ok_or(PhysError(paddr))?;
        Ok(frame.data.as_ref().map_or(0, |d| d[word_index(paddr)]))
    }

    /// Write a 64-bit word (the address is rounded down to 8 bytes). Free frames can be
    /// written too: that is what a stale device translation does.
    pub fn write_u64(&mut self, paddr: u64, value: u64) -> Result<(), PhysError> {
        let frame = self
            .frames
            .get_mut((paddr >> PAGE_SHIFT) as usize)
            .ok_or(PhysError(paddr))?;
        frame.data.get_or_insert_with(zero_page)[word_index(paddr)] = value;
        Ok(())
    }

    /// The frame's generation (bumped on each free), if the frame exists.
    pub fn generation(&self, pfn: Pfn) -> Option<u64> {
        self.frames.get(pfn as usize).map(|f| f.generation)
    }

    /// The frame's reference count (0: free).
    pub fn refcount(&self, pfn: Pfn) -> u32 {
        self.frames.get(pfn as usize).map_or(0, |f| f.refcount)
    }

    /// The mappings of the frame.
    pub fn mappings(&self, pfn: Pfn) -> &[Mapping] {
        self.frames.get(pfn as usize).map_or(&[], |f| &f.rmap)
    }

    /// The frame's flags.
    pub fn flags(&self, pfn: Pfn) -> PageFlags {
        self.frames
            .get(pfn as usize)
            .map_or_else(PageFlags::default, |f| f.flags)
    }

    /// The swap slot caching this frame, if any.
    pub fn swap_cache(&self, pfn: Pfn) -> Option<Slot> {
        self.frames.get(pfn as usize).and_then(|f| f.swap_cache)
    }

    /// Whether some mapping of `pfn` lost its PTE and awaits its `invalidate_page`
    /// (classic-unlocked era): a device may still legally use its translation.
    pub fn invalidate_pending(&self, pfn: Pfn) -> bool {
        self.pending.iter().any(|&(p, _)| p == pfn)
    }

    /// The mappings of `pfn` whose PTE is gone but whose `invalidate_page` is pending: a device
    /// store through one still belongs to that mapping.
    pub fn pending_mappings(&self, pfn: Pfn) -> Vec<Mapping> {
        self.pending.iter().filter(|&&(p, _)| p == pfn).map(|&(_, m)| m).collect()
    }

    /// Note (`on`) or clear that mapping `va` of `mm` of `pfn` awaits its `invalidate_page`.
    pub(crate) fn pending_invalidate(&mut self, pfn: Pfn, mm: MmId, va: u64, on: bool) {
        let m = Mapping { mm, va };
        if on {
            self.pending.push((pfn, m));
        } else if let Some(i) = self.pending.iter().position(|&x| x == (pfn, m)) {
            self.pending.remove(i);
        }
    }

    /// Kernel bugs seen (a mapped frame freed, a reference dropped below zero).
    pub fn bugs(&self) -> &[String] {
        &self.bugs
    }

    pub(crate) fn record_bug(&mut self, bug: String) {
        self.bugs.push(bug);
    }

    pub(crate) fn flags_mut(&mut self, pfn: Pfn) -> &mut PageFlags {
        &mut self.frames[pfn as usize].flags
    }

    pub(crate) fn set_swap_cache(&mut self, pfn: Pfn, slot: Option<Slot>) -> Option<Slot> {
        std::mem::replace(&mut self.frames[pfn as usize].swap_cache, slot)
    }

    /// A zeroed 4K frame with one reference.
    pub(crate) fn alloc(&mut self) -> Option<Pfn> {
        let pfn = self.free.pop()?;
        self.take(pfn);
        self.trace.push(TraceEvent::Alloc { pfn, pages: 1 });
        Some(pfn)
    }

    /// 512 zeroed, 2M-aligned contiguous frames, each with one reference.
    pub(crate) fn alloc_huge(&mut self) -> Option<Pfn> {
        let n = PAGES_PER_HPAGE;
        let head = (0..self.ram as Pfn / n)
            .map(|i| i * n)
            .find(|&h| (h..h + n).all(|p| self.frames[p as usize].refcount == 0))?;
        self.free.retain(|&p| !(head..head + n).contains(&p));
        (head..head + n).for_each(|p| self.take(p));
        self.trace.push(TraceEvent::Alloc {
            pfn: head,
            pages: n as u32,
        });
        Some(head)
    }

    fn take(&mut self, pfn: Pfn) {
        let f = &mut self.frames[pfn as usize];
        *f = Frame {
            refcount: 1,
            generation: f.generation,
            ..Frame::default()
        };
        let generation = f.generation;
        if let Some(obs) = self.observer.as_mut() {
            obs(PhysEvent::Alloc { pfn, generation });
        }
    }

    /// Take a reference on `pages` frames from `pfn` (only normal pages are counted).
    pub(crate) fn get(&mut self, pfn: Pfn, pages: u64) {
        let normal: Vec<Pfn> = (pfn..pfn + pages).filter(|&p| self.normal_page(p)).collect();
        for p in normal {
            self.frames[p as usize].refcount += 1;
        }
    }

    /// Drop a reference on `pages` frames from `pfn`; frames reaching zero are freed. Returns
    /// the swap-cache slots the freed frames held, for the caller to release.
    pub(crate) fn put(&mut self, pfn: Pfn, pages: u64) -> Vec<Slot> {
        let mut slots = Vec::new();
        let mut freed = 0;
        // GRU space has no page count (the zero page's put is the caller's bug, reported).
        let counted: Vec<Pfn> = (pfn..pfn + pages).filter(|&p| p == ZERO_PFN || self.normal_page(p)).collect();
        for p in counted {
            let f = &mut self.frames[p as usize];
            if f.refcount == 0 {
                self.bugs.push(format!("put of free frame {p:#x}"));
                continue;
            }
            f.refcount -= 1;
            if f.refcount > 0 {
                continue;
            }
            if !f.rmap.is_empty() {
                self.bugs
                    .push(format!("frame {p:#x} freed while mapped at {:?}", f.rmap));
            }
            f.generation += 1;
            f.flags = PageFlags::default();
            slots.extend(f.swap_cache.take());
            let generation = f.generation;
            self.free.push(p);
            freed += 1;
            if let Some(obs) = self.observer.as_mut() {
                obs(PhysEvent::Free { pfn: p, generation });
            }
        }
        let ev = if freed == pages {
            TraceEvent::Free {
                pfn,
                pages: pages as u32,
            }
        } else {
            TraceEvent::Put {
                pfn,
                pages: pages as u32,
                refcount: self.refcount(pfn),
            }
        };
        self.trace.push(ev);
        slots
    }

    /// Record that `pages` frames from `pfn` are mapped at `va..` in `mm`.
    pub(crate) fn add_rmap(&mut self, pfn: Pfn, pages: u64, mm: MmId, va: u64) {
        let pages = if self.normal_page(pfn) { pages } else { 0 };
        for i in 0..pages {
            self.frames[(pfn + i) as usize].rmap.push(Mapping {
                mm,
                va: va + (i << PAGE_SHIFT),
            });
        }
    }

    /// Forget the mappings recorded by [`PhysMem::add_rmap`].
    pub(crate) fn remove_rmap(&mut self, pfn: Pfn, pages: u64, mm: MmId, va: u64) {
        let pages = if self.normal_page(pfn) { pages } else { 0 };
        for i in 0..pages {
            let m = Mapping {
                mm,
                va: va + (i << PAGE_SHIFT),
            };
            let rmap = &mut self.frames[(pfn + i) as usize].rmap;
            match rmap.iter().position(|x| *x == m) {
                Some(pos) => {
                    rmap.remove(pos);
                }
                None => self
                    .bugs
                    .push(format!("frame {:#x} had no mapping {m:?}", pfn + i)),
            }
        }
    }

    /// A copy of a page's contents.
    pub(crate) fn page(&self, pfn: Pfn) -> PageData {
        self.frames[pfn as usize]
            .data
            .clone()
            .unwrap_or_else(zero_page)
    }

    pub(crate) fn set_page(&mut self, pfn: Pfn, data: PageData) {
        self.frames[pfn as usize].data = Some(data);
    }

    /// Copy `pages` pages of contents.
    pub(crate) fn copy(&mut self, from: Pfn, to: Pfn, pages: u64) {
        for i in 0..pages {
            let data = self.page(from + i);
            self.set_page(to + i, data);
        }
        self.trace.push(TraceEvent::Copy {
            from,
            to,
            pages: pages as u32,
        });
    }

    /// Whether two pages hold the same words.
    pub(crate) fn same_contents(&self, a: Pfn, b: Pfn) -> bool {
        self.page(a) == self.page(b)
    }

    /// Every frame with a reference, for invariant checks.
    pub(crate) fn allocated_frames(
        &self,
    ) -> impl Iterator<Item = (Pfn, u32, &[Mapping], Option<Slot>)> {
        self.frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.refcount > 0)
            .map(|(p, f)| (p as Pfn, f.refcount, f.rmap.as_slice(), f.swap_cache))
    }
}

fn word_index(paddr: u64) -> usize {
    ((paddr >> 3) as usize) % WORDS_PER_PAGE
}

pub(crate) fn zero_page() -> PageData {
    Box::new([0; WORDS_PER_PAGE])
}

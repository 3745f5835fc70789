//! The data oracle: the value each word must hold — the last value stored there by anyone, zero
//! if never stored. Private anonymous words belong to an address space (copied at fork); words
//! of shared and file-backed mappings belong to the file, so every mapping of it, `pread`, and
//! the file after writeback and reclaim see them. A page of a private file mapping reads the
//! file until its first store copies it (COW). The oracle keeps its own map of which ranges map
//! which file, told by mmap, munmap and mremap, rather than reading the kernel's VMAs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::mm::{FileId, MmId, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};

/// A load returned something other than the last value stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data oracle: cycle {cycle}, {mm}, address {addr:#x}: expected {expected:#x}, loaded {actual:#x} (seed {seed})")]
pub struct OracleMismatch {
    /// When the load happened.
    pub cycle: u64,
    /// The address space (for a `pread`, the reader's).
    pub mm: MmId,
    /// The address loaded (for a `pread`, the file offset).
    pub addr: u64,
    /// What the program must see.
    pub expected: u64,
    /// What it saw.
    pub actual: u64,
    /// The run's seed, to replay it.
    pub seed: u64,
}

/// A file-backed range of an address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileMap {
    end: u64,
    file: FileId,
    /// File page at the range's start.
    pgoff: u64,
    shared: bool,
}

#[derive(Clone, Default)]
struct Space {
    words: HashMap<u64, u64>,
    /// Pages `MADV_FREE`d and not stored to since: the kernel may zero them.
    lazyfree: BTreeSet<u64>,
    /// File-backed ranges by start.
    maps: BTreeMap<u64, FileMap>,
    /// Pages of private file mappings that have their own copy.
    cowed: BTreeSet<u64>,
}

/// Where a word lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Home {
    /// The address space's own memory.
    Private,
    /// A file, at this byte offset.
    File(FileId, u64),
}

impl Space {
    fn home(&self, addr: u64) -> Home {
        let Some((&start, m)) = self.maps.range(..=addr).next_back().filter(|(_, m)| addr < m.end) else {
            return Home::Private;
        };
        if !m.shared && self.cowed.contains(&(addr & PAGE_MASK)) {
            return Home::Private;
        }
        Home::File(m.file, (m.pgoff << PAGE_SHIFT) + (addr - start))
    }

    /// Private words, lazily freed and copied pages in `[start, end)` are gone.
    fn drop_private(&mut self, start: u64, end: u64) {
        self.words.retain(|&a, _| a < start || a >= end);
        self.lazyfree.retain(|&p| p < start || p >= end);
        self.cowed.retain(|&p| p < start || p >= end);
    }

    /// Cut `[start, end)` out of the file ranges, keeping the pieces outside it.
    fn unmap_files(&mut self, start: u64, end: u64) {
        let hit: Vec<(u64, FileMap)> = self.maps.range(..end).filter(|(_, m)| m.end > start).map(|(&s, &m)| (s, m)).collect();
        for (s, m) in hit {
            self.maps.remove(&s);
            if s < start {
                self.maps.insert(s, FileMap { end: start, ..m });
            }
            if m.end > end {
                self.maps.insert(end, FileMap { pgoff: m.pgoff + ((end - s) >> PAGE_SHIFT), ..m });
            }
        }
    }
}

/// Expected memory contents per address space and per file.
pub struct Oracle {
    seed: u64,
    spaces: BTreeMap<MmId, Space>,
    files: BTreeMap<FileId, FileWords>,
    loads_checked: u64,
}

/// A file's words and size.
#[derive(Default)]
struct FileWords {
    /// Pages; words beyond are not kept (a store there is lost, as a store to a page that
    /// truncate is taking away).
    pages: u64,
    words: HashMap<u64, u64>,
}

impl Oracle {
    /// An oracle for a run with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, spaces: BTreeMap::new(), files: BTreeMap::new(), loads_checked: 0 }
    }

    /// Number of loads checked so far.
    pub fn loads_checked(&self) -> u64 {
        self.loads_checked
    }

    fn home(&self, mm: MmId, addr: u64) -> Home {
        self.spaces.get(&mm).map_or(Home::Private, |s| s.home(addr & !7))
    }

    /// A store of `value` at `addr`.
    pub fn store(&mut self, mm: MmId, addr: u64, value: u64) {
        match self.home(mm, addr) {
            Home::File(f, off) => self.file_store(f, off, value),
            Home::Private => {
                let space = self.spaces.entry(mm).or_default();
                space.lazyfree.remove(&(addr & PAGE_MASK));
                space.words.insert(addr & !7, value);
            }
        }
    }

    /// Check a load of `actual` from `addr`.
    pub fn check_load(&mut self, cycle: u64, mm: MmId, addr: u64, actual: u64) -> Result<(), OracleMismatch> {
        let expected = self.expected(mm, addr);
        self.judge(cycle, mm, addr, expected, actual)
    }

    fn judge(&mut self, cycle: u64, mm: MmId, addr: u64, expected: u64, actual: u64) -> Result<(), OracleMismatch> {
        self.loads_checked += 1;
        if expected == actual {
            return Ok(());
        }
        Err(OracleMismatch { cycle, mm, addr, expected, actual, seed: self.seed })
    }

    /// The value a load of `addr` must return.
    pub fn expected(&self, mm: MmId, addr: u64) -> u64 {
        match self.home(mm, addr) {
            Home::File(f, off) => self.file_expected(f, off),
            Home::Private => self.spaces.get(&mm).and_then(|s| s.words.get(&(addr & !7)).copied()).unwrap_or(0),
        }
    }

    /// The child starts with a copy of the parent's private memory and the parent's file
    /// mappings.
    pub fn fork(&mut self, parent: MmId, child: MmId) {
        let copy = self.spaces.get(&parent).cloned().unwrap_or_default();
        self.spaces.insert(child, copy);
    }

    /// The address space is gone.
    pub fn exit(&mut self, mm: MmId) {
        self.spaces.remove(&mm);
    }

    /// `[start, end)` is unmapped: private words read as zero from now on, and the range maps no
    /// file.
    pub fn clear(&mut self, mm: MmId, start: u64, end: u64) {
        if let Some(s) = self.spaces.get_mut(&mm) {
            s.drop_private(start, end);
            s.unmap_files(start, end);
        }
    }

    /// `MADV_DONTNEED` of `[start, end)`: private words (and copies of file pages) are dropped;
    /// file-backed pages read the file again.
    pub fn dontneed(&mut self, mm: MmId, start: u64, end: u64) {
        if let Some(s) = self.spaces.get_mut(&mm) {
            s.drop_private(start, end);
        }
    }

    /// `[start, end)` now maps `file` from page `pgoff`, shared or private.
    pub fn map_file(&mut self, mm: MmId, start: u64, end: u64, file: FileId, pgoff: u64, shared: bool) {
        let s = self.spaces.entry(mm).or_default();
        s.drop_private(start, end);
        s.unmap_files(start, end);
        s.maps.insert(start, FileMap { end, file, pgoff, shared });
    }

    /// The page at `page` of a private file mapping got its own copy, holding `words` (what
    /// the file held when the kernel copied it).
    pub fn cow(&mut self, mm: MmId, page: u64, words: Vec<(u64, u64)>) {
        let page = page & PAGE_MASK;
        let s = self.spaces.entry(mm).or_default();
        s.words.retain(|&a, _| a & PAGE_MASK != page);
        s.cowed.insert(page);
        s.words.extend(words.into_iter().map(|(o, v)| (page + o, v)));
    }

    /// What page `page` of `mm` must hold now, as (offset in the page, value) for the words
    /// not zero.
    pub fn page_words(&self, mm: MmId, page: u64) -> Vec<(u64, u64)> {
        let page = page & PAGE_MASK;
        let mut v: Vec<(u64, u64)> = (0..PAGE_SIZE / 8)
            .map(|i| (i * 8, self.expected(mm, page + i * 8)))
            .filter(|&(_, v)| v != 0)
            .collect();
        v.sort_unstable();
        v
    }

    /// A new file of `pages` zero pages.
    pub fn create_file(&mut self, file: FileId, pages: u64) {
        self.files.insert(file, FileWords { pages, words: HashMap::new() });
    }

    /// `file` grew to `pages` pages (the new pages read zero).
    pub fn extend_file(&mut self, file: FileId, pages: u64) {
        let f = self.files.entry(file).or_default();
        f.pages = f.pages.max(pages);
    }

    /// A store of `value` at byte `offset` of `file`.
    pub fn file_store(&mut self, file: FileId, offset: u64, value: u64) {
        let f = self.files.entry(file).or_default();
        if offset >> PAGE_SHIFT < f.pages {
            f.words.insert(offset & !7, value);
        }
    }

    /// The value at byte `offset` of `file`.
    pub fn file_expected(&self, file: FileId, offset: u64) -> u64 {
        self.files.get(&file).and_then(|f| f.words.get(&(offset & !7)).copied()).unwrap_or(0)
    }

    /// Check a read of `actual` at byte `offset` of `file` by a thread of `mm`.
    pub fn check_file_load(&mut self, cycle: u64, mm: MmId, file: FileId, offset: u64, actual: u64) -> Result<(), OracleMismatch> {
        let expected = self.file_expected(file, offset);
        self.judge(cycle, mm, offset, expected, actual)
    }

    /// Truncate `file` to `pages` pages: the words beyond are gone from the file and from every
    /// private copy of its pages (truncate unmaps even those).
    pub fn truncate(&mut self, file: FileId, pages: u64) {
        let end = pages << PAGE_SHIFT;
        if let Some(f) = self.files.get_mut(&file) {
            f.pages = pages;
            f.words.retain(|&o, _| o < end);
        }
        for s in self.spaces.values_mut() {
            let cut: Vec<(u64, u64)> = s
                .maps
                .iter()
                .filter(|(_, m)| m.file == file && !m.shared)
                .filter_map(|(&start, m)| {
                    let first = start + pages.saturating_sub(m.pgoff).saturating_mul(PAGE_SIZE).min(m.end - start);
                    (first < m.end).then_some((first, m.end))
                })
                .collect();
            for (a, b) in cut {
                s.drop_private(a, b);
            }
        }
    }

    /// A hole punched in `file` over pages `[first, end)`: they read zero; private copies stay.
    pub fn punch_hole(&mut self, file: FileId, first: u64, end: u64) {
        if let Some(f) = self.files.get_mut(&file) {
            f.words.retain(|&o, _| o >> PAGE_SHIFT < first || o >> PAGE_SHIFT >= end);
        }
    }

    /// The page at `page` was `MADV_FREE`d by the kernel.
    pub fn lazyfree(&mut self, mm: MmId, page: u64) {
        self.spaces.entry(mm).or_default().lazyfree.insert(page & PAGE_MASK);
    }

    /// Reclaim discarded a lazily freed page: legal only if nothing was stored since.
    pub fn discard(&mut self, mm: MmId, page: u64) -> Result<(), String> {
        let page = page & PAGE_MASK;
        let lazy = self.spaces.get(&mm).is_some_and(|s| s.lazyfree.contains(&page));
        if !lazy {
            return Err(format!("{mm}: page {page:#x} discarded but it was written after MADV_FREE"));
        }
        self.clear(mm, page, page + PAGE_SIZE);
        Ok(())
    }

    /// mremap moved `[old, old + len)` to `new`.
    pub fn relocate(&mut self, mm: MmId, old: u64, new: u64, len: u64) {
        let Some(s) = self.spaces.get_mut(&mm) else {
            return;
        };
        let inside = |a: u64| a >= old && a < old + len;
        let moved: Vec<(u64, u64)> = s.words.iter().filter(|(&a, _)| inside(a)).map(|(&a, &v)| (a, v)).collect();
        let lazy: Vec<u64> = s.lazyfree.range(old..old + len).copied().collect();
        let cowed: Vec<u64> = s.cowed.range(old..old + len).copied().collect();
        // The file ranges inside the old range, clipped to it.
        let mut maps = Space { maps: s.maps.clone(), ..Space::default() };
        maps.unmap_files(0, old);
        maps.unmap_files(old + len, u64::MAX);
        s.drop_private(new, new + len);
        s.unmap_files(new, new + len);
        s.drop_private(old, old + len);
        s.unmap_files(old, old + len);
        s.words.extend(moved.into_iter().map(|(a, v)| (a - old + new, v)));
        s.lazyfree.extend(lazy.into_iter().map(|p| p - old + new));
        s.cowed.extend(cowed.into_iter().map(|p| p - old + new));
        s.maps.extend(maps.maps.into_iter().map(|(a, m)| (a - old + new, FileMap { end: m.end - old + new, ..m })));
    }
}

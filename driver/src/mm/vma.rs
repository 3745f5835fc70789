//! Virtual memory areas: anonymous or file-backed, private or shared, with a protection.

use std::collections::BTreeMap;
use std::fmt;

use crate::mm::file::FileId;
use crate::mm::PAGE_SHIFT;

/// Protection of a VMA (`PROT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prot {
    /// `PROT_NONE`.
    None,
    /// `PROT_READ`.
    Read,
    /// `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

impl Prot {
    /// Loads allowed.
    pub fn readable(self) -> bool {
        self != Prot::None
    }
    /// Stores allowed.
    pub fn writable(self) -> bool {
        self == Prot::ReadWrite
    }
}

impl fmt::Display for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Prot::None => "---",
            Prot::Read => "r--",
            Prot::ReadWrite => "rw-",
        })
    }
}

/// What a shared or file-backed VMA maps (`vm_file`, `vm_pgoff`, `VM_SHARED`). Shared
/// anonymous memory is a shmem file, as in Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backing {
    /// The file (or shmem object).
    pub file: FileId,
    /// The file page mapped at the VMA's start.
    pub pgoff: u64,
    /// `MAP_SHARED`: stores go to the file's pages; otherwise they copy (`MAP_PRIVATE`).
    pub shared: bool,
}

/// A mapping `[start, end)`: private anonymous when `backing` is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Protection.
    pub prot: Prot,
    /// Has been faulted in (Linux: has an `anon_vma`); fork copies page tables only then.
    pub anon: bool,
    /// The file behind it, if any.
    pub backing: Option<Backing>,
}

impl Vma {
    /// The part `[start, end)` of this VMA (inside it), its file offset moved along.
    pub fn slice(&self, start: u64, end: u64) -> Vma {
        let backing = self.backing.map(|b| Backing { pgoff: b.pgoff + ((start - self.start) >> PAGE_SHIFT), ..b });
        Vma { start, end, backing, ..*self }
    }

    /// The file page mapped at `va` (inside the VMA), if file-backed.
    pub fn pgoff(&self, va: u64) -> Option<(FileId, u64)> {
        self.backing.map(|b| (b.file, b.pgoff + ((va - self.start) >> PAGE_SHIFT)))
    }

    /// Its protection and, for a file mapping, `shared`/`private`, the file and the page at
    /// the start (trace text).
    pub fn label(&self) -> String {
        match self.backing {
            None => self.prot.to_string(),
            Some(b) => format!("{} {} {}@{}", self.prot, if b.shared { "shared" } else { "private" }, b.file, b.pgoff),
        }
    }

    /// `MAP_SHARED`.
    pub fn shared(&self) -> bool {
        self.backing.is_some_and(|b| b.shared)
    }
}

/// The VMAs of an address space, non-overlapping, keyed by start.
#[derive(Default, Debug)]
pub struct VmaTree {
    map: BTreeMap<u64, Vma>,
}

impl VmaTree {
    /// The VMA containing `va`.
    pub fn find(&self, va: u64) -> Option<&Vma> {
        self.map
            .range(..=va)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| va < v.end)
    }

    pub(crate) fn find_mut(&mut self, va: u64) -> Option<&mut Vma> {
        self.map
            .range_mut(..=va)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| va < v.end)
    }

    /// VMAs overlapping `[start, end)`, clipped to it.
    pub fn clipped(&self, start: u64, end: u64) -> Vec<Vma> {
        self.iter()
            .filter(|v| v.start < end && start < v.end)
            .map(|v| v.slice(v.start.max(start), v.end.min(end)))
            .collect()
    }

    /// Whether `[start, end)` is entirely covered by VMAs.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for v in self.clipped(start, end) {
            if v.start != at {
                return false;
            }
            at = v.end;
        }
        at >= end
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }

    /// Whether there are no VMAs.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn insert(&mut self, vma: Vma) {
        self.map.insert(vma.start, vma);
    }

    /// Split the VMA containing `addr` so that a VMA starts there.
    pub(crate) fn split_at(&mut self, addr: u64) {
        if let Some(v) = self.find(addr).copied() {
            if v.start < addr {
                self.map.insert(v.start, v.slice(v.start, addr));
                self.map.insert(addr, v.slice(addr, v.end));
            }
        }
    }

    /// Remove everything in `[start, end)`, splitting VMAs at the edges.
    pub(crate) fn remove(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<u64> = self.map.range(start..end).map(|(&s, _)| s).collect();
        for s in inside {
            self.map.remove(&s);
        }
    }

    /// First gap of `len` bytes at or above `base`, aligned to `align`.
    pub(crate) fn free_area(&self, base: u64, len: u64, align: u64) -> u64 {
        let mut at = base.next_multiple_of(align);
        for v in self.iter().filter(|v| v.end > base) {
            if at + len <= v.start {
                break;
            }
            at = at.max(v.end.next_multiple_of(align));
        }
        at
    }
}

//! Virtual memory areas: private anonymous mappings with a protection.

use std::collections::BTreeMap;
use std::fmt;

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

/// A private anonymous mapping `[start, end)`.
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
            .map(|v| Vma {
                start: v.start.max(start),
                end: v.end.min(end),
                ..*v
            })
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
                self.map.insert(v.start, Vma { end: addr, ..v });
                self.map.insert(addr, Vma { start: addr, ..v });
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

//! Page-table entries (4K PTEs and 2M leaves) and the page table of one address space.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::mm::{Pfn, Slot, HPAGE_MASK, PAGE_SIZE};

/// A present mapping's frame and bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Present {
    /// The frame (the first of 512 for a 2M leaf).
    pub pfn: Pfn,
    /// Writable.
    pub write: bool,
    /// Written since the bit was last cleared.
    pub dirty: bool,
    /// Accessed since the bit was last cleared.
    pub young: bool,
    /// `PROT_NONE`: present for the kernel, inaccessible to the CPU and to walks for devices.
    pub protnone: bool,
}

/// A page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Pte {
    /// Nothing mapped.
    None,
    /// A present page.
    Present(Present),
    /// The page is on swap.
    Swap(Slot),
    /// The page is being migrated away from `pfn`; faults wait.
    Migration {
        /// The old frame.
        pfn: Pfn,
        /// Whether the mapping was writable.
        write: bool,
    },
}

impl Pte {
    /// The present part, if present.
    pub fn present(self) -> Option<Present> {
        match self {
            Pte::Present(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pte::None => f.write_str("none"),
            Pte::Present(p) => {
                write!(f, "pfn {:#x} {}", p.pfn, if p.write { "rw" } else { "ro" })?;
                for (on, name) in [
                    (p.dirty, " dirty"),
                    (p.young, " young"),
                    (p.protnone, " protnone"),
                ] {
                    if on {
                        f.write_str(name)?;
                    }
                }
                Ok(())
            }
            Pte::Swap(slot) => write!(f, "swap slot {slot}"),
            Pte::Migration { pfn, write } => {
                write!(
                    f,
                    "migration pfn {pfn:#x} {}",
                    if *write { "rw" } else { "ro" }
                )
            }
        }
    }
}

/// Where a virtual address is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// A 4K PTE at this address.
    Pte(u64, Pte),
    /// A 2M leaf at this (2M-aligned) address.
    Pmd(u64, Pte),
}

/// The page table of one address space: 4K entries and 2M leaves, never overlapping.
#[derive(Default, Debug)]
pub struct PageTable {
    ptes: BTreeMap<u64, Pte>,
    pmds: BTreeMap<u64, Pte>,
}

impl PageTable {
    /// The leaf translating `va`, if any entry is there.
    pub fn lookup(&self, va: u64) -> Option<Leaf> {
        let h = va & HPAGE_MASK;
        if let Some(&pmd) = self.pmds.get(&h) {
            return Some(Leaf::Pmd(h, pmd));
        }
        let a = va & !(PAGE_SIZE - 1);
        self.ptes.get(&a).map(|&pte| Leaf::Pte(a, pte))
    }

    /// The 4K entry at `va`.
    pub fn pte(&self, va: u64) -> Pte {
        self.ptes
            .get(&(va & !(PAGE_SIZE - 1)))
            .copied()
            .unwrap_or(Pte::None)
    }

    /// The 2M leaf at `haddr`.
    pub fn pmd(&self, haddr: u64) -> Pte {
        self.pmds.get(&haddr).copied().unwrap_or(Pte::None)
    }

    /// 4K entries in `[start, end)`, in address order.
    pub fn ptes_in(&self, start: u64, end: u64) -> Vec<(u64, Pte)> {
        self.ptes.range(start..end).map(|(&a, &p)| (a, p)).collect()
    }

    /// 2M leaves overlapping `[start, end)`, in address order.
    pub fn pmds_in(&self, start: u64, end: u64) -> Vec<(u64, Pte)> {
        self.pmds
            .range((start & HPAGE_MASK)..end)
            .map(|(&a, &p)| (a, p))
            .collect()
    }

    /// 2M leaves then 4K entries in `[start, end)`, leaves flagged `true`.
    pub fn leaves_in(&self, start: u64, end: u64) -> Vec<(u64, Pte, bool)> {
        let pmds = self
            .pmds_in(start, end)
            .into_iter()
            .map(|(a, p)| (a, p, true));
        pmds.chain(
            self.ptes_in(start, end)
                .into_iter()
                .map(|(a, p)| (a, p, false)),
        )
        .collect()
    }

    /// Whether any entry lies in `[start, end)`.
    pub fn populated(&self, start: u64, end: u64) -> bool {
        self.ptes.range(start..end).next().is_some() || !self.pmds_in(start, end).is_empty()
    }

    /// Every entry, 2M leaves flagged `true`.
    pub fn entries(&self) -> impl Iterator<Item = (u64, Pte, bool)> + '_ {
        let ptes = self.ptes.iter().map(|(&a, &p)| (a, p, false));
        ptes.chain(self.pmds.iter().map(|(&a, &p)| (a, p, true)))
    }

    pub(crate) fn set(&mut self, va: u64, huge: bool, pte: Pte) -> Pte {
        let map = if huge { &mut self.pmds } else { &mut self.ptes };
        let old = match pte {
            Pte::None => map.remove(&va),
            _ => map.insert(va, pte),
        };
        old.unwrap_or(Pte::None)
    }
}

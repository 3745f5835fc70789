//! Frame life: every chip memory access goes to a frame that is still the one a dropin mapped
//! (its generation unchanged since), and a chip store needs a PTE that allows it.

use std::fmt;

use gru_driver::gru::handles::{PageSize, Tfh};
use gru_driver::mm::{MmId, PAGE_SHIFT, ZERO_PFN};

use super::{Check, Checker};

/// A frame as a dropin mapped it.
#[derive(Clone, Copy)]
pub(super) struct DroppedFrame {
    pub(super) generation: u64,
    /// The address space whose context took the dropin (none if no loaded context had its ASID).
    pub(super) mm: Option<MmId>,
    /// The virtual page of the frame in that address space.
    pub(super) va: u64,
    pub(super) cycle: u64,
}

impl fmt::Display for DroppedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mm {
            Some(mm) => write!(f, "{mm} va {:#x}, dropped in at cycle {}", self.va, self.cycle),
            None => write!(f, "va {:#x}, dropped in at cycle {}", self.va, self.cycle),
        }
    }
}

fn rw(write: bool) -> &'static str {
    if write {
        "store"
    } else {
        "load"
    }
}

impl Checker {
    /// A chip memory access of `chiplet` to `paddr`: the frame must be RAM (not GRU space), live
    /// since the dropin that mapped it on that chiplet, and a store must be allowed by some PTE.
    pub(super) fn mem_access(&self, cycle: u64, chiplet: usize, paddr: u64, write: bool) {
        let pfn = paddr >> PAGE_SHIFT;
        let gen = self.mmu.with_phys(|p| p.generation(pfn));
        let gru_space = self.mmu.with_phys(|p| p.gru_space());
        let bad = if gru_space.contains(&pfn) {
            Some(format!(
                "chiplet {chiplet} {} paddr {paddr:#x}: GRU space (frames {:#x}..{:#x}), no RAM: a TLB entry reaches the chip's own handle space",
                rw(write),
                gru_space.start,
                gru_space.end
            ))
        } else if pfn == ZERO_PFN && !write {
            None
        } else {
            match self.dropped.borrow().get(&(chiplet, pfn)) {
                None => Some(format!("chiplet {chiplet} {} paddr {paddr:#x}: no dropin ever mapped it", rw(write))),
                Some(d) if Some(d.generation) != gen => Some(format!(
                    "chiplet {chiplet} {} paddr {paddr:#x} ({d}): frame freed since its dropin (generation {} -> {gen:?})",
                    rw(write),
                    d.generation
                )),
                Some(d) if write && !self.store_allowed(pfn) => Some(format!(
                    "chiplet {chiplet} store to paddr {paddr:#x} ({d}): no PTE maps the frame writable and dirty"
                )),
                Some(_) => None,
            }
        };
        let bad = bad.map(|b| match self.frames.borrow().get(&pfn) {
            Some(h) => format!("{b}; frame {pfn}: [{}]", h.iter().cloned().collect::<Vec<_>>().join(", ")),
            None => b,
        });
        self.verdict(cycle, Check::FrameLife, bad);
    }

    /// A dropin for `cbr` landed in `chiplet`'s TLB: remember each frame it maps with its
    /// generation now, and whose page it is: the owner of the fill ASID on the chiplet, which
    /// must be the address space of the thread whose CB missed.
    pub(super) fn dropped_in(&self, cycle: u64, chiplet: usize, cbr: usize, tfh: &Tfh) {
        let what = format!("cycle {cycle} chiplet {chiplet} asid {:#x}{} pfn {}", tfh.fillasid, if tfh.dirty { " dirty" } else { "" }, tfh.pfn);
        Self::remember(&self.pages, tfh.fillvaddr >> PAGE_SHIFT << PAGE_SHIFT, what);
        Self::remember(&self.frames, tfh.pfn, format!("cycle {cycle} dropped in on chiplet {chiplet} for va {:#x}", tfh.fillvaddr));
        let pages = 1u64 << PageSize::vpn_shift_of(tfh.pagesize);
        let mm = self.asid_owner(chiplet, tfh.fillasid);
        let issuer = self.cb_owner(chiplet, cbr);
        let bad = match (mm, issuer) {
            (Some(owner), Some(issuer)) if owner != issuer => Some(format!(
                "chiplet {chiplet} CBR {cbr}: a miss of {issuer} was dropped in under ASID {:#x}, which is {owner}'s (va {:#x}, pfn {})",
                tfh.fillasid, tfh.fillvaddr, tfh.pfn
            )),
            _ => None,
        };
        self.verdict(cycle, Check::Ownership, bad);
        let mm = mm.or(issuer);
        let base = tfh.fillvaddr & !((pages << PAGE_SHIFT) - 1);
        let mut d = self.dropped.borrow_mut();
        self.mmu.with_phys(|p| {
            for (k, pfn) in (tfh.pfn..tfh.pfn + pages).enumerate() {
                if let Some(generation) = p.generation(pfn) {
                    let va = base + ((k as u64) << PAGE_SHIFT);
                    d.insert((chiplet, pfn), DroppedFrame { generation, mm, va, cycle });
                }
            }
        });
    }
}

//! Store permission: a chip store needs a PTE that maps its frame writable and dirty.

use gru_driver::mm::{Leaf, PAGES_PER_HPAGE};
use gru_driver::notifier::Era;

use super::Checker;

impl Checker {
    /// A chip store to `pfn` must go through a translation the primary MMU allows: some PTE
    /// maps the frame writable and dirty (a clean or write-protected PTE means the store
    /// would be lost on reclaim or break copy-on-write).
    /// Classic-era Linux clears a PTE before it calls `invalidate_page`, and keeps the page in
    /// the reverse map until that returns: a store in between, through the entry the device
    /// still holds, is legal there. So in that era a mapping whose PTE no longer maps the frame
    /// (cleared, its `invalidate_page` not yet returned) allows the store too; one that maps it
    /// read-only or clean does not.
    /// In the classic-unlocked era `invalidate_page` comes after the new PTE is set and the
    /// reverse-map entry is gone: a frame with an `invalidate_page` pending allows the store.
    pub(super) fn store_allowed(&self, pfn: u64) -> bool {
        if self.mmu.with_phys(|p| p.invalidate_pending(pfn)) {
            return true;
        }
        let classic = self.mmu.era() == Era::Classic;
        let maps = self.mmu.with_phys(|p| p.mappings(pfn).to_vec());
        maps.iter().any(|m| {
            let leaf = self.mmu.mm(m.mm).and_then(|mm| mm.lookup(m.va));
            let p = match leaf {
                Some(Leaf::Pte(_, pte)) => pte.present().filter(|p| p.pfn == pfn),
                Some(Leaf::Pmd(_, pte)) => pte.present().filter(|p| (p.pfn..p.pfn + PAGES_PER_HPAGE).contains(&pfn)),
                None => None,
            };
            match p {
                Some(p) => p.write && p.dirty,
                None => classic,
            }
        })
    }
}

//! The fully associative TLB (MICROARCH §3, §5 lookup, §6.1 install target).

use gru_abi::{overlap, TlbEntry};

/// Result of a lookup.
pub(super) struct Lookup {
    /// Lowest matching entry.
    pub hit: Option<usize>,
    /// More than one entry matched.
    pub multi: bool,
}

/// The entries and the replacement pointer `rr_q`.
pub(super) struct Tlb {
    pub entries: Vec<TlbEntry>,
    rr: usize,
}

impl Tlb {
    pub fn new(n: usize) -> Self {
        Tlb { entries: vec![TlbEntry::default(); n], rr: 0 }
    }

    pub fn reset(&mut self) {
        self.entries.fill(TlbEntry::default());
        self.rr = 0;
    }

    /// Entry `i` as the debug port shows it (0 beyond the last entry).
    pub fn dbg(&self, i: usize) -> [u64; 2] {
        self.entries.get(i).map_or([0; 2], TlbEntry::dbg_words)
    }

    /// §5 match: same ctx and ASID, and `vpn` inside the entry's page.
    pub fn lookup(&self, ctx: u8, asid: u32, vpn: u64) -> Lookup {
        let mut m = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.hits(ctx, asid, vpn));
        let hit = m.next().map(|(i, _)| i);
        Lookup { hit, multi: hit.is_some() && m.next().is_some() }
    }

    /// §6.1 target of installing `new`: the lowest valid entry of the same ctx and ASID whose
    /// page overlaps, else the lowest invalid entry, else `rr_q` (which then advances).
    pub fn install_target(&mut self, new: &TlbEntry) -> usize {
        let r = new.vpn_range();
        let same = |e: &TlbEntry| e.valid && e.ctx == new.ctx && e.asid == new.asid && overlap(e.vpn_range(), r);
        if let Some(i) = self.entries.iter().position(same) {
            return i;
        }
        if let Some(i) = self.entries.iter().position(|e| !e.valid) {
            return i;
        }
        let i = self.rr;
        self.rr = (self.rr + 1) % self.entries.len();
        i
    }
}

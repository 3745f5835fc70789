//! The fully associative TLB (MICROARCH §3, §5 lookup, §6.1 install target).

use crate::handles::PAGE_SHIFTS;

/// One TLB entry as the hardware holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbEntry {
    /// The entry translates.
    pub valid: bool,
    /// Context number.
    pub ctx: u8,
    /// ASID (24 bits).
    pub asid: u32,
    /// vaddr[63:12], aligned down to the page size.
    pub vpn: u64,
    /// Page-size code (0..=8).
    pub ps: u8,
    /// Physical address >> 12 (41 bits).
    pub pfn: u64,
    /// Writable; a store to a clean entry faults with TLB_MOD.
    pub dirty: bool,
}

impl TlbEntry {
    /// log2 of the page size in 4K units.
    pub fn shift(&self) -> u32 {
        PAGE_SHIFTS[usize::from(self.ps)]
    }

    /// The entry's page as a half-open VPN range.
    pub(super) fn vpn_range(&self) -> (u64, u64) {
        (self.vpn, self.vpn + (1 << self.shift()))
    }

    /// The `dbg_tlb_entry_o` words: [0] valid, [4:1] ctx, [28:5] asid, [80:29] vpn,
    /// [84:81] ps, [125:85] pfn, [126] dirty.
    pub fn dbg_words(&self) -> [u64; 2] {
        let w = u128::from(self.valid)
            | u128::from(self.ctx & 0xf) << 1
            | u128::from(self.asid & 0xff_ffff) << 5
            | u128::from(self.vpn & ((1 << 52) - 1)) << 29
            | u128::from(self.ps & 0xf) << 81
            | u128::from(self.pfn & ((1 << 41) - 1)) << 85
            | u128::from(self.dirty) << 126;
        [w as u64, (w >> 64) as u64]
    }

    /// The entry a `dbg_tlb_entry_o` value shows (inverse of [`TlbEntry::dbg_words`]).
    pub fn from_dbg_words(words: [u64; 2]) -> Self {
        let w = u128::from(words[0]) | u128::from(words[1]) << 64;
        let bits = |lsb: u32, width: u32| (w >> lsb) as u64 & ((1u64 << width) - 1);
        TlbEntry {
            valid: bits(0, 1) != 0,
            ctx: bits(1, 4) as u8,
            asid: bits(5, 24) as u32,
            vpn: bits(29, 52),
            ps: bits(81, 4) as u8,
            pfn: bits(85, 41),
            dirty: bits(126, 1) != 0,
        }
    }
}

/// Half-open ranges `a` and `b` intersect (one comparison shared by install and purge).
pub(super) fn overlap(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

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
            .filter(|(_, e)| e.valid && e.ctx == ctx && e.asid == asid && vpn >> e.shift() == e.vpn >> e.shift());
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

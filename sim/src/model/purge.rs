//! TGHs, the purge FIFO and the purge engine (MICROARCH §7).

use super::stats::Counters;
use super::tlb::{overlap, Tlb, TlbEntry};
use crate::handles::{HandleStatus, PageSize, Stat, Tgh, TghOpc, TGH_FULL_PURGE_N};

/// Width of the purge compare keys, vaddr[50:12].
const KEY_MASK: u64 = (1 << 39) - 1;

/// The purge match of one TGH, precomputed from its fields.
struct Matcher {
    ctxbitmap: u16,
    global: bool,
    asid: u32,
    all: bool,
    vaddrmask: u64,
    /// Purge range `[s, e)` in masked-key units.
    range: (u64, u64),
}

impl Matcher {
    fn new(t: &Tgh) -> Self {
        // A pagesize code > 8 counts as 4K.
        let shift = PageSize::try_from(u64::from(t.pagesize)).map_or(0, PageSize::vpn_shift);
        let s = ((t.vaddr >> 12) & KEY_MASK & t.vaddrmask) >> shift << shift;
        Matcher {
            ctxbitmap: t.ctxbitmap,
            global: t.global,
            asid: t.asid,
            all: t.n == TGH_FULL_PURGE_N,
            vaddrmask: t.vaddrmask,
            range: (s, s + ((u64::from(t.n) + 1) << shift)),
        }
    }

    fn matches(&self, e: &TlbEntry) -> bool {
        let sh = e.shift();
        let es = (e.vpn & KEY_MASK & self.vaddrmask) >> sh << sh;
        e.valid
            && self.ctxbitmap >> e.ctx & 1 != 0
            && (self.global || e.asid == self.asid)
            && (self.all || overlap((es, es + (1 << sh)), self.range))
    }
}

/// What the purge engine does at this edge, decided from the pre-edge state.
pub(super) struct PurgeStep {
    /// First entry of the group.
    base: usize,
    /// Bit l: entry `base + l` is cleared.
    clear: u64,
    /// This is the head TGH's last group.
    last: bool,
}

/// The TGHs, the FIFO of started TGHs and `purge_idx_q`.
pub(super) struct Purge {
    pub tgh: Vec<Tgh>,
    /// Ring buffer of TGH indices; a TGH is in it at most once, so NUM_TGH slots suffice.
    fifo: Vec<usize>,
    head: usize,
    len: usize,
    purge_idx: usize,
    lanes: usize,
}

impl Purge {
    pub fn new(num_tgh: usize, lanes: usize) -> Self {
        Purge { tgh: vec![Tgh::default(); num_tgh], fifo: vec![0; num_tgh], head: 0, len: 0, purge_idx: 0, lanes }
    }

    pub fn reset(&mut self) {
        self.tgh.fill(Tgh::default());
        self.head = 0;
        self.len = 0;
        self.purge_idx = 0;
    }

    /// The engine's step for this edge (None while the FIFO is empty).
    pub fn plan(&self, tlb: &Tlb) -> Option<PurgeStep> {
        if self.len == 0 {
            return None;
        }
        let m = Matcher::new(&self.tgh[self.fifo[self.head]]);
        let base = self.purge_idx;
        let n = tlb.entries.len();
        let clear = tlb.entries[base..n.min(base + self.lanes)]
            .iter()
            .enumerate()
            .fold(0u64, |acc, (l, e)| acc | (u64::from(m.matches(e)) << l));
        Some(PurgeStep { base, clear, last: base + self.lanes >= n })
    }

    /// Applies a step: the TLB clears, then `purge_idx` and the completion of the head TGH.
    pub fn apply(&mut self, step: PurgeStep, tlb: &mut Tlb, stats: &mut Counters) {
        let mut c = step.clear;
        while c != 0 {
            tlb.entries[step.base + c.trailing_zeros() as usize].valid = false;
            c &= c - 1;
        }
        stats.add(Stat::Purged, step.clear.count_ones().into());
        if step.last {
            self.purge_idx = 0;
            self.tgh[self.fifo[self.head]].status = HandleStatus::Idle as u8;
            self.head = (self.head + 1) % self.fifo.len();
            self.len -= 1;
            stats.add(Stat::Purges, 1);
        } else {
            self.purge_idx += self.lanes;
        }
    }

    /// Starts TGH `g` with its (already written) fields. Returns the ctxbitmap whose pending
    /// TFHs go stale, for an INVALIDATE.
    pub fn start(&mut self, g: usize) -> Option<u16> {
        let t = &mut self.tgh[g];
        if t.opc == TghOpc::Invalidate as u8 {
            t.status = HandleStatus::Active as u8;
            let tail = (self.head + self.len) % self.fifo.len();
            self.fifo[tail] = g;
            self.len += 1;
            Some(t.ctxbitmap)
        } else {
            t.status = HandleStatus::Idle as u8;
            None
        }
    }

    /// An ACTIVE TGH covers context `ctx`: a miss latched now is born stale.
    pub fn covers(&self, ctx: usize) -> bool {
        self.tgh.iter().any(|t| t.status == HandleStatus::Active as u8 && t.ctxbitmap >> ctx & 1 != 0)
    }
}

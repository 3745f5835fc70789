//! TGHs, the purge FIFO and the purge engine (MICROARCH §7).

use super::stats::Counters;
use super::tlb::Tlb;
use crate::handles::{HandleStatus, PurgeMatch, Stat, Tgh, TghOpc};

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

    /// The FIFO is empty: the engine has nothing to step (MICROARCH §12).
    pub fn idle(&self) -> bool {
        self.len == 0
    }

    /// The engine's step for this edge (None while the FIFO is empty).
    pub fn plan(&self, tlb: &Tlb) -> Option<PurgeStep> {
        if self.len == 0 {
            return None;
        }
        let m = PurgeMatch::new(&self.tgh[self.fifo[self.head]]);
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

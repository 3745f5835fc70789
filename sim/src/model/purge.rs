//! TGHs, the purge queue and the purge engines (MICROARCH §7).

use super::stats::Counters;
use super::tlb::Tlb;
use super::PurgeTiming;
use crate::handles::{HandleStatus, PageSize, PurgeMatch, Stat, Tgh, TghCause, TghOpc};
use std::collections::VecDeque;

/// The tail PRNG's feedback: x^16 + x^14 + x^13 + x^11 + 1, Galois form, right shift.
const LFSR_TAPS: u16 = 0xB400;
/// The LFSR's state after reset with seed 0 (an LFSR must not hold 0).
const LFSR_ZERO_SEED: u16 = 0xACE1;

/// The PRNG state after reset with `seed` (MICROARCH §3).
pub(super) fn lfsr_seed(seed: u16) -> u16 {
    if seed == 0 {
        LFSR_ZERO_SEED
    } else {
        seed
    }
}

/// Eight steps of the PRNG: the state after one draw.
pub(super) fn lfsr_next8(mut x: u16) -> u16 {
    for _ in 0..8 {
        x = (x >> 1) ^ if x & 1 != 0 { LFSR_TAPS } else { 0 };
    }
    x
}

/// The tail count of draw `r`: trailing one bits of `r[7:0]`, 0..=8 (geometric).
pub(super) fn tail_steps(r: u16) -> u32 {
    (!(r as u8)).trailing_zeros()
}

/// One purge engine (MICROARCH §3): busy with TGH `tgh`, scanning from group `idx` or, when
/// `scan` is false, waiting `wait` more cycles.
#[derive(Clone, Copy, Debug, Default)]
struct Engine {
    busy: bool,
    scan: bool,
    tgh: usize,
    idx: usize,
    wait: u32,
}

/// What one engine does at this edge, decided from the pre-edge state.
struct EngineStep {
    /// The engine.
    e: usize,
    /// Its TGH.
    tgh: usize,
    /// The scanned group: first entry and the lanes that clear (None while waiting).
    group: Option<(usize, u64)>,
    /// Its wait after this edge (the scan's `w`, or the decremented wait).
    wait: u32,
    /// The TGH completes at this edge.
    complete: bool,
    /// It was dispatched at this edge.
    dispatched: bool,
}

/// What the purge engines do at this edge.
pub(super) struct PurgeStep {
    engines: Vec<EngineStep>,
}

/// The TGHs, the queue of started TGHs, the engines and the tail PRNG.
pub(super) struct Purge {
    pub tgh: Vec<Tgh>,
    /// Started TGHs not yet taken by an engine; a TGH is in it or in an engine at most once.
    queue: VecDeque<usize>,
    engines: Vec<Engine>,
    lfsr: u16,
    lanes: usize,
    timing: PurgeTiming,
}

impl Purge {
    pub fn new(num_tgh: usize, lanes: usize, timing: PurgeTiming) -> Self {
        Purge {
            tgh: vec![Tgh::default(); num_tgh],
            queue: VecDeque::with_capacity(num_tgh),
            engines: vec![Engine::default(); timing.engines],
            lfsr: lfsr_seed(0),
            lanes,
            timing,
        }
    }

    /// Reset with the PRNG seed on `purge_seed_i`.
    pub fn reset(&mut self, seed: u16) {
        self.tgh.fill(Tgh::default());
        self.queue.clear();
        self.engines.fill(Engine::default());
        self.lfsr = lfsr_seed(seed);
    }

    /// The queue is empty and no engine is busy: nothing steps (MICROARCH §12).
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.engines.iter().all(|e| !e.busy)
    }

    /// The engines' steps for this edge (None while idle).
    pub fn plan(&self, tlb: &Tlb) -> Option<PurgeStep> {
        if self.idle() {
            return None;
        }
        let t = self.timing;
        let n = tlb.entries.len();
        let dispatch = self.queue.front().and_then(|&g| Some((self.engines.iter().position(|e| !e.busy)?, g)));
        let mut engines = Vec::new();
        for (i, eng) in self.engines.iter().enumerate() {
            let (tgh, idx, wait, dispatched) = match dispatch {
                Some((d, g)) if d == i => (g, 0, t.base + t.tail * tail_steps(self.lfsr), true),
                _ if eng.busy && eng.scan => (eng.tgh, eng.idx, eng.wait, false),
                _ if eng.busy => {
                    engines.push(EngineStep { e: i, tgh: eng.tgh, group: None, wait: eng.wait - 1, complete: eng.wait == 1, dispatched: false });
                    continue;
                }
                _ => continue,
            };
            let m = PurgeMatch::new(&self.tgh[tgh]);
            let clear = tlb.entries[idx..n.min(idx + self.lanes)]
                .iter()
                .enumerate()
                .fold(0u64, |acc, (l, e)| acc | (u64::from(m.matches(e)) << l));
            let w = wait + t.entry * clear.count_ones();
            let last = idx + self.lanes >= n;
            engines.push(EngineStep { e: i, tgh, group: Some((idx, clear)), wait: w, complete: last && w == 0, dispatched });
        }
        Some(PurgeStep { engines })
    }

    /// Applies a step: the TLB clears, the engines' progress, completions and the dispatch.
    pub fn apply(&mut self, step: PurgeStep, tlb: &mut Tlb, stats: &mut Counters) {
        let mut cleared = Vec::new();
        for s in &step.engines {
            if let Some((base, mut c)) = s.group {
                while c != 0 {
                    let i = base + c.trailing_zeros() as usize;
                    tlb.entries[i].valid = false;
                    cleared.push(i);
                    c &= c - 1;
                }
            }
        }
        // Entries cleared at this edge, each once however many engines cleared it.
        cleared.sort_unstable();
        cleared.dedup();
        let purged = cleared.len() as u64;
        stats.add(Stat::Purged, purged);
        for s in step.engines {
            if s.dispatched {
                self.queue.pop_front();
                self.lfsr = lfsr_next8(self.lfsr);
            }
            let eng = &mut self.engines[s.e];
            *eng = match s.group {
                Some((base, _)) if base + self.lanes < tlb.entries.len() => {
                    Engine { busy: true, scan: true, tgh: s.tgh, idx: base + self.lanes, wait: s.wait }
                }
                _ => Engine { busy: !s.complete, scan: false, tgh: s.tgh, idx: 0, wait: s.wait },
            };
            if s.complete {
                self.tgh[s.tgh].status = HandleStatus::Idle as u8;
                stats.add(Stat::Purges, 1);
            }
        }
    }

    /// Starts TGH `g` with its (already written) fields. Returns the ctxbitmap whose pending
    /// TFHs go stale, for an INVALIDATE the chip takes; an INVALIDATE with a page-size code
    /// above 8 is refused (EXCEPTION, cause PAGESIZE).
    pub fn start(&mut self, g: usize) -> Option<u16> {
        let t = &mut self.tgh[g];
        t.cause = 0;
        if t.opc != TghOpc::Invalidate as u8 {
            t.status = HandleStatus::Idle as u8;
            None
        } else if t.pagesize > PageSize::P64M as u8 {
            t.status = HandleStatus::Exception as u8;
            t.cause = TghCause::Pagesize as u8;
            None
        } else {
            t.status = HandleStatus::Active as u8;
            self.queue.push_back(g);
            Some(t.ctxbitmap)
        }
    }

    /// An ACTIVE TGH covers context `ctx`: a miss latched now is born stale.
    pub fn covers(&self, ctx: usize) -> bool {
        self.tgh.iter().any(|t| t.status == HandleStatus::Active as u8 && t.ctxbitmap >> ctx & 1 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_geometric_and_the_prng_never_sticks() {
        // Over the LFSR's whole period every state but 0 is visited once, so the tail counts
        // follow 2^-(k+1) up to the period's rounding.
        let mut x = lfsr_seed(0);
        let mut counts = [0u32; 9];
        for _ in 0..65535 {
            counts[tail_steps(x) as usize] += 1;
            x = lfsr_next8(x);
            assert_ne!(x, 0);
        }
        assert_eq!(x, lfsr_seed(0), "eight steps per draw keep the full period (65535 is odd)");
        assert_eq!(counts[0], 32767, "the low byte 0 occurs once less: the state 0 is never visited");
        assert_eq!(counts[1], 16384);
        assert_eq!(counts[8], 256);
        assert_eq!(tail_steps(0x00ff), 8);
        assert_eq!(tail_steps(0x0007), 3);
    }
}

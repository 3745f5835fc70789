//! The cycle-accurate reference model of `gru_chiplet` (docs/MICROARCH.md).
//!
//! One submodule per RTL unit. Each edge first takes every decision that MICROARCH §9 bases on
//! the pre-edge state (sync completion, purge step, CB engine, MMIO), then merges the effects in
//! the §9 order — the `_q`/`_d` split of the RTL, spelled out.

mod cb_engine;
mod cch;
mod mmio;
mod purge;
mod stats;
mod tfh;
mod tfm;
mod tlb;

pub use gru_abi::TlbEntry;

use crate::handles::{Stat, Stats};
use crate::ports::{Activity, ChipState, CycleModel, PortsIn, PortsOut};
use cb_engine::Engine;
use cch::Cchs;
use mmio::MmioFx;
use purge::Purge;
use stats::Counters;
use tfh::Tfhs;
use tfm::Tfms;
use tlb::Tlb;

/// The chiplet's parameters (MICROARCH §0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Contexts (CCHs), a power of two, at most 16.
    pub num_ctx: usize,
    /// CBRs (TFHs), a power of two, at least `num_ctx`, at most 128.
    pub num_cbr: usize,
    /// TGHs, at most 256.
    pub num_tgh: usize,
    /// Fault maps (and interrupt lines), at most 16.
    pub num_tfm: usize,
    /// TLB entries, a power of two, at most 256.
    pub tlb_entries: usize,
    /// Entries a purge engine examines per cycle, at most 64.
    pub purge_lanes: usize,
    /// How long a purge takes and how many run at once (MICROARCH §7).
    pub purge: PurgeTiming,
}

/// The purge timing parameters (MICROARCH §7), the Verilog parameters `PURGE_ENGINES`,
/// `PURGE_BASE`, `PURGE_ENTRY` and `PURGE_TAIL` of `gru_chiplet`. A TGH dispatched to an engine
/// completes `TLB_ENTRIES / PURGE_LANES - 1 + base + entry × (entries it cleared) + tail × t`
/// edges later, `t` a geometric count 0..=8 drawn from the chip's seeded PRNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgeTiming {
    /// Engines purging concurrently, 1..=8.
    pub engines: usize,
    /// Cycles added to every purge.
    pub base: u32,
    /// Cycles per entry a purge clears.
    pub entry: u32,
    /// Cycles per step of the pseudo-random tail.
    pub tail: u32,
}

impl PurgeTiming {
    /// One engine, the scan only: `TLB_ENTRIES / PURGE_LANES` cycles per TGH (the RTL's
    /// default parameters).
    pub const FIXED: PurgeTiming = PurgeTiming { engines: 1, base: 0, entry: 0, tail: 0 };
    /// Four engines, 250 cycles (0.5 µs at the nominal 500 MHz) plus 4 per entry cleared plus a
    /// tail of 128 cycles per step: a flush of microseconds with variable tails (the RTL
    /// variant `Vgru_variable`).
    pub const VARIABLE: PurgeTiming = PurgeTiming { engines: 4, base: 250, entry: 4, tail: 128 };
}

impl Default for PurgeTiming {
    fn default() -> Self {
        Self::FIXED
    }
}

impl Default for Params {
    fn default() -> Self {
        Params { num_ctx: 16, num_cbr: 128, num_tgh: 24, num_tfm: 16, tlb_entries: 128, purge_lanes: 8, purge: PurgeTiming::FIXED }
    }
}

impl Params {
    /// CBRs per context; `ctx(cbr) = cbr / cbr_per_ctx`.
    pub fn cbr_per_ctx(&self) -> usize {
        self.num_cbr / self.num_ctx
    }

    /// Checks the limits the port and field widths impose.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let range = |name, value: usize, max| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(ParamsError::Range { name, value, max })
            }
        };
        range("num_ctx", self.num_ctx, 16)?;
        range("num_cbr", self.num_cbr, 128)?;
        range("num_tgh", self.num_tgh, 256)?;
        range("num_tfm", self.num_tfm, 16)?;
        range("tlb_entries", self.tlb_entries, 256)?;
        range("purge_lanes", self.purge_lanes, 64)?;
        range("purge.engines", self.purge.engines, 8)?;
        // The RTL slices indices to $clog2 bits: these three must be powers of two.
        for (name, value) in [("num_ctx", self.num_ctx), ("num_cbr", self.num_cbr), ("tlb_entries", self.tlb_entries)] {
            if !value.is_power_of_two() {
                return Err(ParamsError::NotPowerOfTwo { name, value });
            }
        }
        if self.num_cbr < self.num_ctx {
            return Err(ParamsError::CbrSplit { num_cbr: self.num_cbr, num_ctx: self.num_ctx });
        }
        Ok(())
    }
}

/// Parameters the chiplet cannot have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A parameter outside 1..=max.
    #[error("{name} = {value} is outside 1..={max}")]
    Range {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: usize,
        /// Its largest allowed value.
        max: usize,
    },
    /// Fewer CBRs than contexts.
    #[error("num_cbr = {num_cbr} is less than num_ctx = {num_ctx}")]
    CbrSplit {
        /// CBRs asked for.
        num_cbr: usize,
        /// Contexts asked for.
        num_ctx: usize,
    },
    /// A parameter the RTL indexes with $clog2 bits is not a power of two.
    #[error("{name} = {value} is not a power of two")]
    NotPowerOfTwo {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: usize,
    },
}

/// The reference model: [`CycleModel`] with the RTL's cycle behaviour.
pub struct RefModel {
    params: Params,
    tlb: Tlb,
    purge: Purge,
    tfh: Tfhs,
    tfm: Tfms,
    cch: Cchs,
    engine: Engine,
    stats: Counters,
    out: PortsOut,
    cycles: u64,
    /// The CBR whose miss latched at the last edge (benchmark probe).
    last_miss: Option<usize>,
}

impl RefModel {
    /// A model in its reset state.
    ///
    /// # Panics
    /// If `params` fail [`Params::validate`]; use [`RefModel::try_new`] for parameters from input.
    pub fn new(params: Params) -> Self {
        Self::try_new(params).unwrap_or_else(|e| panic!("invalid chiplet parameters: {e}"))
    }

    /// A model in its reset state, or why `params` are impossible.
    pub fn try_new(params: Params) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(RefModel {
            params,
            tlb: Tlb::new(params.tlb_entries),
            purge: Purge::new(params.num_tgh, params.purge_lanes, params.purge),
            tfh: Tfhs::new(params.num_cbr),
            tfm: Tfms::new(params.num_tfm),
            cch: Cchs::new(params.num_ctx),
            engine: Engine::new(params.num_cbr, params.cbr_per_ctx()),
            stats: Counters::default(),
            out: PortsOut { mmio_req_ready: true, cb_req_ready: true, ..PortsOut::default() },
            cycles: 0,
            last_miss: None,
        })
    }

    /// The parameters the model was built with.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// TLB entry `i` (an invalid entry beyond the last, like the debug port).
    pub fn tlb_entry(&self, i: usize) -> TlbEntry {
        self.tlb.entries.get(i).copied().unwrap_or_default()
    }

    /// The CBR whose miss (TLB_MISS or TLB_MOD) latched in its TFH at the last edge, if any.
    pub fn last_miss(&self) -> Option<usize> {
        self.last_miss
    }

    /// Lookups so far that matched more than one entry (DESIGN §3.3 allows at most one).
    pub fn multi_match_violations(&self) -> u64 {
        self.engine.multi_match
    }

    /// MICROARCH §12: with idle inputs the next edge changes nothing (the RTL's `quiet_o`).
    fn quiet(&self) -> bool {
        self.engine.ready()
            && !self.out.cb_cmp_valid
            && !self.out.mem_req_valid
            && !self.out.mmio_rsp_valid
            && self.purge.idle()
            && self.cch.sync_wait() == 0
    }

    fn reset(&mut self, purge_seed: u16) {
        self.tlb.reset();
        self.purge.reset(purge_seed);
        self.tfh.reset();
        self.tfm.reset();
        self.cch.reset();
        self.engine.reset();
        self.stats = Counters::default();
        self.out = PortsOut { mmio_req_ready: true, ..PortsOut::default() };
    }

    /// One edge out of reset, in the order of MICROARCH §9.
    fn edge(&mut self, inp: &PortsIn) {
        // §9.2: from the pre-edge state.
        let sync_done = self.cch.sync_done(&self.engine);
        let purge = self.purge.plan(&self.tlb);
        // §9.4 runs before §9.3 in code: the engine reads TLB/CCH/TGH state that the MMIO
        // request may change, and hands its writes to other units (TFH latch, TFM bit, counter)
        // to the merge, so a STAT or TFM read still sees pre-edge values. Its own pend clears
        // thereby precede the request's pend sets, as §9.5 orders.
        let eng = self.engine.step(inp, &self.tlb, &self.cch, &self.purge, &mut self.out);
        // §9.3: the response registers; an err response has no effect but the counter.
        let (err, data, mmio) = match inp.mmio_req_valid.then(|| self.mmio(inp)) {
            None => (false, [0; 8], MmioFx::default()),
            Some(Ok((data, fx))) => (false, data, fx),
            Some(Err(_)) => {
                self.stats.add(Stat::MmioErrors, 1);
                (true, [0; 8], MmioFx::default())
            }
        };
        self.out.mmio_rsp_valid = inp.mmio_req_valid;
        self.out.mmio_rsp_err = err;
        self.out.mmio_rsp_data = data;
        // §9.5 merge.
        if let Some(step) = purge {
            self.purge.apply(step, &mut self.tlb, &mut self.stats);
        }
        if let Some((i, e)) = mmio.install {
            self.tlb.entries[i] = e;
        }
        self.cch.apply_sync(sync_done);
        if let Some(s) = eng.tfm {
            self.tfm.set(s);
        }
        self.last_miss = eng.latch.as_ref().map(|l| l.cbr);
        if let Some(l) = eng.latch {
            self.tfh.latch(l);
        }
        if let Some(s) = eng.stat {
            self.stats.add(s, 1);
        }
        if let Some(b) = mmio.stale_mark {
            self.tfh.mark_stale(b);
        }
    }
}

impl CycleModel for RefModel {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        self.cycles += 1;
        self.last_miss = None;
        if inp.rst_n {
            self.edge(inp);
        } else {
            self.reset(inp.purge_seed);
        }
        self.out.cb_req_ready = self.engine.ready();
        self.out.irq = self.tfm.irq(self.cch.int_enabled_cbrs(self.params.cbr_per_ctx()));
        self.out.dbg_tlb_entry = self.tlb.dbg(inp.dbg_tlb_idx.into());
        self.out.quiet = self.quiet();
        &self.out
    }

    fn idle(&mut self, _inp: &PortsIn, n: u64) {
        self.cycles += n;
    }

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn peek_tlb(&mut self, idx: u8) -> [u64; 2] {
        self.tlb.dbg(idx.into())
    }

    fn chip_state(&mut self) -> ChipState {
        let (busy, restart_pend, cmp_pend) = self.engine.masks();
        ChipState {
            tlb: self.tlb.entries.clone(),
            cch: self.cch.cch.clone(),
            tfh: self.tfh.tfh.clone(),
            tgh: self.purge.tgh.clone(),
            tfm: self.tfm.tfm.clone(),
            stats: Stats::decode(&self.stats.line()),
            sync_wait: self.cch.sync_wait(),
            busy,
            restart_pend,
            cmp_pend,
        }
    }

    fn tlb_state(&mut self) -> Vec<TlbEntry> {
        self.tlb.entries.clone()
    }

    fn activity(&mut self) -> Activity {
        let line = self.stats.line();
        let latches = line[Stat::Misses as usize] + line[Stat::TlbMod as usize];
        Activity::from_parts(&self.purge.tgh, &self.tfh.tfh, latches, line[Stat::Stale as usize])
    }
}

#[cfg(test)]
mod tests;

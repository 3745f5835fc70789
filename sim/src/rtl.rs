//! The Verilated RTL behind [`CycleModel`]: a C++ harness owns the model and its
//! `VerilatedContext`, and one FFI call per cycle moves every port.
//!
//! One library holds several model variants (build.rs): the RTL as designed with FST or VCD
//! tracing ([`Rtl::new`]), and one FST-traced variant per RTL mutant ([`Rtl::with_mutant`]).

use crate::handles;
use crate::model::{Params, PurgeTiming, TlbEntry};
use crate::mutant::RtlMutant;
use crate::ports::{Activity, ChipState, CycleModel, EvalCount, PortsIn, PortsOut};
use std::path::Path;

// BUILT_MUTANT_DEFINES: the GRU_MUTANT_ defines found in rtl/, one model variant each.
include!(concat!(env!("OUT_DIR"), "/rtl_variants.rs"));

#[cxx::bridge(namespace = "gru")]
mod ffi {
    /// The state registers of `gru_chiplet` (docs/MICROARCH.md §3) as the harness copies them
    /// out of the Verilated model: each the register's flat vector in 32-bit words, least
    /// significant first (`<unit>_q` in rtl/; element i of a per-handle vector at bits
    /// `[i*W +: W]`).
    #[derive(Default)]
    struct RtlRegs {
        tlb_valid: Vec<u32>,
        tlb_ctx: Vec<u32>,
        tlb_asid: Vec<u32>,
        tlb_vpn: Vec<u32>,
        tlb_ps: Vec<u32>,
        tlb_pfn: Vec<u32>,
        tlb_dirty: Vec<u32>,
        tgh_status: Vec<u32>,
        tgh_opc: Vec<u32>,
        tgh_delresp: Vec<u32>,
        tgh_vaddr: Vec<u32>,
        tgh_asid: Vec<u32>,
        tgh_pagesize: Vec<u32>,
        tgh_global: Vec<u32>,
        tgh_vaddrmask: Vec<u32>,
        tgh_n: Vec<u32>,
        tgh_ctxbitmap: Vec<u32>,
        tgh_cause: Vec<u32>,
        tfh_status: Vec<u32>,
        tfh_state: Vec<u32>,
        tfh_cause: Vec<u32>,
        tfh_stale: Vec<u32>,
        tfh_missvaddr: Vec<u32>,
        tfh_missasid: Vec<u32>,
        tfh_ctxnum: Vec<u32>,
        tfh_opc: Vec<u32>,
        tfh_delresp: Vec<u32>,
        tfh_fillasid: Vec<u32>,
        tfh_dirty: Vec<u32>,
        tfh_gaa: Vec<u32>,
        tfh_pfn: Vec<u32>,
        tfh_pagesize: Vec<u32>,
        tfh_fillvaddr: Vec<u32>,
        cch_status: Vec<u32>,
        cch_state: Vec<u32>,
        cch_sync_wait: Vec<u32>,
        cch_opc: Vec<u32>,
        cch_delresp: Vec<u32>,
        cch_tfm_fault_bit_enable: Vec<u32>,
        cch_tlb_int_enable: Vec<u32>,
        cch_tlb_int_select: Vec<u32>,
        cch_unmap_enable: Vec<u32>,
        cch_asid: Vec<u32>,
        cch_sizeavail: Vec<u32>,
        tfm_fault: Vec<u32>,
        tfm_done: Vec<u32>,
        busy: Vec<u32>,
        restart_pend: Vec<u32>,
        cmp_pend: Vec<u32>,
        stat_hits: Vec<u32>,
        stat_misses: Vec<u32>,
        stat_tlbmod: Vec<u32>,
        stat_dropins: Vec<u32>,
        stat_stale: Vec<u32>,
        stat_purges: Vec<u32>,
        stat_purged: Vec<u32>,
        stat_mmio_errors: Vec<u32>,
    }

    unsafe extern "C++" {
        include!("gru-sim/csrc/harness.h");
        type PortsIn = crate::ports::PortsIn;
        type PortsOut = crate::ports::PortsOut;
        type Harness;
        fn new_harness(vcd: bool) -> UniquePtr<Harness>;
        fn new_mutant_harness(define: &str) -> Result<UniquePtr<Harness>>;
        fn new_timing_harness(name: &str) -> Result<UniquePtr<Harness>>;
        fn cycle(self: Pin<&mut Harness>, inp: &PortsIn, out: &mut PortsOut);
        fn idle(self: Pin<&mut Harness>, n: u64);
        fn peek_tlb(self: Pin<&mut Harness>, idx: u8, out: &mut PortsOut);
        fn state(self: &Harness, parts: u8, out: &mut RtlRegs);
        fn clock_evals(self: &Harness) -> u64;
        fn debug_evals(self: &Harness) -> u64;
        fn open_trace(self: Pin<&mut Harness>, path: &str) -> Result<()>;
        fn close_trace(self: Pin<&mut Harness>);
        fn pause_trace(self: Pin<&mut Harness>, paused: bool);
        fn replay(self: Pin<&mut Harness>, inputs: &[PortsIn]) -> u64;
        type Fleet;
        fn new_fleet(chiplets: usize) -> UniquePtr<Fleet>;
        fn replay_all(self: Pin<&mut Fleet>, inputs: &[PortsIn]) -> u64;
    }
}

/// Waveform format of a model variant; Verilator 5.006 builds one format into a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WaveFormat {
    /// Compressed FST (GTKWave, Surfer); the default.
    #[default]
    Fst,
    /// Plain VCD.
    Vcd,
}

impl WaveFormat {
    /// File extension of a dump in this format.
    pub fn extension(self) -> &'static str {
        match self {
            WaveFormat::Fst => "fst",
            WaveFormat::Vcd => "vcd",
        }
    }
}

/// Errors of the RTL harness.
#[derive(Debug, thiserror::Error)]
pub enum RtlError {
    /// The waveform file could not be created.
    #[error("cannot open waveform {path}: {msg}")]
    Trace {
        /// The file asked for.
        path: String,
        /// What the trace writer said.
        msg: String,
    },
    /// Mutant variants are built with FST tracing only.
    #[error("RTL mutant {mutant} is built with FST tracing only; use --waves fst or none")]
    MutantNeedsFst {
        /// The mutant asked for.
        mutant: RtlMutant,
    },
    /// No model variant has this purge timing with this mutant and waveform format: build.rs
    /// builds the variable timing once, FST-traced, without mutants.
    #[error("no RTL model variant with purge timing {timing:?}{}: {msg}", .mutant.map_or(String::new(), |m| format!(" and mutant {m}")))]
    NoTimingVariant {
        /// The timing asked for.
        timing: PurgeTiming,
        /// The mutant asked for with it, if any.
        mutant: Option<RtlMutant>,
        /// Why not.
        msg: String,
    },
    /// The library holds no model for the mutant (build.rs and `RtlMutant` disagree).
    #[error("no RTL model variant for {mutant} ({define}): {msg}")]
    NoVariant {
        /// The mutant asked for.
        mutant: RtlMutant,
        /// Its Verilog define.
        define: &'static str,
        /// What the harness said.
        msg: String,
    },
}

/// The Verilated `gru_chiplet`. Must stay on the thread that built it (it is `!Send`).
pub struct Rtl {
    harness: cxx::UniquePtr<ffi::Harness>,
    out: PortsOut,
    cycles: u64,
    format: WaveFormat,
    mutant: Option<RtlMutant>,
    /// The parameters the variant was built with.
    params: Params,
    /// The buffer the harness copies registers into: kept, so that a copy (a monitor polls
    /// every cycle a purge runs) allocates nothing.
    regs: ffi::RtlRegs,
}

impl Rtl {
    /// Build a model able to dump waveforms in `format` (no file is open: full speed).
    pub fn new(format: WaveFormat) -> Self {
        let harness = ffi::new_harness(format == WaveFormat::Vcd);
        Rtl { harness, out: PortsOut::default(), cycles: 0, format, mutant: None, params: Params::default(), regs: ffi::RtlRegs::default() }
    }

    /// Build the variant of the RTL with `mutant` switched on (its `GRU_MUTANT_<NAME>` define),
    /// FST-traced, without rebuilding: build.rs compiles every mutant into the library. Mutant
    /// variants are compiled at -O1, so they run somewhat slower than [`Rtl::new`]'s.
    pub fn with_mutant(mutant: RtlMutant) -> Self {
        Self::variant(WaveFormat::Fst, Some(mutant)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The variant for a command line: `mutant` (if any) with waveforms in `format`. Fails if a
    /// mutant is asked for with VCD ([`RtlError::MutantNeedsFst`]).
    pub fn variant(format: WaveFormat, mutant: Option<RtlMutant>) -> Result<Self, RtlError> {
        let Some(m) = mutant else { return Ok(Self::new(format)) };
        if format != WaveFormat::Fst {
            return Err(RtlError::MutantNeedsFst { mutant: m });
        }
        let no_variant = |msg: String| RtlError::NoVariant { mutant: m, define: m.define(), msg };
        if !BUILT_MUTANT_DEFINES.contains(&m.define()) {
            return Err(no_variant(format!("rtl/ tests no such define (built: {})", BUILT_MUTANT_DEFINES.join(", "))));
        }
        let harness = ffi::new_mutant_harness(m.define()).map_err(|e| no_variant(e.what().to_string()))?;
        Ok(Rtl { harness, out: PortsOut::default(), cycles: 0, format, mutant: Some(m), params: Params::default(), regs: ffi::RtlRegs::default() })
    }

    /// The variant for a command line with a purge timing: [`Rtl::variant`] for
    /// [`PurgeTiming::FIXED`] (the Verilog defaults), `Vgru_variable` for
    /// [`PurgeTiming::VARIABLE`] (FST, no mutant); anything else is
    /// [`RtlError::NoTimingVariant`].
    pub fn build(format: WaveFormat, mutant: Option<RtlMutant>, timing: PurgeTiming) -> Result<Self, RtlError> {
        if timing == PurgeTiming::FIXED {
            return Self::variant(format, mutant);
        }
        let refuse = |msg: &str| RtlError::NoTimingVariant { timing, mutant, msg: msg.to_string() };
        if timing != variable_timing() {
            return Err(refuse("the build has the fixed and the variable timing only"));
        }
        if mutant.is_some() || format != WaveFormat::Fst {
            return Err(refuse("the variable timing is built once, FST-traced, without mutants"));
        }
        let harness = ffi::new_timing_harness("variable").map_err(|e| refuse(e.what()))?;
        let params = Params { purge: timing, ..Params::default() };
        Ok(Rtl { harness, out: PortsOut::default(), cycles: 0, format, mutant: None, params, regs: ffi::RtlRegs::default() })
    }

    /// The format [`Rtl::open_waves`] writes.
    pub fn wave_format(&self) -> WaveFormat {
        self.format
    }

    /// The mutant switched on in this model, if any.
    pub fn mutant(&self) -> Option<RtlMutant> {
        self.mutant
    }

    /// Start dumping every signal to `path` from the next cycle on. Time axis: cycle n's edge is
    /// at 2n+1 ns.
    pub fn open_waves(&mut self, path: &Path) -> Result<(), RtlError> {
        let p = path.to_string_lossy();
        self.harness
            .pin_mut()
            .open_trace(&p)
            .map_err(|e| RtlError::Trace { path: p.to_string(), msg: e.what().to_string() })
    }

    /// Benchmark baseline: run recorded `inputs` in a pure C++ loop; returns an output checksum.
    pub fn replay_cpp(&mut self, inputs: &[PortsIn]) -> u64 {
        let n = inputs.len() as u64;
        let sum = self.harness.pin_mut().replay(inputs);
        self.cycles += n;
        sum
    }

    /// Stop dumping and flush the file.
    pub fn close_waves(&mut self) {
        self.harness.pin_mut().close_trace();
    }

    /// Stop (`true`) or resume writing cycles to the open dump, so that one file holds several
    /// windows of a run; viewers draw the last values across a gap.
    pub fn pause_waves(&mut self, paused: bool) {
        self.harness.pin_mut().pause_trace(paused);
    }
}

/// Which registers [`ffi::Harness::state`] copies.
const PART_TLB: u8 = 1;
const PART_OTHER: u8 = 2;
/// The registers of [`Activity`]: TGH status, TFH state, the miss counters.
const PART_ACTIVITY: u8 = 4;

/// Widths of the TLB entry fields (rtl/gru_defs.vh `TLB_*_W`, docs/MICROARCH.md §3).
const TLB_CTX_W: usize = 4;
const TLB_ASID_W: usize = 24;
const TLB_VPN_W: usize = 52;
const TLB_PS_W: usize = 4;
const TLB_PFN_W: usize = 41;

/// Bits `[lsb, lsb + width)` (width at most 64) of a register copied as 32-bit words; bits
/// beyond the copy read 0.
fn bits(v: &[u32], lsb: usize, width: usize) -> u64 {
    let mut r = 0u64;
    let mut got = 0;
    while got < width {
        let pos = lsb + got;
        let take = (32 - pos % 32).min(width - got);
        let w = u64::from(v.get(pos / 32).copied().unwrap_or(0) >> (pos % 32));
        r |= (w & ((1u64 << take) - 1)) << got;
        got += take;
    }
    r
}

/// Element `i` of a per-handle register of `width`-bit elements (`[i*width +: width]`).
fn elem(v: &[u32], i: usize, width: usize) -> u64 {
    bits(v, i * width, width)
}

/// Bit `i` of a register.
fn bit(v: &[u32], i: usize) -> bool {
    bits(v, i, 1) != 0
}

/// 128 bits from bit `lsb` of a register.
fn wide128(v: &[u32], lsb: usize) -> u128 {
    u128::from(bits(v, lsb, 64)) | u128::from(bits(v, lsb + 64, 64)) << 64
}

/// The field's width, as an index step.
fn w(f: handles::Field) -> usize {
    f.width as usize
}

impl ffi::RtlRegs {
    /// The TLB entries (`n` of them).
    fn tlb(&self, n: usize) -> Vec<TlbEntry> {
        (0..n)
            .map(|i| TlbEntry {
                valid: bit(&self.tlb_valid, i),
                ctx: elem(&self.tlb_ctx, i, TLB_CTX_W) as u8,
                asid: elem(&self.tlb_asid, i, TLB_ASID_W) as u32,
                vpn: elem(&self.tlb_vpn, i, TLB_VPN_W),
                ps: elem(&self.tlb_ps, i, TLB_PS_W) as u8,
                pfn: elem(&self.tlb_pfn, i, TLB_PFN_W),
                dirty: bit(&self.tlb_dirty, i),
            })
            .collect()
    }

    /// Every part of the state but the TLB, for parameters `p`.
    fn state(&self, p: &Params) -> ChipState {
        use handles::*;
        let (st, sa) = (w(HDL_STATUS), w(HDL_STATE));
        let tgh = (0..p.num_tgh)
            .map(|g| Tgh {
                delresp: bit(&self.tgh_delresp, g),
                opc: elem(&self.tgh_opc, g, w(TGH_OPC)) as u8,
                status: elem(&self.tgh_status, g, st) as u8,
                state: 0,
                cause: elem(&self.tgh_cause, g, w(TGH_CAUSE)) as u8,
                vaddr: elem(&self.tgh_vaddr, g, w(TGH_VADDR)),
                asid: elem(&self.tgh_asid, g, w(TGH_ASID)) as u32,
                pagesize: elem(&self.tgh_pagesize, g, w(TGH_PAGESIZE)) as u8,
                global: bit(&self.tgh_global, g),
                vaddrmask: elem(&self.tgh_vaddrmask, g, w(TGH_VADDRMASK)),
                n: elem(&self.tgh_n, g, w(TGH_N)) as u16,
                ctxbitmap: elem(&self.tgh_ctxbitmap, g, w(TGH_CTXBITMAP)) as u16,
            })
            .collect();
        let tfh = (0..p.num_cbr)
            .map(|t| Tfh {
                delresp: bit(&self.tfh_delresp, t),
                opc: elem(&self.tfh_opc, t, w(TFH_OPC)) as u8,
                status: elem(&self.tfh_status, t, st) as u8,
                state: elem(&self.tfh_state, t, sa) as u8,
                cause: elem(&self.tfh_cause, t, w(TFH_CAUSE)) as u8,
                indexway: 0,
                ctxnum: elem(&self.tfh_ctxnum, t, w(TFH_CTXNUM)) as u8,
                missvaddr: elem(&self.tfh_missvaddr, t, w(TFH_MISSVADDR)),
                missasid: elem(&self.tfh_missasid, t, w(TFH_MISSASID)) as u32,
                fillasid: elem(&self.tfh_fillasid, t, w(TFH_FILLASID)) as u32,
                dirty: bit(&self.tfh_dirty, t),
                gaa: elem(&self.tfh_gaa, t, w(TFH_GAA)) as u8,
                pfn: elem(&self.tfh_pfn, t, w(TFH_PFN)),
                pagesize: elem(&self.tfh_pagesize, t, w(TFH_PAGESIZE)) as u8,
                fillvaddr: elem(&self.tfh_fillvaddr, t, w(TFH_FILLVADDR)),
                stale: bit(&self.tfh_stale, t),
            })
            .collect();
        // Per context: the eight ASIDs and sizeavail masks side by side.
        let (aw, sw) = (w(CCH_ASID[0]), w(CCH_SIZEAVAIL[0]));
        let cch = (0..p.num_ctx)
            .map(|c| Cch {
                delresp: bit(&self.cch_delresp, c),
                opc: elem(&self.cch_opc, c, w(CCH_OPC)) as u8,
                status: elem(&self.cch_status, c, st) as u8,
                state: elem(&self.cch_state, c, sa) as u8,
                tfm_fault_bit_enable: bit(&self.cch_tfm_fault_bit_enable, c),
                tlb_int_enable: bit(&self.cch_tlb_int_enable, c),
                tlb_int_select: elem(&self.cch_tlb_int_select, c, w(CCH_TLB_INT_SELECT)) as u8,
                unmap_enable: bit(&self.cch_unmap_enable, c),
                asid: std::array::from_fn(|k| elem(&self.cch_asid, c * 8 + k, aw) as u32),
                sizeavail: std::array::from_fn(|k| elem(&self.cch_sizeavail, c * 8 + k, sw) as u16),
            })
            .collect();
        let tfm = (0..p.num_tfm)
            .map(|m| Tfm {
                fault: wide128(&self.tfm_fault, m * p.num_cbr) & cbr_mask(p),
                done: wide128(&self.tfm_done, m * p.num_cbr) & cbr_mask(p),
            })
            .collect();
        let q = |v: &[u32]| bits(v, 0, 64);
        ChipState {
            tlb: Vec::new(),
            cch,
            tfh,
            tgh,
            tfm,
            stats: Stats {
                hits: q(&self.stat_hits),
                misses: q(&self.stat_misses),
                tlbmod: q(&self.stat_tlbmod),
                dropins: q(&self.stat_dropins),
                stale: q(&self.stat_stale),
                purges: q(&self.stat_purges),
                purged: q(&self.stat_purged),
                mmio_errors: q(&self.stat_mmio_errors),
            },
            sync_wait: bits(&self.cch_sync_wait, 0, p.num_ctx) as u32,
            busy: wide128(&self.busy, 0) & cbr_mask(p),
            restart_pend: wide128(&self.restart_pend, 0) & cbr_mask(p),
            cmp_pend: wide128(&self.cmp_pend, 0) & cbr_mask(p),
        }
    }
}

impl ffi::RtlRegs {
    /// The [`Activity`] of a `PART_ACTIVITY` copy, for parameters `p`.
    fn activity(&self, p: &Params) -> Activity {
        use handles::{HandleStatus, TfhState};
        let st = w(handles::HDL_STATUS);
        let sa = w(handles::HDL_STATE);
        let active = |g: &usize| elem(&self.tgh_status, *g, st) == HandleStatus::Active as u64;
        let pending = |t: &usize| TfhState::try_from(elem(&self.tfh_state, *t, sa)).is_ok_and(TfhState::is_pending);
        Activity {
            tgh_active: (0..p.num_tgh).filter(active).fold(0, |m, g| m | 1 << g),
            tfh_pending: (0..p.num_cbr).filter(pending).fold(0, |m, t| m | 1 << t),
            latches: bits(&self.stat_misses, 0, 64) + bits(&self.stat_tlbmod, 0, 64),
            stale: bits(&self.stat_stale, 0, 64),
        }
    }
}

/// The purge timing of the `Vgru_variable` variant, as build.rs set its `-G` parameters
/// ([`PurgeTiming::FIXED`] in a build without it, a coverage build).
fn variable_timing() -> PurgeTiming {
    let get = |name: &str| BUILT_VARIABLE_TIMING.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
    match (get("PURGE_ENGINES"), get("PURGE_BASE"), get("PURGE_ENTRY"), get("PURGE_TAIL")) {
        (Some(engines), Some(base), Some(entry), Some(tail)) => PurgeTiming { engines: engines as usize, base, entry, tail },
        _ => PurgeTiming::FIXED,
    }
}

/// Bits of the CBRs that exist.
fn cbr_mask(p: &Params) -> u128 {
    u128::MAX >> (128 - p.num_cbr)
}

impl Rtl {
    /// The parameters the RTL is built with: the Verilog defaults (docs/MICROARCH.md §0), with
    /// the purge timing of its variant.
    pub fn params(&self) -> Params {
        self.params
    }
}

impl CycleModel for Rtl {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        self.harness.pin_mut().cycle(inp, &mut self.out);
        self.cycles += 1;
        &self.out
    }

    /// No evaluation unless a dump is being written (then every edge is dumped as it would be).
    fn idle(&mut self, _inp: &PortsIn, n: u64) {
        self.harness.pin_mut().idle(n);
        self.cycles += n;
    }

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn peek_tlb(&mut self, idx: u8) -> [u64; 2] {
        self.harness.pin_mut().peek_tlb(idx, &mut self.out);
        self.out.dbg_tlb_entry
    }

    fn chip_state(&mut self) -> ChipState {
        self.harness.state(PART_TLB | PART_OTHER, &mut self.regs);
        let p = self.params();
        ChipState { tlb: self.regs.tlb(p.tlb_entries), ..self.regs.state(&p) }
    }

    fn tlb_state(&mut self) -> Vec<TlbEntry> {
        self.harness.state(PART_TLB, &mut self.regs);
        self.regs.tlb(self.params().tlb_entries)
    }

    fn activity(&mut self) -> Activity {
        self.harness.state(PART_ACTIVITY, &mut self.regs);
        self.regs.activity(&self.params())
    }

    fn evals(&self) -> EvalCount {
        EvalCount { clock: self.harness.clock_evals(), debug: self.harness.debug_evals() }
    }
}

/// Benchmark baseline for a system of several chiplets: one Verilated model per chiplet, all
/// stepped by one pure C++ loop, every model every cycle. Must stay on the thread that built it.
pub struct RtlFleet {
    fleet: cxx::UniquePtr<ffi::Fleet>,
}

impl RtlFleet {
    /// `chiplets` models of the RTL as designed (no waveform).
    pub fn new(chiplets: usize) -> Self {
        RtlFleet { fleet: ffi::new_fleet(chiplets) }
    }

    /// Chiplet `c`'s recorded inputs `inputs[c]` laid out cycle by cycle, as
    /// [`RtlFleet::replay_cpp`] takes them; `None` unless every chiplet has as many cycles.
    pub fn interleave(inputs: &[Vec<PortsIn>]) -> Option<Vec<PortsIn>> {
        let cycles = inputs.first().map_or(0, Vec::len);
        if inputs.iter().any(|v| v.len() != cycles) {
            return None;
        }
        Some((0..cycles).flat_map(|i| inputs.iter().map(move |v| v[i].clone())).collect())
    }

    /// Replay `cycle_major` ([`RtlFleet::interleave`]d inputs of as many chiplets as this fleet
    /// has models) in a pure C++ loop; returns the sum of the checksums [`Rtl::replay_cpp`]
    /// returns for each chiplet's inputs. A trailing partial cycle is not run.
    pub fn replay_cpp(&mut self, cycle_major: &[PortsIn]) -> u64 {
        self.fleet.pin_mut().replay_all(cycle_major)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_variant_is_built_with_the_models_variable_timing() {
        assert_eq!(variable_timing(), PurgeTiming::VARIABLE, "sim/build.rs VARIABLE_TIMING and PurgeTiming::VARIABLE differ");
    }
}

//! The chiplet's ports as two plain structs, shared with the C++ harness through `cxx`.
//!
//! One call per cycle carries every input and returns every output (DESIGN §2: one FFI call per
//! port would cost ~40%). Wide ports are arrays of 64-bit words, word k = bits [64k+63:64k].
//! The cycle contract (what each output means, when it changes) is docs/MICROARCH.md.

#[cxx::bridge(namespace = "gru")]
pub mod ffi {
    /// Every input port of `gru_chiplet` for one cycle (the clock is implied).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct PortsIn {
        /// Active-low synchronous reset.
        pub rst_n: bool,
        pub mmio_req_valid: bool,
        pub mmio_req_write: bool,
        /// Byte offset of a 64-byte line in the handle space.
        pub mmio_req_addr: u32,
        /// Bit k: the write carries DW k.
        pub mmio_req_dwen: u8,
        pub mmio_req_data: [u64; 8],
        pub cb_req_valid: bool,
        pub cb_req_cbr: u8,
        pub cb_req_vaddr: u64,
        pub cb_req_write: bool,
        pub cb_req_wdata: u64,
        pub mem_req_ready: bool,
        pub mem_rsp_valid: bool,
        pub mem_rsp_tag: u8,
        pub mem_rsp_rdata: u64,
        /// Code of the current software event; only visible in waveforms.
        pub dbg_event: u64,
        /// TLB entry shown on `dbg_tlb_entry`.
        pub dbg_tlb_idx: u8,
        /// Seed of the purge-tail PRNG, sampled only at reset edges (docs/MICROARCH.md §7).
        pub purge_seed: u16,
    }

    /// Every output port of `gru_chiplet`, as seen after a clock edge.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct PortsOut {
        pub mmio_req_ready: bool,
        pub mmio_rsp_valid: bool,
        pub mmio_rsp_err: bool,
        pub mmio_rsp_data: [u64; 8],
        pub cb_req_ready: bool,
        pub cb_cmp_valid: bool,
        pub cb_cmp_cbr: u8,
        pub cb_cmp_status: u8,
        pub cb_cmp_cause: u8,
        pub cb_cmp_rdata: u64,
        pub mem_req_valid: bool,
        pub mem_req_paddr: u64,
        pub mem_req_write: bool,
        pub mem_req_wdata: u64,
        pub mem_req_tag: u8,
        pub irq: u16,
        /// TLB entry `dbg_tlb_idx` in the layout of docs/MICROARCH.md §3.
        pub dbg_tlb_entry: [u64; 2],
        /// The next edge changes no register if the inputs are idle (docs/MICROARCH.md §12).
        pub quiet: bool,
    }
}

pub use ffi::{PortsIn, PortsOut};

impl PortsIn {
    /// Whether these inputs leave a quiet chip as it is (docs/MICROARCH.md §12), `last` being
    /// the inputs of the previous edge: out of reset, no request, response or acceptance on any
    /// port, and the same debug inputs (`dbg_event_i` is registered; `dbg_tlb_idx_i` selects an
    /// output).
    pub fn idle_after(&self, last: &PortsIn) -> bool {
        self.rst_n
            && !self.mmio_req_valid
            && !self.cb_req_valid
            && !self.mem_req_ready
            && !self.mem_rsp_valid
            && self.dbg_event == last.dbg_event
            && self.dbg_tlb_idx == last.dbg_tlb_idx
    }
}

use crate::handles::{Cch, Stats, Tfh, Tfm, Tgh};
use crate::model::TlbEntry;

/// The chip's architectural state (docs/MICROARCH.md §3), decoded into the structs the
/// reference model holds, as it is after the last clock edge. Read straight from the model's
/// registers — never through a port, never with an evaluation — so it can be taken at any
/// cycle without disturbing the chip. Handle lines show what an MMIO read would return
/// (TFM bits without the read's clear).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChipState {
    /// Every TLB entry, valid or not (`TLB_ENTRIES` of them).
    pub tlb: Vec<TlbEntry>,
    /// Context configuration handles, one per context.
    pub cch: Vec<Cch>,
    /// TLB fault handles, one per CBR.
    pub tfh: Vec<Tfh>,
    /// TLB global handles.
    pub tgh: Vec<Tgh>,
    /// Fault maps.
    pub tfm: Vec<Tfm>,
    /// The statistics counters.
    pub stats: Stats,
    /// Bit c: CCH c waits for its CBs to drain (INTERRUPT_SYNC, §8).
    pub sync_wait: u32,
    /// Bit k: CBR k has a CB in the engine (§5 `busy`).
    pub busy: u128,
    /// Bit k: CBR k waits to re-execute (§5 `restart_pend`).
    pub restart_pend: u128,
    /// Bit k: CBR k waits to emit its completion (§5 `cmp_pend`).
    pub cmp_pend: u128,
}

impl ChipState {
    /// The first field in which `self` (the reference) and `other` (the DUT) differ, as
    /// (name, reference value, DUT value).
    pub fn first_difference(&self, other: &ChipState) -> Option<(String, String, String)> {
        fn list<T: PartialEq + std::fmt::Debug>(name: &str, a: &[T], b: &[T]) -> Option<(String, String, String)> {
            if a.len() != b.len() {
                return Some((format!("{name}.len"), a.len().to_string(), b.len().to_string()));
            }
            let i = (0..a.len()).find(|&i| a[i] != b[i])?;
            Some((format!("{name}[{i}]"), format!("{:x?}", a[i]), format!("{:x?}", b[i])))
        }
        fn one<T: PartialEq + std::fmt::Debug>(name: &str, a: &T, b: &T) -> Option<(String, String, String)> {
            (a != b).then(|| (name.to_string(), format!("{a:x?}"), format!("{b:x?}")))
        }
        list("state.tlb", &self.tlb, &other.tlb)
            .or_else(|| list("state.cch", &self.cch, &other.cch))
            .or_else(|| list("state.tfh", &self.tfh, &other.tfh))
            .or_else(|| list("state.tgh", &self.tgh, &other.tgh))
            .or_else(|| list("state.tfm", &self.tfm, &other.tfm))
            .or_else(|| one("state.stats", &self.stats, &other.stats))
            .or_else(|| one("state.sync_wait", &self.sync_wait, &other.sync_wait))
            .or_else(|| one("state.busy", &self.busy, &other.busy))
            .or_else(|| one("state.restart_pend", &self.restart_pend, &other.restart_pend))
            .or_else(|| one("state.cmp_pend", &self.cmp_pend, &other.cmp_pend))
    }
}

/// The few registers a chip monitor polls on the cycles a purge runs (cheap to read on every
/// model: the RTL copies three vectors, not the whole state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Bit g: TGH g is ACTIVE.
    pub tgh_active: u32,
    /// Bit t: TFH t holds a pending miss (MISS_UPM, MISS_FMM or HW_ERR).
    pub tfh_pending: u128,
    /// Misses latched so far: the TLB_MISS plus TLB_MOD counters, so a change names the edge a
    /// miss latched at.
    pub latches: u64,
    /// Dropins discarded as stale so far (the stale counter).
    pub stale: u64,
}

impl Activity {
    /// The activity part of a full snapshot.
    pub fn of(s: &ChipState) -> Self {
        Self::from_parts(&s.tgh, &s.tfh, s.stats.misses + s.stats.tlbmod, s.stats.stale)
    }

    /// The activity of these TGHs and TFHs, `latches` misses latched and `stale` dropins
    /// discarded so far.
    pub fn from_parts(tgh: &[Tgh], tfh: &[Tfh], latches: u64, stale: u64) -> Self {
        use crate::handles::{HandleStatus, TfhState};
        let pending = |t: &Tfh| TfhState::try_from(u64::from(t.state)).is_ok_and(TfhState::is_pending);
        Activity {
            tgh_active: tgh.iter().enumerate().filter(|(_, g)| g.status == HandleStatus::Active as u8).fold(0, |m, (i, _)| m | 1 << i),
            tfh_pending: tfh.iter().enumerate().filter(|(_, t)| pending(t)).fold(0, |m, (i, _)| m | 1 << i),
            latches,
            stale,
        }
    }
}

/// Verilator `eval()` calls of an RTL model, by purpose (a reference model never evaluates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalCount {
    /// Evaluations that apply clock cycles (two a cycle: clock low, clock high) and the
    /// initial settle.
    pub clock: u64,
    /// Evaluations that only settle the combinational debug read ([`CycleModel::peek_tlb`]).
    pub debug: u64,
}

/// The [`CycleModel`] methods that only read state (`cycles`, `peek_tlb`, `chip_state`,
/// `tlb_state`, `activity`, `evals`), forwarded to the model in field `$inner`: what every
/// wrapper that watches or records a model writes alike.
#[macro_export]
macro_rules! forward_state_reads {
    ($inner:ident) => {
        fn cycles(&self) -> u64 {
            self.$inner.cycles()
        }
        fn peek_tlb(&mut self, idx: u8) -> [u64; 2] {
            self.$inner.peek_tlb(idx)
        }
        fn chip_state(&mut self) -> $crate::ports::ChipState {
            self.$inner.chip_state()
        }
        fn tlb_state(&mut self) -> Vec<$crate::model::TlbEntry> {
            self.$inner.tlb_state()
        }
        fn activity(&mut self) -> $crate::ports::Activity {
            self.$inner.activity()
        }
        fn evals(&self) -> $crate::ports::EvalCount {
            self.$inner.evals()
        }
    };
}

/// Anything that advances a chiplet by one clock cycle at its ports: the Verilated RTL, the
/// reference model, or both in lockstep.
pub trait CycleModel {
    /// Drive `inp`, apply one rising clock edge and return the outputs after it.
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut;
    /// Apply `n` cycles of the idle inputs `inp` to a quiet chip (docs/MICROARCH.md §12): the
    /// caller has seen `quiet` in the last outputs and `inp` idle after the last inputs, so no
    /// register and no output changes. Models that know it skip the evaluation and only count
    /// the cycles; by default every cycle is applied.
    fn idle(&mut self, inp: &PortsIn, n: u64) {
        for _ in 0..n {
            self.cycle(inp);
        }
    }
    /// Cycles applied since construction.
    fn cycles(&self) -> u64;
    /// TLB entry `idx` as the combinational debug port shows it now, without a clock edge
    /// (layout of docs/MICROARCH.md §3; 0 beyond the last entry). On the RTL this costs an
    /// evaluation; [`CycleModel::tlb_state`] does not.
    fn peek_tlb(&mut self, idx: u8) -> [u64; 2];
    /// The whole chip state now, read without evaluating anything (see [`ChipState`]).
    /// `&mut` because a lockstep pair compares the two states it reads.
    fn chip_state(&mut self) -> ChipState;
    /// Every TLB entry now (`TLB_ENTRIES` of them), read without evaluating anything: the
    /// cheap part of [`CycleModel::chip_state`].
    fn tlb_state(&mut self) -> Vec<TlbEntry> {
        self.chip_state().tlb
    }
    /// The TGH statuses, pending TFHs, miss and stale counts now, read without evaluating
    /// anything: the part of [`CycleModel::chip_state`] a monitor polls while a purge runs.
    fn activity(&mut self) -> Activity {
        Activity::of(&self.chip_state())
    }
    /// Verilator evaluations so far (zero for models that are not Verilated).
    fn evals(&self) -> EvalCount {
        EvalCount::default()
    }
}

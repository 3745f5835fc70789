//! The Verilated RTL behind [`CycleModel`]: a C++ harness owns the model and its
//! `VerilatedContext`, and one FFI call per cycle moves every port.
//!
//! One library holds several model variants (build.rs): the RTL as designed with FST or VCD
//! tracing ([`Rtl::new`]), and one FST-traced variant per RTL mutant ([`Rtl::with_mutant`]).

use crate::mutant::RtlMutant;
use crate::ports::{CycleModel, PortsIn, PortsOut};
use std::path::Path;

// BUILT_MUTANT_DEFINES: the GRU_MUTANT_ defines found in rtl/, one model variant each.
include!(concat!(env!("OUT_DIR"), "/rtl_variants.rs"));

#[cxx::bridge(namespace = "gru")]
mod ffi {
    unsafe extern "C++" {
        include!("gru-sim/csrc/harness.h");
        type PortsIn = crate::ports::PortsIn;
        type PortsOut = crate::ports::PortsOut;
        type Harness;
        fn new_harness(vcd: bool) -> UniquePtr<Harness>;
        fn new_mutant_harness(define: &str) -> Result<UniquePtr<Harness>>;
        fn cycle(self: Pin<&mut Harness>, inp: &PortsIn, out: &mut PortsOut);
        fn peek_tlb(self: Pin<&mut Harness>, idx: u8, out: &mut PortsOut);
        fn open_trace(self: Pin<&mut Harness>, path: &str) -> Result<()>;
        fn close_trace(self: Pin<&mut Harness>);
        fn pause_trace(self: Pin<&mut Harness>, paused: bool);
        fn replay(self: Pin<&mut Harness>, inputs: &[PortsIn]) -> u64;
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
}

impl Rtl {
    /// Build a model able to dump waveforms in `format` (no file is open: full speed).
    pub fn new(format: WaveFormat) -> Self {
        let harness = ffi::new_harness(format == WaveFormat::Vcd);
        Rtl { harness, out: PortsOut::default(), cycles: 0, format, mutant: None }
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
        Ok(Rtl { harness, out: PortsOut::default(), cycles: 0, format, mutant: Some(m) })
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

impl CycleModel for Rtl {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        self.harness.pin_mut().cycle(inp, &mut self.out);
        self.cycles += 1;
        &self.out
    }

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn peek_tlb(&mut self, idx: u8) -> [u64; 2] {
        self.harness.pin_mut().peek_tlb(idx, &mut self.out);
        self.out.dbg_tlb_entry
    }
}

//! Waveforms of shootdowns: which cycles of a run one chiplet's dump holds (the whole run, a
//! cycle range, or a margin around every shootdown), the software events written onto the
//! chiplet's `dbg_event_i` port ([`event`]), and the GTKWave files that go with a dump
//! ([`gtkw`]).
//!
//! "Around every shootdown" is exact because a run is deterministic from its seed: a first run
//! without waves finds the shootdowns in its MMIO trace, a second run dumps only the windows
//! `[start - margin, done + margin]`, merged where they overlap, into one file that is paused
//! between windows ([`plan`]). [`rerun_check`] makes sure the second run saw the same shootdowns.

pub mod cmd;
pub mod event;
pub mod gtkw;
pub mod plan;

pub use cmd::{waves_cmd, WavesArgs, WavesOutput};
pub use gtkw::SaveSpec;
pub use plan::{
    Marker, PlanError,
    dump_path, failure_focus, merge, rerun_check, select_name, shootdowns, windows_around, FailureFocus, Shootdown, Span, WaveAction,
    WavePlan, WaveRequest, WaveSchedule, WaveSelect, Window,
};

use gru_sim::rtl::RtlError;

use crate::scenario::{scenario_names, ScenarioError};

/// Margin around a shootdown when none is given: enough for the notifier call before the
/// start write and the interrupts and dropins after the completion.
pub const DEFAULT_MARGIN: u64 = 500;

/// Errors of making a waveform.
#[derive(Debug, thiserror::Error)]
pub enum WavesError {
    /// No golden scenario of that name.
    #[error("unknown scenario {name:?}; golden scenarios: {known}", known = scenario_names().join(", "))]
    UnknownScenario {
        /// The name asked for.
        name: String,
    },
    /// The scenario file is malformed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The shootdown asked for does not exist.
    #[error("{name} (seed {seed}) has {count} shootdown(s) (TGH invalidate writes); --shootdown {k} is not in 1..={count}")]
    NoSuchShootdown {
        /// The workload or scenario.
        name: String,
        /// Its seed.
        seed: u64,
        /// The shootdown asked for (1-based).
        k: usize,
        /// How many there were.
        count: usize,
    },
    /// A window or a rerun of the plan is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The waveform run of a failure did not fail the same way (a determinism bug, or a
    /// reference model and RTL that disagree).
    #[error("the waveform run (on the RTL) failed {second} where the first run failed {first}: the runs disagree")]
    FailureNotRepeated {
        /// The first run's first failure.
        first: String,
        /// The waveform run's.
        second: String,
    },
    /// The dump could not be opened.
    #[error(transparent)]
    Rtl(#[from] RtlError),
    /// The system could not be built.
    #[error("{0}")]
    Setup(String),
    /// The dump could not be read back.
    #[error("cannot read {path}: {msg}")]
    Read {
        /// The dump.
        path: String,
        /// wellen's message.
        msg: String,
    },
    /// A signal the save file shows is not in the dump (the RTL was renamed).
    #[error("{path}: no signal {signal} in the dump")]
    MissingSignal {
        /// The dump.
        path: String,
        /// The signal, as GTKWave names it.
        signal: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {err}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
}


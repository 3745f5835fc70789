//! Scripted scenarios: a TOML file names processes (each with one region mapped at start),
//! threads (optionally owning a GRU context on a chiplet) and each thread's steps. Threads run
//! concurrently; `signal`/`wait` order them, `sleep` spaces them. A step may state what it
//! expects (`expect = { ... }`); a step whose outcome differs, or that fails without saying so,
//! fails the run ([`Check::Expect`]). golden/scenarios/README.md
//! documents the format.
//!
//! [`format`] is the file as TOML gives it, `validate` checks it (bounds, names, `repeat`
//! expansion; errors name file, line and field), `run` runs it on a system.

mod format;
mod run;
mod validate;

use std::path::{Path, PathBuf};

use gru_driver::gru::GruConfig;
use gru_driver::notifier::Era;

use crate::check::{Check, Failure};
use crate::system::SystemConfig;

pub use format::{AdviceName, CbStatusName, EraName, Errno, Expect, ProtName, Step};
pub use validate::{MAX_PAGE, WORDS_PER_PAGE};

/// Most chiplets a run can have: the kernel model has interrupt lines for the 16 fault maps of
/// each of 16 chiplets.
pub use gru_driver::gru::MAX_CHIPLETS;

/// Most CPUs a run can have (the model has no limit of its own; this keeps runs sane).
pub const MAX_CPUS: usize = 64;

/// Most steps a scenario can have, `repeat` blocks expanded.
pub const MAX_STEPS: usize = 100_000;

/// Where scenario names are looked up.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/scenarios")
}

/// The scenario names under [`scenario_dir`].
pub fn scenario_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(scenario_dir())
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".toml").map(str::to_owned)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Errors of loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// The TOML is malformed or a field has the wrong type; the message names the line and the
    /// field.
    #[error("{path}: {err}")]
    Parse {
        /// The file.
        path: String,
        /// toml's error, with line, column and field.
        err: Box<toml::de::Error>,
    },
    /// A field is out of bounds, or the scenario refers to something it does not define.
    #[error("{path}: {}{msg}", line.map_or(String::new(), |l| format!("line {l}: ")))]
    Invalid {
        /// The file.
        path: String,
        /// The line of the field, when the file has one.
        line: Option<usize>,
        /// What is wrong, naming the field.
        msg: String,
    },
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from (names it in errors and verdicts).
    pub path: String,
    /// What the scenario shows; the golden trace must show it.
    pub description: String,
    /// Notifier era (file: "modern", the default, "classic" or "classic-unlocked").
    pub era: Era,
    /// Chiplets, 1..=[`MAX_CHIPLETS`] (default 1).
    pub chiplets: usize,
    /// CPUs, 1..=[`MAX_CPUS`] (default 4).
    pub cpus: usize,
    /// Upper bound of ASID bases (small values make the allocator wrap).
    pub max_asid: Option<u32>,
    /// Where the ASID allocators start (the first base handed out is this + 8): high values give
    /// ASIDs with high bits set. A multiple of 8 below `max_asid`.
    pub first_asid: Option<u32>,
    /// Run the driver with Linux's THP lookup
    /// ([`GruConfig::real_thp_lookup`](gru_driver::gru::GruConfig::real_thp_lookup)).
    pub real_thp_lookup: bool,
    /// The check whose failure the scenario exists to show (file: `expect_verdict`, a check's
    /// name as verdicts print it); none: every check must pass. See [`Scenario::judge`].
    pub expect_verdict: Option<Check>,
    /// The files; steps name them.
    pub files: Vec<FileDecl>,
    /// The processes; threads name them.
    pub processes: Vec<Process>,
    /// The threads.
    pub threads: Vec<Thread>,
    /// The line of `chiplets`, if the file sets it.
    chiplets_line: Option<usize>,
}

/// A file, created (all zero) when the scenario starts.
#[derive(Clone, Debug)]
pub struct FileDecl {
    /// Its name.
    pub name: String,
    /// Its size in pages.
    pub pages: u64,
}

/// A process: an address space with one read-write region mapped when it starts.
#[derive(Clone, Debug)]
pub struct Process {
    /// Its name.
    pub name: String,
    /// Pages of its region (4K).
    pub pages: u64,
    /// The region is one 2M page (a collapsed THP) instead; `pages` is ignored.
    pub huge: bool,
}

/// A thread of a process.
#[derive(Clone, Debug)]
pub struct Thread {
    /// Its name (in the trace).
    pub name: String,
    /// The process it belongs to; a process created by `fork` is waited for.
    pub process: String,
    /// The chiplet of its GRU context (allocated by its first GRU step); none: a CPU-only thread.
    pub chiplet: Option<usize>,
    /// What it does, in order (`repeat` blocks expanded).
    pub steps: Vec<StepAt>,
    /// The line of its `[[thread]]`.
    pub line: usize,
    /// The line of its `chiplet` (of the thread if none).
    chiplet_line: usize,
    /// The line of its `process`.
    process_line: usize,
}

/// A step where the file has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepAt {
    /// The line of the step in the file.
    pub line: usize,
    /// Its position in the thread's expanded step list, from 1.
    pub index: usize,
    /// The step.
    pub step: Step,
    /// What it expects; none: that it succeeds.
    pub expect: Option<Expect>,
}

/// Run-level settings given on the command line, which override the file's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    /// `--era`.
    pub era: Option<Era>,
    /// `--chiplets`.
    pub chiplets: Option<usize>,
    /// `--cpus`.
    pub cpus: Option<usize>,
}

impl Scenario {
    /// Load and validate a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ScenarioError::Io { path: p.clone(), err })?;
        Self::parse(&p, &text)
    }

    /// Longest `sleep` step: half the watchdog's [`HANG_CYCLES`](crate::system::HANG_CYCLES).
    pub const MAX_SLEEP: u64 = crate::system::HANG_CYCLES / 2;

    /// Parse and validate scenario text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, ScenarioError> {
        let raw: format::RawScenario = toml::from_str(text).map_err(|err| ScenarioError::Parse { path: path.into(), err: Box::new(err) })?;
        validate::scenario(&validate::Src { path, text }, raw)
    }

    /// The scenario with the command line's settings in place of the file's, checked again.
    pub fn with_overrides(mut self, o: Overrides) -> Result<Self, ScenarioError> {
        let invalid = |msg: String| ScenarioError::Invalid { path: self.path.clone(), line: None, msg };
        if let Some(era) = o.era {
            self.era = era;
        }
        if let Some(n) = o.chiplets {
            validate::check_chiplets(n).map_err(|m| invalid(format!("--chiplets {n}: {m}")))?;
            self.chiplets = n;
        }
        if let Some(n) = o.cpus {
            validate::check_cpus(n).map_err(|m| invalid(format!("--cpus {n}: {m}")))?;
            self.cpus = n;
        }
        self.check_contexts(o.chiplets.map(|_| "--chiplets"))?;
        Ok(self)
    }

    /// The system configuration the scenario asks for.
    pub fn system_config(&self, seed: u64, replay: String) -> SystemConfig {
        let mut gru = GruConfig::default();
        if let Some(m) = self.max_asid {
            gru.max_asid = m;
        }
        if let Some(f) = self.first_asid {
            gru.first_asid = f;
        }
        gru.real_thp_lookup = self.real_thp_lookup;
        SystemConfig { chiplets: self.chiplets, cpus: self.cpus, era: self.era, seed, gru, replay, ..SystemConfig::default() }
    }

    /// The scenario's verdict on a run that ended with `failures`: without `expect_verdict`,
    /// every check must pass; with it, that check must have failed (other checks may fail
    /// with it, since one bug often breaks several contracts), and a run where it did not
    /// fails.
    pub fn judge(&self, failures: &[Failure]) -> Result<(), VerdictError> {
        if crate::check::passes(self.expect_verdict, failures) {
            return Ok(());
        }
        let (path, failures) = (self.path.clone(), failures.len());
        Err(match self.expect_verdict {
            None => VerdictError::Failed { path, failures },
            Some(check) => VerdictError::ExpectedMissing { path, check, failures },
        })
    }
}

/// Why a scenario's run did not give the verdict it expects ([`Scenario::judge`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    /// A scenario that expects every check to pass saw failures.
    #[error("{path}: {failures} check failure(s)")]
    Failed {
        /// The scenario file.
        path: String,
        /// How many failures.
        failures: usize,
    },
    /// The check the scenario's `expect_verdict` names did not fail.
    #[error("{path}: expect_verdict = \"{check}\" but that check did not fail ({failures} other failure(s))")]
    ExpectedMissing {
        /// The scenario file.
        path: String,
        /// The check that should have failed.
        check: Check,
        /// Failures of other checks.
        failures: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "description = \"d\"\nprocess = []\nthread = []\n";

    #[test]
    fn first_asid_reaches_the_driver_config() {
        let s = Scenario::parse("x.toml", &format!("first_asid = 0x800008\nmax_asid = 0x800018\n{HEAD}")).unwrap();
        let gru = s.system_config(1, String::new()).gru;
        assert_eq!((gru.first_asid, gru.max_asid), (0x80_0008, 0x80_0018));
    }

    #[test]
    fn first_asid_must_be_an_aligned_base_below_the_limit() {
        for bad in ["first_asid = 0x800009", "first_asid = 0", "first_asid = 0x20\nmax_asid = 0x20"] {
            let e = Scenario::parse("x.toml", &format!("{bad}\n{HEAD}")).unwrap_err();
            assert!(matches!(e, ScenarioError::Invalid { line: Some(_), .. }) && e.to_string().contains("first_asid"), "{bad}: {e}");
        }
    }

    #[test]
    fn expect_verdict_names_a_check_and_real_thp_lookup_reaches_the_driver() {
        let s = Scenario::parse("x.toml", &format!("expect_verdict = \"frame life\"\nreal_thp_lookup = true\n{HEAD}")).unwrap();
        assert_eq!(s.expect_verdict, Some(Check::FrameLife));
        assert!(s.system_config(1, String::new()).gru.real_thp_lookup);
        let e = Scenario::parse("x.toml", "description = \"d\"\n\nexpect_verdict = \"oracle\"\nprocess = []\nthread = []\n").unwrap_err();
        assert!(matches!(e, ScenarioError::Invalid { line: Some(3), .. }), "{e}");
        assert!(e.to_string().contains("expect_verdict = \"oracle\": no such check") && e.to_string().contains("data oracle"), "{e}");
    }

    #[test]
    fn the_chiplet_limit_is_what_the_interrupt_routing_carries() {
        assert_eq!(MAX_CHIPLETS, 16);
    }
}

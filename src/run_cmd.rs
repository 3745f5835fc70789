//! `gru-cosim run`: build the system on the chosen hardware, run a workload with every check on,
//! and print the summary (or fail with the replay command).

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use gru_driver::gru::hw::DEFAULT_MMIO_LATENCY;
use gru_driver::notifier::Era;
use gru_sim::lockstep::Lockstep;
use gru_sim::model::{Params, PurgeTiming, RefModel};
use gru_sim::rtl::{Rtl, WaveFormat};

use gru_driver::gru::hw::MmioEvent;

use crate::check::{Check, Failure};
use crate::coverage::{self, Coverage};
use crate::mutants::catalogue::MutantKind;
use crate::scenario::{scenario_dir, scenario_names, Overrides, Scenario, ScenarioError, MAX_CHIPLETS, MAX_CPUS};
use crate::system::{HwKind, System, SystemConfig, SystemModel};
use crate::trace::{to_json_lines, SysEvent};
use crate::waves::{self, FailureFocus, SaveSpec, Shootdown, Span, WavePlan, WaveRequest, WaveSelect, WavesError};
use crate::workload::hpc::FaultTally;
use crate::workload::{self, WorkloadConfig, WorkloadCounts, WorkloadKind};

/// Workloads `run` knows by name.
pub const WORKLOADS: &[(&str, &str)] = &[
    ("default", "2 processes x 3 GRU threads, 20k GRU accesses, munmap/mprotect/fork/swap-out/migration on the CPU side"),
    (
        "directed",
        "the default workload steered into the race windows: contexts unloaded and reloaded while the CPU side flushes, a small ASID limit (wraps, global purges), munmaps over 1024 pages",
    ),
    (
        "hpc",
        "2 processes x 3 GRU threads that first-touch their own 48-page buffers, then stream through them (20k GRU accesses); rare mprotect/munmap on a scratch region",
    ),
    (
        "files",
        "the default workload over every kind of memory: regions a quarter private anonymous, shared anonymous, shared and private mappings of one file both processes map; pwrite/pread, msync, writeback, truncate, hole punch and file-page reclaim on the CPU side",
    ),
];

/// What `run` runs.
enum Work {
    /// The seeded random workload.
    Random(WorkloadConfig),
    /// A scenario file.
    Scripted(Box<Scenario>),
}

/// A scenario by file path, or by name under [`scenario_dir`].
fn find_scenario(name: &str) -> Result<Scenario, RunError> {
    let path = if name.ends_with(".toml") { PathBuf::from(name) } else { scenario_dir().join(format!("{name}.toml")) };
    if !path.exists() {
        return Err(RunError::UnknownWorkload(name.to_owned()));
    }
    Scenario::load(&path).map_err(RunError::Scenario)
}

/// Errors of `run` before the simulation starts.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No workload or scenario of that name.
    #[error("unknown workload {0:?}; known: default, directed, hpc, files, a .toml file, or a scenario: {known}", known = scenario_names().join(", "))]
    UnknownWorkload(String),
    /// The scenario file is malformed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// An RTL mutant asked for on the reference model, which has none.
    #[error("{0} is an RTL mutant: run it with --hw rtl or --hw lockstep")]
    MutantNeedsRtl(&'static str),
    /// A command-line option that does not apply to this workload, or a value out of bounds.
    #[error("{flag}: {msg}")]
    Flag {
        /// The option.
        flag: &'static str,
        /// Why.
        msg: String,
    },
    /// Building the system failed (e.g. the waveform file).
    #[error("{0}")]
    Setup(String),
    /// The waveform or its save file could not be made.
    #[error(transparent)]
    Waves(#[from] WavesError),
    /// The JSON Lines trace could not be written.
    #[error("cannot write {path}: {err}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
}

/// What `run` was asked.
#[derive(Clone, Debug)]
pub struct RunArgs {
    /// Workload name.
    pub workload: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// Hardware model.
    pub hw: HwKind,
    /// Notifier era; none: the workload's own (modern for `default`, the file's for a scenario).
    pub era: Option<Era>,
    /// Chiplets, 1..=[`MAX_CHIPLETS`]; none: the workload's own ([`DEFAULT_CHIPLETS`], or the
    /// file's).
    pub chiplets: Option<usize>,
    /// CPUs, 1..=[`MAX_CPUS`]; none: the workload's own ([`DEFAULT_CPUS`], or the file's).
    pub cpus: Option<usize>,
    /// Waveform of chiplet 0 and its save file (RTL only; none: no dump).
    pub waves: Option<WaveRequest>,
    /// Write the semantic trace here as JSON Lines.
    pub json: Option<PathBuf>,
    /// GRU accesses of the random workload (refused with a scenario); none: [`DEFAULT_ACCESSES`].
    pub accesses: Option<u64>,
    /// A planted bug (see [`crate::mutants::catalogue()`]); `None` runs the correct system.
    pub mutant: Option<MutantKind>,
    /// Switch the chip monitors off (to show what the end-to-end checks alone catch).
    pub no_chip_monitors: bool,
    /// Evaluate every chiplet every cycle ([`SystemConfig::skip`] off).
    pub no_skip: bool,
    /// Print the statistics after the summary, as `gru-cosim stats` does (the run is the same).
    pub stats: bool,
    /// MMIO round trip in cycles ([`MMIO_LATENCY_RANGE`]); none: [`DEFAULT_MMIO_LATENCY`].
    pub mmio_latency: Option<u64>,
    /// Linux's THP lookup in the driver
    /// ([`GruConfig::real_thp_lookup`](gru_driver::gru::GruConfig::real_thp_lookup)), also when
    /// the scenario does not ask for it.
    pub real_thp_lookup: bool,
    /// The chips' purge timing (`--purge-timing`); the RTL has a model variant for each kind.
    pub purge_timing: PurgeTimingKind,
}

/// The purge timing a run's chips are built with (`--purge-timing`, docs/MICROARCH.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PurgeTimingKind {
    /// One purge engine, TLB_ENTRIES / PURGE_LANES cycles per TGH (PurgeTiming::FIXED).
    #[default]
    Fixed,
    /// Four engines, a base, a cost per entry and a seeded tail (PurgeTiming::VARIABLE).
    Variable,
}

impl PurgeTimingKind {
    /// The chip parameters of this kind.
    pub fn timing(self) -> PurgeTiming {
        match self {
            PurgeTimingKind::Fixed => PurgeTiming::FIXED,
            PurgeTimingKind::Variable => PurgeTiming::VARIABLE,
        }
    }

    /// The name `--purge-timing` takes.
    pub fn name(self) -> &'static str {
        match self {
            PurgeTimingKind::Fixed => "fixed",
            PurgeTimingKind::Variable => "variable",
        }
    }
}

impl Default for RunArgs {
    /// `gru-cosim run default` with the CLI's defaults, without waveform or trace output.
    fn default() -> Self {
        RunArgs {
            workload: "default".into(),
            seed: 1,
            hw: HwKind::Rtl,
            era: None,
            chiplets: None,
            cpus: None,
            waves: None,
            json: None,
            accesses: None,
            mutant: None,
            no_chip_monitors: false,
            no_skip: false,
            stats: false,
            mmio_latency: None,
            real_thp_lookup: false,
            purge_timing: PurgeTimingKind::Fixed,
        }
    }
}

impl RunArgs {
    /// The command line of this run (without waveform or trace output): the options given,
    /// quoted for a POSIX shell where needed. [`execute`] prints it with every setting
    /// resolved, which reproduces the run exactly.
    pub fn command(&self) -> String {
        format!("gru-cosim run {}", self.options())
    }

    /// The command that re-runs this run on the RTL and dumps the waveform around its first
    /// failure (`gru-cosim debug`, see [`debug`]).
    pub fn debug_command(&self) -> String {
        format!("gru-cosim debug {}", self.options())
    }

    /// The workload and options of [`RunArgs::command`].
    fn options(&self) -> String {
        // Only the option values are lowercased: the workload may be a path.
        let hw = format!("{:?}", self.hw).to_lowercase();
        let mut line = format!("{} --seed {} --hw {hw}", shell_words::quote(&self.workload), self.seed);
        if let Some(e) = self.era {
            line += &format!(" --era {e}");
        }
        if let Some(n) = self.chiplets {
            line += &format!(" --chiplets {n}");
        }
        if let Some(n) = self.cpus {
            line += &format!(" --cpus {n}");
        }
        if let Some(n) = self.accesses {
            line += &format!(" --accesses {n}");
        }
        if let Some(m) = self.mutant {
            line += &format!(" --mutant {}", m.name());
        }
        if self.no_chip_monitors {
            line += " --no-chip-monitors";
        }
        if self.no_skip {
            line += " --no-skip";
        }
        if let Some(n) = self.mmio_latency {
            line += &format!(" --mmio-latency {n}");
        }
        if self.real_thp_lookup {
            line += " --real-thp-lookup";
        }
        if self.purge_timing != PurgeTimingKind::Fixed {
            line += &format!(" --purge-timing {}", self.purge_timing.name());
        }
        line
    }
}

/// Chiplets of the random workload unless `--chiplets` says otherwise.
pub const DEFAULT_CHIPLETS: usize = 2;
/// CPUs of the random workload unless `--cpus` says otherwise.
pub const DEFAULT_CPUS: usize = 4;
/// GRU accesses of the random workload unless `--accesses` says otherwise.
pub const DEFAULT_ACCESSES: u64 = 20_000;

/// The work `args` asks for and the arguments with every setting resolved: a scenario takes
/// `--era`, `--chiplets` and `--cpus` over the file's values and refuses `--accesses`.
/// The MMIO round trips `--mmio-latency` accepts, in cycles.
pub const MMIO_LATENCY_RANGE: std::ops::RangeInclusive<u64> = 2..=100_000;

fn resolve(args: &RunArgs) -> Result<(Work, RunArgs), RunError> {
    if let Some(n) = args.mmio_latency.filter(|n| !MMIO_LATENCY_RANGE.contains(n)) {
        return Err(RunError::Flag { flag: "--mmio-latency", msg: format!("{n}: must be {}..={} cycles", MMIO_LATENCY_RANGE.start(), MMIO_LATENCY_RANGE.end()) });
    }
    if let Some(n) = args.chiplets.filter(|n| !(1..=MAX_CHIPLETS).contains(n)) {
        return Err(RunError::Flag { flag: "--chiplets", msg: format!("{n}: must be 1..={MAX_CHIPLETS} (the supported maximum)") });
    }
    if let Some(n) = args.cpus.filter(|n| !(1..=MAX_CPUS).contains(n)) {
        return Err(RunError::Flag { flag: "--cpus", msg: format!("{n}: must be 1..={MAX_CPUS}") });
    }
    if let Some(kind) = WorkloadKind::by_name(&args.workload) {
        let accesses = args.accesses.unwrap_or(DEFAULT_ACCESSES);
        let resolved = RunArgs {
            era: Some(args.era.unwrap_or(Era::Modern)),
            chiplets: Some(args.chiplets.unwrap_or(DEFAULT_CHIPLETS)),
            cpus: Some(args.cpus.unwrap_or(DEFAULT_CPUS)),
            accesses: Some(accesses),
            ..args.clone()
        };
        return Ok((Work::Random(WorkloadConfig::of(kind, accesses)), resolved));
    }
    if args.accesses.is_some() {
        return Err(RunError::Flag { flag: "--accesses", msg: format!("sets the random workload's size; {} is a scenario", args.workload) });
    }
    let sc = find_scenario(&args.workload)?.with_overrides(Overrides { era: args.era, chiplets: args.chiplets, cpus: args.cpus })?;
    let resolved = RunArgs { era: Some(sc.era), chiplets: Some(sc.chiplets), cpus: Some(sc.cpus), ..args.clone() };
    Ok((Work::Scripted(Box::new(sc)), resolved))
}

/// Run the workload and print its summary; Ok(true) when every check passed.
pub fn run(args: &RunArgs) -> Result<bool, RunError> {
    execute(args, true).map(|o| o.passed())
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Cycles simulated.
    pub cycles: u64,
    /// The failed checks, in the order they fired.
    pub failures: Vec<Failure>,
    /// The check a scenario expects to fail (its `expect_verdict`); none: every check must pass.
    pub expect_verdict: Option<Check>,
    /// The command that replays the run.
    pub replay: String,
    /// The command that dumps the waveform of its first failure.
    pub debug: String,
    /// The cover points the run hit.
    pub coverage: Coverage,
    /// Chiplet cycles applied without an evaluation (idle skipping, fast-forward).
    pub skipped: u64,
    /// The driver's and the chips' statistics at the end of the run.
    pub stats: crate::stats_report::StatsReport,
}

impl Outcome {
    /// Whether the run passed: every check, or, for a scenario with an `expect_verdict`, the
    /// one it expects to fail failed ([`crate::check::passes`]).
    pub fn passed(&self) -> bool {
        crate::check::passes(self.expect_verdict, &self.failures)
    }
}

/// Fail now, before a run, if `path` cannot be written (its directory is created).
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().append(true).create(true).open(path).map(drop)
}

/// The work and the system configuration of `args`, every setting resolved.
fn setup(args: &RunArgs) -> Result<(Work, SystemConfig), RunError> {
    let (wl, resolved) = resolve(args)?;
    let args = &resolved;
    let mut cfg = match &wl {
        Work::Scripted(sc) => sc.system_config(args.seed, args.command()),
        Work::Random(_) => SystemConfig {
            chiplets: args.chiplets.unwrap_or(DEFAULT_CHIPLETS),
            cpus: args.cpus.unwrap_or(DEFAULT_CPUS),
            era: args.era.unwrap_or(Era::Modern),
            seed: args.seed,
            replay: args.command(),
            ..SystemConfig::default()
        },
    };
    if let Work::Random(w) = &wl {
        cfg.gru = w.gru_config(cfg.gru);
    }
    cfg.gru.mutant = args.mutant.and_then(MutantKind::driver);
    cfg.chip_monitors = !args.no_chip_monitors;
    cfg.skip = !args.no_skip;
    cfg.mmio_latency = args.mmio_latency.unwrap_or(DEFAULT_MMIO_LATENCY);
    cfg.gru.real_thp_lookup |= args.real_thp_lookup;
    Ok((wl, cfg))
}

/// Something done with a system built on any kind of hardware.
trait Job {
    type Out;
    fn go<M: SystemModel>(self, cfg: SystemConfig, wl: &Work, make: impl Fn() -> M) -> Result<Self::Out, RunError>;
}

/// Build the system of `args` on its hardware and do `job` with it.
fn dispatch<J: Job>(args: &RunArgs, job: J) -> Result<J::Out, RunError> {
    let (wl, cfg) = setup(args)?;
    let fmt = args.waves.map_or_else(WaveFormat::default, |w| w.format);
    let rtl_mutant = args.mutant.and_then(MutantKind::rtl);
    let timing = args.purge_timing.timing();
    if let Some(m) = rtl_mutant {
        if args.hw == HwKind::Model {
            return Err(RunError::MutantNeedsRtl(m.name()));
        }
    }
    if args.hw != HwKind::Model && (rtl_mutant.is_some() || timing != PurgeTiming::FIXED) {
        // Fail here, with the reason, rather than in every chiplet's constructor below.
        Rtl::build(fmt, rtl_mutant, timing).map_err(|e| RunError::Setup(e.to_string()))?;
    }
    let rtl = move || Rtl::build(fmt, rtl_mutant, timing).unwrap_or_else(|e| unreachable!("checked above: {e}"));
    let model = move || RefModel::new(Params { purge: timing, ..Params::default() });
    match args.hw {
        HwKind::Rtl => job.go(cfg, &wl, rtl),
        HwKind::Model => job.go(cfg, &wl, model),
        HwKind::Lockstep => job.go(cfg, &wl, move || Lockstep::new(rtl(), model())),
    }
}

/// `run`: plan the waves, run, write the save file, print.
struct RunJob<'a> {
    args: &'a RunArgs,
    verbose: bool,
}

impl Job for RunJob<'_> {
    type Out = Outcome;
    fn go<M: SystemModel>(self, cfg: SystemConfig, wl: &Work, make: impl Fn() -> M) -> Result<Outcome, RunError> {
        go(self.args, cfg, wl, self.verbose, make)
    }
}

/// Run the workload with every check on; print the summary when `verbose`.
pub fn execute(args: &RunArgs, verbose: bool) -> Result<Outcome, RunError> {
    if let Some(path) = &args.json {
        check_writable(path).map_err(|err| RunError::Json { path: path.display().to_string(), err })?;
    }
    if args.hw == HwKind::Model && args.waves.is_some() {
        // The reference model has no waveform: no dump, no first pass.
        let args = RunArgs { waves: None, ..args.clone() };
        return dispatch(&args, RunJob { args: &args, verbose });
    }
    dispatch(args, RunJob { args, verbose })
}

/// What [`debug`] needs of a run: its failures, MMIO trace and events, and the save file
/// written for its dump.
struct Probe {
    failures: Vec<Failure>,
    mmio: Vec<MmioEvent>,
    events: Vec<SysEvent>,
    save: Option<PathBuf>,
}

/// A run without output other than `plan`'s dump and `spec`'s save file.
struct ProbeJob {
    plan: Option<WavePlan>,
    spec: Option<SaveSpec>,
}

impl Job for ProbeJob {
    type Out = Probe;
    fn go<M: SystemModel>(self, cfg: SystemConfig, wl: &Work, make: impl Fn() -> M) -> Result<Probe, RunError> {
        let Finished { sys, .. } = simulate(SystemConfig { waves: self.plan, ..cfg }, wl, make)?;
        let save = match &self.spec {
            Some(spec) => waves::gtkw::write_save_spec(&sys, spec)?,
            None => None,
        };
        Ok(Probe { failures: sys.checker.failures(), mmio: sys.hw.trace(), events: sys.events(), save })
    }
}

/// The waveform of a failure, as [`debug`] wrote it.
#[derive(Clone, Debug)]
pub struct DebugOutput {
    /// The first failure (of both runs).
    pub failure: Failure,
    /// What the dump holds and marks.
    pub focus: FailureFocus,
    /// The dump.
    pub dump: PathBuf,
    /// Its GTKWave save file.
    pub save: PathBuf,
    /// Its Surfer command file.
    pub surfer: PathBuf,
}

/// `gru-cosim debug` (and `replay --waves`, `regress --waves-on-fail`): run `args` as given
/// (the reference model is fast) to find its first failure and what led to it, then again on
/// the RTL (lockstep stays lockstep) dumping `margin` cycles around the failing cycle and a
/// quarter of that around the last shootdowns and dropins before it, with a save file whose
/// first named marker sits on the failing cycle and whose view opens there. None if the run
/// passes. The second run must fail at the same cycle with the same check: the reference model
/// is cycle-accurate, so a difference is itself a bug and is reported.
pub fn debug(args: &RunArgs, margin: u64, format: WaveFormat) -> Result<Option<DebugOutput>, RunError> {
    let first_args = RunArgs { waves: None, json: None, ..args.clone() };
    let first = dispatch(&first_args, ProbeJob { plan: None, spec: None })?;
    let Some(failure) = first.failures.first().cloned() else {
        return Ok(None);
    };
    let focus = waves::failure_focus(failure.cycle, &failure.check.to_string(), &failure.detail, &first.mmio, &first.events, margin);
    let mutant = args.mutant.map(MutantKind::name);
    let dump = waves::dump_path(&args.workload, args.seed, mutant, &format!("fail{}", failure.cycle), format);
    let plan = WavePlan { path: dump.clone(), chiplet: focus.chiplet, span: Span::Windows(focus.windows.clone()) };
    let detail: String = failure.detail.lines().next().unwrap_or("").chars().take(240).collect();
    let spec = SaveSpec {
        title: format!(
            "{} seed {}{}: FAIL [{}] cycle {}",
            args.workload,
            args.seed,
            mutant.map_or_else(String::new, |m| format!(" mutant {m}")),
            failure.check,
            failure.cycle
        ),
        markers: focus.markers.clone(),
        view: Some(focus.view),
        notes: vec![format!("failure: {detail}"), format!("replay: {}", args.command())],
    };
    let hw = if args.hw == HwKind::Lockstep { HwKind::Lockstep } else { HwKind::Rtl };
    let wave_args = RunArgs { hw, waves: Some(WaveRequest { format, select: WaveSelect::Whole }), json: None, ..args.clone() };
    let second = dispatch(&wave_args, ProbeJob { plan: Some(plan), spec: Some(spec) })?;
    let key = |f: Option<&Failure>| f.map_or_else(|| "nothing (it passed)".to_owned(), |f| format!("[{}] at cycle {}", f.check, f.cycle));
    let again = second.failures.first();
    if again.map(|f| (f.cycle, f.check)) != Some((failure.cycle, failure.check)) {
        return Err(WavesError::FailureNotRepeated { first: key(Some(&failure)), second: key(again) }.into());
    }
    let save = second.save.ok_or_else(|| RunError::Setup(format!("{} was not written", dump.display())))?;
    let surfer = waves::gtkw::surfer_path(&dump);
    Ok(Some(DebugOutput { failure, focus, dump, save, surfer }))
}

/// A finished run: the system, the workload's counts, wall-clock seconds and its report.
struct Finished<M: SystemModel> {
    sys: System<M>,
    counts: Rc<WorkloadCounts>,
    wall: f64,
    report: crate::system::RunReport,
}

/// Build the system of `cfg`, start the work on it and run it to the end.
fn simulate<M: SystemModel>(cfg: SystemConfig, wl: &Work, make: impl Fn() -> M) -> Result<Finished<M>, RunError> {
    let sys = System::new(cfg, make).map_err(RunError::Setup)?;
    let counts = match wl {
        Work::Random(w) => workload::spawn(&sys, w),
        Work::Scripted(sc) => {
            sc.spawn(&sys);
            Default::default()
        }
    };
    let t0 = Instant::now();
    let report = sys.run(500_000_000);
    Ok(Finished { sys, counts, wall: t0.elapsed().as_secs_f64(), report })
}

/// A planned dump, and the shootdowns of the first run that planned it (none when the windows
/// did not need one) to check the dumping run against.
struct Planned {
    plan: WavePlan,
    first: Option<Vec<Shootdown>>,
}

/// The waveform of chiplet 0 that `args` asks for. Windows around the shootdowns come from a
/// first run without waves (the run is deterministic).
fn plan_waves<M: SystemModel>(args: &RunArgs, cfg: &SystemConfig, wl: &Work, make: impl Fn() -> M) -> Result<Option<Planned>, RunError> {
    let Some(req) = args.waves else {
        return Ok(None);
    };
    let path = waves::dump_path(&args.workload, args.seed, args.mutant.map(MutantKind::name), &waves::select_name(&req.select), req.format);
    let (span, first) = match req.select {
        WaveSelect::Whole => (Span::Whole, None),
        WaveSelect::Cycles(w) => (Span::Windows(vec![w]), None),
        WaveSelect::AroundShootdowns { margin, max } => {
            let sds = waves::shootdowns(&simulate(cfg.clone(), wl, make)?.sys.hw.trace());
            let on_chip0: Vec<_> = sds.iter().copied().filter(|s| s.chiplet == 0).take(max.unwrap_or(usize::MAX)).collect();
            (Span::Windows(waves::windows_around(&on_chip0, margin)), Some(sds))
        }
    };
    Ok(Some(Planned { plan: WavePlan { path, chiplet: 0, span }, first }))
}

fn go<M: SystemModel>(args: &RunArgs, cfg: SystemConfig, wl: &Work, verbose: bool, make: impl Fn() -> M) -> Result<Outcome, RunError> {
    let planned = plan_waves(args, &cfg, wl, &make)?;
    let (plan, first) = planned.map_or((None, None), |p| (Some(p.plan), p.first));
    let Finished { sys, counts, wall, report } = simulate(SystemConfig { waves: plan, ..cfg }, wl, make)?;
    let sds = waves::shootdowns(&sys.hw.trace());
    if let Some(first) = first {
        waves::rerun_check(&first, &sds).map_err(WavesError::from)?;
    }
    let title = format!("{} seed {}", args.workload, args.seed);
    let save = waves::gtkw::write_save(&sys, &title)?;
    let outcome = Outcome {
        cycles: report.cycles,
        failures: sys.checker.failures(),
        expect_verdict: match wl {
            Work::Scripted(sc) => sc.expect_verdict,
            Work::Random(_) => None,
        },
        replay: sys.checker.replay().to_owned(),
        debug: args.debug_command(),
        coverage: coverage::measure(&sys),
        skipped: sys.hw.skipped_cycles(),
        stats: crate::stats_report::StatsReport::of(&sys),
    };
    if args.json.is_none() && !verbose {
        return Ok(outcome);
    }
    let events = sys.events();
    if let Some(path) = &args.json {
        std::fs::write(path, to_json_lines(&events))
            .map_err(|err| RunError::Json { path: path.display().to_string(), err })?;
    }
    if !verbose {
        return Ok(outcome);
    }
    let cycles = report.cycles;
    let c = sys.config();
    let timing = match args.purge_timing {
        PurgeTimingKind::Fixed => String::new(),
        k => {
            let t = k.timing();
            format!(", {} purge timing ({} engines, base {}, {} per entry, tail {} per step)", k.name(), t.engines, t.base, t.entry, t.tail)
        }
    };
    println!("gru-cosim run {} --seed {} on {:?}: {} chiplets, {} CPUs, {} era{timing}", args.workload, args.seed, args.hw, c.chiplets, c.cpus, c.era);
    println!("  cycles           {cycles}  wall {wall:.2} s  {:.0} cycles/s", cycles as f64 / wall.max(1e-9));
    let chip_cycles = cycles * c.chiplets as u64;
    let skipped = outcome.skipped;
    println!(
        "  idle skipping    {skipped} of {chip_cycles} chiplet cycles applied without evaluation ({:.1}%){}",
        100.0 * skipped as f64 / chip_cycles.max(1) as f64,
        if c.skip { "" } else { ": off (--no-skip)" }
    );
    println!(
        "  accesses         GRU {} ({} ended in EXCEPTION), CPU {}",
        counts.gru_accesses.get(),
        counts.gru_exceptions.get(),
        counts.cpu_accesses.get()
    );
    let ops: Vec<String> = counts.ops.borrow().iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  mm operations    {}", ops.join(", "));
    let exceptions = events.iter().filter(|e| matches!(e, crate::trace::SysEvent::CbDone { status: 1, .. })).count();
    println!(
        "  misses by path   interrupt {} (dropins {}), call_os {}, exception {}",
        sys.stat("intr_tfh"),
        sys.stat("tlb_dropin"),
        sys.stat("call_os"),
        exceptions
    );
    let tally = FaultTally::of(&sys.gru, cycles);
    println!("  call_os causes   {}", tally.causes_line());
    if let Some(warmed) = counts.warmed.borrow().as_ref() {
        let (warm, steady) = (warmed.since(&FaultTally::default()), tally.since(warmed));
        println!(
            "  irq share        warm-up {:.1}% of {} misses (to cycle {}), steady {:.1}% of {} misses",
            warm.irq_share_pct(),
            warm.misses,
            warmed.cycle,
            steady.irq_share_pct(),
            steady.misses
        );
    }
    let (installed, discarded) = events.iter().fold((0, 0), |(i, d), e| match e {
        crate::trace::SysEvent::Dropin { installed: true, .. } => (i + 1, d),
        crate::trace::SysEvent::Dropin { installed: false, .. } => (i, d + 1),
        _ => (i, d),
    });
    // The chips' own counters, read after the run: the trace's verdicts must agree with them.
    let chip = (0..c.chiplets).filter_map(|c| sys.hw.chip_stats(c)).fold((0, 0, 0), |a, s| (a.0 + s.dropins, a.1 + s.stale, a.2 + s.purged));
    println!("  dropins          installed {installed}, discarded {discarded} (chip counters: {} installed, {} stale)", chip.0, chip.1);
    let sd = shootdown_summary(&sds, c.mmio_latency);
    println!(
        "  shootdowns       {} TGH writes, {:.2} contexts/write, {} entries purged, round trip p50 {} p99 {} cycles (MMIO latency {})",
        sd.writes, sd.ctx_per_write, chip.2, sd.p50, sd.p99, c.mmio_latency
    );
    let failures = sys.checker.failures();
    let verdicts: Vec<String> = sys
        .checker
        .counts()
        .iter()
        .map(|(c, n)| {
            let bad = failures.iter().filter(|f| f.check == *c).count();
            format!("{c} {}/{n}", *n as usize - bad.min(*n as usize))
        })
        .collect();
    println!("  checks passed    {}", verdicts.join(", "));
    println!("  {}", outcome.coverage.summary());
    if args.stats {
        print!("{}", outcome.stats.text());
    }
    if let (Some(save), Some(plan)) = (save, &sys.config().waves) {
        println!("  waves            {} (open: gtkwave {} {})", plan.path.display(), plan.path.display(), save.display());
        let sucl = waves::gtkw::surfer_path(&plan.path);
        println!("                   (or: surfer {} --command-file {})", plan.path.display(), sucl.display());
    }
    if let Some(j) = &args.json {
        println!("  trace            {} ({} events)", j.display(), events.len());
    }
    for f in failures.iter().take(5) {
        println!("FAIL [{}] cycle {} seed {}: {}", f.check, f.cycle, args.seed, f.detail);
    }
    if let Some(c) = outcome.expect_verdict {
        let seen = if failures.iter().any(|f| f.check == c) { "failed" } else { "did not fail" };
        println!("expected verdict [{c}] (the scenario's expect_verdict): {seen}");
    }
    if outcome.passed() {
        println!("PASS");
    } else {
        if failures.is_empty() {
            println!("FAIL: the run passed every check");
        }
        println!("replay: {}", outcome.replay);
        println!("waves:  {}", outcome.debug);
    }
    Ok(outcome)
}

struct Shootdowns {
    writes: usize,
    ctx_per_write: f64,
    p50: u64,
    p99: u64,
}

/// TGH invalidates and their round trips: from the start write leaving the driver to the poll
/// that sees the handle idle arriving back (the chiplet-side gap plus one MMIO round trip).
fn shootdown_summary(sds: &[Shootdown], mmio_latency: u64) -> Shootdowns {
    let ctxs: u64 = sds.iter().map(|s| u64::from(s.ctxbitmap.count_ones())).sum();
    let mut lat: Vec<u64> = sds.iter().filter_map(|s| Some(s.done? - s.start + mmio_latency)).collect();
    lat.sort_unstable();
    let pct = |p: usize| lat.get((lat.len() * p / 100).min(lat.len().saturating_sub(1))).copied().unwrap_or(0);
    let writes = sds.len();
    Shootdowns { writes, ctx_per_write: ctxs as f64 / writes.max(1) as f64, p50: pct(50), p99: pct(99) }
}

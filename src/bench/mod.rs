//! `gru-cosim bench` (`make bench`): the performance report. Runs the sections — co-simulation
//! throughput, shootdown round trips and purge latency, MMIO writes per teardown, fault
//! service on the stress (default) and HPC workloads, the scale of a regression — and writes
//! `REPORT.md`, `results.json` and SVG charts into one directory. The last line printed is
//! `bench: system/cpp_all = <r>, system/cpp = <r>, irq-share(hpc) = <p>%, irq-share(stress) = <p>%`:
//! the full system on the RTL against a pure C++ loop stepping every chiplet, and against one
//! stepping chiplet 0 only; the share of misses answered from the interrupt handler on each
//! workload.

pub mod faults;
pub mod machine;
pub mod probe;
pub mod report;
pub mod scale;
pub mod shootdown;
pub mod svg;
pub mod teardown;
pub mod throughput;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use gru_driver::gru::GruConfig;
use gru_driver::notifier::Era;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::waves::plan::{Span, WavePlan};
use crate::system::{System, SystemConfig, SystemModel};
use crate::workload::{self, WorkloadConfig, WorkloadCounts, WorkloadKind};

/// What to measure and how much.
#[derive(Clone, Debug, Serialize)]
pub struct BenchConfig {
    /// Seed of the default workload and the first seed of the directed setups.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
    /// GRU accesses of the default workload.
    pub accesses: u64,
    /// Chiplets of the default workload.
    pub chiplets: usize,
    /// CPUs of the default workload.
    pub cpus: usize,
    /// Repetitions of each throughput measurement (the median is reported).
    pub reps: usize,
    /// Kernel seeds per shootdown setup.
    pub sd_seeds: u64,
    /// Range sizes (pages) of the range sweep; 1024 and more is a full purge.
    pub ranges: Vec<u64>,
    /// Contexts per chiplet of the contexts sweep.
    pub contexts: Vec<usize>,
    /// Chiplet counts of the chiplets sweep.
    pub chiplet_counts: Vec<usize>,
    /// Range (pages) of the contexts and chiplets sweeps.
    pub sd_pages: u64,
    /// TLB sizes of the purge-latency sweep (reference model).
    pub tlb_sizes: Vec<usize>,
    /// Largest teardown region, KiB (sizes are 4 KiB × 4^k).
    pub teardown_max_kib: u64,
    /// Largest per-page teardown simulated, pages; larger ones are extrapolated.
    pub per_page_sim_pages: u64,
    /// Nominal clock for the ns figures, GHz: 0.5, the assumption docs/MICROARCH.md §0 states
    /// (no public source gives the UV hub's clock).
    pub clock_ghz: f64,
    /// Seeds of the timed regression on the reference model (0: skip it).
    pub scale_model_seeds: u64,
    /// GRU accesses of each of those seeds.
    pub scale_model_accesses: u64,
    /// Seeds of the timed regression on the RTL, `accesses` GRU accesses each (0: skip it).
    pub scale_rtl_seeds: u64,
    /// The command line, for the report.
    pub command: String,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            out: PathBuf::from("bench"),
            accesses: 20_000,
            chiplets: 2,
            cpus: 4,
            reps: 5,
            sd_seeds: 3,
            ranges: vec![1, 4, 16, 64, 256, 1023, 1024, 4096],
            contexts: vec![1, 2, 4, 8, 16],
            chiplet_counts: vec![1, 2, 4, 8, 16],
            sd_pages: 16,
            tlb_sizes: vec![64, 128, 256],
            teardown_max_kib: 1 << 20,
            per_page_sim_pages: 4096,
            clock_ghz: 0.5,
            scale_model_seeds: 1_000,
            scale_model_accesses: 1_000,
            scale_rtl_seeds: 100,
            command: "gru-cosim bench".into(),
            progress: true,
        }
    }
}

impl BenchConfig {
    /// A tiny configuration that still exercises every section (for tests).
    pub fn quick(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            accesses: 300,
            reps: 1,
            sd_seeds: 1,
            ranges: vec![1, 2048],
            contexts: vec![1, 2],
            chiplet_counts: vec![1, 2],
            tlb_sizes: vec![64, 128],
            teardown_max_kib: 256,
            per_page_sim_pages: 16,
            scale_model_seeds: 4,
            scale_model_accesses: 200,
            scale_rtl_seeds: 1,
            command: "gru-cosim bench (quick)".into(),
            progress: false,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), String> {
        let bad = |what: &str| Err(format!("bench: {what}"));
        if self.reps == 0 || self.sd_seeds == 0 {
            return bad("--reps and --sd-seeds must be at least 1");
        }
        let max = gru_driver::gru::MAX_CHIPLETS;
        if self.chiplets == 0 || self.chiplets > max || self.chiplet_counts.iter().any(|&c| c == 0 || c > max) {
            return Err(format!("bench: chiplet counts must be 1..={max} (the platform routes {max} chiplets' interrupt lines)"));
        }
        if self.contexts.iter().any(|&c| c == 0 || c > 16) {
            return bad("contexts per chiplet must be 1..=16");
        }
        if self.ranges.iter().chain([&self.sd_pages]).any(|&p| p == 0 || p > 1 << 20) {
            return bad("range sizes must be 1..=1048576 pages");
        }
        if self.tlb_sizes.iter().any(|&n| !n.is_power_of_two() || !(8..=256).contains(&n)) {
            return bad("TLB sizes must be powers of two in 8..=256");
        }
        if !self.clock_ghz.is_finite() || self.clock_ghz <= 0.0 {
            return bad("--clock-ghz must be positive");
        }
        Ok(())
    }
}

/// A progress bar over the run's steps (hidden when stderr is not a terminal).
pub struct Progress {
    pb: ProgressBar,
    started: std::cell::Cell<bool>,
}

impl Progress {
    fn new(steps: u64, show: bool) -> Self {
        let pb = if show { ProgressBar::new(steps) } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {wide_msg}") {
            pb.set_style(style.progress_chars("=> "));
        }
        Self { pb, started: std::cell::Cell::new(false) }
    }

    /// A new step begins.
    pub fn step(&self, msg: &str) {
        if self.started.replace(true) {
            self.pb.inc(1);
        }
        self.pb.set_message(msg.to_owned());
    }

    /// Print a line to stdout without tearing the bar.
    pub fn say(&self, line: &str) {
        self.pb.suspend(|| println!("{line}"));
    }

    fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

/// The median (NaN for none).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted `v` (0 for none).
pub fn percentile(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A finished run of a random workload.
pub struct WorkloadRun<M: SystemModel> {
    /// The system after the run.
    pub sys: System<M>,
    /// What the workload counted.
    pub counts: Rc<WorkloadCounts>,
    /// System cycles.
    pub cycles: u64,
    /// Wall seconds of `System::run`.
    pub secs: f64,
}

/// Run the default workload (as `gru-cosim run default`) on chiplets made by `make`; an error
/// if any check fails. `waves`: dump chiplet 0 for the whole run.
pub fn default_run<M: SystemModel>(cfg: &BenchConfig, waves: Option<PathBuf>, make: impl Fn() -> M) -> Result<WorkloadRun<M>, String> {
    workload_run(cfg, WorkloadKind::Stress, waves, Mode::default(), make)
}

/// How the system reads chip state, runs spinning tasks and evaluates quiet chiplets — the
/// default, or the way of before the state snapshot, `spin_until` and idle skipping, for
/// comparison (a run is the same either way) — and whether the driver runs its off-by-default
/// better-than-Linux policy (a different run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Read every TLB through the debug port, one evaluation per index 0..=255.
    pub debug_port: bool,
    /// Poll tasks spinning on an MMIO response every cycle.
    pub poll_spins: bool,
    /// Evaluate every chiplet every cycle (no idle skipping, no fast-forward).
    pub no_skip: bool,
    /// The driver's [`GruConfig::lockless_irq_walk`](gru_driver::gru::GruConfig::lockless_irq_walk).
    pub lockless_irq_walk: bool,
}

/// Run the workload `kind` (as `gru-cosim run <kind>`, `cfg.accesses` GRU accesses) on chiplets
/// made by `make`, reading chip state as `mode` says; an error if any check fails. `waves`: dump
/// chiplet 0 for the whole run.
pub fn workload_run<M: SystemModel>(
    cfg: &BenchConfig,
    kind: WorkloadKind,
    waves: Option<PathBuf>,
    mode: Mode,
    make: impl Fn() -> M,
) -> Result<WorkloadRun<M>, String> {
    let name = kind.name();
    let replay = format!("gru-cosim run {name} --seed {} --accesses {} --chiplets {} --cpus {} --waves none", cfg.seed, cfg.accesses, cfg.chiplets, cfg.cpus);
    let scfg = SystemConfig {
        chiplets: cfg.chiplets,
        cpus: cfg.cpus,
        era: Era::Modern,
        seed: cfg.seed,
        waves: waves.map(|path| WavePlan { path, chiplet: 0, span: Span::Whole }),
        replay: replay.clone(),
        ..SystemConfig::default()
    };
    let scfg = SystemConfig { gru: GruConfig { lockless_irq_walk: mode.lockless_irq_walk, ..scfg.gru }, ..scfg };
    let sys = System::new(scfg, make)?;
    sys.hw.read_tlb_through_debug_port(mode.debug_port);
    sys.kernel.set_skip_spins(!mode.poll_spins);
    sys.hw.set_skip(!mode.no_skip);
    let counts = workload::spawn(&sys, &WorkloadConfig::of(kind, cfg.accesses));
    let t = Instant::now();
    let r = sys.run(500_000_000);
    let secs = t.elapsed().as_secs_f64();
    let failures = sys.checker.failures();
    if let Some(f) = failures.first() {
        return Err(format!("{name} workload failed a check: [{}] cycle {}: {} (replay: {replay})", f.check, f.cycle, f.detail));
    }
    Ok(WorkloadRun { sys, counts, cycles: r.cycles, secs })
}

/// The headline numbers.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Full system on the RTL ÷ the C++ loop stepping every chiplet, system cycles/s.
    pub system_over_cpp_all: f64,
    /// Full system on the RTL ÷ the C++ loop stepping chiplet 0 only, cycles/s.
    pub system_over_cpp: f64,
    /// Interrupt-path share of misses on the HPC workload, percent.
    pub irq_share_hpc_pct: f64,
    /// Interrupt-path share of misses on the stress (default) workload, percent.
    pub irq_share_stress_pct: f64,
    /// `eval()` calls issued to read chip state in a system run on the RTL.
    pub introspection_evals: u64,
    /// The last line printed.
    pub last_line: String,
}

/// Everything `results.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResults {
    /// Where and when.
    pub machine: machine::Machine,
    /// The command.
    pub command: String,
    /// The configuration.
    pub config: BenchConfig,
    /// Wall seconds of the whole bench.
    pub wall_secs: f64,
    /// Co-simulation throughput.
    pub throughput: throughput::Throughput,
    /// Shootdown round trips and purge latency.
    pub shootdown: shootdown::Shootdown,
    /// MMIO writes per teardown.
    pub teardown: teardown::Teardown,
    /// Fault service latency, path shares and CALL_OS causes on the stress (default) workload.
    pub faults: faults::Faults,
    /// The same on the HPC workload, by phase.
    pub hpc: faults::Faults,
    /// The stress and HPC workloads again with the driver's better-than-Linux
    /// `lockless_irq_walk` (off everywhere else).
    pub lockless: Vec<faults::Faults>,
    /// Wall time of regressions.
    pub scale: scale::Scale,
    /// The headline.
    pub summary: Summary,
}

fn steps(cfg: &BenchConfig) -> u64 {
    let sizes = teardown::sizes(cfg.teardown_max_kib);
    let per_page = sizes.iter().filter(|&&b| b / 4096 <= cfg.per_page_sim_pages.clamp(1, teardown::MAX_PER_PAGE_SIM)).count();
    // throughput 12, purge on the RTL 1, faults 4, scale 2, writing 1.
    // Shootdown: the sweeps, the variable timing's workload run and chiplets sweep.
    (21 + cfg.ranges.len() + cfg.contexts.len() + 2 * cfg.chiplet_counts.len() + 2 * cfg.tlb_sizes.len() + 2 * sizes.len() + 2 * per_page) as u64
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Run every section, write the report, results and charts into `cfg.out`, print a summary and
/// the last line.
pub fn run(cfg: &BenchConfig) -> Result<BenchResults, String> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| format!("cannot create {}: {e}", cfg.out.display()))?;
    let t0 = Instant::now();
    let machine = machine::Machine::probe();
    let pb = Progress::new(steps(cfg), cfg.progress);

    let tp = throughput::run(cfg, &pb)?;
    if !tp.replay_matches {
        return Err("a C++ replay of the recorded inputs did not reproduce the outputs the chiplets gave in the system".into());
    }
    let by = |name: &str| tp.rates.iter().find(|r| r.name == name).map_or(0.0, |r| r.cycles_per_s);
    pb.say(&format!(
        "throughput: system on RTL {:.0} cycles/s, C++ loop over all {} chiplets {:.0} cycles/s (system/cpp_all {:.2}), over chiplet 0 {:.0} cycles/s (system/cpp {:.2})",
        by(throughput::SYSTEM_RTL),
        tp.chiplets,
        by(throughput::CPP_ALL),
        tp.system_over_cpp_all,
        by(throughput::CPP),
        tp.system_over_cpp
    ));
    pb.say(&format!(
        "introspection: {} evals with the state snapshot, {} through the debug port (+{:.1}% over that run's {} clock evals); \
         {} clock evals with idle skipping; executor polls {:.2}/cycle, {:.2}/cycle skipped; system on RTL {:.2}x as fast as \
         before (snapshot {:.2}x, skipped polls {:.2}x, idle skipping {:.2}x)",
        tp.evals.introspection_evals,
        tp.evals_before.introspection_evals,
        100.0 * tp.evals_before.introspection_evals as f64 / tp.evals_before.clock_evals.max(1) as f64,
        tp.evals_before.clock_evals,
        tp.evals.clock_evals,
        tp.evals.task_polls as f64 / tp.system_cycles.max(1) as f64,
        tp.evals.skipped_polls as f64 / tp.system_cycles.max(1) as f64,
        tp.speedup,
        tp.snapshot_speedup,
        tp.spin_speedup,
        tp.skip_speedup
    ));
    let sd = shootdown::run(cfg, &pb)?;
    let v = &sd.variable.under_load;
    pb.say(&format!(
        "shootdown, variable purge timing: {} TGHs of the default workload, round trip mean {:.0} p50 {} p90 {} p99 {} p99.9 {} max {} cycles",
        v.count, v.mean, v.p50, v.p90, v.p99, v.p999, v.max
    ));
    pb.say(&format!(
        "shootdown: TGH round trip {} cycles (1 page) .. {} (full purge); purge at the chip {} cycles for 128 entries (RTL = model: {})",
        sd.by_range.first().map_or(0.0, |r| r.tgh_round_trip_median),
        sd.by_range.last().map_or(0.0, |r| r.tgh_round_trip_median),
        sd.purge.iter().find(|p| p.hw == "rtl").map_or(0, |p| p.cycles),
        sd.purge_rtl_matches_model
    ));
    let td = teardown::run(cfg, &pb)?;
    let at_max = |i: usize| td.series.get(i).and_then(|x| x.points.last()).map_or((0.0, false), |p| (p.mmio_writes, p.extrapolated));
    if let Some(p) = td.series.first().and_then(|x| x.points.last()) {
        let ((range, _), (per_page, extra)) = (at_max(0), at_max(2));
        let how = if extra { " (extrapolated)" } else { "" };
        pb.say(&format!("teardown: {} KiB: {range} MMIO write(s) with a range flush, {per_page} per page{how}", p.bytes / 1024));
    }
    let fa = faults::run(cfg, WorkloadKind::Stress, Mode::default(), &pb)?;
    let mut sd = sd;
    sd.under_load = Some(shootdown::LoadedTrips::of(&fa.trips));
    let say_faults = |f: &faults::Faults| {
        pb.say(&format!(
            "faults ({}{}): {} misses, interrupt path {:.1}% (p50 {} cycles), call_os {:.1}% (p50 {} cycles); call_os causes: {}",
            f.workload,
            if f.lockless_irq_walk { ", lockless_irq_walk" } else { "" },
            f.misses,
            f.paths[0].share_pct,
            f.paths[0].p50,
            f.paths[1].share_pct,
            f.paths[1].p50,
            f.driver.causes_line()
        ))
    };
    say_faults(&fa);
    let hpc = faults::run(cfg, WorkloadKind::Hpc, Mode::default(), &pb)?;
    say_faults(&hpc);
    for p in &hpc.phases {
        pb.say(&format!("  hpc {}: {} misses, interrupt path {:.1}%", p.name, p.misses, p.irq_share_pct));
    }
    let lockless_walk = Mode { lockless_irq_walk: true, ..Mode::default() };
    let lockless = vec![faults::run(cfg, WorkloadKind::Stress, lockless_walk, &pb)?, faults::run(cfg, WorkloadKind::Hpc, lockless_walk, &pb)?];
    lockless.iter().for_each(&say_faults);
    let scale = scale::run(cfg, &pb)?;
    for r in scale.runs() {
        pb.say(&format!("scale: {} in {:.0} s on {} thread(s), every seed passed", r.what, r.wall_secs, r.jobs));
    }
    pb.step("writing the report");
    let mut machine = machine;
    machine.load_end = machine::load_average();
    let last_line = format!(
        "bench: system/cpp_all = {:.2}, system/cpp = {:.2}, irq-share(hpc) = {:.1}%, irq-share(stress) = {:.1}%",
        tp.system_over_cpp_all, tp.system_over_cpp, hpc.irq_share_pct, fa.irq_share_pct
    );
    let results = BenchResults {
        machine,
        command: cfg.command.clone(),
        config: cfg.clone(),
        wall_secs: t0.elapsed().as_secs_f64(),
        summary: Summary {
            system_over_cpp_all: tp.system_over_cpp_all,
            system_over_cpp: tp.system_over_cpp,
            irq_share_hpc_pct: hpc.irq_share_pct,
            irq_share_stress_pct: fa.irq_share_pct,
            introspection_evals: tp.evals.introspection_evals,
            last_line: last_line.clone(),
        },
        throughput: tp,
        shootdown: sd,
        teardown: td,
        faults: fa,
        hpc,
        lockless,
        scale,
    };
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    write(&cfg.out.join("results.json"), &json)?;
    for (name, svg) in report::charts(&results) {
        write(&cfg.out.join(name), &svg)?;
    }
    write(&cfg.out.join("REPORT.md"), &report::markdown(&results))?;
    pb.finish();
    println!("wrote {}/REPORT.md, results.json and the charts in {:.0} s", cfg.out.display(), t0.elapsed().as_secs_f64());
    println!("{last_line}");
    Ok(results)
}

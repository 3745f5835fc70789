//! Co-simulation throughput: the default workload on the whole system (RTL, reference model,
//! lockstep; with and without a whole-run FST), against the chiplets' recorded per-cycle inputs
//! replayed by pure C++ Verilator loops — every chiplet every cycle (the fair baseline for a
//! system of several chiplets), and chiplet 0 alone — by the Rust harness one FFI call a cycle,
//! and by the reference model alone.

use std::path::PathBuf;
use std::time::Instant;

use gru_sim::lockstep::Lockstep;
use gru_sim::model::{Params, RefModel};
use gru_sim::ports::{CycleModel, PortsIn};
use gru_sim::rtl::{Rtl, RtlFleet, WaveFormat};
use serde::Serialize;

use super::probe::{checksum_step, Tap};
use super::{default_run, median, workload_run, BenchConfig, Mode, Progress};
use crate::workload::WorkloadKind;

/// Name of the rate of the C++ loop stepping every chiplet.
pub const CPP_ALL: &str = "C++ loop, all chiplets";
/// Name of the rate of the C++ loop stepping chiplet 0.
pub const CPP: &str = "C++ loop";
/// Name of the rate of the full system on the RTL.
pub const SYSTEM_RTL: &str = "system RTL";
use crate::system::SystemModel;

/// One way of simulating the same work, timed.
#[derive(Clone, Debug, Serialize)]
pub struct Rate {
    /// Short name (chart label).
    pub name: String,
    /// What ran.
    pub what: String,
    /// Cycles simulated per repetition (system cycles for the system and for the replay of
    /// every chiplet, chiplet cycles for a replay of chiplet 0).
    pub cycles: u64,
    /// Chiplet cycles simulated per repetition.
    pub chiplet_cycles: u64,
    /// Wall seconds of each repetition.
    pub secs: Vec<f64>,
    /// `cycles` / median seconds.
    pub cycles_per_s: f64,
    /// Size of the waveform written, if any.
    pub wave_bytes: Option<u64>,
}

/// Verilator evaluations of one full-system run on the RTL (every chiplet).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Evals {
    /// Evaluations that applied clock cycles (two a chiplet cycle, plus one settle each).
    pub clock_evals: u64,
    /// Evaluations spent reading chip state for the checks and probes (debug-port reads).
    pub introspection_evals: u64,
    /// Chiplet cycles of the run (reset included).
    pub chiplet_cycles: u64,
    /// Task futures the kernel's executor polled.
    pub task_polls: u64,
    /// Polls it skipped because the task was spinning on an MMIO response not yet visible.
    pub skipped_polls: u64,
}

/// The throughput section.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// System cycles of the default workload (every run must agree).
    pub system_cycles: u64,
    /// Chiplets of the default workload.
    pub chiplets: usize,
    /// Cycles recorded at each chiplet (reset included) and replayed.
    pub recorded_cycles: u64,
    /// Every replay reproduced the outputs the chiplets produced in the system (checksums).
    pub replay_matches: bool,
    /// Every timed configuration.
    pub rates: Vec<Rate>,
    /// Full system on the RTL ÷ the C++ loop stepping every chiplet every cycle, system
    /// cycles/s: the fair baseline, since the system steps every chiplet too. The median of
    /// [`Throughput::system_over_cpp_all_pairs`].
    pub system_over_cpp_all: f64,
    /// The same ratio from each pair of runs timed back to back.
    pub system_over_cpp_all_pairs: Vec<f64>,
    /// Full system on the RTL ÷ the C++ loop stepping chiplet 0 only, cycles/s.
    pub system_over_cpp: f64,
    /// The same per chiplet cycle (system cycles × chiplets ÷ C++ loop rate).
    pub system_chiplet_cycles_over_cpp: f64,
    /// Rust harness loop ÷ C++ loop.
    pub ffi_over_cpp: f64,
    /// Full system with a whole-run FST ÷ without.
    pub system_fst_over_plain: f64,
    /// Evaluations of a system run on the RTL as `run` does it (state read from the snapshot,
    /// spinning tasks not polled).
    pub evals: Evals,
    /// The same run the way of before: TLBs read through the debug port, spinning tasks
    /// polled every cycle, every chiplet evaluated every cycle.
    pub evals_before: Evals,
    /// System on the RTL ÷ the same the way of before, cycles/s.
    pub speedup: f64,
    /// Of which the state snapshot: polling spins, snapshot ÷ debug port.
    pub snapshot_speedup: f64,
    /// Of which the skipped polls: snapshot, no idle skipping, skipping ÷ polling.
    pub spin_speedup: f64,
    /// Of which idle skipping and fast-forward: skipping ÷ evaluating every chiplet every cycle.
    pub skip_speedup: f64,
}

fn rate(name: &str, what: &str, cycles: u64, chiplet_cycles: u64, secs: Vec<f64>, wave_bytes: Option<u64>) -> Rate {
    let m = median(&secs);
    Rate { name: name.into(), what: what.into(), cycles, chiplet_cycles, cycles_per_s: cycles as f64 / m.max(1e-9), secs, wave_bytes }
}

fn file_size(p: &PathBuf) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}

/// Run the section.
pub fn run(cfg: &BenchConfig, pb: &Progress) -> Result<Throughput, String> {
    let chiplets = cfg.chiplets;
    // 1. Record every chiplet's inputs in a full-system run of the default workload.
    pb.step("throughput: recording the chiplets' inputs in the default workload");
    let rec = default_run(cfg, None, || Tap { inner: Rtl::new(WaveFormat::Fst), inputs: Some(Vec::new()), sum: 0 })?;
    let system_cycles = rec.cycles;
    let mut recorded = Vec::new();
    for c in 0..chiplets {
        recorded.push(rec.sys.hw.with_model(c, |t| (t.inputs.take().unwrap_or_default(), t.sum)).ok_or(format!("no chiplet {c}"))?);
    }
    drop(rec);
    let all_sum = recorded.iter().fold(0u64, |s, (_, sum)| s.wrapping_add(*sum));
    let (inputs, recorded_sum) = recorded.swap_remove(0);
    let n = inputs.len() as u64;
    let mut rates = Vec::new();

    // 2. Replays of the recorded inputs. Every chiplet every cycle: the inputs are laid out
    // cycle by cycle before the clock starts.
    pb.step("throughput: C++ Verilator loop, every chiplet");
    let mut others: Vec<Vec<PortsIn>> = recorded.into_iter().map(|(v, _)| v).collect();
    others.insert(0, inputs);
    let cycle_major = RtlFleet::interleave(&others).ok_or("the chiplets were stepped for different numbers of cycles")?;
    let inputs = others.swap_remove(0);
    drop(others);
    let mut secs = Vec::new();
    let mut replay_matches = true;
    for _ in 0..cfg.reps {
        let mut fleet = RtlFleet::new(chiplets);
        let t = Instant::now();
        let sum = fleet.replay_cpp(&cycle_major);
        secs.push(t.elapsed().as_secs_f64());
        replay_matches &= sum == all_sum;
    }
    let what = format!("pure C++ Verilator loop over every chiplet's recorded inputs, {chiplets} models stepped every cycle");
    rates.push(rate(CPP_ALL, &what, n, n * chiplets as u64, secs, None));

    pb.step("throughput: C++ Verilator loop");
    let mut secs = Vec::new();
    for _ in 0..cfg.reps {
        let mut rtl = Rtl::new(WaveFormat::Fst);
        let t = Instant::now();
        let sum = rtl.replay_cpp(&inputs);
        secs.push(t.elapsed().as_secs_f64());
        replay_matches &= sum == recorded_sum;
    }
    rates.push(rate(CPP, "pure C++ Verilator loop over chiplet 0's recorded inputs", n, n, secs, None));

    pb.step("throughput: C++ Verilator loop with FST");
    let mut secs = Vec::new();
    let fst = cfg.out.join("cpp-loop.fst.tmp");
    let mut bytes = None;
    for _ in 0..cfg.reps {
        let mut rtl = Rtl::new(WaveFormat::Fst);
        let t = Instant::now();
        rtl.open_waves(&fst).map_err(|e| e.to_string())?;
        rtl.replay_cpp(&inputs);
        rtl.close_waves();
        secs.push(t.elapsed().as_secs_f64());
        bytes = file_size(&fst);
        let _ = std::fs::remove_file(&fst);
    }
    rates.push(rate("C++ loop + FST", "the C++ loop dumping every signal to an FST", n, n, secs, bytes));

    pb.step("throughput: Rust harness loop");
    let mut secs = Vec::new();
    for _ in 0..cfg.reps {
        let mut rtl = Rtl::new(WaveFormat::Fst);
        let t = Instant::now();
        let sum = inputs.iter().fold(0u64, |s, i| checksum_step(s, rtl.cycle(i)));
        secs.push(t.elapsed().as_secs_f64());
        replay_matches &= sum == recorded_sum;
    }
    rates.push(rate("Rust FFI loop", "Rust loop, one cxx call per cycle carrying every port", n, n, secs, None));

    pb.step("throughput: reference model replay");
    let mut secs = Vec::new();
    for _ in 0..cfg.reps {
        let mut m = RefModel::new(Params::default());
        let t = Instant::now();
        let sum = inputs.iter().fold(0u64, |s, i| checksum_step(s, m.cycle(i)));
        secs.push(t.elapsed().as_secs_f64());
        replay_matches &= sum == recorded_sum;
    }
    rates.push(rate("model replay", "the Rust reference model alone over the same inputs", n, n, secs, None));
    drop(inputs);

    // 3. The full system, timed over `System::run` only.
    let wf = cfg.out.join("system.fst.tmp");
    let rtl = || Rtl::new(WaveFormat::Fst);
    let model = || RefModel::new(Params::default());
    let lock = || Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Params::default()));
    let c = system_cycles;
    let now = Mode::default();
    let what = "full system (kernel, driver, checkers) on the RTL, chip state read from the register snapshot, spinning tasks not polled";
    let (rate_rtl, evals) = time_system(cfg, pb, SYSTEM_RTL, what, None, now, rtl, c)?;
    rates.push(rate_rtl);
    let every = Mode { no_skip: true, ..now };
    let what = "the same, every chiplet evaluated every cycle (no idle skipping, no fast-forward)";
    rates.push(time_system(cfg, pb, "system RTL, no idle skipping", what, None, every, rtl, c)?.0);
    let polling = Mode { poll_spins: true, ..every };
    let what = "the same, tasks spinning on an MMIO response polled every cycle too";
    rates.push(time_system(cfg, pb, "system RTL, polling spins", what, None, polling, rtl, c)?.0);
    let before = Mode { debug_port: true, ..polling };
    let what = "the same, every TLB read through the debug port too (one eval per index 0..=255): the system as before";
    let (rate_before, evals_before) = time_system(cfg, pb, "system RTL, as before", what, None, before, rtl, c)?;
    rates.push(rate_before);
    rates.push(time_system(cfg, pb, "system RTL + FST", "full system on the RTL, chiplet 0 dumped to an FST for the whole run", Some(wf), now, rtl, c)?.0);
    rates.push(time_system(cfg, pb, "system model", "full system on the reference model", None, now, model, c)?.0);
    rates.push(time_system(cfg, pb, "system lockstep", "full system on RTL and reference model in lockstep, every output compared every cycle, the chip states every 1024 cycles and at every read", None, now, lock, c)?.0);

    // The headline ratio from pairs timed back to back (the C++ loop over every chiplet, then
    // the system), so that both sides of each ratio see the same load on a shared machine.
    pb.step("throughput: system and C++ loop over every chiplet, paired");
    let mut paired = Vec::new();
    for _ in 0..cfg.reps {
        let mut fleet = RtlFleet::new(chiplets);
        let t = Instant::now();
        fleet.replay_cpp(&cycle_major);
        let cpp_secs = t.elapsed().as_secs_f64();
        let sys_secs = workload_run(cfg, WorkloadKind::Stress, None, now, rtl)?.secs;
        paired.push(cpp_secs / sys_secs.max(1e-9));
    }
    drop(cycle_major);

    let by = |name: &str| rates.iter().find(|r| r.name == name).map_or(f64::NAN, |r| r.cycles_per_s);
    let cpp = by(CPP);
    Ok(Throughput {
        system_cycles,
        chiplets,
        recorded_cycles: n,
        replay_matches,
        system_over_cpp_all: median(&paired),
        system_over_cpp_all_pairs: paired,
        system_over_cpp: by(SYSTEM_RTL) / cpp,
        system_chiplet_cycles_over_cpp: by(SYSTEM_RTL) * chiplets as f64 / cpp,
        ffi_over_cpp: by("Rust FFI loop") / cpp,
        system_fst_over_plain: by("system RTL + FST") / by(SYSTEM_RTL),
        evals,
        evals_before,
        speedup: by(SYSTEM_RTL) / by("system RTL, as before"),
        snapshot_speedup: by("system RTL, polling spins") / by("system RTL, as before"),
        spin_speedup: by("system RTL, no idle skipping") / by("system RTL, polling spins"),
        skip_speedup: by(SYSTEM_RTL) / by("system RTL, no idle skipping"),
        rates,
    })
}

/// Time `cfg.reps` runs of the default workload on the system over `make`'s chiplets in `mode`;
/// also the evaluations and polls of the last run.
#[allow(clippy::too_many_arguments)]
fn time_system<M: SystemModel>(
    cfg: &BenchConfig,
    pb: &Progress,
    name: &str,
    what: &str,
    waves: Option<PathBuf>,
    mode: Mode,
    make: impl Fn() -> M,
    expect_cycles: u64,
) -> Result<(Rate, Evals), String> {
    pb.step(&format!("throughput: {name}"));
    let mut secs = Vec::new();
    let mut bytes = None;
    let mut evals = Evals::default();
    for _ in 0..cfg.reps {
        let r = workload_run(cfg, WorkloadKind::Stress, waves.clone(), mode, &make)?;
        if r.cycles != expect_cycles {
            return Err(format!("{name}: {} cycles, the recording run took {expect_cycles}", r.cycles));
        }
        let e = r.sys.hw.evals();
        let chiplet_cycles = (0..cfg.chiplets).filter_map(|c| r.sys.hw.with_model(c, |m| m.cycles())).sum();
        let polls = r.sys.kernel.polls();
        evals = Evals {
            clock_evals: e.clock,
            introspection_evals: e.debug,
            chiplet_cycles,
            task_polls: polls.polled,
            skipped_polls: polls.skipped,
        };
        secs.push(r.secs);
        if let Some(w) = &waves {
            bytes = file_size(w);
            let _ = std::fs::remove_file(w);
        }
    }
    Ok((rate(name, what, expect_cycles, expect_cycles * cfg.chiplets as u64, secs, bytes), evals))
}

//! The chip monitors (`gru_sim::monitor`): each fires on an RTL bug that every end-to-end check
//! misses because another layer absorbs it, stays quiet on the chip as designed, and the
//! lockstep stimulus reaches every chip-level cover point.

use gru_cosim::check::{Check, Failure};
use gru_cosim::mutants::MutantKind;
use gru_cosim::run_cmd::{self, RunArgs};
use gru_cosim::system::HwKind;
use gru_sim::lockstep::Lockstep;
use gru_sim::model::{Params, RefModel};
use gru_sim::monitor::{ChipCover, Monitor};
use gru_sim::mutant::RtlMutant;
use gru_sim::rtl::{Rtl, WaveFormat};
use gru_sim::stimulus;

fn failures(workload: &str, seed: u64, mutant: Option<RtlMutant>, monitors: bool) -> Vec<Failure> {
    let args = RunArgs {
        workload: workload.into(),
        seed,
        hw: HwKind::Rtl,
        mutant: mutant.map(MutantKind::Rtl),
        no_chip_monitors: !monitors,
        ..RunArgs::default()
    };
    run_cmd::execute(&args, false).expect("run").failures
}

/// `mutant` passes every end-to-end check of `workload` seed `seed`, and with the monitors on
/// the run fails with `monitor`'s verdict and no other.
fn masked_but_monitored(mutant: RtlMutant, workload: &str, seed: u64, monitor: Monitor) {
    let end_to_end = failures(workload, seed, Some(mutant), false);
    assert!(end_to_end.is_empty(), "{mutant} is no longer masked end to end: {end_to_end:?}");
    let monitored = failures(workload, seed, Some(mutant), true);
    assert!(!monitored.is_empty(), "the {monitor} monitor missed {mutant}");
    for f in &monitored {
        assert_eq!(f.check, Check::ChipMonitor, "{mutant}: only the monitor fails: {f:?}");
        assert!(f.detail.contains(&format!("[{monitor}]")), "{mutant}: {}", f.detail);
    }
}

#[test]
fn race_stale_fires_on_a_miss_latched_during_a_purge_that_the_driver_gate_masks() {
    masked_but_monitored(RtlMutant::GuardStartOnly, "default", 1, Monitor::RaceStale);
}

#[test]
fn race_stale_fires_on_a_miss_latched_at_the_purge_start_edge() {
    masked_but_monitored(RtlMutant::StaleSameEdge, "default", 4, Monitor::RaceStale);
}

#[test]
fn purge_complete_fires_on_a_handle_that_reads_idle_while_its_purge_runs() {
    masked_but_monitored(RtlMutant::PurgeDoneEarly, "default", 1, Monitor::PurgeComplete);
}

#[test]
fn fault_read_and_one_match_fire_before_the_end_to_end_symptom() {
    // A lost fault bit ends as a CB that never completes, a duplicate entry as a store that
    // re-faults forever: both caught end to end, but 10^5 cycles later and without the cause.
    for (m, monitor, later) in [
        (RtlMutant::TfmSetLost, Monitor::FaultRead, Check::Kernel),
        (RtlMutant::InstallNoReplace, Monitor::OneMatch, Check::Progress),
    ] {
        let end_to_end = failures("default", 1, Some(m), false);
        let monitored = failures("default", 1, Some(m), true);
        assert_eq!(end_to_end.first().map(|f| f.check), Some(later), "{m}: {end_to_end:?}");
        let first = &monitored[0];
        assert_eq!(first.check, Check::ChipMonitor, "{m}: {first:?}");
        assert!(first.detail.contains(&format!("[{monitor}]")) && first.cycle < end_to_end[0].cycle, "{m}: {first:?}");
    }
}

/// A dropin that upgrades a clean entry to a dirty one while a free entry sits below it: with
/// `rtl_install_no_replace` the dirty copy goes to the free entry, the lower index wins every
/// lookup, and the stale clean copy is never used — no end-to-end symptom, two matches.
/// (MADV_FREE leaves page 1's PTE writable and clean, so its GRU load is dropped in clean; the
/// munmap of page 0 frees entry 0.)
const CLEAN_THEN_DIRTY: &str = r#"description = "a clean entry upgraded above a free one"
[[process]]
name = "a"
pages = 2
[[thread]]
name = "t0"
process = "a"
chiplet = 0
steps = [
  { op = "cpu_store", page = 0, value = 0x1 },
  { op = "cpu_store", page = 1, value = 0x2 },
  { op = "madvise", page = 1, advice = "free" },
  { op = "gru_load", page = 0, expect = { value = 0x1 } },
  { op = "gru_load", page = 1, expect = { value = 0x2 } },
  { op = "munmap", page = 0 },
  { op = "gru_store", page = 1, value = 0x3 },
  { op = "gru_load", page = 1, expect = { value = 0x3 } },
  { op = "cpu_load", page = 1, expect = { value = 0x3 } },
]
"#;

#[test]
fn one_match_fires_on_a_duplicate_entry_that_no_lookup_reveals() {
    let dir = std::env::temp_dir().join(format!("gru-chip-monitors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clean_then_dirty.toml");
    std::fs::write(&path, CLEAN_THEN_DIRTY).unwrap();
    let path = path.display().to_string();
    assert!(failures(&path, 1, None, true).is_empty(), "the chip as designed passes");
    masked_but_monitored(RtlMutant::InstallNoReplace, &path, 1, Monitor::OneMatch);
}

#[test]
fn monitors_pass_the_reference_model_in_the_default_workload() {
    let args = RunArgs { hw: HwKind::Model, ..RunArgs::default() };
    let out = run_cmd::execute(&args, false).expect("run");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
}

#[test]
fn each_monitor_fires_on_its_mutant_under_random_chip_stimulus() {
    for (m, monitor) in [
        (RtlMutant::GuardStartOnly, Monitor::RaceStale),
        (RtlMutant::StaleSameEdge, Monitor::RaceStale),
        (RtlMutant::PurgeDoneEarly, Monitor::PurgeComplete),
        (RtlMutant::PurgeSkipLastLane, Monitor::PurgeComplete),
        (RtlMutant::TfmSetLost, Monitor::FaultRead),
        (RtlMutant::InstallNoReplace, Monitor::OneMatch),
    ] {
        let (chip, _) = stimulus::monitored(Rtl::with_mutant(m), 1, 200_000);
        let v = chip.monitor().and_then(|mon| mon.violation()).cloned();
        assert_eq!(v.as_ref().map(|v| v.monitor), Some(monitor), "{m}: {v:?}");
    }
}

#[test]
fn a_short_lockstep_run_hits_every_chip_cover_point_without_a_violation() {
    let (mut chip, _) = stimulus::monitored(Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Params::default())), 1, 200_000);
    let mon = chip.monitor().expect("monitors on");
    assert_eq!(mon.violation(), None);
    assert!(mon.evaluations() > 1000, "the monitors evaluated {} times", mon.evaluations());
    let missed: Vec<&str> = mon.missed().into_iter().map(ChipCover::name).collect();
    assert!(missed.is_empty(), "cover points not hit: {missed:?}");
    assert_eq!(chip.model_mut().divergence().map(ToString::to_string), None);
}

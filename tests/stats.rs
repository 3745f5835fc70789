//! `gru-cosim stats` / `run --stats`: the driver's counters in the format of Linux's
//! `/proc/sgi_uv/gru/statistics`, the handle latencies in `mcs_statistics`'s, and the chips'
//! statistics handles, which must agree with the driver's own counts.

use gru_cosim::run_cmd::{self, PurgeTimingKind, RunArgs};
use gru_cosim::system::HwKind;

fn run(workload: &str, hw: HwKind) -> gru_cosim::stats_report::StatsReport {
    let args = RunArgs { workload: workload.into(), hw, accesses: (workload == "default").then_some(2_000), ..RunArgs::default() };
    let out = run_cmd::execute(&args, false).expect("run");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    out.stats
}

#[test]
fn statistics_print_as_linux_prints_them() {
    let s = run("default", HwKind::Model);
    // `%16lu %s`: the value right-aligned in 16 columns, one space, Linux's counter name.
    for line in s.statistics.lines() {
        let (value, name) = line.split_at(16);
        assert!(value.trim_start().parse::<u64>().is_ok() && name.starts_with(' ') && !name[1..].contains(' '), "{line:?}");
    }
    let names: Vec<&str> = s.counters.iter().map(|(n, _)| n.as_str()).collect();
    for linux in ["asid_new", "intr", "call_os", "tlb_dropin", "tlb_dropin_fail_range_active", "mmu_invalidate_range", "flush_tlb_gru_tgh"] {
        assert!(names.contains(&linux), "{linux} missing from {names:?}");
    }
    // Linux's order: the ASID counters come before the interrupt ones, the dropins after them.
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("asid_new") < at("intr") && at("intr") < at("tlb_dropin") && at("tlb_dropin") < at("flush_tlb"));
    let mut mcs = s.mcs_statistics.lines();
    assert_eq!(mcs.next(), Some("#id                        count   aver-clks    max-clks"));
    let row = mcs.find(|l| l.starts_with("tgh_invalidate")).expect("tgh_invalidate row");
    assert_eq!(row.len(), 20 + 3 * 12, "{row:?}");
}

#[test]
fn the_drivers_counts_agree_with_the_chips_statistics_handles() {
    for hw in [HwKind::Model, HwKind::Rtl] {
        let s = run("munmap", hw);
        let count = |n: &str| s.counters.iter().find(|(k, _)| k == n).map(|(_, v)| *v).unwrap();
        let chips = |f: fn(&gru_driver::gru::handles::Stats) -> u64| s.chips.iter().map(f).sum::<u64>();
        assert_eq!(count("flush_tlb_gru_tgh"), chips(|c| c.purges), "{hw:?}: TGH invalidates issued vs completed");
        let tgh = s.mcs.iter().find(|r| r.id == "tgh_invalidate").unwrap();
        assert_eq!(tgh.count, chips(|c| c.purges), "{hw:?}");
        assert!(tgh.aver_clks > 0 && tgh.max_clks >= tgh.aver_clks, "{hw:?}: {tgh:?}");
        let restart = s.mcs.iter().find(|r| r.id == "tfh_write_restart").unwrap();
        assert_eq!(restart.count, chips(|c| c.dropins + c.stale), "{hw:?}: dropins written vs installed or discarded");
    }
}

#[test]
fn the_mmio_latency_is_a_run_setting_the_latencies_and_the_replay_line_carry() {
    let at = |n: u64| {
        let args = RunArgs { workload: "munmap".into(), hw: HwKind::Model, mmio_latency: Some(n), ..RunArgs::default() };
        let out = run_cmd::execute(&args, false).expect("run");
        assert!(out.failures.is_empty(), "{n}: {:?}", out.failures);
        assert!(out.replay.contains(&format!("--mmio-latency {n}")), "{}", out.replay);
        out.stats.mcs.iter().find(|r| r.id == "tgh_invalidate").unwrap().aver_clks
    };
    // A TGH's start write and its status read each cross the interconnect.
    let (fast, slow) = (at(20), at(400));
    assert!(fast >= 20 && slow >= 400 && slow > fast, "tgh_invalidate mean {fast} at 20, {slow} at 400");
    let bad = RunArgs { mmio_latency: Some(1), ..RunArgs::default() };
    let e = run_cmd::execute(&bad, false).unwrap_err().to_string();
    assert!(e.contains("--mmio-latency") && e.contains("2..=100000"), "{e}");
}

#[test]
fn the_purge_timing_is_a_run_setting_the_tgh_latency_and_the_replay_line_carry() {
    let run = |hw: HwKind, purge_timing: PurgeTimingKind| {
        let args = RunArgs { workload: "default".into(), hw, accesses: Some(3000), purge_timing, ..RunArgs::default() };
        let out = run_cmd::execute(&args, false).expect("run");
        assert!(out.failures.is_empty(), "{purge_timing:?} on {hw:?}: {:?}", out.failures);
        let tgh = out.stats.mcs.iter().find(|r| r.id == "tgh_invalidate").unwrap().clone();
        (out.replay, tgh.aver_clks, tgh.max_clks)
    };
    let (line, fixed_mean, _) = run(HwKind::Model, PurgeTimingKind::Fixed);
    assert!(!line.contains("--purge-timing"), "{line}");
    let (line, mean, max) = run(HwKind::Model, PurgeTimingKind::Variable);
    assert!(line.contains("--purge-timing variable"), "{line}");
    // Every variable purge takes the 250-cycle base on top of the scan; the tails spread the max.
    assert!(mean >= fixed_mean + 250 && max >= mean + 128, "fixed mean {fixed_mean}, variable mean {mean} max {max}");
    // The RTL variant gives the same run, cycle for cycle.
    assert_eq!(run(HwKind::Rtl, PurgeTimingKind::Variable).1, mean);
    // Only the fixed timing has VCD and mutant variants.
    let with_mutant = RunArgs {
        hw: HwKind::Rtl,
        purge_timing: PurgeTimingKind::Variable,
        mutant: Some(gru_cosim::mutants::find("rtl_no_tlb_mod").unwrap()),
        ..RunArgs::default()
    };
    let e = run_cmd::execute(&with_mutant, false).unwrap_err().to_string();
    assert!(e.contains("without mutants"), "{e}");
}

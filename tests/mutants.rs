//! The mutant catalogue: each mutant fails a check in the run that catches it (a golden
//! scenario, or a seed of the default workload), and the same run without the mutant passes.
//! Driver mutants run on the reference model, RTL mutants on their RTL variant; the whole file
//! takes seconds. This is the short form of `gru-cosim mutants` in `make test`.

use gru_cosim::mutants::{self, Catcher, MutantKind};
use gru_cosim::run_cmd::{self, RunArgs};
use gru_cosim::system::HwKind;
use gru_driver::gru::Mutant;
use gru_sim::mutant::RtlMutant;

/// The run that catches each mutant: a scenario name, or "default" with a seed.
const CATCHERS: &[(MutantKind, &str, u64)] = &[
    (MutantKind::Driver(Mutant::FlushInRangeEnd), "default", 1),
    (MutantKind::Driver(Mutant::NoRangeActiveCheck), "default", 1),
    (MutantKind::Driver(Mutant::RangeActiveBool), "default", 1),
    (MutantKind::Driver(Mutant::RangeEndOffByOne), "multi_chiplet_shootdown", 1),
    (MutantKind::Driver(Mutant::CtxbitmapMissingCtx), "multi_context_shootdown", 1),
    (MutantKind::Driver(Mutant::FirstPageOnly), "multi_chiplet_shootdown", 1),
    (MutantKind::Driver(Mutant::NoFullPurgeAbove1024), "munmap_over_1024", 1),
    (MutantKind::Driver(Mutant::ZeroAsidSkipKeepsAsid), "zero_asid_reload", 1),
    (MutantKind::Driver(Mutant::AsidReuseNoPurge), "asid_reuse", 1),
    (MutantKind::Driver(Mutant::DirtyOnReadDropin), "fork", 1),
    (MutantKind::Driver(Mutant::InvalidatePageIgnored), "swap_out_classic", 1),
    (MutantKind::Driver(Mutant::NoFlushOnRelease), "exit_then_cb", 1),
    (MutantKind::Driver(Mutant::DropinWrongAsid), "default", 1),
    (MutantKind::Driver(Mutant::FlushLoadedOnly), "reload_sibling_asid", 1),
    (MutantKind::Driver(Mutant::RangeCheckBeforeTfhRead), "munmap", 1),
    (MutantKind::Driver(Mutant::TrackerClearBeforeSync), "zero_asid_reload", 1),
    (MutantKind::Driver(Mutant::AsidHandedTwice), "asid_reuse", 1),
    (MutantKind::Driver(Mutant::AsidmapBitOffByOne), "cow_fault", 1),
    (MutantKind::Driver(Mutant::TghVaddrInPages), "cow_fault", 1),
    (MutantKind::Driver(Mutant::RangeActiveEndsAtStart), "default", 5),
    (MutantKind::Driver(Mutant::NoWakeOnRangeEnd), "fault_during_invalidate", 1),
    (MutantKind::Driver(Mutant::DropinIgnoresPteDirty), "default", 1),
    (MutantKind::Driver(Mutant::StoreMissAsRead), "exit_classic", 1),
    (MutantKind::Driver(Mutant::TrackerGenInverted), "stale_tracker_after_wrap", 1),
    (MutantKind::Driver(Mutant::UnloadIgnoresRefusal), "unload_pending_fault", 1),
    (MutantKind::Driver(Mutant::IntrReadsMapOnce), "default", 2),
    (MutantKind::Driver(Mutant::MkcleanNoFlush), "writeback_race", 1),
    (MutantKind::Driver(Mutant::FullPurgeAlways), "munmap", 1),
    (MutantKind::Driver(Mutant::GruPaddrUnchecked), "gru_space", 1),
    (MutantKind::Rtl(RtlMutant::NoRaceGuard), "default", 1),
    (MutantKind::Rtl(RtlMutant::PurgeSkipLastLane), "default", 1),
    (MutantKind::Rtl(RtlMutant::NoTlbMod), "tlb_mod", 1),
    (MutantKind::Rtl(RtlMutant::PurgeNIsCount), "cow_fault", 1),
    (MutantKind::Rtl(RtlMutant::AsidAlias), "asid_reuse", 1),
    (MutantKind::Rtl(RtlMutant::TfmNoClear), "cow_fault", 1),
    // Caught by a chip monitor: masked end to end (tests/chip_monitors.rs), or caught there
    // only much later.
    (MutantKind::Rtl(RtlMutant::GuardStartOnly), "default", 1),
    (MutantKind::Rtl(RtlMutant::StaleSameEdge), "default", 4),
    (MutantKind::Rtl(RtlMutant::RestartClearsStale), "default", 1),
    (MutantKind::Rtl(RtlMutant::TfmSetLost), "default", 1),
    (MutantKind::Rtl(RtlMutant::InstallNoReplace), "default", 1),
    (MutantKind::Rtl(RtlMutant::PurgeDoneEarly), "default", 1),
    (MutantKind::Rtl(RtlMutant::TghException), "default", 1),
];

/// What `gru-cosim run <workload> --seed <seed> --hw <hw> [--mutant m]` runs.
fn args(workload: &str, seed: u64, hw: HwKind, mutant: Option<MutantKind>) -> RunArgs {
    RunArgs { workload: workload.into(), seed, hw, mutant, ..RunArgs::default() }
}

/// A TGH that completes with EXCEPTION is a failure the driver reports with the handle's cause
/// (not a flush it takes for done).
#[test]
fn a_failed_tgh_is_reported_by_the_driver_with_its_cause() {
    let m = MutantKind::Rtl(RtlMutant::TghException);
    let out = run_cmd::execute(&args("default", 1, HwKind::Rtl, Some(m)), false).expect("run");
    let f = out.failures.iter().find(|f| f.check == gru_cosim::check::Check::Kernel).expect("the driver reports the failure");
    assert!(f.detail.contains("tgh_invalidate (EXCEPTION, cause TLB_ECC)"), "{}", f.detail);
}

#[test]
fn every_mutant_has_a_catcher() {
    for m in mutants::catalogue() {
        assert!(CATCHERS.iter().any(|(c, ..)| *c == m), "{} has no catcher", m.name());
    }
}

#[test]
fn each_mutant_fails_its_catcher_and_the_correct_driver_passes_it() {
    for &(m, workload, seed) in CATCHERS {
        let bad = run_cmd::execute(&args(workload, seed, m.hw(), Some(m)), false).expect("run");
        assert!(!bad.failures.is_empty(), "mutant {} escaped {workload} seed {seed}", m.name());
        let good = run_cmd::execute(&args(workload, seed, m.hw(), None), false).expect("run");
        assert!(good.failures.is_empty(), "{workload} seed {seed} fails without a mutant: {:?}", good.failures);
    }
}

#[test]
fn a_writable_dropin_of_a_clean_shmem_pte_fails_the_store_check_in_both_eras() {
    // Shmem maps a read-faulted page writable and clean: a dropin that trusts the write bit
    // alone lets the chip store without the page being dirtied.
    let m = MutantKind::Driver(Mutant::DropinIgnoresPteDirty);
    for era in [gru_driver::notifier::Era::Modern, gru_driver::notifier::Era::Classic] {
        let run = RunArgs { era: Some(era), ..args("shmem_clean_store", 1, HwKind::Model, Some(m)) };
        let bad = run_cmd::execute(&run, false).expect("run");
        let f = bad.failures.first().unwrap_or_else(|| panic!("{era}: the mutant escaped"));
        assert_eq!(f.check, gru_cosim::check::Check::FrameLife, "{era}: {f:?}");
        assert!(f.detail.contains("writable and dirty"), "{era}: {}", f.detail);
        let good = run_cmd::execute(&RunArgs { era: Some(era), ..args("shmem_clean_store", 1, HwKind::Model, None) }, false).expect("run");
        assert!(good.failures.is_empty(), "{era}: {:?}", good.failures);
    }
}

#[test]
fn the_unlocked_eras_window_is_allowed_only_until_invalidate_page_returns() {
    // classic-unlocked: the chip may store through its old entry after the PTE changed until
    // invalidate_page returns; an invalidate_page that flushes nothing leaves it storing after.
    let run = |m| run_cmd::execute(&args("unlocked_window", 1, HwKind::Model, m), false).expect("run");
    assert!(run(None).failures.is_empty());
    let bad = run(Some(MutantKind::Driver(Mutant::InvalidatePageIgnored)));
    assert!(bad.failures.iter().any(|f| f.check == gru_cosim::check::Check::FrameLife && f.detail.contains("writable and dirty")), "{:?}", bad.failures);
    // Two page_mkclean passes over one page overlap: the first invalidate_page returns while a
    // dropin made between them is stale by the second's PTE change, whose invalidate_page is
    // still under way and flushes it. The contract failed this correct run before it knew.
    let overlap = RunArgs { era: Some(gru_driver::notifier::Era::ClassicUnlocked), ..args("files", 130, HwKind::Model, None) };
    let out = run_cmd::execute(&overlap, false).expect("run");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
}

#[test]
fn a_livelock_fails_forward_progress_not_the_watchdog_or_a_timeout() {
    // Every dropin installs an entry the CB never hits: the run stays busy (the hang watchdog
    // sees work every cycle) and used to end only at the 500M-cycle limit.
    let m = MutantKind::Driver(Mutant::DropinWrongAsid);
    let bad = run_cmd::execute(&args("default", 1, HwKind::Model, Some(m)), false).expect("run");
    let f = &bad.failures[0];
    assert_eq!(f.check, gru_cosim::check::Check::Progress, "{f:?}");
    let issued: u64 = f.detail.split("issued at cycle ").nth(1).and_then(|t| t.split(':').next()).and_then(|c| c.parse().ok()).expect("issue cycle");
    assert!(f.cycle - issued < 100_000, "{f:?}");
    assert!(f.detail.contains("CBR") && f.detail.contains("asid 0x"), "names the CBR and the repeating dropin: {}", f.detail);
}

#[test]
fn hunt_stops_at_the_first_scenario_that_catches() {
    let catch = mutants::hunt(0, |w, s| args(w, s, HwKind::Model, Some(MutantKind::Driver(Mutant::CtxbitmapMissingCtx)))).expect("hunt").expect("caught");
    assert_eq!(catch.by, Catcher::Scenario("hmm_anon_teardown".into()));
    assert!(catch.replay.contains("hmm_anon_teardown"), "{}", catch.replay);
}

#[test]
fn catalogue_names_resolve_and_unknown_ones_list_them() {
    for m in mutants::catalogue() {
        assert_eq!(mutants::find(m.name()), Ok(m));
        assert!(!m.description().is_empty());
    }
    let e = mutants::find("first_pages_only").unwrap_err().to_string();
    assert!(e.contains("\"first_pages_only\"") && e.contains("first_page_only") && e.contains("asid_reuse_no_purge"), "{e}");
}

#[test]
fn catalogue_has_twelve_driver_and_ten_rtl_mutants_and_fault_injection_apart() {
    let all = mutants::catalogue();
    assert!(all.iter().filter(|m| m.driver().is_some()).count() >= 12);
    assert!(all.iter().filter(|m| m.rtl().is_some()).count() >= 10);
    let stuck = mutants::find("rtl_tgh_stuck").expect("fault injection is selectable");
    assert!(!all.contains(&stuck) && mutants::fault_injections().contains(&stuck));
}

#[test]
fn an_rtl_mutant_on_the_reference_model_is_refused_by_name() {
    let m = mutants::find("rtl_no_tlb_mod").unwrap();
    let e = run_cmd::execute(&args("tlb_mod", 1, HwKind::Model, Some(m)), false).unwrap_err().to_string();
    assert!(e.contains("rtl_no_tlb_mod") && e.contains("--hw rtl"), "{e}");
}

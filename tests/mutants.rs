//! The mutant catalogue: each driver mutant fails a check in the run that catches it (a golden
//! scenario, or a seed of the default workload), and the same run without the mutant passes.
//! All on the reference model, so the whole file takes seconds.

use gru_cosim::mutants::{self, Catcher, MutantKind};
use gru_cosim::run_cmd::{self, RunArgs};
use gru_cosim::system::HwKind;
use gru_driver::gru::Mutant;

/// The run that catches each driver mutant: a scenario name, or "default" with a seed.
const CATCHERS: &[(Mutant, &str, u64)] = &[
    (Mutant::FlushInRangeEnd, "default", 1),
    (Mutant::NoRangeActiveCheck, "default", 1),
    (Mutant::RangeActiveBool, "default", 1),
    (Mutant::RangeEndOffByOne, "multi_chiplet_shootdown", 1),
    (Mutant::CtxbitmapMissingCtx, "multi_context_shootdown", 1),
    (Mutant::FirstPageOnly, "multi_chiplet_shootdown", 1),
    (Mutant::NoFullPurgeAbove1024, "munmap_over_1024", 1),
    (Mutant::ZeroAsidSkipKeepsAsid, "zero_asid_reload", 1),
    (Mutant::AsidReuseNoPurge, "asid_reuse", 1),
    (Mutant::DirtyOnReadDropin, "fork", 1),
    (Mutant::InvalidatePageIgnored, "swap_out_classic", 1),
    (Mutant::NoFlushOnRelease, "exit_then_cb", 1),
];

/// What `gru-cosim run <workload> --seed <seed> --hw model [--mutant m]` runs.
fn args(workload: &str, seed: u64, mutant: Option<Mutant>) -> RunArgs {
    RunArgs { workload: workload.into(), seed, hw: HwKind::Model, mutant: mutant.map(MutantKind::Driver), ..RunArgs::default() }
}

#[test]
fn every_driver_mutant_has_a_catcher() {
    for m in Mutant::ALL {
        assert!(CATCHERS.iter().any(|(c, ..)| c == m), "{m} has no catcher");
    }
}

#[test]
fn each_mutant_fails_its_catcher_and_the_correct_driver_passes_it() {
    for &(m, workload, seed) in CATCHERS {
        let bad = run_cmd::execute(&args(workload, seed, Some(m)), false).expect("run");
        assert!(!bad.failures.is_empty(), "mutant {m} escaped {workload} seed {seed}");
        let good = run_cmd::execute(&args(workload, seed, None), false).expect("run");
        assert!(good.failures.is_empty(), "{workload} seed {seed} fails without a mutant: {:?}", good.failures);
    }
}

#[test]
fn hunt_stops_at_the_first_scenario_that_catches() {
    let catch = mutants::hunt(0, |w, s| args(w, s, Some(Mutant::CtxbitmapMissingCtx))).expect("hunt").expect("caught");
    assert_eq!(catch.by, Catcher::Scenario("multi_context_shootdown".into()));
    assert!(catch.replay.contains("multi_context_shootdown"), "{}", catch.replay);
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

//! Cover points are hit by the runs that enter their windows, and only those; a run's total
//! counts its era's points.

use gru_cosim::coverage::{Coverage, POINTS};
use gru_cosim::run_cmd::{execute, RunArgs};
use gru_cosim::system::HwKind;
use gru_driver::notifier::Era;

fn coverage_of(workload: &str) -> Coverage {
    let args = RunArgs { workload: workload.into(), hw: HwKind::Model, ..RunArgs::default() };
    let o = execute(&args, false).expect("run");
    assert!(o.failures.is_empty(), "{workload}: {:?}", o.failures);
    o.coverage
}

fn hit(c: &Coverage, id: &str) -> bool {
    c.hits.get(id).is_some_and(|&n| n > 0)
}

#[test]
fn scenarios_hit_the_windows_they_were_written_for() {
    let c = coverage_of("fault_during_invalidate");
    assert!(hit(&c, "race.stale_discard_irq") || hit(&c, "race.stale_discard_call_os"), "{c:?}");
    assert!(hit(&c, "notifier.modern.unmap") || hit(&c, "notifier.modern.clear"), "{c:?}");
    let c = coverage_of("multi_context_shootdown");
    assert!(hit(&c, "purge.multi_ctx") && hit(&c, "purge.hit"), "{c:?}");
    assert!(!hit(&c, "asid.wrap"), "no wrap in a two-context scenario");
    let c = coverage_of("munmap_over_1024");
    assert!(hit(&c, "purge.full_asid"), "{c:?}");
}

#[test]
fn a_run_counts_its_eras_points_and_a_regression_their_union() {
    let modern = Coverage::new(Era::Modern);
    let classic = Coverage::new(Era::Classic);
    let all = POINTS.len();
    assert!(all >= 40, "{all} cover points");
    assert_eq!(modern.score().1, POINTS.iter().filter(|p| p.era != Some(Era::Classic)).count());
    assert!(!modern.hits.contains_key("notifier.classic.invalidate_page"));
    let mut m = modern.clone();
    m.hit("purge.hit");
    m.hit("notifier.classic.invalidate_page");
    assert_eq!(m.score().0, 1, "a point of the other era is not counted");
    let mut c = classic.clone();
    c.hit("notifier.classic.invalidate_page");
    m.merge(&c);
    assert_eq!((m.era.as_deref(), m.score().0), (None, 2));
    assert_eq!(m.summary(), format!("coverage: 2 of {all} cover points"));
}

#[test]
fn each_era_has_forty_windows_and_the_directed_workload_enters_the_rare_ones() {
    assert!(Coverage::new(Era::Modern).score().1 >= 40 && Coverage::new(Era::Classic).score().1 >= 40);
    let mut c = Coverage::new(Era::Modern);
    for seed in 1..=4 {
        let args = RunArgs { workload: "directed".into(), seed, hw: HwKind::Model, ..RunArgs::default() };
        let o = execute(&args, false).expect("run");
        assert!(o.failures.is_empty(), "directed seed {seed}: {:?}", o.failures);
        c.merge(&o.coverage);
    }
    for id in ["race.unload_pending_fault", "dropin.huge", "asid.wrap", "purge.global", "purge.full_asid", "race.load_own_flush", "race.unload_own_flush"] {
        assert!(hit(&c, id), "directed seeds 1..=4 miss {id}: {:?}", c.missed());
    }
    let c = coverage_of("default");
    assert!(!hit(&c, "dropin.huge") && !hit(&c, "race.unload_pending_fault"), "the default mix has no THP and no hand-issued CB");
}

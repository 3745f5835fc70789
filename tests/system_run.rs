//! The whole system: the random workload with every check on, on each hardware model; the
//! checkers catch a planted bug; scenario files are validated.

use gru_cosim::run_cmd::{self, RunArgs};
use gru_cosim::scenario::{Scenario, ScenarioError};
use gru_cosim::check::Check;
use gru_cosim::system::{HwKind, System, SystemConfig};
use gru_cosim::workload::hpc::{FaultTally, BUFFER_PAGES};
use gru_cosim::workload::{self, WorkloadConfig, WorkloadKind};
use gru_driver::gru::GruConfig;
use gru_driver::notifier::Era;
use gru_sim::model::RefModel;

fn args(hw: HwKind, seed: u64, era: Era) -> RunArgs {
    RunArgs { seed, hw, era: Some(era), accesses: Some(3_000), ..RunArgs::default() }
}

#[test]
fn random_workload_passes_every_check_on_each_model() {
    for (hw, seed, era) in [(HwKind::Model, 1, Era::Modern), (HwKind::Model, 2, Era::Classic), (HwKind::Rtl, 3, Era::Modern), (HwKind::Lockstep, 4, Era::Modern)] {
        assert_eq!(run_cmd::run(&args(hw, seed, era)).ok(), Some(true), "{hw:?} seed {seed}");
    }
}

#[test]
fn same_seed_same_trace() {
    let trace = || {
        let sys = System::new(SystemConfig { chiplets: 2, seed: 9, ..SystemConfig::default() }, || RefModel::new(Default::default())).unwrap();
        workload::spawn(&sys, &WorkloadConfig { accesses: 1_000, ..WorkloadConfig::default() });
        sys.run(50_000_000);
        gru_cosim::trace::to_json_lines(&sys.events())
    };
    assert_eq!(trace(), trace());
}

/// Run `kind` with `accesses` GRU accesses on the reference model (2 chiplets, seed `seed`);
/// the driver's fault counters at the end, and at the HPC barrier.
fn fault_tallies(kind: WorkloadKind, accesses: u64, seed: u64, gru: GruConfig) -> (FaultTally, Option<FaultTally>) {
    let sys = System::new(SystemConfig { chiplets: 2, seed, gru, ..SystemConfig::default() }, || RefModel::new(Default::default())).unwrap();
    let counts = workload::spawn(&sys, &WorkloadConfig::of(kind, accesses));
    let r = sys.run(50_000_000);
    assert!(sys.checker.failures().is_empty(), "{kind:?} seed {seed}: {:?}", sys.checker.failures());
    let warmed = counts.warmed.borrow().clone();
    (FaultTally::of(&sys.gru, r.cycles), warmed)
}

#[test]
fn stress_call_os_causes_sum_to_the_call_os_count() {
    let (end, warmed) = fault_tallies(WorkloadKind::Stress, 3_000, 1, GruConfig::default());
    assert!(warmed.is_none(), "the stress workload has no phases");
    assert!(end.call_os > 0, "the stress workload sends misses to CALL_OS: {end:?}");
    assert_eq!(end.handed_over(), end.call_os, "every handover is counted under one cause: {end:?}");
    let seen = end.causes.iter().filter(|(_, n)| *n > 0).count();
    assert!(seen >= 3, "munmap, mprotect, fork and swap-out give several causes: {end:?}");
}

#[test]
fn lockless_irq_walk_serves_what_a_failed_trylock_handed_over() {
    let count = |t: &FaultTally, name: &str| t.causes.iter().find(|(c, _)| *c == name).map_or(0, |(_, n)| *n);
    // Every check passes on each seed (fault_tallies asserts it): the walk is safe without the lock.
    for seed in 1..=4 {
        let (linux, _) = fault_tallies(WorkloadKind::Stress, 3_000, seed, GruConfig::default());
        let (better, _) = fault_tallies(WorkloadKind::Stress, 3_000, seed, GruConfig { lockless_irq_walk: true, ..GruConfig::default() });
        assert!(count(&linux, "intr_mm_lock_failed") > 0, "seed {seed}: the stress workload's mm operations hold mmap_lock: {linux:?}");
        assert_eq!(count(&better, "intr_mm_lock_failed"), 0, "seed {seed}: no trylock: {better:?}");
        assert_eq!(better.handed_over(), better.call_os, "seed {seed}: {better:?}");
        assert!(better.irq_share_pct() > linux.irq_share_pct(), "seed {seed}: {:.1}% vs {:.1}%", better.irq_share_pct(), linux.irq_share_pct());
    }
}

#[test]
fn hpc_misses_are_served_from_the_interrupt_handler() {
    for seed in [1, 2] {
        let (end, warmed) = fault_tallies(WorkloadKind::Hpc, 12_000, seed, GruConfig::default());
        let warmed = warmed.expect("every thread met at the barrier");
        let (warm, steady) = (warmed.since(&FaultTally::default()), end.since(&warmed));
        // 6 threads, one compulsory miss per page of each buffer.
        assert_eq!(warm.misses, 6 * BUFFER_PAGES, "seed {seed}: {warm:?}");
        assert_eq!(warm.call_os, 0, "seed {seed}: first-touched pages are dropped in from the interrupt handler: {warm:?}");
        assert!(steady.misses > 0, "seed {seed}: streaming over more pages than the TLB holds keeps missing: {steady:?}");
        assert_eq!(end.handed_over(), end.call_os, "seed {seed}: {end:?}");
        assert!(end.irq_share_pct() >= 99.0, "seed {seed}: irq share {:.2}%: {end:?}", end.irq_share_pct());
    }
}

#[test]
fn data_oracle_catches_a_corrupted_frame() {
    // Corrupt the frame behind everyone's back: the chip load returns what the oracle does not
    // expect, and the failure names it.
    let sys = System::new(SystemConfig::default(), || RefModel::new(Default::default())).unwrap();
    let mm = sys.create_mm();
    let (gru, checker, mmu) = (sys.gru.clone(), sys.checker.clone(), sys.mmu.clone());
    sys.spawn("t", move |ctx| async move {
        let va = gru_driver::mm::ops::mmap(&ctx, &mm, None, 4096, gru_driver::mm::Prot::ReadWrite).await.unwrap();
        gru_driver::mm::cpu_store(&ctx, &mm, va, 5).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        let Some(gru_driver::mm::Leaf::Pte(_, pte)) = mm.lookup(va) else { panic!("no PTE") };
        let pfn = pte.present().unwrap().pfn;
        mmu.with_phys(|p| p.write_u64(pfn << 12, 6)).unwrap();
        let v = gru.cb_access(&ctx, &gts, 0, va, false, 0).await.unwrap();
        checker.chip_load(ctx.now(), mm.id(), va, v, 5);
        gru.free_context(&ctx, gts).await.unwrap();
    });
    sys.run(1_000_000);
    let f = sys.checker.failures();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].check, Check::DataOracle);
    assert!(f[0].detail.contains("expected 0x5, loaded 0x6"), "{}", f[0].detail);
}

#[test]
fn malformed_scenario_names_line_and_field() {
    let e = Scenario::parse("x.toml", "description = \"d\"\n[[process]]\nname = \"a\"\npages = \"two\"\n").unwrap_err();
    assert!(matches!(e, ScenarioError::Parse { .. }));
    assert!(e.to_string().contains("line 4"), "{e}");
    let e = Scenario::parse("x.toml", "description = \"d\"\nprocess = []\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [{ op = \"gru_lod\", page = 0 }]\n").unwrap_err();
    assert!(e.to_string().contains("gru_lod"), "{e}");
    let e = Scenario::parse("x.toml", "description = \"d\"\nprocess = []\n[[thread]]\nname = \"t\"\nprocess = \"a\"\n").unwrap_err();
    assert!(e.to_string().contains("no process \"a\""), "{e}");
}

#[test]
fn short_regression_passes_and_writes_its_results_file() {
    use gru_cosim::regress::{read_results, regress, RegressArgs, Seeds};
    let out = std::env::temp_dir().join(format!("gru-regress-{}.json", std::process::id()));
    let args = RegressArgs { jobs: 2, ..RegressArgs::new(Seeds { first: 1, last: 4 }, args(HwKind::Model, 1, Era::Modern), out.clone()) };
    let report = regress(&args).unwrap();
    assert_eq!((report.total, report.failed), (4, 0), "{:?}", report.results);
    assert_eq!(read_results(&out).unwrap(), report, "every seed in the file");
    assert!(report.results.iter().all(|r| r.verdict == "pass" && r.cycles > 0 && r.failure.is_none()));
}

/// The `--json` trace of `args`, and the chiplet cycles it skipped.
fn json_trace(args: &RunArgs, tag: &str) -> (Vec<u8>, u64) {
    let path = std::env::temp_dir().join(format!("gru-skip-{}-{tag}.jsonl", std::process::id()));
    let out = run_cmd::execute(&RunArgs { json: Some(path.clone()), ..args.clone() }, false).expect("run");
    assert!(out.failures.is_empty(), "{tag}: {:?}", out.failures);
    let trace = std::fs::read(&path).expect("trace written");
    std::fs::remove_file(&path).ok();
    (trace, out.skipped)
}

#[test]
fn idle_skipping_leaves_the_trace_byte_for_byte_the_same() {
    let golden = |name: &str| format!("{}/golden/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let runs = [
        RunArgs { seed: 2, hw: HwKind::Rtl, accesses: Some(4_000), ..RunArgs::default() },
        RunArgs { seed: 3, hw: HwKind::Lockstep, era: Some(Era::Classic), accesses: Some(3_000), ..RunArgs::default() },
        RunArgs { workload: "directed".into(), seed: 4, hw: HwKind::Model, accesses: Some(4_000), ..RunArgs::default() },
        RunArgs { workload: golden("multi_chiplet_shootdown"), hw: HwKind::Rtl, ..RunArgs::default() },
        RunArgs { workload: golden("fault_during_invalidate"), hw: HwKind::Rtl, ..RunArgs::default() },
    ];
    for (i, args) in runs.iter().enumerate() {
        let (skipping, skipped) = json_trace(args, &format!("{i}-skip"));
        let (every, none) = json_trace(&RunArgs { no_skip: true, ..args.clone() }, &format!("{i}-every"));
        assert_eq!(none, 0, "{}: --no-skip evaluates every cycle", args.command());
        assert!(skipped > 0, "{}: nothing was skipped", args.command());
        assert!(skipping == every, "{}: the trace differs with --no-skip", args.command());
    }
}

/// Every CCH line the driver writes is a user context's, as Linux's gru_load_context writes it:
/// `unmap_enable` clear (only the kernel's own context, which the model does not have, sets it),
/// fault bits and the interrupt on. Read from the MMIO trace, the lines the chip took.
#[test]
fn every_cch_written_is_a_user_context() {
    let sys = System::new(SystemConfig { chiplets: 2, seed: 5, ..SystemConfig::default() }, || RefModel::new(Default::default())).unwrap();
    workload::spawn(&sys, &WorkloadConfig { accesses: 500, ..WorkloadConfig::default() });
    sys.run(50_000_000);
    let cchs: Vec<_> = sys
        .hw
        .trace()
        .into_iter()
        .filter(|e| e.req.write)
        .filter_map(|e| match e.line {
            gru_driver::gru::hw::DecodedLine::Cch(_, c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(!cchs.is_empty());
    for c in &cchs {
        assert!(!c.unmap_enable && c.tfm_fault_bit_enable && c.tlb_int_enable, "{c:?}");
    }
}

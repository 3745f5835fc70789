//! A tiny `gru-cosim bench` run: every section runs and the outputs are well formed. No
//! timing is asserted (the machine is shared); only structure and the exact simulated facts.

use gru_cosim::bench::{self, BenchConfig};

#[test]
fn tiny_bench_writes_well_formed_outputs() {
    let dir = std::env::temp_dir().join(format!("gru-cosim-bench-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = BenchConfig::quick(&dir);
    let r = bench::run(&cfg).expect("bench run");

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    for key in ["machine", "command", "config", "throughput", "shootdown", "teardown", "faults", "hpc", "scale", "summary"] {
        assert!(json.get(key).is_some(), "results.json lacks {key}");
    }
    let last = json["summary"]["last_line"].as_str().unwrap();
    assert!(last.starts_with("bench: system/cpp_all = ") && last.contains(", system/cpp = ") && last.ends_with('%'), "{last}");
    assert!(last.contains(", irq-share(hpc) = ") && last.contains("%, irq-share(stress) = "), "{last}");
    assert_eq!(last, r.summary.last_line);
    assert!(json["throughput"]["replay_matches"].as_bool().unwrap(), "every C++ replay reproduces the chiplets' outputs");
    let tp = &r.throughput;
    let all = tp.rates.iter().find(|x| x.name == bench::throughput::CPP_ALL).expect("the all-chiplet loop ran");
    assert_eq!(all.chiplet_cycles, all.cycles * cfg.chiplets as u64, "every chiplet every cycle");
    let (e, d) = (&r.throughput.evals, &r.throughput.evals_before);
    assert_eq!(e.introspection_evals, 0, "the state snapshot costs no evaluation");
    assert!(d.introspection_evals > 0, "the debug-port baseline evaluates");
    assert_eq!(e.chiplet_cycles, d.chiplet_cycles, "the same run either way");
    assert_eq!(d.clock_evals, 2 * d.chiplet_cycles + cfg.chiplets as u64, "before: two evaluations a cycle, one settle per chiplet");
    assert!(e.clock_evals < d.clock_evals / 2, "quiet cycles cost no evaluation: {} of {}", e.clock_evals, d.clock_evals);
    assert!(e.skipped_polls > 0 && d.skipped_polls == 0, "spinning tasks are skipped, unless asked not to");
    assert_eq!(e.task_polls + e.skipped_polls, d.task_polls, "each skipped poll replaces one");

    // Simulated facts, exact for any machine.
    let sd = &r.shootdown;
    assert!(sd.purge_rtl_matches_model);
    for p in &sd.purge {
        assert_eq!(p.cycles, p.expected, "purge latency = entries / lanes: {p:?}");
        assert_eq!(p.entries_purged, p.tlb_entries as u64, "{p:?}");
    }
    assert!(sd.by_range.last().unwrap().full_purge, "2048 pages is a full purge");
    assert!(sd.by_chiplets.iter().all(|x| x.tgh_writes == x.setup.chiplets), "one TGH per chiplet");
    assert!(sd.by_contexts.iter().all(|x| x.tgh_writes == 1), "one TGH whatever the contexts");
    // The variable purge timing: no TGH is faster than its scan, its base and an MMIO round
    // trip; the distribution is ordered; one TGH per chiplet still.
    let v = &sd.variable;
    let floor = 128 / 8 + u64::from(v.base) + sd.mmio_latency;
    let u = &v.under_load;
    assert!(u.count > 0 && u.p50 >= floor && u.p50 <= u.p90 && u.p90 <= u.p99 && u.p99 <= u.p999 && u.p999 <= u.max, "{u:?}");
    assert!(v.by_chiplets.iter().all(|x| x.tgh_writes == x.setup.chiplets && x.tgh_round_trip_min >= floor), "{:?}", v.by_chiplets);
    let range = &r.teardown.series[0];
    assert!(range.points.iter().all(|p| p.mmio_writes == 1.0 && !p.extrapolated), "a range flush is one write");
    let per_page = &r.teardown.series[2];
    assert!(per_page.points.iter().all(|p| p.mmio_writes == p.pages as f64), "one TGH per page: {per_page:?}");
    assert!(per_page.points.iter().any(|p| p.extrapolated) && per_page.points.iter().any(|p| !p.extrapolated));
    let extrapolated = json["teardown"]["series"][2]["points"].as_array().unwrap().iter().filter(|p| p["extrapolated"] == true).count();
    assert!(extrapolated > 0, "extrapolated points are marked in the JSON");
    let fa = &r.faults;
    assert_eq!(fa.misses as u64, fa.chip_counter_misses, "the probe sees every miss the chips count");
    let answered: usize = fa.paths.iter().map(|p| p.count).sum();
    assert_eq!(answered + fa.unanswered, fa.misses);
    assert!((fa.irq_share_pct - fa.irq_share_from_stats_pct).abs() < 1e-9, "probe and driver counters agree");
    assert_eq!(fa.driver.handed_over(), fa.driver.call_os, "each handover is one call_os");
    assert_eq!(fa.paths[1].count + fa.paths[2].count, fa.driver.call_os as usize, "call_os misses end in a restart or an exception");
    let hpc = &r.hpc;
    assert_eq!(hpc.workload, "hpc");
    assert_eq!(hpc.phases.len(), 2, "warm-up and steady");
    assert_eq!(hpc.phases.iter().map(|p| p.misses).sum::<usize>(), hpc.misses, "the phases split the misses");
    assert_eq!(hpc.phases.iter().map(|p| p.driver.misses).sum::<u64>(), hpc.driver.misses, "and the driver's counters");
    assert_eq!(r.lockless.len(), 2, "both workloads again with the lock-less walk");
    for f in &r.lockless {
        assert!(f.lockless_irq_walk);
        assert_eq!(f.driver.handed_over(), f.driver.call_os, "{}", f.workload);
        assert!(f.driver.causes.iter().all(|&(c, n)| c != "intr_mm_lock_failed" || n == 0), "no trylock, no failed trylock: {:?}", f.driver);
    }
    let scale = &r.scale;
    assert_eq!(scale.runs().count(), 2);
    assert_eq!(scale.model.as_ref().map(|m| m.accesses), Some(cfg.scale_model_seeds * cfg.scale_model_accesses));

    let report = std::fs::read_to_string(dir.join("REPORT.md")).unwrap();
    assert!(report.contains(&r.summary.last_line) && report.contains("## 4. Fault service latency"));
    assert!(report.contains("### Variable purge timing") && report.contains("**Nominal clock: 0.5 GHz** — an assumption"));
    assert!(report.contains("### CALL_OS by cause") && report.contains("## 5. The HPC workload") && report.contains("## 6. Scale of a regression"));
    let svgs: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "svg")).collect();
    assert_eq!(svgs.len(), 7, "{svgs:?}");
    for p in &svgs {
        let s = std::fs::read_to_string(p).unwrap();
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && s.trim_end().ends_with("</svg>"), "{}", p.display());
        assert_eq!(s.matches("<svg").count(), 1);
        assert!(s.contains("<text") && (s.contains("<polyline") || s.contains("<rect x=")), "{} has no data", p.display());
        assert!(!s.contains("NaN") && !s.contains("inf\"") && !s.contains("inf,") && !s.contains(",inf"), "{} has a non-finite coordinate", p.display());
        assert!(report.contains(&*p.file_name().unwrap().to_string_lossy()), "the report shows {}", p.display());
    }
    assert!(!dir.join("system.fst.tmp").exists() && !dir.join("cpp-loop.fst.tmp").exists(), "waveforms removed");
    let _ = std::fs::remove_dir_all(&dir);
}

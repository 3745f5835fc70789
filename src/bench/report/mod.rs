//! The report: charts (SVG) and REPORT.md from [`BenchResults`].

use std::fmt::Write;

use super::shootdown::{LoadedTrips, SetupResult, Shootdown};
use super::svg::{BarChart, LineChart, Point, Scale, Series};
use super::throughput::{CPP, CPP_ALL, SYSTEM_RTL};
use super::BenchResults;

mod faults;

fn f0(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "–".into()
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

fn short_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{}G", b >> 30),
        b if b >= 1 << 20 => format!("{}M", b >> 20),
        b => format!("{}K", b >> 10),
    }
}

fn pages_label(r: &SetupResult) -> String {
    if r.full_purge {
        format!("{} (full)", r.setup.pages)
    } else {
        r.setup.pages.to_string()
    }
}

fn sd_series(v: &[SetupResult], x: impl Fn(&SetupResult) -> f64, flush: bool) -> Vec<Series> {
    let pts = |f: &dyn Fn(&SetupResult) -> f64| v.iter().map(|r| Point::new(x(r), f(r))).collect::<Vec<_>>();
    let mut s = vec![
        Series::new("TGH round trip, median", pts(&|r| r.tgh_round_trip_median)),
        Series::dashed("TGH round trip, max over seeds", pts(&|r| r.tgh_round_trip_max as f64)),
    ];
    if flush {
        s.push(Series::new("whole flush (all chiplets), median", pts(&|r| r.flush_round_trip_median)));
    }
    s.push(Series::new("munmap system call, median", pts(&|r| r.munmap_median)));
    s
}

/// The charts: (file name, SVG).
pub fn charts(r: &BenchResults) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let tp = &r.throughput;
    out.push((
        "throughput.svg".into(),
        BarChart {
            title: format!("Co-simulation throughput, default workload ({} chiplets)", tp.chiplets),
            y_label: "simulated cycles per wall second (log)".into(),
            categories: tp.rates.iter().map(|x| x.name.clone()).collect(),
            series: vec![("cycles/s: system cycles for system runs, chiplet-0 cycles for replays".into(), tp.rates.iter().map(|x| x.cycles_per_s).collect())],
            log: true,
        }
        .render(),
    ));
    let sd = &r.shootdown;
    // The range axis is categorical (1023 and 1024 pages sit side by side).
    let idx = |r: &SetupResult| sd.by_range.iter().position(|x| std::ptr::eq(x, r)).unwrap_or(0) as f64;
    let range_ticks: Vec<(f64, String)> = sd.by_range.iter().map(|x| (idx(x), pages_label(x))).collect();
    out.push((
        "shootdown_range.svg".into(),
        LineChart {
            title: "Shootdown round trip vs range (1 context, 1 chiplet, RTL)".into(),
            x_label: "pages munmapped (1024 and more: full purge)".into(),
            y_label: format!("cycles (× {} ns at {} GHz)", 1.0 / sd.clock_ghz, sd.clock_ghz),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            y_from_zero: true,
            x_ticks: Some(range_ticks),
            series: sd_series(&sd.by_range, idx, false),
        }
        .render(),
    ));
    out.push((
        "shootdown_contexts.svg".into(),
        LineChart {
            title: "Shootdown round trip vs contexts in the ctxbitmap (1 chiplet, RTL)".into(),
            x_label: "contexts of the address space loaded on the chiplet".into(),
            y_label: format!("cycles (× {} ns at {} GHz)", 1.0 / sd.clock_ghz, sd.clock_ghz),
            x_scale: Scale::Log(2),
            y_scale: Scale::Linear,
            y_from_zero: true,
            x_ticks: Some(sd.by_contexts.iter().map(|x| (x.setup.contexts as f64, x.setup.contexts.to_string())).collect()),
            series: sd_series(&sd.by_contexts, |x| x.setup.contexts as f64, false),
        }
        .render(),
    ));
    out.push((
        "shootdown_chiplets.svg".into(),
        LineChart {
            title: "Shootdown round trip vs chiplets (1 context each, RTL)".into(),
            x_label: "chiplets with a loaded context of the address space".into(),
            y_label: format!("cycles (× {} ns at {} GHz)", 1.0 / sd.clock_ghz, sd.clock_ghz),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            y_from_zero: true,
            x_ticks: Some(sd.by_chiplets.iter().map(|x| (x.setup.chiplets as f64, x.setup.chiplets.to_string())).collect()),
            series: sd_series(&sd.by_chiplets, |x| x.setup.chiplets as f64, true),
        }
        .render(),
    ));
    let mut sizes: Vec<usize> = sd.purge.iter().map(|p| p.tlb_entries).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let pick = |hw: &str| -> Vec<f64> {
        sizes.iter().map(|&n| sd.purge.iter().find(|p| p.hw == hw && p.tlb_entries == n).map_or(f64::NAN, |p| p.cycles as f64)).collect()
    };
    out.push((
        "purge_tlb.svg".into(),
        BarChart {
            title: "Purge latency at the chip (TGH start to IDLE) vs TLB size".into(),
            y_label: "cycles".into(),
            categories: sizes.iter().map(|n| format!("{n} entries")).collect(),
            series: vec![("reference model".into(), pick("model")), ("RTL (built at 128)".into(), pick("rtl"))],
            log: false,
        }
        .render(),
    ));
    let td = &r.teardown;
    let size_ticks: Vec<(f64, String)> = td
        .series
        .first()
        .map(|s| s.points.iter().map(|p| (p.bytes as f64, short_size(p.bytes))).collect())
        .unwrap_or_default();
    out.push((
        "teardown_mmio.svg".into(),
        LineChart {
            title: "MMIO writes to tear down a region (1 chiplet with a loaded context)".into(),
            x_label: "region size".into(),
            y_label: "MMIO writes".into(),
            x_scale: Scale::Log(4),
            y_scale: Scale::Log(10),
            y_from_zero: false,
            x_ticks: Some(size_ticks),
            series: td
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| Series {
                    name: s.name.clone(),
                    points: s
                        .points
                        .iter()
                        .map(|p| Point { x: p.bytes as f64, y: p.mmio_writes.max(0.5), extrapolated: p.extrapolated })
                        .collect(),
                    // Classic munmap equals modern munmap, modern swap-out equals classic:
                    // dash the second of each pair so that both show.
                    dashed: i % 2 == 1,
                })
                .collect(),
        }
        .render(),
    ));
    let fa = &r.faults;
    out.push((
        "fault_latency.svg".into(),
        BarChart {
            title: "Fault service latency, miss to restart (default workload)".into(),
            y_label: "cycles from the miss latch to the answering TFH command".into(),
            categories: vec!["p50".into(), "p90".into(), "p99".into(), "mean".into()],
            series: fa
                .paths
                .iter()
                .filter(|p| p.count > 0)
                .map(|p| {
                    (format!("{:?} ({:.1}% of misses)", p.path, p.share_pct), vec![p.p50 as f64, p.p90 as f64, p.p99 as f64, p.mean])
                })
                .collect(),
            log: false,
        }
        .render(),
    ));
    out
}

fn sd_table(s: &mut String, v: &[SetupResult], ghz: f64, key: &str, k: impl Fn(&SetupResult) -> String) {
    let _ = writeln!(s, "| {key} | TGH writes | TGH round trip p50 (min–max) cycles | ns p50 | whole flush p50 cycles | munmap p50 cycles | entries purged |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in v {
        let _ = writeln!(
            s,
            "| {} | {} | {} ({}–{}) | {} | {} | {} | {} |",
            k(r),
            r.tgh_writes,
            f0(r.tgh_round_trip_median),
            r.tgh_round_trip_min,
            r.tgh_round_trip_max,
            f0(r.tgh_round_trip_median / ghz),
            f0(r.flush_round_trip_median),
            f0(r.munmap_median),
            f0(r.entries_purged_median)
        );
    }
}

/// The TGH round-trip distributions `rows` (timing name, trips), in cycles and µs.
fn trips_table(s: &mut String, rows: &[(&str, &LoadedTrips)], ghz: f64) {
    let _ = writeln!(s, "| purge timing | TGH invalidates | contexts/write | full purges | mean | p50 | p90 | p99 | p99.9 | max | max µs |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, u) in rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.2} | {} | {:.0} | {} | {} | {} | {} | {} | {:.2} |",
            u.count, u.contexts_per_write, u.full_purges, u.mean, u.p50, u.p90, u.p99, u.p999, u.max, u.max as f64 / ghz / 1000.0
        );
    }
    let _ = writeln!(s);
}

/// The variable purge timing: the default workload's round trips beside the fixed timing's,
/// and the flush cost against chiplets.
fn variable_section(s: &mut String, sd: &Shootdown) {
    let v = &sd.variable;
    let _ = writeln!(s, "### Variable purge timing: the round-trip distribution and the flush against chiplets
");
    let _ = writeln!(
        s,
        "The RTL variant `Vgru_variable` (`--purge-timing variable`, docs/MICROARCH.md §7): {} purge engines serve started \
         TGHs concurrently; each TGH takes its scan (TLB_ENTRIES / PURGE_LANES cycles) + {} cycles + {} per entry it clears + \
         a tail of {} cycles × t, t = 0..8 drawn from the chip's LFSR (P(t = k) = 2^-(k+1)), seeded from the run's seed and the \
         chiplet (the replay line reproduces every tail). At the nominal {} GHz the base is {:.1} µs and the longest tail \
         {:.1} µs: \"the flush takes microseconds with variable tails while the CPU busy-polls\". The round trip is what the \
         driver measures: its start write to the poll that sees the handle no longer ACTIVE (+ one MMIO round trip).\n",
        v.engines,
        v.base,
        v.entry,
        v.tail,
        sd.clock_ghz,
        f64::from(v.base) / sd.clock_ghz / 1000.0,
        f64::from(8 * v.tail) / sd.clock_ghz / 1000.0
    );
    let _ = writeln!(s, "Every TGH of the default workload (same seed and size as section 4's run), cycles:\n");
    let mut rows = vec![("variable", &v.under_load)];
    if let Some(u) = &sd.under_load {
        rows.insert(0, ("fixed", u));
    }
    trips_table(s, &rows, sd.clock_ghz);
    let _ = writeln!(s, "The chiplets sweep again ({} pages, 1 context per chiplet) with the variable timing:\n", v.by_chiplets.first().map_or(0, |r| r.setup.pages));
    sd_table(s, &v.by_chiplets, sd.clock_ghz, "chiplets", |r| r.setup.chiplets.to_string());
    if let (Some(a), Some(b)) = (v.by_chiplets.first(), v.by_chiplets.last()) {
        if b.setup.chiplets > a.setup.chiplets {
            let slope = (b.flush_round_trip_median - a.flush_round_trip_median) / (b.setup.chiplets - a.setup.chiplets) as f64;
            let _ = writeln!(
                s,
                "\nThe driver still waits for each chiplet's TGH before writing the next: the whole flush grows by {} cycles \
                 ({:.2} µs) per chiplet, {} cycles ({:.1} µs) for {} chiplets. The engines run TGHs of different CPUs \
                 concurrently on one chiplet; they cannot overlap one CPU's flush across chiplets.\n",
                f0(slope),
                slope / sd.clock_ghz / 1000.0,
                f0(b.flush_round_trip_median),
                b.flush_round_trip_median / sd.clock_ghz / 1000.0,
                b.setup.chiplets
            );
        }
    }
}

fn spread(v: &[SetupResult]) -> (f64, f64) {
    v.iter().map(|r| r.tgh_round_trip_median).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)))
}

/// REPORT.md.
pub fn markdown(r: &BenchResults) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let tp = &r.throughput;
    let sd = &r.shootdown;
    let td = &r.teardown;
    let fa = &r.faults;
    let c = &r.config;
    let _ = writeln!(s, "# gru-cosim performance report\n");
    let _ = writeln!(s, "Written by `make bench` — command `{}` — on {} ({:.0} s wall for the whole bench).\n", r.command, m.date, r.wall_secs);
    let _ = writeln!(s, "| machine | |\n|---|---|");
    let _ = writeln!(s, "| CPU | {} |", m.cpu);
    let _ = writeln!(s, "| cores | {} logical CPUs ({} available to the run) |", m.cores, m.available_parallelism);
    let _ = writeln!(s, "| OS | {} |", m.os);
    let _ = writeln!(s, "| rustc | {} |", m.rustc);
    let _ = writeln!(s, "| Verilator | {} |", m.verilator);
    let _ = writeln!(s, "| load average (1/5/15 min) | {} at the start, {} at the end |\n", m.load_start, m.load_end);
    let _ = writeln!(
        s,
        "**Every number is one run on a shared machine** (other jobs may use the same cores: see the load \
         average): absolute rates move from run to run, by tens of percent. Compare the ratios, measured \
         within minutes of each other on the same machine. Simulated-cycle figures (latencies, MMIO counts) are exact and \
         deterministic for a seed. The full data is in `results.json`.\n"
    );
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "```\n{}\n```\n", r.summary.last_line);
    let rate_of = |name: &str| tp.rates.iter().find(|x| x.name == name).map_or(f64::NAN, |x| x.cycles_per_s);
    let _ = writeln!(
        s,
        "- The full system on the RTL simulates **{:.0} system cycles/s**: **{:.2}×** a pure C++ Verilator loop stepping all {} \
         chiplets every cycle on the same recorded stimulus ({:.0} system cycles/s; system/cpp_all, the median of {} pairs of \
         runs timed back to back: {}), and {:.2}× the pure C++ \
         loop stepping chiplet 0 alone ({:.0} cycles/s; system/cpp — per chiplet cycle that ratio is {:.2}). \
         {} `eval()` calls were issued to read chip state.",
        rate_of(SYSTEM_RTL),
        tp.system_over_cpp_all,
        tp.chiplets,
        rate_of(CPP_ALL),
        tp.system_over_cpp_all_pairs.len(),
        tp.system_over_cpp_all_pairs.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
        tp.system_over_cpp,
        rate_of(CPP),
        tp.system_chiplet_cycles_over_cpp,
        tp.evals.introspection_evals
    );
    let all: Vec<SetupResult> = sd.by_range.iter().chain(&sd.by_contexts).cloned().collect();
    let (lo, hi) = spread(&all);
    let rt = if lo == hi { format!("exactly {} cycles", f0(lo)) } else { format!("{}–{} cycles", f0(lo), f0(hi)) };
    let why = if lo == hi && lo == 2.0 * sd.mmio_latency as f64 {
        format!(
            " — the start write's MMIO round trip plus one poll's ({} cycles each): the purge is over before the first poll arrives",
            sd.mmio_latency
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "- In the directed setups a shootdown TGH costs the driver **{rt}** from its start write to the poll that sees it idle, \
         for every range (1 page to a full purge) and every number of contexts{why}. Under load (default workload) the \
         p99 is {} cycles.",
        sd.under_load.as_ref().map_or("–".into(), |u| u.p99.to_string())
    );
    let v = &sd.variable.under_load;
    let _ = writeln!(
        s,
        "- With the variable purge timing ({} engines, {} cycles + {} per entry + a seeded tail of 0..8 × {} cycles) a TGH of \
         the default workload costs the driver p50 **{}**, p99 **{}**, max **{}** cycles ({:.2} / {:.2} / {:.2} µs at the \
         nominal {} GHz), over {} TGHs.",
        sd.variable.engines,
        sd.variable.base,
        sd.variable.entry,
        sd.variable.tail,
        v.p50,
        v.p99,
        v.max,
        v.p50 as f64 / sd.clock_ghz / 1000.0,
        v.p99 as f64 / sd.clock_ghz / 1000.0,
        v.max as f64 / sd.clock_ghz / 1000.0,
        sd.clock_ghz,
        v.count
    );
    if let (Some(a), Some(b)) = (sd.by_chiplets.first(), sd.by_chiplets.last()) {
        if b.setup.chiplets > a.setup.chiplets {
            let slope = (b.flush_round_trip_median - a.flush_round_trip_median) / (b.setup.chiplets - a.setup.chiplets) as f64;
            let _ = writeln!(
                s,
                "- The driver flushes chiplets one after the other: the whole flush grows by **{} cycles per chiplet** ({} cycles for {} chiplets).",
                f0(slope),
                f0(b.flush_round_trip_median),
                b.setup.chiplets
            );
        }
    }
    let _ = writeln!(
        s,
        "- The purge engine takes {} cycles at the chip (TGH start to IDLE): {}.",
        if sd.purge.iter().all(|p| p.cycles == p.expected) { "TLB_ENTRIES / PURGE_LANES" } else { "these" },
        sd.purge.iter().filter(|p| p.hw == "model").map(|p| format!("{} for {} entries", p.cycles, p.tlb_entries)).collect::<Vec<_>>().join(", ")
    );
    if let (Some(range), Some(pp)) = (td.series.first(), td.series.iter().find(|x| x.name.starts_with("classic swap-out"))) {
        if let (Some(a), Some(b)) = (range.points.last(), pp.points.last()) {
            let _ = writeln!(
                s,
                "- Tearing down {} takes **{}** MMIO write(s) with a range flush and **{}** through the per-page path{}.",
                size(a.bytes),
                f0(a.mmio_writes),
                f0(b.mmio_writes),
                if b.extrapolated { " (extrapolated)" } else { "" }
            );
        }
    }
    let _ = writeln!(
        s,
        "- On the stress (default) workload **{:.1}%** of the misses are answered from the interrupt handler (p50 {} cycles \
         from the miss to the WRITE_RESTART landing), {:.1}% go through CALL_OS (p50 {} cycles); the handler handed misses \
         over because: {}.",
        fa.irq_share_pct,
        fa.paths[0].p50,
        fa.paths[1].share_pct,
        fa.paths[1].p50,
        fa.driver.causes_line()
    );
    let hp = &r.hpc;
    let phases: Vec<String> = hp.phases.iter().map(|p| format!("{} {:.1}% of {} misses", p.name, p.irq_share_pct, p.misses)).collect();
    let _ = writeln!(
        s,
        "- On the HPC workload (first touch, then streaming; rare mm operations elsewhere) **{:.1}%** of the misses are \
         answered from the interrupt handler ({}); handed over: {}.",
        hp.irq_share_pct,
        phases.join(", "),
        hp.driver.causes_line()
    );
    let better: Vec<String> = r.lockless.iter().map(|f| format!("{} {:.1}%", f.workload, f.irq_share_pct)).collect();
    let _ = writeln!(
        s,
        "- With the driver's better-than-Linux `lockless_irq_walk` (off by default; not in the figures above) the interrupt \
         handler serves: {}.",
        better.join(", ")
    );
    for x in r.scale.runs() {
        let _ = writeln!(s, "- Regression: {} took **{:.0} s** on {} thread(s).", x.what, x.wall_secs, x.jobs);
    }
    let _ = writeln!(s);

    // 1. Throughput.
    let _ = writeln!(s, "## 1. Co-simulation throughput\n");
    let _ = writeln!(
        s,
        "The default workload (`gru-cosim run default --seed {} --accesses {}`: {} chiplets, {} CPUs, modern era) runs on the \
         whole system — kernel model, driver, checkers — once with every chiplet's input ports recorded every cycle \
         ({} cycles each, reset included). Those inputs are then replayed by a pure C++ loop inside the Verilator harness \
         that steps one model per chiplet, every model every cycle (`RtlFleet::replay_cpp`: what a naive multi-chiplet \
         simulator does, the fair baseline for the system, which steps every chiplet every cycle too), and chiplet 0's \
         alone by a pure C++ loop (`Rtl::replay_cpp`), by a Rust loop making one cxx call per cycle, and by the reference \
         model alone; each replay's output checksum matched the recording: **{}**. The system runs are timed over `System::run` only (construction \
         excluded); each configuration ran {} time(s) and the median is reported. System runs count system cycles \
         ({} per run, every run the same); each steps {} chiplets.\n",
        c.seed,
        c.accesses,
        tp.chiplets,
        c.cpus,
        tp.recorded_cycles,
        if tp.replay_matches { "yes" } else { "NO" },
        c.reps,
        tp.system_cycles,
        tp.chiplets
    );
    let (cpp, cpp_all) = (rate_of(CPP), rate_of(CPP_ALL));
    let _ = writeln!(s, "| configuration | what | cycles | median wall s | cycles/s | ÷ C++ loop, all chiplets | ÷ C++ loop | FST size |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for x in &tp.rates {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.0} | {:.3} | {:.3} | {} |",
            x.name,
            x.what,
            x.cycles,
            super::median(&x.secs),
            x.cycles_per_s,
            x.cycles_per_s / cpp_all,
            x.cycles_per_s / cpp,
            x.wave_bytes.map_or("".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
        );
    }
    let _ = writeln!(
        s,
        "\n- full system on the RTL ÷ C++ loop over all chiplets: **{:.2}**; ÷ C++ loop over chiplet 0: **{:.2}** (per chiplet \
         cycle: {:.2}); Rust harness loop ÷ C++ loop: {:.2}; with a whole-run FST of chiplet 0 the system runs at {:.2}× its \
         speed without.\n",
        tp.system_over_cpp_all,
        tp.system_over_cpp,
        tp.system_chiplet_cycles_over_cpp,
        tp.ffi_over_cpp,
        tp.system_fst_over_plain
    );
    let (e, d) = (&tp.evals, &tp.evals_before);
    let _ = writeln!(
        s,
        "Verilator `eval()` calls of one system run on the RTL ({} chiplet cycles): **{} for introspection** with the state \
         snapshot (the checks, the purge and dropin probes read the registers without evaluating) and **{} clock \
         evaluations**, quiet cycles skipped ([MICROARCH §12](../docs/MICROARCH.md)); as before — every TLB read through the \
         debug port, every chiplet evaluated every cycle — {} for introspection (+{:.1}% over that run's {} clock evaluations). \
         The kernel's executor polled task futures {:.2} times per system cycle and skipped {:.2} polls per cycle of tasks \
         spinning on an MMIO response that could not be visible yet (same cycles, same scheduling draws; {:.2} polls per \
         cycle when they are polled). The system on the RTL runs **{:.2}×** as fast as the same run the way of before \
         (snapshot {:.2}×, skipped polls {:.2}×, idle skipping and fast-forward {:.2}×).\n",
        e.chiplet_cycles,
        e.introspection_evals,
        e.clock_evals,
        d.introspection_evals,
        100.0 * d.introspection_evals as f64 / d.clock_evals.max(1) as f64,
        d.clock_evals,
        e.task_polls as f64 / tp.system_cycles.max(1) as f64,
        e.skipped_polls as f64 / tp.system_cycles.max(1) as f64,
        d.task_polls as f64 / tp.system_cycles.max(1) as f64,
        tp.speedup,
        tp.snapshot_speedup,
        tp.spin_speedup,
        tp.skip_speedup
    );
    let _ = writeln!(s, "![throughput](throughput.svg)\n");

    // 2. Shootdown.
    let _ = writeln!(s, "## 2. Shootdown round trip\n");
    let _ = writeln!(
        s,
        "Directed setups on the RTL built with `System`: one address space, N GRU contexts per chiplet (each a thread that \
         loaded a context and touched up to {} pages of the region through the GRU, so the TLB holds entries to purge), \
         then one `munmap` of the region (modern era). The round trip of a TGH is read from the MMIO trace \
         (`GruHw::trace`) as `run` does: from the start write leaving the driver to the poll that shows the handle no longer \
         ACTIVE arriving back = (cycle the chip answered that poll − cycle the chip took the write) + one MMIO round trip \
         ({} cycles). The whole flush spans the first TGH start to the last completion over all chiplets. Each setup ran with \
         {} kernel seed(s) (scheduling and interrupt preemption differ); medians and min–max are over those runs. \
         **Nominal clock: {} GHz** — an assumption (docs/MICROARCH.md §0: no public source gives the UV hub's, the GRU's, \
         clock) — so ns = cycles / {}.\n",
        96,
        sd.mmio_latency,
        c.sd_seeds,
        sd.clock_ghz,
        sd.clock_ghz
    );
    let _ = writeln!(
        s,
        "### Range size (1 context, 1 chiplet)\n\nA range of 1024 pages or more is one full purge of the address space's ASID \
         (TGH `n` = 1023 is the full-purge code; the driver's `num >= GRUMAXINVAL` sends it for exactly 1024 pages too), so \
         1023 pages is the largest ranged TGH.\n"
    );
    sd_table(&mut s, &sd.by_range, sd.clock_ghz, "pages", pages_label);
    let _ = writeln!(s, "\n![range](shootdown_range.svg)\n");
    let _ = writeln!(s, "### Contexts in the ctxbitmap ({} pages, 1 chiplet)\n", c.sd_pages);
    sd_table(&mut s, &sd.by_contexts, sd.clock_ghz, "contexts", |r| r.setup.contexts.to_string());
    let _ = writeln!(s, "\nOne TGH write covers every context of the address space on the chiplet, so the cost does not grow with contexts.\n");
    let _ = writeln!(s, "![contexts](shootdown_contexts.svg)\n");
    let _ = writeln!(s, "### Chiplets ({} pages, 1 context per chiplet)\n", c.sd_pages);
    sd_table(&mut s, &sd.by_chiplets, sd.clock_ghz, "chiplets", |r| r.setup.chiplets.to_string());
    let _ = writeln!(
        s,
        "\nThe driver (`gru_flush_tlb_range`) writes one TGH per chiplet and waits for each before the next, so the whole flush \
         is about chiplets × TGH round trip.\n"
    );
    let _ = writeln!(s, "![chiplets](shootdown_chiplets.svg)\n");
    variable_section(&mut s, sd);
    if let Some(u) = &sd.under_load {
        let _ = writeln!(s, "### Under load: every TGH of the default workload\n");
        let _ = writeln!(
            s,
            "The directed setups above are quiet: nothing else runs, so the round trip is exactly the write's MMIO round trip \
             plus one poll. In the default workload (section 4's run) CPUs are shared with interrupt handlers and other \
             threads, which can preempt the flushing thread between its write and its polls:\n"
        );
        trips_table(&mut s, &[("fixed", u)], sd.clock_ghz);
    }
    let _ = writeln!(s, "### Purge latency at the chip vs TLB size\n");
    let _ = writeln!(
        s,
        "A chiplet alone (no system): the TLB is filled with valid 4K entries of one context, a full-ASID TGH is started and \
         its handle is read every cycle; the latency is the number of edges from the start write to the edge that set the \
         status IDLE. **The RTL is built with 128 entries**, so the sweep runs on the cycle-accurate reference model built with \
         `Params {{ tlb_entries, .. }}`; the 128-entry figure was measured on the RTL too: RTL equals model: **{}**.\n",
        if sd.purge_rtl_matches_model { "yes" } else { "NO" }
    );
    let _ = writeln!(s, "| TLB entries | hardware | purge lanes | cycles | TLB_ENTRIES / PURGE_LANES | entries purged |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for p in &sd.purge {
        let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} |", p.tlb_entries, p.hw, p.purge_lanes, p.cycles, p.expected, p.entries_purged);
    }
    let _ = writeln!(
        s,
        "\nSeen from the driver, the purge hides behind the MMIO round trip: the TGH round trip of the {}-page setup on the \
         model built with each TLB size is {}.\n",
        c.sd_pages,
        sd.round_trip_by_tlb.iter().map(|(n, rt)| format!("{} cycles at {n} entries", f0(*rt))).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "![purge](purge_tlb.svg)\n");

    // 3. Teardown.
    let _ = writeln!(s, "## 3. MMIO writes to tear down a region\n");
    let _ = writeln!(
        s,
        "One chiplet on the reference model (the MMIO count does not depend on the hardware model), one loaded context of the \
         address space that has used three pages of the region. Counted: MMIO writes the chip took between the start and the \
         end of the teardown. *Range flush*: `munmap` of the region — one invalidate_range_start, one TGH per chiplet with a \
         loaded context, a full purge from 1024 pages on (TGH n = 1023 is the full-purge code, and the driver's `num >= GRUMAXINVAL` test sends it for exactly 1024 pages too). *Per-page*: swap-out of every page, the reclaim path — classic era \
         `invalidate_page`, modern era start/end per page — one TGH per page. The per-page path was simulated up to {} pages \
         ({}); **larger sizes are extrapolated** linearly from the largest simulated size (marked ~ here, `extrapolated: true` \
         in results.json, hollow markers in the chart). Multiply by the chiplets that have a loaded context.\n",
        td.per_page_sim_pages,
        size(td.per_page_sim_pages * 4096)
    );
    let _ = write!(s, "| size | pages |");
    for x in &td.series {
        let _ = write!(s, " {} |", x.name);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|---|{}", "---|".repeat(td.series.len()));
    if let Some(first) = td.series.first() {
        for (i, p) in first.points.iter().enumerate() {
            let _ = write!(s, "| {} | {} |", size(p.bytes), p.pages);
            for x in &td.series {
                let cell = x.points.get(i).map_or("".into(), |q| {
                    if q.extrapolated {
                        format!("~{}", f0(q.mmio_writes))
                    } else {
                        format!("{}{}", f0(q.mmio_writes), if q.full_purges > 0 { " (full purge)" } else { "" })
                    }
                });
                let _ = write!(s, " {cell} |");
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(
        s,
        "\nEvery MMIO write in these windows is a TGH start; each TGH also costs polls (MMIO reads) until it is idle — see \
         `mmio_reads` in results.json. Note that munmap flushes by range in the classic era too; what the classic era \
         does per page is reclaim and migration (`try_to_unmap` → `invalidate_page`), and modern reclaim also flushes each \
         page separately (a start/end pair per page).\n"
    );
    let _ = writeln!(s, "![teardown](teardown_mmio.svg)\n");

    faults::sections(&mut s, r);

    // 6. Scale.
    let _ = writeln!(s, "## 6. Scale of a regression\n");
    let _ = writeln!(s, "`gru-cosim regress`, every check on, every seed passed; wall time of the whole regression on this machine.\n");
    let _ = writeln!(s, "| what | command | seeds | GRU accesses | system cycles | threads | wall s | seeds/s |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for x in r.scale.runs() {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {:.1} | {:.1} |",
            x.what,
            x.command,
            x.seeds,
            x.accesses,
            x.cycles,
            x.jobs,
            x.wall_secs,
            x.seeds as f64 / x.wall_secs.max(1e-9)
        );
    }
    let _ = writeln!(s);

    // Notes.
    let _ = writeln!(s, "## Notes\n");
    let _ = writeln!(
        s,
        "- Sizes are flags of `gru-cosim bench` (`--help`); `make bench` uses the defaults. The raw runs (every seed, every \
         TGH) are in `results.json`.\n\
         - The C++ loops replay recorded inputs without a kernel, driver or checks: `C++ loop, all chiplets` steps every \
         chiplet every cycle, as the system does, and is the fair baseline for it (system/cpp_all); `C++ loop` steps \
         chiplet 0 alone, the ceiling for one Verilated chiplet on this machine (system/cpp).\n\
         - Charts in this directory: {}.",
        charts(r).iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    );
    s
}

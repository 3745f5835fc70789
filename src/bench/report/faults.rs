//! Sections 4 and 5 of REPORT.md: fault service and CALL_OS causes on the stress workload, the
//! HPC workload by phase, and the better-than-Linux driver option beside both.

use std::fmt::Write;

use crate::bench::faults::Faults;
use crate::bench::BenchResults;

/// Write sections 4 (stress workload) and 5 (HPC workload) of the report into `s`.
pub(super) fn sections(s: &mut String, r: &BenchResults) {
    let (fa, c, clock_ghz) = (&r.faults, &r.config, r.shootdown.clock_ghz);
    // 4. Faults.
    let _ = writeln!(s, "## 4. Fault service latency\n");
    let _ = writeln!(
        s,
        "The default workload again ({} system cycles), on the RTL and the reference model in lockstep (every output compared \
         every cycle), with a probe on each chiplet noting the edge at which a miss latches in its TFH (the reference model's \
         `last_miss`; the lockstep makes it the RTL's edge too). Each miss is paired with the TFH command that answers it, from \
         the MMIO trace (the cycle the chip took it): WRITE_RESTART or RESTART after a USER_POLLING_MODE is the **call_os** \
         path (the interrupt handler could not drop in: range active, page not present, `mmap_lock` busy, new page size; the \
         thread saw CALL_OS and the driver answered from process context); WRITE_RESTART or RESTART without one is the \
         **interrupt** path; EXCEPTION ends a miss on an address that went away. A WRITE_RESTART the chip discards as stale \
         (race guard) still restarts the CB, which then misses again: that is a new miss.\n",
        fa.cycles
    );
    path_table(s, fa);
    let _ = writeln!(
        s,
        "\nLatencies in cycles (× {} ns at the nominal clock). Misses seen by the probe: {} (the chips' own TLB_MISS + TLB_MOD counters: {}); \
         unanswered at the end of the run: {}; dropins discarded as stale: {}. Cross-check with the driver's counters: \
         (intr_tfh − call_os) / intr_tfh = {:.1}% (every miss raises the interrupt, since every context runs in fault-map mode; \
         `call_os` counts the misses handed to the thread).\n",
        1.0 / clock_ghz,
        fa.misses,
        fa.chip_counter_misses,
        fa.unanswered,
        fa.stale_discards,
        fa.irq_share_from_stats_pct
    );
    let _ = writeln!(s, "| driver statistic | value |\n|---|---|");
    for (k, v) in &fa.driver_stats {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n![faults](fault_latency.svg)\n");
    let _ = writeln!(s, "### CALL_OS by cause\n");
    let _ = writeln!(
        s,
        "Why the interrupt handler handed each miss to the user thread (switched its TFH to user-polling mode, so that the \
         thread saw CALL_OS), counted by the driver where it gives up (`driver/src/gru/fault.rs`, counters in \
         `driver/src/gru/stats.rs`, `UpmCause`). Linux has no such breakdown: its `tlb_dropin_fail_range_active` and \
         `tlb_dropin_fail_no_asid` count user-path retries too, `tlb_dropin_fail_upm` folds four causes together and \
         `intr_mm_lock_failed` includes a pending CCH reload; so a Linux name is used where its counter means exactly the \
         cause on the interrupt path, this model's own (`upm_…`) otherwise. The causes sum to **{}**, `call_os` is **{}**: \
         each handover makes the thread call the driver once.\n",
        fa.driver.handed_over(),
        fa.driver.call_os
    );
    causes_table(s, &[("stress (default)", fa), ("hpc", &r.hpc)]);
    let _ = writeln!(
        s,
        "\nA store that misses (TLB_MISS) is dropped in as a read when its PTE is not writable and dirty, and the store then \
         faults again (TLB_MOD): `upm_store_pte_read_only` are those second misses on pages write-protected by fork (COW) or \
         mprotect, `upm_store_pte_clean` on writable pages not yet written since they were mapped. `upm_pte_not_present` \
         covers pages never touched, swapped out, migrating or unmapped. `intr_mm_lock_failed` is the `mmap_lock` trylock \
         failing because an mm operation holds the lock for writing; `tlb_dropin_fail_range_active` an invalidate of the \
         address space in progress (any range: the driver keeps one counter per address space).\n"
    );

    // 5. HPC.
    let hp = &r.hpc;
    let _ = writeln!(s, "## 5. The HPC workload\n");
    let _ = writeln!(
        s,
        "`gru-cosim run hpc --seed {} --accesses {}` ({} system cycles), in lockstep with the same probe: each GRU thread \
         first-touches its own {}-page buffer with CPU stores (every page present, writable and dirty before the GRU sees it), \
         loads its context, makes one pass over the buffer ({} consecutive words a page), waits at a barrier for every \
         thread, then streams pass after pass; three threads share a chiplet's 128-entry TLB with 144 pages, so streaming \
         keeps missing. A CPU thread per process runs an mm operation (`mprotect` and back, `munmap` + `mmap`, or a CPU store) \
         on a scratch region away from the buffers about every {} cycles of the steady phase. The warm-up phase ends at the \
         barrier (cycle {}).\n",
        c.seed,
        c.accesses,
        hp.cycles,
        crate::workload::hpc::BUFFER_PAGES,
        crate::workload::hpc::WORDS_PER_VISIT,
        crate::workload::hpc::OP_GAP,
        hp.phases.first().map_or(0, |p| p.to_cycle)
    );
    let _ = writeln!(s, "| phase | cycles | misses | from the interrupt handler | share | misses (driver) | call_os | handed over because |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for p in &hp.phases {
        let _ = writeln!(
            s,
            "| {} | {}–{} | {} | {} | **{:.1}%** | {} | {} | {} |",
            p.name,
            p.from_cycle,
            p.to_cycle,
            p.misses,
            p.interrupt,
            p.irq_share_pct,
            p.driver.misses,
            p.driver.call_os,
            p.driver.causes_line()
        );
    }
    let _ = writeln!(s, "\nAll misses of the run (irq-share(hpc) = **{:.1}%**):\n", hp.irq_share_pct);
    path_table(s, hp);
    let _ = writeln!(
        s,
        "\nEvery buffer page is resident, writable and dirty when the GRU first misses on it, so the interrupt handler \
         drops every warm-up and streaming miss in, unless an mm operation is running: it holds `mmap_lock` for writing \
         (the handler's trylock fails) and its invalidate raises `range_active`, whatever range it covers. That is the \
         driver as Linux has it; no policy was changed to raise the figure.\n"
    );

    let _ = writeln!(s, "### Better than Linux: `lockless_irq_walk` (off by default)\n");
    let _ = writeln!(
        s,
        "`GruConfig::lockless_irq_walk` lets the interrupt handler walk the page table without `mmap_lock`, as GUP-fast does \
         with interrupts off, instead of handing the miss over when its trylock fails; the `range_active` test and the chip's \
         race guard still order the dropin against every invalidate, and every check passed. The same runs with it on:\n"
    );
    let _ = writeln!(s, "| workload | irq share, Linux policy | irq share, `lockless_irq_walk` | handed over (lock-less) |");
    let _ = writeln!(s, "|---|---|---|---|");
    for f in &r.lockless {
        let linux = if f.workload == hp.workload { hp } else { fa };
        let _ = writeln!(s, "| {} | {:.1}% | {:.1}% | {} |", f.workload, linux.irq_share_pct, f.irq_share_pct, f.driver.causes_line());
    }
    let _ = writeln!(s);

}

/// The misses of `f` by path, with their latencies.
fn path_table(s: &mut String, f: &Faults) {
    let _ = writeln!(s, "| path | misses | share | mean | p50 | p90 | p99 | max | answered by |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for p in &f.paths {
        let by: Vec<String> = p.by_command.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            s,
            "| {:?} | {} | {:.1}% | {:.0} | {} | {} | {} | {} | {} |",
            p.path,
            p.count,
            p.share_pct,
            p.mean,
            p.p50,
            p.p90,
            p.p99,
            p.max,
            by.join(", ")
        );
    }
}

/// The handover causes of each workload, one column each, with the share of that workload's
/// `call_os`.
fn causes_table(s: &mut String, runs: &[(&str, &Faults)]) {
    let _ = write!(s, "| cause |");
    for (name, _) in runs {
        let _ = write!(s, " {name} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(runs.len()));
    let Some((_, first)) = runs.first() else { return };
    for (i, (cause, _)) in first.driver.causes.iter().enumerate() {
        let _ = write!(s, "| `{cause}` |");
        for (_, f) in runs {
            let n = f.driver.causes.get(i).map_or(0, |c| c.1);
            let _ = write!(s, " {n} ({:.1}%) |", 100.0 * n as f64 / f.driver.call_os.max(1) as f64);
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "| **sum** (`call_os`) |");
    for (_, f) in runs {
        let _ = write!(s, " {} ({}) |", f.driver.handed_over(), f.driver.call_os);
    }
    let _ = writeln!(s);
}

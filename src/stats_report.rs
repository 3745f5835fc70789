//! The statistics of one run as the real driver shows them (`gru-cosim stats`, `run --stats`):
//! the driver's counters as `/proc/sgi_uv/gru/statistics` prints them, the handle operations'
//! latencies as `/proc/sgi_uv/gru/mcs_statistics` does, why misses went to the user thread, and
//! each chiplet's own statistics handle (`STAT_ADDR`, read from the chip after the run). JSON too.

use std::fmt::Write as _;

use gru_driver::gru::handles::Stats;
use gru_driver::gru::stats::McsOp;
use serde::Serialize;

use crate::system::{System, SystemModel};

/// One handle operation's latency, in cycles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpRow {
    /// Linux's id (`tgh_invalidate`, …).
    pub id: &'static str,
    /// Operations timed.
    pub count: u64,
    /// Mean cycles.
    pub aver_clks: u64,
    /// Longest.
    pub max_clks: u64,
}

/// The statistics of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    /// `/proc/sgi_uv/gru/statistics`: counter text as Linux prints it.
    pub statistics: String,
    /// `/proc/sgi_uv/gru/mcs_statistics`: the table as Linux prints it.
    pub mcs_statistics: String,
    /// The counters by Linux name, in Linux's order.
    pub counters: Vec<(String, u64)>,
    /// The handle operations' latencies.
    pub mcs: Vec<OpRow>,
    /// Why the interrupt handler handed misses to the user thread (beyond Linux).
    pub upm_causes: Vec<(String, u64)>,
    /// Each chiplet's statistics handle after the run.
    pub chips: Vec<Stats>,
}

impl StatsReport {
    /// The statistics of `sys` now.
    pub fn of<M: SystemModel>(sys: &System<M>) -> Self {
        let s = sys.gru.stats();
        let statistics = s.proc_statistics();
        let counters = statistics
            .lines()
            .filter_map(|l| {
                let (v, n) = l.trim_start().split_once(' ')?;
                Some((n.to_owned(), v.parse().ok()?))
            })
            .collect();
        let mcs = McsOp::ALL
            .iter()
            .map(|&op| {
                let o = s.op(op);
                OpRow { id: op.name(), count: o.count, aver_clks: o.mean(), max_clks: o.max }
            })
            .collect();
        Self {
            mcs_statistics: s.mcs_statistics(),
            statistics,
            counters,
            mcs,
            upm_causes: s.upm_causes().into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            chips: (0..sys.config().chiplets).filter_map(|c| sys.hw.chip_stats(c)).collect(),
        }
    }

    /// The text `gru-cosim stats` prints: each table under the name of the file Linux shows it
    /// in.
    pub fn text(&self) -> String {
        let mut out = String::from("== /proc/sgi_uv/gru/statistics\n");
        out.push_str(&self.statistics);
        out.push_str("== /proc/sgi_uv/gru/mcs_statistics (clks: simulated cycles)\n");
        out.push_str(&self.mcs_statistics);
        out.push_str("== miss handed to the user thread, by cause (not in Linux)\n");
        for (n, v) in &self.upm_causes {
            let _ = writeln!(out, "{v:16} {n}");
        }
        out.push_str("== chiplet statistics handles\n");
        let _ = writeln!(out, "#chiplet {:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}", "hits", "misses", "tlbmod", "dropins", "stale", "purges", "purged", "mmio_err");
        for (c, s) in self.chips.iter().enumerate() {
            let _ = writeln!(out, "{c:8} {:10}{:10}{:10}{:10}{:10}{:10}{:10}{:10}", s.hits, s.misses, s.tlbmod, s.dropins, s.stale, s.purges, s.purged, s.mmio_errors);
        }
        out
    }
}

//! Fault service latency on the stress (default) and HPC workloads: from the edge a miss latches
//! in its TFH (the chip raises it) to the edge the TFH command that answers it lands
//! (WRITE_RESTART, RESTART or EXCEPTION), split by path: answered from the interrupt handler, or
//! handed to the user thread (USER_POLLING_MODE, CALL_OS) first; why the handler handed misses
//! over, from the driver's counters; for the HPC workload, the same by phase (warm-up, steady
//! streaming). Misses come from the reference model's latch (run in lockstep with the RTL, so
//! the timing is the RTL's, checked every cycle); TFH commands from the MMIO trace.

use std::collections::BTreeMap;

use gru_driver::gru::handles::TfhOpc;
use gru_driver::gru::hw::{DecodedLine, MmioEvent};
use gru_sim::lockstep::Lockstep;
use gru_sim::model::{Params, RefModel};
use gru_sim::rtl::{Rtl, WaveFormat};
use serde::Serialize;

use super::probe::{LastMiss, MissProbe};
use super::{percentile, workload_run, BenchConfig, Mode, Progress};
use crate::system::SystemModel;
use crate::workload::hpc::FaultTally;
use crate::workload::WorkloadKind;

/// How a miss was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FaultPath {
    /// The interrupt handler dropped the entry in (WRITE_RESTART) without user help.
    Interrupt,
    /// The handler switched the TFH to user-polling mode; the thread saw CALL_OS and the driver
    /// answered from process context.
    CallOs,
    /// Answered with EXCEPTION (the address was gone).
    Exception,
}

/// Latency statistics of one path (cycles).
#[derive(Clone, Debug, Serialize)]
pub struct PathStats {
    /// The path.
    pub path: FaultPath,
    /// Misses answered this way.
    pub count: usize,
    /// Share of all misses, percent.
    pub share_pct: f64,
    /// Mean latency.
    pub mean: f64,
    /// Percentiles p50, p90, p99 and the maximum.
    pub p50: u64,
    /// p90.
    pub p90: u64,
    /// p99.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Answers that were WRITE_RESTARTs the chip discarded as stale are not told apart here;
    /// this counts answers by command: WRITE_RESTART, RESTART, EXCEPTION.
    pub by_command: BTreeMap<String, usize>,
}

/// The misses of one phase of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// `warm-up` (first touch and the first pass, up to the barrier) or `steady` (streaming).
    pub name: String,
    /// Its first cycle.
    pub from_cycle: u64,
    /// The cycle after its last.
    pub to_cycle: u64,
    /// Misses that latched in it (probe).
    pub misses: usize,
    /// Of which answered from the interrupt handler.
    pub interrupt: usize,
    /// Percent of its misses answered from the interrupt handler (100 without misses).
    pub irq_share_pct: f64,
    /// The driver's counters over the phase: misses, call_os and the handover causes.
    pub driver: FaultTally,
}

/// The section, for one workload.
#[derive(Clone, Debug, Serialize)]
pub struct Faults {
    /// The workload (`default`: the stress mix, or `hpc`).
    pub workload: String,
    /// The driver ran its better-than-Linux `lockless_irq_walk` (off by default).
    pub lockless_irq_walk: bool,
    /// Which hardware the probe ran on.
    pub hw: String,
    /// System cycles of the run.
    pub cycles: u64,
    /// Misses the chips latched (probe).
    pub misses: usize,
    /// Misses the chips' own counters report (TLB_MISS + TLB_MOD).
    pub chip_counter_misses: u64,
    /// Misses still unanswered when the run ended.
    pub unanswered: usize,
    /// Per path.
    pub paths: Vec<PathStats>,
    /// Interrupt-path share of all misses, percent (the headline).
    pub irq_share_pct: f64,
    /// Driver statistics of the run by Linux name.
    pub driver_stats: BTreeMap<String, u64>,
    /// The same share from the driver's counters: (intr_tfh − call_os) / intr_tfh.
    pub irq_share_from_stats_pct: f64,
    /// The driver's fault counters over the run: misses (`intr_tfh`), `call_os`, and why the
    /// interrupt handler handed misses to the user thread ([`gru_driver::gru::UpmCause`] names:
    /// Linux's where one means exactly that cause). The causes sum to `call_os`: each handover
    /// makes the thread call once.
    pub driver: FaultTally,
    /// The HPC workload's phases: before and after the barrier every thread meets once it has
    /// first-touched its buffer and made one pass over it (none for the stress workload).
    pub phases: Vec<Phase>,
    /// Dropins the chips discarded as stale (the CB then missed again: a new miss).
    pub stale_discards: u64,
    /// Every TGH invalidate of the run, with its round trip.
    #[serde(skip)]
    pub trips: Vec<super::shootdown::TghTrip>,
}

/// One answered miss.
#[derive(Clone, Copy, Debug)]
struct Episode {
    path: FaultPath,
    /// The cycle it latched.
    miss: u64,
    latency: u64,
    opc: u8,
}

/// Pair each miss of `chiplet` with the command that answered it.
fn episodes(misses: &[(u64, usize)], trace: &[MmioEvent], chiplet: usize) -> (Vec<Episode>, usize) {
    // (cycle, order, cbr, opc): commands of a cycle before misses of the same cycle.
    let mut ev: Vec<(u64, u8, usize, u8)> = misses.iter().map(|&(c, cbr)| (c, 1, cbr, 0)).collect();
    for e in trace.iter().filter(|e| e.chiplet == chiplet && e.req.write && !e.err) {
        if let DecodedLine::Tfh(cbr, t) = e.line {
            ev.push((e.cycle, 0, cbr, t.opc));
        }
    }
    ev.sort_unstable();
    let mut open: BTreeMap<usize, (u64, bool)> = BTreeMap::new();
    let mut out = Vec::new();
    for (cycle, kind, cbr, opc) in ev {
        if kind == 1 {
            open.insert(cbr, (cycle, false));
            continue;
        }
        let Some(&(miss, upm)) = open.get(&cbr) else { continue };
        let path = match TfhOpc::try_from(u64::from(opc)) {
            Ok(TfhOpc::UserPollingMode) => {
                open.insert(cbr, (miss, true));
                continue;
            }
            Ok(TfhOpc::WriteRestart | TfhOpc::Restart) if upm => FaultPath::CallOs,
            Ok(TfhOpc::WriteRestart | TfhOpc::Restart) => FaultPath::Interrupt,
            Ok(TfhOpc::Exception) => FaultPath::Exception,
            _ => continue,
        };
        open.remove(&cbr);
        out.push(Episode { path, miss, latency: cycle - miss, opc });
    }
    (out, open.len())
}

fn opc_name(opc: u8) -> String {
    match TfhOpc::try_from(u64::from(opc)) {
        Ok(TfhOpc::WriteRestart) => "WRITE_RESTART".into(),
        Ok(TfhOpc::Restart) => "RESTART".into(),
        Ok(TfhOpc::Exception) => "EXCEPTION".into(),
        _ => format!("opc {opc}"),
    }
}

/// Run the workload `kind` on `make`'s models under the probe and analyse it.
fn probe_run<M: SystemModel + LastMiss>(cfg: &BenchConfig, kind: WorkloadKind, mode: Mode, hw: &str, make: impl Fn() -> M) -> Result<Faults, String> {
    let run = workload_run(cfg, kind, None, mode, || MissProbe::new(make()))?;
    let sys = &run.sys;
    let trace = sys.hw.trace();
    let mut all = Vec::new();
    let mut unanswered = 0;
    let mut probe_misses = 0;
    for c in 0..cfg.chiplets {
        let (misses, mmio_edges) = sys.hw.with_model(c, |p| (std::mem::take(&mut p.misses), std::mem::take(&mut p.mmio_edges))).ok_or("no chiplet")?;
        // Put the probe's edges on the kernel clock through the MMIO requests both saw.
        let mine: Vec<u64> = trace.iter().filter(|e| e.chiplet == c).map(|e| e.cycle).collect();
        if mine.len() != mmio_edges.len() || mine.is_empty() {
            return Err(format!("chiplet {c}: {} MMIO requests in the trace, {} at the ports", mine.len(), mmio_edges.len()));
        }
        let offset = mine[0] as i64 - mmio_edges[0] as i64;
        if mine.iter().zip(&mmio_edges).any(|(&k, &e)| k as i64 - e as i64 != offset) {
            return Err(format!("chiplet {c}: the chip's edges and the kernel clock drift apart"));
        }
        let misses: Vec<(u64, usize)> = misses.iter().map(|&(e, cbr)| ((e as i64 + offset) as u64, cbr)).collect();
        probe_misses += misses.len();
        let (ep, open) = episodes(&misses, &trace, c);
        all.extend(ep);
        unanswered += open;
    }
    let chip: Vec<_> = (0..cfg.chiplets).filter_map(|c| sys.hw.chip_stats(c)).collect();
    let chip_counter_misses = chip.iter().map(|s| s.misses + s.tlbmod).sum();
    let stale_discards = chip.iter().map(|s| s.stale).sum();
    let mut paths = Vec::new();
    for path in [FaultPath::Interrupt, FaultPath::CallOs, FaultPath::Exception] {
        let mut lat: Vec<u64> = all.iter().filter(|e| e.path == path).map(|e| e.latency).collect();
        lat.sort_unstable();
        let mut by_command = BTreeMap::new();
        for e in all.iter().filter(|e| e.path == path) {
            *by_command.entry(opc_name(e.opc)).or_insert(0) += 1;
        }
        paths.push(PathStats {
            path,
            count: lat.len(),
            share_pct: 100.0 * lat.len() as f64 / probe_misses.max(1) as f64,
            mean: lat.iter().sum::<u64>() as f64 / lat.len().max(1) as f64,
            p50: percentile(&lat, 50.0),
            p90: percentile(&lat, 90.0),
            p99: percentile(&lat, 99.0),
            max: lat.last().copied().unwrap_or(0),
            by_command,
        });
    }
    let names = ["intr", "intr_tfh", "call_os", "call_os_wait_queue", "tlb_dropin", "tlb_dropin_fail_range_active", "tlb_dropin_fail_upm", "intr_mm_lock_failed", "tfh_stale_on_fault"];
    let driver_stats: BTreeMap<String, u64> = names.iter().map(|n| ((*n).to_owned(), sys.stat(n))).collect();
    let (tfh, call_os) = (sys.stat("intr_tfh") as f64, sys.stat("call_os") as f64);
    let irq_share_pct = paths[0].share_pct;
    let end = FaultTally::of(&sys.gru, run.cycles);
    let phases = match run.counts.warmed.borrow().as_ref() {
        None => Vec::new(),
        Some(warmed) => {
            let phase = |name: &str, from: u64, to: u64, driver: FaultTally| {
                let mine: Vec<&Episode> = all.iter().filter(|e| (from..to).contains(&e.miss)).collect();
                let interrupt = mine.iter().filter(|e| e.path == FaultPath::Interrupt).count();
                let irq_share_pct = if mine.is_empty() { 100.0 } else { 100.0 * interrupt as f64 / mine.len() as f64 };
                Phase { name: name.into(), from_cycle: from, to_cycle: to, misses: mine.len(), interrupt, irq_share_pct, driver }
            };
            vec![
                phase("warm-up", 0, warmed.cycle, warmed.since(&FaultTally::default())),
                phase("steady", warmed.cycle, run.cycles + 1, end.since(warmed)),
            ]
        }
    };
    Ok(Faults {
        workload: kind.name().into(),
        lockless_irq_walk: mode.lockless_irq_walk,
        hw: hw.into(),
        cycles: run.cycles,
        misses: probe_misses,
        chip_counter_misses,
        unanswered,
        paths,
        irq_share_pct,
        driver_stats,
        irq_share_from_stats_pct: 100.0 * (tfh - call_os) / tfh.max(1.0),
        driver: end,
        phases,
        stale_discards,
        trips: super::shootdown::tgh_trips(&trace, 0, u64::MAX),
    })
}

/// Run the section on the workload `kind` (with the driver policy of `mode`): the probe on
/// lockstep (RTL checked against the model every cycle).
pub fn run(cfg: &BenchConfig, kind: WorkloadKind, mode: Mode, pb: &Progress) -> Result<Faults, String> {
    pb.step(&format!("faults: {} workload in lockstep, miss probe", kind.name()));
    probe_run(cfg, kind, mode, "lockstep", || Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Params::default())))
}

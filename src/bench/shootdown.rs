//! Shootdown round trips on directed setups (one address space, GRU contexts that have touched
//! pages of a region, then one munmap of the region), swept over range size, contexts in the
//! ctxbitmap and chiplets; and the purge engine's latency against the TLB size at the chip.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gru_driver::gru::handles::{self as h, HandleStatus, TghOpc};
use gru_driver::gru::hw::{DecodedLine, MmioEvent, DEFAULT_MMIO_LATENCY};
use gru_driver::gru::Gts;
use gru_driver::mm::ops::{mmap, munmap};
use gru_driver::mm::{Prot, PAGE_SIZE};
use gru_driver::notifier::Era;
use gru_sim::chiplet::{CbRequest, Chiplet, FlatMemory};
use gru_sim::model::{Params, PurgeTiming, RefModel};
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, WaveFormat};
use serde::Serialize;

use super::{median, BenchConfig, Progress};
use crate::system::{System, SystemConfig, SystemModel};

/// Entries the setups fill per chiplet at most (of 128), spread over the contexts.
const FILL: u64 = 96;

/// One TGH invalidate of a flush, from the MMIO trace.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TghTrip {
    /// The chiplet.
    pub chiplet: usize,
    /// Cycle the chip took the start write.
    pub start: u64,
    /// Cycle the chip answered the poll that showed the handle no longer ACTIVE.
    pub done: u64,
    /// Driver-side round trip: `done - start` plus one MMIO round trip (the write's way there
    /// and the poll's way back).
    pub round_trip: u64,
    /// TGH `n` (1023: full purge).
    pub n: u16,
    /// Contexts in the ctxbitmap.
    pub contexts: u32,
}

/// The TGH invalidates the chips took in `[from, to]`, with their completions.
pub fn tgh_trips(trace: &[MmioEvent], from: u64, to: u64) -> Vec<TghTrip> {
    let mut v = Vec::new();
    for (i, e) in trace.iter().enumerate() {
        let DecodedLine::Tgh(handle, t) = e.line else { continue };
        if !e.req.write || e.err || t.opc != TghOpc::Invalidate as u8 || e.cycle < from || e.cycle > to {
            continue;
        }
        let done = trace[i + 1..].iter().find(|r| {
            r.chiplet == e.chiplet
                && !r.req.write
                && matches!(r.line, DecodedLine::Tgh(h2, t2) if h2 == handle && t2.status != HandleStatus::Active as u8)
        });
        if let Some(r) = done {
            v.push(TghTrip {
                chiplet: e.chiplet,
                start: e.cycle,
                done: r.cycle,
                round_trip: r.cycle - e.cycle + DEFAULT_MMIO_LATENCY,
                n: t.n,
                contexts: t.ctxbitmap.count_ones(),
            });
        }
    }
    v
}

/// One directed setup.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Setup {
    /// Chiplets, each with `contexts` contexts of the address space.
    pub chiplets: usize,
    /// Contexts per chiplet.
    pub contexts: usize,
    /// Pages munmapped.
    pub pages: u64,
}

/// What one run of a setup measured.
#[derive(Clone, Debug, Serialize)]
pub struct SetupRun {
    /// Kernel seed.
    pub seed: u64,
    /// The TGHs of the munmap.
    pub tghs: Vec<TghTrip>,
    /// First start write leaving the driver to the last completion it observed, over every
    /// chiplet (the driver flushes the chiplets one after the other).
    pub flush_round_trip: u64,
    /// The whole munmap system call.
    pub munmap_cycles: u64,
    /// Valid entries the TGHs purged (chip counters).
    pub entries_purged: u64,
}

/// A setup over several seeds.
#[derive(Clone, Debug, Serialize)]
pub struct SetupResult {
    /// The setup.
    pub setup: Setup,
    /// Every TGH was a full purge (n = 1023: the driver's range of 1024 pages or more).
    pub full_purge: bool,
    /// Median over seeds of the per-TGH round trip (cycles).
    pub tgh_round_trip_median: f64,
    /// Smallest and largest per-TGH round trip over every seed (cycles).
    pub tgh_round_trip_min: u64,
    /// Largest.
    pub tgh_round_trip_max: u64,
    /// Median over seeds of the flush round trip (cycles).
    pub flush_round_trip_median: f64,
    /// Median munmap duration (cycles).
    pub munmap_median: f64,
    /// TGH writes per munmap.
    pub tgh_writes: usize,
    /// Median entries purged.
    pub entries_purged_median: f64,
    /// Every run.
    pub runs: Vec<SetupRun>,
}

/// Run one setup on the RTL with kernel seed `seed`.
pub fn run_setup<M: SystemModel>(s: Setup, seed: u64, make: impl Fn() -> M) -> Result<SetupRun, String> {
    let cfg = SystemConfig {
        chiplets: s.chiplets,
        era: Era::Modern,
        seed,
        replay: format!("gru-cosim bench (shootdown setup {s:?}, seed {seed})"),
        ..SystemConfig::default()
    };
    let sys = System::new(cfg, make)?;
    let mm = sys.create_mm();
    let window = Rc::new(Cell::new((0u64, 0u64)));
    let errs: Rc<RefCell<Vec<String>>> = Rc::default();
    let (gru, w, e) = (sys.gru.clone(), window.clone(), errs.clone());
    let threads = s.chiplets * s.contexts;
    let touch = s.pages.min((FILL / s.contexts as u64).max(1));
    sys.spawn("main", move |ctx| async move {
        let base = match mmap(&ctx, &mm, None, s.pages * PAGE_SIZE, Prot::ReadWrite).await {
            Ok(b) => b,
            Err(x) => return e.borrow_mut().push(format!("mmap: {x}")),
        };
        let kept: Rc<RefCell<Vec<Rc<Gts>>>> = Rc::default();
        let failed = Rc::new(Cell::new(false));
        for t in 0..threads {
            let (gru, mm, kept, e, failed) = (gru.clone(), mm.clone(), kept.clone(), e.clone(), failed.clone());
            ctx.kernel().spawn(&format!("gru{t}"), move |ctx| async move {
                let gts = match gru.alloc_context(&ctx, &mm, t % s.chiplets).await {
                    Ok(g) => g,
                    Err(x) => {
                        failed.set(true);
                        return e.borrow_mut().push(format!("alloc_context: {x}"));
                    }
                };
                for k in 0..touch {
                    let va = base + (k * s.pages / touch) * PAGE_SIZE;
                    if let Err(x) = gru.cb_access(&ctx, &gts, (k % 8) as u8, va, false, 0).await {
                        e.borrow_mut().push(format!("GRU load {va:#x}: {x}"));
                    }
                }
                kept.borrow_mut().push(gts);
            });
        }
        while kept.borrow().len() < threads && !failed.get() {
            ctx.sleep(200).await;
        }
        let t0 = ctx.now();
        if let Err(x) = munmap(&ctx, &mm, base, s.pages * PAGE_SIZE).await {
            e.borrow_mut().push(format!("munmap: {x}"));
        }
        w.set((t0, ctx.now()));
    });
    let r = sys.run(50_000_000);
    let failures = sys.checker.failures();
    if !failures.is_empty() || r.live_tasks > 0 || !errs.borrow().is_empty() {
        return Err(format!("shootdown setup {s:?} seed {seed}: {failures:?} {:?} {:?}", r.kernel_error, errs.borrow()));
    }
    let (t0, t1) = window.get();
    let tghs = tgh_trips(&sys.hw.trace(), t0, t1);
    if tghs.len() != s.chiplets {
        return Err(format!("shootdown setup {s:?}: {} TGH invalidates, expected one per chiplet", tghs.len()));
    }
    let first = tghs.iter().map(|t| t.start).min().unwrap_or(0);
    let last = tghs.iter().map(|t| t.done).max().unwrap_or(0);
    let entries_purged = (0..s.chiplets).filter_map(|c| sys.hw.chip_stats(c)).map(|st| st.purged).sum();
    Ok(SetupRun { seed, flush_round_trip: last - first + DEFAULT_MMIO_LATENCY, munmap_cycles: t1 - t0, entries_purged, tghs })
}

fn summarize(setup: Setup, runs: Vec<SetupRun>) -> SetupResult {
    let per_run = |f: &dyn Fn(&SetupRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let all: Vec<u64> = runs.iter().flat_map(|r| r.tghs.iter().map(|t| t.round_trip)).collect();
    SetupResult {
        setup,
        full_purge: runs.iter().flat_map(|r| &r.tghs).all(|t| t.n == h::TGH_FULL_PURGE_N),
        tgh_round_trip_median: median(&all.iter().map(|&x| x as f64).collect::<Vec<_>>()),
        tgh_round_trip_min: all.iter().copied().min().unwrap_or(0),
        tgh_round_trip_max: all.iter().copied().max().unwrap_or(0),
        flush_round_trip_median: per_run(&|r| r.flush_round_trip as f64),
        munmap_median: per_run(&|r| r.munmap_cycles as f64),
        tgh_writes: runs.first().map_or(0, |r| r.tghs.len()),
        entries_purged_median: per_run(&|r| r.entries_purged as f64),
        runs,
    }
}

/// Purge latency at the chip for one TLB size.
#[derive(Clone, Debug, Serialize)]
pub struct PurgeLatency {
    /// TLB entries.
    pub tlb_entries: usize,
    /// Purge lanes (entries examined per cycle).
    pub purge_lanes: usize,
    /// Which model: "model" or "rtl".
    pub hw: String,
    /// Edges from the TGH start write to the edge that set the status IDLE.
    pub cycles: u64,
    /// TLB_ENTRIES / PURGE_LANES, the MICROARCH §7 figure.
    pub expected: u64,
    /// Valid entries the purge cleared (the TLB was full).
    pub entries_purged: u64,
}

/// Fill a chiplet's TLB with `entries` 4K entries of context 0 (misses in user-polling mode,
/// each answered by WRITE_RESTART), then time a full-ASID TGH purge edge by edge.
pub fn purge_latency<M: CycleModel>(model: M, entries: usize, lanes: usize, hw: &str) -> Result<PurgeLatency, String> {
    let err = |e: gru_sim::chiplet::ChipletError| e.to_string();
    let mut chip = Chiplet::new(model, Box::new(FlatMemory::default()));
    let asid = 8u64;
    let mut cch = [0u64; 8];
    for (r, f) in h::CCH_ASID.iter().enumerate() {
        f.set(&mut cch, asid + r as u64);
    }
    h::CCH_SIZEAVAIL[0].set(&mut cch, 1);
    for op in [h::CchOpc::Allocate, h::CchOpc::Start] {
        h::CCH_OPC.set(&mut cch, op as u64);
        chip.start_and_wait(h::cch_addr(0), cch).map_err(err)?;
    }
    let base = 0x10_0000_0000u64;
    for i in 0..entries as u64 {
        let vaddr = base + i * PAGE_SIZE;
        chip.issue_cb(CbRequest { cbr: 0, vaddr, write: false, wdata: 0 });
        chip.step_until(1000, |c| c.outputs().cb_cmp_valid);
        let mut line = [0u64; 8];
        h::TFH_OPC.set(&mut line, h::TfhOpc::WriteRestart as u64);
        h::TFH_FILLVADDR.set(&mut line, vaddr);
        h::TFH_FILLASID.set(&mut line, asid);
        h::TFH_PFN.set(&mut line, 0x100 + i);
        chip.start_and_wait(h::tfh_addr(0), line).map_err(err)?;
        chip.step_until(1000, |c| c.outputs().cb_cmp_valid);
    }
    chip.take_completions();
    let before = h::Stats::decode(&chip.mmio_read(h::STAT_ADDR).map_err(err)?);
    let mut tgh = [0u64; 8];
    h::TGH_OPC.set(&mut tgh, TghOpc::Invalidate as u64);
    h::TGH_VADDR.set(&mut tgh, base);
    h::TGH_ASID.set(&mut tgh, asid);
    h::TGH_VADDRMASK.set(&mut tgh, (1 << 39) - 1);
    h::TGH_N.set(&mut tgh, u64::from(h::TGH_FULL_PURGE_N));
    h::TGH_CTXBITMAP.set(&mut tgh, 1);
    chip.mmio_write(h::tgh_addr(0), 0xff, h::start(tgh)).map_err(err)?;
    // Edge numbers: cycle() counts edges taken, so the last one taken is cycle() - 1.
    let start = chip.cycle() - 1;
    let idle_read = loop {
        let line = chip.mmio_read(h::tgh_addr(0)).map_err(err)?;
        if h::HDL_STATUS.get(&line) != HandleStatus::Active as u64 {
            break chip.cycle() - 1;
        }
        if chip.cycle() - start > 100_000 {
            return Err(format!("{hw}: TGH still ACTIVE after 100000 cycles"));
        }
    };
    let after = h::Stats::decode(&chip.mmio_read(h::STAT_ADDR).map_err(err)?);
    // A read sees the state before its edge: the status went IDLE at the edge before it.
    Ok(PurgeLatency {
        tlb_entries: entries,
        purge_lanes: lanes,
        hw: hw.into(),
        cycles: idle_read - 1 - start,
        expected: (entries / lanes) as u64,
        entries_purged: after.purged - before.purged,
    })
}

/// The shootdown section.
#[derive(Clone, Debug, Serialize)]
pub struct Shootdown {
    /// Nominal clock used for the ns figures (GHz).
    pub clock_ghz: f64,
    /// MMIO round trip of the interconnect (cycles).
    pub mmio_latency: u64,
    /// Range sweep (1 context, 1 chiplet).
    pub by_range: Vec<SetupResult>,
    /// Contexts sweep (1 chiplet).
    pub by_contexts: Vec<SetupResult>,
    /// Chiplets sweep (1 context per chiplet).
    pub by_chiplets: Vec<SetupResult>,
    /// Purge latency at the chip per TLB size (reference model), plus the RTL at 128.
    pub purge: Vec<PurgeLatency>,
    /// The RTL's purge latency at 128 entries equals the model's.
    pub purge_rtl_matches_model: bool,
    /// The range-sweep setup (pages, 1 context) on the reference model built with each TLB
    /// size: the median TGH round trip the driver sees.
    pub round_trip_by_tlb: Vec<(usize, f64)>,
    /// TGH round trips under load: every flush of the default workload (filled in by the
    /// faults section, which runs it).
    pub under_load: Option<LoadedTrips>,
    /// The same figures with the chips' variable purge timing.
    pub variable: VariableTiming,
}

/// Shootdown figures on the RTL built with the variable purge timing (`Vgru_variable`,
/// [`PurgeTiming::VARIABLE`], docs/MICROARCH.md §7): engines purging concurrently, a base, a
/// cost per entry and a seeded geometric tail.
#[derive(Clone, Debug, Serialize)]
pub struct VariableTiming {
    /// Purge engines.
    pub engines: usize,
    /// Cycles added to every purge.
    pub base: u32,
    /// Cycles per entry cleared.
    pub entry: u32,
    /// Cycles per tail step (0..=8 steps).
    pub tail: u32,
    /// Every TGH of the default workload (`run default --purge-timing variable`, the bench's
    /// seed and size): the round trip as the driver measures it, start write to the poll that
    /// sees the handle no longer ACTIVE.
    pub under_load: LoadedTrips,
    /// Chiplets sweep (1 context per chiplet), as `by_chiplets` with the fixed timing.
    pub by_chiplets: Vec<SetupResult>,
}

/// Round trips of every TGH invalidate of a run, with their distribution.
#[derive(Clone, Debug, Serialize)]
pub struct LoadedTrips {
    /// TGH invalidates that completed.
    pub count: usize,
    /// Mean contexts per TGH.
    pub contexts_per_write: f64,
    /// Full purges among them.
    pub full_purges: usize,
    /// Mean round trip (cycles).
    pub mean: f64,
    /// p50.
    pub p50: u64,
    /// p90.
    pub p90: u64,
    /// p99.
    pub p99: u64,
    /// p99.9.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl LoadedTrips {
    /// Summarize `trips`.
    pub fn of(trips: &[TghTrip]) -> Self {
        let mut lat: Vec<u64> = trips.iter().map(|t| t.round_trip).collect();
        lat.sort_unstable();
        let n = lat.len().max(1) as f64;
        LoadedTrips {
            count: lat.len(),
            contexts_per_write: trips.iter().map(|t| f64::from(t.contexts)).sum::<f64>() / n,
            full_purges: trips.iter().filter(|t| t.n == h::TGH_FULL_PURGE_N).count(),
            mean: lat.iter().sum::<u64>() as f64 / n,
            p50: super::percentile(&lat, 50.0),
            p90: super::percentile(&lat, 90.0),
            p99: super::percentile(&lat, 99.0),
            p999: super::percentile(&lat, 99.9),
            max: lat.last().copied().unwrap_or(0),
        }
    }
}

fn sweep<M: SystemModel>(cfg: &BenchConfig, pb: &Progress, setups: &[Setup], what: &str, make: impl Fn() -> M + Copy) -> Result<Vec<SetupResult>, String> {
    let mut v = Vec::new();
    for &s in setups {
        pb.step(&format!("shootdown: {what} {s:?}"));
        let runs = (0..cfg.sd_seeds).map(|k| run_setup(s, cfg.seed + k, make)).collect::<Result<Vec<_>, _>>()?;
        v.push(summarize(s, runs));
    }
    Ok(v)
}

/// Run the section.
pub fn run(cfg: &BenchConfig, pb: &Progress) -> Result<Shootdown, String> {
    let rtl = || Rtl::new(WaveFormat::Fst);
    let p = cfg.sd_pages;
    let ranges: Vec<Setup> = cfg.ranges.iter().map(|&pages| Setup { chiplets: 1, contexts: 1, pages }).collect();
    let by_range = sweep(cfg, pb, &ranges, "range", rtl)?;
    let ctxs: Vec<Setup> = cfg.contexts.iter().map(|&contexts| Setup { chiplets: 1, contexts, pages: p }).collect();
    let by_contexts = sweep(cfg, pb, &ctxs, "contexts", rtl)?;
    let chips: Vec<Setup> = cfg.chiplet_counts.iter().map(|&chiplets| Setup { chiplets, contexts: 1, pages: p }).collect();
    let by_chiplets = sweep(cfg, pb, &chips, "chiplets", rtl)?;
    let variable = variable_timing(cfg, pb, &chips)?;

    let mut purge = Vec::new();
    let lanes = Params::default().purge_lanes;
    for &n in &cfg.tlb_sizes {
        pb.step(&format!("purge latency: {n}-entry TLB (model)"));
        let params = Params { tlb_entries: n, ..Params::default() };
        let m = RefModel::try_new(params).map_err(|e| format!("TLB size {n}: {e}"))?;
        purge.push(purge_latency(m, n, lanes, "model")?);
    }
    pb.step("purge latency: 128-entry TLB (RTL)");
    let rtl_entries = Params::default().tlb_entries;
    let r = purge_latency(Rtl::new(WaveFormat::Fst), rtl_entries, lanes, "rtl")?;
    let purge_rtl_matches_model = match purge.iter().find(|x| x.tlb_entries == rtl_entries) {
        Some(m) => m.cycles == r.cycles && m.entries_purged == r.entries_purged,
        None => {
            let m = purge_latency(RefModel::new(Params::default()), rtl_entries, lanes, "model")?;
            m.cycles == r.cycles && m.entries_purged == r.entries_purged
        }
    };
    purge.push(r);

    let mut round_trip_by_tlb = Vec::new();
    for &n in &cfg.tlb_sizes {
        pb.step(&format!("shootdown: round trip with a {n}-entry TLB (model)"));
        let s = Setup { chiplets: 1, contexts: 1, pages: p };
        let make = move || RefModel::new(Params { tlb_entries: n, ..Params::default() });
        let runs = (0..cfg.sd_seeds).map(|k| run_setup(s, cfg.seed + k, make)).collect::<Result<Vec<_>, _>>()?;
        round_trip_by_tlb.push((n, summarize(s, runs).tgh_round_trip_median));
    }
    Ok(Shootdown {
        clock_ghz: cfg.clock_ghz,
        mmio_latency: DEFAULT_MMIO_LATENCY,
        by_range,
        by_contexts,
        by_chiplets,
        purge,
        purge_rtl_matches_model,
        round_trip_by_tlb,
        under_load: None,
        variable,
    })
}

/// The variable purge timing's figures: the default workload's TGH round trips and the
/// chiplets sweep `chips`, on `Vgru_variable`.
fn variable_timing(cfg: &BenchConfig, pb: &Progress, chips: &[Setup]) -> Result<VariableTiming, String> {
    let t = PurgeTiming::VARIABLE;
    let rtl = move || Rtl::build(WaveFormat::Fst, None, t).unwrap_or_else(|e| panic!("{e}"));
    Rtl::build(WaveFormat::Fst, None, t).map_err(|e| e.to_string())?;
    pb.step("shootdown: default workload, variable purge timing");
    let run = super::default_run(cfg, None, rtl)?;
    let under_load = LoadedTrips::of(&tgh_trips(&run.sys.hw.trace(), 0, u64::MAX));
    let by_chiplets = sweep(cfg, pb, chips, "chiplets (variable timing)", rtl)?;
    Ok(VariableTiming { engines: t.engines, base: t.base, entry: t.entry, tail: t.tail, under_load, by_chiplets })
}

//! MMIO writes the driver needs to tear down a region of 4 KiB … 1 GiB: a range flush (munmap:
//! one TGH per chiplet with a loaded context, a full purge above 1024 pages) against the
//! per-page path (swap-out of every page: classic `invalidate_page`, modern start/end per
//! page: one TGH per page). Simulated on the reference model; the per-page path is simulated up
//! to a size and extrapolated above it (marked so).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gru_driver::gru::handles::TghOpc;
use gru_driver::gru::hw::DecodedLine;
use gru_driver::mm::ops::{mmap, munmap, swap_out};
use gru_driver::mm::{cpu_store, Prot, PAGE_SIZE};
use gru_driver::notifier::Era;
use gru_sim::model::{Params, RefModel};
use serde::Serialize;

use super::{BenchConfig, Progress};
use crate::system::{System, SystemConfig};

/// Swap slots of the kernel model: the per-page (swap-out) path cannot simulate more pages.
pub const MAX_PER_PAGE_SIM: u64 = 4096;

/// How the region goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum How {
    /// munmap: one invalidate_range_start/end over the region.
    Munmap,
    /// swap-out of every page: the per-page notifier path of reclaim.
    SwapOut,
}

/// One size of one series.
#[derive(Clone, Debug, Serialize)]
pub struct TeardownPoint {
    /// Region size in bytes.
    pub bytes: u64,
    /// Pages.
    pub pages: u64,
    /// MMIO writes the chip took during the teardown.
    pub mmio_writes: f64,
    /// Of which TGH invalidates.
    pub tgh_writes: f64,
    /// MMIO reads (TGH polls).
    pub mmio_reads: f64,
    /// Cycles the teardown took (None when extrapolated).
    pub cycles: Option<u64>,
    /// Not simulated: extrapolated from the largest simulated size of the series.
    pub extrapolated: bool,
    /// Full purges among the TGH writes.
    pub full_purges: u64,
}

/// One way of tearing down, over every size.
#[derive(Clone, Debug, Serialize)]
pub struct TeardownSeries {
    /// Legend name.
    pub name: String,
    /// Notifier era.
    pub era: String,
    /// The operation.
    pub how: How,
    /// The sizes.
    pub points: Vec<TeardownPoint>,
}

/// The section.
#[derive(Clone, Debug, Serialize)]
pub struct Teardown {
    /// Chiplets (each with one loaded context of the address space).
    pub chiplets: usize,
    /// Largest per-page teardown simulated (pages).
    pub per_page_sim_pages: u64,
    /// The series.
    pub series: Vec<TeardownSeries>,
}

struct Measured {
    writes: u64,
    tghs: u64,
    reads: u64,
    cycles: u64,
    full: u64,
}

/// Tear down `pages` pages one way on one chiplet of the reference model.
fn measure(era: Era, how: How, pages: u64, seed: u64) -> Result<Measured, String> {
    let cfg = SystemConfig {
        chiplets: 1,
        era,
        seed,
        replay: format!("gru-cosim bench (teardown {era:?} {how:?} {pages} pages)"),
        ..SystemConfig::default()
    };
    let sys = System::new(cfg, || RefModel::new(Params::default()))?;
    let mm = sys.create_mm();
    let window = Rc::new(Cell::new((0u64, 0u64)));
    let errs: Rc<RefCell<Vec<String>>> = Rc::default();
    let (gru, w, e) = (sys.gru.clone(), window.clone(), errs.clone());
    sys.spawn("main", move |ctx| async move {
        let len = pages * PAGE_SIZE;
        let base = match mmap(&ctx, &mm, None, len, Prot::ReadWrite).await {
            Ok(b) => b,
            Err(x) => return e.borrow_mut().push(format!("mmap: {x}")),
        };
        if how == How::SwapOut {
            for p in 0..pages {
                if let Err(x) = cpu_store(&ctx, &mm, base + p * PAGE_SIZE, p + 1).await {
                    return e.borrow_mut().push(format!("store: {x}"));
                }
            }
        }
        let gts = match gru.alloc_context(&ctx, &mm, 0).await {
            Ok(g) => g,
            Err(x) => return e.borrow_mut().push(format!("alloc_context: {x}")),
        };
        // The chip uses the first, a middle and the last page.
        for p in [0, pages / 2, pages - 1] {
            if let Err(x) = gru.cb_access(&ctx, &gts, 0, base + p * PAGE_SIZE, false, 0).await {
                e.borrow_mut().push(format!("GRU load: {x}"));
            }
        }
        let t0 = ctx.now();
        match how {
            How::Munmap => {
                if let Err(x) = munmap(&ctx, &mm, base, len).await {
                    e.borrow_mut().push(format!("munmap: {x}"));
                }
            }
            How::SwapOut => {
                for p in 0..pages {
                    if let Err(x) = swap_out(&ctx, &mm, base + p * PAGE_SIZE).await {
                        return e.borrow_mut().push(format!("swap_out: {x}"));
                    }
                }
            }
        }
        w.set((t0, ctx.now()));
        drop(gts);
    });
    let r = sys.run(2_000_000_000);
    let failures = sys.checker.failures();
    if !failures.is_empty() || r.live_tasks > 0 || !errs.borrow().is_empty() {
        return Err(format!("teardown {era:?} {how:?} {pages} pages: {failures:?} {:?} {:?}", r.kernel_error, errs.borrow()));
    }
    let (t0, t1) = window.get();
    let trace = sys.hw.trace();
    let win: Vec<_> = trace.iter().filter(|e| e.cycle >= t0 && e.cycle <= t1 && !e.err).collect();
    let is_tgh = |l: &DecodedLine| matches!(l, DecodedLine::Tgh(_, t) if t.opc == TghOpc::Invalidate as u8);
    let full = |l: &DecodedLine| matches!(l, DecodedLine::Tgh(_, t) if t.opc == TghOpc::Invalidate as u8 && t.n == 1023);
    Ok(Measured {
        writes: win.iter().filter(|e| e.req.write).count() as u64,
        tghs: win.iter().filter(|e| e.req.write && is_tgh(&e.line)).count() as u64,
        reads: win.iter().filter(|e| !e.req.write).count() as u64,
        cycles: t1 - t0,
        full: win.iter().filter(|e| e.req.write && full(&e.line)).count() as u64,
    })
}

/// The sizes: 4 KiB × 4^k up to `max_kib`.
pub fn sizes(max_kib: u64) -> Vec<u64> {
    let mut v = Vec::new();
    let mut kib = 4u64;
    while kib <= max_kib.max(4) {
        v.push(kib * 1024);
        kib *= 4;
    }
    v
}

/// Run the section.
pub fn run(cfg: &BenchConfig, pb: &Progress) -> Result<Teardown, String> {
    let sim_max = cfg.per_page_sim_pages.clamp(1, MAX_PER_PAGE_SIM);
    let kinds = [
        ("modern munmap (range flush)", Era::Modern, How::Munmap),
        ("classic munmap (range flush)", Era::Classic, How::Munmap),
        ("classic swap-out (invalidate_page per page)", Era::Classic, How::SwapOut),
        ("modern swap-out (start/end per page)", Era::Modern, How::SwapOut),
    ];
    let mut series = Vec::new();
    for (name, era, how) in kinds {
        let mut points: Vec<TeardownPoint> = Vec::new();
        for bytes in sizes(cfg.teardown_max_kib) {
            let pages = bytes / PAGE_SIZE;
            let simulate = how == How::Munmap || pages <= sim_max;
            if simulate {
                pb.step(&format!("teardown: {name}, {} pages", pages));
                let m = measure(era, how, pages, cfg.seed)?;
                points.push(TeardownPoint {
                    bytes,
                    pages,
                    mmio_writes: m.writes as f64,
                    tgh_writes: m.tghs as f64,
                    mmio_reads: m.reads as f64,
                    cycles: Some(m.cycles),
                    extrapolated: false,
                    full_purges: m.full,
                });
            } else {
                // Linear in pages: the per-page path costs the same for every page.
                let Some(last) = points.iter().rev().find(|p| !p.extrapolated) else { continue };
                let k = pages as f64 / last.pages as f64;
                points.push(TeardownPoint {
                    bytes,
                    pages,
                    mmio_writes: last.mmio_writes * k,
                    tgh_writes: last.tgh_writes * k,
                    mmio_reads: last.mmio_reads * k,
                    cycles: None,
                    extrapolated: true,
                    full_purges: 0,
                });
            }
        }
        series.push(TeardownSeries { name: name.into(), era: format!("{era:?}").to_lowercase(), how, points });
    }
    Ok(Teardown { chiplets: 1, per_page_sim_pages: sim_max, series })
}

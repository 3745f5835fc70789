//! The HPC workload (`gru-cosim run hpc`): the use the GRU was built for. Each GRU thread owns a
//! buffer in its process's address space and first-touches it — a CPU store to every page, so
//! every page is present, writable and dirty before the GRU sees it — then loads its context,
//! makes one warm-up pass over the buffer (the compulsory misses), waits at a barrier for every
//! thread of the run, and streams through the buffer pass after pass: a visit reads or writes
//! [`WORDS_PER_VISIT`] consecutive words of a page, then moves to the next page. The buffers of
//! the threads of one chiplet hold more pages than its TLB has entries, so streaming keeps
//! missing (capacity misses) after the warm-up. Meanwhile a CPU thread per process runs rare mm
//! operations on a scratch region away from the buffers (an `mprotect` there and back, a
//! `munmap` and `mmap` again, a CPU store), about every [`OP_GAP`] cycles (by default): they still flush the
//! address space, which is what the GRU driver's `range_active` and `mmap_lock` guards see.
//!
//! The driver's fault counters are read at the barrier ([`WorkloadCounts::warmed`]) so that
//! the share of misses served from the interrupt handler can be told by phase.

use std::cell::Cell;
use std::rc::Rc;

use gru_driver::gru::{Gru, GruError, GruStat, Gts};
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{exit_mm, mmap, mprotect, munmap};
use gru_driver::mm::{cpu_store, Mm, MmError, Prot, PAGE_SIZE};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{cpu_thread_rng, gru_thread_rng, map_or_report, WorkloadConfig, WorkloadCounts};
use crate::check::{Check, Checker};
use crate::system::{System, SystemModel};

/// Pages of each GRU thread's buffer. Three threads share a chiplet in the default run: 144
/// pages against its 128 TLB entries, so streaming evicts what it will need again.
pub const BUFFER_PAGES: u64 = 48;
/// Consecutive words a thread reads or writes in a page before moving to the next one.
pub const WORDS_PER_VISIT: u64 = 16;
/// Mean cycles between two mm operations of a process's CPU thread in the steady phase (the
/// HPC default of [`WorkloadConfig::op_gap`]): 100 µs at 1 GHz, far more often than an HPC code
/// changes its mappings, yet a few operations fall into a 20k-access run.
pub const OP_GAP: u64 = 100_000;
/// Pages of each process's scratch region, which the rare mm operations change.
const SCRATCH_PAGES: u64 = 16;
/// Cycles a thread waiting at the barrier sleeps between two looks.
const BARRIER_POLL: u64 = 200;
/// Cycles the CPU thread sleeps between two looks at whether the GRU threads are done.
const OP_POLL: u64 = 2_000;

/// The driver's fault counters at one instant, or their growth over an interval.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultTally {
    /// The cycle (of the instant, or at the end of the interval).
    pub cycle: u64,
    /// Misses: fault bits the interrupt handler serviced (`intr_tfh`; every context runs in
    /// fault-map mode, so every miss raises the interrupt).
    pub misses: u64,
    /// User calls for a CALL_OS (`call_os`).
    pub call_os: u64,
    /// Misses handed to the user thread, by cause ([`UpmCause`](gru_driver::gru::UpmCause) names).
    pub causes: Vec<(&'static str, u64)>,
}

impl FaultTally {
    /// The counters of `gru` now, at `cycle`.
    pub fn of(gru: &Gru, cycle: u64) -> Self {
        let s = gru.stats();
        FaultTally {
            cycle,
            misses: s.get(GruStat::IntrTfh),
            call_os: s.get(GruStat::CallOs),
            causes: s.upm_causes(),
        }
    }

    /// What grew from `earlier` to `self`.
    pub fn since(&self, earlier: &FaultTally) -> FaultTally {
        let before = |name: &str| earlier.causes.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
        FaultTally {
            cycle: self.cycle,
            misses: self.misses - earlier.misses,
            call_os: self.call_os - earlier.call_os,
            causes: self.causes.iter().map(|&(n, v)| (n, v - before(n))).collect(),
        }
    }

    /// Misses handed to the user thread (the causes summed).
    pub fn handed_over(&self) -> u64 {
        self.causes.iter().map(|(_, v)| v).sum()
    }

    /// Percent of the misses answered from the interrupt handler (100 without misses).
    pub fn irq_share_pct(&self) -> f64 {
        if self.misses == 0 {
            return 100.0;
        }
        100.0 * (self.misses - self.handed_over().min(self.misses)) as f64 / self.misses as f64
    }

    /// The causes with a non-zero count, as `name n, …` (`none` if none).
    pub fn causes_line(&self) -> String {
        let v: Vec<String> = self.causes.iter().filter(|(_, n)| *n > 0).map(|(c, n)| format!("{c} {n}")).collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }
}

/// Where the threads of the run meet after their warm-up; the last to arrive reads the
/// driver's counters into [`WorkloadCounts::warmed`].
struct Barrier {
    waiting_for: Cell<usize>,
}

impl Barrier {
    async fn arrive(&self, ctx: &ProcCtx, gru: &Gru, counts: &WorkloadCounts) {
        self.waiting_for.set(self.waiting_for.get() - 1);
        if self.waiting_for.get() == 0 {
            *counts.warmed.borrow_mut() = Some(FaultTally::of(gru, ctx.now()));
        }
        while self.waiting_for.get() > 0 {
            ctx.sleep(BARRIER_POLL).await;
        }
    }

    fn passed(&self) -> bool {
        self.waiting_for.get() == 0
    }
}

/// Spawn the HPC workload's threads on `sys` (sizes from `cfg`: processes, GRU threads,
/// accesses, store percent, mean gap between mm operations); returns the counters they fill.
pub fn spawn<M: SystemModel>(sys: &System<M>, cfg: &WorkloadConfig) -> Rc<WorkloadCounts> {
    let counts = Rc::new(WorkloadCounts::default());
    let seed = sys.config().seed;
    let chiplets = sys.config().chiplets.max(1);
    let threads = (cfg.processes * cfg.gru_threads).max(1);
    let per_thread = cfg.accesses.div_ceil(threads as u64);
    let barrier = Rc::new(Barrier { waiting_for: Cell::new(threads) });
    for p in 0..cfg.processes {
        let mm = sys.create_mm();
        let (gru, checker, counts, cfg, barrier) = (sys.gru.clone(), sys.checker.clone(), counts.clone(), cfg.clone(), barrier.clone());
        sys.spawn(&format!("proc{p}"), move |ctx| async move {
            let Some(buffers) = map_or_report(&ctx, &mm, &checker, cfg.gru_threads as u64 * BUFFER_PAGES * PAGE_SIZE).await else { return };
            let running = Rc::new(Cell::new(cfg.gru_threads));
            for t in 0..cfg.gru_threads {
                let g = (p * cfg.gru_threads + t) as u64;
                let rng = gru_thread_rng(seed, g);
                let th = Streamer {
                    gru: gru.clone(),
                    checker: checker.clone(),
                    counts: counts.clone(),
                    barrier: barrier.clone(),
                    mm: mm.clone(),
                    base: buffers + t as u64 * BUFFER_PAGES * PAGE_SIZE,
                    tag: g << 48,
                    store_percent: cfg.store_percent,
                    chiplet: g as usize % chiplets,
                };
                let running = running.clone();
                ctx.kernel().spawn(&format!("gru{p}.{t}"), move |ctx| async move {
                    th.checker.thread_of(ctx.task(), th.mm.id());
                    if let Err(e) = th.run(&ctx, rng, per_thread).await {
                        th.checker.verdict(ctx.now(), Check::Kernel, Some(e));
                    }
                    running.set(running.get() - 1);
                });
            }
            // The rare operations work on a region of their own, mapped after the buffers.
            let Some(scratch) = map_or_report(&ctx, &mm, &checker, SCRATCH_PAGES * PAGE_SIZE).await else { return };
            let rng = cpu_thread_rng(seed, p);
            let cpu = RareOps { checker: checker.clone(), counts, mm: mm.clone(), scratch, op_gap: cfg.op_gap.max(2) };
            cpu.run(&ctx, rng, &barrier, &running).await;
            if let Err(e) = exit_mm(&ctx, &mm).await {
                checker.verdict(ctx.now(), Check::Kernel, Some(format!("exit: {e}")));
            }
        });
    }
    counts
}

/// A GRU thread streaming through its own buffer.
struct Streamer {
    gru: Gru,
    checker: Rc<Checker>,
    counts: Rc<WorkloadCounts>,
    barrier: Rc<Barrier>,
    mm: Mm,
    base: u64,
    /// High bits of every value the thread stores (its number), so a value names its writer.
    tag: u64,
    store_percent: u32,
    chiplet: usize,
}

impl Streamer {
    /// First touch, warm-up pass, barrier, then stream until `accesses` GRU accesses are done
    /// (the warm-up pass counts; a thread whose budget ends within the warm-up still meets the
    /// others at the barrier).
    async fn run(&self, ctx: &ProcCtx, mut rng: ChaCha8Rng, accesses: u64) -> Result<(), String> {
        for page in 0..BUFFER_PAGES {
            let va = self.base + page * PAGE_SIZE;
            match cpu_store(ctx, &self.mm, va, self.tag | page).await {
                Ok(()) => {}
                Err(MmError::Oracle(m)) => self.checker.cpu_mismatch(&m),
                Err(e) => return Err(format!("first touch of {va:#x}: {e}")),
            }
            WorkloadCounts::bump(&self.counts.cpu_accesses);
        }
        let gts = self.gru.alloc_context(ctx, &self.mm, self.chiplet).await.map_err(|e| format!("alloc_context: {e}"))?;
        let warm_up = (BUFFER_PAGES * WORDS_PER_VISIT).min(accesses);
        let mut done = 0;
        while done < accesses {
            if done == warm_up {
                self.barrier.arrive(ctx, &self.gru, &self.counts).await;
            }
            let visit = done / WORDS_PER_VISIT;
            let page = visit % BUFFER_PAGES;
            // Each pass takes the next words of every page, so later passes read earlier stores.
            let pass = visit / BUFFER_PAGES;
            let word = (pass * WORDS_PER_VISIT + done % WORDS_PER_VISIT) % (PAGE_SIZE / 8);
            let va = self.base + page * PAGE_SIZE + word * 8;
            let store = rng.gen_range(0..100) < self.store_percent;
            self.access(ctx, &gts, &mut rng, va, store, self.tag | done).await?;
            done += 1;
        }
        // A budget that ends with the warm-up never reached the barrier inside the loop.
        if warm_up == accesses {
            self.barrier.arrive(ctx, &self.gru, &self.counts).await;
        }
        self.gru.free_context(ctx, gts).await.map_err(|e| format!("free_context: {e}"))
    }

    /// One GRU load or store on a random CB of the context, checked against the data oracle.
    async fn access(&self, ctx: &ProcCtx, gts: &Rc<Gts>, rng: &mut ChaCha8Rng, va: u64, store: bool, value: u64) -> Result<(), String> {
        let id = self.mm.id();
        let cb = rng.gen_range(0..gru_driver::gru::CBR_PER_CTX as u8);
        let before = self.checker.expected(id, va);
        match self.gru.cb_access(ctx, gts, cb, va, store, value).await {
            Ok(v) => {
                if !store {
                    self.checker.chip_load(ctx.now(), id, va, v, before);
                }
                WorkloadCounts::bump(&self.counts.gru_accesses);
                Ok(())
            }
            // The buffers are never unmapped or protected: an exception is a failure.
            Err(e @ GruError::CbException { .. }) => Err(format!("GRU access {va:#x} to a first-touched buffer: {e}")),
            Err(e) => Err(format!("GRU access {va:#x}: {e}")),
        }
    }
}

/// A process's CPU thread: rare mm operations on the scratch region once the warm-up is over,
/// until the GRU threads are done.
struct RareOps {
    checker: Rc<Checker>,
    counts: Rc<WorkloadCounts>,
    mm: Mm,
    scratch: u64,
    op_gap: u64,
}

impl RareOps {
    async fn run(&self, ctx: &ProcCtx, mut rng: ChaCha8Rng, barrier: &Barrier, running: &Cell<usize>) {
        while !barrier.passed() && running.get() > 0 {
            ctx.sleep(BARRIER_POLL).await;
        }
        loop {
            // Sleep in short steps: the process exits as soon as its GRU threads are done,
            // instead of idling out a long gap.
            let until = ctx.now() + rng.gen_range(self.op_gap / 2..=self.op_gap * 3 / 2);
            while ctx.now() < until {
                if running.get() == 0 {
                    return;
                }
                ctx.sleep((until - ctx.now()).min(OP_POLL)).await;
            }
            let va = self.scratch + rng.gen_range(0..SCRATCH_PAGES) * PAGE_SIZE;
            let (name, r) = match rng.gen_range(0..3) {
                0 => ("mprotect", async {
                    mprotect(ctx, &self.mm, va, PAGE_SIZE, Prot::Read).await?;
                    ctx.sleep(500).await;
                    mprotect(ctx, &self.mm, va, PAGE_SIZE, Prot::ReadWrite).await
                }.await),
                1 => ("munmap", async {
                    munmap(ctx, &self.mm, va, PAGE_SIZE).await?;
                    ctx.sleep(200).await;
                    mmap(ctx, &self.mm, Some(va), PAGE_SIZE, Prot::ReadWrite).await.map(drop)
                }.await),
                _ => ("cpu_store", cpu_store(ctx, &self.mm, va, rng.gen()).await),
            };
            match r {
                Ok(()) => self.counts.op(name),
                Err(MmError::Oracle(m)) => self.checker.cpu_mismatch(&m),
                Err(e) => self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("{name} of the scratch page {va:#x}: {e}"))),
            }
        }
    }
}

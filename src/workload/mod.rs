//! The seeded random workloads. The stress workload (`default`, and `directed`): processes whose
//! GRU threads issue CB loads and stores on a shared region while a CPU thread per process runs
//! mm operations (munmap, mprotect, fork, swap-out, migration) and CPU loads and stores every
//! few thousand cycles. The HPC workload ([`hpc`]): threads that first-touch their own buffers
//! and then stream through them, with rare mm operations elsewhere.
//!
//! Every thread draws from its own ChaCha stream derived from the run's seed, so a seed fixes
//! the workload; the kernel's scheduler draws from the same seed. Each thread stores only to its
//! own words (word `slot + k * THREAD_SLOTS` of each page), so the value a load must return is
//! never ambiguous: the data oracle checks every load, CPU or chip.

use std::cell::Cell;
use std::rc::Rc;

use gru_driver::gru::handles::CbStatus;
use gru_driver::gru::hw::{CbCompletion, CbRequest, GruHardware};
use gru_driver::gru::{Gru, GruConfig, GruError, Gts, CBR_PER_CTX};
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{exit_mm, fork, migrate, mmap, mprotect, munmap, swap_out, thp_collapse};
use gru_driver::mm::{cpu_load, cpu_store, Mm, MmError, Prot, HPAGE_SIZE, PAGE_SIZE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check::{Check, Checker};
use crate::system::{System, SystemModel};

pub mod files;
pub mod hpc;

/// Word slots per page reserved for distinct threads.
const THREAD_SLOTS: u64 = 16;

/// Which random workload runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkloadKind {
    /// The stress mix (`gru-cosim run default`).
    #[default]
    Stress,
    /// The stress mix steered into the race windows (`directed`): GRU threads unload and reload
    /// their contexts every [`CHURN`] accesses (loads and unloads racing flushes), every other
    /// time with a miss left pending (the unload is refused), a small ASID limit (wraps and
    /// global purges with contexts loaded), munmaps of more than 1024 pages (full ASID purges),
    /// and a region in a 2M page that khugepaged collapses (huge dropins, and the splits that
    /// purge them).
    Directed,
    /// First touch, then streaming with rare mm operations (`hpc`; see [`hpc`]).
    Hpc,
    /// The stress mix over every kind of memory (`files`): each region is private anonymous,
    /// shared anonymous, a shared mapping of a file both processes map, and a private mapping of
    /// it, a quarter each; the CPU threads add pwrite/pread, msync, the flusher, truncate and
    /// hole punch of that file (see [`files`]).
    Files,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 4] = [WorkloadKind::Stress, WorkloadKind::Directed, WorkloadKind::Hpc, WorkloadKind::Files];

    /// The name `run` knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stress => "default",
            Self::Directed => "directed",
            Self::Hpc => "hpc",
            Self::Files => "files",
        }
    }

    /// The kind `run` knows by `name`, if any.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The mix and sizes of a random workload.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// Which workload: the stress mix, directed or HPC. The HPC workload uses `processes`,
    /// `gru_threads`, `accesses` and `store_percent`, and its own buffer and operation sizes.
    pub kind: WorkloadKind,
    /// Processes (address spaces).
    pub processes: usize,
    /// GRU threads per process.
    pub gru_threads: usize,
    /// GRU accesses in total, split evenly over the GRU threads.
    pub accesses: u64,
    /// Pages of each process's shared region.
    pub pages: u64,
    /// Percent of GRU accesses that are stores.
    pub store_percent: u32,
    /// Mean cycles between two operations of a process's CPU thread.
    pub op_gap: u64,
}

/// Accesses between two context reloads of a directed GRU thread.
pub const CHURN: u64 = 150;

/// The ASID limit of a directed run: bases 0x8..=0x20 per chiplet, so a couple of zero-ASID skips
/// and reloads wrap it with contexts loaded.
const DIRECTED_MAX_ASID: u32 = 0x28;

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self { kind: WorkloadKind::Stress, processes: 2, gru_threads: 3, accesses: 20_000, pages: 32, store_percent: 40, op_gap: 3_000 }
    }
}

impl WorkloadConfig {
    /// The workload `kind` with `accesses` GRU accesses and the other sizes at their defaults
    /// (the HPC workload's mm operations are rare: [`hpc::OP_GAP`]).
    pub fn of(kind: WorkloadKind, accesses: u64) -> Self {
        let op_gap = if kind == WorkloadKind::Hpc { hpc::OP_GAP } else { Self::default().op_gap };
        Self { kind, accesses, op_gap, ..Self::default() }
    }

    /// Whether this is the directed workload.
    pub fn directed(&self) -> bool {
        self.kind == WorkloadKind::Directed
    }

    /// The driver configuration this workload runs with.
    pub fn gru_config(&self, gru: GruConfig) -> GruConfig {
        if self.directed() {
            GruConfig { max_asid: DIRECTED_MAX_ASID, ..gru }
        } else {
            gru
        }
    }
}

/// What the workload did, counted by its threads.
#[derive(Debug, Default)]
pub struct WorkloadCounts {
    /// GRU loads and stores that completed.
    pub gru_accesses: Cell<u64>,
    /// GRU accesses that ended in a CB exception (page unmapped or protected meanwhile).
    pub gru_exceptions: Cell<u64>,
    /// CPU loads and stores.
    pub cpu_accesses: Cell<u64>,
    /// mm operations by name.
    pub ops: std::cell::RefCell<std::collections::BTreeMap<&'static str, u64>>,
    /// HPC workload: the driver's fault counters when the last thread finished its warm-up (the
    /// boundary between the warm-up and the steady phase).
    pub warmed: std::cell::RefCell<Option<hpc::FaultTally>>,
}

impl WorkloadCounts {
    fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    fn op(&self, name: &'static str) {
        *self.ops.borrow_mut().entry(name).or_default() += 1;
    }
}

/// Spawn the workload's threads on `sys`; returns the counters they fill.
pub fn spawn<M: SystemModel>(sys: &System<M>, cfg: &WorkloadConfig) -> Rc<WorkloadCounts> {
    if cfg.kind == WorkloadKind::Hpc {
        return hpc::spawn(sys, cfg);
    }
    let counts = Rc::new(WorkloadCounts::default());
    let seed = sys.config().seed;
    let chiplets = sys.config().chiplets.max(1);
    let threads = (cfg.processes * cfg.gru_threads).max(1) as u64;
    let per_thread = cfg.accesses.div_ceil(threads);
    let file = (cfg.kind == WorkloadKind::Files).then(|| files::Layout::new(&sys.mmu, cfg.pages));
    for p in 0..cfg.processes {
        let mm = sys.create_mm();
        let (gru, checker, counts, cfg) = (sys.gru.clone(), sys.checker.clone(), counts.clone(), cfg.clone());
        let hw: Rc<dyn GruHardware> = Rc::new(sys.hw.clone());
        sys.spawn(&format!("proc{p}"), move |ctx| async move {
            // Directed: the region sits at the start of a 2M-aligned 2M mapping, so khugepaged
            // can collapse it.
            let len = if cfg.directed() { HPAGE_SIZE } else { cfg.pages * PAGE_SIZE };
            let Some(base) = map_or_report(&ctx, &mm, &checker, len).await else { return };
            if let Some(f) = file {
                if let Err(e) = f.map_region(&ctx, &mm, base).await {
                    return checker.verdict(ctx.now(), Check::Kernel, Some(format!("mapping the region's kinds: {e}")));
                }
            }
            let running = Rc::new(Cell::new(cfg.gru_threads));
            for t in 0..cfg.gru_threads {
                let g = (p * cfg.gru_threads + t) as u64;
                let rng = gru_thread_rng(seed, g);
                let th = GruThread {
                    gru: gru.clone(),
                    hw: hw.clone(),
                    checker: checker.clone(),
                    counts: counts.clone(),
                    mm: mm.clone(),
                    base,
                    pages: cfg.pages,
                    slot: g % THREAD_SLOTS,
                    store_percent: cfg.store_percent,
                    chiplet: g as usize % chiplets,
                    churn: cfg.directed().then_some(CHURN),
                };
                let running = running.clone();
                ctx.kernel().spawn(&format!("gru{p}.{t}"), move |ctx| async move {
                    th.checker.thread_of(ctx.task(), th.mm.id());
                    th.run(&ctx, rng, per_thread).await;
                    running.set(running.get() - 1);
                });
            }
            let rng = cpu_thread_rng(seed, p);
            let cpu = CpuThread { checker: checker.clone(), counts, mm: mm.clone(), base, len, pages: cfg.pages, op_gap: cfg.op_gap, directed: cfg.directed(), file };
            cpu.run(&ctx, rng, &running).await;
            if let Err(e) = exit_mm(&ctx, &mm).await {
                checker.verdict(ctx.now(), Check::Kernel, Some(format!("exit: {e}")));
            }
        });
    }
    counts
}

/// The random stream of GRU thread `g` (counted over the processes) of a run with `seed`.
fn gru_thread_rng(seed: u64, g: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (g + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The random stream of process `p`'s CPU thread of a run with `seed`.
fn cpu_thread_rng(seed: u64, p: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (p as u64 + 1).wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
}

/// Map `len` bytes of anonymous memory read-write anywhere in `mm`; a failure is a kernel
/// verdict (and `None`).
async fn map_or_report(ctx: &ProcCtx, mm: &Mm, checker: &Checker, len: u64) -> Option<u64> {
    match mmap(ctx, mm, None, len, Prot::ReadWrite).await {
        Ok(b) => Some(b),
        Err(e) => {
            checker.verdict(ctx.now(), Check::Kernel, Some(format!("mmap: {e}")));
            None
        }
    }
}

/// A thread with a GRU context on one chiplet.
struct GruThread {
    gru: Gru,
    /// The CB port, for a CB issued by hand (its CALL_OS left unanswered for a while).
    hw: Rc<dyn GruHardware>,
    checker: Rc<Checker>,
    counts: Rc<WorkloadCounts>,
    mm: Mm,
    base: u64,
    pages: u64,
    slot: u64,
    store_percent: u32,
    chiplet: usize,
    /// Reload the context every this many accesses.
    churn: Option<u64>,
}

impl GruThread {
    async fn run(&self, ctx: &ProcCtx, mut rng: ChaCha8Rng, accesses: u64) {
        let mut gts = match self.gru.alloc_context(ctx, &self.mm, self.chiplet).await {
            Ok(g) => g,
            Err(e) => return self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("alloc_context: {e}"))),
        };
        let id = self.mm.id();
        for i in 0..accesses {
            if self.churn.is_some_and(|n| i > 0 && i % n == 0) {
                if i / self.churn.unwrap_or(1) % 2 == 0 {
                    if let Err(e) = self.unload_with_miss_pending(ctx, &gts, &mut rng, i).await {
                        return self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("unload with a miss pending: {e}")));
                    }
                }
                if let Err(e) = self.gru.free_context(ctx, gts).await {
                    return self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("free_context: {e}")));
                }
                gts = match self.gru.alloc_context(ctx, &self.mm, self.chiplet).await {
                    Ok(g) => g,
                    Err(e) => return self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("alloc_context: {e}"))),
                };
            }
            let va = self.own_word(&mut rng);
            let cb = rng.gen_range(0..gru_driver::gru::CBR_PER_CTX as u8);
            let store = rng.gen_range(0..100) < self.store_percent;
            let value = (self.slot << 48) | i;
            let before = self.checker.expected(id, va);
            match self.gru.cb_access(ctx, &gts, cb, va, store, value).await {
                Ok(v) => {
                    if !store {
                        self.checker.chip_load(ctx.now(), id, va, v, before);
                    }
                    WorkloadCounts::bump(&self.counts.gru_accesses);
                }
                // The page was unmapped or protected by the CPU thread meanwhile.
                Err(GruError::CbException { .. }) => WorkloadCounts::bump(&self.counts.gru_exceptions),
                Err(e) => return self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("GRU access {va:#x}: {e}"))),
            }
        }
        if let Err(e) = self.gru.free_context(ctx, gts).await {
            self.checker.verdict(ctx.now(), Check::Kernel, Some(format!("free_context: {e}")));
        }
    }
}

impl GruThread {
    /// A random word of the thread's own slot in the region.
    fn own_word(&self, rng: &mut ChaCha8Rng) -> u64 {
        let page = rng.gen_range(0..self.pages);
        let word = self.slot + THREAD_SLOTS * rng.gen_range(0..PAGE_SIZE / 8 / THREAD_SLOTS);
        self.base + page * PAGE_SIZE + word * 8
    }

    /// Wait for the next completion of `cbr`.
    async fn completion(&self, ctx: &ProcCtx, cbr: u8) -> CbCompletion {
        loop {
            if let Some(c) = self.hw.cb_take(self.chiplet, cbr) {
                return c;
            }
            ctx.sleep(20).await;
        }
    }

    /// Unload with a fault pending, as when a thread is descheduled between its CB's CALL_OS and
    /// its call into the driver: a store issued by hand on CB 0 (likely to need the OS: a page
    /// never written, swapped out or write-protected); if it ends in CALL_OS, the unload must be
    /// refused (DEALLOCATE with a fault pending), the context keeps running, and answering the
    /// miss completes the store. Anything else is a driver failure.
    async fn unload_with_miss_pending(&self, ctx: &ProcCtx, gts: &Rc<Gts>, rng: &mut ChaCha8Rng, i: u64) -> Result<(), GruError> {
        let ctxnum = gts.ctxnum().ok_or(GruError::NotLoaded)?;
        let cbr = gru_driver::gru::handles::cbr_of(ctxnum, 0, CBR_PER_CTX) as u8;
        let va = self.own_word(rng);
        let value = (self.slot << 48) | i;
        self.hw.cb_issue(self.chiplet, CbRequest { cbr, vaddr: va, write: true, wdata: value })?;
        let mut c = self.completion(ctx, cbr).await;
        if c.status == CbStatus::CallOs as u8 {
            match self.gru.gru_unload_context(ctx, gts).await {
                Err(GruError::UnloadRefused { .. }) => {}
                Ok(()) => {
                    let detail = format!("chiplet {} context {ctxnum} was unloaded with the fault of CBR {cbr} pending", self.chiplet);
                    self.checker.verdict(ctx.now(), Check::Kernel, Some(detail));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        // Answer every CALL_OS, as the user library does (a read-only dropin comes back TLB_MOD).
        while c.status == CbStatus::CallOs as u8 {
            self.gru.gru_handle_user_call_os(ctx, gts, 0).await?;
            c = self.completion(ctx, cbr).await;
        }
        match CbStatus::try_from(u64::from(c.status)) {
            Ok(CbStatus::Idle) => WorkloadCounts::bump(&self.counts.gru_accesses),
            // The page was unmapped or protected by the CPU thread meanwhile.
            Ok(CbStatus::Exception) => WorkloadCounts::bump(&self.counts.gru_exceptions),
            _ => return Err(GruError::CbException { cbr, cause: c.cause }),
        }
        Ok(())
    }
}

/// A process's CPU thread: mm operations and CPU accesses until the GRU threads are done.
struct CpuThread {
    checker: Rc<Checker>,
    counts: Rc<WorkloadCounts>,
    mm: Mm,
    base: u64,
    /// Bytes of the region's mapping (2M in a directed run).
    len: u64,
    pages: u64,
    op_gap: u64,
    /// Add munmaps of more than 1024 pages (full ASID purges) and THP collapses.
    directed: bool,
    /// The `files` workload's layout: remaps keep each page's kind, and file operations join
    /// the mix.
    file: Option<files::Layout>,
}

impl CpuThread {
    async fn run(&self, ctx: &ProcCtx, mut rng: ChaCha8Rng, running: &Cell<usize>) {
        // The CPU thread stores to the last slot, which no GRU thread of a small run owns.
        let slot = THREAD_SLOTS - 1;
        while running.get() > 0 {
            ctx.sleep(rng.gen_range(self.op_gap / 2..=self.op_gap * 3 / 2)).await;
            let page = rng.gen_range(0..self.pages);
            let va = self.base + page * PAGE_SIZE;
            let r = match rng.gen_range(0..100) {
                0..=4 if self.directed => self.op("munmap_big", async {
                    // Past the region too: the kernel flushes the whole range, over GRUMAXINVAL.
                    munmap(ctx, &self.mm, self.base, 1100 * PAGE_SIZE).await?;
                    ctx.sleep(200).await;
                    mmap(ctx, &self.mm, Some(self.base), self.len, Prot::ReadWrite).await.map(drop)
                }).await,
                5..=9 if self.directed => self.op("thp_collapse", thp_collapse(ctx, &self.mm, self.base)).await,
                0..=9 if self.file.is_some() => {
                    let Some(f) = self.file else { continue };
                    let what = rng.gen_range(0..100);
                    let n = rng.gen_range(1..=4u64).min(self.pages - page);
                    let (name, r) = f.op(ctx, &self.mm, what, page, n, va, slot, rng.gen()).await;
                    self.op(name, async { r }).await
                }
                0..=29 => self.cpu_access(ctx, &mut rng, va + slot * 8).await,
                30..=44 => self.op("munmap", async {
                    let n = rng.gen_range(1..=4u64).min(self.pages - page);
                    munmap(ctx, &self.mm, va, n * PAGE_SIZE).await?;
                    ctx.sleep(200).await;
                    match self.file {
                        Some(f) => f.remap(ctx, &self.mm, self.base, page, n).await,
                        None => mmap(ctx, &self.mm, Some(va), n * PAGE_SIZE, Prot::ReadWrite).await.map(drop),
                    }
                }).await,
                45..=59 => self.op("mprotect", async {
                    mprotect(ctx, &self.mm, va, PAGE_SIZE, Prot::Read).await?;
                    ctx.sleep(500).await;
                    mprotect(ctx, &self.mm, va, PAGE_SIZE, Prot::ReadWrite).await
                }).await,
                60..=69 => self.op("fork", async {
                    let child = fork(ctx, &self.mm).await?;
                    self.checker.watch(&child);
                    // The child writes its copy (COW) and exits.
                    cpu_store(ctx, &child, va + slot * 8, 0xc41d).await?;
                    exit_mm(ctx, &child).await
                }).await,
                70..=84 => self.op("swap_out", async { swap_out(ctx, &self.mm, va).await.map(drop) }).await,
                _ => self.op("migrate", async { migrate(ctx, &self.mm, va).await.map(drop) }).await,
            };
            match r {
                Ok(()) => {}
                Err(MmError::Oracle(m)) => self.checker.cpu_mismatch(&m),
                Err(e) => self.checker.verdict(ctx.now(), Check::Kernel, Some(e.to_string())),
            }
        }
    }

    async fn cpu_access(&self, ctx: &ProcCtx, rng: &mut ChaCha8Rng, va: u64) -> Result<(), MmError> {
        WorkloadCounts::bump(&self.counts.cpu_accesses);
        let r = if rng.gen_bool(0.5) {
            cpu_store(ctx, &self.mm, va, rng.gen()).await
        } else {
            // cpu_load checks the oracle itself; count the check.
            let r = cpu_load(ctx, &self.mm, va).await.map(drop);
            self.checker.verdict(ctx.now(), Check::DataOracle, None);
            r
        };
        // Another process may have truncated the file under this page for a while.
        r.or_else(|e| if matches!(e, MmError::SigBus { .. }) && self.file.is_some() { Ok(()) } else { Err(e) })
    }

    /// Run an mm operation; pages not present (never touched, swapped, unmapped) make swap-out
    /// and migration skip, as the kernel's daemons do: only an oracle mismatch is a failure.
    async fn op(&self, name: &'static str, f: impl std::future::Future<Output = Result<(), MmError>>) -> Result<(), MmError> {
        match f.await {
            Ok(()) => {
                self.counts.op(name);
                Ok(())
            }
            Err(e @ MmError::Oracle(_)) => Err(e),
            Err(_) => Ok(()),
        }
    }
}

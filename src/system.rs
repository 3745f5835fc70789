//! The whole machine: N chiplets of one cycle model behind [`GruHw`], the kernel model with its
//! CPUs and primary MMU, the GRU driver, and the checkers, run by one event loop.
//!
//! The kernel's executor is the event loop: each cycle it ticks the chiplets (which serve their
//! memory ports from the kernel's physical memory), samples their interrupt lines and runs the
//! software on every CPU. [`System::run`] drives it in slices so that a failed check stops the run
//! near the cycle it happened, and stops exactly where the waveform's windows begin and end.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::rc::{Rc, Weak};

use gru_driver::gru::handles::{Tfh, TfhOpc, Tgh, HS_CCH_COUNT, PAGE_SHIFTS};
use gru_driver::gru::hw::{DecodedLine, MmioEvent, DEFAULT_MMIO_LATENCY};
use gru_driver::gru::{Gru, GruConfig, GruHardware, Gts, ASID_INC};
use gru_driver::kernel::{Kernel, KernelConfig, ProcCtx};
use gru_driver::mm::frame::PhysEvent;
use gru_driver::mm::{Leaf, Mm, MmId, Mmu, MmuConfig, PAGE_SHIFT, PAGES_PER_HPAGE, ZERO_PFN};
use gru_driver::oracle::OracleMismatch;
use gru_driver::notifier::{ChainWatcher, Era, Range, Recorder};
use gru_sim::gru_hw::{GruHw, HwEvent};
use gru_sim::lockstep::Lockstep;
use gru_sim::model::{RefModel, TlbEntry};
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, RtlError};

use crate::trace::SysEvent;
use crate::waves::event::{Coder, DbgEvent};
use crate::waves::{WaveAction, WavePlan, WaveSchedule};

/// Cycles simulated between two looks at the checkers.
const SLICE: u64 = 2_000;

/// The watchdog: a run with live tasks whose kernel work (trace records other than scheduling)
/// and hardware events stand still this long has hung (an interrupt storm, a lost wakeup, a
/// task polling forever). Five times the driver's handle timeout, so that the driver reports a
/// stuck handle first.
pub const HANG_CYCLES: u64 = 1_000_000;

/// A cycle model the system can run, with what the checkers and waveforms need of it.
pub trait SystemModel: CycleModel + 'static {
    /// Whether this model compares two (the lockstep check applies).
    fn compares(&self) -> bool {
        false
    }
    /// The first lockstep divergence, if this model compares two.
    fn divergence(&self) -> Option<String> {
        None
    }
    /// Start a waveform dump; false if the model cannot dump.
    fn open_waves(&mut self, _path: &Path) -> Result<bool, RtlError> {
        Ok(false)
    }
    /// Stop (`true`) or resume writing cycles to the open dump.
    fn pause_waves(&mut self, _paused: bool) {}
    /// Stop the dump.
    fn close_waves(&mut self) {}
}

impl SystemModel for RefModel {}

impl SystemModel for Rtl {
    fn open_waves(&mut self, path: &Path) -> Result<bool, RtlError> {
        Rtl::open_waves(self, path).map(|()| true)
    }
    fn pause_waves(&mut self, paused: bool) {
        Rtl::pause_waves(self, paused);
    }
    fn close_waves(&mut self) {
        Rtl::close_waves(self);
    }
}

impl SystemModel for Lockstep<Rtl, RefModel> {
    fn compares(&self) -> bool {
        true
    }
    fn divergence(&self) -> Option<String> {
        Lockstep::divergence(self).map(ToString::to_string)
    }
    fn open_waves(&mut self, path: &Path) -> Result<bool, RtlError> {
        self.dut.open_waves(path).map(|()| true)
    }
    fn pause_waves(&mut self, paused: bool) {
        self.dut.pause_waves(paused);
    }
    fn close_waves(&mut self) {
        self.dut.close_waves();
    }
}

/// Which cycle model the chiplets run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwKind {
    /// The Verilated RTL.
    Rtl,
    /// The Rust reference model.
    Model,
    /// Both, every output compared every cycle.
    Lockstep,
}

/// How to build a [`System`].
#[derive(Clone, Debug)]
pub struct SystemConfig {
    /// Number of chiplets.
    pub chiplets: usize,
    /// Number of CPUs of the kernel model.
    pub cpus: usize,
    /// Notifier era.
    pub era: Era,
    /// The seed of every scheduling choice.
    pub seed: u64,
    /// Driver configuration.
    pub gru: GruConfig,
    /// The waveform to dump (RTL only), with the software events on `dbg_event_i`.
    pub waves: Option<WavePlan>,
    /// The command that replays this run, printed with every failure.
    pub replay: String,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            chiplets: 1,
            cpus: 4,
            era: Era::Modern,
            seed: 1,
            gru: GruConfig::default(),
            waves: None,
            replay: String::new(),
        }
    }
}

/// A failed check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Cycle the check failed at.
    pub cycle: u64,
    /// Which checker.
    pub check: Check,
    /// What it saw.
    pub detail: String,
}

/// The checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Check {
    /// RTL against the reference model, every output every cycle.
    Lockstep,
    /// Every CPU and chip load returns the last value stored.
    DataOracle,
    /// A chip memory access goes to a frame live since the dropin that mapped it.
    FrameLife,
    /// After a flush, no entry of the mm's ASID overlapping the range is left.
    Contract,
    /// The driver and the primary MMU report no error and keep their invariants.
    Kernel,
    /// Tasks are live but nothing happened for [`HANG_CYCLES`] (the watchdog).
    Hang,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Lockstep => "lockstep",
            Check::DataOracle => "data oracle",
            Check::FrameLife => "frame life",
            Check::Contract => "shootdown contract",
            Check::Kernel => "kernel/driver",
            Check::Hang => "hang",
        })
    }
}

/// Reads the valid entries of a chiplet's TLB through its debug port.
type TlbReader = Box<dyn Fn(usize) -> Vec<TlbEntry>>;

/// Events kept per frame and per virtual page for failure reports.
const HISTORY: usize = 8;

/// All checks of a run: their failures, how often each ran, and the semantic trace.
pub struct Checker {
    seed: u64,
    replay: String,
    mmu: Mmu,
    gru: Gru,
    chiplets: usize,
    tlb: TlbReader,
    failures: RefCell<Vec<Failure>>,
    counts: RefCell<HashMap<Check, u64>>,
    events: RefCell<Vec<SysEvent>>,
    /// Each frame chiplet c last dropped in: (chiplet, pfn) → its generation then, and whose
    /// page it was.
    dropped: RefCell<HashMap<(usize, u64), DroppedFrame>>,
    /// Invalidations between the return of `invalidate_range_start` and the matching
    /// `invalidate_range_end`: nothing of the range may be installed meanwhile.
    open: RefCell<Vec<(MmId, u64, u64)>>,
    /// Address spaces whose notifiers were released.
    released: RefCell<std::collections::HashSet<MmId>>,
    /// The last events of each frame (allocation, dropins, free), for failure reports.
    frames: RefCell<HashMap<u64, VecDeque<String>>>,
    /// The frames dropped in for each virtual page (any address space), for failure reports.
    pages: RefCell<HashMap<u64, VecDeque<String>>>,
}

impl Checker {
    fn new(cfg: &SystemConfig, mmu: Mmu, gru: Gru, tlb: TlbReader) -> Self {
        Self {
            seed: cfg.seed,
            replay: cfg.replay.clone(),
            mmu,
            gru,
            chiplets: cfg.chiplets.max(1),
            tlb,
            failures: RefCell::default(),
            counts: RefCell::default(),
            events: RefCell::default(),
            dropped: RefCell::default(),
            open: RefCell::default(),
            released: RefCell::default(),
            frames: RefCell::default(),
            pages: RefCell::default(),
        }
    }

    fn now(&self) -> u64 {
        self.mmu.kernel().now()
    }

    /// Watch `mm`: its notifier calls go to the semantic trace and the shootdown contract is
    /// checked around them.
    pub fn watch(self: &Rc<Self>, mm: &Mm) {
        mm.notifiers().register(Recorder::new("mmu", self.mmu.kernel().trace().clone()));
        mm.notifiers().watch(Rc::new(Watch(Rc::downgrade(self))));
    }

    /// Record that `check` ran once, and its failure if `detail` is some.
    pub fn verdict(&self, cycle: u64, check: Check, detail: Option<String>) {
        *self.counts.borrow_mut().entry(check).or_default() += 1;
        if let Some(detail) = detail {
            self.events.borrow_mut().push(SysEvent::Check { cycle, check, ok: false, detail: detail.clone() });
            self.failures.borrow_mut().push(Failure { cycle, check, detail });
        }
    }

    /// Add an event to the semantic trace.
    pub fn log(&self, e: SysEvent) {
        self.events.borrow_mut().push(e);
    }

    /// The failures so far.
    pub fn failures(&self) -> Vec<Failure> {
        self.failures.borrow().clone()
    }

    /// How many times each check ran.
    pub fn counts(&self) -> Vec<(Check, u64)> {
        let mut v: Vec<_> = self.counts.borrow().iter().map(|(&c, &n)| (c, n)).collect();
        v.sort_by_key(|(c, _)| *c as u8);
        v
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The command that replays the run.
    pub fn replay(&self) -> &str {
        &self.replay
    }

    /// A chip load of `va` in `mm` returned `value`; `before` is what the oracle expected when
    /// the load was issued (a concurrent munmap may legitimately zero the word meanwhile).
    pub fn chip_load(&self, cycle: u64, mm: MmId, va: u64, value: u64, before: u64) {
        let now = self.mmu.with_oracle(|o| o.expected(mm, va));
        let bad = (value != now && value != before).then(|| {
            format!("chip load {mm} {va:#x}: expected {now:#x}, loaded {value:#x}; {}", self.story(mm, va))
        });
        self.verdict(cycle, Check::DataOracle, bad);
    }

    /// A CPU load returned the wrong value (the primary MMU's own oracle check).
    pub fn cpu_mismatch(&self, m: &OracleMismatch) {
        let detail = format!("CPU {m}; {}", self.story(m.mm, m.addr));
        self.verdict(m.cycle, Check::DataOracle, Some(detail));
    }

    /// What is known of the page at `va` of `mm`: its PTE now, the frames dropped in for it
    /// and those frames' histories.
    fn story(&self, mm: MmId, va: u64) -> String {
        let page = va >> PAGE_SHIFT << PAGE_SHIFT;
        let pte = self.mmu.mm(mm).and_then(|m| m.lookup(va)).map_or("none".to_owned(), |l| format!("{l:?}"));
        let mut out = format!("PTE of {page:#x}: {pte}");
        let dropins = self.pages.borrow().get(&page).cloned().unwrap_or_default();
        if !dropins.is_empty() {
            out += &format!("; dropins of {page:#x}: [{}]", dropins.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        let mut pfns: Vec<u64> = dropins.iter().filter_map(|d| d.rsplit("pfn ").next()?.split_whitespace().next()?.parse().ok()).collect();
        if let Some(Leaf::Pte(_, p) | Leaf::Pmd(_, p)) = self.mmu.mm(mm).and_then(|m| m.lookup(va)) {
            pfns.extend(p.present().map(|p| p.pfn));
        }
        pfns.sort_unstable();
        pfns.dedup();
        let frames = self.frames.borrow();
        for pfn in pfns {
            if let Some(h) = frames.get(&pfn) {
                out += &format!("; frame {pfn}: [{}]", h.iter().cloned().collect::<Vec<_>>().join(", "));
            }
        }
        out
    }

    fn remember(map: &RefCell<HashMap<u64, VecDeque<String>>>, key: u64, what: String) {
        let mut m = map.borrow_mut();
        let h = m.entry(key).or_default();
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(what);
    }

    fn phys_event(&self, e: PhysEvent) {
        let cycle = self.now();
        match e {
            PhysEvent::Alloc { pfn, generation } => Self::remember(&self.frames, pfn, format!("cycle {cycle} allocated (generation {generation})")),
            PhysEvent::Free { pfn, .. } => Self::remember(&self.frames, pfn, format!("cycle {cycle} freed")),
        }
    }

    /// The entries of `chiplet`'s TLB that `mm` can hit now: those of a context slot holding
    /// one of the mm's contexts, under that context's ASIDs. Entries under an ASID the driver
    /// dropped, or in a slot since unloaded, are unreachable until the ASID is handed out
    /// again, which takes a full purge of the chiplet.
    fn reachable(&self, mm: MmId, chiplet: usize) -> Vec<TlbEntry> {
        let slots: Vec<_> = (0..HS_CCH_COUNT).filter_map(|s| self.gru.loaded(chiplet, s).filter(|g| g.mm_id() == mm).map(|g| (s, g))).collect();
        if slots.is_empty() {
            return Vec::new();
        }
        (self.tlb)(chiplet)
            .into_iter()
            .filter(|e| slots.iter().any(|(s, g)| usize::from(e.ctx) == *s && holds_asid(g, e.asid)))
            .collect()
    }

    /// The shootdown contract after `what` returned: no chiplet holds an entry `mm` can hit
    /// that overlaps `[start, end)`.
    fn scan(&self, what: &str, mm: MmId, start: u64, end: u64) {
        if self.released.borrow().contains(&mm) {
            return;
        }
        let (first, last) = (start >> PAGE_SHIFT, (end.max(start + 1) - 1) >> PAGE_SHIFT);
        let left: Vec<String> = (0..self.chiplets)
            .flat_map(|c| {
                self.reachable(mm, c)
                    .into_iter()
                    .filter(|e| e.vpn <= last && first < e.vpn + (1 << e.shift()))
                    .map(move |e| format!("chiplet {c} ctx {} asid {:#x} va {:#x} -> pfn {}", e.ctx, e.asid, e.vpn << PAGE_SHIFT, e.pfn))
            })
            .collect();
        let bad = (!left.is_empty())
            .then(|| format!("{what} {mm} [{start:#x}, {end:#x}) returned with entries left: {}", left.join("; ")));
        self.verdict(self.now(), Check::Contract, bad);
    }

    /// A dropin landed in the TLB: it must not fall in a range whose invalidation has returned
    /// from `invalidate_range_start` but not reached `invalidate_range_end`.
    fn installed(&self, cycle: u64, chiplet: usize, t: &Tfh) {
        let len = 1u64 << (PAGE_SHIFTS[usize::from(t.pagesize.min(8))] + PAGE_SHIFT);
        let (lo, hi) = (t.fillvaddr & !(len - 1), (t.fillvaddr & !(len - 1)) + len);
        let open = self.open.borrow().clone();
        let bad = open.iter().find(|&&(mm, s, e)| {
            lo < e
                && s < hi
                && (0..HS_CCH_COUNT).any(|slot| {
                    self.gru
                        .loaded(chiplet, slot)
                        .is_some_and(|g| g.mm_id() == mm && holds_asid(&g, t.fillasid))
                })
        });
        if let Some((mm, s, e)) = bad {
            let detail = format!(
                "chiplet {chiplet} installed a dropin of {mm} va {:#x} (asid {:#x}, pfn {}) inside [{s:#x}, {e:#x}) between its invalidate_range_start and invalidate_range_end",
                t.fillvaddr, t.fillasid, t.pfn
            );
            self.verdict(cycle, Check::Contract, Some(detail));
        }
    }

    /// A chip store to `pfn` must go through a translation the primary MMU allows: some PTE
    /// maps the frame writable and dirty (a clean or write-protected PTE means the store
    /// would be lost on reclaim or break copy-on-write).
    /// Classic-era Linux clears a PTE before it calls `invalidate_page`, so a store in between
    /// is legal there; the check applies to the modern era only.
    fn store_allowed(&self, pfn: u64) -> bool {
        if self.mmu.era() == Era::Classic {
            return true;
        }
        let maps = self.mmu.with_phys(|p| p.mappings(pfn).to_vec());
        maps.iter().any(|m| {
            let leaf = self.mmu.mm(m.mm).and_then(|mm| mm.lookup(m.va));
            let p = match leaf {
                Some(Leaf::Pte(_, pte)) => pte.present().filter(|p| p.pfn == pfn),
                Some(Leaf::Pmd(_, pte)) => pte.present().filter(|p| (p.pfn..p.pfn + PAGES_PER_HPAGE).contains(&pfn)),
                None => None,
            };
            p.is_some_and(|p| p.write && p.dirty)
        })
    }

    /// What the oracle expects at `va` of `mm` now.
    pub fn expected(&self, mm: MmId, va: u64) -> u64 {
        self.mmu.with_oracle(|o| o.expected(mm, va))
    }

    fn hw_event(&self, e: &HwEvent) {
        match *e {
            HwEvent::Mem { cycle, chiplet, paddr, write, value } => {
                let pfn = paddr >> PAGE_SHIFT;
                let gen = self.mmu.with_phys(|p| p.generation(pfn));
                let bad = if pfn == ZERO_PFN && !write {
                    None
                } else {
                    match self.dropped.borrow().get(&(chiplet, pfn)) {
                        None => Some(format!("chiplet {chiplet} {} paddr {paddr:#x}: no dropin ever mapped it", rw(write))),
                        Some(d) if Some(d.generation) != gen => Some(format!(
                            "chiplet {chiplet} {} paddr {paddr:#x} ({d}): frame freed since its dropin (generation {} -> {gen:?})",
                            rw(write),
                            d.generation
                        )),
                        Some(d) if write && !self.store_allowed(pfn) => Some(format!(
                            "chiplet {chiplet} store to paddr {paddr:#x} ({d}): no PTE maps the frame writable and dirty"
                        )),
                        Some(_) => None,
                    }
                };
                let bad = bad.map(|b| match self.frames.borrow().get(&pfn) {
                    Some(h) => format!("{b}; frame {pfn}: [{}]", h.iter().cloned().collect::<Vec<_>>().join(", ")),
                    None => b,
                });
                self.verdict(cycle, Check::FrameLife, bad);
                self.log(SysEvent::Mem { cycle, chiplet, paddr, write, value });
            }
            HwEvent::Completion { cycle, chiplet, cbr, status, cause, rdata } => {
                self.log(SysEvent::CbDone { cycle, chiplet, cbr, status, cause, rdata });
            }
            HwEvent::Dropin { cycle, chiplet, cbr, tfh, installed } => {
                if installed {
                    self.installed(cycle, chiplet, &tfh);
                    let what = format!("cycle {cycle} chiplet {chiplet} asid {:#x}{} pfn {}", tfh.fillasid, if tfh.dirty { " dirty" } else { "" }, tfh.pfn);
                    Self::remember(&self.pages, tfh.fillvaddr >> PAGE_SHIFT << PAGE_SHIFT, what);
                    Self::remember(&self.frames, tfh.pfn, format!("cycle {cycle} dropped in on chiplet {chiplet} for va {:#x}", tfh.fillvaddr));
                    let pages = 1u64 << PAGE_SHIFTS[usize::from(tfh.pagesize.min(8))];
                    let mm = (0..HS_CCH_COUNT).find_map(|slot| {
                        let g = self.gru.loaded(chiplet, slot)?;
                        holds_asid(&g, tfh.fillasid).then(|| g.mm_id())
                    });
                    let base = tfh.fillvaddr & !((pages << PAGE_SHIFT) - 1);
                    let mut d = self.dropped.borrow_mut();
                    self.mmu.with_phys(|p| {
                        for (k, pfn) in (tfh.pfn..tfh.pfn + pages).enumerate() {
                            if let Some(generation) = p.generation(pfn) {
                                let va = base + ((k as u64) << PAGE_SHIFT);
                                d.insert((chiplet, pfn), DroppedFrame { generation, mm, va, cycle });
                            }
                        }
                    });
                }
                self.log(SysEvent::dropin(cycle, chiplet, cbr, &tfh, installed));
            }
            HwEvent::Purge { cycle, chiplet, tgh, line, entries } => {
                self.log(SysEvent::purge(cycle, chiplet, tgh, &line, entries));
            }
        }
    }
}

/// A frame as a dropin mapped it.
#[derive(Clone, Copy)]
struct DroppedFrame {
    generation: u64,
    /// The address space whose context took the dropin (none if no loaded context had its ASID).
    mm: Option<MmId>,
    /// The virtual page of the frame in that address space.
    va: u64,
    cycle: u64,
}

impl fmt::Display for DroppedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mm {
            Some(mm) => write!(f, "{mm} va {:#x}, dropped in at cycle {}", self.va, self.cycle),
            None => write!(f, "va {:#x}, dropped in at cycle {}", self.va, self.cycle),
        }
    }
}

/// Whether context `g` translates under `asid`: its base ASID (0 means dropped) up to the next
/// base, one ASID per region.
fn holds_asid(g: &Gts, asid: u32) -> bool {
    g.asid() != 0 && (g.asid()..g.asid() + ASID_INC).contains(&asid)
}

fn rw(write: bool) -> &'static str {
    if write {
        "store"
    } else {
        "load"
    }
}

/// The machine. Cheap handles inside; `System` itself is not cloned.
pub struct System<M: SystemModel> {
    /// The kernel model.
    pub kernel: Kernel,
    /// Its primary MMU.
    pub mmu: Mmu,
    /// The chiplets.
    pub hw: GruHw<M>,
    /// The GRU driver.
    pub gru: Gru,
    /// The checkers and the semantic trace.
    pub checker: Rc<Checker>,
    cfg: SystemConfig,
    /// The open dump's schedule (none when nothing is dumped).
    waves: RefCell<Option<WaveSchedule>>,
    /// Model cycles before kernel cycle 0 (the chiplets' reset).
    wave_offset: u64,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunReport {
    /// Cycles simulated.
    pub cycles: u64,
    /// Tasks left when the run stopped (0 unless it stopped early).
    pub live_tasks: usize,
    /// The kernel's own error (deadlock or timeout), if any.
    pub kernel_error: Option<String>,
}

impl<M: SystemModel> System<M> {
    /// Build the machine with `cfg.chiplets` chiplets made by `make`, all checks on.
    pub fn new(cfg: SystemConfig, make: impl Fn() -> M) -> Result<Self, String> {
        let kernel = Kernel::new(KernelConfig { num_cpus: cfg.cpus, seed: cfg.seed, ..KernelConfig::default() });
        let mmu = Mmu::new(&kernel, MmuConfig { era: cfg.era, ..MmuConfig::default() });
        let hw = GruHw::new((0..cfg.chiplets.max(1)).map(|_| make()).collect(), &mmu, DEFAULT_MMIO_LATENCY);
        let gru = Gru::new(&kernel, Rc::new(hw.clone()) as Rc<dyn GruHardware>, cfg.gru);
        let h = hw.clone();
        let checker = Rc::new(Checker::new(&cfg, mmu.clone(), gru.clone(), Box::new(move |c| h.tlb_entries(c))));
        // The hardware and physical memory hold the checker weakly: it holds them.
        let c = Rc::downgrade(&checker);
        hw.set_observer(Box::new(move |e| {
            if let Some(c) = c.upgrade() {
                c.hw_event(e);
            }
        }));
        let c = Rc::downgrade(&checker);
        mmu.with_phys(|p| {
            p.set_observer(Box::new(move |e| {
                if let Some(c) = c.upgrade() {
                    c.phys_event(e);
                }
            }))
        });
        // Software events onto dbg_event_i: the chip ignores the port, so a run is unchanged.
        hw.set_dbg_coder(Rc::new(Coder));
        let h = hw.clone();
        kernel.trace().set_observer(Box::new(move |r| {
            if let Some((chiplet, e)) = DbgEvent::of_record(r) {
                h.show_event(chiplet, e.code());
            }
        }));
        let wave_offset = hw.with_model(0, |m| m.cycles()).unwrap_or(0) - kernel.now();
        let sys = Self { kernel, mmu, hw, gru, checker, cfg, waves: RefCell::new(None), wave_offset };
        if let Some(plan) = &sys.cfg.waves {
            if let Some(dir) = plan.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let count = sys.cfg.chiplets;
            let opened = sys
                .hw
                .with_model(plan.chiplet, |m| m.open_waves(&plan.path))
                .ok_or_else(|| format!("waveform of chiplet {} but the system has {count}", plan.chiplet))?
                .map_err(|e| e.to_string())?;
            if opened {
                *sys.waves.borrow_mut() = Some(WaveSchedule::new(&plan.span));
                sys.update_waves();
            }
        }
        Ok(sys)
    }

    /// The configuration.
    pub fn config(&self) -> &SystemConfig {
        &self.cfg
    }

    /// A new address space, watched by the checker (see [`Checker::watch`]).
    pub fn create_mm(&self) -> Mm {
        let mm = self.mmu.create_mm();
        self.checker.watch(&mm);
        mm
    }

    /// Start a thread in process context.
    pub fn spawn<F, Fut>(&self, name: &str, body: F)
    where
        F: FnOnce(ProcCtx) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.kernel.spawn(name, body);
    }

    /// Run until every task finished, a check failed, or `max_cycles` passed; then run the
    /// end-of-run checks (driver errors, MMU invariants, lockstep).
    pub fn run(&self, max_cycles: u64) -> RunReport {
        let limit = self.kernel.now().saturating_add(max_cycles);
        let mut hw = self.hw.clone();
        let mut kernel_error = None;
        // Progress: kernel trace records other than scheduling (operations, notifiers, page
        // events, task exits) and hardware events (CB completions, memory accesses, dropins,
        // purges). An interrupt handler spinning on MMIO reads makes neither, nor does a task
        // polling for something that never comes.
        let trace = self.kernel.trace();
        let (mut traced, mut events) = (trace.len(), self.checker.events.borrow().len());
        let mut since = self.kernel.now();
        // Driver errors fail the run when they happen: a driver that lost a handle may go on
        // retrying forever.
        let mut errors_seen = 0;
        let mut driver_errors = |now| {
            let errors = self.gru.errors();
            for e in &errors[errors_seen..] {
                self.checker.verdict(now, Check::Kernel, Some(format!("driver error: {e}")));
            }
            errors_seen = errors.len();
        };
        while self.kernel.live_tasks() > 0 {
            if self.kernel.now() >= limit {
                kernel_error = Some(format!("timeout at cycle {}: tasks still alive", self.kernel.now()));
                break;
            }
            let now = self.kernel.now();
            let edge = self.waves.borrow().as_ref().and_then(|w| w.next_edge(now));
            self.kernel.run_until(edge.unwrap_or(u64::MAX).min(now + SLICE).min(limit), &mut hw);
            self.check_lockstep();
            self.update_waves();
            let now = self.kernel.now();
            driver_errors(now);
            let work = trace.work_since(traced) + self.checker.events.borrow().len() - events;
            (traced, events) = (trace.len(), self.checker.events.borrow().len());
            if work > 0 {
                since = now;
            } else if now - since >= HANG_CYCLES {
                self.checker.verdict(now, Check::Hang, Some(self.hang_report(since)));
            }
            if !self.checker.failures.borrow().is_empty() {
                break;
            }
        }
        if self.kernel.live_tasks() == 0 {
            self.checker.verdict(self.kernel.now(), Check::Hang, None);
        }
        self.close_waves();
        self.check_lockstep();
        let now = self.kernel.now();
        driver_errors(now);
        // A run stopped early by a failure leaves operations half done: their invariants are
        // not meant to hold yet.
        let invariants = if self.kernel.live_tasks() == 0 { self.mmu.check_invariants() } else { Vec::new() };
        for e in invariants.into_iter().chain(self.mmu.bugs()) {
            self.checker.verdict(now, Check::Kernel, Some(format!("primary MMU: {e}")));
        }
        if let Some(e) = &kernel_error {
            self.checker.verdict(now, Check::Kernel, Some(e.clone()));
        }
        self.checker.verdict(now, Check::Kernel, None);
        RunReport { cycles: now, live_tasks: self.kernel.live_tasks(), kernel_error }
    }

    /// What a hung run looks like: since when, where each task is, which interrupt lines are
    /// high.
    fn hang_report(&self, since: u64) -> String {
        let lines: Vec<String> = (0..self.cfg.chiplets)
            .filter_map(|c| Some(self.hw.irq_lines(c)).filter(|&l| l != 0).map(|l| format!("chiplet {c} TFM lines {l:#06x}")))
            .collect();
        let irq = if lines.is_empty() { "no interrupt line high".to_owned() } else { format!("interrupt lines high: {}", lines.join(", ")) };
        format!(
            "no progress for {} cycles (no kernel operation, page event, CB completion or memory access since cycle {since}); {}; {irq}; driver stats: intr {}, intr_spurious {}",
            self.kernel.now() - since,
            self.kernel.task_report(),
            self.stat("intr"),
            self.stat("intr_spurious"),
        )
    }

    fn check_lockstep(&self) {
        let div = (0..self.cfg.chiplets)
            .find_map(|c| self.hw.with_model(c, |m| m.divergence()).flatten().map(|d| (c, d)));
        let now = self.kernel.now();
        let compares = self.hw.with_model(0, |m| m.compares()).unwrap_or(false);
        let already = self.checker.failures.borrow().iter().any(|f| f.check == Check::Lockstep);
        if compares && !already {
            self.checker.verdict(now, Check::Lockstep, div.map(|(c, d)| format!("chiplet {c}: {d}")));
        }
    }

    /// Pause, resume or close the dump as the clock enters or leaves its windows.
    fn update_waves(&self) {
        let now = self.kernel.now();
        loop {
            let Some(action) = self.waves.borrow_mut().as_mut().and_then(|w| w.due(now)) else {
                return;
            };
            match action {
                WaveAction::Pause => self.with_dumped(|m| m.pause_waves(true)),
                WaveAction::Resume => self.with_dumped(|m| m.pause_waves(false)),
                WaveAction::Close => self.close_waves(),
            }
        }
    }

    fn close_waves(&self) {
        if self.waves.borrow_mut().take().is_some() {
            self.with_dumped(|m| m.close_waves());
        }
    }

    fn with_dumped(&self, f: impl FnOnce(&mut M)) {
        if let Some(plan) = &self.cfg.waves {
            self.hw.with_model(plan.chiplet, f);
        }
    }

    /// The waveform time (ns) of cycle `cycle`'s rising edge, `cycle` counted as the trace
    /// counts it.
    pub fn wave_time(&self, cycle: u64) -> u64 {
        2 * (cycle + self.wave_offset) + 1
    }

    /// Model cycles the chiplets ran before kernel cycle 0 (their reset).
    pub fn wave_offset(&self) -> u64 {
        self.wave_offset
    }

    /// The semantic trace so far: kernel, MMIO, hardware and checker events merged by cycle.
    pub fn events(&self) -> Vec<SysEvent> {
        let mut v: Vec<SysEvent> = self.kernel.trace().records().iter().filter_map(SysEvent::from_kernel).collect();
        v.extend(self.hw.trace().iter().map(SysEvent::from_mmio));
        v.extend(self.checker.events.borrow().iter().cloned());
        // Stable: events of one cycle keep their source order (kernel, MMIO, hardware).
        v.sort_by_key(SysEvent::cycle);
        v
    }

    /// The TGH lines written to `chiplet`.
    pub fn tgh_writes(&self, chiplet: usize) -> Vec<Tgh> {
        written(&self.hw.trace(), chiplet, |l| match l {
            DecodedLine::Tgh(_, t) => Some(*t),
            _ => None,
        })
    }

    /// The dropins (TFH WRITE_RESTART lines) written to `chiplet`.
    pub fn dropins(&self, chiplet: usize) -> Vec<Tfh> {
        written(&self.hw.trace(), chiplet, |l| match l {
            DecodedLine::Tfh(_, t) if t.opc == TfhOpc::WriteRestart as u8 => Some(*t),
            _ => None,
        })
    }

    /// A driver statistic by its Linux name (0 for an unknown name).
    pub fn stat(&self, name: &str) -> u64 {
        self.gru.stats().by_name(name).unwrap_or(0)
    }
}

fn written<T>(trace: &[MmioEvent], chiplet: usize, pick: impl Fn(&DecodedLine) -> Option<T>) -> Vec<T> {
    trace.iter().filter(|e| e.chiplet == chiplet && e.req.write && !e.err).filter_map(|e| pick(&e.line)).collect()
}

/// The checker's watch on one mm's notifier chain (weak: the chain must not keep the
/// checker alive).
struct Watch(Weak<Checker>);

impl ChainWatcher for Watch {
    fn range_started(&self, mm: MmId, range: &Range) {
        if let Some(c) = self.0.upgrade() {
            c.scan("invalidate_range_start", mm, range.start, range.end);
            c.open.borrow_mut().push((mm, range.start, range.end));
        }
    }

    fn range_ending(&self, mm: MmId, range: &Range) {
        if let Some(c) = self.0.upgrade() {
            let mut open = c.open.borrow_mut();
            if let Some(i) = open.iter().position(|&o| o == (mm, range.start, range.end)) {
                open.remove(i);
            }
        }
    }

    fn page_invalidated(&self, mm: MmId, addr: u64) {
        if let Some(c) = self.0.upgrade() {
            let page = addr >> PAGE_SHIFT << PAGE_SHIFT;
            c.scan("invalidate_page", mm, page, page + (1 << PAGE_SHIFT));
        }
    }

    fn pte_changed(&self, mm: MmId, addr: u64) {
        if let Some(c) = self.0.upgrade() {
            let page = addr >> PAGE_SHIFT << PAGE_SHIFT;
            c.scan("change_pte", mm, page, page + (1 << PAGE_SHIFT));
        }
    }

    /// The GRU does not flush at release (Linux's `gru_release` only marks the mm): its
    /// threads are gone and the contexts are unloaded when the file closes. Later callbacks
    /// reach no notifier, so the contract no longer applies to the mm.
    fn released(&self, mm: MmId) {
        if let Some(c) = self.0.upgrade() {
            c.released.borrow_mut().insert(mm);
        }
    }
}

//! The whole machine: N chiplets of one cycle model behind [`GruHw`], the kernel model with its
//! CPUs and primary MMU, the GRU driver, and the checkers, run by one event loop.
//!
//! The kernel's executor is the event loop: each cycle it ticks the chiplets (which serve their
//! memory ports from the kernel's physical memory), samples their interrupt lines and runs the
//! software on every CPU. [`System::run`] drives it in slices so that a failed check stops the run
//! near the cycle it happened, and stops exactly where the waveform's windows begin and end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::rc::Rc;

use gru_driver::gru::handles::{Tfh, TfhOpc, Tgh, PAGE_SHIFTS};
use gru_driver::gru::hw::{DecodedLine, MmioEvent, DEFAULT_MMIO_LATENCY};
use gru_driver::gru::{FlushDone, Gru, GruConfig, GruHardware};
use gru_driver::kernel::{Kernel, KernelConfig, ProcCtx};
use gru_driver::mm::{Mm, MmId, Mmu, MmuConfig, PAGE_SHIFT, ZERO_PFN};
use gru_driver::notifier::{Era, Recorder};
use gru_sim::gru_hw::{GruHw, HwEvent};
use gru_sim::lockstep::Lockstep;
use gru_sim::model::RefModel;
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, RtlError};

use crate::trace::SysEvent;
use crate::waves::event::{Coder, DbgEvent};
use crate::waves::{WaveAction, WavePlan, WaveSchedule};

/// Cycles simulated between two looks at the checkers.
const SLICE: u64 = 2_000;

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
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Lockstep => "lockstep",
            Check::DataOracle => "data oracle",
            Check::FrameLife => "frame life",
            Check::Contract => "shootdown contract",
            Check::Kernel => "kernel/driver",
        })
    }
}

/// All checks of a run: their failures, how often each ran, and the semantic trace.
pub struct Checker {
    seed: u64,
    replay: String,
    mmu: Mmu,
    failures: RefCell<Vec<Failure>>,
    counts: RefCell<HashMap<Check, u64>>,
    events: RefCell<Vec<SysEvent>>,
    /// Generation of each frame when chiplet c last dropped it in: (chiplet, pfn) → generation.
    dropped: RefCell<HashMap<(usize, u64), u64>>,
}

impl Checker {
    fn new(seed: u64, replay: String, mmu: Mmu) -> Self {
        Self {
            seed,
            replay,
            mmu,
            failures: RefCell::default(),
            counts: RefCell::default(),
            events: RefCell::default(),
            dropped: RefCell::default(),
        }
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
        let bad = (value != now && value != before)
            .then(|| format!("chip load {mm} {va:#x}: expected {now:#x}, loaded {value:#x}"));
        self.verdict(cycle, Check::DataOracle, bad);
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
                        Some(&g) if Some(g) != gen => Some(format!(
                            "chiplet {chiplet} {} paddr {paddr:#x}: frame freed since its dropin (generation {g} -> {gen:?})",
                            rw(write)
                        )),
                        Some(_) => None,
                    }
                };
                self.verdict(cycle, Check::FrameLife, bad);
                self.log(SysEvent::Mem { cycle, chiplet, paddr, write, value });
            }
            HwEvent::Completion { cycle, chiplet, cbr, status, cause, rdata } => {
                self.log(SysEvent::CbDone { cycle, chiplet, cbr, status, cause, rdata });
            }
            HwEvent::Dropin { cycle, chiplet, cbr, tfh, installed } => {
                if installed {
                    let pages = 1u64 << PAGE_SHIFTS[usize::from(tfh.pagesize.min(8))];
                    let mut d = self.dropped.borrow_mut();
                    self.mmu.with_phys(|p| {
                        for pfn in tfh.pfn..tfh.pfn + pages {
                            if let Some(g) = p.generation(pfn) {
                                d.insert((chiplet, pfn), g);
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
        let checker = Rc::new(Checker::new(cfg.seed, cfg.replay.clone(), mmu.clone()));
        let c = checker.clone();
        hw.set_observer(Box::new(move |e| c.hw_event(e)));
        let (c, h, k) = (checker.clone(), hw.clone(), kernel.clone());
        gru.set_flush_hook(Rc::new(move |f| contract(&c, &h, k.now(), f)));
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

    /// A new address space whose notifier calls go to the semantic trace.
    pub fn create_mm(&self) -> Mm {
        let mm = self.mmu.create_mm();
        record_notifiers(&self.kernel, &mm);
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
            if !self.checker.failures.borrow().is_empty() {
                break;
            }
        }
        self.close_waves();
        self.check_lockstep();
        let now = self.kernel.now();
        for e in self.gru.errors() {
            self.checker.verdict(now, Check::Kernel, Some(format!("driver error: {e}")));
        }
        for e in self.mmu.check_invariants().into_iter().chain(self.mmu.bugs()) {
            self.checker.verdict(now, Check::Kernel, Some(format!("primary MMU: {e}")));
        }
        if let Some(e) = &kernel_error {
            self.checker.verdict(now, Check::Kernel, Some(e.clone()));
        }
        self.checker.verdict(now, Check::Kernel, None);
        RunReport { cycles: now, live_tasks: self.kernel.live_tasks(), kernel_error }
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

/// Register a notifier on `mm` that logs its callbacks into the kernel trace.
pub fn record_notifiers(kernel: &Kernel, mm: &Mm) {
    mm.notifiers().register(Recorder::new("mmu", kernel.trace().clone()));
}

fn written<T>(trace: &[MmioEvent], chiplet: usize, pick: impl Fn(&DecodedLine) -> Option<T>) -> Vec<T> {
    trace.iter().filter(|e| e.chiplet == chiplet && e.req.write && !e.err).filter_map(|e| pick(&e.line)).collect()
}

/// The shootdown contract, checked when a TGH of a flush has completed: no valid entry of the
/// flushed ASID, in a context the TGH covered, overlaps the range. A dropin cannot land until
/// the range ends (range_active and the race guard), so any such entry is a missed purge.
fn contract<M: SystemModel>(c: &Checker, hw: &GruHw<M>, cycle: u64, f: &FlushDone) {
    let (first, last) = (f.start >> PAGE_SHIFT, (f.end.max(f.start + 1) - 1) >> PAGE_SHIFT);
    let left: Vec<_> = hw
        .tlb_entries(f.chiplet)
        .into_iter()
        .filter(|e| e.asid == f.asid && f.ctxbitmap >> e.ctx & 1 != 0)
        .filter(|e| e.vpn <= last && first < e.vpn + (1 << e.shift()))
        .collect();
    let bad = (!left.is_empty()).then(|| {
        format!(
            "{} [{:#x}, {:#x}) flushed on chiplet {} (asid {:#x}), entries left: {left:x?}",
            f.mm, f.start, f.end, f.chiplet, f.asid
        )
    });
    c.verdict(cycle, Check::Contract, bad);
}

//! The whole machine: N chiplets of one cycle model behind [`GruHw`], the kernel model with its
//! CPUs and primary MMU, the GRU driver, and the checkers, run by one event loop.
//!
//! The kernel's executor is the event loop: each cycle it ticks the chiplets (which serve their
//! memory ports from the kernel's physical memory), samples their interrupt lines and runs the
//! software on every CPU. [`System::run`] drives it in slices so that a failed check stops the run
//! near the cycle it happened, and stops exactly where the waveform's windows begin and end.

mod model;

pub use model::{HwKind, SystemModel};

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use gru_driver::gru::handles::{Tfh, TfhOpc, Tgh};
use gru_driver::gru::hw::{DecodedLine, MmioEvent, DEFAULT_MMIO_LATENCY};
use gru_driver::gru::{Gru, GruConfig, GruHardware, MAX_CHIPLETS};
use gru_driver::kernel::{Kernel, KernelConfig, ProcCtx};
use gru_driver::mm::{Mm, Mmu, MmuConfig};
use gru_driver::notifier::Era;

use crate::check::{Check, ChipReaders, Checker};
use crate::platform::GruHw;
use crate::trace::SysEvent;
use crate::waves::event::{Coder, DbgEvent};
use crate::waves::plan::{WaveAction, WavePlan, WaveSchedule};

/// Cycles simulated between two looks at the checkers.
const SLICE: u64 = 2_000;

/// The watchdog: a run with live tasks whose kernel work (trace records other than scheduling)
/// and hardware events stand still this long has hung (an interrupt storm, a lost wakeup, a
/// task polling forever). Five times the driver's handle timeout, so that the driver reports a
/// stuck handle first.
pub const HANG_CYCLES: u64 = 1_000_000;
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
    /// Check the chip monitors on every chiplet (`gru_sim::monitor`).
    pub chip_monitors: bool,
    /// Skip the cycles in which a chiplet can change nothing, and fast-forward while every
    /// chiplet is quiescent ([`GruHw::set_skip`]); the run is the same either way.
    pub skip: bool,
    /// Round trip of an MMIO request across the interconnect, in cycles (half each way).
    pub mmio_latency: u64,
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
            chip_monitors: true,
            skip: true,
            mmio_latency: DEFAULT_MMIO_LATENCY,
        }
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
        if !(1..=MAX_CHIPLETS).contains(&cfg.chiplets) {
            return Err(format!("chiplets = {}: a system has 1 to {MAX_CHIPLETS} chiplets", cfg.chiplets));
        }
        let kernel = Kernel::new(KernelConfig { num_cpus: cfg.cpus, seed: cfg.seed, ..KernelConfig::default() });
        let mmu = Mmu::new(&kernel, MmuConfig { era: cfg.era, ..MmuConfig::default() });
        let hw = GruHw::new((0..cfg.chiplets.max(1)).map(|_| make()).collect(), &mmu, cfg.mmio_latency, cfg.seed);
        if cfg.chip_monitors {
            hw.enable_monitors();
        }
        hw.set_skip(cfg.skip);
        let gru = Gru::new(&kernel, Rc::new(hw.clone()) as Rc<dyn GruHardware>, cfg.gru);
        let (h, h2) = (hw.clone(), hw.clone());
        let chips = ChipReaders { tlb: Box::new(move |c| h.tlb_entries(c)), cch: Box::new(move |c| h2.cch_state(c)) };
        let checker = Rc::new(Checker::new(cfg.seed, cfg.replay.clone(), cfg.chiplets, mmu.clone(), chips));
        // The hardware and physical memory hold the checker weakly: it holds them.
        let c = Rc::downgrade(&checker);
        gru.set_protocol_observer(Box::new(move |cycle, e| {
            if let Some(c) = c.upgrade() {
                c.protocol_event(cycle, e);
            }
        }));
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
        let (mut traced, mut events) = (trace.len(), self.checker.event_count());
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
            self.checker.check_progress(now);
            let work = trace.work_since(traced) + self.checker.event_count() - events;
            (traced, events) = (trace.len(), self.checker.event_count());
            if work > 0 {
                since = now;
            } else if now - since >= HANG_CYCLES {
                self.checker.verdict(now, Check::Hang, Some(self.hang_report(since)));
            }
            if self.checker.has_failed() {
                break;
            }
        }
        if self.kernel.live_tasks() == 0 {
            self.checker.verdict(self.kernel.now(), Check::Hang, None);
        }
        self.close_waves();
        self.check_lockstep();
        let now = self.kernel.now();
        self.checker.ran(Check::ChipMonitor, self.hw.monitor_evaluations());
        driver_errors(now);
        // A run stopped early by a failure leaves operations half done: their invariants are
        // not meant to hold yet.
        let invariants = if self.kernel.live_tasks() == 0 { self.mmu.check_invariants() } else { Vec::new() };
        if self.kernel.live_tasks() == 0 && !self.checker.has_failed() {
            self.checker.protocol_heard(now);
        }
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
        let already = self.checker.has_failed_check(Check::Lockstep);
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
        v.extend(self.checker.logged());
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


//! The checks of a run and their verdicts: which check failed, at which cycle, and why.
//!
//! Each check lives in its own module (`contract`, `frame_life`, `store`, `progress`); `history`
//! keeps what failure reports tell of a frame or a page. Verdicts come from ground truth: the
//! chips' state, the primary MMU's page tables and frames, and the thread that issued an access.

mod contract;
mod driver_monitor;
mod frame_life;
mod history;
mod ownership;
mod progress;
mod store;

pub use progress::{MAX_REFAULTS, PROGRESS_CYCLES};

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::rc::Rc;

use gru_driver::gru::handles::{Cch, Tgh};
use gru_driver::kernel::TaskId;
use gru_driver::mm::frame::PhysEvent;
use gru_driver::mm::{Mm, MmId, Mmu, PAGE_SHIFT};
use gru_driver::notifier::Recorder;
use gru_driver::oracle::OracleMismatch;
use gru_sim::model::TlbEntry;

use crate::platform::HwEvent;
use crate::trace::SysEvent;

use self::contract::Watch;
use self::frame_life::DroppedFrame;

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
    /// Tasks are live but nothing happened for `HANG_CYCLES` (the watchdog).
    Hang,
    /// Every CB completes within a bounded number of faults and cycles.
    Progress,
    /// A scenario step gave what its `expect` says (without one: it succeeded).
    Expect,
    /// Chip accesses belong to the address space of the thread that issued them: no two
    /// address spaces issue under one ASID of a chiplet between full purges, and every
    /// completion is of a CB some thread issued.
    Ownership,
    /// Every context loaded on a chip under an ASID of an mm is covered by each flush of that
    /// mm (a TGH naming its slot, its ASID and the range), whether or not it holds entries.
    FlushCover,
    /// The driver keeps its own protocol: TFH read before the `range_active` test, tracker bit
    /// kept until INTERRUPT_SYNC is done, no ASID held by two address spaces on a chiplet.
    DriverProtocol,
    /// The chip's own contract, layer by layer (`gru_sim::monitor`): race-guard stale marks,
    /// purge completeness, fault bits across a read, one match per lookup.
    ChipMonitor,
}

impl Check {
    /// Every checker, in the order of the summary.
    pub const ALL: [Check; 12] = [
        Check::Lockstep,
        Check::DataOracle,
        Check::FrameLife,
        Check::Contract,
        Check::Kernel,
        Check::Hang,
        Check::Progress,
        Check::Expect,
        Check::Ownership,
        Check::FlushCover,
        Check::DriverProtocol,
        Check::ChipMonitor,
    ];

    /// The checker by the name a verdict prints (`data oracle`, `frame life`, ...).
    pub fn by_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.to_string() == name)
    }
}

/// Whether a run with `failures` passes: with no expected verdict, when nothing failed; with
/// one (a scenario's `expect_verdict`), when that check failed.
pub fn passes(expected: Option<Check>, failures: &[Failure]) -> bool {
    match expected {
        None => failures.is_empty(),
        Some(c) => failures.iter().any(|f| f.check == c),
    }
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
            Check::Progress => "forward progress",
            Check::Expect => "scenario expectation",
            Check::Ownership => "ownership",
            Check::FlushCover => "flush cover",
            Check::DriverProtocol => "driver protocol",
            Check::ChipMonitor => "chip monitor",
        })
    }
}

/// Reads the valid entries of a chiplet's TLB (its state, or its debug port).
pub type TlbReader = Box<dyn Fn(usize) -> Vec<TlbEntry>>;

/// Reads the context configuration handles of a chiplet from its state.
pub type CchReader = Box<dyn Fn(usize) -> Vec<Cch>>;

/// How a run's checks read the chips: ground truth, never the driver's view.
pub struct ChipReaders {
    /// The valid TLB entries.
    pub tlb: TlbReader,
    /// The CCHs.
    pub cch: CchReader,
}

/// All checks of a run: their failures, how often each ran, and the semantic trace.
pub struct Checker {
    seed: u64,
    replay: String,
    mmu: Mmu,
    chiplets: usize,
    tlb: TlbReader,
    cch: CchReader,
    /// Threads, ASIDs and context loads as the chips and the run show them.
    owners: RefCell<ownership::Ownership>,
    /// Every TGH started: (cycle, chiplet, line), for the flushes that asked for them.
    purges: RefCell<Vec<(u64, usize, Tgh)>>,
    /// Invalidations under way: (invalidating task, mm, start, end) → (index into `purges`,
    /// cycle) at their start.
    flushing: RefCell<HashMap<(Option<TaskId>, MmId, u64, u64), (usize, u64)>>,
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
    released: RefCell<HashSet<MmId>>,
    /// The last events of each frame (allocation, dropins, free), for failure reports.
    frames: RefCell<HashMap<u64, VecDeque<String>>>,
    /// The frames dropped in for each virtual page (any address space), for failure reports.
    pages: RefCell<HashMap<u64, VecDeque<String>>>,
    /// CBs issued and not finally completed.
    in_flight: RefCell<progress::InFlight>,
    /// Race windows the checks saw the run enter, by cover point (for coverage).
    windows: RefCell<BTreeMap<&'static str, u64>>,
    /// The driver protocol monitor's memory.
    protocol: RefCell<driver_monitor::Protocol>,
}

impl Checker {
    /// The checks of a run of `seed` (replayed by `replay`) over `chiplets` chiplets, reading
    /// their state with `chips`.
    pub fn new(seed: u64, replay: String, chiplets: usize, mmu: Mmu, chips: ChipReaders) -> Self {
        Self {
            seed,
            replay,
            mmu,
            chiplets: chiplets.max(1),
            tlb: chips.tlb,
            cch: chips.cch,
            owners: RefCell::default(),
            purges: RefCell::default(),
            flushing: RefCell::default(),
            failures: RefCell::default(),
            counts: RefCell::default(),
            events: RefCell::default(),
            dropped: RefCell::default(),
            open: RefCell::default(),
            released: RefCell::default(),
            frames: RefCell::default(),
            pages: RefCell::default(),
            in_flight: RefCell::default(),
            windows: RefCell::default(),
            protocol: RefCell::default(),
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

    /// Record that `check` ran `n` more times without failing (checks evaluated elsewhere,
    /// such as the chip monitors).
    pub fn ran(&self, check: Check, n: u64) {
        if n > 0 {
            *self.counts.borrow_mut().entry(check).or_default() += n;
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

    /// How often the run entered the race window of cover point `id`, as the checks saw it.
    pub fn window_hits(&self, id: &str) -> u64 {
        self.windows.borrow().get(id).copied().unwrap_or(0)
    }

    fn saw(&self, id: &'static str) {
        *self.windows.borrow_mut().entry(id).or_default() += 1;
    }

    /// Whether a check failed.
    pub fn has_failed(&self) -> bool {
        !self.failures.borrow().is_empty()
    }

    /// Whether `check` failed.
    pub fn has_failed_check(&self, check: Check) -> bool {
        self.failures.borrow().iter().any(|f| f.check == check)
    }

    /// Events logged so far (the watchdog's measure of hardware progress).
    pub fn event_count(&self) -> usize {
        self.events.borrow().len()
    }

    /// The events the checks logged (hardware events and failed verdicts).
    pub fn logged(&self) -> Vec<SysEvent> {
        self.events.borrow().clone()
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

    /// A chip store of `value` to `paddr`: the data oracle learns the new value of every
    /// mapping of the frame, those awaiting their `invalidate_page` included (classic-unlocked
    /// era: the reverse-map entry is gone, the device's translation is not).
    fn chip_store(&self, paddr: u64, value: u64) {
        let mappings = self.mmu.with_phys(|p| {
            let pfn = paddr >> PAGE_SHIFT;
            let mut m = p.mappings(pfn).to_vec();
            m.extend(p.pending_mappings(pfn));
            m
        });
        let offset = paddr & ((1 << PAGE_SHIFT) - 1) & !7;
        self.mmu.with_oracle(|o| {
            for m in mappings {
                o.store(m.mm, m.va + offset, value);
            }
        });
    }

    /// A CPU load returned the wrong value (the primary MMU's own oracle check).
    pub fn cpu_mismatch(&self, m: &OracleMismatch) {
        let detail = format!("CPU {m}; {}", self.story(m.mm, m.addr));
        self.verdict(m.cycle, Check::DataOracle, Some(detail));
    }

    /// A frame was allocated or freed.
    pub fn phys_event(&self, e: PhysEvent) {
        let cycle = self.now();
        match e {
            PhysEvent::Alloc { pfn, generation } => Self::remember(&self.frames, pfn, format!("cycle {cycle} allocated (generation {generation})")),
            PhysEvent::Free { pfn, .. } => Self::remember(&self.frames, pfn, format!("cycle {cycle} freed")),
        }
    }

    /// What the oracle expects at `va` of `mm` now.
    pub fn expected(&self, mm: MmId, va: u64) -> u64 {
        self.mmu.with_oracle(|o| o.expected(mm, va))
    }

    /// The chips did something: check it and log it.
    pub fn hw_event(&self, e: &HwEvent) {
        match *e {
            HwEvent::Mem { cycle, chiplet, paddr, write, value } => {
                self.mem_access(cycle, chiplet, paddr, write);
                if write {
                    self.chip_store(paddr, value);
                }
                self.log(SysEvent::Mem { cycle, chiplet, paddr, write, value });
            }
            HwEvent::Dropin { cycle, chiplet, cbr, tfh, installed } => {
                if installed {
                    self.installed(cycle, chiplet, &tfh);
                    self.dropped_in(cycle, chiplet, cbr, &tfh);
                }
                self.cb_dropin(chiplet, cbr, &tfh, installed);
                self.log(SysEvent::dropin(cycle, chiplet, cbr, &tfh, installed));
            }
            HwEvent::Issue { cycle, chiplet, cbr, vaddr, write } => {
                let mm = self.issuer();
                if let Some(mm) = mm {
                    self.attribute(cycle, chiplet, cbr, mm);
                }
                self.cb_issued(cycle, chiplet, cbr, vaddr, write, mm);
            }
            HwEvent::Completion { cycle, chiplet, cbr, status, cause, rdata } => {
                self.cb_completed(cycle, chiplet, cbr, status, cause);
                self.log(SysEvent::CbDone { cycle, chiplet, cbr, status, cause, rdata });
            }
            HwEvent::Purge { cycle, chiplet, tgh, line, hits } => {
                self.purge_started(chiplet, &line);
                self.purges.borrow_mut().push((cycle, chiplet, line));
                self.log(SysEvent::purge(cycle, chiplet, tgh, &line, (hits.entries, hits.dirty, hits.zero)));
            }
            HwEvent::Cch { cycle, chiplet, ctx, opc, asid } => self.cch_command(cycle, chiplet, ctx, opc, asid),
            HwEvent::Monitor { cycle, chiplet, ref violation } => {
                let detail = format!("chiplet {chiplet} [{}]: {}", violation.monitor, violation.detail);
                self.verdict(cycle, Check::ChipMonitor, Some(detail));
            }
        }
    }
}

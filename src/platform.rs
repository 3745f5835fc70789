//! The driver's view of the hardware ([`GruHardware`]) over N chiplets of any cycle model, and
//! the kernel's cycle hook ([`Hardware`]): one chiplet cycle per kernel cycle.
//!
//! MMIO crosses an interconnect of `mmio_latency` cycles round trip: a request reaches its
//! chiplet half of it after submission, and the response is visible to the driver the other
//! half after the chiplet answered. Each chiplet takes one MMIO request per cycle. The memory
//! port is served from the kernel model's physical memory, so a chip access hits real frames;
//! the observer ([`GruHw::set_observer`]) sees every access before it lands. Every
//! MMIO transaction is logged, decoded, with its cycle ([`MmioEvent`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use gru_driver::gru::hw::{
    CbCompletion, CbRequest, DecodedLine, GruHardware, HwError, MmioEvent, MmioRequest, MmioResponse, MmioTicket,
};
use gru_driver::gru::irq_line;
use gru_driver::kernel::{Hardware, IrqLevels};
use gru_driver::mm::{Mmu, ZERO_PFN};

use gru_sim::chiplet::{self, Chiplet, MemoryServer};
use gru_driver::gru::handles::{ctx_of_cbr, Cch, PurgeMatch, Stats, Tfh, TfhOpc, Tgh, CBR_PER_CTX};
use gru_sim::model::TlbEntry;
use gru_sim::monitor::Violation;
use gru_sim::ports::{ChipState, CycleModel, EvalCount};

/// What the chiplets did beyond MMIO, reported to the observer as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HwEvent {
    /// A memory-port access (the value read or written).
    Mem { cycle: u64, chiplet: usize, paddr: u64, write: bool, value: u64 },
    /// A CB request was issued on the CB port.
    Issue { cycle: u64, chiplet: usize, cbr: u8, vaddr: u64, write: bool },
    /// A CB completed on the CB port.
    Completion { cycle: u64, chiplet: usize, cbr: u8, status: u8, cause: u8, rdata: u64 },
    /// A WRITE_RESTART or WRITE_ONLY was taken; `installed` is false when the chip discarded it
    /// (stale TFH or refused page size), as the TLB shows right after the write.
    Dropin { cycle: u64, chiplet: usize, cbr: usize, tfh: Tfh, installed: bool },
    /// A TGH invalidate was started, and the valid entries it matched then.
    Purge { cycle: u64, chiplet: usize, tgh: usize, line: Tgh, hits: PurgeHits },
    /// A CCH command was written (`opc`, as `CchOpc`); `asid` is the region-0 ASID the write
    /// gave the context (the chip latches the fields at every write).
    Cch { cycle: u64, chiplet: usize, ctx: usize, opc: u8, asid: u32 },
    /// A chip monitor's first violation on `chiplet` (at the edge of kernel cycle `cycle`).
    Monitor { cycle: u64, chiplet: usize, violation: Violation },
}

/// The valid entries a TGH invalidate matched when it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeHits {
    /// Entries matched.
    pub entries: usize,
    /// Of them, writable (dirty) entries: the chip may have written the page.
    pub dirty: usize,
    /// Of them, entries of the shared zero page.
    pub zero: usize,
}

/// Observer of [`HwEvent`]s, called synchronously from the cycle loop.
pub type HwObserver = Box<dyn FnMut(&HwEvent)>;

/// Chooses the code `dbg_event_i` shows for what a chiplet just did. The chip only registers
/// the port for waveforms, so a coder annotates a run without changing it.
pub trait DbgCoder {
    /// The code for an MMIO transaction a chiplet took, if it is worth showing.
    fn mmio(&self, e: &MmioEvent) -> Option<u64>;
    /// The code for a CB completion on `chiplet`, if it is worth showing.
    fn completion(&self, chiplet: usize, c: &CbCompletion) -> Option<u64>;
}

/// Software event codes waiting for the next cycle: (chiplet, or every chiplet; code). Kept
/// outside `Inner` so that software can post them while the cycle loop holds the chiplets.
type PendingEvents = RefCell<Vec<(Option<usize>, u64)>>;

/// The observer shared by the chiplets' memory ports and the cycle loop.
#[derive(Clone, Default)]
struct Observer {
    f: Rc<RefCell<Option<HwObserver>>>,
    cycle: Rc<Cell<u64>>,
}

impl Observer {
    fn emit(&self, e: HwEvent) {
        if let Some(f) = self.f.borrow_mut().as_mut() {
            f(&e);
        }
    }
}

/// The memory port of a chiplet, served from the kernel model's physical memory.
struct PhysPort {
    mmu: Mmu,
    chiplet: usize,
    observer: Observer,
}

impl MemoryServer for PhysPort {
    fn access(&mut self, _cycle: u64, paddr: u64, write: bool, wdata: u64) -> u64 {
        let ev = |value| HwEvent::Mem { cycle: self.observer.cycle.get(), chiplet: self.chiplet, paddr, write, value };
        if !write {
            // An address beyond memory reads 0, like an unbacked bus read.
            let v = self.mmu.with_phys(|p| p.read_u64(paddr).unwrap_or(0));
            self.observer.emit(ev(v));
            return v;
        }
        // The observer (the checks) tells the data oracle; a write beyond memory is dropped.
        self.observer.emit(ev(wdata));
        let _ = self.mmu.with_phys(|p| p.write_u64(paddr, wdata));
        0
    }
}

/// The purge-tail seed of chiplet `chiplet` in a run of seed `seed` (docs/MICROARCH.md §7): a
/// SplitMix64 finaliser of both, so that every chiplet of a run, and every run, draws its own
/// tails, and the run's seed alone reproduces them.
pub fn purge_seed(seed: u64, chiplet: usize) -> u16 {
    let mut z = seed.wrapping_add((chiplet as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u16
}

struct Inner<M: CycleModel> {
    chips: Vec<Chiplet<M>>,
    to_chip: u64,
    from_chip: u64,
    cycle: u64,
    next_ticket: u64,
    /// Requests on their way, per chiplet: (due cycle, ticket, request).
    outbound: Vec<VecDeque<(u64, MmioTicket, MmioRequest)>>,
    /// Responses on their way back: ticket → (visible from cycle, response).
    inbound: BTreeMap<MmioTicket, (u64, MmioResponse)>,
    completions: Vec<VecDeque<CbCompletion>>,
    trace: Vec<MmioEvent>,
    observer: Observer,
    coder: Option<Rc<dyn DbgCoder>>,
    /// Read TLBs through the debug port, 256 evaluated reads each, as before the state
    /// snapshot existed (benchmark baseline only).
    debug_port_reads: bool,
    /// Chiplets whose monitor violation was reported (only the first one is).
    monitor_reported: Vec<bool>,
    /// The last cycle ticked: the kernel skips ticks only while every chiplet is quiescent,
    /// and the next tick applies the cycles between as idle ones.
    last_tick: Option<u64>,
}

/// N chiplets as the driver and the kernel see them; cheap to clone (a shared handle).
pub struct GruHw<M: CycleModel>(Rc<RefCell<Inner<M>>>, Rc<PendingEvents>);

impl<M: CycleModel> Clone for GruHw<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), self.1.clone())
    }
}

impl<M: CycleModel> GruHw<M> {
    /// Chiplets over `models`, their memory ports served from `mmu`'s physical memory, MMIO
    /// round trips of `mmio_latency` cycles, each reset with its purge seed derived from the
    /// run's `seed` ([`purge_seed`]).
    pub fn new(models: Vec<M>, mmu: &Mmu, mmio_latency: u64, seed: u64) -> Self {
        let n = models.len();
        let observer = Observer::default();
        let chips = models
            .into_iter()
            .enumerate()
            .map(|(chiplet, m)| {
                let port = Box::new(PhysPort { mmu: mmu.clone(), chiplet, observer: observer.clone() });
                Chiplet::with_purge_seed(m, port, purge_seed(seed, chiplet))
            })
            .collect();
        Self(Rc::new(RefCell::new(Inner {
            chips,
            to_chip: mmio_latency / 2,
            from_chip: mmio_latency - mmio_latency / 2,
            cycle: 0,
            next_ticket: 0,
            outbound: vec![VecDeque::new(); n],
            inbound: BTreeMap::new(),
            completions: vec![VecDeque::new(); n],
            trace: Vec::new(),
            observer,
            coder: None,
            debug_port_reads: false,
            monitor_reported: vec![false; n],
            last_tick: None,
        })), Rc::default())
    }

    /// Check the chip monitors of every chiplet from now on (call it right after
    /// [`GruHw::new`], on chips just out of reset); a violation reaches the observer as
    /// [`HwEvent::Monitor`].
    pub fn enable_monitors(&self) {
        for chip in &mut self.0.borrow_mut().chips {
            chip.enable_monitor();
        }
    }

    /// Skip the cycles in which a chiplet can change nothing (on by default; docs/MICROARCH.md
    /// §12): each chiplet applies them without evaluating, and while every chiplet is
    /// quiescent with no MMIO request on its way the kernel jumps to its next event. Off
    /// (`--no-skip`), every chiplet is evaluated every cycle. A run is the same either way.
    pub fn set_skip(&self, on: bool) {
        for chip in &mut self.0.borrow_mut().chips {
            chip.set_skip(on);
        }
    }

    /// Chiplet cycles applied without an evaluation so far, over every chiplet.
    pub fn skipped_cycles(&self) -> u64 {
        self.0.borrow().chips.iter().map(|c| c.skipped()).sum()
    }

    /// Chip-monitor evaluations over every chiplet so far.
    pub fn monitor_evaluations(&self) -> u64 {
        self.0.borrow().chips.iter().filter_map(|c| c.monitor()).map(|m| m.evaluations()).sum()
    }

    /// Show on `dbg_event_i` what `coder` makes of each MMIO transaction and CB completion,
    /// from the cycle after it.
    pub fn set_dbg_coder(&self, coder: Rc<dyn DbgCoder>) {
        self.0.borrow_mut().coder = Some(coder);
    }

    /// Show `code` on `dbg_event_i` of `chiplet` (every chiplet if none) from the next cycle
    /// on, until another event replaces it. Callable at any time, even from inside the cycle
    /// loop: the code waits for the next cycle.
    pub fn show_event(&self, chiplet: Option<usize>, code: u64) {
        self.1.borrow_mut().push((chiplet, code));
    }

    /// Report every [`HwEvent`] to `f` from now on (replacing any previous observer).
    pub fn set_observer(&self, f: HwObserver) {
        let obs = self.0.borrow().observer.clone();
        *obs.f.borrow_mut() = Some(f);
    }

    /// Run `f` on the cycle model of `chiplet` (for lockstep reports and waveform control).
    pub fn with_model<R>(&self, chiplet: usize, f: impl FnOnce(&mut M) -> R) -> Option<R> {
        let mut inner = self.0.borrow_mut();
        inner.chips.get_mut(chiplet).map(|c| f(c.model_mut()))
    }

    /// Every MMIO transaction so far, in the order the chiplets took them.
    pub fn trace(&self) -> Vec<MmioEvent> {
        self.0.borrow().trace.clone()
    }

    /// MMIO writes taken by `chiplet` so far.
    pub fn mmio_writes(&self, chiplet: usize) -> usize {
        self.0.borrow().trace.iter().filter(|e| e.chiplet == chiplet && e.req.write).count()
    }

    /// The valid TLB entries of `chiplet`, read from its state (no clock edge, no evaluation).
    pub fn tlb_entries(&self, chiplet: usize) -> Vec<TlbEntry> {
        let mut inner = self.0.borrow_mut();
        if chiplet >= inner.chips.len() {
            return Vec::new();
        }
        inner.tlb(chiplet).into_iter().filter(|e| e.valid).collect()
    }

    /// Benchmark baseline: read every TLB (checks, purge and dropin probes) through the
    /// debug port, one evaluated read per index 0..=255, as before the state snapshot. The
    /// run is the same; only slower.
    pub fn read_tlb_through_debug_port(&self, on: bool) {
        self.0.borrow_mut().debug_port_reads = on;
    }

    /// The chiplet's statistics counters, read from its state: at any cycle, without a clock
    /// edge or an evaluation.
    pub fn chip_stats(&self, chiplet: usize) -> Option<Stats> {
        self.chip_state(chiplet).map(|s| s.stats)
    }

    /// The whole state of `chiplet` now (handles, TLB, counters), read without a clock edge
    /// or an evaluation: the ground truth the checks read.
    pub fn chip_state(&self, chiplet: usize) -> Option<ChipState> {
        let mut inner = self.0.borrow_mut();
        inner.chips.get_mut(chiplet).map(|c| c.chip_state())
    }

    /// The context configuration handles of `chiplet` now, from its state (no evaluation).
    pub fn cch_state(&self, chiplet: usize) -> Vec<Cch> {
        self.chip_state(chiplet).map(|s| s.cch).unwrap_or_default()
    }

    /// Verilator evaluations of every chiplet so far (zero on the reference model).
    pub fn evals(&self) -> EvalCount {
        let inner = self.0.borrow();
        inner.chips.iter().fold(EvalCount::default(), |acc, c| {
            let e = c.model().evals();
            EvalCount { clock: acc.clock + e.clock, debug: acc.debug + e.debug }
        })
    }

    fn check(inner: &Inner<M>, chiplet: usize) -> Result<(), HwError> {
        if chiplet < inner.chips.len() {
            Ok(())
        } else {
            Err(HwError::NoSuchChiplet { chiplet, count: inner.chips.len() })
        }
    }
}

impl<M: CycleModel> Inner<M> {
    /// One cycle of chiplet `c`: the due MMIO request if any (the blocking access takes
    /// exactly one edge), else a plain step.
    fn step_chip(&mut self, c: usize, now: u64) {
        let due = self.outbound[c].front().is_some_and(|&(d, _, _)| d <= now);
        let Some((_, ticket, req)) = due.then(|| self.outbound[c].pop_front()).flatten() else {
            self.chips[c].step();
            return;
        };
        let chip = &mut self.chips[c];
        let result = if req.write {
            chip.mmio_write(req.addr, req.dwen, req.data).map(|()| [0; 8])
        } else {
            chip.mmio_read(req.addr)
        };
        let err = matches!(result, Err(chiplet::ChipletError::Mmio { .. } | chiplet::ChipletError::Timeout { .. }));
        let data = result.unwrap_or([0; 8]);
        let shown = if req.write { req.data } else { data };
        let line = DecodedLine::decode(req.addr, &shown);
        if let (true, false, DecodedLine::Tgh(tgh, t)) = (req.write, err, line) {
            if t.opc == 1 {
                let hits = self.matching(c, &t);
                self.observer.emit(HwEvent::Purge { cycle: now, chiplet: c, tgh, line: t, hits });
            }
        }
        if let (true, false, DecodedLine::Cch(ctx, h)) = (req.write, err, line) {
            self.observer.emit(HwEvent::Cch { cycle: now, chiplet: c, ctx, opc: h.opc, asid: h.asid[0] });
        }
        if let (true, false, DecodedLine::Tfh(cbr, tfh)) = (req.write, err, line) {
            if tfh.opc == TfhOpc::WriteRestart as u8 || tfh.opc == TfhOpc::WriteOnly as u8 {
                let installed = self.installed(c, cbr, &tfh);
                self.observer.emit(HwEvent::Dropin { cycle: now, chiplet: c, cbr, tfh, installed });
            }
        }
        let event = MmioEvent { cycle: now, chiplet: c, req, line, err };
        if let Some(code) = self.coder.as_ref().and_then(|k| k.mmio(&event)) {
            self.chips[c].set_dbg_event(code);
        }
        self.trace.push(event);
        self.inbound.insert(ticket, (now + self.from_chip, MmioResponse { err, data }));
    }
}

impl<M: CycleModel> Inner<M> {
    /// Every TLB entry of chiplet `c`: from the state snapshot, or through the debug port.
    fn tlb(&mut self, c: usize) -> Vec<TlbEntry> {
        let chip = &mut self.chips[c];
        if self.debug_port_reads {
            (0..=usize::from(u8::MAX)).map(|i| chip.tlb_entry(i)).collect()
        } else {
            chip.tlb_state()
        }
    }

    /// The valid entries of chiplet `c` that the TGH invalidate `t` purges (the chip's own
    /// match), counted by kind.
    fn matching(&mut self, c: usize, t: &Tgh) -> PurgeHits {
        let m = PurgeMatch::new(t);
        let tlb = self.tlb(c);
        let hit: Vec<_> = tlb.iter().filter(|e| m.matches(e)).collect();
        PurgeHits {
            entries: hit.len(),
            dirty: hit.iter().filter(|e| e.dirty).count(),
            zero: hit.iter().filter(|e| e.pfn == ZERO_PFN).count(),
        }
    }

    /// Whether the TLB of chiplet `c` now holds exactly the entry a dropin on `cbr` wrote. The
    /// install happens at the MMIO edge, so an entry missing right after it was discarded.
    fn installed(&mut self, c: usize, cbr: usize, tfh: &Tfh) -> bool {
        let ctx = ctx_of_cbr(cbr, CBR_PER_CTX) as u8;
        self.tlb(c).iter().any(|e| e.is_dropin(ctx, tfh))
    }
}

impl<M: CycleModel> Hardware for GruHw<M> {
    fn tick(&mut self, cycle: u64) {
        let mut inner = self.0.borrow_mut();
        // Cycles the kernel skipped (see `needs_every_cycle`): idle on every chiplet.
        let gap = inner.last_tick.map_or(0, |last| cycle.saturating_sub(last + 1));
        if gap > 0 {
            for chip in &mut inner.chips {
                chip.idle(gap);
            }
        }
        inner.last_tick = Some(cycle);
        inner.cycle = cycle;
        inner.observer.cycle.set(cycle);
        for (chiplet, code) in self.1.take() {
            for (c, chip) in inner.chips.iter_mut().enumerate() {
                if chiplet.is_none() || chiplet == Some(c) {
                    chip.set_dbg_event(code);
                }
            }
        }
        for c in 0..inner.chips.len() {
            inner.step_chip(c, cycle);
            if !inner.monitor_reported[c] {
                if let Some(v) = inner.chips[c].monitor().and_then(|m| m.violation()).cloned() {
                    inner.monitor_reported[c] = true;
                    inner.observer.emit(HwEvent::Monitor { cycle, chiplet: c, violation: v });
                }
            }
            let done: Vec<CbCompletion> = inner.chips[c]
                .take_completions()
                .into_iter()
                .map(|x| CbCompletion { cycle, cbr: x.cbr, status: x.status, cause: x.cause, rdata: x.rdata })
                .collect();
            for x in &done {
                let (cbr, status, cause, rdata) = (x.cbr, x.status, x.cause, x.rdata);
                inner.observer.emit(HwEvent::Completion { cycle, chiplet: c, cbr, status, cause, rdata });
                if let Some(code) = inner.coder.as_ref().and_then(|k| k.completion(c, x)) {
                    inner.chips[c].set_dbg_event(code);
                }
            }
            inner.completions[c].extend(done);
        }
    }

    /// Every cycle unless each chiplet is quiescent (quiet, no CB request queued, no memory
    /// response due, no new debug event), no MMIO request is on its way and no software event
    /// waits to be shown: then no tick can change anything until software acts.
    fn needs_every_cycle(&self) -> bool {
        let inner = self.0.borrow();
        inner.last_tick.is_none()
            || !self.1.borrow().is_empty()
            || inner.outbound.iter().any(|q| !q.is_empty())
            || !inner.chips.iter().all(|c| c.quiescent())
    }

    fn irq_levels(&self) -> IrqLevels {
        let mut levels = IrqLevels::default();
        for (c, chip) in self.0.borrow().chips.iter().enumerate() {
            // Fault map m of chiplet c is kernel line irq_line(c, m); every chiplet has 16.
            let line = irq_line(c, 0) as usize;
            levels[line / 64] |= u64::from(chip.irq()) << (line % 64);
        }
        levels
    }
}

impl<M: CycleModel> GruHardware for GruHw<M> {
    fn num_chiplets(&self) -> usize {
        self.0.borrow().chips.len()
    }

    fn mmio_submit(&self, chiplet: usize, req: MmioRequest) -> Result<MmioTicket, HwError> {
        let mut inner = self.0.borrow_mut();
        Self::check(&inner, chiplet)?;
        let ticket = MmioTicket(inner.next_ticket);
        inner.next_ticket += 1;
        let due = inner.cycle + inner.to_chip;
        inner.outbound[chiplet].push_back((due, ticket, req));
        Ok(ticket)
    }

    fn mmio_poll(&self, ticket: MmioTicket) -> Option<MmioResponse> {
        let mut inner = self.0.borrow_mut();
        let cycle = inner.cycle;
        match inner.inbound.get(&ticket) {
            Some(&(visible, _)) if visible <= cycle => inner.inbound.remove(&ticket).map(|(_, r)| r),
            _ => None,
        }
    }

    fn mmio_visible_from(&self, ticket: MmioTicket) -> Option<u64> {
        let inner = self.0.borrow();
        if let Some(&(visible, _)) = inner.inbound.get(&ticket) {
            return Some(visible);
        }
        // Still on its way: a chiplet takes it at its due cycle at the earliest.
        inner.outbound.iter().flatten().find(|&&(_, t, _)| t == ticket).map(|&(due, _, _)| due + inner.from_chip)
    }

    fn irq_lines(&self, chiplet: usize) -> u16 {
        self.0.borrow().chips.get(chiplet).map_or(0, |c| c.irq())
    }

    fn cb_issue(&self, chiplet: usize, req: CbRequest) -> Result<(), HwError> {
        let (cycle, observer) = {
            let inner = self.0.borrow();
            Self::check(&inner, chiplet)?;
            (inner.cycle, inner.observer.clone())
        };
        // Emitted with the chiplets free: the checks read the issuing context's CCH.
        observer.emit(HwEvent::Issue { cycle, chiplet, cbr: req.cbr, vaddr: req.vaddr, write: req.write });
        let mut inner = self.0.borrow_mut();
        inner.chips[chiplet].issue_cb(chiplet::CbRequest { cbr: req.cbr, vaddr: req.vaddr, write: req.write, wdata: req.wdata });
        Ok(())
    }

    fn cb_take(&self, chiplet: usize, cbr: u8) -> Option<CbCompletion> {
        let mut inner = self.0.borrow_mut();
        let q = inner.completions.get_mut(chiplet)?;
        let i = q.iter().position(|c| c.cbr == cbr)?;
        q.remove(i)
    }
}

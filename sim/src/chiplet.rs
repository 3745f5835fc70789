//! The safe, transaction-level API over any [`CycleModel`]: reset, stepping, blocking MMIO line
//! reads and writes with typed handles, a CB request queue and its completions, the memory port
//! served by a [`MemoryServer`], interrupt lines and the debug ports.

use crate::handles;
use crate::model::TlbEntry;
use crate::monitor::ChipMonitor;
use crate::ports::{ChipState, CycleModel, PortsIn, PortsOut};
use crate::skip::Skipping;
use std::collections::VecDeque;

/// Serves the chiplet's memory port: every physical access the chip makes goes through here.
pub trait MemoryServer {
    /// Perform an 8-byte access at `paddr`; return the value read (ignored for writes).
    fn access(&mut self, cycle: u64, paddr: u64, write: bool, wdata: u64) -> u64;
    /// Cycles from the accepting edge to the response (at least 1).
    fn latency(&mut self) -> u32 {
        1
    }
    /// Whether the port accepts a request this cycle (back-pressure).
    fn ready(&mut self) -> bool {
        true
    }
}

/// Sparse 64-bit word memory, zero where never written; enough for hardware-only tests.
#[derive(Default, Debug, Clone)]
pub struct FlatMemory {
    words: std::collections::HashMap<u64, u64>,
    /// Accesses served so far: (cycle, paddr, write, data).
    pub log: Vec<(u64, u64, bool, u64)>,
}

impl FlatMemory {
    /// The word at `paddr` (8-byte aligned).
    pub fn read(&self, paddr: u64) -> u64 {
        self.words.get(&(paddr & !7)).copied().unwrap_or(0)
    }
    /// Set the word at `paddr`.
    pub fn write(&mut self, paddr: u64, v: u64) {
        self.words.insert(paddr & !7, v);
    }
}

impl MemoryServer for FlatMemory {
    fn access(&mut self, cycle: u64, paddr: u64, write: bool, wdata: u64) -> u64 {
        self.log.push((cycle, paddr, write, wdata));
        if write {
            self.write(paddr, wdata);
            0
        } else {
            self.read(paddr)
        }
    }
}

/// One CB completion seen on the CB port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Cycle whose outputs carried it.
    pub cycle: u64,
    /// The CBR.
    pub cbr: u8,
    /// CB istatus: IDLE 0 (done), EXCEPTION 1, CALL_OS 3.
    pub status: u8,
    /// TFH cause code.
    pub cause: u8,
    /// Load data.
    pub rdata: u64,
}

/// A CB instruction waiting for the CB port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CbRequest {
    /// Which CBR issues it.
    pub cbr: u8,
    /// User virtual address.
    pub vaddr: u64,
    /// Store (true) or load.
    pub write: bool,
    /// Store data.
    pub wdata: u64,
}

/// Errors of transaction-level access.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChipletError {
    /// The chiplet answered an MMIO request with `err`.
    #[error("MMIO {op} at {addr:#07x} answered with err")]
    Mmio {
        /// "read" or "write".
        op: &'static str,
        /// Handle-space offset.
        addr: u32,
    },
    /// No response within the timeout.
    #[error("MMIO {op} at {addr:#07x}: no response after {cycles} cycles")]
    Timeout {
        /// "read" or "write".
        op: &'static str,
        /// Handle-space offset.
        addr: u32,
        /// Cycles waited.
        cycles: u64,
    },
    /// A handle stayed ACTIVE past the timeout.
    #[error("handle at {addr:#07x} still ACTIVE after {cycles} cycles; dump: {dump:x?}")]
    HandleStuck {
        /// Handle-space offset.
        addr: u32,
        /// Cycles waited.
        cycles: u64,
        /// The handle's line at the timeout.
        dump: [u64; 8],
    },
}

/// A chiplet at transaction level, over any cycle model.
pub struct Chiplet<M: CycleModel> {
    /// The model, skipping the cycles its chip says change nothing (docs/MICROARCH.md §12).
    model: Skipping<M>,
    inp: PortsIn,
    out: PortsOut,
    mem: Box<dyn MemoryServer>,
    /// Accepted memory requests: (due cycle, tag, data).
    mem_pending: VecDeque<(u64, u8, u64)>,
    cb_queue: VecDeque<CbRequest>,
    completions: Vec<Completion>,
    /// The chip monitors, when switched on.
    monitor: Option<ChipMonitor>,
    /// Cycles an MMIO response or a handle may take before it is reported as stuck.
    pub timeout: u64,
    /// The chip's purge-tail seed, on `purge_seed_i` whenever reset is held.
    purge_seed: u16,
}

impl<M: CycleModel> Chiplet<M> {
    /// Wrap `model`, serve its memory port from `mem`, and reset it (purge seed 0).
    pub fn new(model: M, mem: Box<dyn MemoryServer>) -> Self {
        Self::with_purge_seed(model, mem, 0)
    }

    /// [`Chiplet::new`], resetting the chip with `purge_seed` on `purge_seed_i`: the seed of its
    /// purge-tail PRNG (docs/MICROARCH.md §7).
    pub fn with_purge_seed(model: M, mem: Box<dyn MemoryServer>, purge_seed: u16) -> Self {
        let mut c = Chiplet {
            model: Skipping::new(model),
            inp: PortsIn::default(),
            out: PortsOut::default(),
            mem,
            mem_pending: VecDeque::new(),
            cb_queue: VecDeque::new(),
            completions: Vec::new(),
            monitor: None,
            timeout: 100_000,
            purge_seed,
        };
        c.reset();
        c
    }

    /// Hold reset for 4 cycles, dropping queued work.
    pub fn reset(&mut self) {
        self.mem_pending.clear();
        self.cb_queue.clear();
        self.inp = PortsIn { purge_seed: self.purge_seed, ..PortsIn::default() };
        for _ in 0..4 {
            self.out = self.model.cycle(&self.inp).clone();
        }
        self.inp.rst_n = true;
    }

    /// Skip quiet cycles (on by default): a cycle whose inputs are idle after an edge that left
    /// `quiet_o` high is applied with [`CycleModel::idle`], which changes nothing (docs/MICROARCH.md
    /// §12) and costs no evaluation. Off, every cycle is evaluated.
    pub fn set_skip(&mut self, on: bool) {
        self.model.set_on(on);
    }

    /// Cycles applied without an evaluation so far.
    pub fn skipped(&self) -> u64 {
        self.model.skipped()
    }

    /// Nothing can change until an input does: the chip is quiet, no CB request waits, no
    /// memory response is due and no MMIO request or new debug event is set up. Then
    /// [`Chiplet::idle`] may stand for any number of [`Chiplet::step`]s.
    pub fn quiescent(&self) -> bool {
        self.cb_queue.is_empty() && !self.inp.mmio_req_valid && self.mem_pending.is_empty()
            && self.model.would_skip(&self.idle_inputs())
    }

    /// This cycle's inputs with nothing requested, accepted or answered.
    fn idle_inputs(&self) -> PortsIn {
        PortsIn { cb_req_valid: false, mem_req_ready: false, mem_rsp_valid: false, ..self.inp.clone() }
    }

    /// `n` cycles of a [`Chiplet::quiescent`] chip, applied without evaluating.
    ///
    /// # Panics
    /// If the chip is not quiescent: the cycles would not be exact.
    pub fn idle(&mut self, n: u64) {
        assert!(self.quiescent(), "idle cycles on a chiplet that is not quiescent");
        self.inp = self.idle_inputs();
        self.model.idle(&self.inp, n);
    }

    /// Check the chip monitors ([`ChipMonitor`]) at every edge from now on (a chip just out
    /// of reset: call it right after [`Chiplet::new`]).
    pub fn enable_monitor(&mut self) {
        self.monitor = Some(ChipMonitor::new());
    }

    /// The chip monitors, if switched on: their first violation, evaluations and cover counts.
    pub fn monitor(&self) -> Option<&ChipMonitor> {
        self.monitor.as_ref()
    }

    /// The cycle model underneath.
    pub fn model(&self) -> &M {
        &self.model.inner
    }

    /// The cycle model underneath (to open waveforms, inspect the reference model...).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model.inner
    }

    /// The memory server.
    pub fn memory_mut(&mut self) -> &mut dyn MemoryServer {
        self.mem.as_mut()
    }

    /// Cycles since construction.
    pub fn cycle(&self) -> u64 {
        self.model.cycles()
    }

    /// Outputs after the last edge.
    pub fn outputs(&self) -> &PortsOut {
        &self.out
    }

    /// Interrupt lines, one per fault map.
    pub fn irq(&self) -> u16 {
        self.out.irq
    }

    /// Code shown on `dbg_event_i` from the next cycle on.
    pub fn set_dbg_event(&mut self, code: u64) {
        self.inp.dbg_event = code;
    }

    /// Queue a CB instruction; it enters the CB port when the port is ready.
    pub fn issue_cb(&mut self, req: CbRequest) {
        self.cb_queue.push_back(req);
    }

    /// CB instructions not yet accepted.
    pub fn cb_queued(&self) -> usize {
        self.cb_queue.len()
    }

    /// Completions seen since the last call.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.completions)
    }

    /// TLB entry `idx` through the debug port (no clock edge, but an evaluation of the RTL;
    /// [`Chiplet::tlb_state`] reads every entry without one).
    pub fn tlb_entry(&mut self, idx: usize) -> TlbEntry {
        TlbEntry::from_dbg_words(self.model.peek_tlb(idx as u8))
    }

    /// Every TLB entry, read from the model's state (no clock edge, no evaluation).
    pub fn tlb_state(&mut self) -> Vec<TlbEntry> {
        self.model.tlb_state()
    }

    /// The whole chip state (no clock edge, no evaluation): handles, TLB, counters, at this
    /// cycle.
    pub fn chip_state(&mut self) -> ChipState {
        self.model.chip_state()
    }

    /// Advance one cycle: feed queued CB requests, serve the memory port, collect completions.
    pub fn step(&mut self) {
        let now = self.model.cycles();
        let cb_sent = !self.cb_queue.is_empty() && self.out.cb_req_ready;
        if let Some(r) = self.cb_queue.front().filter(|_| cb_sent) {
            self.inp.cb_req_valid = true;
            self.inp.cb_req_cbr = r.cbr;
            self.inp.cb_req_vaddr = r.vaddr;
            self.inp.cb_req_write = r.write;
            self.inp.cb_req_wdata = r.wdata;
        } else {
            self.inp.cb_req_valid = false;
        }
        // A request visible now is accepted at this edge if we raise ready.
        self.inp.mem_req_ready = self.out.mem_req_valid && self.mem.ready();
        if self.inp.mem_req_ready {
            let o = &self.out;
            let data = self.mem.access(now, o.mem_req_paddr, o.mem_req_write, o.mem_req_wdata);
            let due = now + u64::from(self.mem.latency().max(1));
            self.mem_pending.push_back((due, o.mem_req_tag, data));
        }
        match self.mem_pending.front() {
            Some(&(due, tag, data)) if due <= now => {
                self.inp.mem_rsp_valid = true;
                self.inp.mem_rsp_tag = tag;
                self.inp.mem_rsp_rdata = data;
                self.mem_pending.pop_front();
            }
            _ => self.inp.mem_rsp_valid = false,
        }
        if self.model.would_skip(&self.inp) {
            // Nothing changes, outputs included; the monitors have no edge to check.
            self.model.cycle(&self.inp);
        } else {
            let watched = self.monitor.as_mut().map(|m| m.before(&mut self.model, &self.inp));
            self.out = self.model.cycle(&self.inp).clone();
            if let (Some(m), Some(b)) = (self.monitor.as_mut(), watched) {
                m.after(&mut self.model, b);
            }
        }
        if cb_sent {
            self.cb_queue.pop_front();
        }
        self.inp.mmio_req_valid = false;
        if self.out.cb_cmp_valid {
            self.completions.push(Completion {
                cycle: now,
                cbr: self.out.cb_cmp_cbr,
                status: self.out.cb_cmp_status,
                cause: self.out.cb_cmp_cause,
                rdata: self.out.cb_cmp_rdata,
            });
        }
    }

    /// Advance `n` cycles.
    pub fn step_n(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Step until `done` holds (checked after each cycle) or `limit` cycles pass; true if it held.
    pub fn step_until(&mut self, limit: u64, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..limit {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    fn mmio(&mut self, write: bool, addr: u32, dwen: u8, data: [u64; 8]) -> Result<[u64; 8], ChipletError> {
        let op = if write { "write" } else { "read" };
        self.inp.mmio_req_valid = true;
        self.inp.mmio_req_write = write;
        self.inp.mmio_req_addr = addr;
        self.inp.mmio_req_dwen = dwen;
        self.inp.mmio_req_data = data;
        // `step` drops valid after the accepting edge; the response follows.
        for _ in 0..self.timeout {
            self.step();
            if self.out.mmio_rsp_valid {
                return if self.out.mmio_rsp_err {
                    Err(ChipletError::Mmio { op, addr })
                } else {
                    Ok(self.out.mmio_rsp_data)
                };
            }
        }
        Err(ChipletError::Timeout { op, addr, cycles: self.timeout })
    }

    /// Read the 64-byte line at `addr`.
    pub fn mmio_read(&mut self, addr: u32) -> Result<[u64; 8], ChipletError> {
        self.mmio(false, addr, 0, [0; 8])
    }

    /// Write the DWs of `line` selected by `dwen` at `addr`: one cacheline transaction.
    pub fn mmio_write(&mut self, addr: u32, dwen: u8, line: [u64; 8]) -> Result<(), ChipletError> {
        self.mmio(true, addr, dwen, line).map(|_| ())
    }

    /// The driver's start sequence: write every field with `DW0 | 0x20001` in one line, then
    /// poll DW0 until the status leaves ACTIVE; returns the final line.
    pub fn start_and_wait(&mut self, addr: u32, line: [u64; 8]) -> Result<[u64; 8], ChipletError> {
        self.mmio_write(addr, 0xff, handles::start(line))?;
        let begin = self.cycle();
        loop {
            let now = self.mmio_read(addr)?;
            if handles::HDL_STATUS.get(&now) != handles::HandleStatus::Active as u64 {
                return Ok(now);
            }
            if self.cycle() - begin > self.timeout {
                return Err(ChipletError::HandleStuck { addr, cycles: self.cycle() - begin, dump: now });
            }
        }
    }
}

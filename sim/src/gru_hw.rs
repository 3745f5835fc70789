//! The driver's view of the hardware ([`GruHardware`]) over N chiplets of any cycle model, and
//! the kernel's cycle hook ([`Hardware`]): one chiplet cycle per kernel cycle.
//!
//! MMIO crosses an interconnect of `mmio_latency` cycles round trip: a request reaches its
//! chiplet half of it after submission, and the response is visible to the driver the other
//! half after the chiplet answered. Each chiplet takes one MMIO request per cycle. The memory
//! port is served from the kernel model's physical memory, so a chip access hits real frames,
//! and a chip store teaches the data oracle the new value of every mapping of the frame. Every
//! MMIO transaction is logged, decoded, with its cycle ([`MmioEvent`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use gru_driver::gru::hw::{
    CbCompletion, CbRequest, DecodedLine, GruHardware, HwError, MmioEvent, MmioRequest, MmioResponse, MmioTicket,
};
use gru_driver::kernel::Hardware;
use gru_driver::mm::{Mmu, PAGE_SHIFT};

use crate::chiplet::{self, Chiplet, MemoryServer};
use crate::handles::{HS_TFM_COUNT, Stats, STAT_ADDR};
use crate::model::TlbEntry;
use crate::ports::CycleModel;

/// The memory port of a chiplet, served from the kernel model's physical memory.
struct PhysPort {
    mmu: Mmu,
}

impl MemoryServer for PhysPort {
    fn access(&mut self, _cycle: u64, paddr: u64, write: bool, wdata: u64) -> u64 {
        if !write {
            // An address beyond memory reads 0, like an unbacked bus read.
            return self.mmu.with_phys(|p| p.read_u64(paddr).unwrap_or(0));
        }
        let mappings = self.mmu.with_phys(|p| {
            p.write_u64(paddr, wdata).map(|()| p.mappings(paddr >> PAGE_SHIFT).to_vec()).unwrap_or_default()
        });
        let offset = paddr & ((1 << PAGE_SHIFT) - 1) & !7;
        self.mmu.with_oracle(|o| {
            for m in mappings {
                o.store(m.mm, m.va + offset, wdata);
            }
        });
        0
    }
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
}

/// N chiplets as the driver and the kernel see them; cheap to clone (a shared handle).
pub struct GruHw<M: CycleModel>(Rc<RefCell<Inner<M>>>);

impl<M: CycleModel> Clone for GruHw<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M: CycleModel> GruHw<M> {
    /// Chiplets over `models`, their memory ports served from `mmu`'s physical memory, MMIO
    /// round trips of `mmio_latency` cycles.
    pub fn new(models: Vec<M>, mmu: &Mmu, mmio_latency: u64) -> Self {
        let n = models.len();
        let chips = models.into_iter().map(|m| Chiplet::new(m, Box::new(PhysPort { mmu: mmu.clone() }))).collect();
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
        })))
    }

    /// Every MMIO transaction so far, in the order the chiplets took them.
    pub fn trace(&self) -> Vec<MmioEvent> {
        self.0.borrow().trace.clone()
    }

    /// MMIO writes taken by `chiplet` so far.
    pub fn mmio_writes(&self, chiplet: usize) -> usize {
        self.0.borrow().trace.iter().filter(|e| e.chiplet == chiplet && e.req.write).count()
    }

    /// The valid TLB entries of `chiplet`, through the debug port (no clock edge).
    pub fn tlb_entries(&self, chiplet: usize) -> Vec<TlbEntry> {
        let mut inner = self.0.borrow_mut();
        let Some(chip) = inner.chips.get_mut(chiplet) else {
            return Vec::new();
        };
        (0..256).map(|i| chip.tlb_entry(i)).filter(|e| e.valid).collect()
    }

    /// The chiplet's statistics line. The read steps that chiplet one cycle out of step with
    /// the kernel clock: call it after the run.
    pub fn chip_stats(&self, chiplet: usize) -> Option<Stats> {
        let mut inner = self.0.borrow_mut();
        let chip = inner.chips.get_mut(chiplet)?;
        chip.mmio_read(STAT_ADDR).ok().map(|l| Stats::decode(&l))
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
        self.trace.push(MmioEvent { cycle: now, chiplet: c, req, line: DecodedLine::decode(req.addr, &shown), err });
        self.inbound.insert(ticket, (now + self.from_chip, MmioResponse { err, data }));
    }
}

impl<M: CycleModel> Hardware for GruHw<M> {
    fn tick(&mut self, cycle: u64) {
        let mut inner = self.0.borrow_mut();
        inner.cycle = cycle;
        for c in 0..inner.chips.len() {
            inner.step_chip(c, cycle);
            let done: Vec<CbCompletion> = inner.chips[c]
                .take_completions()
                .into_iter()
                .map(|x| CbCompletion { cycle, cbr: x.cbr, status: x.status, cause: x.cause, rdata: x.rdata })
                .collect();
            inner.completions[c].extend(done);
        }
    }

    fn irq_lines(&self) -> u64 {
        let inner = self.0.borrow();
        let per_chip = HS_TFM_COUNT as u32;
        inner
            .chips
            .iter()
            .enumerate()
            .filter(|(c, _)| (*c as u32 + 1) * per_chip <= u64::BITS)
            .fold(0, |acc, (c, chip)| acc | u64::from(chip.irq()) << (c as u32 * per_chip))
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

    fn irq_lines(&self, chiplet: usize) -> u16 {
        self.0.borrow().chips.get(chiplet).map_or(0, |c| c.irq())
    }

    fn cb_issue(&self, chiplet: usize, req: CbRequest) -> Result<(), HwError> {
        let mut inner = self.0.borrow_mut();
        Self::check(&inner, chiplet)?;
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

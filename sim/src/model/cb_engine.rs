//! The CB engine: one CB at a time through lookup, memory access and completion (MICROARCH §5).

use super::cch::Cchs;
use gru_abi::{ctx_cbrs, ctx_of_cbr};
use super::purge::Purge;
use super::tfh::MissLatch;
use super::tfm::TfmSet;
use super::tlb::Tlb;
use crate::handles::{CbStatus, Stat, TfhCause, TfhState};
use crate::ports::{PortsIn, PortsOut};

/// `eng_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EngState {
    Idle,
    Lookup,
    Mem,
    Wait,
}

/// A CBR's accepted request: `req_vaddr`, `req_write`, `req_wdata`.
#[derive(Clone, Copy, Default)]
struct CbReq {
    vaddr: u64,
    write: bool,
    wdata: u64,
}

/// What the engine's edge asks of other units, applied after the MMIO request of the edge.
#[derive(Default)]
pub(super) struct EngineFx {
    pub latch: Option<MissLatch>,
    pub tfm: Option<TfmSet>,
    pub stat: Option<Stat>,
}

/// Engine state and the per-CBR bits (bit k of a mask = CBR k).
pub(super) struct Engine {
    state: EngState,
    cur: usize,
    busy: u128,
    restart_pend: u128,
    cmp_pend: u128,
    cmp_status: Vec<u8>,
    cmp_cause: Vec<u8>,
    req: Vec<CbReq>,
    cbr_per_ctx: usize,
    /// Lookups that matched more than one entry (a checker count, not hardware state).
    pub multi_match: u64,
}

/// Loads the `cb_cmp` output registers.
fn emit(out: &mut PortsOut, cbr: usize, status: u8, cause: u8, rdata: u64) {
    out.cb_cmp_valid = true;
    out.cb_cmp_cbr = cbr as u8;
    out.cb_cmp_status = status;
    out.cb_cmp_cause = cause;
    out.cb_cmp_rdata = rdata;
}

impl Engine {
    pub fn new(num_cbr: usize, cbr_per_ctx: usize) -> Self {
        Engine {
            state: EngState::Idle,
            cur: 0,
            busy: 0,
            restart_pend: 0,
            cmp_pend: 0,
            cmp_status: vec![0; num_cbr],
            cmp_cause: vec![0; num_cbr],
            req: vec![CbReq::default(); num_cbr],
            cbr_per_ctx,
            multi_match: 0,
        }
    }

    /// The `busy`, `restart_pend` and `cmp_pend` masks (bit k = CBR k).
    pub fn masks(&self) -> (u128, u128, u128) {
        (self.busy, self.restart_pend, self.cmp_pend)
    }

    pub fn reset(&mut self) {
        let multi_match = self.multi_match;
        *self = Engine { multi_match, ..Engine::new(self.req.len(), self.cbr_per_ctx) };
    }

    /// `cb_req_ready_o`.
    pub fn ready(&self) -> bool {
        self.state == EngState::Idle && self.cmp_pend == 0 && self.restart_pend == 0
    }

    /// A CB of context `c` is in flight (for INTERRUPT_SYNC).
    pub fn in_flight(&self, c: usize) -> bool {
        (self.state != EngState::Idle && self.cur / self.cbr_per_ctx == c)
            || (self.restart_pend | self.cmp_pend) & ctx_cbrs(c, self.cbr_per_ctx) != 0
    }

    /// A TFH command re-executes CBR `t`.
    pub fn restart(&mut self, t: usize) {
        self.restart_pend |= 1 << t;
    }

    /// A TFH command completes CBR `t`.
    pub fn complete(&mut self, t: usize, status: CbStatus, cause: u8) {
        self.cmp_pend |= 1 << t;
        self.cmp_status[t] = status as u8;
        self.cmp_cause[t] = cause;
    }

    /// One edge. Reads the TLB, CCHs and TGHs as they are before the edge; writes only the
    /// engine's own registers and the `cb_cmp`/`mem_req` outputs.
    pub fn step(&mut self, inp: &PortsIn, tlb: &Tlb, cchs: &Cchs, purge: &Purge, out: &mut PortsOut) -> EngineFx {
        let mut fx = EngineFx::default();
        out.cb_cmp_valid = false;
        match self.state {
            EngState::Idle if self.cmp_pend != 0 => {
                let p = self.cmp_pend.trailing_zeros() as usize;
                emit(out, p, self.cmp_status[p], self.cmp_cause[p], 0);
                self.cmp_pend &= !(1 << p);
                if self.cmp_status[p] != CbStatus::CallOs as u8 {
                    self.busy &= !(1 << p);
                }
            }
            EngState::Idle if self.restart_pend != 0 => {
                let r = self.restart_pend.trailing_zeros() as usize;
                self.restart_pend &= !(1 << r);
                self.cur = r;
                self.state = EngState::Lookup;
            }
            EngState::Idle if inp.cb_req_valid => {
                // The RTL takes the low $clog2(NUM_CBR) bits of the port.
                let c = usize::from(inp.cb_req_cbr) & (self.req.len() - 1);
                if self.busy >> c & 1 != 0 || !cchs.active(ctx_of_cbr(c, self.cbr_per_ctx)) {
                    emit(out, c, CbStatus::Exception as u8, TfhCause::InstructionException as u8, 0);
                } else {
                    self.req[c] = CbReq { vaddr: inp.cb_req_vaddr, write: inp.cb_req_write, wdata: inp.cb_req_wdata };
                    self.busy |= 1 << c;
                    self.cur = c;
                    self.state = EngState::Lookup;
                }
            }
            EngState::Idle => {}
            EngState::Lookup => {
                fx = self.lookup(tlb, cchs, purge, out);
                self.state = if fx.latch.is_some() { EngState::Idle } else { EngState::Mem };
            }
            EngState::Mem => {
                if inp.mem_req_ready {
                    out.mem_req_valid = false;
                    self.state = EngState::Wait;
                }
            }
            EngState::Wait => {
                if inp.mem_rsp_valid && usize::from(inp.mem_rsp_tag) == self.cur {
                    let req = self.req[self.cur];
                    emit(out, self.cur, CbStatus::Idle as u8, 0, if req.write { 0 } else { inp.mem_rsp_rdata });
                    self.busy &= !(1 << self.cur);
                    let cch = &cchs.cch[self.cur / self.cbr_per_ctx];
                    if cch.tfm_fault_bit_enable {
                        fx.tfm = Some(TfmSet { m: cch.tlb_int_select.into(), cbr: self.cur, done: true });
                    }
                    self.state = EngState::Idle;
                }
            }
        }
        fx
    }

    /// E_LOOKUP: a hit issues the memory request; a miss (or a store to a clean entry)
    /// returns the TFH latch, and the fault bit or the CALL_OS completion.
    fn lookup(&mut self, tlb: &Tlb, cchs: &Cchs, purge: &Purge, out: &mut PortsOut) -> EngineFx {
        let cur = self.cur;
        let ctx = cur / self.cbr_per_ctx;
        let req = self.req[cur];
        let cch = &cchs.cch[ctx];
        let asid = cch.asid[(req.vaddr >> 61 & 3) as usize];
        let l = tlb.lookup(ctx as u8, asid, req.vaddr >> 12);
        self.multi_match += u64::from(l.multi);
        let hit = l.hit.map(|i| &tlb.entries[i]);
        if let Some(e) = hit.filter(|e| e.dirty || !req.write) {
            let offset = req.vaddr & ((4096 << e.shift()) - 1) & !7;
            out.mem_req_valid = true;
            out.mem_req_paddr = (e.pfn << 12).wrapping_add(offset);
            out.mem_req_write = req.write;
            out.mem_req_wdata = req.wdata;
            out.mem_req_tag = cur as u8;
            return EngineFx { stat: Some(Stat::Hits), ..EngineFx::default() };
        }
        let (cause, stat) =
            if hit.is_some() { (TfhCause::TlbMod, Stat::TlbMod) } else { (TfhCause::TlbMiss, Stat::Misses) };
        let fmm = cch.tfm_fault_bit_enable;
        let tfm = if fmm {
            Some(TfmSet { m: cch.tlb_int_select.into(), cbr: cur, done: false })
        } else {
            emit(out, cur, CbStatus::CallOs as u8, cause as u8, 0);
            None
        };
        let latch = MissLatch {
            cbr: cur,
            cause,
            state: if fmm { TfhState::MissFmm } else { TfhState::MissUpm },
            missvaddr: req.vaddr,
            missasid: asid,
            ctxnum: ctx,
            stale: purge.covers(ctx),
        };
        EngineFx { latch: Some(latch), tfm, stat: Some(stat) }
    }
}

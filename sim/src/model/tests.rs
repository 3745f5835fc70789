//! Scenario tests driving the model only through `CycleModel::cycle`.

use super::*;
use crate::handles::*;
use std::collections::{HashMap, VecDeque};

/// Cycles from the accepting edge to the memory response.
const MEM_LATENCY: u64 = 3;

/// A CB completion seen on the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cmp {
    cbr: u8,
    status: u8,
    cause: u8,
    rdata: u64,
}

/// A starting TFH line for `opc`, mapping `vaddr` to `pfn`.
fn fill(opc: TfhOpc, asid: u32, vaddr: u64, pfn: u64, ps: PageSize, dirty: bool) -> [u64; 8] {
    start(
        Tfh { opc: opc as u8, fillasid: asid, fillvaddr: vaddr, pfn, pagesize: ps as u8, dirty, ..Tfh::default() }
            .encode(),
    )
}

/// The model plus a memory server and a log of what came out of the ports.
struct Bench {
    m: RefModel,
    inp: PortsIn,
    out: PortsOut,
    mem: HashMap<u64, u64>,
    /// Accepted memory requests: (due cycle, tag, rdata).
    inflight: VecDeque<(u64, u8, u64)>,
    /// Accepted memory requests: (paddr, write, wdata).
    mem_log: Vec<(u64, bool, u64)>,
    cmps: Vec<Cmp>,
}

impl Bench {
    fn new() -> Self {
        Self::with(Params::default(), 0)
    }

    /// A bench over a model of `params`, reset with `purge_seed`.
    fn with(params: Params, purge_seed: u16) -> Self {
        let mut b = Bench {
            m: RefModel::new(params),
            inp: PortsIn { purge_seed, ..PortsIn::default() },
            out: PortsOut::default(),
            mem: HashMap::new(),
            inflight: VecDeque::new(),
            mem_log: Vec::new(),
            cmps: Vec::new(),
        };
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.inp.rst_n = false;
        self.step();
        self.step();
        self.inp.rst_n = true;
    }

    /// One cycle with `self.inp` and the memory server; one-shot requests are then dropped.
    fn step(&mut self) -> PortsOut {
        let now = self.m.cycles() + 1;
        self.inp.mem_req_ready = true;
        if self.out.mem_req_valid {
            let o = &self.out;
            self.mem_log.push((o.mem_req_paddr, o.mem_req_write, o.mem_req_wdata));
            let rdata = if o.mem_req_write {
                self.mem.insert(o.mem_req_paddr, o.mem_req_wdata);
                0
            } else {
                self.mem.get(&o.mem_req_paddr).copied().unwrap_or(0)
            };
            self.inflight.push_back((now + MEM_LATENCY, o.mem_req_tag, rdata));
        }
        let rsp = self.inflight.front().filter(|r| r.0 <= now).copied();
        if rsp.is_some() {
            self.inflight.pop_front();
        }
        self.inp.mem_rsp_valid = rsp.is_some();
        (_, self.inp.mem_rsp_tag, self.inp.mem_rsp_rdata) = rsp.unwrap_or_default();
        self.out = self.m.cycle(&self.inp).clone();
        if self.out.cb_cmp_valid {
            let o = &self.out;
            self.cmps.push(Cmp {
                cbr: o.cb_cmp_cbr,
                status: o.cb_cmp_status,
                cause: o.cb_cmp_cause,
                rdata: o.cb_cmp_rdata,
            });
        }
        self.inp.mmio_req_valid = false;
        self.inp.cb_req_valid = false;
        self.out.clone()
    }

    fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Steps until `f` holds on the outputs (at most 200 cycles).
    fn run_until(&mut self, f: impl Fn(&PortsOut) -> bool) -> PortsOut {
        for _ in 0..200 {
            let o = self.step();
            if f(&o) {
                return o;
            }
        }
        panic!("condition not reached in 200 cycles");
    }

    /// One MMIO request; its response is in the returned outputs.
    fn access(&mut self, write: bool, addr: u32, dwen: u8, data: [u64; 8]) -> PortsOut {
        self.inp.mmio_req_valid = true;
        self.inp.mmio_req_write = write;
        self.inp.mmio_req_addr = addr;
        self.inp.mmio_req_dwen = dwen;
        self.inp.mmio_req_data = data;
        let o = self.step();
        assert!(o.mmio_rsp_valid);
        o
    }

    fn read(&mut self, addr: u32) -> [u64; 8] {
        let o = self.access(false, addr, 0, [0; 8]);
        assert!(!o.mmio_rsp_err, "read {addr:#x} failed");
        o.mmio_rsp_data
    }

    fn write(&mut self, addr: u32, line: [u64; 8]) {
        let o = self.access(true, addr, 0xff, line);
        assert!(!o.mmio_rsp_err, "write {addr:#x} failed");
    }

    /// A write expected to fail: err, data 0.
    fn write_err(&mut self, addr: u32, dwen: u8, line: [u64; 8]) {
        let o = self.access(true, addr, dwen, line);
        assert!(o.mmio_rsp_err && o.mmio_rsp_data == [0; 8], "write {addr:#x} should fail");
    }

    fn tfh(&mut self, t: usize) -> Tfh {
        Tfh::decode(&self.read(tfh_addr(t)))
    }

    fn tgh(&mut self, g: usize) -> Tgh {
        Tgh::decode(&self.read(tgh_addr(g)))
    }

    fn stats(&mut self) -> Stats {
        Stats::decode(&self.read(STAT_ADDR))
    }

    /// Issues a CB request as soon as the port is ready.
    fn cb(&mut self, cbr: u8, vaddr: u64, write: bool, wdata: u64) {
        while !self.out.cb_req_ready {
            self.step();
        }
        self.inp.cb_req_valid = true;
        self.inp.cb_req_cbr = cbr;
        self.inp.cb_req_vaddr = vaddr;
        self.inp.cb_req_write = write;
        self.inp.cb_req_wdata = wdata;
        self.step();
    }

    /// Runs until CBR `cbr` completes and returns the completion.
    fn wait_cmp(&mut self, cbr: u8) -> Cmp {
        self.cmps.clear();
        self.run_until(|o| o.cb_cmp_valid && o.cb_cmp_cbr == cbr);
        *self.cmps.last().unwrap()
    }

    /// ALLOCATE then START context `c` with region ASIDs `asid + r`; 4K, 16K and 2M available.
    fn open_ctx(&mut self, c: usize, asid: u32, fmm: bool, tfm: u8) {
        let mut cch = Cch {
            opc: CchOpc::Allocate as u8,
            tfm_fault_bit_enable: fmm,
            tlb_int_enable: true,
            tlb_int_select: tfm,
            asid: [asid, asid + 1, asid + 2, asid + 3, 0, 0, 0, 0],
            sizeavail: [0x23; 8],
            ..Cch::default()
        };
        self.write(cch_addr(c), start(cch.encode()));
        cch.opc = CchOpc::Start as u8;
        self.write(cch_addr(c), start(cch.encode()));
        let h = Cch::decode(&self.read(cch_addr(c)));
        assert_eq!((h.state, h.status), (CchState::Active as u8, HandleStatus::Idle as u8));
    }

    /// Makes CBR `cbr` miss on `vaddr` (UPM context) and answers with WRITE_RESTART.
    fn map(&mut self, cbr: u8, asid: u32, vaddr: u64, pfn: u64, ps: PageSize) {
        self.cb(cbr, vaddr, false, 0);
        assert_eq!(self.wait_cmp(cbr).status, CbStatus::CallOs as u8);
        self.write(tfh_addr(cbr.into()), fill(TfhOpc::WriteRestart, asid, vaddr, pfn, ps, true));
        assert_eq!(self.wait_cmp(cbr).status, CbStatus::Idle as u8);
    }

    /// Valid TLB entries of context `ctx`, seen through the debug port.
    fn entries_of(&mut self, ctx: u8) -> Vec<TlbEntry> {
        (0..self.m.params().tlb_entries).map(|i| self.m.tlb_entry(i)).filter(|e| e.valid && e.ctx == ctx).collect()
    }
}

#[test]
fn reset_values_are_readable() {
    let mut b = Bench::new();
    assert!(b.out.mmio_req_ready && b.out.cb_req_ready && !b.out.cb_cmp_valid && !b.out.mem_req_valid);
    assert_eq!(b.out.irq, 0);
    let idle_tfh = Tfh { state: TfhState::Idle as u8, ..Tfh::default() };
    assert_eq!(b.tfh(0), idle_tfh);
    assert_eq!(b.tfh(127), idle_tfh);
    assert_eq!(b.read(tfh_addr(5))[0], 1 << 20);
    assert_eq!(b.read(tgh_addr(23)), [0; 8]);
    assert_eq!(b.read(cch_addr(15)), [0; 8]);
    assert_eq!(b.read(tfm_addr(15)), [0; 8]);
    assert_eq!(b.read(STAT_ADDR), [0; 8]);
    // State written before a reset is gone after it.
    b.open_ctx(3, 0x40, false, 0);
    b.reset();
    assert_eq!(b.read(cch_addr(3)), [0; 8]);
    assert_eq!(b.stats(), Stats::default());
    assert_eq!(b.m.peek_tlb(0), [0; 2]);
}

#[test]
fn fmm_miss_raises_irq_and_tfm_read_clears() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 3);
    b.cb(8, 0x4000_1008, false, 0);
    // Lookup at the edge after the accepting one: the fault bit and irq appear there.
    let o = b.step();
    assert_eq!(o.irq, 1 << 3);
    // An FMM miss completes nothing.
    assert!(b.cmps.is_empty());
    let h = b.tfh(8);
    assert_eq!(h.status, HandleStatus::Exception as u8);
    assert_eq!(h.state, TfhState::MissFmm as u8);
    assert_eq!(h.cause, TfhCause::TlbMiss as u8);
    assert_eq!((h.missvaddr, h.missasid, h.ctxnum, h.stale), (0x4000_1008, 0x10, 1, false));
    // The read returns the bit and clears it at its edge, so irq drops with the response.
    let o = b.access(false, tfm_addr(3), 0, [0; 8]);
    assert_eq!(Tfm::decode(&o.mmio_rsp_data).fault, 1 << 8);
    assert_eq!(o.irq, 0);
    assert_eq!(b.read(tfm_addr(3)), [0; 8]);
    assert_eq!(b.stats().misses, 1);
}

#[test]
fn tfm_bit_set_at_the_read_edge_survives_the_read() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 2);
    b.cb(9, 0x5000, false, 0);
    // This read shares its edge with the lookup that sets the bit: it returns the pre-edge map.
    let o = b.access(false, tfm_addr(2), 0, [0; 8]);
    assert_eq!(o.mmio_rsp_data, [0; 8]);
    assert_eq!(o.irq, 1 << 2);
    assert_eq!(Tfm::decode(&b.read(tfm_addr(2))).fault, 1 << 9);
}

#[test]
fn write_restart_installs_and_the_cb_hits() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 3);
    b.mem.insert(0x0123_4008, 0xdead_beef);
    b.cb(8, 0x4000_1008, false, 0);
    b.run_until(|o| o.irq != 0);
    b.read(tfm_addr(3));
    b.write(tfh_addr(8), fill(TfhOpc::WriteRestart, 0x10, 0x4000_1000, 0x1234, PageSize::P4K, true));
    let h = b.tfh(8);
    assert_eq!((h.status, h.state), (HandleStatus::Idle as u8, TfhState::Idle as u8));
    let c = b.wait_cmp(8);
    assert_eq!(c, Cmp { cbr: 8, status: CbStatus::Idle as u8, cause: 0, rdata: 0xdead_beef });
    assert_eq!(b.mem_log, vec![(0x0123_4008, false, 0)]);
    let e = TlbEntry { valid: true, ctx: 1, asid: 0x10, vpn: 0x40001, ps: 0, pfn: 0x1234, dirty: true };
    assert_eq!(b.entries_of(1), vec![e]);
    assert_eq!(b.m.peek_tlb(0), e.dbg_words());
    // Completions of an FMM context set the done bit.
    assert_eq!(Tfm::decode(&b.read(tfm_addr(3))).done, 1 << 8);
    let s = b.stats();
    assert_eq!((s.hits, s.misses, s.dropins), (1, 1, 1));

    // A store through a 2M page: paddr keeps the offset inside the page, 8-byte aligned.
    b.cb(9, 0x4023_456c, true, 77);
    b.run_until(|o| o.irq != 0);
    b.write(tfh_addr(9), fill(TfhOpc::WriteRestart, 0x10, 0x4023_456c, 0x80000, PageSize::P2M, true));
    assert_eq!(b.wait_cmp(9), Cmp { cbr: 9, status: 0, cause: 0, rdata: 0 });
    assert_eq!(b.mem_log.last(), Some(&(0x8003_4568, true, 77)));
    assert_eq!(b.m.tlb_entry(1).vpn, 0x40200);
}

#[test]
fn store_to_clean_entry_faults_tlb_mod_with_call_os() {
    let mut b = Bench::new();
    b.open_ctx(0, 0x20, false, 0);
    b.cb(1, 0x7000, false, 0);
    assert_eq!(b.wait_cmp(1), Cmp { cbr: 1, status: CbStatus::CallOs as u8, cause: TfhCause::TlbMiss as u8, rdata: 0 });
    b.write(tfh_addr(1), fill(TfhOpc::WriteRestart, 0x20, 0x7000, 0x99, PageSize::P4K, false));
    assert_eq!(b.wait_cmp(1).status, CbStatus::Idle as u8);
    b.cb(1, 0x7010, true, 5);
    assert_eq!(b.wait_cmp(1), Cmp { cbr: 1, status: CbStatus::CallOs as u8, cause: TfhCause::TlbMod as u8, rdata: 0 });
    assert_eq!(b.tfh(1).state, TfhState::MissUpm as u8);
    // CBR 1 is parked (busy): another request on it is an instruction exception.
    b.cb(1, 0x7010, true, 5);
    assert_eq!(
        *b.cmps.last().unwrap(),
        Cmp { cbr: 1, status: CbStatus::Exception as u8, cause: TfhCause::InstructionException as u8, rdata: 0 }
    );
    // EXCEPTION answers the miss and completes the CB with the TFH's cause.
    b.write(tfh_addr(1), start(Tfh { opc: TfhOpc::Exception as u8, ..Tfh::default() }.encode()));
    assert_eq!(
        b.wait_cmp(1),
        Cmp { cbr: 1, status: CbStatus::Exception as u8, cause: TfhCause::TlbMod as u8, rdata: 0 }
    );
    assert_eq!(b.stats().tlbmod, 1);
}

#[test]
fn cb_on_inactive_context_is_an_instruction_exception() {
    let mut b = Bench::new();
    b.cb(20, 0x1000, false, 0);
    assert_eq!(
        b.cmps,
        vec![Cmp { cbr: 20, status: CbStatus::Exception as u8, cause: TfhCause::InstructionException as u8, rdata: 0 }]
    );
}

#[test]
fn tgh_purges_by_ctxbitmap_in_tlb_entries_over_lanes_cycles() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, false, 0);
    b.open_ctx(2, 0x10, false, 0);
    b.map(8, 0x10, 0x10_0000, 0x100, PageSize::P4K);
    b.map(8, 0x10, 0x20_0000, 0x200, PageSize::P4K);
    b.map(16, 0x10, 0x10_0000, 0x300, PageSize::P4K);
    let tgh = Tgh {
        opc: TghOpc::Invalidate as u8,
        vaddr: 0x10_0000,
        asid: 0x10,
        vaddrmask: (1 << 39) - 1,
        n: 0,
        ctxbitmap: 1 << 1,
        ..Tgh::default()
    };
    b.write(tgh_addr(0), start(tgh.encode()));
    let mut active = 0;
    while b.tgh(0).status == HandleStatus::Active as u8 {
        active += 1;
        assert!(active < 100);
    }
    let p = Params::default();
    assert_eq!(active, p.tlb_entries / p.purge_lanes);
    let left: Vec<u64> = b.entries_of(1).iter().map(|e| e.vpn).collect();
    assert_eq!(left, vec![0x200]);
    assert_eq!(b.entries_of(2).len(), 1);
    let s = b.stats();
    assert_eq!((s.purges, s.purged), (1, 1));

    // A full purge (n = 1023, global) of both contexts.
    let full = Tgh { n: 1023, global: true, ctxbitmap: 0b110, ..tgh };
    b.write(tgh_addr(5), start(full.encode()));
    b.run(20);
    assert!(b.entries_of(1).is_empty() && b.entries_of(2).is_empty());
    let s = b.stats();
    assert_eq!((s.purges, s.purged), (2, 3));
}

#[test]
fn purge_matches_by_overlap_under_the_mask() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, false, 0);
    // A 2M entry is caught by a 4K-unit range inside it.
    b.map(8, 0x10, 0x4000_0000, 0x1000, PageSize::P2M);
    b.map(8, 0x10, 0x4100_0000, 0x2000, PageSize::P4K);
    let tgh = Tgh {
        opc: TghOpc::Invalidate as u8,
        vaddr: 0x4010_0000,
        asid: 0x10,
        vaddrmask: (1 << 39) - 1,
        n: 3,
        ctxbitmap: 1 << 1,
        ..Tgh::default()
    };
    b.write(tgh_addr(1), start(tgh.encode()));
    b.run(20);
    let left: Vec<u64> = b.entries_of(1).iter().map(|e| e.vpn).collect();
    assert_eq!(left, vec![0x41000]);
    // Another ASID is not purged unless global.
    b.write(tgh_addr(1), start(Tgh { vaddr: 0x4100_0000, asid: 0x11, ..tgh }.encode()));
    b.run(20);
    assert_eq!(b.entries_of(1).len(), 1);
}

#[test]
fn race_guard_discards_stale_dropins() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 0);
    b.cb(8, 0x6000, false, 0);
    b.run_until(|o| o.irq != 0);
    assert!(!b.tfh(8).stale);
    // An invalidate of another context does not touch the TFH.
    let tgh =
        Tgh { opc: TghOpc::Invalidate as u8, vaddr: 0x9000_0000, asid: 0x10, ctxbitmap: 1 << 2, ..Tgh::default() };
    b.write(tgh_addr(0), start(tgh.encode()));
    assert!(!b.tfh(8).stale);
    // One covering context 1 marks it stale.
    b.write(tgh_addr(1), start(Tgh { ctxbitmap: 1 << 1, ..tgh }.encode()));
    assert!(b.tfh(8).stale);
    b.read(tfm_addr(0));
    b.write(tfh_addr(8), fill(TfhOpc::WriteRestart, 0x10, 0x6000, 0x66, PageSize::P4K, true));
    let h = b.tfh(8);
    assert_eq!((h.status, h.state, h.stale), (HandleStatus::Idle as u8, TfhState::Idle as u8, false));
    assert!(b.entries_of(1).is_empty());
    // The CB re-executes and misses again while the TGH still runs: born stale.
    b.run_until(|o| o.irq != 0);
    b.read(tfm_addr(0));
    assert!(b.tfh(8).stale);
    while b.tgh(1).status == HandleStatus::Active as u8 {}
    b.write(tfh_addr(8), fill(TfhOpc::WriteRestart, 0x10, 0x6000, 0x66, PageSize::P4K, true));
    b.run_until(|o| o.irq != 0);
    b.read(tfm_addr(0));
    assert!(!b.tfh(8).stale);
    // Now the dropin lands and the CB hits.
    b.write(tfh_addr(8), fill(TfhOpc::WriteRestart, 0x10, 0x6000, 0x66, PageSize::P4K, true));
    assert_eq!(b.wait_cmp(8).status, CbStatus::Idle as u8);
    assert_eq!(b.mem_log, vec![(0x66000, false, 0)]);
    let s = b.stats();
    assert_eq!((s.misses, s.stale, s.dropins, s.hits), (3, 2, 1, 1));
}

#[test]
fn tgh_start_at_the_miss_edge_marks_the_new_miss_stale() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 0);
    b.cb(8, 0x6000, false, 0);
    // The lookup happens at the next edge, together with this start.
    let tgh = Tgh { opc: TghOpc::Invalidate as u8, ctxbitmap: 1 << 1, ..Tgh::default() };
    b.write(tgh_addr(0), start(tgh.encode()));
    let h = b.tfh(8);
    assert_eq!(h.state, TfhState::MissFmm as u8);
    assert!(h.stale);
}

#[test]
fn write_only_and_page_size_refusal() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 0);
    b.cb(8, 0x6000, false, 0);
    b.run_until(|o| o.irq != 0);
    // 64K (code 2) is not in sizeavail 0x23: refused, the CB stays parked.
    b.write(tfh_addr(8), fill(TfhOpc::WriteRestart, 0x10, 0x6000, 0x60, PageSize::P64K, true));
    let h = b.tfh(8);
    assert_eq!((h.status, h.state, h.cause), (1, TfhState::HwErr as u8, TfhCause::HwErrorPagesize as u8));
    assert!(b.entries_of(1).is_empty());
    // WRITE_ONLY installs and leaves the miss pending; RESTART then re-executes.
    b.write(tfh_addr(8), fill(TfhOpc::WriteOnly, 0x10, 0x6000, 0x60, PageSize::P16K, true));
    let h = b.tfh(8);
    assert_eq!((h.status, h.state), (HandleStatus::Exception as u8, TfhState::HwErr as u8));
    assert_eq!(b.entries_of(1)[0].vpn, 0x4);
    b.write(tfh_addr(8), start(Tfh { opc: TfhOpc::Restart as u8, ..Tfh::default() }.encode()));
    assert_eq!(b.wait_cmp(8).status, CbStatus::Idle as u8);
    assert_eq!(b.mem_log, vec![(0x60000 + 0x2000, false, 0)]);
    // Commands that need a pending miss fail on an idle TFH.
    b.write(tfh_addr(8), start(Tfh { opc: TfhOpc::Restart as u8, ..Tfh::default() }.encode()));
    assert_eq!(b.tfh(8).status, HandleStatus::Exception as u8);
}

#[test]
fn user_polling_mode_completes_with_call_os() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, true, 0);
    b.cb(8, 0x6000, false, 0);
    b.run_until(|o| o.irq != 0);
    b.write(tfh_addr(8), start(Tfh { opc: TfhOpc::UserPollingMode as u8, ..Tfh::default() }.encode()));
    let c = b.wait_cmp(8);
    assert_eq!((c.status, c.cause), (CbStatus::CallOs as u8, TfhCause::TlbMiss as u8));
    let h = b.tfh(8);
    assert_eq!((h.status, h.state), (HandleStatus::Exception as u8, TfhState::MissUpm as u8));
    // The fault bit is untouched and the CBR stays busy until answered.
    assert_eq!(Tfm::decode(&b.read(tfm_addr(0))).fault, 1 << 8);
    // DEALLOCATE is refused while the miss is pending.
    b.write(cch_addr(1), start(Cch { opc: CchOpc::Deallocate as u8, ..Cch::default() }.encode()));
    assert_eq!(Cch::decode(&b.read(cch_addr(1))).status, HandleStatus::Exception as u8);
}

#[test]
fn interrupt_sync_completes_one_edge_later_at_the_earliest() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, false, 0);
    let cch = Cch::decode(&b.read(cch_addr(1)));
    b.write(cch_addr(1), start(Cch { opc: CchOpc::InterruptSync as u8, ..cch }.encode()));
    // The read at the completing edge still sees the pre-edge ACTIVE status.
    let h = Cch::decode(&b.read(cch_addr(1)));
    assert_eq!((h.status, h.state), (HandleStatus::Active as u8, CchState::Interrupted as u8));
    let h = Cch::decode(&b.read(cch_addr(1)));
    assert_eq!(h.status, HandleStatus::Idle as u8);
    // An interrupted context refuses CBs.
    b.cb(8, 0x1000, false, 0);
    assert_eq!(b.cmps.last().unwrap().cause, TfhCause::InstructionException as u8);
}

#[test]
fn mmio_errors_have_no_effect_but_are_counted() {
    let mut b = Bench::new();
    let mut errors = 0;
    for addr in [0x1_8008, 0x0_8040, 0x0_1000, 0x0_7f00, 0x1_0000, 0x2_1000, 0x2_8040, 0x2_8100, 0x3_0000, 0xffff_ffc0]
    {
        let o = b.access(false, addr, 0, [0; 8]);
        assert!(o.mmio_rsp_err && o.mmio_rsp_data == [0; 8], "{addr:#x}");
        errors += 1;
    }
    for addr in [tfm_addr(0), STAT_ADDR] {
        b.write_err(addr, 0xff, [!0; 8]);
        errors += 1;
    }
    // Start on an ACTIVE TGH: refused, fields unchanged.
    let tgh = Tgh { opc: TghOpc::Invalidate as u8, vaddr: 0x1000, ctxbitmap: 1, ..Tgh::default() };
    b.write(tgh_addr(2), start(tgh.encode()));
    b.write_err(tgh_addr(2), 0xff, start(Tgh { vaddr: 0x2000, ..tgh }.encode()));
    errors += 1;
    assert_eq!(b.tgh(2).vaddr, 0x1000);
    // Reserved opcodes with cmd: refused, nothing written.
    b.write_err(tfh_addr(3), 0xff, start(Tfh { opc: 5, fillvaddr: 0x5000, ..Tfh::default() }.encode()));
    b.write_err(tfh_addr(3), 0xff, start(Tfh { opc: 6, ..Tfh::default() }.encode()));
    for opc in [0, 6, 7] {
        b.write_err(cch_addr(3), 0xff, start(Cch { opc, asid: [5; 8], ..Cch::default() }.encode()));
    }
    errors += 5;
    assert_eq!(b.tfh(3).fillvaddr, 0);
    assert_eq!(Cch::decode(&b.read(cch_addr(3))).asid, [0; 8]);
    // Without cmd the same opcode is just stored; only the enabled DWs are written.
    b.access(true, tfh_addr(3), 0b1_0001, Tfh { opc: 5, pfn: 9, fillvaddr: 0x5000, ..Tfh::default() }.encode());
    let h = b.tfh(3);
    assert_eq!((h.opc, h.pfn, h.fillvaddr), (5, 0, 0x5000));
    assert_eq!(b.stats().mmio_errors, errors);
}

#[test]
fn overlapping_dropins_can_leave_a_multi_match() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, false, 0);
    b.map(8, 0x10, 0x10000, 0x100, PageSize::P4K);
    b.map(8, 0x10, 0x11000, 0x101, PageSize::P4K);
    // WRITE_ONLY on the idle TFH (ctxnum still 1): the 16K page replaces the lowest
    // overlapping entry only.
    b.write(tfh_addr(8), fill(TfhOpc::WriteOnly, 0x10, 0x10000, 0x200, PageSize::P16K, true));
    assert_eq!(b.tfh(8).status, HandleStatus::Idle as u8);
    assert_eq!(b.entries_of(1).len(), 2);
    assert_eq!(b.m.multi_match_violations(), 0);
    b.cb(8, 0x11008, false, 0);
    b.wait_cmp(8);
    assert_eq!(b.m.multi_match_violations(), 1);
    // The lowest index wins: entry 0 is now the 16K page.
    assert_eq!(b.mem_log.last(), Some(&((0x200 << 12) + 0x1008, false, 0)));
}

#[test]
fn replacement_is_round_robin_when_full() {
    let mut b = Bench::new();
    b.open_ctx(0, 0x10, false, 0);
    for i in 0..129u64 {
        b.map(0, 0x10, i << 12, i, PageSize::P4K);
    }
    // 128 entries filled in order, the 129th replaced entry rr_q = 0.
    assert_eq!(b.m.tlb_entry(0).vpn, 128);
    assert_eq!(b.m.tlb_entry(1).vpn, 1);
}

#[test]
fn invalid_params_are_refused() {
    let bad = Params { num_cbr: 8, ..Params::default() };
    assert_eq!(RefModel::try_new(bad).err(), Some(ParamsError::CbrSplit { num_cbr: 8, num_ctx: 16 }));
    let bad = Params { tlb_entries: 96, ..Params::default() };
    assert_eq!(RefModel::try_new(bad).err(), Some(ParamsError::NotPowerOfTwo { name: "tlb_entries", value: 96 }));
    assert!(RefModel::try_new(Params { num_tfm: 17, ..Params::default() }).is_err());
    // A smaller chiplet works: 4 contexts of 4 CBRs, 32 entries purged 4 a cycle.
    let small = Params { num_ctx: 4, num_cbr: 16, num_tgh: 2, num_tfm: 2, tlb_entries: 32, purge_lanes: 4, ..Params::default() };
    assert!(RefModel::try_new(small).is_ok());
}

/// Edges TGH `g`, just started, reads ACTIVE (one status read per edge).
fn active_reads(b: &mut Bench, g: usize) -> u32 {
    let mut n = 0;
    while b.tgh(g).status == HandleStatus::Active as u8 {
        n += 1;
        assert!(n < 10_000, "TGH {g} never completes");
    }
    n
}

/// A one-page INVALIDATE of context 1 (ASID 0x10) at `vaddr`.
fn inval(vaddr: u64) -> Tgh {
    Tgh {
        opc: TghOpc::Invalidate as u8,
        vaddr,
        asid: 0x10,
        vaddrmask: (1 << 39) - 1,
        n: 0,
        ctxbitmap: 1 << 1,
        ..Tgh::default()
    }
}

#[test]
fn purge_latency_is_scan_plus_base_plus_entry_cost_plus_the_seeded_tail() {
    let timing = PurgeTiming { engines: 1, base: 10, entry: 3, tail: 5 };
    let p = Params { purge: timing, ..Params::default() };
    let scan = (p.tlb_entries / p.purge_lanes) as u32;
    let mut seen = std::collections::BTreeSet::new();
    for seed in [0u16, 1, 0x1234, 0xbeef, 7, 99] {
        let mut b = Bench::with(p, seed);
        b.open_ctx(1, 0x10, false, 0);
        b.map(8, 0x10, 0x10_0000, 0x100, PageSize::P4K);
        // The first draw is the reset state: the seed (0xACE1 for seed 0).
        let t = purge::tail_steps(purge::lfsr_seed(seed));
        b.write(tgh_addr(0), start(inval(0x10_0000).encode()));
        let first = active_reads(&mut b, 0);
        assert_eq!(first, scan + timing.base + timing.entry + timing.tail * t, "seed {seed:#x}");
        seen.insert(first);
        assert!(b.entries_of(1).is_empty());
        // The second TGH draws the PRNG's next value and purges nothing: no entry cost.
        let t2 = purge::tail_steps(purge::lfsr_next8(purge::lfsr_seed(seed)));
        b.write(tgh_addr(0), start(inval(0x10_0000).encode()));
        let second = active_reads(&mut b, 0);
        assert_eq!(second, scan + timing.base + timing.tail * t2, "seed {seed:#x}");
        seen.insert(second);
    }
    assert!(seen.len() > 1, "the seed changes the tails: {seen:?}");
}

#[test]
fn engines_purge_concurrently_and_a_full_chip_queues() {
    let timing = PurgeTiming { engines: 2, base: 40, entry: 0, tail: 0 };
    let run = |engines: usize| {
        let p = Params { purge: PurgeTiming { engines, ..timing }, ..Params::default() };
        let mut b = Bench::with(p, 1);
        b.open_ctx(1, 0x10, false, 0);
        // Three TGHs started at consecutive edges; how long until the last is IDLE.
        for g in 0..3 {
            b.write(tgh_addr(g), start(inval(0x10_0000 + 0x1000 * g as u64).encode()));
        }
        let t0 = b.m.cycles();
        for g in 0..3 {
            active_reads(&mut b, g);
        }
        let s = b.stats();
        assert_eq!(s.purges, 3);
        b.m.cycles() - t0
    };
    let scan = 16 + 40;
    let (one, two) = (run(1), run(2));
    // One engine: the three purges one after the other; two: the third waits for the first.
    assert!(one >= 3 * scan - 2 && one <= 3 * scan + 2, "one engine: {one}");
    assert!(two >= 2 * scan - 2 && two <= 2 * scan + 2, "two engines: {two}");
}

#[test]
fn an_invalidate_with_a_page_size_above_8_is_refused_with_cause_pagesize() {
    let mut b = Bench::new();
    b.open_ctx(1, 0x10, false, 0);
    b.map(8, 0x10, 0x10_0000, 0x100, PageSize::P4K);
    // A pending miss of context 1: a refused TGH must not mark it stale.
    b.cb(9, 0x50_0000, false, 0);
    assert_eq!(b.wait_cmp(9).status, CbStatus::CallOs as u8);
    let bad = Tgh { pagesize: 9, ..inval(0x10_0000) };
    b.write(tgh_addr(3), start(bad.encode()));
    let t = b.tgh(3);
    assert_eq!((t.status, t.cause), (HandleStatus::Exception as u8, TghCause::Pagesize as u8));
    b.run(40);
    assert_eq!(b.entries_of(1).len(), 1, "nothing purged");
    assert!(!b.tfh(9).stale, "nothing marked stale");
    assert_eq!(b.stats().purges, 0);
    // The same handle started with a valid page size purges, and its cause reads 0 again.
    b.write(tgh_addr(3), start(inval(0x10_0000).encode()));
    assert_eq!(b.tgh(3).cause, 0);
    active_reads(&mut b, 3);
    assert!(b.entries_of(1).is_empty());
    assert!(b.tfh(9).stale);
}

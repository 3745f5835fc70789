//! Chiplet behaviour, each body run on the RTL, on the reference model, and on both in lockstep
//! (which also asserts that no output ever differed).

use gru_sim::chiplet::{CbRequest, Chiplet, Completion, FlatMemory};
use gru_sim::handles::*;
use gru_sim::model::TlbEntry;
use gru_sim::ports::CycleModel;

macro_rules! on_all {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use gru_sim::{lockstep::Lockstep, model::RefModel, rtl::{Rtl, WaveFormat}};
            #[test]
            fn rtl() {
                super::$name(&mut super::chip(Rtl::new(WaveFormat::Fst)));
            }
            #[test]
            fn model() {
                super::$name(&mut super::chip(RefModel::new(Default::default())));
            }
            #[test]
            fn lockstep() {
                let mut c = super::chip(Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Default::default())));
                super::$name(&mut c);
                if let Some(d) = c.model_mut().divergence() {
                    panic!("{d}");
                }
            }
        }
    )*};
}

on_all!(
    purge_several_contexts_one_write,
    global_purge,
    asid_and_range_overlap_each_pagesize,
    full_purge,
    tlb_mod_on_store_to_clean_entry,
    fmm_miss_irq_and_fault_map_read_clear,
    upm_miss_call_os,
    tfh_write_only_then_restart,
    tfh_exception,
    tfh_user_polling_mode,
    tfh_restart_misses_again,
    sizeavail_refusal,
    race_guard_discards_stale_dropin,
    deallocate_refused_while_fault_pending,
    mmio_error_responses,
);

fn chip<M: CycleModel>(m: M) -> Chiplet<M> {
    Chiplet::new(m, Box::new(FlatMemory::default()))
}

/// Region-0 ASIDs of two address spaces (a base owns 8 region ASIDs).
const ASID_A: u32 = 8;
const ASID_B: u32 = 16;
const V: u64 = 0x4000_0000;
const ALL_SIZES: u16 = 0x1ff;

fn setup_ctx<M: CycleModel>(c: &mut Chiplet<M>, ctx: usize, asid_base: u32, fmm: bool, sizeavail: u16) {
    let mut cch = Cch {
        tfm_fault_bit_enable: fmm,
        tlb_int_enable: true,
        tlb_int_select: ctx as u8,
        ..Default::default()
    };
    for r in 0..8 {
        cch.asid[r] = asid_base + r as u32;
        cch.sizeavail[r] = sizeavail;
    }
    for op in [CchOpc::Allocate, CchOpc::Start] {
        cch.opc = op as u8;
        let done = Cch::decode(&c.start_and_wait(cch_addr(ctx), cch.encode()).unwrap());
        assert_eq!(done.status, HandleStatus::Idle as u8, "CCH {ctx} {op:?}");
    }
}

/// What a dropin installs.
#[derive(Clone, Copy)]
struct Fill {
    vaddr: u64,
    asid: u32,
    pfn: u64,
    ps: u8,
    dirty: bool,
}

fn tfh_cmd<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8, op: TfhOpc, fill: Option<Fill>) -> Tfh {
    let mut t = Tfh { opc: op as u8, ..Default::default() };
    if let Some(f) = fill {
        t.fillvaddr = f.vaddr;
        t.fillasid = f.asid;
        t.pfn = f.pfn;
        t.pagesize = f.ps;
        t.dirty = f.dirty;
    }
    Tfh::decode(&c.start_and_wait(tfh_addr(cbr as usize), t.encode()).unwrap())
}

fn tfh<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8) -> Tfh {
    Tfh::decode(&c.mmio_read(tfh_addr(cbr as usize)).unwrap())
}

fn wait_cmp<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8) -> Completion {
    let mut found = None;
    c.step_until(5000, |c| {
        found = c.take_completions().into_iter().find(|x| x.cbr == cbr);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no completion for CBR {cbr}"))
}

fn no_cmp<M: CycleModel>(c: &mut Chiplet<M>, cycles: u64) {
    c.step_n(cycles);
    assert_eq!(c.take_completions(), vec![], "unexpected completion");
}

fn access<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8, vaddr: u64, write: bool, wdata: u64) -> Completion {
    c.issue_cb(CbRequest { cbr, vaddr, write, wdata });
    wait_cmp(c, cbr)
}

/// Fault `vaddr` in through a UPM context: load → CALL_OS → WRITE_RESTART → the load completes.
fn fill<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8, f: Fill) {
    let first = access(c, cbr, f.vaddr, false, 0);
    assert_eq!(first.status, CbStatus::CallOs as u8);
    let t = tfh_cmd(c, cbr, TfhOpc::WriteRestart, Some(f));
    assert_eq!(t.status, HandleStatus::Idle as u8, "dropin refused: {t:?}");
    assert_eq!(wait_cmp(c, cbr).status, CbStatus::Idle as u8);
}

fn valid_entries<M: CycleModel>(c: &mut Chiplet<M>) -> Vec<TlbEntry> {
    (0..128).map(|i| c.tlb_entry(i)).filter(|e| e.valid).collect()
}

struct Inval {
    vaddr: u64,
    asid: u32,
    ps: u8,
    n: u16,
    bitmap: u16,
    global: bool,
}

/// The TGH line of an INVALIDATE of `i` (every vaddr bit compared).
fn tgh_line(i: Inval) -> [u64; 8] {
    Tgh {
        opc: TghOpc::Invalidate as u8,
        vaddr: i.vaddr,
        asid: i.asid,
        pagesize: i.ps,
        global: i.global,
        vaddrmask: (1 << 39) - 1,
        n: i.n,
        ctxbitmap: i.bitmap,
        ..Default::default()
    }
    .encode()
}

fn invalidate<M: CycleModel>(c: &mut Chiplet<M>, g: usize, i: Inval) {
    let done = Tgh::decode(&c.start_and_wait(tgh_addr(g), tgh_line(i)).unwrap());
    assert_eq!(done.status, HandleStatus::Idle as u8);
}

fn inval(vaddr: u64, asid: u32, bitmap: u16) -> Inval {
    Inval { vaddr, asid, ps: 0, n: 0, bitmap, global: false }
}

fn stats<M: CycleModel>(c: &mut Chiplet<M>) -> Stats {
    Stats::decode(&c.mmio_read(STAT_ADDR).unwrap())
}

fn page(vaddr: u64, asid: u32, pfn: u64) -> Fill {
    Fill { vaddr, asid, pfn, ps: 0, dirty: true }
}

fn purge_several_contexts_one_write<M: CycleModel>(c: &mut Chiplet<M>) {
    for ctx in 0..4 {
        setup_ctx(c, ctx, ASID_A, false, ALL_SIZES);
    }
    setup_ctx(c, 4, ASID_B, false, ALL_SIZES);
    for ctx in 0..5u8 {
        let asid = if ctx == 4 { ASID_B } else { ASID_A };
        fill(c, ctx * 8, page(V, asid, 0x100 + u64::from(ctx)));
    }
    assert_eq!(valid_entries(c).len(), 5);
    invalidate(c, 0, inval(V, ASID_A, 0b0111));
    let left: Vec<u8> = valid_entries(c).iter().map(|e| e.ctx).collect();
    assert_eq!(left, vec![3, 4], "contexts outside the bitmap (3) or of another ASID (4) survive");
    assert_eq!(access(c, 0, V, false, 0).status, CbStatus::CallOs as u8, "ctx 0 was purged");
    assert_eq!(access(c, 24, V, false, 0).status, CbStatus::Idle as u8, "ctx 3 still hits");
    let s = stats(c);
    assert_eq!((s.purges, s.purged), (1, 3));
}

fn global_purge<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    setup_ctx(c, 1, ASID_B, false, ALL_SIZES);
    fill(c, 0, page(V, ASID_A, 1));
    fill(c, 8, page(V, ASID_B, 2));
    invalidate(c, 3, Inval { global: true, ..inval(V, 999, 0b01) });
    assert_eq!(valid_entries(c).iter().map(|e| e.ctx).collect::<Vec<_>>(), vec![1]);
    invalidate(c, 3, Inval { global: true, ..inval(V, 999, 0b11) });
    assert!(valid_entries(c).is_empty(), "global ignores the ASID");
}

fn asid_and_range_overlap_each_pagesize<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    for code in 0..9u8 {
        let size = 4096u64 << PAGE_SHIFTS[code as usize];
        let f = Fill { vaddr: V + size / 2, asid: ASID_A, pfn: 0x4000, ps: code, dirty: true };
        fill(c, 0, f);
        let e = valid_entries(c);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].vpn << 12, e[0].ps), (V, code), "entry aligned down to its page size");
        invalidate(c, 1, inval(V + size, ASID_A, 1));
        invalidate(c, 1, inval(V - 4096, ASID_A, 1));
        invalidate(c, 1, inval(V, ASID_A + 1, 1));
        assert_eq!(valid_entries(c).len(), 1, "code {code}: no overlap or other ASID must not purge");
        let last = V + size - 4096;
        invalidate(c, 1, inval(last, ASID_A, 1));
        assert!(valid_entries(c).is_empty(), "code {code}: a 4K purge of the last page hits the entry");
        fill(c, 0, f);
        invalidate(c, 1, Inval { n: 1, ..inval(V - 4096, ASID_A, 1) });
        assert!(valid_entries(c).is_empty(), "code {code}: a 2-page purge starting before it hits it");
    }
}

fn full_purge<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    for (k, va) in [V, V + 0x10_0000_0000, 0x7fff_0000_0000, (1 << 61) | V].into_iter().enumerate() {
        let asid = ASID_A + (va >> 61) as u32;
        fill(c, 0, page(va, asid, k as u64));
    }
    invalidate(c, 2, Inval { n: TGH_FULL_PURGE_N, ..inval(0, ASID_A, 1) });
    let left = valid_entries(c);
    assert_eq!(left.len(), 1, "only the region-1 entry (another ASID) survives");
    assert_eq!(left[0].asid, ASID_A + 1);
}

fn tlb_mod_on_store_to_clean_entry<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    fill(c, 0, Fill { dirty: false, ..page(V, ASID_A, 0x55) });
    let st = access(c, 0, V + 8, true, 0xabcd);
    assert_eq!((st.status, st.cause), (CbStatus::CallOs as u8, TfhCause::TlbMod as u8));
    let t = tfh(c, 0);
    assert_eq!((t.state, t.cause), (TfhState::MissUpm as u8, TfhCause::TlbMod as u8));
    tfh_cmd(c, 0, TfhOpc::WriteRestart, Some(page(V, ASID_A, 0x55)));
    assert_eq!(wait_cmp(c, 0).status, CbStatus::Idle as u8);
    assert_eq!(access(c, 0, V + 8, false, 0).rdata, 0xabcd, "the store reached memory at pfn 0x55");
    assert!(c.tlb_entry(0).dirty);
    let s = stats(c);
    assert_eq!((s.tlbmod, s.misses, s.dropins), (1, 1, 2));
}

fn fmm_miss_irq_and_fault_map_read_clear<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 2, ASID_A, true, ALL_SIZES);
    c.issue_cb(CbRequest { cbr: 17, vaddr: V + 0x18, write: false, wdata: 0 });
    assert!(c.step_until(200, |c| c.irq() != 0), "irq rises");
    assert_eq!(c.irq(), 1 << 2, "fault map = tlb_int_select");
    assert_eq!(c.take_completions(), vec![]);
    let t = tfh(c, 17);
    assert_eq!(
        (t.status, t.state, t.cause, t.missvaddr, t.missasid, t.ctxnum),
        (HandleStatus::Exception as u8, TfhState::MissFmm as u8, TfhCause::TlbMiss as u8, V + 0x18, ASID_A, 2)
    );
    let m = Tfm::decode(&c.mmio_read(tfm_addr(2)).unwrap());
    assert_eq!(m.fault, 1 << 17);
    c.step();
    assert_eq!(c.irq(), 0, "read-and-clear drops the line");
    assert_eq!(Tfm::decode(&c.mmio_read(tfm_addr(2)).unwrap()).fault, 0);
    tfh_cmd(c, 17, TfhOpc::WriteRestart, Some(page(V, ASID_A, 9)));
    assert_eq!(wait_cmp(c, 17).status, CbStatus::Idle as u8);
    assert_eq!(Tfm::decode(&c.mmio_read(tfm_addr(2)).unwrap()).done, 1 << 17, "done bit of an FMM context");
}

fn upm_miss_call_os<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 1, ASID_B, false, ALL_SIZES);
    let r = access(c, 9, V, false, 0);
    assert_eq!((r.status, r.cause), (CbStatus::CallOs as u8, TfhCause::TlbMiss as u8));
    assert_eq!(c.irq(), 0);
    assert_eq!(tfh(c, 9).state, TfhState::MissUpm as u8);
    let busy = access(c, 9, V, false, 0);
    assert_eq!(
        (busy.status, busy.cause),
        (CbStatus::Exception as u8, TfhCause::InstructionException as u8),
        "a CBR with an unanswered CB refuses a new one"
    );
}

fn fmm_fault<M: CycleModel>(c: &mut Chiplet<M>, cbr: u8, vaddr: u64) {
    c.issue_cb(CbRequest { cbr, vaddr, write: false, wdata: 0 });
    assert!(c.step_until(200, |c| c.irq() != 0));
    c.mmio_read(tfm_addr(0)).unwrap();
}

fn tfh_write_only_then_restart<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 3, V);
    let t = tfh_cmd(c, 3, TfhOpc::WriteOnly, Some(page(V, ASID_A, 7)));
    assert_eq!((t.status, t.state), (HandleStatus::Exception as u8, TfhState::MissFmm as u8), "miss still pending");
    assert_eq!(valid_entries(c).len(), 1, "installed");
    no_cmp(c, 50);
    let t = tfh_cmd(c, 3, TfhOpc::Restart, None);
    assert_eq!(t.state, TfhState::Idle as u8);
    assert_eq!(wait_cmp(c, 3).status, CbStatus::Idle as u8, "re-executed and hit");
    assert_eq!(c.irq(), 0);
}

fn tfh_exception<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    let idle = tfh_cmd(c, 2, TfhOpc::Exception, None);
    assert_eq!(idle.status, HandleStatus::Exception as u8, "no pending miss: the command fails");
    fmm_fault(c, 2, V);
    tfh_cmd(c, 2, TfhOpc::Exception, None);
    let r = wait_cmp(c, 2);
    assert_eq!((r.status, r.cause), (CbStatus::Exception as u8, TfhCause::TlbMiss as u8));
    assert_eq!(tfh(c, 2).state, TfhState::Idle as u8);
    fmm_fault(c, 2, V);
    assert_eq!(tfh(c, 2).state, TfhState::MissFmm as u8, "the CBR is free again");
}

fn tfh_user_polling_mode<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 5, V);
    let t = tfh_cmd(c, 5, TfhOpc::UserPollingMode, None);
    assert_eq!(t.state, TfhState::MissUpm as u8);
    let r = wait_cmp(c, 5);
    assert_eq!((r.status, r.cause), (CbStatus::CallOs as u8, TfhCause::TlbMiss as u8));
    tfh_cmd(c, 5, TfhOpc::WriteRestart, Some(page(V, ASID_A, 3)));
    assert_eq!(wait_cmp(c, 5).status, CbStatus::Idle as u8);
}

fn tfh_restart_misses_again<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 1, V);
    tfh_cmd(c, 1, TfhOpc::Restart, None);
    assert!(c.step_until(200, |c| c.irq() != 0), "re-executed without an entry: a second fault");
    assert_eq!(tfh(c, 1).state, TfhState::MissFmm as u8);
    assert_eq!(stats(c).misses, 2);
}

fn sizeavail_refusal<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, false, 1);
    assert_eq!(access(c, 0, V, false, 0).status, CbStatus::CallOs as u8);
    let t = tfh_cmd(c, 0, TfhOpc::WriteRestart, Some(Fill { ps: 5, ..page(V, ASID_A, 0x200) }));
    assert_eq!(
        (t.status, t.state, t.cause),
        (HandleStatus::Exception as u8, TfhState::HwErr as u8, TfhCause::HwErrorPagesize as u8)
    );
    assert!(valid_entries(c).is_empty());
    tfh_cmd(c, 0, TfhOpc::Exception, None);
    let r = wait_cmp(c, 0);
    assert_eq!((r.status, r.cause), (CbStatus::Exception as u8, TfhCause::HwErrorPagesize as u8));
}

fn race_guard_discards_stale_dropin<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    setup_ctx(c, 1, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 0, V);
    // An invalidate of another context does not make the miss stale.
    invalidate(c, 0, inval(V, ASID_A, 0b10));
    assert!(!tfh(c, 0).stale);
    // The driver checked range_active, then an overlapping invalidate starts before its dropin.
    let t = Tgh {
        opc: TghOpc::Invalidate as u8,
        vaddr: V,
        asid: ASID_A,
        vaddrmask: (1 << 39) - 1,
        ctxbitmap: 0b01,
        ..Default::default()
    };
    c.mmio_write(tgh_addr(4), 0xff, start(t.encode())).unwrap();
    assert!(tfh(c, 0).stale, "TGH start marks the pending miss stale");
    // Let the purge finish so that the re-executed CB's miss is not itself stale.
    while Tgh::decode(&c.mmio_read(tgh_addr(4)).unwrap()).status == HandleStatus::Active as u8 {}
    let d = tfh_cmd(c, 0, TfhOpc::WriteRestart, Some(page(V, ASID_A, 0x77)));
    assert_eq!(d.status, HandleStatus::Idle as u8);
    assert!(valid_entries(c).is_empty(), "the stale dropin installed nothing");
    assert!(c.step_until(500, |c| c.irq() != 0), "the CB re-executes and misses again");
    c.mmio_read(tfm_addr(0)).unwrap();
    assert!(!tfh(c, 0).stale, "the new miss latched after the purge finished");
    tfh_cmd(c, 0, TfhOpc::WriteRestart, Some(page(V, ASID_A, 0x77)));
    assert_eq!(wait_cmp(c, 0).status, CbStatus::Idle as u8);
    let s = stats(c);
    assert_eq!((s.stale, s.dropins, s.misses), (1, 1, 2));
}

fn deallocate_refused_while_fault_pending<M: CycleModel>(c: &mut Chiplet<M>) {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 4, V);
    let mut cch = Cch::decode(&c.mmio_read(cch_addr(0)).unwrap());
    cch.opc = CchOpc::InterruptSync as u8;
    let s = Cch::decode(&c.start_and_wait(cch_addr(0), cch.encode()).unwrap());
    assert_eq!((s.status, s.state), (HandleStatus::Idle as u8, CchState::Interrupted as u8));
    cch.opc = CchOpc::Deallocate as u8;
    let d = Cch::decode(&c.start_and_wait(cch_addr(0), cch.encode()).unwrap());
    assert_eq!((d.status, d.state), (HandleStatus::Exception as u8, CchState::Interrupted as u8));
    tfh_cmd(c, 4, TfhOpc::Exception, None);
    wait_cmp(c, 4);
    let d = Cch::decode(&c.start_and_wait(cch_addr(0), cch.encode()).unwrap());
    assert_eq!((d.status, d.state), (HandleStatus::Idle as u8, CchState::Inactive as u8));
}

fn mmio_error_responses<M: CycleModel>(c: &mut Chiplet<M>) {
    let bad_reads = [HS_TFH_BASE + 4, HS_TFH_BASE + 0x40, HS_STAT_BASE + HS_STRIDE, 0x3_0000, 0xffff_ffc0];
    for a in bad_reads {
        assert!(c.mmio_read(a).is_err(), "read {a:#x}");
    }
    assert!(c.mmio_write(tfm_addr(0), 0xff, [0; 8]).is_err(), "TFM is read-only");
    assert!(c.mmio_write(STAT_ADDR, 0xff, [0; 8]).is_err(), "statistics are read-only");
    let mut tfh5 = [0u64; 8];
    TFH_OPC.set(&mut tfh5, 5);
    assert!(c.mmio_write(tfh_addr(0), 0xff, start(tfh5)).is_err(), "reserved TFH opcode");
    for op in [0, 6] {
        let mut cch = [0u64; 8];
        CCH_OPC.set(&mut cch, op);
        assert!(c.mmio_write(cch_addr(0), 0xff, start(cch)).is_err(), "reserved CCH opcode {op}");
    }
    let t = Tgh { opc: TghOpc::Invalidate as u8, ctxbitmap: 1, ..Default::default() };
    c.mmio_write(tgh_addr(0), 0xff, start(t.encode())).unwrap();
    assert!(c.mmio_write(tgh_addr(0), 0xff, start(t.encode())).is_err(), "start on an ACTIVE TGH");
    assert!(c.mmio_read(tgh_addr(23)).is_ok() && c.mmio_read(tfh_addr(127)).is_ok());
    assert_eq!(stats(c).mmio_errors, 11);
}

// ---------------------------------------------------------------------------------------------
// RTL mutants (gru_sim::mutant): each directed sequence below returns whether its bug showed.
// On the mutant's model the bug shows and lockstep with the reference model diverges; on the
// RTL as designed the same sequence shows no bug and no divergence.

macro_rules! mutant_shows {
    ($($name:ident: $mutant:ident => $seq:ident),* $(,)?) => {$(
        mod $name {
            use gru_sim::{lockstep::Lockstep, model::RefModel, mutant::RtlMutant, rtl::{Rtl, WaveFormat}};
            #[test]
            fn mutant() {
                let rtl = Rtl::with_mutant(RtlMutant::$mutant);
                assert_eq!(rtl.mutant(), Some(RtlMutant::$mutant));
                let mut c = super::chip(Lockstep::new(rtl, RefModel::new(Default::default())));
                assert!(super::$seq(&mut c), "{}: the bug did not show", RtlMutant::$mutant);
                let d = c.model_mut().divergence().unwrap_or_else(|| panic!("{}: lockstep saw no divergence", RtlMutant::$mutant));
                eprintln!("{}: {d}", RtlMutant::$mutant);
            }
            #[test]
            fn designed() {
                let mut c = super::chip(Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Default::default())));
                assert!(!super::$seq(&mut c), "the RTL as designed shows the bug of {}", RtlMutant::$mutant);
                if let Some(d) = c.model_mut().divergence() {
                    panic!("{d}");
                }
            }
        }
    )*};
}

mutant_shows!(
    mutant_no_race_guard: NoRaceGuard => stale_dropin_installs,
    mutant_purge_skip_last_lane: PurgeSkipLastLane => purge_leaves_an_entry,
    mutant_no_tlb_mod: NoTlbMod => store_through_clean_entry,
    mutant_purge_n_is_count: PurgeNIsCount => last_page_survives_range_purge,
    mutant_asid_alias: AsidAlias => reused_context_hits_other_address_space,
    mutant_tfm_no_clear: TfmNoClear => fault_map_read_does_not_clear,
    mutant_tgh_stuck: TghStuck => tgh_stays_active,
);


/// Poll TGH `g` until it leaves ACTIVE; false if it is still ACTIVE after `cycles`.
fn tgh_done<M: CycleModel>(c: &mut Chiplet<M>, g: usize, cycles: u64) -> bool {
    let end = c.cycle() + cycles;
    while c.cycle() < end {
        if Tgh::decode(&c.mmio_read(tgh_addr(g)).unwrap()).status != HandleStatus::Active as u8 {
            return true;
        }
    }
    false
}

/// NO_RACE_GUARD: an invalidate covering the context starts between the miss and its dropin.
fn stale_dropin_installs<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, ASID_A, true, ALL_SIZES);
    fmm_fault(c, 0, V);
    c.mmio_write(tgh_addr(4), 0xff, start(tgh_line(inval(V, ASID_A, 0b01)))).unwrap();
    assert!(tfh(c, 0).stale);
    assert!(tgh_done(c, 4, 1000));
    tfh_cmd(c, 0, TfhOpc::WriteRestart, Some(page(V, ASID_A, 0x77)));
    !valid_entries(c).is_empty()
}

/// PURGE_SKIP_LAST_LANE: entries 0..=7 (one purge group) and a purge of all of them.
fn purge_leaves_an_entry<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    for k in 0..8u64 {
        fill(c, 0, page(V + (k << 12), ASID_A, 0x100 + k));
    }
    assert_eq!(valid_entries(c).len(), 8);
    invalidate(c, 0, Inval { n: 7, ..inval(V, ASID_A, 1) });
    !valid_entries(c).is_empty()
}

/// NO_TLB_MOD: a store through an entry dropped in clean (read-only).
fn store_through_clean_entry<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    fill(c, 0, Fill { dirty: false, ..page(V, ASID_A, 0x55) });
    let st = access(c, 0, V + 8, true, 0xabcd);
    st.status == CbStatus::Idle as u8
}

/// PURGE_N_IS_COUNT: two 4K entries and a purge of both pages (N = 1).
fn last_page_survives_range_purge<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    fill(c, 0, page(V, ASID_A, 0x40));
    fill(c, 0, page(V + 4096, ASID_A, 0x41));
    invalidate(c, 1, Inval { n: 1, ..inval(V, ASID_A, 1) });
    !valid_entries(c).is_empty()
}

/// ASID_ALIAS: context 0 of address space 16 leaves an entry, is unloaded, and is reloaded for
/// address space 24 (the driver's first two ASID bases).
fn reused_context_hits_other_address_space<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, 16, false, ALL_SIZES);
    fill(c, 0, page(V, 16, 0x100));
    let mut cch = Cch::decode(&c.mmio_read(cch_addr(0)).unwrap());
    for op in [CchOpc::InterruptSync, CchOpc::Deallocate] {
        cch.opc = op as u8;
        let done = Cch::decode(&c.start_and_wait(cch_addr(0), cch.encode()).unwrap());
        assert_eq!(done.status, HandleStatus::Idle as u8, "{op:?}");
    }
    setup_ctx(c, 0, 24, false, ALL_SIZES);
    access(c, 0, V, false, 0).status == CbStatus::Idle as u8
}

/// TFM_NO_CLEAR: a fault-map read, then a second one.
fn fault_map_read_does_not_clear<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 2, ASID_A, true, ALL_SIZES);
    c.issue_cb(CbRequest { cbr: 17, vaddr: V, write: false, wdata: 0 });
    assert!(c.step_until(200, |c| c.irq() != 0));
    assert_eq!(Tfm::decode(&c.mmio_read(tfm_addr(2)).unwrap()).fault, 1 << 17);
    let again = Tfm::decode(&c.mmio_read(tfm_addr(2)).unwrap()).fault;
    again != 0 || c.irq() != 0
}

/// TGH_STUCK: an invalidate, and 1000 cycles to finish its 16-cycle purge.
fn tgh_stays_active<M: CycleModel>(c: &mut Chiplet<M>) -> bool {
    setup_ctx(c, 0, ASID_A, false, ALL_SIZES);
    fill(c, 0, page(V, ASID_A, 1));
    c.mmio_write(tgh_addr(0), 0xff, start(tgh_line(inval(V, ASID_A, 1)))).unwrap();
    c.step_n(100);
    assert!(valid_entries(c).is_empty(), "the purge itself is done");
    !tgh_done(c, 0, 1000)
}

/// TGH_STUCK is the "handle never completes" bad input: the wait reports the stuck handle with
/// its line instead of hanging.
#[test]
fn tgh_stuck_is_reported_with_its_dump() {
    use gru_sim::chiplet::ChipletError;
    use gru_sim::{mutant::RtlMutant, rtl::Rtl};
    let mut c = chip(Rtl::with_mutant(RtlMutant::TghStuck));
    c.timeout = 2000;
    setup_ctx(&mut c, 0, ASID_A, false, ALL_SIZES);
    match c.start_and_wait(tgh_addr(5), tgh_line(inval(V, ASID_A, 1))) {
        Err(ChipletError::HandleStuck { addr, cycles, dump }) => {
            assert_eq!(addr, tgh_addr(5));
            assert!(cycles > 2000);
            let t = Tgh::decode(&dump);
            assert_eq!((t.status, t.vaddr, t.ctxbitmap), (HandleStatus::Active as u8, V, 1));
        }
        other => panic!("expected HandleStuck, got {other:?}"),
    }
}

#[test]
fn every_mutant_has_a_model_and_only_fst() {
    use gru_sim::rtl::{Rtl, RtlError, WaveFormat};
    use gru_sim::mutant::RtlMutant;
    for m in RtlMutant::ALL {
        let mut c = chip(Rtl::variant(WaveFormat::Fst, Some(m)).unwrap());
        assert_eq!(c.model_mut().mutant(), Some(m));
        assert!(c.mmio_read(STAT_ADDR).is_ok(), "{m}");
        match Rtl::variant(WaveFormat::Vcd, Some(m)) {
            Err(e @ RtlError::MutantNeedsFst { .. }) => assert!(e.to_string().contains(m.name())),
            Err(e) => panic!("{m}: {e}"),
            Ok(_) => panic!("{m}: a VCD mutant model"),
        }
    }
    assert_eq!(Rtl::variant(WaveFormat::Vcd, None).unwrap().mutant(), None);
}

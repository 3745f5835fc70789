//! The generated layout at its documented positions, and the shared arithmetic.

use super::*;

#[test]
fn field_get_set_truncate_and_isolate() {
    let mut l = [!0u64; 8];
    TFH_CTXNUM.set(&mut l, 0x1f3);
    assert_eq!(TFH_CTXNUM.get(&l), 3);
    assert_eq!(l[0], !(0xc << 48));
    TFH_MISSVADDR.set(&mut l, 0x1234);
    assert_eq!(TFH_MISSVADDR.get(&l), 0x1234);
    assert_eq!(line_mask(&[HDL_CMD, HDL_STATUS, TFH_STALE])[..6], [0x30001, 0, 0, 0, 0, 1]);
}

#[test]
fn lines_round_trip_at_their_positions() {
    let tfh = Tfh {
        delresp: true,
        opc: 3,
        status: 1,
        state: 3,
        cause: 2,
        indexway: 0,
        ctxnum: 9,
        missvaddr: 0xdead_0000_1000,
        missasid: 0xabcdef,
        fillasid: 0x123456,
        dirty: true,
        gaa: 2,
        pfn: (1 << 41) - 1,
        pagesize: 5,
        fillvaddr: 0x7fff_0000_0000_1000,
        stale: true,
    };
    let l = tfh.encode();
    assert_eq!(Tfh::decode(&l), tfh);
    assert_eq!(l[0], 2 | 3 << 4 | 1 << 16 | 3 << 20 | 2 << 24 | 9 << 48);
    assert_eq!(l[2], 0xabcdef | 0x123456 << 32 | 1 << 56 | 2 << 57);
    assert_eq!(l[3], ((1 << 41) - 1) | (5 << 48));
    assert_eq!(l[5], 1);
    let tgh = Tgh {
        delresp: false,
        opc: 1,
        status: 2,
        state: 0,
        cause: 0,
        vaddr: 0x1000,
        asid: 8,
        pagesize: 0,
        global: true,
        vaddrmask: (1 << 39) - 1,
        n: 1023,
        ctxbitmap: 0x8001,
    };
    let l = tgh.encode();
    assert_eq!(Tgh::decode(&l), tgh);
    assert_eq!((l[0], l[2], l[3], l[4]), (4 | 2 << 16, 8 | 1 << 48, ((1 << 39) - 1) | (1023 << 48), 0x8001));
    let cch = Cch {
        opc: 2,
        tfm_fault_bit_enable: true,
        tlb_int_enable: true,
        tlb_int_select: 15,
        unmap_enable: true,
        asid: [1, 2, 3, 4, 5, 6, 7, 8],
        sizeavail: [0x21, 1, 2, 3, 4, 5, 6, 0xffff],
        ..Cch::default()
    };
    let l = cch.encode();
    assert_eq!(Cch::decode(&l), cch);
    assert_eq!(l[0], 2 << 4 | 1 << 32 | 1 << 33 | 15 << 36 | 1 << 40);
    assert_eq!((l[1], l[4]), (1 | 2 << 32, 7 | 8 << 32));
    assert_eq!((l[5], l[6]), (0x21 | 1 << 16 | 2 << 32 | 3 << 48, 4 | 5 << 16 | 6 << 32 | 0xffff << 48));
    let tfm = Tfm { fault: 1 << 127 | 1, done: 1 << 64 };
    let l = tfm.encode();
    assert_eq!(Tfm::decode(&l), tfm);
    assert_eq!(l, [1, 1 << 63, 0, 0, 0, 1, 0, 0]);
    let stats = Stats { hits: 1, misses: 2, tlbmod: 3, dropins: 4, stale: 5, purges: 6, purged: 7, mmio_errors: 8 };
    assert_eq!(stats.encode(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(Stats::decode(&stats.encode()), stats);
}

#[test]
fn start_sets_cmd_and_active() {
    assert_eq!(start([0; 8])[0], 0x20001);
    assert_eq!(start([0x30, 7, 0, 0, 0, 0, 0, 0]), [0x20031, 7, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn addresses() {
    assert_eq!((tfm_addr(15), tgh_addr(23), tfh_addr(127), cch_addr(15)), (0xf00, 0x9700, 0x1ff00, 0x20f00));
    assert_eq!(STAT_ADDR, 0x28000);
}

#[test]
fn codes_decode_or_fail_typed() {
    assert_eq!(TfhOpc::try_from(7), Ok(TfhOpc::UserPollingMode));
    assert_eq!(TfhOpc::try_from(5), Err(CodeError { kind: "TFH opcode", value: 5 }));
    assert_eq!(CchOpc::try_from(0).unwrap_err().to_string(), "0 is not a valid CCH opcode code");
    assert!(TfhState::MissFmm.is_pending() && !TfhState::Idle.is_pending());
    assert_eq!(CbStatus::try_from(3), Ok(CbStatus::CallOs));
    assert!(CbStatus::try_from(2).is_err());
}

#[test]
fn page_sizes_follow_the_driver_formula() {
    let shifts = [12, 14, 16, 18, 20, 21, 22, 24, 26];
    for (code, &s) in shifts.iter().enumerate() {
        let ps = PageSize::code_from_shift(s).unwrap();
        assert_eq!(ps.code(), code as u64);
        assert_eq!((ps.page_shift(), ps.bytes()), (s, 1 << s));
    }
    assert_eq!(PageSize::P2M.vpn_shift(), 9);
    for s in [0, 11, 13, 19, 23, 27, 40] {
        assert!(PageSize::code_from_shift(s).is_err(), "shift {s}");
    }
}

#[test]
fn dbg_entry_layout_round_trips_at_its_positions() {
    let word = |e: TlbEntry| {
        let [lo, hi] = e.dbg_words();
        u128::from(lo) | u128::from(hi) << 64
    };
    let z = TlbEntry::default();
    assert_eq!(word(TlbEntry { valid: true, ..z }), 1);
    assert_eq!(word(TlbEntry { asid: 1, ..z }), 1 << 5);
    assert_eq!(word(TlbEntry { vpn: 1, ..z }), 1 << 29);
    assert_eq!(word(TlbEntry { dirty: true, ..z }), 1 << 126);
    let all = TlbEntry { valid: true, ctx: 0xf, asid: 0xff_ffff, vpn: (1 << 52) - 1, ps: 0xf, pfn: (1 << 41) - 1, dirty: true };
    assert_eq!(word(all), (1 << 127) - 1);
    for e in [all, TlbEntry { valid: true, ctx: 3, asid: 0x10, vpn: 0x40200, ps: 5, pfn: 0x80000, dirty: false }] {
        assert_eq!(TlbEntry::from_dbg_words(e.dbg_words()), e);
    }
}

#[test]
fn purge_match_covers_any_overlapping_page_size() {
    let tgh = Tgh { opc: 1, vaddr: 0x4030_0000, asid: 0x10, n: 0, pagesize: 0, vaddrmask: (1 << 39) - 1, ctxbitmap: 0b10, ..Tgh::default() };
    let m = PurgeMatch::new(&tgh);
    // A 2M entry whose base is below the purged 4K page still overlaps it.
    let huge = TlbEntry { valid: true, ctx: 1, asid: 0x10, vpn: 0x40200, ps: PageSize::P2M as u8, ..TlbEntry::default() };
    assert!(m.matches(&huge));
    assert!(!m.matches(&TlbEntry { ctx: 0, ..huge }), "context outside the bitmap");
    assert!(!m.matches(&TlbEntry { asid: 0x18, ..huge }), "other ASID");
    assert!(PurgeMatch::new(&Tgh { global: true, ..tgh }).matches(&TlbEntry { asid: 0x18, ..huge }));
    let far = TlbEntry { ps: 0, vpn: 0x50000, ..huge };
    assert!(!m.matches(&far));
    assert!(PurgeMatch::new(&Tgh { n: TGH_FULL_PURGE_N, ..tgh }).matches(&far), "n = 1023 purges the whole ASID");
}

#[test]
fn cbr_context_arithmetic() {
    assert_eq!(CBR_PER_CTX, 8);
    assert_eq!((ctx_of_cbr(17, CBR_PER_CTX), cbr_of(2, 1, CBR_PER_CTX)), (2, 17));
    assert_eq!(ctx_cbrs(1, 8), 0xff00);
    assert_eq!(region(0x6000_0000_0000_0000), 3);
}

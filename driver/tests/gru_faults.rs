//! Fault paths of the GRU driver, each on the reference model and the RTL.

mod gru_support;

use std::cell::Cell;
use std::rc::Rc;

use gru_support::{out, rig, run};
use gru_driver::gru::hw::CbRequest;
use gru_driver::gru::handles::TfhCause;
use gru_driver::gru::{GruConfig, GruError, GruHardware};
use gru_driver::mm::ops::{mmap, thp_collapse};
use gru_driver::mm::{cpu_load, cpu_store, Prot, HPAGE_SIZE, PAGE_SIZE};
use gru_driver::notifier::{Era, Event, MmuNotifier, Range};
use gru_cosim::system::SystemModel;

on_both!(first_store_to_fresh_page, fault_during_open_invalidate, race_guard_discards_dropin, unload_refused_while_fault_pending, huge_page_dropin, unmapped_address_is_an_exception);

/// Test 1: a store to a fresh page drops in the zero page read-only (TLB_MISS, dirty 0), then
/// faults TLB_MOD and gets a writable page (dirty 1); the value lands in the frame.
fn first_store_to_fresh_page<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    let seen = out::<u64>();
    let s = seen.clone();
    rig.spawn("user", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, 2 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        gru.cb_access(&ctx, &gts, 0, va + 8, true, 0xdead_beef).await.unwrap();
        *s.borrow_mut() = cpu_load(&ctx, &mm, va + 8).await.unwrap();
        assert_eq!(gru.cb_access(&ctx, &gts, 1, va + 8, false, 0).await.unwrap(), 0xdead_beef);
    });
    run(&rig);
    assert_eq!(*seen.borrow(), 0xdead_beef, "the CPU sees the chip's store");
    let dirty: Vec<bool> = rig.dropins(0).iter().map(|t| t.dirty).collect();
    assert!(dirty.len() >= 2, "{dirty:?}");
    assert!(!dirty[0], "the first dropin is the read-only zero page");
    assert!(dirty[1..].iter().all(|&d| d), "then writable: {dirty:?}");
    let chip = rig.hw.chip_stats(0).unwrap();
    assert_eq!(chip.tlbmod, 1, "the store faulted TLB_MOD once");
    let e = rig.hw.tlb_entries(0);
    assert!(e.iter().any(|e| e.dirty), "{e:?}");
}

/// Test 4: a miss while an invalidate is open: the interrupt path refuses, the thread gets
/// CALL_OS, sleeps on the wait queue and completes after the range ends.
fn fault_during_open_invalidate<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    let times = out::<(u64, u64)>();
    let t = times.clone();
    rig.spawn("user", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, 4 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        cpu_store(&ctx, &mm, va, 7).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        let gms = gru.gms(mm.id()).unwrap();
        let range = Range::new(Era::Modern, va + PAGE_SIZE, va + 2 * PAGE_SIZE, Event::Clear);
        let (g2, gts2) = (gru.clone(), gts.clone());
        let end_at = Rc::new(Cell::new(0));
        let e2 = end_at.clone();
        ctx.kernel().spawn("cb", move |ctx| async move {
            let v = g2.cb_access(&ctx, &gts2, 0, va, false, 0).await.unwrap();
            assert_eq!(v, 7);
            e2.set(ctx.now());
        });
        gms.invalidate_range_start(&ctx, mm.id(), &range).await.unwrap();
        ctx.sleep(3000).await;
        t.borrow_mut().0 = ctx.now();
        gms.invalidate_range_end(&ctx, mm.id(), &range).await;
        while end_at.get() == 0 {
            ctx.sleep(100).await;
        }
        t.borrow_mut().1 = end_at.get();
    });
    run(&rig);
    let (end, done) = *times.borrow();
    assert!(done > end, "the CB completed at {done}, after the range ended at {end}");
    assert!(rig.stat("tlb_dropin_fail_range_active") >= 1);
    assert!(rig.stat("call_os") >= 1);
    assert!(rig.stat("call_os_wait_queue") >= 1);
}

/// Test 5: the user dropin passed the `range_active` check, then an invalidate of the mm
/// starts before its write lands: the chip discards it, the CB misses again and then
/// succeeds through the interrupt path.
fn race_guard_discards_dropin<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    rig.spawn("user", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, 4 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        let (g2, gts2) = (gru.clone(), gts.clone());
        ctx.kernel().spawn("cb", move |ctx| async move {
            assert_eq!(g2.cb_access(&ctx, &gts2, 0, va, false, 0).await.unwrap(), 0);
        });
        // Wait until the thread is in its CALL_OS, then hold mmap_lock for writing: the
        // thread passes the range_active check (0) and blocks on the lock; the invalidate
        // starts while its miss is pending.
        while gts.upm_tlbmiss.get() == 0 {
            ctx.cost(1).await;
        }
        let lock = mm.mmap_lock().write(&ctx).await;
        ctx.sleep(400).await;
        let gms = gru.gms(mm.id()).unwrap();
        let range = Range::new(Era::Modern, va + PAGE_SIZE, va + 2 * PAGE_SIZE, Event::Clear);
        gms.invalidate_range_start(&ctx, mm.id(), &range).await.unwrap();
        gms.invalidate_range_end(&ctx, mm.id(), &range).await;
        drop(lock);
    });
    run(&rig);
    let chip = rig.hw.chip_stats(0).unwrap();
    assert_eq!(chip.stale, 1, "the dropin written after the TGH started was discarded");
    assert_eq!(chip.misses, 2, "the CB missed again after the discarded dropin");
    assert_eq!(rig.dropins(0).len(), 2);
    assert_eq!(rig.hw.tlb_entries(0).len(), 1);
}

/// Test 7: unloading a context whose fault is unanswered is refused; once answered the unload
/// goes through, and after a flush dropped the mm's ASID a reload takes a fresh one.
fn unload_refused_while_fault_pending<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm, hw) = (rig.gru.clone(), rig.mmu.create_mm(), rig.hw.clone());
    let asids = out::<(u32, u32)>();
    let a = asids.clone();
    rig.spawn("user", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, 4 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        let cbr = (gts.ctxnum().unwrap() * 8) as u8;
        hw.cb_issue(0, CbRequest { cbr, vaddr: va, write: false, wdata: 0 }).unwrap();
        while hw.cb_take(0, cbr).is_none() {
            ctx.sleep(50).await;
        }
        // CALL_OS seen and not answered: the TFH holds the miss.
        let err = gru.gru_unload_context(&ctx, &gts).await.unwrap_err();
        assert!(matches!(err, GruError::UnloadRefused { chiplet: 0, .. }), "{err}");
        gru.gru_handle_user_call_os(&ctx, &gts, 0).await.unwrap();
        while hw.cb_take(0, cbr).is_none() {
            ctx.sleep(50).await;
        }
        let old = gts.asid();
        gru.gru_unload_context(&ctx, &gts).await.unwrap();
        gru_driver::mm::ops::munmap(&ctx, &mm, va + PAGE_SIZE, PAGE_SIZE).await.unwrap();
        assert_eq!(gru.gms(mm.id()).unwrap().tracker(0).unwrap().asid, 0, "the flush dropped the ASID");
        gru.gru_load_context(&ctx, &gts).await.unwrap();
        assert_eq!(gru.cb_access(&ctx, &gts, 0, va, false, 0).await.unwrap(), 0);
        *a.borrow_mut() = (old, gts.asid());
    });
    run(&rig);
    let (old, new) = *asids.borrow();
    assert_ne!(new, 0);
    assert_ne!(old, new, "the reload took a fresh ASID");
    assert_eq!(rig.stat("flush_tlb_gru_zero_asid"), 1);
    assert!(rig.hw.tlb_entries(0).iter().any(|e| e.asid == new));
}

/// Test 8: a 2M page from a THP collapse: the interrupt path cannot rewrite the CCH, the user
/// call adds 2M to sizeavail, then drops in with page-size code 5.
fn huge_page_dropin<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    rig.spawn("user", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, HPAGE_SIZE, Prot::ReadWrite).await.unwrap();
        for p in 0..4 {
            cpu_store(&ctx, &mm, va + p * PAGE_SIZE * 100, 0x100 + p).await.unwrap();
        }
        thp_collapse(&ctx, &mm, va).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        assert_eq!(gru.cb_access(&ctx, &gts, 0, va + 300 * PAGE_SIZE, false, 0).await.unwrap(), 0x103);
        assert_eq!(gts.sizeavail(), 0x21, "4K and 2M");
        // Another page of the same 2M entry hits.
        assert_eq!(gru.cb_access(&ctx, &gts, 0, va + 100 * PAGE_SIZE, false, 0).await.unwrap(), 0x101);
    });
    run(&rig);
    let d = rig.dropins(0);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].pagesize, 5);
    assert_eq!(rig.hw.chip_stats(0).unwrap().hits, 2, "the restarted load and the second one hit");
}

/// A GRU access to an address with no VMA: the driver answers the fault with TFH EXCEPTION, the
/// CB completes with EXCEPTION (cause TLB_MISS), nothing is installed, and the context still works.
fn unmapped_address_is_an_exception<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    let result = out::<Option<Result<u64, GruError>>>();
    let r = result.clone();
    rig.spawn("main", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        *r.borrow_mut() = Some(gru.cb_access(&ctx, &gts, 1, va + 64 * PAGE_SIZE, false, 0).await);
        gru.cb_access(&ctx, &gts, 1, va, false, 0).await.unwrap();
    });
    run(&rig);
    let got = result.borrow_mut().take().expect("the access finished");
    assert!(
        matches!(got, Err(GruError::CbException { cause, .. }) if cause == TfhCause::TlbMiss as u8),
        "{got:?}"
    );
    let entries = rig.hw.tlb_entries(0);
    assert_eq!(entries.len(), 1, "only the mapped page was dropped in: {entries:?}");
}

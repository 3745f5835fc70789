//! TLB shootdown and ASIDs of the GRU driver, each on the reference model and the RTL.

mod gru_support;

use std::rc::Rc;

use gru_support::{out, rig, run};
use gru_driver::gru::GruConfig;
use gru_driver::mm::ops::{fork, mmap, munmap};
use gru_driver::mm::{cpu_store, Prot, PAGE_SIZE};
use gru_driver::notifier::Era;
use gru_cosim::system::SystemModel;

on_both!(munmap_three_contexts_one_write, two_chiplets_one_write_each_and_zero_asid, asid_wrap_full_purge, eras_compared_on_cow, large_range_is_a_full_purge);

/// Test 2: three threads of one mm with contexts on one chiplet; munmap sends exactly one TGH
/// with the three context bits; another mm's entry survives.
fn munmap_three_contexts_one_write<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (a, b) = (rig.mmu.create_mm(), rig.mmu.create_mm());
    let va = Rc::new(std::cell::Cell::new(0));
    let asids = out::<(u32, u32)>();
    let (gru, v, out_a) = (rig.gru.clone(), va.clone(), asids.clone());
    rig.spawn("main", move |ctx| async move {
        let base = mmap(&ctx, &a, None, 4 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        v.set(base);
        let kept = Rc::new(std::cell::RefCell::new(Vec::new()));
        for t in 0..3u64 {
            let (gru, a, kept) = (gru.clone(), a.clone(), kept.clone());
            ctx.kernel().spawn("thread", move |ctx| async move {
                let gts = gru.alloc_context(&ctx, &a, 0).await.unwrap();
                gru.cb_access(&ctx, &gts, 0, base + t * PAGE_SIZE, false, 0).await.unwrap();
                kept.borrow_mut().push(gts);
            });
        }
        let bva = mmap(&ctx, &b, None, PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let gb = gru.alloc_context(&ctx, &b, 0).await.unwrap();
        gru.cb_access(&ctx, &gb, 0, bva, false, 0).await.unwrap();
        while kept.borrow().len() < 3 {
            ctx.sleep(100).await;
        }
        munmap(&ctx, &a, base, 4 * PAGE_SIZE).await.unwrap();
        *out_a.borrow_mut() = (kept.borrow()[0].asid(), gb.asid());
    });
    run(&rig);
    let (asid_a, asid_b) = *asids.borrow();
    let tgh = rig.tgh_writes(0);
    assert_eq!(tgh.len(), 1, "{tgh:?}");
    assert_eq!(tgh[0].ctxbitmap.count_ones(), 3);
    assert_eq!((tgh[0].asid, tgh[0].vaddr, tgh[0].n), (asid_a, va.get(), 3));
    let left = rig.hw.tlb_entries(0);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].asid, asid_b, "the other mm's entry survives");
}

/// Test 3: an mm on two chiplets: its context on chiplet 1 is unloaded, so the flush writes
/// one TGH to chiplet 0 only and drops the mm's ASID on chiplet 1.
fn two_chiplets_one_write_each_and_zero_asid<M: SystemModel>(make: impl Fn() -> M) {
    let rig = rig(2, Era::Modern, GruConfig::default(), make);
    let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
    let writes_before = out::<usize>();
    let (w, hw) = (writes_before.clone(), rig.hw.clone());
    rig.spawn("main", move |ctx| async move {
        let va = mmap(&ctx, &mm, None, 2 * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let g0 = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
        let g1 = gru.alloc_context(&ctx, &mm, 1).await.unwrap();
        gru.cb_access(&ctx, &g0, 0, va, false, 0).await.unwrap();
        gru.cb_access(&ctx, &g1, 0, va, false, 0).await.unwrap();
        gru.free_context(&ctx, g1).await.unwrap();
        *w.borrow_mut() = hw.mmio_writes(1);
        munmap(&ctx, &mm, va, 2 * PAGE_SIZE).await.unwrap();
        let gms = gru.gms(mm.id()).unwrap();
        assert_eq!(gms.tracker(1).unwrap().asid, 0);
        assert_eq!(gms.asidmap(), 0b01);
        assert_ne!(gms.tracker(0).unwrap().asid, 0);
        drop(g0);
    });
    run(&rig);
    assert_eq!(rig.tgh_writes(0).len(), 1);
    assert_eq!(rig.tgh_writes(1).len(), 0);
    assert_eq!(rig.hw.mmio_writes(1), *writes_before.borrow(), "chiplet 1 saw no MMIO write from the flush");
    assert_eq!(rig.stat("flush_tlb_gru_zero_asid"), 1);
    assert_eq!(rig.stat("flush_tlb_gru_tgh"), 1);
    assert_eq!(rig.stat("flush_tlb_gru"), 2);
}

/// Test 6: with MAX_ASID 40 the fourth address space wraps the allocator: one full chiplet
/// purge, a new generation, the loaded context's ASID skipped, and no entry of an old ASID
/// answers for its new owner.
fn asid_wrap_full_purge<M: SystemModel>(make: impl Fn() -> M) {
    let cfg = GruConfig { max_asid: 40, ..GruConfig::default() };
    let rig = rig(1, Era::Modern, cfg, make);
    let gru = rig.gru.clone();
    let mms: Vec<_> = (0..5).map(|_| rig.mmu.create_mm()).collect();
    let got = out::<Vec<u32>>();
    let g = got.clone();
    rig.spawn("main", move |ctx| async move {
        let mut asids = Vec::new();
        let mut first = None;
        for (i, mm) in mms.iter().enumerate() {
            let va = mmap(&ctx, mm, Some(0x4000_0000), PAGE_SIZE, Prot::ReadWrite).await.unwrap();
            cpu_store(&ctx, mm, va, 0x1000 + i as u64).await.unwrap();
            let gts = gru.alloc_context(&ctx, mm, 0).await.unwrap();
            assert_eq!(gru.cb_access(&ctx, &gts, 0, va, false, 0).await.unwrap(), 0x1000 + i as u64, "mm {i}");
            asids.push(gts.asid());
            // The first stays loaded across the wrap; the others leave their entries behind.
            if i == 0 {
                first = Some(gts);
            } else {
                gru.free_context(&ctx, gts).await.unwrap();
            }
        }
        let first = first.unwrap();
        assert_eq!(gru.cb_access(&ctx, &first, 0, 0x4000_0000, false, 0).await.unwrap(), 0x1000);
        *g.borrow_mut() = asids;
    });
    run(&rig);
    let asids = got.borrow().clone();
    assert_eq!(asids, vec![16, 24, 32, 8, 24], "wrap to MIN_ASID; 16 is in use and skipped");
    assert_eq!(rig.stat("asid_wrap"), 1);
    let purges: Vec<_> = rig.tgh_writes(0).into_iter().filter(|t| t.global).collect();
    assert_eq!(purges.len(), 2, "the wrap and the next limit reset each purge the chiplet");
    assert!(purges.iter().all(|t| t.n == 1023 && t.ctxbitmap == 0xffff && t.asid == 0));
}

/// Test 9: the same copy-on-write workload in both eras: the classic era flushes each page
/// twice (invalidate_page, change_pte), the modern one once per range.
fn eras_compared_on_cow<M: SystemModel>(make: impl Fn() -> M) {
    const PAGES: u64 = 4;
    let mut tgh = Vec::new();
    for era in [Era::Classic, Era::Modern] {
        let rig = rig(1, era, GruConfig::default(), &make);
        let (gru, mm) = (rig.gru.clone(), rig.mmu.create_mm());
        rig.spawn("main", move |ctx| async move {
            let va = mmap(&ctx, &mm, None, PAGES * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
            for p in 0..PAGES {
                cpu_store(&ctx, &mm, va + p * PAGE_SIZE, p).await.unwrap();
            }
            let gts = gru.alloc_context(&ctx, &mm, 0).await.unwrap();
            let _child = fork(&ctx, &mm).await.unwrap();
            for p in 0..PAGES {
                cpu_store(&ctx, &mm, va + p * PAGE_SIZE, 100 + p).await.unwrap();
            }
            drop(gts);
        });
        run(&rig);
        tgh.push(rig.tgh_writes(0).len() as u64);
    }
    assert_eq!(tgh, vec![1 + 2 * PAGES, 1 + PAGES], "[classic, modern] TGH writes: fork + per COW");
}

/// A range of more than 1024 pages is one full purge of the mm's ASID (TGH `n` = 1023): entries
/// far outside the range but of the same ASID go too; another mm's entry survives.
fn large_range_is_a_full_purge<M: SystemModel>(make: impl Fn() -> M) {
    const PAGES: u64 = 1100;
    let rig = rig(1, Era::Modern, GruConfig::default(), make);
    let (gru, a, b) = (rig.gru.clone(), rig.mmu.create_mm(), rig.mmu.create_mm());
    rig.spawn("main", move |ctx| async move {
        let big = mmap(&ctx, &a, None, PAGES * PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let far = mmap(&ctx, &a, None, PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let other = mmap(&ctx, &b, None, PAGE_SIZE, Prot::ReadWrite).await.unwrap();
        let ga = gru.alloc_context(&ctx, &a, 0).await.unwrap();
        let gb = gru.alloc_context(&ctx, &b, 0).await.unwrap();
        for va in [big, big + (PAGES - 1) * PAGE_SIZE, far] {
            gru.cb_access(&ctx, &ga, 0, va, false, 0).await.unwrap();
        }
        gru.cb_access(&ctx, &gb, 0, other, false, 0).await.unwrap();
        munmap(&ctx, &a, big, PAGES * PAGE_SIZE).await.unwrap();
    });
    run(&rig);
    let tgh = rig.tgh_writes(0);
    assert_eq!(tgh.len(), 1, "{tgh:?}");
    assert_eq!((tgh[0].n, tgh[0].ctxbitmap.count_ones()), (1023, 1), "more than 1024 pages: full purge");
    let left = rig.hw.tlb_entries(0);
    assert_eq!(left.len(), 1, "the far page of the same ASID is purged too: {left:?}");
}

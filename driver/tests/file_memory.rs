//! Shared and file-backed memory as the data oracle sees it: what each kind of mapping must
//! read after stores, pwrite, writeback, reclaim, truncate and hole punch, and the lost write
//! the oracle exists to catch (a store that reached a page behind the kernel's back, after
//! `page_mkclean`, is gone after reclaim and the next read of the file fails the oracle).

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use common::Sim;
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{self, SwapOutcome};
use gru_driver::mm::{cpu_load, cpu_store, Backing, FileId, Mm, MmError, Prot, PAGE_SHIFT};
use gru_driver::notifier::Era;

const A: u64 = 0x4000_0000;
const K4: u64 = 0x1000;

/// Run `body` on a fresh address space in each era, then check the kernel's invariants.
fn both_eras<F, Fut>(body: F)
where
    F: Fn(ProcCtx, Mm) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for era in [Era::Modern, Era::Classic] {
        let sim = Sim::new(era, 1, 2);
        let mm = sim.mmu.create_mm();
        let body = body.clone();
        let done = Rc::new(RefCell::new(false));
        let flag = done.clone();
        sim.run(move |ctx| async move {
            body(ctx, mm).await;
            *flag.borrow_mut() = true;
        });
        assert!(*done.borrow(), "{era}: the test body did not finish");
        let bad = sim.mmu.check_invariants();
        assert!(bad.is_empty(), "{era}: {bad:#?}");
    }
}

async fn map(ctx: &ProcCtx, mm: &Mm, addr: u64, pages: u64, file: FileId, shared: bool) {
    let b = Backing { file, pgoff: 0, shared };
    ops::mmap_file(ctx, mm, Some(addr), pages * K4, Prot::ReadWrite, b).await.expect("mmap");
}

#[test]
fn a_store_behind_the_kernels_back_after_writeback_is_lost_and_the_oracle_says_so() {
    both_eras(|ctx, mm| async move {
        let file = mm.mmu().create_file(1, false);
        map(&ctx, &mm, A, 1, file, true).await;
        cpu_store(&ctx, &mm, A, 1).await.unwrap();
        assert_eq!(ops::msync(&ctx, &mm, A, K4).await, Ok(1));
        // A device that kept its writable entry through page_mkclean stores to the frame (the
        // chip checker tells the oracle of every chip store, as here).
        let pfn = mm.mmu().cached_page(file, 0).unwrap();
        mm.mmu().with_phys(|p| p.write_u64((pfn << PAGE_SHIFT) + 8, 2)).unwrap();
        mm.mmu().with_oracle(|o| o.store(mm.id(), A + 8, 2));
        // The page is clean: reclaim drops it without writing it back.
        assert_eq!(ops::swap_out(&ctx, &mm, A).await, Ok(SwapOutcome::FileDropped));
        match ops::pread(&ctx, &mm, file, 8).await {
            Err(MmError::Oracle(m)) => assert_eq!((m.expected, m.actual), (2, 0)),
            other => panic!("the lost store went unnoticed: {other:?}"),
        }
        assert_eq!(ops::pread(&ctx, &mm, file, 0).await, Ok(1));
    });
}

#[test]
fn a_store_through_the_pte_after_writeback_dirties_the_page_and_survives_reclaim() {
    both_eras(|ctx, mm| async move {
        let file = mm.mmu().create_file(1, false);
        map(&ctx, &mm, A, 1, file, true).await;
        cpu_store(&ctx, &mm, A, 1).await.unwrap();
        ops::msync(&ctx, &mm, A, K4).await.unwrap();
        cpu_store(&ctx, &mm, A + 8, 2).await.unwrap();
        assert_eq!(ops::swap_out(&ctx, &mm, A).await, Ok(SwapOutcome::FileWritten));
        assert_eq!(ops::pread(&ctx, &mm, file, 8).await, Ok(2));
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(1));
    });
}

#[test]
fn a_private_mapping_sees_the_file_until_its_first_store_copies_the_page() {
    both_eras(|ctx, mm| async move {
        let file = mm.mmu().create_file(1, false);
        map(&ctx, &mm, A, 1, file, false).await;
        ops::pwrite(&ctx, &mm, file, 0, 5).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(5));
        ops::pwrite(&ctx, &mm, file, 0, 6).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(6), "not copied yet: the file's page");
        cpu_store(&ctx, &mm, A + 8, 7).await.unwrap();
        ops::pwrite(&ctx, &mm, file, 0, 8).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(6), "copied at the store: the file's later writes are not seen");
        assert_eq!(ops::pread(&ctx, &mm, file, 8).await, Ok(0), "the private store stays private");
    });
}

#[test]
fn shared_anonymous_memory_is_shared_with_a_forked_child() {
    both_eras(|ctx, mm| async move {
        ops::mmap_shared_anon(&ctx, &mm, Some(A), K4, Prot::ReadWrite).await.unwrap();
        cpu_store(&ctx, &mm, A, 1).await.unwrap();
        let child = ops::fork(&ctx, &mm).await.unwrap();
        cpu_store(&ctx, &child, A, 2).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(2));
        ops::exit_mm(&ctx, &child).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(2));
    });
}

#[test]
fn truncate_makes_the_tail_a_bus_error_and_growing_back_reads_zero() {
    both_eras(|ctx, mm| async move {
        let file = mm.mmu().create_file(2, false);
        map(&ctx, &mm, A, 2, file, true).await;
        map(&ctx, &mm, A + 0x20_0000, 2, file, false).await;
        cpu_store(&ctx, &mm, A + K4, 1).await.unwrap();
        cpu_store(&ctx, &mm, A + 0x20_0000 + K4, 2).await.unwrap();
        ops::truncate(&ctx, &mm, file, 1).await.unwrap();
        for va in [A + K4, A + 0x20_0000 + K4] {
            assert!(matches!(cpu_load(&ctx, &mm, va).await, Err(MmError::SigBus { .. })), "{va:#x}");
        }
        ops::truncate(&ctx, &mm, file, 2).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A + K4).await, Ok(0));
        assert_eq!(cpu_load(&ctx, &mm, A + 0x20_0000 + K4).await, Ok(0), "truncate took the private copy too");
    });
}

#[test]
fn a_hole_reads_zero_but_keeps_private_copies() {
    both_eras(|ctx, mm| async move {
        let file = mm.mmu().create_file(1, false);
        map(&ctx, &mm, A, 1, file, true).await;
        map(&ctx, &mm, A + 0x20_0000, 1, file, false).await;
        cpu_store(&ctx, &mm, A, 1).await.unwrap();
        cpu_store(&ctx, &mm, A + 0x20_0000 + 8, 2).await.unwrap();
        ops::writeback(&ctx, &mm, file).await.unwrap();
        ops::punch_hole(&ctx, &mm, file, 0, 1).await.unwrap();
        assert_eq!(cpu_load(&ctx, &mm, A).await, Ok(0), "the hole, not the written-back page");
        assert_eq!(cpu_load(&ctx, &mm, A + 0x20_0000 + 8).await, Ok(2));
        assert_eq!(cpu_load(&ctx, &mm, A + 0x20_0000).await, Ok(1), "copied before the punch");
    });
}

//! Golden traces: for every memory-management operation and both notifier eras, the exact
//! callback sequence interleaved with PTE changes, TLB flushes and frees. Stored under
//! golden/kernel/; review changes with `cargo insta review`.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use common::{record, Sim};
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{self, Advice};
use gru_driver::mm::{cpu_load, cpu_store, Backing, FileId, Mm, Prot};
use gru_driver::notifier::Era;

const A: u64 = 0x4000_0000;
const K4: u64 = 0x1000;
const M2: u64 = 0x20_0000;

/// What a scenario gets: its thread's context, the first address space, and the log.
struct Env {
    ctx: ProcCtx,
    mm: Mm,
    mark: Rc<Cell<usize>>,
    notes: Rc<RefCell<String>>,
}

impl Env {
    /// Everything before this point is set-up and stays out of the golden trace.
    fn mark(&self) {
        self.mark.set(self.ctx.kernel().trace().len());
    }
    /// Append a result line to the golden trace.
    fn note(&self, line: String) {
        self.notes.borrow_mut().push_str(&format!("{line}\n"));
    }
    async fn store(&self, mm: &Mm, va: u64, v: u64) {
        cpu_store(&self.ctx, mm, va, v).await.expect("store");
    }
    async fn load(&self, mm: &Mm, va: u64) -> u64 {
        cpu_load(&self.ctx, mm, va).await.expect("load")
    }
    async fn mmap(&self, mm: &Mm, addr: u64, len: u64) {
        ops::mmap(&self.ctx, mm, Some(addr), len, Prot::ReadWrite)
            .await
            .expect("mmap");
    }
    /// A file of `pages` pages mapped at `addr`, shared or private.
    async fn mmap_file(&self, addr: u64, pages: u64, shared: bool) -> FileId {
        let file = self.mm.mmu().create_file(pages, false);
        let backing = Backing { file, pgoff: 0, shared };
        ops::mmap_file(&self.ctx, &self.mm, Some(addr), pages * K4, Prot::ReadWrite, backing).await.expect("mmap file");
        file
    }
    async fn fork(&self) -> Mm {
        let child = ops::fork(&self.ctx, &self.mm).await.expect("fork");
        record(&child);
        child
    }
}

type Scenario = fn(Env) -> Pin<Box<dyn Future<Output = ()>>>;

/// Run `scenario` in `era` and compare its trace with golden/kernel/kernel_<op>_<era>.snap.
fn golden(op: &str, era: Era, scenario: Scenario) {
    let sim = Sim::new(era, 1, 4);
    let mm = sim.mmu.create_mm();
    record(&mm);
    let mark = Rc::new(Cell::new(0));
    let notes = Rc::new(RefCell::new(String::new()));
    let env_mark = mark.clone();
    let env_notes = notes.clone();
    sim.run(move |ctx| {
        scenario(Env {
            ctx,
            mm,
            mark: env_mark,
            notes: env_notes,
        })
    });
    let mut text = sim.kernel.trace().render_since(mark.get());
    text.push_str(&notes.borrow());
    let invariants = sim.mmu.check_invariants();
    assert!(invariants.is_empty(), "{invariants:#?}");
    insta::with_settings!({
        snapshot_path => "../../golden/kernel",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("{op}, {era} era"),
    }, {
        insta::assert_snapshot!(format!("kernel_{op}_{era}"), text);
    });
}

macro_rules! golden_tests {
    ($($name:ident => $scenario:expr;)*) => {
        mod classic {
            use super::*;
            $(#[test] fn $name() { golden(stringify!($name), Era::Classic, $scenario); })*
        }
        mod classic_unlocked {
            use super::*;
            $(#[test] fn $name() { golden(stringify!($name), Era::ClassicUnlocked, $scenario); })*
        }
        mod modern {
            use super::*;
            $(#[test] fn $name() { golden(stringify!($name), Era::Modern, $scenario); })*
        }
    };
}

golden_tests! {
    // MAP_FIXED over two populated pages: the old pages are unmapped as by munmap first.
    mmap => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 4 * K4).await;
        e.store(&e.mm, A + K4, 1).await;
        e.store(&e.mm, A + 2 * K4, 2).await;
        e.mark();
        ops::mmap(&e.ctx, &e.mm, Some(A + K4), 2 * K4, Prot::Read).await.unwrap();
        e.note(format!("load after mmap: {:#x}", e.load(&e.mm, A + K4).await));
    });
    // Three populated pages of four, one of them the zero page.
    munmap => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 4 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        e.load(&e.mm, A + 2 * K4).await;
        e.mark();
        ops::munmap(&e.ctx, &e.mm, A, 4 * K4).await.unwrap();
        e.note(format!("munmap of nothing: {:?}", ops::munmap(&e.ctx, &e.mm, A, 4 * K4).await));
    });
    madvise_dontneed => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 4 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        e.mark();
        ops::madvise(&e.ctx, &e.mm, A, 4 * K4, Advice::DontNeed).await.unwrap();
        e.note(format!("load after: {:#x}", e.load(&e.mm, A + K4).await));
    });
    // The pages stay mapped, clean and old; reclaim then discards one instead of swapping it.
    madvise_free => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 4 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        e.mark();
        let r = ops::madvise(&e.ctx, &e.mm, A, 4 * K4, Advice::Free).await;
        e.note(format!("madvise: {r:?}"));
        if r.is_ok() {
            e.note(format!("reclaim: {:?}", ops::swap_out(&e.ctx, &e.mm, A).await));
            e.note(format!("load discarded: {:#x}", e.load(&e.mm, A).await));
            e.note(format!("load kept: {:#x}", e.load(&e.mm, A + K4).await));
        }
    });
    // 4M VMA populated only in its second 2M: modern starts the range there.
    mprotect => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * M2).await;
        e.store(&e.mm, A + M2 + 2 * K4, 1).await;
        e.store(&e.mm, A + M2 + 4 * K4, 2).await;
        e.mark();
        ops::mprotect(&e.ctx, &e.mm, A, 2 * M2, Prot::Read).await.unwrap();
        e.note(format!("store after: {:?}", cpu_store(&e.ctx, &e.mm, A + M2 + 2 * K4, 3).await));
    });
    // Child breaks COW (copy), then the parent's page is exclusive and is reused (no callback),
    // then a store to the zero page copies it.
    cow_fault => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.load(&e.mm, A + K4).await;
        let child = e.fork().await;
        e.mark();
        e.store(&child, A, 2).await;
        e.store(&e.mm, A, 3).await;
        e.store(&e.mm, A + K4, 4).await;
        e.note(format!("parent {:#x}, child {:#x}", e.load(&e.mm, A).await, e.load(&child, A).await));
    });
    // A page shared by parent and child: one Y per mapping.
    reclaim_aging => |e| Box::pin(async move {
        e.mmap(&e.mm, A, K4).await;
        e.store(&e.mm, A, 1).await;
        let _child = e.fork().await;
        e.mark();
        e.note(format!("referenced: {:?}", ops::reclaim_age(&e.ctx, &e.mm, A).await));
        e.note(format!("referenced again: {:?}", ops::reclaim_age(&e.ctx, &e.mm, A).await));
    });
    // A dirty page is written back; swapped in by a load it stays in the swap cache, so the
    // second swap-out needs no writeback.
    swap_out => |e| Box::pin(async move {
        e.mmap(&e.mm, A, K4).await;
        e.store(&e.mm, A, 0x5a).await;
        e.mark();
        e.note(format!("swap-out: {:?}", ops::swap_out(&e.ctx, &e.mm, A).await));
        e.note(format!("load: {:#x}", e.load(&e.mm, A).await));
        e.note(format!("swap-out: {:?}", ops::swap_out(&e.ctx, &e.mm, A).await));
        e.note(format!("load: {:#x}", e.load(&e.mm, A).await));
    });
    // A page mapped by parent and child moves to a new frame.
    migration => |e| Box::pin(async move {
        e.mmap(&e.mm, A, K4).await;
        e.store(&e.mm, A, 0x77).await;
        let child = e.fork().await;
        e.mark();
        e.note(format!("migrate: {:?}", ops::migrate(&e.ctx, &e.mm, A).await.map(|p| format!("{p:#x}"))));
        e.note(format!("child load: {:#x}", e.load(&child, A).await));
    });
    // Two processes with an identical page; then a store to the merged page breaks COW.
    ksm_merge => |e| Box::pin(async move {
        let other = e.mm.mmu().create_mm();
        record(&other);
        e.mmap(&e.mm, A, K4).await;
        e.mmap(&other, A + M2, K4).await;
        e.store(&e.mm, A, 7).await;
        e.store(&other, A + M2, 7).await;
        e.mark();
        e.note(format!("merge: {:?}", ops::ksm_merge(&e.ctx, (&e.mm, A), (&other, A + M2)).await));
        e.store(&other, A + M2, 8).await;
        e.note(format!("loads: {:#x} {:#x}", e.load(&e.mm, A).await, e.load(&other, A + M2).await));
    });
    thp_split => |e| Box::pin(async move {
        e.mmap(&e.mm, A, M2).await;
        e.store(&e.mm, A, 1).await;
        ops::thp_collapse(&e.ctx, &e.mm, A).await.unwrap();
        e.mark();
        ops::thp_split(&e.ctx, &e.mm, A).await.unwrap();
        e.note(format!("load: {:#x}", e.load(&e.mm, A).await));
    });
    // Two written pages (one aged, so khugepaged asks T) and a zero-page mapping collapse.
    thp_collapse => |e| Box::pin(async move {
        e.mmap(&e.mm, A, M2).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + 2 * K4, 2).await;
        e.load(&e.mm, A + 4 * K4).await;
        ops::reclaim_age(&e.ctx, &e.mm, A).await.unwrap();
        e.mark();
        ops::thp_collapse(&e.ctx, &e.mm, A).await.unwrap();
        e.note(format!("loads: {:#x} {:#x}", e.load(&e.mm, A).await, e.load(&e.mm, A + 2 * K4).await));
    });
    // The destination holds a page (unmapped first); after the move the old VMA is unmapped.
    mremap => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        e.mmap(&e.mm, A + 16 * M2, K4).await;
        e.store(&e.mm, A + 16 * M2, 9).await;
        e.mark();
        ops::mremap(&e.ctx, &e.mm, A, 2 * K4, A + 16 * M2).await.unwrap();
        e.note(format!("loads: {:#x} {:#x}", e.load(&e.mm, A + 16 * M2).await, e.load(&e.mm, A + 16 * M2 + K4).await));
    });
    // Two VMAs with pages and one never touched (no anon_vma: no range).
    fork => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.load(&e.mm, A + K4).await;
        e.mmap(&e.mm, A + M2, K4).await;
        e.mmap(&e.mm, A + 2 * M2, K4).await;
        e.store(&e.mm, A + 2 * M2, 2).await;
        e.mark();
        let child = ops::fork(&e.ctx, &e.mm).await.unwrap();
        e.note(format!("child load: {:#x}", e.load(&child, A).await));
    });
    // PROT_NONE keeps the PTEs present but inaccessible (S/E PROTECTION_VMA); back to
    // read-write, the next store faults the write bit back in.
    mprotect_none => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        e.mark();
        ops::mprotect(&e.ctx, &e.mm, A, 2 * K4, Prot::None).await.unwrap();
        e.note(format!("load while PROT_NONE: {:?}", cpu_load(&e.ctx, &e.mm, A).await));
        ops::mprotect(&e.ctx, &e.mm, A, 2 * K4, Prot::ReadWrite).await.unwrap();
        e.store(&e.mm, A, 3).await;
        e.note(format!("loads after: {:#x} {:#x}", e.load(&e.mm, A).await, e.load(&e.mm, A + K4).await));
    });
    // MAP_SHARED|MAP_ANONYMOUS: fork copies no page table and write-protects nothing (no
    // callback); the child's store is the parent's too.
    fork_shared => |e| Box::pin(async move {
        ops::mmap_shared_anon(&e.ctx, &e.mm, Some(A), 2 * K4, Prot::ReadWrite).await.unwrap();
        e.store(&e.mm, A, 1).await;
        e.mark();
        let child = e.fork().await;
        e.store(&child, A, 2).await;
        e.note(format!("parent load after the child's store: {:#x}", e.load(&e.mm, A).await));
    });
    // msync of a shared file mapping: page_mkclean per mapping of the dirty page (the clean
    // page is skipped), the page written back; the next store upgrades the PTE with no callback.
    msync => |e| Box::pin(async move {
        let file = e.mmap_file(A, 2, true).await;
        e.store(&e.mm, A, 1).await;
        e.load(&e.mm, A + K4).await;
        e.mark();
        e.note(format!("msync: {:?}", ops::msync(&e.ctx, &e.mm, A, 2 * K4).await));
        e.store(&e.mm, A, 2).await;
        e.note(format!("pread after store: {:?}", ops::pread(&e.ctx, &e.mm, file, 0).await));
    });
    // The flusher writes a dirty page mapped shared twice (two mappings, two announcements).
    writeback => |e| Box::pin(async move {
        let file = e.mmap_file(A, 1, true).await;
        let backing = Backing { file, pgoff: 0, shared: true };
        ops::mmap_file(&e.ctx, &e.mm, Some(A + M2), K4, Prot::ReadWrite, backing).await.unwrap();
        e.store(&e.mm, A, 1).await;
        e.load(&e.mm, A + M2).await;
        e.mark();
        e.note(format!("writeback: {:?}", ops::writeback(&e.ctx, &e.mm, file).await));
    });
    // Reclaim of a dirty file page: unmapped (S/E CLEAR), written back, out of the page cache;
    // the next load reads it back from the file.
    file_reclaim => |e| Box::pin(async move {
        e.mmap_file(A, 1, true).await;
        e.store(&e.mm, A, 7).await;
        e.mark();
        e.note(format!("reclaim: {:?}", ops::swap_out(&e.ctx, &e.mm, A).await));
        e.note(format!("load after: {:#x}", e.load(&e.mm, A).await));
    });
    // Truncate to one page of a file mapped shared and privately (one private page copied):
    // unmap_mapping_range per VMA, copies included, the cached pages dropped, then the second
    // pass; beyond the end is a bus error.
    truncate => |e| Box::pin(async move {
        let file = e.mmap_file(A, 3, true).await;
        let backing = Backing { file, pgoff: 0, shared: false };
        ops::mmap_file(&e.ctx, &e.mm, Some(A + M2), 3 * K4, Prot::ReadWrite, backing).await.unwrap();
        e.store(&e.mm, A + K4, 1).await;
        e.load(&e.mm, A + 2 * K4).await;
        e.store(&e.mm, A + M2 + K4, 2).await;
        e.mark();
        ops::truncate(&e.ctx, &e.mm, file, 1).await.unwrap();
        e.note(format!("load beyond the end: {:?}", cpu_load(&e.ctx, &e.mm, A + K4).await));
        e.note(format!("private load beyond the end: {:?}", cpu_load(&e.ctx, &e.mm, A + M2 + K4).await));
    });
    // A hole punched in a file mapped privately: the page-cache page goes, the private copy of
    // another page stays (even_cows = 0).
    punch_hole => |e| Box::pin(async move {
        let file = e.mmap_file(A, 2, false).await;
        ops::pwrite(&e.ctx, &e.mm, file, 0, 5).await.unwrap();
        e.load(&e.mm, A).await;
        e.store(&e.mm, A + K4, 6).await;
        e.mark();
        ops::punch_hole(&e.ctx, &e.mm, file, 0, 2).await.unwrap();
        e.note(format!("loads after: {:#x} {:#x}", e.load(&e.mm, A).await, e.load(&e.mm, A + K4).await));
    });
    // Release first; after it the recorder sees nothing, while pages and a swap slot are freed.
    exit => |e| Box::pin(async move {
        e.mmap(&e.mm, A, 2 * K4).await;
        e.store(&e.mm, A, 1).await;
        e.store(&e.mm, A + K4, 2).await;
        ops::swap_out(&e.ctx, &e.mm, A + K4).await.unwrap();
        e.mark();
        ops::exit_mm(&e.ctx, &e.mm).await.unwrap();
        e.note(format!("frames in use: {}, swap slots in use: {}", e.mm.mmu().with_phys(|p| p.allocated()), e.mm.mmu().swap_used()));
    });
}

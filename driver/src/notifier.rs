//! MMU notifiers: the callbacks a secondary MMU registers on an address space.
//!
//! [`MmuNotifier`] mirrors Linux's `mmu_notifier_ops`. Callbacks are async because a driver's
//! callback does MMIO and waits for hardware, which costs simulated cycles. Each callback gets
//! the context the kernel calls it in: range start/end and release run in process context and
//! may sleep; `invalidate_page`, `change_pte`, `clear_flush_young` and `test_young` run under
//! the page-table lock and get an [`AtomicCtx`].

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::Serialize;

use crate::kernel::{AtomicCtx, ProcCtx, WaitQueue};
use crate::mm::{MmId, Pte, PAGE_MASK, PAGE_SIZE};
use crate::trace::{Trace, TraceEvent};

/// A boxed future borrowing its arguments, the return type of notifier callbacks.
pub type KFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Which notifier API the kernel offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Era {
    /// 2.6.27–3.5: `invalidate_page`, `change_pte`, `clear_flush_young`, `test_young`,
    /// `release`, event-less range start/end; `invalidate_page` is called under the page-table
    /// lock (`ptep_clear_flush_notify`), before the new PTE is set.
    Classic,
    /// 3.6–4.12, after "mm: move all mmu notifier invocations to be done outside the PT lock"
    /// (Grimberg, 2012) and "mm: wrap calls to set_pte_at_notify with invalidate_range_start
    /// and invalidate_range_end" (Eran, 2012): the classic API, but reclaim, migration and
    /// `page_mkclean` call `invalidate_page` after the new PTE is set and the page-table lock
    /// dropped (the page still referenced), and a COW break or a KSM page replacement is a
    /// one-page range with `change_pte` inside it. Removed in 4.13 ("mm/mmu_notifier: kill
    /// invalidate_page").
    ClassicUnlocked,
    /// 5.4+: range start/end with events and a blockable flag; registration by get/put.
    Modern,
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 3] = [Era::Classic, Era::ClassicUnlocked, Era::Modern];

    /// The notifier API the era offers: [`Era::Classic`]'s for both classic eras.
    pub fn api(self) -> Era {
        match self {
            Era::Modern => Era::Modern,
            Era::Classic | Era::ClassicUnlocked => Era::Classic,
        }
    }

    /// The era by its name (`classic`, `classic-unlocked`, `modern`).
    pub fn by_name(name: &str) -> Option<Era> {
        Era::ALL.into_iter().find(|e| e.to_string() == name)
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Era::Classic => "classic",
            Era::ClassicUnlocked => "classic-unlocked",
            Era::Modern => "modern",
        })
    }
}

/// Why a range is invalidated (`enum mmu_notifier_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Event {
    /// The range is unmapped (munmap, mremap, exit).
    Unmap,
    /// PTEs are cleared (zap, swap-out, migration, COW, KSM, THP).
    Clear,
    /// A VMA's protection changes (mprotect).
    ProtectionVma,
    /// Pages are write-protected (fork's COW).
    ProtectionPage,
    /// Soft-dirty tracking is reset.
    SoftDirty,
    /// The mm is going away.
    Release,
    /// Device-driven migration.
    Migrate,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Event::Unmap => "UNMAP",
            Event::Clear => "CLEAR",
            Event::ProtectionVma => "PROTECTION_VMA",
            Event::ProtectionPage => "PROTECTION_PAGE",
            Event::SoftDirty => "SOFT_DIRTY",
            Event::Release => "RELEASE",
            Event::Migrate => "MIGRATE",
        })
    }
}

/// An invalidated range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Why; `None` in the classic era, which had no events.
    pub event: Option<Event>,
    /// Whether the callback may sleep (false only for the OOM reaper in Linux).
    pub blockable: bool,
}

impl Range {
    /// A blockable range with the event the era can express.
    pub fn new(era: Era, start: u64, end: u64, event: Event) -> Self {
        let event = (era == Era::Modern).then_some(event);
        Self {
            start,
            end,
            event,
            blockable: true,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(event) = self.event {
            write!(f, "{event} ")?;
        }
        write!(f, "[{:#x}, {:#x})", self.start, self.end)?;
        if !self.blockable {
            f.write_str(" nonblocking")?;
        }
        Ok(())
    }
}

/// A secondary MMU declined a non-blockable invalidation (`-EAGAIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("notifier cannot invalidate without sleeping")]
pub struct WouldBlock;

/// The callbacks, as in `struct mmu_notifier_ops`. Every method has a do-nothing default, so a
/// driver implements only what its era uses (the GRU: start/end and release).
pub trait MmuNotifier {
    /// A short name for logs.
    fn name(&self) -> &str;

    /// The mm is exiting: stop all access. Called once, before its pages are unmapped.
    fn release<'a>(&'a self, _ctx: &'a ProcCtx, _mm: MmId) -> KFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Pages in the range are about to change; device access to them must stop before this
    /// returns.
    fn invalidate_range_start<'a>(
        &'a self,
        _ctx: &'a ProcCtx,
        _mm: MmId,
        _range: &'a Range,
    ) -> KFuture<'a, Result<(), WouldBlock>> {
        Box::pin(async { Ok(()) })
    }

    /// The changes announced by the matching start are complete.
    fn invalidate_range_end<'a>(
        &'a self,
        _ctx: &'a ProcCtx,
        _mm: MmId,
        _range: &'a Range,
    ) -> KFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Classic: one page's PTE was cleared and flushed (under the page-table lock).
    fn invalidate_page<'a>(
        &'a self,
        _ctx: &'a AtomicCtx,
        _mm: MmId,
        _addr: u64,
    ) -> KFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Classic: a PTE is about to be set to `pte` (under the page-table lock).
    fn change_pte<'a>(
        &'a self,
        _ctx: &'a AtomicCtx,
        _mm: MmId,
        _addr: u64,
        _pte: Pte,
    ) -> KFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Aging: clear the accessed state of `[start, end)`; true if it was accessed.
    fn clear_flush_young<'a>(
        &'a self,
        _ctx: &'a AtomicCtx,
        _mm: MmId,
        _start: u64,
        _end: u64,
    ) -> KFuture<'a, bool> {
        Box::pin(async { false })
    }

    /// Whether the page at `addr` was accessed, without clearing it.
    fn test_young<'a>(&'a self, _ctx: &'a AtomicCtx, _mm: MmId, _addr: u64) -> KFuture<'a, bool> {
        Box::pin(async { false })
    }

    /// Modern get/put: the last reference was put; free the notifier's state.
    fn free_notifier(&self) {}
}

/// One callback invocation, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum NotifierCall {
    /// `invalidate_range_start`.
    Start(Range),
    /// `invalidate_range_end`.
    End(Range),
    /// `invalidate_page`.
    Page(u64),
    /// `change_pte`.
    ChangePte(u64, Pte),
    /// `clear_flush_young`.
    ClearFlushYoung(u64, u64),
    /// `test_young`.
    TestYoung(u64),
    /// `release`.
    Release,
}

impl fmt::Display for NotifierCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start(r) => write!(f, "S {r}"),
            Self::End(r) => write!(f, "E {r}"),
            Self::Page(a) => write!(f, "P {a:#x}"),
            Self::ChangePte(a, pte) => write!(f, "C {a:#x} {pte}"),
            Self::ClearFlushYoung(s, e) => write!(f, "Y [{s:#x}, {e:#x})"),
            Self::TestYoung(a) => write!(f, "T {a:#x}"),
            Self::Release => f.write_str("R"),
        }
    }
}

/// Identity of a registration on a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotifierId(u64);

/// Errors of chain management.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The id is not registered on this chain.
    #[error("notifier {0:?} is not registered")]
    NotRegistered(NotifierId),
}

struct Entry {
    id: NotifierId,
    key: Option<String>,
    refs: u32,
    /// Cleared by release: the notifier stays allocated (get/put) but sees no more callbacks.
    live: bool,
    notifier: Rc<dyn MmuNotifier>,
}

/// A checker's view of a chain *(model)*: told when every notifier has finished a callback
/// (or before any starts `invalidate_range_end`), so it can look at what they left behind.
/// Linux has no counterpart; watchers never change what the notifiers see.
pub trait ChainWatcher {
    /// An invalidation of `[start, end)` (a range, or a classic page) is about to reach the
    /// notifiers: what the chips do from here on is that invalidation's flush.
    fn flush_starting(&self, _mm: MmId, _start: u64, _end: u64) {}
    /// Every notifier's `invalidate_range_start` returned.
    fn range_started(&self, _mm: MmId, _range: &Range) {}
    /// No notifier's `invalidate_range_end` has run yet.
    fn range_ending(&self, _mm: MmId, _range: &Range) {}
    /// Every notifier's `invalidate_page` returned.
    fn page_invalidated(&self, _mm: MmId, _addr: u64) {}
    /// Every notifier's `change_pte` returned.
    fn pte_changed(&self, _mm: MmId, _addr: u64) {}
    /// Every notifier's `release` returned.
    fn released(&self, _mm: MmId) {}
}

/// The notifiers of one mm, called in registration order.
#[derive(Default)]
pub struct NotifierChain {
    entries: RefCell<Vec<Entry>>,
    next: std::cell::Cell<u64>,
    watchers: RefCell<Vec<Rc<dyn ChainWatcher>>>,
    /// Ranges between their start and their end.
    ranges: std::cell::Cell<u32>,
    /// Registrations waiting for `ranges` to reach 0.
    quiet: WaitQueue,
}

impl NotifierChain {
    /// Add a checker that watches every callback of this chain *(model)*.
    pub fn watch(&self, watcher: Rc<dyn ChainWatcher>) {
        self.watchers.borrow_mut().push(watcher);
    }

    fn each_watcher(&self, f: impl Fn(&dyn ChainWatcher)) {
        let watchers = self.watchers.borrow().clone();
        for w in &watchers {
            f(w.as_ref());
        }
    }

    /// `mmu_notifier_register` at mm creation, before any range can start (later registrations
    /// go through [`NotifierChain::get`], which waits for the ranges in progress).
    pub fn register(&self, notifier: Rc<dyn MmuNotifier>) -> NotifierId {
        self.add(None, notifier)
    }

    /// `mmu_notifier_unregister`: if the mm has not been released yet, the notifier gets its
    /// `release` first, as in Linux.
    pub async fn unregister(
        &self,
        ctx: &ProcCtx,
        mm: MmId,
        id: NotifierId,
    ) -> Result<(), ChainError> {
        let entry = self.remove(id)?;
        if entry.live {
            entry.notifier.release(ctx, mm).await;
        }
        Ok(())
    }

    /// `mmu_notifier_get`: the registration keyed `key` gains a reference, or `alloc` makes one.
    ///
    /// A new registration waits until no range is between its start and its end, as
    /// `mmu_notifier_register` does by taking `mmap_lock` for writing and `mm_take_all_locks`
    /// (which shuts out the rmap walkers). A notifier added inside a range would get its end
    /// without its start, and a counter such as the GRU's `range_active` would go negative.
    pub async fn get(
        &self,
        ctx: &ProcCtx,
        key: &str,
        alloc: impl FnOnce() -> Rc<dyn MmuNotifier>,
    ) -> (NotifierId, Rc<dyn MmuNotifier>) {
        loop {
            let mut entries = self.entries.borrow_mut();
            if let Some(e) = entries.iter_mut().find(|e| e.key.as_deref() == Some(key)) {
                e.refs += 1;
                return (e.id, e.notifier.clone());
            }
            drop(entries);
            if self.ranges.get() == 0 {
                break;
            }
            self.quiet.wait_event(ctx, || self.ranges.get() == 0).await;
        }
        let notifier = alloc();
        (self.add(Some(key.to_owned()), notifier.clone()), notifier)
    }

    /// Ranges between their start and their end.
    pub fn ranges_in_progress(&self) -> u32 {
        self.ranges.get()
    }

    /// `mmu_notifier_put`: drop a reference; the last one unregisters and calls
    /// `free_notifier`.
    pub fn put(&self, id: NotifierId) -> Result<(), ChainError> {
        let mut entries = self.entries.borrow_mut();
        let e = entries
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or(ChainError::NotRegistered(id))?;
        e.refs -= 1;
        if e.refs > 0 {
            return Ok(());
        }
        drop(entries);
        self.remove(id)?.notifier.free_notifier();
        Ok(())
    }

    /// Number of notifiers that still receive callbacks.
    pub fn live(&self) -> usize {
        self.entries.borrow().iter().filter(|e| e.live).count()
    }

    fn add(&self, key: Option<String>, notifier: Rc<dyn MmuNotifier>) -> NotifierId {
        let id = NotifierId(self.next.get());
        self.next.set(id.0 + 1);
        self.entries.borrow_mut().push(Entry {
            id,
            key,
            refs: 1,
            live: true,
            notifier,
        });
        id
    }

    fn remove(&self, id: NotifierId) -> Result<Entry, ChainError> {
        let mut entries = self.entries.borrow_mut();
        let pos = entries
            .iter()
            .position(|e| e.id == id)
            .ok_or(ChainError::NotRegistered(id))?;
        Ok(entries.remove(pos))
    }

    /// The live notifiers, copied so that callbacks may (un)register without a held borrow.
    fn snapshot(&self) -> Vec<Rc<dyn MmuNotifier>> {
        self.entries
            .borrow()
            .iter()
            .filter(|e| e.live)
            .map(|e| e.notifier.clone())
            .collect()
    }

    /// `mmu_notifier_release`: every notifier's `release`, then none sees further callbacks.
    pub async fn release(&self, ctx: &ProcCtx, mm: MmId) {
        for n in self.snapshot() {
            n.release(ctx, mm).await;
        }
        for e in self.entries.borrow_mut().iter_mut() {
            e.live = false;
        }
        self.each_watcher(|w| w.released(mm));
    }

    /// `mmu_notifier_invalidate_range_start`. A non-blockable range stops at the first
    /// notifier that would block; the error is returned to the caller.
    pub async fn invalidate_range_start(
        &self,
        ctx: &ProcCtx,
        mm: MmId,
        range: &Range,
    ) -> Result<(), WouldBlock> {
        self.ranges.set(self.ranges.get() + 1);
        self.each_watcher(|w| w.flush_starting(mm, range.start, range.end));
        let mut result = Ok(());
        for n in self.snapshot() {
            if let Err(e) = n.invalidate_range_start(ctx, mm, range).await {
                result = Err(e);
            }
        }
        if result.is_ok() {
            self.each_watcher(|w| w.range_started(mm, range));
        } else {
            // A refused start has no end.
            self.range_done(ctx);
        }
        result
    }

    fn range_done(&self, ctx: &ProcCtx) {
        self.ranges.set(self.ranges.get() - 1);
        if self.ranges.get() == 0 {
            self.quiet.wake_all(ctx.kernel());
        }
    }

    /// `mmu_notifier_invalidate_range_end`.
    pub async fn invalidate_range_end(&self, ctx: &ProcCtx, mm: MmId, range: &Range) {
        self.each_watcher(|w| w.range_ending(mm, range));
        for n in self.snapshot() {
            n.invalidate_range_end(ctx, mm, range).await;
        }
        self.range_done(ctx);
    }

    /// `mmu_notifier_invalidate_page` (classic).
    pub async fn invalidate_page(&self, ctx: &AtomicCtx, mm: MmId, addr: u64) {
        self.each_watcher(|w| w.flush_starting(mm, addr & PAGE_MASK, (addr & PAGE_MASK) + PAGE_SIZE));
        for n in self.snapshot() {
            n.invalidate_page(ctx, mm, addr).await;
        }
        self.each_watcher(|w| w.page_invalidated(mm, addr));
    }

    /// `mmu_notifier_change_pte` (classic).
    pub async fn change_pte(&self, ctx: &AtomicCtx, mm: MmId, addr: u64, pte: Pte) {
        self.each_watcher(|w| w.flush_starting(mm, addr & PAGE_MASK, (addr & PAGE_MASK) + PAGE_SIZE));
        for n in self.snapshot() {
            n.change_pte(ctx, mm, addr, pte).await;
        }
        self.each_watcher(|w| w.pte_changed(mm, addr));
    }

    /// `mmu_notifier_clear_flush_young`: true if any notifier saw an access.
    pub async fn clear_flush_young(&self, ctx: &AtomicCtx, mm: MmId, start: u64, end: u64) -> bool {
        let mut young = false;
        for n in self.snapshot() {
            young |= n.clear_flush_young(ctx, mm, start, end).await;
        }
        young
    }

    /// `mmu_notifier_test_young`: true if any notifier saw an access.
    pub async fn test_young(&self, ctx: &AtomicCtx, mm: MmId, addr: u64) -> bool {
        for n in self.snapshot() {
            if n.test_young(ctx, mm, addr).await {
                return true;
            }
        }
        false
    }
}

/// A notifier that logs every callback it receives into the trace and reports nothing young.
pub struct Recorder {
    name: String,
    trace: Trace,
}

impl Recorder {
    /// A recorder logging into `trace` under `name`.
    pub fn new(name: &str, trace: Trace) -> Rc<Self> {
        Rc::new(Self {
            name: name.to_owned(),
            trace,
        })
    }

    fn log(&self, mm: MmId, call: NotifierCall) {
        self.trace.push(TraceEvent::Notifier {
            notifier: self.name.clone(),
            mm,
            call,
        });
    }
}

impl MmuNotifier for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn release<'a>(&'a self, _ctx: &'a ProcCtx, mm: MmId) -> KFuture<'a, ()> {
        self.log(mm, NotifierCall::Release);
        Box::pin(async {})
    }
    fn invalidate_range_start<'a>(
        &'a self,
        _ctx: &'a ProcCtx,
        mm: MmId,
        range: &'a Range,
    ) -> KFuture<'a, Result<(), WouldBlock>> {
        self.log(mm, NotifierCall::Start(*range));
        Box::pin(async { Ok(()) })
    }
    fn invalidate_range_end<'a>(
        &'a self,
        _ctx: &'a ProcCtx,
        mm: MmId,
        range: &'a Range,
    ) -> KFuture<'a, ()> {
        self.log(mm, NotifierCall::End(*range));
        Box::pin(async {})
    }
    fn invalidate_page<'a>(&'a self, _ctx: &'a AtomicCtx, mm: MmId, addr: u64) -> KFuture<'a, ()> {
        self.log(mm, NotifierCall::Page(addr));
        Box::pin(async {})
    }
    fn change_pte<'a>(
        &'a self,
        _ctx: &'a AtomicCtx,
        mm: MmId,
        addr: u64,
        pte: Pte,
    ) -> KFuture<'a, ()> {
        self.log(mm, NotifierCall::ChangePte(addr, pte));
        Box::pin(async {})
    }
    fn clear_flush_young<'a>(
        &'a self,
        _ctx: &'a AtomicCtx,
        mm: MmId,
        start: u64,
        end: u64,
    ) -> KFuture<'a, bool> {
        self.log(mm, NotifierCall::ClearFlushYoung(start, end));
        Box::pin(async { false })
    }
    fn test_young<'a>(&'a self, _ctx: &'a AtomicCtx, mm: MmId, addr: u64) -> KFuture<'a, bool> {
        self.log(mm, NotifierCall::TestYoung(addr));
        Box::pin(async { false })
    }
}

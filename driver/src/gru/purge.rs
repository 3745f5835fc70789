//! TLB shootdown and the MMU notifier (Linux grutlbpurge.c).
//!
//! One [`GruMmStruct`] per mm holds, per chiplet, the ASID the mm uses there and the bitmap of
//! its loaded contexts, plus `range_active` (invalidates in progress) and the queue the user
//! fault path sleeps on until it is 0. A flush costs one TGH write per chiplet with a loaded
//! context, whatever the number of contexts.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use super::handles::{HS_TGH_COUNT, TGH_FULL_PURGE_N, TGH_VADDRMASK};
use super::protocol::ProtocolEvent;
use super::stats::GruStat;
use super::{Gru, GruError, GruInner, Mutant, GRUMAXINVAL};
use crate::kernel::{cost, smp_mb, smp_rmb, AtomicCtx, Atomic, ProcCtx, SpinLock, WaitQueue};
use crate::mm::{Mm, MmId, Pte, PAGE_SHIFT, PAGE_SIZE};
use crate::notifier::{Era, KFuture, MmuNotifier, NotifierId, Range, WouldBlock};

/// The notifier key of the GRU's registration on an mm's chain.
const NOTIFIER_KEY: &str = "gru";

/// An mm's ASID on one chiplet (`gru_mm_tracker`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    /// ASID base (0: none).
    pub asid: u32,
    /// Allocator generation the ASID was taken in.
    pub asid_gen: u32,
    /// Contexts of the mm loaded on the chiplet.
    pub ctxbitmap: u16,
    /// Context slots loaded under `asid` since it was assigned (a superset of `ctxbitmap`). An
    /// unloaded slot keeps its entries under the ASID, and a reload into it while a sibling
    /// context keeps the ASID alive would reach them, so a flush names every one of these.
    pub used: u16,
}

/// The GRU's per-mm state (`gru_mm_struct`); it is the mm's MMU notifier.
pub struct GruMmStruct {
    gru: Weak<GruInner>,
    mm: MmId,
    /// `ms_asid_lock` and the trackers it protects, one per chiplet.
    pub(crate) asid_lock: SpinLock<Vec<Tracker>>,
    /// `ms_asidmap`: chiplets where the mm has an ASID. Written under `asid_lock`, read
    /// without it by flushes, as in Linux.
    pub(crate) asidmap: Cell<u64>,
    /// `ms_range_active`: invalidates in progress.
    pub(crate) range_active: Atomic,
    /// `ms_wait_queue`: user fault paths waiting for `range_active == 0`.
    pub(crate) wait_queue: WaitQueue,
    /// `ms_released`: the mm has exited.
    released: Cell<bool>,
    /// The notifier API of the run's era, which decides the callbacks the driver has.
    api: Era,
}

impl GruMmStruct {
    /// The mm.
    pub fn mm(&self) -> MmId {
        self.mm
    }

    /// Invalidates in progress.
    pub fn range_active(&self) -> i64 {
        self.range_active.read()
    }

    /// Whether the mm's `release` ran.
    pub fn released(&self) -> bool {
        self.released.get()
    }

    /// Chiplets where the mm has an ASID (bit per chiplet).
    pub fn asidmap(&self) -> u64 {
        self.asidmap.get()
    }

    /// The tracker of `chiplet`, if its lock is free (for tests and summaries).
    pub fn tracker(&self, chiplet: usize) -> Option<Tracker> {
        self.asid_lock.try_lock().and_then(|t| t.get(chiplet).copied())
    }

    fn gru(&self) -> Option<Gru> {
        self.gru.upgrade().map(Gru)
    }

    /// Whether `m` is the driver's planted bug.
    fn mutated(&self, m: Mutant) -> bool {
        self.gru().is_some_and(|g| g.mutated(m))
    }

    /// Flush `[start, end)`, reporting hardware failures to the driver's error log (notifier
    /// callbacks cannot return them).
    async fn flush(&self, ctx: &AtomicCtx, start: u64, end: u64) {
        if let Some(gru) = self.gru() {
            if let Err(e) = gru.gru_flush_tlb_range(ctx, self, start, end.saturating_sub(start)).await {
                gru.report(e);
            }
        }
    }
}

impl Gru {
    /// `gru_flush_all_tlb`: one TGH purging every entry of every context of the chiplet.
    pub(crate) async fn gru_flush_all_tlb(&self, ctx: &AtomicCtx, chiplet: usize) -> Result<(), GruError> {
        let tgh = self.get_lock_tgh_handle(ctx, chiplet).await?;
        let r = self
            .tgh_invalidate(ctx, chiplet, tgh, 0, TGH_VADDRMASK.value_mask(), 0, 0, true, TGH_FULL_PURGE_N, 0xffff)
            .await;
        self.unlock_tgh_handle(chiplet, tgh);
        r
    }

    /// `get_lock_tgh_handle`: a CPU uses its own TGH (`cpu % NUM_TGH`: every CPU of the model
    /// is on the chiplets' blade); the lock is a test-and-set of the handle's delresp bit.
    pub(crate) async fn get_lock_tgh_handle(&self, ctx: &AtomicCtx, chiplet: usize) -> Result<usize, GruError> {
        let locks = &self.chiplet(chiplet)?.tgh_locks;
        let n = ctx.cpu() % HS_TGH_COUNT;
        while locks.get() & 1 << n != 0 {
            ctx.cost(cost::SPIN_STEP).await;
        }
        locks.set(locks.get() | 1 << n);
        ctx.cost(cost::LOCK).await;
        Ok(n)
    }

    /// `unlock_tgh_handle`.
    pub(crate) fn unlock_tgh_handle(&self, chiplet: usize, n: usize) {
        if let Ok(c) = self.chiplet(chiplet) {
            c.tgh_locks.set(c.tgh_locks.get() & !(1 << n));
        }
    }

    /// `gru_register_mmu_notifier`: the mm's one GRU notifier, by `mmu_notifier_get`.
    pub(crate) async fn gru_register_mmu_notifier(&self, ctx: &ProcCtx, mm: &Mm) -> Result<(NotifierId, Rc<GruMmStruct>), GruError> {
        mm.check_live()?;
        let (id, _) = mm.notifiers().get(ctx, NOTIFIER_KEY, || {
            let gms = Rc::new(GruMmStruct {
                gru: Rc::downgrade(&self.0),
                mm: mm.id(),
                asid_lock: SpinLock::new(vec![Tracker::default(); self.num_chiplets()]),
                asidmap: Cell::new(0),
                range_active: Atomic::new(0),
                wait_queue: WaitQueue::new(),
                released: Cell::new(false),
                api: mm.mmu().era().api(),
            });
            self.0.gms.borrow_mut().insert(mm.id(), gms.clone());
            gms as Rc<dyn MmuNotifier>
        }).await;
        let gms = self.gms(mm.id()).ok_or(GruError::NotLoaded)?;
        Ok((id, gms))
    }

    /// `gru_drop_mmu_notifier`: `mmu_notifier_put`; the last put frees the per-mm state.
    pub(crate) fn gru_drop_mmu_notifier(&self, gts: &super::Gts) {
        // The chain forgets a registration on exit; nothing is left to put then.
        let _ = gts.mm.notifiers().put(gts.notifier);
    }

    /// `gru_flush_tlb_range`: for each chiplet where the mm has an ASID, one TGH invalidate
    /// covering every context slot loaded under that ASID (loaded now or since unloaded:
    /// [`Tracker::used`]); a chiplet with none loaded gets no hardware access, its ASID is
    /// dropped so the next load takes a fresh one.
    pub async fn gru_flush_tlb_range(&self, ctx: &AtomicCtx, gms: &GruMmStruct, start: u64, len: u64) -> Result<(), GruError> {
        let first = start >> PAGE_SHIFT;
        let last = (start + len.max(1) - 1) >> PAGE_SHIFT;
        // A TGH names at least one page, so the off-by-one still flushes a 1-page range.
        let pages = (last - first + u64::from(!self.mutated(Mutant::RangeEndOffByOne))).max(1);
        let cap = if self.mutated(Mutant::NoFullPurgeAbove1024) { GRUMAXINVAL - 1 } else { GRUMAXINVAL };
        let num = if self.mutated(Mutant::FirstPageOnly) { 1 } else { pages.min(cap) };
        let n = if num >= GRUMAXINVAL || self.mutated(Mutant::FullPurgeAlways) { TGH_FULL_PURGE_N } else { (num - 1) as u16 };
        let vaddr = if self.mutated(Mutant::TghVaddrInPages) { first } else { start };
        self.0.stats.inc(GruStat::FlushTlb);
        let skew = usize::from(self.mutated(Mutant::AsidmapBitOffByOne));
        // `ms_asid_lock` is held across the whole walk, as in Linux.
        let mut asids = gms.asid_lock.lock(ctx).await;
        for chiplet in (0..self.num_chiplets()).filter(|c| gms.asidmap.get() >> (c + skew) & 1 != 0) {
            self.0.stats.inc(GruStat::FlushTlbGru);
            let t = &mut asids[chiplet];
            if t.ctxbitmap != 0 {
                let asid = t.asid + region(start);
                let mut ctxbitmap = if self.mutated(Mutant::FlushLoadedOnly) { t.ctxbitmap } else { t.used };
                if self.mutated(Mutant::CtxbitmapMissingCtx) && ctxbitmap.count_ones() > 1 {
                    ctxbitmap &= !(1 << (15 - ctxbitmap.leading_zeros()));
                }
                let tgh = self.get_lock_tgh_handle(ctx, chiplet).await?;
                let r = self
                    .tgh_invalidate(ctx, chiplet, tgh, vaddr, TGH_VADDRMASK.value_mask(), asid, 0, false, n, ctxbitmap)
                    .await;
                self.unlock_tgh_handle(chiplet, tgh);
                r?;
                self.0.stats.inc(GruStat::FlushTlbGruTgh);
            } else {
                if !self.mutated(Mutant::ZeroAsidSkipKeepsAsid) {
                    t.asid = 0;
                    gms.asidmap.set(gms.asidmap.get() & !(1 << chiplet));
                    self.trace_protocol(ctx.now(), ProtocolEvent::AsidDropped { chiplet, mm: gms.mm() });
                }
                self.0.stats.inc(GruStat::FlushTlbGruZeroAsid);
            }
        }
        Ok(())
    }

    /// `gru_release`'s stop: every loaded context of the mm stops taking CBs.
    async fn stop_contexts(&self, ctx: &AtomicCtx, mm: MmId) -> Result<(), GruError> {
        for chiplet in 0..self.num_chiplets() {
            let loaded: Vec<_> = self.chiplet(chiplet)?.gts.borrow().iter().flatten().filter(|g| g.mm.id() == mm).cloned().collect();
            for gts in loaded {
                if let Some(n) = gts.ctxnum.get() {
                    self.cch_interrupt(ctx, chiplet, n, &gts.cch()).await?;
                }
            }
        }
        Ok(())
    }
}

/// `GRUREGION`: the region of `vaddr` (bits 62:61), which picks one of a base's ASIDs.
pub fn region(vaddr: u64) -> u32 {
    ((vaddr >> 61) & 3) as u32
}

impl MmuNotifier for GruMmStruct {
    fn name(&self) -> &str {
        NOTIFIER_KEY
    }

    /// `gru_release` (classic API eras): mark the mm released and stop its contexts. The 5.4+
    /// driver has no `release` (its ops are range start/end and alloc/free_notifier), so in
    /// the modern era the kernel's call finds none: nothing is marked or stopped.
    fn release<'a>(&'a self, ctx: &'a ProcCtx, mm: MmId) -> KFuture<'a, ()> {
        Box::pin(async move {
            if self.api == Era::Modern {
                return;
            }
            self.released.set(true);
            if let Some(gru) = self.gru().filter(|g| !g.mutated(Mutant::NoFlushOnRelease)) {
                if let Err(e) = gru.stop_contexts(ctx, mm).await {
                    gru.report(e);
                }
            }
        })
    }

    /// `gru_invalidate_range_start`: count the range as active, then flush, so that a dropin
    /// that read `range_active == 0` before the increment is caught by the hardware's race
    /// guard, and one after it backs off.
    fn invalidate_range_start<'a>(&'a self, ctx: &'a ProcCtx, _mm: MmId, range: &'a Range) -> KFuture<'a, Result<(), WouldBlock>> {
        Box::pin(async move {
            if self.mutated(Mutant::RangeActiveBool) {
                self.range_active.set(1);
            } else {
                self.range_active.inc();
            }
            smp_mb(ctx).await;
            if let Some(gru) = self.gru() {
                gru.0.stats.inc(GruStat::MmuInvalidateRange);
            }
            if !self.mutated(Mutant::FlushInRangeEnd) && !self.mkclean_unflushed(range) {
                self.flush(ctx, range.start, range.end).await;
            }
            if self.mutated(Mutant::RangeActiveEndsAtStart) {
                self.range_active.dec();
            }
            Ok(())
        })
    }

    /// `gru_invalidate_range_end`: the range is done; wake user fault paths waiting for it.
    fn invalidate_range_end<'a>(&'a self, ctx: &'a ProcCtx, _mm: MmId, range: &'a Range) -> KFuture<'a, ()> {
        Box::pin(async move {
            if self.mutated(Mutant::FlushInRangeEnd) {
                self.flush(ctx, range.start, range.end).await;
            }
            if self.mutated(Mutant::RangeActiveBool) {
                self.range_active.set(0);
            } else if !self.mutated(Mutant::RangeActiveEndsAtStart) {
                self.range_active.dec();
            }
            smp_mb(ctx).await;
            if !self.mutated(Mutant::NoWakeOnRangeEnd) {
                self.wait_queue.wake_all(ctx.kernel());
            }
        })
    }

    /// Classic `gru_invalidate_page`: flush one page; `range_active` is untouched (the PTE is
    /// already cleared and flushed when it is called).
    fn invalidate_page<'a>(&'a self, ctx: &'a AtomicCtx, _mm: MmId, addr: u64) -> KFuture<'a, ()> {
        Box::pin(async move {
            if let Some(gru) = self.gru() {
                gru.0.stats.inc(GruStat::MmuInvalidatePage);
            }
            if !self.mutated(Mutant::InvalidatePageIgnored) {
                self.flush(ctx, addr, addr + PAGE_SIZE).await;
            }
        })
    }

    /// Classic `change_pte`: the GRU cannot update an entry in place, so the page is flushed
    /// and the next access faults the new PTE in.
    fn change_pte<'a>(&'a self, ctx: &'a AtomicCtx, _mm: MmId, addr: u64, _pte: Pte) -> KFuture<'a, ()> {
        Box::pin(async move {
            self.flush(ctx, addr, addr + PAGE_SIZE).await;
        })
    }

    /// The GRU TLB keeps no accessed bit, so it can tell nothing about use: "not young".
    /// Reporting young would pin pages the device may never touch again; the cost of "not
    /// young" is that reclaim may take a page the chip is using, which the flush on unmap
    /// makes safe.
    fn clear_flush_young<'a>(&'a self, _ctx: &'a AtomicCtx, _mm: MmId, _start: u64, _end: u64) -> KFuture<'a, bool> {
        Box::pin(async { false })
    }

    /// As [`MmuNotifier::clear_flush_young`]: no accessed bit, "not young".
    fn test_young<'a>(&'a self, _ctx: &'a AtomicCtx, _mm: MmId, _addr: u64) -> KFuture<'a, bool> {
        Box::pin(async { false })
    }

    /// `gru_free_mmu_notifier`: the last reference is gone; forget the per-mm state.
    fn free_notifier(&self) {
        if let Some(gru) = self.gru() {
            gru.0.gms.borrow_mut().remove(&self.mm);
        }
    }
}

/// Wait, in process context, until no invalidate of `gms` is in progress; true if it slept.
pub(crate) async fn wait_range_inactive(ctx: &ProcCtx, gms: &GruMmStruct) -> bool {
    smp_rmb(ctx).await;
    let active = gms.range_active.read() != 0;
    gms.wait_queue.wait_event(ctx, || gms.range_active.read() == 0).await;
    active
}

impl GruMmStruct {
    /// Whether [`Mutant::MkcleanNoFlush`] skips the flush of `range` (page_mkclean's).
    fn mkclean_unflushed(&self, range: &Range) -> bool {
        self.mutated(Mutant::MkcleanNoFlush) && range.event == Some(crate::notifier::Event::ProtectionPage) && range.end - range.start == PAGE_SIZE
    }
}

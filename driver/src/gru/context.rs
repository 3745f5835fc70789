//! Contexts and ASIDs (Linux grumain.c): the per-chiplet ASID allocator, the per-mm trackers
//! kept in step with loaded contexts, and loading/unloading a thread's context on a chiplet.

use std::cell::Cell;
use std::rc::Rc;

use super::handles::{Cch, PageSize, HS_CCH_COUNT, HS_TFM_COUNT};
use super::purge::GruMmStruct;
use super::protocol::ProtocolEvent;
use super::stats::GruStat;
use super::{Gru, GruError, Mutant, ASID_INC, MIN_ASID};
use crate::kernel::{AtomicCtx, ProcCtx};
use crate::mm::{Mm, MmId};
use crate::notifier::NotifierId;

/// A chiplet's ASID allocator (`gs_asid`, `gs_asid_limit`, `gs_asid_gen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsidAlloc {
    /// The last base handed out.
    pub next: u32,
    /// Bases below this are known free; reaching it rescans the loaded contexts.
    pub limit: u32,
    /// Bumped on every wrap; trackers of an older generation hold a recycled ASID.
    pub generation: u32,
}

impl AsidAlloc {
    /// A fresh allocator starting at `first` (the first base handed out is `first + ASID_INC`);
    /// its limit is set from the driver's `max_asid` on first use.
    pub fn new(first: u32) -> Self {
        Self { next: first, limit: 0, generation: 0 }
    }
}

impl Default for AsidAlloc {
    fn default() -> Self {
        Self::new(MIN_ASID)
    }
}

/// A thread's GRU context (`gru_thread_state`): its mm, chiplet, and, while loaded, its
/// context number and ASID base.
pub struct Gts {
    pub(crate) mm: Mm,
    pub(crate) gms: Rc<GruMmStruct>,
    pub(crate) notifier: NotifierId,
    pub(crate) chiplet: usize,
    pub(crate) ctxnum: Cell<Option<usize>>,
    /// ASID base while loaded (0 when not): what `gru_reset_asid_limit` sees as in use.
    pub(crate) asid: Cell<u32>,
    /// Fault map (and interrupt) the context uses: its thread's CPU at load time.
    pub(crate) tlb_int_select: Cell<u8>,
    /// Page sizes the CCH offers (bit = 1 << code); 4K only at first.
    pub(crate) sizeavail: Cell<u16>,
    /// A new page size was seen where the CCH could not be rewritten (interrupt context).
    pub(crate) force_cch_reload: Cell<bool>,
    /// Misses reported through the fault map (`ustats.fmm_tlbmiss`).
    pub fmm_tlbmiss: Cell<u64>,
    /// Misses the user had to service (`ustats.upm_tlbmiss`).
    pub upm_tlbmiss: Cell<u64>,
    /// Dropins for this context (`ustats.tlbdropin`).
    pub tlbdropin: Cell<u64>,
}

impl Gts {
    /// The chiplet.
    pub fn chiplet(&self) -> usize {
        self.chiplet
    }

    /// The address space.
    pub fn mm_id(&self) -> MmId {
        self.mm.id()
    }

    /// The context number while loaded.
    pub fn ctxnum(&self) -> Option<usize> {
        self.ctxnum.get()
    }

    /// The ASID base while loaded (0 when not).
    pub fn asid(&self) -> u32 {
        self.asid.get()
    }

    /// The page sizes the context offers (bit = 1 << code).
    pub fn sizeavail(&self) -> u16 {
        self.sizeavail.get()
    }

    /// The CCH line of this context: `asid[r] = base + r`, sizeavail in every region, misses
    /// through fault map `tlb_int_select` with its interrupt enabled, `unmap_enable` clear.
    pub(crate) fn cch(&self) -> Cch {
        let base = self.asid.get();
        Cch {
            tfm_fault_bit_enable: true,
            tlb_int_enable: true,
            tlb_int_select: self.tlb_int_select.get(),
            asid: std::array::from_fn(|r| base + r as u32),
            sizeavail: [self.sizeavail.get(); 8],
            // A user context: its CB addresses are virtual, translated by the TLB. Linux's
            // gru_load_context sets unmap_enable only for the kernel's own context.
            unmap_enable: false,
            ..Default::default()
        }
    }
}

impl Gru {
    /// Allocate a context for a thread of `mm` on `chiplet` and load it: registers the mm's
    /// notifier (one per mm, by get/put) on first use.
    pub async fn alloc_context(&self, ctx: &ProcCtx, mm: &Mm, chiplet: usize) -> Result<Rc<Gts>, GruError> {
        self.chiplet(chiplet)?;
        let (notifier, gms) = self.gru_register_mmu_notifier(ctx, mm).await?;
        let gts = Rc::new(Gts {
            mm: mm.clone(),
            gms,
            notifier,
            chiplet,
            ctxnum: Cell::new(None),
            asid: Cell::new(0),
            tlb_int_select: Cell::new(0),
            sizeavail: Cell::new(1 << PageSize::P4K as u16),
            force_cch_reload: Cell::new(false),
            fmm_tlbmiss: Cell::new(0),
            upm_tlbmiss: Cell::new(0),
            tlbdropin: Cell::new(0),
        });
        if let Err(e) = self.gru_load_context(ctx, &gts).await {
            self.gru_drop_mmu_notifier(&gts);
            return Err(e);
        }
        Ok(gts)
    }

    /// Unload the context if loaded and drop its reference on the mm's notifier.
    pub async fn free_context(&self, ctx: &ProcCtx, gts: Rc<Gts>) -> Result<(), GruError> {
        if gts.ctxnum.get().is_some() {
            self.gru_unload_context(ctx, &gts).await?;
        }
        self.gru_drop_mmu_notifier(&gts);
        Ok(())
    }

    /// `gru_load_context`: take a free context on the thread's chiplet, give the mm an ASID
    /// there (tracker bit set before the CCH goes live), then CCH ALLOCATE and START.
    ///
    /// A released mm (its `release` ran: exit) loads nothing. Exit unmapped and freed every
    /// page after `release`, and no GRU notifier saw those invalidations, so the TLB may still
    /// hold entries under the mm's tracker ASID that point at freed frames; a reload would
    /// reuse that ASID (same generation, `gru_load_mm_tracker`) and make them reachable. In
    /// Linux the question never arises: contexts are loaded from `gru_fault` in the faulting
    /// process, whose mm is alive by definition.
    pub async fn gru_load_context(&self, ctx: &ProcCtx, gts: &Rc<Gts>) -> Result<(), GruError> {
        if gts.ctxnum.get().is_some() {
            return Err(GruError::AlreadyLoaded);
        }
        if gts.gms.released() {
            return Err(GruError::Mm(crate::mm::MmError::Exited(gts.mm.id())));
        }
        gts.mm.check_live()?;
        let chip = self.chiplet(gts.chiplet)?;
        let ctxnum = {
            let mut slots = chip.gts.borrow_mut();
            let n = slots.iter().position(Option::is_none).ok_or(GruError::NoFreeContext(gts.chiplet))?;
            slots[n] = Some(gts.clone());
            n
        };
        gts.ctxnum.set(Some(ctxnum));
        gts.tlb_int_select.set((ctx.cpu() % HS_TFM_COUNT) as u8);
        let asid = match self.gru_load_mm_tracker(ctx, &gts.gms, gts.chiplet, ctxnum).await {
            Ok(a) => a,
            Err(e) => {
                chip.gts.borrow_mut()[ctxnum] = None;
                gts.ctxnum.set(None);
                return Err(e);
            }
        };
        gts.asid.set(asid);
        let cch = gts.cch();
        self.cch_allocate(ctx, gts.chiplet, ctxnum, &cch).await?;
        self.cch_start(ctx, gts.chiplet, ctxnum, &cch).await
    }

    /// `gru_unload_context`: INTERRUPT_SYNC, DEALLOCATE, then clear the tracker bit. A
    /// DEALLOCATE refused because a fault is pending restarts the context and returns
    /// [`GruError::UnloadRefused`]: the context stays loaded and the fault can be answered.
    pub async fn gru_unload_context(&self, ctx: &ProcCtx, gts: &Rc<Gts>) -> Result<(), GruError> {
        let ctxnum = gts.ctxnum.get().ok_or(GruError::NotLoaded)?;
        let chip = self.chiplet(gts.chiplet)?;
        let cch = gts.cch();
        if self.mutated(Mutant::TrackerClearBeforeSync) {
            self.gru_unload_mm_tracker(ctx, &gts.gms, gts.chiplet, ctxnum).await;
        }
        self.cch_interrupt_sync(ctx, gts.chiplet, ctxnum, &cch).await?;
        match self.cch_deallocate(ctx, gts.chiplet, ctxnum, &cch).await {
            Err(GruError::UnloadRefused { .. }) if self.mutated(Mutant::UnloadIgnoresRefusal) => {}
            Err(e) => {
                if matches!(e, GruError::UnloadRefused { .. }) {
                    self.cch_start(ctx, gts.chiplet, ctxnum, &cch).await?;
                }
                return Err(e);
            }
            Ok(()) => {}
        }
        self.gru_unload_mm_tracker(ctx, &gts.gms, gts.chiplet, ctxnum).await;
        chip.gts.borrow_mut()[ctxnum] = None;
        gts.ctxnum.set(None);
        gts.asid.set(0);
        Ok(())
    }

    /// `gru_update_cch`: rewrite a loaded context's page sizes (INTERRUPT, ALLOCATE with the
    /// new fields, START).
    pub(crate) async fn gru_update_cch(&self, ctx: &AtomicCtx, gts: &Gts) -> Result<(), GruError> {
        let ctxnum = gts.ctxnum.get().ok_or(GruError::NotLoaded)?;
        let cch = gts.cch();
        self.cch_interrupt(ctx, gts.chiplet, ctxnum, &cch).await?;
        self.cch_allocate(ctx, gts.chiplet, ctxnum, &cch).await?;
        self.cch_start(ctx, gts.chiplet, ctxnum, &cch).await?;
        gts.force_cch_reload.set(false);
        Ok(())
    }

    /// `gru_load_mm_tracker`: under the mm's asid lock, take a new ASID if the tracker has none
    /// or holds one of an old generation with no sibling context loaded; set the context's
    /// bit and the chiplet's bit in `asidmap`. Returns the ASID base.
    pub(crate) async fn gru_load_mm_tracker(
        &self,
        ctx: &AtomicCtx,
        gms: &GruMmStruct,
        chiplet: usize,
        ctxnum: usize,
    ) -> Result<u32, GruError> {
        let chip = self.chiplet(chiplet)?;
        let mut asids = gms.asid_lock.lock(ctx).await;
        let t = &mut asids[chiplet];
        let mut alloc = chip.asid.lock(ctx).await;
        let stale = (t.asid_gen != alloc.generation) != self.mutated(Mutant::TrackerGenInverted);
        if t.asid == 0 || (t.ctxbitmap == 0 && stale) {
            t.asid = self.gru_assign_asid(ctx, chiplet, &mut alloc).await?;
            t.asid_gen = alloc.generation;
            t.used = 0;
            self.0.stats.inc(GruStat::AsidNew);
        } else {
            self.0.stats.inc(GruStat::AsidReuse);
        }
        drop(alloc);
        t.ctxbitmap |= 1 << ctxnum;
        t.used |= 1 << ctxnum;
        gms.asidmap.set(gms.asidmap.get() | 1 << chiplet);
        self.trace_protocol(ctx.now(), ProtocolEvent::TrackerLoaded { chiplet, ctx: ctxnum, mm: gms.mm(), asid: t.asid });
        Ok(t.asid)
    }

    /// `gru_unload_mm_tracker`: under the mm's asid lock, clear the context's bit.
    pub(crate) async fn gru_unload_mm_tracker(&self, ctx: &AtomicCtx, gms: &GruMmStruct, chiplet: usize, ctxnum: usize) {
        let mut asids = gms.asid_lock.lock(ctx).await;
        if let Some(t) = asids.get_mut(chiplet) {
            t.ctxbitmap &= !(1 << ctxnum);
            self.trace_protocol(ctx.now(), ProtocolEvent::TrackerCleared { chiplet, ctx: ctxnum, mm: gms.mm() });
        }
    }

    /// `gru_assign_asid` (under `gs_asid_lock`): the next base, or a limit reset.
    async fn gru_assign_asid(&self, ctx: &AtomicCtx, chiplet: usize, alloc: &mut AsidAlloc) -> Result<u32, GruError> {
        if alloc.limit == 0 {
            alloc.limit = self.0.cfg.max_asid;
        }
        // The planted bug hands the driver's first base out a second time.
        if !(self.mutated(Mutant::AsidHandedTwice) && self.0.stats.get(GruStat::AsidNew) == 1) {
            alloc.next += ASID_INC;
        }
        if alloc.next >= alloc.limit {
            return self.gru_reset_asid_limit(ctx, chiplet, alloc).await;
        }
        Ok(alloc.next)
    }

    /// `gru_reset_asid_limit`: purge the whole chiplet (on a wrap: restart at `MIN_ASID` in a
    /// new generation), skip ASIDs of loaded contexts, and set the limit to the smallest in-use
    /// base above the candidate.
    async fn gru_reset_asid_limit(&self, ctx: &AtomicCtx, chiplet: usize, alloc: &mut AsidAlloc) -> Result<u32, GruError> {
        self.0.stats.inc(GruStat::AsidNext);
        let max = self.0.cfg.max_asid;
        let mut asid = alloc.next;
        let mut limit = max;
        if asid >= limit {
            asid = self.asid_wrap(ctx, chiplet, alloc).await?;
        } else {
            self.purge_for_reuse(ctx, chiplet).await?;
        }
        let in_use: Vec<u32> = self.chiplet(chiplet)?.gts.borrow().iter().flatten().map(|g| g.asid.get()).filter(|&a| a != 0).collect();
        'again: loop {
            for &inuse in &in_use {
                if inuse == asid {
                    asid += ASID_INC;
                    if asid >= limit {
                        // Empty range: reset the limit and start over.
                        limit = max;
                        if asid >= max {
                            asid = self.asid_wrap(ctx, chiplet, alloc).await?;
                        }
                        continue 'again;
                    }
                }
                if inuse > asid && inuse < limit {
                    limit = inuse;
                }
            }
            break;
        }
        alloc.limit = limit;
        alloc.next = asid;
        Ok(asid)
    }

    /// The `wrap:` arm of `gru_reset_asid_limit`: full purge, new generation, `MIN_ASID`.
    async fn asid_wrap(&self, ctx: &AtomicCtx, chiplet: usize, alloc: &mut AsidAlloc) -> Result<u32, GruError> {
        self.purge_for_reuse(ctx, chiplet).await?;
        alloc.generation += 1;
        self.0.stats.inc(GruStat::AsidWrap);
        Ok(MIN_ASID)
    }

    /// The full purge that makes the ASIDs an allocator reset recycles safe to hand out again:
    /// entries of unloaded contexts stay in the TLB under their old ASIDs.
    async fn purge_for_reuse(&self, ctx: &AtomicCtx, chiplet: usize) -> Result<(), GruError> {
        if !self.mutated(Mutant::AsidReuseNoPurge) {
            self.gru_flush_all_tlb(ctx, chiplet).await?;
        }
        self.trace_protocol(ctx.now(), ProtocolEvent::AsidsRecycled { chiplet });
        Ok(())
    }

    /// The allocator state of `chiplet` (for tests and summaries).
    pub fn asid_alloc(&self, chiplet: usize) -> Option<AsidAlloc> {
        self.0.chiplets.get(chiplet).and_then(|c| c.asid.try_lock().map(|g| *g))
    }

    /// The context loaded in slot `ctxnum` of `chiplet`, if any.
    pub fn loaded(&self, chiplet: usize, ctxnum: usize) -> Option<Rc<Gts>> {
        (ctxnum < HS_CCH_COUNT).then(|| self.0.chiplets.get(chiplet)?.gts.borrow()[ctxnum].clone()).flatten()
    }
}

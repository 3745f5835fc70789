//! Fault handling (Linux grufault.c): the interrupt handler drops entries in from interrupt
//! context when it safely can, and hands every other miss to the user thread (user-polling
//! mode), which sees CALL_OS and calls [`Gru::gru_handle_user_call_os`] from process context.

use std::rc::Rc;

use super::context::Gts;
use super::gruhandles::Dropin;
use super::handles::{self, tfm_addr, CbStatus, HandleStatus, PageSize, Tfh, TfhCause, TfhState, Tfm};
use super::hw::{CbRequest, MmioRequest};
use super::protocol::ProtocolEvent;
use super::purge::wait_range_inactive;
use super::stats::{GruStat, UpmCause};
use super::{Gru, GruError, Mutant, CBR_PER_CTX};
use crate::kernel::{smp_rmb, AtomicCtx, IrqCtx, ProcCtx, ReadGuard};
use crate::mm::{follow_page, follow_page_irqs_off, get_user_pages, MmError, PteInfo, PAGE_MASK, PAGE_SHIFT};

/// Where a dropin runs, with what its page walk needs.
enum Path<'a> {
    /// Interrupt context: `atomic_pte_lookup` with `mmap_lock` taken by trylock, or without it
    /// (`None`) under [`GruConfig::lockless_irq_walk`](super::GruConfig::lockless_irq_walk).
    Irq(&'a IrqCtx, Option<&'a ReadGuard<'a>>),
    /// A user thread's CALL_OS: `non_atomic_pte_lookup`, which may sleep.
    User(&'a ProcCtx),
}

impl Path<'_> {
    fn ctx(&self) -> &AtomicCtx {
        match self {
            Path::Irq(c, _) => c,
            Path::User(c) => c,
        }
    }
}

/// How `gru_try_dropin` ended (Linux's return values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dropped {
    /// Dropped in (0), or nothing to do for this caller (0 as well).
    Done,
    /// Try again after the active range ends (1).
    Retry,
    /// No ASID: the context is being unloaded (-EAGAIN).
    Again,
    /// The address is invalid; the CB was failed (-EFAULT).
    Invalid,
}

impl Gru {
    /// `gru_intr` for fault map `tfm` of `chiplet`: read and clear the map (one MMIO read), and
    /// try a dropin for each fault bit. The map is read again while the line stays high, since
    /// bits set after the read keep it high without a new edge.
    pub async fn gru_intr(&self, ctx: &IrqCtx, chiplet: usize, tfm: usize) {
        self.0.stats.inc(GruStat::Intr);
        loop {
            let map = match self.mmio(ctx, chiplet, MmioRequest::read(tfm_addr(tfm))).await {
                Ok(l) => Tfm::decode(&l),
                Err(e) => return self.report(e),
            };
            for _ in 0..map.done.count_ones() {
                self.0.stats.inc(GruStat::IntrCbr);
            }
            for cbr in (0..128).filter(|b| map.fault >> b & 1 != 0) {
                self.0.stats.inc(GruStat::IntrTfh);
                if let Err(e) = self.intr_tfh(ctx, chiplet, cbr).await {
                    self.report(e);
                }
            }
            if self.0.hw.irq_lines(chiplet) & 1 << tfm == 0 || self.mutated(Mutant::IntrReadsMapOnce) {
                return;
            }
        }
    }

    /// One fault bit: find its context, trylock `mmap_lock` (unless the walk is lock-less), drop
    /// in or switch to UPM.
    async fn intr_tfh(&self, ctx: &IrqCtx, chiplet: usize, cbr: usize) -> Result<(), GruError> {
        let Some(gts) = self.loaded(chiplet, handles::ctx_of_cbr(cbr, CBR_PER_CTX)) else {
            self.0.stats.inc(GruStat::IntrSpurious);
            return Ok(());
        };
        gts.fmm_tlbmiss.set(gts.fmm_tlbmiss.get() + 1);
        // Linux counts a pending CCH reload as a failed trylock too.
        if gts.force_cch_reload.get() {
            self.0.stats.inc(GruStat::IntrMmLockFailed);
            return self.hand_to_user(ctx, chiplet, cbr, UpmCause::CchReload).await;
        }
        let lock = if self.0.cfg.lockless_irq_walk { None } else { gts.mm.mmap_lock().try_read(ctx) };
        if lock.is_none() && !self.0.cfg.lockless_irq_walk {
            self.0.stats.inc(GruStat::IntrMmLockFailed);
            return self.hand_to_user(ctx, chiplet, cbr, UpmCause::MmapLock).await;
        }
        if self.mutated(Mutant::RangeCheckBeforeTfhRead) {
            // The guard before the read: an invalidate that starts in between is not seen here.
            self.trace_protocol(ctx.now(), ProtocolEvent::RangeActiveTested { chiplet, cbr, mm: gts.mm_id() });
            if gts.gms.range_active.read() != 0 {
                self.0.stats.inc(GruStat::TlbDropinFailRangeActive);
                return self.hand_to_user(ctx, chiplet, cbr, UpmCause::RangeActive).await;
            }
        }
        let tfh = self.read_tfh(ctx, chiplet, cbr).await?;
        self.gru_try_dropin(Path::Irq(ctx, lock.as_ref()), &gts, cbr, tfh).await.map(|_| ())
    }

    /// `gru_try_dropin`: check the TFH still holds a miss this caller should service, that no
    /// invalidate is active, walk the page table, and write the entry with WRITE_RESTART.
    async fn gru_try_dropin(&self, path: Path<'_>, gts: &Gts, cbr: usize, tfh: Tfh) -> Result<Dropped, GruError> {
        let ctx = path.ctx();
        let chiplet = gts.chiplet;
        let user = matches!(path, Path::User(_));
        let state = TfhState::try_from(u64::from(tfh.state));
        if tfh.status != HandleStatus::Exception as u8 {
            self.0.stats.inc(GruStat::TlbDropinFailNoException);
            return Ok(Dropped::Done);
        }
        match state {
            Ok(TfhState::MissFmm) if user => {
                self.0.stats.inc(GruStat::TlbDropinFailFmm);
                return Ok(Dropped::Done);
            }
            Ok(TfhState::MissFmm | TfhState::MissUpm) => {}
            _ => {
                self.0.stats.inc(GruStat::TlbDropinFailIdle);
                return Ok(Dropped::Done);
            }
        }
        if tfh.stale {
            self.0.stats.inc(GruStat::TfhStaleOnFault);
        }
        let write = tfh.cause == TfhCause::TlbMod as u8 && !self.mutated(Mutant::StoreMissAsRead);
        if tfh.missasid == 0 {
            self.0.stats.inc(GruStat::TlbDropinFailNoAsid);
            if !user {
                self.hand_to_user(ctx, chiplet, cbr, UpmCause::NoAsid).await?;
            }
            return Ok(Dropped::Again);
        }
        // The TFH is read before range_active: an invalidate that starts after this check
        // marks the TFH stale and the hardware discards the write below.
        smp_rmb(ctx).await;
        let early = !user && self.mutated(Mutant::RangeCheckBeforeTfhRead);
        let check_range = (user || !self.mutated(Mutant::NoRangeActiveCheck)) && !early;
        if check_range {
            self.trace_protocol(ctx.now(), ProtocolEvent::RangeActiveTested { chiplet, cbr, mm: gts.mm_id() });
        }
        if check_range && gts.gms.range_active.read() != 0 {
            self.0.stats.inc(GruStat::TlbDropinFailRangeActive);
            if !user {
                self.hand_to_user(ctx, chiplet, cbr, UpmCause::RangeActive).await?;
            }
            return Ok(Dropped::Retry);
        }
        let vaddr = tfh.missvaddr;
        // A user walk holds its page reference and mmap_lock until the entry is written.
        let (pte, _lock, _page) = match &path {
            Path::Irq(ctx, lock) => match atomic_pte_lookup(ctx, gts, *lock, vaddr, write)? {
                Ok(pte) => (pte, None, None),
                Err(cause) => return self.fail_upm(ctx, chiplet, cbr, cause).await,
            },
            Path::User(ctx) => {
                let lock = gts.mm.mmap_lock().read(ctx).await;
                match non_atomic_pte_lookup(ctx, gts, &lock, vaddr, write).await {
                    Ok(page) => (page.info(), Some(lock), Some(page)),
                    Err(MmError::SegFault { .. } | MmError::SigBus { .. } | MmError::NotMapped { .. } | MmError::PfnMap { .. } | MmError::Exited(_)) => {
                        return self.fail_invalid(ctx, chiplet, cbr).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let pte = self.lookup_as_configured(user, pte);
        if self.is_gru_paddr(gts, pte.page_paddr()) {
            return self.fail_invalid(ctx, chiplet, cbr).await;
        }
        let pagesize = PageSize::code_from_shift(pte.page_shift).unwrap_or(PageSize::P4K);
        let bit = 1u16 << pagesize as u16;
        if gts.sizeavail.get() & bit == 0 {
            gts.sizeavail.set(gts.sizeavail.get() | bit);
            gts.force_cch_reload.set(true);
            if !user {
                // Rewriting the CCH waits on hardware: not from interrupt context.
                return self.fail_upm(ctx, chiplet, cbr, UpmCause::NewPageSize).await;
            }
            self.gru_update_cch(ctx, gts).await?;
        }
        let dirty = (pte.write && (pte.dirty || self.mutated(Mutant::DropinIgnoresPteDirty)))
            || (!write && self.mutated(Mutant::DirtyOnReadDropin));
        let asid = if self.mutated(Mutant::DropinWrongAsid) { tfh.missasid + 1 } else { tfh.missasid };
        let d = Dropin { pfn: pte.page_paddr() >> 12, vaddr, asid, dirty, pagesize };
        self.tfh_write_restart(ctx, chiplet, cbr, &d).await?;
        self.0.stats.inc(GruStat::TlbDropin);
        gts.tlbdropin.set(gts.tlbdropin.get() + 1);
        Ok(Dropped::Done)
    }

    /// `failinval`: the address has no translation the GRU may use; the CB completes with
    /// EXCEPTION.
    async fn fail_invalid(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize) -> Result<Dropped, GruError> {
        self.0.stats.inc(GruStat::TlbDropinFailInvalid);
        self.tfh_exception(ctx, chiplet, cbr).await?;
        Ok(Dropped::Invalid)
    }

    /// `failupm`: hand the miss to the user thread.
    async fn fail_upm(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize, cause: UpmCause) -> Result<Dropped, GruError> {
        self.0.stats.inc(GruStat::TlbDropinFailUpm);
        self.hand_to_user(ctx, chiplet, cbr, cause).await?;
        Ok(Dropped::Retry)
    }

    /// The interrupt handler gives up on a miss: count why, and switch the TFH to user-polling
    /// mode (the CB completes with CALL_OS). Every handover goes through here, so the causes
    /// add up to the handovers.
    async fn hand_to_user(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize, cause: UpmCause) -> Result<(), GruError> {
        self.0.stats.upm(cause);
        self.tfh_user_polling_mode(ctx, chiplet, cbr).await
    }

    /// `gru_handle_user_call_os` + `gru_user_dropin`: service the miss of CB `cb` of `gts`
    /// after its CALL_OS. Sleeps until no invalidate is active, then drops in through
    /// `get_user_pages`; loops while an invalidate keeps getting in the way.
    pub async fn gru_handle_user_call_os(&self, ctx: &ProcCtx, gts: &Gts, cb: u8) -> Result<(), GruError> {
        self.0.stats.inc(GruStat::CallOs);
        let ctxnum = gts.ctxnum.get().ok_or(GruError::NotLoaded)?;
        let cbr = cbr_of(ctxnum, cb)?;
        if gts.force_cch_reload.get() {
            self.gru_update_cch(ctx, gts).await?;
        }
        gts.upm_tlbmiss.set(gts.upm_tlbmiss.get() + 1);
        loop {
            if wait_range_inactive(ctx, &gts.gms).await {
                self.0.stats.inc(GruStat::CallOsWaitQueue);
            }
            let tfh = self.read_tfh(ctx, gts.chiplet, cbr).await?;
            match self.gru_try_dropin(Path::User(ctx), gts, cbr, tfh).await? {
                Dropped::Done | Dropped::Invalid => return Ok(()),
                // An invalidate started after the wait: wait for it too.
                Dropped::Retry => {}
                // The context is being unloaded: let that finish.
                Dropped::Again => ctx.sleep(self.0.cfg.cb_poll_interval).await,
            }
        }
    }

    /// A user thread's CB instruction on its context: issue it, poll for the completion,
    /// answer CALL_OS through the driver; returns the loaded value (0 for a store).
    pub async fn cb_access(&self, ctx: &ProcCtx, gts: &Rc<Gts>, cb: u8, vaddr: u64, write: bool, wdata: u64) -> Result<u64, GruError> {
        let ctxnum = gts.ctxnum.get().ok_or(GruError::NotLoaded)?;
        let cbr = cbr_of(ctxnum, cb)? as u8;
        self.0.hw.cb_issue(gts.chiplet, CbRequest { cbr, vaddr, write, wdata })?;
        let mut begin = ctx.now();
        loop {
            ctx.sleep(self.0.cfg.cb_poll_interval).await;
            let Some(c) = self.0.hw.cb_take(gts.chiplet, cbr) else {
                if ctx.now() - begin > self.0.cfg.timeout {
                    return Err(GruError::CbTimeout { cbr, cycles: ctx.now() - begin });
                }
                continue;
            };
            match CbStatus::try_from(u64::from(c.status)) {
                Ok(CbStatus::Idle) => return Ok(c.rdata),
                Ok(CbStatus::CallOs) => {
                    self.gru_handle_user_call_os(ctx, gts, cb).await?;
                    begin = ctx.now();
                }
                _ => return Err(GruError::CbException { cbr, cause: c.cause }),
            }
        }
    }
}

impl Gru {
    /// The translation a lookup gives the dropin: the walk's own, or under
    /// [`GruConfig::real_thp_lookup`](super::GruConfig::real_thp_lookup) what Linux's lookups
    /// give for a THP: a 4K page, the huge page's first frame from the interrupt path's
    /// `atomic_pte_lookup` (the PMD read as a PTE), the right subpage from the user path's
    /// `get_user_pages`.
    /// `is_gru_paddr`: `paddr` is in GRU space (a mapping of the GRU device), which the GRU
    /// must not reach through its own TLB; Linux's `gru_vtop` fails such a translation as
    /// invalid.
    fn is_gru_paddr(&self, gts: &Gts, paddr: u64) -> bool {
        !self.mutated(Mutant::GruPaddrUnchecked) && gts.mm.mmu().with_phys(|p| p.gru_space().contains(&(paddr >> PAGE_SHIFT)))
    }

    fn lookup_as_configured(&self, user: bool, pte: PteInfo) -> PteInfo {
        if !self.0.cfg.real_thp_lookup || pte.page_shift == PAGE_SHIFT {
            return pte;
        }
        let pfn = if user { pte.pfn } else { pte.page_paddr() >> PAGE_SHIFT };
        PteInfo { pfn, page_shift: PAGE_SHIFT, ..pte }
    }
}

/// The chiplet CBR of CB `cb` of context `ctxnum`.
fn cbr_of(ctxnum: usize, cb: u8) -> Result<usize, GruError> {
    if usize::from(cb) >= CBR_PER_CTX {
        return Err(GruError::NoSuchCb(cb));
    }
    Ok(handles::cbr_of(ctxnum, cb.into(), CBR_PER_CTX))
}

/// `atomic_pte_lookup`: the non-sleeping walk, under `mmap_lock` if `lock` is some; the
/// translation if the page is present and, for a store (TLB_MOD), writable and dirty, else why
/// the user thread must fault it in.
fn atomic_pte_lookup(ctx: &IrqCtx, gts: &Gts, lock: Option<&ReadGuard<'_>>, vaddr: u64, write: bool) -> Result<Result<PteInfo, UpmCause>, GruError> {
    let pte = match lock {
        Some(lock) => follow_page(ctx, &gts.mm, lock, vaddr)?,
        None => follow_page_irqs_off(ctx, &gts.mm, vaddr),
    };
    Ok(match pte {
        None => Err(UpmCause::NotPresent),
        Some(p) if write && !p.write => Err(UpmCause::StoreReadOnly),
        Some(p) if write && !p.dirty => Err(UpmCause::StoreClean),
        Some(p) => Ok(p),
    })
}

/// `non_atomic_pte_lookup`: `get_user_pages` of the one page, faulting it in (writable and
/// dirty for a store); the reference is dropped right after the dropin.
async fn non_atomic_pte_lookup(
    ctx: &ProcCtx,
    gts: &Gts,
    lock: &ReadGuard<'_>,
    vaddr: u64,
    write: bool,
) -> Result<crate::mm::PageRef, MmError> {
    let mut pages = get_user_pages(ctx, &gts.mm, lock, vaddr & PAGE_MASK, 1, write).await?;
    pages.pop().ok_or(MmError::NotMapped { mm: gts.mm.id(), start: vaddr & PAGE_MASK, end: (vaddr & PAGE_MASK) + crate::mm::PAGE_SIZE })
}

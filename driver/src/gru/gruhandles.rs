//! Handle operations (Linux gruhandles.c): MMIO line accesses, the start sequence, waiting
//! with a timeout that names the stuck handle, and one function per operation. Each
//! operation's latency, from its start write to the end of its wait, goes into the stats.

use std::fmt;

use super::handles::{
    self, cch_addr, tfh_addr, tgh_addr, Cch, CchOpc, HandleStatus, Tfh, TfhOpc, Tgh, TghOpc,
    HDL_STATUS,
};
use super::hw::MmioRequest;
use super::protocol::ProtocolEvent;
use super::stats::HandleKind;
use super::{Gru, GruError};
use crate::kernel::AtomicCtx;

/// A handle: kind, index and chiplet, for error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HandleId {
    /// Which kind.
    pub kind: HandleKind,
    /// Its index among its kind (the CBR for a TFH, the context for a CCH).
    pub index: usize,
    /// The chiplet.
    pub chiplet: usize,
}

impl HandleId {
    /// The handle's MMIO offset.
    pub fn addr(&self) -> u32 {
        match self.kind {
            HandleKind::Cch => cch_addr(self.index),
            HandleKind::Tfh => tfh_addr(self.index),
            HandleKind::Tgh => tgh_addr(self.index),
        }
    }
}

impl fmt::Display for HandleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chiplet {} {} {}", self.chiplet, self.kind, self.index)
    }
}

/// What the driver fills in a TFH dropin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropin {
    /// Physical address >> 12 of the page, rounded down to the page size.
    pub pfn: u64,
    /// The virtual address that missed.
    pub vaddr: u64,
    /// The ASID the miss used.
    pub asid: u32,
    /// Writable entry.
    pub dirty: bool,
    /// Page-size code.
    pub pagesize: handles::PageSize,
}

/// A TGH operation that ended in EXCEPTION, named with the cause the handle reports
/// (DW0[26:24], Linux `enum gru_tgh_cause`; PAGESIZE is the model's refusal of a page-size
/// code above 8), indexed by the cause code.
const TGH_FAILED: [&str; 8] = [
    "tgh_invalidate (EXCEPTION, cause RR_ECC)",
    "tgh_invalidate (EXCEPTION, cause TLB_ECC)",
    "tgh_invalidate (EXCEPTION, cause LRU_ECC)",
    "tgh_invalidate (EXCEPTION, cause PS_ECC)",
    "tgh_invalidate (EXCEPTION, cause MUL_ERR)",
    "tgh_invalidate (EXCEPTION, cause DATA_ERR)",
    "tgh_invalidate (EXCEPTION, cause SW_FORCE)",
    "tgh_invalidate (EXCEPTION, cause PAGESIZE)",
];

/// The operation a handle failure reports: for a TGH, `op` with the cause its line holds.
fn failed_op(h: HandleId, op: &'static str, line: &[u64; 8]) -> &'static str {
    match h.kind {
        HandleKind::Tgh => TGH_FAILED[usize::from(Tgh::decode(line).cause) % TGH_FAILED.len()],
        _ => op,
    }
}

impl Gru {
    /// One MMIO round trip: submit, then spend cycles until the response arrives.
    pub(crate) async fn mmio(
        &self,
        ctx: &AtomicCtx,
        chiplet: usize,
        req: MmioRequest,
    ) -> Result<[u64; 8], GruError> {
        let ticket = self.0.hw.mmio_submit(chiplet, req)?;
        let begin = ctx.now();
        loop {
            // One cycle per poll. Until the response can be visible, and before the timeout
            // can fire, a poll would only spin: the executor skips those polls (same cycles,
            // same scheduling).
            let until = self.0.hw.mmio_visible_from(ticket).map_or(0, |v| v.min(begin + self.0.cfg.timeout + 1));
            ctx.spin_until(until).await;
            if let Some(rsp) = self.0.hw.mmio_poll(ticket) {
                return if rsp.err {
                    Err(GruError::Mmio { chiplet, addr: req.addr, write: req.write })
                } else {
                    Ok(rsp.data)
                };
            }
            if ctx.now() - begin > self.0.cfg.timeout {
                return Err(GruError::MmioTimeout { chiplet, addr: req.addr, cycles: self.0.cfg.timeout });
            }
        }
    }

    /// Read a handle's line.
    pub(crate) async fn read_handle(&self, ctx: &AtomicCtx, h: HandleId) -> Result<[u64; 8], GruError> {
        self.mmio(ctx, h.chiplet, MmioRequest::read(h.addr())).await
    }

    /// `start_instruction`: write every field with `DW0 | 0x20001` in one line.
    async fn start(&self, ctx: &AtomicCtx, h: HandleId, line: [u64; 8]) -> Result<(), GruError> {
        let begin = ctx.now();
        self.mmio(ctx, h.chiplet, MmioRequest::write(h.addr(), handles::start(line))).await?;
        self.0.stats.record_op(h.kind, &line, ctx.now() - begin);
        Ok(())
    }

    /// `start_instruction` + `wait_instruction_complete`: poll DW0 until the status leaves
    /// ACTIVE; a status of EXCEPTION is an error naming the operation (a TGH's with its cause).
    async fn start_wait(
        &self,
        ctx: &AtomicCtx,
        h: HandleId,
        op: &'static str,
        line: [u64; 8],
    ) -> Result<[u64; 8], GruError> {
        let begin = ctx.now();
        self.mmio(ctx, h.chiplet, MmioRequest::write(h.addr(), handles::start(line))).await?;
        loop {
            let now = self.read_handle(ctx, h).await?;
            match HandleStatus::try_from(HDL_STATUS.get(&now)) {
                Ok(HandleStatus::Active) if ctx.now() - begin > self.0.cfg.timeout => {
                    return Err(GruError::HandleTimeout { handle: h, op, cycles: ctx.now() - begin, dump: now });
                }
                Ok(HandleStatus::Active) => continue,
                Ok(HandleStatus::Idle) => {
                    self.0.stats.record_op(h.kind, &line, ctx.now() - begin);
                    return Ok(now);
                }
                _ => return Err(GruError::HandleFailed { handle: h, op: failed_op(h, op, &now), dump: now }),
            }
        }
    }

    async fn cch_op(
        &self,
        ctx: &AtomicCtx,
        chiplet: usize,
        ctxnum: usize,
        cch: &Cch,
        opc: CchOpc,
        op: &'static str,
    ) -> Result<(), GruError> {
        let h = HandleId { kind: HandleKind::Cch, index: ctxnum, chiplet };
        let line = Cch { opc: opc as u8, ..*cch }.encode();
        self.start_wait(ctx, h, op, line).await.map(|_| ())
    }

    /// `cch_allocate`: latch the context's fields (`cch` carries ASIDs, page sizes, fault-map
    /// settings).
    pub async fn cch_allocate(&self, ctx: &AtomicCtx, chiplet: usize, ctxnum: usize, cch: &Cch) -> Result<(), GruError> {
        self.cch_op(ctx, chiplet, ctxnum, cch, CchOpc::Allocate, "cch_allocate").await
    }

    /// `cch_start`: the context takes CB requests.
    pub async fn cch_start(&self, ctx: &AtomicCtx, chiplet: usize, ctxnum: usize, cch: &Cch) -> Result<(), GruError> {
        self.cch_op(ctx, chiplet, ctxnum, cch, CchOpc::Start, "cch_start").await
    }

    /// `cch_interrupt`: the context stops taking CB requests.
    pub async fn cch_interrupt(&self, ctx: &AtomicCtx, chiplet: usize, ctxnum: usize, cch: &Cch) -> Result<(), GruError> {
        self.cch_op(ctx, chiplet, ctxnum, cch, CchOpc::Interrupt, "cch_interrupt").await
    }

    /// `cch_interrupt_sync`: stop, and wait until none of the context's CBs is in flight.
    pub async fn cch_interrupt_sync(&self, ctx: &AtomicCtx, chiplet: usize, ctxnum: usize, cch: &Cch) -> Result<(), GruError> {
        self.cch_op(ctx, chiplet, ctxnum, cch, CchOpc::InterruptSync, "cch_interrupt_sync").await?;
        self.trace_protocol(ctx.now(), ProtocolEvent::InterruptSyncDone { chiplet, ctx: ctxnum });
        Ok(())
    }

    /// `cch_deallocate`: free the context; [`GruError::UnloadRefused`] while a fault of it is
    /// pending.
    pub async fn cch_deallocate(&self, ctx: &AtomicCtx, chiplet: usize, ctxnum: usize, cch: &Cch) -> Result<(), GruError> {
        match self.cch_op(ctx, chiplet, ctxnum, cch, CchOpc::Deallocate, "cch_deallocate").await {
            Err(GruError::HandleFailed { .. }) => Err(GruError::UnloadRefused { chiplet, ctxnum }),
            other => other,
        }
    }

    /// `tgh_invalidate` on TGH `index` (locked by the caller): purge the entries of the
    /// contexts in `ctxbitmap` matching the ASID (any if `global`) over `n + 1` pages of
    /// size code `pagesize` from `vaddr`; waits for the purge to finish.
    #[allow(clippy::too_many_arguments)]
    pub async fn tgh_invalidate(
        &self,
        ctx: &AtomicCtx,
        chiplet: usize,
        index: usize,
        vaddr: u64,
        vaddrmask: u64,
        asid: u32,
        pagesize: u8,
        global: bool,
        n: u16,
        ctxbitmap: u16,
    ) -> Result<(), GruError> {
        let h = HandleId { kind: HandleKind::Tgh, index, chiplet };
        let tgh = Tgh {
            delresp: true,
            opc: TghOpc::Invalidate as u8,
            vaddr,
            asid,
            pagesize,
            global,
            vaddrmask,
            n,
            ctxbitmap,
            ..Default::default()
        };
        self.start_wait(ctx, h, "tgh_invalidate", tgh.encode()).await.map(|_| ())
    }

    async fn tfh_op(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize, tfh: Tfh) -> Result<(), GruError> {
        self.start(ctx, HandleId { kind: HandleKind::Tfh, index: cbr, chiplet }, tfh.encode()).await
    }

    fn fill(opc: TfhOpc, d: &Dropin) -> Tfh {
        Tfh {
            opc: opc as u8,
            pfn: d.pfn,
            fillvaddr: d.vaddr,
            fillasid: d.asid,
            dirty: d.dirty,
            pagesize: d.pagesize as u8,
            ..Default::default()
        }
    }

    /// `tfh_write_restart`: install the entry and re-execute the CB. Not waited for, as in
    /// Linux: the hardware's race guard may discard it, and the CB then misses again.
    pub async fn tfh_write_restart(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize, d: &Dropin) -> Result<(), GruError> {
        self.tfh_op(ctx, chiplet, cbr, Self::fill(TfhOpc::WriteRestart, d)).await
    }

    /// `tfh_user_polling_mode`: MISS_FMM → MISS_UPM; the CB completes with CALL_OS.
    pub async fn tfh_user_polling_mode(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize) -> Result<(), GruError> {
        self.tfh_op(ctx, chiplet, cbr, Tfh { opc: TfhOpc::UserPollingMode as u8, ..Default::default() }).await
    }

    /// `tfh_exception`: the CB completes with EXCEPTION.
    pub async fn tfh_exception(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize) -> Result<(), GruError> {
        self.tfh_op(ctx, chiplet, cbr, Tfh { opc: TfhOpc::Exception as u8, ..Default::default() }).await
    }

    /// Read the TFH of `cbr`.
    pub async fn read_tfh(&self, ctx: &AtomicCtx, chiplet: usize, cbr: usize) -> Result<Tfh, GruError> {
        let h = HandleId { kind: HandleKind::Tfh, index: cbr, chiplet };
        let tfh = Tfh::decode(&self.read_handle(ctx, h).await?);
        self.trace_protocol(ctx.now(), ProtocolEvent::TfhRead { chiplet, cbr });
        Ok(tfh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gru::handles::TghCause;

    #[test]
    fn a_failed_tgh_names_its_cause_and_other_handles_their_operation() {
        let tgh = HandleId { kind: HandleKind::Tgh, index: 3, chiplet: 1 };
        for (cause, name) in [(TghCause::TlbEcc, "TLB_ECC"), (TghCause::Pagesize, "PAGESIZE"), (TghCause::RrEcc, "RR_ECC")] {
            let line = Tgh { status: HandleStatus::Exception as u8, cause: cause as u8, ..Default::default() }.encode();
            assert_eq!(failed_op(tgh, "tgh_invalidate", &line), format!("tgh_invalidate (EXCEPTION, cause {name})"));
        }
        let cch = HandleId { kind: HandleKind::Cch, index: 0, chiplet: 0 };
        assert_eq!(failed_op(cch, "cch_start", &[0; 8]), "cch_start");
    }
}

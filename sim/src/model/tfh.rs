//! The TLB fault handles: miss latch, commands and the race guard (MICROARCH §5, §6, §7).

use super::stats::Counters;
use gru_abi::TlbEntry;
use crate::handles::{CbStatus, Cch, HandleStatus, PageSize, Stat, Tfh, TfhCause, TfhOpc, TfhState};

/// A miss latched by the CB engine, applied after the MMIO command of the same edge.
pub(super) struct MissLatch {
    pub cbr: usize,
    pub cause: TfhCause,
    /// MISS_FMM or MISS_UPM.
    pub state: TfhState,
    pub missvaddr: u64,
    pub missasid: u32,
    pub ctxnum: usize,
    /// An ACTIVE TGH already covers the context.
    pub stale: bool,
}

/// What a TFH command asks of the TLB and the CB engine.
#[derive(Default)]
pub(super) struct TfhOutcome {
    /// Entry to install (the target is chosen by the TLB).
    pub install: Option<TlbEntry>,
    /// Set `restart_pend`.
    pub restart: bool,
    /// Set `cmp_pend` with this status and the TFH's cause.
    pub complete: Option<(CbStatus, u8)>,
}

/// One TFH per CBR.
pub(super) struct Tfhs {
    pub tfh: Vec<Tfh>,
}

fn reset_tfh() -> Tfh {
    Tfh { state: TfhState::Idle as u8, ..Tfh::default() }
}

fn is_pending(h: &Tfh) -> bool {
    TfhState::try_from(u64::from(h.state)).is_ok_and(TfhState::is_pending)
}

/// §6.1: the entry a dropin installs, or None if its page size is refused.
fn dropin(h: &Tfh, cchs: &[Cch]) -> Option<TlbEntry> {
    let ps = PageSize::try_from(u64::from(h.pagesize)).ok()?;
    let region = (h.fillvaddr >> 61 & 3) as usize;
    if cchs[usize::from(h.ctxnum)].sizeavail[region] >> ps.code() & 1 == 0 {
        return None;
    }
    let sh = ps.vpn_shift();
    Some(TlbEntry {
        valid: true,
        ctx: h.ctxnum,
        asid: h.fillasid,
        vpn: h.fillvaddr >> 12 >> sh << sh,
        ps: ps as u8,
        pfn: h.pfn,
        dirty: h.dirty,
    })
}

/// Page-size refusal: the TFH reports HW_ERR and the CB stays parked.
fn refuse(h: &mut Tfh) {
    h.status = HandleStatus::Exception as u8;
    h.state = TfhState::HwErr as u8;
    h.cause = TfhCause::HwErrorPagesize as u8;
}

/// The miss is answered: back to IDLE with the race guard cleared.
fn answer(h: &mut Tfh) {
    h.state = TfhState::Idle as u8;
    h.status = HandleStatus::Idle as u8;
    h.stale = false;
}

impl Tfhs {
    pub fn new(n: usize) -> Self {
        Tfhs { tfh: vec![reset_tfh(); n] }
    }

    pub fn reset(&mut self) {
        self.tfh.fill(reset_tfh());
    }

    /// Some TFH in `cbrs` holds a pending miss.
    pub fn any_pending(&self, cbrs: std::ops::Range<usize>) -> bool {
        self.tfh[cbrs].iter().any(is_pending)
    }

    /// Runs `opc` on TFH `t` (fields already written), §6.
    pub fn command(&mut self, t: usize, opc: TfhOpc, cchs: &[Cch], stats: &mut Counters) -> TfhOutcome {
        let h = &mut self.tfh[t];
        let pending = is_pending(h);
        let mut o = TfhOutcome::default();
        match opc {
            TfhOpc::Noop => {}
            TfhOpc::WriteOnly if pending && h.stale => {
                stats.add(Stat::Stale, 1);
                h.status = HandleStatus::Exception as u8;
            }
            TfhOpc::WriteOnly => match dropin(h, cchs) {
                Some(e) => {
                    o.install = Some(e);
                    stats.add(Stat::Dropins, 1);
                    h.status = if pending { HandleStatus::Exception } else { HandleStatus::Idle } as u8;
                }
                None => refuse(h),
            },
            TfhOpc::WriteRestart | TfhOpc::Restart | TfhOpc::Exception if !pending => {
                h.status = HandleStatus::Exception as u8;
            }
            TfhOpc::WriteRestart if h.stale => {
                stats.add(Stat::Stale, 1);
                o.restart = true;
                answer(h);
            }
            TfhOpc::WriteRestart => match dropin(h, cchs) {
                Some(e) => {
                    o.install = Some(e);
                    stats.add(Stat::Dropins, 1);
                    o.restart = true;
                    answer(h);
                }
                None => refuse(h),
            },
            TfhOpc::Restart => {
                o.restart = true;
                answer(h);
            }
            TfhOpc::Exception => {
                o.complete = Some((CbStatus::Exception, h.cause));
                answer(h);
            }
            TfhOpc::UserPollingMode if h.state == TfhState::MissFmm as u8 => {
                // The miss stays pending; the fault-map bit is left alone.
                h.state = TfhState::MissUpm as u8;
                h.status = HandleStatus::Exception as u8;
                o.complete = Some((CbStatus::CallOs, h.cause));
            }
            TfhOpc::UserPollingMode => h.status = HandleStatus::Exception as u8,
        }
        o
    }

    /// Applies the engine's miss latch (it overrides the MMIO command of the same edge).
    pub fn latch(&mut self, l: MissLatch) {
        let h = &mut self.tfh[l.cbr];
        h.status = HandleStatus::Exception as u8;
        h.state = l.state as u8;
        h.cause = l.cause as u8;
        h.missvaddr = l.missvaddr;
        h.missasid = l.missasid;
        h.ctxnum = l.ctxnum as u8;
        h.stale = l.stale;
    }

    /// A TGH started with `ctxbitmap`: every pending TFH of those contexts goes stale.
    pub fn mark_stale(&mut self, ctxbitmap: u16) {
        for h in self.tfh.iter_mut().filter(|h| ctxbitmap >> h.ctxnum & 1 != 0 && is_pending(h)) {
            h.stale = true;
        }
    }
}

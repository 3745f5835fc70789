//! The software events a waveform shows on the chiplet's `dbg_event_i` port, so that a notifier
//! call, an interrupt or a driver's handle write sits on the same time axis as the hardware it
//! explains. Every code is defined here: the GTKWave filter that names them is generated from
//! [`Kind::ALL`].
//!
//! A code is `kind << 56 | arg << 36 | page`: the kind in the top byte, a 20-bit argument (a
//! page count, a handle index, a fault map) and a 36-bit page number (a virtual address >> 12,
//! which covers the model's 48-bit address spaces). Each field is a whole number of hex digits,
//! so the save file shows them as three hex traces. The port holds the last event's code until
//! the next one: one code per cycle, the last event of a cycle wins.

use gru_driver::gru::handles::{CbStatus, HandleStatus, TghOpc, HS_TFM_COUNT};
use gru_driver::gru::hw::{CbCompletion, DecodedLine, MmioEvent};
use gru_driver::mm::PAGE_SHIFT;
use gru_driver::notifier::NotifierCall;
use gru_driver::trace::{Record, TraceEvent};
use crate::platform::DbgCoder;

/// Bits of the argument field.
const ARG_BITS: u32 = 20;
/// Bits of the page field.
const PAGE_BITS: u32 = 36;
/// First kind of TFH writes: `TFH_KINDS + opcode`.
const TFH_KINDS: u8 = 0x20;
/// First kind of CCH writes: `CCH_KINDS + opcode`.
const CCH_KINDS: u8 = 0x40;

/// What happened: the top byte of a code. The comment of each kind says what `arg` and `page`
/// hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `invalidate_range_start`: arg pages, page the first.
    RangeStart = 0x01,
    /// `invalidate_range_end`: arg pages, page the first.
    RangeEnd = 0x02,
    /// `invalidate_page` (classic): page.
    InvalidatePage = 0x03,
    /// `change_pte` (classic): page.
    ChangePte = 0x04,
    /// `clear_flush_young` (classic): arg pages, page the first.
    ClearFlushYoung = 0x05,
    /// `test_young` (classic): page.
    TestYoung = 0x06,
    /// `release`: the address space is going away.
    Release = 0x07,
    /// A GRU interrupt handler started: arg the fault map.
    Interrupt = 0x10,
    /// A CB completed with CALL_OS (the user will call the driver): arg the CBR.
    CallOs = 0x11,
    /// TFH RESTART written: arg the CBR.
    TfhRestart = TFH_KINDS + 1,
    /// TFH WRITE_ONLY (dropin, CB stays parked): arg the CBR, page the fill address.
    TfhWriteOnly = TFH_KINDS + 2,
    /// TFH WRITE_RESTART (dropin): arg the CBR, page the fill address.
    TfhWriteRestart = TFH_KINDS + 3,
    /// TFH EXCEPTION written: arg the CBR.
    TfhException = TFH_KINDS + 4,
    /// TFH USER_POLLING_MODE written: arg the CBR.
    TfhUserPollingMode = TFH_KINDS + 7,
    /// TGH INVALIDATE start write taken by the chip: arg the TGH, page the first purged page.
    TghStart = 0x30,
    /// A TGH poll saw the handle no longer ACTIVE: arg the TGH.
    TghDone = 0x31,
    /// CCH ALLOCATE (context load, or an update while interrupted): arg the context.
    CchAllocate = CCH_KINDS + 1,
    /// CCH START (end of a context load): arg the context.
    CchStart = CCH_KINDS + 2,
    /// CCH INTERRUPT: arg the context.
    CchInterrupt = CCH_KINDS + 3,
    /// CCH INTERRUPT_SYNC (start of a context unload): arg the context.
    CchInterruptSync = CCH_KINDS + 4,
    /// CCH DEALLOCATE (end of a context unload): arg the context.
    CchDeallocate = CCH_KINDS + 5,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 21] = [
        Kind::RangeStart,
        Kind::RangeEnd,
        Kind::InvalidatePage,
        Kind::ChangePte,
        Kind::ClearFlushYoung,
        Kind::TestYoung,
        Kind::Release,
        Kind::Interrupt,
        Kind::CallOs,
        Kind::TfhRestart,
        Kind::TfhWriteOnly,
        Kind::TfhWriteRestart,
        Kind::TfhException,
        Kind::TfhUserPollingMode,
        Kind::TghStart,
        Kind::TghDone,
        Kind::CchAllocate,
        Kind::CchStart,
        Kind::CchInterrupt,
        Kind::CchInterruptSync,
        Kind::CchDeallocate,
    ];

    /// The name a waveform viewer shows.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RangeStart => "range_start",
            Kind::RangeEnd => "range_end",
            Kind::InvalidatePage => "invalidate_page",
            Kind::ChangePte => "change_pte",
            Kind::ClearFlushYoung => "clear_flush_young",
            Kind::TestYoung => "test_young",
            Kind::Release => "release",
            Kind::Interrupt => "interrupt",
            Kind::CallOs => "cb_call_os",
            Kind::TfhRestart => "tfh_restart",
            Kind::TfhWriteOnly => "tfh_write_only(dropin)",
            Kind::TfhWriteRestart => "tfh_write_restart(dropin)",
            Kind::TfhException => "tfh_exception",
            Kind::TfhUserPollingMode => "tfh_user_polling_mode",
            Kind::TghStart => "tgh_start",
            Kind::TghDone => "tgh_done(poll)",
            Kind::CchAllocate => "cch_allocate(load)",
            Kind::CchStart => "cch_start(load)",
            Kind::CchInterrupt => "cch_interrupt",
            Kind::CchInterruptSync => "cch_interrupt_sync(unload)",
            Kind::CchDeallocate => "cch_deallocate(unload)",
        }
    }

    fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == code)
    }
}

/// One software event as `dbg_event_i` carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbgEvent {
    /// What happened.
    pub kind: Kind,
    /// Its argument (saturates at 2^20 - 1).
    pub arg: u64,
    /// Its page number (the low 36 bits of it).
    pub page: u64,
}

impl DbgEvent {
    /// The 64-bit code.
    pub fn code(self) -> u64 {
        let arg = self.arg.min((1 << ARG_BITS) - 1);
        u64::from(self.kind as u8) << (ARG_BITS + PAGE_BITS) | arg << PAGE_BITS | self.page & ((1 << PAGE_BITS) - 1)
    }

    /// The event a code stands for (none for 0, what the port shows before any event).
    pub fn decode(code: u64) -> Option<Self> {
        let kind = Kind::from_code((code >> (ARG_BITS + PAGE_BITS)) as u8)?;
        Some(Self { kind, arg: code >> PAGE_BITS & ((1 << ARG_BITS) - 1), page: code & ((1 << PAGE_BITS) - 1) })
    }

    fn new(kind: Kind, arg: u64, page: u64) -> Self {
        Self { kind, arg, page }
    }

    /// A range `[start, end)`: its page count and first page.
    fn range(kind: Kind, start: u64, end: u64) -> Self {
        let pages = end.saturating_sub(start).div_ceil(1 << PAGE_SHIFT);
        Self::new(kind, pages, start >> PAGE_SHIFT)
    }

    /// The event of a notifier call.
    pub fn notifier(call: &NotifierCall) -> Self {
        match call {
            NotifierCall::Start(r) => Self::range(Kind::RangeStart, r.start, r.end),
            NotifierCall::End(r) => Self::range(Kind::RangeEnd, r.start, r.end),
            NotifierCall::Page(a) => Self::new(Kind::InvalidatePage, 1, a >> PAGE_SHIFT),
            NotifierCall::ChangePte(a, _) => Self::new(Kind::ChangePte, 1, a >> PAGE_SHIFT),
            NotifierCall::ClearFlushYoung(s, e) => Self::range(Kind::ClearFlushYoung, *s, *e),
            NotifierCall::TestYoung(a) => Self::new(Kind::TestYoung, 1, a >> PAGE_SHIFT),
            NotifierCall::Release => Self::new(Kind::Release, 0, 0),
        }
    }

    /// The software event of a kernel trace record, and the chiplet it concerns (none: every
    /// chiplet, as for notifier calls, which concern an address space).
    pub fn of_record(r: &Record) -> Option<(Option<usize>, Self)> {
        match &r.event {
            TraceEvent::Notifier { call, .. } => Some((None, Self::notifier(call))),
            TraceEvent::IrqEnter { line, .. } => {
                let line = *line as usize;
                Some((Some(line / HS_TFM_COUNT), Self::new(Kind::Interrupt, (line % HS_TFM_COUNT) as u64, 0)))
            }
            _ => None,
        }
    }

    /// The event of an MMIO transaction a chiplet took: the driver's handle writes, and the TGH
    /// poll that sees the purge done. Reads and failed requests show nothing else.
    pub fn of_mmio(e: &MmioEvent) -> Option<Self> {
        if e.err {
            return None;
        }
        match (e.req.write, e.line) {
            (true, DecodedLine::Tgh(h, t)) if t.opc == TghOpc::Invalidate as u8 => {
                Some(Self::new(Kind::TghStart, h as u64, t.vaddr >> PAGE_SHIFT))
            }
            (false, DecodedLine::Tgh(h, t)) if t.status != HandleStatus::Active as u8 => Some(Self::new(Kind::TghDone, h as u64, 0)),
            (true, DecodedLine::Tfh(cbr, t)) => {
                Kind::from_code(TFH_KINDS + t.opc).map(|k| Self::new(k, cbr as u64, t.fillvaddr >> PAGE_SHIFT))
            }
            (true, DecodedLine::Cch(ctx, h)) => Kind::from_code(CCH_KINDS + h.opc).map(|k| Self::new(k, ctx as u64, 0)),
            _ => None,
        }
    }
}

/// The [`DbgCoder`] of a system: handle writes, TGH completion polls and CALL_OS completions.
pub struct Coder;

impl DbgCoder for Coder {
    fn mmio(&self, e: &MmioEvent) -> Option<u64> {
        DbgEvent::of_mmio(e).map(DbgEvent::code)
    }

    fn completion(&self, _chiplet: usize, c: &CbCompletion) -> Option<u64> {
        (c.status == CbStatus::CallOs as u8).then(|| DbgEvent::new(Kind::CallOs, u64::from(c.cbr), 0).code())
    }
}

/// The GTKWave translate filter of the kind byte (`dbg_event_i[63:56]` shown in hex).
pub fn kind_filter() -> String {
    Kind::ALL.iter().map(|k| format!("{:02X} {}\n", *k as u8, k.name())).collect()
}

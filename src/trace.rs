//! The semantic trace of a run: what software and hardware did, each event with its cycle,
//! written as JSON Lines (one serde object per line, tagged by `ev`).

use serde::Serialize;

use gru_driver::gru::handles::{Tfh, Tgh};
use gru_driver::gru::hw::{DecodedLine, MmioEvent};
use gru_driver::gru::irq_line;
use gru_driver::mm::MmId;
use gru_driver::trace::{Record, TraceEvent};

use crate::check::Check;

/// One event of the semantic trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum SysEvent {
    /// A memory-management operation began.
    Op { cycle: u64, cpu: Option<u32>, mm: MmId, op: String },
    /// A notifier callback, with its range and event (`S`/`E`/`P`/...).
    Notifier { cycle: u64, cpu: Option<u32>, mm: MmId, call: String },
    /// An MMIO line taken by a chiplet, decoded by the handle it names.
    Mmio { cycle: u64, chiplet: usize, write: bool, addr: u32, line: DecodedLine, err: bool },
    /// A GRU interrupt handler started.
    Interrupt { cycle: u64, cpu: Option<u32>, chiplet: usize, tfm: usize },
    /// A dropin was written; `installed` false: the chip discarded it.
    Dropin {
        cycle: u64,
        chiplet: usize,
        cbr: usize,
        vaddr: u64,
        asid: u32,
        pfn: u64,
        pagesize: u8,
        dirty: bool,
        installed: bool,
    },
    /// A TGH invalidate started, and how many entries it matched.
    Purge {
        cycle: u64,
        chiplet: usize,
        tgh: usize,
        asid: u32,
        vaddr: u64,
        n: u16,
        global: bool,
        ctxbitmap: u16,
        entries: usize,
        /// Of the entries, writable (dirty) ones.
        dirty: usize,
        /// Of the entries, ones of the shared zero page.
        zero: usize,
    },
    /// A CB completed (status 0 done, 1 exception, 3 call_os).
    CbDone { cycle: u64, chiplet: usize, cbr: u8, status: u8, cause: u8, rdata: u64 },
    /// A chip memory-port access.
    Mem { cycle: u64, chiplet: usize, paddr: u64, write: bool, value: u64 },
    /// What a scenario thread's step returned.
    User { cycle: u64, thread: String, what: String },
    /// A failed check.
    Check { cycle: u64, check: Check, ok: bool, detail: String },
}

impl SysEvent {
    /// The cycle of the event.
    pub fn cycle(&self) -> u64 {
        match self {
            Self::Op { cycle, .. }
            | Self::Notifier { cycle, .. }
            | Self::Mmio { cycle, .. }
            | Self::Interrupt { cycle, .. }
            | Self::Dropin { cycle, .. }
            | Self::Purge { cycle, .. }
            | Self::CbDone { cycle, .. }
            | Self::Mem { cycle, .. }
            | Self::User { cycle, .. }
            | Self::Check { cycle, .. } => *cycle,
        }
    }

    /// Whether the event belongs in a golden trace of flush sequences (not memory traffic,
    /// not MMIO reads, which the other events already explain).
    pub fn is_flush_relevant(&self) -> bool {
        match self {
            Self::Mem { .. } => false,
            Self::Mmio { write, .. } => *write,
            _ => true,
        }
    }

    /// The kernel trace's events that belong here: operations, notifier calls, GRU interrupts.
    pub fn from_kernel(r: &Record) -> Option<Self> {
        let (cycle, cpu) = (r.cycle, r.cpu);
        match &r.event {
            TraceEvent::Op { mm, op } => Some(Self::Op { cycle, cpu, mm: *mm, op: op.clone() }),
            TraceEvent::Notifier { mm, call, .. } => Some(Self::Notifier { cycle, cpu, mm: *mm, call: call.to_string() }),
            TraceEvent::IrqEnter { line, .. } => {
                let per = gru_driver::gru::handles::HS_TFM_COUNT;
                let (chiplet, tfm) = (*line as usize / per, *line as usize % per);
                debug_assert_eq!(irq_line(chiplet, tfm), *line);
                Some(Self::Interrupt { cycle, cpu, chiplet, tfm })
            }
            _ => None,
        }
    }

    /// An MMIO transaction.
    pub fn from_mmio(e: &MmioEvent) -> Self {
        Self::Mmio { cycle: e.cycle, chiplet: e.chiplet, write: e.req.write, addr: e.req.addr, line: e.line, err: e.err }
    }

    /// A dropin line written to TFH `cbr`.
    pub fn dropin(cycle: u64, chiplet: usize, cbr: usize, t: &Tfh, installed: bool) -> Self {
        Self::Dropin {
            cycle,
            chiplet,
            cbr,
            vaddr: t.fillvaddr,
            asid: t.fillasid,
            pfn: t.pfn,
            pagesize: t.pagesize,
            dirty: t.dirty,
            installed,
        }
    }

    /// A TGH invalidate started; it matched `entries` valid entries, `dirty` and `zero` of
    /// them writable and of the zero page.
    pub fn purge(cycle: u64, chiplet: usize, tgh: usize, t: &Tgh, (entries, dirty, zero): (usize, usize, usize)) -> Self {
        Self::Purge {
            cycle,
            chiplet,
            tgh,
            asid: t.asid,
            vaddr: t.vaddr,
            n: t.n,
            global: t.global,
            ctxbitmap: t.ctxbitmap,
            entries,
            dirty,
            zero,
        }
    }
}

impl SysEvent {
    /// One readable line (golden traces), or None for events golden traces leave out:
    /// memory traffic, MMIO reads, and TFH/TGH writes (shown as dropins and purges).
    pub fn golden_line(&self) -> Option<String> {
        let cpu = |c: &Option<u32>| c.map_or("-".to_string(), |c| c.to_string());
        Some(match self {
            Self::Op { cycle, cpu: c, mm, op } => format!("{cycle:>7} cpu{} {mm} op {op}", cpu(c)),
            Self::Notifier { cycle, cpu: c, mm, call } => format!("{cycle:>7} cpu{} {mm} notifier {call}", cpu(c)),
            Self::Mmio { cycle, chiplet, write: true, line: DecodedLine::Cch(n, h), err, .. } => format!(
                "{cycle:>7} chip{chiplet} cch{n} opc {} asid0 {:#x} int_select {} sizeavail0 {:#x}{}",
                h.opc, h.asid[0], h.tlb_int_select, h.sizeavail[0], if *err { " ERR" } else { "" }
            ),
            Self::Mmio { cycle, chiplet, write: true, line: DecodedLine::Tfh(cbr, t), err, .. } if t.opc != 2 && t.opc != 3 => {
                format!("{cycle:>7} chip{chiplet} tfh{cbr} opc {}{}", t.opc, if *err { " ERR" } else { "" })
            }
            Self::Mmio { .. } | Self::Mem { .. } => return None,
            Self::Interrupt { cycle, cpu: c, chiplet, tfm } => format!("{cycle:>7} cpu{} interrupt chip{chiplet} tfm{tfm}", cpu(c)),
            Self::Dropin { cycle, chiplet, cbr, vaddr, asid, pfn, pagesize, dirty, installed } => format!(
                "{cycle:>7} chip{chiplet} dropin cbr{cbr} va {vaddr:#x} asid {asid:#x} pfn {pfn:#x} ps {pagesize} dirty {} {}",
                u8::from(*dirty),
                if *installed { "installed" } else { "DISCARDED" }
            ),
            Self::Purge { cycle, chiplet, tgh, asid, vaddr, n, global, ctxbitmap, entries, .. } => format!(
                "{cycle:>7} chip{chiplet} purge tgh{tgh} asid {asid:#x} va {vaddr:#x} n {n}{} ctx {ctxbitmap:#06x}: {entries} entries",
                if *global { " global" } else { "" }
            ),
            Self::CbDone { cycle, chiplet, cbr, status, cause, rdata } => {
                format!("{cycle:>7} chip{chiplet} cb done cbr{cbr} status {status} cause {cause} rdata {rdata:#x}")
            }
            Self::User { cycle, thread, what } => format!("{cycle:>7} {thread}: {what}"),
            Self::Check { cycle, check, detail, .. } => format!("{cycle:>7} CHECK FAILED {check}: {detail}"),
        })
    }
}

/// `events` as JSON Lines.
pub fn to_json_lines(events: &[SysEvent]) -> String {
    events.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect()
}

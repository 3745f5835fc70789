//! Planning a dump: which cycles of a run it holds (the whole run, a cycle range, or a margin
//! around every shootdown), found from a first run's MMIO trace, and the schedule that pauses
//! and resumes the dump as the clock enters and leaves its windows.

use std::path::{Path, PathBuf};

use gru_driver::gru::handles::{HandleStatus, TghOpc};
use gru_driver::gru::hw::{DecodedLine, MmioEvent};
use gru_sim::rtl::WaveFormat;

use super::WavesError;

/// A window of cycles `[start, end)`, in kernel cycles as the trace shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First cycle dumped.
    pub start: u64,
    /// First cycle not dumped.
    pub end: u64,
}

impl Window {
    /// `[start, end)`, or an error naming the range when it is empty.
    pub fn new(start: u64, end: u64) -> Result<Self, WavesError> {
        if end > start {
            Ok(Self { start, end })
        } else {
            Err(WavesError::EmptyWindow { start, end })
        }
    }

    /// Whether `cycle` is inside.
    pub fn contains(&self, cycle: u64) -> bool {
        (self.start..self.end).contains(&cycle)
    }
}

/// The cycles a dump holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Span {
    /// The whole run.
    Whole,
    /// These windows, sorted and disjoint ([`merge`]).
    Windows(Vec<Window>),
}

impl Span {
    /// Whether the dump holds `cycle`.
    pub fn contains(&self, cycle: u64) -> bool {
        match self {
            Span::Whole => true,
            Span::Windows(w) => w.iter().any(|w| w.contains(cycle)),
        }
    }
}

/// Which cycles `run --waves` dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaveSelect {
    /// The whole run.
    Whole,
    /// One cycle range.
    Cycles(Window),
    /// `margin` cycles before each shootdown's start write and after its completion.
    AroundShootdowns {
        /// Cycles each side.
        margin: u64,
        /// Only the first this many shootdowns (none: all).
        max: Option<usize>,
    },
}

/// The waveform `run` is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaveRequest {
    /// Dump format.
    pub format: WaveFormat,
    /// The cycles dumped.
    pub select: WaveSelect,
}

/// A dump to write during a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavePlan {
    /// The dump file (its extension matches the model's format).
    pub path: PathBuf,
    /// The chiplet dumped.
    pub chiplet: usize,
    /// The cycles dumped.
    pub span: Span,
}

/// Sort `windows` and merge those that overlap or touch.
pub fn merge(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by_key(|w| w.start);
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => out.push(w),
        }
    }
    out
}

/// One shootdown on one chiplet: the TGH INVALIDATE start write the chip took, and the first
/// poll of that handle that saw it no longer ACTIVE (what the driver waits for; the purge itself
/// ended at or before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shootdown {
    /// The chiplet.
    pub chiplet: usize,
    /// The TGH.
    pub tgh: usize,
    /// The contexts it purged.
    pub ctxbitmap: u16,
    /// Cycle the chip took the start write.
    pub start: u64,
    /// Cycle the chip answered the poll that saw the handle done (none if the run ended first).
    pub done: Option<u64>,
}

/// Every shootdown of an MMIO trace, in start order.
pub fn shootdowns(trace: &[MmioEvent]) -> Vec<Shootdown> {
    trace
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e.line {
            DecodedLine::Tgh(tgh, t) if e.req.write && !e.err && t.opc == TghOpc::Invalidate as u8 => {
                let done = trace[i + 1..].iter().find(|r| {
                    r.chiplet == e.chiplet
                        && !r.req.write
                        && matches!(r.line, DecodedLine::Tgh(h, t) if h == tgh && t.status != HandleStatus::Active as u8)
                });
                Some(Shootdown { chiplet: e.chiplet, tgh, ctxbitmap: t.ctxbitmap, start: e.cycle, done: done.map(|r| r.cycle) })
            }
            _ => None,
        })
        .collect()
}

/// The windows `[start - margin, done + margin]` of `shootdowns`, merged.
pub fn windows_around(shootdowns: &[Shootdown], margin: u64) -> Vec<Window> {
    merge(
        shootdowns
            .iter()
            .map(|s| Window { start: s.start.saturating_sub(margin), end: s.done.unwrap_or(s.start) + margin + 1 })
            .collect(),
    )
}

/// Fail unless a rerun saw the shootdowns the first run saw (same chiplets, same cycles).
pub fn rerun_check(first: &[Shootdown], second: &[Shootdown]) -> Result<(), WavesError> {
    let key = |s: &[Shootdown]| s.iter().map(|s| (s.chiplet, s.start)).collect::<Vec<_>>();
    if first == second {
        Ok(())
    } else {
        Err(WavesError::NotRepeated { first: key(first), second: key(second) })
    }
}

/// Where a dump goes: `waves/<name>-seed<seed><suffix>.<ext>`, `name` being a workload, a
/// scenario, or a scenario file's stem.
pub fn dump_path(name: &str, seed: u64, suffix: &str, format: WaveFormat) -> PathBuf {
    let stem = Path::new(name).file_stem().map_or_else(|| name.into(), |s| s.to_string_lossy());
    PathBuf::from("waves").join(format!("{stem}-seed{seed}{suffix}.{}", format.extension()))
}

/// What the dump of a run does at a cycle boundary (it is opened when the run is built).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaveAction {
    /// Stop dumping until the next window.
    Pause,
    /// Dump again.
    Resume,
    /// Flush and close the file: no window is left.
    Close,
}

/// When a run pauses, resumes and closes its dump, which is open from the first cycle.
#[derive(Clone, Debug)]
pub struct WaveSchedule {
    /// None: the whole run.
    windows: Option<Vec<Window>>,
    /// Index of the window being dumped or next to dump.
    next: usize,
    dumping: bool,
    closed: bool,
}

impl WaveSchedule {
    /// The schedule of `span`.
    pub fn new(span: &Span) -> Self {
        let windows = match span {
            Span::Whole => None,
            Span::Windows(w) => Some(w.clone()),
        };
        Self { windows, next: 0, dumping: true, closed: false }
    }

    /// The first cycle after `now` at which the dump changes, so that a run can stop exactly
    /// there.
    pub fn next_edge(&self, now: u64) -> Option<u64> {
        let w = self.windows.as_ref().filter(|_| !self.closed)?;
        w[self.next.min(w.len())..].iter().flat_map(|w| [w.start, w.end]).find(|&c| c > now)
    }

    /// The action due before cycle `now` is simulated, if any; call until it returns none.
    pub fn due(&mut self, now: u64) -> Option<WaveAction> {
        if self.closed {
            return None;
        }
        while let Some(&w) = self.windows.as_ref()?.get(self.next) {
            let want = now >= w.start && now < w.end;
            if now >= w.end {
                self.next += 1;
            }
            if want != self.dumping {
                self.dumping = want;
                return Some(if want { WaveAction::Resume } else { WaveAction::Pause });
            }
            if now < w.end {
                return None;
            }
        }
        self.closed = true;
        Some(WaveAction::Close)
    }
}


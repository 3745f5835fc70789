//! Planning a dump: which cycles of a run it holds (the whole run, a cycle range, or a margin
//! around every shootdown), found from a first run's MMIO trace, and the schedule that pauses
//! and resumes the dump as the clock enters and leaves its windows.

use std::path::{Path, PathBuf};

use gru_driver::gru::handles::{HandleStatus, TghOpc};
use gru_driver::gru::hw::{DecodedLine, MmioEvent};
use gru_sim::rtl::WaveFormat;

use crate::trace::SysEvent;

/// A plan that cannot be made or was not repeated.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An empty or reversed cycle range.
    #[error("empty cycle window {start}..{end}: the end must be after the start")]
    EmptyWindow {
        /// First cycle.
        start: u64,
        /// One past the last cycle.
        end: u64,
    },
    /// The second run of a windowed dump did not repeat the first (a determinism bug).
    #[error("the waveform run saw shootdowns {second:?} where the first run saw {first:?}: the run is not deterministic")]
    NotRepeated {
        /// (chiplet, start cycle) of the first run's shootdowns.
        first: Vec<(usize, u64)>,
        /// The same of the second run.
        second: Vec<(usize, u64)>,
    },
}

/// A named point of a save file, on a cycle's rising edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The cycle, as the trace counts it.
    pub cycle: u64,
    /// Its name (GTKWave shows it on the marker; Surfer gets it with `_` for spaces).
    pub name: String,
}

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
    pub fn new(start: u64, end: u64) -> Result<Self, PlanError> {
        if end > start {
            Ok(Self { start, end })
        } else {
            Err(PlanError::EmptyWindow { start, end })
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
pub fn rerun_check(first: &[Shootdown], second: &[Shootdown]) -> Result<(), PlanError> {
    let key = |s: &[Shootdown]| s.iter().map(|s| (s.chiplet, s.start)).collect::<Vec<_>>();
    if first == second {
        Ok(())
    } else {
        Err(PlanError::NotRepeated { first: key(first), second: key(second) })
    }
}

/// Where a dump goes: `waves/<name>-seed<seed>[-<mutant>]-<what>.<ext>`, `name` being a
/// workload, a scenario, or a scenario file's stem, and `what` the cycles it holds (`all`,
/// `c<A>-<B>`, `around<K>` (the first K shootdowns), `sd<K>` (the K-th), `fail<cycle>`): runs that dump different things never overwrite
/// each other's files.
pub fn dump_path(name: &str, seed: u64, mutant: Option<&str>, what: &str, format: WaveFormat) -> PathBuf {
    let stem = Path::new(name).file_stem().map_or_else(|| name.into(), |s| s.to_string_lossy());
    let mutant = mutant.map_or_else(String::new, |m| format!("-{m}"));
    PathBuf::from("waves").join(format!("{stem}-seed{seed}{mutant}-{what}.{}", format.extension()))
}

/// The part of a dump's name that says which cycles it holds.
pub fn select_name(select: &WaveSelect) -> String {
    match select {
        WaveSelect::Whole => "all".into(),
        WaveSelect::Cycles(w) => format!("c{}-{}", w.start, w.end),
        WaveSelect::AroundShootdowns { margin, max } => {
            let max = max.map_or_else(|| "all".into(), |k| k.to_string());
            if *margin == super::DEFAULT_MARGIN {
                format!("around{max}")
            } else {
                format!("around{max}-m{margin}")
            }
        }
    }
}

/// Related events marked around a failure, of each kind, at most.
pub const RELATED_PER_KIND: usize = 4;

/// Where a failure's waveform looks: the chiplet, the windows dumped (around the failing
/// cycle and around the shootdowns and dropins that preceded it on that chiplet), the
/// named markers (the failure first), and the cycles the view opens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureFocus {
    /// The failing cycle.
    pub cycle: u64,
    /// The chiplet dumped: the one with the last shootdown, dropin or CB completion at or
    /// before the failure (0 if none).
    pub chiplet: usize,
    /// The windows dumped, merged.
    pub windows: Vec<Window>,
    /// Markers: the failure, then the related events in time order.
    pub markers: Vec<Marker>,
    /// The cycles the view opens on: the failure's window.
    pub view: (u64, u64),
}

/// The chiplet and the virtual pages a failure's text names: the first `chiplet N`, and every
/// `va 0x...` address and `[0x..., 0x...)` range (at most 64 pages of one range).
fn named_in(detail: &str) -> (Option<usize>, Vec<u64>) {
    let words: Vec<&str> = detail.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':').filter(|w| !w.is_empty()).collect();
    let hex = |w: &str| u64::from_str_radix(w.trim_start_matches('[').trim_end_matches(')').strip_prefix("0x")?, 16).ok();
    let chiplet = words.windows(2).find(|w| w[0] == "chiplet").and_then(|w| w[1].parse().ok());
    let mut pages = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 && words[i - 1] == "va" {
            pages.extend(hex(w).map(|a| a >> 12));
        }
        if w.starts_with("[0x") {
            if let (Some(a), Some(b)) = (hex(w), words.get(i + 1).and_then(|n| hex(n))) {
                pages.extend((a >> 12..b.div_ceil(4096)).take(64));
            }
        }
    }
    pages.sort_unstable();
    pages.dedup();
    (chiplet, pages)
}

/// Plan the dump of a failure at `cycle` (`check` names it, `detail` is its text) from the
/// first run's MMIO trace and semantic events: `margin` cycles each side of the failure, a
/// quarter of that around each related event on the failure's chiplet (the one its text names,
/// else the one with the last shootdown, dropin or CB completion) at or before the failing
/// cycle: the last [`RELATED_PER_KIND`] shootdowns (start and done), the last dropins of the
/// pages the text names and the last two others.
pub fn failure_focus(cycle: u64, check: &str, detail: &str, mmio: &[MmioEvent], events: &[SysEvent], margin: u64) -> FailureFocus {
    let (named_chiplet, pages) = named_in(detail);
    let chiplet = named_chiplet.unwrap_or_else(|| {
        events
            .iter()
            .filter(|e| e.cycle() <= cycle)
            .filter_map(|e| match e {
                SysEvent::Dropin { chiplet, .. } | SysEvent::Purge { chiplet, .. } | SysEvent::CbDone { chiplet, .. } => Some(*chiplet),
                _ => None,
            })
            .last()
            .unwrap_or(0)
    });
    let mut related: Vec<Marker> = Vec::new();
    let sds: Vec<(usize, Shootdown)> = shootdowns(mmio).into_iter().filter(|s| s.chiplet == chiplet).enumerate().filter(|(_, s)| s.start <= cycle).collect();
    for (i, s) in sds.iter().rev().take(RELATED_PER_KIND).rev() {
        related.push(Marker { cycle: s.start, name: format!("sd{} start tgh{}", i + 1, s.tgh) });
        if let Some(d) = s.done.filter(|&d| d <= cycle + margin) {
            related.push(Marker { cycle: d, name: format!("sd{} done", i + 1) });
        }
    }
    let dropins: Vec<(bool, Marker)> = events
        .iter()
        .filter_map(|e| match e {
            SysEvent::Dropin { cycle: c, chiplet: ch, cbr, vaddr, installed, .. } if *ch == chiplet && *c <= cycle => Some((
                pages.binary_search(&(vaddr >> 12)).is_ok(),
                Marker { cycle: *c, name: format!("dropin cbr{cbr} page {:#x}{}", vaddr >> 12, if *installed { "" } else { " discarded" }) },
            )),
            _ => None,
        })
        .collect();
    let named = dropins.iter().rev().filter(|d| d.0).take(RELATED_PER_KIND);
    let others = dropins.iter().rev().filter(|d| !d.0).take(2);
    related.extend(named.chain(others).map(|d| d.1.clone()));
    related.sort_by_key(|m| m.cycle);
    let near = (margin / 4).max(20);
    let mut windows = vec![Window { start: cycle.saturating_sub(margin), end: cycle + margin + 1 }];
    windows.extend(related.iter().map(|m| Window { start: m.cycle.saturating_sub(near), end: m.cycle + near + 1 }));
    let mut markers = vec![Marker { cycle, name: format!("FAIL {check}") }];
    markers.extend(related);
    FailureFocus { cycle, chiplet, windows: merge(windows), markers, view: (cycle.saturating_sub(margin), cycle + margin) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_text_names_its_chiplet_and_pages() {
        let d = "invalidate_range_start mm1 [0x10007000, 0x10009000) returned with entries left: chiplet 1 ctx 1 asid 0x10 va 0x10020000 -> pfn 0";
        assert_eq!(named_in(d), (Some(1), vec![0x10007, 0x10008, 0x10020]));
        assert_eq!(named_in("nothing here"), (None, vec![]));
    }
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


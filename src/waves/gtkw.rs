//! GTKWave files: the translate filters that name codes (committed under `waves/`, generated
//! here) and the save file written next to each dump (signal groups, filters, a named marker at
//! each shootdown's start write and completion).
//!
//! Save-file syntax is GTKWave 3.3's: `@flags` lines, `-label` blanks, `^N file` filters,
//! `#{name} (k)vector ...` for a slice of a vector (bit k counted from the MSB), a `*zoom marker
//! A..Z` line and `[markername] Xtext`. A default GTKWave build has 26 named markers: a dump
//! around shootdowns marks the first 13 (start and done), a failure's dump marks the failure
//! and the events that led to it. Signal names are read from the dump with wellen (GTKWave
//! names a vector `scope.name[msb:lsb]`), so a renamed RTL signal fails here instead of
//! silently vanishing from the view.
//!
//! **Zoom.** GTKWave's zoom `z` shows `2^-z` ns per *frame* of 200 pixels (`calczoom`: `nspx =
//! nsperframe / 200`), so a pane `W` pixels wide shows `W · 2^-z / 200` ns from `[timestart]`.
//! [`zoom_for`] picks `z` so that the opening range fills [`VIEW_PIXELS`]; [`visible_range`]
//! computes what a pane of any width shows, for tests.
//!
//! **Paths.** Filters are written relative to the save file's directory, and `[dumpfile]` as the
//! dump's file name: GTKWave re-anchors a relative name on the directory of the save file it
//! opened, using the directory of `[savefile]` (which is therefore written absolute), so the
//! pair keeps working when the tree is moved or opened from another directory.
//!
//! Next to the save file goes a Surfer command file (`.sucl`, run with `surfer <dump>
//! --command-file <file>`): the same groups as named dividers, each signal added whole (Surfer
//! has no bit-slice aliases, so a sliced vector appears once), the same markers (named
//! `sd<k>_start_tgh<t>` / `sd<k>_done`) and the same first view.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use gru_driver::gru::handles::{CbStatus, CchOpc, CchState, HandleStatus, TfhCause, TfhOpc, TfhState, TghOpc};
use gru_driver::gru::hw::DecodedLine;

use super::plan::{shootdowns, Marker, Span};
use super::{event, WavesError, DEFAULT_MARGIN};
use crate::system::{System, SystemModel};

/// Named markers of a default GTKWave build (A..Z).
const NAMED_MARKERS: usize = 26;
/// Windows the save file's comment lists at most.
const SHOWN_WINDOWS: usize = 20;
/// Handles of each kind the save file shows at most.
const MAX_HANDLES: usize = 6;
/// Width in pixels of the wave pane the opening zoom is computed for: the save file asks for a
/// 1600×1000 window with 300-pixel signal names, which leaves about 1250 pixels of waves.
/// A narrower pane still shows the start of the range, where the primary marker sits.
pub const VIEW_PIXELS: f64 = 1000.0;
/// GTKWave's pixels per zoom frame (`calczoom`).
const PIXELS_PER_FRAME: f64 = 200.0;
/// The trace-only cycle counter bound into the chiplet by `sim/rtl_tb/gru_trace_cycle.sv`.
pub const CYCLE_SIGNAL: &str = "TOP.gru_chiplet.trace_cycle.cycle";

/// The instance path of the chiplet in the dump.
const CHIP: &str = "TOP.gru_chiplet";

/// The committed filter files' directory (`waves/` of the source tree).
pub fn filter_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("waves")
}

/// A translate filter: its file under [`filter_dir`] and the width of the values it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `dbg_event_i[63:56]`, the software event kind.
    DbgEvent,
    /// Handle status (TGH, TFH, CCH), 2 bits.
    HandleStatus,
    /// TGH opcode, 1 bit.
    TghOpc,
    /// TFH opcode, 3 bits.
    TfhOpc,
    /// TFH state, 3 bits.
    TfhState,
    /// TFH cause (also the CB completion cause), 6 bits.
    TfhCause,
    /// CCH opcode, 3 bits.
    CchOpc,
    /// CCH state, 3 bits.
    CchState,
    /// CB completion status, 2 bits.
    CbStatus,
}

impl Filter {
    /// Every filter.
    pub const ALL: [Filter; 9] = [
        Filter::DbgEvent,
        Filter::HandleStatus,
        Filter::TghOpc,
        Filter::TfhOpc,
        Filter::TfhState,
        Filter::TfhCause,
        Filter::CchOpc,
        Filter::CchState,
        Filter::CbStatus,
    ];

    /// Its file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Filter::DbgEvent => "dbg_event.txt",
            Filter::HandleStatus => "handle_status.txt",
            Filter::TghOpc => "tgh_opc.txt",
            Filter::TfhOpc => "tfh_opc.txt",
            Filter::TfhState => "tfh_state.txt",
            Filter::TfhCause => "tfh_cause.txt",
            Filter::CchOpc => "cch_opc.txt",
            Filter::CchState => "cch_state.txt",
            Filter::CbStatus => "cb_status.txt",
        }
    }

    /// Its text: one `value name` line per code, the value in hex as GTKWave shows a vector of
    /// that width (it compares the strings, ignoring case).
    pub fn text(self) -> String {
        match self {
            Filter::DbgEvent => event::kind_filter(),
            Filter::HandleStatus => code_filter::<HandleStatus>(2),
            Filter::TghOpc => code_filter::<TghOpc>(1),
            Filter::TfhOpc => code_filter::<TfhOpc>(3),
            Filter::TfhState => code_filter::<TfhState>(3),
            Filter::TfhCause => code_filter::<TfhCause>(6),
            Filter::CchOpc => code_filter::<CchOpc>(3),
            Filter::CchState => code_filter::<CchState>(3),
            Filter::CbStatus => code_filter::<CbStatus>(2),
        }
    }
}

/// The filter of a driver code enum of `bits` bits, named as the GRU documents them
/// (`WriteRestart` → `WRITE_RESTART`).
fn code_filter<T: TryFrom<u64> + fmt::Debug>(bits: u32) -> String {
    let digits = bits.div_ceil(4) as usize;
    (0..1u64 << bits)
        .filter_map(|v| T::try_from(v).ok().map(|c| format!("{v:0digits$X} {}\n", screaming(&format!("{c:?}")))))
        .collect()
}

/// `CamelCase` → `CAMEL_CASE`.
fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// The save file of `dump`: same name, extension `.gtkw`.
pub fn save_path(dump: &Path) -> PathBuf {
    dump.with_extension("gtkw")
}

/// The Surfer command file of `dump`: same name, extension `.sucl`.
pub fn surfer_path(dump: &Path) -> PathBuf {
    dump.with_extension("sucl")
}

/// GTKWave trace flags (its `TR_*` bits).
mod flags {
    pub const HEX: u32 = 1 << 1;
    pub const DEC: u32 = 1 << 2;
    pub const BIN: u32 = 1 << 3;
    pub const RJUSTIFY: u32 = 1 << 5;
    pub const BLANK: u32 = 1 << 9;
    pub const FTRANSLATED: u32 = 1 << 13;
    pub const GRP_BEGIN: u32 = 1 << 23;
    pub const GRP_END: u32 = 1 << 24;
}

/// A save file being written: signal names resolved against the dump's hierarchy.
struct Save {
    dump: String,
    /// Full name without range → (GTKWave name, width).
    vars: HashMap<String, (String, u32)>,
    out: String,
    flags: u32,
    filters: Vec<Filter>,
    /// The Surfer command file's signal part, and the signals it already adds.
    surfer: String,
    surfer_added: HashSet<String>,
    /// The filter directory as the save file names it (relative to the save file's directory).
    filter_base: PathBuf,
}

impl Save {
    fn read(dump: &Path) -> Result<Self, WavesError> {
        let path = dump.display().to_string();
        let header = wellen::viewers::read_header_from_file(dump, &wellen::LoadOptions::default())
            .map_err(|e| WavesError::Read { path: path.clone(), msg: e.to_string() })?;
        let h = &header.hierarchy;
        let vars = h
            .all_vars()
            .map(|r| &h[r])
            .map(|v| {
                let full = v.full_name(h);
                let width = v.length(h).unwrap_or(1);
                let shown = match v.index() {
                    Some(i) if width > 1 => format!("{full}[{}:{}]", i.msb(), i.lsb()),
                    _ => full.clone(),
                };
                (full, (shown, width))
            })
            .collect();
        let filter_base = filter_dir();
        Ok(Self { dump: path, vars, out: String::new(), flags: 0, filters: Vec::new(), surfer: String::new(), surfer_added: HashSet::new(), filter_base })
    }

    fn var(&self, name: &str) -> Result<&(String, u32), WavesError> {
        self.vars.get(name).ok_or_else(|| WavesError::MissingSignal { path: self.dump.clone(), signal: name.into() })
    }

    /// Add `name` (a full signal name) to the Surfer view, once.
    fn surfer_add(&mut self, name: &str) {
        if self.surfer_added.insert(name.to_owned()) {
            let _ = writeln!(self.surfer, "variable_add {name}");
        }
    }

    fn set_flags(&mut self, flags: u32) {
        if flags != self.flags {
            self.flags = flags;
            let _ = writeln!(self.out, "@{flags:x}");
        }
    }

    /// Flags for a trace of `width` bits, and the filter line before it.
    fn format(&mut self, width: u32, filter: Option<Filter>) {
        let base = if width > 1 || filter.is_some() { flags::HEX } else { flags::BIN } | flags::RJUSTIFY;
        self.format_as(base, filter);
    }

    fn format_as(&mut self, base: u32, filter: Option<Filter>) {
        match filter {
            Some(f) => {
                self.set_flags(base | flags::FTRANSLATED);
                let n = match self.filters.iter().position(|&x| x == f) {
                    Some(i) => i + 1,
                    None => {
                        self.filters.push(f);
                        self.filters.len()
                    }
                };
                let _ = writeln!(self.out, "^{n} {}", self.filter_base.join(f.file_name()).display());
            }
            None => self.set_flags(base),
        }
    }

    fn group(&mut self, name: &str, body: impl FnOnce(&mut Self) -> Result<(), WavesError>) -> Result<(), WavesError> {
        self.set_flags(flags::GRP_BEGIN | flags::BLANK);
        let _ = writeln!(self.out, "-{name}");
        // Command arguments are single words.
        let _ = writeln!(self.surfer, "divider_add {}", name.replace(' ', "_"));
        body(self)?;
        self.set_flags(flags::GRP_END | flags::BLANK);
        let _ = writeln!(self.out, "-{name}");
        Ok(())
    }

    /// A whole signal.
    fn sig(&mut self, name: &str, filter: Option<Filter>) -> Result<(), WavesError> {
        let (shown, width) = self.var(name)?.clone();
        self.format(width, filter);
        let _ = writeln!(self.out, "{shown}");
        self.surfer_add(name);
        Ok(())
    }

    /// Several whole signals of one scope, without filters.
    fn sigs(&mut self, scope: &str, names: &[&str]) -> Result<(), WavesError> {
        names.iter().try_for_each(|n| self.sig(&format!("{scope}.{n}"), None))
    }

    /// Bits `msb..=lsb` of a vector, shown as a vector named `alias`.
    fn slice(&mut self, name: &str, msb: u32, lsb: u32, alias: &str, filter: Option<Filter>) -> Result<(), WavesError> {
        self.format(msb - lsb + 1, filter);
        self.slice_bits(name, msb, lsb, alias)
    }

    fn slice_bits(&mut self, name: &str, msb: u32, lsb: u32, alias: &str) -> Result<(), WavesError> {
        let (shown, width) = self.var(name)?.clone();
        let bits: Vec<String> = (lsb..=msb).rev().map(|b| format!("({}){shown}", width - 1 - b)).collect();
        let _ = writeln!(self.out, "#{{{alias}}} {}", bits.join(" "));
        self.surfer_add(name);
        Ok(())
    }
}


/// What a save file marks and where its view opens.
#[derive(Clone, Debug, Default)]
pub struct SaveSpec {
    /// The first comment line.
    pub title: String,
    /// Named markers, the primary marker first (at most 26 are named; every one is listed in
    /// the comments).
    pub markers: Vec<Marker>,
    /// The cycles `[first, last]` the view opens on; none: the first window of the dump (or
    /// the first marker's surroundings in a whole-run dump).
    pub view: Option<(u64, u64)>,
    /// Further comment lines.
    pub notes: Vec<String>,
}

/// The named markers of a dump around shootdowns: `sdK start tghN` and `sdK done` on the start
/// write's and the completion poll's edges of every shootdown of the dumped chiplet inside the
/// dump, in start order (the save file names the first 13).
pub fn shootdown_markers<M: SystemModel>(sys: &System<M>) -> Vec<Marker> {
    let Some(plan) = sys.config().waves.as_ref() else { return Vec::new() };
    let sds = shootdowns(&sys.hw.trace()).into_iter().filter(|d| d.chiplet == plan.chiplet && plan.span.contains(d.start));
    sds.enumerate()
        .flat_map(|(i, d)| {
            [
                Some(Marker { cycle: d.start, name: format!("sd{} start tgh{}", i + 1, d.tgh) }),
                d.done.map(|c| Marker { cycle: c, name: format!("sd{} done", i + 1) }),
            ]
        })
        .flatten()
        .collect()
}

/// The handles a dump's MMIO traffic touched: (TGHs, TFHs, CCHs), at most [`MAX_HANDLES`] of
/// each, in index order: those used inside `focus` first (most used first), then those used
/// elsewhere in the dump. TGHs count every access (start writes and polls), TFHs and CCHs the
/// writes (the commands).
fn handles(trace: &[gru_driver::gru::hw::MmioEvent], chiplet: usize, span: &Span, focus: (u64, u64)) -> [Vec<usize>; 3] {
    let mut counts: [HashMap<usize, (u64, u64)>; 3] = Default::default();
    for e in trace.iter().filter(|e| e.chiplet == chiplet && span.contains(e.cycle)) {
        let (kind, i) = match e.line {
            DecodedLine::Tgh(i, _) => (0, i),
            DecodedLine::Tfh(i, _) if e.req.write => (1, i),
            DecodedLine::Cch(i, _) if e.req.write => (2, i),
            _ => continue,
        };
        let c = counts[kind].entry(i).or_default();
        if (focus.0..=focus.1).contains(&e.cycle) {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    counts.map(|m| {
        let mut v: Vec<(usize, (u64, u64))> = m.into_iter().collect();
        v.sort_by_key(|&(i, (inside, outside))| (std::cmp::Reverse(inside), std::cmp::Reverse(outside), i));
        let mut keep: Vec<usize> = v.into_iter().take(MAX_HANDLES).map(|(i, _)| i).collect();
        keep.sort_unstable();
        keep
    })
}

/// GTKWave's zoom that shows `ns` nanoseconds across a pane of [`VIEW_PIXELS`]: the zoom is
/// `-log2(ns per 200-pixel frame)`.
pub fn zoom_for(ns: u64) -> f64 {
    -((ns.max(1) as f64) * PIXELS_PER_FRAME / VIEW_PIXELS).log2()
}

/// The times `[start, end]` (ns) GTKWave shows when it opens `save` in a wave pane `pixels`
/// wide: from `[timestart]`, `pixels · 2^-zoom / 200` ns. None if the file has no zoom line.
pub fn visible_range(save: &str, pixels: f64) -> Option<(u64, u64)> {
    let zoom: f64 = save.lines().find_map(|l| l.strip_prefix('*'))?.split_whitespace().next()?.parse().ok()?;
    let start: u64 = save.lines().find_map(|l| l.strip_prefix("[timestart]")).map_or(Some(0), |t| t.trim().parse().ok())?;
    let ns_per_frame = 2f64.powf(-zoom).max(1.0);
    Some((start, start + (pixels * ns_per_frame / PIXELS_PER_FRAME) as u64))
}

/// `to` relative to the directory `from` (both absolute and canonical), with `..` as needed.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

/// Write the save file of the dump `sys` made (none if it made none), with the default marks:
/// every shootdown of the dumped chiplet inside the dump (the first 13 named), the view on the
/// first window.
pub fn write_save<M: SystemModel>(sys: &System<M>, title: &str) -> Result<Option<PathBuf>, WavesError> {
    let spec = SaveSpec { title: title.to_owned(), markers: shootdown_markers(sys), ..SaveSpec::default() };
    write_save_spec(sys, &spec)
}

/// Write the save file and the Surfer command file of the dump `sys` made (none if it made
/// none), marked and opened as `spec` says.
pub fn write_save_spec<M: SystemModel>(sys: &System<M>, spec: &SaveSpec) -> Result<Option<PathBuf>, WavesError> {
    let Some(plan) = sys.config().waves.as_ref().filter(|p| p.path.exists()) else {
        return Ok(None);
    };
    let trace = sys.hw.trace();
    let mut s = Save::read(&plan.path)?;
    let end = sys.kernel.now();
    // The view: asked for, or the first window, or around the first marker of a whole-run dump.
    let (first, last) = match (spec.view, &plan.span, spec.markers.first()) {
        (Some(v), _, _) => v,
        (None, Span::Windows(w), _) if !w.is_empty() => (w[0].start, w[0].end.saturating_sub(1)),
        (None, _, Some(m)) => (m.cycle.saturating_sub(DEFAULT_MARGIN), m.cycle + DEFAULT_MARGIN),
        _ => (0, end),
    };
    // A default view ends with the run; an asked-for one is kept (a failure sits in its middle).
    let last = if spec.view.is_some() { last.max(first) } else { last.min(end).max(first) };
    let save = save_path(&plan.path);
    // Paths relative to the save file (see the module comment); [savefile] absolute.
    let canon = |p: &Path| match (p.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }).map(std::fs::canonicalize), p.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    };
    let save_abs = canon(&save);
    let save_dir = save_abs.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Ok(filters) = std::fs::canonicalize(filter_dir()) {
        s.filter_base = relative_to(&save_dir, &filters);
    }
    let time = |c: u64| sys.wave_time(c);
    let mut head = String::new();
    let _ = writeln!(head, "[*] gru-cosim: {}; chiplet {} of the run", spec.title, plan.chiplet);
    let _ = writeln!(
        head,
        "[*] time: 1 ns per half cycle, cycle N's rising edge at 2(N+{})+1 ns; the `cycle` trace shows N (cycles as the trace and FAIL lines count them)",
        sys.wave_offset()
    );
    let _ = writeln!(head, "[*] opens on cycles {first}..={last}");
    if let Span::Windows(w) = &plan.span {
        let list: Vec<String> = w.iter().take(SHOWN_WINDOWS).map(|w| format!("{}..{}", w.start, w.end)).collect();
        let more = if w.len() > SHOWN_WINDOWS { " ..." } else { "" };
        let _ = writeln!(head, "[*] {} cycle windows dumped, nothing between them: {}{more}", w.len(), list.join(" "));
        for (a, b) in w.iter().zip(w.iter().skip(1)).take(SHOWN_WINDOWS) {
            let _ = writeln!(head, "[*] gap: cycles {}..{} not dumped (a viewer draws the last values across it)", a.end, b.start);
        }
    }
    for n in &spec.notes {
        let _ = writeln!(head, "[*] {n}");
    }
    let _ = writeln!(head, "[*] {} markers (GTKWave names the first {NAMED_MARKERS}, A..Z):", spec.markers.len());
    for (i, m) in spec.markers.iter().enumerate() {
        let slot = if i < NAMED_MARKERS { char::from(b'A' + i as u8).to_string() } else { "-".into() };
        let _ = writeln!(head, "[*] marker {slot} {:?} cycle {} ({} ns)", m.name, m.cycle, time(m.cycle));
    }
    let dump_name = plan.path.file_name().map_or_else(|| plan.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let _ = writeln!(head, "[dumpfile] \"{dump_name}\"");
    let _ = writeln!(head, "[savefile] \"{}\"", save_abs.display());
    let _ = writeln!(head, "[timestart] {}", time(first).saturating_sub(1));
    let _ = writeln!(head, "[size] 1600 1000");
    let _ = writeln!(head, "[pos] -1 -1");
    let mut slots = vec![-1i64; NAMED_MARKERS];
    let mut names = String::new();
    let mut surfer_markers = String::new();
    for (slot, m) in spec.markers.iter().take(NAMED_MARKERS).enumerate() {
        slots[slot] = time(m.cycle) as i64;
        let _ = writeln!(names, "[markername] {}{}", char::from(b'A' + slot as u8), m.name);
        let _ = writeln!(surfer_markers, "marker_set_at {}ns {}", time(m.cycle), m.name.replace(' ', "_"));
    }
    let primary = spec.markers.first().map_or(-1, |m| time(m.cycle) as i64);
    let all: Vec<String> = slots.iter().map(i64::to_string).collect();
    let span_ns = time(last).saturating_sub(time(first)) + 2;
    let _ = writeln!(head, "*{:.6} {primary} {}", zoom_for(span_ns), all.join(" "));
    head.push_str(&names);
    let _ = writeln!(head, "[sst_expanded] 0");
    let _ = writeln!(head, "[signals_width] 300");
    let _ = writeln!(head, "[treeopen] TOP.");
    let _ = writeln!(head, "[treeopen] {CHIP}.");

    let [tghs, tfhs, cchs] = handles(&trace, plan.chiplet, &plan.span, (first, last));
    // The cycle number first, in decimal: FAIL lines and markers name cycles.
    s.format_as(flags::DEC | flags::RJUSTIFY, None);
    let (shown, _) = s.var(CYCLE_SIGNAL)?.clone();
    let _ = writeln!(s.out, "{shown}");
    s.surfer_add(CYCLE_SIGNAL);
    let ev = "TOP.dbg_event_i";
    s.group("software events (dbg_event_i)", |s| {
        s.slice(ev, 63, 56, "event", Some(Filter::DbgEvent))?;
        s.slice(ev, 55, 36, "event_arg", None)?;
        s.slice(ev, 35, 0, "event_page", None)
    })?;
    // Opcodes are shown per handle (the registers a write latches), not decoded from every
    // MMIO write: a TFH opcode decode of a TGH write means nothing.
    s.group("MMIO", |s| {
        s.sigs("TOP", &["clk_i", "mmio_req_valid_i", "mmio_req_write_i", "mmio_req_addr_i", "mmio_req_dwen_i"])?;
        s.slice("TOP.mmio_req_data_i", 63, 0, "mmio_req_dw0", None)?;
        s.sigs(&format!("{CHIP}.u_mmio"), &["tgh_wr_o", "tfh_wr_o", "cch_wr_o", "tfm_rd_o"])?;
        s.sigs("TOP", &["mmio_rsp_valid_o", "mmio_rsp_err_o"])?;
        s.slice("TOP.mmio_rsp_data_o", 63, 0, "mmio_rsp_dw0", None)
    })?;
    s.group("TGH purge engine", |s| {
        let p = format!("{CHIP}.u_purge");
        for &t in &tghs {
            let t = t as u32;
            s.slice(&format!("{p}.tgh_status_q"), 2 * t + 1, 2 * t, &format!("tgh{t}_status"), Some(Filter::HandleStatus))?;
            s.slice(&format!("{p}.tgh_opc_q"), t, t, &format!("tgh{t}_opc"), Some(Filter::TghOpc))?;
            s.slice(&format!("{p}.tgh_cause_q"), 3 * t + 2, 3 * t, &format!("tgh{t}_cause"), None)?;
        }
        s.sigs(
            &p,
            &[
                "inval_start_o",
                "inval_bitmap_o",
                "queued",
                "purge_cnt_q",
                "head",
                "dispatch",
                "disp_eng",
                "tail_t",
                "lfsr_q",
                "eng_busy_q",
                "eng_scan_q",
                "eng_tgh_q",
                "eng_idx_q",
                "eng_wait_q",
                "purge_nclr",
                "purge_done_o",
                "tgh_active_ctx_o",
            ],
        )
    })?;
    s.group("TFH, fault maps, interrupts", |s| {
        s.sig("TOP.irq_o", None)?;
        let e = format!("{CHIP}.u_cb_engine");
        s.sigs(&e, &["miss_o", "miss_cbr_o"])?;
        s.sig(&format!("{e}.miss_cause_o"), Some(Filter::TfhCause))?;
        s.sigs(&e, &["miss_fmm_o", "miss_stale_o"])?;
        s.sigs(CHIP, &["tfm_set_fault", "tfm_set_map", "tfm_set_cbr", "stat_dropin", "stat_stale"])?;
        let t = format!("{CHIP}.u_tfh");
        for &c in &tfhs {
            let c = c as u32;
            s.slice(&format!("{t}.tfh_state_q"), 3 * c + 2, 3 * c, &format!("tfh{c}_state"), Some(Filter::TfhState))?;
            s.slice(&format!("{t}.tfh_status_q"), 2 * c + 1, 2 * c, &format!("tfh{c}_status"), Some(Filter::HandleStatus))?;
            s.slice(&format!("{t}.tfh_opc_q"), 3 * c + 2, 3 * c, &format!("tfh{c}_opc"), Some(Filter::TfhOpc))?;
            s.slice(&format!("{t}.tfh_stale_q"), c, c, &format!("tfh{c}_stale"), None)?;
        }
        Ok(())
    })?;
    if !cchs.is_empty() {
        s.group("CCH contexts", |s| {
            let c = format!("{CHIP}.u_cch");
            for &x in &cchs {
                let x = x as u32;
                s.slice(&format!("{c}.cch_state_q"), 3 * x + 2, 3 * x, &format!("cch{x}_state"), Some(Filter::CchState))?;
                s.slice(&format!("{c}.cch_opc_q"), 3 * x + 2, 3 * x, &format!("cch{x}_opc"), Some(Filter::CchOpc))?;
                s.slice(&format!("{c}.cch_status_q"), 2 * x + 1, 2 * x, &format!("cch{x}_status"), Some(Filter::HandleStatus))?;
            }
            Ok(())
        })?;
    }
    s.group("TLB", |s| s.sigs(CHIP, &["tlb_valid", "purge_clr", "ins_valid", "ins_ctx", "ins_asid", "ins_vpn", "ins_pfn", "ins_ps", "ins_dirty"]))?;
    s.group("CB port", |s| {
        s.sigs("TOP", &["cb_req_valid_i", "cb_req_ready_o", "cb_req_cbr_i", "cb_req_vaddr_i", "cb_req_write_i", "cb_cmp_valid_o", "cb_cmp_cbr_o"])?;
        s.sig("TOP.cb_cmp_status_o", Some(Filter::CbStatus))?;
        s.sig("TOP.cb_cmp_cause_o", Some(Filter::TfhCause))?;
        s.sig("TOP.cb_cmp_rdata_o", None)
    })?;
    s.group("memory port", |s| {
        s.sigs(
            "TOP",
            &[
                "mem_req_valid_o",
                "mem_req_ready_i",
                "mem_req_paddr_o",
                "mem_req_write_o",
                "mem_req_wdata_o",
                "mem_req_tag_o",
                "mem_rsp_valid_i",
                "mem_rsp_tag_i",
                "mem_rsp_rdata_i",
            ],
        )
    })?;
    head.push_str(&s.out);
    std::fs::write(&save, head).map_err(|err| WavesError::Write { path: save.display().to_string(), err })?;
    let view = format!("zoom_to {}ns {}ns\n", time(first).saturating_sub(1), time(last) + 1);
    let sucl = surfer_path(&plan.path);
    let text = format!("{}{surfer_markers}{view}", s.surfer);
    std::fs::write(&sucl, text).map_err(|err| WavesError::Write { path: sucl.display().to_string(), err })?;
    Ok(Some(save))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_shows_the_range_in_the_view() {
        for ns in [100u64, 2_000, 50_000, 3_000_000] {
            let save = format!("[timestart] 10\n*{:.6} -1\n", zoom_for(ns));
            let (a, b) = visible_range(&save, VIEW_PIXELS).expect("range");
            assert_eq!(a, 10);
            let shown = (b - a) as f64;
            assert!((shown - ns as f64).abs() <= ns as f64 * 0.01 + 1.0, "{ns} ns asked, {shown} shown");
        }
    }

    #[test]
    fn handles_used_in_the_view_come_first() {
        use gru_driver::gru::handles::Tfh;
        use gru_driver::gru::hw::{MmioEvent, MmioRequest};
        let write = |cycle, cbr| MmioEvent {
            cycle,
            chiplet: 0,
            req: MmioRequest { write: true, addr: 0, dwen: 1, data: [0; 8] },
            line: DecodedLine::Tfh(cbr, Tfh::default()),
            err: false,
        };
        // TFHs 0..10 written early and often, 40 and 41 once inside the view, 50 read only.
        let mut trace: Vec<MmioEvent> = (0..10).flat_map(|c| [write(10, c), write(11, c)]).collect();
        trace.extend([write(500, 41), write(510, 40)]);
        trace.push(MmioEvent { req: MmioRequest::read(0), line: DecodedLine::Tfh(50, Tfh::default()), ..write(505, 50) });
        let [tghs, tfhs, cchs] = handles(&trace, 0, &Span::Whole, (400, 600));
        assert!(tghs.is_empty() && cchs.is_empty());
        assert_eq!(tfhs, vec![0, 1, 2, 3, 40, 41], "the view's two, then the busiest others, in index order");
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(relative_to(Path::new("/a/b/waves"), Path::new("/a/b/waves")), PathBuf::new());
        assert_eq!(relative_to(Path::new("/a/b/waves"), Path::new("/a/src/waves")), PathBuf::from("../../src/waves"));
        assert_eq!(relative_to(Path::new("/tmp/x"), Path::new("/a/waves")), PathBuf::from("../../a/waves"));
    }
}

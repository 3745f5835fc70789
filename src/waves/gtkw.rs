//! GTKWave files: the translate filters that name codes (committed under `waves/`, generated
//! here) and the save file written next to each dump (signal groups, filters, a named marker at
//! each shootdown's start write and completion).
//!
//! Save-file syntax is GTKWave 3.3's: `@flags` lines, `-label` blanks, `^N file` filters,
//! `#{name} (k)vector ...` for a slice of a vector (bit k counted from the MSB), a `*zoom marker
//! A..Z` line and `[markername] Xtext`. A default GTKWave build has 26 named markers, so the
//! first 13 shootdowns of a dump get a start and a done marker. Signal names are read from the
//! dump with wellen (GTKWave names a vector `scope.name[msb:lsb]`), so a renamed RTL signal
//! fails here instead of silently vanishing from the view.
//!
//! Next to the save file goes a Surfer command file (`.sucl`, run with `surfer <dump>
//! --command-file <file>`): the same groups as named dividers, each signal added whole (Surfer
//! has no bit-slice aliases, so a sliced vector appears once), the same markers (named
//! `sd<k>_start_tgh<t>` / `sd<k>_done`) and the same first view.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use gru_driver::gru::handles::{CbStatus, CchOpc, CchState, HandleStatus, TfhCause, TfhOpc, TfhState, TghOpc};
use gru_driver::gru::hw::DecodedLine;

use super::plan::{shootdowns, Span};
use super::{event, WavesError, DEFAULT_MARGIN};
use crate::system::{System, SystemModel};

/// Named markers of a default GTKWave build (A..Z).
const NAMED_MARKERS: usize = 26;
/// Windows the save file's comment lists at most.
const SHOWN_WINDOWS: usize = 20;
/// Handles of each kind the save file shows at most.
const MAX_HANDLES: usize = 6;
/// Width in pixels the zoom is computed for (GTKWave's default wave pane is about this wide).
const VIEW_PIXELS: f64 = 1000.0;

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
        Ok(Self { dump: path, vars, out: String::new(), flags: 0, filters: Vec::new(), surfer: String::new(), surfer_added: HashSet::new() })
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
                let _ = writeln!(self.out, "^{n} {}", filter_dir().join(f.file_name()).display());
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
        let (shown, width) = self.var(name)?.clone();
        self.format(msb - lsb + 1, filter);
        let bits: Vec<String> = (lsb..=msb).rev().map(|b| format!("({}){shown}", width - 1 - b)).collect();
        let _ = writeln!(self.out, "#{{{alias}}} {}", bits.join(" "));
        self.surfer_add(name);
        Ok(())
    }
}

/// The handles a dump's MMIO traffic touched: (TGHs, TFHs, CCHs), a few of each.
fn handles(trace: &[gru_driver::gru::hw::MmioEvent], chiplet: usize, span: &Span) -> [Vec<usize>; 3] {
    let mut sets: [BTreeSet<usize>; 3] = Default::default();
    for e in trace.iter().filter(|e| e.chiplet == chiplet && span.contains(e.cycle)) {
        match e.line {
            DecodedLine::Tgh(i, _) => sets[0].insert(i),
            DecodedLine::Tfh(i, _) if e.req.write => sets[1].insert(i),
            DecodedLine::Cch(i, _) if e.req.write => sets[2].insert(i),
            _ => false,
        };
    }
    sets.map(|s| s.into_iter().take(MAX_HANDLES).collect())
}

/// GTKWave's zoom for `ns` nanoseconds across the view: it shows 2^-zoom ns per pixel.
fn zoom_for(ns: u64) -> f64 {
    -(ns.max(1) as f64 / VIEW_PIXELS).log2()
}

/// Write the save file of the dump `sys` made (none if it made none): every shootdown of the
/// dumped chiplet inside the dump gets a start and a done marker (the first 13), the view opens
/// on the first window.
pub fn write_save<M: SystemModel>(sys: &System<M>, title: &str) -> Result<Option<PathBuf>, WavesError> {
    let Some(plan) = sys.config().waves.as_ref().filter(|p| p.path.exists()) else {
        return Ok(None);
    };
    let trace = sys.hw.trace();
    let mut s = Save::read(&plan.path)?;
    let sds: Vec<_> = shootdowns(&trace).into_iter().filter(|d| d.chiplet == plan.chiplet && plan.span.contains(d.start)).collect();
    // The view opens on the first window, or on the first shootdown of a whole-run dump.
    let (first, last) = match (&plan.span, sds.first()) {
        (Span::Windows(w), _) if !w.is_empty() => (w[0].start, w[0].end),
        (_, Some(d)) => (d.start.saturating_sub(DEFAULT_MARGIN), d.done.unwrap_or(d.start) + DEFAULT_MARGIN),
        _ => (0, sys.kernel.now()),
    };
    let last = last.min(sys.kernel.now());
    // Absolute paths: GTKWave then finds the dump and the filters from any directory.
    let abs = |p: &Path| match (p.parent().map(std::fs::canonicalize), p.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    };
    let save = save_path(&plan.path);
    let mut head = String::new();
    let _ = writeln!(head, "[*] gru-cosim: {title}; chiplet {} of the run", plan.chiplet);
    let _ = writeln!(head, "[*] time: cycle n's rising edge is at 2(n+{})+1 ns (n as the trace counts cycles)", sys.wave_offset());
    if let Span::Windows(w) = &plan.span {
        let list: Vec<String> = w.iter().take(SHOWN_WINDOWS).map(|w| format!("{}..{}", w.start, w.end)).collect();
        let more = if w.len() > SHOWN_WINDOWS { " ..." } else { "" };
        let _ = writeln!(head, "[*] {} cycle windows dumped, nothing between them: {}{more}", w.len(), list.join(" "));
    }
    let _ = writeln!(head, "[*] {} shootdowns in the dump; named markers on the first {}:", sds.len(), NAMED_MARKERS / 2);
    for (i, d) in sds.iter().enumerate().take(NAMED_MARKERS / 2) {
        let done = d.done.map_or("-".into(), |c| c.to_string());
        let _ = writeln!(head, "[*] shootdown {}: tgh{} start write cycle {}, done (poll) cycle {done}", i + 1, d.tgh, d.start);
    }
    let _ = writeln!(head, "[dumpfile] \"{}\"", abs(&plan.path).display());
    let _ = writeln!(head, "[savefile] \"{}\"", abs(&save).display());
    let _ = writeln!(head, "[timestart] {}", sys.wave_time(first).saturating_sub(1));
    let mut markers = vec![-1i64; NAMED_MARKERS];
    let mut names = String::new();
    let points = sds.iter().enumerate().flat_map(|(i, d)| {
        [Some((d.start, format!("sd{} start tgh{}", i + 1, d.tgh))), d.done.map(|c| (c, format!("sd{} done", i + 1)))]
    });
    let mut surfer_markers = String::new();
    for (slot, (cycle, name)) in points.flatten().take(NAMED_MARKERS).enumerate() {
        markers[slot] = sys.wave_time(cycle) as i64;
        let _ = writeln!(names, "[markername] {}{name}", char::from(b'A' + slot as u8));
        let _ = writeln!(surfer_markers, "marker_set_at {}ns {}", sys.wave_time(cycle), name.replace(' ', "_"));
    }
    let primary = sds.first().map_or(-1, |d| sys.wave_time(d.start) as i64);
    let all: Vec<String> = markers.iter().map(i64::to_string).collect();
    let span_ns = sys.wave_time(last).saturating_sub(sys.wave_time(first)) + 2;
    let _ = writeln!(head, "*{:.6} {primary} {}", zoom_for(span_ns), all.join(" "));
    head.push_str(&names);
    let _ = writeln!(head, "[sst_expanded] 1");
    let _ = writeln!(head, "[treeopen] TOP.");
    let _ = writeln!(head, "[treeopen] {CHIP}.");

    let [tghs, tfhs, cchs] = handles(&trace, plan.chiplet, &plan.span);
    let ev = "TOP.dbg_event_i";
    s.group("software events (dbg_event_i)", |s| {
        s.slice(ev, 63, 56, "event", Some(Filter::DbgEvent))?;
        s.slice(ev, 55, 36, "event_arg", None)?;
        s.slice(ev, 35, 0, "event_page", None)
    })?;
    s.group("MMIO", |s| {
        s.sigs("TOP", &["clk_i", "mmio_req_valid_i", "mmio_req_write_i", "mmio_req_addr_i", "mmio_req_dwen_i"])?;
        s.slice("TOP.mmio_req_data_i", 63, 0, "mmio_req_dw0", None)?;
        s.sigs(&format!("{CHIP}.u_mmio"), &["tgh_wr_o", "tfh_wr_o", "cch_wr_o", "tfm_rd_o"])?;
        s.sig(&format!("{CHIP}.u_mmio.tfh_opc"), Some(Filter::TfhOpc))?;
        s.sig(&format!("{CHIP}.u_mmio.cch_opc"), Some(Filter::CchOpc))?;
        s.sigs("TOP", &["mmio_rsp_valid_o", "mmio_rsp_err_o"])?;
        s.slice("TOP.mmio_rsp_data_o", 63, 0, "mmio_rsp_dw0", None)
    })?;
    s.group("TGH purge engine", |s| {
        let p = format!("{CHIP}.u_purge");
        for &t in &tghs {
            let t = t as u32;
            s.slice(&format!("{p}.tgh_status_q"), 2 * t + 1, 2 * t, &format!("tgh{t}_status"), Some(Filter::HandleStatus))?;
            s.slice(&format!("{p}.tgh_opc_q"), t, t, &format!("tgh{t}_opc"), Some(Filter::TghOpc))?;
        }
        s.sigs(
            &p,
            &[
                "inval_start_o",
                "inval_bitmap_o",
                "purge_busy",
                "purge_cnt_q",
                "head",
                "head_asid",
                "head_vkey",
                "head_n",
                "head_bitmap",
                "purge_idx_q",
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
    let view = format!("zoom_to {}ns {}ns\n", sys.wave_time(first).saturating_sub(1), sys.wave_time(last) + 1);
    let sucl = surfer_path(&plan.path);
    let text = format!("{}{surfer_markers}{view}", s.surfer);
    std::fs::write(&sucl, text).map_err(|err| WavesError::Write { path: sucl.display().to_string(), err })?;
    Ok(Some(save))
}

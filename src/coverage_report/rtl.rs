//! RTL line and toggle coverage from a coverage build's counter files (`rtl-<pid>-<n>.dat`,
//! written by `sim/csrc/harness.cpp`): merged with `verilator_coverage --write`, restricted to
//! rtl/, split by kind, converted to lcov with `verilator_coverage --write-info`, rendered with
//! `genhtml`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ReportError;

/// What a Verilator coverage point measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--coverage-line`: a statement block, or one arm of an `if`/`case` (`v_line`,
    /// `v_branch`).
    Line,
    /// `--coverage-toggle`: one bit of a signal going 0→1 or 1→0 (`v_toggle`).
    Toggle,
}

impl Kind {
    /// The kind of a point whose `page` key is `page` (`v_line/gru_tlb`…); `None` for
    /// other kinds (user `cover` statements).
    fn of_page(page: &str) -> Option<Kind> {
        match page.split('/').next() {
            Some("v_line" | "v_branch") => Some(Kind::Line),
            Some("v_toggle") => Some(Kind::Toggle),
            _ => None,
        }
    }
}

/// One coverage point of rtl/.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// Its kind.
    pub kind: Kind,
    /// The source file, as `rtl/<name>`.
    pub file: String,
    /// The source line.
    pub line: u32,
    /// What it counts (`block`, `if`, `else`, `case`, or the signal bit of a toggle point).
    pub what: String,
    /// Times hit over every merged run.
    pub count: u64,
    /// The point's line in `.dat` form, with the file rewritten to `rtl/<name>`.
    dat_line: String,
}

/// Points hit and points in all, and their ratio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Points hit at least once.
    pub hit: u64,
    /// Every point.
    pub total: u64,
}

impl Tally {
    /// Percent hit (100 when there is nothing to hit).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.hit as f64 / self.total as f64
        }
    }

    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hit += u64::from(hit);
    }
}

/// The `.dat` header Verilator writes and reads.
const DAT_HEADER: &str = "# SystemC::Coverage-3\n";

/// The points of rtl/ in a merged `.dat` text. Points of other files — the trace-only
/// testbench `sim/rtl_tb/gru_trace_cycle.sv` bound into every variant — are left out: they are
/// not the design. Code inside `` `ifdef FORMAL `` or a `GRU_MUTANT_` define is not compiled
/// into the coverage build and has no points at all.
pub fn rtl_points(dat: &str) -> Result<Vec<Point>, ReportError> {
    let mut points = Vec::new();
    for (n, text) in dat.lines().enumerate() {
        if text.starts_with('#') || text.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| ReportError::Dat { line: n + 1, why: why.to_owned() };
        let body = text.strip_prefix("C '").ok_or_else(|| bad("not a `C '<key>' <count>` line"))?;
        let (key, count) = body.rsplit_once("' ").ok_or_else(|| bad("no count"))?;
        let count: u64 = count.trim().parse().map_err(|_| bad("count is not a number"))?;
        let field = |name: &str| {
            key.split('\x01').filter_map(|kv| kv.split_once('\x02')).find(|(k, _)| *k == name).map(|(_, v)| v)
        };
        let file = field("f").ok_or_else(|| bad("no file (f)"))?;
        let path = Path::new(file);
        if path.parent().and_then(Path::file_name).is_none_or(|d| d != "rtl") {
            continue;
        }
        let Some(kind) = field("page").and_then(Kind::of_page) else { continue };
        let name = path.file_name().and_then(|f| f.to_str()).ok_or_else(|| bad("file has no name"))?;
        let rel = format!("rtl/{name}");
        let line = field("l").and_then(|l| l.parse().ok()).ok_or_else(|| bad("no line number (l)"))?;
        let what = field("o").unwrap_or("").to_owned();
        let dat_line = format!("C '{}' {count}", key.replacen(&format!("\x01f\x02{file}"), &format!("\x01f\x02{rel}"), 1));
        points.push(Point { kind, file: rel, line, what, count, dat_line });
    }
    Ok(points)
}

/// The hit and total points of `kind`.
pub fn tally(points: &[Point], kind: Kind) -> Tally {
    let mut t = Tally::default();
    points.iter().filter(|p| p.kind == kind).for_each(|p| t.add(p.count > 0));
    t
}

/// The points of `kind` as a `.dat` file's text.
pub fn dat_of(points: &[Point], kind: Kind) -> String {
    let mut s = String::from(DAT_HEADER);
    for p in points.iter().filter(|p| p.kind == kind) {
        writeln!(s, "{}", p.dat_line).unwrap();
    }
    s
}

/// The lines of an lcov info file with a `DA:` record, and those hit (what genhtml calls line
/// coverage).
pub fn info_tally(info: &str) -> Tally {
    let mut t = Tally::default();
    for da in info.lines().filter_map(|l| l.strip_prefix("DA:")) {
        t.add(da.split(',').nth(1).is_some_and(|c| c.trim().parse::<u64>().is_ok_and(|c| c > 0)));
    }
    t
}

/// Run `tool` with `args`; its failure (or absence) is an error naming it.
fn run_tool(tool: &str, args: &[&std::ffi::OsStr], dir: Option<&Path>) -> Result<(), ReportError> {
    let mut cmd = Command::new(tool);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().map_err(|e| ReportError::Tool { tool: tool.to_owned(), why: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ReportError::Tool { tool: tool.to_owned(), why: String::from_utf8_lossy(&out.stderr).trim().to_owned() })
    }
}

/// Merge every `.dat` file in `dir` into `merged` with `verilator_coverage --write`.
pub fn merge_dats(dir: &Path, merged: &Path) -> Result<usize, ReportError> {
    let io = |e: std::io::Error| ReportError::Io { path: dir.to_owned(), err: e.to_string() };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    if files.is_empty() {
        return Err(ReportError::NoData(dir.to_owned()));
    }
    files.sort();
    let mut args = vec!["--write".as_ref(), merged.as_os_str()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    run_tool("verilator_coverage", &args, None)?;
    Ok(files.len())
}

/// Convert `dat` to the lcov info file `info` with `verilator_coverage --write-info`.
pub fn write_info(dat: &Path, info: &Path) -> Result<(), ReportError> {
    run_tool("verilator_coverage", &["--write-info".as_ref(), info.as_os_str(), dat.as_os_str()], None)
}

/// Render `info` as HTML into `html_dir` with genhtml, run in `src_root` (where `rtl/` is).
pub fn genhtml(info: &Path, html_dir: &Path, title: &str, src_root: &Path) -> Result<(), ReportError> {
    let info = std::path::absolute(info).map_err(|e| ReportError::Io { path: info.to_owned(), err: e.to_string() })?;
    let html = std::path::absolute(html_dir).map_err(|e| ReportError::Io { path: html_dir.to_owned(), err: e.to_string() })?;
    let args = ["--quiet".as_ref(), "--title".as_ref(), title.as_ref(), "--output-directory".as_ref(), html.as_os_str(), info.as_os_str()];
    run_tool("genhtml", &args, Some(src_root))
}

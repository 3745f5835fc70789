//! The coverage report of `make coverage` (`gru-cosim coverage`): RTL line and toggle coverage
//! from a coverage build's counter files (rendered by genhtml into `rtl/` and `rtl-toggle/`),
//! the functional cover points of regressions (`functional.html`), and an `index.html`
//! linking both, all in one output directory.

pub mod functional;
pub mod rtl;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::regress::{read_results, RegressError};
use functional::esc;
use rtl::{Kind, Point, Tally};

/// Why the report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        err: String,
    },
    /// No `.dat` file in the counter directory: the runs were not made by a coverage build.
    #[error("{0}: no RTL coverage files (rtl-*.dat); run the stimulus with a coverage build (GRU_RTL_COVERAGE=1, `make coverage`)")]
    NoData(PathBuf),
    /// A line of the merged `.dat` file is not a coverage point.
    #[error("merged coverage data, line {line}: {why}")]
    Dat {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// An external tool (verilator_coverage, genhtml) is missing or failed.
    #[error("{tool}: {why}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its error output.
        why: String,
    },
    /// A regression results file could not be read.
    #[error(transparent)]
    Results(#[from] RegressError),
}

/// What to report on.
#[derive(Clone, Debug)]
pub struct ReportArgs {
    /// The directory the coverage build's runs wrote their counters to (`rtl-<pid>-<n>.dat`).
    pub dat_dir: PathBuf,
    /// Regression results files (`regress --out`) whose cover points make the functional page.
    pub results: Vec<PathBuf>,
    /// The output directory.
    pub out: PathBuf,
    /// The directory holding `rtl/` (genhtml reads the sources there).
    pub src_root: PathBuf,
}

/// The numbers of a report.
#[derive(Clone, Debug)]
pub struct Report {
    /// RTL lines (lcov `DA` records of `rtl-line.info`, as genhtml counts them).
    pub line: Tally,
    /// RTL toggle points (one per signal bit and direction).
    pub toggle: Tally,
    /// Line points (blocks and branch arms) never hit.
    pub uncovered: Vec<Point>,
    /// Functional cover points hit, of all.
    pub functional: Tally,
    /// Counter files merged.
    pub dat_files: usize,
}

impl Report {
    /// `rtl coverage: line L%, toggle T%`.
    pub fn summary(&self) -> String {
        format!("rtl coverage: line {:.1}%, toggle {:.1}%", self.line.percent(), self.toggle.percent())
    }
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError::Io { path: path.to_owned(), err: e.to_string() })
}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| ReportError::Io { path: path.to_owned(), err: e.to_string() })
}

/// Merge the counters, write the lcov files, the genhtml reports, the functional page and the
/// index into `args.out`.
pub fn report(args: &ReportArgs) -> Result<Report, ReportError> {
    let out = &args.out;
    std::fs::create_dir_all(out).map_err(|e| ReportError::Io { path: out.clone(), err: e.to_string() })?;
    let merged = out.join("rtl-merged.dat");
    let dat_files = rtl::merge_dats(&args.dat_dir, &merged)?;
    let points = rtl::rtl_points(&read(&merged)?)?;
    let mut infos = Vec::new();
    for (kind, name, title) in [(Kind::Line, "rtl", "gru_chiplet line coverage"), (Kind::Toggle, "rtl-toggle", "gru_chiplet toggle coverage")] {
        let dat = out.join(format!("{name}.dat"));
        let info = out.join(format!("{name}.info"));
        write(&dat, &rtl::dat_of(&points, kind))?;
        rtl::write_info(&dat, &info)?;
        rtl::genhtml(&info, &out.join(name), title, &args.src_root)?;
        infos.push(info);
    }
    let uncovered: Vec<Point> = points.iter().filter(|p| p.kind == Kind::Line && p.count == 0).cloned().collect();
    let mut list = String::new();
    for p in &uncovered {
        writeln!(list, "{}:{} {}", p.file, p.line, p.what).unwrap();
    }
    write(&out.join("rtl-uncovered.txt"), &list)?;

    let runs = args.results.iter().map(|f| read_results(f)).collect::<Result<Vec<_>, _>>()?;
    let rows = functional::rows(&runs);
    let sources: Vec<String> = args.results.iter().zip(&runs).map(|(f, r)| format!("{} ({})", f.display(), r.run)).collect();
    write(&out.join("functional.html"), &functional::page(&rows, &sources))?;
    let functional = Tally { hit: rows.iter().filter(|r| r.hits > 0).count() as u64, total: rows.len() as u64 };

    let report = Report { line: rtl::info_tally(&read(&infos[0])?), toggle: rtl::tally(&points, Kind::Toggle), uncovered, functional, dat_files };
    write(&out.join("index.html"), &index(&report))?;
    Ok(report)
}

/// The index page: the three numbers, each linking its report.
fn index(r: &Report) -> String {
    let row = |link: &str, what: &str, t: &Tally| {
        format!("<tr><td><a href=\"{link}\">{}</a></td><td>{} of {}</td><td>{:.1}%</td></tr>\n", esc(what), t.hit, t.total, t.percent())
    };
    let mut s = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gru-cosim coverage</title></head><body>\n");
    writeln!(s, "<h1>gru-cosim coverage</h1>\n<p>{} ({} RTL counter files merged)</p>\n<table>", esc(&r.summary()), r.dat_files).unwrap();
    s.push_str(&row("rtl/index.html", "RTL lines (rtl/, genhtml)", &r.line));
    s.push_str(&row("rtl-toggle/index.html", "RTL signal bits toggled (rtl/, genhtml per signal)", &r.toggle));
    s.push_str(&row("functional.html", "functional cover points", &r.functional));
    writeln!(s, "</table>\n<p><a href=\"rtl-uncovered.txt\">{} RTL line points never hit</a></p>\n</body></html>", r.uncovered.len()).unwrap();
    s
}

//! `gru-cosim regress`: the seeded random workload over a range of seeds, in parallel, every
//! check on. Every seed — passed or failed — goes to the JSON results file with its cycles,
//! wall time and (for failures) its first failure and the commands that replay it and dump its
//! waveform; `--junit` writes the same as JUnit XML (one testcase per seed) for any CI;
//! `--waves-on-fail` dumps the waveform of every failed seed; `--shard i/n` (from 1) runs a
//! part of the seeds and [`merge`] joins the parts' files into the unsharded run's.
//! docs/REGRESSION.md has the recipes (Slurm job array, CI matrix).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gru_driver::notifier::Era;
use gru_sim::rtl::WaveFormat;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::coverage::Coverage;
use crate::run_cmd::{check_writable, debug, execute, RunArgs};
use crate::waves::DEFAULT_MARGIN;

/// An inclusive range of seeds, written `A..B` (or `A..=B`, or one seed `A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// First seed.
    pub first: u64,
    /// Last seed (inclusive).
    pub last: u64,
}

impl std::fmt::Display for Seeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

/// A bad `--seeds` or `--shard` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegressArgError {
    /// Not `A..B` with A ≤ B.
    #[error("bad seed range {0:?}: expected A..B with A <= B (inclusive), e.g. 1..200")]
    Seeds(String),
    /// Not `i/n` with 1 ≤ i ≤ n.
    #[error("bad shard {0:?}: expected i/n with 1 <= i <= n (shards count from 1, like Slurm array tasks), e.g. 1/4")]
    Shard(String),
}

impl FromStr for Seeds {
    type Err = RegressArgError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RegressArgError::Seeds(s.to_owned());
        let (a, b) = match s.split_once("..") {
            Some((a, b)) => (a, b.strip_prefix('=').unwrap_or(b)),
            None => (s, s),
        };
        let (first, last) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
        if first > last {
            return Err(bad());
        }
        Ok(Seeds { first, last })
    }
}

/// Shard `index` of `count`, counted from 1: the seeds at positions `index-1`, `index-1+count`,
/// … of the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 1.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = RegressArgError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RegressArgError::Shard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The seeds of `seeds` this shard runs.
    pub fn seeds(&self, seeds: Seeds) -> Vec<u64> {
        (seeds.first..=seeds.last).enumerate().filter(|(i, _)| *i as u64 % self.count == self.index - 1).map(|(_, s)| s).collect()
    }
}

/// A seed's first failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedFailure {
    /// The first failed check (or "setup"/"panic").
    pub check: String,
    /// Cycle of the first failure.
    pub cycle: u64,
    /// What it saw.
    pub detail: String,
    /// Further failures of the same run.
    pub more: usize,
}

/// The waveform dumped for a failed seed (`--waves-on-fail`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedWaves {
    /// The dump.
    pub dump: String,
    /// Its GTKWave save file (its first named marker is on the failing cycle).
    pub save: String,
    /// Its Surfer command file.
    pub surfer: String,
    /// Or why none could be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One seed's result, as the results file holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Cycles simulated (0 when the run could not start).
    pub cycles: u64,
    /// Wall-clock seconds of the run (not of its waveform).
    pub wall_s: f64,
    /// The first failure, if any.
    pub failure: Option<SeedFailure>,
    /// The command that replays it.
    pub replay: String,
    /// The command that dumps the waveform around its first failure (failures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<String>,
    /// The waveform dumped with `--waves-on-fail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waves: Option<SeedWaves>,
    /// Cover points hit (none when the run could not start).
    #[serde(default)]
    pub coverage: Option<Coverage>,
}

impl SeedResult {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The results file of a regression or of one shard of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressResults {
    /// Format version of this file.
    pub format: u32,
    /// The options every seed ran with (`gru-cosim run` options without the seed): shards of
    /// one regression have the same.
    pub run: String,
    /// The whole seed range.
    pub seeds: String,
    /// The shard this file holds (`1/1`: all of them).
    pub shard: String,
    /// Seeds run, failed.
    pub total: usize,
    /// Seeds failed.
    pub failed: usize,
    /// Every seed of the shard, by seed.
    pub results: Vec<SeedResult>,
}

impl RegressResults {
    /// The union of every seed's cover points (`None` if no seed ran).
    pub fn coverage(&self) -> Option<Coverage> {
        let mut seeds = self.results.iter().filter_map(|r| r.coverage.as_ref());
        let mut all = seeds.next()?.clone();
        seeds.for_each(|c| all.merge(c));
        Some(all)
    }
}

/// Version of [`RegressResults`].
pub const RESULTS_FORMAT: u32 = 1;

/// What `regress` was asked.
#[derive(Clone, Debug)]
pub struct RegressArgs {
    /// Seeds to run.
    pub seeds: Seeds,
    /// The part of them this process runs.
    pub shard: Shard,
    /// Worker threads.
    pub jobs: usize,
    /// The run every seed makes; its `seed` is set per seed.
    pub run: RunArgs,
    /// Where the results go (JSON).
    pub out: PathBuf,
    /// Where the JUnit XML goes, if anywhere.
    pub junit: Option<PathBuf>,
    /// Dump the waveform of every failed seed (on the RTL).
    pub waves_on_fail: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl RegressArgs {
    /// `regress` over `seeds` of `run` with the defaults: one shard, one job, results to `out`.
    pub fn new(seeds: Seeds, run: RunArgs, out: PathBuf) -> Self {
        RegressArgs { seeds, shard: Shard::default(), jobs: 1, run, out, junit: None, waves_on_fail: false, progress: false }
    }
}

/// Errors of `regress` and `merge`.
#[derive(Debug, thiserror::Error)]
pub enum RegressError {
    /// A file could not be written or read.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// A results file is not one.
    #[error("{path}: not a gru-cosim regress results file: {msg}")]
    Parse {
        /// The file.
        path: String,
        /// serde's message.
        msg: String,
    },
    /// Shard files that do not make one regression.
    #[error("cannot merge: {0}")]
    Merge(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegressError + '_ {
    move |err| RegressError::Io { path: path.display().to_string(), err }
}

/// Run every seed of the shard on `jobs` threads; write the results file (and the JUnit file);
/// the caller prints the last line. The output files are checked before the first seed runs.
pub fn regress(args: &RegressArgs) -> Result<RegressResults, RegressError> {
    for p in std::iter::once(&args.out).chain(&args.junit) {
        check_writable(p).map_err(io_err(p))?;
    }
    let seeds = args.shard.seeds(args.seeds);
    let bar = if args.progress { ProgressBar::new(seeds.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("regress {bar:40} {pos}/{len} seeds, {msg} [{elapsed_precise}<{eta_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0 failures");
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let failed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1).min(seeds.len().max(1)) {
            scope.spawn(|| {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let run = seed_run(&args.run, seed);
                    let mut r = run_seed(&run);
                    if !r.passed() {
                        bar.set_message(format!("{} failures", failed.fetch_add(1, Ordering::Relaxed) + 1));
                        if args.waves_on_fail {
                            r.waves = Some(seed_waves(&run));
                        }
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.seed);
    let out = RegressResults {
        format: RESULTS_FORMAT,
        run: run_options(&args.run),
        seeds: args.seeds.to_string(),
        shard: args.shard.to_string(),
        total: results.len(),
        failed: results.iter().filter(|r| !r.passed()).count(),
        results,
    };
    write_results(&args.out, &out)?;
    if let Some(j) = &args.junit {
        write_junit(j, &out)?;
    }
    Ok(out)
}

/// `--workload mix`: each seed runs one of [`MIX_PLAN`] by its number, so one regression covers
/// the stress, directed and files workloads in every era; each seed's replay line names what it
/// ran.
pub const MIX: &str = "mix";

/// What seed `s` of a mixed regression runs: `MIX_PLAN[s % 8]`. An `--era` given on the command
/// line applies to every seed.
pub const MIX_PLAN: [(&str, Era); 8] = [
    ("default", Era::Modern),
    ("directed", Era::Modern),
    ("default", Era::Classic),
    ("directed", Era::Classic),
    ("files", Era::Modern),
    ("files", Era::Classic),
    ("default", Era::ClassicUnlocked),
    ("files", Era::ClassicUnlocked),
];

/// The run of one seed.
fn seed_run(run: &RunArgs, seed: u64) -> RunArgs {
    let mut r = RunArgs { seed, waves: None, json: None, ..run.clone() };
    if r.workload == MIX {
        let (workload, era) = MIX_PLAN[(seed % MIX_PLAN.len() as u64) as usize];
        r.workload = workload.into();
        r.era = Some(run.era.unwrap_or(era));
    }
    r
}

/// The `run` options of every seed, without the seed.
fn run_options(run: &RunArgs) -> String {
    let line = RunArgs { seed: 0, ..run.clone() }.command();
    line.strip_prefix("gru-cosim run ").unwrap_or(&line).replace(" --seed 0", "")
}

/// One seed. A panic is a failure too (the seed replays it).
fn run_seed(run: &RunArgs) -> SeedResult {
    let t0 = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(run, false)));
    let wall_s = t0.elapsed().as_secs_f64();
    let fail = |check: &str, cycle, detail: String, more| Some(SeedFailure { check: check.to_owned(), cycle, detail, more });
    let (cycles, failure, coverage) = match outcome {
        Ok(Ok(o)) => {
            let failure = o.failures.first().and_then(|f| fail(&f.check.to_string(), f.cycle, f.detail.clone(), o.failures.len() - 1));
            (o.cycles, failure, Some(o.coverage))
        }
        Ok(Err(e)) => (0, fail("setup", 0, e.to_string(), 0), None),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            (0, fail("panic", 0, msg.unwrap_or_else(|| "panic".into()), 0), None)
        }
    };
    SeedResult {
        seed: run.seed,
        verdict: if failure.is_some() { "fail" } else { "pass" }.into(),
        cycles,
        wall_s,
        debug: failure.as_ref().map(|_| run.debug_command()),
        failure,
        replay: run.command(),
        waves: None,
        coverage,
    }
}

/// The waveform of a failed seed, or why there is none.
fn seed_waves(run: &RunArgs) -> SeedWaves {
    let none = |error: String| SeedWaves { dump: String::new(), save: String::new(), surfer: String::new(), error: Some(error) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| debug(run, DEFAULT_MARGIN, WaveFormat::Fst))) {
        Ok(Ok(Some(d))) => SeedWaves {
            dump: d.dump.display().to_string(),
            save: d.save.display().to_string(),
            surfer: d.surfer.display().to_string(),
            error: None,
        },
        Ok(Ok(None)) => none("the re-run passed".into()),
        Ok(Err(e)) => none(e.to_string()),
        Err(_) => none("the waveform run panicked".into()),
    }
}

/// Write a results file.
pub fn write_results(path: &Path, r: &RegressResults) -> Result<(), RegressError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(path))?;
    }
    let json = serde_json::to_string_pretty(r).map_err(|e| RegressError::Io { path: path.display().to_string(), err: e.into() })?;
    std::fs::write(path, json + "\n").map_err(io_err(path))
}

/// Read a results file.
pub fn read_results(path: &Path) -> Result<RegressResults, RegressError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| RegressError::Parse { path: path.display().to_string(), msg: e.to_string() })
}

/// The results as JUnit XML: one testsuite, one testcase per seed (`seed N`), failures with
/// the check as type, the detail, and the replay and waveform commands in the text.
pub fn junit(r: &RegressResults) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("gru-cosim regress --seeds {} {}", r.seeds, r.run));
    let mut total = 0.0;
    for s in &r.results {
        let status = match &s.failure {
            None => TestCaseStatus::success(),
            Some(f) => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!("[{}] cycle {}: {}", f.check, f.cycle, f.detail.lines().next().unwrap_or("")));
                st.set_type(f.check.clone());
                let mut text = format!("{}\n\nreplay: {}\n", f.detail, s.replay);
                if let Some(d) = &s.debug {
                    text += &format!("waves:  {d}\n");
                }
                if let Some(w) = s.waves.as_ref().filter(|w| w.error.is_none()) {
                    text += &format!("dump:   gtkwave {} {}\n", w.dump, w.save);
                }
                st.set_description(text);
                st
            }
        };
        let mut case = TestCase::new(format!("seed {}", s.seed), status);
        case.set_classname(format!("gru_cosim.regress.{}", r.run.split_whitespace().next().unwrap_or("run")));
        case.set_time(Duration::from_secs_f64(s.wall_s.max(0.0)));
        case.set_system_out(format!("cycles {}\nreplay: {}\n", s.cycles, s.replay));
        suite.add_test_case(case);
        total += s.wall_s;
    }
    suite.set_time(Duration::from_secs_f64(total.max(0.0)));
    let mut report = Report::new("gru-cosim");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| format!("<!-- cannot serialize: {e} -->\n"))
}

/// Write the JUnit XML of `r`.
pub fn write_junit(path: &Path, r: &RegressResults) -> Result<(), RegressError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(path))?;
    }
    std::fs::write(path, junit(r)).map_err(io_err(path))
}

/// Join the results of shards `1/n` … `n/n` of one regression into the unsharded run's
/// results: every shard present once, same seeds and options, no seed twice.
pub fn merge(parts: &[RegressResults]) -> Result<RegressResults, RegressError> {
    let first = parts.first().ok_or_else(|| RegressError::Merge("no results files".into()))?;
    let mut shards = Vec::new();
    for p in parts {
        if p.format != first.format || p.run != first.run || p.seeds != first.seeds {
            return Err(RegressError::Merge(format!(
                "shard {} ran --seeds {} with `{}`, shard {} --seeds {} with `{}`",
                first.shard, first.seeds, first.run, p.shard, p.seeds, p.run
            )));
        }
        let s: Shard = p.shard.parse().map_err(|e: RegressArgError| RegressError::Merge(e.to_string()))?;
        shards.push(s);
    }
    let count = shards[0].count;
    if shards.iter().any(|s| s.count != count) {
        return Err(RegressError::Merge(format!("shard counts differ: {:?}", parts.iter().map(|p| &p.shard).collect::<Vec<_>>())));
    }
    let mut missing: Vec<u64> = (1..=count).filter(|i| !shards.iter().any(|s| s.index == *i)).collect();
    if !missing.is_empty() || shards.len() as u64 != count {
        missing.sort_unstable();
        return Err(RegressError::Merge(format!("need shards 1..={count} once each; got {} file(s), missing {missing:?}", shards.len())));
    }
    let mut results: Vec<SeedResult> = parts.iter().flat_map(|p| p.results.iter().cloned()).collect();
    results.sort_by_key(|r| r.seed);
    if let Some(w) = results.windows(2).find(|w| w[0].seed == w[1].seed) {
        return Err(RegressError::Merge(format!("seed {} is in two shards", w[0].seed)));
    }
    Ok(RegressResults {
        format: first.format,
        run: first.run.clone(),
        seeds: first.seeds.clone(),
        shard: Shard::default().to_string(),
        total: results.len(),
        failed: results.iter().filter(|r| !r.passed()).count(),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_inclusive() {
        assert_eq!("1..200".parse(), Ok(Seeds { first: 1, last: 200 }));
        assert_eq!("3..=5".parse(), Ok(Seeds { first: 3, last: 5 }));
        assert_eq!("7".parse(), Ok(Seeds { first: 7, last: 7 }));
        assert!(matches!("5..1".parse::<Seeds>(), Err(RegressArgError::Seeds(_))));
        assert!(matches!("a..b".parse::<Seeds>(), Err(RegressArgError::Seeds(_))));
    }

    #[test]
    fn shards_count_from_one_and_cover_the_range_once() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!("4/4".parse(), Ok(Shard { index: 4, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        let seeds = Seeds { first: 3, last: 12 };
        let mut all: Vec<u64> = (1..=3).flat_map(|i| Shard { index: i, count: 3 }.seeds(seeds)).collect();
        assert_eq!(Shard { index: 1, count: 3 }.seeds(seeds), vec![3, 6, 9, 12]);
        all.sort_unstable();
        assert_eq!(all, (3..=12).collect::<Vec<_>>());
    }

    fn result(seed: u64, fail: bool) -> SeedResult {
        SeedResult {
            seed,
            verdict: if fail { "fail" } else { "pass" }.into(),
            cycles: 100 + seed,
            wall_s: 0.5,
            failure: fail.then(|| SeedFailure { check: "contract".into(), cycle: 42, detail: "a <bad> & \"odd\" detail".into(), more: 0 }),
            replay: format!("gru-cosim run default --seed {seed}"),
            debug: fail.then(|| format!("gru-cosim debug default --seed {seed}")),
            waves: None,
            coverage: None,
        }
    }

    fn part(shard: &str, seeds: &[u64]) -> RegressResults {
        let results: Vec<SeedResult> = seeds.iter().map(|&s| result(s, s % 2 == 0)).collect();
        RegressResults {
            format: RESULTS_FORMAT,
            run: "default --hw model".into(),
            seeds: "1..5".into(),
            shard: shard.into(),
            total: results.len(),
            failed: results.iter().filter(|r| !r.passed()).count(),
            results,
        }
    }

    #[test]
    fn merge_needs_every_shard_once() {
        let merged = merge(&[part("2/2", &[2, 4]), part("1/2", &[1, 3, 5])]).expect("merge");
        assert_eq!(merged, part("1/1", &[1, 2, 3, 4, 5]));
        assert!(merge(&[part("1/2", &[1, 3, 5])]).is_err(), "a shard missing");
        assert!(merge(&[part("1/2", &[1, 3, 5]), part("1/2", &[1, 3, 5])]).is_err(), "a shard twice");
        let mut other = part("2/2", &[2, 4]);
        other.run = "default --hw rtl".into();
        assert!(merge(&[part("1/2", &[1, 3, 5]), other]).is_err(), "different options");
    }

    #[test]
    fn junit_has_a_testcase_per_seed_and_the_replay_in_failures() {
        let xml = junit(&part("1/1", &[1, 2, 3]));
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
        assert!(xml.contains("replay: gru-cosim run default --seed 2"), "{xml}");
        assert!(xml.contains("&lt;bad&gt;"), "escaped: {xml}");
    }
}

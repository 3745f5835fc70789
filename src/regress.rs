//! `gru-cosim regress`: the seeded random workload over a range of seeds, in parallel, every
//! check on; failures go to a JSON file with the command that replays each.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::run_cmd::{execute, RunArgs};

/// An inclusive range of seeds, written `A..B` (or `A..=B`, or one seed `A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// First seed.
    pub first: u64,
    /// Last seed (inclusive).
    pub last: u64,
}

/// A bad `--seeds` or `--shard` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegressArgError {
    /// Not `A..B` with A ≤ B.
    #[error("bad seed range {0:?}: expected A..B with A <= B (inclusive), e.g. 1..200")]
    Seeds(String),
    /// Not `i/n` with i < n.
    #[error("bad shard {0:?}: expected i/n with 0 <= i < n, e.g. 0/4")]
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

/// One shard `index` of `count`: seeds whose position in the range is `index` mod `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = RegressArgError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RegressArgError::Shard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// A failed seed, as written to the failures file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedFailure {
    /// The seed.
    pub seed: u64,
    /// The first failed check (or "setup"/"panic").
    pub check: String,
    /// Cycle of the first failure.
    pub cycle: u64,
    /// What it saw.
    pub detail: String,
    /// Further failures of the same run.
    pub more: usize,
    /// The command that replays it.
    pub replay: String,
}

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
    /// Where the failures go (JSON).
    pub out: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
}

/// The result of a regression.
#[derive(Debug)]
pub struct RegressReport {
    /// Seeds run.
    pub seeds: usize,
    /// Failed seeds, by seed.
    pub failures: Vec<SeedFailure>,
}

/// Run every seed of the shard on `jobs` threads; write the failures file; the caller prints
/// the last line.
pub fn regress(args: &RegressArgs) -> std::io::Result<RegressReport> {
    let seeds: Vec<u64> = (args.seeds.first..=args.seeds.last)
        .enumerate()
        .filter(|(i, _)| *i as u64 % args.shard.count == args.shard.index)
        .map(|(_, s)| s)
        .collect();
    let bar = if args.progress { ProgressBar::new(seeds.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("regress {bar:40} {pos}/{len} seeds, {msg} [{elapsed_precise}<{eta_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0 failures");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1).min(seeds.len().max(1)) {
            scope.spawn(|| {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let run = RunArgs { seed, waves: None, json: None, ..args.run.clone() };
                    if let Some(f) = run_seed(&run) {
                        let mut all = failures.lock().unwrap_or_else(|e| e.into_inner());
                        all.push(f);
                        bar.set_message(format!("{} failures", all.len()));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|f| f.seed);
    write_failures(&args.out, &failures)?;
    Ok(RegressReport { seeds: seeds.len(), failures })
}

/// One seed: its first failure, if any. A panic is a failure too (the seed replays it).
fn run_seed(run: &RunArgs) -> Option<SeedFailure> {
    let fail = |check: &str, cycle, detail: String, more| SeedFailure {
        seed: run.seed,
        check: check.to_owned(),
        cycle,
        detail,
        more,
        replay: run.command(),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(run, false))) {
        Ok(Ok(o)) => o.failures.first().map(|f| fail(&f.check.to_string(), f.cycle, f.detail.clone(), o.failures.len() - 1)),
        Ok(Err(e)) => Some(fail("setup", 0, e.to_string(), 0)),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Some(fail("panic", 0, msg.unwrap_or_else(|| "panic".into()), 0))
        }
    }
}

fn write_failures(path: &Path, failures: &[SeedFailure]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_string_pretty(failures).map_err(std::io::Error::other)?;
    std::fs::write(path, json + "\n")
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
    fn shards_parse_and_reject_out_of_range() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}

//! The scale of a regression: how long `gru-cosim regress` takes for many short seeds on the
//! reference model (by default 1,000 seeds of 1,000 GRU accesses: 10⁶ random workload
//! operations) and for a batch of full default-workload seeds on the RTL (by default 100), on
//! every core the machine offers, every check on.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{BenchConfig, Progress};
use crate::regress::{regress, RegressArgs, Seeds};
use crate::run_cmd::RunArgs;
use crate::system::HwKind;

/// One timed regression.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleRun {
    /// What ran, in words.
    pub what: String,
    /// The command that does the same.
    pub command: String,
    /// Seeds run.
    pub seeds: u64,
    /// GRU accesses per seed.
    pub accesses_per_seed: u64,
    /// GRU accesses over all seeds.
    pub accesses: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Wall seconds of the whole regression (every seed passed: a failure fails the bench).
    pub wall_secs: f64,
    /// System cycles over all seeds.
    pub cycles: u64,
}

/// The section: the regressions asked for (a count of 0 seeds skips one).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scale {
    /// Many short seeds on the reference model.
    pub model: Option<ScaleRun>,
    /// Full default-workload seeds on the RTL.
    pub rtl: Option<ScaleRun>,
}

impl Scale {
    /// The regressions that ran.
    pub fn runs(&self) -> impl Iterator<Item = &ScaleRun> {
        self.model.iter().chain(&self.rtl)
    }
}

/// Run and time `regress` over seeds 1..=`seeds` of the default workload on `hw`.
fn timed(out: &Path, hw: HwKind, seeds: u64, accesses: u64, what: String) -> Result<ScaleRun, String> {
    let run = RunArgs { hw, accesses: Some(accesses), ..RunArgs::default() };
    let file = out.join(format!("scale-{}.json.tmp", format!("{hw:?}").to_lowercase()));
    let mut args = RegressArgs::new(Seeds { first: 1, last: seeds }, run, file.clone());
    args.jobs = std::thread::available_parallelism().map_or(1, usize::from);
    let command = format!(
        "gru-cosim regress --seeds 1..{seeds} --hw {} --accesses {accesses} --jobs {}",
        format!("{hw:?}").to_lowercase(),
        args.jobs
    );
    let t = Instant::now();
    let r = regress(&args).map_err(|e| format!("{command}: {e}"))?;
    let wall_secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    if let Some(f) = r.results.iter().find(|x| !x.passed()) {
        return Err(format!("{command}: seed {} failed: {:?} (replay: {})", f.seed, f.failure, f.replay));
    }
    Ok(ScaleRun {
        what,
        command,
        seeds,
        accesses_per_seed: accesses,
        accesses: seeds * accesses,
        jobs: args.jobs,
        wall_secs,
        cycles: r.results.iter().map(|x| x.cycles).sum(),
    })
}

/// Run the section.
pub fn run(cfg: &BenchConfig, pb: &Progress) -> Result<Scale, String> {
    let mut scale = Scale::default();
    pb.step("scale: regression on the reference model");
    if cfg.scale_model_seeds > 0 {
        let (n, a) = (cfg.scale_model_seeds, cfg.scale_model_accesses);
        let what = format!("{} random workload operations (GRU accesses): {n} seeds × {a} on the reference model", n * a);
        scale.model = Some(timed(&cfg.out, HwKind::Model, n, a, what)?);
    }
    pb.step("scale: regression on the RTL");
    if cfg.scale_rtl_seeds > 0 {
        let (n, a) = (cfg.scale_rtl_seeds, cfg.accesses);
        let what = format!("{n} seeds of the default workload ({a} GRU accesses each) on the RTL");
        scale.rtl = Some(timed(&cfg.out, HwKind::Rtl, n, a, what)?);
    }
    Ok(scale)
}

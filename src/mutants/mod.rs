//! The mutant catalogue and `gru-cosim mutants`: every known bug class, planted one at a time,
//! must make some check fail — first on the golden scenarios, then on a bounded random
//! regression of the default workload. A mutant that passes every check has escaped: the checks
//! miss that bug class.

pub mod catalogue;

pub use catalogue::{catalogue, fault_injections, find, MutantKind, UnknownMutant};

use crate::check::Failure;
use crate::run_cmd::{self, RunArgs, RunError};
use crate::scenario::scenario_names;

/// What made a mutant fail a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Catcher {
    /// A golden scenario (seed 1).
    Scenario(String),
    /// The default workload with this seed.
    Seed(u64),
}

/// A caught mutant: the run that caught it, its first failed check and the command replaying it.
#[derive(Clone, Debug)]
pub struct Catch {
    /// The run.
    pub by: Catcher,
    /// The first check that failed.
    pub failure: Failure,
    /// The command that replays the run.
    pub replay: String,
}

/// Plant `mutant` in every golden scenario, then in the default workload with seeds
/// `1..=seeds`, until a check fails. `args(workload, seed)` makes the arguments of one run,
/// with the mutant and its hardware ([`MutantKind::hw`]). A snapshot difference does not count: only a check,
/// and not in a scenario that expects a failure.
pub fn hunt(seeds: u64, args: impl Fn(&str, u64) -> RunArgs) -> Result<Option<Catch>, RunError> {
    let runs = scenario_names().into_iter().map(|s| (Catcher::Scenario(s.clone()), args(&s, 1)));
    let runs = runs.chain((1..=seeds).map(|n| (Catcher::Seed(n), args("default", n))));
    for (by, a) in runs {
        let outcome = run_cmd::execute(&a, false)?;
        // A scenario that expects a failure (its `expect_verdict`) shows a gap of the real
        // driver: it fails without the mutant too (often more than the one check), so nothing
        // it reports is a catch.
        if outcome.expect_verdict.is_some() {
            continue;
        }
        if let Some(failure) = outcome.failures.into_iter().next() {
            return Ok(Some(Catch { by, failure, replay: outcome.replay }));
        }
    }
    Ok(None)
}

/// `gru-cosim mutants`: hunt every mutant of the catalogue and print one line each, then
/// `mutants: <K> of <M> caught`; Ok(true) when every one was caught. `args(mutant, workload,
/// seed)` makes the arguments of one run.
pub fn run_all(seeds: u64, args: impl Fn(MutantKind, &str, u64) -> RunArgs) -> Result<bool, RunError> {
    let all = catalogue();
    let mut caught = 0;
    for m in &all {
        match hunt(seeds, |w, s| args(*m, w, s))? {
            Some(c) => {
                caught += 1;
                let f = &c.failure;
                match &c.by {
                    Catcher::Scenario(s) => println!("mutant {}: caught by scenario {s} [{}] {}", m.name(), f.check, f.detail),
                    Catcher::Seed(n) => {
                        println!("mutant {}: caught by seed {n} [{}] {} replay: {}", m.name(), f.check, f.detail, c.replay)
                    }
                }
            }
            None => println!("mutant {}: NOT caught", m.name()),
        }
    }
    println!("mutants: {caught} of {} caught", all.len());
    Ok(caught == all.len())
}

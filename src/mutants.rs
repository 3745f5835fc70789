//! The mutant catalogue and `gru-cosim mutants`: every known bug class, planted one at a time,
//! must make some check fail — first on the golden scenarios, then on a bounded random
//! regression of the default workload. A mutant that passes every check has escaped: the checks
//! miss that bug class.

use gru_driver::gru::Mutant;
use gru_sim::mutant::RtlMutant;

use crate::run_cmd::{self, scenario_names, RunArgs, RunError};
use crate::system::{Failure, HwKind};

/// One entry of the catalogue: what the mutant plants and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutantKind {
    /// A driver bug, switched at run time ([`gru_driver::gru::GruConfig::mutant`]); works on
    /// every `--hw`.
    Driver(Mutant),
    /// An RTL bug, a model variant built with its Verilog define ([`RtlMutant::define`]); needs
    /// `--hw rtl` or `--hw lockstep`.
    Rtl(RtlMutant),
}

impl MutantKind {
    /// The name `--mutant` takes.
    pub fn name(self) -> &'static str {
        match self {
            MutantKind::Driver(m) => m.name(),
            MutantKind::Rtl(m) => m.name(),
        }
    }

    /// The bug class and its consequence.
    pub fn description(self) -> &'static str {
        match self {
            MutantKind::Driver(m) => m.description(),
            MutantKind::Rtl(m) => m.description(),
        }
    }

    /// The driver bug to plant, if this is one.
    pub fn driver(self) -> Option<Mutant> {
        match self {
            MutantKind::Driver(m) => Some(m),
            MutantKind::Rtl(_) => None,
        }
    }

    /// The RTL model variant to build, if this is one.
    pub fn rtl(self) -> Option<RtlMutant> {
        match self {
            MutantKind::Rtl(m) => Some(m),
            MutantKind::Driver(_) => None,
        }
    }

    /// The hardware `gru-cosim mutants` hunts it on: the model for driver bugs (fastest), the
    /// RTL for RTL bugs.
    pub fn hw(self) -> HwKind {
        match self {
            MutantKind::Driver(_) => HwKind::Model,
            MutantKind::Rtl(_) => HwKind::Rtl,
        }
    }
}

/// Every mutant, in catalogue order: the driver's, then the RTL's.
pub fn catalogue() -> Vec<MutantKind> {
    let driver = Mutant::ALL.iter().copied().map(MutantKind::Driver);
    driver.chain(RtlMutant::catalogue().map(MutantKind::Rtl)).collect()
}

/// What `--mutant` also accepts besides the catalogue: fault injection for the bad-input tests
/// (a broken chiplet rather than a bug the checks hunt).
pub fn fault_injections() -> Vec<MutantKind> {
    RtlMutant::ALL.into_iter().filter(|m| m.is_fault_injection()).map(MutantKind::Rtl).collect()
}

/// A name that is in no catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant {name:?}; valid: {}", catalogue().iter().chain(&fault_injections()).map(|m| m.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownMutant {
    /// The name given.
    pub name: String,
}

/// The catalogue entry or fault injection called `name`.
pub fn find(name: &str) -> Result<MutantKind, UnknownMutant> {
    catalogue().into_iter().chain(fault_injections()).find(|m| m.name() == name).ok_or_else(|| UnknownMutant { name: name.to_owned() })
}

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
/// with the mutant and its hardware ([`MutantKind::hw`]). A snapshot difference does not count: only a check.
pub fn hunt(seeds: u64, args: impl Fn(&str, u64) -> RunArgs) -> Result<Option<Catch>, RunError> {
    let runs = scenario_names().into_iter().map(|s| (Catcher::Scenario(s.clone()), args(&s, 1)));
    let runs = runs.chain((1..=seeds).map(|n| (Catcher::Seed(n), args("default", n))));
    for (by, a) in runs {
        let outcome = run_cmd::execute(&a, false)?;
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

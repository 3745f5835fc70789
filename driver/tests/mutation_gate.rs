//! The gate `make mutation` runs for every mutant cargo-mutants makes of `driver/src/gru/`
//! (docs/MUTATION.md): the checks, and only the checks, over a fixed set of runs on the
//! reference model — every golden scenario (seed 1), then seeds of the default workload in both
//! notifier eras, of the directed workload, and of the default workload with the variable purge
//! timing. A mutant is caught when some check fails; a
//! golden-trace difference does not count, as in `gru-cosim mutants`, because the score measures
//! what the checks see. No RTL runs: a mutant costs a rebuild of the driver and of the root
//! crate's library, then seconds.

use gru_cosim::mutants::{self, Catcher};
use gru_cosim::run_cmd::{self, PurgeTimingKind, RunArgs};
use gru_cosim::system::HwKind;
use gru_driver::notifier::Era;

/// Seeds of the default workload, modern era (after the golden scenarios, through
/// [`mutants::hunt`]).
const DEFAULT_SEEDS: u64 = 12;
/// Seeds of the default workload in the classic era (invalidate_page, change_pte).
const CLASSIC_SEEDS: u64 = 6;
/// Seeds of the directed workload (context churn, ASID wraps, big unmaps).
const DIRECTED_SEEDS: u64 = 6;
/// Seeds of the default workload with the variable purge timing (`--purge-timing variable`):
/// TGHs outlast an MMIO round trip there, so the driver's status polls see ACTIVE, which the
/// default timing never shows them.
const VARIABLE_TIMING_SEEDS: u64 = 3;

/// `gru-cosim run <workload> --seed <seed> --hw model [--era <era>]`.
fn model(workload: &str, seed: u64, era: Option<Era>) -> RunArgs {
    RunArgs { workload: workload.into(), seed, hw: HwKind::Model, era, ..RunArgs::default() }
}

/// Ignored in `cargo test`: it takes about a minute and repeats runs the golden test and the
/// regression already make; `make mutation` runs it with `--include-ignored`
/// (.cargo/mutants.toml).
#[test]
#[ignore = "the mutation gate: make mutation runs it"]
fn every_check_passes_on_the_gate_runs() {
    let caught = mutants::hunt(DEFAULT_SEEDS, |w, s| model(w, s, None)).expect("run");
    if let Some(c) = caught {
        let by = match c.by {
            Catcher::Scenario(s) => format!("scenario {s}"),
            Catcher::Seed(n) => format!("default seed {n}"),
        };
        panic!("{by}: [{}] {} replay: {}", c.failure.check, c.failure.detail, c.replay);
    }
    let rest = (1..=CLASSIC_SEEDS).map(|s| model("default", s, Some(Era::Classic)));
    let rest = rest.chain((1..=DIRECTED_SEEDS).map(|s| model("directed", s, None)));
    let variable = (1..=VARIABLE_TIMING_SEEDS).map(|s| RunArgs { purge_timing: PurgeTimingKind::Variable, ..model("default", s, None) });
    for args in rest.chain(variable) {
        let out = run_cmd::execute(&args, false).expect("run");
        if let Some(f) = out.failures.first() {
            panic!("[{}] {} replay: {}", f.check, f.detail, out.replay);
        }
    }
}

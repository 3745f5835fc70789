//! Golden traces: every scenario of golden/scenarios runs on the RTL and its flush-relevant
//! semantic trace must equal the reviewed snapshot in golden/snapshots (`cargo insta review`
//! to accept changes; with CI=true insta never writes). A second test fails on orphans; a third
//! runs the HMM selftest ports (hmm_*) in the era other than their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gru_cosim::check::{Check, Failure};
use gru_cosim::scenario::{Overrides, Scenario, VerdictError};
use gru_cosim::system::System;
use gru_driver::notifier::Era;
use gru_sim::rtl::{Rtl, WaveFormat};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn names(dir: &str, ext: &str) -> BTreeSet<String> {
    let dir = root().join(dir);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(ext).map(str::to_owned))
        .collect()
}

fn load(name: &str) -> Scenario {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Run `sc` on the RTL, seed 1; the golden lines and the failures.
fn run(sc: &Scenario) -> (Vec<String>, Vec<Failure>) {
    let cfg = sc.system_config(1, format!("gru-cosim run {} --seed 1", sc.path));
    let sys = System::new(cfg, || Rtl::new(WaveFormat::Fst)).expect("system");
    sc.spawn(&sys);
    sys.run(5_000_000);
    let mut lines = vec![format!("# {}", sc.description.trim())];
    lines.extend(sys.events().iter().filter_map(|e| e.golden_line()));
    (lines, sys.checker.failures())
}

#[test]
fn scenarios_match_their_golden_traces() {
    let (mut failed, mut verdicts) = (Vec::new(), Vec::new());
    for name in names("scenarios", ".toml") {
        let sc = load(&name);
        let (lines, failures) = run(&sc);
        // A golden trace documents a passing run, or the failure its scenario exists to show
        // (`expect_verdict`): a snapshot must not make any other failure golden.
        if let Err(e) = sc.judge(&failures) {
            verdicts.push(e.to_string());
            verdicts.extend(failures.iter().map(|f| format!("{name}: [{}] {}", f.check, f.detail)));
        }
        let r = std::panic::catch_unwind(|| {
            insta::with_settings!({snapshot_path => root().join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true}, {
                insta::assert_yaml_snapshot!(name.as_str(), lines);
            });
        });
        if r.is_err() {
            failed.push(name);
        }
    }
    assert!(verdicts.is_empty(), "golden scenarios failed checks: {verdicts:#?}");
    assert!(failed.is_empty(), "golden traces changed: {failed:?} (review with `cargo insta review`)");
}

/// `expect_verdict` cuts both ways: `real_thp_lookup` passes because the data oracle fails
/// with Linux's THP lookup, and the same scenario with the model's lookup (every check passes)
/// fails its verdict; a scenario without `expect_verdict` fails on any failure.
#[test]
fn expected_verdicts_pass_only_when_they_fire() {
    let real = load("real_thp_lookup");
    assert_eq!(real.expect_verdict, Some(Check::DataOracle));
    let (_, failures) = run(&real);
    assert!(failures.iter().any(|f| f.check == Check::DataOracle), "{failures:?}");
    assert_eq!(real.judge(&failures), Ok(()));

    let mut model = real.clone();
    model.real_thp_lookup = false;
    let (_, failures) = run(&model);
    assert!(failures.is_empty(), "the model's lookup serves the 2M page right: {failures:?}");
    let e = model.judge(&failures).unwrap_err();
    assert!(matches!(e, VerdictError::ExpectedMissing { check: Check::DataOracle, .. }), "{e}");
    assert!(e.to_string().contains("expect_verdict = \"data oracle\""), "{e}");

    let mut plain = real;
    plain.expect_verdict = None;
    assert!(matches!(plain.judge(&[Failure { cycle: 1, check: Check::DataOracle, detail: String::new() }]), Err(VerdictError::Failed { failures: 1, .. })));
}

#[test]
fn no_orphans() {
    let scenarios = names("scenarios", ".toml");
    let snaps = names("snapshots", ".snap");
    let orphans: Vec<_> = snaps.symmetric_difference(&scenarios).collect();
    assert!(orphans.is_empty(), "scenarios without a snapshot or snapshots without a scenario: {orphans:?}");
}

/// The ports of the Linux HMM selftests (hmm_*.toml, golden/scenarios/README.md) are written to
/// hold in every notifier era: each also runs on the RTL, seed 1, in the eras other than its own
/// (no snapshot for those runs), and must pass every check there too.
#[test]
fn hmm_scenarios_pass_in_every_era() {
    let hmm: Vec<String> = names("scenarios", ".toml").into_iter().filter(|n| n.starts_with("hmm_")).collect();
    assert!(hmm.len() >= 14, "expected at least 14 hmm_* scenarios, found {}: {hmm:?}", hmm.len());
    let mut verdicts = Vec::new();
    for name in &hmm {
        let path = root().join("scenarios").join(format!("{name}.toml"));
        let own = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for other in Era::ALL.into_iter().filter(|&e| e != own.era) {
            let sc = own.clone().with_overrides(Overrides { era: Some(other), ..Overrides::default() }).unwrap_or_else(|e| panic!("{e}"));
            let cfg = sc.system_config(1, format!("gru-cosim run {} --seed 1 --era {other}", path.display()));
            let sys = System::new(cfg, || Rtl::new(WaveFormat::Fst)).expect("system");
            sc.spawn(&sys);
            sys.run(5_000_000);
            let failures = sys.checker.failures();
            assert!(sys.events().iter().any(|e| e.golden_line().is_some()), "{name} ({other} era): an empty trace");
            verdicts.extend(failures.iter().map(|f| format!("{name} ({other} era): [{}] {}", f.check, f.detail)));
        }
    }
    assert!(verdicts.is_empty(), "hmm scenarios failed checks in the other era: {verdicts:#?}");
}

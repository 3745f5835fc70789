//! Golden traces: every scenario of golden/scenarios runs on the RTL and its flush-relevant
//! semantic trace must equal the reviewed snapshot in golden/snapshots (`cargo insta review`
//! to accept changes; with CI=true insta never writes). A second test fails on orphans; a third
//! runs the HMM selftest ports (hmm_*) in the era other than their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gru_cosim::scenario::{Overrides, Scenario};
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

/// Run one scenario on the RTL, seed 1; the golden lines (with the check failures if any) and
/// the failures.
fn golden(name: &str) -> (Vec<String>, Vec<String>) {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let cfg = sc.system_config(1, format!("gru-cosim run {} --seed 1", path.display()));
    let sys = System::new(cfg, || Rtl::new(WaveFormat::Fst)).expect("system");
    sc.spawn(&sys);
    sys.run(5_000_000);
    let mut lines = vec![format!("# {}", sc.description.trim())];
    lines.extend(sys.events().iter().filter_map(|e| e.golden_line()));
    let failures = sys.checker.failures().iter().map(|f| format!("[{}] {}", f.check, f.detail)).collect();
    (lines, failures)
}

#[test]
fn scenarios_match_their_golden_traces() {
    let (mut failed, mut verdicts) = (Vec::new(), Vec::new());
    for name in names("scenarios", ".toml") {
        let (lines, failures) = golden(&name);
        // A golden trace documents a passing run: a snapshot must not make a failure golden.
        verdicts.extend(failures.into_iter().map(|f| format!("{name}: {f}")));
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

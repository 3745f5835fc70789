//! The checks that read ground truth only — the chip's CCH state and the thread that issued each
//! CB — and the driver protocol monitor: each fails on the bug it exists for, the ground-truth
//! checks before the end-to-end checks notice anything, the monitor on bugs the chip absorbs while
//! every end-to-end check (data oracle, frame life, shootdown contract, flush cover, forward
//! progress) still passes. One test binary: each links the Verilated models.

use gru_cosim::check::{Check, Failure};
use gru_cosim::mutants;
use gru_cosim::run_cmd::{execute, RunArgs};
use gru_cosim::system::HwKind;

fn run(workload: &str, mutant: Option<&str>) -> Vec<Failure> {
    let mutant = mutant.map(|m| mutants::find(m).expect("catalogue mutant"));
    let args = RunArgs { workload: workload.into(), hw: HwKind::Model, mutant, ..RunArgs::default() };
    execute(&args, false).expect("runs").failures
}

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("gru-layer-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Three threads of one mm load contexts 0..2 on chiplet 0, each touching its own page; then
/// page 0, which only context 0 used, is unmapped. No entry of context 2 is in the range, so a
/// flush that leaves context 2 out of its bitmap leaves nothing behind: only the flush-cover
/// check (hardware view of the loaded contexts vs the TGH the driver wrote) can see it.
const COVER: &str = r#"description = "flush cover"
[[process]]
name = "a"
pages = 3
[[thread]]
name = "t0"
process = "a"
chiplet = 0
steps = [ { op = "gru_load", page = 0 }, { op = "signal", name = "l0" }, { op = "wait", name = "done" } ]
[[thread]]
name = "t1"
process = "a"
chiplet = 0
steps = [ { op = "wait", name = "l0" }, { op = "gru_load", page = 1 }, { op = "signal", name = "l1" }, { op = "wait", name = "done" } ]
[[thread]]
name = "t2"
process = "a"
chiplet = 0
steps = [ { op = "wait", name = "l1" }, { op = "gru_load", page = 2 }, { op = "signal", name = "l2" }, { op = "wait", name = "done" } ]
[[thread]]
name = "cpu"
process = "a"
steps = [ { op = "wait", name = "l2" }, { op = "munmap", page = 0 }, { op = "signal", name = "done" } ]
"#;

#[test]
fn flush_cover_fails_at_the_first_flush_that_misses_a_loaded_context() {
    let path = temp("cover.toml", COVER);
    assert!(run(&path, None).is_empty(), "the correct driver covers every loaded context");
    let f = run(&path, Some("ctxbitmap_missing_ctx"));
    let checks: Vec<Check> = f.iter().map(|f| f.check).collect();
    assert_eq!(checks, [Check::FlushCover], "{f:?}");
    assert!(f[0].detail.contains("chiplet 0 context 2"), "{}", f[0].detail);
}

#[test]
fn two_address_spaces_under_one_asid_fail_ownership_before_the_data_goes_wrong() {
    let f = run("asid_reuse", Some("asid_reuse_no_purge"));
    let first = f.first().expect("caught");
    assert_eq!(first.check, Check::Ownership, "{f:?}");
    assert!(first.detail.contains("mm4 issued under ASID 0x10") && first.detail.contains("mm1"), "{}", first.detail);
    assert!(f.iter().any(|g| g.check == Check::DataOracle && g.cycle >= first.cycle), "{f:?}");
}

/// Only layer checks failed, and the driver protocol monitor among them.
fn only_layer_checks(f: &[Failure]) {
    assert!(f.iter().any(|f| f.check == Check::DriverProtocol), "the monitor must fire: {f:?}");
    let end_to_end = [Check::DataOracle, Check::FrameLife, Check::Contract, Check::FlushCover, Check::Progress, Check::Expect, Check::Kernel];
    assert!(f.iter().all(|f| !end_to_end.contains(&f.check)), "an end-to-end check failed too: {f:?}");
}

#[test]
fn a_range_active_test_before_the_tfh_read_is_caught_although_the_race_guard_absorbs_it() {
    assert!(run("munmap", None).is_empty());
    let f = run("munmap", Some("range_check_before_tfh_read"));
    only_layer_checks(&f);
    assert!(f[0].detail.contains("before reading the TFH"), "{}", f[0].detail);
}

#[test]
fn a_tracker_bit_cleared_before_interrupt_sync_is_caught() {
    assert!(run("zero_asid_reload", None).is_empty());
    let f = run("zero_asid_reload", Some("tracker_clear_before_sync"));
    only_layer_checks(&f);
    assert!(f[0].detail.contains("before INTERRUPT_SYNC"), "{}", f[0].detail);
}

/// Two address spaces, each with one context on chiplet 0 (slots 0 and 1), each loading its own
/// page. A shared ASID is harmless here: the chip tags entries with their context slot.
const TWO_MMS: &str = r#"description = "two address spaces on one chiplet"
[[process]]
name = "a"
[[process]]
name = "b"
[[thread]]
name = "ta"
process = "a"
chiplet = 0
steps = [ { op = "cpu_store", page = 0, value = 0xa }, { op = "gru_load", page = 0, expect = { value = 0xa } }, { op = "signal", name = "a" }, { op = "wait", name = "b" } ]
[[thread]]
name = "tb"
process = "b"
chiplet = 0
steps = [ { op = "wait", name = "a" }, { op = "cpu_store", page = 0, value = 0xb }, { op = "gru_load", page = 0, expect = { value = 0xb } }, { op = "signal", name = "b" } ]
"#;

#[test]
fn an_asid_handed_to_two_address_spaces_is_caught_while_the_context_tags_keep_them_apart() {
    let path = temp("two_mms.toml", TWO_MMS);
    assert!(run(&path, None).is_empty());
    let f = run(&path, Some("asid_handed_twice"));
    only_layer_checks(&f);
    assert!(f[0].detail.contains("mm2 loaded context 1 under ASID 0x10, which mm1's tracker holds"), "{}", f[0].detail);
    // The chip-level view agrees: both address spaces issued under the ASID.
    assert!(f.iter().any(|f| f.check == Check::Ownership), "{f:?}");
}

/// The protocol monitor can tell when it hears nothing: with the driver's tracepoints silenced
/// (an empty observer, as cargo-mutants' empty `set_protocol_observer` made them) a run with
/// dropins fails `driver protocol`; with them, the same run passes.
#[test]
fn a_silent_driver_fails_the_protocol_monitor() {
    use gru_cosim::scenario::Scenario;
    use gru_cosim::system::System;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/scenarios/munmap.toml");
    let failures = |silence: bool| {
        let sc = Scenario::load(&path).expect("scenario");
        let sys = System::new(sc.system_config(1, "test".into()), || gru_sim::model::RefModel::new(Default::default())).expect("system");
        if silence {
            sys.gru.set_protocol_observer(Box::new(|_, _| {}));
        }
        sc.spawn(&sys);
        sys.run(5_000_000);
        sys.checker.failures()
    };
    assert!(failures(false).is_empty());
    let bad = failures(true);
    assert!(bad.iter().any(|f| f.check == Check::DriverProtocol && f.detail.contains("tracepoints are silent")), "{bad:?}");
}

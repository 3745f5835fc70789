//! The driver protocol monitor fires on bugs the chip absorbs, while every end-to-end check
//! (data oracle, frame life, shootdown contract, flush cover, forward progress) still passes.

use gru_cosim::check::{Check, Failure};
use gru_cosim::mutants;
use gru_cosim::run_cmd::{execute, RunArgs};
use gru_cosim::system::HwKind;

fn run(workload: &str, mutant: Option<&str>) -> Vec<Failure> {
    let mutant = mutant.map(|m| mutants::find(m).expect("catalogue mutant"));
    let args = RunArgs { workload: workload.into(), hw: HwKind::Model, mutant, ..RunArgs::default() };
    execute(&args, false).expect("runs").failures
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
    let dir = std::env::temp_dir().join(format!("gru-driver-monitors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two_mms.toml");
    std::fs::write(&path, TWO_MMS).unwrap();
    let path = path.display().to_string();
    assert!(run(&path, None).is_empty());
    let f = run(&path, Some("asid_handed_twice"));
    only_layer_checks(&f);
    assert!(f[0].detail.contains("mm2 loaded context 1 under ASID 0x10, which mm1's tracker holds"), "{}", f[0].detail);
    // The chip-level view agrees: both address spaces issued under the ASID.
    assert!(f.iter().any(|f| f.check == Check::Ownership), "{f:?}");
}

//! From a failure to its waveform: `regress --waves-on-fail --junit` over seeds of a planted
//! bug writes one JUnit testcase per seed and, for every failed seed, an FST (re-run on the RTL)
//! and a save file whose first named marker sits on the failing cycle — read back with wellen
//! through the harness's `cycle` counter — and whose first view shows that marker.

use std::path::{Path, PathBuf};

use gru_cosim::mutants;
use gru_cosim::regress::{regress, RegressArgs, Seeds};
use gru_cosim::run_cmd::RunArgs;
use gru_cosim::system::HwKind;
use gru_cosim::waves::gtkw;

/// Marker A of a save file: (name, time).
fn marker_a(save: &str) -> (String, u64) {
    let star = save.lines().find(|l| l.starts_with('*')).expect("zoom/marker line");
    let time: i64 = star[1..].split_whitespace().nth(2).expect("marker A").parse().expect("time");
    let name = save.lines().find_map(|l| l.strip_prefix("[markername] A")).expect("marker A named");
    (name.to_owned(), u64::try_from(time).expect("marker A set"))
}

/// The value of the trace-only cycle counter at `time`.
fn cycle_at(dump: &Path, time: u64) -> u64 {
    let mut w = wellen::simple::read(dump).expect("read the dump");
    let var = w.hierarchy().lookup_var(&["TOP", "gru_chiplet", "trace_cycle"], "cycle").expect("cycle counter in the dump");
    let sig = w.hierarchy()[var].signal_ref();
    w.load_signals(&[sig]);
    let idx = w.time_table().iter().rposition(|&t| t <= time).expect("time inside the dump");
    let s = w.get_signal(sig).expect("loaded");
    let off = s.get_offset(idx as u32).expect("value known");
    u64::from_str_radix(&s.get_value_at(&off, 0).to_bit_string().expect("bits"), 2).expect("binary")
}

#[test]
fn failed_seeds_get_a_waveform_marked_on_the_failing_cycle() {
    let dir = std::env::temp_dir().join(format!("gru-failure-waves-{}", std::process::id()));
    let mutant = mutants::find("flush_in_range_end").expect("mutant");
    let run = RunArgs { hw: HwKind::Model, mutant: Some(mutant), ..RunArgs::default() };
    let junit: PathBuf = dir.join("j.xml");
    let args = RegressArgs {
        jobs: 2,
        junit: Some(junit.clone()),
        waves_on_fail: true,
        ..RegressArgs::new(Seeds { first: 1, last: 8 }, run, dir.join("results.json"))
    };
    let r = regress(&args).expect("regress");
    assert_eq!(r.total, 8);
    let xml = std::fs::read_to_string(&junit).expect("JUnit file");
    assert_eq!(xml.matches("<testcase ").count(), 8, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), r.failed, "{xml}");
    assert!(r.failed > 0, "the mutant is caught by some seed");
    for s in r.results.iter().filter(|s| !s.passed()) {
        let f = s.failure.as_ref().expect("a failure");
        assert!(xml.contains(&s.replay), "the replay command of seed {} is in the JUnit failure", s.seed);
        let w = s.waves.as_ref().expect("waves on fail");
        assert!(w.error.is_none(), "seed {}: {:?}", s.seed, w.error);
        assert!(w.dump.contains(&format!("seed{}-flush_in_range_end-fail{}", s.seed, f.cycle)), "named by seed, mutant, cycle: {}", w.dump);
        let save = std::fs::read_to_string(&w.save).expect("save file");
        let (name, time) = marker_a(&save);
        assert!(name.starts_with("FAIL "), "marker A names the failure: {name}");
        assert_eq!(cycle_at(Path::new(&w.dump), time), f.cycle, "seed {}: marker A on the failing cycle", s.seed);
        for pixels in [600.0, gtkw::VIEW_PIXELS] {
            let (a, b) = gtkw::visible_range(&save, pixels).expect("view");
            assert!((a..=b).contains(&time), "seed {}: {pixels} px show {a}..{b}, the failure is at {time}", s.seed);
        }
        assert!(std::fs::read_to_string(&w.surfer).expect("surfer file").contains("marker_set_at"), "Surfer markers");
        for p in [&w.dump, &w.save, &w.surfer] {
            let _ = std::fs::remove_file(p);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

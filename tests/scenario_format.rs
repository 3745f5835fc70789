//! The scenario format's run-level behaviour: `repeat` expands, command-line settings override
//! the file's and the printed replay line reproduces the run exactly, options that do not apply
//! to a scenario are refused by name.

use std::process::Command;

use gru_cosim::run_cmd::{execute, RunArgs};
use gru_cosim::scenario::{Overrides, Scenario, Step};
use gru_cosim::system::HwKind;
use gru_driver::notifier::Era;

const HEAD: &str = "description = \"d\"\n[[process]]\nname = \"a\"\npages = 2\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 0\n";

fn temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gru-scenario-format-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn repeat_expands_in_place_with_the_lines_of_its_steps() {
    let text = format!(
        "{HEAD}steps = [\n  {{ op = \"cpu_store\", page = 0, value = 1 }},\n  {{ repeat = 3, steps = [\n    {{ op = \"gru_load\", page = 0 }},\n    {{ repeat = 2, steps = [{{ op = \"gru_store\", page = 1, value = 2 }}] }},\n  ] }},\n  {{ op = \"cpu_load\", page = 1, expect = {{ value = 2 }} }},\n]\n"
    );
    let sc = Scenario::parse("r.toml", &text).expect("parses");
    let steps = &sc.threads[0].steps;
    let ops: Vec<&str> = steps.iter().map(|s| s.step.op()).collect();
    let body = ["gru_load", "gru_store", "gru_store"];
    let want: Vec<&str> = std::iter::once("cpu_store").chain(body.iter().copied().cycle().take(9)).chain(["cpu_load"]).collect();
    assert_eq!(ops, want);
    let lines: Vec<usize> = steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [10, 12, 13, 13, 12, 13, 13, 12, 13, 13, 15]);
    assert_eq!(steps.iter().map(|s| s.index).collect::<Vec<_>>(), (1..=11).collect::<Vec<_>>());
    assert_eq!(steps[10].step, Step::CpuLoad { page: 1, word: 0 });
    assert_eq!(steps[10].expect.as_ref().and_then(|e| e.value), Some(2));
}

#[test]
fn a_repeated_storm_runs_and_passes() {
    // 200 GRU store/load pairs on two pages while a CPU thread munmaps and remaps nothing: every
    // expectation (each load reads what the same thread stored) holds.
    let text = format!(
        "{HEAD}steps = [{{ repeat = 100, steps = [\n  {{ op = \"gru_store\", page = 0, value = 0x5 }},\n  {{ op = \"gru_load\", page = 0, expect = {{ value = 0x5 }} }},\n  {{ op = \"gru_store\", page = 1, value = 0x6 }},\n  {{ op = \"gru_load\", page = 1, expect = {{ value = 0x6 }} }},\n] }}]\n"
    );
    let path = temp("storm.toml", &text);
    let args = RunArgs { workload: path.display().to_string(), hw: HwKind::Model, ..RunArgs::default() };
    let out = execute(&args, false).expect("runs");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
}

#[test]
fn overrides_replace_the_file_settings_and_are_checked_again() {
    let sc = Scenario::parse("o.toml", &format!("chiplets = 2\ncpus = 3\n{HEAD}steps = []\n")).unwrap();
    let o = sc.clone().with_overrides(Overrides { era: Some(Era::Classic), chiplets: Some(4), cpus: Some(8) }).unwrap();
    let cfg = o.system_config(1, String::new());
    assert_eq!((cfg.era, cfg.chiplets, cfg.cpus), (Era::Classic, 4, 8));
    let text = "description = \"d\"\n[[process]]\nname = \"a\"\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 1\n";
    let sc = Scenario::parse("o.toml", &format!("chiplets = 2\n{text}")).unwrap();
    let e = sc.with_overrides(Overrides { chiplets: Some(1), ..Overrides::default() }).unwrap_err().to_string();
    assert!(e.contains("o.toml: line 8") && e.contains("thread \"t\": chiplet = 1 but --chiplets 1 gives chiplets 0..1"), "{e}");
    let sc = Scenario::parse("o.toml", &format!("{HEAD}steps = []\n")).unwrap();
    let e = sc.with_overrides(Overrides { chiplets: Some(17), ..Overrides::default() }).unwrap_err().to_string();
    assert!(e.starts_with("o.toml: --chiplets 17: must be 1..=16 (the supported maximum"), "{e}");
}

#[test]
fn accesses_is_refused_with_a_scenario() {
    let args = RunArgs { workload: "munmap".into(), hw: HwKind::Model, accesses: Some(10), ..RunArgs::default() };
    let e = execute(&args, false).unwrap_err().to_string();
    assert!(e.starts_with("--accesses:") && e.contains("munmap is a scenario"), "{e}");
}

/// The replay line a run printed, from its stdout.
fn replay_line(stdout: &str) -> String {
    stdout.lines().find_map(|l| l.strip_prefix("replay: ")).unwrap_or_else(|| panic!("no replay line in:\n{stdout}")).to_owned()
}

#[test]
fn flags_apply_to_scenarios_and_the_replay_line_reproduces_the_run() {
    // A scenario whose last step expects the wrong value, so that the run fails and prints its
    // replay line; run with flags that differ from the file's (1 chiplet, 4 CPUs, modern).
    let text = format!(
        "{HEAD}steps = [\n  {{ op = \"gru_store\", page = 0, value = 0x5 }},\n  {{ op = \"munmap\", page = 1 }},\n  {{ op = \"gru_load\", page = 0, expect = {{ value = 0x6 }} }},\n]\n"
    );
    // Upper case in the file name: the replay line must keep the path as it is.
    let path = temp("Replayed.toml", &text);
    let (a, b) = (path.with_extension("a.jsonl"), path.with_extension("b.jsonl"));
    let bin = env!("CARGO_BIN_EXE_gru-cosim");
    let first = Command::new(bin)
        .args(["run", &path.display().to_string(), "--hw", "model", "--era", "classic", "--chiplets", "3", "--cpus", "2", "--seed", "7"])
        .args(["--waves", "none", "--json", &a.display().to_string()])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("on Model: 3 chiplets, 2 CPUs, classic era"), "{stdout}");
    assert!(stdout.contains("FAIL [scenario expectation]") && stdout.contains("expected value 0x6, got status ok cause 0 value 0x5"), "{stdout}");
    let line = replay_line(&stdout);
    assert!(line.contains("--era classic --chiplets 3 --cpus 2") && !line.contains("--accesses"), "{line}");
    let again = Command::new(bin).args(["replay", &format!("{line} --json {}", b.display())]).output().expect("replays");
    let stdout2 = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{stdout2}");
    assert_eq!(replay_line(&stdout2), line);
    let (ta, tb) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
    assert!(ta.lines().count() > 20, "{ta}");
    assert!(ta == tb, "the replayed run's trace differs");
    // The file's own settings, for contrast: another trace.
    let plain = Command::new(bin)
        .args(["run", &path.display().to_string(), "--hw", "model", "--seed", "7", "--waves", "none", "--json", &b.display().to_string()])
        .output()
        .expect("runs");
    let stdout3 = String::from_utf8_lossy(&plain.stdout);
    assert!(stdout3.contains("on Model: 1 chiplets, 4 CPUs, modern era"), "{stdout3}");
    assert!(replay_line(&stdout3).contains("--era modern --chiplets 1 --cpus 4"), "{stdout3}");
    assert_ne!(std::fs::read_to_string(&b).unwrap(), ta);
}

#[test]
fn mangled_golden_files_never_panic() {
    // Every integer of every golden scenario replaced by extremes, and every line dropped in
    // turn: each variant parses or is refused with an error, never a panic.
    let dir = gru_cosim::scenario::scenario_dir();
    let extremes = ["0", "-1", "255", "256", "9223372036854775807", "18446744073709551615", "1e400", "\"x\""];
    let mut variants = 0;
    for name in gru_cosim::scenario::scenario_names() {
        let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
        let bytes = text.as_bytes();
        let mut starts = Vec::new();
        for i in 0..bytes.len() {
            if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
                starts.push(i);
            }
        }
        for &i in &starts {
            let end = (i..bytes.len()).find(|&j| !bytes[j].is_ascii_alphanumeric()).unwrap_or(bytes.len());
            for x in extremes {
                let t = format!("{}{x}{}", &text[..i], &text[end..]);
                let _ = Scenario::parse("m.toml", &t);
                variants += 1;
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        for k in 0..lines.len() {
            let t: Vec<&str> = lines.iter().enumerate().filter(|&(j, _)| j != k).map(|(_, l)| *l).collect();
            let _ = Scenario::parse("m.toml", &t.join("\n"));
            variants += 1;
        }
    }
    assert!(variants > 1000, "{variants}");
    // Nested repeat blocks: a few levels are fine; toml refuses deep nesting (its recursion
    // limit) with an error, not a stack overflow.
    let nest = |levels: usize| {
        let mut steps = "{ op = \"cpu_load\", page = 0 }".to_owned();
        for _ in 0..levels {
            steps = format!("{{ repeat = 2, steps = [{steps}] }}");
        }
        Scenario::parse("deep.toml", &format!("{HEAD}steps = [{steps}]\n"))
    };
    assert_eq!(nest(8).expect("8 levels").threads[0].steps.len(), 256);
    let e = nest(5000).unwrap_err().to_string();
    assert!(e.contains("deep.toml") && e.contains("recursion"), "{e}");
}

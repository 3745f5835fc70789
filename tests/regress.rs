//! The regression anywhere: the shard-and-merge recipe of docs/REGRESSION.md, run as written
//! (shards 1/3, 2/3, 3/3 of a few model seeds, merged) gives the unsharded run's results; and the
//! command line's small promises (shards from 1, output paths checked before the run, replay
//! split like a shell with later options winning, one `error:`, quiet broken pipes).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use gru_cosim::regress::{read_results, RegressResults};

const BIN: &str = env!("CARGO_BIN_EXE_gru-cosim");

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gru-regress-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The shell block after `<!-- tested: NAME -->` in docs/REGRESSION.md.
fn recipe(name: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REGRESSION.md")).expect("docs/REGRESSION.md");
    let after = doc.split(&format!("<!-- tested: {name} -->")).nth(1).unwrap_or_else(|| panic!("no tested block {name}"));
    let block = after.split("```sh\n").nth(1).expect("a sh block");
    block.split("```").next().expect("closed").to_owned()
}

/// Run `script` with bash in `dir`, gru-cosim on PATH.
fn sh(dir: &Path, script: &str, env: &[(&str, &str)]) {
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash").args(["-euo", "pipefail", "-c", script]).current_dir(dir).env("PATH", path).envs(env.iter().copied()).output().expect("bash");
    assert!(out.status.success(), "{script}\nstdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Results without the measured wall times.
fn untimed(mut r: RegressResults) -> RegressResults {
    for s in &mut r.results {
        s.wall_s = 0.0;
    }
    r
}

#[test]
fn documented_shards_merge_into_the_unsharded_run() {
    let dir = temp("shards");
    for i in ["1", "2", "3"] {
        sh(&dir, &recipe("shard"), &[("SEEDS", "1..4"), ("N", "3"), ("I", i)]);
    }
    sh(&dir, &recipe("merge"), &[]);
    sh(&dir, "gru-cosim regress --seeds 1..4 --hw model --jobs 2 --out all.json --junit all.xml || true", &[]);
    let merged = read_results(&dir.join("results/merged.json")).expect("merged");
    let all = read_results(&dir.join("all.json")).expect("unsharded");
    assert_eq!(merged.total, 4);
    assert_eq!(merged.results.iter().map(|r| r.seed).collect::<Vec<_>>(), (1..=4).collect::<Vec<_>>());
    assert!(merged.results.iter().all(|r| r.cycles > 0), "cycles recorded for every seed");
    assert_eq!(untimed(merged), untimed(all), "merged shards = unsharded run");
    let xml = std::fs::read_to_string(dir.join("results/merged.xml")).expect("merged JUnit");
    assert_eq!(xml.matches("<testcase ").count(), 4);
    let shard1 = read_results(&dir.join("results/shard-1.json")).expect("shard 1");
    assert_eq!((shard1.shard.as_str(), shard1.results.iter().map(|r| r.seed).collect::<Vec<_>>()), ("1/3", vec![1, 4]));
    // A missing shard is refused.
    let out = Command::new(BIN).args(["merge", "results/shard-1.json", "results/shard-2.json"]).current_dir(&dir).output().expect("merge");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing [3]"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

fn gru(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("gru-cosim");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn shards_count_from_one() {
    let (code, _, err) = gru(&["regress", "--seeds", "1..3", "--shard", "0/3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("count from 1"), "{err}");
}

#[test]
fn unwritable_outputs_fail_before_the_run() {
    let t0 = Instant::now();
    let (code, _, err) = gru(&["regress", "--seeds", "1..200", "--hw", "model", "--out", "/proc/no/such/dir/r.json"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/proc/no/such/dir/r.json"), "{err}");
    let (code, _, err) = gru(&["run", "default", "--hw", "model", "--json", "/proc/no/such/dir/t.jsonl"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("t.jsonl"), "{err}");
    assert!(t0.elapsed().as_secs() < 10, "refused before running: {:?}", t0.elapsed());
}

#[test]
fn replay_splits_like_a_shell_and_later_options_win() {
    // The printed command with --hw appended: the last --hw wins.
    let (code, out, err) = gru(&["replay", "gru-cosim run default --seed 2 --hw rtl --accesses 300 --hw model"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("on Model") && out.contains("PASS"), "{out}");
    // Quoted words stay whole.
    let (code, _, err) = gru(&["replay", "gru-cosim run 'no such file.toml' --hw model"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("\"no such file.toml\""), "{err}");
    // One `error:`, not two.
    let (code, _, err) = gru(&["replay", "gru-cosim run"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("error: ") && !err.contains("error: error:"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(BIN).args(["list"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "no panic exit");
}

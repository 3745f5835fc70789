//! Verilates rtl/ twice (an FST-traced and a VCD-traced model: Verilator 5.006 supports one trace
//! format per model), compiles both models and the cxx harness at -O3 without debug info in every
//! profile, and links them before the runtime from `verilated-rt`.
//!
//! `GRU_RTL_DEFINES` (space-separated `NAME` or `NAME=VALUE`) adds Verilog defines, for RTL
//! mutants and fault injection.
use std::path::{Path, PathBuf};
use std::process::Command;

const VARIANTS: [(&str, &str); 2] = [("fst", "--trace-fst"), ("vcd", "--trace")];

/// The generated files to compile, read from `V<prefix>_classes.mk` because Verilator 5 names
/// them with hashes.
fn model_sources(mdir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mk = mdir.join(format!("{prefix}_classes.mk"));
    let text = std::fs::read_to_string(&mk).unwrap_or_else(|e| panic!("reading {}: {e}", mk.display()));
    let mut files = Vec::new();
    let mut in_list = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("VM_") {
            let name = rest.split_whitespace().next().unwrap_or("");
            in_list = matches!(name, "CLASSES_FAST" | "CLASSES_SLOW" | "SUPPORT_FAST" | "SUPPORT_SLOW");
            continue;
        }
        if in_list {
            let f = t.trim_end_matches('\\').trim();
            if f.is_empty() {
                in_list = false;
            } else {
                files.push(mdir.join(format!("{f}.cpp")));
            }
        }
    }
    files
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let rtl = manifest.join("../rtl");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = PathBuf::from(
        std::env::var("DEP_VERILATED_ROOT").expect("verilated-rt exports DEP_VERILATED_ROOT"),
    );
    let inc = root.join("include");

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&rtl)
        .unwrap_or_else(|e| panic!("reading {}: {e}", rtl.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("v" | "vh")))
        .collect();
    sources.sort();
    println!("cargo:rerun-if-changed={}", rtl.display());
    for s in &sources {
        println!("cargo:rerun-if-changed={}", s.display());
    }
    for f in ["csrc/harness.h", "csrc/harness.cpp", "src/ports.rs", "src/rtl.rs"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=GRU_RTL_DEFINES");
    let defines = std::env::var("GRU_RTL_DEFINES").unwrap_or_default();

    let mut bridge = cxx_build::bridges(["src/ports.rs", "src/rtl.rs"]);
    bridge
        .file("csrc/harness.cpp")
        .std("c++17")
        .opt_level(3)
        .debug(false)
        .include(&inc)
        .include(inc.join("vltstd"))
        .define("VM_TRACE", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-fcf-protection=none")
        .warnings(false);

    for (variant, trace_flag) in VARIANTS {
        let prefix = format!("Vgru_{variant}");
        let mdir = out.join(variant);
        let _ = std::fs::remove_dir_all(&mdir);
        let mut cmd = Command::new("verilator");
        cmd.args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert"])
            .arg(trace_flag)
            .args(["--prefix", &prefix, "--top-module", "gru_chiplet", "-Wno-fatal"])
            .arg("-Mdir")
            .arg(&mdir)
            .arg(format!("-I{}", rtl.display()));
        for d in defines.split_whitespace() {
            cmd.arg(format!("-D{d}"));
        }
        cmd.args(sources.iter().filter(|p| p.extension().is_some_and(|x| x == "v")));
        let status = cmd.status().unwrap_or_else(|e| {
            panic!("running verilator: {e}; install it with `make deps` (Debian: apt-get install verilator zlib1g-dev)")
        });
        assert!(status.success(), "verilator failed on {}", rtl.display());
        bridge.include(&mdir);
        for f in model_sources(&mdir, &prefix) {
            bridge.file(f);
        }
    }
    bridge.compile("gru_rtl");
}

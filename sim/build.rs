//! Verilates rtl/ into several model variants and compiles them, with the cxx harness, into one
//! static library `gru_rtl`, linked before the runtime from `verilated-rt`:
//!
//! - `Vgru_fst` (`--trace-fst`) and `Vgru_vcd` (`--trace`): the RTL as designed. Verilator 5.006
//!   supports one trace format per model, hence two. Compiled at -O3 without debug info in every
//!   profile (DESIGN §2: `cc` would use -O0 in debug builds, 7x slower models).
//! - `Vgru_variable` (`--trace-fst`): the RTL with the variable purge timing (`-G` parameters
//!   `VARIABLE_TIMING`, docs/MICROARCH.md §7), selectable at run time (`Rtl::build`);
//!   compiled like a mutant variant. Not in a coverage build.
//! - `Vgru_m_<name>` (`--trace-fst`) for every `GRU_MUTANT_<NAME>` define that rtl/ tests with
//!   `` `ifdef `` / `` `ifndef `` / `` `elsif ``: the RTL mutants and fault injections,
//!   selectable at run time (`Rtl::with_mutant`). They run directed tests and seeded
//!   regressions, not benchmarks: their fast-path code is compiled at -O1 and their run-once
//!   code at -O0, about 40% of a main variant's compile time; they run ~25% slower.
//!
//! Every model is compiled as two translation units that `#include` Verilator's split files:
//! its fast-path files, and its "slow" ones (construction, settle, trace declarations: code that
//! runs once). One unit parses the Verilator headers once instead of once per file, which saves
//! about a third of the CPU time of a file-by-file build, and lets the compiler inline across
//! the split (the main model runs no slower, rather faster). Verilator runs and compiles are
//! spread over `NUM_JOBS` threads (cargo's job count).
//! The generated `gru_variants.h` gives the harness the mutant models (`GRU_MUTANT_VARIANTS`),
//! and `rtl_variants.rs` gives `rtl.rs` their defines.
//!
//! Every variant is verilated with `csrc/introspect.vlt`, which makes the state registers
//! `public_flat_rd`: they stay members of the model's root class under fixed names, and the
//! harness copies them out without an eval() (`Harness::state`). The harness includes each
//! variant's root-class header for that.
//!
//! `GRU_RTL_DEFINES` (space-separated `NAME` or `NAME=VALUE`) adds Verilog defines to every
//! variant.
//!
//! `GRU_RTL_COVERAGE=1` makes a coverage build (`make coverage`, in its own
//! `CARGO_TARGET_DIR`, so the normal build never carries the counters): the two main variants
//! are verilated with `--coverage-line --coverage-toggle` and compiled at `MUTANT_OPT` (the
//! coverage stimulus is short; the build time is what counts), `verilated_cov.cpp` is linked,
//! the harness writes each model's counters when it is dropped or at process exit
//! (`csrc/harness.cpp`), and no mutant variant is built (`BUILT_MUTANT_DEFINES` is empty).
//!
//! Every variant also reads `rtl_tb/gru_trace_cycle.sv`, which binds a trace-only cycle counter
//! into `gru_chiplet` (`TOP.gru_chiplet.trace_cycle.cycle`, the kernel cycle number); rtl/ is
//! unchanged and Yosys/Icarus never see it.
//!
//! **Documentation builds skip Verilator.** `cargo doc` runs build scripts like any build, and a
//! build script is not told why it runs. This one looks at the cargo process that started it
//! (`/proc/<ppid>/cmdline`, up a few parents): under `cargo doc` or `cargo rustdoc` — or with
//! `GRU_SIM_SKIP_VERILATOR=1` or `DOCS_RS` set — it only writes the generated Rust file and
//! links nothing (rustdoc never links). It then names a file that does not exist as an input,
//! so the next build of any kind runs this script again and builds the models.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Optimisation levels (fast-path code, run-once code) of the two main variants.
const MAIN_OPT: [u32; 2] = [3, 3];
/// Optimisation levels (fast-path code, run-once code) of the mutant variants.
const MUTANT_OPT: [u32; 2] = [1, 0];

/// One Verilated model to build.
struct Variant {
    /// `--prefix`, also the C++ class name.
    prefix: String,
    /// Verilator's output directory.
    mdir: PathBuf,
    trace_flag: &'static str,
    /// Extra `-D` defines (the mutant's), on top of `GRU_RTL_DEFINES`.
    define: Option<String>,
    /// A mutant (or fault-injection) variant, compiled at `MUTANT_OPT`; else at `MAIN_OPT`.
    mutant: bool,
    /// Verilog parameters of `gru_chiplet` set with `-G` (a timing variant's).
    params: &'static [(&'static str, u32)],
}

/// The purge timing of the `Vgru_variable` variant (`-G` parameters of `gru_chiplet`,
/// docs/MICROARCH.md §7); `PurgeTiming::VARIABLE` in the reference model must equal it (a test
/// in rtl.rs compares them).
const VARIABLE_TIMING: &[(&str, u32)] =
    &[("PURGE_ENGINES", 4), ("PURGE_BASE", 250), ("PURGE_ENTRY", 4), ("PURGE_TAIL", 128)];

/// The generated files to compile, read from `V<prefix>_classes.mk` because Verilator 5 names
/// them with hashes; `true` marks the "slow" ones (construction, initial settle, trace
/// declarations: code that runs once).
fn model_sources(mdir: &Path, prefix: &str) -> Vec<(PathBuf, bool)> {
    let mk = mdir.join(format!("{prefix}_classes.mk"));
    let text = std::fs::read_to_string(&mk).unwrap_or_else(|e| panic!("reading {}: {e}", mk.display()));
    let mut files = Vec::new();
    let mut in_list = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("VM_") {
            in_list = match rest.split_whitespace().next().unwrap_or("") {
                "CLASSES_FAST" | "SUPPORT_FAST" => Some(false),
                "CLASSES_SLOW" | "SUPPORT_SLOW" => Some(true),
                _ => None,
            };
            continue;
        }
        if let Some(slow) = in_list {
            let f = t.trim_end_matches('\\').trim();
            if f.is_empty() {
                in_list = None;
            } else {
                files.push((mdir.join(format!("{f}.cpp")), slow));
            }
        }
    }
    files
}

/// Every `GRU_MUTANT_<NAME>` that an `` `ifdef ``, `` `ifndef `` or `` `elsif `` in `sources`
/// tests, sorted.
fn mutant_defines(sources: &[PathBuf]) -> BTreeSet<String> {
    let mut defs = BTreeSet::new();
    for s in sources {
        let text = std::fs::read_to_string(s).unwrap_or_else(|e| panic!("reading {}: {e}", s.display()));
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if !matches!(words.next(), Some("`ifdef" | "`ifndef" | "`elsif")) {
                continue;
            }
            if let Some(d) = words.next().filter(|d| d.starts_with("GRU_MUTANT_")) {
                assert!(
                    d.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                    "{}: mutant define {d} must be GRU_MUTANT_ followed by [A-Z0-9_]",
                    s.display()
                );
                defs.insert(d.to_string());
            }
        }
    }
    defs
}

/// Run `f` on every item on `jobs` threads, biggest first as `items` is ordered; results in
/// item order. A panic in `f` fails the build with its message.
fn par_map<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every item ran")).collect()
}

/// Why Verilator is skipped, if it is: a documentation build (see the module comment).
fn docs_only() -> Option<String> {
    if std::env::var("GRU_SIM_SKIP_VERILATOR").is_ok_and(|v| v == "1") {
        return Some("GRU_SIM_SKIP_VERILATOR=1".into());
    }
    if std::env::var_os("DOCS_RS").is_some() {
        return Some("DOCS_RS is set".into());
    }
    let sub = cargo_subcommand()?;
    matches!(sub.as_str(), "doc" | "rustdoc").then(|| format!("cargo {sub}"))
}

/// The subcommand of the nearest cargo process among this script's parents (Linux only).
fn cargo_subcommand() -> Option<String> {
    let mut pid = std::process::id();
    for _ in 0..6 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        pid = status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().parse().ok()?;
        if pid <= 1 {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let is_cargo = args.first().and_then(|a| Path::new(a).file_name()).is_some_and(|n| n == "cargo" || n == "cargo.exe");
        if is_cargo {
            return subcommand_of(&args[1..]);
        }
    }
    None
}

/// The subcommand in cargo's arguments: the first word that is not a global option, a
/// global option's value or a `+toolchain`.
fn subcommand_of(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "--color" | "--config" | "-Z" | "-C" | "--explain") {
            it.next();
        } else if !a.starts_with('-') && !a.starts_with('+') {
            return Some(a.clone());
        }
    }
    None
}

/// Verilator's line and toggle coverage flags, for a coverage build.
const COVERAGE_FLAGS: &[&str] = &["--coverage-line", "--coverage-toggle"];

fn verilate(v: &Variant, rtl: &Path, config: &Path, sources: &[PathBuf], defines: &str, coverage: bool) {
    let _ = std::fs::remove_dir_all(&v.mdir);
    let mut cmd = Command::new("verilator");
    cmd.args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert"])
        .args(if coverage { COVERAGE_FLAGS } else { &[] })
        .arg(v.trace_flag)
        .args(["--prefix", &v.prefix, "--top-module", "gru_chiplet", "-Wno-fatal"])
        .arg("-Mdir")
        .arg(&v.mdir)
        .arg(format!("-I{}", rtl.display()));
    for d in defines.split_whitespace().chain(v.define.as_deref()) {
        cmd.arg(format!("-D{d}"));
    }
    for (name, value) in v.params {
        cmd.arg(format!("-G{name}={value}"));
    }
    cmd.arg(config);
    cmd.args(sources.iter().filter(|p| p.extension().is_some_and(|x| x == "v")));
    // The trace-only cycle counter, bound into gru_chiplet (not part of rtl/).
    cmd.arg(rtl.join("../sim/rtl_tb/gru_trace_cycle.sv"));
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("running verilator: {e}; install it with `make deps` (Debian: apt-get install verilator zlib1g-dev)")
    });
    assert!(
        out.status.success(),
        "verilator failed on {} for {}:\n{}",
        rtl.display(),
        v.prefix,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one compile job builds.
enum Job<'a> {
    /// The cxx bridges and the harness (their builder already holds the files).
    Bridge(&'a cc::Build),
    /// One translation unit at optimisation level `opt`; `cost` estimates its compile time.
    Unit { file: PathBuf, opt: u32, cost: u64 },
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let rtl = manifest.join("../rtl");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = PathBuf::from(
        std::env::var("DEP_VERILATED_ROOT").expect("verilated-rt exports DEP_VERILATED_ROOT"),
    );
    let inc = root.join("include");
    let jobs = std::env::var("NUM_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

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
    // Marks the state registers public, so that the harness reads them without an eval.
    let config = manifest.join("csrc/introspect.vlt");
    for f in ["csrc/harness.h", "csrc/harness.cpp", "csrc/introspect.vlt", "src/ports.rs", "src/rtl.rs", "rtl_tb/gru_trace_cycle.sv"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=GRU_RTL_DEFINES");
    println!("cargo:rerun-if-env-changed=GRU_SIM_SKIP_VERILATOR");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    println!("cargo:rerun-if-env-changed=GRU_RTL_COVERAGE");
    let defines = std::env::var("GRU_RTL_DEFINES").unwrap_or_default();
    let coverage = std::env::var("GRU_RTL_COVERAGE").is_ok_and(|v| v == "1");
    // A coverage build measures the RTL as designed: no mutant variants.
    let mutants = if coverage { BTreeSet::new() } else { mutant_defines(&sources) };
    let rs = format!(
        "/// Verilog defines with a model variant in this build (generated by build.rs from rtl/).\n\
         pub(crate) const BUILT_MUTANT_DEFINES: &[&str] = &{:?};\n\
         /// The `-G` parameters of the `Vgru_variable` variant (none in a coverage build).\n\
         pub(crate) const BUILT_VARIABLE_TIMING: &[(&str, u32)] = &{:?};\n",
        mutants.iter().collect::<Vec<_>>(),
        if coverage { &[][..] } else { VARIABLE_TIMING }
    );
    std::fs::write(out.join("rtl_variants.rs"), rs).unwrap();
    if let Some(why) = docs_only() {
        // Nothing links in a documentation build; a missing input makes the next build rerun us.
        println!("cargo:rerun-if-changed={}", out.join("verilator-skipped-rerun-to-build").display());
        eprintln!("gru-sim: {why}: Verilator skipped, the RTL models are not built (documentation only)");
        return;
    }

    // ------------------------------------------------------------ variants
    let mut variants = vec![
        Variant { prefix: "Vgru_fst".into(), mdir: out.join("fst"), trace_flag: "--trace-fst", define: None, mutant: false, params: &[] },
        Variant { prefix: "Vgru_vcd".into(), mdir: out.join("vcd"), trace_flag: "--trace", define: None, mutant: false, params: &[] },
    ];
    if !coverage {
        // The variable purge timing: runs workloads and the bench's TGH distribution, not the
        // throughput benchmarks, so it is compiled like a mutant variant.
        variants.push(Variant {
            prefix: "Vgru_variable".into(),
            mdir: out.join("variable"),
            trace_flag: "--trace-fst",
            define: None,
            mutant: true,
            params: VARIABLE_TIMING,
        });
    }
    for d in &mutants {
        let name = d["GRU_MUTANT_".len()..].to_ascii_lowercase();
        variants.push(Variant {
            prefix: format!("Vgru_m_{name}"),
            mdir: out.join(format!("m_{name}")),
            trace_flag: "--trace-fst",
            define: Some(d.clone()),
            mutant: true,
            params: &[],
        });
    }
    par_map(jobs, &variants, |v| verilate(v, &rtl, &config, &sources, &defines, coverage));

    // ------------------------------------------------------------ generated glue
    let mut h = String::from("// Generated by sim/build.rs: every RTL model variant of this build.\n#pragma once\n");
    for v in &variants {
        writeln!(h, "#include \"{0}.h\"\n#include \"{0}___024root.h\"", v.prefix).unwrap();
    }
    h.push_str("\n// X(define, model) for every mutant variant (FST-traced).\n#define GRU_MUTANT_VARIANTS(X)");
    for v in variants.iter().filter(|v| v.define.is_some()) {
        write!(h, " \\\n    X(\"{}\", {})", v.define.as_deref().unwrap(), v.prefix).unwrap();
    }
    h.push_str("\n\n// X(name, model) for every timing variant (FST-traced).\n#define GRU_TIMING_VARIANTS(X)");
    for v in variants.iter().filter(|v| !v.params.is_empty()) {
        write!(h, " \\\n    X(\"{}\", {})", &v.prefix["Vgru_".len()..], v.prefix).unwrap();
    }
    h.push('\n');
    std::fs::write(out.join("gru_variants.h"), h).unwrap();

    // ------------------------------------------------------------ compile
    let mut bridge = cxx_build::bridges(["src/ports.rs", "src/rtl.rs"]);
    bridge.file("csrc/harness.cpp").include(&out);
    let mut base = cc::Build::new();
    base.cpp(true);
    for b in [&mut bridge, &mut base] {
        b.std("c++17")
            .opt_level(MAIN_OPT[0])
            .debug(false)
            .include(&inc)
            .include(inc.join("vltstd"))
            .define("VM_TRACE", "1")
            .define("VM_COVERAGE", if coverage { "1" } else { "0" })
            .define("VM_SC", "0")
            .flag_if_supported("-faligned-new")
            .flag_if_supported("-fcf-protection=none")
            .warnings(false);
        for v in &variants {
            b.include(&v.mdir);
        }
    }

    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut jobs_list = vec![Job::Bridge(&bridge)];
    for v in &variants {
        let files = model_sources(&v.mdir, &v.prefix);
        let opts = if v.mutant || coverage { MUTANT_OPT } else { MAIN_OPT };
        for (slow, kind) in [(false, "fast"), (true, "slow")] {
            let part: Vec<&PathBuf> = files.iter().filter(|f| f.1 == slow).map(|f| &f.0).collect();
            let file = v.mdir.join(format!("{}__all_{kind}.cpp", v.prefix));
            let body: String = part.iter().map(|f| format!("#include \"{}\"\n", f.display())).collect();
            std::fs::write(&file, body).unwrap();
            let opt = opts[usize::from(slow)];
            // Bytes of C++ weighted by optimisation level (about 1:1.5:3 for -O0:-O1:-O3).
            let cost = part.iter().map(|f| size(f)).sum::<u64>() * u64::from(1 + opt);
            jobs_list.push(Job::Unit { file, opt, cost });
        }
    }
    if coverage {
        // The coverage runtime (`VerilatedContext::coveragep`); verilated-rt leaves it out.
        jobs_list.push(Job::Unit { file: inc.join("verilated_cov.cpp"), opt: MAIN_OPT[0], cost: 0 });
    }
    // Longest first, so that the two threads finish together; the bridge first of all (the
    // harness includes every model header and instantiates the harness for each).
    jobs_list.sort_by_key(|j| match j {
        Job::Bridge(_) => 0,
        Job::Unit { cost, .. } => u64::MAX - cost,
    });
    let objects: Vec<PathBuf> = par_map(jobs, &jobs_list, |j| match j {
        Job::Bridge(b) => b.compile_intermediates(),
        Job::Unit { file, opt, .. } => base.clone().opt_level(*opt).file(file).compile_intermediates(),
    })
    .into_iter()
    .flatten()
    .collect();
    base.objects(objects).compile("gru_rtl");
}

//! Compiles the Verilator runtime once, at -O3 without debug info in every profile: `cc` would
//! use -O0 in debug builds and the models would run ~7x slower (DESIGN §2).
use std::path::PathBuf;
use std::process::Command;

fn verilator_root() -> PathBuf {
    if let Ok(root) = std::env::var("VERILATOR_ROOT") {
        return PathBuf::from(root);
    }
    let out = Command::new("verilator").arg("--getenv").arg("VERILATOR_ROOT").output();
    match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => panic!(
            "verilator not found on PATH (needed at build time only): run `make deps` \
             or `apt-get install -y --no-install-recommends verilator zlib1g-dev`"
        ),
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=VERILATOR_ROOT");
    let root = verilator_root();
    let inc = root.join("include");
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .opt_level(3)
        .debug(false)
        .include(&inc)
        .include(inc.join("vltstd"))
        // One runtime serves both model variants (FST and VCD tracing).
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .define("VM_TRACE_VCD", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-unused-variable")
        .flag_if_supported("-Wno-unused-but-set-variable")
        .flag_if_supported("-Wno-class-memaccess")
        .flag_if_supported("-Wno-implicit-fallthrough")
        .warnings(false);
    // verilated_threads.cpp is always needed by Verilator 5 models, even single-threaded ones.
    for f in ["verilated.cpp", "verilated_threads.cpp", "verilated_fst_c.cpp", "verilated_vcd_c.cpp"] {
        b.file(inc.join(f));
    }
    b.compile("verilated");
    for lib in ["stdc++", "z", "pthread", "atomic"] {
        println!("cargo:rustc-link-lib={lib}");
    }
    // Exported to dependents as DEP_VERILATED_ROOT.
    println!("cargo:root={}", root.display());
}

//! Hostile input gets a clear error or a checker verdict; nothing panics or hangs.

use gru_cosim::run_cmd::{execute, RunArgs};
use gru_cosim::check::Check;
use gru_cosim::system::{HwKind, System, SystemConfig};
use gru_cosim::workload::{self, WorkloadConfig};
use gru_driver::gru::hw::{GruHardware, MmioRequest};
use gru_driver::gru::irq_line;
use gru_sim::model::RefModel;
use rand::{Rng, SeedableRng};

/// Run a scenario text on the model; the error or the failures as text.
fn run_scenario(name: &str, text: &str) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!("gru-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let args = RunArgs { workload: path.display().to_string(), hw: HwKind::Model, ..RunArgs::default() };
    execute(&args, false)
        .map(|o| o.failures.iter().map(|f| format!("[{}] {}", f.check, f.detail)).collect())
        .map_err(|e| e.to_string())
}

const HEAD: &str = "description = \"hostile\"\n[[process]]\nname = \"a\"\n";

#[test]
fn wrong_type_names_line_and_field() {
    let e = run_scenario("wrong_type", &format!("{HEAD}pages = \"lots\"\n")).unwrap_err();
    assert!(e.contains("line 4") && e.contains("pages"), "{e}");
}

#[test]
fn unknown_step_lists_its_name() {
    let text = format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [{{ op = \"teleport\" }}]\n");
    let e = run_scenario("unknown_step", &text).unwrap_err();
    assert!(e.contains("teleport"), "{e}");
}

#[test]
fn huge_counts_are_refused_naming_file_line_and_field() {
    // A region larger than the user address space is refused when the file is read.
    let text = format!("{HEAD}pages = 1000000000000\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = []\n");
    let e = run_scenario("huge_region", &text).unwrap_err();
    assert!(e.contains("huge_region.toml: line 4") && e.contains("process \"a\"") && e.contains("pages = 1000000000000"), "{e}");
    // A munmap of 2^40 pages ends beyond the address space: refused at its line.
    let text = format!("{HEAD}pages = 4\n{T}steps = [\n  {{ op = \"cpu_store\", page = 1, value = 3 }},\n  {{ op = \"munmap\", page = 0, pages = 1099511627776 }},\n]\n");
    let e = run_scenario("huge_munmap", &text).unwrap_err();
    assert!(e.contains("huge_munmap.toml: line 11") && e.contains("step 2 (munmap)") && e.contains("pages = 1099511627776"), "{e}");
}

/// A thread `t` of process `a` on chiplet 0, steps to follow.
const T: &str = "[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 0\n";

#[test]
fn a_page_number_that_would_wrap_is_refused() {
    // page * 4096 wrapped silently at 2^52: a munmap "far above" the region unmapped below it.
    for (step, field) in [
        ("{ op = \"munmap\", page = 4503599627370496 }", "page = 4503599627370496"),
        ("{ op = \"gru_load\", page = 34359672831 }", "page = 34359672831"),
        ("{ op = \"cpu_store\", page = 0, word = 512, value = 1 }", "word = 512"),
        ("{ op = \"mremap\", page = 0, to = 18446744073709551615 }", "to = 18446744073709551615"),
        ("{ op = \"madvise\", page = 34359672830, pages = 2, advice = \"free\" }", "pages = 2"),
    ] {
        let e = run_scenario("wrap", &format!("{HEAD}{T}steps = [\n  {step},\n]\n")).unwrap_err();
        assert!(e.contains("wrap.toml: line 9") && e.contains(field), "{step}: {e}");
    }
}

#[test]
fn a_cb_of_another_context_is_refused() {
    // cb = 8 was CBR 8: context 1's first CB, another process's; cb = 255 made the RTL and the
    // model disagree on the CBR and the model run hang.
    for cb in [8, 255] {
        for op in ["gru_load", "gru_issue", "call_os"] {
            let text = format!("{HEAD}{T}steps = [\n  {{ op = \"{op}\", page = 0, cb = {cb} }},\n]\n").replace(", page = 0, cb", if op == "call_os" { ", cb" } else { ", page = 0, cb" });
            let e = run_scenario("cb", &text).unwrap_err();
            assert!(e.contains("cb.toml: line 9") && e.contains(&format!("cb = {cb}: a context has CBs 0..8")), "{op} {cb}: {e}");
        }
    }
}

#[test]
fn more_chiplets_than_supported_are_refused_naming_the_limit() {
    // Interrupts of chiplet 4 and up were once dropped (GRU loads timed out and the run passed);
    // the kernel model now has lines for 16 chiplets, and more are refused.
    let e = run_scenario("chiplets17", &format!("chiplets = 17\n{HEAD}")).unwrap_err();
    assert!(e.contains("chiplets17.toml: line 1") && e.contains("chiplets = 17: must be 1..=16 (the supported maximum"), "{e}");
    let args = RunArgs { chiplets: Some(17), hw: HwKind::Model, ..RunArgs::default() };
    let e = execute(&args, false).unwrap_err().to_string();
    assert!(e.contains("--chiplets: 17: must be 1..=16 (the supported maximum)"), "{e}");
    let args = RunArgs { workload: "munmap".into(), chiplets: Some(17), hw: HwKind::Model, ..RunArgs::default() };
    let e = execute(&args, false).unwrap_err().to_string();
    assert!(e.contains("--chiplets: 17"), "{e}");
    // Fewer chiplets than a thread needs: the thread's line, and where the count came from.
    let text = format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 1\nsteps = []\n");
    let e = run_scenario("chiplet1", &text).unwrap_err();
    assert!(e.contains("chiplet1.toml: line 7") && e.contains("chiplet = 1 but the default chiplets = 1"), "{e}");
}

#[test]
fn cpus_out_of_bounds_are_refused() {
    for n in [0, 65] {
        let e = run_scenario("cpus", &format!("cpus = {n}\n{HEAD}")).unwrap_err();
        assert!(e.contains("cpus.toml: line 1") && e.contains(&format!("cpus = {n}: must be 1..=64")), "{e}");
        let e = execute(&RunArgs { cpus: Some(n), hw: HwKind::Model, ..RunArgs::default() }, false).unwrap_err().to_string();
        assert!(e.contains(&format!("--cpus: {n}")), "{e}");
    }
}

#[test]
fn names_are_defined_once() {
    let two = |kind: &str, extra: &str| format!("description = \"d\"\n[[process]]\nname = \"a\"\n{extra}[[{kind}]]\nname = \"a\"\n");
    let e = run_scenario("dup_process", &two("process", "")).unwrap_err();
    assert!(e.contains("line 5") && e.contains("process name \"a\": already the name of the process at line 3"), "{e}");
    let e = run_scenario("dup_thread", &format!("{HEAD}{T}{T}")).unwrap_err();
    assert!(e.contains("line 9") && e.contains("thread name \"t\": already the name of the thread at line 5"), "{e}");
    let text = format!("{HEAD}{T}steps = [{{ op = \"fork\", child = \"a\" }}]\n");
    let e = run_scenario("dup_child", &text).unwrap_err();
    assert!(e.contains("line 8") && e.contains("fork child \"a\""), "{e}");
    let text = format!("{HEAD}{T}steps = [{{ op = \"signal\", name = \"x\" }}, {{ op = \"signal\", name = \"x\" }}]\n");
    let e = run_scenario("dup_signal", &text).unwrap_err();
    assert!(e.contains("line 8") && e.contains("signal name \"x\": already signalled"), "{e}");
    let text = format!("{HEAD}{T}steps = [{{ op = \"wait\", name = \"never\" }}]\n");
    let e = run_scenario("wait_never", &text).unwrap_err();
    assert!(e.contains("line 8") && e.contains("wait name \"never\": no step signals it"), "{e}");
    let e = run_scenario("no_process", &format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"b\"\n")).unwrap_err();
    assert!(e.contains("no_process.toml: line 6: thread \"t\": process = \"b\": no process \"b\" (known: a)"), "{e}");
}

#[test]
fn gru_steps_need_a_chiplet_and_expect_fields_must_fit_the_step() {
    let text = format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [\n  {{ op = \"gru_load\", page = 0 }},\n]\n");
    let e = run_scenario("no_chiplet", &text).unwrap_err();
    assert!(e.contains("line 8") && e.contains("no GRU context: give it `chiplet = N`"), "{e}");
    for (step, msg) in [
        ("{ op = \"munmap\", page = 0, expect = { value = 1 } }", "expect.value: not an outcome of munmap; it can expect errno"),
        ("{ op = \"sleep\", cycles = 1, expect = { errno = \"EIO\" } }", "expect: this step cannot fail"),
        ("{ op = \"gru_load\", page = 0, expect = { errno = \"EINVAL\", value = 1 } }", "expect.errno: a step that fails gives no value"),
        ("{ op = \"gru_load\", page = 0, expect = { status = \"exception\", value = 1 } }", "expect.value: only a CB that completes"),
        ("{ op = \"gru_load\", page = 0, expect = { cause = 1 } }", "expect.cause: needs status"),
        ("{ op = \"gru_load\", page = 0, expect = { vaule = 1 } }", "unknown field `vaule`"),
        ("{ op = \"munmap\", page = 0, expect = { errno = \"EWHAT\" } }", "unknown variant `EWHAT`"),
    ] {
        let e = run_scenario("expect_fields", &format!("{HEAD}{T}steps = [\n  {step},\n]\n")).unwrap_err();
        assert!(e.contains("line 9") && e.contains(msg), "{step}: {e}");
    }
}

#[test]
fn a_repeat_beyond_the_bound_is_refused_naming_the_field() {
    let text = format!("{HEAD}{T}steps = [\n  {{ repeat = 1000, steps = [\n    {{ repeat = 1000, steps = [{{ op = \"gru_load\", page = 0 }}] }},\n  ] }},\n]\n");
    let e = run_scenario("storm", &text).unwrap_err();
    assert!(e.contains("storm.toml: line 9") && e.contains("repeat = 1000 of 1000 steps") && e.contains("at most 100000 steps"), "{e}");
    let text = format!("{HEAD}{T}steps = [\n  {{ repeat = 0, steps = [] }},\n]\n");
    assert!(run_scenario("storm0", &text).unwrap_err().contains("repeat = 0"));
    let text = format!("{HEAD}{T}steps = [\n  {{ repeat = 2, steps = [], op = \"exit\" }},\n]\n");
    assert!(run_scenario("storm_op", &text).unwrap_err().contains("unknown field `op` in a repeat block"));
}

#[test]
fn a_sleep_longer_than_the_watchdog_is_refused() {
    let text = format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [{{ op = \"sleep\", cycles = 18446744073709551615 }}]\n");
    let e = run_scenario("long_sleep", &text).unwrap_err();
    assert!(e.contains("\"t\"") && e.contains("sleep of 18446744073709551615 cycles; at most 500000"), "{e}");
}

#[test]
fn access_outside_any_vma_ends_in_exception_as_expected() {
    let text = format!(
        "{HEAD}pages = 2\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 0\nsteps = [{{ op = \"gru_load\", page = 100000, expect = {{ status = \"exception\" }} }}, {{ op = \"gru_store\", page = 0, value = 1 }}]\n"
    );
    let failures = run_scenario("outside", &text).expect("runs");
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn an_unexpected_step_error_fails_the_run() {
    // The same access without `expect`: the EXCEPTION fails the run, naming file, line, step.
    let text = format!("{HEAD}pages = 2\n{T}steps = [\n  {{ op = \"gru_store\", page = 0, value = 1 }},\n  {{ op = \"gru_load\", page = 100000 }},\n]\n");
    let failures = run_scenario("unexpected", &text).expect("runs");
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert!(f.starts_with("[scenario expectation]") && f.contains("unexpected.toml:11: thread \"t\" step 2 (gru_load): expected status ok, got status exception cause 1"), "{f}");
    // An mm operation's error: an mprotect of a page outside the region is ENOMEM.
    let text = format!("{HEAD}{T}steps = [\n  {{ op = \"mprotect\", page = 5, prot = \"read\" }},\n]\n");
    let failures = run_scenario("unexpected_mm", &text).expect("runs");
    assert!(failures.len() == 1 && failures[0].contains("step 1 (mprotect): failed with errno ENOMEM and no `expect` says so"), "{failures:?}");
    let text = text.replace("prot = \"read\" }", "prot = \"read\", expect = { errno = \"ENOMEM\" } }");
    assert_eq!(run_scenario("expected_mm", &text), Ok(vec![]));
}

#[test]
fn a_wrong_expectation_fails_the_run() {
    for (step, why) in [
        ("{ op = \"gru_load\", page = 0, expect = { value = 0x5 } }", "step 2 (gru_load): expected value 0x5, got status ok cause 0 value 0x7"),
        ("{ op = \"gru_load\", page = 0, expect = { status = \"exception\" } }", "expected status exception, got status ok"),
        ("{ op = \"cpu_load\", page = 0, expect = { value = 0x8 } }", "step 2 (cpu_load): expected value 0x8, got value 0x7"),
        ("{ op = \"munmap\", page = 0, expect = { errno = \"EINVAL\" } }", "step 2 (munmap): expected errno EINVAL, got success"),
        ("{ op = \"reclaim_age\", page = 0, expect = { young = false } }", "expected young false, got young true"),
    ] {
        let text = format!("{HEAD}{T}steps = [\n  {{ op = \"cpu_store\", page = 0, value = 7 }},\n  {step},\n]\n");
        let failures = run_scenario("wrong_expect", &text).expect("runs");
        assert!(failures.len() == 1 && failures[0].contains("wrong_expect.toml:10") && failures[0].contains(why), "{step}: {failures:?}");
    }
}

#[test]
fn rogue_mmio_gets_err_responses_and_the_chiplet_still_works() {
    // A rogue driver writes random lines to random handle-space offsets; every access is
    // answered (err or not) and afterwards the real driver still maps and loads a page.
    let sys = System::new(SystemConfig { chiplets: 1, ..SystemConfig::default() }, || RefModel::new(Default::default())).unwrap();
    let mm = sys.create_mm();
    let (hw, gru) = (sys.hw.clone(), sys.gru.clone());
    let answered = std::rc::Rc::new(std::cell::Cell::new((0u32, 0u32)));
    let a = answered.clone();
    sys.spawn("rogue", move |ctx| async move {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            let mut req = MmioRequest::read(rng.gen_range(0..0x4_0000u32) & !0x3f);
            if rng.gen_bool(0.7) {
                req.write = true;
                req.dwen = rng.gen();
                req.data = rng.gen();
            }
            let t = hw.mmio_submit(0, req).expect("submit");
            let rsp = loop {
                if let Some(r) = hw.mmio_poll(t) {
                    break r;
                }
                ctx.sleep(1).await;
            };
            let (n, err) = a.get();
            a.set((n + 1, err + u32::from(rsp.err)));
        }
        // Put the chiplet back the way a fresh driver would find it: the rogue may have
        // left contexts or handles busy, which the real driver must report, not hang on.
        let va = gru_driver::mm::ops::mmap(&ctx, &mm, None, 4096, gru_driver::mm::Prot::ReadWrite).await.unwrap();
        gru_driver::mm::cpu_store(&ctx, &mm, va, 9).await.unwrap();
        if let Ok(gts) = gru.alloc_context(&ctx, &mm, 0).await {
            let _ = gru.cb_access(&ctx, &gts, 0, va, false, 0).await;
            let _ = gru.free_context(&ctx, gts).await;
        }
    });
    let report = sys.run(50_000_000);
    let (n, err) = answered.get();
    assert_eq!(n, 300, "every rogue access answered");
    assert!(err > 0, "some rogue accesses must be refused");
    assert!(report.kernel_error.is_none(), "{:?}", report.kernel_error);
}

#[test]
fn spurious_interrupts_are_counted_and_change_nothing() {
    // A rogue device raises every GRU interrupt line of both chiplets at random, with no fault
    // map bit behind it, while the random workload runs: every check still passes, the run
    // ends, and the handler's reads of empty fault maps show in the `intr` statistic.
    let cfg = SystemConfig { chiplets: 2, seed: 5, ..SystemConfig::default() };
    let sys = System::new(cfg, || RefModel::new(Default::default())).unwrap();
    workload::spawn(&sys, &WorkloadConfig { accesses: 2_000, ..WorkloadConfig::default() });
    let kernel = sys.kernel.clone();
    let raised = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let r = raised.clone();
    sys.spawn("spurious", move |ctx| async move {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..400 {
            ctx.sleep(rng.gen_range(1..200)).await;
            kernel.raise_irq(irq_line(rng.gen_range(0..2), rng.gen_range(0..16)));
            r.set(r.get() + 1);
        }
    });
    let report = sys.run(50_000_000);
    assert_eq!(report.live_tasks, 0, "the run ends");
    assert_eq!(raised.get(), 400);
    assert!(sys.checker.failures().is_empty(), "{:?}", sys.checker.failures());
    let real_faults = sys.stat("intr_tfh");
    assert!(sys.stat("intr") >= 400, "intr {} (real fault bits {real_faults})", sys.stat("intr"));
}

/// The default workload (short) on the RTL with a fault-injection or mutant variant.
fn rtl_run(mutant: &str, workload: &str) -> Vec<gru_cosim::check::Failure> {
    let mutant = Some(gru_cosim::mutants::find(mutant).unwrap());
    let args = RunArgs { workload: workload.into(), hw: HwKind::Rtl, accesses: (workload == "default").then_some(2_000), mutant, ..RunArgs::default() };
    execute(&args, false).expect("runs").failures
}

#[test]
fn a_tgh_that_never_completes_is_a_driver_error_naming_the_handle() {
    // GRU_MUTANT_TGH_STUCK: the TGH purges but stays ACTIVE. The driver's wait times out and
    // the run fails at once with the handle and its line, instead of retrying forever.
    let failures = rtl_run("rtl_tgh_stuck", "munmap");
    let f = failures.first().expect("a verdict");
    assert_eq!(f.check, Check::Kernel, "{f:?}");
    assert!(f.detail.contains("TGH") && f.detail.contains("still ACTIVE"), "{}", f.detail);
}

#[test]
fn an_interrupt_that_never_drops_is_a_hang_verdict() {
    // GRU_MUTANT_TFM_NO_CLEAR: the fault map never clears, the interrupt line stays high and
    // the handler spins; the watchdog stops the run and says where every task is.
    let failures = rtl_run("rtl_tfm_no_clear", "cow_fault");
    let f = failures.first().expect("a verdict");
    assert_eq!(f.check, Check::Hang, "{f:?}");
    assert!(f.detail.contains("irq") && f.detail.contains("TFM lines"), "{}", f.detail);
}

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
    let args = RunArgs { workload: path.display().to_string(), hw: HwKind::Model, chiplets: 1, cpus: 2, accesses: 0, ..RunArgs::default() };
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
fn huge_counts_are_refused_or_fail_cleanly() {
    // A region larger than the user address space is refused when the file is read.
    let text = format!("{HEAD}pages = 1000000000000\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = []\n");
    let e = run_scenario("huge_region", &text).unwrap_err();
    assert!(e.contains("process \"a\"") && e.contains("pages = 1000000000000"), "{e}");
    // A munmap of 2^40 pages is the kernel's EINVAL (beyond the address space): the step
    // fails, the run goes on and passes.
    let text = format!(
        "{HEAD}pages = 4\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [{{ op = \"munmap\", page = 0, pages = 1099511627776 }}, {{ op = \"cpu_store\", page = 1, value = 3 }}]\n"
    );
    assert_eq!(run_scenario("huge_munmap", &text), Ok(vec![]));
}

#[test]
fn a_sleep_longer_than_the_watchdog_is_refused() {
    let text = format!("{HEAD}[[thread]]\nname = \"t\"\nprocess = \"a\"\nsteps = [{{ op = \"sleep\", cycles = 18446744073709551615 }}]\n");
    let e = run_scenario("long_sleep", &text).unwrap_err();
    assert!(e.contains("\"t\"") && e.contains("sleep of 18446744073709551615 cycles; at most 500000"), "{e}");
}

#[test]
fn access_outside_any_vma_ends_in_exception_not_a_failure() {
    let text = format!(
        "{HEAD}pages = 2\n[[thread]]\nname = \"t\"\nprocess = \"a\"\nchiplet = 0\nsteps = [{{ op = \"gru_load\", page = 100000 }}, {{ op = \"gru_store\", page = 0, value = 1 }}]\n"
    );
    let failures = run_scenario("outside", &text).expect("runs");
    assert!(failures.is_empty(), "{failures:?}");
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
    let args = RunArgs { workload: workload.into(), hw: HwKind::Rtl, accesses: 2_000, mutant, ..RunArgs::default() };
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

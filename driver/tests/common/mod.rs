//! Shared set-up for the driver's integration tests.
#![allow(dead_code)]

use std::future::Future;

use gru_driver::kernel::{Kernel, KernelConfig, NoHardware, ProcCtx};
use gru_driver::mm::{Mm, Mmu, MmuConfig};
use gru_driver::notifier::{Era, Recorder};

/// A kernel and its primary MMU.
pub struct Sim {
    pub kernel: Kernel,
    pub mmu: Mmu,
}

impl Sim {
    pub fn new(era: Era, seed: u64, num_cpus: usize) -> Self {
        let kernel = Kernel::new(KernelConfig {
            num_cpus,
            seed,
            ..KernelConfig::default()
        });
        let mmu = Mmu::new(
            &kernel,
            MmuConfig {
                era,
                ..MmuConfig::default()
            },
        );
        Self { kernel, mmu }
    }

    /// Run one thread to completion.
    pub fn run<F, Fut>(&self, body: F)
    where
        F: FnOnce(ProcCtx) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.kernel.spawn("test", body);
        self.kernel
            .run(&mut NoHardware, 100_000_000)
            .expect("kernel run");
    }
}

/// Register a recording notifier on `mm` (`mmu_notifier_register`; set-up code runs between
/// ranges, so the wait of `mmu_notifier_get` has nothing to wait for).
pub fn record(mm: &Mm) {
    let trace = mm.mmu().kernel().trace().clone();
    mm.notifiers().register(Recorder::new("rec", trace));
}

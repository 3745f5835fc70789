//! Shared rig of the driver tests: a kernel, its primary MMU, N chiplets of one cycle model
//! behind `GruHw`, and the driver bound to them. Each test body is generic over the model and
//! runs on the reference model and on the RTL (`on_both!`).
#![allow(dead_code)]

use std::future::Future;
use std::rc::Rc;

use gru_driver::gru::hw::{DecodedLine, MmioEvent, DEFAULT_MMIO_LATENCY};
use gru_driver::gru::{Gru, GruConfig, GruHardware};
use gru_driver::gru::handles::{Tfh, TfhOpc, Tgh};
use gru_driver::kernel::{Kernel, KernelConfig, ProcCtx};
use gru_driver::mm::{Mmu, MmuConfig};
use gru_driver::notifier::Era;
use gru_sim::gru_hw::GruHw;
use gru_sim::ports::CycleModel;

/// Generate `model` and `rtl` tests running `$name(make_model)`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn model() {
                super::$name(|| gru_sim::model::RefModel::new(Default::default()));
            }
            #[test]
            fn rtl() {
                super::$name(|| gru_sim::rtl::Rtl::new(gru_sim::rtl::WaveFormat::Fst));
            }
        }
    )*};
}

/// The system under test.
pub struct Rig<M: CycleModel + 'static> {
    pub kernel: Kernel,
    pub mmu: Mmu,
    pub hw: GruHw<M>,
    pub gru: Gru,
}

impl<M: CycleModel + 'static> Rig<M> {
    pub fn new(chiplets: usize, era: Era, cfg: GruConfig, make: impl Fn() -> M) -> Self {
        let kernel = Kernel::new(KernelConfig { num_cpus: 4, seed: 1, ..KernelConfig::default() });
        let mmu = Mmu::new(&kernel, MmuConfig { era, ..MmuConfig::default() });
        let hw = GruHw::new((0..chiplets).map(|_| make()).collect(), &mmu, DEFAULT_MMIO_LATENCY);
        let gru = Gru::new(&kernel, Rc::new(hw.clone()) as Rc<dyn GruHardware>, cfg);
        Self { kernel, mmu, hw, gru }
    }

    pub fn spawn<F, Fut>(&self, name: &str, body: F)
    where
        F: FnOnce(ProcCtx) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.kernel.spawn(name, body);
    }

    /// Run every task to completion; no driver error, no kernel bug.
    pub fn run(&self) {
        self.kernel.run(&mut self.hw.clone(), 2_000_000).expect("kernel run");
        assert_eq!(self.gru.errors(), vec![], "driver errors");
        assert_eq!(self.mmu.check_invariants(), Vec::<String>::new());
    }

    /// The TGH lines written, per chiplet.
    pub fn tgh_writes(&self, chiplet: usize) -> Vec<Tgh> {
        lines(&self.hw.trace(), chiplet, |l| match l {
            DecodedLine::Tgh(_, t) => Some(*t),
            _ => None,
        })
    }

    /// The TFH dropins (WRITE_RESTART lines) written to `chiplet`.
    pub fn dropins(&self, chiplet: usize) -> Vec<Tfh> {
        lines(&self.hw.trace(), chiplet, |l| match l {
            DecodedLine::Tfh(_, t) if t.opc == TfhOpc::WriteRestart as u8 => Some(*t),
            _ => None,
        })
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.gru.stats().by_name(name).unwrap_or_else(|| panic!("no stat {name}"))
    }
}

fn lines<T>(trace: &[MmioEvent], chiplet: usize, pick: impl Fn(&DecodedLine) -> Option<T>) -> Vec<T> {
    trace.iter().filter(|e| e.chiplet == chiplet && e.req.write).filter_map(|e| pick(&e.line)).collect()
}

/// A cell the test reads after the run.
pub type Out<T> = Rc<std::cell::RefCell<T>>;

pub fn out<T: Default>() -> Out<T> {
    Rc::default()
}

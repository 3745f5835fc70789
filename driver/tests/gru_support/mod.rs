//! Shared support of the driver tests: the [`System`] of the root crate (kernel, primary MMU,
//! chiplets of one cycle model, driver and checkers), built as the driver tests want it. Each
//! test body is generic over the model and runs on the reference model and on the RTL
//! (`on_both!`).

use std::rc::Rc;

use gru_cosim::system::{System, SystemConfig, SystemModel};
use gru_driver::gru::GruConfig;
use gru_driver::notifier::Era;

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

/// The system under test: `chiplets` chiplets, 4 CPUs, seed 1.
pub fn rig<M: SystemModel>(chiplets: usize, era: Era, gru: GruConfig, make: impl Fn() -> M) -> System<M> {
    let cfg = SystemConfig { chiplets, era, gru, replay: "cargo test".into(), ..SystemConfig::default() };
    System::new(cfg, make).expect("system")
}

/// Run every task to completion with every check passing.
pub fn run<M: SystemModel>(sys: &System<M>) {
    let r = sys.run(2_000_000);
    assert_eq!(sys.checker.failures(), vec![], "checks failed");
    assert_eq!(r.live_tasks, 0);
}

/// A cell the test reads after the run.
pub type Out<T> = Rc<std::cell::RefCell<T>>;

/// A fresh [`Out`].
pub fn out<T: Default>() -> Out<T> {
    Rc::default()
}

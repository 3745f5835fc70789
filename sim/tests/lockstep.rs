//! Random lockstep: over 200k cycles of seeded random traffic (handle lines including garbage,
//! CB requests, random memory latency and back-pressure) the RTL and the reference model agree
//! on every output every cycle.

use gru_sim::chiplet::Chiplet;
use gru_sim::lockstep::Lockstep;
use gru_sim::model::RefModel;
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, WaveFormat};
use gru_sim::stimulus::{RandomMemory, RandomTraffic};

fn run(seed: u64, cycles: u64) {
    let lock = Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Default::default()));
    let mut chip = Chiplet::new(lock, Box::new(RandomMemory::new(seed, 8)));
    let mut traffic = RandomTraffic::new(seed);
    traffic.run(&mut chip, cycles);
    let s = traffic.stats;
    let lock = chip.model_mut();
    assert!(lock.cycles() >= cycles);
    if let Some(d) = lock.divergence() {
        panic!("seed {seed}: {d}\nreplay: make lockstep CYCLES={cycles} SEED={seed}");
    }
    // The traffic must have exercised the chip, not idled.
    assert!(s.cb > 1000 && s.dropins > 100 && s.invalidates > 100 && s.mmio_err > 10, "seed {seed}: {s:?}");
}

#[test]
fn random_traffic_200k_cycles() {
    run(1, 200_000);
}

#[test]
fn random_traffic_other_seeds() {
    for seed in [2, 3] {
        run(seed, 50_000);
    }
}

#[test]
fn a_different_model_is_caught_with_its_port_and_history() {
    use gru_sim::model::Params;
    let slow_purge = RefModel::new(Params { purge_lanes: 4, ..Default::default() });
    let lock = Lockstep::new(Rtl::new(WaveFormat::Fst), slow_purge);
    let mut chip = Chiplet::new(lock, Box::new(RandomMemory::new(7, 8)));
    RandomTraffic::new(7).run(&mut chip, 20_000);
    let d = chip.model_mut().divergence().expect("purge timing differs, lockstep must see it").clone();
    assert!(d.port.starts_with("mmio_rsp_data_o") || d.port == "dbg_tlb_entry_o[0]" || d.port == "cb_cmp_valid_o", "{d}");
    assert!(!d.history.is_empty(), "{d}");
    assert!(d.to_string().contains(&format!("cycle {}", d.cycle)));
}

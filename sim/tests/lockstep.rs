//! Random lockstep: over 200k cycles of seeded random traffic (handle lines including garbage,
//! CB requests, random memory latency and back-pressure) the RTL and the reference model agree
//! on every output every cycle.

use gru_sim::chiplet::Chiplet;
use gru_sim::lockstep::Lockstep;
use gru_sim::model::RefModel;
use gru_sim::ports::{CycleModel, PortsIn, PortsOut};
use gru_sim::rtl::{Rtl, WaveFormat};
use gru_sim::skip::Skipping;
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
    assert!(
        d.port.starts_with("mmio_rsp_data_o")
            || d.port == "dbg_tlb_entry_o[0]"
            || d.port == "cb_cmp_valid_o"
            || d.port.starts_with("state.tlb")
            || d.port.starts_with("state.tgh"),
        "{d}"
    );
    assert!(!d.history.is_empty(), "{d}");
    assert!(d.to_string().contains(&format!("cycle {}", d.cycle)));
}

#[test]
fn chip_states_agree_every_cycle_and_cost_no_eval() {
    let mut lock = Lockstep::new(Rtl::new(WaveFormat::Fst), RefModel::new(Default::default()));
    lock.set_state_every(1);
    let mut chip = Chiplet::new(lock, Box::new(RandomMemory::new(5, 8)));
    // Every cycle evaluated and compared (a skipped one evaluates nothing).
    chip.set_skip(false);
    let mut traffic = RandomTraffic::new(5);
    traffic.run(&mut chip, 20_000);
    let lock = chip.model_mut();
    if let Some(d) = lock.divergence() {
        panic!("seed 5: {d}");
    }
    assert!(lock.state_compares() >= 19_000, "{}", lock.state_compares());
    // Reading the state evaluates nothing: the clock evaluations are two a cycle (plus the
    // initial settle) and the debug port was never used.
    let before = lock.evals();
    let state = lock.chip_state();
    let tlb = lock.tlb_state();
    assert_eq!(lock.evals(), before);
    assert_eq!(before.debug, 0);
    assert_eq!(before.clock, 2 * lock.cycles() + 1);
    assert_eq!(state.tlb, tlb);
    assert_eq!(tlb.len(), 128, "TLB_ENTRIES entries, not the 256 the debug index reaches");
    assert!(tlb.iter().any(|e| e.valid), "the traffic installed entries");
    assert!(state.stats.hits > 0 && state.stats.dropins > 0 && state.stats.purges > 0, "{:?}", state.stats);
}

#[test]
fn a_state_difference_is_caught_before_any_port_shows_it() {
    use gru_sim::model::Params;
    let slow_purge = RefModel::new(Params { purge_lanes: 4, ..Default::default() });
    let mut lock = Lockstep::new(Rtl::new(WaveFormat::Fst), slow_purge);
    lock.set_state_every(1);
    let mut chip = Chiplet::new(lock, Box::new(RandomMemory::new(7, 8)));
    RandomTraffic::new(7).run(&mut chip, 20_000);
    let d = chip.model_mut().divergence().expect("purge timing differs, lockstep must see it").clone();
    assert!(d.port.starts_with("state.tlb[") || d.port.starts_with("state.tgh["), "{d}");
    assert!(!d.history.is_empty(), "{d}");
}

#[test]
fn the_state_snapshot_is_what_mmio_reads_return() {
    use gru_sim::handles::{cch_addr, tfh_addr, tfm_addr, tgh_addr, Cch, Stats, Tfh, Tfm, Tgh, STAT_ADDR};
    let mut chip = Chiplet::new(Rtl::new(WaveFormat::Fst), Box::new(RandomMemory::new(9, 8)));
    RandomTraffic::new(9).run(&mut chip, 30_000);
    // Let purges and syncs finish: afterwards only MMIO changes the chip.
    chip.step_n(2_000);
    let s = chip.chip_state();
    for (g, want) in s.tgh.iter().enumerate() {
        assert_eq!(&Tgh::decode(&chip.mmio_read(tgh_addr(g)).unwrap()), want, "TGH {g}");
    }
    for (t, want) in s.tfh.iter().enumerate() {
        assert_eq!(&Tfh::decode(&chip.mmio_read(tfh_addr(t)).unwrap()), want, "TFH {t}");
    }
    for (c, want) in s.cch.iter().enumerate() {
        assert_eq!(&Cch::decode(&chip.mmio_read(cch_addr(c)).unwrap()), want, "CCH {c}");
    }
    for (m, want) in s.tfm.iter().enumerate() {
        assert_eq!(&Tfm::decode(&chip.mmio_read(tfm_addr(m)).unwrap()), want, "TFM {m}");
    }
    assert_eq!(Stats::decode(&chip.mmio_read(STAT_ADDR).unwrap()), s.stats);
    let valid: Vec<_> = (0..256).map(|i| chip.tlb_entry(i)).collect();
    assert_eq!(&valid[..128], &s.tlb[..], "the debug port shows the same entries");
    assert!(valid[128..].iter().all(|e| *e == Default::default()), "no entry beyond TLB_ENTRIES");
}

#[test]
fn the_chip_monitor_mutants_diverge_under_random_traffic() {
    // The older mutants have directed sequences in tests/chiplet.rs; these six are shown by
    // random traffic (and their monitors by tests/chip_monitors.rs in the root crate).
    use gru_sim::mutant::RtlMutant::*;
    for m in [GuardStartOnly, StaleSameEdge, RestartClearsStale, TfmSetLost, InstallNoReplace, PurgeDoneEarly] {
        let lock = Lockstep::new(Rtl::with_mutant(m), RefModel::new(Default::default()));
        let (mut chip, _) = gru_sim::stimulus::monitored(lock, 1, 100_000);
        assert!(chip.model_mut().divergence().is_some(), "{m}: no divergence in 100k cycles of random traffic");
    }
}

/// `cycles` cycles of random traffic on `skipping` (skips quiet cycles) in lockstep with
/// `every` (evaluates every cycle), the whole state compared every 64 cycles; the pair's
/// first divergence and the cycles skipped.
fn skip_pair<M: CycleModel, E: CycleModel>(skipping: M, every: E, seed: u64, cycles: u64) -> (Option<String>, u64) {
    let mut lock = Lockstep::new(Skipping::new(skipping), every);
    lock.set_state_every(64);
    let mut chip = Chiplet::new(lock, Box::new(RandomMemory::new(seed, 8)));
    // The pair's DUT side decides what to skip; the chiplet evaluates every cycle of the pair.
    chip.set_skip(false);
    RandomTraffic::new(seed).run(&mut chip, cycles);
    let lock = chip.model_mut();
    (lock.divergence().map(|d| d.to_string()), lock.dut.skipped())
}

#[test]
fn skipping_quiet_cycles_matches_evaluating_every_cycle_over_a_million_cycles() {
    // The RTL's own quiet_o decides: 10^6 cycles of random traffic, every output every cycle.
    let (div, skipped) = skip_pair(Rtl::new(WaveFormat::Fst), Rtl::new(WaveFormat::Fst), 11, 1_000_000);
    assert_eq!(div, None, "replay: seed 11, 10^6 cycles");
    assert!(skipped > 50_000, "the traffic left quiet stretches to skip: {skipped}");
    // The reference model's quiet, the same way.
    let model = || RefModel::new(Default::default());
    let (div, skipped) = skip_pair(model(), model(), 12, 1_000_000);
    assert_eq!(div, None, "replay: seed 12, 10^6 cycles");
    assert!(skipped > 50_000, "{skipped}");
}

/// A chip that always claims to be quiet, even while its purge or CB engine works.
struct QuietLiar {
    inner: RefModel,
    out: PortsOut,
}

impl CycleModel for QuietLiar {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        self.out = self.inner.cycle(inp).clone();
        self.out.quiet = true;
        &self.out
    }
    fn idle(&mut self, inp: &PortsIn, n: u64) {
        self.inner.idle(inp, n);
    }
    gru_sim::forward_state_reads!(inner);
}

#[test]
fn a_chip_whose_quiet_output_lies_diverges_from_evaluating_every_cycle() {
    let liar = QuietLiar { inner: RefModel::new(Default::default()), out: PortsOut::default() };
    let (div, _) = skip_pair(liar, RefModel::new(Default::default()), 11, 100_000);
    assert!(div.is_some(), "skipping cycles in which the chip works must show as a divergence");
}

/// The variable purge timing (4 engines, base, per-entry cost, seeded tails): RTL variant
/// `Vgru_variable` and the reference model agree every cycle, the chip monitors hold (the
/// miss-stale rule with purges running concurrently), and several purges ran at once.
#[test]
fn variable_purge_timing_agrees_and_purges_run_concurrently() {
    use gru_sim::model::{Params, PurgeTiming};
    use gru_sim::monitor::ChipCover;
    for seed in [11u64, 12] {
        let model = RefModel::new(Params { purge: PurgeTiming::VARIABLE, ..Default::default() });
        let rtl = Rtl::build(WaveFormat::Fst, None, PurgeTiming::VARIABLE).expect("the variable variant is built");
        assert_eq!(rtl.params().purge, PurgeTiming::VARIABLE);
        let purge_seed = (seed as u16).wrapping_mul(0x9e37);
        let mut chip = Chiplet::with_purge_seed(Lockstep::new(rtl, model), Box::new(RandomMemory::new(seed, 8)), purge_seed);
        chip.enable_monitor();
        let mut traffic = RandomTraffic::new(seed);
        traffic.run(&mut chip, 100_000);
        let monitor = chip.monitor().expect("enabled");
        assert!(monitor.violation().is_none(), "seed {seed}: {:?}", monitor.violation());
        let two = monitor.cover().iter().find(|(c, _)| *c == ChipCover::TwoPurges).map_or(0, |c| c.1);
        assert!(two > 0, "seed {seed}: no two purges ACTIVE at once");
        let s = chip.chip_state().stats;
        assert!(s.purges > 50, "seed {seed}: {s:?}");
        if let Some(d) = chip.model_mut().divergence() {
            panic!("seed {seed}: {d}");
        }
    }
}

/// The timing is part of the contract: the variable RTL against a fixed-timing model diverges.
#[test]
fn a_model_with_the_other_purge_timing_diverges() {
    use gru_sim::model::PurgeTiming;
    let rtl = Rtl::build(WaveFormat::Fst, None, PurgeTiming::VARIABLE).expect("the variable variant is built");
    let mut chip = Chiplet::new(Lockstep::new(rtl, RefModel::new(Default::default())), Box::new(RandomMemory::new(7, 8)));
    RandomTraffic::new(7).run(&mut chip, 20_000);
    assert!(chip.model_mut().divergence().is_some(), "purge timing differs, lockstep must see it");
}

//! The chiplet-level commands: the demo and the random lockstep. (The throughput benchmark is
//! part of `gru-cosim bench`, src/bench/.)

use gru_sim::chiplet::{CbRequest, Chiplet, ChipletError, FlatMemory};
use gru_sim::handles as h;
use gru_sim::lockstep::Lockstep;
use gru_sim::model::{Params, RefModel};
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, WaveFormat};
use gru_sim::monitor::ChipCover;
use gru_sim::stimulus;
use std::path::PathBuf;
use std::time::Instant;

type Checked = Lockstep<Rtl, RefModel>;

fn checked(format: WaveFormat) -> Checked {
    Lockstep::new(Rtl::new(format), RefModel::new(Params::default()))
}

/// The demo: ctx 0..3 share the ASIDs of one address space, each CBR faults in FMM mode, the
/// "driver" reads the fault map and drops in, then one TGH write purges all three contexts.
pub fn demo(seed: u64, waves: Option<WaveFormat>) -> Result<bool, ChipletError> {
    let mut chip = Chiplet::new(checked(waves.unwrap_or_default()), Box::new(FlatMemory::default()));
    let path = waves.map(|f| PathBuf::from(format!("waves/demo-seed{seed}.{}", f.extension())));
    if let Some(p) = &path {
        let _ = std::fs::create_dir_all("waves");
        if let Err(e) = chip.model_mut().dut.open_waves(p) {
            eprintln!("warning: {e}; continuing without waves");
        }
    }
    let asid_base = 8 * (1 + seed % 1000);
    for ctx in 0..3usize {
        let mut line = [0u64; 8];
        for (r, f) in h::CCH_ASID.iter().enumerate() {
            f.set(&mut line, asid_base + r as u64);
        }
        h::CCH_SIZEAVAIL[0].set(&mut line, 1);
        h::CCH_TFM_FAULT_BIT_ENABLE.set(&mut line, 1);
        h::CCH_TLB_INT_ENABLE.set(&mut line, 1);
        h::CCH_TLB_INT_SELECT.set(&mut line, ctx as u64);
        for op in [h::CchOpc::Allocate, h::CchOpc::Start] {
            h::CCH_OPC.set(&mut line, op as u64);
            chip.start_and_wait(h::cch_addr(ctx), line)?;
        }
    }
    let vaddr = 0x7f00_0000_0000 + (seed % 64) * 0x1000;
    let mut faults = 0;
    for ctx in 0..3u8 {
        let cbr = ctx * 8;
        chip.issue_cb(CbRequest { cbr, vaddr, write: false, wdata: 0 });
        chip.step_until(1000, |c| c.irq() != 0);
        let tfm = chip.mmio_read(h::tfm_addr(ctx as usize))?;
        for b in (0..64).filter(|b| h::TFM_FAULT0.get(&tfm) >> b & 1 == 1) {
            faults += 1;
            let tfh = chip.mmio_read(h::tfh_addr(b))?;
            let mut line = [0u64; 8];
            h::TFH_OPC.set(&mut line, h::TfhOpc::WriteRestart as u64);
            h::TFH_FILLVADDR.set(&mut line, h::TFH_MISSVADDR.get(&tfh));
            h::TFH_FILLASID.set(&mut line, h::TFH_MISSASID.get(&tfh));
            h::TFH_PFN.set(&mut line, 0x1234 + u64::from(ctx));
            chip.start_and_wait(h::tfh_addr(b), line)?;
        }
        chip.step_until(1000, |c| c.outputs().cb_cmp_valid);
    }
    let completions = chip.take_completions();
    let mut tgh = [0u64; 8];
    h::TGH_OPC.set(&mut tgh, h::TghOpc::Invalidate as u64);
    h::TGH_VADDR.set(&mut tgh, vaddr);
    h::TGH_ASID.set(&mut tgh, asid_base);
    h::TGH_VADDRMASK.set(&mut tgh, (1 << 39) - 1);
    h::TGH_CTXBITMAP.set(&mut tgh, 0b111);
    let t0 = chip.cycle();
    chip.start_and_wait(h::tgh_addr(0), tgh)?;
    let shootdown = chip.cycle() - t0;
    let stats = h::Stats::decode(&chip.mmio_read(h::STAT_ADDR)?);
    chip.step_n(4);
    if path.is_some() {
        chip.model_mut().dut.close_waves();
    }
    let lock = chip.model_mut();
    println!("gru-cosim demo (seed {seed}): {} cycles on the RTL, lockstep with the reference model", lock.cycles());
    println!("  faults serviced from the fault map: {faults}, CB completions: {}", completions.len());
    println!("  chiplet stats: {stats:?}");
    println!("  one TGH write purged 3 contexts: {} entries in {shootdown} cycles (start write to status IDLE)", stats.purged);
    if let Some(p) = &path {
        println!("  waveform: {}  (gtkwave {} or surfer {})", p.display(), p.display(), p.display());
    }
    match lock.divergence() {
        None => {
            println!("demo: all outputs matched the reference model");
            Ok(true)
        }
        Some(d) => {
            eprintln!("{d}");
            eprintln!("replay: gru-cosim demo --seed {seed}");
            Ok(false)
        }
    }
}

/// Random lockstep over `cycles` cycles with the chip monitors on; prints `lockstep: <N>
/// cycles, <D> divergences`, then `lockstep coverage: <N> of <M> cover points`. False on a
/// divergence or a monitor violation.
pub fn lockstep(cycles: u64, seed: u64) -> Result<bool, ChipletError> {
    let t = Instant::now();
    let (mut chip, stats) = stimulus::monitored(checked(WaveFormat::Fst), seed, cycles);
    let secs = t.elapsed().as_secs_f64();
    let monitor = chip.monitor().expect("monitors on");
    let violation = monitor.violation().cloned();
    let missed: Vec<&str> = monitor.missed().into_iter().map(ChipCover::name).collect();
    let lock = chip.model_mut();
    let n = lock.cycles();
    println!("traffic: {stats:?}");
    println!("speed: {:.0} cycles/s (RTL and model together)", n as f64 / secs);
    if let Some(d) = lock.divergence() {
        eprintln!("{d}");
    }
    if let Some(v) = &violation {
        eprintln!("chip monitor {v}");
    }
    if lock.divergence().is_some() || violation.is_some() {
        eprintln!("replay: make lockstep CYCLES={cycles} SEED={seed}");
    }
    if !missed.is_empty() {
        println!("cover points not hit: {}", missed.join(", "));
    }
    println!("lockstep: {n} cycles, {} divergences", lock.divergences());
    let total = ChipCover::ALL.len();
    println!("lockstep coverage: {} of {total} cover points", total - missed.len());
    Ok(lock.divergences() == 0 && violation.is_none())
}

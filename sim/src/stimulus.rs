//! Seeded random traffic for lockstep and benchmarks: plausible driver behaviour (contexts set
//! up, faults serviced with dropins, invalidates) mixed with garbage handle lines, random CB
//! requests and random memory latencies and back-pressure.

use crate::chiplet::{CbRequest, Chiplet, MemoryServer};
use crate::handles::{self as h, Field};
use crate::ports::{CycleModel, PortsIn, PortsOut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Memory with random back-pressure and latency; contents are a hash of the address until
/// written, so loads return recognisable data.
pub struct RandomMemory {
    rng: ChaCha8Rng,
    words: std::collections::HashMap<u64, u64>,
    max_latency: u32,
}

impl RandomMemory {
    /// Latencies uniform in 1..=max_latency.
    pub fn new(seed: u64, max_latency: u32) -> Self {
        RandomMemory { rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_6d6f), words: Default::default(), max_latency }
    }
}

impl MemoryServer for RandomMemory {
    fn access(&mut self, _cycle: u64, paddr: u64, write: bool, wdata: u64) -> u64 {
        if write {
            self.words.insert(paddr, wdata);
            0
        } else {
            *self.words.get(&paddr).unwrap_or(&(paddr.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        }
    }
    fn latency(&mut self) -> u32 {
        self.rng.gen_range(1..=self.max_latency)
    }
    fn ready(&mut self) -> bool {
        self.rng.gen_bool(0.8)
    }
}

/// Records every input a cycle model receives, for replay (benchmarks, the C++ loop).
pub struct Recorder<M: CycleModel> {
    /// The model driven.
    pub inner: M,
    /// Inputs of every cycle so far.
    pub inputs: Vec<PortsIn>,
}

impl<M: CycleModel> CycleModel for Recorder<M> {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        self.inputs.push(inp.clone());
        self.inner.cycle(inp)
    }
    /// Recorded as `n` cycles: a replay evaluates every cycle.
    fn idle(&mut self, inp: &PortsIn, n: u64) {
        self.inputs.extend(std::iter::repeat(inp.clone()).take(n as usize));
        self.inner.idle(inp, n);
    }
    crate::forward_state_reads!(inner);
}

/// What the random traffic did, for a summary line.
#[derive(Default, Debug, Clone, Copy)]
pub struct TrafficStats {
    /// MMIO requests issued.
    pub mmio: u64,
    /// Of which answered with err.
    pub mmio_err: u64,
    /// CB requests queued.
    pub cb: u64,
    /// CB completions seen.
    pub completions: u64,
    /// TFH dropin commands (WRITE_RESTART / WRITE_ONLY).
    pub dropins: u64,
    /// TGH invalidates started.
    pub invalidates: u64,
}

/// The seeded traffic generator.
pub struct RandomTraffic {
    rng: ChaCha8Rng,
    /// A small pool of virtual pages so that CB requests hit and purges overlap.
    pages: Vec<u64>,
    /// CBRs that still need an answer: their completion said CALL_OS, or the last command left
    /// the miss pending (NOOP, WRITE_ONLY, a refused page size).
    call_os: Vec<u8>,
    /// Running counts.
    pub stats: TrafficStats,
}

const PAGE_POOL: usize = 48;

impl RandomTraffic {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pages = (0..PAGE_POOL).map(|_| rng.gen_range(0u64..4096) << 12).collect();
        RandomTraffic { rng, pages, call_os: Vec::new(), stats: TrafficStats::default() }
    }

    fn vaddr(&mut self) -> u64 {
        let region = self.rng.gen_range(0u64..4) << 61;
        let page = self.pages[self.rng.gen_range(0..PAGE_POOL)];
        region | page | (self.rng.gen_range(0u64..512) << 3)
    }

    fn pagesize(&mut self) -> u64 {
        if self.rng.gen_bool(0.7) { 0 } else { self.rng.gen_range(0..=9) }
    }

    fn mmio<M: CycleModel>(&mut self, chip: &mut Chiplet<M>, write: bool, addr: u32, dwen: u8, line: [u64; 8]) -> Option<[u64; 8]> {
        self.stats.mmio += 1;
        let r = if write { chip.mmio_write(addr, dwen, line).map(|_| line) } else { chip.mmio_read(addr) };
        match r {
            Ok(l) => Some(l),
            Err(_) => {
                self.stats.mmio_err += 1;
                None
            }
        }
    }

    /// Allocate and start every context with random ASIDs, page sizes and fault modes.
    pub fn setup<M: CycleModel>(&mut self, chip: &mut Chiplet<M>, num_ctx: usize) {
        for ctx in 0..num_ctx {
            let mut line = [0u64; 8];
            let base = (self.rng.gen_range(1u64..64)) * 8;
            for (r, f) in h::CCH_ASID.iter().enumerate() {
                f.set(&mut line, base + r as u64);
            }
            for f in h::CCH_SIZEAVAIL.iter() {
                f.set(&mut line, if self.rng.gen_bool(0.8) { 0x1ff } else { 0x21 });
            }
            h::CCH_TFM_FAULT_BIT_ENABLE.set(&mut line, self.rng.gen_bool(0.6) as u64);
            h::CCH_TLB_INT_ENABLE.set(&mut line, 1);
            h::CCH_TLB_INT_SELECT.set(&mut line, ctx as u64 % 16);
            for op in [h::CchOpc::Allocate, h::CchOpc::Start] {
                h::CCH_OPC.set(&mut line, op as u64);
                self.mmio(chip, true, h::cch_addr(ctx), 0xff, h::start(line));
            }
        }
    }

    /// Answer the miss latched in TFH `cbr`, mostly with a correct dropin.
    fn service<M: CycleModel>(&mut self, chip: &mut Chiplet<M>, cbr: u8) {
        let addr = h::tfh_addr(cbr as usize);
        let Some(tfh) = self.mmio(chip, false, addr, 0, [0; 8]) else { return };
        let mut line = [0u64; 8];
        let op = match self.rng.gen_range(0..20) {
            0..=13 => h::TfhOpc::WriteRestart,
            14 => h::TfhOpc::WriteOnly,
            15 => h::TfhOpc::UserPollingMode,
            16 => h::TfhOpc::Exception,
            17 => h::TfhOpc::Restart,
            _ => h::TfhOpc::Noop,
        };
        h::TFH_OPC.set(&mut line, op as u64);
        h::TFH_FILLVADDR.set(&mut line, h::TFH_MISSVADDR.get(&tfh));
        h::TFH_FILLASID.set(&mut line, h::TFH_MISSASID.get(&tfh));
        let ps = self.pagesize();
        h::TFH_PAGESIZE.set(&mut line, ps);
        h::TFH_PFN.set(&mut line, self.rng.gen_range(0u64..1 << 20));
        let store_fault = h::TFH_CAUSE.get(&tfh) == h::TfhCause::TlbMod as u64;
        h::TFH_DIRTY.set(&mut line, (store_fault || self.rng.gen_bool(0.5)) as u64);
        if matches!(op, h::TfhOpc::WriteRestart | h::TfhOpc::WriteOnly) {
            self.stats.dropins += 1;
        }
        if let Some(after) = self.mmio(chip, true, addr, 0xff, h::start(line)).and_then(|_| self.mmio(chip, false, addr, 0, [0; 8])) {
            let state = h::HDL_STATE.get(&after);
            let pending = [h::TfhState::MissFmm, h::TfhState::MissUpm, h::TfhState::HwErr].map(|s| s as u64);
            if pending.contains(&state) {
                self.call_os.push(cbr);
            }
        }
    }

    fn random_field(&mut self, line: &mut [u64; 8], f: Field) {
        let v: u64 = self.rng.gen();
        f.set(line, v);
    }

    /// One random action (a few cycles).
    pub fn act<M: CycleModel>(&mut self, chip: &mut Chiplet<M>) {
        for c in chip.take_completions() {
            self.stats.completions += 1;
            if c.status == h::CbStatus::CallOs as u8 {
                self.call_os.push(c.cbr);
            }
        }
        match self.rng.gen_range(0..100) {
            0..=29 if chip.cb_queued() < 4 => {
                let req = CbRequest {
                    cbr: self.rng.gen_range(0..128),
                    vaddr: self.vaddr(),
                    write: self.rng.gen_bool(0.4),
                    wdata: self.rng.gen(),
                };
                self.stats.cb += 1;
                chip.issue_cb(req);
            }
            30..=44 => {
                // Like an interrupt handler: the map whose line is up, else any (spurious).
                let irq = chip.irq();
                let m = if irq != 0 && self.rng.gen_bool(0.9) {
                    irq.trailing_zeros() as usize
                } else {
                    self.rng.gen_range(0..16)
                };
                if let Some(tfm) = self.mmio(chip, false, h::tfm_addr(m), 0, [0; 8]) {
                    let faults = u128::from(h::TFM_FAULT0.get(&tfm)) | (u128::from(h::TFM_FAULT1.get(&tfm)) << 64);
                    for cbr in (0..128u8).filter(|&b| faults >> b & 1 == 1) {
                        self.service(chip, cbr);
                    }
                }
            }
            45..=54 => {
                if let Some(cbr) = self.call_os.pop() {
                    self.service(chip, cbr);
                }
            }
            55..=66 => {
                let mut line = [0u64; 8];
                h::TGH_OPC.set(&mut line, h::TghOpc::Invalidate as u64);
                h::TGH_VADDR.set(&mut line, self.vaddr());
                h::TGH_ASID.set(&mut line, self.rng.gen_range(0u64..600));
                let ps = self.pagesize();
                h::TGH_PAGESIZE.set(&mut line, ps);
                h::TGH_GLOBAL.set(&mut line, self.rng.gen_bool(0.1) as u64);
                h::TGH_VADDRMASK.set(&mut line, if self.rng.gen_bool(0.9) { (1 << 39) - 1 } else { self.rng.gen() });
                h::TGH_N.set(&mut line, if self.rng.gen_bool(0.1) { 1023 } else { self.rng.gen_range(0..8) });
                h::TGH_CTXBITMAP.set(&mut line, self.rng.gen());
                self.stats.invalidates += 1;
                let g = self.rng.gen_range(0..24);
                self.mmio(chip, true, h::tgh_addr(g), 0xff, h::start(line));
            }
            67..=71 => {
                let ctx = self.rng.gen_range(0..16);
                let addr = h::cch_addr(ctx);
                if let Some(mut line) = self.mmio(chip, false, addr, 0, [0; 8]) {
                    // Mostly START, so that contexts interrupted or freed by earlier random
                    // operations come back and CB traffic keeps reaching the TLB.
                    let op = if self.rng.gen_bool(0.5) { h::CchOpc::Start as u64 } else { self.rng.gen_range(1u64..=5) };
                    h::CCH_OPC.set(&mut line, op);
                    h::HDL_STATUS.set(&mut line, 0);
                    self.mmio(chip, true, addr, 0xff, h::start(line));
                }
            }
            72..=77 => {
                let addr = if self.rng.gen_bool(0.7) {
                    self.rng.gen_range(0u32..0x2_8100) & !0x3f
                } else {
                    self.rng.gen()
                };
                let mut line = [0u64; 8];
                for f in 0..8 {
                    self.random_field(&mut line, Field { dw: f, lsb: 0, width: 64 });
                }
                let write = self.rng.gen_bool(0.5);
                let dwen = self.rng.gen();
                self.mmio(chip, write, addr, dwen, line);
            }
            78..=83 => {
                let addr = match self.rng.gen_range(0..5) {
                    0 => h::tgh_addr(self.rng.gen_range(0..24)),
                    1 => h::tfh_addr(self.rng.gen_range(0..128)),
                    2 => h::cch_addr(self.rng.gen_range(0..16)),
                    3 => h::tfm_addr(self.rng.gen_range(0..16)),
                    _ => h::STAT_ADDR,
                };
                self.mmio(chip, false, addr, 0, [0; 8]);
            }
            _ => {
                let n = self.rng.gen_range(1..20);
                chip.step_n(n);
            }
        }
    }

    /// Set up the contexts, then act until the chiplet has run `cycles` cycles.
    pub fn run<M: CycleModel>(&mut self, chip: &mut Chiplet<M>, cycles: u64) {
        self.setup(chip, 16);
        while chip.cycle() < cycles {
            self.act(chip);
        }
    }
}

/// `cycles` cycles of the traffic of `seed` on `model`, with the chip monitors on (their
/// violation and cover counts are in [`Chiplet::monitor`]): what `gru-cosim lockstep` runs.
pub fn monitored<M: CycleModel>(model: M, seed: u64, cycles: u64) -> (Chiplet<M>, TrafficStats) {
    let mut chip = Chiplet::new(model, Box::new(RandomMemory::new(seed, 8)));
    chip.enable_monitor();
    let mut traffic = RandomTraffic::new(seed);
    traffic.run(&mut chip, cycles);
    (chip, traffic.stats)
}

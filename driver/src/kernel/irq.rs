//! The hardware hook of the cycle loop and interrupt lines.

/// Interrupt lines the kernel samples: 16 fault maps on each of 16 chiplets.
pub const NUM_IRQ_LINES: usize = 256;

/// The level of every interrupt line: bit `n % 64` of word `n / 64` for line `n`.
pub type IrqLevels = [u64; NUM_IRQ_LINES / 64];

/// What the kernel's cycle loop needs from the hardware: advance one cycle, report the IRQ lines.
///
/// The executor calls [`Hardware::tick`] once per cycle before any software runs in that cycle,
/// then samples [`Hardware::irq_levels`]; a rising edge on line `n` raises interrupt `n`.
pub trait Hardware {
    /// Advance the hardware to `cycle`.
    fn tick(&mut self, cycle: u64);
    /// The level of the interrupt lines.
    fn irq_levels(&self) -> IrqLevels;
    /// Whether the hardware must see every cycle. When false and no software can run, the
    /// executor skips idle cycles, which keeps CPU-only workloads fast.
    fn needs_every_cycle(&self) -> bool {
        true
    }
}

/// No hardware at all: CPU-only workloads.
#[derive(Debug, Default)]
pub struct NoHardware;

impl Hardware for NoHardware {
    fn tick(&mut self, _cycle: u64) {}
    fn irq_levels(&self) -> IrqLevels {
        IrqLevels::default()
    }
    fn needs_every_cycle(&self) -> bool {
        false
    }
}

/// A scripted interrupt source for tests: line `n` goes high for one cycle at each listed cycle.
#[derive(Debug, Default)]
pub struct FakeIrqLines {
    pulses: Vec<(u64, u32)>,
    level: IrqLevels,
}

impl FakeIrqLines {
    /// Pulses as `(cycle, line)` pairs.
    pub fn new(pulses: impl IntoIterator<Item = (u64, u32)>) -> Self {
        Self {
            pulses: pulses.into_iter().collect(),
            level: IrqLevels::default(),
        }
    }
}

impl Hardware for FakeIrqLines {
    fn tick(&mut self, cycle: u64) {
        self.level = IrqLevels::default();
        for &(_, line) in self.pulses.iter().filter(|&&(c, line)| c == cycle && (line as usize) < NUM_IRQ_LINES) {
            self.level[line as usize / 64] |= 1 << (line % 64);
        }
    }
    fn irq_levels(&self) -> IrqLevels {
        self.level
    }
}

//! The hardware hook of the cycle loop and interrupt lines.

/// What the kernel's cycle loop needs from the hardware: advance one cycle, report the IRQ lines.
///
/// The executor calls [`Hardware::tick`] once per cycle before any software runs in that cycle,
/// then samples [`Hardware::irq_lines`]; a rising edge on line `n` raises interrupt `n`.
pub trait Hardware {
    /// Advance the hardware to `cycle`.
    fn tick(&mut self, cycle: u64);
    /// The level of the interrupt lines, bit `n` for line `n`.
    fn irq_lines(&self) -> u64;
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
    fn irq_lines(&self) -> u64 {
        0
    }
    fn needs_every_cycle(&self) -> bool {
        false
    }
}

/// A scripted interrupt source for tests: line `n` goes high for one cycle at each listed cycle.
#[derive(Debug, Default)]
pub struct FakeIrqLines {
    pulses: Vec<(u64, u32)>,
    level: u64,
}

impl FakeIrqLines {
    /// Pulses as `(cycle, line)` pairs.
    pub fn new(pulses: impl IntoIterator<Item = (u64, u32)>) -> Self {
        Self {
            pulses: pulses.into_iter().collect(),
            level: 0,
        }
    }
}

impl Hardware for FakeIrqLines {
    fn tick(&mut self, cycle: u64) {
        self.level = self
            .pulses
            .iter()
            .filter(|&&(c, line)| c == cycle && line < 64)
            .fold(0, |acc, &(_, line)| acc | 1 << line);
    }
    fn irq_lines(&self) -> u64 {
        self.level
    }
}

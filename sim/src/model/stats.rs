//! The statistics counters (MICROARCH §3), read through the STAT line.

use crate::handles::Stat;

/// One 64-bit counter per DW of the STAT line, indexed by [`Stat`].
#[derive(Default)]
pub(super) struct Counters {
    dw: [u64; 8],
}

impl Counters {
    /// Adds `n` to counter `s` (counters wrap).
    pub fn add(&mut self, s: Stat, n: u64) {
        let c = &mut self.dw[s as usize];
        *c = c.wrapping_add(n);
    }

    /// The STAT line.
    pub fn line(&self) -> [u64; 8] {
        self.dw
    }
}

//! The TLB fault maps (MICROARCH §3, §4.1): a fault and a done bit per CBR, read-and-clear.

use crate::handles::Tfm;

/// A bit to set in a fault map, decided by the CB engine and applied after the MMIO read-clear.
#[derive(Clone, Copy)]
pub(super) struct TfmSet {
    /// Fault map (the context's `tlb_int_select`).
    pub m: usize,
    /// CBR whose bit is set.
    pub cbr: usize,
    /// The done bit (else the fault bit).
    pub done: bool,
}

/// All fault maps.
pub(super) struct Tfms {
    pub tfm: Vec<Tfm>,
}

impl Tfms {
    pub fn new(n: usize) -> Self {
        Tfms { tfm: vec![Tfm::default(); n] }
    }

    pub fn reset(&mut self) {
        self.tfm.fill(Tfm::default());
    }

    /// The read returns every bit, so the read-clear leaves nothing: `fault_d = fault_q & ~returned`.
    pub fn read_clear(&mut self, m: usize) -> [u64; 8] {
        std::mem::take(&mut self.tfm[m]).encode()
    }

    /// Sets a bit; a `tlb_int_select` naming no fault map (fewer than 16) sets nothing.
    pub fn set(&mut self, s: TfmSet) {
        if let Some(t) = self.tfm.get_mut(s.m) {
            let bit = 1u128 << s.cbr;
            if s.done {
                t.done |= bit;
            } else {
                t.fault |= bit;
            }
        }
    }

    /// `irq_o[m]`: fault map m has a fault bit among `enabled` (CBRs of contexts with
    /// `tlb_int_enable`).
    pub fn irq(&self, enabled: u128) -> u16 {
        self.tfm.iter().enumerate().fold(0, |acc, (m, t)| acc | (u16::from(t.fault & enabled != 0) << m))
    }
}

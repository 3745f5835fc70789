//! The context configuration handles (MICROARCH §8).

use super::cb_engine::Engine;
use gru_abi::ctx_cbrs;
use crate::handles::{Cch, CchOpc, CchState, HandleStatus};

/// All CCHs and their `sync_wait` flags.
pub(super) struct Cchs {
    pub cch: Vec<Cch>,
    /// Bit c: CCH c's INTERRUPT_SYNC waits for its CBs to drain.
    sync_wait: u32,
}

impl Cchs {
    pub fn new(n: usize) -> Self {
        Cchs { cch: vec![Cch::default(); n], sync_wait: 0 }
    }

    pub fn reset(&mut self) {
        self.cch.fill(Cch::default());
        self.sync_wait = 0;
    }

    /// Bit c: CCH c's INTERRUPT_SYNC waits for its CBs to drain.
    pub fn sync_wait(&self) -> u32 {
        self.sync_wait
    }

    /// CCH `c` takes CB requests.
    pub fn active(&self, c: usize) -> bool {
        self.cch[c].state == CchState::Active as u8
    }

    /// Contexts whose INTERRUPT_SYNC completes at this edge, from the pre-edge state.
    pub fn sync_done(&self, eng: &Engine) -> u32 {
        let mut done = self.sync_wait;
        let mut w = self.sync_wait;
        while w != 0 {
            let c = w.trailing_zeros() as usize;
            if eng.in_flight(c) {
                done &= !(1 << c);
            }
            w &= w - 1;
        }
        done
    }

    /// Completes the syncs chosen by [`Cchs::sync_done`].
    pub fn apply_sync(&mut self, done: u32) {
        self.sync_wait &= !done;
        let mut w = done;
        while w != 0 {
            self.cch[w.trailing_zeros() as usize].status = HandleStatus::Idle as u8;
            w &= w - 1;
        }
    }

    /// Runs `opc` on CCH `c` (fields already written). `fault_pending`: a TFH of one of c's
    /// CBRs is pending, which refuses DEALLOCATE.
    pub fn command(&mut self, c: usize, opc: CchOpc, fault_pending: bool) {
        use CchState::*;
        let h = &mut self.cch[c];
        let st = CchState::try_from(u64::from(h.state)).unwrap_or(Inactive);
        let next = match opc {
            CchOpc::Allocate if matches!(st, Inactive | Interrupted) => Some(Idle),
            CchOpc::Start if matches!(st, Idle | Interrupted) => Some(Active),
            CchOpc::Interrupt if st == Active => Some(Interrupted),
            CchOpc::InterruptSync if matches!(st, Active | Interrupted) => Some(Interrupted),
            CchOpc::Deallocate if !fault_pending => Some(Inactive),
            _ => None,
        };
        h.status = match next {
            Some(s) => {
                h.state = s as u8;
                if opc == CchOpc::InterruptSync {
                    self.sync_wait |= 1 << c;
                    HandleStatus::Active as u8
                } else {
                    HandleStatus::Idle as u8
                }
            }
            None => HandleStatus::Exception as u8,
        };
    }

    /// CBRs whose context has `tlb_int_enable`, for `irq_o`.
    pub fn int_enabled_cbrs(&self, cbr_per_ctx: usize) -> u128 {
        self.cch
            .iter()
            .enumerate()
            .filter(|(_, h)| h.tlb_int_enable)
            .fold(0, |acc, (c, _)| acc | ctx_cbrs(c, cbr_per_ctx))
    }
}

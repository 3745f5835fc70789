//! Exact idle skipping (docs/MICROARCH.md §12): a cycle whose inputs are idle after an edge
//! that left `quiet_o` high changes nothing, so it is applied with [`CycleModel::idle`] — on the
//! RTL, without an evaluation. The rule reads the chip's own `quiet_o`, which lockstep compares
//! with the reference model's every cycle, so the skip cannot drift from the design.

use crate::ports::{CycleModel, PortsIn, PortsOut};

/// A cycle model that skips the cycles its chip says change nothing. Off
/// ([`Skipping::set_on`]), it evaluates every cycle like the model underneath.
pub struct Skipping<M: CycleModel> {
    /// The model driven.
    pub inner: M,
    on: bool,
    /// The outputs after the last edge (unchanged by a skipped cycle).
    out: PortsOut,
    /// The inputs of the last evaluated edge: a skipped one needs the same debug inputs.
    applied: PortsIn,
    skipped: u64,
}

impl<M: CycleModel> Skipping<M> {
    /// `inner`, skipping on. The first cycle is always evaluated (no outputs seen yet).
    pub fn new(inner: M) -> Self {
        Skipping { inner, on: true, out: PortsOut::default(), applied: PortsIn::default(), skipped: 0 }
    }

    /// Skip quiet cycles (`true`, the default) or evaluate every one.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
    }

    /// Whether quiet cycles are skipped.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Cycles applied without an evaluation so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether a cycle of `inp` would be skipped: skipping on, the last edge left the chip
    /// quiet, and `inp` is idle after the inputs of that edge.
    pub fn would_skip(&self, inp: &PortsIn) -> bool {
        self.on && self.out.quiet && inp.idle_after(&self.applied)
    }
}

impl<M: CycleModel> CycleModel for Skipping<M> {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        if self.would_skip(inp) {
            self.inner.idle(inp, 1);
            self.skipped += 1;
        } else {
            self.out.clone_from(self.inner.cycle(inp));
            self.applied.clone_from(inp);
        }
        &self.out
    }

    /// # Panics
    /// If a cycle of `inp` would not be skipped: the cycles would not be exact.
    fn idle(&mut self, inp: &PortsIn, n: u64) {
        assert!(self.would_skip(inp), "idle cycles on a chip that is not quiet, or with inputs that are not idle");
        self.inner.idle(inp, n);
        self.skipped += n;
    }

    crate::forward_state_reads!(inner);
}

//! Cycle-model wrappers the benchmark puts between the system and a chiplet: [`Tap`] records a
//! chiplet's per-cycle inputs (for the C++ replay) and checksums its outputs; [`MissProbe`]
//! notes the edge at which each miss latches, from the reference model.

use std::path::Path;

use gru_sim::lockstep::Lockstep;
use gru_sim::model::RefModel;
use gru_sim::ports::{CycleModel, PortsIn, PortsOut};
use gru_sim::rtl::Rtl;

use crate::system::SystemModel;

/// The checksum the C++ replay loop computes over a cycle's outputs (harness.cpp `replay`):
/// the low 32-bit word of `mmio_rsp_data`, `cb_cmp_rdata`, `mem_req_paddr` and `irq`.
pub fn checksum_step(sum: u64, o: &PortsOut) -> u64 {
    sum.wrapping_add((o.mmio_rsp_data[0] & 0xffff_ffff).wrapping_add(o.cb_cmp_rdata).wrapping_add(o.mem_req_paddr).wrapping_add(u64::from(o.irq)))
}

/// Records every input of the wrapped model when `inputs` is some, and the output checksum.
pub struct Tap<M> {
    /// The model.
    pub inner: M,
    /// The inputs of every cycle so far (None: not recording).
    pub inputs: Option<Vec<PortsIn>>,
    /// [`checksum_step`] over every cycle recorded.
    pub sum: u64,
}

impl<M: CycleModel> CycleModel for Tap<M> {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        match &mut self.inputs {
            None => self.inner.cycle(inp),
            Some(v) => {
                v.push(inp.clone());
                let o = self.inner.cycle(inp);
                self.sum = checksum_step(self.sum, o);
                o
            }
        }
    }
    gru_sim::forward_state_reads!(inner);
}

impl SystemModel for Tap<Rtl> {
    fn open_waves(&mut self, path: &Path) -> Result<bool, gru_sim::rtl::RtlError> {
        SystemModel::open_waves(&mut self.inner, path)
    }
    fn pause_waves(&mut self, paused: bool) {
        SystemModel::pause_waves(&mut self.inner, paused);
    }
    fn close_waves(&mut self) {
        SystemModel::close_waves(&mut self.inner);
    }
}

/// A model that can say which CBR's miss latched at its last edge.
pub trait LastMiss {
    /// The CBR whose miss latched at the last edge.
    fn last_miss(&self) -> Option<usize>;
}

impl LastMiss for RefModel {
    fn last_miss(&self) -> Option<usize> {
        RefModel::last_miss(self)
    }
}

impl LastMiss for Lockstep<Rtl, RefModel> {
    fn last_miss(&self) -> Option<usize> {
        self.reference.last_miss()
    }
}

/// Notes, per edge (counted from construction, reset included), every miss latch and every
/// MMIO request, so that the edges can be put on the kernel's clock through the MMIO trace.
pub struct MissProbe<M> {
    /// The model.
    pub inner: M,
    edges: u64,
    /// (edge, CBR) of each miss latch.
    pub misses: Vec<(u64, usize)>,
    /// Edges that carried an MMIO request, in order.
    pub mmio_edges: Vec<u64>,
    out: PortsOut,
}

impl<M> MissProbe<M> {
    /// Wrap `inner`.
    pub fn new(inner: M) -> Self {
        Self { inner, edges: 0, misses: Vec::new(), mmio_edges: Vec::new(), out: PortsOut::default() }
    }
}

impl<M: CycleModel + LastMiss> CycleModel for MissProbe<M> {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        let edge = self.edges;
        self.edges += 1;
        if inp.mmio_req_valid {
            self.mmio_edges.push(edge);
        }
        // A copy: the borrow of the returned outputs cannot outlive the `last_miss` query.
        self.out = self.inner.cycle(inp).clone();
        if let Some(cbr) = self.inner.last_miss() {
            self.misses.push((edge, cbr));
        }
        &self.out
    }
    gru_sim::forward_state_reads!(inner);
}

impl<M: SystemModel + LastMiss> SystemModel for MissProbe<M> {
    fn compares(&self) -> bool {
        self.inner.compares()
    }
    fn divergence(&self) -> Option<String> {
        self.inner.divergence()
    }
}

//! Lockstep: the RTL and the reference model receive the same inputs every cycle and every output
//! is compared; the first divergence is kept with the cycle, the port, both values and the last
//! transactions. The chip states ([`ChipState`], read without evaluating) are compared too:
//! every [`DEFAULT_STATE_EVERY`] cycles and at every read through the pair, so a difference in
//! state that no port shows yet (a TLB entry, a TFH field, a counter) is reported where it
//! appears, named like a port (`state.tfh[5]`).

use crate::model::TlbEntry;
use crate::ports::{Activity, ChipState, CycleModel, EvalCount, PortsIn, PortsOut};
use std::collections::VecDeque;
use std::fmt;

/// How many active cycles (any valid on a port) are kept for the divergence report.
const HISTORY: usize = 24;

/// Cycles between two comparisons of the whole chip state, by default.
pub const DEFAULT_STATE_EVERY: u64 = 1024;

/// The first cycle where the two models disagreed.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// Cycle number (edges since construction, counting from 0); for a state difference
    /// (`state.*`), the cycle whose edge left the differing state.
    pub cycle: u64,
    /// Output port name, as in the RTL (`mmio_rsp_data_o[3]` names a 64-bit word).
    pub port: String,
    /// The reference model's value.
    pub expected: String,
    /// The RTL's value.
    pub actual: String,
    /// The last active cycles before and including the divergence, oldest first.
    pub history: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lockstep divergence at cycle {} on {}: model {} rtl {}",
            self.cycle, self.port, self.expected, self.actual
        )?;
        writeln!(f, "last transactions:")?;
        for h in &self.history {
            writeln!(f, "  {h}")?;
        }
        Ok(())
    }
}

/// Names and compares every output port; returns the first mismatch as (port, model, rtl).
fn compare(model: &PortsOut, rtl: &PortsOut) -> Option<(String, String, String)> {
    macro_rules! scalar {
        ($($f:ident => $name:literal),* $(,)?) => {$(
            if model.$f != rtl.$f {
                return Some(($name.to_string(), format!("{:#x}", model.$f as u64), format!("{:#x}", rtl.$f as u64)));
            }
        )*};
    }
    scalar!(
        mmio_req_ready => "mmio_req_ready_o", mmio_rsp_valid => "mmio_rsp_valid_o",
        mmio_rsp_err => "mmio_rsp_err_o", cb_req_ready => "cb_req_ready_o",
        cb_cmp_valid => "cb_cmp_valid_o", cb_cmp_cbr => "cb_cmp_cbr_o",
        cb_cmp_status => "cb_cmp_status_o", cb_cmp_cause => "cb_cmp_cause_o",
        cb_cmp_rdata => "cb_cmp_rdata_o", mem_req_valid => "mem_req_valid_o",
        mem_req_paddr => "mem_req_paddr_o", mem_req_write => "mem_req_write_o",
        mem_req_wdata => "mem_req_wdata_o", mem_req_tag => "mem_req_tag_o", irq => "irq_o",
        quiet => "quiet_o",
    );
    for (name, m, r) in [
        ("mmio_rsp_data_o", &model.mmio_rsp_data[..], &rtl.mmio_rsp_data[..]),
        ("dbg_tlb_entry_o", &model.dbg_tlb_entry[..], &rtl.dbg_tlb_entry[..]),
    ] {
        if let Some(k) = (0..m.len()).find(|&k| m[k] != r[k]) {
            return Some((format!("{name}[{k}]"), format!("{:#018x}", m[k]), format!("{:#018x}", r[k])));
        }
    }
    None
}

/// One line describing what happened on the ports in a cycle, or None if nothing did.
fn describe(cycle: u64, i: &PortsIn, o: &PortsOut) -> Option<String> {
    let mut parts = Vec::new();
    if !i.rst_n {
        parts.push("reset".to_string());
    }
    if i.mmio_req_valid {
        if i.mmio_req_write {
            parts.push(format!("mmio write {:#07x} dwen {:#04x} dw0 {:#x}", i.mmio_req_addr, i.mmio_req_dwen, i.mmio_req_data[0]));
        } else {
            parts.push(format!("mmio read {:#07x}", i.mmio_req_addr));
        }
    }
    if i.cb_req_valid && o.cb_req_ready {
        parts.push(format!("cb req cbr {} {} {:#x}", i.cb_req_cbr, if i.cb_req_write { "store" } else { "load" }, i.cb_req_vaddr));
    }
    if i.mem_req_ready {
        parts.push("mem accept".into());
    }
    if i.mem_rsp_valid {
        parts.push(format!("mem rsp tag {} {:#x}", i.mem_rsp_tag, i.mem_rsp_rdata));
    }
    if o.mmio_rsp_valid {
        parts.push(format!("mmio rsp err {} dw0 {:#x}", o.mmio_rsp_err, o.mmio_rsp_data[0]));
    }
    if o.cb_cmp_valid {
        parts.push(format!("cb cmp cbr {} status {} cause {}", o.cb_cmp_cbr, o.cb_cmp_status, o.cb_cmp_cause));
    }
    (!parts.is_empty()).then(|| format!("cycle {cycle}: {}", parts.join("; ")))
}

/// Two cycle models driven with the same inputs: `dut` (the RTL) and `reference` (the model).
/// Outputs returned are the DUT's.
pub struct Lockstep<D: CycleModel, R: CycleModel> {
    /// The design under test.
    pub dut: D,
    /// The reference model.
    pub reference: R,
    history: VecDeque<(u64, PortsIn, PortsOut)>,
    divergence: Option<Divergence>,
    divergences: u64,
    state_every: u64,
    state_compares: u64,
    /// The cycle of the last periodic state comparison.
    state_compared_at: u64,
}

impl<D: CycleModel, R: CycleModel> Lockstep<D, R> {
    /// Pair a DUT with its reference.
    pub fn new(dut: D, reference: R) -> Self {
        Lockstep {
            dut,
            reference,
            history: VecDeque::with_capacity(HISTORY),
            divergence: None,
            divergences: 0,
            state_every: DEFAULT_STATE_EVERY,
            state_compares: 0,
            state_compared_at: 0,
        }
    }

    /// Compare the whole chip state every `n` cycles (0: only when it is read).
    pub fn set_state_every(&mut self, n: u64) {
        self.state_every = n;
    }

    /// Comparisons of the whole chip state (or of the TLB alone) so far.
    pub fn state_compares(&self) -> u64 {
        self.state_compares
    }

    /// Record a divergence at `cycle`: `what` differs, model `e`, RTL `a`.
    fn diverged(&mut self, cycle: u64, what: String, e: String, a: String) {
        self.divergences += 1;
        if self.divergence.is_none() {
            let history = self.history.iter().filter_map(|(c, i, o)| describe(*c, i, o)).collect();
            self.divergence = Some(Divergence { cycle, port: what, expected: e, actual: a, history });
        }
    }

    /// The cycle whose edge left the state read now (its outputs are the last returned).
    fn state_cycle(&self) -> u64 {
        self.dut.cycles().saturating_sub(1)
    }

    /// Read both chip states, compare them and return the DUT's.
    fn compare_state(&mut self) -> ChipState {
        let e = self.reference.chip_state();
        let a = self.dut.chip_state();
        self.state_compares += 1;
        if let Some((what, ev, av)) = e.first_difference(&a) {
            self.diverged(self.state_cycle(), what, ev, av);
        }
        a
    }

    /// The first divergence, if any.
    pub fn divergence(&self) -> Option<&Divergence> {
        self.divergence.as_ref()
    }

    /// Cycles on which at least one output differed.
    pub fn divergences(&self) -> u64 {
        self.divergences
    }
}

impl<D: CycleModel, R: CycleModel> CycleModel for Lockstep<D, R> {
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut {
        let cycle = self.dut.cycles();
        // The state after every `state_every`-th edge, compared before the next one (here, so
        // that the outputs returned below can borrow the DUT).
        // Idle stretches (`idle`) may step over a multiple: compare at the first edge after it.
        if self.state_every != 0 && cycle / self.state_every > self.state_compared_at / self.state_every {
            self.state_compared_at = cycle;
            self.compare_state();
        }
        let expected = self.reference.cycle(inp);
        let actual = self.dut.cycle(inp);
        let active = inp.mmio_req_valid || inp.cb_req_valid || inp.mem_req_ready || inp.mem_rsp_valid
            || actual.mmio_rsp_valid || actual.cb_cmp_valid || !inp.rst_n;
        if active {
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back((cycle, inp.clone(), actual.clone()));
        }
        if let Some((port, e, a)) = compare(expected, actual) {
            self.divergences += 1;
            if self.divergence.is_none() {
                let mut history: Vec<String> =
                    self.history.iter().filter_map(|(c, i, o)| describe(*c, i, o)).collect();
                if !active {
                    history.extend(describe(cycle, inp, actual));
                }
                self.divergence = Some(Divergence { cycle, port, expected: e, actual: a, history });
            }
        }
        actual
    }

    /// Both sides skip: the outputs that said `quiet` were compared equal.
    fn idle(&mut self, inp: &PortsIn, n: u64) {
        self.reference.idle(inp, n);
        self.dut.idle(inp, n);
    }

    fn cycles(&self) -> u64 {
        self.dut.cycles()
    }

    fn peek_tlb(&mut self, idx: u8) -> [u64; 2] {
        let e = self.reference.peek_tlb(idx);
        let a = self.dut.peek_tlb(idx);
        if e != a {
            self.diverged(self.dut.cycles(), format!("dbg_tlb_entry_o (peek idx {idx})"), format!("{e:x?}"), format!("{a:x?}"));
        }
        a
    }

    fn chip_state(&mut self) -> ChipState {
        self.compare_state()
    }

    fn tlb_state(&mut self) -> Vec<TlbEntry> {
        let e = self.reference.tlb_state();
        let a = self.dut.tlb_state();
        self.state_compares += 1;
        let probe = |tlb: Vec<TlbEntry>| ChipState { tlb, ..ChipState::default() };
        if let Some((what, ev, av)) = probe(e).first_difference(&probe(a.clone())) {
            self.diverged(self.state_cycle(), what, ev, av);
        }
        a
    }

    /// The DUT's: the snapshots are compared at the lockstep's own pace, not per poll.
    fn activity(&mut self) -> Activity {
        self.dut.activity()
    }

    fn evals(&self) -> EvalCount {
        self.dut.evals()
    }
}

//! Per-layer chip monitors: four invariants of the chip's own contract (docs/MICROARCH.md),
//! checked at the edges where they can break, on the RTL and on the reference model alike.
//!
//! End-to-end checks see a chip bug only when no other layer absorbs it: the driver's
//! `range_active` gate hides a race guard that forgets a stale mark, the MMIO latency hides a
//! purge that reports done one group early. These monitors read ground truth only — the chip's
//! state through [`CycleModel::activity`] / [`CycleModel::chip_state`] (introspection, no eval)
//! and the request on its MMIO port — never software state, so they fail at the chip's first
//! violation whatever the software does (random stimulus included).
//!
//! Cost: nothing happens on a cycle without an MMIO request and without a purge in flight. While
//! a TGH is ACTIVE the monitor polls the cheap [`Activity`] registers each cycle; a full snapshot
//! is read only at a TGH start or completion, a miss latched during a purge, a dropin and a
//! TFM read that raced a miss.

use std::fmt;

use crate::handles::{
    self as h, CchOpc, HandleStatus, PageSize, PurgeMatch, TfhOpc, TfhState, Tgh, TghOpc, CBR_PER_CTX,
    TGH_FULL_PURGE_N,
};
use crate::model::TlbEntry;
use crate::ports::{Activity, ChipState, CycleModel, PortsIn};

/// The four monitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Monitor {
    /// (a) A miss latched while an INVALIDATE of its context is ACTIVE, or at the edge one
    /// starts, is stale (MICROARCH §5, §7).
    RaceStale,
    /// (b) When a TGH leaves ACTIVE, no entry it matched at its start is left, unless a dropin
    /// rewrote that entry meanwhile (§7).
    PurgeComplete,
    /// (c) A fault bit set at the edge its map is read survives the read (§4.1).
    FaultRead,
    /// (d) A dropin never adds a second entry matching a key: it replaces the overlapping entry
    /// of its context and ASID (§6.1), so with one page size per page at most one entry
    /// matches any lookup.
    OneMatch,
}

impl Monitor {
    /// Every monitor.
    pub const ALL: [Monitor; 4] = [Monitor::RaceStale, Monitor::PurgeComplete, Monitor::FaultRead, Monitor::OneMatch];

    /// Short name used in verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Monitor::RaceStale => "race stale",
            Monitor::PurgeComplete => "purge complete",
            Monitor::FaultRead => "fault read",
            Monitor::OneMatch => "one match",
        }
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A monitor's first violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The model cycle whose edge broke the invariant.
    pub cycle: u64,
    /// Which monitor.
    pub monitor: Monitor,
    /// The handles and entries involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] cycle {}: {}", self.monitor, self.cycle, self.detail)
    }
}

/// Chip-level cover points the monitors count (the chip's race windows, seen from its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChipCover {
    /// A 2M entry matched by a purge whose range begins above the entry's base.
    HugePartial,
    /// A miss latched on a context an ACTIVE purge covers.
    MissDuringPurge,
    /// A miss latched at the edge a purge of its context started.
    MissAtPurgeStart,
    /// A fault bit set at the edge its map was read.
    FaultSetAtRead,
    /// Two TGHs ACTIVE at once.
    TwoPurges,
    /// A dropin the race guard discarded.
    StaleDiscarded,
    /// A dropin that replaced a clean entry of its page by a dirty one.
    TlbModUpgrade,
    /// A DEALLOCATE refused because a fault of the context was pending.
    DeallocRefused,
    /// A full purge (n = 1023) of one ASID that matched entries.
    FullAsidPurge,
    /// A global purge that matched entries.
    GlobalPurge,
}

impl ChipCover {
    /// Every cover point.
    pub const ALL: [ChipCover; 10] = [
        ChipCover::HugePartial,
        ChipCover::MissDuringPurge,
        ChipCover::MissAtPurgeStart,
        ChipCover::FaultSetAtRead,
        ChipCover::TwoPurges,
        ChipCover::StaleDiscarded,
        ChipCover::TlbModUpgrade,
        ChipCover::DeallocRefused,
        ChipCover::FullAsidPurge,
        ChipCover::GlobalPurge,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ChipCover::HugePartial => "chip.purge.huge_partial",
            ChipCover::MissDuringPurge => "chip.race.miss_during_purge",
            ChipCover::MissAtPurgeStart => "chip.race.miss_at_purge_start",
            ChipCover::FaultSetAtRead => "chip.race.fault_set_at_read",
            ChipCover::TwoPurges => "chip.purge.two_in_flight",
            ChipCover::StaleDiscarded => "chip.dropin.stale_discarded",
            ChipCover::TlbModUpgrade => "chip.dropin.tlb_mod_upgrade",
            ChipCover::DeallocRefused => "chip.cch.dealloc_refused",
            ChipCover::FullAsidPurge => "chip.purge.full_asid",
            ChipCover::GlobalPurge => "chip.purge.global",
        }
    }
}

/// What an MMIO request asks of the chip, decoded from the port before the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Req {
    None,
    /// A write to TGH g; `start` if it starts an INVALIDATE.
    TghWrite { g: usize, start: bool },
    /// A dropin (WRITE_RESTART or WRITE_ONLY) on a TFH.
    TfhCmd,
    /// A read of fault map m.
    TfmRead(usize),
    /// A DEALLOCATE on CCH c.
    Dealloc(usize),
}

/// Handle `i` of the region at `base` with `count` handles, if `addr` is its line.
fn slot(addr: u32, base: u32, count: usize) -> Option<usize> {
    let off = addr.checked_sub(base)?;
    let i = (off / h::HS_STRIDE) as usize;
    (off % h::HS_STRIDE == 0 && i < count).then_some(i)
}

fn decode(inp: &PortsIn) -> Req {
    if !inp.mmio_req_valid || !inp.rst_n {
        return Req::None;
    }
    let (addr, d) = (inp.mmio_req_addr, &inp.mmio_req_data);
    if !inp.mmio_req_write {
        return slot(addr, h::HS_TFM_BASE, h::HS_TFM_COUNT).map_or(Req::None, Req::TfmRead);
    }
    let cmd = inp.mmio_req_dwen & 1 != 0 && h::HDL_CMD.get(d) != 0;
    if let Some(g) = slot(addr, h::HS_TGH_BASE, h::HS_TGH_COUNT) {
        return Req::TghWrite { g, start: cmd && h::TGH_OPC.get(d) == TghOpc::Invalidate as u64 };
    }
    // Only a dropin can write the TLB: other TFH commands need no snapshot.
    let dropin = [TfhOpc::WriteRestart, TfhOpc::WriteOnly].map(|o| o as u64).contains(&h::TFH_OPC.get(d));
    if cmd && dropin && slot(addr, h::HS_TFH_BASE, h::HS_TFH_COUNT).is_some() {
        return Req::TfhCmd;
    }
    match slot(addr, h::HS_CCH_BASE, h::HS_CCH_COUNT) {
        Some(c) if cmd && h::CCH_OPC.get(d) == CchOpc::Deallocate as u64 => Req::Dealloc(c),
        _ => Req::None,
    }
}

/// A purge in flight: the entries its TGH matched when it started.
struct Purge {
    g: usize,
    line: Tgh,
    entries: Vec<(usize, TlbEntry)>,
}

/// What [`ChipMonitor::before`] saw before the edge, for [`ChipMonitor::after`].
pub struct Before {
    req: Req,
    /// The activity before the edge, when the request needs it.
    act: Option<Activity>,
    /// The TLB and the stale count before the edge (dropins: what they change).
    tlb: Option<(Vec<TlbEntry>, u64)>,
}

/// The monitors of one chiplet, fed every cycle by [`Chiplet`](crate::chiplet::Chiplet).
#[derive(Default)]
pub struct ChipMonitor {
    purges: Vec<Purge>,
    /// TGHs ACTIVE, pending TFHs and misses latched after the last edge polled.
    last: Activity,
    /// The TGH lines as of the last TGH write (the bitmaps the race guard reads).
    lines: Vec<Tgh>,
    violation: Option<Violation>,
    evaluations: u64,
    cover: [u64; ChipCover::ALL.len()],
}

impl ChipMonitor {
    /// Monitors of a chip just out of reset (nothing ACTIVE, nothing pending).
    pub fn new() -> Self {
        Self::default()
    }

    /// The first violation, if any (later ones are not recorded: a broken chip breaks more).
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Invariant evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// How often each cover point was hit.
    pub fn cover(&self) -> Vec<(ChipCover, u64)> {
        ChipCover::ALL.iter().map(|&c| (c, self.cover[c as usize])).collect()
    }

    /// The cover points not hit yet.
    pub fn missed(&self) -> Vec<ChipCover> {
        ChipCover::ALL.into_iter().filter(|&c| self.cover[c as usize] == 0).collect()
    }

    fn hit(&mut self, c: ChipCover) {
        self.cover[c as usize] += 1;
    }

    fn fail(&mut self, cycle: u64, monitor: Monitor, detail: String) {
        if self.violation.is_none() {
            self.violation = Some(Violation { cycle, monitor, detail });
        }
    }

    /// Call before the edge that takes `inp`.
    pub fn before<M: CycleModel>(&mut self, m: &mut M, inp: &PortsIn) -> Before {
        let req = decode(inp);
        let act = match req {
            Req::TghWrite { .. } | Req::TfmRead(_) if self.last.tgh_active == 0 => Some(m.activity()),
            _ => None,
        };
        let tlb = (req == Req::TfhCmd).then(|| (m.tlb_state(), m.activity().stale));
        Before { req, act, tlb }
    }

    /// Call after the edge (the model's state is the post-edge state).
    pub fn after<M: CycleModel>(&mut self, m: &mut M, b: Before) {
        let cycle = m.cycles().saturating_sub(1);
        // Before the edge: the last poll while purges run, else a read taken just now.
        let pre = b.act.unwrap_or(self.last);
        let polling = pre.tgh_active != 0 || matches!(b.req, Req::TghWrite { .. } | Req::TfmRead(_));
        if !polling && b.req == Req::None {
            return;
        }
        let act = if polling { m.activity() } else { pre };
        let mut state: Option<ChipState> = None;
        let latched = act.latches != pre.latches;
        // Newly latched misses: pending now, not before, in a MISS state (a refused dropin
        // turns a TFH HW_ERR without a miss).
        let newly = if latched { act.tfh_pending & !pre.tfh_pending } else { 0 };
        if latched && pre.tgh_active != 0 {
            let s = state.get_or_insert_with(|| m.chip_state());
            self.miss_during_purge(cycle, s, newly, pre.tgh_active);
        }
        match b.req {
            Req::TghWrite { g, start } => {
                let s = state.get_or_insert_with(|| m.chip_state());
                self.tgh_written(cycle, s, g, start && pre.tgh_active >> g & 1 == 0, newly);
            }
            Req::TfhCmd => {
                let (pre_tlb, pre_stale) = b.tlb.as_ref().expect("read before a dropin");
                let (tlb, stale) = match &state {
                    Some(s) => (s.tlb.clone(), s.stats.stale),
                    None => (m.tlb_state(), m.activity().stale),
                };
                self.tfh_command(cycle, (pre_tlb, *pre_stale), (&tlb, stale));
            }
            Req::TfmRead(map) if latched => {
                let s = state.get_or_insert_with(|| m.chip_state());
                self.tfm_read(cycle, s, map, newly);
            }
            Req::Dealloc(c) => {
                let s = state.get_or_insert_with(|| m.chip_state());
                let base = c * CBR_PER_CTX;
                let refused = s.cch[c].status == HandleStatus::Exception as u8
                    && s.tfh[base..base + CBR_PER_CTX].iter().any(|t| pending(t.state));
                if refused {
                    self.hit(ChipCover::DeallocRefused);
                }
            }
            _ => {}
        }
        let done = pre.tgh_active & !act.tgh_active;
        if self.purges.iter().any(|p| done >> p.g & 1 != 0) {
            let tlb = match &state {
                Some(s) => s.tlb.clone(),
                None => m.tlb_state(),
            };
            self.purges_done(cycle, &tlb, done);
        }
        if act.tgh_active.count_ones() >= 2 && act.tgh_active != pre.tgh_active {
            self.hit(ChipCover::TwoPurges);
        }
        self.last = act;
    }

    /// (a) for misses latched while purges were ACTIVE: each newly latched miss of a context
    /// an ACTIVE TGH's bitmap covers (as of before the edge) is stale.
    fn miss_during_purge(&mut self, cycle: u64, s: &ChipState, newly: u128, active: u32) {
        let covered: u16 = (0..self.lines.len()).filter(|g| active >> g & 1 != 0).fold(0, |b, g| b | self.lines[g].ctxbitmap);
        for t in (0..s.tfh.len()).filter(|&t| newly >> t & 1 != 0 && is_miss(s.tfh[t].state)) {
            let tfh = &s.tfh[t];
            if covered >> tfh.ctxnum & 1 == 0 {
                continue;
            }
            self.hit(ChipCover::MissDuringPurge);
            self.evaluations += 1;
            if !tfh.stale {
                let tghs: Vec<String> = (0..self.lines.len())
                    .filter(|&g| active >> g & 1 != 0 && self.lines[g].ctxbitmap >> tfh.ctxnum & 1 != 0)
                    .map(|g| format!("TGH {g} (ctxbitmap {:#06x})", self.lines[g].ctxbitmap))
                    .collect();
                let detail = format!(
                    "TFH {t} latched a miss (ctx {}, vaddr {:#x}, asid {:#x}) while {} covering its context was ACTIVE, and is not stale",
                    tfh.ctxnum, tfh.missvaddr, tfh.missasid, tghs.join(", ")
                );
                self.fail(cycle, Monitor::RaceStale, detail);
            }
        }
    }

    /// A TGH write: refresh its line; on a start, (a) for the misses pending now and track what
    /// the purge must remove.
    fn tgh_written(&mut self, cycle: u64, s: &ChipState, g: usize, started: bool, newly: u128) {
        self.lines.clone_from(&s.tgh);
        let line = s.tgh[g];
        // A purge whose fields software rewrote while it ran purges each group with the fields
        // of its cycle: what it must remove is no longer defined, so it is not checked.
        self.purges.retain(|p| p.g != g || p.line == Tgh { status: line.status, ..p.line });
        // A start the chip refused (an INVALIDATE with a page-size code above 8: EXCEPTION) or a
        // NOP purges nothing and marks nothing stale (docs/MICROARCH.md §7).
        if !started || line.status != HandleStatus::Active as u8 {
            return;
        }
        for (t, tfh) in s.tfh.iter().enumerate().filter(|(_, t)| pending(t.state) && line.ctxbitmap >> t.ctxnum & 1 != 0) {
            self.evaluations += 1;
            if newly >> t & 1 != 0 && is_miss(tfh.state) {
                self.hit(ChipCover::MissAtPurgeStart);
            }
            if !tfh.stale {
                let when = if newly >> t & 1 != 0 { "latched at the same edge" } else { "pending" };
                let detail = format!(
                    "TGH {g} started (ctxbitmap {:#06x}) but TFH {t} (ctx {}, vaddr {:#x}, miss {when}) is not stale",
                    line.ctxbitmap, tfh.ctxnum, tfh.missvaddr
                );
                self.fail(cycle, Monitor::RaceStale, detail);
            }
        }
        let m = PurgeMatch::new(&line);
        let entries: Vec<(usize, TlbEntry)> = s.tlb.iter().copied().enumerate().filter(|(_, e)| m.matches(e)).collect();
        if entries.iter().any(|(_, e)| e.ps == PageSize::P2M as u8 && m.matches_from_below(e)) {
            self.hit(ChipCover::HugePartial);
        }
        if !entries.is_empty() && line.n == TGH_FULL_PURGE_N {
            self.hit(if line.global { ChipCover::GlobalPurge } else { ChipCover::FullAsidPurge });
        } else if !entries.is_empty() && line.global {
            self.hit(ChipCover::GlobalPurge);
        }
        self.purges.push(Purge { g, line, entries });
    }

    /// (b) for every tracked purge whose TGH left ACTIVE at this edge.
    fn purges_done(&mut self, cycle: u64, tlb: &[TlbEntry], done: u32) {
        let (finished, running): (Vec<Purge>, Vec<Purge>) = std::mem::take(&mut self.purges).into_iter().partition(|p| done >> p.g & 1 != 0);
        self.purges = running;
        for p in finished {
            self.evaluations += 1;
            let left: Vec<String> = p.entries.iter().filter(|(i, e)| tlb[*i] == *e).map(|(i, e)| describe(*i, e)).collect();
            if !left.is_empty() {
                let t = &p.line;
                let detail = format!(
                    "TGH {} (vaddr {:#x}, asid {:#x}, pagesize {}, n {}, global {}, ctxbitmap {:#06x}) left ACTIVE (IDLE, or EXCEPTION) with entries it matched at its start still valid: {}",
                    p.g, t.vaddr, t.asid, t.pagesize, t.n, t.global, t.ctxbitmap, left.join("; ")
                );
                self.fail(cycle, Monitor::PurgeComplete, detail);
            }
        }
    }

    /// (d), and the purges' bookkeeping, after a dropin: the entry it wrote.
    /// `pre` and `post`: the TLB and the stale count before and after the edge.
    fn tfh_command(&mut self, cycle: u64, pre: (&[TlbEntry], u64), post: (&[TlbEntry], u64)) {
        let ((pre_tlb, pre_stale), (tlb, stale)) = (pre, post);
        if stale > pre_stale {
            self.hit(ChipCover::StaleDiscarded);
        }
        // An install writes one entry (purges only clear); the entry rewritten leaves every
        // purge's list: its old translation was replaced, not left behind.
        let Some(i) = (0..tlb.len()).find(|&i| tlb[i].valid && tlb[i] != pre_tlb[i]) else { return };
        for p in &mut self.purges {
            p.entries.retain(|(j, _)| *j != i);
        }
        let new = tlb[i];
        let same = |e: &TlbEntry| e.valid && e.ctx == new.ctx && e.asid == new.asid && h::overlap(e.vpn_range(), new.vpn_range());
        let before = pre_tlb.iter().filter(|e| same(e)).count();
        let others: Vec<String> = (0..tlb.len()).filter(|&j| j != i && same(&tlb[j])).map(|j| describe(j, &tlb[j])).collect();
        let old = pre_tlb[i];
        if same(&old) && !old.dirty && new.dirty {
            self.hit(ChipCover::TlbModUpgrade);
        }
        self.evaluations += 1;
        if others.len() > before.saturating_sub(1) {
            let detail = format!(
                "the dropin into {} left {} more entr{} of its context and ASID overlapping it (a lookup matches both): {}",
                describe(i, &new),
                others.len(),
                if others.len() == 1 { "y" } else { "ies" },
                others.join("; ")
            );
            self.fail(cycle, Monitor::OneMatch, detail);
        }
    }

    /// (c) a TFM read at the edge misses latched: each newly latched miss of a context whose
    /// faults go to this map has its fault bit set after the read.
    fn tfm_read(&mut self, cycle: u64, s: &ChipState, map: usize, newly: u128) {
        for t in (0..s.tfh.len()).filter(|&t| newly >> t & 1 != 0 && s.tfh[t].state == TfhState::MissFmm as u8) {
            let cch = &s.cch[usize::from(s.tfh[t].ctxnum)];
            if usize::from(cch.tlb_int_select) != map {
                continue;
            }
            self.hit(ChipCover::FaultSetAtRead);
            self.evaluations += 1;
            if s.tfm[map].fault >> t & 1 == 0 {
                let detail = format!(
                    "TFM {map} was read at the edge TFH {t} (ctx {}, vaddr {:#x}) latched its miss, and the read cleared the new fault bit {t}: the fault is never reported",
                    s.tfh[t].ctxnum, s.tfh[t].missvaddr
                );
                self.fail(cycle, Monitor::FaultRead, detail);
            }
        }
    }
}

fn pending(state: u8) -> bool {
    TfhState::try_from(u64::from(state)).is_ok_and(TfhState::is_pending)
}

fn is_miss(state: u8) -> bool {
    state == TfhState::MissFmm as u8 || state == TfhState::MissUpm as u8
}

fn describe(i: usize, e: &TlbEntry) -> String {
    format!("entry {i} (ctx {}, asid {:#x}, vpn {:#x}, ps {}, pfn {:#x}, dirty {})", e.ctx, e.asid, e.vpn, e.ps, e.pfn, e.dirty)
}

//! Driver statistics: the counters of Linux's `gru_stats` under their Linux names, the count /
//! mean / max latency of each handle kind's operations (Linux's `mcs_op_statistics`), and,
//! beyond Linux, why the interrupt handler handed each miss to the user thread ([`UpmCause`]).

use std::cell::Cell;
use std::fmt;

/// Defines a counter enum, the name of each counter and the list of all of them.
macro_rules! stats {
    ($(#[$em:meta])* $enum:ident { $($(#[$m:meta])* $var:ident = $name:literal),+ $(,)? }) => {
        $(#[$em])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $enum { $($(#[$m])* $var),+ }

        impl $enum {
            /// Every counter, in declaration order.
            pub const ALL: &'static [$enum] = &[$($enum::$var),+];

            /// The counter's name.
            pub const fn name(self) -> &'static str {
                match self { $($enum::$var => $name),+ }
            }
        }
    };
}

stats! {
/// A driver counter; [`GruStat::name`] is the Linux `gru_stats` field name.
GruStat {
    /// A TLB entry was dropped in.
    TlbDropin = "tlb_dropin",
    /// A page was dropped in ahead of use (never: the driver preloads nothing).
    TlbPreloadPage = "tlb_preload_page",
    /// Dropin refused: the TFH's miss ASID was 0 (a context being unloaded).
    TlbDropinFailNoAsid = "tlb_dropin_fail_no_asid",
    /// Dropin handed to the user: the page was absent or not writable+dirty for a store.
    TlbDropinFailUpm = "tlb_dropin_fail_upm",
    /// Dropin refused: no VMA, or the access is not allowed.
    TlbDropinFailInvalid = "tlb_dropin_fail_invalid",
    /// Dropin refused: an invalidate was in progress.
    TlbDropinFailRangeActive = "tlb_dropin_fail_range_active",
    /// Dropin refused: the TFH held no miss.
    TlbDropinFailIdle = "tlb_dropin_fail_idle",
    /// User call backed off: the TFH is in MISS_FMM (the interrupt path owns it).
    TlbDropinFailFmm = "tlb_dropin_fail_fmm",
    /// Dropin refused: the TFH status was not EXCEPTION.
    TlbDropinFailNoException = "tlb_dropin_fail_no_exception",
    /// A TFH was found stale while servicing a fault (the hardware's race guard).
    TfhStaleOnFault = "tfh_stale_on_fault",
    /// `invalidate_range_start` calls.
    MmuInvalidateRange = "mmu_invalidate_range",
    /// Classic `invalidate_page` calls.
    MmuInvalidatePage = "mmu_invalidate_page",
    /// `gru_flush_tlb_range` calls.
    FlushTlb = "flush_tlb",
    /// Chiplets examined by flushes.
    FlushTlbGru = "flush_tlb_gru",
    /// TGH invalidates issued by flushes.
    FlushTlbGruTgh = "flush_tlb_gru_tgh",
    /// Flushes that found no loaded context and dropped the ASID instead.
    FlushTlbGruZeroAsid = "flush_tlb_gru_zero_asid",
    /// Interrupts taken.
    Intr = "intr",
    /// CBR completions seen by interrupts (done bits).
    IntrCbr = "intr_cbr",
    /// Fault bits serviced by interrupts.
    IntrTfh = "intr_tfh",
    /// Fault bits of a context with no owner.
    IntrSpurious = "intr_spurious",
    /// Interrupt-context dropins that could not take `mmap_lock`.
    IntrMmLockFailed = "intr_mm_lock_failed",
    /// User calls for a CALL_OS.
    CallOs = "call_os",
    /// User calls that slept until no invalidate was active.
    CallOsWaitQueue = "call_os_wait_queue",
    /// Loads that took a new ASID.
    AsidNew = "asid_new",
    /// ASID limit resets.
    AsidNext = "asid_next",
    /// ASID wraps (generation bumps).
    AsidWrap = "asid_wrap",
    /// Loads that kept the mm's ASID.
    AsidReuse = "asid_reuse",
}}

stats! {
/// Why the interrupt handler handed a miss to the user thread (switched its TFH to user-polling
/// mode, so that the thread sees CALL_OS and calls the driver): one count per handover, so the
/// causes sum to the `call_os` calls the handovers lead to. Linux has no such breakdown: it
/// counts `tlb_dropin_fail_range_active` and `tlb_dropin_fail_no_asid` on the user path too,
/// folds four causes into `tlb_dropin_fail_upm` and a CCH reload into `intr_mm_lock_failed`.
/// [`UpmCause::name`] is the Linux name where that counter means exactly this cause (on the
/// interrupt path), this model's own (`upm_…`) where none does.
UpmCause {
    /// An invalidate of the address space was active (`range_active` non-zero).
    RangeActive = "tlb_dropin_fail_range_active",
    /// The TFH's miss ASID was 0 (its context is being unloaded).
    NoAsid = "tlb_dropin_fail_no_asid",
    /// `mmap_lock` could not be taken by trylock (a writer holds it or waits).
    MmapLock = "intr_mm_lock_failed",
    /// The context waits for a CCH rewrite (a new page size), which interrupt context cannot do;
    /// Linux counts it as `intr_mm_lock_failed`.
    CchReload = "upm_force_cch_reload",
    /// The page is not present: never touched, swapped out, migrating, unmapped or PROT_NONE.
    NotPresent = "upm_pte_not_present",
    /// A store (TLB_MOD) to a present page whose PTE is read-only: a write fault (COW break,
    /// write upgrade) is needed first.
    StoreReadOnly = "upm_store_pte_read_only",
    /// A store (TLB_MOD) to a writable page whose PTE is clean: the write fault that marks it
    /// dirty is needed first, so that writeback sees the device's writes.
    StoreClean = "upm_store_pte_clean",
    /// The page's size is not yet in the context's `sizeavail` (the CCH must be rewritten).
    NewPageSize = "upm_new_page_size",
}}

stats! {
/// A handle operation whose latency the driver records (Linux's `enum mcs_op`, in its order);
/// [`McsOp::name`] is the id `/proc/sgi_uv/gru/mcs_statistics` prints. Linux times an operation
/// in `wait_instruction_complete`, so its `tfh_write_restart` (started, never waited for) stays
/// at 0 there; this model also times the MMIO write that starts it.
McsOp {
    /// CCH ALLOCATE.
    CchAllocate = "cch_allocate",
    /// CCH START.
    CchStart = "cch_start",
    /// CCH INTERRUPT.
    CchInterrupt = "cch_interrupt",
    /// CCH INTERRUPT_SYNC.
    CchInterruptSync = "cch_interrupt_sync",
    /// CCH DEALLOCATE.
    CchDeallocate = "cch_deallocate",
    /// TFH WRITE_ONLY.
    TfhWriteOnly = "tfh_write_only",
    /// TFH WRITE_RESTART (a dropin).
    TfhWriteRestart = "tfh_write_restart",
    /// TGH INVALIDATE (a flush).
    TghInvalidate = "tgh_invalidate",
}}

impl McsOp {
    /// The operation the handle line `line` of `kind` starts, if Linux times it (TFH
    /// USER_POLLING_MODE, EXCEPTION and RESTART it does not).
    pub fn of(kind: HandleKind, line: &[u64; 8]) -> Option<McsOp> {
        use super::handles::{Cch, CchOpc, Tfh, TfhOpc};
        match kind {
            HandleKind::Cch => match CchOpc::try_from(u64::from(Cch::decode(line).opc)).ok()? {
                CchOpc::Allocate => Some(McsOp::CchAllocate),
                CchOpc::Start => Some(McsOp::CchStart),
                CchOpc::Interrupt => Some(McsOp::CchInterrupt),
                CchOpc::InterruptSync => Some(McsOp::CchInterruptSync),
                CchOpc::Deallocate => Some(McsOp::CchDeallocate),
            },
            HandleKind::Tfh => match TfhOpc::try_from(u64::from(Tfh::decode(line).opc)).ok()? {
                TfhOpc::WriteOnly => Some(McsOp::TfhWriteOnly),
                TfhOpc::WriteRestart => Some(McsOp::TfhWriteRestart),
                _ => None,
            },
            HandleKind::Tgh => Some(McsOp::TghInvalidate),
        }
    }
}

/// The counters of Linux's `statistics_show` (drivers/misc/sgi-gru/gruprocfs.c), in its order:
/// `/proc/sgi_uv/gru/statistics` prints the ones this driver keeps in this order.
const LINUX_STATISTICS: &[&str] = &[
    "vdata_alloc", "vdata_free", "gts_alloc", "gts_free", "gms_alloc", "gms_free", "gts_double_allocate",
    "assign_context", "assign_context_failed", "free_context", "load_user_context", "load_kernel_context",
    "lock_kernel_context", "unlock_kernel_context", "steal_user_context", "steal_kernel_context",
    "steal_context_failed", "nopfn", "asid_new", "asid_next", "asid_wrap", "asid_reuse", "intr", "intr_cbr",
    "intr_tfh", "intr_spurious", "intr_mm_lock_failed", "call_os", "call_os_wait_queue", "user_flush_tlb",
    "user_unload_context", "user_exception", "set_context_option", "check_context_retarget_intr",
    "check_context_unload", "tlb_dropin", "tlb_preload_page", "tlb_dropin_fail_no_asid", "tlb_dropin_fail_upm",
    "tlb_dropin_fail_invalid", "tlb_dropin_fail_range_active", "tlb_dropin_fail_idle", "tlb_dropin_fail_fmm",
    "tlb_dropin_fail_no_exception", "tfh_stale_on_fault", "mmu_invalidate_range", "mmu_invalidate_page",
    "flush_tlb", "flush_tlb_gru", "flush_tlb_gru_tgh", "flush_tlb_gru_zero_asid",
];

/// A kind of handle, for per-operation latency and error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum HandleKind {
    /// Context configuration handle.
    Cch,
    /// TLB fault handle.
    Tfh,
    /// TLB global handle.
    Tgh,
}

impl fmt::Display for HandleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandleKind::Cch => "CCH",
            HandleKind::Tfh => "TFH",
            HandleKind::Tgh => "TGH",
        })
    }
}

/// Latency summary of one kind of handle operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpLatency {
    /// Operations completed.
    pub count: u64,
    /// Sum of their latencies, in cycles.
    pub total: u64,
    /// The longest, in cycles.
    pub max: u64,
}

impl OpLatency {
    /// Mean latency in cycles (0 before any operation).
    pub fn mean(&self) -> u64 {
        self.total.checked_div(self.count).unwrap_or(0)
    }
}

/// The driver's statistics.
#[derive(Debug)]
pub struct GruStats {
    counters: Vec<Cell<u64>>,
    upm: Vec<Cell<u64>>,
    ops: Vec<Cell<OpLatency>>,
}

impl Default for GruStats {
    fn default() -> Self {
        Self {
            counters: GruStat::ALL.iter().map(|_| Cell::new(0)).collect(),
            upm: UpmCause::ALL.iter().map(|_| Cell::new(0)).collect(),
            ops: McsOp::ALL.iter().map(|_| Cell::default()).collect(),
        }
    }
}

impl GruStats {
    /// `STAT(name)`.
    pub fn inc(&self, s: GruStat) {
        let c = &self.counters[s as usize];
        c.set(c.get() + 1);
    }

    /// A counter's value.
    pub fn get(&self, s: GruStat) -> u64 {
        self.counters[s as usize].get()
    }

    /// Count one miss the interrupt handler hands to the user thread for `cause`.
    pub fn upm(&self, cause: UpmCause) {
        let c = &self.upm[cause as usize];
        c.set(c.get() + 1);
    }

    /// Misses handed to the user thread for `cause`.
    pub fn upm_count(&self, cause: UpmCause) -> u64 {
        self.upm[cause as usize].get()
    }

    /// Every handover cause as `(name, count)`, in [`UpmCause`] order. Kept apart from
    /// [`GruStats::all`]: two causes share their names with Linux counters that count more.
    pub fn upm_causes(&self) -> Vec<(&'static str, u64)> {
        UpmCause::ALL.iter().map(|&c| (c.name(), self.upm_count(c))).collect()
    }

    /// A counter's value by its Linux name, or an operation's latency summary by
    /// `tgh_invalidate_count`, `cch_start_max`, `tfh_write_only_mean` and the like; `None` for an
    /// unknown name.
    pub fn by_name(&self, name: &str) -> Option<u64> {
        self.all().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Record that the operation the handle line `line` of `kind` starts took `cycles`
    /// (operations Linux does not time are left out).
    pub fn record_op(&self, kind: HandleKind, line: &[u64; 8], cycles: u64) {
        let Some(op) = McsOp::of(kind, line) else { return };
        let c = &self.ops[op as usize];
        let mut o = c.get();
        o.count += 1;
        o.total += cycles;
        o.max = o.max.max(cycles);
        c.set(o);
    }

    /// The latency summary of `op`.
    pub fn op(&self, op: McsOp) -> OpLatency {
        self.ops[op as usize].get()
    }

    /// Every counter and operation summary as `(name, value)`, counters first.
    pub fn all(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> =
            GruStat::ALL.iter().map(|&s| (s.name().to_owned(), self.get(s))).collect();
        for &op in McsOp::ALL {
            let o = self.op(op);
            v.push((format!("{}_count", op.name()), o.count));
            v.push((format!("{}_mean", op.name()), o.mean()));
            v.push((format!("{}_max", op.name()), o.max));
        }
        v
    }

    /// `/proc/sgi_uv/gru/statistics`: `%16lu %s` per counter, in Linux's order (the counters
    /// this driver keeps; Linux's others — context stealing, kernel contexts, message queues —
    /// are not modelled).
    pub fn proc_statistics(&self) -> String {
        LINUX_STATISTICS
            .iter()
            .filter_map(|&n| GruStat::ALL.iter().find(|s| s.name() == n))
            .map(|&s| format!("{:16} {}\n", self.get(s), s.name()))
            .collect()
    }

    /// `/proc/sgi_uv/gru/mcs_statistics`: count, mean and max latency (in cycles, Linux's
    /// `clks`) of each handle operation.
    pub fn mcs_statistics(&self) -> String {
        let mut out = String::from("#id                        count   aver-clks    max-clks\n");
        for &op in McsOp::ALL {
            let o = self.op(op);
            out.push_str(&format!("{:<20}{:12}{:12}{:12}\n", op.name(), o.count, o.mean(), o.max));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ops() {
        let s = GruStats::default();
        s.inc(GruStat::FlushTlbGruZeroAsid);
        let tgh = [0; 8];
        s.record_op(HandleKind::Tgh, &tgh, 10);
        s.record_op(HandleKind::Tgh, &tgh, 30);
        assert_eq!(s.by_name("flush_tlb_gru_zero_asid"), Some(1));
        assert_eq!(s.by_name("tgh_invalidate_mean"), Some(20));
        assert_eq!(s.by_name("tgh_invalidate_max"), Some(30));
        assert_eq!(s.by_name("nonsense"), None);
        assert_eq!(GruStat::ALL.len(), 27);
    }

    #[test]
    fn upm_causes_are_counted_apart_from_the_linux_counters() {
        let s = GruStats::default();
        s.upm(UpmCause::RangeActive);
        s.upm(UpmCause::StoreClean);
        s.upm(UpmCause::StoreClean);
        assert_eq!(s.upm_count(UpmCause::StoreClean), 2);
        assert_eq!(s.by_name("tlb_dropin_fail_range_active"), Some(0), "the Linux counter is not the cause's");
        let causes = s.upm_causes();
        assert_eq!(causes.len(), UpmCause::ALL.len());
        assert_eq!(causes.iter().map(|(_, n)| n).sum::<u64>(), 3);
        assert!(causes.contains(&("upm_store_pte_clean", 2)));
    }
}

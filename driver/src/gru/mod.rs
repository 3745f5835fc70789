//! The GRU driver, split as the Linux driver (drivers/misc/sgi-gru) is:
//!
//! | module | Linux file | what |
//! |---|---|---|
//! | [`handles`] | gruhandles.h | handle line layouts, codes, addresses |
//! | [`gruhandles`] | gruhandles.c | MMIO, start/wait with timeout, the handle operations |
//! | [`purge`] | grutlbpurge.c | per-mm state, TLB shootdown, the MMU notifier |
//! | [`fault`] | grufault.c | the interrupt handler, dropins, the user CALL_OS path |
//! | [`context`] | grumain.c | ASIDs, loading and unloading contexts |
//! | [`stats`] | gruprocfs.c | counters and handle-op latencies |
//! | [`hw`] | — | the hardware as the driver sees it ([`hw::GruHardware`]) |
//! | [`mutant`] | — | planted bugs, selected by [`GruConfig::mutant`] |
//! | [`protocol`] | — | protocol tracepoints for an outside monitor |
//!
//! docs/DRIVER.md maps each Linux function to its counterpart here.

pub mod context;
pub mod fault;
pub mod gruhandles;
/// The hardware ABI (gruhandles.h): generated from `abi/gru_abi.toml` with the RTL's include.
pub use gru_abi as handles;
pub mod hw;
pub mod mutant;
pub mod protocol;
pub mod purge;
pub mod stats;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::kernel::{Kernel, SpinLock};
use crate::mm::{MmError, MmId};

pub use context::{AsidAlloc, Gts};
pub use gruhandles::HandleId;
pub use hw::GruHardware;
pub use mutant::Mutant;
pub use purge::{GruMmStruct, Tracker};
pub use stats::{GruStat, GruStats, HandleKind, UpmCause};

/// `MIN_ASID`: where the ASID allocator starts and restarts after a wrap (the first base
/// handed out is `MIN_ASID + ASID_INC`).
pub const MIN_ASID: u32 = 8;
/// `MAX_ASID`: ASIDs are 24 bits; a base owns `ASID_INC` region ASIDs below it.
pub const MAX_ASID: u32 = 0xff_fff0;
/// `ASID_INC`: a base owns 8 consecutive ASIDs, one per region (4 used by lookups).
pub const ASID_INC: u32 = 8;
/// `GRUMAXINVAL`: a TGH covers at most this many pages; more is a full purge of the ASID.
pub const GRUMAXINVAL: u64 = 1024;
/// Chiplets the kernel model can take interrupts from: 16 fault-map lines each.
pub const MAX_CHIPLETS: usize = crate::kernel::NUM_IRQ_LINES / handles::HS_TFM_COUNT;
/// CBRs of one context (the chiplet's static split).
pub const CBR_PER_CTX: usize = handles::CBR_PER_CTX;

/// Driver configuration *(model)*.
#[derive(Clone, Copy, Debug)]
pub struct GruConfig {
    /// Upper bound of ASID bases; small values make tests wrap quickly.
    pub max_asid: u32,
    /// Cycles an MMIO response, a handle operation or a CB may take before it is reported.
    pub timeout: u64,
    /// Cycles a user thread sleeps between two polls of its CB's status.
    pub cb_poll_interval: u64,
    /// Where each chiplet's ASID allocator starts (Linux's `gs_asid` at init, `MIN_ASID`): the
    /// first base handed out is `first_asid + ASID_INC`; a wrap restarts at `MIN_ASID`. A
    /// multiple of `ASID_INC` below `max_asid`; high values give ASIDs with high bits set.
    pub first_asid: u32,
    /// A planted bug ([`Mutant`]); `None` is the correct driver.
    pub mutant: Option<Mutant>,
    /// Better than Linux, off by default: the interrupt handler walks the page table without
    /// `mmap_lock`, as GUP-fast does with interrupts off
    /// ([`follow_page_irqs_off`](crate::mm::follow_page_irqs_off)), instead of handing the miss
    /// to the user thread when its trylock fails (an mm operation holds the lock for writing).
    /// The `range_active` test and the chip's race guard still order the dropin against every
    /// invalidate, as they do under the lock. `gru-cosim bench` reports its effect apart.
    pub lockless_irq_walk: bool,
    /// Linux's gap, off by default (`--real-thp-lookup`): a transparent huge page is looked up as
    /// Linux's driver does. `atomic_pte_lookup` (interrupt path) reads the PMD as if it were a
    /// PTE, so its frame is the huge page's first, and the page shift is `PAGE_SHIFT` since a THP
    /// is no hugetlb VMA; `get_user_pages` (user path) returns the right 4K subpage. A miss
    /// anywhere but the first 4K of a THP, served from interrupt context, drops in the wrong
    /// frame: the data oracle fails (golden scenario `real_thp_lookup`).
    pub real_thp_lookup: bool,
}

impl Default for GruConfig {
    fn default() -> Self {
        Self { max_asid: MAX_ASID, timeout: 200_000, cb_poll_interval: 8, first_asid: MIN_ASID, mutant: None, lockless_irq_walk: false, real_thp_lookup: false }
    }
}

/// Errors of the driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GruError {
    /// A port of the hardware refused the request.
    #[error(transparent)]
    Hw(#[from] hw::HwError),
    /// The chiplet answered an MMIO access with `err`.
    #[error("chiplet {chiplet}: MMIO {} at {addr:#07x} answered with err", if *.write { "write" } else { "read" })]
    Mmio {
        /// The chiplet.
        chiplet: usize,
        /// Handle-space offset.
        addr: u32,
        /// A write (else a read).
        write: bool,
    },
    /// No MMIO response within the timeout.
    #[error("chiplet {chiplet}: no MMIO response at {addr:#07x} after {cycles} cycles")]
    MmioTimeout {
        /// The chiplet.
        chiplet: usize,
        /// Handle-space offset.
        addr: u32,
        /// Cycles waited.
        cycles: u64,
    },
    /// A handle stayed ACTIVE past the timeout.
    #[error("{handle} {op} still ACTIVE after {cycles} cycles; line {dump:x?}")]
    HandleTimeout {
        /// The handle.
        handle: HandleId,
        /// The operation.
        op: &'static str,
        /// Cycles waited.
        cycles: u64,
        /// The handle's line at the timeout.
        dump: [u64; 8],
    },
    /// A handle operation ended with status EXCEPTION.
    #[error("{handle} {op} failed; line {dump:x?}")]
    HandleFailed {
        /// The handle.
        handle: HandleId,
        /// The operation.
        op: &'static str,
        /// The handle's line after the operation.
        dump: [u64; 8],
    },
    /// DEALLOCATE refused: a fault of the context is still unanswered.
    #[error("chiplet {chiplet} context {ctxnum}: unload refused, a fault is pending")]
    UnloadRefused {
        /// The chiplet.
        chiplet: usize,
        /// The context.
        ctxnum: usize,
    },
    /// No free context on the chiplet.
    #[error("chiplet {0}: no free context")]
    NoFreeContext(usize),
    /// The context is not loaded on a chiplet.
    #[error("the context is not loaded")]
    NotLoaded,
    /// The context is already loaded.
    #[error("the context is already loaded")]
    AlreadyLoaded,
    /// A CB number beyond the context's CBRs.
    #[error("CB {0} is outside the context (it has {CBR_PER_CTX})")]
    NoSuchCb(u8),
    /// A CB completed with EXCEPTION.
    #[error("CBR {cbr} completed with EXCEPTION, cause {cause}")]
    CbException {
        /// The CBR.
        cbr: u8,
        /// TFH cause code.
        cause: u8,
    },
    /// A CB did not complete within the timeout.
    #[error("CBR {cbr} did not complete after {cycles} cycles")]
    CbTimeout {
        /// The CBR.
        cbr: u8,
        /// Cycles waited.
        cycles: u64,
    },
    /// The primary MMU refused (e.g. the mm has exited).
    #[error(transparent)]
    Mm(#[from] MmError),
}

/// Per chiplet driver state (Linux's `gru_state`).
pub(crate) struct ChipletState {
    /// `gs_asid_lock` and the allocator it protects.
    pub asid: SpinLock<AsidAlloc>,
    /// `gs_gts`: the thread state loaded in each context. Like Linux, `gru_intr` reads it
    /// without a lock: a set fault bit pins the context until a TFH command answers it.
    pub gts: RefCell<[Option<Rc<Gts>>; handles::HS_CCH_COUNT]>,
    /// Shadow of the TGH lock bits (DW0 delresp): MMIO has no atomics in this model, so the
    /// driver's test-and-set works on its own copy, as Linux's works on the handle in memory.
    pub tgh_locks: Cell<u32>,
}

pub(crate) struct GruInner {
    pub hw: Rc<dyn GruHardware>,
    pub cfg: GruConfig,
    pub stats: GruStats,
    pub chiplets: Vec<ChipletState>,
    /// The per-mm structures, one per mm with a notifier registered.
    pub gms: RefCell<BTreeMap<MmId, Rc<GruMmStruct>>>,
    /// Failures inside notifier callbacks and interrupt handlers, which cannot return them.
    pub errors: RefCell<Vec<GruError>>,
    /// Protocol tracepoints.
    pub protocol: protocol::Tracepoints,
}

/// The driver instance: every chiplet of the machine.
#[derive(Clone)]
pub struct Gru(pub(crate) Rc<GruInner>);

impl Gru {
    /// Report every protocol step to `f` ([`protocol::ProtocolEvent`]).
    pub fn set_protocol_observer(&self, f: protocol::ProtocolObserver) {
        self.0.protocol.set(f);
    }

    pub(crate) fn trace_protocol(&self, cycle: u64, e: protocol::ProtocolEvent) {
        self.0.protocol.emit(cycle, e);
    }

    /// Bind the driver to `hw`: state per chiplet, and the interrupt handler of fault map `m`
    /// of chiplet `c` on kernel line `c * 16 + m`, routed to CPU `m` (the fault map a context
    /// selects is its thread's CPU).
    pub fn new(kernel: &Kernel, hw: Rc<dyn GruHardware>, cfg: GruConfig) -> Self {
        let chiplets = (0..hw.num_chiplets())
            .map(|_| ChipletState {
                asid: SpinLock::new(AsidAlloc::new(cfg.first_asid)),
                gts: RefCell::new(Default::default()),
                tgh_locks: Cell::new(0),
            })
            .collect();
        let gru = Gru(Rc::new(GruInner {
            hw,
            cfg,
            stats: GruStats::default(),
            chiplets,
            gms: RefCell::default(),
            errors: RefCell::default(),
            protocol: protocol::Tracepoints::default(),
        }));
        for chiplet in 0..gru.num_chiplets() {
            for tfm in 0..handles::HS_TFM_COUNT {
                let line = irq_line(chiplet, tfm);
                let g = gru.clone();
                kernel.request_irq(line, move |ctx| {
                    let g = g.clone();
                    async move { g.gru_intr(&ctx, chiplet, tfm).await }
                });
                // Lines of chiplets beyond MAX_CHIPLETS do not exist in the kernel model; the
                // affinity of a line the kernel accepts cannot fail for CPU m % num_cpus.
                let _ = kernel.set_irq_affinity(line, tfm % kernel.num_cpus());
            }
        }
        gru
    }

    /// Number of chiplets.
    pub fn num_chiplets(&self) -> usize {
        self.0.chiplets.len()
    }

    /// The statistics.
    pub fn stats(&self) -> &GruStats {
        &self.0.stats
    }

    /// Failures reported by notifier callbacks and interrupt handlers so far.
    pub fn errors(&self) -> Vec<GruError> {
        self.0.errors.borrow().clone()
    }

    /// The per-mm state of `mm`, if a context of it was ever allocated and not yet freed.
    pub fn gms(&self, mm: MmId) -> Option<Rc<GruMmStruct>> {
        self.0.gms.borrow().get(&mm).cloned()
    }

    /// Whether `m` is the planted bug of this run.
    pub(crate) fn mutated(&self, m: Mutant) -> bool {
        self.0.cfg.mutant == Some(m)
    }

    pub(crate) fn report(&self, e: GruError) {
        self.0.errors.borrow_mut().push(e);
    }

    pub(crate) fn chiplet(&self, c: usize) -> Result<&ChipletState, GruError> {
        self.0.chiplets.get(c).ok_or(GruError::Hw(hw::HwError::NoSuchChiplet {
            chiplet: c,
            count: self.num_chiplets(),
        }))
    }
}

/// The kernel interrupt line of fault map `tfm` of `chiplet`.
pub fn irq_line(chiplet: usize, tfm: usize) -> u32 {
    (chiplet * handles::HS_TFM_COUNT + tfm) as u32
}

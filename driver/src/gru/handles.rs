//! The handle space of `gru_chiplet`: field positions, codes and typed handle lines.
//!
//! One table, shared by the reference model and the driver, and checked against the RTL's
//! `rtl/gru_defs.vh` by a unit test: every [`Field`] constant here is named like the Verilog
//! localparams `<NAME>_DW`, `<NAME>_LSB`, `<NAME>_W`. Layouts are docs/MICROARCH.md §2 and §4.1.
//!
//! The typed structs hold raw field values (an encoded line may carry any bit pattern, so
//! decoding is total); convert codes with the enums' `TryFrom<u64>`.

/// One field of a 64-byte handle line: `width` bits at `lsb` of 64-bit word `dw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// Index of the 64-bit word (DW) within the line.
    pub dw: usize,
    /// Position of the field's least significant bit within the word.
    pub lsb: u32,
    /// Width in bits (1..=64).
    pub width: u32,
}

impl Field {
    /// A field of `width` bits at bit `lsb` of DW `dw`.
    pub const fn new(dw: usize, lsb: u32, width: u32) -> Self {
        Field { dw, lsb, width }
    }

    /// The field's value mask, right-aligned.
    pub const fn value_mask(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }

    /// The field's bits in its word.
    pub const fn word_mask(&self) -> u64 {
        self.value_mask() << self.lsb
    }

    /// The field's value in `line`.
    pub fn get(&self, line: &[u64; 8]) -> u64 {
        (line[self.dw] >> self.lsb) & self.value_mask()
    }

    /// Store `v` (truncated to the field's width) into `line`, leaving other bits alone.
    pub fn set(&self, line: &mut [u64; 8], v: u64) {
        let m = self.word_mask();
        line[self.dw] = (line[self.dw] & !m) | ((v << self.lsb) & m);
    }
}

/// Per-word masks of `fields`, e.g. a handle's software-writable bits.
pub const fn line_mask(fields: &[Field]) -> [u64; 8] {
    let mut m = [0u64; 8];
    let mut i = 0;
    while i < fields.len() {
        m[fields[i].dw] |= fields[i].word_mask();
        i += 1;
    }
    m
}

// ---- fields common to TGH, TFH and CCH DW0 ----
/// Start bit: a write carrying DW0 with it set starts the handle's operation.
pub const HDL_CMD: Field = Field::new(0, 0, 1);
/// Software lock bit; kept and ignored by the hardware.
pub const HDL_DELRESP: Field = Field::new(0, 1, 1);
/// Handle status ([`HandleStatus`]).
pub const HDL_STATUS: Field = Field::new(0, 16, 2);
/// Handle state ([`TfhState`] or [`CchState`]; 0 for a TGH).
pub const HDL_STATE: Field = Field::new(0, 20, 3);

// ---- TGH ----
/// TGH opcode ([`TghOpc`]).
pub const TGH_OPC: Field = Field::new(0, 2, 1);
/// TGH cause (always 0 in this model).
pub const TGH_CAUSE: Field = Field::new(0, 24, 3);
/// Start of the purged range.
pub const TGH_VADDR: Field = Field::new(1, 0, 64);
/// ASID to purge (ignored when global).
pub const TGH_ASID: Field = Field::new(2, 0, 24);
/// Page-size code of the purged range's unit.
pub const TGH_PAGESIZE: Field = Field::new(2, 32, 5);
/// Purge every ASID.
pub const TGH_GLOBAL: Field = Field::new(2, 48, 1);
/// Mask applied to vaddr[50:12] before comparing.
pub const TGH_VADDRMASK: Field = Field::new(3, 0, 39);
/// Pages in the range minus one; 1023 purges every entry of the ASID.
pub const TGH_N: Field = Field::new(3, 48, 10);
/// Contexts whose entries are purged, one bit each.
pub const TGH_CTXBITMAP: Field = Field::new(4, 0, 16);
/// TGH `n` that purges every entry of the ASID, whatever the range (the driver's full purge).
pub const TGH_FULL_PURGE_N: u16 = 1023;

// ---- TFH ----
/// TFH opcode ([`TfhOpc`]).
pub const TFH_OPC: Field = Field::new(0, 4, 3);
/// Fault cause ([`TfhCause`]).
pub const TFH_CAUSE: Field = Field::new(0, 24, 6);
/// TLB index/way of the miss (always 0 in this model).
pub const TFH_INDEXWAY: Field = Field::new(0, 32, 12);
/// Context of the faulting CB.
pub const TFH_CTXNUM: Field = Field::new(0, 48, 4);
/// Virtual address that missed.
pub const TFH_MISSVADDR: Field = Field::new(1, 0, 64);
/// ASID the lookup used.
pub const TFH_MISSASID: Field = Field::new(2, 0, 24);
/// ASID of the entry to drop in.
pub const TFH_FILLASID: Field = Field::new(2, 32, 24);
/// Dirty (writable) bit of the entry to drop in.
pub const TFH_DIRTY: Field = Field::new(2, 56, 1);
/// Global access attributes of the entry to drop in (kept, unused).
pub const TFH_GAA: Field = Field::new(2, 57, 2);
/// Physical address >> 12 of the entry to drop in, whatever its page size.
pub const TFH_PFN: Field = Field::new(3, 0, 41);
/// Page-size code of the entry to drop in.
pub const TFH_PAGESIZE: Field = Field::new(3, 48, 5);
/// Virtual address of the entry to drop in.
pub const TFH_FILLVADDR: Field = Field::new(4, 0, 64);
/// Race-guard flag: an invalidate covering this context started since the miss (read-only).
pub const TFH_STALE: Field = Field::new(5, 0, 1);

// ---- CCH ----
/// CCH opcode ([`CchOpc`]).
pub const CCH_OPC: Field = Field::new(0, 4, 3);
/// Misses set a fault-map bit (MISS_FMM) instead of completing with CALL_OS.
pub const CCH_TFM_FAULT_BIT_ENABLE: Field = Field::new(0, 32, 1);
/// Fault-map bits of this context raise the interrupt.
pub const CCH_TLB_INT_ENABLE: Field = Field::new(0, 33, 1);
/// Fault map (and interrupt line) used by this context.
pub const CCH_TLB_INT_SELECT: Field = Field::new(0, 36, 4);
/// Kept, unused.
pub const CCH_UNMAP_ENABLE: Field = Field::new(0, 40, 1);

const fn cch_asid(k: usize) -> Field {
    Field::new(1 + k / 2, (k as u32 % 2) * 32, 24)
}

const fn cch_sizeavail(k: usize) -> Field {
    Field::new(5 + k / 4, (k as u32 % 4) * 16, 16)
}

/// ASID of region k (vaddr[62:61]; k < 4 used by lookups), Verilog `CCH_ASID<k>`.
pub const CCH_ASID: [Field; 8] =
    [cch_asid(0), cch_asid(1), cch_asid(2), cch_asid(3), cch_asid(4), cch_asid(5), cch_asid(6), cch_asid(7)];
/// Page sizes available in region k (bit = 1 << code), Verilog `CCH_SIZEAVAIL<k>`.
pub const CCH_SIZEAVAIL: [Field; 8] = [
    cch_sizeavail(0),
    cch_sizeavail(1),
    cch_sizeavail(2),
    cch_sizeavail(3),
    cch_sizeavail(4),
    cch_sizeavail(5),
    cch_sizeavail(6),
    cch_sizeavail(7),
];

// ---- TFM ----
/// Fault bits of CBRs 0..64.
pub const TFM_FAULT0: Field = Field::new(0, 0, 64);
/// Fault bits of CBRs 64..128.
pub const TFM_FAULT1: Field = Field::new(1, 0, 64);
/// Done bits of CBRs 0..64.
pub const TFM_DONE0: Field = Field::new(4, 0, 64);
/// Done bits of CBRs 64..128.
pub const TFM_DONE1: Field = Field::new(5, 0, 64);

// ---- handle space ----
/// Offset of the first TFM.
pub const HS_TFM_BASE: u32 = 0x00000;
/// Offset of the first TGH.
pub const HS_TGH_BASE: u32 = 0x08000;
/// Offset of the first TFH.
pub const HS_TFH_BASE: u32 = 0x18000;
/// Offset of the first CCH.
pub const HS_CCH_BASE: u32 = 0x20000;
/// Offset of the statistics line.
pub const HS_STAT_BASE: u32 = 0x28000;
/// Distance between two handles of a kind; only the first 64 bytes are mapped.
pub const HS_STRIDE: u32 = 256;
/// Number of TFMs at the default parameters.
pub const HS_TFM_COUNT: usize = 16;
/// Number of TGHs at the default parameters.
pub const HS_TGH_COUNT: usize = 24;
/// Number of TFHs (one per CBR) at the default parameters.
pub const HS_TFH_COUNT: usize = 128;
/// Number of CCHs (one per context) at the default parameters.
pub const HS_CCH_COUNT: usize = 16;
/// Number of statistics lines.
pub const HS_STAT_COUNT: usize = 1;

/// Address of TGH `i`.
pub const fn tgh_addr(i: usize) -> u32 {
    HS_TGH_BASE + i as u32 * HS_STRIDE
}

/// Address of the TFH of CBR `cbr`.
pub const fn tfh_addr(cbr: usize) -> u32 {
    HS_TFH_BASE + cbr as u32 * HS_STRIDE
}

/// Address of the CCH of context `ctx`.
pub const fn cch_addr(ctx: usize) -> u32 {
    HS_CCH_BASE + ctx as u32 * HS_STRIDE
}

/// Address of fault map `m`.
pub const fn tfm_addr(m: usize) -> u32 {
    HS_TFM_BASE + m as u32 * HS_STRIDE
}

/// Address of the statistics line.
pub const STAT_ADDR: u32 = HS_STAT_BASE;

/// `line` with cmd = 1 and status ACTIVE in DW0 (`DW0 | 0x20001`): the driver's start write.
pub fn start(mut line: [u64; 8]) -> [u64; 8] {
    line[0] |= HDL_CMD.word_mask() | (HandleStatus::Active.code() << HDL_STATUS.lsb);
    line
}

// ---- codes ----
/// A field held a value that is not a code of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value} is not a valid {kind} code")]
pub struct CodeError {
    /// Which kind of code was decoded.
    pub kind: &'static str,
    /// The offending value.
    pub value: u64,
}

/// Defines a `#[repr(u8)]` code enum with `TryFrom<u64>` and `code()`.
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal {
        $($(#[$vm:meta])* $var:ident = $val:literal),+ $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vm])* $var = $val),+
        }

        impl $name {
            /// The code as the hardware field holds it.
            pub const fn code(self) -> u64 {
                self as u64
            }
        }

        impl TryFrom<u64> for $name {
            type Error = CodeError;
            fn try_from(v: u64) -> Result<Self, CodeError> {
                match v {
                    $($val => Ok($name::$var),)+
                    _ => Err(CodeError { kind: $kind, value: v }),
                }
            }
        }
    };
}

code_enum! {
    /// Handle status, DW0[17:16] of TGH, TFH and CCH.
    HandleStatus, "handle status" {
        /// Done (or never started).
        Idle = 0,
        /// The last operation failed, or a TFH holds an unanswered fault.
        Exception = 1,
        /// Operation in progress.
        Active = 2,
    }
}

code_enum! {
    /// TFH opcodes.
    TfhOpc, "TFH opcode" {
        /// Nothing.
        Noop = 0,
        /// Re-execute the parked CB without installing.
        Restart = 1,
        /// Install the entry; the CB stays parked.
        WriteOnly = 2,
        /// Install the entry and re-execute the CB.
        WriteRestart = 3,
        /// Complete the CB with EXCEPTION.
        Exception = 4,
        /// MISS_FMM → MISS_UPM; the CB completes with CALL_OS.
        UserPollingMode = 7,
    }
}

code_enum! {
    /// TFH states.
    TfhState, "TFH state" {
        /// Unused.
        Inactive = 0,
        /// No miss pending.
        Idle = 1,
        /// Miss pending, reported to the user (CALL_OS).
        MissUpm = 2,
        /// Miss pending, reported through a fault map.
        MissFmm = 3,
        /// A dropin was refused (page size).
        HwErr = 4,
        /// Unused.
        WriteTlb = 5,
        /// Unused.
        RestartCbr = 6,
    }
}

impl TfhState {
    /// A miss is pending: MISS_UPM, MISS_FMM or HW_ERR.
    pub const fn is_pending(self) -> bool {
        matches!(self, TfhState::MissUpm | TfhState::MissFmm | TfhState::HwErr)
    }
}

code_enum! {
    /// TFH causes (also the CB completion cause).
    TfhCause, "TFH cause" {
        /// No fault.
        None = 0,
        /// No entry matched.
        TlbMiss = 1,
        /// A store hit a read-only (dirty = 0) entry.
        TlbMod = 2,
        /// A dropin's page size is not available.
        HwErrorPagesize = 6,
        /// A CB request for a busy CBR or an inactive context.
        InstructionException = 7,
    }
}

code_enum! {
    /// CCH opcodes.
    CchOpc, "CCH opcode" {
        /// Latch the fields, INACTIVE/INTERRUPTED → IDLE.
        Allocate = 1,
        /// IDLE/INTERRUPTED → ACTIVE: the context takes CB requests.
        Start = 2,
        /// ACTIVE → INTERRUPTED.
        Interrupt = 3,
        /// → INTERRUPTED, status ACTIVE until no CB of the context is in flight.
        InterruptSync = 4,
        /// → INACTIVE, refused while a fault of the context is pending.
        Deallocate = 5,
    }
}

code_enum! {
    /// CCH states.
    CchState, "CCH state" {
        /// Not allocated.
        Inactive = 0,
        /// Allocated, not started.
        Idle = 1,
        /// Taking CB requests.
        Active = 2,
        /// Stopped.
        Interrupted = 3,
    }
}

code_enum! {
    /// TGH opcodes.
    TghOpc, "TGH opcode" {
        /// Nothing.
        Nop = 0,
        /// Purge the matching entries.
        Invalidate = 1,
    }
}

code_enum! {
    /// CB completion status (the CB istatus values).
    CbStatus, "CB status" {
        /// Done.
        Idle = 0,
        /// Failed.
        Exception = 1,
        /// The OS must service a miss.
        CallOs = 3,
    }
}

/// Page-size shift over 4K (page bytes = 4096 << shift), indexed by code.
pub const PAGE_SHIFTS: [u32; 9] = [0, 2, 4, 6, 8, 9, 10, 12, 14];

code_enum! {
    /// Page-size codes.
    PageSize, "page size" {
        /// 4 KiB.
        P4K = 0,
        /// 16 KiB.
        P16K = 1,
        /// 64 KiB.
        P64K = 2,
        /// 256 KiB.
        P256K = 3,
        /// 1 MiB.
        P1M = 4,
        /// 2 MiB.
        P2M = 5,
        /// 4 MiB.
        P4M = 6,
        /// 16 MiB.
        P16M = 7,
        /// 64 MiB.
        P64M = 8,
    }
}

impl PageSize {
    /// log2 of the page size in 4K units (the shift applied to VPNs).
    pub const fn vpn_shift(self) -> u32 {
        PAGE_SHIFTS[self as usize]
    }

    /// log2 of the page size in bytes.
    pub const fn page_shift(self) -> u32 {
        12 + self.vpn_shift()
    }

    /// Page size in bytes.
    pub const fn bytes(self) -> u64 {
        1 << self.page_shift()
    }

    /// The code of a page of `1 << page_shift` bytes, by the driver's formula
    /// `((shift > 20 ? shift + 2 : shift) >> 1) - 6`; an error for sizes without a code.
    pub fn code_from_shift(page_shift: u32) -> Result<PageSize, CodeError> {
        let err = CodeError { kind: "page shift", value: page_shift.into() };
        let adj = if page_shift > 20 { page_shift + 2 } else { page_shift };
        let code = (adj >> 1).checked_sub(6).ok_or(err)?;
        let ps = PageSize::try_from(u64::from(code)).map_err(|_| err)?;
        // The formula folds odd shifts onto their neighbours; only exact sizes have a code.
        if ps.page_shift() == page_shift {
            Ok(ps)
        } else {
            Err(err)
        }
    }
}

code_enum! {
    /// Statistics counters: the DW index of each in the STAT line.
    Stat, "statistic" {
        /// TLB hits.
        Hits = 0,
        /// TLB_MISS faults.
        Misses = 1,
        /// TLB_MOD faults.
        TlbMod = 2,
        /// Dropins installed.
        Dropins = 3,
        /// Dropins discarded because the TFH was stale.
        Stale = 4,
        /// TGH invalidates completed.
        Purges = 5,
        /// TLB entries purged.
        Purged = 6,
        /// MMIO requests answered with err.
        MmioErrors = 7,
    }
}

// ---- typed lines ----
/// Reads a bool field.
fn flag(f: Field, line: &[u64; 8]) -> bool {
    f.get(line) != 0
}

/// A TGH line (the start bit is not part of it: see [`start`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tgh {
    /// Software lock bit.
    pub delresp: bool,
    /// Opcode ([`TghOpc`]).
    pub opc: u8,
    /// Status ([`HandleStatus`]); hardware-owned.
    pub status: u8,
    /// State; always 0.
    pub state: u8,
    /// Cause; always 0.
    pub cause: u8,
    /// Start of the range.
    pub vaddr: u64,
    /// ASID to purge.
    pub asid: u32,
    /// Page-size code of the range unit (codes > 8 count as 4K).
    pub pagesize: u8,
    /// Purge any ASID.
    pub global: bool,
    /// Mask on vaddr[50:12].
    pub vaddrmask: u64,
    /// Pages minus one; 1023 = whole ASID.
    pub n: u16,
    /// Contexts to purge.
    pub ctxbitmap: u16,
}

impl Tgh {
    /// The handle line.
    pub fn encode(&self) -> [u64; 8] {
        let mut l = [0; 8];
        HDL_DELRESP.set(&mut l, self.delresp.into());
        TGH_OPC.set(&mut l, self.opc.into());
        HDL_STATUS.set(&mut l, self.status.into());
        HDL_STATE.set(&mut l, self.state.into());
        TGH_CAUSE.set(&mut l, self.cause.into());
        TGH_VADDR.set(&mut l, self.vaddr);
        TGH_ASID.set(&mut l, self.asid.into());
        TGH_PAGESIZE.set(&mut l, self.pagesize.into());
        TGH_GLOBAL.set(&mut l, self.global.into());
        TGH_VADDRMASK.set(&mut l, self.vaddrmask);
        TGH_N.set(&mut l, self.n.into());
        TGH_CTXBITMAP.set(&mut l, self.ctxbitmap.into());
        l
    }

    /// The fields of a handle line.
    pub fn decode(l: &[u64; 8]) -> Self {
        Tgh {
            delresp: flag(HDL_DELRESP, l),
            opc: TGH_OPC.get(l) as u8,
            status: HDL_STATUS.get(l) as u8,
            state: HDL_STATE.get(l) as u8,
            cause: TGH_CAUSE.get(l) as u8,
            vaddr: TGH_VADDR.get(l),
            asid: TGH_ASID.get(l) as u32,
            pagesize: TGH_PAGESIZE.get(l) as u8,
            global: flag(TGH_GLOBAL, l),
            vaddrmask: TGH_VADDRMASK.get(l),
            n: TGH_N.get(l) as u16,
            ctxbitmap: TGH_CTXBITMAP.get(l) as u16,
        }
    }
}

/// A TFH line (the start bit is not part of it: see [`start`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tfh {
    /// Software lock bit.
    pub delresp: bool,
    /// Opcode ([`TfhOpc`]).
    pub opc: u8,
    /// Status ([`HandleStatus`]); hardware-owned.
    pub status: u8,
    /// State ([`TfhState`]); hardware-owned.
    pub state: u8,
    /// Cause ([`TfhCause`]); hardware-owned.
    pub cause: u8,
    /// TLB index/way; always 0.
    pub indexway: u16,
    /// Context of the faulting CB; hardware-owned.
    pub ctxnum: u8,
    /// Faulting virtual address; hardware-owned.
    pub missvaddr: u64,
    /// ASID of the faulting lookup; hardware-owned.
    pub missasid: u32,
    /// ASID of the entry to drop in.
    pub fillasid: u32,
    /// Dirty (writable) bit of the entry to drop in.
    pub dirty: bool,
    /// Global access attributes (kept, unused).
    pub gaa: u8,
    /// Physical address >> 12 of the entry to drop in.
    pub pfn: u64,
    /// Page-size code of the entry to drop in.
    pub pagesize: u8,
    /// Virtual address of the entry to drop in.
    pub fillvaddr: u64,
    /// Race-guard flag; hardware-owned.
    pub stale: bool,
}

impl Tfh {
    /// The handle line.
    pub fn encode(&self) -> [u64; 8] {
        let mut l = [0; 8];
        HDL_DELRESP.set(&mut l, self.delresp.into());
        TFH_OPC.set(&mut l, self.opc.into());
        HDL_STATUS.set(&mut l, self.status.into());
        HDL_STATE.set(&mut l, self.state.into());
        TFH_CAUSE.set(&mut l, self.cause.into());
        TFH_INDEXWAY.set(&mut l, self.indexway.into());
        TFH_CTXNUM.set(&mut l, self.ctxnum.into());
        TFH_MISSVADDR.set(&mut l, self.missvaddr);
        TFH_MISSASID.set(&mut l, self.missasid.into());
        TFH_FILLASID.set(&mut l, self.fillasid.into());
        TFH_DIRTY.set(&mut l, self.dirty.into());
        TFH_GAA.set(&mut l, self.gaa.into());
        TFH_PFN.set(&mut l, self.pfn);
        TFH_PAGESIZE.set(&mut l, self.pagesize.into());
        TFH_FILLVADDR.set(&mut l, self.fillvaddr);
        TFH_STALE.set(&mut l, self.stale.into());
        l
    }

    /// The fields of a handle line.
    pub fn decode(l: &[u64; 8]) -> Self {
        Tfh {
            delresp: flag(HDL_DELRESP, l),
            opc: TFH_OPC.get(l) as u8,
            status: HDL_STATUS.get(l) as u8,
            state: HDL_STATE.get(l) as u8,
            cause: TFH_CAUSE.get(l) as u8,
            indexway: TFH_INDEXWAY.get(l) as u16,
            ctxnum: TFH_CTXNUM.get(l) as u8,
            missvaddr: TFH_MISSVADDR.get(l),
            missasid: TFH_MISSASID.get(l) as u32,
            fillasid: TFH_FILLASID.get(l) as u32,
            dirty: flag(TFH_DIRTY, l),
            gaa: TFH_GAA.get(l) as u8,
            pfn: TFH_PFN.get(l),
            pagesize: TFH_PAGESIZE.get(l) as u8,
            fillvaddr: TFH_FILLVADDR.get(l),
            stale: flag(TFH_STALE, l),
        }
    }
}

/// A CCH line (the start bit is not part of it: see [`start`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cch {
    /// Software lock bit.
    pub delresp: bool,
    /// Opcode ([`CchOpc`]).
    pub opc: u8,
    /// Status ([`HandleStatus`]); hardware-owned.
    pub status: u8,
    /// State ([`CchState`]); hardware-owned.
    pub state: u8,
    /// Misses set fault-map bits.
    pub tfm_fault_bit_enable: bool,
    /// Fault-map bits raise the interrupt.
    pub tlb_int_enable: bool,
    /// Fault map used.
    pub tlb_int_select: u8,
    /// Kept, unused.
    pub unmap_enable: bool,
    /// ASID per region (24 bits each; regions 0..4 used).
    pub asid: [u32; 8],
    /// Available page sizes per region (bit = 1 << code).
    pub sizeavail: [u16; 8],
}

impl Cch {
    /// The handle line.
    pub fn encode(&self) -> [u64; 8] {
        let mut l = [0; 8];
        HDL_DELRESP.set(&mut l, self.delresp.into());
        CCH_OPC.set(&mut l, self.opc.into());
        HDL_STATUS.set(&mut l, self.status.into());
        HDL_STATE.set(&mut l, self.state.into());
        CCH_TFM_FAULT_BIT_ENABLE.set(&mut l, self.tfm_fault_bit_enable.into());
        CCH_TLB_INT_ENABLE.set(&mut l, self.tlb_int_enable.into());
        CCH_TLB_INT_SELECT.set(&mut l, self.tlb_int_select.into());
        CCH_UNMAP_ENABLE.set(&mut l, self.unmap_enable.into());
        for k in 0..8 {
            CCH_ASID[k].set(&mut l, self.asid[k].into());
            CCH_SIZEAVAIL[k].set(&mut l, self.sizeavail[k].into());
        }
        l
    }

    /// The fields of a handle line.
    pub fn decode(l: &[u64; 8]) -> Self {
        Cch {
            delresp: flag(HDL_DELRESP, l),
            opc: CCH_OPC.get(l) as u8,
            status: HDL_STATUS.get(l) as u8,
            state: HDL_STATE.get(l) as u8,
            tfm_fault_bit_enable: flag(CCH_TFM_FAULT_BIT_ENABLE, l),
            tlb_int_enable: flag(CCH_TLB_INT_ENABLE, l),
            tlb_int_select: CCH_TLB_INT_SELECT.get(l) as u8,
            unmap_enable: flag(CCH_UNMAP_ENABLE, l),
            asid: std::array::from_fn(|k| CCH_ASID[k].get(l) as u32),
            sizeavail: std::array::from_fn(|k| CCH_SIZEAVAIL[k].get(l) as u16),
        }
    }
}

/// A TFM line: one fault and one done bit per CBR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tfm {
    /// Fault bits, bit k = CBR k.
    pub fault: u128,
    /// Done bits, bit k = CBR k.
    pub done: u128,
}

/// Joins two 64-bit fields into 128 bits.
fn get128(lo: Field, hi: Field, l: &[u64; 8]) -> u128 {
    u128::from(lo.get(l)) | (u128::from(hi.get(l)) << 64)
}

impl Tfm {
    /// The handle line.
    pub fn encode(&self) -> [u64; 8] {
        let mut l = [0; 8];
        TFM_FAULT0.set(&mut l, self.fault as u64);
        TFM_FAULT1.set(&mut l, (self.fault >> 64) as u64);
        TFM_DONE0.set(&mut l, self.done as u64);
        TFM_DONE1.set(&mut l, (self.done >> 64) as u64);
        l
    }

    /// The fields of a handle line.
    pub fn decode(l: &[u64; 8]) -> Self {
        Tfm { fault: get128(TFM_FAULT0, TFM_FAULT1, l), done: get128(TFM_DONE0, TFM_DONE1, l) }
    }
}

/// The statistics line, one counter per DW ([`Stat`] gives the index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// TLB hits.
    pub hits: u64,
    /// TLB_MISS faults.
    pub misses: u64,
    /// TLB_MOD faults.
    pub tlbmod: u64,
    /// Dropins installed.
    pub dropins: u64,
    /// Dropins discarded as stale.
    pub stale: u64,
    /// TGH invalidates completed.
    pub purges: u64,
    /// Entries purged.
    pub purged: u64,
    /// MMIO error responses.
    pub mmio_errors: u64,
}

impl Stats {
    /// The handle line.
    pub fn encode(&self) -> [u64; 8] {
        let mut l = [0; 8];
        l[Stat::Hits as usize] = self.hits;
        l[Stat::Misses as usize] = self.misses;
        l[Stat::TlbMod as usize] = self.tlbmod;
        l[Stat::Dropins as usize] = self.dropins;
        l[Stat::Stale as usize] = self.stale;
        l[Stat::Purges as usize] = self.purges;
        l[Stat::Purged as usize] = self.purged;
        l[Stat::MmioErrors as usize] = self.mmio_errors;
        l
    }

    /// The fields of a handle line.
    pub fn decode(l: &[u64; 8]) -> Self {
        Stats {
            hits: l[Stat::Hits as usize],
            misses: l[Stat::Misses as usize],
            tlbmod: l[Stat::TlbMod as usize],
            dropins: l[Stat::Dropins as usize],
            stale: l[Stat::Stale as usize],
            purges: l[Stat::Purges as usize],
            purged: l[Stat::Purged as usize],
            mmio_errors: l[Stat::MmioErrors as usize],
        }
    }
}

/// Reading the RTL's constants (`rtl/gru_defs.vh`), so that tests on both sides can check this
/// table and the debug layout against the Verilog.
pub mod verilog {
    use std::collections::HashMap;

    /// Where the RTL's include file is in this source tree.
    pub const GRU_DEFS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rtl/gru_defs.vh");

    /// Why the constants could not be read.
    #[derive(Debug, thiserror::Error)]
    pub enum DefsError {
        /// The file could not be read.
        #[error("{path}: {source}")]
        Io {
            /// The file.
            path: String,
            /// The I/O error.
            source: std::io::Error,
        },
        /// A `localparam` whose value is not a plain Verilog number.
        #[error("line {line}: cannot parse `{text}`")]
        Value {
            /// 1-based line number.
            line: usize,
            /// The line.
            text: String,
        },
    }

    /// A Verilog number: decimal, or a `[size]'[s]h|d|o|b` literal.
    fn parse_value(v: &str) -> Option<u64> {
        let v = v.replace('_', "");
        let Some((_, lit)) = v.split_once('\'') else { return v.parse().ok() };
        let lit = lit.trim_start_matches(['s', 'S']);
        let radix = match lit.chars().next()?.to_ascii_lowercase() {
            'h' => 16,
            'd' => 10,
            'o' => 8,
            'b' => 2,
            _ => return None,
        };
        u64::from_str_radix(&lit[1..], radix).ok()
    }

    /// Every `localparam NAME = VALUE;` in `text`.
    pub fn parse_localparams(text: &str) -> Result<HashMap<String, u64>, DefsError> {
        let mut defs = HashMap::new();
        for (i, l) in text.lines().enumerate() {
            let Some((lhs, rhs)) = l.trim().strip_prefix("localparam").and_then(|r| r.split_once('=')) else {
                continue;
            };
            let bad = || DefsError::Value { line: i + 1, text: l.to_string() };
            let name = lhs.split_whitespace().last().ok_or_else(bad)?;
            let value = rhs.split(';').next().and_then(|v| parse_value(v.trim())).ok_or_else(bad)?;
            defs.insert(name.to_string(), value);
        }
        Ok(defs)
    }

    /// The constants of `rtl/gru_defs.vh`.
    pub fn read_gru_defs() -> Result<HashMap<String, u64>, DefsError> {
        let text = std::fs::read_to_string(GRU_DEFS_PATH)
            .map_err(|source| DefsError::Io { path: GRU_DEFS_PATH.to_string(), source })?;
        parse_localparams(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::verilog::*;
    use super::*;
    use std::collections::HashMap;

    fn verilog_defs() -> HashMap<String, u64> {
        read_gru_defs().unwrap()
    }

    /// Every field of the table under its Verilog name.
    fn fields() -> Vec<(String, Field)> {
        let mut v: Vec<(String, Field)> = [
            ("HDL_CMD", HDL_CMD),
            ("HDL_DELRESP", HDL_DELRESP),
            ("HDL_STATUS", HDL_STATUS),
            ("HDL_STATE", HDL_STATE),
            ("TGH_OPC", TGH_OPC),
            ("TGH_CAUSE", TGH_CAUSE),
            ("TGH_VADDR", TGH_VADDR),
            ("TGH_ASID", TGH_ASID),
            ("TGH_PAGESIZE", TGH_PAGESIZE),
            ("TGH_GLOBAL", TGH_GLOBAL),
            ("TGH_VADDRMASK", TGH_VADDRMASK),
            ("TGH_N", TGH_N),
            ("TGH_CTXBITMAP", TGH_CTXBITMAP),
            ("TFH_OPC", TFH_OPC),
            ("TFH_CAUSE", TFH_CAUSE),
            ("TFH_INDEXWAY", TFH_INDEXWAY),
            ("TFH_CTXNUM", TFH_CTXNUM),
            ("TFH_MISSVADDR", TFH_MISSVADDR),
            ("TFH_MISSASID", TFH_MISSASID),
            ("TFH_FILLASID", TFH_FILLASID),
            ("TFH_DIRTY", TFH_DIRTY),
            ("TFH_GAA", TFH_GAA),
            ("TFH_PFN", TFH_PFN),
            ("TFH_PAGESIZE", TFH_PAGESIZE),
            ("TFH_FILLVADDR", TFH_FILLVADDR),
            ("TFH_STALE", TFH_STALE),
            ("CCH_OPC", CCH_OPC),
            ("CCH_TFM_FAULT_BIT_ENABLE", CCH_TFM_FAULT_BIT_ENABLE),
            ("CCH_TLB_INT_ENABLE", CCH_TLB_INT_ENABLE),
            ("CCH_TLB_INT_SELECT", CCH_TLB_INT_SELECT),
            ("CCH_UNMAP_ENABLE", CCH_UNMAP_ENABLE),
            ("TFM_FAULT0", TFM_FAULT0),
            ("TFM_FAULT1", TFM_FAULT1),
            ("TFM_DONE0", TFM_DONE0),
            ("TFM_DONE1", TFM_DONE1),
        ]
        .iter()
        .map(|(n, f)| (n.to_string(), *f))
        .collect();
        for k in 0..8 {
            v.push((format!("CCH_ASID{k}"), CCH_ASID[k]));
            v.push((format!("CCH_SIZEAVAIL{k}"), CCH_SIZEAVAIL[k]));
        }
        v
    }

    /// Every other constant under its Verilog name.
    fn constants() -> Vec<(&'static str, u64)> {
        use CbStatus as Cb;
        use CchOpc as Co;
        use CchState as Cs;
        use HandleStatus as Hs;
        use TfhCause as Tc;
        use TfhOpc as To;
        use TfhState as Ts;
        vec![
            ("HS_TFM_BASE", HS_TFM_BASE.into()),
            ("HS_TGH_BASE", HS_TGH_BASE.into()),
            ("HS_TFH_BASE", HS_TFH_BASE.into()),
            ("HS_CCH_BASE", HS_CCH_BASE.into()),
            ("HS_STAT_BASE", HS_STAT_BASE.into()),
            ("HS_STRIDE", HS_STRIDE.into()),
            ("HS_STAT_COUNT", HS_STAT_COUNT as u64),
            ("HSTATUS_IDLE", Hs::Idle.code()),
            ("HSTATUS_EXCEPTION", Hs::Exception.code()),
            ("HSTATUS_ACTIVE", Hs::Active.code()),
            ("TFHOP_NOOP", To::Noop.code()),
            ("TFHOP_RESTART", To::Restart.code()),
            ("TFHOP_WRITE_ONLY", To::WriteOnly.code()),
            ("TFHOP_WRITE_RESTART", To::WriteRestart.code()),
            ("TFHOP_EXCEPTION", To::Exception.code()),
            ("TFHOP_USER_POLLING_MODE", To::UserPollingMode.code()),
            ("TFHSTATE_INACTIVE", Ts::Inactive.code()),
            ("TFHSTATE_IDLE", Ts::Idle.code()),
            ("TFHSTATE_MISS_UPM", Ts::MissUpm.code()),
            ("TFHSTATE_MISS_FMM", Ts::MissFmm.code()),
            ("TFHSTATE_HW_ERR", Ts::HwErr.code()),
            ("TFHSTATE_WRITE_TLB", Ts::WriteTlb.code()),
            ("TFHSTATE_RESTART_CBR", Ts::RestartCbr.code()),
            ("TFHCAUSE_NONE", Tc::None.code()),
            ("TFHCAUSE_TLB_MISS", Tc::TlbMiss.code()),
            ("TFHCAUSE_TLB_MOD", Tc::TlbMod.code()),
            ("TFHCAUSE_HW_ERROR_PAGESIZE", Tc::HwErrorPagesize.code()),
            ("TFHCAUSE_INSTRUCTION_EXCEPTION", Tc::InstructionException.code()),
            ("CCHOP_ALLOCATE", Co::Allocate.code()),
            ("CCHOP_START", Co::Start.code()),
            ("CCHOP_INTERRUPT", Co::Interrupt.code()),
            ("CCHOP_INTERRUPT_SYNC", Co::InterruptSync.code()),
            ("CCHOP_DEALLOCATE", Co::Deallocate.code()),
            ("CCHSTATE_INACTIVE", Cs::Inactive.code()),
            ("CCHSTATE_IDLE", Cs::Idle.code()),
            ("CCHSTATE_ACTIVE", Cs::Active.code()),
            ("CCHSTATE_INTERRUPTED", Cs::Interrupted.code()),
            ("TGHOP_NOP", TghOpc::Nop.code()),
            ("TGHOP_INVALIDATE", TghOpc::Invalidate.code()),
            ("TGH_FULL_PURGE_N", TGH_FULL_PURGE_N.into()),
            ("CBSTATUS_IDLE", Cb::Idle.code()),
            ("CBSTATUS_EXCEPTION", Cb::Exception.code()),
            ("CBSTATUS_CALL_OS", Cb::CallOs.code()),
            ("STAT_HITS", Stat::Hits.code()),
            ("STAT_MISSES", Stat::Misses.code()),
            ("STAT_TLBMOD", Stat::TlbMod.code()),
            ("STAT_DROPINS", Stat::Dropins.code()),
            ("STAT_STALE", Stat::Stale.code()),
            ("STAT_PURGES", Stat::Purges.code()),
            ("STAT_PURGED", Stat::Purged.code()),
            ("STAT_MMIO_ERRORS", Stat::MmioErrors.code()),
            ("PS_MAX_CODE", PageSize::P64M.code()),
        ]
    }

    #[test]
    fn table_matches_rtl_gru_defs() {
        let defs = verilog_defs();
        let mut bad = Vec::new();
        let mut check = |name: String, want: u64| match defs.get(&name) {
            Some(&v) if v == want => {}
            got => bad.push(format!("{name}: Rust {want}, Verilog {got:?}")),
        };
        let fields = fields();
        for (n, f) in &fields {
            check(format!("{n}_DW"), f.dw as u64);
            check(format!("{n}_LSB"), f.lsb.into());
            check(format!("{n}_W"), f.width.into());
        }
        for (n, v) in constants() {
            check(n.to_string(), v);
        }
        // PS_SHIFTS packs shift(code) in nibble `code`.
        let packed = PAGE_SHIFTS.iter().enumerate().fold(0u64, |acc, (c, &s)| acc | u64::from(s) << (4 * c));
        check("PS_SHIFTS".into(), packed);
        // Every Verilog field has a Rust twin.
        for name in defs.keys().filter_map(|k| k.strip_suffix("_DW")) {
            if !fields.iter().any(|(n, _)| n == name) {
                bad.push(format!("{name}: no Rust field"));
            }
        }
        assert!(bad.is_empty(), "rtl/gru_defs.vh and handles.rs disagree:\n{}", bad.join("\n"));
    }

    #[test]
    fn verilog_literals_parse() {
        let text = "localparam A = 'h8000;\n  localparam [31:0] B = 32'h0000_8000;\n\
                    localparam C = 36'hECA986420;\nlocalparam D = 4'b1010;\nlocalparam E = 256;\nwire x;";
        let d = parse_localparams(text).unwrap();
        let get = |k: &str| d[k];
        assert_eq!((get("A"), get("B"), get("C"), get("D"), get("E")), (0x8000, 0x8000, 0xECA986420, 10, 256));
        let err = parse_localparams("localparam OK = 1;\nlocalparam X = y;").unwrap_err();
        assert_eq!(err.to_string(), "line 2: cannot parse `localparam X = y;`");
    }

    #[test]
    fn field_get_set_truncate_and_isolate() {
        let mut l = [!0u64; 8];
        TFH_CTXNUM.set(&mut l, 0x1f3);
        assert_eq!(TFH_CTXNUM.get(&l), 3);
        assert_eq!(l[0], !(0xc << 48));
        TFH_MISSVADDR.set(&mut l, 0x1234);
        assert_eq!(TFH_MISSVADDR.get(&l), 0x1234);
        assert_eq!(line_mask(&[HDL_CMD, HDL_STATUS, TFH_STALE])[..6], [0x30001, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn lines_round_trip_at_their_positions() {
        let tfh = Tfh {
            delresp: true,
            opc: 3,
            status: 1,
            state: 3,
            cause: 2,
            indexway: 0,
            ctxnum: 9,
            missvaddr: 0xdead_0000_1000,
            missasid: 0xabcdef,
            fillasid: 0x123456,
            dirty: true,
            gaa: 2,
            pfn: (1 << 41) - 1,
            pagesize: 5,
            fillvaddr: 0x7fff_0000_0000_1000,
            stale: true,
        };
        let l = tfh.encode();
        assert_eq!(Tfh::decode(&l), tfh);
        assert_eq!(l[0], 2 | 3 << 4 | 1 << 16 | 3 << 20 | 2 << 24 | 9 << 48);
        assert_eq!(l[2], 0xabcdef | 0x123456 << 32 | 1 << 56 | 2 << 57);
        assert_eq!(l[3], ((1 << 41) - 1) | (5 << 48));
        assert_eq!(l[5], 1);
        let tgh = Tgh {
            delresp: false,
            opc: 1,
            status: 2,
            state: 0,
            cause: 0,
            vaddr: 0x1000,
            asid: 8,
            pagesize: 0,
            global: true,
            vaddrmask: (1 << 39) - 1,
            n: 1023,
            ctxbitmap: 0x8001,
        };
        let l = tgh.encode();
        assert_eq!(Tgh::decode(&l), tgh);
        assert_eq!((l[0], l[2], l[3], l[4]), (4 | 2 << 16, 8 | 1 << 48, ((1 << 39) - 1) | (1023 << 48), 0x8001));
        let cch = Cch {
            opc: 2,
            tfm_fault_bit_enable: true,
            tlb_int_enable: true,
            tlb_int_select: 15,
            unmap_enable: true,
            asid: [1, 2, 3, 4, 5, 6, 7, 8],
            sizeavail: [0x21, 1, 2, 3, 4, 5, 6, 0xffff],
            ..Cch::default()
        };
        let l = cch.encode();
        assert_eq!(Cch::decode(&l), cch);
        assert_eq!(l[0], 2 << 4 | 1 << 32 | 1 << 33 | 15 << 36 | 1 << 40);
        assert_eq!((l[1], l[4]), (1 | 2 << 32, 7 | 8 << 32));
        assert_eq!((l[5], l[6]), (0x21 | 1 << 16 | 2 << 32 | 3 << 48, 4 | 5 << 16 | 6 << 32 | 0xffff << 48));
        let tfm = Tfm { fault: 1 << 127 | 1, done: 1 << 64 };
        let l = tfm.encode();
        assert_eq!(Tfm::decode(&l), tfm);
        assert_eq!(l, [1, 1 << 63, 0, 0, 0, 1, 0, 0]);
        let stats = Stats { hits: 1, misses: 2, tlbmod: 3, dropins: 4, stale: 5, purges: 6, purged: 7, mmio_errors: 8 };
        assert_eq!(stats.encode(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(Stats::decode(&stats.encode()), stats);
    }

    #[test]
    fn start_sets_cmd_and_active() {
        assert_eq!(start([0; 8])[0], 0x20001);
        assert_eq!(start([0x30, 7, 0, 0, 0, 0, 0, 0]), [0x20031, 7, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn addresses() {
        assert_eq!((tfm_addr(15), tgh_addr(23), tfh_addr(127), cch_addr(15)), (0xf00, 0x9700, 0x1ff00, 0x20f00));
        assert_eq!(STAT_ADDR, 0x28000);
    }

    #[test]
    fn codes_decode_or_fail_typed() {
        assert_eq!(TfhOpc::try_from(7), Ok(TfhOpc::UserPollingMode));
        assert_eq!(TfhOpc::try_from(5), Err(CodeError { kind: "TFH opcode", value: 5 }));
        assert_eq!(CchOpc::try_from(0).unwrap_err().to_string(), "0 is not a valid CCH opcode code");
        assert!(TfhState::MissFmm.is_pending() && !TfhState::Idle.is_pending());
        assert_eq!(CbStatus::try_from(3), Ok(CbStatus::CallOs));
        assert!(CbStatus::try_from(2).is_err());
    }

    #[test]
    fn page_sizes_follow_the_driver_formula() {
        let shifts = [12, 14, 16, 18, 20, 21, 22, 24, 26];
        for (code, &s) in shifts.iter().enumerate() {
            let ps = PageSize::code_from_shift(s).unwrap();
            assert_eq!(ps.code(), code as u64);
            assert_eq!((ps.page_shift(), ps.bytes()), (s, 1 << s));
        }
        assert_eq!(PageSize::P2M.vpn_shift(), 9);
        for s in [0, 11, 13, 19, 23, 27, 40] {
            assert!(PageSize::code_from_shift(s).is_err(), "shift {s}");
        }
    }
}

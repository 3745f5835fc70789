//! What the driver sees of the GRU chiplets: the [`GruHardware`] trait.
//!
//! The driver runs as async tasks on the simulated kernel, so every port is non-blocking: an
//! MMIO line access is submitted, and its response polled for later (the driver's await loop
//! spends the cycles meanwhile). `gru-sim` implements the trait over the Verilated RTL and the
//! reference model; the driver never depends on either.

use serde::Serialize;

use super::handles::{self, Cch, Tfh, Tfm, Tgh};

/// Default MMIO round trip of the interconnect, in cycles *(model)*: half on the way to the
/// chiplet, half on the way back.
pub const DEFAULT_MMIO_LATENCY: u64 = 100;

/// One cacheline MMIO request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MmioRequest {
    /// A write (else a read).
    pub write: bool,
    /// Byte offset of the line in the handle space.
    pub addr: u32,
    /// Which 64-bit words a write carries (bit k = DW k).
    pub dwen: u8,
    /// The line (writes only).
    pub data: [u64; 8],
}

impl MmioRequest {
    /// A read of the line at `addr`.
    pub fn read(addr: u32) -> Self {
        Self { write: false, addr, dwen: 0, data: [0; 8] }
    }

    /// A full-line write of `data` at `addr`.
    pub fn write(addr: u32, data: [u64; 8]) -> Self {
        Self { write: true, addr, dwen: 0xff, data }
    }
}

/// The response to an [`MmioRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MmioResponse {
    /// The chiplet refused the access (unmapped offset, start on an ACTIVE handle, reserved
    /// opcode).
    pub err: bool,
    /// The line read (zero for writes and errors).
    pub data: [u64; 8],
}

/// Identifies a submitted MMIO request until its response is collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MmioTicket(pub u64);

/// A CB instruction of a user thread: one 8-byte load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CbRequest {
    /// Which CBR issues it.
    pub cbr: u8,
    /// User virtual address.
    pub vaddr: u64,
    /// A store (else a load).
    pub write: bool,
    /// Store data.
    pub wdata: u64,
}

/// A CB completion seen on the CB port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CbCompletion {
    /// Cycle it was seen.
    pub cycle: u64,
    /// The CBR.
    pub cbr: u8,
    /// CB istatus ([`handles::CbStatus`] code).
    pub status: u8,
    /// TFH cause code.
    pub cause: u8,
    /// Load data.
    pub rdata: u64,
}

/// Errors of the hardware ports themselves (not of the operations they carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HwError {
    /// There is no chiplet with this index.
    #[error("chiplet {chiplet} does not exist (there are {count})")]
    NoSuchChiplet {
        /// The index asked for.
        chiplet: usize,
        /// How many chiplets there are.
        count: usize,
    },
}

/// The chiplets as the driver sees them. Methods take `&self`: the hardware is shared between
/// the driver's tasks and the kernel's cycle loop, which ticks it.
pub trait GruHardware {
    /// Number of chiplets.
    fn num_chiplets(&self) -> usize;
    /// Submit an MMIO line access to `chiplet`.
    fn mmio_submit(&self, chiplet: usize, req: MmioRequest) -> Result<MmioTicket, HwError>;
    /// The response to `ticket` once it has arrived (then forgotten), else `None`.
    fn mmio_poll(&self, ticket: MmioTicket) -> Option<MmioResponse>;
    /// A cycle before which [`GruHardware::mmio_poll`] certainly returns `None` for `ticket`
    /// (the cycle its response becomes visible, or a lower bound while the request is still
    /// on its way), if the hardware knows one. Lets a waiting task spin without being polled.
    fn mmio_visible_from(&self, _ticket: MmioTicket) -> Option<u64> {
        None
    }
    /// The interrupt lines of `chiplet`, bit m for fault map m (0 for a chiplet that does not
    /// exist).
    fn irq_lines(&self, chiplet: usize) -> u16;
    /// Queue a user CB instruction on `chiplet`.
    fn cb_issue(&self, chiplet: usize, req: CbRequest) -> Result<(), HwError>;
    /// Take the oldest completion of `cbr` on `chiplet`, if one arrived.
    fn cb_take(&self, chiplet: usize, cbr: u8) -> Option<CbCompletion>;
}

/// A handle line decoded by the kind its address names, for traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DecodedLine {
    /// A TLB global handle, with its index.
    Tgh(usize, Tgh),
    /// A TLB fault handle, with its CBR.
    Tfh(usize, Tfh),
    /// A context configuration handle, with its context number.
    Cch(usize, Cch),
    /// A fault map, with its index.
    Tfm(usize, Tfm),
    /// The statistics line.
    Stat(handles::Stats),
    /// An offset that names no handle.
    Unmapped,
}

impl DecodedLine {
    /// Decode `line` as the handle at `addr`.
    pub fn decode(addr: u32, line: &[u64; 8]) -> Self {
        let index = |base: u32, count: usize| {
            let off = addr.checked_sub(base)?;
            let i = (off / handles::HS_STRIDE) as usize;
            (off % handles::HS_STRIDE == 0 && i < count).then_some(i)
        };
        if let Some(i) = index(handles::HS_TGH_BASE, handles::HS_TGH_COUNT) {
            DecodedLine::Tgh(i, Tgh::decode(line))
        } else if let Some(i) = index(handles::HS_TFH_BASE, handles::HS_TFH_COUNT) {
            DecodedLine::Tfh(i, Tfh::decode(line))
        } else if let Some(i) = index(handles::HS_CCH_BASE, handles::HS_CCH_COUNT) {
            DecodedLine::Cch(i, Cch::decode(line))
        } else if let Some(i) = index(handles::HS_TFM_BASE, handles::HS_TFM_COUNT) {
            DecodedLine::Tfm(i, Tfm::decode(line))
        } else if addr == handles::STAT_ADDR {
            DecodedLine::Stat(handles::Stats::decode(line))
        } else {
            DecodedLine::Unmapped
        }
    }
}

/// One MMIO transaction as the chiplet saw it, for golden traces and MMIO counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MmioEvent {
    /// Cycle the chiplet took the request.
    pub cycle: u64,
    /// The chiplet.
    pub chiplet: usize,
    /// The request.
    pub req: MmioRequest,
    /// The written line (writes) or the line read (reads), decoded.
    pub line: DecodedLine,
    /// The chiplet answered with err.
    pub err: bool,
}

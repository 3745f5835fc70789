//! The hardware ABI of `gru_chiplet`: every handle's layout, its codes, the handle map and the
//! debug-port entry layout, generated from one table (`abi/gru_abi.toml`, which also generates
//! the RTL's `rtl/gru_defs.vh`), plus the arithmetic both sides of the interface share: page
//! sizes, the CBR/context split, the TLB lookup and the purge match.
//!
//! Handle lines are 512-bit [`Line`]s (`bitvec` arrays of eight 64-bit words); the generated
//! typed structs ([`Tgh`], [`Tfh`], [`Cch`], [`Tfm`], [`Stats`]) hold raw field values (an
//! encoded line may carry any bit pattern, so decoding is total); convert codes with the
//! enums' `TryFrom<u64>`. Nothing outside this crate shifts or masks a handle field.

use bitvec::array::BitArray;
use bitvec::field::BitField as _;
use bitvec::order::Lsb0;
use bitvec::view::BitView as _;

#[rustfmt::skip]
mod generated {
    pub mod codes;
    pub mod layout;
    pub mod lines;
}

pub use generated::codes::*;
pub use generated::layout::*;
pub use generated::lines::*;

/// A 512-bit handle line: bit `64 * dw + b` is bit `b` of DW `dw`.
pub type Line = BitArray<[u64; 8], Lsb0>;

/// One field of a handle line: `width` bits at `lsb` of 64-bit word `dw`.
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

    /// The field's bits as a range of line bits.
    pub const fn bits(&self) -> std::ops::Range<usize> {
        let start = self.dw * 64 + self.lsb as usize;
        start..start + self.width as usize
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
    pub fn load(&self, line: &Line) -> u64 {
        line[self.bits()].load_le()
    }

    /// Store `v` (truncated to the field's width) into `line`, leaving other bits alone.
    pub fn store(&self, line: &mut Line, v: u64) {
        line[self.bits()].store_le(v & self.value_mask());
    }

    /// The field's value in the words of a line.
    pub fn get(&self, words: &[u64; 8]) -> u64 {
        words.view_bits::<Lsb0>()[self.bits()].load_le()
    }

    /// Store `v` (truncated to the field's width) into the words of a line.
    pub fn set(&self, words: &mut [u64; 8], v: u64) {
        words.view_bits_mut::<Lsb0>()[self.bits()].store_le(v & self.value_mask());
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

/// A field of the debug port's TLB entry: `width` bits at bit `lsb` of the whole entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DbgField {
    /// Position of the least significant bit in the entry.
    pub lsb: u32,
    /// Width in bits (1..=64).
    pub width: u32,
}

impl DbgField {
    /// A field of `width` bits at bit `lsb`.
    pub const fn new(lsb: u32, width: u32) -> Self {
        DbgField { lsb, width }
    }

    fn bits(&self) -> std::ops::Range<usize> {
        self.lsb as usize..(self.lsb + self.width) as usize
    }

    /// The field's value in the entry's words.
    pub fn load<const N: usize>(&self, words: &[u64; N]) -> u64 {
        words.view_bits::<Lsb0>()[self.bits()].load_le()
    }

    /// Store `v` (truncated to the field's width) into the entry's words.
    pub fn store<const N: usize>(&self, words: &mut [u64; N], v: u64) {
        let mask = if self.width >= 64 { u64::MAX } else { (1u64 << self.width) - 1 };
        words.view_bits_mut::<Lsb0>()[self.bits()].store_le(v & mask);
    }
}

/// `line` with the start bit and status ACTIVE set in DW0 — the driver's `DW0 | 0x20001`
/// start write.
pub fn start(mut line: [u64; 8]) -> [u64; 8] {
    HDL_CMD.set(&mut line, 1);
    HDL_STATUS.set(&mut line, HandleStatus::Active as u64);
    line
}

/// A field held a value that is not a code of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value} is not a valid {kind} code")]
pub struct CodeError {
    /// Which kind of code was decoded.
    pub kind: &'static str,
    /// The offending value.
    pub value: u64,
}

impl TfhState {
    /// A miss is pending: MISS_UPM, MISS_FMM or HW_ERR.
    pub const fn is_pending(self) -> bool {
        matches!(self, TfhState::MissUpm | TfhState::MissFmm | TfhState::HwErr)
    }
}

impl PageSize {
    /// log2 of the page size in 4K units (the shift applied to VPNs).
    pub const fn vpn_shift(self) -> u32 {
        PAGE_SHIFTS[self as usize]
    }

    /// log2 of the page size in bytes.
    pub const fn page_shift(self) -> u32 {
        PAGE_SHIFT + self.vpn_shift()
    }

    /// Page size in bytes.
    pub const fn bytes(self) -> u64 {
        1 << self.page_shift()
    }

    /// The VPN shift of a raw page-size code as a purge reads it: codes beyond
    /// [`PS_MAX_CODE`] count as 4K.
    pub fn vpn_shift_of(code: u8) -> u32 {
        PageSize::try_from(u64::from(code)).map_or(0, PageSize::vpn_shift)
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

/// CBRs per context at the default parameters: CBR `c` belongs to context `c / CBR_PER_CTX`.
pub const CBR_PER_CTX: usize = HS_TFH_COUNT / HS_CCH_COUNT;

/// The context of CBR `cbr` when each context owns `cbr_per_ctx` CBRs (a static split).
pub const fn ctx_of_cbr(cbr: usize, cbr_per_ctx: usize) -> usize {
    cbr / cbr_per_ctx
}

/// CBR `cb` (0-based within its context) of context `ctx`.
pub const fn cbr_of(ctx: usize, cb: usize, cbr_per_ctx: usize) -> usize {
    ctx * cbr_per_ctx + cb
}

/// Bit mask of the CBRs of context `ctx` among 128.
pub const fn ctx_cbrs(ctx: usize, cbr_per_ctx: usize) -> u128 {
    (u128::MAX >> (128 - cbr_per_ctx)) << (ctx * cbr_per_ctx)
}

/// The region of `vaddr` (`vaddr[62:61]`), which picks the CCH's ASID and sizeavail.
pub const fn region(vaddr: u64) -> usize {
    ((vaddr >> REGION_LSB) & ((1 << REGION_W) - 1)) as usize
}

/// Half-open ranges `a` and `b` intersect.
pub const fn overlap(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

impl TlbEntry {
    /// log2 of the page size in 4K units.
    pub fn shift(&self) -> u32 {
        PAGE_SHIFTS[usize::from(self.ps)]
    }

    /// The entry's page as a half-open VPN range.
    pub fn vpn_range(&self) -> (u64, u64) {
        (self.vpn, self.vpn + (1 << self.shift()))
    }

    /// A lookup of `vpn` by context `ctx` under `asid` hits this entry (MICROARCH §5).
    pub fn hits(&self, ctx: u8, asid: u32, vpn: u64) -> bool {
        self.valid && self.ctx == ctx && self.asid == asid && vpn >> self.shift() == self.vpn >> self.shift()
    }

    /// This entry holds exactly what a dropin of `tfh` by context `ctx` installs.
    pub fn is_dropin(&self, ctx: u8, tfh: &Tfh) -> bool {
        let shift = self.shift();
        self.valid
            && self.ctx == ctx
            && self.asid == tfh.fillasid
            && self.ps == tfh.pagesize
            && self.pfn == tfh.pfn
            && self.dirty == tfh.dirty
            && self.vpn >> shift == (tfh.fillvaddr >> PAGE_SHIFT) >> shift
    }
}

/// Mask of the purge compare keys, vaddr[50:12] (the width of `vaddrmask`).
const KEY_MASK: u64 = TGH_VADDRMASK.value_mask();

/// The purge match of one TGH invalidate (DESIGN §3.2, MICROARCH §7), precomputed from its
/// fields: the one definition of which entries a TGH purges.
#[derive(Clone, Copy, Debug)]
pub struct PurgeMatch {
    ctxbitmap: u16,
    global: bool,
    asid: u32,
    all: bool,
    vaddrmask: u64,
    /// Purge range `[s, e)` in masked-key units.
    range: (u64, u64),
}

impl PurgeMatch {
    /// The match of TGH `t`. A pagesize code beyond [`PS_MAX_CODE`] counts as 4K.
    pub fn new(t: &Tgh) -> Self {
        let shift = PageSize::vpn_shift_of(t.pagesize);
        let s = ((t.vaddr >> PAGE_SHIFT) & KEY_MASK & t.vaddrmask) >> shift << shift;
        PurgeMatch {
            ctxbitmap: t.ctxbitmap,
            global: t.global,
            asid: t.asid,
            all: t.n == TGH_FULL_PURGE_N,
            vaddrmask: t.vaddrmask,
            range: (s, s + ((u64::from(t.n) + 1) << shift)),
        }
    }

    /// Entry `e` is purged: valid, of a context in the bitmap, under the ASID (any if global),
    /// and its page, whatever its size, overlaps the range under the mask.
    pub fn matches(&self, e: &TlbEntry) -> bool {
        e.valid
            && self.ctxbitmap >> e.ctx & 1 != 0
            && (self.global || e.asid == self.asid)
            && (self.all || overlap(self.key_range(e), self.range))
    }

    /// Entry `e` is purged although its page begins below the range (a huge entry that only
    /// part of the range overlaps): the case a base-only compare would miss.
    pub fn matches_from_below(&self, e: &TlbEntry) -> bool {
        self.matches(e) && !self.all && self.key_range(e).0 < self.range.0
    }

    /// The entry's page in masked-key units.
    fn key_range(&self, e: &TlbEntry) -> (u64, u64) {
        let sh = e.shift();
        let es = (e.vpn & KEY_MASK & self.vaddrmask) >> sh << sh;
        (es, es + (1 << sh))
    }
}

#[cfg(test)]
mod tests;

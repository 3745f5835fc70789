//! The MMIO port: decode, reads and writes of the handle space (MICROARCH §4).

use super::RefModel;
use crate::handles::*;
use crate::ports::PortsIn;

/// Why a request got the `err` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum MmioError {
    #[error("address not 64-byte aligned")]
    Unaligned,
    #[error("address maps no handle line")]
    Unmapped,
    #[error("TFM and STAT are read-only")]
    ReadOnly,
    #[error("start on an ACTIVE handle")]
    StartActive,
    #[error("reserved opcode")]
    ReservedOpc,
}

/// A decoded handle address.
#[derive(Clone, Copy)]
enum Handle {
    Tfm(usize),
    Tgh(usize),
    Tfh(usize),
    Cch(usize),
    Stat,
}

/// A handle region: base, handle count, and the handle at an index.
type Region = (u32, usize, fn(usize) -> Handle);

/// Software-writable bits of a TGH line.
const TGH_SW: [u64; 8] = line_mask(&[
    HDL_DELRESP,
    TGH_OPC,
    TGH_VADDR,
    TGH_ASID,
    TGH_PAGESIZE,
    TGH_GLOBAL,
    TGH_VADDRMASK,
    TGH_N,
    TGH_CTXBITMAP,
]);
/// Software-writable bits of a TFH line.
const TFH_SW: [u64; 8] =
    line_mask(&[HDL_DELRESP, TFH_OPC, TFH_FILLASID, TFH_DIRTY, TFH_GAA, TFH_PFN, TFH_PAGESIZE, TFH_FILLVADDR]);
/// Software-writable bits of a CCH line: everything but status and state.
const CCH_SW: [u64; 8] = {
    let mut m = line_mask(&[
        HDL_DELRESP,
        CCH_OPC,
        CCH_TFM_FAULT_BIT_ENABLE,
        CCH_TLB_INT_ENABLE,
        CCH_TLB_INT_SELECT,
        CCH_UNMAP_ENABLE,
    ]);
    let a = line_mask(&CCH_ASID);
    let s = line_mask(&CCH_SIZEAVAIL);
    let mut k = 0;
    while k < 8 {
        m[k] |= a[k] | s[k];
        k += 1;
    }
    m
};

/// `cur` with the software bits `sw` of the DWs enabled in `dwen` taken from `data`.
fn merge(mut cur: [u64; 8], data: &[u64; 8], dwen: u8, sw: &[u64; 8]) -> [u64; 8] {
    for k in (0..8).filter(|k| dwen >> k & 1 != 0) {
        cur[k] = (cur[k] & !sw[k]) | (data[k] & sw[k]);
    }
    cur
}

/// Whether a write starts the handle, or the error if it may not.
fn check_start(dwen: u8, data: &[u64; 8], status: u8) -> Result<bool, MmioError> {
    let cmd = dwen & 1 != 0 && HDL_CMD.get(data) != 0;
    if cmd && status == HandleStatus::Active as u8 {
        return Err(MmioError::StartActive);
    }
    Ok(cmd)
}

/// What a write leaves for the merge at the end of the edge.
#[derive(Default)]
pub(super) struct MmioFx {
    /// TLB entry to write after the purge clears, with its target index.
    pub install: Option<(usize, TlbEntry)>,
    /// A TGH started: pending TFHs of these contexts go stale.
    pub stale_mark: Option<u16>,
}

impl RefModel {
    fn decode(&self, addr: u32) -> Result<Handle, MmioError> {
        if addr & 63 != 0 {
            return Err(MmioError::Unaligned);
        }
        let p = &self.params;
        let regions: [Region; 5] = [
            (HS_TFM_BASE, p.num_tfm, Handle::Tfm),
            (HS_TGH_BASE, p.num_tgh, Handle::Tgh),
            (HS_TFH_BASE, p.num_cbr, Handle::Tfh),
            (HS_CCH_BASE, p.num_ctx, Handle::Cch),
            (HS_STAT_BASE, HS_STAT_COUNT, |_| Handle::Stat),
        ];
        for (base, count, handle) in regions {
            let Some(off) = addr.checked_sub(base) else { continue };
            let i = (off / HS_STRIDE) as usize;
            if i < count {
                return if off % HS_STRIDE == 0 { Ok(handle(i)) } else { Err(MmioError::Unmapped) };
            }
        }
        Err(MmioError::Unmapped)
    }

    /// The request at this edge (§4). Reads see the pre-edge state; a TFM read clears its map
    /// before the engine's new bits are merged.
    pub(super) fn mmio(&mut self, inp: &PortsIn) -> Result<([u64; 8], MmioFx), MmioError> {
        let h = self.decode(inp.mmio_req_addr)?;
        if !inp.mmio_req_write {
            let line = match h {
                Handle::Tfm(m) => self.tfm.read_clear(m),
                Handle::Tgh(g) => self.purge.tgh[g].encode(),
                Handle::Tfh(t) => self.tfh.tfh[t].encode(),
                Handle::Cch(c) => self.cch.cch[c].encode(),
                Handle::Stat => self.stats.line(),
            };
            return Ok((line, MmioFx::default()));
        }
        let (dwen, data) = (inp.mmio_req_dwen, &inp.mmio_req_data);
        let fx = match h {
            Handle::Tfm(_) | Handle::Stat => return Err(MmioError::ReadOnly),
            Handle::Tgh(g) => {
                let tgh = &mut self.purge.tgh[g];
                let start = check_start(dwen, data, tgh.status)?;
                *tgh = Tgh::decode(&merge(tgh.encode(), data, dwen, &TGH_SW));
                MmioFx { stale_mark: if start { self.purge.start(g) } else { None }, install: None }
            }
            Handle::Tfh(t) => {
                let tfh = &mut self.tfh.tfh[t];
                let opc = opcode::<TfhOpc>(check_start(dwen, data, tfh.status)?, TFH_OPC, data)?;
                *tfh = Tfh::decode(&merge(tfh.encode(), data, dwen, &TFH_SW));
                let Some(opc) = opc else { return Ok(([0; 8], MmioFx::default())) };
                let o = self.tfh.command(t, opc, &self.cch.cch, &mut self.stats);
                if o.restart {
                    self.engine.restart(t);
                }
                if let Some((status, cause)) = o.complete {
                    self.engine.complete(t, status, cause);
                }
                MmioFx { install: o.install.map(|e| (self.tlb.install_target(&e), e)), stale_mark: None }
            }
            Handle::Cch(c) => {
                let cch = &mut self.cch.cch[c];
                let opc = opcode::<CchOpc>(check_start(dwen, data, cch.status)?, CCH_OPC, data)?;
                *cch = Cch::decode(&merge(cch.encode(), data, dwen, &CCH_SW));
                if let Some(opc) = opc {
                    let per = self.params.cbr_per_ctx();
                    let fault_pending = self.tfh.any_pending(cbr_of(c, 0, per)..cbr_of(c + 1, 0, per));
                    self.cch.command(c, opc, fault_pending);
                }
                MmioFx::default()
            }
        };
        Ok(([0; 8], fx))
    }
}

/// The opcode a starting write carries (None without a start), or the reserved-opcode error.
fn opcode<T: TryFrom<u64>>(start: bool, f: Field, data: &[u64; 8]) -> Result<Option<T>, MmioError> {
    start.then(|| T::try_from(f.get(data)).map_err(|_| MmioError::ReservedOpc)).transpose()
}

//! The chiplet's ports as two plain structs, shared with the C++ harness through `cxx`.
//!
//! One call per cycle carries every input and returns every output (DESIGN §2: one FFI call per
//! port would cost ~40%). Wide ports are arrays of 64-bit words, word k = bits [64k+63:64k].
//! The cycle contract (what each output means, when it changes) is docs/MICROARCH.md.

#[cxx::bridge(namespace = "gru")]
pub mod ffi {
    /// Every input port of `gru_chiplet` for one cycle (the clock is implied).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct PortsIn {
        /// Active-low synchronous reset.
        pub rst_n: bool,
        pub mmio_req_valid: bool,
        pub mmio_req_write: bool,
        /// Byte offset of a 64-byte line in the handle space.
        pub mmio_req_addr: u32,
        /// Bit k: the write carries DW k.
        pub mmio_req_dwen: u8,
        pub mmio_req_data: [u64; 8],
        pub cb_req_valid: bool,
        pub cb_req_cbr: u8,
        pub cb_req_vaddr: u64,
        pub cb_req_write: bool,
        pub cb_req_wdata: u64,
        pub mem_req_ready: bool,
        pub mem_rsp_valid: bool,
        pub mem_rsp_tag: u8,
        pub mem_rsp_rdata: u64,
        /// Code of the current software event; only visible in waveforms.
        pub dbg_event: u64,
        /// TLB entry shown on `dbg_tlb_entry`.
        pub dbg_tlb_idx: u8,
    }

    /// Every output port of `gru_chiplet`, as seen after a clock edge.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct PortsOut {
        pub mmio_req_ready: bool,
        pub mmio_rsp_valid: bool,
        pub mmio_rsp_err: bool,
        pub mmio_rsp_data: [u64; 8],
        pub cb_req_ready: bool,
        pub cb_cmp_valid: bool,
        pub cb_cmp_cbr: u8,
        pub cb_cmp_status: u8,
        pub cb_cmp_cause: u8,
        pub cb_cmp_rdata: u64,
        pub mem_req_valid: bool,
        pub mem_req_paddr: u64,
        pub mem_req_write: bool,
        pub mem_req_wdata: u64,
        pub mem_req_tag: u8,
        pub irq: u16,
        /// TLB entry `dbg_tlb_idx` in the layout of docs/MICROARCH.md §3.
        pub dbg_tlb_entry: [u64; 2],
    }
}

pub use ffi::{PortsIn, PortsOut};

/// Anything that advances a chiplet by one clock cycle at its ports: the Verilated RTL, the
/// reference model, or both in lockstep.
pub trait CycleModel {
    /// Drive `inp`, apply one rising clock edge and return the outputs after it.
    fn cycle(&mut self, inp: &PortsIn) -> &PortsOut;
    /// Cycles applied since construction.
    fn cycles(&self) -> u64;
    /// TLB entry `idx` as the combinational debug port shows it now, without a clock edge
    /// (layout of docs/MICROARCH.md §3; 0 beyond the last entry).
    fn peek_tlb(&mut self, idx: u8) -> [u64; 2];
}

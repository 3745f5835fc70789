// gru_defs.vh -- every constant and handle field position of gru_chiplet (docs/MICROARCH.md).
//
// Included *inside* each module body, so each module gets its own copy of the localparams.
// Deliberately no include guard: a `define guard is global to the compilation and would leave
// every module after the first without the constants.
//
// Format contract: a Rust test parses this file and compares it with the Rust table, so every
// constant is `localparam NAME = <value>;` on one line (decimal or Verilog hex), no ranges.
// Fields: NAME_DW = 64-bit dword index in the handle line, NAME_LSB = lsb within that dword,
// NAME_W = width.

/* verilator lint_off UNUSEDPARAM */
// Waived: every module includes the whole table and uses only its own subset.

// ---- Handle space (byte offsets, each handle one 64-byte line at a 256-byte stride) ----
localparam HS_TFM_BASE = 'h00000;
localparam HS_TGH_BASE = 'h08000;
localparam HS_TFH_BASE = 'h18000;
localparam HS_CCH_BASE = 'h20000;
localparam HS_STAT_BASE = 'h28000;
localparam HS_STRIDE = 256;
localparam HS_STAT_COUNT = 1;
localparam HS_LINE_BYTES = 64;

// ---- Line geometry ----
localparam DW_W = 64;
localparam LINE_DWS = 8;
localparam LINE_W = 512;

// ---- DW0 fields common to TGH/TFH/CCH ----
localparam HDL_CMD_DW = 0;
localparam HDL_CMD_LSB = 0;
localparam HDL_CMD_W = 1;
localparam HDL_DELRESP_DW = 0;
localparam HDL_DELRESP_LSB = 1;
localparam HDL_DELRESP_W = 1;
localparam HDL_STATUS_DW = 0;
localparam HDL_STATUS_LSB = 16;
localparam HDL_STATUS_W = 2;
localparam HDL_STATE_DW = 0;
localparam HDL_STATE_LSB = 20;
localparam HDL_STATE_W = 3;

// ---- TGH (TLB global handle) ----
localparam TGH_OPC_DW = 0;
localparam TGH_OPC_LSB = 2;
localparam TGH_OPC_W = 1;
localparam TGH_CAUSE_DW = 0;
localparam TGH_CAUSE_LSB = 24;
localparam TGH_CAUSE_W = 3;
localparam TGH_VADDR_DW = 1;
localparam TGH_VADDR_LSB = 0;
localparam TGH_VADDR_W = 64;
localparam TGH_ASID_DW = 2;
localparam TGH_ASID_LSB = 0;
localparam TGH_ASID_W = 24;
localparam TGH_PAGESIZE_DW = 2;
localparam TGH_PAGESIZE_LSB = 32;
localparam TGH_PAGESIZE_W = 5;
localparam TGH_GLOBAL_DW = 2;
localparam TGH_GLOBAL_LSB = 48;
localparam TGH_GLOBAL_W = 1;
localparam TGH_VADDRMASK_DW = 3;
localparam TGH_VADDRMASK_LSB = 0;
localparam TGH_VADDRMASK_W = 39;
localparam TGH_N_DW = 3;
localparam TGH_N_LSB = 48;
localparam TGH_N_W = 10;
localparam TGH_CTXBITMAP_DW = 4;
localparam TGH_CTXBITMAP_LSB = 0;
localparam TGH_CTXBITMAP_W = 16;

// ---- TFH (TLB fault handle, one per CBR) ----
localparam TFH_OPC_DW = 0;
localparam TFH_OPC_LSB = 4;
localparam TFH_OPC_W = 3;
localparam TFH_CAUSE_DW = 0;
localparam TFH_CAUSE_LSB = 24;
localparam TFH_CAUSE_W = 6;
localparam TFH_INDEXWAY_DW = 0;
localparam TFH_INDEXWAY_LSB = 32;
localparam TFH_INDEXWAY_W = 12;
localparam TFH_CTXNUM_DW = 0;
localparam TFH_CTXNUM_LSB = 48;
localparam TFH_CTXNUM_W = 4;
localparam TFH_MISSVADDR_DW = 1;
localparam TFH_MISSVADDR_LSB = 0;
localparam TFH_MISSVADDR_W = 64;
localparam TFH_MISSASID_DW = 2;
localparam TFH_MISSASID_LSB = 0;
localparam TFH_MISSASID_W = 24;
localparam TFH_FILLASID_DW = 2;
localparam TFH_FILLASID_LSB = 32;
localparam TFH_FILLASID_W = 24;
localparam TFH_DIRTY_DW = 2;
localparam TFH_DIRTY_LSB = 56;
localparam TFH_DIRTY_W = 1;
localparam TFH_GAA_DW = 2;
localparam TFH_GAA_LSB = 57;
localparam TFH_GAA_W = 2;
localparam TFH_PFN_DW = 3;
localparam TFH_PFN_LSB = 0;
localparam TFH_PFN_W = 41;
localparam TFH_PAGESIZE_DW = 3;
localparam TFH_PAGESIZE_LSB = 48;
localparam TFH_PAGESIZE_W = 5;
localparam TFH_FILLVADDR_DW = 4;
localparam TFH_FILLVADDR_LSB = 0;
localparam TFH_FILLVADDR_W = 64;
localparam TFH_STALE_DW = 5;
localparam TFH_STALE_LSB = 0;
localparam TFH_STALE_W = 1;

// ---- CCH (context configuration handle) ----
localparam CCH_OPC_DW = 0;
localparam CCH_OPC_LSB = 4;
localparam CCH_OPC_W = 3;
localparam CCH_TFM_FAULT_BIT_ENABLE_DW = 0;
localparam CCH_TFM_FAULT_BIT_ENABLE_LSB = 32;
localparam CCH_TFM_FAULT_BIT_ENABLE_W = 1;
localparam CCH_TLB_INT_ENABLE_DW = 0;
localparam CCH_TLB_INT_ENABLE_LSB = 33;
localparam CCH_TLB_INT_ENABLE_W = 1;
localparam CCH_TLB_INT_SELECT_DW = 0;
localparam CCH_TLB_INT_SELECT_LSB = 36;
localparam CCH_TLB_INT_SELECT_W = 4;
localparam CCH_UNMAP_ENABLE_DW = 0;
localparam CCH_UNMAP_ENABLE_LSB = 40;
localparam CCH_UNMAP_ENABLE_W = 1;
localparam CCH_ASID0_DW = 1;
localparam CCH_ASID0_LSB = 0;
localparam CCH_ASID0_W = 24;
localparam CCH_ASID1_DW = 1;
localparam CCH_ASID1_LSB = 32;
localparam CCH_ASID1_W = 24;
localparam CCH_ASID2_DW = 2;
localparam CCH_ASID2_LSB = 0;
localparam CCH_ASID2_W = 24;
localparam CCH_ASID3_DW = 2;
localparam CCH_ASID3_LSB = 32;
localparam CCH_ASID3_W = 24;
localparam CCH_ASID4_DW = 3;
localparam CCH_ASID4_LSB = 0;
localparam CCH_ASID4_W = 24;
localparam CCH_ASID5_DW = 3;
localparam CCH_ASID5_LSB = 32;
localparam CCH_ASID5_W = 24;
localparam CCH_ASID6_DW = 4;
localparam CCH_ASID6_LSB = 0;
localparam CCH_ASID6_W = 24;
localparam CCH_ASID7_DW = 4;
localparam CCH_ASID7_LSB = 32;
localparam CCH_ASID7_W = 24;
localparam CCH_SIZEAVAIL0_DW = 5;
localparam CCH_SIZEAVAIL0_LSB = 0;
localparam CCH_SIZEAVAIL0_W = 16;
localparam CCH_SIZEAVAIL1_DW = 5;
localparam CCH_SIZEAVAIL1_LSB = 16;
localparam CCH_SIZEAVAIL1_W = 16;
localparam CCH_SIZEAVAIL2_DW = 5;
localparam CCH_SIZEAVAIL2_LSB = 32;
localparam CCH_SIZEAVAIL2_W = 16;
localparam CCH_SIZEAVAIL3_DW = 5;
localparam CCH_SIZEAVAIL3_LSB = 48;
localparam CCH_SIZEAVAIL3_W = 16;
localparam CCH_SIZEAVAIL4_DW = 6;
localparam CCH_SIZEAVAIL4_LSB = 0;
localparam CCH_SIZEAVAIL4_W = 16;
localparam CCH_SIZEAVAIL5_DW = 6;
localparam CCH_SIZEAVAIL5_LSB = 16;
localparam CCH_SIZEAVAIL5_W = 16;
localparam CCH_SIZEAVAIL6_DW = 6;
localparam CCH_SIZEAVAIL6_LSB = 32;
localparam CCH_SIZEAVAIL6_W = 16;
localparam CCH_SIZEAVAIL7_DW = 6;
localparam CCH_SIZEAVAIL7_LSB = 48;
localparam CCH_SIZEAVAIL7_W = 16;
// The 8 ASIDs and the 8 sizeavail words are contiguous in the line at these bit strides
// (asid k at line bit CCH_ASID0_DW*64 + CCH_ASID0_LSB + k*CCH_ASID_STEP, likewise sizeavail).
localparam CCH_NUM_ASID = 8;
localparam CCH_ASID_STEP = 32;
localparam CCH_SIZEAVAIL_STEP = 16;

// ---- TFM (TLB fault map) ----
localparam TFM_FAULT0_DW = 0;
localparam TFM_FAULT0_LSB = 0;
localparam TFM_FAULT0_W = 64;
localparam TFM_FAULT1_DW = 1;
localparam TFM_FAULT1_LSB = 0;
localparam TFM_FAULT1_W = 64;
localparam TFM_DONE0_DW = 4;
localparam TFM_DONE0_LSB = 0;
localparam TFM_DONE0_W = 64;
localparam TFM_DONE1_DW = 5;
localparam TFM_DONE1_LSB = 0;
localparam TFM_DONE1_W = 64;
// CBRs a fault map can show (DW0-1 / DW4-5).
localparam TFM_MAP_BITS = 128;

// ---- Handle status (DW0[17:16]) ----
localparam HSTATUS_IDLE = 0;
localparam HSTATUS_EXCEPTION = 1;
localparam HSTATUS_ACTIVE = 2;

// ---- TFH opcodes / states / causes ----
localparam TFHOP_NOOP = 0;
localparam TFHOP_RESTART = 1;
localparam TFHOP_WRITE_ONLY = 2;
localparam TFHOP_WRITE_RESTART = 3;
localparam TFHOP_EXCEPTION = 4;
localparam TFHOP_USER_POLLING_MODE = 7;
localparam TFHSTATE_INACTIVE = 0;
localparam TFHSTATE_IDLE = 1;
localparam TFHSTATE_MISS_UPM = 2;
localparam TFHSTATE_MISS_FMM = 3;
localparam TFHSTATE_HW_ERR = 4;
localparam TFHSTATE_WRITE_TLB = 5;
localparam TFHSTATE_RESTART_CBR = 6;
localparam TFHCAUSE_NONE = 0;
localparam TFHCAUSE_TLB_MISS = 1;
localparam TFHCAUSE_TLB_MOD = 2;
localparam TFHCAUSE_HW_ERROR_PAGESIZE = 6;
localparam TFHCAUSE_INSTRUCTION_EXCEPTION = 7;

// ---- CCH opcodes / states ----
localparam CCHOP_ALLOCATE = 1;
localparam CCHOP_START = 2;
localparam CCHOP_INTERRUPT = 3;
localparam CCHOP_INTERRUPT_SYNC = 4;
localparam CCHOP_DEALLOCATE = 5;
localparam CCHSTATE_INACTIVE = 0;
localparam CCHSTATE_IDLE = 1;
localparam CCHSTATE_ACTIVE = 2;
localparam CCHSTATE_INTERRUPTED = 3;

// ---- TGH opcodes ----
localparam TGHOP_NOP = 0;
localparam TGHOP_INVALIDATE = 1;
// n == 1023 purges every entry of the ASID (the driver's full purge).
localparam TGH_FULL_PURGE_N = 1023;

// ---- CB completion status (CB istatus values) ----
localparam CBSTATUS_IDLE = 0;
localparam CBSTATUS_EXCEPTION = 1;
localparam CBSTATUS_CALL_OS = 3;

// ---- CB engine states ----
localparam E_IDLE = 0;
localparam E_LOOKUP = 1;
localparam E_MEM = 2;
localparam E_WAIT = 3;

// ---- Statistics: dword index of each 64-bit counter in the STAT line ----
localparam STAT_HITS = 0;
localparam STAT_MISSES = 1;
localparam STAT_TLBMOD = 2;
localparam STAT_DROPINS = 3;
localparam STAT_STALE = 4;
localparam STAT_PURGES = 5;
localparam STAT_PURGED = 6;
localparam STAT_MMIO_ERRORS = 7;
localparam STAT_NUM = 8;

// ---- Addresses and pages ----
localparam VADDR_W = 64;
localparam PAGE_SHIFT = 12;
// Region of a vaddr (selects the CCH ASID / sizeavail): vaddr[62:61].
localparam REGION_LSB = 61;
localparam REGION_W = 2;
// Page-size codes 0..8 = 4K,16K,64K,256K,1M,2M,4M,16M,64M; page bytes = 4096 << shift(code).
// PS_SHIFTS packs shift(code) in nibble `code`; codes > PS_MAX_CODE use shift 0 (TGH) or are
// refused (dropin).
localparam PS_MAX_CODE = 8;
localparam PS_SHIFTS = 36'hECA986420;
localparam PS_SHIFT_W = 4;

// ---- TLB entry fields ----
localparam TLB_CTX_W = 4;
localparam TLB_ASID_W = 24;
localparam TLB_VPN_W = 52;
localparam TLB_PS_W = 4;
localparam TLB_PFN_W = 41;

// ---- dbg_tlb_entry_o layout ----
localparam DBG_VALID_LSB = 0;
localparam DBG_CTX_LSB = 1;
localparam DBG_ASID_LSB = 5;
localparam DBG_VPN_LSB = 29;
localparam DBG_PS_LSB = 81;
localparam DBG_PFN_LSB = 85;
localparam DBG_DIRTY_LSB = 126;
localparam DBG_W = 128;

// ---- Memory port tag: {1'b0, cbr} ----
localparam MEM_TAG_W = 8;

/* verilator lint_on UNUSEDPARAM */

// gru_tfh -- the TLB fault handles, one per CBR (MICROARCH §5 miss latch, §6, §7 stale, §9.5).
//
// A TFH latches a CB's miss (from the CB engine) and is answered by software with a command:
// dropin (WRITE_ONLY / WRITE_RESTART), RESTART, EXCEPTION or USER_POLLING_MODE. The race guard:
// `stale` is set when an INVALIDATE covering the TFH's context was ACTIVE when the miss latched or
// starts while the miss is pending; a stale TFH installs nothing.
module gru_tfh #(
    parameter NUM_CTX = 16,
    parameter NUM_CBR = 128,
    parameter CBR_PER_CTX = NUM_CBR / NUM_CTX   // ctx(cbr) = cbr / CBR_PER_CTX
) (
    clk_i, rst_ni,
    sel_i, wr_i, idx_i, dwen_i, data_i, rd_line_o,
    cch_sizeavail_i,
    miss_i, miss_cbr_i, miss_cause_i, miss_vaddr_i, miss_asid_i, miss_ctx_i, miss_stale_i,
    miss_fmm_i,
    inval_start_i, inval_bitmap_i,
    ins_valid_o, ins_ctx_o, ins_asid_o, ins_vpn_o, ins_ps_o, ins_pfn_o, ins_dirty_o,
    restart_set_o, cmp_set_o, cmp_set_status_o, cmp_set_cause_o,
    stat_dropin_o, stat_stale_o,
    pend_en_i, pend_ctx_i, ctx_pending_o
);
`include "gru_defs.vh"

    localparam CBR_IW = $clog2(NUM_CBR);
    localparam CTX_IW = $clog2(NUM_CTX);
    localparam SA_PER_CTX = CCH_NUM_ASID * CCH_SIZEAVAIL0_W;   // sizeavail bits per context

    localparam P_CMD       = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam P_DELRESP   = HDL_DELRESP_DW*DW_W + HDL_DELRESP_LSB;
    localparam P_STATUS    = HDL_STATUS_DW*DW_W + HDL_STATUS_LSB;
    localparam P_STATE     = HDL_STATE_DW*DW_W + HDL_STATE_LSB;
    localparam P_OPC       = TFH_OPC_DW*DW_W + TFH_OPC_LSB;
    localparam P_CAUSE     = TFH_CAUSE_DW*DW_W + TFH_CAUSE_LSB;
    localparam P_CTXNUM    = TFH_CTXNUM_DW*DW_W + TFH_CTXNUM_LSB;
    localparam P_MISSVADDR = TFH_MISSVADDR_DW*DW_W + TFH_MISSVADDR_LSB;
    localparam P_MISSASID  = TFH_MISSASID_DW*DW_W + TFH_MISSASID_LSB;
    localparam P_FILLASID  = TFH_FILLASID_DW*DW_W + TFH_FILLASID_LSB;
    localparam P_DIRTY     = TFH_DIRTY_DW*DW_W + TFH_DIRTY_LSB;
    localparam P_GAA       = TFH_GAA_DW*DW_W + TFH_GAA_LSB;
    localparam P_PFN       = TFH_PFN_DW*DW_W + TFH_PFN_LSB;
    localparam P_PAGESIZE  = TFH_PAGESIZE_DW*DW_W + TFH_PAGESIZE_LSB;
    localparam P_FILLVADDR = TFH_FILLVADDR_DW*DW_W + TFH_FILLVADDR_LSB;
    localparam P_STALE     = TFH_STALE_DW*DW_W + TFH_STALE_LSB;

    input clk_i;
    input rst_ni;

    // An MMIO request addresses TFH idx_i (sel_i: rd_line_o is valid) and is an accepted write
    // (wr_i; errors already filtered out).
    input                 sel_i;
    input                 wr_i;
    input  [CBR_IW-1:0]   idx_i;
    input  [LINE_DWS-1:0] dwen_i;
    /* verilator lint_off UNUSED */
    // Whole cacheline in; a TFH maps only some of its bits.
    input  [LINE_W-1:0]   data_i;
    /* verilator lint_on UNUSED */
    output [LINE_W-1:0]   rd_line_o;

    input  [NUM_CTX*SA_PER_CTX-1:0] cch_sizeavail_i;

    // Miss latched by the CB engine at this edge.
    input                    miss_i;
    input  [CBR_IW-1:0]      miss_cbr_i;
    input  [TFH_CAUSE_W-1:0] miss_cause_i;
    input  [VADDR_W-1:0]     miss_vaddr_i;
    input  [TLB_ASID_W-1:0]  miss_asid_i;
    input  [TLB_CTX_W-1:0]   miss_ctx_i;
    input                    miss_stale_i;
    input                    miss_fmm_i;      // tfm_fault_bit_enable: MISS_FMM, else MISS_UPM

    // An INVALIDATE TGH starts at this edge, with this ctxbitmap.
    input                    inval_start_i;
    input  [NUM_CTX-1:0]     inval_bitmap_i;

    // Dropin for the TLB.
    output                   ins_valid_o;
    output [TLB_CTX_W-1:0]   ins_ctx_o;
    output [TLB_ASID_W-1:0]  ins_asid_o;
    output [TLB_VPN_W-1:0]   ins_vpn_o;
    output [TLB_PS_W-1:0]    ins_ps_o;
    output [TLB_PFN_W-1:0]   ins_pfn_o;
    output                   ins_dirty_o;

    // Requests to the CB engine for CBR idx_i.
    output                   restart_set_o;
    output                   cmp_set_o;
    output [1:0]             cmp_set_status_o;
    output [TFH_CAUSE_W-1:0] cmp_set_cause_o;

    output                   stat_dropin_o;
    output                   stat_stale_o;

    // Pre-edge: some TFH of context pend_ctx_i is pending (MISS_UPM, MISS_FMM or HW_ERR);
    // evaluated while pend_en_i (an MMIO request addresses CCH pend_ctx_i).
    input                    pend_en_i;
    input  [CTX_IW-1:0]      pend_ctx_i;
    output                   ctx_pending_o;

    // ---------------------------------------------------------------- state
    // Hardware-owned fields.
    reg [NUM_CBR*HDL_STATUS_W-1:0]   tfh_status_q, tfh_status_d;
    reg [NUM_CBR*HDL_STATE_W-1:0]    tfh_state_q, tfh_state_d;
    reg [NUM_CBR*TFH_CAUSE_W-1:0]    tfh_cause_q, tfh_cause_d;
    reg [NUM_CBR-1:0]                tfh_stale_q, tfh_stale_d;
    reg [NUM_CBR*TFH_MISSVADDR_W-1:0] tfh_missvaddr_q;
    reg [NUM_CBR*TFH_MISSASID_W-1:0] tfh_missasid_q;
    reg [NUM_CBR*TFH_CTXNUM_W-1:0]   tfh_ctxnum_q, tfh_ctxnum_d;
    // Software fields.
    reg [NUM_CBR*TFH_OPC_W-1:0]      tfh_opc_q;
    reg [NUM_CBR-1:0]                tfh_delresp_q;
    reg [NUM_CBR*TFH_FILLASID_W-1:0] tfh_fillasid_q;
    reg [NUM_CBR-1:0]                tfh_dirty_q;
    reg [NUM_CBR*TFH_GAA_W-1:0]      tfh_gaa_q;
    reg [NUM_CBR*TFH_PFN_W-1:0]      tfh_pfn_q;
    reg [NUM_CBR*TFH_PAGESIZE_W-1:0] tfh_pagesize_q;
    reg [NUM_CBR*TFH_FILLVADDR_W-1:0] tfh_fillvaddr_q;

    function is_pending;
        input [HDL_STATE_W-1:0] st;
        begin
            is_pending = st == TFHSTATE_MISS_UPM || st == TFHSTATE_MISS_FMM
                         || st == TFHSTATE_HW_ERR;
        end
    endfunction

    // Wide flat vectors are read through select loops, not `vec[idx*W +: W]`: Yosys 0.23 turns
    // each wide variable part-select into a huge shifter that takes about a minute to map. The
    // loops only run while they are needed, which keeps the Verilated model fast.
    reg ctx_pending;
    integer pc, pk;
    always @* begin
        ctx_pending = 1'b0;
        if (pend_en_i) for (pc = 0; pc < NUM_CTX; pc = pc + 1)
            if (pend_ctx_i == pc[CTX_IW-1:0]) for (pk = 0; pk < CBR_PER_CTX; pk = pk + 1)
                ctx_pending = ctx_pending || is_pending(
                    tfh_state_q[(pc*CBR_PER_CTX + pk)*HDL_STATE_W +: HDL_STATE_W]);
    end
    assign ctx_pending_o = ctx_pending;

    // ---------------------------------------------------------------- selected TFH (pre-edge)
    // TFH idx_i as it is before this edge, while an MMIO request addresses the TFHs.
    reg [HDL_STATUS_W-1:0]    sel_status;
    reg [HDL_STATE_W-1:0]     sel_state;
    reg [TFH_CAUSE_W-1:0]     sel_cause;
    reg                       sel_stale;
    reg [TFH_CTXNUM_W-1:0]    sel_ctxnum;
    reg [TFH_MISSVADDR_W-1:0] sel_missvaddr;
    reg [TFH_MISSASID_W-1:0]  sel_missasid;
    reg [TFH_OPC_W-1:0]       sel_opc;
    reg                       sel_delresp;
    reg [TFH_FILLASID_W-1:0]  sel_fillasid;
    reg                       sel_dirty;
    reg [TFH_GAA_W-1:0]       sel_gaa;
    reg [TFH_PFN_W-1:0]       sel_pfn;
    reg [TFH_PAGESIZE_W-1:0]  sel_pagesize;
    reg [TFH_FILLVADDR_W-1:0] sel_fillvaddr;
    integer ri;
    always @* begin
        sel_status    = {HDL_STATUS_W{1'b0}};
        sel_state     = {HDL_STATE_W{1'b0}};
        sel_cause     = {TFH_CAUSE_W{1'b0}};
        sel_stale     = 1'b0;
        sel_ctxnum    = {TFH_CTXNUM_W{1'b0}};
        sel_missvaddr = {TFH_MISSVADDR_W{1'b0}};
        sel_missasid  = {TFH_MISSASID_W{1'b0}};
        sel_opc       = {TFH_OPC_W{1'b0}};
        sel_delresp   = 1'b0;
        sel_fillasid  = {TFH_FILLASID_W{1'b0}};
        sel_dirty     = 1'b0;
        sel_gaa       = {TFH_GAA_W{1'b0}};
        sel_pfn       = {TFH_PFN_W{1'b0}};
        sel_pagesize  = {TFH_PAGESIZE_W{1'b0}};
        sel_fillvaddr = {TFH_FILLVADDR_W{1'b0}};
        if (sel_i) for (ri = 0; ri < NUM_CBR; ri = ri + 1) begin
            if (idx_i == ri[CBR_IW-1:0]) begin
                sel_status    = tfh_status_q[ri*HDL_STATUS_W +: HDL_STATUS_W];
                sel_state     = tfh_state_q[ri*HDL_STATE_W +: HDL_STATE_W];
                sel_cause     = tfh_cause_q[ri*TFH_CAUSE_W +: TFH_CAUSE_W];
                sel_stale     = tfh_stale_q[ri];
                sel_ctxnum    = tfh_ctxnum_q[ri*TFH_CTXNUM_W +: TFH_CTXNUM_W];
                sel_missvaddr = tfh_missvaddr_q[ri*TFH_MISSVADDR_W +: TFH_MISSVADDR_W];
                sel_missasid  = tfh_missasid_q[ri*TFH_MISSASID_W +: TFH_MISSASID_W];
                sel_opc       = tfh_opc_q[ri*TFH_OPC_W +: TFH_OPC_W];
                sel_delresp   = tfh_delresp_q[ri];
                sel_fillasid  = tfh_fillasid_q[ri*TFH_FILLASID_W +: TFH_FILLASID_W];
                sel_dirty     = tfh_dirty_q[ri];
                sel_gaa       = tfh_gaa_q[ri*TFH_GAA_W +: TFH_GAA_W];
                sel_pfn       = tfh_pfn_q[ri*TFH_PFN_W +: TFH_PFN_W];
                sel_pagesize  = tfh_pagesize_q[ri*TFH_PAGESIZE_W +: TFH_PAGESIZE_W];
                sel_fillvaddr = tfh_fillvaddr_q[ri*TFH_FILLVADDR_W +: TFH_FILLVADDR_W];
            end
        end
    end

    // ---------------------------------------------------------------- reads
    reg [LINE_W-1:0] rd_line;
    always @* begin
        rd_line = {LINE_W{1'b0}};
        rd_line[P_DELRESP]                      = sel_delresp;
        rd_line[P_OPC +: TFH_OPC_W]             = sel_opc;
        rd_line[P_STATUS +: HDL_STATUS_W]       = sel_status;
        rd_line[P_STATE +: HDL_STATE_W]         = sel_state;
        rd_line[P_CAUSE +: TFH_CAUSE_W]         = sel_cause;
        // indexway reads 0
        rd_line[P_CTXNUM +: TFH_CTXNUM_W]       = sel_ctxnum;
        rd_line[P_MISSVADDR +: TFH_MISSVADDR_W] = sel_missvaddr;
        rd_line[P_MISSASID +: TFH_MISSASID_W]   = sel_missasid;
        rd_line[P_FILLASID +: TFH_FILLASID_W]   = sel_fillasid;
        rd_line[P_DIRTY]                        = sel_dirty;
        rd_line[P_GAA +: TFH_GAA_W]             = sel_gaa;
        rd_line[P_PFN +: TFH_PFN_W]             = sel_pfn;
        rd_line[P_PAGESIZE +: TFH_PAGESIZE_W]   = sel_pagesize;
        rd_line[P_FILLVADDR +: TFH_FILLVADDR_W] = sel_fillvaddr;
        rd_line[P_STALE]                        = sel_stale;
    end
    assign rd_line_o = rd_line;

    // ---------------------------------------------------------------- command decode
    // The command runs on the pre-edge hardware fields of TFH idx_i and on its software fields as
    // they are after this write (the cacheline write is the trigger).
    wire                      start      = wr_i && dwen_i[HDL_CMD_DW] && data_i[P_CMD];
    wire [TFH_OPC_W-1:0]      cmd_opc    = data_i[P_OPC +: TFH_OPC_W];  // start implies DW0 written
    wire                      cur_p      = is_pending(sel_state);

    wire [TFH_FILLASID_W-1:0] new_fillasid = dwen_i[TFH_FILLASID_DW]
        ? data_i[P_FILLASID +: TFH_FILLASID_W] : sel_fillasid;
    wire                      new_dirty = dwen_i[TFH_DIRTY_DW] ? data_i[P_DIRTY] : sel_dirty;
    wire [TFH_PFN_W-1:0]      new_pfn = dwen_i[TFH_PFN_DW] ? data_i[P_PFN +: TFH_PFN_W] : sel_pfn;
    wire [TFH_PAGESIZE_W-1:0] new_pagesize = dwen_i[TFH_PAGESIZE_DW]
        ? data_i[P_PAGESIZE +: TFH_PAGESIZE_W] : sel_pagesize;
    // fillvaddr[63:12]: the page offset does not matter to a dropin.
    wire [TLB_VPN_W-1:0]      new_fillvpn = dwen_i[TFH_FILLVADDR_DW]
        ? data_i[P_FILLVADDR + PAGE_SHIFT +: TLB_VPN_W] : sel_fillvaddr[PAGE_SHIFT +: TLB_VPN_W];

    // Page-size refusal: code > 8, or not in the context's sizeavail for the fill region.
    reg [SA_PER_CTX-1:0] sel_ctx_sizeavail;
    integer ci;
    always @* begin
        sel_ctx_sizeavail = {SA_PER_CTX{1'b0}};
        if (sel_i) for (ci = 0; ci < NUM_CTX; ci = ci + 1)
            if (sel_ctxnum == ci[TFH_CTXNUM_W-1:0])
                sel_ctx_sizeavail = cch_sizeavail_i[ci*SA_PER_CTX +: SA_PER_CTX];
    end
    wire [REGION_W-1:0] fill_region = new_fillvpn[REGION_LSB - PAGE_SHIFT +: REGION_W];
    wire [CCH_SIZEAVAIL0_W-1:0] fill_sizeavail =
        sel_ctx_sizeavail[fill_region*CCH_SIZEAVAIL_STEP +: CCH_SIZEAVAIL0_W];
    wire ps_refused = new_pagesize > PS_MAX_CODE || !fill_sizeavail[new_pagesize[3:0]];

    // The race guard refuses a dropin on a stale pending TFH.
`ifdef GRU_MUTANT_NO_RACE_GUARD
    // Mutant (missing race guard): `stale` is tracked and readable but never consulted, so a
    // dropin computed before an invalidate started installs its stale translation anyway.
    wire                     guard_stale = 1'b0;
`else
    wire                     guard_stale = sel_stale;
`endif

    reg                      cmd_install, cmd_stale_drop, cmd_restart, cmd_cmp;
    reg [1:0]                cmd_cmp_status;
    reg [HDL_STATUS_W-1:0]   cmd_status;    // TFH idx_i fields after the command
    reg [HDL_STATE_W-1:0]    cmd_state;
    reg [TFH_CAUSE_W-1:0]    cmd_cause;
    reg                      cmd_stale;
    always @* begin
        cmd_install    = 1'b0;
        cmd_stale_drop = 1'b0;
        cmd_restart    = 1'b0;
        cmd_cmp        = 1'b0;
        cmd_cmp_status = CBSTATUS_EXCEPTION;
        cmd_status     = sel_status;
        cmd_state      = sel_state;
        cmd_cause      = sel_cause;
        cmd_stale      = sel_stale;
        if (start) begin
            case (cmd_opc)
                TFHOP_WRITE_ONLY: begin
                    if (cur_p && guard_stale) begin
                        cmd_stale_drop = 1'b1;               // race guard: discard the dropin
                        cmd_status     = HSTATUS_EXCEPTION;
                    end else if (ps_refused) begin
                        cmd_status = HSTATUS_EXCEPTION;
                        cmd_state  = TFHSTATE_HW_ERR;
                        cmd_cause  = TFHCAUSE_HW_ERROR_PAGESIZE;
                    end else begin
                        cmd_install = 1'b1;
                        cmd_status  = cur_p ? HSTATUS_EXCEPTION : HSTATUS_IDLE;
                    end
                end
                TFHOP_WRITE_RESTART: begin
                    if (!cur_p) begin
                        cmd_status = HSTATUS_EXCEPTION;
`ifdef GRU_MUTANT_RESTART_CLEARS_STALE
                    // Mutant (order of operations): the restart clears `stale` before the
                    // guard reads it, so a stale WRITE_RESTART installs (WRITE_ONLY still
                    // refuses).
                    end else if (1'b0) begin
`else
                    end else if (guard_stale) begin
`endif
                        cmd_stale_drop = 1'b1;               // race guard: re-execute, miss again
                        cmd_restart    = 1'b1;
                        cmd_state      = TFHSTATE_IDLE;
                        cmd_status     = HSTATUS_IDLE;
                        cmd_stale      = 1'b0;
                    end else if (ps_refused) begin
                        cmd_status = HSTATUS_EXCEPTION;      // the CB stays parked
                        cmd_state  = TFHSTATE_HW_ERR;
                        cmd_cause  = TFHCAUSE_HW_ERROR_PAGESIZE;
                    end else begin
                        cmd_install = 1'b1;
                        cmd_restart = 1'b1;
                        cmd_state   = TFHSTATE_IDLE;
                        cmd_status  = HSTATUS_IDLE;
                        cmd_stale   = 1'b0;
                    end
                end
                TFHOP_RESTART: begin
                    if (!cur_p) begin
                        cmd_status = HSTATUS_EXCEPTION;
                    end else begin
                        cmd_restart = 1'b1;
                        cmd_state   = TFHSTATE_IDLE;
                        cmd_status  = HSTATUS_IDLE;
                        cmd_stale   = 1'b0;
                    end
                end
                TFHOP_EXCEPTION: begin
                    if (!cur_p) begin
                        cmd_status = HSTATUS_EXCEPTION;
                    end else begin
                        cmd_cmp        = 1'b1;
                        cmd_cmp_status = CBSTATUS_EXCEPTION;
                        cmd_state      = TFHSTATE_IDLE;
                        cmd_status     = HSTATUS_IDLE;
                        cmd_stale      = 1'b0;
                    end
                end
                TFHOP_USER_POLLING_MODE: begin
                    if (sel_state != TFHSTATE_MISS_FMM) begin
                        cmd_status = HSTATUS_EXCEPTION;
                    end else begin
                        // The miss stays pending; the TFM fault bit is not touched.
                        cmd_cmp        = 1'b1;
                        cmd_cmp_status = CBSTATUS_CALL_OS;
                        cmd_state      = TFHSTATE_MISS_UPM;
                        cmd_status     = HSTATUS_EXCEPTION;
                    end
                end
                default: ;   // NOOP (reserved opcodes never get here: MMIO error)
            endcase
        end
    end

    assign ins_valid_o      = cmd_install;
    assign ins_ctx_o        = sel_ctxnum;
    assign ins_asid_o       = new_fillasid;
    assign ins_vpn_o        = new_fillvpn;
    assign ins_ps_o         = new_pagesize[TLB_PS_W-1:0];
    assign ins_pfn_o        = new_pfn;
    assign ins_dirty_o      = new_dirty;
    assign restart_set_o    = cmd_restart;
    assign cmp_set_o        = cmd_cmp;
    assign cmp_set_status_o = cmd_cmp_status;
    assign cmp_set_cause_o  = sel_cause;
    assign stat_dropin_o    = cmd_install;
    assign stat_stale_o     = cmd_stale_drop;

    // ---------------------------------------------------------------- next state
    // MMIO command first, then the engine's miss latch on the same TFH overwrites, then the
    // stale marking of a starting INVALIDATE (on the post-edge state and ctxnum).
    integer ni;
    always @* begin
        tfh_status_d = tfh_status_q;
        tfh_state_d  = tfh_state_q;
        tfh_cause_d  = tfh_cause_q;
        tfh_stale_d  = tfh_stale_q;
        tfh_ctxnum_d = tfh_ctxnum_q;
        // (Guarded so that the Verilated model skips the loop on the many idle cycles.)
        if (start || miss_i || inval_start_i) for (ni = 0; ni < NUM_CBR; ni = ni + 1) begin
            if (start && idx_i == ni[CBR_IW-1:0]) begin
                tfh_status_d[ni*HDL_STATUS_W +: HDL_STATUS_W] = cmd_status;
                tfh_state_d[ni*HDL_STATE_W +: HDL_STATE_W]    = cmd_state;
                tfh_cause_d[ni*TFH_CAUSE_W +: TFH_CAUSE_W]    = cmd_cause;
                tfh_stale_d[ni]                               = cmd_stale;
            end
            if (miss_i && miss_cbr_i == ni[CBR_IW-1:0]) begin
                tfh_status_d[ni*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_EXCEPTION;
                tfh_state_d[ni*HDL_STATE_W +: HDL_STATE_W]    =
                    miss_fmm_i ? TFHSTATE_MISS_FMM : TFHSTATE_MISS_UPM;
                tfh_cause_d[ni*TFH_CAUSE_W +: TFH_CAUSE_W]    = miss_cause_i;
                tfh_ctxnum_d[ni*TFH_CTXNUM_W +: TFH_CTXNUM_W] = miss_ctx_i;
                tfh_stale_d[ni]                               = miss_stale_i;
            end
`ifdef GRU_MUTANT_STALE_SAME_EDGE
            // Mutant (stale marking on the pre-edge state): a miss latching at the edge an
            // INVALIDATE starts is not yet pending, so it escapes both marks.
            if (inval_start_i
                && is_pending(tfh_state_q[ni*HDL_STATE_W +: HDL_STATE_W])
                && inval_bitmap_i[tfh_ctxnum_q[ni*TFH_CTXNUM_W +: TFH_CTXNUM_W]])
                tfh_stale_d[ni] = 1'b1;
`else
            if (inval_start_i
                && is_pending(tfh_state_d[ni*HDL_STATE_W +: HDL_STATE_W])
                && inval_bitmap_i[tfh_ctxnum_d[ni*TFH_CTXNUM_W +: TFH_CTXNUM_W]])
                tfh_stale_d[ni] = 1'b1;
`endif
        end
    end

    integer si;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            tfh_status_q    <= {NUM_CBR*HDL_STATUS_W{1'b0}};
            // Every TFH resets to state IDLE.
            for (si = 0; si < NUM_CBR; si = si + 1)
                tfh_state_q[si*HDL_STATE_W +: HDL_STATE_W] <= TFHSTATE_IDLE;
            tfh_cause_q     <= {NUM_CBR*TFH_CAUSE_W{1'b0}};
            tfh_stale_q     <= {NUM_CBR{1'b0}};
            tfh_missvaddr_q <= {NUM_CBR*TFH_MISSVADDR_W{1'b0}};
            tfh_missasid_q  <= {NUM_CBR*TFH_MISSASID_W{1'b0}};
            tfh_ctxnum_q    <= {NUM_CBR*TFH_CTXNUM_W{1'b0}};
            tfh_opc_q       <= {NUM_CBR*TFH_OPC_W{1'b0}};
            tfh_delresp_q   <= {NUM_CBR{1'b0}};
            tfh_fillasid_q  <= {NUM_CBR*TFH_FILLASID_W{1'b0}};
            tfh_dirty_q     <= {NUM_CBR{1'b0}};
            tfh_gaa_q       <= {NUM_CBR*TFH_GAA_W{1'b0}};
            tfh_pfn_q       <= {NUM_CBR*TFH_PFN_W{1'b0}};
            tfh_pagesize_q  <= {NUM_CBR*TFH_PAGESIZE_W{1'b0}};
            tfh_fillvaddr_q <= {NUM_CBR*TFH_FILLVADDR_W{1'b0}};
        end else begin
            tfh_status_q <= tfh_status_d;
            tfh_state_q  <= tfh_state_d;
            tfh_cause_q  <= tfh_cause_d;
            tfh_stale_q  <= tfh_stale_d;
            tfh_ctxnum_q <= tfh_ctxnum_d;
            // Miss address and ASID: written only by the engine's miss latch.
            if (miss_i) for (si = 0; si < NUM_CBR; si = si + 1) begin
                if (miss_cbr_i == si[CBR_IW-1:0]) begin
                    tfh_missvaddr_q[si*TFH_MISSVADDR_W +: TFH_MISSVADDR_W] <= miss_vaddr_i;
                    tfh_missasid_q[si*TFH_MISSASID_W +: TFH_MISSASID_W]    <= miss_asid_i;
                end
            end
            // Software fields: written per dword enable.
            if (wr_i) for (si = 0; si < NUM_CBR; si = si + 1) begin
                if (idx_i == si[CBR_IW-1:0]) begin
                    if (dwen_i[HDL_DELRESP_DW]) begin
                        tfh_opc_q[si*TFH_OPC_W +: TFH_OPC_W] <= data_i[P_OPC +: TFH_OPC_W];
                        tfh_delresp_q[si]                   <= data_i[P_DELRESP];
                    end
                    if (dwen_i[TFH_FILLASID_DW]) begin
                        tfh_fillasid_q[si*TFH_FILLASID_W +: TFH_FILLASID_W] <=
                            data_i[P_FILLASID +: TFH_FILLASID_W];
                        tfh_dirty_q[si] <= data_i[P_DIRTY];
                        tfh_gaa_q[si*TFH_GAA_W +: TFH_GAA_W] <= data_i[P_GAA +: TFH_GAA_W];
                    end
                    if (dwen_i[TFH_PFN_DW]) begin
                        tfh_pfn_q[si*TFH_PFN_W +: TFH_PFN_W] <= data_i[P_PFN +: TFH_PFN_W];
                        tfh_pagesize_q[si*TFH_PAGESIZE_W +: TFH_PAGESIZE_W] <=
                            data_i[P_PAGESIZE +: TFH_PAGESIZE_W];
                    end
                    if (dwen_i[TFH_FILLVADDR_DW])
                        tfh_fillvaddr_q[si*TFH_FILLVADDR_W +: TFH_FILLVADDR_W] <=
                            data_i[P_FILLVADDR +: TFH_FILLVADDR_W];
                end
            end
        end
    end

endmodule

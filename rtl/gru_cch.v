// gru_cch -- the context configuration handles (MICROARCH §8).
//
// One CCH per context: its state machine (INACTIVE / IDLE / ACTIVE / INTERRUPTED), the region
// ASIDs and sizeavail masks used by lookups and dropins, and the fault-map routing
// (tfm_fault_bit_enable, tlb_int_enable, tlb_int_select). INTERRUPT_SYNC keeps the handle ACTIVE
// until no CB of the context is in flight.
module gru_cch #(
    parameter NUM_CTX = 16,
    parameter NUM_CBR = 128,
    parameter CBR_PER_CTX = NUM_CBR / NUM_CTX   // ctx(cbr) = cbr / CBR_PER_CTX
) (
    clk_i, rst_ni,
    sel_i, wr_i, idx_i, dwen_i, data_i, rd_line_o,
    ctx_pending_i,
    eng_busy_i, eng_cur_ctx_i, restart_pend_i, cmp_pend_i,
    cch_state_o, cch_asid_o, cch_sizeavail_o, cch_tfm_fault_bit_enable_o,
    cch_tlb_int_enable_o, cch_tlb_int_select_o, sync_idle_o
);
`include "gru_defs.vh"

    localparam CTX_IW      = $clog2(NUM_CTX);
    localparam ASID_PER_CTX = CCH_NUM_ASID * CCH_ASID0_W;
    localparam SA_PER_CTX   = CCH_NUM_ASID * CCH_SIZEAVAIL0_W;

    localparam P_CMD       = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam P_DELRESP   = HDL_DELRESP_DW*DW_W + HDL_DELRESP_LSB;
    localparam P_STATUS    = HDL_STATUS_DW*DW_W + HDL_STATUS_LSB;
    localparam P_STATE     = HDL_STATE_DW*DW_W + HDL_STATE_LSB;
    localparam P_OPC       = CCH_OPC_DW*DW_W + CCH_OPC_LSB;
    localparam P_TFBE      = CCH_TFM_FAULT_BIT_ENABLE_DW*DW_W + CCH_TFM_FAULT_BIT_ENABLE_LSB;
    localparam P_TIE       = CCH_TLB_INT_ENABLE_DW*DW_W + CCH_TLB_INT_ENABLE_LSB;
    localparam P_TIS       = CCH_TLB_INT_SELECT_DW*DW_W + CCH_TLB_INT_SELECT_LSB;
    localparam P_UNMAP     = CCH_UNMAP_ENABLE_DW*DW_W + CCH_UNMAP_ENABLE_LSB;
    localparam P_ASID0     = CCH_ASID0_DW*DW_W + CCH_ASID0_LSB;
    localparam P_SIZEAVAIL0 = CCH_SIZEAVAIL0_DW*DW_W + CCH_SIZEAVAIL0_LSB;

    input clk_i;
    input rst_ni;

    // An MMIO request addresses CCH idx_i (sel_i: rd_line_o is valid) and is an accepted write
    // (wr_i; errors already filtered out).
    input                 sel_i;
    input                 wr_i;
    input  [CTX_IW-1:0]   idx_i;
    input  [LINE_DWS-1:0] dwen_i;
    /* verilator lint_off UNUSED */
    // Whole cacheline in; a CCH maps only some of its bits.
    input  [LINE_W-1:0]   data_i;
    /* verilator lint_on UNUSED */
    output [LINE_W-1:0]   rd_line_o;

    input                 ctx_pending_i;     // a TFH of context idx_i is pending (pre-edge):
                                             // DEALLOCATE fails while a fault is unanswered

    // What the CB engine has in flight (pre-edge), for INTERRUPT_SYNC.
    input                 eng_busy_i;        // eng_state != E_IDLE
    input  [CTX_IW-1:0]   eng_cur_ctx_i;
    input  [NUM_CBR-1:0]  restart_pend_i;
    input  [NUM_CBR-1:0]  cmp_pend_i;

    output [NUM_CTX*HDL_STATE_W-1:0]          cch_state_o;
    output [NUM_CTX*ASID_PER_CTX-1:0]         cch_asid_o;
    output [NUM_CTX*SA_PER_CTX-1:0]           cch_sizeavail_o;
    output [NUM_CTX-1:0]                      cch_tfm_fault_bit_enable_o;
    output [NUM_CTX-1:0]                      cch_tlb_int_enable_o;
    output [NUM_CTX*CCH_TLB_INT_SELECT_W-1:0] cch_tlb_int_select_o;
    output                                    sync_idle_o;   // no INTERRUPT_SYNC waiting (§12)

    // ---------------------------------------------------------------- state
    reg [NUM_CTX*HDL_STATUS_W-1:0]          cch_status_q, cch_status_d;
    reg [NUM_CTX*HDL_STATE_W-1:0]           cch_state_q, cch_state_d;
    reg [NUM_CTX-1:0]                       cch_sync_wait_q, cch_sync_wait_d;
    assign sync_idle_o = !(|cch_sync_wait_q);
    reg [NUM_CTX*CCH_OPC_W-1:0]             cch_opc_q;
    reg [NUM_CTX-1:0]                       cch_delresp_q;
    reg [NUM_CTX-1:0]                       cch_tfm_fault_bit_enable_q;
    reg [NUM_CTX-1:0]                       cch_tlb_int_enable_q;
    reg [NUM_CTX*CCH_TLB_INT_SELECT_W-1:0]  cch_tlb_int_select_q;
    reg [NUM_CTX-1:0]                       cch_unmap_enable_q;
    reg [NUM_CTX*ASID_PER_CTX-1:0]          cch_asid_q;
    reg [NUM_CTX*SA_PER_CTX-1:0]            cch_sizeavail_q;

    assign cch_state_o                = cch_state_q;
    assign cch_asid_o                 = cch_asid_q;
    assign cch_sizeavail_o            = cch_sizeavail_q;
    assign cch_tfm_fault_bit_enable_o = cch_tfm_fault_bit_enable_q;
    assign cch_tlb_int_enable_o       = cch_tlb_int_enable_q;
    assign cch_tlb_int_select_o       = cch_tlb_int_select_q;

    // ---------------------------------------------------------------- selected CCH (pre-edge)
    // CCH idx_i as it is before this edge, while an MMIO request addresses the CCHs. A select
    // loop, not `vec[idx*W +: W]`: Yosys 0.23 maps wide variable part-selects very slowly.
    reg [HDL_STATUS_W-1:0]         sel_status;
    reg [HDL_STATE_W-1:0]          sel_state;
    reg [CCH_OPC_W-1:0]            sel_opc;
    reg                            sel_delresp, sel_tfbe, sel_tie, sel_unmap;
    reg [CCH_TLB_INT_SELECT_W-1:0] sel_tis;
    reg [ASID_PER_CTX-1:0]         sel_asid;
    reg [SA_PER_CTX-1:0]           sel_sizeavail;
    integer ri;
    always @* begin
        sel_status    = {HDL_STATUS_W{1'b0}};
        sel_state     = {HDL_STATE_W{1'b0}};
        sel_opc       = {CCH_OPC_W{1'b0}};
        sel_delresp   = 1'b0;
        sel_tfbe      = 1'b0;
        sel_tie       = 1'b0;
        sel_unmap     = 1'b0;
        sel_tis       = {CCH_TLB_INT_SELECT_W{1'b0}};
        sel_asid      = {ASID_PER_CTX{1'b0}};
        sel_sizeavail = {SA_PER_CTX{1'b0}};
        if (sel_i) for (ri = 0; ri < NUM_CTX; ri = ri + 1) begin
            if (idx_i == ri[CTX_IW-1:0]) begin
                sel_status    = cch_status_q[ri*HDL_STATUS_W +: HDL_STATUS_W];
                sel_state     = cch_state_q[ri*HDL_STATE_W +: HDL_STATE_W];
                sel_opc       = cch_opc_q[ri*CCH_OPC_W +: CCH_OPC_W];
                sel_delresp   = cch_delresp_q[ri];
                sel_tfbe      = cch_tfm_fault_bit_enable_q[ri];
                sel_tie       = cch_tlb_int_enable_q[ri];
                sel_unmap     = cch_unmap_enable_q[ri];
                sel_tis       = cch_tlb_int_select_q[ri*CCH_TLB_INT_SELECT_W +: CCH_TLB_INT_SELECT_W];
                sel_asid      = cch_asid_q[ri*ASID_PER_CTX +: ASID_PER_CTX];
                sel_sizeavail = cch_sizeavail_q[ri*SA_PER_CTX +: SA_PER_CTX];
            end
        end
    end

    // ---------------------------------------------------------------- reads
    reg [LINE_W-1:0] rd_line;
    integer rk;
    always @* begin
        rd_line = {LINE_W{1'b0}};
        rd_line[P_DELRESP]                     = sel_delresp;
        rd_line[P_OPC +: CCH_OPC_W]            = sel_opc;
        rd_line[P_STATUS +: HDL_STATUS_W]      = sel_status;
        rd_line[P_STATE +: HDL_STATE_W]        = sel_state;
        rd_line[P_TFBE]                        = sel_tfbe;
        rd_line[P_TIE]                         = sel_tie;
        rd_line[P_TIS +: CCH_TLB_INT_SELECT_W] = sel_tis;
        rd_line[P_UNMAP]                       = sel_unmap;
        for (rk = 0; rk < CCH_NUM_ASID; rk = rk + 1) begin
            rd_line[P_ASID0 + rk*CCH_ASID_STEP +: CCH_ASID0_W] =
                sel_asid[rk*CCH_ASID0_W +: CCH_ASID0_W];
            rd_line[P_SIZEAVAIL0 + rk*CCH_SIZEAVAIL_STEP +: CCH_SIZEAVAIL0_W] =
                sel_sizeavail[rk*CCH_SIZEAVAIL0_W +: CCH_SIZEAVAIL0_W];
        end
    end
    assign rd_line_o = rd_line;

    // ---------------------------------------------------------------- in flight (pre-edge)
    reg [NUM_CTX-1:0] ctx_in_flight;
    integer fi;
    always @* begin
        ctx_in_flight = {NUM_CTX{1'b0}};
        // Only needed while some INTERRUPT_SYNC waits (keeps the Verilated model fast).
        if (|cch_sync_wait_q) for (fi = 0; fi < NUM_CTX; fi = fi + 1)
            ctx_in_flight[fi] = (eng_busy_i && eng_cur_ctx_i == fi[CTX_IW-1:0])
                || |restart_pend_i[fi*CBR_PER_CTX +: CBR_PER_CTX]
                || |cmp_pend_i[fi*CBR_PER_CTX +: CBR_PER_CTX];
    end

    // ---------------------------------------------------------------- next state
    wire                   start     = wr_i && dwen_i[HDL_CMD_DW] && data_i[P_CMD];
    wire [CCH_OPC_W-1:0]   cmd_opc   = data_i[P_OPC +: CCH_OPC_W];   // start implies DW0 written
    wire [HDL_STATE_W-1:0] cur_state = sel_state;

    reg [HDL_STATUS_W-1:0] cmd_status;
    reg [HDL_STATE_W-1:0]  cmd_state;
    reg                    cmd_sync;
    always @* begin
        cmd_status = HSTATUS_EXCEPTION;
        cmd_state  = cur_state;
        cmd_sync   = 1'b0;
        case (cmd_opc)
            CCHOP_ALLOCATE:
                if (cur_state == CCHSTATE_INACTIVE || cur_state == CCHSTATE_INTERRUPTED) begin
                    cmd_state  = CCHSTATE_IDLE;
                    cmd_status = HSTATUS_IDLE;
                end
            CCHOP_START:
                if (cur_state == CCHSTATE_IDLE || cur_state == CCHSTATE_INTERRUPTED) begin
                    cmd_state  = CCHSTATE_ACTIVE;
                    cmd_status = HSTATUS_IDLE;
                end
            CCHOP_INTERRUPT:
                if (cur_state == CCHSTATE_ACTIVE) begin
                    cmd_state  = CCHSTATE_INTERRUPTED;
                    cmd_status = HSTATUS_IDLE;
                end
            CCHOP_INTERRUPT_SYNC:
                if (cur_state == CCHSTATE_ACTIVE || cur_state == CCHSTATE_INTERRUPTED) begin
                    cmd_state  = CCHSTATE_INTERRUPTED;
                    cmd_status = HSTATUS_ACTIVE;     // until nothing of the context is in flight
                    cmd_sync   = 1'b1;
                end
            CCHOP_DEALLOCATE:
                if (!ctx_pending_i) begin               // nothing is purged
                    cmd_state  = CCHSTATE_INACTIVE;
                    cmd_status = HSTATUS_IDLE;
                end
            default: ;   // reserved opcodes never get here: MMIO error
        endcase
    end

    // sync_wait completion (pre-edge) first, then the MMIO command.
    integer ni;
    always @* begin
        cch_status_d    = cch_status_q;
        cch_state_d     = cch_state_q;
        cch_sync_wait_d = cch_sync_wait_q;
        if (start || |cch_sync_wait_q) for (ni = 0; ni < NUM_CTX; ni = ni + 1) begin
            if (cch_sync_wait_q[ni] && !ctx_in_flight[ni]) begin
                cch_status_d[ni*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
                cch_sync_wait_d[ni] = 1'b0;
            end
            if (start && idx_i == ni[CTX_IW-1:0]) begin
                cch_status_d[ni*HDL_STATUS_W +: HDL_STATUS_W] = cmd_status;
                cch_state_d[ni*HDL_STATE_W +: HDL_STATE_W]    = cmd_state;
                if (cmd_sync) cch_sync_wait_d[ni] = 1'b1;
            end
        end
    end

    integer si, sk;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            cch_status_q               <= {NUM_CTX*HDL_STATUS_W{1'b0}};
            cch_state_q                <= {NUM_CTX*HDL_STATE_W{1'b0}};
            cch_sync_wait_q            <= {NUM_CTX{1'b0}};
            cch_opc_q                  <= {NUM_CTX*CCH_OPC_W{1'b0}};
            cch_delresp_q              <= {NUM_CTX{1'b0}};
            cch_tfm_fault_bit_enable_q <= {NUM_CTX{1'b0}};
            cch_tlb_int_enable_q       <= {NUM_CTX{1'b0}};
            cch_tlb_int_select_q       <= {NUM_CTX*CCH_TLB_INT_SELECT_W{1'b0}};
            cch_unmap_enable_q         <= {NUM_CTX{1'b0}};
            cch_asid_q                 <= {NUM_CTX*ASID_PER_CTX{1'b0}};
            cch_sizeavail_q            <= {NUM_CTX*SA_PER_CTX{1'b0}};
        end else begin
            cch_status_q    <= cch_status_d;
            cch_state_q     <= cch_state_d;
            cch_sync_wait_q <= cch_sync_wait_d;
            // Software fields take the written values at any accepted write.
            if (wr_i) for (si = 0; si < NUM_CTX; si = si + 1) begin
                if (idx_i == si[CTX_IW-1:0]) begin
                    if (dwen_i[HDL_DELRESP_DW]) begin
                        cch_opc_q[si*CCH_OPC_W +: CCH_OPC_W] <= data_i[P_OPC +: CCH_OPC_W];
                        cch_delresp_q[si]              <= data_i[P_DELRESP];
                        cch_tfm_fault_bit_enable_q[si] <= data_i[P_TFBE];
                        cch_tlb_int_enable_q[si]       <= data_i[P_TIE];
                        cch_tlb_int_select_q[si*CCH_TLB_INT_SELECT_W +: CCH_TLB_INT_SELECT_W] <=
                            data_i[P_TIS +: CCH_TLB_INT_SELECT_W];
                        cch_unmap_enable_q[si]         <= data_i[P_UNMAP];
                    end
                    for (sk = 0; sk < CCH_NUM_ASID; sk = sk + 1) begin
                        // asid k lives in DW (1 + k/2), sizeavail k in DW (5 + k/4).
                        if (dwen_i[(P_ASID0 + sk*CCH_ASID_STEP) / DW_W])
                            cch_asid_q[si*ASID_PER_CTX + sk*CCH_ASID0_W +: CCH_ASID0_W] <=
                                data_i[P_ASID0 + sk*CCH_ASID_STEP +: CCH_ASID0_W];
                        if (dwen_i[(P_SIZEAVAIL0 + sk*CCH_SIZEAVAIL_STEP) / DW_W])
                            cch_sizeavail_q[si*SA_PER_CTX + sk*CCH_SIZEAVAIL0_W +: CCH_SIZEAVAIL0_W] <=
                                data_i[P_SIZEAVAIL0 + sk*CCH_SIZEAVAIL_STEP +: CCH_SIZEAVAIL0_W];
                    end
                end
            end
        end
    end

`ifdef FORMAL
    // ---------------------------------------------------------------- formal (docs/FORMAL.md)
    // INTERRUPT_SYNC completes (status ACTIVE -> IDLE without a command at that edge) only when
    // no CB of the context is in flight: the engine is not working on one of its CBRs and none
    // of them has a restart or a completion pending (MICROARCH §8), all as of that edge.
    reg f_init = 1'b1;
    always @(posedge clk_i) f_init <= 1'b0;
    reg f_sync_done;
    integer fc;
    always @* begin
        f_sync_done = 1'b0;
        for (fc = 0; fc < NUM_CTX; fc = fc + 1)
            if (cch_status_q[fc*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_ACTIVE
                && cch_status_d[fc*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_IDLE
                && !(start && idx_i == fc[CTX_IW-1:0])
                && ((eng_busy_i && eng_cur_ctx_i == fc[CTX_IW-1:0])
                    || |restart_pend_i[fc*CBR_PER_CTX +: CBR_PER_CTX]
                    || |cmp_pend_i[fc*CBR_PER_CTX +: CBR_PER_CTX]))
                f_sync_done = 1'b1;
    end
    reg f_waited;       // some INTERRUPT_SYNC waited while a CB of its context was in flight
    always @(posedge clk_i) begin
        if (!rst_ni) f_waited <= 1'b0;
        else if (|(cch_sync_wait_q & ctx_in_flight)) f_waited <= 1'b1;
    end
    always @(posedge clk_i) begin
        if (!f_init && rst_ni) begin
            p_sync_quiet: assert(!f_sync_done);
            c_sync_waited_done: cover(f_waited && cch_sync_wait_q != 0 && cch_sync_wait_d == 0);
        end
    end
`endif

endmodule

// gru_purge -- the TGHs (TLB global handles) and the purge engine (MICROARCH §7).
//
// A started INVALIDATE TGH goes ACTIVE and joins the purge FIFO. The engine serves the FIFO head,
// PURGE_LANES TLB entries per cycle from purge_idx_q, clearing the entries that match; after the
// last group the TGH returns to IDLE and is popped. It also reports which contexts have an ACTIVE
// TGH (a latching miss becomes stale) and a starting INVALIDATE (marks pending TFHs stale).
module gru_purge #(
    parameter NUM_CTX     = 16,
    parameter NUM_TGH     = 24,
    parameter TLB_ENTRIES = 128,
    parameter PURGE_LANES = 8
) (
    clk_i, rst_ni,
    wr_i, idx_i, dwen_i, data_i, rd_line_o,
    tlb_valid_i, tlb_ctx_i, tlb_asid_i, tlb_vpn_i, tlb_ps_i,
    purge_clr_o, purge_nclr_o, purge_done_o,
    tgh_active_ctx_o, inval_start_o, inval_bitmap_o
);
`include "gru_defs.vh"

    localparam TGH_IW  = $clog2(NUM_TGH);
    localparam CNT_W   = $clog2(NUM_TGH + 1);
    localparam IDX_W   = $clog2(TLB_ENTRIES);
    localparam NCLR_W  = $clog2(PURGE_LANES + 1);
    localparam KEY_W   = TGH_VADDRMASK_W;      // 39-bit purge keys = vaddr[50:12]
    localparam RANGE_W = KEY_W + 2;            // 41-bit range ends (no overflow)

    // Handle line positions.
    localparam P_CMD       = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam P_DELRESP   = HDL_DELRESP_DW*DW_W + HDL_DELRESP_LSB;
    localparam P_STATUS    = HDL_STATUS_DW*DW_W + HDL_STATUS_LSB;
    localparam P_OPC       = TGH_OPC_DW*DW_W + TGH_OPC_LSB;
    localparam P_VADDR     = TGH_VADDR_DW*DW_W + TGH_VADDR_LSB;
    localparam P_ASID      = TGH_ASID_DW*DW_W + TGH_ASID_LSB;
    localparam P_PAGESIZE  = TGH_PAGESIZE_DW*DW_W + TGH_PAGESIZE_LSB;
    localparam P_GLOBAL    = TGH_GLOBAL_DW*DW_W + TGH_GLOBAL_LSB;
    localparam P_VADDRMASK = TGH_VADDRMASK_DW*DW_W + TGH_VADDRMASK_LSB;
    localparam P_N         = TGH_N_DW*DW_W + TGH_N_LSB;
    localparam P_CTXBITMAP = TGH_CTXBITMAP_DW*DW_W + TGH_CTXBITMAP_LSB;

    input clk_i;
    input rst_ni;

    // Accepted MMIO write to TGH idx_i (errors already filtered out); idx_i also selects rd_line_o.
    input                 wr_i;
    input  [TGH_IW-1:0]   idx_i;
    input  [LINE_DWS-1:0] dwen_i;
    /* verilator lint_off UNUSED */
    // Whole cacheline in; a TGH maps only some of its bits.
    input  [LINE_W-1:0]   data_i;
    /* verilator lint_on UNUSED */
    output [LINE_W-1:0]   rd_line_o;

    input  [TLB_ENTRIES-1:0]            tlb_valid_i;
    input  [TLB_ENTRIES*TLB_CTX_W-1:0]  tlb_ctx_i;
    input  [TLB_ENTRIES*TLB_ASID_W-1:0] tlb_asid_i;
    /* verilator lint_off UNUSED */
    // The purge compares vaddr[50:12] only (39-bit keys): vpn bits above 38 are not used.
    input  [TLB_ENTRIES*TLB_VPN_W-1:0]  tlb_vpn_i;
    /* verilator lint_on UNUSED */
    input  [TLB_ENTRIES*TLB_PS_W-1:0]   tlb_ps_i;

    output [TLB_ENTRIES-1:0] purge_clr_o;     // entries cleared at this edge
    output [NCLR_W-1:0]      purge_nclr_o;    // how many (stat entries purged)
    output                   purge_done_o;    // a TGH completes at this edge (stat purges)
    output [NUM_CTX-1:0]     tgh_active_ctx_o;
    output                   inval_start_o;
    output [NUM_CTX-1:0]     inval_bitmap_o;

    // ---------------------------------------------------------------- state
    reg [NUM_TGH*HDL_STATUS_W-1:0]      tgh_status_q, tgh_status_d;
    reg [NUM_TGH-1:0]                   tgh_opc_q;
    reg [NUM_TGH-1:0]                   tgh_delresp_q;
    reg [NUM_TGH*TGH_VADDR_W-1:0]       tgh_vaddr_q;
    reg [NUM_TGH*TGH_ASID_W-1:0]        tgh_asid_q;
    reg [NUM_TGH*TGH_PAGESIZE_W-1:0]    tgh_pagesize_q;
    reg [NUM_TGH-1:0]                   tgh_global_q;
    reg [NUM_TGH*TGH_VADDRMASK_W-1:0]   tgh_vaddrmask_q;
    reg [NUM_TGH*TGH_N_W-1:0]           tgh_n_q;
    reg [NUM_TGH*TGH_CTXBITMAP_W-1:0]   tgh_ctxbitmap_q;

    // Purge FIFO of TGH indices, slot 0 is the head (shift register: easy to read in waves).
    reg [NUM_TGH*TGH_IW-1:0] purge_fifo_q, purge_fifo_d;
    reg [CNT_W-1:0]          purge_cnt_q, purge_cnt_d;
    reg [IDX_W-1:0]          purge_idx_q, purge_idx_d;

    function [PS_SHIFT_W-1:0] ps_shift;
        input [TGH_PAGESIZE_W-1:0] code;        // a TGH code > 8 is treated as 4K
        begin
            if (code > PS_MAX_CODE) ps_shift = 0;
            else ps_shift = PS_SHIFTS[code*PS_SHIFT_W +: PS_SHIFT_W];
        end
    endfunction

    // ---------------------------------------------------------------- reads
    reg [LINE_W-1:0] rd_line;
    always @* begin
        rd_line = {LINE_W{1'b0}};
        rd_line[P_DELRESP]                    = tgh_delresp_q[idx_i];
        rd_line[P_OPC]                        = tgh_opc_q[idx_i];
        rd_line[P_STATUS +: HDL_STATUS_W]     = tgh_status_q[idx_i*HDL_STATUS_W +: HDL_STATUS_W];
        // state and cause read 0 (hardware fields of a TGH are always 0)
        rd_line[P_VADDR +: TGH_VADDR_W]       = tgh_vaddr_q[idx_i*TGH_VADDR_W +: TGH_VADDR_W];
        rd_line[P_ASID +: TGH_ASID_W]         = tgh_asid_q[idx_i*TGH_ASID_W +: TGH_ASID_W];
        rd_line[P_PAGESIZE +: TGH_PAGESIZE_W] = tgh_pagesize_q[idx_i*TGH_PAGESIZE_W +: TGH_PAGESIZE_W];
        rd_line[P_GLOBAL]                     = tgh_global_q[idx_i];
        rd_line[P_VADDRMASK +: TGH_VADDRMASK_W] =
            tgh_vaddrmask_q[idx_i*TGH_VADDRMASK_W +: TGH_VADDRMASK_W];
        rd_line[P_N +: TGH_N_W]               = tgh_n_q[idx_i*TGH_N_W +: TGH_N_W];
        rd_line[P_CTXBITMAP +: TGH_CTXBITMAP_W] =
            tgh_ctxbitmap_q[idx_i*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W];
    end
    assign rd_line_o = rd_line;

    // Contexts covered by an ACTIVE TGH (pre-edge): a miss latching now is born stale.
    reg [NUM_CTX-1:0] tgh_active_ctx;
    integer ai;
    always @* begin
        tgh_active_ctx = {NUM_CTX{1'b0}};
        for (ai = 0; ai < NUM_TGH; ai = ai + 1)
            if (tgh_status_q[ai*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_ACTIVE)
                tgh_active_ctx = tgh_active_ctx
                    | tgh_ctxbitmap_q[ai*TGH_CTXBITMAP_W +: NUM_CTX];
    end
    assign tgh_active_ctx_o = tgh_active_ctx;

    // ---------------------------------------------------------------- start decode
    wire                start        = wr_i && dwen_i[HDL_CMD_DW] && data_i[P_CMD];
    wire                start_opc    = data_i[P_OPC];    // start implies DW0 is written
    wire [NUM_CTX-1:0]  new_bitmap   = dwen_i[TGH_CTXBITMAP_DW] ? data_i[P_CTXBITMAP +: NUM_CTX]
                                     : tgh_ctxbitmap_q[idx_i*TGH_CTXBITMAP_W +: NUM_CTX];
    assign inval_start_o  = start && start_opc == TGHOP_INVALIDATE;
    assign inval_bitmap_o = new_bitmap;

    // ---------------------------------------------------------------- purge step (pre-edge)
    wire                      purge_busy = purge_cnt_q != {CNT_W{1'b0}};
    wire [TGH_IW-1:0]         head       = purge_fifo_q[TGH_IW-1:0];
    wire [KEY_W-1:0]          head_vkey  = tgh_vaddr_q[head*TGH_VADDR_W + PAGE_SHIFT +: KEY_W];
    wire [TGH_ASID_W-1:0]     head_asid  = tgh_asid_q[head*TGH_ASID_W +: TGH_ASID_W];
    wire [PS_SHIFT_W-1:0]     head_shift =
        ps_shift(tgh_pagesize_q[head*TGH_PAGESIZE_W +: TGH_PAGESIZE_W]);
    wire                      head_global = tgh_global_q[head];
    wire [KEY_W-1:0]          head_mask  = tgh_vaddrmask_q[head*TGH_VADDRMASK_W +: KEY_W];
    wire [TGH_N_W-1:0]        head_n     = tgh_n_q[head*TGH_N_W +: TGH_N_W];
    wire [TGH_CTXBITMAP_W-1:0] head_bitmap =
        tgh_ctxbitmap_q[head*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W];
    wire                      head_full  = head_n == TGH_FULL_PURGE_N;
    // The last group: purge_idx + PURGE_LANES >= TLB_ENTRIES.
    wire                      purge_last = {1'b0, purge_idx_q} + PURGE_LANES >= TLB_ENTRIES;

    // Purge range [s, e) in page-key units: s = key(V) aligned to the TGH page, e = s + (N+1) pages.
    wire [RANGE_W-1:0] pr_s = {2'b00, head_vkey & head_mask}
                              & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << head_shift) - 1'b1);
    wire [RANGE_W-1:0] pr_e = pr_s + ({{(RANGE_W-TGH_N_W-1){1'b0}}, {1'b0, head_n} + 1'b1}
                                      << head_shift);

    reg [PURGE_LANES-1:0]  lane_match;
    reg [IDX_W:0]          lane_ent;
    reg [IDX_W-1:0]        lane_idx;
    reg [PS_SHIFT_W-1:0]   lane_shift;
    reg [RANGE_W-1:0]      lane_es, lane_ee;
    reg                    lane_overlap;
    reg [NCLR_W-1:0]       purge_nclr;
    reg [TLB_ENTRIES-1:0]  purge_clr;
    integer pl, pe;
    always @* begin
        lane_match = {PURGE_LANES{1'b0}};
        purge_nclr = {NCLR_W{1'b0}};
        for (pl = 0; pl < PURGE_LANES; pl = pl + 1) begin
            lane_ent   = {1'b0, purge_idx_q} + pl[IDX_W:0];
            lane_idx   = lane_ent[IDX_W-1:0];
            lane_shift = ps_shift({1'b0, tlb_ps_i[lane_idx*TLB_PS_W +: TLB_PS_W]});
            lane_es    = {2'b00, tlb_vpn_i[lane_idx*TLB_VPN_W +: KEY_W] & head_mask}
                         & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift) - 1'b1);
            lane_ee    = lane_es + ({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift);
            lane_overlap = lane_es < pr_e && pr_s < lane_ee;
            lane_match[pl] = purge_busy
                && lane_ent < TLB_ENTRIES
                && tlb_valid_i[lane_idx]
                && head_bitmap[tlb_ctx_i[lane_idx*TLB_CTX_W +: TLB_CTX_W]]
                && (head_global || tlb_asid_i[lane_idx*TLB_ASID_W +: TLB_ASID_W] == head_asid)
                && (head_full || lane_overlap);
            purge_nclr = purge_nclr + {{(NCLR_W-1){1'b0}}, lane_match[pl]};
        end
        // Scatter the lanes onto the entries of the current group.
        purge_clr = {TLB_ENTRIES{1'b0}};
        for (pe = 0; pe < TLB_ENTRIES; pe = pe + 1)
            purge_clr[pe] = {{(32-IDX_W){1'b0}}, purge_idx_q} == pe - pe % PURGE_LANES
                            && lane_match[pe % PURGE_LANES];
    end
    assign purge_clr_o  = purge_clr;
    assign purge_nclr_o = purge_nclr;
    assign purge_done_o = purge_busy && purge_last;

    // ---------------------------------------------------------------- next state
    // Purge step first, then the MMIO start (a TGH completing now cannot be restarted now: its
    // pre-edge status is ACTIVE, so the start was already rejected as an error).
    reg [CNT_W-1:0] push_slot;
    integer ni;
    always @* begin
        tgh_status_d = tgh_status_q;
        purge_fifo_d = purge_fifo_q;
        purge_cnt_d  = purge_cnt_q;
        purge_idx_d  = purge_idx_q;
        if (purge_busy) begin
            if (purge_last) begin
                purge_idx_d = {IDX_W{1'b0}};
`ifndef GRU_MUTANT_TGH_STUCK
                tgh_status_d[head*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
`endif
                // Mutant GRU_MUTANT_TGH_STUCK: the handle is popped but never leaves ACTIVE.
                purge_fifo_d = purge_fifo_q >> TGH_IW;
                purge_cnt_d  = purge_cnt_q - 1'b1;
            end else begin
                purge_idx_d = purge_idx_q + PURGE_LANES[IDX_W-1:0];
            end
        end
        push_slot = purge_cnt_d;
        if (start) begin
            if (start_opc == TGHOP_INVALIDATE) begin
                tgh_status_d[idx_i*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_ACTIVE;
                for (ni = 0; ni < NUM_TGH; ni = ni + 1)
                    if (push_slot == ni[CNT_W-1:0]) purge_fifo_d[ni*TGH_IW +: TGH_IW] = idx_i;
                purge_cnt_d = purge_cnt_d + 1'b1;
            end else begin
                tgh_status_d[idx_i*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
            end
        end
    end

    integer si;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            tgh_status_q    <= {NUM_TGH*HDL_STATUS_W{1'b0}};
            tgh_opc_q       <= {NUM_TGH{1'b0}};
            tgh_delresp_q   <= {NUM_TGH{1'b0}};
            tgh_vaddr_q     <= {NUM_TGH*TGH_VADDR_W{1'b0}};
            tgh_asid_q      <= {NUM_TGH*TGH_ASID_W{1'b0}};
            tgh_pagesize_q  <= {NUM_TGH*TGH_PAGESIZE_W{1'b0}};
            tgh_global_q    <= {NUM_TGH{1'b0}};
            tgh_vaddrmask_q <= {NUM_TGH*TGH_VADDRMASK_W{1'b0}};
            tgh_n_q         <= {NUM_TGH*TGH_N_W{1'b0}};
            tgh_ctxbitmap_q <= {NUM_TGH*TGH_CTXBITMAP_W{1'b0}};
            purge_fifo_q    <= {NUM_TGH*TGH_IW{1'b0}};
            purge_cnt_q     <= {CNT_W{1'b0}};
            purge_idx_q     <= {IDX_W{1'b0}};
        end else begin
            tgh_status_q <= tgh_status_d;
            purge_fifo_q <= purge_fifo_d;
            purge_cnt_q  <= purge_cnt_d;
            purge_idx_q  <= purge_idx_d;
            // Software fields: written per dword enable.
            for (si = 0; si < NUM_TGH; si = si + 1) begin
                if (wr_i && idx_i == si[TGH_IW-1:0]) begin
                    if (dwen_i[HDL_DELRESP_DW]) begin
                        tgh_opc_q[si]     <= data_i[P_OPC];
                        tgh_delresp_q[si] <= data_i[P_DELRESP];
                    end
                    if (dwen_i[TGH_VADDR_DW])
                        tgh_vaddr_q[si*TGH_VADDR_W +: TGH_VADDR_W] <= data_i[P_VADDR +: TGH_VADDR_W];
                    if (dwen_i[TGH_ASID_DW]) begin
                        tgh_asid_q[si*TGH_ASID_W +: TGH_ASID_W] <= data_i[P_ASID +: TGH_ASID_W];
                        tgh_pagesize_q[si*TGH_PAGESIZE_W +: TGH_PAGESIZE_W] <=
                            data_i[P_PAGESIZE +: TGH_PAGESIZE_W];
                        tgh_global_q[si] <= data_i[P_GLOBAL];
                    end
                    if (dwen_i[TGH_VADDRMASK_DW]) begin
                        tgh_vaddrmask_q[si*TGH_VADDRMASK_W +: TGH_VADDRMASK_W] <=
                            data_i[P_VADDRMASK +: TGH_VADDRMASK_W];
                        tgh_n_q[si*TGH_N_W +: TGH_N_W] <= data_i[P_N +: TGH_N_W];
                    end
                    if (dwen_i[TGH_CTXBITMAP_DW])
                        tgh_ctxbitmap_q[si*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W] <=
                            data_i[P_CTXBITMAP +: TGH_CTXBITMAP_W];
                end
            end
        end
    end

endmodule

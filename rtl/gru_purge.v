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
    sel_i, wr_i, idx_i, dwen_i, data_i, rd_line_o,
    tlb_valid_i, tlb_ctx_i, tlb_asid_i, tlb_vpn_i, tlb_ps_i,
    purge_clr_o, purge_nclr_o, purge_done_o,
    tgh_active_ctx_o, inval_start_o, inval_bitmap_o, purge_idle_o
);
`include "gru_defs.vh"

    localparam TGH_IW  = $clog2(NUM_TGH);
    localparam CNT_W   = $clog2(NUM_TGH + 1);
    localparam IDX_W   = $clog2(TLB_ENTRIES);
    localparam NCLR_W  = $clog2(PURGE_LANES + 1);
    localparam KEY_W   = TGH_VADDRMASK_W;      // 39-bit purge keys = vaddr[50:12]
    localparam RANGE_W = KEY_W + 2;            // 41-bit range ends (no overflow)
    localparam NUM_GROUPS = (TLB_ENTRIES + PURGE_LANES - 1) / PURGE_LANES;

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

    // An MMIO request addresses TGH idx_i (sel_i: rd_line_o is valid) and is an accepted write
    // (wr_i; errors already filtered out).
    input                 sel_i;
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
    output                   purge_idle_o;    // FIFO empty: the engine steps nowhere (§12)

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

    assign purge_idle_o = purge_cnt_q == {CNT_W{1'b0}};

    function [PS_SHIFT_W-1:0] ps_shift;
        input [TGH_PAGESIZE_W-1:0] code;        // a TGH code > 8 is treated as 4K
        begin
            if (code > PS_MAX_CODE) ps_shift = 0;
            else ps_shift = PS_SHIFTS[code*PS_SHIFT_W +: PS_SHIFT_W];
        end
    endfunction

    // Wide flat vectors are read through select loops, not `vec[idx*W +: W]`: Yosys 0.23 turns
    // each wide variable part-select into a huge shifter that takes about a minute to map. The
    // loops only run while they are needed, which keeps the Verilated model fast.

    // A TGH is ACTIVE while it is in the FIFO (under GRU_MUTANT_TGH_STUCK it stays ACTIVE after).
    wire              purge_busy = purge_cnt_q != {CNT_W{1'b0}};
    wire [TGH_IW-1:0] head       = purge_fifo_q[TGH_IW-1:0];

    // ---------------------------------------------------------------- selected TGH (pre-edge)
    // TGH idx_i as it is before this edge, while an MMIO request addresses the TGHs.
    reg [HDL_STATUS_W-1:0]    sel_status;
    reg                       sel_opc, sel_delresp, sel_global;
    reg [TGH_VADDR_W-1:0]     sel_vaddr;
    reg [TGH_ASID_W-1:0]      sel_asid;
    reg [TGH_PAGESIZE_W-1:0]  sel_pagesize;
    reg [TGH_VADDRMASK_W-1:0] sel_vaddrmask;
    reg [TGH_N_W-1:0]         sel_n;
    reg [TGH_CTXBITMAP_W-1:0] sel_ctxbitmap;
    integer ri;
    always @* begin
        sel_status    = {HDL_STATUS_W{1'b0}};
        sel_opc       = 1'b0;
        sel_delresp   = 1'b0;
        sel_global    = 1'b0;
        sel_vaddr     = {TGH_VADDR_W{1'b0}};
        sel_asid      = {TGH_ASID_W{1'b0}};
        sel_pagesize  = {TGH_PAGESIZE_W{1'b0}};
        sel_vaddrmask = {TGH_VADDRMASK_W{1'b0}};
        sel_n         = {TGH_N_W{1'b0}};
        sel_ctxbitmap = {TGH_CTXBITMAP_W{1'b0}};
        if (sel_i) for (ri = 0; ri < NUM_TGH; ri = ri + 1) begin
            if (idx_i == ri[TGH_IW-1:0]) begin
                sel_status    = tgh_status_q[ri*HDL_STATUS_W +: HDL_STATUS_W];
                sel_opc       = tgh_opc_q[ri];
                sel_delresp   = tgh_delresp_q[ri];
                sel_global    = tgh_global_q[ri];
                sel_vaddr     = tgh_vaddr_q[ri*TGH_VADDR_W +: TGH_VADDR_W];
                sel_asid      = tgh_asid_q[ri*TGH_ASID_W +: TGH_ASID_W];
                sel_pagesize  = tgh_pagesize_q[ri*TGH_PAGESIZE_W +: TGH_PAGESIZE_W];
                sel_vaddrmask = tgh_vaddrmask_q[ri*TGH_VADDRMASK_W +: TGH_VADDRMASK_W];
                sel_n         = tgh_n_q[ri*TGH_N_W +: TGH_N_W];
                sel_ctxbitmap = tgh_ctxbitmap_q[ri*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W];
            end
        end
    end

    // ---------------------------------------------------------------- reads
    reg [LINE_W-1:0] rd_line;
    always @* begin
        rd_line = {LINE_W{1'b0}};
        rd_line[P_DELRESP]                      = sel_delresp;
        rd_line[P_OPC]                          = sel_opc;
        rd_line[P_STATUS +: HDL_STATUS_W]       = sel_status;
        // state and cause read 0 (hardware fields of a TGH are always 0)
        rd_line[P_VADDR +: TGH_VADDR_W]         = sel_vaddr;
        rd_line[P_ASID +: TGH_ASID_W]           = sel_asid;
        rd_line[P_PAGESIZE +: TGH_PAGESIZE_W]   = sel_pagesize;
        rd_line[P_GLOBAL]                       = sel_global;
        rd_line[P_VADDRMASK +: TGH_VADDRMASK_W] = sel_vaddrmask;
        rd_line[P_N +: TGH_N_W]                 = sel_n;
        rd_line[P_CTXBITMAP +: TGH_CTXBITMAP_W] = sel_ctxbitmap;
    end
    assign rd_line_o = rd_line;

    // Contexts covered by an ACTIVE TGH (pre-edge): a miss latching now is born stale.
    // (A TGH status is only ever IDLE or ACTIVE, so |tgh_status_q says whether any is ACTIVE.)
    reg [NUM_CTX-1:0] tgh_active_ctx;
    integer ai;
    always @* begin
        tgh_active_ctx = {NUM_CTX{1'b0}};
        if (|tgh_status_q) for (ai = 0; ai < NUM_TGH; ai = ai + 1)
            if (tgh_status_q[ai*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_ACTIVE)
                tgh_active_ctx = tgh_active_ctx
                    | tgh_ctxbitmap_q[ai*TGH_CTXBITMAP_W +: NUM_CTX];
    end
    assign tgh_active_ctx_o = tgh_active_ctx;

    // ---------------------------------------------------------------- start decode
    wire                start        = wr_i && dwen_i[HDL_CMD_DW] && data_i[P_CMD];
    wire                start_opc    = data_i[P_OPC];    // start implies DW0 is written
    wire [NUM_CTX-1:0]  new_bitmap   = dwen_i[TGH_CTXBITMAP_DW] ? data_i[P_CTXBITMAP +: NUM_CTX]
                                                                : sel_ctxbitmap[NUM_CTX-1:0];
    assign inval_start_o  = start && start_opc == TGHOP_INVALIDATE;
    assign inval_bitmap_o = new_bitmap;

    // ---------------------------------------------------------------- purge step (pre-edge)
    // The last group: purge_idx + PURGE_LANES >= TLB_ENTRIES.
    wire              purge_last = {1'b0, purge_idx_q} + PURGE_LANES >= TLB_ENTRIES;

    // The head TGH's fields.
    reg [KEY_W-1:0]           head_vkey;     // vaddr[50:12]
    reg [TGH_ASID_W-1:0]      head_asid;
    reg [TGH_PAGESIZE_W-1:0]  head_pagesize;
    reg                       head_global;
    reg [KEY_W-1:0]           head_mask;
    reg [TGH_N_W-1:0]         head_n;
    reg [TGH_CTXBITMAP_W-1:0] head_bitmap;
    integer hi;
    always @* begin
        head_vkey     = {KEY_W{1'b0}};
        head_asid     = {TGH_ASID_W{1'b0}};
        head_pagesize = {TGH_PAGESIZE_W{1'b0}};
        head_global   = 1'b0;
        head_mask     = {KEY_W{1'b0}};
        head_n        = {TGH_N_W{1'b0}};
        head_bitmap   = {TGH_CTXBITMAP_W{1'b0}};
        if (purge_busy) for (hi = 0; hi < NUM_TGH; hi = hi + 1) begin
            if (head == hi[TGH_IW-1:0]) begin
                head_vkey     = tgh_vaddr_q[hi*TGH_VADDR_W + PAGE_SHIFT +: KEY_W];
                head_asid     = tgh_asid_q[hi*TGH_ASID_W +: TGH_ASID_W];
                head_pagesize = tgh_pagesize_q[hi*TGH_PAGESIZE_W +: TGH_PAGESIZE_W];
                head_global   = tgh_global_q[hi];
                head_mask     = tgh_vaddrmask_q[hi*TGH_VADDRMASK_W +: KEY_W];
                head_n        = tgh_n_q[hi*TGH_N_W +: TGH_N_W];
                head_bitmap   = tgh_ctxbitmap_q[hi*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W];
            end
        end
    end
    wire [PS_SHIFT_W-1:0] head_shift = ps_shift(head_pagesize);
    wire                  head_full  = head_n == TGH_FULL_PURGE_N;

    // Purge range [s, e) in page-key units: s = key(V) aligned to the TGH page, e = s + (N+1) pages.
    wire [RANGE_W-1:0] pr_s = {2'b00, head_vkey & head_mask}
                              & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << head_shift) - 1'b1);
`ifdef GRU_MUTANT_PURGE_N_IS_COUNT
    // Mutant (field semantics): N is read as a page count, not pages minus one, so every range
    // purge misses its last page (a one-page purge purges nothing).
    wire [RANGE_W-1:0] pr_e = pr_s + ({{(RANGE_W-TGH_N_W){1'b0}}, head_n} << head_shift);
`else
    wire [RANGE_W-1:0] pr_e = pr_s + ({{(RANGE_W-TGH_N_W-1){1'b0}}, {1'b0, head_n} + 1'b1}
                                      << head_shift);
`endif

    // The group of PURGE_LANES entries at purge_idx_q (a multiple of PURGE_LANES).
    reg [PURGE_LANES-1:0]            lane_exists, lane_valid;
    reg [PURGE_LANES*TLB_CTX_W-1:0]  lane_ctx;
    reg [PURGE_LANES*TLB_ASID_W-1:0] lane_asid;
    reg [PURGE_LANES*KEY_W-1:0]      lane_vkey;   // vpn[38:0] = vaddr[50:12]
    reg [PURGE_LANES*TLB_PS_W-1:0]   lane_ps;
    integer gg, gl;
    always @* begin
        lane_exists = {PURGE_LANES{1'b0}};
        lane_valid  = {PURGE_LANES{1'b0}};
        lane_ctx    = {PURGE_LANES*TLB_CTX_W{1'b0}};
        lane_asid   = {PURGE_LANES*TLB_ASID_W{1'b0}};
        lane_vkey   = {PURGE_LANES*KEY_W{1'b0}};
        lane_ps     = {PURGE_LANES*TLB_PS_W{1'b0}};
        if (purge_busy) for (gg = 0; gg < NUM_GROUPS; gg = gg + 1) begin
            if ({{(32-IDX_W){1'b0}}, purge_idx_q} == gg*PURGE_LANES) begin
                for (gl = 0; gl < PURGE_LANES; gl = gl + 1) begin
                    if (gg*PURGE_LANES + gl < TLB_ENTRIES) begin
                        lane_exists[gl] = 1'b1;
                        lane_valid[gl]  = tlb_valid_i[gg*PURGE_LANES + gl];
                        lane_ctx[gl*TLB_CTX_W +: TLB_CTX_W] =
                            tlb_ctx_i[(gg*PURGE_LANES + gl)*TLB_CTX_W +: TLB_CTX_W];
                        lane_asid[gl*TLB_ASID_W +: TLB_ASID_W] =
                            tlb_asid_i[(gg*PURGE_LANES + gl)*TLB_ASID_W +: TLB_ASID_W];
                        lane_vkey[gl*KEY_W +: KEY_W] =
                            tlb_vpn_i[(gg*PURGE_LANES + gl)*TLB_VPN_W +: KEY_W];
                        lane_ps[gl*TLB_PS_W +: TLB_PS_W] =
                            tlb_ps_i[(gg*PURGE_LANES + gl)*TLB_PS_W +: TLB_PS_W];
                    end
                end
            end
        end
    end

    // Lanes whose comparator is enabled.
`ifdef GRU_MUTANT_PURGE_SKIP_LAST_LANE
    // Mutant (dead purge lane): the last lane never matches, so the entries i with
    // i % PURGE_LANES == PURGE_LANES-1 are never purged.
    localparam [PURGE_LANES-1:0] LANE_EN = {1'b0, {(PURGE_LANES-1){1'b1}}};
`else
    localparam [PURGE_LANES-1:0] LANE_EN = {PURGE_LANES{1'b1}};
`endif

    reg [PURGE_LANES-1:0]  lane_match;
    reg [PS_SHIFT_W-1:0]   lane_shift;
    reg [RANGE_W-1:0]      lane_es, lane_ee;
    reg                    lane_overlap;
    reg [NCLR_W-1:0]       purge_nclr;
    reg [TLB_ENTRIES-1:0]  purge_clr;
    integer pl, pe;
    always @* begin
        lane_match   = {PURGE_LANES{1'b0}};
        purge_nclr   = {NCLR_W{1'b0}};
        purge_clr    = {TLB_ENTRIES{1'b0}};
        lane_shift   = {PS_SHIFT_W{1'b0}};
        lane_es      = {RANGE_W{1'b0}};
        lane_ee      = {RANGE_W{1'b0}};
        lane_overlap = 1'b0;
        if (purge_busy) begin
            for (pl = 0; pl < PURGE_LANES; pl = pl + 1) begin
`ifdef FORMAL_MUTANT_PURGE_IGNORES_PAGESIZE
                // Formal-only mutant (scripts/formal.sh): the entry is compared by its base
                // page only, as if every entry were 4K.
                lane_shift = {PS_SHIFT_W{1'b0}};
`else
                lane_shift = ps_shift({1'b0, lane_ps[pl*TLB_PS_W +: TLB_PS_W]});
`endif
                // Entry range [es, ee) in page-key units, each entry its own page size.
                lane_es    = {2'b00, lane_vkey[pl*KEY_W +: KEY_W] & head_mask}
                             & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift) - 1'b1);
                lane_ee    = lane_es + ({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift);
                lane_overlap = lane_es < pr_e && pr_s < lane_ee;
                lane_match[pl] = LANE_EN[pl] && lane_exists[pl] && lane_valid[pl]
                    && head_bitmap[lane_ctx[pl*TLB_CTX_W +: TLB_CTX_W]]
                    && (head_global || lane_asid[pl*TLB_ASID_W +: TLB_ASID_W] == head_asid)
                    && (head_full || lane_overlap);
                purge_nclr = purge_nclr + {{(NCLR_W-1){1'b0}}, lane_match[pl]};
            end
            // Scatter the lanes onto the entries of the current group.
            for (pe = 0; pe < TLB_ENTRIES; pe = pe + 1)
                purge_clr[pe] = {{(32-IDX_W){1'b0}}, purge_idx_q} == pe - pe % PURGE_LANES
                                && lane_match[pe % PURGE_LANES];
        end
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
                // Fault injection GRU_MUTANT_TGH_STUCK: the handle is popped (its purge is
                // done) but its status never leaves ACTIVE, so a driver waiting on it times out.
`ifndef GRU_MUTANT_TGH_STUCK
`ifndef GRU_MUTANT_PURGE_DONE_EARLY
                tgh_status_d[head*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
`endif
`endif
                purge_fifo_d = purge_fifo_q >> TGH_IW;
                purge_cnt_d  = purge_cnt_q - 1'b1;
            end else begin
                purge_idx_d = purge_idx_q + PURGE_LANES[IDX_W-1:0];
            end
`ifdef GRU_MUTANT_PURGE_DONE_EARLY
            // Mutant (done when taken): the handle reads IDLE from the edge the engine takes
            // its first group, while the rest of its purge still runs (the pop stays on the
            // last group).
            if (purge_idx_q == {IDX_W{1'b0}})
                tgh_status_d[head*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
`endif
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

`ifdef FORMAL
    // ---------------------------------------------------------------- formal (docs/FORMAL.md)
    // A TGH leaves ACTIVE only at the edge its purge completes: it is the head and is popped
    // after its last group (MICROARCH §7). p_purge_range checks the TLB at that edge, so
    // together they say what software relies on when it reads IDLE: the purge is done.
    reg f_init = 1'b1;
    always @(posedge clk_i) f_init <= 1'b0;
    reg f_left_early;
    integer fl;
    always @* begin
        f_left_early = 1'b0;
        for (fl = 0; fl < NUM_TGH; fl = fl + 1)
            if (tgh_status_q[fl*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_ACTIVE
                && tgh_status_d[fl*HDL_STATUS_W +: HDL_STATUS_W] != HSTATUS_ACTIVE
                && !(purge_done_o && head == fl[TGH_IW-1:0]))
                f_left_early = 1'b1;
    end
    always @(posedge clk_i) begin
        if (!f_init && rst_ni) begin
            p_tgh_idle_done: assert(!f_left_early);
            c_tgh_idle_done: cover(purge_done_o);
        end
    end
`endif

endmodule

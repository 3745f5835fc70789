// gru_purge -- the TGHs (TLB global handles) and the purge engines (MICROARCH §7).
//
// A started INVALIDATE TGH goes ACTIVE and joins the purge queue; one with a page-size code the
// chip has no page for is refused at once (EXCEPTION, cause PAGESIZE). Each edge the lowest free
// engine takes the queue head (one dispatch per edge) and draws the TGH's latency tail from a
// 16-bit LFSR seeded at reset (seed_i). An engine scans PURGE_LANES TLB entries per cycle,
// clearing the entries that match its TGH, then waits out PURGE_BASE + PURGE_ENTRY per entry it
// cleared + PURGE_TAIL per tail step; then the TGH returns to IDLE. It also reports which contexts
// have an ACTIVE TGH (a latching miss becomes stale) and a starting INVALIDATE (marks pending
// TFHs stale).
module gru_purge #(
    parameter NUM_CTX       = 16,
    parameter NUM_TGH       = 24,
    parameter TLB_ENTRIES   = 128,
    parameter PURGE_LANES   = 8,
    parameter PURGE_ENGINES = 1,
    parameter PURGE_BASE    = 0,
    parameter PURGE_ENTRY   = 0,
    parameter PURGE_TAIL    = 0
) (
    clk_i, rst_ni, seed_i,
    sel_i, wr_i, idx_i, dwen_i, data_i, rd_line_o,
    tlb_valid_i, tlb_ctx_i, tlb_asid_i, tlb_vpn_i, tlb_ps_i,
    purge_clr_o, purge_nclr_o, purge_done_o, purge_ndone_o,
    tgh_active_ctx_o, inval_start_o, inval_bitmap_o, purge_idle_o
);
`include "gru_defs.vh"

    localparam TGH_IW  = $clog2(NUM_TGH);
    localparam CNT_W   = $clog2(NUM_TGH + 1);
    localparam IDX_W   = $clog2(TLB_ENTRIES);
    localparam LCNT_W  = $clog2(PURGE_LANES + 1);                   // matches of one engine
    localparam NCLR_W  = $clog2(PURGE_ENGINES * PURGE_LANES + 1);   // entries cleared per edge
    localparam NDONE_W = $clog2(PURGE_ENGINES + 1);                 // completions per edge
    localparam ENG_IW  = PURGE_ENGINES > 1 ? $clog2(PURGE_ENGINES) : 1;
    // Longest wait after a scan: base + every entry + the longest tail (8 steps), plus one.
    localparam WAIT_MAX = PURGE_BASE + PURGE_ENTRY * TLB_ENTRIES + PURGE_TAIL * 8 + 1;
    localparam WAIT_W0 = $clog2(WAIT_MAX + 1);
    localparam WAIT_W  = WAIT_W0 < 8 ? 8 : WAIT_W0;   // at least the tail count and LCNT_W
    localparam KEY_W   = TGH_VADDRMASK_W;      // 39-bit purge keys = vaddr[50:12]
    localparam RANGE_W = KEY_W + 2;            // 41-bit range ends (no overflow)
    localparam NUM_GROUPS = (TLB_ENTRIES + PURGE_LANES - 1) / PURGE_LANES;
    localparam [15:0] LFSR_TAPS = 16'hB400;    // x^16 + x^14 + x^13 + x^11 + 1, Galois
    localparam [15:0] LFSR_ZERO_SEED = 16'hACE1;

    // Handle line positions.
    localparam P_CMD       = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam P_DELRESP   = HDL_DELRESP_DW*DW_W + HDL_DELRESP_LSB;
    localparam P_STATUS    = HDL_STATUS_DW*DW_W + HDL_STATUS_LSB;
    localparam P_OPC       = TGH_OPC_DW*DW_W + TGH_OPC_LSB;
    localparam P_CAUSE     = TGH_CAUSE_DW*DW_W + TGH_CAUSE_LSB;
    localparam P_VADDR     = TGH_VADDR_DW*DW_W + TGH_VADDR_LSB;
    localparam P_ASID      = TGH_ASID_DW*DW_W + TGH_ASID_LSB;
    localparam P_PAGESIZE  = TGH_PAGESIZE_DW*DW_W + TGH_PAGESIZE_LSB;
    localparam P_GLOBAL    = TGH_GLOBAL_DW*DW_W + TGH_GLOBAL_LSB;
    localparam P_VADDRMASK = TGH_VADDRMASK_DW*DW_W + TGH_VADDRMASK_LSB;
    localparam P_N         = TGH_N_DW*DW_W + TGH_N_LSB;
    localparam P_CTXBITMAP = TGH_CTXBITMAP_DW*DW_W + TGH_CTXBITMAP_LSB;

    input clk_i;
    input rst_ni;
    input [15:0] seed_i;                      // LFSR seed, sampled only at reset edges

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
    output [NCLR_W-1:0]      purge_nclr_o;    // how many distinct ones (stat entries purged)
    output                   purge_done_o;    // some TGH completes at this edge
    output [NDONE_W-1:0]     purge_ndone_o;   // how many (stat purges)
    output [NUM_CTX-1:0]     tgh_active_ctx_o;
    output                   inval_start_o;
    output [NUM_CTX-1:0]     inval_bitmap_o;
    output                   purge_idle_o;    // queue empty, no engine busy (§12)

    // ---------------------------------------------------------------- state
    reg [NUM_TGH*HDL_STATUS_W-1:0]      tgh_status_q, tgh_status_d;
    reg [NUM_TGH*TGH_CAUSE_W-1:0]       tgh_cause_q, tgh_cause_d;
    reg [NUM_TGH-1:0]                   tgh_opc_q;
    reg [NUM_TGH-1:0]                   tgh_delresp_q;
    reg [NUM_TGH*TGH_VADDR_W-1:0]       tgh_vaddr_q;
    reg [NUM_TGH*TGH_ASID_W-1:0]        tgh_asid_q;
    reg [NUM_TGH*TGH_PAGESIZE_W-1:0]    tgh_pagesize_q;
    reg [NUM_TGH-1:0]                   tgh_global_q;
    reg [NUM_TGH*TGH_VADDRMASK_W-1:0]   tgh_vaddrmask_q;
    reg [NUM_TGH*TGH_N_W-1:0]           tgh_n_q;
    reg [NUM_TGH*TGH_CTXBITMAP_W-1:0]   tgh_ctxbitmap_q;

    // Purge queue of started TGH indices, slot 0 is the head (shift register: easy to read in
    // waves).
    reg [NUM_TGH*TGH_IW-1:0] purge_fifo_q, purge_fifo_d;
    reg [CNT_W-1:0]          purge_cnt_q, purge_cnt_d;
    // The engines: busy, scanning (else waiting), the TGH served, next group, cycles to wait.
    reg [PURGE_ENGINES-1:0]        eng_busy_q, eng_busy_d;
    reg [PURGE_ENGINES-1:0]        eng_scan_q, eng_scan_d;
    reg [PURGE_ENGINES*TGH_IW-1:0] eng_tgh_q, eng_tgh_d;
    reg [PURGE_ENGINES*IDX_W-1:0]  eng_idx_q, eng_idx_d;
    reg [PURGE_ENGINES*WAIT_W-1:0] eng_wait_q, eng_wait_d;
    reg [15:0]                     lfsr_q, lfsr_d;
`ifdef GRU_MUTANT_TGH_EXCEPTION
    reg [PURGE_ENGINES-1:0]        eng_fail_q, eng_fail_d;
`endif

    assign purge_idle_o = purge_cnt_q == {CNT_W{1'b0}} && !(|eng_busy_q);

    function [PS_SHIFT_W-1:0] ps_shift;
        input [TGH_PAGESIZE_W-1:0] code;        // only codes <= 8 reach an engine
        begin
            if (code > PS_MAX_CODE) ps_shift = 0;
            else ps_shift = PS_SHIFTS[code*PS_SHIFT_W +: PS_SHIFT_W];
        end
    endfunction

    // Wide flat vectors are read through select loops, not `vec[idx*W +: W]`: Yosys 0.23 turns
    // each wide variable part-select into a huge shifter that takes about a minute to map. The
    // loops only run while they are needed, which keeps the Verilated model fast.

    wire              queued = purge_cnt_q != {CNT_W{1'b0}};
    wire [TGH_IW-1:0] head   = purge_fifo_q[TGH_IW-1:0];

    // ---------------------------------------------------------------- selected TGH (pre-edge)
    // TGH idx_i as it is before this edge, while an MMIO request addresses the TGHs.
    reg [HDL_STATUS_W-1:0]    sel_status;
    reg [TGH_CAUSE_W-1:0]     sel_cause;
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
        sel_cause     = {TGH_CAUSE_W{1'b0}};
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
                sel_cause     = tgh_cause_q[ri*TGH_CAUSE_W +: TGH_CAUSE_W];
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
        rd_line[P_CAUSE +: TGH_CAUSE_W]         = sel_cause;
        // state reads 0
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
    // (ACTIVE is the only status with bit 1 set: the mask says whether any TGH is ACTIVE.)
    localparam [HDL_STATUS_W-1:0] ACTIVE_BIT = HSTATUS_ACTIVE;
    reg [NUM_CTX-1:0] tgh_active_ctx;
    integer ai;
    always @* begin
        tgh_active_ctx = {NUM_CTX{1'b0}};
        if (|(tgh_status_q & {NUM_TGH{ACTIVE_BIT}})) for (ai = 0; ai < NUM_TGH; ai = ai + 1)
            if (tgh_status_q[ai*HDL_STATUS_W +: HDL_STATUS_W] == HSTATUS_ACTIVE)
                tgh_active_ctx = tgh_active_ctx
                    | tgh_ctxbitmap_q[ai*TGH_CTXBITMAP_W +: NUM_CTX];
    end
    assign tgh_active_ctx_o = tgh_active_ctx;

    // ---------------------------------------------------------------- start decode
    wire                      start      = wr_i && dwen_i[HDL_CMD_DW] && data_i[P_CMD];
    wire                      start_opc  = data_i[P_OPC];    // start implies DW0 is written
    wire [NUM_CTX-1:0]        new_bitmap = dwen_i[TGH_CTXBITMAP_DW] ? data_i[P_CTXBITMAP +: NUM_CTX]
                                                                    : sel_ctxbitmap[NUM_CTX-1:0];
    wire [TGH_PAGESIZE_W-1:0] new_ps     = dwen_i[TGH_PAGESIZE_DW] ? data_i[P_PAGESIZE +: TGH_PAGESIZE_W]
                                                                   : sel_pagesize;
    // An INVALIDATE with a page-size code the chip has no page for is refused (§7).
    wire                      start_inval = start && start_opc == TGHOP_INVALIDATE;
    wire                      start_bad   = start_inval && new_ps > PS_MAX_CODE;
    assign inval_start_o  = start_inval && !start_bad;
    assign inval_bitmap_o = new_bitmap;

    // ---------------------------------------------------------------- dispatch (pre-edge)
    // The lowest free engine takes the queue head; the draw r = lfsr_q gives the tail count t
    // (trailing ones of r[7:0]) and the PRNG steps eight times.
    reg                dispatch;
    reg [ENG_IW-1:0]   disp_eng;
    reg [3:0]          tail_t;
    reg                tail_run;
    reg [15:0]         lfsr_next8;
    integer de, dt, dl;
    always @* begin
        dispatch = 1'b0;
        disp_eng = {ENG_IW{1'b0}};
        for (de = PURGE_ENGINES - 1; de >= 0; de = de - 1)
            if (!eng_busy_q[de]) begin
                dispatch = queued;
                disp_eng = de[ENG_IW-1:0];
            end
        tail_t   = 4'd0;
        tail_run = 1'b1;
        for (dt = 0; dt < 8; dt = dt + 1) begin
            tail_run = tail_run && lfsr_q[dt];
            tail_t   = tail_t + {3'b000, tail_run};
        end
        lfsr_next8 = lfsr_q;
        for (dl = 0; dl < 8; dl = dl + 1)
            lfsr_next8 = {1'b0, lfsr_next8[15:1]} ^ (lfsr_next8[0] ? LFSR_TAPS : 16'h0000);
    end
    // The wait a dispatched TGH starts its scan with.
    wire [WAIT_W-1:0] disp_wait = PURGE_BASE[WAIT_W-1:0]
                                + PURGE_TAIL[WAIT_W-1:0] * {{(WAIT_W-4){1'b0}}, tail_t};
`ifdef GRU_MUTANT_TGH_EXCEPTION
    // Fault injection: one dispatch in 16 fails like a TLB ECC error (purges nothing, ends in
    // EXCEPTION).
    wire disp_fail = lfsr_q[11:8] == 4'hF;
`endif

    // ---------------------------------------------------------------- engines (pre-edge)
    // Per engine: does it scan a group at this edge, for which TGH, which group, with which wait.
    reg [PURGE_ENGINES-1:0]          eng_run;
    reg [PURGE_ENGINES*TGH_IW-1:0]   eng_cur;
    reg [PURGE_ENGINES*IDX_W-1:0]    eng_gidx;
    reg [PURGE_ENGINES*WAIT_W-1:0]   eng_win;
    reg [PURGE_ENGINES-1:0]          eng_mask;   // its lanes may clear (0: failing, mutant)
    integer ee;
    always @* begin
        for (ee = 0; ee < PURGE_ENGINES; ee = ee + 1) begin
            if (dispatch && disp_eng == ee[ENG_IW-1:0]) begin
                eng_run[ee] = 1'b1;
                eng_cur[ee*TGH_IW +: TGH_IW]  = head;
                eng_gidx[ee*IDX_W +: IDX_W]   = {IDX_W{1'b0}};
                eng_win[ee*WAIT_W +: WAIT_W]  = disp_wait;
`ifdef GRU_MUTANT_TGH_EXCEPTION
                eng_mask[ee] = !disp_fail;
`else
                eng_mask[ee] = 1'b1;
`endif
            end else begin
                eng_run[ee] = eng_busy_q[ee] && eng_scan_q[ee];
                eng_cur[ee*TGH_IW +: TGH_IW]  = eng_tgh_q[ee*TGH_IW +: TGH_IW];
                eng_gidx[ee*IDX_W +: IDX_W]   = eng_idx_q[ee*IDX_W +: IDX_W];
                eng_win[ee*WAIT_W +: WAIT_W]  = eng_wait_q[ee*WAIT_W +: WAIT_W];
`ifdef GRU_MUTANT_TGH_EXCEPTION
                eng_mask[ee] = !eng_fail_q[ee];
`else
                eng_mask[ee] = 1'b1;
`endif
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

    // Each engine's lane matches for its group, and how many.
    wire [PURGE_ENGINES*PURGE_LANES-1:0] eng_match;
    wire [PURGE_ENGINES*LCNT_W-1:0]      eng_nmatch;
    genvar ge;
    generate
        for (ge = 0; ge < PURGE_ENGINES; ge = ge + 1) begin : g_eng
            wire              run  = eng_run[ge];
            wire [TGH_IW-1:0] cur  = eng_cur[ge*TGH_IW +: TGH_IW];
            wire [IDX_W-1:0]  gidx = eng_gidx[ge*IDX_W +: IDX_W];

            // The served TGH's fields.
            reg [KEY_W-1:0]           t_vkey;     // vaddr[50:12]
            reg [TGH_ASID_W-1:0]      t_asid;
            reg [TGH_PAGESIZE_W-1:0]  t_pagesize;
            reg                       t_global;
            reg [KEY_W-1:0]           t_mask;
            reg [TGH_N_W-1:0]         t_n;
            reg [TGH_CTXBITMAP_W-1:0] t_bitmap;
            integer hi;
            always @* begin
                t_vkey     = {KEY_W{1'b0}};
                t_asid     = {TGH_ASID_W{1'b0}};
                t_pagesize = {TGH_PAGESIZE_W{1'b0}};
                t_global   = 1'b0;
                t_mask     = {KEY_W{1'b0}};
                t_n        = {TGH_N_W{1'b0}};
                t_bitmap   = {TGH_CTXBITMAP_W{1'b0}};
                if (run) for (hi = 0; hi < NUM_TGH; hi = hi + 1) begin
                    if (cur == hi[TGH_IW-1:0]) begin
                        t_vkey     = tgh_vaddr_q[hi*TGH_VADDR_W + PAGE_SHIFT +: KEY_W];
                        t_asid     = tgh_asid_q[hi*TGH_ASID_W +: TGH_ASID_W];
                        t_pagesize = tgh_pagesize_q[hi*TGH_PAGESIZE_W +: TGH_PAGESIZE_W];
                        t_global   = tgh_global_q[hi];
                        t_mask     = tgh_vaddrmask_q[hi*TGH_VADDRMASK_W +: KEY_W];
                        t_n        = tgh_n_q[hi*TGH_N_W +: TGH_N_W];
                        t_bitmap   = tgh_ctxbitmap_q[hi*TGH_CTXBITMAP_W +: TGH_CTXBITMAP_W];
                    end
                end
            end
            wire [PS_SHIFT_W-1:0] t_shift = ps_shift(t_pagesize);
            wire                  t_full  = t_n == TGH_FULL_PURGE_N;

            // Purge range [s, e) in page-key units: s = key(V) aligned to the TGH page,
            // e = s + (N+1) pages.
            wire [RANGE_W-1:0] pr_s = {2'b00, t_vkey & t_mask}
                                      & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << t_shift) - 1'b1);
`ifdef GRU_MUTANT_PURGE_N_IS_COUNT
            // Mutant (field semantics): N is read as a page count, not pages minus one, so
            // every range purge misses its last page (a one-page purge purges nothing).
            wire [RANGE_W-1:0] pr_e = pr_s + ({{(RANGE_W-TGH_N_W){1'b0}}, t_n} << t_shift);
`else
            wire [RANGE_W-1:0] pr_e = pr_s + ({{(RANGE_W-TGH_N_W-1){1'b0}}, {1'b0, t_n} + 1'b1}
                                              << t_shift);
`endif

            // The group of PURGE_LANES entries at gidx (a multiple of PURGE_LANES).
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
                if (run) for (gg = 0; gg < NUM_GROUPS; gg = gg + 1) begin
                    if ({{(32-IDX_W){1'b0}}, gidx} == gg*PURGE_LANES) begin
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

            reg [PURGE_LANES-1:0]  lane_match;
            reg [PS_SHIFT_W-1:0]   lane_shift;
            reg [RANGE_W-1:0]      lane_es, lane_ee;
            reg                    lane_overlap;
            reg [LCNT_W-1:0]       nmatch;
            integer pl;
            always @* begin
                lane_match   = {PURGE_LANES{1'b0}};
                nmatch       = {LCNT_W{1'b0}};
                lane_shift   = {PS_SHIFT_W{1'b0}};
                lane_es      = {RANGE_W{1'b0}};
                lane_ee      = {RANGE_W{1'b0}};
                lane_overlap = 1'b0;
                if (run) begin
                    for (pl = 0; pl < PURGE_LANES; pl = pl + 1) begin
`ifdef FORMAL_MUTANT_PURGE_IGNORES_PAGESIZE
                        // Formal-only mutant (scripts/formal.sh): the entry is compared by its
                        // base page only, as if every entry were 4K.
                        lane_shift = {PS_SHIFT_W{1'b0}};
`else
                        lane_shift = ps_shift({1'b0, lane_ps[pl*TLB_PS_W +: TLB_PS_W]});
`endif
                        // Entry range [es, ee) in page-key units, each entry its own page size.
                        lane_es    = {2'b00, lane_vkey[pl*KEY_W +: KEY_W] & t_mask}
                                     & ~(({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift) - 1'b1);
                        lane_ee    = lane_es + ({{(RANGE_W-1){1'b0}}, 1'b1} << lane_shift);
                        lane_overlap = lane_es < pr_e && pr_s < lane_ee;
                        lane_match[pl] = LANE_EN[pl] && eng_mask[ge] && lane_exists[pl]
                            && lane_valid[pl]
                            && t_bitmap[lane_ctx[pl*TLB_CTX_W +: TLB_CTX_W]]
                            && (t_global || lane_asid[pl*TLB_ASID_W +: TLB_ASID_W] == t_asid)
                            && (t_full || lane_overlap);
                        nmatch = nmatch + {{(LCNT_W-1){1'b0}}, lane_match[pl]};
                    end
                end
            end
            assign eng_match[ge*PURGE_LANES +: PURGE_LANES] = lane_match;
            assign eng_nmatch[ge*LCNT_W +: LCNT_W]          = nmatch;
        end
    endgenerate

    // Scatter the engines' lanes onto the entries; count each entry cleared once (an engine's
    // lane counts unless a lower engine clears the same entry at this edge).
    reg [NCLR_W-1:0]      purge_nclr;
    reg [TLB_ENTRIES-1:0] purge_clr;
    reg                   dup;
    integer se, sl, so, pe;
    always @* begin
        purge_nclr = {NCLR_W{1'b0}};
        purge_clr  = {TLB_ENTRIES{1'b0}};
        dup        = 1'b0;
        if (|eng_run) begin
            for (se = 0; se < PURGE_ENGINES; se = se + 1) begin
                for (sl = 0; sl < PURGE_LANES; sl = sl + 1) begin
                    dup = 1'b0;
                    for (so = 0; so < se; so = so + 1)
                        if (eng_gidx[so*IDX_W +: IDX_W] == eng_gidx[se*IDX_W +: IDX_W]
                            && eng_match[so*PURGE_LANES + sl])
                            dup = 1'b1;
                    purge_nclr = purge_nclr
                        + {{(NCLR_W-1){1'b0}}, eng_match[se*PURGE_LANES + sl] && !dup};
                end
                for (pe = 0; pe < TLB_ENTRIES; pe = pe + 1)
                    if ({{(32-IDX_W){1'b0}}, eng_gidx[se*IDX_W +: IDX_W]} == pe - pe % PURGE_LANES
                        && eng_match[se*PURGE_LANES + pe % PURGE_LANES])
                        purge_clr[pe] = 1'b1;
            end
        end
    end
    assign purge_clr_o  = purge_clr;
    assign purge_nclr_o = purge_nclr;

    // ---------------------------------------------------------------- next state
    // Engines first (scan, wait, completion, dispatch), then the MMIO start (a TGH completing
    // now cannot be restarted now: its pre-edge status is ACTIVE, so the start was already
    // rejected as an error).
    reg [NDONE_W-1:0]  ndone;
    reg [NUM_TGH-1:0]  done_vec;     // TGHs completing at this edge
    reg [WAIT_W-1:0]   w;
    reg [TGH_IW-1:0]   c;
    reg                complete;
    reg [CNT_W-1:0]    push_slot;
    integer ne, ni, nt;
    always @* begin
        tgh_status_d = tgh_status_q;
        tgh_cause_d  = tgh_cause_q;
        purge_fifo_d = purge_fifo_q;
        purge_cnt_d  = purge_cnt_q;
        eng_busy_d   = eng_busy_q;
        eng_scan_d   = eng_scan_q;
        eng_tgh_d    = eng_tgh_q;
        eng_idx_d    = eng_idx_q;
        eng_wait_d   = eng_wait_q;
        lfsr_d       = lfsr_q;
`ifdef GRU_MUTANT_TGH_EXCEPTION
        eng_fail_d   = eng_fail_q;
`endif
        ndone        = {NDONE_W{1'b0}};
        done_vec     = {NUM_TGH{1'b0}};
        w            = {WAIT_W{1'b0}};
        c            = {TGH_IW{1'b0}};
        complete     = 1'b0;
        if (dispatch) begin
            purge_fifo_d = purge_fifo_q >> TGH_IW;
            purge_cnt_d  = purge_cnt_q - 1'b1;
            lfsr_d       = lfsr_next8;
`ifdef GRU_MUTANT_TGH_EXCEPTION
            for (ne = 0; ne < PURGE_ENGINES; ne = ne + 1)
                if (disp_eng == ne[ENG_IW-1:0]) eng_fail_d[ne] = disp_fail;
`endif
`ifdef GRU_MUTANT_PURGE_DONE_EARLY
            // Mutant (done when taken): the handle reads IDLE from its dispatch edge, while
            // its purge still runs (the completion stays where it was).
            for (nt = 0; nt < NUM_TGH; nt = nt + 1)
                if (head == nt[TGH_IW-1:0])
                    tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
`endif
        end
        for (ne = 0; ne < PURGE_ENGINES; ne = ne + 1) begin
            c        = eng_cur[ne*TGH_IW +: TGH_IW];
            complete = 1'b0;
            if (eng_run[ne]) begin
                w = eng_win[ne*WAIT_W +: WAIT_W]
                  + PURGE_ENTRY[WAIT_W-1:0]
                    * {{(WAIT_W-LCNT_W){1'b0}}, eng_nmatch[ne*LCNT_W +: LCNT_W]};
                eng_busy_d[ne] = 1'b1;
                eng_scan_d[ne] = 1'b1;
                eng_tgh_d[ne*TGH_IW +: TGH_IW] = c;
                eng_wait_d[ne*WAIT_W +: WAIT_W] = w;
                if ({1'b0, eng_gidx[ne*IDX_W +: IDX_W]} + PURGE_LANES >= TLB_ENTRIES) begin
                    eng_idx_d[ne*IDX_W +: IDX_W] = {IDX_W{1'b0}};
                    eng_scan_d[ne] = 1'b0;
                    complete = w == {WAIT_W{1'b0}};
                end else begin
                    eng_idx_d[ne*IDX_W +: IDX_W] = eng_gidx[ne*IDX_W +: IDX_W]
                                                 + PURGE_LANES[IDX_W-1:0];
                end
            end else if (eng_busy_q[ne]) begin
                eng_wait_d[ne*WAIT_W +: WAIT_W] = eng_wait_q[ne*WAIT_W +: WAIT_W] - 1'b1;
                complete = eng_wait_q[ne*WAIT_W +: WAIT_W] == {{(WAIT_W-1){1'b0}}, 1'b1};
            end
            if (complete) begin
                eng_busy_d[ne] = 1'b0;
                eng_scan_d[ne] = 1'b0;
                ndone = ndone + 1'b1;
                for (nt = 0; nt < NUM_TGH; nt = nt + 1) begin
                    if (c == nt[TGH_IW-1:0]) begin
                        done_vec[nt] = 1'b1;
                        // Fault injection GRU_MUTANT_TGH_STUCK: the engine is freed (its purge
                        // is done) but the status never leaves ACTIVE, so a driver waiting on
                        // it times out.
`ifndef GRU_MUTANT_TGH_STUCK
`ifndef GRU_MUTANT_PURGE_DONE_EARLY
`ifdef GRU_MUTANT_TGH_EXCEPTION
                        if (eng_run[ne] ? !eng_mask[ne] : eng_fail_q[ne]) begin
                            tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_EXCEPTION;
                            tgh_cause_d[nt*TGH_CAUSE_W +: TGH_CAUSE_W]    = TGHCAUSE_TLB_ECC;
                        end else
`endif
                        tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
`endif
`endif
                    end
                end
            end
        end
        push_slot = purge_cnt_d;
        if (start) begin
            for (nt = 0; nt < NUM_TGH; nt = nt + 1) begin
                if (idx_i == nt[TGH_IW-1:0]) begin
                    if (start_bad) begin
                        tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_EXCEPTION;
                        tgh_cause_d[nt*TGH_CAUSE_W +: TGH_CAUSE_W]    = TGHCAUSE_PAGESIZE;
                    end else if (start_inval) begin
                        tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_ACTIVE;
                        tgh_cause_d[nt*TGH_CAUSE_W +: TGH_CAUSE_W]    = {TGH_CAUSE_W{1'b0}};
                    end else begin
                        tgh_status_d[nt*HDL_STATUS_W +: HDL_STATUS_W] = HSTATUS_IDLE;
                        tgh_cause_d[nt*TGH_CAUSE_W +: TGH_CAUSE_W]    = {TGH_CAUSE_W{1'b0}};
                    end
                end
            end
            if (start_inval && !start_bad) begin
                for (ni = 0; ni < NUM_TGH; ni = ni + 1)
                    if (push_slot == ni[CNT_W-1:0]) purge_fifo_d[ni*TGH_IW +: TGH_IW] = idx_i;
                purge_cnt_d = purge_cnt_d + 1'b1;
            end
        end
    end
    assign purge_done_o  = |done_vec;
    assign purge_ndone_o = ndone;

    integer si;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            tgh_status_q    <= {NUM_TGH*HDL_STATUS_W{1'b0}};
            tgh_cause_q     <= {NUM_TGH*TGH_CAUSE_W{1'b0}};
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
            eng_busy_q      <= {PURGE_ENGINES{1'b0}};
            eng_scan_q      <= {PURGE_ENGINES{1'b0}};
            eng_tgh_q       <= {PURGE_ENGINES*TGH_IW{1'b0}};
            eng_idx_q       <= {PURGE_ENGINES*IDX_W{1'b0}};
            eng_wait_q      <= {PURGE_ENGINES*WAIT_W{1'b0}};
            lfsr_q          <= seed_i == 16'h0000 ? LFSR_ZERO_SEED : seed_i;
`ifdef GRU_MUTANT_TGH_EXCEPTION
            eng_fail_q      <= {PURGE_ENGINES{1'b0}};
`endif
        end else begin
            tgh_status_q <= tgh_status_d;
            tgh_cause_q  <= tgh_cause_d;
            purge_fifo_q <= purge_fifo_d;
            purge_cnt_q  <= purge_cnt_d;
            eng_busy_q   <= eng_busy_d;
            eng_scan_q   <= eng_scan_d;
            eng_tgh_q    <= eng_tgh_d;
            eng_idx_q    <= eng_idx_d;
            eng_wait_q   <= eng_wait_d;
            lfsr_q       <= lfsr_d;
`ifdef GRU_MUTANT_TGH_EXCEPTION
            eng_fail_q   <= eng_fail_d;
`endif
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
    // A TGH leaves ACTIVE only at the edge its purge completes: an engine serving it finishes
    // its scan and its wait (MICROARCH §7). p_purge_range checks the TLB at that edge, so
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
                && !done_vec[fl])
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

// gru_cb_engine -- the CB port engine and the memory port (MICROARCH §5).
//
// Single issue: one CB at a time goes E_IDLE -> E_LOOKUP -> (hit) E_MEM -> E_WAIT -> E_IDLE, or
// (miss / store to a clean entry) latches the fault in its TFH and parks (busy stays 1) until a
// TFH command restarts it (restart_pend) or completes it (cmp_pend). In E_IDLE, pending
// completions go first, then restarts, then a new request from the CB port.
module gru_cb_engine #(
    parameter NUM_CTX = 16,
    parameter NUM_CBR = 128,
    parameter CBR_PER_CTX = NUM_CBR / NUM_CTX   // ctx(cbr) = cbr / CBR_PER_CTX
) (
    clk_i, rst_ni,
    cb_req_valid_i, cb_req_ready_o, cb_req_cbr_i, cb_req_vaddr_i, cb_req_write_i, cb_req_wdata_i,
    cb_cmp_valid_o, cb_cmp_cbr_o, cb_cmp_status_o, cb_cmp_cause_o, cb_cmp_rdata_o,
    mem_req_valid_o, mem_req_ready_i, mem_req_paddr_o, mem_req_write_o, mem_req_wdata_o,
    mem_req_tag_o, mem_rsp_valid_i, mem_rsp_tag_i, mem_rsp_rdata_i,
    lk_en_o, lk_ctx_o, lk_asid_o, lk_vpn_o, lk_hit_i, lk_pfn_i, lk_ps_i, lk_dirty_i,
    cch_state_i, cch_asid_i, cch_tfm_fault_bit_enable_i, cch_tlb_int_select_i,
    tgh_active_ctx_i,
    restart_set_i, cmp_set_i, set_cbr_i, cmp_set_status_i, cmp_set_cause_i,
    miss_o, miss_cbr_o, miss_cause_o, miss_vaddr_o, miss_asid_o, miss_ctx_o, miss_stale_o,
    miss_fmm_o,
    set_fault_o, set_done_o, set_map_o, set_cbr_o,
    stat_hit_o, stat_miss_o, stat_tlbmod_o,
    eng_busy_o, eng_cur_ctx_o, restart_pend_o, cmp_pend_o
);
`include "gru_defs.vh"

    localparam CBR_IW       = $clog2(NUM_CBR);
    localparam CTX_IW       = $clog2(NUM_CTX);
    localparam CPC_IW       = $clog2(CBR_PER_CTX);      // ctx(cbr) = cbr >> CPC_IW (powers of 2)
    localparam ASID_PER_CTX = CCH_NUM_ASID * CCH_ASID0_W;

    input clk_i;
    input rst_ni;

    // CB port.
    input                   cb_req_valid_i;
    output                  cb_req_ready_o;
    input  [CBR_IW-1:0]     cb_req_cbr_i;
    input  [VADDR_W-1:0]    cb_req_vaddr_i;
    input                   cb_req_write_i;
    input  [DW_W-1:0]       cb_req_wdata_i;
    output                  cb_cmp_valid_o;
    output [CBR_IW-1:0]     cb_cmp_cbr_o;
    output [1:0]            cb_cmp_status_o;
    output [TFH_CAUSE_W-1:0] cb_cmp_cause_o;
    output [DW_W-1:0]       cb_cmp_rdata_o;

    // Memory port.
    output                  mem_req_valid_o;
    input                   mem_req_ready_i;
    output [VADDR_W-1:0]    mem_req_paddr_o;
    output                  mem_req_write_o;
    output [DW_W-1:0]       mem_req_wdata_o;
    output [MEM_TAG_W-1:0]  mem_req_tag_o;
    input                   mem_rsp_valid_i;
    input  [MEM_TAG_W-1:0]  mem_rsp_tag_i;
    input  [DW_W-1:0]       mem_rsp_rdata_i;

    // TLB lookup of the current CB (key from registered state only).
    output                  lk_en_o;      // E_LOOKUP: the TLB evaluates the match
    output [TLB_CTX_W-1:0]  lk_ctx_o;
    output [TLB_ASID_W-1:0] lk_asid_o;
    output [TLB_VPN_W-1:0]  lk_vpn_o;
    input                   lk_hit_i;
    input  [TLB_PFN_W-1:0]  lk_pfn_i;
    input  [TLB_PS_W-1:0]   lk_ps_i;
    input                   lk_dirty_i;

    // Context configuration (pre-edge).
    input  [NUM_CTX*HDL_STATE_W-1:0]          cch_state_i;
    /* verilator lint_off UNUSED */
    // Lookups index ASIDs by region = vaddr[62:61]: ASIDs 4..7 of a context are never used.
    input  [NUM_CTX*ASID_PER_CTX-1:0]         cch_asid_i;
    /* verilator lint_on UNUSED */
    input  [NUM_CTX-1:0]                      cch_tfm_fault_bit_enable_i;
    input  [NUM_CTX*CCH_TLB_INT_SELECT_W-1:0] cch_tlb_int_select_i;
    input  [NUM_CTX-1:0]                      tgh_active_ctx_i;

    // TFH commands at this edge, for CBR set_cbr_i (applied after the engine's own clears).
    input                   restart_set_i;
    input                   cmp_set_i;
    input  [CBR_IW-1:0]     set_cbr_i;
    input  [1:0]            cmp_set_status_i;
    input  [TFH_CAUSE_W-1:0] cmp_set_cause_i;

    // Miss latch into TFH miss_cbr_o at this edge.
    output                   miss_o;
    output [CBR_IW-1:0]      miss_cbr_o;
    output [TFH_CAUSE_W-1:0] miss_cause_o;
    output [VADDR_W-1:0]     miss_vaddr_o;
    output [TLB_ASID_W-1:0]  miss_asid_o;
    output [TLB_CTX_W-1:0]   miss_ctx_o;
    output                   miss_stale_o;
    output                   miss_fmm_o;

    // Fault-map bit to set at this edge.
    output                   set_fault_o;
    output                   set_done_o;
    output [CCH_TLB_INT_SELECT_W-1:0] set_map_o;
    output [CBR_IW-1:0]      set_cbr_o;

    output                   stat_hit_o;
    output                   stat_miss_o;
    output                   stat_tlbmod_o;

    // In flight (pre-edge), for CCH INTERRUPT_SYNC.
    output                   eng_busy_o;
    output [CTX_IW-1:0]      eng_cur_ctx_o;
    output [NUM_CBR-1:0]     restart_pend_o;
    output [NUM_CBR-1:0]     cmp_pend_o;

    // ---------------------------------------------------------------- state
    reg [1:0]                    eng_state_q, eng_state_d;
    reg [CBR_IW-1:0]             cur_q, cur_d;
    reg [NUM_CBR-1:0]            busy_q, busy_d;
    reg [NUM_CBR-1:0]            restart_pend_q, restart_pend_d;
    reg [NUM_CBR-1:0]            cmp_pend_q, cmp_pend_d;
    reg [NUM_CBR*2-1:0]          cmp_status_q, cmp_status_d;
    reg [NUM_CBR*TFH_CAUSE_W-1:0] cmp_cause_q, cmp_cause_d;
    reg [NUM_CBR*VADDR_W-1:0]    req_vaddr_q;
    reg [NUM_CBR-1:0]            req_write_q;
    reg [NUM_CBR*DW_W-1:0]       req_wdata_q;
    // Copy of CBR cur's request, loaded when it becomes current (saves a wide select per cycle).
    reg [VADDR_W-1:0]            cur_vaddr_q, cur_vaddr_d;
    reg                          cur_write_q, cur_write_d;
    reg [DW_W-1:0]               cur_wdata_q, cur_wdata_d;

    // Output registers.
    reg                    cb_cmp_valid_q, cb_cmp_valid_d;
    reg [CBR_IW-1:0]       cb_cmp_cbr_q, cb_cmp_cbr_d;
    reg [1:0]              cb_cmp_status_q, cb_cmp_status_d;
    reg [TFH_CAUSE_W-1:0]  cb_cmp_cause_q, cb_cmp_cause_d;
    reg [DW_W-1:0]         cb_cmp_rdata_q, cb_cmp_rdata_d;
    reg                    mem_req_valid_q, mem_req_valid_d;
    reg [VADDR_W-1:0]      mem_req_paddr_q, mem_req_paddr_d;
    reg                    mem_req_write_q, mem_req_write_d;
    reg [DW_W-1:0]         mem_req_wdata_q, mem_req_wdata_d;
    reg [CBR_IW-1:0]       mem_req_cbr_q, mem_req_cbr_d;     // tag = {0, cbr}

    assign cb_req_ready_o  = eng_state_q == E_IDLE && !(|cmp_pend_q) && !(|restart_pend_q);
    assign cb_cmp_valid_o  = cb_cmp_valid_q;
    assign cb_cmp_cbr_o    = cb_cmp_cbr_q;
    assign cb_cmp_status_o = cb_cmp_status_q;
    assign cb_cmp_cause_o  = cb_cmp_cause_q;
    assign cb_cmp_rdata_o  = cb_cmp_rdata_q;
    assign mem_req_valid_o = mem_req_valid_q;
    assign mem_req_paddr_o = mem_req_paddr_q;
    assign mem_req_write_o = mem_req_write_q;
    assign mem_req_wdata_o = mem_req_wdata_q;
    assign mem_req_tag_o   = {{(MEM_TAG_W-CBR_IW){1'b0}}, mem_req_cbr_q};

    assign eng_busy_o     = eng_state_q != E_IDLE;
    assign restart_pend_o = restart_pend_q;
    assign cmp_pend_o     = cmp_pend_q;

    function [PS_SHIFT_W-1:0] ps_shift;
        input [TLB_PS_W-1:0] code;
        begin
            if (code > PS_MAX_CODE) ps_shift = 0;
            else ps_shift = PS_SHIFTS[code*PS_SHIFT_W +: PS_SHIFT_W];
        end
    endfunction

    // ---------------------------------------------------------------- current CB (pre-edge)
    // Wide flat vectors are read through select loops, not `vec[idx*W +: W]`: Yosys 0.23 turns
    // each wide variable part-select into a huge shifter that takes about a minute to map. The
    // loops only run when needed, which keeps the Verilated model fast.
    wire                   lookup     = eng_state_q == E_LOOKUP;
    wire [CTX_IW-1:0]      cur_ctx    = cur_q[CBR_IW-1:CPC_IW];
    wire [VADDR_W-1:0]     cur_vaddr  = cur_vaddr_q;
    wire                   cur_write  = cur_write_q;
    wire [DW_W-1:0]        cur_wdata  = cur_wdata_q;
    reg  [ASID_PER_CTX-1:0] cur_ctx_asids;
    integer ci;
    always @* begin
        cur_ctx_asids = {ASID_PER_CTX{1'b0}};
        if (lookup) for (ci = 0; ci < NUM_CTX; ci = ci + 1)
            if (cur_ctx == ci[CTX_IW-1:0])
                cur_ctx_asids = cch_asid_i[ci*ASID_PER_CTX +: ASID_PER_CTX];
    end
    wire [REGION_W-1:0]    cur_region = cur_vaddr[REGION_LSB +: REGION_W];
    wire [TLB_ASID_W-1:0]  cur_asid   = cur_ctx_asids[cur_region*CCH_ASID0_W +: CCH_ASID0_W];
    wire                   cur_fmm    = cch_tfm_fault_bit_enable_i[cur_ctx];
    wire [CCH_TLB_INT_SELECT_W-1:0] cur_map =
        cch_tlb_int_select_i[cur_ctx*CCH_TLB_INT_SELECT_W +: CCH_TLB_INT_SELECT_W];

    assign lk_en_o       = lookup;
    assign lk_ctx_o      = cur_ctx;     // CTX_IW == TLB_CTX_W with 16 contexts
    assign lk_asid_o     = cur_asid;
    assign lk_vpn_o      = cur_vaddr[PAGE_SHIFT +: TLB_VPN_W];
    assign eng_cur_ctx_o = cur_ctx;

    // paddr = (pfn << 12) + (vaddr & (pagebytes - 1) & ~7)
    wire [VADDR_W-1:0] hit_offset_mask =
        ((64'd1 << (PAGE_SHIFT + ps_shift(lk_ps_i))) - 64'd1) & ~64'd7;
    wire [VADDR_W-1:0] hit_paddr =
        ({{(VADDR_W-TLB_PFN_W){1'b0}}, lk_pfn_i} << PAGE_SHIFT) + (cur_vaddr & hit_offset_mask);
    // A store through a clean (read-only) entry faults with TLB_MOD.
`ifdef GRU_MUTANT_NO_TLB_MOD
    // Mutant (no TLB_MOD): the dirty bit is not checked; a store through a clean entry goes to
    // memory, and TLB_MOD is never raised.
    wire lk_ok = lk_hit_i;
    /* verilator lint_off UNUSED */
    wire unused_lk_dirty = lk_dirty_i;
    /* verilator lint_on UNUSED */
`else
    wire lk_ok = lk_hit_i && !(cur_write && !lk_dirty_i);
`endif

    // New request's context.
    wire [CTX_IW-1:0]      req_ctx    = cb_req_cbr_i[CBR_IW-1:CPC_IW];
    wire [HDL_STATE_W-1:0] req_cch_state = cch_state_i[req_ctx*HDL_STATE_W +: HDL_STATE_W];

    // Lowest pending completion / restart.
    reg [CBR_IW-1:0]      cmp_first, restart_first;
    reg [1:0]             cmp_first_status;
    reg [TFH_CAUSE_W-1:0] cmp_first_cause;
    reg [VADDR_W-1:0]     restart_vaddr;
    reg                   restart_write;
    reg [DW_W-1:0]        restart_wdata;
    integer fi;
    always @* begin
        cmp_first        = {CBR_IW{1'b0}};
        cmp_first_status = 2'b00;
        cmp_first_cause  = {TFH_CAUSE_W{1'b0}};
        restart_first    = {CBR_IW{1'b0}};
        restart_vaddr    = {VADDR_W{1'b0}};
        restart_write    = 1'b0;
        restart_wdata    = {DW_W{1'b0}};
        // (Guarded so that the Verilated model skips the loops on the many idle cycles.)
        if (|cmp_pend_q) for (fi = NUM_CBR - 1; fi >= 0; fi = fi - 1) begin
            if (cmp_pend_q[fi]) begin
                cmp_first        = fi[CBR_IW-1:0];
                cmp_first_status = cmp_status_q[fi*2 +: 2];
                cmp_first_cause  = cmp_cause_q[fi*TFH_CAUSE_W +: TFH_CAUSE_W];
            end
        end
        if (|restart_pend_q) for (fi = NUM_CBR - 1; fi >= 0; fi = fi - 1) begin
            if (restart_pend_q[fi]) begin
                restart_first = fi[CBR_IW-1:0];
                restart_vaddr = req_vaddr_q[fi*VADDR_W +: VADDR_W];
                restart_write = req_write_q[fi];
                restart_wdata = req_wdata_q[fi*DW_W +: DW_W];
            end
        end
    end

    // ---------------------------------------------------------------- next state
    reg                   miss;
    reg [TFH_CAUSE_W-1:0] miss_cause;
    reg                   set_fault, set_done;
    reg                   stat_hit, stat_miss, stat_tlbmod;
    reg                   accept;        // store the CB port request into its CBR slot
    integer ni;
    always @* begin
        eng_state_d     = eng_state_q;
        cur_d           = cur_q;
        cur_vaddr_d     = cur_vaddr_q;
        cur_write_d     = cur_write_q;
        cur_wdata_d     = cur_wdata_q;
        busy_d          = busy_q;
        restart_pend_d  = restart_pend_q;
        cmp_pend_d      = cmp_pend_q;
        cmp_status_d    = cmp_status_q;
        cmp_cause_d     = cmp_cause_q;
        cb_cmp_valid_d  = 1'b0;              // valid for one cycle; the other fields hold
        cb_cmp_cbr_d    = cb_cmp_cbr_q;
        cb_cmp_status_d = cb_cmp_status_q;
        cb_cmp_cause_d  = cb_cmp_cause_q;
        cb_cmp_rdata_d  = cb_cmp_rdata_q;
        mem_req_valid_d = mem_req_valid_q;
        mem_req_paddr_d = mem_req_paddr_q;
        mem_req_write_d = mem_req_write_q;
        mem_req_wdata_d = mem_req_wdata_q;
        mem_req_cbr_d   = mem_req_cbr_q;
        miss        = 1'b0;
        miss_cause  = TFHCAUSE_TLB_MISS;
        set_fault   = 1'b0;
        set_done    = 1'b0;
        stat_hit    = 1'b0;
        stat_miss   = 1'b0;
        stat_tlbmod = 1'b0;
        accept      = 1'b0;

        case (eng_state_q)
            E_IDLE: begin
                if (|cmp_pend_q) begin
                    // Completion requested by a TFH command.
                    cb_cmp_valid_d  = 1'b1;
                    cb_cmp_cbr_d    = cmp_first;
                    cb_cmp_status_d = cmp_first_status;
                    cb_cmp_cause_d  = cmp_first_cause;
                    cb_cmp_rdata_d  = {DW_W{1'b0}};
                    cmp_pend_d[cmp_first] = 1'b0;
                    // CALL_OS leaves the CB parked: software answers its TFH later.
                    if (cmp_first_status != CBSTATUS_CALL_OS) busy_d[cmp_first] = 1'b0;
                end else if (|restart_pend_q) begin
                    restart_pend_d[restart_first] = 1'b0;
                    cur_d       = restart_first;
                    cur_vaddr_d = restart_vaddr;
                    cur_write_d = restart_write;
                    cur_wdata_d = restart_wdata;
                    eng_state_d = E_LOOKUP;
                end else if (cb_req_valid_i) begin
                    if (busy_q[cb_req_cbr_i] || req_cch_state != CCHSTATE_ACTIVE) begin
                        cb_cmp_valid_d  = 1'b1;
                        cb_cmp_cbr_d    = cb_req_cbr_i;
                        cb_cmp_status_d = CBSTATUS_EXCEPTION;
                        cb_cmp_cause_d  = TFHCAUSE_INSTRUCTION_EXCEPTION;
                        cb_cmp_rdata_d  = {DW_W{1'b0}};
                    end else begin
                        accept = 1'b1;
                        busy_d[cb_req_cbr_i] = 1'b1;
                        cur_d       = cb_req_cbr_i;
                        cur_vaddr_d = cb_req_vaddr_i;
                        cur_write_d = cb_req_write_i;
                        cur_wdata_d = cb_req_wdata_i;
                        eng_state_d = E_LOOKUP;
                    end
                end
            end
            E_LOOKUP: begin
                if (lk_ok) begin
                    stat_hit        = 1'b1;
                    mem_req_valid_d = 1'b1;
                    mem_req_paddr_d = hit_paddr;
                    mem_req_write_d = cur_write;
                    mem_req_wdata_d = cur_wdata;
                    mem_req_cbr_d   = cur_q;
                    eng_state_d     = E_MEM;
                end else begin
                    miss        = 1'b1;
                    miss_cause  = lk_hit_i ? TFHCAUSE_TLB_MOD : TFHCAUSE_TLB_MISS;
                    stat_tlbmod = lk_hit_i;
                    stat_miss   = !lk_hit_i;
                    if (cur_fmm) begin
                        set_fault = 1'b1;          // fault-map mode: interrupt the driver
                    end else begin
                        cb_cmp_valid_d  = 1'b1;    // user-polling mode: tell the CB at once
                        cb_cmp_cbr_d    = cur_q;
                        cb_cmp_status_d = CBSTATUS_CALL_OS;
                        cb_cmp_cause_d  = miss_cause;
                        cb_cmp_rdata_d  = {DW_W{1'b0}};
                    end
                    eng_state_d = E_IDLE;          // busy[cur] stays 1: the CB is parked
                end
            end
            E_MEM: begin
                if (mem_req_ready_i) begin
                    mem_req_valid_d = 1'b0;
                    eng_state_d     = E_WAIT;
                end
            end
            default: begin  // E_WAIT
                if (mem_rsp_valid_i && mem_rsp_tag_i == {{(MEM_TAG_W-CBR_IW){1'b0}}, cur_q}) begin
                    cb_cmp_valid_d  = 1'b1;
                    cb_cmp_cbr_d    = cur_q;
                    cb_cmp_status_d = CBSTATUS_IDLE;
                    cb_cmp_cause_d  = TFHCAUSE_NONE;
                    cb_cmp_rdata_d  = cur_write ? {DW_W{1'b0}} : mem_rsp_rdata_i;
                    busy_d[cur_q]   = 1'b0;
                    set_done        = cur_fmm;
                    eng_state_d     = E_IDLE;
                end
            end
        endcase

        // TFH commands of this edge set after the engine's clears.
        if (restart_set_i) restart_pend_d[set_cbr_i] = 1'b1;
        if (cmp_set_i) begin
            cmp_pend_d[set_cbr_i] = 1'b1;
            for (ni = 0; ni < NUM_CBR; ni = ni + 1) begin
                if (set_cbr_i == ni[CBR_IW-1:0]) begin
                    cmp_status_d[ni*2 +: 2]                    = cmp_set_status_i;
                    cmp_cause_d[ni*TFH_CAUSE_W +: TFH_CAUSE_W] = cmp_set_cause_i;
                end
            end
        end
    end

    assign miss_o       = miss;
    assign miss_cbr_o   = cur_q;
    assign miss_cause_o = miss_cause;
    assign miss_vaddr_o = cur_vaddr;
    assign miss_asid_o  = cur_asid;
    assign miss_ctx_o   = cur_ctx;
`ifdef GRU_MUTANT_GUARD_START_ONLY
    // Mutant (race guard marks only at the start): only misses pending when an INVALIDATE
    // starts are marked stale, not a miss that latches while one is already running.
    assign miss_stale_o = 1'b0;
    /* verilator lint_off UNUSED */
    wire unused_tgh_active = |tgh_active_ctx_i;
    /* verilator lint_on UNUSED */
`else
    assign miss_stale_o = tgh_active_ctx_i[cur_ctx];   // an INVALIDATE of this context is running
`endif
    assign miss_fmm_o   = cur_fmm;
    assign set_fault_o  = set_fault;
    assign set_done_o   = set_done;
    assign set_map_o    = cur_map;
    assign set_cbr_o    = cur_q;
    assign stat_hit_o    = stat_hit;
    assign stat_miss_o   = stat_miss;
    assign stat_tlbmod_o = stat_tlbmod;

    integer si;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            eng_state_q     <= E_IDLE;
            cur_q           <= {CBR_IW{1'b0}};
            cur_vaddr_q     <= {VADDR_W{1'b0}};
            cur_write_q     <= 1'b0;
            cur_wdata_q     <= {DW_W{1'b0}};
            busy_q          <= {NUM_CBR{1'b0}};
            restart_pend_q  <= {NUM_CBR{1'b0}};
            cmp_pend_q      <= {NUM_CBR{1'b0}};
            cmp_status_q    <= {NUM_CBR*2{1'b0}};
            cmp_cause_q     <= {NUM_CBR*TFH_CAUSE_W{1'b0}};
            req_vaddr_q     <= {NUM_CBR*VADDR_W{1'b0}};
            req_write_q     <= {NUM_CBR{1'b0}};
            req_wdata_q     <= {NUM_CBR*DW_W{1'b0}};
            cb_cmp_valid_q  <= 1'b0;
            cb_cmp_cbr_q    <= {CBR_IW{1'b0}};
            cb_cmp_status_q <= 2'b00;
            cb_cmp_cause_q  <= {TFH_CAUSE_W{1'b0}};
            cb_cmp_rdata_q  <= {DW_W{1'b0}};
            mem_req_valid_q <= 1'b0;
            mem_req_paddr_q <= {VADDR_W{1'b0}};
            mem_req_write_q <= 1'b0;
            mem_req_wdata_q <= {DW_W{1'b0}};
            mem_req_cbr_q   <= {CBR_IW{1'b0}};
        end else begin
            eng_state_q     <= eng_state_d;
            cur_q           <= cur_d;
            cur_vaddr_q     <= cur_vaddr_d;
            cur_write_q     <= cur_write_d;
            cur_wdata_q     <= cur_wdata_d;
            busy_q          <= busy_d;
            restart_pend_q  <= restart_pend_d;
            cmp_pend_q      <= cmp_pend_d;
            cmp_status_q    <= cmp_status_d;
            cmp_cause_q     <= cmp_cause_d;
            cb_cmp_valid_q  <= cb_cmp_valid_d;
            cb_cmp_cbr_q    <= cb_cmp_cbr_d;
            cb_cmp_status_q <= cb_cmp_status_d;
            cb_cmp_cause_q  <= cb_cmp_cause_d;
            cb_cmp_rdata_q  <= cb_cmp_rdata_d;
            mem_req_valid_q <= mem_req_valid_d;
            mem_req_paddr_q <= mem_req_paddr_d;
            mem_req_write_q <= mem_req_write_d;
            mem_req_wdata_q <= mem_req_wdata_d;
            mem_req_cbr_q   <= mem_req_cbr_d;
            // Request slots: written when a CB is accepted.
            if (accept) for (si = 0; si < NUM_CBR; si = si + 1) begin
                if (cb_req_cbr_i == si[CBR_IW-1:0]) begin
                    req_vaddr_q[si*VADDR_W +: VADDR_W] <= cb_req_vaddr_i;
                    req_write_q[si]                    <= cb_req_write_i;
                    req_wdata_q[si*DW_W +: DW_W]       <= cb_req_wdata_i;
                end
            end
        end
    end

endmodule

// gru_chiplet -- external TLB chiplet modelled on SGI's GRU (docs/MICROARCH.md, DESIGN.md §3).
//
// Top level: wires the handle modules to the MMIO decoder, the CB engine and the TLB. Every output
// comes from a register except dbg_tlb_entry_o (combinational debug read) and the constant
// mmio_req_ready_o. Clock edge order (MICROARCH §9) is realised by each module computing its next
// state from pre-edge state plus the strobes of this edge, merged in the documented order.
//
// RTL mutants (README "RTL mutants", MICROARCH §10): each define `GRU_MUTANT_<NAME>` switches on
// one known bug class. sim/build.rs builds a model variant for every such define it finds in
// rtl/ and scripts/lint-rtl.sh lints each. NO_RACE_GUARD (gru_tfh), PURGE_SKIP_LAST_LANE and
// PURGE_N_IS_COUNT (gru_purge), NO_TLB_MOD (gru_cb_engine), ASID_ALIAS (gru_tlb),
// TFM_NO_CLEAR (gru_tfm); TGH_STUCK (gru_purge) is fault injection, not a catalogue bug.
module gru_chiplet #(
    parameter NUM_CTX     = 16,
    parameter NUM_CBR     = 128,
    parameter NUM_TGH     = 24,
    parameter NUM_TFM     = 16,
    parameter TLB_ENTRIES = 128,
    parameter PURGE_LANES = 8,
    // Purge timing (MICROARCH §7): engines serving TGHs concurrently, and the cycles a purge
    // takes beyond its scan: a base, a cost per entry cleared, a tail step (times a geometric
    // count 0..8 drawn from an LFSR seeded by purge_seed_i at reset). The defaults are the
    // fixed timing: one engine, TLB_ENTRIES / PURGE_LANES cycles per TGH.
    parameter PURGE_ENGINES = 1,
    parameter PURGE_BASE    = 0,
    parameter PURGE_ENTRY   = 0,
    parameter PURGE_TAIL    = 0
) (
    clk_i, rst_ni,
    mmio_req_valid_i, mmio_req_ready_o, mmio_req_write_i, mmio_req_addr_i, mmio_req_dwen_i,
    mmio_req_data_i, mmio_rsp_valid_o, mmio_rsp_err_o, mmio_rsp_data_o,
    cb_req_valid_i, cb_req_ready_o, cb_req_cbr_i, cb_req_vaddr_i, cb_req_write_i, cb_req_wdata_i,
    cb_cmp_valid_o, cb_cmp_cbr_o, cb_cmp_status_o, cb_cmp_cause_o, cb_cmp_rdata_o,
    mem_req_valid_o, mem_req_ready_i, mem_req_paddr_o, mem_req_write_o, mem_req_wdata_o,
    mem_req_tag_o, mem_rsp_valid_i, mem_rsp_tag_i, mem_rsp_rdata_i,
    irq_o,
    dbg_event_i, dbg_tlb_idx_i, dbg_tlb_entry_o,
    purge_seed_i,
    quiet_o
);
`include "gru_defs.vh"

    localparam CBR_PER_CTX = NUM_CBR / NUM_CTX;     // ctx(cbr) = cbr / CBR_PER_CTX
    localparam CBR_IW  = $clog2(NUM_CBR);
    localparam CTX_IW  = $clog2(NUM_CTX);
    localparam TFM_IW  = $clog2(NUM_TFM);
    localparam TGH_IW  = $clog2(NUM_TGH);
    localparam NCLR_W  = $clog2(PURGE_ENGINES * PURGE_LANES + 1);
    localparam NDONE_W = $clog2(PURGE_ENGINES + 1);
    localparam ASID_PER_CTX = CCH_NUM_ASID * CCH_ASID0_W;
    localparam SA_PER_CTX   = CCH_NUM_ASID * CCH_SIZEAVAIL0_W;

    input          clk_i;
    input          rst_ni;

    // Host MMIO, one cacheline per transaction.
    input          mmio_req_valid_i;
    output         mmio_req_ready_o;
    input          mmio_req_write_i;
    input  [31:0]  mmio_req_addr_i;
    input  [7:0]   mmio_req_dwen_i;
    input  [511:0] mmio_req_data_i;
    output         mmio_rsp_valid_o;
    output         mmio_rsp_err_o;
    output [511:0] mmio_rsp_data_o;

    // CB port.
    input          cb_req_valid_i;
    output         cb_req_ready_o;
    input  [6:0]   cb_req_cbr_i;
    input  [63:0]  cb_req_vaddr_i;
    input          cb_req_write_i;
    input  [63:0]  cb_req_wdata_i;
    output         cb_cmp_valid_o;
    output [6:0]   cb_cmp_cbr_o;
    output [1:0]   cb_cmp_status_o;
    output [5:0]   cb_cmp_cause_o;
    output [63:0]  cb_cmp_rdata_o;

    // Memory port.
    output         mem_req_valid_o;
    input          mem_req_ready_i;
    output [63:0]  mem_req_paddr_o;
    output         mem_req_write_o;
    output [63:0]  mem_req_wdata_o;
    output [7:0]   mem_req_tag_o;
    input          mem_rsp_valid_i;
    input  [7:0]   mem_rsp_tag_i;
    input  [63:0]  mem_rsp_rdata_i;

    output [NUM_TFM-1:0] irq_o;

    // Debug.
    input  [63:0]  dbg_event_i;
    input  [7:0]   dbg_tlb_idx_i;
    output [127:0] dbg_tlb_entry_o;

    // Seed of the purge-tail PRNG, sampled only at reset edges (MICROARCH §7).
    input  [15:0]  purge_seed_i;

    // The next edge changes no register if the inputs are idle (MICROARCH §12): the host's
    // rule for skipping a cycle without evaluating it.
    output         quiet_o;

    assign mmio_req_ready_o = 1'b1;   // one MMIO request every cycle
    assign cb_cmp_cbr_o     = cb_cmp_cbr;   // zero-extended when NUM_CBR < 128
    // §12: engine idle with nothing pending (cb_req_ready_o), no output pulse left to drop, no
    // purge queued, no INTERRUPT_SYNC waiting.
`ifdef FORMAL_MUTANT_QUIET_IGNORES_PURGE
    // Formal-only mutant (scripts/formal.sh): quiet while a purge is still queued.
    assign quiet_o = cb_req_ready_o && !cb_cmp_valid_o && !mem_req_valid_o && !mmio_rsp_valid_o &&
                     sync_idle;
`else
    assign quiet_o = cb_req_ready_o && !cb_cmp_valid_o && !mem_req_valid_o && !mmio_rsp_valid_o &&
                     purge_idle && sync_idle;
`endif

    // The software event code, registered only so that it shows in waveforms next to the
    // hardware it explains.
    /* verilator lint_off UNUSED */
    // Waived: dbg_event_q has no reader by design (waveform-only).
    reg [63:0] dbg_event_q;
    /* verilator lint_on UNUSED */
    always @(posedge clk_i) begin
        if (!rst_ni) dbg_event_q <= 64'd0;
        else         dbg_event_q <= dbg_event_i;
    end

    // ---------------------------------------------------------------- interconnect
    // MMIO decode and accepted requests.
    wire              mmio_tfm_sel, mmio_tgh_sel, mmio_tfh_sel, mmio_cch_sel;
    wire [TFM_IW-1:0] mmio_tfm_idx;
    wire [TGH_IW-1:0] mmio_tgh_idx;
    wire [CBR_IW-1:0] mmio_tfh_idx;
    wire [CTX_IW-1:0] mmio_cch_idx;
    wire [LINE_W-1:0] tfm_rd_line, tgh_rd_line, tfh_rd_line, cch_rd_line, stat_rd_line;
    wire              mmio_tfm_rd, mmio_tgh_wr, mmio_tfh_wr, mmio_cch_wr, mmio_err;

    // TLB.
    wire                  lk_en;
    wire [TLB_CTX_W-1:0]  lk_ctx;
    wire [TLB_ASID_W-1:0] lk_asid;
    wire [TLB_VPN_W-1:0]  lk_vpn;
    wire                  lk_hit;
    wire [TLB_PFN_W-1:0]  lk_pfn;
    wire [TLB_PS_W-1:0]   lk_ps;
    wire                  lk_dirty;
    wire [TLB_ENTRIES-1:0]            tlb_valid;
    wire [TLB_ENTRIES*TLB_CTX_W-1:0]  tlb_ctx;
    wire [TLB_ENTRIES*TLB_ASID_W-1:0] tlb_asid;
    wire [TLB_ENTRIES*TLB_VPN_W-1:0]  tlb_vpn;
    wire [TLB_ENTRIES*TLB_PS_W-1:0]   tlb_ps;

    // Purge engine / TGH.
    wire [TLB_ENTRIES-1:0] purge_clr;
    wire [NCLR_W-1:0]      purge_nclr;
    /* verilator lint_off UNUSED */
    wire                   purge_done;      // read by the formal properties only
    /* verilator lint_on UNUSED */
    wire [NDONE_W-1:0]     purge_ndone;
    wire [NUM_CTX-1:0]     tgh_active_ctx;
    wire                   inval_start;
    wire                   purge_idle;
    wire [NUM_CTX-1:0]     inval_bitmap;

    // TFH.
    wire                  ins_valid;
    wire [TLB_CTX_W-1:0]  ins_ctx;
    wire [TLB_ASID_W-1:0] ins_asid;
    wire [TLB_VPN_W-1:0]  ins_vpn;
    wire [TLB_PS_W-1:0]   ins_ps;
    wire [TLB_PFN_W-1:0]  ins_pfn;
    wire                  ins_dirty;
    wire                  tfh_restart_set, tfh_cmp_set;
    wire [1:0]            tfh_cmp_set_status;
    wire [TFH_CAUSE_W-1:0] tfh_cmp_set_cause;
    wire                  stat_dropin, stat_stale;
    wire                  cch_ctx_pending;

    // CCH.
    wire [NUM_CTX*HDL_STATE_W-1:0]          cch_state;
    wire [NUM_CTX*ASID_PER_CTX-1:0]         cch_asid;
    wire [NUM_CTX*SA_PER_CTX-1:0]           cch_sizeavail;
    wire [NUM_CTX-1:0]                      cch_tfm_fault_bit_enable;
    wire [NUM_CTX-1:0]                      cch_tlb_int_enable;
    wire [NUM_CTX*CCH_TLB_INT_SELECT_W-1:0] cch_tlb_int_select;
    wire                                    sync_idle;

    // CB engine.
    wire [CBR_IW-1:0]      cb_cmp_cbr;
    wire                   miss;
    wire [CBR_IW-1:0]      miss_cbr;
    wire [TFH_CAUSE_W-1:0] miss_cause;
    wire [VADDR_W-1:0]     miss_vaddr;
    wire [TLB_ASID_W-1:0]  miss_asid;
    wire [TLB_CTX_W-1:0]   miss_ctx;
    wire                   miss_stale, miss_fmm;
    wire                   tfm_set_fault, tfm_set_done;
    wire [CCH_TLB_INT_SELECT_W-1:0] tfm_set_map;
    wire [CBR_IW-1:0]      tfm_set_cbr;
    wire                   stat_hit, stat_miss, stat_tlbmod;
    wire                   eng_busy;
    wire [CTX_IW-1:0]      eng_cur_ctx;
    wire [NUM_CBR-1:0]     restart_pend, cmp_pend;

    // ---------------------------------------------------------------- modules
    gru_mmio #(
        .NUM_CTX(NUM_CTX), .NUM_CBR(NUM_CBR), .NUM_TGH(NUM_TGH), .NUM_TFM(NUM_TFM)
    ) u_mmio (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .mmio_req_valid_i(mmio_req_valid_i), .mmio_req_write_i(mmio_req_write_i),
        .mmio_req_addr_i(mmio_req_addr_i), .mmio_req_dwen_i(mmio_req_dwen_i),
        .mmio_req_data_i(mmio_req_data_i),
        .mmio_rsp_valid_o(mmio_rsp_valid_o), .mmio_rsp_err_o(mmio_rsp_err_o),
        .mmio_rsp_data_o(mmio_rsp_data_o),
        .tfm_sel_o(mmio_tfm_sel), .tgh_sel_o(mmio_tgh_sel), .tfh_sel_o(mmio_tfh_sel),
        .cch_sel_o(mmio_cch_sel),
        .tfm_idx_o(mmio_tfm_idx), .tgh_idx_o(mmio_tgh_idx), .tfh_idx_o(mmio_tfh_idx),
        .cch_idx_o(mmio_cch_idx),
        .tfm_rd_line_i(tfm_rd_line), .tgh_rd_line_i(tgh_rd_line), .tfh_rd_line_i(tfh_rd_line),
        .cch_rd_line_i(cch_rd_line), .stat_rd_line_i(stat_rd_line),
        .tfm_rd_o(mmio_tfm_rd), .tgh_wr_o(mmio_tgh_wr), .tfh_wr_o(mmio_tfh_wr),
        .cch_wr_o(mmio_cch_wr), .mmio_err_o(mmio_err)
    );

    gru_tlb #(.TLB_ENTRIES(TLB_ENTRIES)) u_tlb (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .lk_en_i(lk_en), .lk_ctx_i(lk_ctx), .lk_asid_i(lk_asid), .lk_vpn_i(lk_vpn),
        .lk_hit_o(lk_hit), .lk_pfn_o(lk_pfn), .lk_ps_o(lk_ps),
        .lk_dirty_o(lk_dirty),
        .purge_clr_i(purge_clr),
        .ins_valid_i(ins_valid), .ins_ctx_i(ins_ctx), .ins_asid_i(ins_asid), .ins_vpn_i(ins_vpn),
        .ins_ps_i(ins_ps), .ins_pfn_i(ins_pfn), .ins_dirty_i(ins_dirty),
        .dbg_idx_i(dbg_tlb_idx_i), .dbg_entry_o(dbg_tlb_entry_o),
        .tlb_valid_o(tlb_valid), .tlb_ctx_o(tlb_ctx), .tlb_asid_o(tlb_asid), .tlb_vpn_o(tlb_vpn),
        .tlb_ps_o(tlb_ps)
    );

    gru_purge #(
        .NUM_CTX(NUM_CTX), .NUM_TGH(NUM_TGH), .TLB_ENTRIES(TLB_ENTRIES), .PURGE_LANES(PURGE_LANES),
        .PURGE_ENGINES(PURGE_ENGINES), .PURGE_BASE(PURGE_BASE), .PURGE_ENTRY(PURGE_ENTRY),
        .PURGE_TAIL(PURGE_TAIL)
    ) u_purge (
        .clk_i(clk_i), .rst_ni(rst_ni), .seed_i(purge_seed_i),
        .sel_i(mmio_tgh_sel), .wr_i(mmio_tgh_wr), .idx_i(mmio_tgh_idx), .dwen_i(mmio_req_dwen_i),
        .data_i(mmio_req_data_i), .rd_line_o(tgh_rd_line),
        .tlb_valid_i(tlb_valid), .tlb_ctx_i(tlb_ctx), .tlb_asid_i(tlb_asid), .tlb_vpn_i(tlb_vpn),
        .tlb_ps_i(tlb_ps),
        .purge_clr_o(purge_clr), .purge_nclr_o(purge_nclr), .purge_done_o(purge_done),
        .purge_ndone_o(purge_ndone),
        .tgh_active_ctx_o(tgh_active_ctx), .inval_start_o(inval_start),
        .inval_bitmap_o(inval_bitmap), .purge_idle_o(purge_idle)
    );

    gru_tfh #(.NUM_CTX(NUM_CTX), .NUM_CBR(NUM_CBR), .CBR_PER_CTX(CBR_PER_CTX)) u_tfh (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .sel_i(mmio_tfh_sel), .wr_i(mmio_tfh_wr), .idx_i(mmio_tfh_idx), .dwen_i(mmio_req_dwen_i),
        .data_i(mmio_req_data_i), .rd_line_o(tfh_rd_line),
        .cch_sizeavail_i(cch_sizeavail),
        .miss_i(miss), .miss_cbr_i(miss_cbr), .miss_cause_i(miss_cause),
        .miss_vaddr_i(miss_vaddr), .miss_asid_i(miss_asid), .miss_ctx_i(miss_ctx),
        .miss_stale_i(miss_stale), .miss_fmm_i(miss_fmm),
        .inval_start_i(inval_start), .inval_bitmap_i(inval_bitmap),
        .ins_valid_o(ins_valid), .ins_ctx_o(ins_ctx), .ins_asid_o(ins_asid), .ins_vpn_o(ins_vpn),
        .ins_ps_o(ins_ps), .ins_pfn_o(ins_pfn), .ins_dirty_o(ins_dirty),
        .restart_set_o(tfh_restart_set), .cmp_set_o(tfh_cmp_set),
        .cmp_set_status_o(tfh_cmp_set_status), .cmp_set_cause_o(tfh_cmp_set_cause),
        .stat_dropin_o(stat_dropin), .stat_stale_o(stat_stale),
        .pend_en_i(mmio_cch_sel), .pend_ctx_i(mmio_cch_idx), .ctx_pending_o(cch_ctx_pending)
    );

    gru_cch #(.NUM_CTX(NUM_CTX), .NUM_CBR(NUM_CBR), .CBR_PER_CTX(CBR_PER_CTX)) u_cch (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .sel_i(mmio_cch_sel), .wr_i(mmio_cch_wr), .idx_i(mmio_cch_idx), .dwen_i(mmio_req_dwen_i),
        .data_i(mmio_req_data_i), .rd_line_o(cch_rd_line),
        .ctx_pending_i(cch_ctx_pending),
        .eng_busy_i(eng_busy), .eng_cur_ctx_i(eng_cur_ctx), .restart_pend_i(restart_pend),
        .cmp_pend_i(cmp_pend),
        .cch_state_o(cch_state), .cch_asid_o(cch_asid), .cch_sizeavail_o(cch_sizeavail),
        .cch_tfm_fault_bit_enable_o(cch_tfm_fault_bit_enable),
        .cch_tlb_int_enable_o(cch_tlb_int_enable), .cch_tlb_int_select_o(cch_tlb_int_select),
        .sync_idle_o(sync_idle)
    );

    gru_tfm #(
        .NUM_CTX(NUM_CTX), .NUM_CBR(NUM_CBR), .NUM_TFM(NUM_TFM), .CBR_PER_CTX(CBR_PER_CTX)
    ) u_tfm (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .sel_i(mmio_tfm_sel), .rd_clr_i(mmio_tfm_rd), .idx_i(mmio_tfm_idx), .rd_line_o(tfm_rd_line),
        .set_fault_i(tfm_set_fault), .set_done_i(tfm_set_done), .set_map_i(tfm_set_map),
        .set_cbr_i(tfm_set_cbr),
        .tlb_int_enable_i(cch_tlb_int_enable),
        .irq_o(irq_o)
    );

    gru_cb_engine #(
        .NUM_CTX(NUM_CTX), .NUM_CBR(NUM_CBR), .CBR_PER_CTX(CBR_PER_CTX)
    ) u_cb_engine (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .cb_req_valid_i(cb_req_valid_i), .cb_req_ready_o(cb_req_ready_o),
        .cb_req_cbr_i(cb_req_cbr_i[CBR_IW-1:0]), .cb_req_vaddr_i(cb_req_vaddr_i),
        .cb_req_write_i(cb_req_write_i), .cb_req_wdata_i(cb_req_wdata_i),
        .cb_cmp_valid_o(cb_cmp_valid_o), .cb_cmp_cbr_o(cb_cmp_cbr),
        .cb_cmp_status_o(cb_cmp_status_o), .cb_cmp_cause_o(cb_cmp_cause_o),
        .cb_cmp_rdata_o(cb_cmp_rdata_o),
        .mem_req_valid_o(mem_req_valid_o), .mem_req_ready_i(mem_req_ready_i),
        .mem_req_paddr_o(mem_req_paddr_o), .mem_req_write_o(mem_req_write_o),
        .mem_req_wdata_o(mem_req_wdata_o), .mem_req_tag_o(mem_req_tag_o),
        .mem_rsp_valid_i(mem_rsp_valid_i), .mem_rsp_tag_i(mem_rsp_tag_i),
        .mem_rsp_rdata_i(mem_rsp_rdata_i),
        .lk_en_o(lk_en), .lk_ctx_o(lk_ctx), .lk_asid_o(lk_asid), .lk_vpn_o(lk_vpn), .lk_hit_i(lk_hit),
        .lk_pfn_i(lk_pfn), .lk_ps_i(lk_ps), .lk_dirty_i(lk_dirty),
        .cch_state_i(cch_state), .cch_asid_i(cch_asid),
        .cch_tfm_fault_bit_enable_i(cch_tfm_fault_bit_enable),
        .cch_tlb_int_select_i(cch_tlb_int_select),
        .tgh_active_ctx_i(tgh_active_ctx),
        .restart_set_i(tfh_restart_set), .cmp_set_i(tfh_cmp_set), .set_cbr_i(mmio_tfh_idx),
        .cmp_set_status_i(tfh_cmp_set_status), .cmp_set_cause_i(tfh_cmp_set_cause),
        .miss_o(miss), .miss_cbr_o(miss_cbr), .miss_cause_o(miss_cause),
        .miss_vaddr_o(miss_vaddr), .miss_asid_o(miss_asid), .miss_ctx_o(miss_ctx),
        .miss_stale_o(miss_stale), .miss_fmm_o(miss_fmm),
        .set_fault_o(tfm_set_fault), .set_done_o(tfm_set_done), .set_map_o(tfm_set_map),
        .set_cbr_o(tfm_set_cbr),
        .stat_hit_o(stat_hit), .stat_miss_o(stat_miss), .stat_tlbmod_o(stat_tlbmod),
        .eng_busy_o(eng_busy), .eng_cur_ctx_o(eng_cur_ctx), .restart_pend_o(restart_pend),
        .cmp_pend_o(cmp_pend)
    );

    gru_stats #(.PURGE_LANES(PURGE_LANES), .PURGE_ENGINES(PURGE_ENGINES)) u_stats (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .hit_i(stat_hit), .miss_i(stat_miss), .tlbmod_i(stat_tlbmod), .dropin_i(stat_dropin),
        .stale_i(stat_stale), .purge_ndone_i(purge_ndone), .purged_i(purge_nclr),
        .mmio_err_i(mmio_err),
        .rd_line_o(stat_rd_line)
    );

`ifdef FORMAL
    // ================================================================ formal (docs/FORMAL.md)
    // Read only by `yosys read_verilog -formal` (scripts/formal.sh); Verilator, Icarus and the
    // synthesis lint never define FORMAL. Cross-module properties live here: Yosys 0.23 has no
    // hierarchical references, so they are stated on this module's interconnect wires plus
    // ghost state rebuilt from the ports and the MMIO decode. Every assertion is labelled
    // p_<property> (helpers p_<property>__<k>); scripts/formal.sh keeps one property's
    // assertions at a time. Covers are c_<property>.
    localparam F_CNT_W   = $clog2(NUM_TGH + 1);
    localparam F_P_CMD   = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam F_P_TGOPC = TGH_OPC_DW*DW_W + TGH_OPC_LSB;
    localparam F_P_TFOPC = TFH_OPC_DW*DW_W + TFH_OPC_LSB;
    localparam F_P_CCOPC = CCH_OPC_DW*DW_W + CCH_OPC_LSB;
    localparam F_P_VADDR = TGH_VADDR_DW*DW_W + TGH_VADDR_LSB;
    localparam F_P_ASID  = TGH_ASID_DW*DW_W + TGH_ASID_LSB;
    localparam F_P_PS    = TGH_PAGESIZE_DW*DW_W + TGH_PAGESIZE_LSB;
    localparam F_P_GLOB  = TGH_GLOBAL_DW*DW_W + TGH_GLOBAL_LSB;
    localparam F_P_MASK  = TGH_VADDRMASK_DW*DW_W + TGH_VADDRMASK_LSB;
    localparam F_P_N     = TGH_N_DW*DW_W + TGH_N_LSB;
    localparam F_P_BM    = TGH_CTXBITMAP_DW*DW_W + TGH_CTXBITMAP_LSB;
    localparam F_P_STALE = TFH_STALE_DW*DW_W + TFH_STALE_LSB;
    localparam F_P_FAULT0 = TFM_FAULT0_DW*DW_W + TFM_FAULT0_LSB;
    localparam F_P_DONE0  = TFM_DONE0_DW*DW_W + TFM_DONE0_LSB;

    // ---------------------------------------------------------------- reset and time
    // The host resets the chip in the first cycle and never again (a run of the co-simulation
    // resets once; a mid-run reset would only restart every property from the reset state).
    reg f_init = 1'b1;
    reg f_live = 1'b0;      // state is out of reset (cycle >= 1)
    reg f_live2 = 1'b0;     // and so was the previous cycle's (cycle >= 2): $past is meaningful
    always @(posedge clk_i) begin
        f_init  <= 1'b0;
        f_live  <= !f_init;
        f_live2 <= f_live;
    end
    always @* assume(rst_ni == !f_init);

    // Page-size code -> shift (MICROARCH §2), written out again so the purge and lookup
    // properties do not reuse the RTL's PS_SHIFTS table.
    function [3:0] f_shift;
        input [4:0] code;
        begin
            case (code)
                5'd0: f_shift = 4'd0;   5'd1: f_shift = 4'd2;   5'd2: f_shift = 4'd4;
                5'd3: f_shift = 4'd6;   5'd4: f_shift = 4'd8;   5'd5: f_shift = 4'd9;
                5'd6: f_shift = 4'd10;  5'd7: f_shift = 4'd12;  5'd8: f_shift = 4'd14;
                default: f_shift = 4'd0;
            endcase
        end
    endfunction

    // MICROARCH §7, as written there: does a TLB entry match an INVALIDATE (bitmap B, asid A,
    // global G, vaddr V, pagesize P, vaddrmask M, n N)? 39-bit keys key(x) = x[50:12] & M, each
    // side aligned down to its own page size, ranges compared as 41-bit unsigned numbers. (The
    // same arithmetic shape as the RTL on purpose: a SAT solver proves two differently shaped
    // adder/comparator chains equal only very slowly; the shape is the contract's, the RTL's
    // selection of entries, lanes, groups and TGHs over time is what is checked.)
    function f_purge_match;
        input                  valid;
        input [TLB_CTX_W-1:0]  ctx;
        input [TLB_ASID_W-1:0] asid;
        input [TLB_VPN_W-1:0]  vpn;
        input [TLB_PS_W-1:0]   ps;
        input [NUM_CTX-1:0]    bm;
        input [23:0]           a;
        input                  g;
        input [63:0]           v;
        input [4:0]            p;
        input [38:0]           m;
        input [9:0]            n;
        reg   [3:0]            shp, she;
        reg   [40:0]           s, e, es, ee;
        begin
            shp = f_shift(p);
            she = f_shift({1'b0, ps});
            s   = {2'b00, v[50:12] & m} & ~((41'd1 << shp) - 41'd1);
            e   = s + ({30'd0, {1'b0, n} + 11'd1} << shp);
            es  = {2'b00, vpn[38:0] & m} & ~((41'd1 << she) - 41'd1);
            ee  = es + (41'd1 << she);
            f_purge_match = valid && ({28'd0, ctx} < NUM_CTX) && bm[ctx]
                && (g || asid == a) && (n == 10'd1023 || (es < e && s < ee));
        end
    endfunction

    // ---------------------------------------------------------------- ghost: TGHs
    // Software fields of each TGH as the host wrote them; a TGH's place in the start order
    // (0: not in flight, 1: being purged, k: k-1 TGHs ahead of it); taint = the TGH's own
    // fields were rewritten, or an entry that it would purge was installed, while it was in
    // flight (the purge cannot be expected to remove what arrives behind it).
    reg [NUM_TGH*64-1:0]      f_tv;
    reg [NUM_TGH*24-1:0]      f_ta;
    reg [NUM_TGH*5-1:0]       f_tp;
    reg [NUM_TGH-1:0]         f_tg;
    reg [NUM_TGH*39-1:0]      f_tm;
    reg [NUM_TGH*10-1:0]      f_tn;
    reg [NUM_TGH*NUM_CTX-1:0] f_tb;
    reg [NUM_TGH*F_CNT_W-1:0] f_pos;
    reg [NUM_TGH-1:0]         f_taint;
    reg [NUM_TGH-1:0]         f_purged;     // the purge cleared some entry (covers)
    reg [NUM_TGH-1:0]         f_purged_big; // ... one with a larger page than the TGH's

    wire f_tgh_start = mmio_tgh_wr && mmio_req_dwen_i[HDL_CMD_DW] && mmio_req_data_i[F_P_CMD];
    // Bitmap and page-size code of the TGH being written, after this write.
    reg  [NUM_CTX-1:0] f_new_bm;
    reg  [4:0]         f_new_ps;
    // An INVALIDATE starts (one with a page-size code above 8 is refused: MICROARCH §7).
    wire f_inval     = f_tgh_start && mmio_req_data_i[F_P_TGOPC] && f_new_ps <= 5'd8;
    // Contexts covered by a TGH in flight (before this edge).
    reg  [NUM_CTX-1:0] f_busy_ctx;
    reg  [F_CNT_W-1:0] f_nbusy;
    integer fg;
    always @* begin
        f_new_bm   = {NUM_CTX{1'b0}};
        f_new_ps   = 5'd0;
        f_busy_ctx = {NUM_CTX{1'b0}};
        f_nbusy    = {F_CNT_W{1'b0}};
        for (fg = 0; fg < NUM_TGH; fg = fg + 1) begin
            if (mmio_tgh_idx == fg[TGH_IW-1:0])
                f_new_bm = mmio_req_dwen_i[TGH_CTXBITMAP_DW] ? mmio_req_data_i[F_P_BM +: NUM_CTX]
                                                             : f_tb[fg*NUM_CTX +: NUM_CTX];
            if (mmio_tgh_idx == fg[TGH_IW-1:0])
                f_new_ps = mmio_req_dwen_i[TGH_PAGESIZE_DW] ? mmio_req_data_i[F_P_PS +: 5]
                                                            : f_tp[fg*5 +: 5];
            if (f_pos[fg*F_CNT_W +: F_CNT_W] != {F_CNT_W{1'b0}}) begin
                f_busy_ctx = f_busy_ctx | f_tb[fg*NUM_CTX +: NUM_CTX];
                f_nbusy    = f_nbusy + 1'b1;
            end
        end
    end

    // Does install (ins_*) or TLB entry i match TGH g's purge?
    function f_match_g;
        input integer          g;
        input                  valid;
        input [TLB_CTX_W-1:0]  ctx;
        input [TLB_ASID_W-1:0] asid;
        input [TLB_VPN_W-1:0]  vpn;
        input [TLB_PS_W-1:0]   ps;
        begin
            f_match_g = f_purge_match(valid, ctx, asid, vpn, ps,
                f_tb[g*NUM_CTX +: NUM_CTX], f_ta[g*24 +: 24], f_tg[g], f_tv[g*64 +: 64],
                f_tp[g*5 +: 5], f_tm[g*39 +: 39], f_tn[g*10 +: 10]);
        end
    endfunction

    // The install of this edge, aligned down to its page as the TLB stores it.
    wire [3:0]           f_ins_sh  = f_shift({1'b0, ins_ps});
    wire [TLB_VPN_W-1:0] f_ins_vpn = ins_vpn & ~((52'd1 << f_ins_sh) - 52'd1);

    // The TGH being purged (position 1): its index and fields; at purge_done it completes.
    reg                  f_head_ok;
    reg [TGH_IW-1:0]     f_head;
    reg [NUM_CTX-1:0]    f_hb;
    reg [23:0]           f_ha;
    reg                  f_hg;
    reg [63:0]           f_hv;
    reg [4:0]            f_hp;
    reg [38:0]           f_hm;
    reg [9:0]            f_hn;
    reg                  f_h_taint, f_h_purged, f_h_big;
    integer fd;
    always @* begin
        f_head_ok = 1'b0; f_head = {TGH_IW{1'b0}};
        f_hb = 0; f_ha = 0; f_hg = 0; f_hv = 0; f_hp = 0; f_hm = 0; f_hn = 0;
        f_h_taint = 1'b0; f_h_purged = 1'b0; f_h_big = 1'b0;
        for (fd = 0; fd < NUM_TGH; fd = fd + 1)
            if (f_pos[fd*F_CNT_W +: F_CNT_W] == 1) begin
                f_head_ok  = 1'b1;
                f_head     = fd[TGH_IW-1:0];
                f_hb       = f_tb[fd*NUM_CTX +: NUM_CTX];
                f_ha       = f_ta[fd*24 +: 24];
                f_hg       = f_tg[fd];
                f_hv       = f_tv[fd*64 +: 64];
                f_hp       = f_tp[fd*5 +: 5];
                f_hm       = f_tm[fd*39 +: 39];
                f_hn       = f_tn[fd*10 +: 10];
                f_h_taint  = f_taint[fd];
                f_h_purged = f_purged[fd];
                f_h_big    = f_purged_big[fd];
            end
    end
    // Clean completion: no rewrite of the head's fields and no matching install at this edge.
    wire f_done_ok    = purge_done && f_head_ok;
    wire f_done_taint = f_h_taint
        || (mmio_tgh_wr && mmio_tgh_idx == f_head && |mmio_req_dwen_i[4:1])
        || (ins_valid && f_purge_match(1'b1, ins_ctx, ins_asid, f_ins_vpn, ins_ps,
                                       f_hb, f_ha, f_hg, f_hv, f_hp, f_hm, f_hn));
    wire f_done_purged = f_h_purged || |purge_clr;
    reg  f_clr_big;         // this edge clears an entry with a larger page than the head TGH's
    integer fz;
    always @* begin
        f_clr_big = 1'b0;
        for (fz = 0; fz < TLB_ENTRIES; fz = fz + 1)
            if (purge_clr[fz] && f_shift({1'b0, tlb_ps[fz*TLB_PS_W +: TLB_PS_W]}) > f_shift(f_hp))
                f_clr_big = 1'b1;
    end
    wire f_done_big = f_h_big || f_clr_big;

    integer fi;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            f_tv <= 0; f_ta <= 0; f_tp <= 0; f_tg <= 0; f_tm <= 0; f_tn <= 0; f_tb <= 0;
            f_pos <= 0; f_taint <= 0; f_purged <= 0; f_purged_big <= 0;
        end else begin
            for (fi = 0; fi < NUM_TGH; fi = fi + 1) begin
                // Taint while in flight: a rewrite of DW1-4 or a matching install.
                if (f_pos[fi*F_CNT_W +: F_CNT_W] != 0) begin
                    if (mmio_tgh_wr && mmio_tgh_idx == fi[TGH_IW-1:0] && |mmio_req_dwen_i[4:1])
                        f_taint[fi] <= 1'b1;
                    if (ins_valid && f_match_g(fi, 1'b1, ins_ctx, ins_asid, f_ins_vpn, ins_ps))
                        f_taint[fi] <= 1'b1;
                end
                if (f_pos[fi*F_CNT_W +: F_CNT_W] == 1 && |purge_clr) f_purged[fi] <= 1'b1;
                if (f_pos[fi*F_CNT_W +: F_CNT_W] == 1 && f_clr_big) f_purged_big[fi] <= 1'b1;
                // Completion: everyone moves up one place.
                if (purge_done && f_pos[fi*F_CNT_W +: F_CNT_W] != 0)
                    f_pos[fi*F_CNT_W +: F_CNT_W] <= f_pos[fi*F_CNT_W +: F_CNT_W] - 1'b1;
                // Software fields, per dword enable (MICROARCH §4).
                if (mmio_tgh_wr && mmio_tgh_idx == fi[TGH_IW-1:0]) begin
                    if (mmio_req_dwen_i[TGH_VADDR_DW]) f_tv[fi*64 +: 64] <= mmio_req_data_i[F_P_VADDR +: 64];
                    if (mmio_req_dwen_i[TGH_ASID_DW]) begin
                        f_ta[fi*24 +: 24] <= mmio_req_data_i[F_P_ASID +: 24];
                        f_tp[fi*5 +: 5]   <= mmio_req_data_i[F_P_PS +: 5];
                        f_tg[fi]          <= mmio_req_data_i[F_P_GLOB];
                    end
                    if (mmio_req_dwen_i[TGH_VADDRMASK_DW]) begin
                        f_tm[fi*39 +: 39] <= mmio_req_data_i[F_P_MASK +: 39];
                        f_tn[fi*10 +: 10] <= mmio_req_data_i[F_P_N +: 10];
                    end
                    if (mmio_req_dwen_i[TGH_CTXBITMAP_DW])
                        f_tb[fi*NUM_CTX +: NUM_CTX] <= mmio_req_data_i[F_P_BM +: NUM_CTX];
                    // A started INVALIDATE joins the end of the line, untainted.
                    if (f_inval) begin
                        f_pos[fi*F_CNT_W +: F_CNT_W] <= f_nbusy - (purge_done ? 1'b1 : 1'b0) + 1'b1;
                        f_taint[fi]      <= 1'b0;
                        f_purged[fi]     <= 1'b0;
                        f_purged_big[fi] <= 1'b0;
                    end
                end
            end
        end
    end

    // ---------------------------------------------------------------- ghost: TFHs
    // f_pend: a miss latched and is unanswered (MICROARCH §6 "pending"). f_race: since it
    // latched, an INVALIDATE covering its context was in flight or started (DESIGN §3.4).
    reg [NUM_CBR-1:0] f_pend, f_race;
    wire [TFH_OPC_W-1:0] f_tfh_opc = mmio_req_data_i[F_P_TFOPC +: TFH_OPC_W];
    wire f_tfh_start = mmio_tfh_wr && mmio_req_dwen_i[HDL_CMD_DW] && mmio_req_data_i[F_P_CMD];
    wire f_dropin    = f_tfh_start && (f_tfh_opc == TFHOP_WRITE_ONLY || f_tfh_opc == TFHOP_WRITE_RESTART);
    reg  f_sel_pend, f_sel_race;
    integer ft;
    always @* begin
        f_sel_pend = 1'b0; f_sel_race = 1'b0;
        for (ft = 0; ft < NUM_CBR; ft = ft + 1)
            if (mmio_tfh_idx == ft[CBR_IW-1:0]) begin
                f_sel_pend = f_pend[ft];
                f_sel_race = f_race[ft];
            end
    end
    reg f_p, f_r;
    integer fu;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            f_pend <= {NUM_CBR{1'b0}};
            f_race <= {NUM_CBR{1'b0}};
        end else begin
            for (fu = 0; fu < NUM_CBR; fu = fu + 1) begin
                f_p = f_pend[fu];
                f_r = f_race[fu];
                // The answer: a command that re-executes or completes the CB.
                if ((tfh_restart_set || (tfh_cmp_set && tfh_cmp_set_status == CBSTATUS_EXCEPTION))
                    && mmio_tfh_idx == fu[CBR_IW-1:0]) begin
                    f_p = 1'b0;
                    f_r = 1'b0;
                end
                // A miss latches.
                if (miss && miss_cbr == fu[CBR_IW-1:0]) begin
                    f_p = 1'b1;
                    f_r = f_busy_ctx[fu / CBR_PER_CTX];
                end
                // An INVALIDATE starts.
                if (f_inval && f_p && f_new_bm[fu / CBR_PER_CTX]) f_r = 1'b1;
                f_pend[fu] <= f_p;
                f_race[fu] <= f_r;
            end
        end
    end

    // ---------------------------------------------------------------- ghost: fault maps
    reg [NUM_TFM*NUM_CBR-1:0] f_fault, f_done;
    reg f_fb, f_db;
    integer fm, fk;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            f_fault <= 0;
            f_done  <= 0;
        end else begin
            for (fm = 0; fm < NUM_TFM; fm = fm + 1)
                for (fk = 0; fk < NUM_CBR; fk = fk + 1) begin
                    f_fb = f_fault[fm*NUM_CBR + fk];
                    f_db = f_done[fm*NUM_CBR + fk];
                    if (mmio_tfm_rd && mmio_tfm_idx == fm[TFM_IW-1:0]) begin
                        f_fb = 1'b0;
                        f_db = 1'b0;
                    end
                    if ({28'd0, tfm_set_map} == fm && tfm_set_cbr == fk[CBR_IW-1:0]) begin
                        if (tfm_set_fault) f_fb = 1'b1;
                        if (tfm_set_done)  f_db = 1'b1;
                    end
                    f_fault[fm*NUM_CBR + fk] <= f_fb;
                    f_done[fm*NUM_CBR + fk]  <= f_db;
                end
        end
    end
    // Expected data of the read being answered (registered at the request edge).
    reg                  f_rd_tfm, f_rd_tfh;
    reg [NUM_CBR-1:0]    f_rd_fault, f_rd_done;
    reg                  f_rd_pend, f_rd_race;
    integer fr;
    always @(posedge clk_i) begin
        f_rd_tfm   <= rst_ni && mmio_tfm_rd;
        f_rd_tfh   <= rst_ni && mmio_tfh_sel && !mmio_req_write_i;
        f_rd_pend  <= f_sel_pend;
        f_rd_race  <= f_sel_race;
        f_rd_fault <= {NUM_CBR{1'b0}};
        f_rd_done  <= {NUM_CBR{1'b0}};
        for (fr = 0; fr < NUM_TFM; fr = fr + 1)
            if (mmio_tfm_idx == fr[TFM_IW-1:0]) begin
                f_rd_fault <= f_fault[fr*NUM_CBR +: NUM_CBR];
                f_rd_done  <= f_done[fr*NUM_CBR +: NUM_CBR];
            end
    end
    reg [NUM_TFM-1:0] f_irq;
    reg [NUM_CBR-1:0] f_cbr_ie;
    integer fq;
    always @* begin
        for (fq = 0; fq < NUM_CBR; fq = fq + 1) f_cbr_ie[fq] = cch_tlb_int_enable[fq / CBR_PER_CTX];
        for (fq = 0; fq < NUM_TFM; fq = fq + 1) f_irq[fq] = |(f_fault[fq*NUM_CBR +: NUM_CBR] & f_cbr_ie);
    end

    // ---------------------------------------------------------------- ghost: TLB lookups
    reg f_lk_any;
    reg [3:0] f_sh;
    integer fl;
    always @* begin
        f_lk_any = 1'b0;
        f_sh = 6'd0;
        for (fl = 0; fl < TLB_ENTRIES; fl = fl + 1) begin
            f_sh = f_shift({1'b0, tlb_ps[fl*TLB_PS_W +: TLB_PS_W]});
            if (tlb_valid[fl] && tlb_ctx[fl*TLB_CTX_W +: TLB_CTX_W] == lk_ctx
                && tlb_asid[fl*TLB_ASID_W +: TLB_ASID_W] == lk_asid
                && ((tlb_vpn[fl*TLB_VPN_W +: TLB_VPN_W] ^ lk_vpn) & ~((52'd1 << f_sh) - 52'd1))
                   == {TLB_VPN_W{1'b0}})
                f_lk_any = 1'b1;
        end
    end

    // The purge of the TGH that completed at the last edge, checked on the entries after it.
    reg              f_chk, f_chk_taint, f_chk_purged, f_chk_big;
    reg [NUM_CTX-1:0] f_cb;
    reg [23:0]        f_ca;
    reg               f_cg;
    reg [63:0]        f_cv;
    reg [4:0]         f_cp;
    reg [38:0]        f_cm;
    reg [9:0]         f_cn;
    wire              f_chk_full = f_cn == 10'd1023;
    // TLB contents before this edge, and whether a legal install happened at it.
    reg [TLB_ENTRIES-1:0]            f_pv;
    reg [TLB_ENTRIES*TLB_CTX_W-1:0]  f_pctx;
    reg [TLB_ENTRIES*TLB_ASID_W-1:0] f_pasid;
    reg [TLB_ENTRIES*TLB_VPN_W-1:0]  f_pvpn;
    reg [TLB_ENTRIES*TLB_PS_W-1:0]   f_pps;
    reg                              f_legal_ins;
    // Memory port and MMIO start bookkeeping for the one-cycle-later checks.
    reg f_lk_hit_dirty, f_mem_q;
    reg f_tgh_st, f_tgh_st_busy;
    reg f_dealloc, f_dealloc_pend;
    reg [HDL_STATE_W-1:0] f_dealloc_state;
    reg [CTX_IW-1:0] f_dealloc_c;
    reg f_any_pend_c;
    // A TGH start write decoded from the address (MICROARCH §4), and whether that TGH is busy.
    wire [31:0] f_tgh_off = mmio_req_addr_i - HS_TGH_BASE;
    wire f_tgh_start_req = mmio_req_valid_i && mmio_req_write_i && mmio_req_addr_i[7:0] == 8'd0
        && f_tgh_off < NUM_TGH * HS_STRIDE && mmio_req_dwen_i[HDL_CMD_DW] && mmio_req_data_i[F_P_CMD];
    reg f_tgh_req_busy;
    integer fb;
    always @* begin
        f_tgh_req_busy = 1'b0;
        for (fb = 0; fb < NUM_TGH; fb = fb + 1)
            if (f_tgh_off[8 +: TGH_IW] == fb[TGH_IW-1:0] && f_pos[fb*F_CNT_W +: F_CNT_W] != 0)
                f_tgh_req_busy = 1'b1;
        f_any_pend_c = 1'b0;
        for (fb = 0; fb < NUM_CBR; fb = fb + 1)
            if (fb / CBR_PER_CTX == mmio_cch_idx && f_pend[fb]) f_any_pend_c = 1'b1;
    end
    reg [HDL_STATE_W-1:0] f_cstate;
    integer fc;
    always @* begin
        f_cstate = {HDL_STATE_W{1'b0}};
        for (fc = 0; fc < NUM_CTX; fc = fc + 1)
            if (mmio_cch_idx == fc[CTX_IW-1:0]) f_cstate = cch_state[fc*HDL_STATE_W +: HDL_STATE_W];
    end
    reg [HDL_STATE_W-1:0] f_dstate_now;
    integer fe;
    always @* begin
        f_dstate_now = {HDL_STATE_W{1'b0}};
        for (fe = 0; fe < NUM_CTX; fe = fe + 1)
            if (f_dealloc_c == fe[CTX_IW-1:0]) f_dstate_now = cch_state[fe*HDL_STATE_W +: HDL_STATE_W];
    end

    always @(posedge clk_i) begin
        f_chk        <= rst_ni && f_done_ok;
        f_cb <= f_hb; f_ca <= f_ha; f_cg <= f_hg; f_cv <= f_hv; f_cp <= f_hp; f_cm <= f_hm; f_cn <= f_hn;
        f_chk_taint  <= f_done_taint;
        f_chk_purged <= f_done_purged;
        f_chk_big    <= f_done_big;
        f_pv <= tlb_valid; f_pctx <= tlb_ctx; f_pasid <= tlb_asid; f_pvpn <= tlb_vpn; f_pps <= tlb_ps;
        f_legal_ins    <= f_dropin && !(f_sel_pend && f_sel_race);
        f_lk_hit_dirty <= lk_en && lk_hit && lk_dirty;
        f_mem_q        <= mem_req_valid_o;
        f_tgh_st       <= rst_ni && f_tgh_start_req;
        f_tgh_st_busy  <= f_tgh_req_busy;
        f_dealloc      <= rst_ni && mmio_cch_wr && mmio_req_dwen_i[HDL_CMD_DW]
                          && mmio_req_data_i[F_P_CMD]
                          && mmio_req_data_i[F_P_CCOPC +: CCH_OPC_W] == CCHOP_DEALLOCATE;
        f_dealloc_pend <= f_any_pend_c;
        f_dealloc_state <= f_cstate;
        f_dealloc_c    <= mmio_cch_idx;
    end

    // The completed TGH's fields were snapshotted into f_c* at its last edge.
    reg f_left_match;       // a valid entry still matches the completed TGH
    integer fy;
    always @* begin
        f_left_match = 1'b0;
        for (fy = 0; fy < TLB_ENTRIES; fy = fy + 1)
            if (f_purge_match(tlb_valid[fy], tlb_ctx[fy*TLB_CTX_W +: TLB_CTX_W],
                              tlb_asid[fy*TLB_ASID_W +: TLB_ASID_W],
                              tlb_vpn[fy*TLB_VPN_W +: TLB_VPN_W], tlb_ps[fy*TLB_PS_W +: TLB_PS_W],
                              f_cb, f_ca, f_cg, f_cv, f_cp, f_cm, f_cn))
                f_left_match = 1'b1;
    end

    // ---------------------------------------------------------------- environment
    // Memory port (MICROARCH §1): every request gets one response, with its tag, at the
    // earliest the cycle after the accepting edge; no response without a request.
    reg       f_mem_out;
    reg [7:0] f_mem_tag;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            f_mem_out <= 1'b0;
            f_mem_tag <= 8'd0;
        end else begin
            if (mem_rsp_valid_i) f_mem_out <= 1'b0;
            if (mem_req_valid_o && mem_req_ready_i) begin
                f_mem_out <= 1'b1;
                f_mem_tag <= mem_req_tag_o;
            end
        end
    end
    always @* if (mem_rsp_valid_i) assume(f_mem_out && mem_rsp_tag_i == f_mem_tag);

    // Some valid entry is new since the last cycle (it was invalid, or other fields).
    reg f_tlb_new;
    integer fp;
    always @* begin
        f_tlb_new = 1'b0;
        for (fp = 0; fp < TLB_ENTRIES; fp = fp + 1)
            if (tlb_valid[fp] && (!f_pv[fp]
                || tlb_ctx[fp*TLB_CTX_W +: TLB_CTX_W] != f_pctx[fp*TLB_CTX_W +: TLB_CTX_W]
                || tlb_asid[fp*TLB_ASID_W +: TLB_ASID_W] != f_pasid[fp*TLB_ASID_W +: TLB_ASID_W]
                || tlb_vpn[fp*TLB_VPN_W +: TLB_VPN_W] != f_pvpn[fp*TLB_VPN_W +: TLB_VPN_W]
                || tlb_ps[fp*TLB_PS_W +: TLB_PS_W] != f_pps[fp*TLB_PS_W +: TLB_PS_W]))
                f_tlb_new = 1'b1;
    end

    // ---------------------------------------------------------------- properties
    always @(posedge clk_i) begin
        if (f_live) begin
            // Race guard (DESIGN §3.4), as the host sees it: a pending TFH reads stale exactly
            // when an INVALIDATE of its context was in flight when its miss latched, or started
            // since.
            if (f_rd_tfh && f_rd_pend)
                p_race_miss_stale: assert(mmio_rsp_data_o[F_P_STALE] == f_rd_race);
            // ... and a dropin on such a TFH installs nothing.
            if (ins_valid && f_sel_pend)
                p_race_dropin: assert(!f_sel_race);
            // Purge completeness (MICROARCH §7): when a range TGH completes, no valid entry of a
            // context in its bitmap, under its ASID (any if global), overlaps its range, each
            // entry compared at its own page size. Unless the TGH was tainted (its fields
            // rewritten, or a matching entry installed while it ran: by the race guard that
            // needs a dropin on a TFH that is not pending, which the driver never issues).
            if (f_chk && !f_chk_taint && !f_chk_full)
                p_purge_range: assert(!f_left_match);
            // n = 1023: no entry of the ASID in the bitmap's contexts is left.
            if (f_chk && !f_chk_taint && f_chk_full)
                p_purge_full: assert(!f_left_match);
            // The fault maps: a read returns exactly the fault and done bits set since the
            // previous read of that map (a bit set at the read's own edge is kept, not lost) ...
            if (f_rd_tfm) begin
                p_tfm_read_exact: assert(mmio_rsp_data_o[F_P_FAULT0 +: NUM_CBR] == f_rd_fault);
                p_tfm_read_exact__done: assert(mmio_rsp_data_o[F_P_DONE0 +: NUM_CBR] == f_rd_done);
            end
            // ... and irq_o[m] is high exactly while map m holds a fault bit of a CBR whose
            // context has tlb_int_enable.
            p_irq_exact: assert(irq_o == f_irq);
            // Lookups: a hit exactly when a valid entry of the context and ASID maps the page.
            if (lk_en)
                p_lookup_exact: assert(lk_hit == f_lk_any);
            // The TLB changes only by an install from a WRITE_ONLY / WRITE_RESTART on a TFH
            // that is not pending-and-stale (or by purge clears, which only invalidate).
            if (f_live2 && f_tlb_new)
                p_install_source: assert(f_legal_ins);
            if (ins_valid)
                p_install_source__cmd: assert(f_dropin && !(f_sel_pend && f_sel_race));
            // A store goes to memory only through an entry with dirty = 1.
            if (f_live2 && mem_req_valid_o && !f_mem_q && mem_req_write_o)
                p_store_dirty: assert(f_lk_hit_dirty);
            // A start on a TGH is refused exactly while that TGH is in flight (ACTIVE).
            if (f_tgh_st)
                p_tgh_start_refused: assert(mmio_rsp_err_o == f_tgh_st_busy);
            // The purge engine completes only TGHs that are in flight.
            if (purge_done)
                p_tgh_start_refused__done: assert(f_nbusy != 0);
            // CCH DEALLOCATE with an unanswered fault (a latched, unanswered miss) of the
            // context fails: the state is unchanged. (Not the converse: a TFH also counts as
            // pending in HW_ERR, which a page-size-refused WRITE_ONLY reaches without a miss.)
            if (f_dealloc && f_dealloc_pend)
                p_dealloc_pending: assert(f_dstate_now == f_dealloc_state);
        end
    end

    // ---------------------------------------------------------------- quiet (MICROARCH §12)
    // An edge of idle inputs on a quiet chip changes nothing: every output (the debug read
    // aside: its index is an input), the TLB, the CCH states and ASIDs, the contexts of ACTIVE
    // TGHs, the counters, and quiet_o itself. The host skips such edges without evaluating.
    reg                              f_qi = 1'b0;     // the last edge was quiet and idle
    reg  [5:0]                       f_q_pulse;
    reg  [7+2+6+64-1:0]              f_q_cmp;
    reg  [NUM_TFM-1:0]               f_q_irq;
    reg  [TLB_ENTRIES-1:0]           f_q_valid;
    reg  [TLB_ENTRIES*(TLB_CTX_W+TLB_ASID_W+TLB_VPN_W+TLB_PS_W)-1:0] f_q_tlb;
    reg  [NUM_CTX*(HDL_STATE_W+ASID_PER_CTX)-1:0] f_q_cch;
    reg  [NUM_CTX-1:0]               f_q_tgh;
    reg  [LINE_W-1:0]                f_q_stat;
    wire [5:0] f_pulse = {quiet_o, cb_req_ready_o, mmio_rsp_valid_o, mmio_rsp_err_o, cb_cmp_valid_o,
                          mem_req_valid_o};
    wire [7+2+6+64-1:0] f_cmp = {cb_cmp_cbr_o, cb_cmp_status_o, cb_cmp_cause_o, cb_cmp_rdata_o};
    always @(posedge clk_i) begin
        f_qi      <= rst_ni && quiet_o && !mmio_req_valid_i && !cb_req_valid_i && !mem_req_ready_i &&
                     !mem_rsp_valid_i && dbg_event_i == dbg_event_q;
        f_q_pulse <= f_pulse;
        f_q_cmp   <= f_cmp;
        f_q_irq   <= irq_o;
        f_q_valid <= tlb_valid;
        f_q_tlb   <= {tlb_ctx, tlb_asid, tlb_vpn, tlb_ps};
        f_q_cch   <= {cch_state, cch_asid};
        f_q_tgh   <= tgh_active_ctx;
        f_q_stat  <= stat_rd_line;
        if (f_live2 && f_qi) begin
            p_quiet_idle: assert(f_pulse == f_q_pulse && f_cmp == f_q_cmp && mmio_rsp_data_o == {LINE_W{1'b0}});
            p_quiet_idle__tlb: assert(tlb_valid == f_q_valid && {tlb_ctx, tlb_asid, tlb_vpn, tlb_ps} == f_q_tlb);
            p_quiet_idle__rest: assert(irq_o == f_q_irq && {cch_state, cch_asid} == f_q_cch &&
                                       tgh_active_ctx == f_q_tgh && stat_rd_line == f_q_stat);
        end
    end

    // ---------------------------------------------------------------- covers (non-vacuity)
    always @(posedge clk_i) begin
        if (f_live) begin
            c_quiet_idle: cover(f_live2 && f_qi && |tlb_valid);
            c_race_miss_stale: cover(f_rd_tfh && f_rd_pend && f_rd_race);
            c_race_dropin: cover(f_dropin && f_sel_pend && f_sel_race);
            c_install_pending: cover(ins_valid && f_sel_pend);
            c_purge_range: cover(f_chk && !f_chk_taint && !f_chk_full && f_chk_purged);
            c_purge_range_bigpage: cover(f_chk && !f_chk_taint && !f_chk_full && f_chk_big);
            c_purge_full: cover(f_chk && !f_chk_taint && f_chk_full && f_chk_purged);
            c_tfm_read_fault: cover(f_rd_tfm && |f_rd_fault);
            c_tfm_set_at_read: cover(mmio_tfm_rd && tfm_set_fault && mmio_tfm_idx == tfm_set_map[TFM_IW-1:0]);
            c_irq: cover(|irq_o);
            c_lookup_hit: cover(lk_en && lk_hit);
            c_store_tlbmod: cover(miss && miss_cause == TFHCAUSE_TLB_MOD);
            c_store_hit: cover(mem_req_valid_o && !f_mem_q && mem_req_write_o);
            c_tgh_start_refused: cover(f_tgh_st && f_tgh_st_busy);
            c_tgh_two_in_flight: cover(f_nbusy == 2);
            c_dealloc_refused: cover(f_dealloc && f_dealloc_pend);
        end
    end
`endif

endmodule

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
    parameter PURGE_LANES = 8
) (
    clk_i, rst_ni,
    mmio_req_valid_i, mmio_req_ready_o, mmio_req_write_i, mmio_req_addr_i, mmio_req_dwen_i,
    mmio_req_data_i, mmio_rsp_valid_o, mmio_rsp_err_o, mmio_rsp_data_o,
    cb_req_valid_i, cb_req_ready_o, cb_req_cbr_i, cb_req_vaddr_i, cb_req_write_i, cb_req_wdata_i,
    cb_cmp_valid_o, cb_cmp_cbr_o, cb_cmp_status_o, cb_cmp_cause_o, cb_cmp_rdata_o,
    mem_req_valid_o, mem_req_ready_i, mem_req_paddr_o, mem_req_write_o, mem_req_wdata_o,
    mem_req_tag_o, mem_rsp_valid_i, mem_rsp_tag_i, mem_rsp_rdata_i,
    irq_o,
    dbg_event_i, dbg_tlb_idx_i, dbg_tlb_entry_o
);
`include "gru_defs.vh"

    localparam CBR_PER_CTX = NUM_CBR / NUM_CTX;     // ctx(cbr) = cbr / CBR_PER_CTX
    localparam CBR_IW  = $clog2(NUM_CBR);
    localparam CTX_IW  = $clog2(NUM_CTX);
    localparam TFM_IW  = $clog2(NUM_TFM);
    localparam TGH_IW  = $clog2(NUM_TGH);
    localparam NCLR_W  = $clog2(PURGE_LANES + 1);
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

    assign mmio_req_ready_o = 1'b1;   // one MMIO request every cycle
    assign cb_cmp_cbr_o     = cb_cmp_cbr;   // zero-extended when NUM_CBR < 128

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
    wire                   purge_done;
    wire [NUM_CTX-1:0]     tgh_active_ctx;
    wire                   inval_start;
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
        .NUM_CTX(NUM_CTX), .NUM_TGH(NUM_TGH), .TLB_ENTRIES(TLB_ENTRIES), .PURGE_LANES(PURGE_LANES)
    ) u_purge (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .sel_i(mmio_tgh_sel), .wr_i(mmio_tgh_wr), .idx_i(mmio_tgh_idx), .dwen_i(mmio_req_dwen_i),
        .data_i(mmio_req_data_i), .rd_line_o(tgh_rd_line),
        .tlb_valid_i(tlb_valid), .tlb_ctx_i(tlb_ctx), .tlb_asid_i(tlb_asid), .tlb_vpn_i(tlb_vpn),
        .tlb_ps_i(tlb_ps),
        .purge_clr_o(purge_clr), .purge_nclr_o(purge_nclr), .purge_done_o(purge_done),
        .tgh_active_ctx_o(tgh_active_ctx), .inval_start_o(inval_start),
        .inval_bitmap_o(inval_bitmap)
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
        .cch_tlb_int_enable_o(cch_tlb_int_enable), .cch_tlb_int_select_o(cch_tlb_int_select)
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

    gru_stats #(.PURGE_LANES(PURGE_LANES)) u_stats (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .hit_i(stat_hit), .miss_i(stat_miss), .tlbmod_i(stat_tlbmod), .dropin_i(stat_dropin),
        .stale_i(stat_stale), .purge_done_i(purge_done), .purged_i(purge_nclr),
        .mmio_err_i(mmio_err),
        .rd_line_o(stat_rd_line)
    );

endmodule

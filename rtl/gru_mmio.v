// gru_mmio -- host MMIO: address decode, error checks, read mux and response registers
// (MICROARCH §4).
//
// One request per edge, executed at that edge; the response shows for exactly the next cycle.
// A request answered with err has no effect at all (besides the error counter): the write / read
// strobes to the handle modules are only raised for accepted requests.
module gru_mmio #(
    parameter NUM_CTX = 16,
    parameter NUM_CBR = 128,
    parameter NUM_TGH = 24,
    parameter NUM_TFM = 16
) (
    clk_i, rst_ni,
    mmio_req_valid_i, mmio_req_write_i, mmio_req_addr_i, mmio_req_dwen_i, mmio_req_data_i,
    mmio_rsp_valid_o, mmio_rsp_err_o, mmio_rsp_data_o,
    tfm_sel_o, tgh_sel_o, tfh_sel_o, cch_sel_o, tfm_idx_o, tgh_idx_o, tfh_idx_o, cch_idx_o,
    tfm_rd_line_i, tgh_rd_line_i, tfh_rd_line_i, cch_rd_line_i, stat_rd_line_i,
    tfm_rd_o, tgh_wr_o, tfh_wr_o, cch_wr_o, mmio_err_o
);
`include "gru_defs.vh"

    localparam TFM_IW = $clog2(NUM_TFM);
    localparam TGH_IW = $clog2(NUM_TGH);
    localparam TFH_IW = $clog2(NUM_CBR);
    localparam CCH_IW = $clog2(NUM_CTX);
    localparam STRIDE_SHIFT = $clog2(HS_STRIDE);

    localparam P_CMD     = HDL_CMD_DW*DW_W + HDL_CMD_LSB;
    localparam P_STATUS  = HDL_STATUS_DW*DW_W + HDL_STATUS_LSB;
    localparam P_TFH_OPC = TFH_OPC_DW*DW_W + TFH_OPC_LSB;
    localparam P_CCH_OPC = CCH_OPC_DW*DW_W + CCH_OPC_LSB;

    input clk_i;
    input rst_ni;

    input                 mmio_req_valid_i;
    input                 mmio_req_write_i;
    input  [31:0]         mmio_req_addr_i;
    input  [LINE_DWS-1:0] mmio_req_dwen_i;
    /* verilator lint_off UNUSED */
    // Whole cacheline in; the checks here look only at DW0's cmd and opcode bits.
    input  [LINE_W-1:0]   mmio_req_data_i;
    /* verilator lint_on UNUSED */
    output                mmio_rsp_valid_o;
    output                mmio_rsp_err_o;
    output [LINE_W-1:0]   mmio_rsp_data_o;

    // Handle selected by the address (a request is present and the address maps to handle
    // idx of that kind); each handle module returns that handle's line.
    output                tfm_sel_o;
    output                tgh_sel_o;
    output                tfh_sel_o;
    output                cch_sel_o;
    output [TFM_IW-1:0]   tfm_idx_o;
    output [TGH_IW-1:0]   tgh_idx_o;
    output [TFH_IW-1:0]   tfh_idx_o;
    output [CCH_IW-1:0]   cch_idx_o;
    input  [LINE_W-1:0]   tfm_rd_line_i;
    input  [LINE_W-1:0]   tgh_rd_line_i;
    input  [LINE_W-1:0]   tfh_rd_line_i;
    input  [LINE_W-1:0]   cch_rd_line_i;
    input  [LINE_W-1:0]   stat_rd_line_i;

    // Accepted requests (never raised for an err response).
    output                tfm_rd_o;      // read-and-clear of fault map tfm_idx_o
    output                tgh_wr_o;
    output                tfh_wr_o;
    output                cch_wr_o;
    output                mmio_err_o;    // stat: MMIO errors

    // ---------------------------------------------------------------- decode (from the address)
    // Offsets from each region base; below a base the subtraction wraps and fails the range test.
    wire [31:0] tfm_off  = mmio_req_addr_i - HS_TFM_BASE;
    wire [31:0] tgh_off  = mmio_req_addr_i - HS_TGH_BASE;
    wire [31:0] tfh_off  = mmio_req_addr_i - HS_TFH_BASE;
    wire [31:0] cch_off  = mmio_req_addr_i - HS_CCH_BASE;
    wire [31:0] stat_off = mmio_req_addr_i - HS_STAT_BASE;
    // Only the first line of each 256-byte handle slot is mapped (this also rejects addr[5:0]).
    wire        line0    = mmio_req_addr_i[STRIDE_SHIFT-1:0] == {STRIDE_SHIFT{1'b0}};
    wire        in_tfm   = line0 && tfm_off  < NUM_TFM * HS_STRIDE;
    wire        in_tgh   = line0 && tgh_off  < NUM_TGH * HS_STRIDE;
    wire        in_tfh   = line0 && tfh_off  < NUM_CBR * HS_STRIDE;
    wire        in_cch   = line0 && cch_off  < NUM_CTX * HS_STRIDE;
    wire        in_stat  = line0 && stat_off < HS_STAT_COUNT * HS_STRIDE;

    assign tfm_sel_o = mmio_req_valid_i && in_tfm;
    assign tgh_sel_o = mmio_req_valid_i && in_tgh;
    assign tfh_sel_o = mmio_req_valid_i && in_tfh;
    assign cch_sel_o = mmio_req_valid_i && in_cch;
    assign tfm_idx_o = tfm_off[STRIDE_SHIFT +: TFM_IW];
    assign tgh_idx_o = tgh_off[STRIDE_SHIFT +: TGH_IW];
    assign tfh_idx_o = tfh_off[STRIDE_SHIFT +: TFH_IW];
    assign cch_idx_o = cch_off[STRIDE_SHIFT +: CCH_IW];

    // ---------------------------------------------------------------- checks
    wire start = mmio_req_dwen_i[HDL_CMD_DW] && mmio_req_data_i[P_CMD];
    wire [TFH_OPC_W-1:0] tfh_opc = mmio_req_data_i[P_TFH_OPC +: TFH_OPC_W];
    wire [CCH_OPC_W-1:0] cch_opc = mmio_req_data_i[P_CCH_OPC +: CCH_OPC_W];
    wire tfh_opc_rsvd = tfh_opc > TFHOP_EXCEPTION && tfh_opc != TFHOP_USER_POLLING_MODE;
    wire cch_opc_rsvd = cch_opc < CCHOP_ALLOCATE || cch_opc > CCHOP_DEALLOCATE;
    wire tgh_active = tgh_rd_line_i[P_STATUS +: HDL_STATUS_W] == HSTATUS_ACTIVE;
    wire tfh_active = tfh_rd_line_i[P_STATUS +: HDL_STATUS_W] == HSTATUS_ACTIVE;
    wire cch_active = cch_rd_line_i[P_STATUS +: HDL_STATUS_W] == HSTATUS_ACTIVE;

    reg              err, tfm_rd, tgh_wr, tfh_wr, cch_wr;
    reg [LINE_W-1:0] rd_data;
    always @* begin
        err     = 1'b0;
        tfm_rd  = 1'b0;
        tgh_wr  = 1'b0;
        tfh_wr  = 1'b0;
        cch_wr  = 1'b0;
        rd_data = {LINE_W{1'b0}};
        if (mmio_req_write_i) begin
            // Fault maps and statistics are read-only; a start on an ACTIVE handle or with a
            // reserved opcode is refused.
            if (in_tgh)      begin err = start && tgh_active;                   tgh_wr = !err; end
            else if (in_tfh) begin err = start && (tfh_active || tfh_opc_rsvd); tfh_wr = !err; end
            else if (in_cch) begin err = start && (cch_active || cch_opc_rsvd); cch_wr = !err; end
            else err = 1'b1;
        end else begin
            if (in_tfm)       begin tfm_rd = 1'b1; rd_data = tfm_rd_line_i; end
            else if (in_tgh)  rd_data = tgh_rd_line_i;
            else if (in_tfh)  rd_data = tfh_rd_line_i;
            else if (in_cch)  rd_data = cch_rd_line_i;
            else if (in_stat) rd_data = stat_rd_line_i;
            else err = 1'b1;
        end
        if (err) rd_data = {LINE_W{1'b0}};
    end

    assign tfm_rd_o   = mmio_req_valid_i && tfm_rd;
    assign tgh_wr_o   = mmio_req_valid_i && tgh_wr;
    assign tfh_wr_o   = mmio_req_valid_i && tfh_wr;
    assign cch_wr_o   = mmio_req_valid_i && cch_wr;
    assign mmio_err_o = mmio_req_valid_i && err;

    // ---------------------------------------------------------------- response registers
    reg              mmio_rsp_valid_q;
    reg              mmio_rsp_err_q;
    reg [LINE_W-1:0] mmio_rsp_data_q;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            mmio_rsp_valid_q <= 1'b0;
            mmio_rsp_err_q   <= 1'b0;
            mmio_rsp_data_q  <= {LINE_W{1'b0}};
        end else begin
            mmio_rsp_valid_q <= mmio_req_valid_i;
            mmio_rsp_err_q   <= mmio_req_valid_i && err;
            mmio_rsp_data_q  <= mmio_req_valid_i ? rd_data : {LINE_W{1'b0}};
        end
    end
    assign mmio_rsp_valid_o = mmio_rsp_valid_q;
    assign mmio_rsp_err_o   = mmio_rsp_err_q;
    assign mmio_rsp_data_o  = mmio_rsp_data_q;

`ifdef FORMAL
    // ---------------------------------------------------------------- formal (docs/FORMAL.md)
    // Every MMIO request gets exactly one response, in the cycle after its edge (and none
    // without a request); an error response carries no data. A start on a handle whose
    // status is ACTIVE is refused: err, and no write strobe reaches the handle.
    reg f_init = 1'b1;
    reg f_live = 1'b0;
    reg f_req;
    always @(posedge clk_i) begin
        f_init <= 1'b0;
        f_live <= !f_init;
        f_req  <= rst_ni && mmio_req_valid_i;
    end
    always @(posedge clk_i) begin
        if (f_live && rst_ni) begin
            p_mmio_one_response: assert(mmio_rsp_valid_o == f_req);
            if (mmio_rsp_err_o)
                p_mmio_one_response__err: assert(mmio_rsp_valid_o && mmio_rsp_data_o == {LINE_W{1'b0}});
            if (mmio_req_valid_i && mmio_req_write_i && start
                && ((in_tgh && tgh_active) || (in_tfh && tfh_active) || (in_cch && cch_active))) begin
                p_start_active_refused: assert(mmio_err_o);
                p_start_active_refused__nowr: assert(!tgh_wr_o && !tfh_wr_o && !cch_wr_o);
            end
            c_start_active_cch: cover(mmio_req_valid_i && mmio_req_write_i && start && in_cch && cch_active);
            c_start_active_tgh: cover(mmio_req_valid_i && mmio_req_write_i && start && in_tgh && tgh_active);
        end
    end
`endif

endmodule

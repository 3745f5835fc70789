// gru_tfm -- the TLB fault maps and the interrupt lines (MICROARCH §3, §4.1, §1 irq_o).
//
// Fault map m has a fault bit and a done bit per CBR. A read returns them and clears them at the
// same edge (the driver's atomic exchange); bits the CB engine sets at that edge stay set.
// irq_o[m] is high while map m holds a fault bit of a context with tlb_int_enable.
module gru_tfm #(
    parameter NUM_CTX = 16,
    parameter NUM_CBR = 128,
    parameter NUM_TFM = 16,
    parameter CBR_PER_CTX = NUM_CBR / NUM_CTX   // ctx(cbr) = cbr / CBR_PER_CTX
) (
    clk_i, rst_ni,
    sel_i, rd_clr_i, idx_i, rd_line_o,
    set_fault_i, set_done_i, set_map_i, set_cbr_i,
    tlb_int_enable_i,
    irq_o
);
`include "gru_defs.vh"

    localparam TFM_IW      = $clog2(NUM_TFM);
    localparam CBR_IW      = $clog2(NUM_CBR);

    localparam P_FAULT0 = TFM_FAULT0_DW*DW_W + TFM_FAULT0_LSB;
    localparam P_FAULT1 = TFM_FAULT1_DW*DW_W + TFM_FAULT1_LSB;
    localparam P_DONE0  = TFM_DONE0_DW*DW_W + TFM_DONE0_LSB;
    localparam P_DONE1  = TFM_DONE1_DW*DW_W + TFM_DONE1_LSB;

    input clk_i;
    input rst_ni;

    input                  sel_i;         // an MMIO request addresses TFM idx_i
    input                  rd_clr_i;      // accepted read of TFM idx_i: clear what it returns
    input  [TFM_IW-1:0]    idx_i;
    output [LINE_W-1:0]    rd_line_o;

    // From the CB engine: at most one bit set per edge.
    input                  set_fault_i;
    input                  set_done_i;
    input  [CCH_TLB_INT_SELECT_W-1:0] set_map_i;    // the context's tlb_int_select
    input  [CBR_IW-1:0]    set_cbr_i;

    input  [NUM_CTX-1:0]   tlb_int_enable_i;
    output [NUM_TFM-1:0]   irq_o;

    reg [NUM_TFM*NUM_CBR-1:0] tfm_fault_q, tfm_fault_d;
    reg [NUM_TFM*NUM_CBR-1:0] tfm_done_q, tfm_done_d;

    // ---------------------------------------------------------------- reads
    // A select loop, not `vec[idx*W +: W]`: Yosys 0.23 maps wide variable part-selects very slowly.
    reg [TFM_MAP_BITS-1:0] rd_fault, rd_done;
    reg [LINE_W-1:0]       rd_line;
    integer ri;
    always @* begin
        rd_fault = {TFM_MAP_BITS{1'b0}};
        rd_done  = {TFM_MAP_BITS{1'b0}};
        if (sel_i) for (ri = 0; ri < NUM_TFM; ri = ri + 1) begin
            if (idx_i == ri[TFM_IW-1:0]) begin
                rd_fault[NUM_CBR-1:0] = tfm_fault_q[ri*NUM_CBR +: NUM_CBR];
                rd_done[NUM_CBR-1:0]  = tfm_done_q[ri*NUM_CBR +: NUM_CBR];
            end
        end
        rd_line = {LINE_W{1'b0}};
        rd_line[P_FAULT0 +: TFM_FAULT0_W] = rd_fault[0 +: TFM_FAULT0_W];
        rd_line[P_FAULT1 +: TFM_FAULT1_W] = rd_fault[TFM_FAULT0_W +: TFM_FAULT1_W];
        rd_line[P_DONE0 +: TFM_DONE0_W]   = rd_done[0 +: TFM_DONE0_W];
        rd_line[P_DONE1 +: TFM_DONE1_W]   = rd_done[TFM_DONE0_W +: TFM_DONE1_W];
    end
    assign rd_line_o = rd_line;

    // ---------------------------------------------------------------- irq
    // CBRs whose context has tlb_int_enable.
    reg [NUM_CBR-1:0] cbr_int_enable;
    reg [NUM_TFM-1:0] irq;
    integer ci, mi;
    always @* begin
        for (ci = 0; ci < NUM_CTX; ci = ci + 1)
            cbr_int_enable[ci*CBR_PER_CTX +: CBR_PER_CTX] = {CBR_PER_CTX{tlb_int_enable_i[ci]}};
        for (mi = 0; mi < NUM_TFM; mi = mi + 1)
            irq[mi] = |(tfm_fault_q[mi*NUM_CBR +: NUM_CBR] & cbr_int_enable);
    end
    assign irq_o = irq;

    // ---------------------------------------------------------------- next state
    // fault_d = (fault_q & ~returned) | newly_set
    // (Mutant GRU_MUTANT_TFM_NO_CLEAR, lost read-and-clear: a read returns the bits but clears
    // nothing, so the interrupt line stays high and the handler sees the same faults forever.
    // Mutant GRU_MUTANT_TFM_SET_LOST, read-clear after set: the clear is applied after the
    // set, so a fault bit set at the edge its map is read is cleared unreported.)
    // A select value >= NUM_TFM sets nothing.
    wire [NUM_CBR-1:0] set_onehot = {{(NUM_CBR-1){1'b0}}, 1'b1} << set_cbr_i;
`ifdef GRU_MUTANT_TFM_SET_LOST
    localparam CLEAR_LATE = 1'b1;
`else
    localparam CLEAR_LATE = 1'b0;
`endif
    integer ni;
    reg     clr;
    always @* begin
        tfm_fault_d = tfm_fault_q;
        tfm_done_d  = tfm_done_q;
        clr         = 1'b0;
        if (rd_clr_i || set_fault_i || set_done_i) for (ni = 0; ni < NUM_TFM; ni = ni + 1) begin
`ifndef GRU_MUTANT_TFM_NO_CLEAR
            clr = rd_clr_i && idx_i == ni[TFM_IW-1:0];
`endif
            if (clr && !CLEAR_LATE) begin
                tfm_fault_d[ni*NUM_CBR +: NUM_CBR] = {NUM_CBR{1'b0}};
                tfm_done_d[ni*NUM_CBR +: NUM_CBR]  = {NUM_CBR{1'b0}};
            end
            if (set_map_i == ni[CCH_TLB_INT_SELECT_W-1:0]) begin
                if (set_fault_i)
                    tfm_fault_d[ni*NUM_CBR +: NUM_CBR] = tfm_fault_d[ni*NUM_CBR +: NUM_CBR] | set_onehot;
                if (set_done_i)
                    tfm_done_d[ni*NUM_CBR +: NUM_CBR]  = tfm_done_d[ni*NUM_CBR +: NUM_CBR] | set_onehot;
            end
            if (clr && CLEAR_LATE)
                {tfm_fault_d[ni*NUM_CBR +: NUM_CBR], tfm_done_d[ni*NUM_CBR +: NUM_CBR]} = {2*NUM_CBR{1'b0}};
        end
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            tfm_fault_q <= {NUM_TFM*NUM_CBR{1'b0}};
            tfm_done_q  <= {NUM_TFM*NUM_CBR{1'b0}};
        end else begin
            tfm_fault_q <= tfm_fault_d;
            tfm_done_q  <= tfm_done_d;
        end
    end

endmodule

// Trace-only cycle counter, bound into gru_chiplet by sim/build.rs for the Verilated models
// (never part of rtl/, never synthesized, never linted with it).
//
// `TOP.gru_chiplet.trace_cycle.cycle` shows the kernel cycle number the way the semantic trace,
// the checkers and every "FAIL ... cycle N" message count it: the chiplet holds reset for 4
// cycles before the kernel's cycle 0, so the counter reads all ones during reset and N from
// the rising edge of cycle N (waveform time 2(N+4)+1 ns) to the next edge. A marker placed on
// cycle N's edge therefore sits where `cycle` turns N.
/* verilator lint_off DECLFILENAME */
module gru_trace_cycle (
    input wire clk_i,
    input wire rst_ni
);
    reg [63:0] cycle;
    always @(posedge clk_i) begin
        if (!rst_ni) cycle <= {64{1'b1}};
        else         cycle <= cycle + 64'd1;
    end
endmodule
/* verilator lint_on DECLFILENAME */

bind gru_chiplet gru_trace_cycle trace_cycle (.clk_i(clk_i), .rst_ni(rst_ni));

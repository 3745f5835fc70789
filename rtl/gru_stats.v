// gru_stats -- the statistics counters, read-only at HS_STAT_BASE (MICROARCH §3).
//
// One 64-bit counter per dword of the STAT line; each event source pulses a strobe at the edge
// where its event happens.
module gru_stats #(
    parameter PURGE_LANES   = 8,
    parameter PURGE_ENGINES = 1
) (
    clk_i, rst_ni,
    hit_i, miss_i, tlbmod_i, dropin_i, stale_i, purge_ndone_i, purged_i, mmio_err_i,
    rd_line_o
);
`include "gru_defs.vh"

    localparam NCLR_W  = $clog2(PURGE_ENGINES * PURGE_LANES + 1);
    localparam NDONE_W = $clog2(PURGE_ENGINES + 1);

    input clk_i;
    input rst_ni;
    input              hit_i;          // lookup hit (E_LOOKUP)
    input              miss_i;         // TLB_MISS fault latched
    input              tlbmod_i;       // TLB_MOD fault latched
    input              dropin_i;       // dropin installed
    input              stale_i;        // dropin discarded: TFH stale
    input [NDONE_W-1:0] purge_ndone_i; // TGHs completed at this edge
    input [NCLR_W-1:0] purged_i;       // entries purged at this edge
    input              mmio_err_i;     // MMIO request answered with err
    output [LINE_W-1:0] rd_line_o;

    reg [DW_W-1:0] stat_hits_q, stat_misses_q, stat_tlbmod_q, stat_dropins_q;
    reg [DW_W-1:0] stat_stale_q, stat_purges_q, stat_purged_q, stat_mmio_errors_q;

    reg [LINE_W-1:0] rd_line;
    always @* begin
        rd_line = {LINE_W{1'b0}};
        rd_line[STAT_HITS*DW_W +: DW_W]        = stat_hits_q;
        rd_line[STAT_MISSES*DW_W +: DW_W]      = stat_misses_q;
        rd_line[STAT_TLBMOD*DW_W +: DW_W]      = stat_tlbmod_q;
        rd_line[STAT_DROPINS*DW_W +: DW_W]     = stat_dropins_q;
        rd_line[STAT_STALE*DW_W +: DW_W]       = stat_stale_q;
        rd_line[STAT_PURGES*DW_W +: DW_W]      = stat_purges_q;
        rd_line[STAT_PURGED*DW_W +: DW_W]      = stat_purged_q;
        rd_line[STAT_MMIO_ERRORS*DW_W +: DW_W] = stat_mmio_errors_q;
    end
    assign rd_line_o = rd_line;

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            stat_hits_q        <= {DW_W{1'b0}};
            stat_misses_q      <= {DW_W{1'b0}};
            stat_tlbmod_q      <= {DW_W{1'b0}};
            stat_dropins_q     <= {DW_W{1'b0}};
            stat_stale_q       <= {DW_W{1'b0}};
            stat_purges_q      <= {DW_W{1'b0}};
            stat_purged_q      <= {DW_W{1'b0}};
            stat_mmio_errors_q <= {DW_W{1'b0}};
        end else begin
            stat_hits_q        <= stat_hits_q + {{(DW_W-1){1'b0}}, hit_i};
            stat_misses_q      <= stat_misses_q + {{(DW_W-1){1'b0}}, miss_i};
            stat_tlbmod_q      <= stat_tlbmod_q + {{(DW_W-1){1'b0}}, tlbmod_i};
            stat_dropins_q     <= stat_dropins_q + {{(DW_W-1){1'b0}}, dropin_i};
            stat_stale_q       <= stat_stale_q + {{(DW_W-1){1'b0}}, stale_i};
            stat_purges_q      <= stat_purges_q + {{(DW_W-NDONE_W){1'b0}}, purge_ndone_i};
            stat_purged_q      <= stat_purged_q + {{(DW_W-NCLR_W){1'b0}}, purged_i};
            stat_mmio_errors_q <= stat_mmio_errors_q + {{(DW_W-1){1'b0}}, mmio_err_i};
        end
    end

endmodule

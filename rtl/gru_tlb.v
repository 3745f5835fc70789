// gru_tlb -- the fully associative external TLB (MICROARCH §3, §5 E_LOOKUP, §6.1, §9.5).
//
// Holds the entries, answers the CB engine's lookup combinationally (lowest matching index
// wins), selects the install (dropin) target and applies, at the edge, the purge engine's clears
// first and then the install. Also drives the combinational debug read port.
module gru_tlb #(
    parameter TLB_ENTRIES = 128
) (
    clk_i, rst_ni,
    lk_en_i, lk_ctx_i, lk_asid_i, lk_vpn_i,
    lk_hit_o, lk_pfn_o, lk_ps_o, lk_dirty_o,
    purge_clr_i,
    ins_valid_i, ins_ctx_i, ins_asid_i, ins_vpn_i, ins_ps_i, ins_pfn_i, ins_dirty_i,
    dbg_idx_i, dbg_entry_o,
    tlb_valid_o, tlb_ctx_o, tlb_asid_o, tlb_vpn_o, tlb_ps_o
);
`include "gru_defs.vh"

    localparam IDX_W = $clog2(TLB_ENTRIES);
    localparam [IDX_W-1:0] RR_LAST = TLB_ENTRIES[IDX_W-1:0] - 1'b1;

    input clk_i;
    input rst_ni;

    // Lookup key, from the CB engine's registered state. The match logic is evaluated only
    // while lk_en_i (E_LOOKUP): the results are unused otherwise, and skipping the 128-entry loop
    // keeps the Verilated model fast.
    input                   lk_en_i;
    input  [TLB_CTX_W-1:0]  lk_ctx_i;
    input  [TLB_ASID_W-1:0] lk_asid_i;
    input  [TLB_VPN_W-1:0]  lk_vpn_i;     // vaddr[63:12]
    output                  lk_hit_o;
    output [TLB_PFN_W-1:0]  lk_pfn_o;
    output [TLB_PS_W-1:0]   lk_ps_o;
    output                  lk_dirty_o;

    // Entries the purge engine clears at this edge.
    input  [TLB_ENTRIES-1:0] purge_clr_i;

    // Dropin from a TFH command at this edge (page size already checked: ps <= 8).
    input                   ins_valid_i;
    input  [TLB_CTX_W-1:0]  ins_ctx_i;
    input  [TLB_ASID_W-1:0] ins_asid_i;
    input  [TLB_VPN_W-1:0]  ins_vpn_i;    // fillvaddr[63:12], not yet aligned
    input  [TLB_PS_W-1:0]   ins_ps_i;
    input  [TLB_PFN_W-1:0]  ins_pfn_i;
    input                   ins_dirty_i;

    input  [7:0]            dbg_idx_i;
    output [DBG_W-1:0]      dbg_entry_o;

    // Flat entry state for the purge engine.
    output [TLB_ENTRIES-1:0]            tlb_valid_o;
    output [TLB_ENTRIES*TLB_CTX_W-1:0]  tlb_ctx_o;
    output [TLB_ENTRIES*TLB_ASID_W-1:0] tlb_asid_o;
    output [TLB_ENTRIES*TLB_VPN_W-1:0]  tlb_vpn_o;
    output [TLB_ENTRIES*TLB_PS_W-1:0]   tlb_ps_o;

    // ---------------------------------------------------------------- state
    reg [TLB_ENTRIES-1:0]            tlb_valid_q, tlb_valid_d;
    reg [TLB_ENTRIES*TLB_CTX_W-1:0]  tlb_ctx_q;
    reg [TLB_ENTRIES*TLB_ASID_W-1:0] tlb_asid_q;
    reg [TLB_ENTRIES*TLB_VPN_W-1:0]  tlb_vpn_q;   // stored aligned down to the entry's page
    reg [TLB_ENTRIES*TLB_PS_W-1:0]   tlb_ps_q;
    reg [TLB_ENTRIES*TLB_PFN_W-1:0]  tlb_pfn_q;
    reg [TLB_ENTRIES-1:0]            tlb_dirty_q;
    reg [IDX_W-1:0]                  rr_q, rr_d;  // round-robin replacement pointer

    assign tlb_valid_o = tlb_valid_q;
    assign tlb_ctx_o   = tlb_ctx_q;
    assign tlb_asid_o  = tlb_asid_q;
    assign tlb_vpn_o   = tlb_vpn_q;
    assign tlb_ps_o    = tlb_ps_q;

    // shift(code): page bytes = 4096 << shift; codes > 8 never reach the TLB but map to 0.
    function [PS_SHIFT_W-1:0] ps_shift;
        input [TLB_PS_W-1:0] code;
        begin
            if (code > PS_MAX_CODE) ps_shift = 0;
            else ps_shift = PS_SHIFTS[code*PS_SHIFT_W +: PS_SHIFT_W];
        end
    endfunction

    // VPN bits that name the page (the low shift bits are the offset inside a large page).
    function [TLB_VPN_W-1:0] vpn_mask;
        input [PS_SHIFT_W-1:0] shift;
        begin
            vpn_mask = ~((52'd1 << shift) - 52'd1);
        end
    endfunction

    // ---------------------------------------------------------------- lookup
`ifdef GRU_MUTANT_ASID_ALIAS
    localparam [TLB_ASID_W-1:0] ASID_ALIAS_BIT = 24'd8;
`endif
    // Wide flat vectors are read through select loops, not `vec[idx*W +: W]`: Yosys 0.23 turns
    // each wide variable part-select into a huge shifter that takes about a minute to map.
    reg [TLB_ENTRIES-1:0] lk_match;
    reg [TLB_PFN_W-1:0]   lk_pfn;
    reg [TLB_PS_W-1:0]    lk_ps;
    reg                   lk_dirty;
    integer li;
    always @* begin
        lk_match = {TLB_ENTRIES{1'b0}};
        lk_pfn   = {TLB_PFN_W{1'b0}};
        lk_ps    = {TLB_PS_W{1'b0}};
        lk_dirty = 1'b0;
        if (lk_en_i) begin
            // Downwards, so that with several matches the lowest index wins.
            for (li = TLB_ENTRIES - 1; li >= 0; li = li - 1) begin
                lk_match[li] = tlb_valid_q[li]
                    && tlb_ctx_q[li*TLB_CTX_W +: TLB_CTX_W] == lk_ctx_i
`ifdef GRU_MUTANT_ASID_ALIAS
                    // Mutant (ASID aliasing): the compare ignores ASID bit 3, the lowest bit of a
                    // driver ASID base (bases step by 8): ASIDs 16 and 24, 32 and 40... alias.
                    && ((tlb_asid_q[li*TLB_ASID_W +: TLB_ASID_W] ^ lk_asid_i) & ~ASID_ALIAS_BIT)
                       == {TLB_ASID_W{1'b0}}
`else
                    && tlb_asid_q[li*TLB_ASID_W +: TLB_ASID_W] == lk_asid_i
`endif
                    && ((tlb_vpn_q[li*TLB_VPN_W +: TLB_VPN_W] ^ lk_vpn_i)
                        & vpn_mask(ps_shift(tlb_ps_q[li*TLB_PS_W +: TLB_PS_W])))
                       == {TLB_VPN_W{1'b0}};
                if (lk_match[li]) begin
                    lk_pfn   = tlb_pfn_q[li*TLB_PFN_W +: TLB_PFN_W];
                    lk_ps    = tlb_ps_q[li*TLB_PS_W +: TLB_PS_W];
                    lk_dirty = tlb_dirty_q[li];
                end
            end
        end
    end
    assign lk_hit_o   = |lk_match;
    assign lk_pfn_o   = lk_pfn;
    assign lk_ps_o    = lk_ps;
    assign lk_dirty_o = lk_dirty;

    // ---------------------------------------------------------------- install target
    // Lowest valid same-ctx/asid entry whose page range overlaps the new one, else the lowest
    // invalid entry, else rr_q. Chosen from the pre-edge entries (purge clears of the same edge
    // are not seen: every decision of an edge uses pre-edge state, MICROARCH §9).
    reg [TLB_VPN_W-1:0]   ins_vpn_al;      // new page, aligned down
    reg [TLB_VPN_W:0]     ins_end;         // one past its last vpn
    reg [TLB_VPN_W:0]     ent_end;
    reg [TLB_VPN_W-1:0]   ent_vpn;
    reg [TLB_ENTRIES-1:0] ins_overlap;
    reg                   ins_has_overlap, ins_has_free;
    reg [IDX_W-1:0]       ins_overlap_idx, ins_free_idx, ins_tgt;
    reg                   ins_use_rr;
    integer ii;
    always @* begin
        ins_vpn_al = ins_vpn_i & vpn_mask(ps_shift(ins_ps_i));
        ins_end    = {1'b0, ins_vpn_al} + ({{TLB_VPN_W{1'b0}}, 1'b1} << ps_shift(ins_ps_i));
        ent_vpn     = {TLB_VPN_W{1'b0}};
        ent_end     = {(TLB_VPN_W+1){1'b0}};
        ins_overlap = {TLB_ENTRIES{1'b0}};
        ins_overlap_idx = {IDX_W{1'b0}};
        ins_free_idx    = {IDX_W{1'b0}};
        // Only evaluated on an install (keeps the Verilated model fast).
        if (ins_valid_i) begin
            // Downwards, so that the lowest index wins.
            for (ii = TLB_ENTRIES - 1; ii >= 0; ii = ii - 1) begin
                ent_vpn = tlb_vpn_q[ii*TLB_VPN_W +: TLB_VPN_W];
                ent_end = {1'b0, ent_vpn}
                    + ({{TLB_VPN_W{1'b0}}, 1'b1} << ps_shift(tlb_ps_q[ii*TLB_PS_W +: TLB_PS_W]));
                ins_overlap[ii] = tlb_valid_q[ii]
                    && tlb_ctx_q[ii*TLB_CTX_W +: TLB_CTX_W] == ins_ctx_i
                    && tlb_asid_q[ii*TLB_ASID_W +: TLB_ASID_W] == ins_asid_i
                    && {1'b0, ent_vpn} < ins_end
                    && {1'b0, ins_vpn_al} < ent_end;
                if (ins_overlap[ii]) ins_overlap_idx = ii[IDX_W-1:0];
                if (!tlb_valid_q[ii]) ins_free_idx = ii[IDX_W-1:0];
            end
        end
        ins_has_overlap = |ins_overlap;
        ins_has_free    = ~&tlb_valid_q;
        ins_use_rr = 1'b0;
`ifdef GRU_MUTANT_INSTALL_NO_REPLACE
        // Mutant (install ignores the overlap): a dropin takes a free entry even when an entry
        // of the same context and ASID overlaps it, so two entries match one lookup.
        if (ins_has_free) ins_tgt = ins_free_idx;
        else if (ins_has_overlap) ins_tgt = ins_overlap_idx;
`else
        if (ins_has_overlap) ins_tgt = ins_overlap_idx;
        else if (ins_has_free) ins_tgt = ins_free_idx;
`endif
        else begin
            ins_tgt    = rr_q;
            ins_use_rr = 1'b1;
        end
    end

    // ---------------------------------------------------------------- next state
    // Valid bits: purge clears first, then the install (the install wins on the same entry).
    integer ni;
    always @* begin
        tlb_valid_d = tlb_valid_q & ~purge_clr_i;
        rr_d = rr_q;
        if (ins_valid_i) begin
            for (ni = 0; ni < TLB_ENTRIES; ni = ni + 1)
                if (ins_tgt == ni[IDX_W-1:0]) tlb_valid_d[ni] = 1'b1;
            if (ins_use_rr)
                rr_d = (rr_q == RR_LAST) ? {IDX_W{1'b0}} : rr_q + 1'b1;
        end
    end

    integer si;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            tlb_valid_q <= {TLB_ENTRIES{1'b0}};
            tlb_ctx_q   <= {TLB_ENTRIES*TLB_CTX_W{1'b0}};
            tlb_asid_q  <= {TLB_ENTRIES*TLB_ASID_W{1'b0}};
            tlb_vpn_q   <= {TLB_ENTRIES*TLB_VPN_W{1'b0}};
            tlb_ps_q    <= {TLB_ENTRIES*TLB_PS_W{1'b0}};
            tlb_pfn_q   <= {TLB_ENTRIES*TLB_PFN_W{1'b0}};
            tlb_dirty_q <= {TLB_ENTRIES{1'b0}};
            rr_q        <= {IDX_W{1'b0}};
        end else begin
            tlb_valid_q <= tlb_valid_d;
            rr_q        <= rr_d;
            // Payload: a plain write port at the install target.
            if (ins_valid_i) begin
                for (si = 0; si < TLB_ENTRIES; si = si + 1) begin
                    if (ins_tgt == si[IDX_W-1:0]) begin
                        tlb_ctx_q[si*TLB_CTX_W +: TLB_CTX_W]    <= ins_ctx_i;
                        tlb_asid_q[si*TLB_ASID_W +: TLB_ASID_W] <= ins_asid_i;
                        tlb_vpn_q[si*TLB_VPN_W +: TLB_VPN_W]    <= ins_vpn_al;
                        tlb_ps_q[si*TLB_PS_W +: TLB_PS_W]       <= ins_ps_i;
                        tlb_pfn_q[si*TLB_PFN_W +: TLB_PFN_W]    <= ins_pfn_i;
                        tlb_dirty_q[si]                         <= ins_dirty_i;
                    end
                end
            end
        end
    end

    // ---------------------------------------------------------------- debug read
    function [DBG_W-1:0] dbg_pack;
        input                  valid;
        input [TLB_CTX_W-1:0]  ctx;
        input [TLB_ASID_W-1:0] asid;
        input [TLB_VPN_W-1:0]  vpn;
        input [TLB_PS_W-1:0]   ps;
        input [TLB_PFN_W-1:0]  pfn;
        input                  dirty;
        begin
            dbg_pack = {DBG_W{1'b0}};
            dbg_pack[DBG_VALID_LSB]              = valid;
            dbg_pack[DBG_CTX_LSB +: TLB_CTX_W]   = ctx;
            dbg_pack[DBG_ASID_LSB +: TLB_ASID_W] = asid;
            dbg_pack[DBG_VPN_LSB +: TLB_VPN_W]   = vpn;
            dbg_pack[DBG_PS_LSB +: TLB_PS_W]     = ps;
            dbg_pack[DBG_PFN_LSB +: TLB_PFN_W]   = pfn;
            dbg_pack[DBG_DIRTY_LSB]              = dirty;
        end
    endfunction

    // Plain indexed part-selects on purpose: this port is evaluated on every cycle, where they
    // are O(1) in Verilator (a select loop or a net array costs the model up to half its speed).
    // The price is paid in Yosys instead (slow to map, see scripts/lint-rtl.sh).
    wire [IDX_W-1:0] dbg_idx = dbg_idx_i[IDX_W-1:0];
    // 0 when dbg_idx_i >= TLB_ENTRIES.
    assign dbg_entry_o = ({24'd0, dbg_idx_i} < TLB_ENTRIES)
        ? dbg_pack(tlb_valid_q[dbg_idx],
                   tlb_ctx_q[dbg_idx*TLB_CTX_W +: TLB_CTX_W],
                   tlb_asid_q[dbg_idx*TLB_ASID_W +: TLB_ASID_W],
                   tlb_vpn_q[dbg_idx*TLB_VPN_W +: TLB_VPN_W],
                   tlb_ps_q[dbg_idx*TLB_PS_W +: TLB_PS_W],
                   tlb_pfn_q[dbg_idx*TLB_PFN_W +: TLB_PFN_W],
                   tlb_dirty_q[dbg_idx])
        : {DBG_W{1'b0}};

`ifdef FORMAL
    // ---------------------------------------------------------------- formal (docs/FORMAL.md)
    // At most one entry matches any lookup (DESIGN §3.3). The TLB keeps this by replacing the
    // overlapping entry of the same context and ASID on a dropin; only a dropin that overlaps
    // two or more such entries at once (possible only after the host dropped in pages of
    // different sizes for the same range without purging in between, which the driver never
    // does: a page-size change goes through an invalidate) can break it. f_breach records that
    // host-contract breach (the reference model counts it as multi_match); the property holds
    // as long as it never happened. Helper: the stronger, inductive invariant that no two valid
    // entries of one context and ASID overlap.
    reg f_init = 1'b1;
    always @(posedge clk_i) f_init <= 1'b0;
    reg f_breach;
    always @(posedge clk_i) begin
        if (!rst_ni) f_breach <= 1'b0;
        else if (ins_valid_i && (ins_overlap & (ins_overlap - 1'b1)) != {TLB_ENTRIES{1'b0}})
            f_breach <= 1'b1;
    end
    reg f_pair_overlap;
    reg [TLB_VPN_W:0] f_ei, f_ej;
    integer fa, fb;
    always @* begin
        f_pair_overlap = 1'b0;
        f_ei = {(TLB_VPN_W+1){1'b0}};
        f_ej = {(TLB_VPN_W+1){1'b0}};
        for (fa = 0; fa < TLB_ENTRIES; fa = fa + 1)
            for (fb = fa + 1; fb < TLB_ENTRIES; fb = fb + 1) begin
                f_ei = {1'b0, tlb_vpn_q[fa*TLB_VPN_W +: TLB_VPN_W]}
                    + ({{TLB_VPN_W{1'b0}}, 1'b1} << ps_shift(tlb_ps_q[fa*TLB_PS_W +: TLB_PS_W]));
                f_ej = {1'b0, tlb_vpn_q[fb*TLB_VPN_W +: TLB_VPN_W]}
                    + ({{TLB_VPN_W{1'b0}}, 1'b1} << ps_shift(tlb_ps_q[fb*TLB_PS_W +: TLB_PS_W]));
                if (tlb_valid_q[fa] && tlb_valid_q[fb]
                    && tlb_ctx_q[fa*TLB_CTX_W +: TLB_CTX_W] == tlb_ctx_q[fb*TLB_CTX_W +: TLB_CTX_W]
                    && tlb_asid_q[fa*TLB_ASID_W +: TLB_ASID_W] == tlb_asid_q[fb*TLB_ASID_W +: TLB_ASID_W]
                    && {1'b0, tlb_vpn_q[fa*TLB_VPN_W +: TLB_VPN_W]} < f_ej
                    && {1'b0, tlb_vpn_q[fb*TLB_VPN_W +: TLB_VPN_W]} < f_ei)
                    f_pair_overlap = 1'b1;
            end
    end
    always @(posedge clk_i) begin
        if (!f_init && rst_ni && !f_breach) begin
            if (lk_en_i)
                p_tlb_one_match: assert((lk_match & (lk_match - 1'b1)) == {TLB_ENTRIES{1'b0}});
            p_tlb_one_match__inv: assert(!f_pair_overlap);
        end
    end
    always @(posedge clk_i) begin
        if (!f_init && rst_ni) begin
            c_tlb_two_entries_one_ctx: cover(tlb_valid_q[0] && tlb_valid_q[1]
                && tlb_ctx_q[0 +: TLB_CTX_W] == tlb_ctx_q[TLB_CTX_W +: TLB_CTX_W]
                && tlb_asid_q[0 +: TLB_ASID_W] == tlb_asid_q[TLB_ASID_W +: TLB_ASID_W]);
            c_tlb_replace_overlap: cover(ins_valid_i && ins_has_overlap && !f_breach);
        end
    end
`endif

endmodule

// Yosys techmap rule used by scripts/formal.sh: cover(A) becomes assert(!A) under the same enable
// and the same cell name, so a solver's "assertion fails at step k" reads "cover reached at k".
(* techmap_celltype = "$cover" *)
module _90_cover2assert (A, EN);
    input A, EN;
    wire nA = !A;
    $assert _TECHMAP_REPLACE_ (.A(nA), .EN(EN));
endmodule

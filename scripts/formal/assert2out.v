// Yosys techmap rule used by scripts/formal.sh: every assertion becomes a named output
// <cell>.bad = EN & !A, so write_aiger lists it by name in its map file (write_aiger orders
// plain $assert cells by an internal hash, not by name). The $assume cells stay: constraints.
(* techmap_celltype = "$assert" *)
module _90_assert2out (A, EN);
    input A, EN;
    (* keep *) wire bad = EN & !A;
endmodule

#!/usr/bin/env bash
# RTL lint: the same files must pass Verilator -Wall, synthesize in Yosys 0.23 without latches or
# undriven wires, and compile in Icarus Verilog (DESIGN §3 says why all three).
#
# Yosys: a full synthesis at the default parameters (128 CBRs, 128 TLB entries, 512-bit ports)
# takes over ten minutes on this project's 2-core machines, so the gate synthesizes the same RTL
# with the TLB, TGH count and purge lanes reduced (every logic shape present, fewer copies; about
# six minutes). GRU_SYNTH_FULL=1 synthesizes the default configuration instead.
#
# --quick skips Yosys (used by `make test`, so CI stays fast); `make lint` runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && quick=1
RTL=(rtl/gru_tlb.v rtl/gru_purge.v rtl/gru_tfh.v rtl/gru_tfm.v rtl/gru_cch.v rtl/gru_cb_engine.v
     rtl/gru_mmio.v rtl/gru_stats.v rtl/gru_chiplet.v)
for f in rtl/*.v; do
  [[ " ${RTL[*]} " == *" $f "* ]] || { echo "lint: $f is not in scripts/lint-rtl.sh's file list" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== verilator --lint-only -Wall"
verilator --lint-only -Wall -Irtl --top-module gru_chiplet "${RTL[@]}" 2>&1 | tee "$tmp/verilator.log"
if [ -s "$tmp/verilator.log" ]; then echo "lint: verilator reported warnings" >&2; exit 1; fi
echo "verilator: 0 warnings"

echo "== iverilog"
for std in 2012 2005; do
  iverilog -g$std -Irtl -s gru_chiplet -o "$tmp/gru.vvp" "${RTL[@]}" 2>&1 | tee "$tmp/iverilog.log"
  if [ -s "$tmp/iverilog.log" ]; then echo "lint: iverilog -g$std reported problems" >&2; exit 1; fi
  echo "iverilog -g$std: ok"
done

if [ $quick = 1 ]; then echo "lint: ok (quick: yosys skipped; run make lint for synthesis)"; exit 0; fi

echo "== yosys (0.23 expected: $(yosys -V))"
if [ "${GRU_SYNTH_FULL:-0}" = 1 ]; then
  chparam=""
  cfg="default parameters"
else
  chparam="chparam -set NUM_TGH 4 -set TLB_ENTRIES 16 -set PURGE_LANES 4 gru_chiplet"
  cfg="NUM_TGH=4 TLB_ENTRIES=16 PURGE_LANES=4"
fi
cat > "$tmp/synth.ys" <<YS
read_verilog -Irtl ${RTL[*]}
$chparam
synth -top gru_chiplet
tee -o $tmp/check.txt check
tee -o $tmp/stat.txt stat
select -assert-none t:\$dlatch t:\$_DLATCH_*
YS
yosys -q -l "$tmp/yosys.log" -s "$tmp/synth.ys" >/dev/null
if ! grep -q "Found and reported 0 problems" "$tmp/check.txt"; then
  grep -i -A3 "warning" "$tmp/check.txt" >&2 || true
  echo "lint: yosys check found problems (undriven wires, multiple drivers, loops)" >&2
  exit 1
fi
cells=$(grep "Number of cells" "$tmp/stat.txt" | tail -1 | awk '{print $4}')
echo "yosys: gru_chiplet $cells cells ($cfg), no latches, check clean"
echo "lint: ok"

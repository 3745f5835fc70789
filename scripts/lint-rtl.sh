#!/usr/bin/env bash
# RTL lint: the same files (rtl/*.v) must pass Verilator -Wall with zero warnings, synthesize in
# Yosys 0.23 without latches, warnings or `check` problems (undriven wires, multiple drivers,
# loops), and compile in Icarus Verilog 11 (DESIGN §3 says why all three). Ends with `lint: ok`.
#
# Every RTL mutant define (`GRU_MUTANT_<NAME>`, found in rtl/ the way sim/build.rs finds them) is
# linted too, so a mutant cannot rot: Verilator -Wall and Icarus (-g2005) on each, and in the full
# mode a Yosys parse of each (mutants are never synthesized).
#
# Yosys: a full synthesis at the default parameters (128 CBRs, 128 TLB entries, 24 TGHs, 8 purge
# lanes) takes about 7.5 minutes and ~480k cells on this project's 2-core machines, so the gate
# synthesizes the same RTL with the TLB, TGH count and purge lanes reduced through `chparam`
# (every logic shape present, full-size CBR/TFH logic; about 2.5 minutes). GRU_SYNTH_FULL=1
# synthesizes the default configuration instead. SAT-based resource sharing is skipped
# (`synth -noshare`): it only trims area and costs minutes on this design.
#
# --quick skips Yosys (used by `make test`, so CI stays fast: the whole quick lint, mutants
# included, takes a few seconds); `make lint` runs everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
case "${1:-}" in
    --quick) quick=1 ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

shopt -s nullglob
rtl=(rtl/*.v)
shopt -u nullglob
if [ "${#rtl[@]}" -eq 0 ]; then
    echo "lint: no RTL found in rtl/*.v" >&2
    exit 1
fi
top=gru_chiplet
# RTL mutant and fault-injection defines: every GRU_MUTANT_<NAME> an `ifdef/`ifndef/`elsif tests.
mapfile -t mutants < <(grep -ohE '^[[:space:]]*`(ifdef|ifndef|elsif)[[:space:]]+GRU_MUTANT_[A-Z0-9_]+' \
    rtl/*.v rtl/*.vh | awk '{print $2}' | sort -u)
[ "${#mutants[@]}" -gt 0 ] || { echo "lint: no GRU_MUTANT_ defines found in rtl/" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "lint: FAILED: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- 1. Verilator
echo "== verilator --lint-only -Wall"
for def in "" "${mutants[@]}"; do
    args=()
    label="verilator"
    if [ -n "$def" ]; then
        args+=("-D$def")
        label="verilator -D$def"
    fi
    if ! verilator --lint-only -Wall -Irtl --top-module "$top" ${args[@]+"${args[@]}"} \
        "${rtl[@]}" > "$tmp/verilator.log" 2>&1; then
        cat "$tmp/verilator.log" >&2
        fail "$label reported warnings or errors"
    fi
    if [ -s "$tmp/verilator.log" ]; then
        cat "$tmp/verilator.log" >&2
        fail "$label printed warnings"
    fi
    echo "$label: 0 warnings"
done

# ---------------------------------------------------------------- 2. Icarus Verilog
echo "== iverilog"
for std in 2012 2005; do
    if ! iverilog -g"$std" -Wall -Irtl -s "$top" -o "$tmp/gru.vvp" "${rtl[@]}" \
        > "$tmp/iverilog.log" 2>&1; then
        cat "$tmp/iverilog.log" >&2
        fail "iverilog -g$std failed"
    fi
    if [ -s "$tmp/iverilog.log" ]; then
        cat "$tmp/iverilog.log" >&2
        fail "iverilog -g$std printed warnings"
    fi
    echo "iverilog -g$std: ok"
done
for def in "${mutants[@]}"; do
    if ! iverilog -g2005 -Wall -Irtl -D"$def" -s "$top" -o "$tmp/gru.vvp" "${rtl[@]}" \
        > "$tmp/iverilog.log" 2>&1 || [ -s "$tmp/iverilog.log" ]; then
        cat "$tmp/iverilog.log" >&2
        fail "iverilog -g2005 -D$def failed or printed warnings"
    fi
done
echo "iverilog -g2005 with each of ${#mutants[@]} mutant defines: ok"

if [ "$quick" = 1 ]; then
    echo "lint: ok (quick: yosys skipped; run make lint for synthesis)"
    exit 0
fi

# ---------------------------------------------------------------- 3. Yosys
echo "== yosys ($(yosys -V))"
# Mutants: the Yosys parser must take each (about 2 s each).
for def in "${mutants[@]}"; do
    if ! yosys -q -l "$tmp/yosys-parse.log" -p "read_verilog -Irtl -D$def ${rtl[*]}" \
        > "$tmp/yosys-parse.out" 2>&1; then
        tail -n 20 "$tmp/yosys-parse.log" >&2
        fail "yosys read_verilog -D$def failed"
    fi
    if grep -q '^Warning' "$tmp/yosys-parse.log"; then
        grep '^Warning' "$tmp/yosys-parse.log" | sort -u >&2
        fail "yosys read_verilog -D$def printed warnings"
    fi
done
echo "yosys read_verilog with each of ${#mutants[@]} mutant defines: ok"
if [ "${GRU_SYNTH_FULL:-0}" = 1 ]; then
    chparam=""
    cfg="default parameters"
    echo "yosys: full configuration, about 7.5 minutes"
else
    # Two purge engines and non-zero latencies, so that the engines' dispatch, wait counters and
    # tail PRNG are synthesized too (at the defaults they are constant and optimised away).
    chparam="chparam -set NUM_TGH 4 -set TLB_ENTRIES 16 -set PURGE_LANES 4 -set PURGE_ENGINES 2 -set PURGE_BASE 3 -set PURGE_ENTRY 1 -set PURGE_TAIL 2 $top"
    cfg="NUM_TGH=4 TLB_ENTRIES=16 PURGE_LANES=4 PURGE_ENGINES=2 PURGE_BASE=3 PURGE_ENTRY=1 PURGE_TAIL=2"
    echo "yosys: reduced configuration via chparam ($cfg), about 2.5 minutes:" \
         "the full one takes ~7.5 min; GRU_SYNTH_FULL=1 synthesizes it"
fi
cat > "$tmp/synth.ys" <<YS
read_verilog -Irtl ${rtl[*]}
$chparam
synth -top $top -noshare
tee -o $tmp/check.txt check
tee -q -o $tmp/stat.txt stat
select -assert-none t:\$dlatch t:\$adlatch t:\$dlatchsr t:\$_DLATCH_* t:\$_DLATCHSR_*
YS
t0=$(date +%s)
if ! yosys -q -l "$tmp/yosys.log" -s "$tmp/synth.ys" > "$tmp/yosys.out" 2>&1; then
    tail -n 40 "$tmp/yosys.log" >&2
    fail "yosys synthesis failed or inferred latches"
fi
t1=$(date +%s)
if ! grep -q "Found and reported 0 problems" "$tmp/check.txt"; then
    cat "$tmp/check.txt" >&2
    fail "yosys check found problems (undriven wires, multiple drivers, loops)"
fi
if grep -q '^Warning' "$tmp/yosys.log"; then
    grep '^Warning' "$tmp/yosys.log" | sort -u >&2
    fail "yosys printed warnings"
fi
# The last "Number of cells" is the design-hierarchy total.
cells=$(grep "Number of cells" "$tmp/stat.txt" | tail -n 1 | awk '{print $NF}')
[ -n "$cells" ] || fail "yosys printed no cell count"
echo "yosys: $top $cells cells ($cfg; $((t1 - t0)) s), no latches, check clean"

echo "lint: ok"

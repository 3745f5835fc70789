#!/usr/bin/env bash
# `make mutation`: the mutation score of the checks, measured by cargo-mutants over the driver's
# GRU code (docs/MUTATION.md). What it mutates and the gate each mutant must fail
# (driver/tests/mutation_gate.rs, reference model only) are in .cargo/mutants.toml.
#
# The tree is mirrored into target/mutation-tree with file times kept, and cargo-mutants mutates
# that copy in place (--in-place): its build, the Verilated models included, survives from one
# run or shard to the next, and a mutant costs an incremental rebuild of gru-driver and the root
# crate's library. cargo-mutants' own copy would rebuild Verilator on every run; mutating this
# worktree in place would race with editing it.
#
# Usage: scripts/mutation.sh [k/n] [cargo-mutants flags...]   (k/n: shard k of n, k from 0)
# Writes mutants.out/ (cargo-mutants' outcomes, caught.txt, missed.txt, ...) and
# mutants.out/score.txt, and ends with
#   mutation: caught C, missed M, unviable U, timeout T of N
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
tree=target/mutation-tree

shard=()
if [[ "${1:-}" =~ ^[0-9]+/[0-9]+$ ]]; then
    shard=(--shard "$1")
    shift
fi

command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants

# Mirror the working tree (tracked and untracked, ignored files left out): remove everything but
# the copy's target/, then unpack with the original file times, so unchanged files stay
# unchanged for cargo. Runs from the worktree root: `$d` is the same directory in both.
mkdir -p "$tree"
find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard \
    | tar --null -T - --ignore-failed-read --format=posix -cf - 2>/dev/null \
    | tar -xf - -C "$tree"
# Directories too: sim/build.rs reruns Verilator when rtl/'s own time changes, and unpacking
# made every directory anew.
(cd "$tree" && find . -path ./target -prune -o -type d -print0) \
    | while IFS= read -r -d '' d; do [ -d "$d" ] && touch -r "$d" "$tree/$d"; done
# Except the mutated sources: the copy's build may be of the last mutant of the previous run
# (cargo-mutants puts the file back but builds nothing after it), newer than the original times
# restored above, and cargo would take it as up to date: the baseline would test a mutant.
touch "$tree"/driver/src/gru/*.rs

# One mutant at a time, as the shared machines need: --in-place is serial by construction
# (cargo-mutants refuses --jobs with it). Round-robin shards each take every n-th mutant of
# every file, so one shard's score is a sample of the whole and the shards take about the same
# time; --no-shuffle keeps the order, and a shard, reproducible.
(cd "$tree" && cargo mutants --package gru-driver --in-place --no-shuffle --sharding round-robin \
    "${shard[@]}" --output "$root" "$@") || rc=$?
# 2: mutants missed, 3: some timed out: a score all the same. Anything else (4: the gate fails
# without a mutant, 1: usage) is no score.
case "${rc:-0}" in
    0 | 2 | 3) ;;
    *) echo "mutation: cargo-mutants failed (exit $rc)" >&2; exit "$rc" ;;
esac

python3 - "$root/mutants.out/outcomes.json" <<'EOF' | tee "$root/mutants.out/score.txt"
import json, sys
outcomes = json.load(open(sys.argv[1]))["outcomes"]
count = {}
for o in outcomes:
    if o["scenario"] != "Baseline":
        count[o["summary"]] = count.get(o["summary"], 0) + 1
n = sum(count.values())
get = lambda k: count.get(k, 0)
print(f"mutation: caught {get('CaughtMutant')}, missed {get('MissedMutant')}, "
      f"unviable {get('Unviable')}, timeout {get('Timeout')} of {n}")
EOF

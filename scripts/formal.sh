#!/usr/bin/env bash
# Formal checking of the chiplet RTL: `make formal` (full) and, from `make test`, --quick.
# See docs/FORMAL.md; the work is done by scripts/formal/formal.py (Yosys + ABC + Icarus).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for t in yosys yosys-abc iverilog vvp python3; do
    command -v "$t" >/dev/null || { echo "formal: $t not found (make deps installs it)" >&2; exit 1; }
done
exec python3 scripts/formal/formal.py "$@"

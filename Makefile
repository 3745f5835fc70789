# gru-cosim — every entry point. `make run` and `make test` install missing Debian packages first.
SHELL := /bin/bash
CARGO ?= cargo
SEED ?= 1
CYCLES ?= 1000000
SEEDS ?= 10
# Debian 12 packages: Verilator builds the model, zlib1g-dev is for FST, Yosys and Icarus lint the RTL;
# Yosys (with its yosys-abc) and Icarus also run the formal checks (scripts/formal.sh); lcov's
# genhtml renders `make coverage`'s RTL report.
DEB_PKGS := verilator zlib1g-dev yosys iverilog g++ make lcov
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps abi build run test lint formal formal-quick lockstep regress bench waves mutants mutation doc clean coverage

# WAVES=1 (as cocotb users type it) dumps waveforms where a target would not: `make regress
# WAVES=1` dumps every failed seed's. `make run` dumps unless WAVES=0.
WAVES ?=

deps:
	@missing=""; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v yosys-abc >/dev/null || missing="$$missing yosys"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v genhtml >/dev/null || missing="$$missing lcov"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi; \
	command -v $(CARGO) >/dev/null || { echo "deps: cargo not found: install Rust (rustup) first" >&2; exit 1; }

# Regenerate rtl/gru_defs.vh and abi/src/generated/ from the ABI table abi/gru_abi.toml
# (`make test` fails while either is stale).
abi:
	$(CARGO) run --release --quiet -p gru-abi-gen

build: deps
	$(CARGO) build --release

# The main job: the default workload on the RTL, every check on; an FST of the windows around
# its first 13 shootdowns on chiplet 0 (waves/default-seed<SEED>-around13.fst), with the GTKWave
# save file that marks them, under waves/. WAVES=0: no dump.
RUN_WAVES := $(if $(filter 0,$(WAVES)),,--waves-around shootdown --waves-max 13)
run: build
	$(CARGO) run --release --quiet -- run default --seed $(SEED) $(RUN_WAVES)

test: deps
	$(CARGO) test --release --workspace
	bash scripts/lint-rtl.sh --quick

# Formal checking of the RTL (docs/FORMAL.md): every property by PDR (proof) or BMC, every cover,
# every RTL mutant against the property that must catch it; counterexamples as VCD + GTKWave save
# file under waves/. formal-quick: shallow BMC, no proofs, no covers. Not part of `make test`: the
# ten Yosys netlists alone take about 10 minutes on a loaded 2-core machine when not cached
# (docs/FORMAL.md §6), which the 6-minute budget of make test cannot hold.
formal: deps
	bash scripts/formal.sh

formal-quick: deps
	bash scripts/formal.sh --quick

lint: deps
	bash scripts/lint-rtl.sh

lockstep: deps
	$(CARGO) run --release --quiet -- lockstep --cycles $(CYCLES) --seed $(SEED)

# The seeded regression: 200 seeds on the reference model, 20 on the RTL, of the mixed workload
# (seed s: default/modern, directed/modern, default/classic, directed/classic by s % 4), so one
# regression enters every race window of both eras (`coverage: N of N`); every seed's result as
# JSON and JUnit XML under target/. WAVES=1: a waveform of every failed seed.
REGRESS_WAVES := $(if $(filter 1,$(WAVES)),--waves-on-fail,)
regress: build
	$(CARGO) run --release --quiet -- regress --workload mix --seeds 1..20 --hw rtl --out target/regress-rtl.json --junit target/regress-rtl.xml $(REGRESS_WAVES)
	$(CARGO) run --release --quiet -- regress --workload mix --seeds 1..200 --hw model --out target/regress-model.json --junit target/regress-model.xml $(REGRESS_WAVES)

# The performance report: bench/REPORT.md, bench/results.json and bench/*.svg. Last line:
# `bench: system/cpp_all = <r>, system/cpp = <r>, irq-share(hpc) = <p>%, irq-share(stress) = <p>%`.
# It includes timed regressions (1,000 model seeds, 100 RTL seeds); BENCH_ARGS adds flags, e.g.
# `--scale-model-seeds 0 --scale-rtl-seeds 0` to skip them (gru-cosim bench --help).
bench: deps
	$(CARGO) run --release --quiet -- bench --seed $(SEED) $(BENCH_ARGS)

# Waveforms with their GTKWave save files under waves/. SCENARIO=<golden scenario> [SHOOTDOWN=k]:
# the window around one shootdown of that scenario; otherwise the default workload's windows
# around every shootdown of chiplet 0 (waves/default-seed<SEED>.fst).
SHOOTDOWN ?= 1
waves: build
ifdef SCENARIO
	$(CARGO) run --release --quiet -- waves --scenario $(SCENARIO) --shootdown $(SHOOTDOWN) --seed $(SEED)
else
	$(CARGO) run --release --quiet -- run default --seed $(SEED) --waves-around shootdown
endif

# RTL line and toggle coverage, and functional coverage (README "Coverage", docs/CHECKING.md):
# a coverage build of gru-cosim in its own target dir (GRU_RTL_COVERAGE=1, sim/build.rs: the
# normal build never carries the counters), every golden scenario, COV_SEEDS seeds of the default
# and directed workloads and of the default one in the classic era, the scenarios of scripts/coverage/ (windows nothing else reaches) and
# COV_LOCKSTEP_SEEDS runs of the chip-level random lockstep on it,
# then `gru-cosim coverage` merges, converts and renders target/coverage/index.html. A failing
# seed still counts (coverage measures stimulus; `make regress` judges it). The counters make
# the RTL some 30x slower, hence COV_ACCESSES-long workload runs. Last line:
# `rtl coverage: line L%, toggle T%`; fails below 95% RTL line coverage.
COV_DIR := target/coverage
COV_BIN := target/coverage-build/release/gru-cosim
COV_SEEDS ?= 1..2
COV_ACCESSES ?= 5000
COV_LOCKSTEP_SEEDS ?= 1 2 3 4
COV_CYCLES ?= 200000
coverage: deps
	GRU_RTL_COVERAGE=1 CARGO_TARGET_DIR=target/coverage-build $(CARGO) build --release --quiet --bin gru-cosim
	rm -rf $(COV_DIR)
	@export GRU_RTL_COVERAGE_DIR=$(COV_DIR)/dat; \
	for s in golden/scenarios/*.toml scripts/coverage/*.toml; do printf 'scenario %-50s ' $$s; $(COV_BIN) run $$s | tail -1; done; \
	for w in default directed classic; do \
	  case $$w in classic) a="--workload default --era classic";; *) a="--workload $$w";; esac; \
	  $(COV_BIN) regress $$a --seeds $(COV_SEEDS) --accesses $(COV_ACCESSES) --hw rtl --out $(COV_DIR)/regress-$$w.json | tail -1; done; \
	for s in $(COV_LOCKSTEP_SEEDS); do $(COV_BIN) lockstep --cycles $(COV_CYCLES) --seed $$s | tail -1; done
	$(COV_BIN) coverage --dat $(COV_DIR)/dat $(foreach w,default directed classic,--results $(COV_DIR)/regress-$(w).json) --out $(COV_DIR) --min-line 95

# API documentation; sim/build.rs sees `cargo doc` and does not run Verilator.
doc:
	$(CARGO) doc --workspace --no-deps

# Plant each mutant in every golden scenario, then in the default workload with seeds 1..SEEDS;
# ends with `mutants: <K> of <M> caught`, exit 1 if one escaped.
mutants: build
	$(CARGO) run --release --quiet -- mutants --seeds $(SEEDS)

# The checks' mutation score from an outside tool (docs/MUTATION.md): cargo-mutants over
# driver/src/gru/, each mutant run through driver/tests/mutation_gate.rs on the reference model,
# one at a time. SHARD=k/n runs shard k (0-based) of n; installs cargo-mutants if missing. Ends
# with `mutation: caught C, missed M, unviable U, timeout T of N` (also in mutants.out/score.txt).
mutation: deps
	bash scripts/mutation.sh $(SHARD)

clean:
	$(CARGO) clean
	rm -f waves/*.fst waves/*.vcd waves/*.gtkw waves/*.sucl

# gru-cosim — every entry point. `make run` and `make test` install missing Debian packages first.
SHELL := /bin/bash
CARGO ?= cargo
SEED ?= 1
CYCLES ?= 1000000
# Debian 12 packages: Verilator builds the model, zlib1g-dev is for FST, Yosys and Icarus lint the RTL.
DEB_PKGS := verilator zlib1g-dev yosys iverilog g++ make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test lint lockstep bench waves clean

deps:
	@missing=""; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi; \
	command -v $(CARGO) >/dev/null || { echo "deps: cargo not found: install Rust (rustup) first" >&2; exit 1; }

build: deps
	$(CARGO) build --release

# The main job: the default workload on the RTL, every check on; an FST of the first shootdowns
# under waves/.
run: build
	$(CARGO) run --release --quiet -- run default --seed $(SEED)

test: deps
	$(CARGO) test --release --workspace
	bash scripts/lint-rtl.sh --quick

lint: deps
	bash scripts/lint-rtl.sh

lockstep: deps
	$(CARGO) run --release --quiet -- lockstep --cycles $(CYCLES) --seed $(SEED)

# The performance report: bench/REPORT.md, bench/results.json and bench/*.svg. Last line:
# `bench: system/cpp = <ratio>, irq-share = <pct>%`. BENCH_ARGS adds flags (gru-cosim bench --help).
bench: deps
	$(CARGO) run --release --quiet -- bench --seed $(SEED) $(BENCH_ARGS)

# Re-dump the default workload's first shootdowns (waves/default-seed<SEED>.fst).
waves: build
	$(CARGO) run --release --quiet -- run default --seed $(SEED) --waves fst

clean:
	$(CARGO) clean
	rm -f waves/*.fst waves/*.vcd

// C++ harness around the Verilated gru_chiplet: one call per cycle carries every port.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>
#include "rust/cxx.h"
#include "gru-sim/src/ports.rs.h"

namespace gru {

// The chip's state registers, word by word (rtl.rs); complete in "gru-sim/src/rtl.rs.h".
struct RtlRegs;

// One Verilated model and its own VerilatedContext. Abstract so that every variant -- FST- and
// VCD-traced (Verilator 5.006 supports one trace format per model), and the RTL mutants --
// shares one API.
class Harness {
public:
    virtual ~Harness() = default;
    // Drive the inputs with the clock low, raise the clock, and return the outputs after the edge.
    virtual void cycle(const PortsIn &in, PortsOut &out) = 0;
    // `n` cycles of the inputs last driven on a quiet chip (docs/MICROARCH.md §12): counted
    // without evaluating, or clocked and dumped as usual while a dump is being written.
    virtual void idle(uint64_t n) = 0;
    // Read TLB entry `idx` through the combinational debug port without a clock edge (costs
    // one eval).
    virtual void peek_tlb(uint8_t idx, PortsOut &out) = 0;
    // Copy the state registers straight out of the model (no eval): the TLB's if `parts` has
    // bit 0, every other one if it has bit 1, the activity registers (TGH status, TFH state,
    // miss counters) if it has bit 2. Registers not asked for are left alone.
    virtual void state(uint8_t parts, RtlRegs &out) const = 0;
    // eval() calls so far: those that apply clock cycles (and the initial settle), and those
    // that only settle the debug read.
    virtual uint64_t clock_evals() const = 0;
    virtual uint64_t debug_evals() const = 0;
    // Start dumping to `path` (format fixed by the variant); throws when the file cannot be opened.
    virtual void open_trace(rust::Str path) = 0;
    virtual void close_trace() = 0;
    // Stop or resume writing cycles to the open dump (one file with gaps between windows).
    virtual void pause_trace(bool paused) = 0;
    // Benchmark baseline: run recorded inputs in a pure C++ loop (no FFI per cycle); returns a
    // checksum of the outputs so the loop cannot be optimised away.
    virtual uint64_t replay(rust::Slice<const PortsIn> inputs) = 0;
};

// The RTL as designed, FST- or VCD-traced.
std::unique_ptr<Harness> new_harness(bool vcd);

// Benchmark baseline for a system of several chiplets: one model of the RTL as designed per
// chiplet, all stepped by one pure C++ loop, every model every cycle (what a naive
// multi-chiplet simulator does).
class Fleet {
public:
    explicit Fleet(size_t chiplets);
    // Replay recorded inputs laid out cycle by cycle (cycle 0 of chiplets 0..n-1, then cycle 1,
    // ...); returns the sum of each model's `replay` checksum.
    uint64_t replay_all(rust::Slice<const PortsIn> inputs);

private:
    std::vector<std::unique_ptr<Harness>> chiplets_;
};
std::unique_ptr<Fleet> new_fleet(size_t chiplets);
// The FST-traced variant built with Verilog define `define` (a GRU_MUTANT_<NAME>); throws
// std::invalid_argument when the build made no such variant.
std::unique_ptr<Harness> new_mutant_harness(rust::Str define);
// The FST-traced variant built with the timing `name` ("variable": sim/build.rs); throws
// std::invalid_argument when the build made no such variant.
std::unique_ptr<Harness> new_timing_harness(rust::Str name);
}  // namespace gru

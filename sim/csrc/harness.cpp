#include "gru-sim/csrc/harness.h"
#include "gru-sim/src/ports.rs.h"
#include "gru-sim/src/rtl.rs.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>
#if VM_COVERAGE
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <unistd.h>
#include "verilated_cov.h"
#endif

// Vgru_fst.h, Vgru_vcd.h, every mutant's Vgru_m_<name>.h, their root classes (which hold
// every signal; sim/csrc/introspect.vlt makes the state registers public) and
// GRU_MUTANT_VARIANTS (sim/build.rs).
#include "gru_variants.h"
#include "verilated.h"
#include "verilated_fst_c.h"
#include "verilated_vcd_c.h"

namespace gru {
namespace {

#if VM_COVERAGE
// A coverage build (sim/build.rs, GRU_RTL_COVERAGE=1) writes each model's line and toggle
// counters to $GRU_RTL_COVERAGE_DIR (default target/coverage/dat) as rtl-<pid>-<n>.dat, when
// the model is destroyed or, for a model still alive then, at process exit: a system run's
// models are not always dropped before exit (its kernel, driver and hardware handles hold each
// other), and a run that returned must still count. Every model has its own VerilatedContext
// and so its own counters; a name per process and model keeps parallel runs and the chiplets of
// one run from overwriting each other, and `make coverage` merges them all.
class CoverageFiles {
public:
    static CoverageFiles &get() {
        // Never destroyed: the exit handler uses it after static destructors may have run.
        static CoverageFiles *files = new CoverageFiles;
        return *files;
    }
    void add(VerilatedContext *ctx) {
        std::lock_guard<std::mutex> lock(mutex_);
        // Registered after the Verilator runtime's statics exist, so it runs before they go.
        if (!hooked_) hooked_ = std::atexit([] { get().write_all(); }) == 0;
        live_.insert(ctx);
    }
    void remove(VerilatedContext *ctx) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (live_.erase(ctx)) write(*ctx);
    }

private:
    void write_all() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (VerilatedContext *ctx : live_) write(*ctx);
        live_.clear();
    }
    void write(VerilatedContext &ctx) {
        const char *env = std::getenv("GRU_RTL_COVERAGE_DIR");
        const std::filesystem::path dir(env && *env ? env : "target/coverage/dat");
        std::filesystem::create_directories(dir);
        const std::string name = "rtl-" + std::to_string(getpid()) + "-" + std::to_string(seq_++) + ".dat";
        ctx.coveragep()->write((dir / name).c_str());
    }
    std::mutex mutex_;
    std::set<VerilatedContext *> live_;
    bool hooked_ = false;
    unsigned seq_ = 0;
};
#endif

// Wide Verilator ports are arrays of 32-bit words; the Rust side uses 64-bit words.
template <class W> void put_wide(W &dst, const std::array<uint64_t, 8> &src) {
    for (int k = 0; k < 8; ++k) {
        dst[2 * k] = static_cast<uint32_t>(src[k]);
        dst[2 * k + 1] = static_cast<uint32_t>(src[k] >> 32);
    }
}
template <class W, size_t N> void get_wide(std::array<uint64_t, N> &dst, const W &src) {
    for (size_t k = 0; k < N; ++k)
        dst[k] = static_cast<uint64_t>(src[2 * k]) | (static_cast<uint64_t>(src[2 * k + 1]) << 32);
}

// Copy n 32-bit words into a Rust vector, least significant first. Rtl keeps its buffer, so
// from the second copy on the vector has the size already and the words are written in place:
// every push_back is a call into Rust, and a whole snapshot is about a thousand words.
inline void put_words(rust::Vec<uint32_t> &v, const uint32_t *w, size_t n) {
    if (v.size() == n) {
        std::copy(w, w + n, v.data());
        return;
    }
    v.clear();
    v.reserve(n);
    for (size_t k = 0; k < n; ++k) v.push_back(w[k]);
}
// Copy one Verilated signal into a Rust vector of 32-bit words.
template <class T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
void put(rust::Vec<uint32_t> &v, T x) {
    const uint64_t q = x;
    const uint32_t w[2] = {static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32)};
    put_words(v, w, sizeof(T) > 4 ? 2 : 1);
}
template <size_t N> void put(rust::Vec<uint32_t> &v, const VlWide<N> &w) {
    uint32_t words[N];
    for (size_t k = 0; k < N; ++k) words[k] = w[k];
    put_words(v, words, N);
}

// X(RtlRegs field, instance, register) for every state register of docs/MICROARCH.md §3 that
// the snapshot reads; rtl.rs decodes them. The TLB is apart: it is read far more often.
#define GRU_TLB_REGS(X)                                                                     \
    X(tlb_valid, u_tlb, tlb_valid_q) X(tlb_ctx, u_tlb, tlb_ctx_q) X(tlb_asid, u_tlb, tlb_asid_q) \
    X(tlb_vpn, u_tlb, tlb_vpn_q) X(tlb_ps, u_tlb, tlb_ps_q) X(tlb_pfn, u_tlb, tlb_pfn_q)         \
    X(tlb_dirty, u_tlb, tlb_dirty_q)
#define GRU_OTHER_REGS(X)                                                                   \
    X(tgh_status, u_purge, tgh_status_q) X(tgh_opc, u_purge, tgh_opc_q)                      \
    X(tgh_delresp, u_purge, tgh_delresp_q) X(tgh_vaddr, u_purge, tgh_vaddr_q)                \
    X(tgh_asid, u_purge, tgh_asid_q) X(tgh_pagesize, u_purge, tgh_pagesize_q)                \
    X(tgh_global, u_purge, tgh_global_q) X(tgh_vaddrmask, u_purge, tgh_vaddrmask_q)          \
    X(tgh_n, u_purge, tgh_n_q) X(tgh_ctxbitmap, u_purge, tgh_ctxbitmap_q)                    \
    X(tgh_cause, u_purge, tgh_cause_q)                                                       \
    X(tfh_status, u_tfh, tfh_status_q) X(tfh_state, u_tfh, tfh_state_q)                      \
    X(tfh_cause, u_tfh, tfh_cause_q) X(tfh_stale, u_tfh, tfh_stale_q)                        \
    X(tfh_missvaddr, u_tfh, tfh_missvaddr_q) X(tfh_missasid, u_tfh, tfh_missasid_q)          \
    X(tfh_ctxnum, u_tfh, tfh_ctxnum_q) X(tfh_opc, u_tfh, tfh_opc_q)                          \
    X(tfh_delresp, u_tfh, tfh_delresp_q) X(tfh_fillasid, u_tfh, tfh_fillasid_q)              \
    X(tfh_dirty, u_tfh, tfh_dirty_q) X(tfh_gaa, u_tfh, tfh_gaa_q) X(tfh_pfn, u_tfh, tfh_pfn_q) \
    X(tfh_pagesize, u_tfh, tfh_pagesize_q) X(tfh_fillvaddr, u_tfh, tfh_fillvaddr_q)          \
    X(cch_status, u_cch, cch_status_q) X(cch_state, u_cch, cch_state_q)                      \
    X(cch_sync_wait, u_cch, cch_sync_wait_q) X(cch_opc, u_cch, cch_opc_q)                    \
    X(cch_delresp, u_cch, cch_delresp_q)                                                     \
    X(cch_tfm_fault_bit_enable, u_cch, cch_tfm_fault_bit_enable_q)                           \
    X(cch_tlb_int_enable, u_cch, cch_tlb_int_enable_q)                                       \
    X(cch_tlb_int_select, u_cch, cch_tlb_int_select_q)                                       \
    X(cch_unmap_enable, u_cch, cch_unmap_enable_q) X(cch_asid, u_cch, cch_asid_q)            \
    X(cch_sizeavail, u_cch, cch_sizeavail_q) X(tfm_fault, u_tfm, tfm_fault_q)                \
    X(tfm_done, u_tfm, tfm_done_q) X(busy, u_cb_engine, busy_q)                              \
    X(restart_pend, u_cb_engine, restart_pend_q) X(cmp_pend, u_cb_engine, cmp_pend_q)        \
    X(stat_hits, u_stats, stat_hits_q) X(stat_misses, u_stats, stat_misses_q)                \
    X(stat_tlbmod, u_stats, stat_tlbmod_q) X(stat_dropins, u_stats, stat_dropins_q)          \
    X(stat_stale, u_stats, stat_stale_q) X(stat_purges, u_stats, stat_purges_q)              \
    X(stat_purged, u_stats, stat_purged_q) X(stat_mmio_errors, u_stats, stat_mmio_errors_q)

// The few registers a chip monitor polls while a purge runs (a subset of the above).
#define GRU_ACTIVITY_REGS(X)                                                                \
    X(tgh_status, u_purge, tgh_status_q) X(tfh_state, u_tfh, tfh_state_q)                    \
    X(stat_misses, u_stats, stat_misses_q) X(stat_tlbmod, u_stats, stat_tlbmod_q)            \
    X(stat_stale, u_stats, stat_stale_q)

template <class Model, class Trace> class HarnessImpl final : public Harness {
public:
    HarnessImpl() : ctx_(new VerilatedContext) {
        // Must precede model construction so the model registers its trace callbacks.
        ctx_->traceEverOn(true);
        model_.reset(new Model(ctx_.get(), "TOP"));
#if VM_COVERAGE
        CoverageFiles::get().add(ctx_.get());
#endif
        model_->clk_i = 0;
        model_->rst_ni = 0;
        model_->eval();
        ++clock_evals_;
    }
    ~HarnessImpl() override {
        close_trace();
        model_->final();
#if VM_COVERAGE
        CoverageFiles::get().remove(ctx_.get());
#endif
    }

    void cycle(const PortsIn &in, PortsOut &out) override {
        drive(in);
        read(out);
    }

    void idle(uint64_t n) override {
        if (trace_ && !paused_) {
            for (uint64_t i = 0; i < n; ++i) clock();
        } else {
            // No register of the chip changes; the testbench's cycle counter does.
            model_->rootp->gru_chiplet__DOT__trace_cycle__DOT__cycle += n;
            cycles_ += n;
        }
    }

    uint64_t replay(rust::Slice<const PortsIn> inputs) override {
        uint64_t sum = 0;
        for (const PortsIn &in : inputs) {
            drive(in);
            const Model &m = *model_;
            sum += m.mmio_rsp_data_o[0] + m.cb_cmp_rdata_o + m.mem_req_paddr_o + m.irq_o;
        }
        return sum;
    }

private:
    // Drive one cycle's inputs, clock low then high, dumping both phases when tracing.
    void drive(const PortsIn &in) {
        Model &m = *model_;
        m.rst_ni = in.rst_n;
        m.mmio_req_valid_i = in.mmio_req_valid;
        m.mmio_req_write_i = in.mmio_req_write;
        m.mmio_req_addr_i = in.mmio_req_addr;
        m.mmio_req_dwen_i = in.mmio_req_dwen;
        put_wide(m.mmio_req_data_i, in.mmio_req_data);
        m.cb_req_valid_i = in.cb_req_valid;
        m.cb_req_cbr_i = in.cb_req_cbr;
        m.cb_req_vaddr_i = in.cb_req_vaddr;
        m.cb_req_write_i = in.cb_req_write;
        m.cb_req_wdata_i = in.cb_req_wdata;
        m.mem_req_ready_i = in.mem_req_ready;
        m.mem_rsp_valid_i = in.mem_rsp_valid;
        m.mem_rsp_tag_i = in.mem_rsp_tag;
        m.mem_rsp_rdata_i = in.mem_rsp_rdata;
        m.dbg_event_i = in.dbg_event;
        m.dbg_tlb_idx_i = in.dbg_tlb_idx;
        m.purge_seed_i = in.purge_seed;
        clock();
    }

    // One cycle of the inputs driven now.
    void clock() {
        Model &m = *model_;
        // Cycle n: inputs settle with the clock low at 2n, the edge is at 2n+1 (1 ns units).
        m.clk_i = 0;
        m.eval();
        const bool dumping = trace_ && !paused_;
        if (dumping) trace_->dump(2 * cycles_);
        m.clk_i = 1;
        m.eval();
        clock_evals_ += 2;
        if (dumping) trace_->dump(2 * cycles_ + 1);
        ++cycles_;
    }

    void read(PortsOut &out) const {
        const Model &m = *model_;
        out.mmio_req_ready = m.mmio_req_ready_o;
        out.mmio_rsp_valid = m.mmio_rsp_valid_o;
        out.mmio_rsp_err = m.mmio_rsp_err_o;
        get_wide(out.mmio_rsp_data, m.mmio_rsp_data_o);
        out.cb_req_ready = m.cb_req_ready_o;
        out.cb_cmp_valid = m.cb_cmp_valid_o;
        out.cb_cmp_cbr = m.cb_cmp_cbr_o;
        out.cb_cmp_status = m.cb_cmp_status_o;
        out.cb_cmp_cause = m.cb_cmp_cause_o;
        out.cb_cmp_rdata = m.cb_cmp_rdata_o;
        out.mem_req_valid = m.mem_req_valid_o;
        out.mem_req_paddr = m.mem_req_paddr_o;
        out.mem_req_write = m.mem_req_write_o;
        out.mem_req_wdata = m.mem_req_wdata_o;
        out.mem_req_tag = m.mem_req_tag_o;
        out.irq = m.irq_o;
        get_wide(out.dbg_tlb_entry, m.dbg_tlb_entry_o);
        out.quiet = m.quiet_o;
    }

public:
    void peek_tlb(uint8_t idx, PortsOut &out) override {
        // The clock stays high: this eval settles only the combinational debug read.
        model_->dbg_tlb_idx_i = idx;
        model_->eval();
        ++debug_evals_;
        get_wide(out.dbg_tlb_entry, model_->dbg_tlb_entry_o);
    }

    void state(uint8_t parts, RtlRegs &out) const override {
        const auto &r = *model_->rootp;
#define GRU_PUT(FIELD, INST, REG) put(out.FIELD, r.gru_chiplet__DOT__##INST##__DOT__##REG);
        if (parts & 1) { GRU_TLB_REGS(GRU_PUT) }
        if (parts & 2) { GRU_OTHER_REGS(GRU_PUT) }
        if (parts & 4) { GRU_ACTIVITY_REGS(GRU_PUT) }
#undef GRU_PUT
    }

    uint64_t clock_evals() const override { return clock_evals_; }
    uint64_t debug_evals() const override { return debug_evals_; }

    void open_trace(rust::Str path) override {
        close_trace();
        std::unique_ptr<Trace> t(new Trace);
        t->set_time_unit("1ns");
        t->set_time_resolution("1ns");
        model_->trace(t.get(), 99);
        std::string p(path);
        t->open(p.c_str());
        if (!t->isOpen()) throw std::runtime_error("cannot open waveform file " + p);
        trace_ = std::move(t);
        paused_ = false;
    }

    void pause_trace(bool paused) override { paused_ = paused; }

    void close_trace() override {
        if (trace_) {
            trace_->close();
            trace_.reset();
        }
    }

private:
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Trace> trace_;
    bool paused_ = false;
    uint64_t cycles_ = 0;
    uint64_t clock_evals_ = 0;
    uint64_t debug_evals_ = 0;
};

}  // namespace

std::unique_ptr<Harness> new_harness(bool vcd) {
    if (vcd) return std::unique_ptr<Harness>(new HarnessImpl<Vgru_vcd, VerilatedVcdC>());
    return std::unique_ptr<Harness>(new HarnessImpl<Vgru_fst, VerilatedFstC>());
}

Fleet::Fleet(size_t chiplets) {
    for (size_t c = 0; c < chiplets; ++c) chiplets_.push_back(new_harness(false));
}

uint64_t Fleet::replay_all(rust::Slice<const PortsIn> inputs) {
    const size_t n = chiplets_.size();
    uint64_t sum = 0;
    // One cycle of one model per call: the virtual call is noise next to its two evals.
    for (size_t i = 0; n > 0 && i + n <= inputs.size(); i += n)
        for (size_t c = 0; c < n; ++c)
            sum += chiplets_[c]->replay(rust::Slice<const PortsIn>(inputs.data() + i + c, 1));
    return sum;
}

std::unique_ptr<Fleet> new_fleet(size_t chiplets) { return std::unique_ptr<Fleet>(new Fleet(chiplets)); }

std::unique_ptr<Harness> new_mutant_harness(rust::Str define) {
    const std::string d(define);
#define GRU_MUTANT_CASE(DEFINE, MODEL) \
    if (d == DEFINE) return std::unique_ptr<Harness>(new HarnessImpl<MODEL, VerilatedFstC>());
    GRU_MUTANT_VARIANTS(GRU_MUTANT_CASE)
#undef GRU_MUTANT_CASE
    throw std::invalid_argument("no RTL model variant was built for " + d);
}

std::unique_ptr<Harness> new_timing_harness(rust::Str name) {
    const std::string n(name);
#define GRU_TIMING_CASE(NAME, MODEL) \
    if (n == NAME) return std::unique_ptr<Harness>(new HarnessImpl<MODEL, VerilatedFstC>());
    GRU_TIMING_VARIANTS(GRU_TIMING_CASE)
#undef GRU_TIMING_CASE
    throw std::invalid_argument("no RTL timing variant was built for " + n);
}
}  // namespace gru

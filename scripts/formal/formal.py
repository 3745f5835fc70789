#!/usr/bin/env python3
"""Formal checking of the gru_chiplet RTL (docs/FORMAL.md). Driven by scripts/formal.sh.

Flow, per design variant (the RTL as designed, each GRU_MUTANT_ define found in rtl/, each
FORMAL_MUTANT_ define):
  1. Yosys 0.23 reads rtl/*.v with -formal (so the `ifdef FORMAL blocks are in), sets the reduced
     configuration, flattens, and writes one AIGER file whose bad-state outputs are the
     assertions (p_<property>[__<helper>]) and, for the clean design, the covers (c_<name>, turned
     into assert(!cond) so that "fails at step k" reads "reached at step k").
  2. ABC (yosys-abc, shipped with Yosys) checks each property's outputs on their sequential cone:
     pdr (unbounded proof) where it closes within the time budget, else bmc3 to the stated depth.
  3. A counterexample is replayed on the real RTL in Icarus Verilog (no FORMAL define), dumped as
     a VCD under waves/, with a GTKWave save file whose named marker sits on the violating cycle.

Prints one line per property and cover; exit status 1 if the clean design fails a property or a
mutant fails none.
"""
import argparse
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOP = "gru_chiplet"
# Reduced configuration (docs/FORMAL.md says why each reduction keeps every logic shape).
PARAMS = [("NUM_CTX", 2), ("NUM_CBR", 4), ("NUM_TGH", 2), ("NUM_TFM", 2),
          ("TLB_ENTRIES", 4), ("PURGE_LANES", 2)]

# Which properties each mutant is expected to break (the quick form checks only these; the full
# form checks every property). A mutant that breaks none of its expected properties fails the run.
EXPECT = {
    "GRU_MUTANT_NO_RACE_GUARD": ["p_race_dropin"],
    "GRU_MUTANT_PURGE_SKIP_LAST_LANE": ["p_purge_range"],
    "GRU_MUTANT_NO_TLB_MOD": ["p_store_dirty"],
    "GRU_MUTANT_PURGE_N_IS_COUNT": ["p_purge_range"],
    "GRU_MUTANT_ASID_ALIAS": ["p_lookup_exact"],
    "GRU_MUTANT_TFM_NO_CLEAR": ["p_irq_exact"],
    "GRU_MUTANT_TGH_STUCK": ["p_tgh_start_refused"],
    "GRU_MUTANT_GUARD_START_ONLY": ["p_race_miss_stale"],
    "GRU_MUTANT_STALE_SAME_EDGE": ["p_race_miss_stale", "p_race_dropin"],
    "GRU_MUTANT_RESTART_CLEARS_STALE": ["p_race_dropin"],
    "GRU_MUTANT_TFM_SET_LOST": ["p_tfm_read_exact"],
    "GRU_MUTANT_INSTALL_NO_REPLACE": ["p_tlb_one_match"],
    "GRU_MUTANT_PURGE_DONE_EARLY": ["p_tgh_idle_done"],
    "GRU_MUTANT_TGH_EXCEPTION": ["p_purge_range"],
    "FORMAL_MUTANT_PURGE_IGNORES_PAGESIZE": ["p_purge_range"],
    "FORMAL_MUTANT_QUIET_IGNORES_PURGE": ["p_quiet_idle"],
}


def log(msg):
    print(msg, flush=True)


def rtl_files():
    return sorted(os.path.join("rtl", f) for f in os.listdir(os.path.join(ROOT, "rtl"))
                  if f.endswith(".v"))


def defines(prefix):
    pat = re.compile(r"^\s*`(ifdef|ifndef|elsif)\s+(" + prefix + r"[A-Z0-9_]+)")
    found = set()
    for f in os.listdir(os.path.join(ROOT, "rtl")):
        if f.endswith(".v") or f.endswith(".vh"):
            for line in open(os.path.join(ROOT, "rtl", f)):
                m = pat.match(line)
                if m:
                    found.add(m.group(2))
    return sorted(found)


def yosys_script(define, covers, aig, aim, listing):
    d = f"-D{define} " if define else ""
    chparam = " ".join(f"-chparam {k} {v}" for k, v in PARAMS)
    cov = ("techmap -map scripts/formal/cover2assert.v t:$cover" if covers
           else "chformal -remove -cover")
    return f"""read_verilog -defer -formal {d}-Irtl {' '.join(rtl_files())}
hierarchy -top {TOP} {chparam}
proc
flatten
memory_map
opt_clean
async2sync
chformal -assume -early
dffunmap
delete -output
{cov}
techmap -map scripts/formal/assert2out.v t:$assert
opt_clean
expose w:*.bad
techmap
opt -fast -nosdff -nodffe
dffunmap
setundef -undriven -anyseq
setundef -anyseq
aigmap
opt_clean
write_aiger -zinit -map {aim} {aig}
"""


def build(variant, define, covers, outdir):
    """One AIGER file per variant, cached by the hash of the RTL and the script."""
    os.makedirs(outdir, exist_ok=True)
    aig, aim, listing = (os.path.join(outdir, n) for n in ("d.aig", "d.aim", "unused"))
    script = yosys_script(define, covers, aig, aim, listing)
    h = hashlib.sha256(script.encode())
    for f in rtl_files() + ["rtl/gru_defs.vh", "scripts/formal/cover2assert.v",
                            "scripts/formal/assert2out.v"]:
        h.update(open(os.path.join(ROOT, f), "rb").read())
    key = h.hexdigest()
    stamp = os.path.join(outdir, "key")
    if os.path.exists(stamp) and open(stamp).read() == key and os.path.exists(aig):
        return aig, aim, listing, 0.0
    t0 = time.time()
    ys = os.path.join(outdir, "build.ys")
    open(ys, "w").write(script)
    r = subprocess.run(["yosys", "-q", "-l", os.path.join(outdir, "yosys.log"), "-s", ys],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stderr.write(open(os.path.join(outdir, "yosys.log")).read()[-3000:])
        raise SystemExit(f"formal: yosys failed for {variant}")
    open(stamp, "w").write(key)
    return aig, aim, listing, time.time() - t0


def outputs(aim):
    """Assertion names in AIGER output order, from write_aiger's map ("output k 0 <cell>.bad")."""
    names = {}
    for line in open(aim):
        p = line.split()
        if p and p[0] == "output":
            names[int(p[1])] = p[3].rsplit(".", 1)[0].split(".")[-1]
    return [names[k] for k in sorted(names)]


def groups(names):
    """Property name -> list of output indices (p_x and its helpers p_x__*)."""
    g = {}
    for i, n in enumerate(names):
        g.setdefault(n.split("__")[0], []).append(i)
    return g


def abc(aig, cmds, timeout):
    """Run ABC; on timeout kill it and return what it printed so far (line-buffered)."""
    p = subprocess.Popen(["stdbuf", "-oL", "yosys-abc", "-c",
                          f"read_aiger {aig}; fold; strash; " + cmds],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return out, False
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return out, True


def cone(i):
    """Sequential cone of output i alone (dangling logic removed). One output at a time: a
    property's outputs (p_x and its helpers p_x__k) need not be adjacent in write_aiger's order."""
    return f"cone -s -O {i} -R 1; scleanup; strash; dc2; "


FRAME_RE = re.compile(r"asserted in frame (\d+)")
DONE_RE = re.compile(r"No output asserted in (\d+) frames")
STEP_RE = re.compile(r"^\s*(\d+) \+ :", re.M)


def bmc1(aig, i, depth, cexfile, budget):
    """(failed frame or None, depth checked) for output i."""
    cmd = cone(i) + f"bmc3 -v -F {depth + 1}; "
    if cexfile:
        cmd += f"write_cex -n {cexfile}; "
    out, timed_out = abc(aig, cmd, budget)
    m = FRAME_RE.search(out)
    if m and not timed_out:
        return int(m.group(1)), None
    m = DONE_RE.search(out)
    if m:
        return None, int(m.group(1)) - 1
    # Timed out: frames 0..k were finished (the "k +" lines), so depth k is clean.
    steps = [int(x) for x in STEP_RE.findall(out)]
    return None, (max(steps) if steps else -1)


def bmc(aig, idx, depth, cexfile, budget):
    """A property (its outputs idx): the earliest failure of any output (its witness in
    cexfile), else the smallest depth all outputs were checked to."""
    best, reached = None, depth
    for i in idx:
        tmp = cexfile + f".{i}" if cexfile else None
        f, n = bmc1(aig, i, depth, tmp, max(budget // len(idx), 10))
        if f is not None and (best is None or f < best):
            best = f
            if cexfile:
                shutil.copyfile(tmp, cexfile)
        if f is None:
            reached = min(reached, n)
    return (best, None) if best is not None else (None, reached)


def pdr(aig, idx, budget):
    """True if every output of the property is proved, False if one fails, None otherwise."""
    res = True
    for i in idx:
        out, timed_out = abc(aig, cone(i) + f"pdr -T {max(budget // len(idx), 5)}; ",
                             budget + 30)
        if timed_out:
            return None
        if "was asserted" in out:
            return False
        if "Property proved" not in out:
            res = None
    return res


# ------------------------------------------------------------------ counterexample replay
def read_aim(aim):
    """AIGER input index -> (port name, bit)."""
    m = {}
    for line in open(aim):
        p = line.split()
        if p and p[0] == "input":
            m[int(p[1])] = (p[3], int(p[2]))
    return m


def read_cex(path):
    """{(aiger input index, frame): bit} from ABC's `write_cex -n` ("pi<k>@<frame>=<v>")."""
    vals = {}
    for m in re.finditer(r"^pi(\d+)@(\d+)=([01])", open(path).read(), re.M):
        vals[(int(m.group(1)), int(m.group(2)))] = m.group(3) == "1"
    return vals


PORT_W = {}


def port_widths():
    """Top-level input port widths of gru_chiplet at the reduced configuration."""
    if PORT_W:
        return PORT_W
    src = open(os.path.join(ROOT, "rtl", "gru_chiplet.v")).read()
    src = src[:src.index("`ifdef FORMAL")]       # the port declarations, not the ghost functions
    for m in re.finditer(r"^\s*input\s+(?:\[([^\]:]+):0\]\s+)?(\w+);", src, re.M):
        rng, name = m.group(1), m.group(2)
        if rng is None:
            PORT_W[name] = 1
        else:
            env = dict(PARAMS)
            PORT_W[name] = int(eval(rng, {}, env)) + 1
    return PORT_W


def replay(variant, define, prop, frame, aim, cexfile, wavedir, workdir):
    """Drive the counterexample's inputs into the real RTL under Icarus; VCD + GTKWave save."""
    amap = read_aim(aim)
    cex = read_cex(cexfile)
    widths = port_widths()
    ncyc = frame + 2
    vals = []     # per cycle: {port: int}
    for k in range(ncyc):
        v = {p: 0 for p in widths}
        for i, (name, bit) in amap.items():
            if name in v and cex.get((i, k), False):
                v[name] |= 1 << bit
        if k > 0 and not any(f == k for (_, f) in cex):
            v["rst_ni"] = 1     # past the witness: idle inputs, out of reset
        vals.append(v)
    base = f"formal-{variant.lower()}-{prop}"
    vcd = os.path.join(wavedir, base + ".vcd")
    gtkw = os.path.join(wavedir, base + ".gtkw")
    params = ", ".join(f".{k}({v})" for k, v in PARAMS)
    decl = "\n".join(f"    reg [{w-1}:0] {p};" for p, w in widths.items() if p != "clk_i")
    ports = ", ".join(f".{p}({p})" for p in widths)
    outs = ("mmio_req_ready_o mmio_rsp_valid_o mmio_rsp_err_o mmio_rsp_data_o cb_req_ready_o "
            "cb_cmp_valid_o cb_cmp_cbr_o cb_cmp_status_o cb_cmp_cause_o cb_cmp_rdata_o "
            "mem_req_valid_o mem_req_paddr_o mem_req_write_o mem_req_wdata_o mem_req_tag_o "
            "irq_o dbg_tlb_entry_o").split()
    wires = "\n".join(f"    wire [511:0] {o};" for o in outs)
    oports = ", ".join(f".{o}({o})" for o in outs)
    stim = []
    for k, v in enumerate(vals):
        assigns = " ".join(f"{p} = {widths[p]}'h{v[p]:x};" for p in widths if p != "clk_i")
        stim.append(f"        #0 {assigns} #10;")
    tb = f"""`timescale 1ns/1ns
// Generated by scripts/formal/formal.py: replays the formal counterexample of {prop}
// ({variant}) on the RTL; cycle k's rising edge is at {10}k+5 ns.
module tb;
    reg clk_i = 1'b0;
{decl}
{wires}
    always #5 clk_i = !clk_i;
    {TOP} #({params}) dut ({ports}, {oports});
    initial begin
        $dumpfile("{vcd}");
        $dumpvars(0, tb);
{chr(10).join(stim)}
        $finish;
    end
endmodule
"""
    os.makedirs(workdir, exist_ok=True)
    tbv = os.path.join(workdir, "tb_" + prop + ".v")
    open(tbv, "w").write(tb)
    vvp = os.path.join(workdir, "tb_" + prop + ".vvp")
    d = [f"-D{define}"] if define else []
    r = subprocess.run(["iverilog", "-g2005", "-Irtl", *d, "-s", "tb", "-o", vvp, tbv,
                        *rtl_files()], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return None, "iverilog: " + r.stdout[-500:]
    r = subprocess.run(["vvp", "-n", vvp], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    write_gtkw(vcd, gtkw, prop, variant, frame)
    return vcd, gtkw


def vcd_vars(vcd):
    """Full GTKWave names (scope.name[msb:lsb]) of the signals in the dump."""
    names = {}
    scope = []
    for line in open(vcd):
        if line.startswith("$enddefinitions"):
            break
        p = line.split()
        if not p:
            continue
        if p[0] == "$scope":
            scope.append(p[2])
        elif p[0] == "$upscope":
            scope.pop()
        elif p[0] == "$var":
            w = int(p[2])
            ref = p[4]
            rng = p[5] if len(p) > 6 and p[5].startswith("[") else ""
            names[".".join(scope + [ref])] = ".".join(scope + [ref]) + (rng if w > 1 else "")
    return names


SHOW = [
    ("ports", ["tb.dut.clk_i", "tb.dut.rst_ni", "tb.dut.mmio_req_valid_i", "tb.dut.mmio_req_write_i",
               "tb.dut.mmio_req_addr_i", "tb.dut.mmio_req_dwen_i", "tb.dut.mmio_rsp_valid_o",
               "tb.dut.mmio_rsp_err_o", "tb.dut.cb_req_valid_i", "tb.dut.cb_req_cbr_i",
               "tb.dut.cb_req_vaddr_i", "tb.dut.cb_req_write_i", "tb.dut.cb_cmp_valid_o",
               "tb.dut.cb_cmp_status_o", "tb.dut.mem_req_valid_o", "tb.dut.mem_req_write_o",
               "tb.dut.irq_o"]),
    ("TGH / purge", ["tb.dut.u_purge.tgh_status_q", "tb.dut.u_purge.purge_cnt_q",
                     "tb.dut.u_purge.purge_idx_q", "tb.dut.purge_clr", "tb.dut.purge_done",
                     "tb.dut.tgh_active_ctx"]),
    ("TFH / race guard", ["tb.dut.u_tfh.tfh_state_q", "tb.dut.u_tfh.tfh_stale_q", "tb.dut.miss",
                          "tb.dut.miss_cbr", "tb.dut.miss_stale", "tb.dut.ins_valid"]),
    ("TLB", ["tb.dut.u_tlb.tlb_valid_q", "tb.dut.u_tlb.tlb_ps_q", "tb.dut.u_tlb.tlb_vpn_q",
             "tb.dut.u_tlb.tlb_dirty_q", "tb.dut.lk_en", "tb.dut.lk_hit", "tb.dut.lk_dirty"]),
    ("fault maps / CCH", ["tb.dut.u_tfm.tfm_fault_q", "tb.dut.u_cch.cch_state_q",
                          "tb.dut.u_cch.cch_status_q", "tb.dut.u_cb_engine.eng_state_q"]),
]


def write_gtkw(vcd, gtkw, prop, variant, frame):
    names = vcd_vars(vcd)
    # Yosys checks an assertion of a clocked always block on the values sampled at the edge,
    # one step later: a failure reported at step k is the state of cycle k-1.
    frame = max(frame - 1, 0)
    t_fail = 10 * frame + 5          # the rising edge that ends the violating cycle
    t_end = 10 * (frame + 2)
    # GTKWave: zoom z shows 2^-z time units per 200-pixel frame (not per pixel). Fit the whole
    # trace into about 1000 pixels, i.e. 5 frames.
    zoom = -math.log2(max(t_end, 1) / 5.0)
    markers = [t_fail] + [-1] * 25
    out = [
        f"[*] gru-cosim formal counterexample: {prop} fails under {variant}",
        f"[*] violating cycle {frame}: named marker A at its rising edge, {t_fail} ns "
        f"(cycle k's edge is at 10k+5 ns)",
        f'[dumpfile] "{os.path.abspath(vcd)}"',
        f'[savefile] "{os.path.abspath(gtkw)}"',
        "[timestart] 0",
        "[size] 1600 1000",
        f"*{zoom:.6f} {t_fail} " + " ".join(str(m) for m in markers),
        f"[markername] AFAIL {prop} cycle {frame}",
        "[sst_expanded] 1",
        "[treeopen] tb.",
        "[treeopen] tb.dut.",
    ]
    for title, sigs in SHOW:
        out.append("@200")
        out.append("-" + title)
        for s in sigs:
            if s in names:
                full = names[s]
                out.append("@28" if "[" not in full else "@22")
                out.append(full)
    open(gtkw, "w").write("\n".join(out) + "\n")


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, help="variants (clean, or a define)")
    ap.add_argument("--props", nargs="*", default=None, help="only these properties/covers")
    ap.add_argument("--all-props", action="store_true",
                    help="check every mutant against every property (default: its expected ones)")
    a = ap.parse_args()

    quick = a.quick
    depth = 8 if quick else 12           # BMC depth (cycles after the first)
    pdr_budget = 0 if quick else 60      # seconds per property; 0 = no proof attempt
    bmc_budget = 60 if quick else 300    # seconds per mutant x property for bmc3
    clean_budget = 20 if quick else 120  # seconds per property of the clean design
    cover_budget = 60                    # seconds per cover (full form only)
    work = os.path.join(ROOT, "target", "formal")
    wavedir = os.path.join(ROOT, "waves")
    os.makedirs(wavedir, exist_ok=True)
    t_start = time.time()

    variants = [("clean", None)] + [(d, d) for d in defines("GRU_MUTANT_")] + \
               [(d, d) for d in defines("FORMAL_MUTANT_")]
    if a.only is not None:
        variants = [v for v in variants if v[0] in a.only]
    for v, d in variants:
        if d and d not in EXPECT:
            raise SystemExit(f"formal: no expected property for mutant {d}: add it to EXPECT")
    log(f"formal: {TOP} with " + " ".join(f"{k}={v}" for k, v in PARAMS) +
        f"; {'quick' if quick else 'full'}: bmc depth {depth}" +
        (f", pdr {pdr_budget} s per property" if pdr_budget else ", no induction"))

    # 1. Build every variant's AIGER (2 Yosys jobs at a time).
    def do_build(v):
        name, d = v
        return name, build(name, d, d is None, os.path.join(work, name.lower()))
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        built = dict(ex.map(do_build, variants))
    ybuild = sum(b[3] for b in built.values())
    log(f"formal: yosys built {len(built)} netlists ({ybuild:.0f} s of Yosys, cached ones 0)")

    failed = False
    tasks = []   # (variant, define, prop, idx, mode)
    for name, d in variants:
        aig, aim, listing, _ = built[name]
        g = groups(outputs(aim))
        props = {k: v for k, v in g.items() if k.startswith("p_")}
        if d is None:
            for p, idx in sorted(props.items()):
                tasks.append((name, d, p, idx, "prop"))
            for c, idx in sorted(g.items()):
                if c.startswith("c_") and not quick:
                    tasks.append((name, d, c, idx, "cover"))
        else:
            want = sorted(props) if a.all_props else EXPECT[d]
            for p in want:
                tasks.append((name, d, p, props[p], "mutant"))

    def run(t):
        name, d, p, idx, mode = t
        aig, aim, listing, _ = built[name]
        wd = os.path.join(work, name.lower())
        t0 = time.time()
        if mode == "cover":
            f, n = bmc(aig, idx, depth + 6, None, cover_budget)
            return t, ("reached at step %d" % f) if f is not None else \
                f"NOT reached in {n} steps", time.time() - t0, None
        if mode == "prop" and pdr_budget:
            r = pdr(aig, idx, pdr_budget)
            if r is True:
                return t, "proved", time.time() - t0, None
        cex = os.path.join(wd, p + ".cex")
        f, reached = bmc(aig, idx, depth, cex, clean_budget if mode == "prop" else bmc_budget)
        if f is None:
            return t, f"bmc ok to depth {reached}", time.time() - t0, None
        vcd, gtkw = replay(name, d, p, f, aim, cex, wavedir, wd)
        return t, f"FAILED (violating cycle {max(f - 1, 0)})", time.time() - t0, (vcd, gtkw)

    if a.props is not None:
        tasks = [t for t in tasks if t[2] in a.props]
    results = {}
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for t, verdict, secs, files in ex.map(run, tasks):
            name, d, p, idx, mode = t
            results[(name, p)] = verdict
            where = f"  ({os.path.relpath(files[0], ROOT)}, {os.path.relpath(files[1], ROOT)})" \
                if files and files[0] else ""
            kind = "cover" if mode == "cover" else "property"
            log(f"{name:40s} {kind:8s} {p:28s} {verdict}{where}  [{secs:.0f} s]")
            if mode == "prop" and verdict.startswith("FAILED"):
                failed = True
            if mode == "cover" and not verdict.startswith("reached"):
                failed = True

    # Every mutant must fail at least one property.
    for name, d in variants:
        if d is None:
            continue
        hits = [p for (n, p), v in results.items() if n == name and v.startswith("FAILED")]
        if hits:
            log(f"mutant {name}: caught by {', '.join(sorted(hits))}")
        else:
            log(f"mutant {name}: NOT caught")
            failed = True
    log(f"formal: {'FAILED' if failed else 'ok'} in {time.time() - t_start:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

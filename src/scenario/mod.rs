//! Scripted scenarios: a TOML file names processes (each with one region mapped at start),
//! threads (optionally owning a GRU context on a chiplet) and each thread's steps. Threads run
//! concurrently; `signal`/`wait` order them, `sleep` spaces them. golden/scenarios/README.md
//! documents the format.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Deserialize;

use gru_driver::gru::hw::CbRequest;
use gru_driver::gru::{Gru, GruConfig, GruHardware, Gts, ASID_INC, CBR_PER_CTX, MAX_ASID, MIN_ASID};
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{
    exit_mm, fork, ksm_merge, madvise, migrate, mprotect, mremap, munmap, reclaim_age, swap_out, thp_collapse, thp_split, Advice,
};
use gru_driver::mm::{cpu_load, cpu_store, Mm, Prot, HPAGE_SIZE, PAGE_SIZE};
use gru_driver::notifier::Era;

use crate::check::Checker;
use crate::system::{System, SystemConfig, SystemModel};
use crate::trace::SysEvent;

/// Where scenario names are looked up.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/scenarios")
}

/// The scenario names under [`scenario_dir`].
pub fn scenario_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(scenario_dir())
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".toml").map(str::to_owned)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Errors of loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// The TOML is malformed or a field is wrong; the message names the line and the field.
    #[error("{path}: {err}")]
    Parse {
        /// The file.
        path: String,
        /// toml's error, with line, column and field.
        err: Box<toml::de::Error>,
    },
    /// The scenario refers to something it does not define.
    #[error("{path}: {msg}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows; the golden trace must show it.
    pub description: String,
    /// Notifier era: "modern" (default) or "classic".
    #[serde(default)]
    pub era: EraName,
    /// Chiplets (default 1).
    #[serde(default = "one")]
    pub chiplets: usize,
    /// CPUs (default 4).
    #[serde(default = "four")]
    pub cpus: usize,
    /// Upper bound of ASID bases (small values make the allocator wrap).
    pub max_asid: Option<u32>,
    /// Where the ASID allocators start (the first base handed out is this + 8): high values give
    /// ASIDs with high bits set. A multiple of 8 below `max_asid`.
    pub first_asid: Option<u32>,
    /// The processes; threads name them.
    #[serde(rename = "process")]
    pub processes: Vec<Process>,
    /// The threads.
    #[serde(rename = "thread")]
    pub threads: Vec<Thread>,
}

fn one() -> usize {
    1
}

fn four() -> usize {
    4
}

/// Notifier era of a scenario.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EraName {
    /// 2.6.27–4.12.
    Classic,
    /// 5.4+.
    #[default]
    Modern,
}

/// A process: an address space with one read-write region mapped when it starts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Its name.
    pub name: String,
    /// Pages of its region (4K).
    #[serde(default = "one_u64")]
    pub pages: u64,
    /// The region is one 2M page (a collapsed THP) instead; `pages` is ignored.
    #[serde(default)]
    pub huge: bool,
}

fn one_u64() -> u64 {
    1
}

/// A thread of a process.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thread {
    /// Its name (in the trace).
    pub name: String,
    /// The process it belongs to; a process created by `fork` is waited for.
    pub process: String,
    /// The chiplet of its GRU context (allocated by its first GRU step); none: a CPU-only thread.
    pub chiplet: Option<usize>,
    /// What it does, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// One step of a thread. `page` and `word` address the process's region.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// CB load of word `word` of page `page` through CB `cb`.
    GruLoad { page: u64, #[serde(default)] word: u64, #[serde(default)] cb: u8 },
    /// CB store.
    GruStore { page: u64, #[serde(default)] word: u64, value: u64, #[serde(default)] cb: u8 },
    /// CPU load.
    CpuLoad { page: u64, #[serde(default)] word: u64 },
    /// CPU store.
    CpuStore { page: u64, #[serde(default)] word: u64, value: u64 },
    /// munmap of `pages` pages from `page`.
    Munmap { page: u64, #[serde(default = "one_u64")] pages: u64 },
    /// mprotect to "none", "read" or "readwrite".
    Mprotect { page: u64, #[serde(default = "one_u64")] pages: u64, prot: ProtName },
    /// fork; the child process gets the name `child`.
    Fork { child: String },
    /// madvise with advice "dontneed" or "free".
    Madvise { page: u64, #[serde(default = "one_u64")] pages: u64, advice: AdviceName },
    /// Reclaim aging of the page (clear_flush_young per mapping).
    ReclaimAge { page: u64 },
    /// Swap the page out.
    SwapOut { page: u64 },
    /// Migrate the page to a new frame.
    Migrate { page: u64 },
    /// KSM-merge page `page` with page `with` of the same process.
    KsmMerge { page: u64, with: u64 },
    /// Split the region's 2M page.
    ThpSplit,
    /// Collapse the region's 2M range into a huge page.
    ThpCollapse,
    /// mremap `pages` pages from `page` to page `to` of the region.
    Mremap { page: u64, #[serde(default = "one_u64")] pages: u64, to: u64 },
    /// exit of the thread's process.
    Exit,
    /// Issue a CB load and wait for its completion without answering a CALL_OS (the miss stays
    /// pending on its TFH until `call_os`).
    GruIssue { page: u64, #[serde(default)] word: u64, #[serde(default)] cb: u8 },
    /// Answer the CALL_OS of CB `cb` through the driver and wait for the CB to complete.
    CallOs { #[serde(default)] cb: u8 },
    /// Unload the thread's GRU context.
    Unload,
    /// Load it again.
    Load,
    /// Sleep.
    Sleep { cycles: u64 },
    /// Set a named flag.
    Signal { name: String },
    /// Wait until a named flag is set.
    Wait { name: String },
}

/// Advice of a madvise step.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdviceName {
    /// MADV_DONTNEED.
    Dontneed,
    /// MADV_FREE.
    Free,
}

/// Protection of an mprotect step.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtName {
    /// PROT_NONE.
    None,
    /// PROT_READ.
    Read,
    /// PROT_READ|PROT_WRITE.
    Readwrite,
}

impl Scenario {
    /// Load and validate a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ScenarioError::Io { path: p.clone(), err })?;
        Self::parse(&p, &text)
    }

    /// Longest `sleep` step: half the watchdog's [`HANG_CYCLES`](crate::system::HANG_CYCLES).
    pub const MAX_SLEEP: u64 = crate::system::HANG_CYCLES / 2;

    /// Parse and validate scenario text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|err| ScenarioError::Parse { path: path.into(), err: Box::new(err) })?;
        let invalid = |msg: String| ScenarioError::Invalid { path: path.into(), msg };
        let mut known: BTreeSet<&str> = s.processes.iter().map(|p| p.name.as_str()).collect();
        for t in &s.threads {
            for st in &t.steps {
                if let Step::Fork { child } = st {
                    known.insert(child);
                }
            }
        }
        if let Some(first) = s.first_asid {
            let max = s.max_asid.unwrap_or(MAX_ASID);
            if first % ASID_INC != 0 || first < MIN_ASID || first >= max {
                return Err(invalid(format!(
                    "first_asid {first:#x}: must be a multiple of {ASID_INC} in [{MIN_ASID:#x}, max_asid {max:#x})"
                )));
            }
        }
        // The region is mapped from MMAP_BASE up; a larger one cannot be mapped at all.
        let max_pages = (gru_driver::mm::TASK_SIZE - gru_driver::mm::MMAP_BASE) / PAGE_SIZE;
        if let Some(p) = s.processes.iter().find(|p| !p.huge && (p.pages == 0 || p.pages > max_pages)) {
            return Err(invalid(format!("process {:?}: pages = {}: must be 1..={max_pages} (the user address space above the mmap base)", p.name, p.pages)));
        }
        for t in &s.threads {
            if !known.contains(t.process.as_str()) {
                return Err(invalid(format!("thread {:?}: no process {:?}", t.name, t.process)));
            }
            if let Some(c) = t.chiplet.filter(|&c| c >= s.chiplets) {
                return Err(invalid(format!("thread {:?}: chiplet {c} but the scenario has {}", t.name, s.chiplets)));
            }
            // A longer sleep would look like a hang to the run's watchdog.
            let too_long = t.steps.iter().find_map(|st| match st {
                Step::Sleep { cycles } if *cycles > Self::MAX_SLEEP => Some(*cycles),
                _ => None,
            });
            if let Some(cycles) = too_long {
                return Err(invalid(format!("thread {:?}: sleep of {cycles} cycles; at most {}", t.name, Self::MAX_SLEEP)));
            }
        }
        Ok(s)
    }

    /// The system configuration the scenario asks for.
    pub fn system_config(&self, seed: u64, replay: String) -> SystemConfig {
        let era = match self.era {
            EraName::Classic => Era::Classic,
            EraName::Modern => Era::Modern,
        };
        let mut gru = GruConfig::default();
        if let Some(m) = self.max_asid {
            gru.max_asid = m;
        }
        if let Some(f) = self.first_asid {
            gru.first_asid = f;
        }
        SystemConfig { chiplets: self.chiplets, cpus: self.cpus, era, seed, gru, replay, ..SystemConfig::default() }
    }

    /// Spawn the scenario's processes and threads on `sys`.
    pub fn spawn<M: SystemModel>(&self, sys: &System<M>) {
        let world = Rc::new(World { hw: Rc::new(sys.hw.clone()), procs: RefCell::default(), failed: RefCell::default(), flags: RefCell::default() });
        for p in &self.processes {
            let mm = sys.create_mm();
            let (p, world, checker) = (p.clone(), world.clone(), sys.checker.clone());
            sys.spawn(&format!("setup {}", p.name), move |ctx| async move {
                match setup(&ctx, &mm, &p).await {
                    Ok(base) => {
                        world.procs.borrow_mut().insert(p.name.clone(), (mm, base));
                    }
                    Err(e) => {
                        checker.log(SysEvent::User { cycle: ctx.now(), thread: p.name.clone(), what: format!("setup failed: {e}") });
                        world.failed.borrow_mut().insert(p.name.clone());
                    }
                }
            });
        }
        for t in &self.threads {
            let (t, world, gru, checker) = (t.clone(), world.clone(), sys.gru.clone(), sys.checker.clone());
            sys.spawn(&t.name.clone(), move |ctx| async move {
                let (mm, base) = loop {
                    if let Some(p) = world.procs.borrow().get(&t.process).cloned() {
                        break p;
                    }
                    if world.failed.borrow().contains(&t.process) {
                        let what = format!("not started: process {:?} failed to set up", t.process);
                        checker.log(SysEvent::User { cycle: ctx.now(), thread: t.name.clone(), what });
                        return;
                    }
                    ctx.sleep(50).await;
                };
                let mut th = Runner { ctx: &ctx, gru, checker, world, name: t.name.clone(), mm, base, chiplet: t.chiplet, gts: None };
                for st in &t.steps {
                    th.step(st).await;
                }
                if let Some(g) = th.gts.take() {
                    if let Err(e) = th.gru.free_context(&ctx, g).await {
                        th.say(format!("free_context: {e}"));
                    }
                }
            });
        }
    }
}

struct World {
    /// The chiplets' CB port, for steps that drive it by hand.
    hw: Rc<dyn GruHardware>,
    procs: RefCell<BTreeMap<String, (Mm, u64)>>,
    /// Processes whose setup failed: their threads stop instead of waiting.
    failed: RefCell<BTreeSet<String>>,
    flags: RefCell<BTreeSet<String>>,
}

async fn setup(ctx: &ProcCtx, mm: &Mm, p: &Process) -> Result<u64, gru_driver::mm::MmError> {
    let len = if p.huge { HPAGE_SIZE } else { p.pages * PAGE_SIZE };
    let base = gru_driver::mm::ops::mmap(ctx, mm, None, len, Prot::ReadWrite).await?;
    if p.huge {
        cpu_store(ctx, mm, base, 1).await?;
        thp_collapse(ctx, mm, base).await?;
    }
    Ok(base)
}

struct Runner<'a> {
    ctx: &'a ProcCtx,
    gru: Gru,
    checker: Rc<Checker>,
    world: Rc<World>,
    name: String,
    mm: Mm,
    base: u64,
    chiplet: Option<usize>,
    gts: Option<Rc<Gts>>,
}

impl Runner<'_> {
    fn say(&self, what: String) {
        self.checker.log(SysEvent::User { cycle: self.ctx.now(), thread: self.name.clone(), what });
    }

    /// The thread's context, allocated (and loaded) by its first GRU step, so that scenarios
    /// order context loads with `wait`.
    async fn context(&mut self) -> Result<Rc<Gts>, String> {
        if let Some(g) = &self.gts {
            return Ok(g.clone());
        }
        let c = self.chiplet.ok_or("no GRU context (give the thread a chiplet)")?;
        let g = self.gru.alloc_context(self.ctx, &self.mm, c).await.map_err(|e| format!("alloc_context: {e}"))?;
        self.gts = Some(g.clone());
        Ok(g)
    }

    /// Put a CB load on the CB port and wait for its completion, leaving CALL_OS unanswered.
    async fn issue(&self, g: &Gts, cb: u8, vaddr: u64) -> Result<String, String> {
        let cbr = cbr(g, cb)?;
        self.world.hw.cb_issue(g.chiplet(), CbRequest { cbr, vaddr, write: false, wdata: 0 }).map_err(|e| e.to_string())?;
        self.completion(g, cb).await
    }

    /// Wait for the next completion of CB `cb` and describe it.
    async fn completion(&self, g: &Gts, cb: u8) -> Result<String, String> {
        let cbr = cbr(g, cb)?;
        loop {
            if let Some(c) = self.world.hw.cb_take(g.chiplet(), cbr) {
                return Ok(format!("cb{cb} completed: status {} cause {} rdata {:#x}", c.status, c.cause, c.rdata));
            }
            self.ctx.sleep(20).await;
        }
    }

    fn va(&self, page: u64, word: u64) -> u64 {
        self.base + page * PAGE_SIZE + word * 8
    }

    async fn step(&mut self, st: &Step) {
        let ctx = self.ctx;
        let mm = self.mm.clone();
        let outcome: Result<String, String> = match st {
            Step::GruLoad { page, word, cb } | Step::GruStore { page, word, cb, .. } => {
                let va = self.va(*page, *word);
                let (write, value) = match st {
                    Step::GruStore { value, .. } => (true, *value),
                    _ => (false, 0),
                };
                let gts = match self.context().await {
                    Ok(g) => g,
                    Err(e) => return self.say(format!("error: {e}")),
                };
                let before = self.checker.expected(mm.id(), va);
                match self.gru.cb_access(ctx, &gts, *cb, va, write, value).await {
                    Ok(v) if !write => {
                        self.checker.chip_load(ctx.now(), mm.id(), va, v, before);
                        Ok(format!("gru_load {va:#x} = {v:#x}"))
                    }
                    Ok(_) => Ok(format!("gru_store {va:#x} := {value:#x}")),
                    Err(e) => Err(format!("gru access {va:#x}: {e}")),
                }
            }
            Step::CpuLoad { page, word } => {
                let va = self.va(*page, *word);
                cpu_load(ctx, &mm, va).await.map(|v| format!("cpu_load {va:#x} = {v:#x}")).map_err(|e| e.to_string())
            }
            Step::CpuStore { page, word, value } => {
                let va = self.va(*page, *word);
                cpu_store(ctx, &mm, va, *value).await.map(|()| format!("cpu_store {va:#x} := {value:#x}")).map_err(|e| e.to_string())
            }
            Step::Munmap { page, pages } => done("munmap", munmap(ctx, &mm, self.va(*page, 0), pages * PAGE_SIZE).await),
            Step::Mprotect { page, pages, prot } => {
                let prot = match prot {
                    ProtName::None => Prot::None,
                    ProtName::Read => Prot::Read,
                    ProtName::Readwrite => Prot::ReadWrite,
                };
                done("mprotect", mprotect(ctx, &mm, self.va(*page, 0), pages * PAGE_SIZE, prot).await)
            }
            Step::Fork { child } => match fork(ctx, &mm).await {
                Ok(c) => {
                    self.checker.watch(&c);
                    self.world.procs.borrow_mut().insert(child.clone(), (c, self.base));
                    Ok(format!("fork -> {child}"))
                }
                Err(e) => Err(e.to_string()),
            },
            Step::Madvise { page, pages, advice } => {
                let advice = match advice {
                    AdviceName::Dontneed => Advice::DontNeed,
                    AdviceName::Free => Advice::Free,
                };
                done("madvise", madvise(ctx, &mm, self.va(*page, 0), pages * PAGE_SIZE, advice).await)
            }
            Step::ReclaimAge { page } => {
                reclaim_age(ctx, &mm, self.va(*page, 0)).await.map(|young| format!("reclaim_age: young {young}")).map_err(|e| e.to_string())
            }
            Step::SwapOut { page } => done("swap_out", swap_out(ctx, &mm, self.va(*page, 0)).await.map(drop)),
            Step::Migrate { page } => done("migrate", migrate(ctx, &mm, self.va(*page, 0)).await.map(drop)),
            Step::KsmMerge { page, with } => {
                done("ksm_merge", ksm_merge(ctx, (&mm, self.va(*page, 0)), (&mm, self.va(*with, 0))).await)
            }
            Step::ThpSplit => done("thp_split", thp_split(ctx, &mm, self.base).await),
            Step::ThpCollapse => done("thp_collapse", thp_collapse(ctx, &mm, self.base).await),
            Step::Mremap { page, pages, to } => {
                done("mremap", mremap(ctx, &mm, self.va(*page, 0), pages * PAGE_SIZE, self.va(*to, 0)).await)
            }
            Step::Exit => done("exit", exit_mm(ctx, &mm).await),
            Step::GruIssue { page, word, cb } => {
                let va = self.va(*page, *word);
                match self.context().await {
                    Ok(g) => self.issue(&g, *cb, va).await,
                    Err(e) => Err(e),
                }
            }
            Step::CallOs { cb } => match self.context().await {
                Ok(g) => match self.gru.gru_handle_user_call_os(ctx, &g, *cb).await {
                    Ok(()) => self.completion(&g, *cb).await,
                    Err(e) => Err(format!("call_os: {e}")),
                },
                Err(e) => Err(e),
            },
            Step::Unload => match &self.gts {
                Some(g) => done("unload", self.gru.gru_unload_context(ctx, g).await),
                None => Err("no GRU context".into()),
            },
            Step::Load => match (&self.gts, self.chiplet) {
                (Some(g), _) => done("load", self.gru.gru_load_context(ctx, g).await),
                (None, Some(_)) => self.context().await.map(|_| "load done".to_owned()),
                (None, None) => Err("no GRU context".into()),
            },
            Step::Sleep { cycles } => {
                ctx.sleep(*cycles).await;
                return;
            }
            Step::Signal { name } => {
                self.world.flags.borrow_mut().insert(name.clone());
                return;
            }
            Step::Wait { name } => {
                while !self.world.flags.borrow().contains(name) {
                    ctx.sleep(20).await;
                }
                return;
            }
        };
        self.say(outcome.unwrap_or_else(|e| format!("error: {e}")));
    }
}

/// The chiplet CBR of CB `cb` of the loaded context `g`.
fn cbr(g: &Gts, cb: u8) -> Result<u8, String> {
    let n = g.ctxnum().ok_or("the context is not loaded")?;
    Ok((n * CBR_PER_CTX + usize::from(cb)) as u8)
}

fn done<E: std::fmt::Display>(what: &str, r: Result<(), E>) -> Result<String, String> {
    r.map(|()| format!("{what} done")).map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "description = \"d\"\nprocess = []\nthread = []\n";

    #[test]
    fn first_asid_reaches_the_driver_config() {
        let s = Scenario::parse("x.toml", &format!("first_asid = 0x800008\nmax_asid = 0x800018\n{HEAD}")).unwrap();
        let gru = s.system_config(1, String::new()).gru;
        assert_eq!((gru.first_asid, gru.max_asid), (0x80_0008, 0x80_0018));
    }

    #[test]
    fn first_asid_must_be_an_aligned_base_below_the_limit() {
        for bad in ["first_asid = 0x800009", "first_asid = 0", "first_asid = 0x20\nmax_asid = 0x20"] {
            let e = Scenario::parse("x.toml", &format!("{bad}\n{HEAD}")).unwrap_err();
            assert!(matches!(e, ScenarioError::Invalid { .. }) && e.to_string().contains("first_asid"), "{bad}: {e}");
        }
    }
}

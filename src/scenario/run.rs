//! Running a scenario: one kernel task per process setup and per thread; each step's outcome
//! goes to the trace as `<thread>: ...` and is judged against the step's `expect` (or, without
//! one, against success) by the [`Check::Expect`] checker.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use gru_driver::gru::hw::CbRequest;
use gru_driver::gru::{Gru, GruError, GruHardware, Gts, CBR_PER_CTX};
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{
    exit_mm, fork, ksm_merge, madvise, migrate, mmap, mmap_file, mmap_gru_space, mmap_shared_anon, mprotect, mremap, msync, munmap, pread, punch_hole, pwrite,
    reclaim_age, swap_out, thp_collapse, thp_split, truncate, writeback, Advice,
};
use gru_driver::mm::{cpu_load, cpu_store, Backing, FileId, Mm, MmError, Prot, HPAGE_SIZE, PAGE_SIZE};

use super::format::{AdviceName, CbStatusName, Errno, ProtName, Step};
use super::{Process, Scenario, StepAt};
use crate::check::{Check, Checker};
use crate::system::{System, SystemModel};
use crate::trace::SysEvent;

impl Scenario {
    /// Spawn the scenario's processes and threads on `sys`.
    pub fn spawn<M: SystemModel>(&self, sys: &System<M>) {
        let world = Rc::new(World {
            hw: Rc::new(sys.hw.clone()),
            path: self.path.clone(),
            procs: RefCell::default(),
            files: self.files.iter().map(|f| (f.name.clone(), sys.mmu.create_file(f.pages, false))).collect(),
            failed: RefCell::default(),
            flags: RefCell::default(),
        });
        for p in &self.processes {
            let mm = sys.create_mm();
            let (p, world, checker) = (p.clone(), world.clone(), sys.checker.clone());
            sys.spawn(&format!("setup {}", p.name), move |ctx| async move {
                match setup(&ctx, &mm, &p).await {
                    Ok(base) => {
                        world.procs.borrow_mut().insert(p.name.clone(), (mm, base));
                    }
                    Err(e) => {
                        let what = format!("setup failed: {e}");
                        checker.log(SysEvent::User { cycle: ctx.now(), thread: p.name.clone(), what: what.clone() });
                        checker.verdict(ctx.now(), Check::Expect, Some(format!("{}: process {:?}: {what}", world.path, p.name)));
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
                        // The setup's verdict already failed the run.
                        let what = format!("not started: process {:?} failed to set up", t.process);
                        checker.log(SysEvent::User { cycle: ctx.now(), thread: t.name.clone(), what });
                        return;
                    }
                    ctx.sleep(50).await;
                };
                checker.thread_of(ctx.task(), mm.id());
                let mut th = Runner { ctx: &ctx, gru, checker, world, name: t.name.clone(), mm, base, chiplet: t.chiplet, gts: None };
                for st in &t.steps {
                    th.step(st).await;
                }
                if let Some(g) = th.gts.take() {
                    if let Err(e) = th.gru.free_context(&ctx, g).await {
                        let what = format!("free_context: {e}");
                        th.say(format!("error: {what}"));
                        let detail = format!("{}:{}: thread {:?} at its end: {what}", th.world.path, t.line, th.name);
                        th.checker.verdict(ctx.now(), Check::Expect, Some(detail));
                    }
                }
            });
        }
    }
}

struct World {
    /// The chiplets' CB port, for steps that drive it by hand.
    hw: Rc<dyn GruHardware>,
    /// The scenario file, for verdicts.
    path: String,
    procs: RefCell<BTreeMap<String, (Mm, u64)>>,
    /// The scenario's files.
    files: BTreeMap<String, FileId>,
    /// Processes whose setup failed: their threads stop instead of waiting.
    failed: RefCell<BTreeSet<String>>,
    flags: RefCell<BTreeSet<String>>,
}

async fn setup(ctx: &ProcCtx, mm: &Mm, p: &Process) -> Result<u64, MmError> {
    let len = if p.huge { HPAGE_SIZE } else { p.pages * PAGE_SIZE };
    let base = gru_driver::mm::ops::mmap(ctx, mm, None, len, Prot::ReadWrite).await?;
    if p.huge {
        cpu_store(ctx, mm, base, 1).await?;
        thp_collapse(ctx, mm, base).await?;
    }
    Ok(base)
}

/// What a step gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Got {
    /// It did what it does; some steps give a value (loads) or an answer (reclaim aging).
    Done { value: Option<u64>, young: Option<bool> },
    /// The CB completed.
    Cb { status: u8, cause: u8, value: u64 },
    /// It failed.
    Failed(Errno),
}

impl Got {
    const DONE: Got = Got::Done { value: None, young: None };

    fn describe(&self) -> String {
        match *self {
            Got::Done { value: Some(v), .. } => format!("value {v:#x}"),
            Got::Done { young: Some(y), .. } => format!("young {y}"),
            Got::Done { .. } => "success".into(),
            Got::Cb { status, cause, value } => format!("status {} cause {cause} value {value:#x}", status_name(status)),
            Got::Failed(e) => format!("errno {e}"),
        }
    }
}

fn status_name(code: u8) -> String {
    [CbStatusName::Ok, CbStatusName::Exception, CbStatusName::CallOs]
        .into_iter()
        .find(|s| s.code() == code)
        .map_or_else(|| code.to_string(), |s| format!("{s:?}").to_lowercase())
}

/// A step's outcome against its expectation; `None` when it is met.
fn judge(at: &StepAt, got: Got) -> Option<String> {
    let e = at.expect.clone().unwrap_or_default();
    if let Some(want) = e.errno {
        return (got != Got::Failed(want)).then(|| format!("expected errno {want}, got {}", got.describe()));
    }
    match got {
        Got::Failed(errno) => Some(format!("failed with errno {errno} and no `expect` says so")),
        Got::Cb { status, cause, value } => {
            let ok = match e.status {
                Some(s) => s.code() == status,
                // A hand-issued CB normally leaves its miss pending: CALL_OS is its success.
                None if matches!(at.step, Step::GruIssue { .. }) => status == 0 || status == 3,
                None => status == 0,
            };
            if !ok {
                let want = e.status.map_or("ok".to_owned(), |s| format!("{s:?}").to_lowercase());
                return Some(format!("expected status {want}, got {}", got.describe()));
            }
            if e.cause.is_some_and(|c| c != cause) || e.value.is_some_and(|v| v != value) {
                let mut want = Vec::new();
                if let Some(c) = e.cause {
                    want.push(format!("cause {c}"));
                }
                if let Some(v) = e.value {
                    want.push(format!("value {v:#x}"));
                }
                return Some(format!("expected {}, got {}", want.join(" "), got.describe()));
            }
            None
        }
        Got::Done { value, young } => {
            if let Some(v) = e.value.filter(|&v| value != Some(v)) {
                return Some(format!("expected value {v:#x}, got {}", got.describe()));
            }
            e.young.filter(|&y| young != Some(y)).map(|y| format!("expected young {y}, got {}", got.describe()))
        }
    }
}

fn prot_of(p: ProtName) -> Prot {
    match p {
        ProtName::None => Prot::None,
        ProtName::Read => Prot::Read,
        ProtName::Readwrite => Prot::ReadWrite,
    }
}

/// The error kind of a primary-MMU error.
fn mm_errno(e: &MmError) -> Errno {
    match e {
        MmError::InvalidArgument(_) => Errno::EINVAL,
        MmError::NotMapped { .. } => Errno::ENOMEM,
        MmError::SegFault { .. } => Errno::EFAULT,
        MmError::OutOfMemory => Errno::OOM,
        MmError::SwapFull => Errno::ENOSPC,
        MmError::Busy(_) => Errno::EBUSY,
        MmError::NotEligible(_) => Errno::EAGAIN,
        MmError::NotInEra { .. } => Errno::ENOSYS,
        MmError::Exited(_) => Errno::ESRCH,
        MmError::SigBus { .. } => Errno::SIGBUS,
        _ => Errno::EIO,
    }
}

/// The error kind of a driver error (a CB EXCEPTION is a status, not an error).
fn gru_errno(e: &GruError) -> Errno {
    match e {
        GruError::Mm(m) => mm_errno(m),
        GruError::UnloadRefused { .. } => Errno::EBUSY,
        GruError::NoFreeContext(_) => Errno::ENOSPC,
        GruError::AlreadyLoaded => Errno::EEXIST,
        GruError::NotLoaded => Errno::ENOENT,
        GruError::NoSuchCb(_) => Errno::EINVAL,
        GruError::CbTimeout { .. } => Errno::ETIMEDOUT,
        _ => Errno::EIO,
    }
}

/// A step's trace text and what it gave.
type Outcome = (String, Got);

fn mm_done(what: &str, r: Result<(), MmError>) -> Outcome {
    match r {
        Ok(()) => (format!("{what} done"), Got::DONE),
        Err(e) => (format!("error: {what}: {e}"), Got::Failed(mm_errno(&e))),
    }
}

fn gru_done(what: &str, r: Result<(), GruError>) -> Outcome {
    match r {
        Ok(()) => (format!("{what} done"), Got::DONE),
        Err(e) => (format!("error: {what}: {e}"), Got::Failed(gru_errno(&e))),
    }
}

fn gru_failed(e: &GruError) -> Outcome {
    (format!("error: {e}"), Got::Failed(gru_errno(e)))
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
    async fn context(&mut self) -> Result<Rc<Gts>, GruError> {
        if let Some(g) = &self.gts {
            return Ok(g.clone());
        }
        // Validation refuses GRU steps in a thread without a chiplet.
        let c = self.chiplet.ok_or(GruError::NotLoaded)?;
        let g = self.gru.alloc_context(self.ctx, &self.mm, c).await?;
        self.gts = Some(g.clone());
        Ok(g)
    }

    /// Wait for the next completion of CB `cb` and describe it.
    async fn completion(&self, g: &Gts, cb: u8) -> Result<Outcome, GruError> {
        let cbr = cbr(g, cb)?;
        loop {
            if let Some(c) = self.world.hw.cb_take(g.chiplet(), cbr) {
                let what = format!("cb{cb} completed: status {} cause {} rdata {:#x}", c.status, c.cause, c.rdata);
                return Ok((what, Got::Cb { status: c.status, cause: c.cause, value: c.rdata }));
            }
            self.ctx.sleep(20).await;
        }
    }

    /// The address of word `word` of page `page` of the region (validation keeps it inside the
    /// address space; the arithmetic is checked anyway).
    fn va(&self, page: u64, word: u64) -> Result<u64, MmError> {
        page.checked_mul(PAGE_SIZE)
            .and_then(|o| o.checked_add(word.checked_mul(8)?))
            .and_then(|o| o.checked_add(self.base))
            .ok_or(MmError::InvalidArgument("address beyond the address space"))
    }

    /// The file named `name` (validation makes sure it is declared).
    fn file(&self, name: &str) -> FileId {
        self.world.files.get(name).copied().unwrap_or(FileId(0))
    }

    /// The byte offset of word `word` of page `page` of a file.
    fn offset(page: u64, word: u64) -> Result<u64, MmError> {
        page.checked_mul(PAGE_SIZE)
            .and_then(|o| o.checked_add(word.checked_mul(8)?))
            .ok_or(MmError::InvalidArgument("offset beyond the file's reach"))
    }

    /// A read the oracle refused is the data oracle's failure, not only the step's.
    fn oracle_failure(&self, e: &MmError) {
        if let MmError::Oracle(m) = e {
            self.checker.cpu_mismatch(m);
        }
    }

    /// `pages` pages in bytes.
    fn len(pages: u64) -> Result<u64, MmError> {
        pages.checked_mul(PAGE_SIZE).ok_or(MmError::InvalidArgument("length beyond the address space"))
    }

    async fn step(&mut self, at: &StepAt) {
        let (what, got) = match self.outcome(&at.step).await {
            Some(o) => o,
            None => return,
        };
        self.say(what);
        let detail = judge(at, got)
            .map(|why| format!("{}:{}: thread {:?} step {} ({}): {why}", self.world.path, at.line, self.name, at.index, at.step.op()));
        self.checker.verdict(self.ctx.now(), Check::Expect, detail);
    }

    /// Run one step; `None` for steps with no outcome (sleep, signal, wait).
    async fn outcome(&mut self, st: &Step) -> Option<Outcome> {
        let ctx = self.ctx;
        let mm = self.mm.clone();
        Some(match st {
            Step::Sleep { cycles } => {
                ctx.sleep(*cycles).await;
                return None;
            }
            Step::Signal { name } => {
                self.world.flags.borrow_mut().insert(name.clone());
                return None;
            }
            Step::Wait { name } => {
                while !self.world.flags.borrow().contains(name) {
                    ctx.sleep(20).await;
                }
                return None;
            }
            Step::GruLoad { .. } | Step::GruStore { .. } | Step::GruIssue { .. } | Step::CallOs { .. } => self.cb_step(st).await,
            Step::CpuLoad { page, word } => match self.va(*page, *word) {
                Ok(va) => match cpu_load(ctx, &mm, va).await {
                    Ok(v) => (format!("cpu_load {va:#x} = {v:#x}"), Got::Done { value: Some(v), young: None }),
                    Err(e) => {
                        self.oracle_failure(&e);
                        (format!("error: {e}"), Got::Failed(mm_errno(&e)))
                    }
                },
                Err(e) => mm_done("cpu_load", Err(e)),
            },
            Step::CpuStore { page, word, value } => match self.va(*page, *word) {
                Ok(va) => match cpu_store(ctx, &mm, va, *value).await {
                    Ok(()) => (format!("cpu_store {va:#x} := {value:#x}"), Got::DONE),
                    Err(e) => (format!("error: {e}"), Got::Failed(mm_errno(&e))),
                },
                Err(e) => mm_done("cpu_store", Err(e)),
            },
            Step::Munmap { page, pages } => mm_done("munmap", self.range(*page, *pages, |va, len| munmap(ctx, &mm, va, len)).await),
            Step::Mprotect { page, pages, prot } => {
                let prot = prot_of(*prot);
                mm_done("mprotect", self.range(*page, *pages, |va, len| mprotect(ctx, &mm, va, len, prot)).await)
            }
            Step::Fork { child } => match fork(ctx, &mm).await {
                Ok(c) => {
                    self.checker.watch(&c);
                    self.world.procs.borrow_mut().insert(child.clone(), (c, self.base));
                    (format!("fork -> {child}"), Got::DONE)
                }
                Err(e) => (format!("error: {e}"), Got::Failed(mm_errno(&e))),
            },
            Step::Madvise { page, pages, advice } => {
                let advice = match advice {
                    AdviceName::Dontneed => Advice::DontNeed,
                    AdviceName::Free => Advice::Free,
                };
                mm_done("madvise", self.range(*page, *pages, |va, len| madvise(ctx, &mm, va, len, advice)).await)
            }
            Step::ReclaimAge { page } => match self.va(*page, 0) {
                Ok(va) => match reclaim_age(ctx, &mm, va).await {
                    Ok(young) => (format!("reclaim_age: young {young}"), Got::Done { value: None, young: Some(young) }),
                    Err(e) => (format!("error: {e}"), Got::Failed(mm_errno(&e))),
                },
                Err(e) => mm_done("reclaim_age", Err(e)),
            },
            Step::SwapOut { page } => mm_done("swap_out", self.at(*page, |va| async move { swap_out(ctx, &mm, va).await.map(drop) }).await),
            Step::Migrate { page } => mm_done("migrate", self.at(*page, |va| async move { migrate(ctx, &mm, va).await.map(drop) }).await),
            Step::KsmMerge { page, with } => {
                let r = match (self.va(*page, 0), self.va(*with, 0)) {
                    (Ok(a), Ok(b)) => ksm_merge(ctx, (&mm, a), (&mm, b)).await,
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                mm_done("ksm_merge", r)
            }
            Step::ThpSplit => mm_done("thp_split", thp_split(ctx, &mm, self.base).await),
            Step::ThpCollapse => mm_done("thp_collapse", thp_collapse(ctx, &mm, self.base).await),
            Step::Mremap { page, pages, to } => {
                let r = match (self.va(*page, 0), Self::len(*pages), self.va(*to, 0)) {
                    (Ok(from), Ok(len), Ok(to)) => mremap(ctx, &mm, from, len, to).await,
                    (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                };
                mm_done("mremap", r)
            }
            Step::Exit => mm_done("exit", exit_mm(ctx, &mm).await),
            Step::Mmap { page, pages, shared, file, offset, prot } => {
                let r = match (self.va(*page, 0), Self::len(*pages)) {
                    (Ok(va), Ok(len)) => {
                        let prot = prot_of(*prot);
                        match (file, shared) {
                            (Some(f), _) => {
                                let backing = Backing { file: self.file(f), pgoff: *offset, shared: *shared };
                                mmap_file(ctx, &mm, Some(va), len, prot, backing).await
                            }
                            (None, true) => mmap_shared_anon(ctx, &mm, Some(va), len, prot).await,
                            (None, false) => mmap(ctx, &mm, Some(va), len, prot).await,
                        }
                        .map(drop)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                mm_done("mmap", r)
            }
            Step::MmapGru { page, pages } => {
                let r = match self.va(*page, 0) {
                    Ok(va) => mmap_gru_space(ctx, &mm, va, *pages).await.map(drop),
                    Err(e) => Err(e),
                };
                mm_done("mmap_gru", r)
            }
            Step::Pwrite { file, page, word, value } => {
                let r = match Self::offset(*page, *word) {
                    Ok(off) => pwrite(ctx, &mm, self.file(file), off, *value).await,
                    Err(e) => Err(e),
                };
                mm_done("pwrite", r)
            }
            Step::Pread { file, page, word } => {
                let r = match Self::offset(*page, *word) {
                    Ok(off) => pread(ctx, &mm, self.file(file), off).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(v) => (format!("pread {file} page {page} word {word} = {v:#x}"), Got::Done { value: Some(v), young: None }),
                    Err(e) => {
                        self.oracle_failure(&e);
                        (format!("error: pread: {e}"), Got::Failed(mm_errno(&e)))
                    }
                }
            }
            Step::Msync { page, pages } => mm_done("msync", self.range(*page, *pages, |va, len| async move { msync(ctx, &mm, va, len).await.map(drop) }).await),
            Step::Writeback { file } => mm_done("writeback", writeback(ctx, &mm, self.file(file)).await.map(drop)),
            Step::Truncate { file, pages } => mm_done("truncate", truncate(ctx, &mm, self.file(file), *pages).await),
            Step::PunchHole { file, page, pages } => mm_done("punch_hole", punch_hole(ctx, &mm, self.file(file), *page, *pages).await),
            Step::Unload => match self.gts.clone() {
                Some(g) => gru_done("unload", self.gru.gru_unload_context(ctx, &g).await),
                None => gru_done("unload", Err(GruError::NotLoaded)),
            },
            Step::Load => match self.gts.clone() {
                Some(g) => gru_done("load", self.gru.gru_load_context(ctx, &g).await),
                None => match self.context().await {
                    Ok(_) => ("load done".to_owned(), Got::DONE),
                    Err(e) => gru_done("load", Err(e)),
                },
            },
        })
    }

    /// Run `op` on the range of `pages` pages from `page`.
    async fn range<F: std::future::Future<Output = Result<(), MmError>>>(&self, page: u64, pages: u64, op: impl FnOnce(u64, u64) -> F) -> Result<(), MmError> {
        let (va, len) = (self.va(page, 0)?, Self::len(pages)?);
        op(va, len).await
    }

    /// Run `op` on the page `page`.
    async fn at<F: std::future::Future<Output = Result<(), MmError>>>(&self, page: u64, op: impl FnOnce(u64) -> F) -> Result<(), MmError> {
        op(self.va(page, 0)?).await
    }

    /// The CB steps: `gru_load`/`gru_store` through the driver (CALL_OS answered), `gru_issue`
    /// by hand on the CB port, `call_os` answering a pending miss.
    async fn cb_step(&mut self, st: &Step) -> Outcome {
        let ctx = self.ctx;
        let gts = match self.context().await {
            Ok(g) => g,
            Err(e) => return gru_failed(&e),
        };
        match *st {
            Step::GruLoad { page, word, cb } | Step::GruStore { page, word, cb, .. } => {
                let va = match self.va(page, word) {
                    Ok(va) => va,
                    Err(e) => return mm_done(st.op(), Err(e)),
                };
                let (write, value) = match st {
                    Step::GruStore { value, .. } => (true, *value),
                    _ => (false, 0),
                };
                let before = self.checker.expected(self.mm.id(), va);
                match self.gru.cb_access(ctx, &gts, cb, va, write, value).await {
                    Ok(v) if !write => {
                        self.checker.chip_load(ctx.now(), self.mm.id(), va, v, before);
                        (format!("gru_load {va:#x} = {v:#x}"), Got::Cb { status: 0, cause: 0, value: v })
                    }
                    Ok(_) => (format!("gru_store {va:#x} := {value:#x}"), Got::Cb { status: 0, cause: 0, value: 0 }),
                    Err(GruError::CbException { cbr, cause }) => {
                        let e = GruError::CbException { cbr, cause };
                        (format!("error: gru access {va:#x}: {e}"), Got::Cb { status: 1, cause, value: 0 })
                    }
                    Err(e) => (format!("error: gru access {va:#x}: {e}"), Got::Failed(gru_errno(&e))),
                }
            }
            Step::GruIssue { page, word, cb } => {
                let va = match self.va(page, word) {
                    Ok(va) => va,
                    Err(e) => return mm_done(st.op(), Err(e)),
                };
                let issued = cbr(&gts, cb).and_then(|cbr| {
                    self.world.hw.cb_issue(gts.chiplet(), CbRequest { cbr, vaddr: va, write: false, wdata: 0 }).map_err(GruError::from)
                });
                match issued {
                    Ok(()) => self.completion(&gts, cb).await.unwrap_or_else(|e| gru_failed(&e)),
                    Err(e) => gru_failed(&e),
                }
            }
            Step::CallOs { cb } => match self.gru.gru_handle_user_call_os(ctx, &gts, cb).await {
                Ok(()) => self.completion(&gts, cb).await.unwrap_or_else(|e| gru_failed(&e)),
                Err(e) => (format!("error: call_os: {e}"), Got::Failed(gru_errno(&e))),
            },
            _ => unreachable!("cb_step runs CB steps only"),
        }
    }
}

/// The chiplet CBR of CB `cb` of the loaded context `g`.
fn cbr(g: &Gts, cb: u8) -> Result<u8, GruError> {
    let n = g.ctxnum().ok_or(GruError::NotLoaded)?;
    if usize::from(cb) >= CBR_PER_CTX {
        return Err(GruError::NoSuchCb(cb));
    }
    u8::try_from(n * CBR_PER_CTX + usize::from(cb)).map_err(|_| GruError::NoSuchCb(cb))
}

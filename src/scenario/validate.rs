//! From the file as written to a checked [`Scenario`]: every field bounded, every name
//! defined once, `repeat` blocks expanded, and every error naming the file, the line and the
//! field.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use gru_driver::gru::{ASID_INC, CBR_PER_CTX, MAX_ASID, MIN_ASID};
use gru_driver::mm::{GRU_SPACE_PAGES, MMAP_BASE, PAGE_SIZE, TASK_SIZE};
use gru_driver::notifier::Era;

use crate::check::Check;

use super::format::{CbStatusName, EraName, Expect, Item, RawScenario, RawThread, Step};
use super::{FileDecl, Process, Scenario, ScenarioError, StepAt, Thread, MAX_CHIPLETS, MAX_CPUS, MAX_STEPS};

/// Pages a step may address: the user address space above the lowest region base. Every
/// page index, and every range's end, is below this, so no address computation overflows.
pub const MAX_PAGE: u64 = (TASK_SIZE - MMAP_BASE) / PAGE_SIZE;

/// Words of a page.
pub const WORDS_PER_PAGE: u64 = PAGE_SIZE / 8;

/// The file being validated: its name and text, for the line of a span.
pub(super) struct Src<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

impl Src<'_> {
    /// The 1-based line of a byte offset.
    pub fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// An error at `span`.
    pub fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid { path: self.path.to_owned(), line: Some(self.line(span)), msg: msg.into() }
    }
}

/// Check a parsed file and build the scenario.
pub(super) fn scenario(src: &Src<'_>, raw: RawScenario) -> Result<Scenario, ScenarioError> {
    let era = raw.era.as_ref().map_or(Era::Modern, |e| match e.get_ref() {
        EraName::Classic => Era::Classic,
        EraName::ClassicUnlocked => Era::ClassicUnlocked,
        EraName::Modern => Era::Modern,
    });
    let chiplets = raw.chiplets.as_ref().map_or(1, |c| *c.get_ref());
    let chiplets_line = raw.chiplets.as_ref().map(|c| src.line(c.span()));
    if let Some(c) = &raw.chiplets {
        check_chiplets(*c.get_ref()).map_err(|m| src.err(c.span(), format!("chiplets = {}: {m}", c.get_ref())))?;
    }
    let cpus = raw.cpus.as_ref().map_or(4, |c| *c.get_ref());
    if let Some(c) = &raw.cpus {
        check_cpus(*c.get_ref()).map_err(|m| src.err(c.span(), format!("cpus = {}: {m}", c.get_ref())))?;
    }
    let max_asid = raw.max_asid.as_ref().map(|m| *m.get_ref());
    if let Some(m) = &raw.max_asid {
        let v = *m.get_ref();
        if !(MIN_ASID + ASID_INC..=MAX_ASID).contains(&v) {
            return Err(src.err(m.span(), format!("max_asid = {v:#x}: must be in [{:#x}, {MAX_ASID:#x}]", MIN_ASID + ASID_INC)));
        }
    }
    let first_asid = raw.first_asid.as_ref().map(|f| *f.get_ref());
    if let Some(f) = &raw.first_asid {
        let (first, max) = (*f.get_ref(), max_asid.unwrap_or(MAX_ASID));
        if first % ASID_INC != 0 || first < MIN_ASID || first >= max {
            return Err(src.err(
                f.span(),
                format!("first_asid = {first:#x}: must be a multiple of {ASID_INC} in [{MIN_ASID:#x}, max_asid {max:#x})"),
            ));
        }
    }

    // Files: distinct names, sizes inside the address space (so a mapping of all of one can
    // exist).
    let mut file_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut files = Vec::new();
    for f in raw.files {
        let f = f.into_inner();
        let name = f.name.get_ref().clone();
        if let Some(first) = file_names.insert(name.clone(), src.line(f.name.span())) {
            return Err(src.err(f.name.span(), format!("file name {name:?}: already the name of the file at line {first}")));
        }
        let pages = f.pages.as_ref().map_or(1, |n| *n.get_ref());
        if let Some(n) = f.pages.as_ref().filter(|_| pages > MAX_PAGE) {
            return Err(src.err(n.span(), format!("file {name:?}: pages = {pages}: must be at most {MAX_PAGE}")));
        }
        files.push(FileDecl { name, pages });
    }

    // Processes: distinct names, regions inside the address space.
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut processes = Vec::new();
    for p in raw.processes {
        let p = p.into_inner();
        let name = p.name.get_ref().clone();
        if let Some(first) = names.insert(name.clone(), src.line(p.name.span())) {
            return Err(src.err(p.name.span(), format!("process name {name:?}: already the name of the process at line {first}")));
        }
        let pages = p.pages.as_ref().map_or(1, |n| *n.get_ref());
        if let Some(n) = p.pages.as_ref().filter(|_| !p.huge) {
            if pages == 0 || pages > MAX_PAGE {
                // The region is mapped from MMAP_BASE up; a larger one cannot be mapped at all.
                return Err(src.err(
                    n.span(),
                    format!("process {name:?}: pages = {pages}: must be 1..={MAX_PAGE} (the user address space above the mmap base)"),
                ));
            }
        }
        processes.push(Process { name, pages, huge: p.huge });
    }

    // Threads: distinct names; each step checked, repeats expanded.
    let mut thread_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut threads = Vec::new();
    let mut total = 0usize;
    for t in raw.threads {
        let line = src.line(t.span());
        let t = t.into_inner();
        let name = t.name.get_ref().clone();
        if let Some(first) = thread_names.insert(name.clone(), src.line(t.name.span())) {
            return Err(src.err(t.name.span(), format!("thread name {name:?}: already the name of the thread at line {first}")));
        }
        let mut steps = Vec::new();
        expand(src, &name, &t.steps, &mut steps, &mut total)?;
        for s in &steps {
            if let Some(f) = s.step.file().filter(|f| !file_names.contains_key(*f)) {
                let known: Vec<&str> = file_names.keys().map(String::as_str).collect();
                return Err(s.err(src, &name, format!("file = {f:?}: no [[file]] of that name (known: {})", known.join(", "))));
            }
        }
        threads.push(thread(src, t, name, line, steps)?);
    }

    // Forked children are processes too: their names must be new.
    for t in &threads {
        for s in &t.steps {
            if let Step::Fork { child } = &s.step {
                if let Some(first) = names.insert(child.clone(), s.line) {
                    return Err(s.err(src, &t.name, format!("fork child {child:?}: already the name of the process at line {first}")));
                }
            }
        }
    }
    // A flag is set once: a second `signal` of it does nothing; a `wait` for a flag nobody
    // sets waits forever.
    let mut signals: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &threads {
        for s in &t.steps {
            if let Step::Signal { name } = &s.step {
                if let Some(first) = signals.insert(name, s.line) {
                    return Err(s.err(src, &t.name, format!("signal name {name:?}: already signalled at line {first} (a flag is set once)")));
                }
            }
        }
    }
    for t in &threads {
        for s in &t.steps {
            if let Step::Wait { name } = &s.step {
                if !signals.contains_key(name.as_str()) {
                    return Err(s.err(src, &t.name, format!("wait name {name:?}: no step signals it, the thread would wait forever")));
                }
            }
        }
        if !names.contains_key(&t.process) {
            let known: Vec<&str> = names.keys().map(String::as_str).collect();
            return Err(src.err_line(t.process_line, format!("thread {:?}: process = {:?}: no process {:?} (known: {})", t.name, t.process, t.process, known.join(", "))));
        }
    }

    let expect_verdict = match &raw.expect_verdict {
        None => None,
        Some(v) => Some(Check::by_name(v.get_ref()).ok_or_else(|| {
            let known: Vec<String> = Check::ALL.iter().map(Check::to_string).collect();
            src.err(v.span(), format!("expect_verdict = {:?}: no such check (known: {})", v.get_ref(), known.join(", ")))
        })?),
    };
    let sc = Scenario {
        path: src.path.to_owned(),
        description: raw.description,
        era,
        chiplets,
        cpus,
        max_asid,
        first_asid,
        real_thp_lookup: raw.real_thp_lookup,
        expect_verdict,
        files,
        processes,
        threads,
        chiplets_line,
    };
    sc.check_contexts(None)?;
    Ok(sc)
}

impl Src<'_> {
    /// An error at a known line.
    pub fn err_line(&self, line: usize, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid { path: self.path.to_owned(), line: Some(line), msg: msg.into() }
    }
}

impl StepAt {
    fn err(&self, src: &Src<'_>, thread: &str, msg: String) -> ScenarioError {
        src.err_line(self.line, format!("thread {thread:?} step {} ({}): {msg}", self.index, self.step.op()))
    }
}

/// Chiplets a run can have.
pub(super) fn check_chiplets(n: usize) -> Result<(), String> {
    if (1..=MAX_CHIPLETS).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be 1..={MAX_CHIPLETS} (the supported maximum: the platform routes {MAX_CHIPLETS} chiplets' interrupt lines)"))
    }
}

/// CPUs a run can have.
pub(super) fn check_cpus(n: usize) -> Result<(), String> {
    if (1..=MAX_CPUS).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be 1..={MAX_CPUS}"))
    }
}

fn thread(src: &Src<'_>, t: RawThread, name: String, line: usize, steps: Vec<StepAt>) -> Result<Thread, ScenarioError> {
    let chiplet_line = t.chiplet.as_ref().map_or(line, |c| src.line(c.span()));
    let chiplet = t.chiplet.as_ref().map(|c| *c.get_ref());
    if chiplet.is_none() {
        if let Some(s) = steps.iter().find(|s| s.step.needs_context()) {
            return Err(s.err(src, &name, "the thread has no GRU context: give it `chiplet = N`".into()));
        }
    }
    let process_line = src.line(t.process.span());
    Ok(Thread { name, process: t.process.into_inner(), chiplet, steps, line, chiplet_line, process_line })
}

/// Append the steps of `items` to `out`, repeats expanded; `total` counts the steps of the
/// whole scenario against [`MAX_STEPS`].
fn expand(src: &Src<'_>, thread: &str, items: &[Spanned<Item>], out: &mut Vec<StepAt>, total: &mut usize) -> Result<(), ScenarioError> {
    for item in items {
        match item.get_ref() {
            Item::Step(step, expect) => {
                *total += 1;
                if *total > MAX_STEPS {
                    return Err(src.err(item.span(), format!("thread {thread:?}: more than {MAX_STEPS} steps in the scenario (repeats expanded)")));
                }
                let at = StepAt { line: src.line(item.span()), index: out.len() + 1, step: step.clone(), expect: expect.clone() };
                check_step(src, thread, &at)?;
                out.push(at);
            }
            Item::Repeat { count, steps } => {
                let n = *count.get_ref();
                let body = count_steps(steps);
                let product = n.checked_mul(body).and_then(|p| usize::try_from(p).ok()).and_then(|p| p.checked_add(*total));
                if n == 0 || product.is_none_or(|p| p > MAX_STEPS) {
                    return Err(src.err(
                        count.span(),
                        format!("thread {thread:?}: repeat = {n} of {body} steps: must be at least 1 and keep the scenario at most {MAX_STEPS} steps"),
                    ));
                }
                for _ in 0..n {
                    expand(src, thread, steps, out, total)?;
                }
            }
        }
    }
    Ok(())
}

/// Steps of `items` once expanded (saturating).
fn count_steps(items: &[Spanned<Item>]) -> u64 {
    items.iter().fold(0u64, |acc, i| {
        acc.saturating_add(match i.get_ref() {
            Item::Step(..) => 1,
            Item::Repeat { count, steps } => count.get_ref().saturating_mul(count_steps(steps)),
        })
    })
}

/// Check one step's fields and its `expect`.
fn check_step(src: &Src<'_>, thread: &str, at: &StepAt) -> Result<(), ScenarioError> {
    let bad = |msg: String| Err(at.err(src, thread, msg));
    if let Some(cb) = at.step.cb().filter(|&cb| usize::from(cb) >= CBR_PER_CTX) {
        return bad(format!("cb = {cb}: a context has CBs 0..{CBR_PER_CTX}"));
    }
    let page = |field: &str, v: u64| if v >= MAX_PAGE { Some(format!("{field} = {v}: must be below {MAX_PAGE} (the user address space)")) } else { None };
    let range = |page: u64, pages: u64| {
        if pages == 0 || page.checked_add(pages).is_none_or(|end| end > MAX_PAGE) {
            Some(format!("pages = {pages}: must be at least 1 and end by page {MAX_PAGE} (the user address space)"))
        } else {
            None
        }
    };
    let word = |w: u64| if w >= WORDS_PER_PAGE { Some(format!("word = {w}: a page has words 0..{WORDS_PER_PAGE}")) } else { None };
    let problem = match &at.step {
        Step::GruLoad { page: p, word: w, .. }
        | Step::GruStore { page: p, word: w, .. }
        | Step::GruIssue { page: p, word: w, .. }
        | Step::CpuLoad { page: p, word: w }
        | Step::CpuStore { page: p, word: w, .. } => page("page", *p).or_else(|| word(*w)),
        Step::Munmap { page: p, pages } | Step::Mprotect { page: p, pages, .. } | Step::Madvise { page: p, pages, .. } => {
            page("page", *p).or_else(|| range(*p, *pages))
        }
        Step::Mremap { page: p, pages, to } => page("page", *p).or_else(|| range(*p, *pages)).or_else(|| page("to", *to)).or_else(|| range(*to, *pages)),
        Step::ReclaimAge { page: p } | Step::SwapOut { page: p } | Step::Migrate { page: p } => page("page", *p),
        Step::KsmMerge { page: p, with } => page("page", *p).or_else(|| page("with", *with)),
        Step::Mmap { file: None, offset, .. } if *offset != 0 => Some(format!("offset = {offset}: only a file mapping has an offset")),
        Step::Mmap { page: p, pages, offset, .. } => page("page", *p).or_else(|| range(*p, *pages)).or_else(|| page("offset", *offset)).or_else(|| range(*offset, *pages)),
        Step::MmapGru { pages, .. } if !(1..=GRU_SPACE_PAGES).contains(pages) => Some(format!("pages = {pages}: GRU space has 1..={GRU_SPACE_PAGES} pages")),
        Step::Msync { page: p, pages } | Step::PunchHole { page: p, pages, .. } | Step::MmapGru { page: p, pages } => page("page", *p).or_else(|| range(*p, *pages)),
        Step::Pwrite { page: p, word: w, .. } | Step::Pread { page: p, word: w, .. } => page("page", *p).or_else(|| word(*w)),
        Step::Truncate { pages, .. } if *pages > MAX_PAGE => Some(format!("pages = {pages}: must be at most {MAX_PAGE}")),
        Step::Sleep { cycles } if *cycles > Scenario::MAX_SLEEP => Some(format!("sleep of {cycles} cycles; at most {}", Scenario::MAX_SLEEP)),
        _ => None,
    };
    if let Some(p) = problem {
        return bad(p);
    }
    let Some(e) = &at.expect else {
        return Ok(());
    };
    let allowed = at.step.expect_fields();
    if allowed.is_empty() {
        return bad("expect: this step cannot fail and gives nothing to expect".into());
    }
    if let Some(f) = e.fields().into_iter().find(|f| !allowed.contains(f)) {
        return bad(format!("expect.{f}: not an outcome of {}; it can expect {}", at.step.op(), allowed.join(", ")));
    }
    check_expect(e).map_or(Ok(()), bad)
}

/// Fields of one `expect` that contradict each other.
fn check_expect(e: &Expect) -> Option<String> {
    if e.errno.is_some() && e.fields().len() > 1 {
        return Some("expect.errno: a step that fails gives no value, status, cause or young".into());
    }
    if e.value.is_some() && e.status.is_some_and(|s| s != CbStatusName::Ok) {
        return Some("expect.value: only a CB that completes with status \"ok\" gives a value".into());
    }
    if e.cause.is_some() && !e.status.is_some_and(|s| s != CbStatusName::Ok) {
        return Some("expect.cause: needs status = \"exception\" or \"call_os\"".into());
    }
    None
}

impl Scenario {
    /// Every thread's chiplet exists. `flag` names the command-line option that set
    /// `chiplets`, if one did.
    pub(super) fn check_contexts(&self, flag: Option<&str>) -> Result<(), ScenarioError> {
        let src = Src { path: &self.path, text: "" };
        for t in &self.threads {
            if let Some(c) = t.chiplet.filter(|&c| c >= self.chiplets) {
                let from = match (flag, self.chiplets_line) {
                    (Some(f), _) => format!("{f} {}", self.chiplets),
                    (None, Some(l)) => format!("chiplets = {} at line {l}", self.chiplets),
                    (None, None) => format!("the default chiplets = {}", self.chiplets),
                };
                return Err(src.err_line(t.chiplet_line, format!("thread {:?}: chiplet = {c} but {from} gives chiplets 0..{}", t.name, self.chiplets)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let src = Src { path: "x", text: "a\nb\nc" };
        assert_eq!((src.line(0..1), src.line(2..3), src.line(4..5), src.line(99..100)), (1, 2, 3, 3));
    }
}

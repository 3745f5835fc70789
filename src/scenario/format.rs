//! The file format as TOML gives it: fields with their spans (for errors that name the line),
//! steps with an optional `expect`, and `repeat` blocks. [`super::validate`] turns it into a
//! checked [`Scenario`](super::Scenario).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub description: String,
    pub era: Option<Spanned<EraName>>,
    pub chiplets: Option<Spanned<usize>>,
    pub cpus: Option<Spanned<usize>>,
    pub max_asid: Option<Spanned<u32>>,
    pub first_asid: Option<Spanned<u32>>,
    #[serde(default)]
    pub real_thp_lookup: bool,
    pub expect_verdict: Option<Spanned<String>>,
    #[serde(rename = "file", default)]
    pub files: Vec<Spanned<RawFile>>,
    #[serde(rename = "process", default)]
    pub processes: Vec<Spanned<RawProcess>>,
    #[serde(rename = "thread", default)]
    pub threads: Vec<Spanned<RawThread>>,
}

/// A `[[process]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProcess {
    pub name: Spanned<String>,
    pub pages: Option<Spanned<u64>>,
    #[serde(default)]
    pub huge: bool,
}

/// A `[[file]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub name: Spanned<String>,
    pub pages: Option<Spanned<u64>>,
}

/// A `[[thread]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThread {
    pub name: Spanned<String>,
    pub process: Spanned<String>,
    pub chiplet: Option<Spanned<usize>>,
    #[serde(default)]
    pub steps: Vec<Spanned<Item>>,
}

/// One entry of a step list: a step, or `{ repeat = N, steps = [...] }`.
#[derive(Debug)]
pub(super) enum Item {
    /// A step and what it is expected to give.
    Step(Step, Option<Expect>),
    /// `steps`, `count` times in a row.
    Repeat { count: Spanned<u64>, steps: Vec<Spanned<Item>> },
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a step `{ op = \"...\", ... }` or a block `{ repeat = N, steps = [...] }`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        // The fields of a step are collected as values and read by `Step` afterwards, because
        // `op` (its kind) may come after them; a repeat's steps are read directly, so that
        // their spans survive. JSON values, unlike TOML's, keep integers above i64::MAX, so
        // that a huge count reaches the bounds check (and its message) instead of a type error.
        let mut fields = serde_json::Map::new();
        let (mut count, mut steps) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "repeat" => count = Some(map.next_value::<Spanned<u64>>()?),
                "steps" => steps = Some(map.next_value::<Vec<Spanned<Item>>>()?),
                _ => {
                    let v = map.next_value::<serde_json::Value>()?;
                    fields.insert(key, v);
                }
            }
        }
        if count.is_some() || steps.is_some() {
            if let Some(k) = fields.keys().next() {
                return Err(de::Error::custom(format!("unknown field `{k}` in a repeat block, expected `repeat` and `steps`")));
            }
            let count = count.ok_or_else(|| de::Error::missing_field("repeat"))?;
            let steps = steps.ok_or_else(|| de::Error::missing_field("steps"))?;
            return Ok(Item::Repeat { count, steps });
        }
        let expect = match fields.remove("expect") {
            Some(v) => Some(Expect::deserialize(v).map_err(|e| de::Error::custom(format!("expect: {e}")))?),
            None => None,
        };
        let step = Step::deserialize(serde_json::Value::Object(fields)).map_err(de::Error::custom)?;
        Ok(Item::Step(step, expect))
    }
}

/// Notifier era of a scenario.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EraName {
    /// 2.6.27–3.5.
    Classic,
    /// 3.6–4.12.
    #[serde(rename = "classic-unlocked")]
    ClassicUnlocked,
    /// 5.4+.
    #[default]
    Modern,
}

fn one_u64() -> u64 {
    1
}

/// One step of a thread. `page` and `word` address the process's region.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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
    /// mmap (MAP_FIXED) of `pages` pages at page `page` of the region: private anonymous, shared
    /// anonymous (`shared`, no `file`), or file `file` from its page `offset`, shared or private.
    Mmap {
        page: u64,
        #[serde(default = "one_u64")]
        pages: u64,
        #[serde(default)]
        shared: bool,
        file: Option<String>,
        #[serde(default)]
        offset: u64,
        #[serde(default = "readwrite")]
        prot: ProtName,
    },
    /// mmap (MAP_FIXED) of the GRU device over `pages` pages at page `page` of the region: GRU
    /// space, `VM_IO | VM_PFNMAP`.
    MmapGru {
        page: u64,
        #[serde(default = "one_u64")]
        pages: u64,
    },
    /// pwrite of `value` to word `word` of page `page` of file `file`.
    Pwrite { file: String, page: u64, #[serde(default)] word: u64, value: u64 },
    /// pread of word `word` of page `page` of file `file`, checked against the oracle.
    Pread { file: String, page: u64, #[serde(default)] word: u64 },
    /// msync(MS_SYNC) of `pages` pages from `page` of the region.
    Msync { page: u64, #[serde(default = "one_u64")] pages: u64 },
    /// Write back every dirty page of file `file` (the flusher).
    Writeback { file: String },
    /// truncate file `file` to `pages` pages.
    Truncate { file: String, pages: u64 },
    /// Punch a hole of `pages` pages from page `page` in file `file`.
    PunchHole { file: String, page: u64, #[serde(default = "one_u64")] pages: u64 },
}

fn readwrite() -> ProtName {
    ProtName::Readwrite
}

/// What a step may state about its outcome, by kind:
///
/// | step | fields |
/// |---|---|
/// | `gru_load`, `gru_issue`, `call_os` | `value`, `status`, `cause`, `errno` |
/// | `gru_store` | `status`, `cause`, `errno` |
/// | `cpu_load`, `pread` | `value`, `errno` |
/// | `reclaim_age` | `young`, `errno` |
/// | every other step but `sleep`, `signal`, `wait` | `errno` |
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The value loaded (status ok).
    pub value: Option<u64>,
    /// How the CB completed.
    pub status: Option<CbStatusName>,
    /// The TFH cause of an EXCEPTION or CALL_OS completion.
    pub cause: Option<u8>,
    /// The step fails with this error.
    pub errno: Option<Errno>,
    /// What reclaim aging answered.
    pub young: Option<bool>,
}

/// How a CB completed (the CB istatus).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CbStatusName {
    /// IDLE: done.
    Ok,
    /// EXCEPTION.
    Exception,
    /// CALL_OS: the miss waits for the driver.
    CallOs,
}

impl CbStatusName {
    /// The status code on the CB port.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Exception => 1,
            Self::CallOs => 3,
        }
    }
}

/// The error kinds a step can fail with, one per kind of failure (golden/scenarios/README.md
/// has the table).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
pub enum Errno {
    /// Invalid argument: a range beyond the address space, empty or unaligned.
    EINVAL,
    /// Part of the range is not mapped.
    ENOMEM,
    /// Segmentation fault: no VMA, or its protection forbids the access.
    EFAULT,
    /// No free physical frame.
    OOM,
    /// No free swap slot, or no free GRU context on the chiplet.
    ENOSPC,
    /// The page or a lock is busy, or an unload refused while a fault is pending.
    EBUSY,
    /// The page does not qualify for the operation (a daemon would skip it).
    EAGAIN,
    /// The operation does not exist in the scenario's era.
    ENOSYS,
    /// Bus error: a file page beyond the end of the file.
    SIGBUS,
    /// The process has exited.
    ESRCH,
    /// The context is already loaded.
    EEXIST,
    /// The context is not loaded.
    ENOENT,
    /// A CB did not complete in time.
    ETIMEDOUT,
    /// The hardware or the driver failed (MMIO error, a handle stuck or failed), or a check
    /// inside the kernel model.
    EIO,
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Advice of a madvise step.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AdviceName {
    /// MADV_DONTNEED.
    Dontneed,
    /// MADV_FREE.
    Free,
}

/// Protection of an mprotect or mmap step.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProtName {
    /// PROT_NONE.
    None,
    /// PROT_READ.
    Read,
    /// PROT_READ|PROT_WRITE.
    Readwrite,
}

impl Step {
    /// The step's `op`.
    pub fn op(&self) -> &'static str {
        match self {
            Step::GruLoad { .. } => "gru_load",
            Step::GruStore { .. } => "gru_store",
            Step::CpuLoad { .. } => "cpu_load",
            Step::CpuStore { .. } => "cpu_store",
            Step::Munmap { .. } => "munmap",
            Step::Mprotect { .. } => "mprotect",
            Step::Fork { .. } => "fork",
            Step::Madvise { .. } => "madvise",
            Step::ReclaimAge { .. } => "reclaim_age",
            Step::SwapOut { .. } => "swap_out",
            Step::Migrate { .. } => "migrate",
            Step::KsmMerge { .. } => "ksm_merge",
            Step::ThpSplit => "thp_split",
            Step::ThpCollapse => "thp_collapse",
            Step::Mremap { .. } => "mremap",
            Step::Exit => "exit",
            Step::GruIssue { .. } => "gru_issue",
            Step::CallOs { .. } => "call_os",
            Step::Unload => "unload",
            Step::Load => "load",
            Step::Sleep { .. } => "sleep",
            Step::Signal { .. } => "signal",
            Step::Wait { .. } => "wait",
            Step::Mmap { .. } => "mmap",
            Step::MmapGru { .. } => "mmap_gru",
            Step::Pwrite { .. } => "pwrite",
            Step::Pread { .. } => "pread",
            Step::Msync { .. } => "msync",
            Step::Writeback { .. } => "writeback",
            Step::Truncate { .. } => "truncate",
            Step::PunchHole { .. } => "punch_hole",
        }
    }

    /// The `expect` fields this kind of step can state.
    pub fn expect_fields(&self) -> &'static [&'static str] {
        match self {
            Step::GruLoad { .. } | Step::GruIssue { .. } | Step::CallOs { .. } => &["value", "status", "cause", "errno"],
            Step::GruStore { .. } => &["status", "cause", "errno"],
            Step::CpuLoad { .. } | Step::Pread { .. } => &["value", "errno"],
            Step::ReclaimAge { .. } => &["young", "errno"],
            Step::Sleep { .. } | Step::Signal { .. } | Step::Wait { .. } => &[],
            _ => &["errno"],
        }
    }

    /// A CB step: its outcome is a CB completion.
    pub fn is_cb(&self) -> bool {
        matches!(self, Step::GruLoad { .. } | Step::GruStore { .. } | Step::GruIssue { .. } | Step::CallOs { .. })
    }

    /// The CB a CB step uses.
    pub fn cb(&self) -> Option<u8> {
        match self {
            Step::GruLoad { cb, .. } | Step::GruStore { cb, .. } | Step::GruIssue { cb, .. } | Step::CallOs { cb } => Some(*cb),
            _ => None,
        }
    }

    /// The file a file step names.
    pub fn file(&self) -> Option<&str> {
        match self {
            Step::Mmap { file, .. } => file.as_deref(),
            Step::Pwrite { file, .. } | Step::Pread { file, .. } | Step::Writeback { file } | Step::Truncate { file, .. } | Step::PunchHole { file, .. } => Some(file),
            _ => None,
        }
    }

    /// A step that needs the thread's GRU context.
    pub fn needs_context(&self) -> bool {
        self.is_cb() || matches!(self, Step::Unload | Step::Load)
    }
}

impl Expect {
    /// The fields that are set.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.value.is_some() {
            v.push("value");
        }
        if self.status.is_some() {
            v.push("status");
        }
        if self.cause.is_some() {
            v.push("cause");
        }
        if self.errno.is_some() {
            v.push("errno");
        }
        if self.young.is_some() {
            v.push("young");
        }
        v
    }
}

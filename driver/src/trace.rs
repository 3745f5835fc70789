//! The semantic event log: scheduling, notifier calls, PTE changes, TLB flushes and frame
//! frees, each stamped with the cycle and CPU. Golden traces are rendered from it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::kernel::{Clock, TaskId};
use crate::mm::{FileId, MmId, Pfn, Pte, Slot};
use crate::notifier::NotifierCall;

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TraceEvent {
    /// A thread was created.
    Spawn { task: TaskId, name: String },
    /// A CPU switched to a thread.
    Run { task: TaskId },
    /// A thread finished.
    Exit { task: TaskId },
    /// An interrupt handler started, preempting whatever ran on the CPU.
    IrqEnter { line: u32, task: TaskId },
    /// An interrupt handler finished.
    IrqExit { task: TaskId },
    /// An interrupt arrived on a line with no handler.
    SpuriousIrq { line: u32 },
    /// A memory-management operation began.
    Op { mm: MmId, op: String },
    /// A notifier callback was invoked (recorded by the recording notifier).
    Notifier {
        notifier: String,
        mm: MmId,
        call: NotifierCall,
    },
    /// A page-table entry changed (`huge`: a 2M leaf).
    Pte {
        mm: MmId,
        va: u64,
        huge: bool,
        old: Pte,
        new: Pte,
    },
    /// A 2M leaf became a table of 512 4K PTEs mapping the same frames, bits kept.
    PteTable { mm: MmId, va: u64, pfn: Pfn },
    /// The CPUs' TLBs were flushed for `[start, end)`.
    Flush { mm: MmId, start: u64, end: u64 },
    /// A VMA was created.
    VmaMap {
        mm: MmId,
        start: u64,
        end: u64,
        prot: String,
    },
    /// VMAs were removed from `[start, end)`.
    VmaUnmap { mm: MmId, start: u64, end: u64 },
    /// Frames were allocated.
    Alloc { pfn: Pfn, pages: u32 },
    /// Page contents were copied.
    Copy { from: Pfn, to: Pfn, pages: u32 },
    /// References to frames were dropped without freeing them.
    Put { pfn: Pfn, pages: u32, refcount: u32 },
    /// Frames were freed (their generation bumped).
    Free { pfn: Pfn, pages: u32 },
    /// A page was written to swap.
    Writeback { pfn: Pfn, slot: Slot },
    /// A page was read from swap.
    SwapIn { slot: Slot, pfn: Pfn },
    /// Lazily freed page contents were discarded by reclaim.
    Discard { mm: MmId, va: u64 },
    /// A page entered a file's page cache, read from the backing store or zero.
    CacheAdd { file: FileId, index: u64, pfn: Pfn, read: bool },
    /// A page left a file's page cache (reclaim, truncate, hole punch).
    CacheDrop { file: FileId, index: u64, pfn: Pfn },
    /// A dirty file page was written to the backing store.
    FileWrite { file: FileId, index: u64, pfn: Pfn },
    /// A word of a file was written (`pwrite`) or read (`pread`) through the page cache.
    FileIo { file: FileId, offset: u64, write: bool, value: u64 },
}

impl TraceEvent {
    /// A CPU switching tasks or entering/leaving an interrupt handler: no work by itself.
    pub fn is_switch(&self) -> bool {
        matches!(self, TraceEvent::Run { .. } | TraceEvent::IrqEnter { .. } | TraceEvent::IrqExit { .. } | TraceEvent::SpuriousIrq { .. })
    }
}

/// A stamped event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Cycle of the event.
    pub cycle: u64,
    /// CPU it happened on (none outside task context).
    pub cpu: Option<u32>,
    /// What happened.
    pub event: TraceEvent,
}

/// Called with every record as it is logged.
pub type TraceObserver = Box<dyn FnMut(&Record)>;

/// The shared log (cheap to clone).
#[derive(Clone)]
pub struct Trace {
    records: Rc<RefCell<Vec<Record>>>,
    clock: Clock,
    cpu: Rc<Cell<Option<u32>>>,
    observer: Rc<RefCell<Option<TraceObserver>>>,
}

impl Trace {
    pub(crate) fn new(clock: Clock, cpu: Rc<Cell<Option<u32>>>) -> Self {
        Self {
            records: Rc::default(),
            clock,
            cpu,
            observer: Rc::default(),
        }
    }

    /// Show every record to `f` as it is logged (replacing any previous observer), e.g. to
    /// put software events on a waveform's time axis.
    pub fn set_observer(&self, f: TraceObserver) {
        *self.observer.borrow_mut() = Some(f);
    }

    /// How many records from index `from` on are not scheduling (a CPU switching tasks, an
    /// interrupt entering or leaving): a task polling in a loop makes only those.
    pub fn work_since(&self, from: usize) -> usize {
        self.records.borrow().get(from..).map_or(0, |r| r.iter().filter(|r| !r.event.is_switch()).count())
    }

    /// Append an event on the CPU currently running.
    pub fn push(&self, event: TraceEvent) {
        self.append(Record {
            cycle: self.clock.now(),
            cpu: self.cpu.get(),
            event,
        });
    }

    pub(crate) fn push_on(&self, cpu: usize, event: TraceEvent) {
        self.append(Record {
            cycle: self.clock.now(),
            cpu: Some(cpu as u32),
            event,
        });
    }

    fn append(&self, record: Record) {
        if let Some(f) = self.observer.borrow_mut().as_mut() {
            f(&record);
        }
        self.records.borrow_mut().push(record);
    }

    /// Number of records so far (a mark for [`Trace::render_since`]).
    pub fn len(&self) -> usize {
        self.records.borrow().len()
    }

    /// Whether nothing was logged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of all records.
    pub fn records(&self) -> Vec<Record> {
        self.records.borrow().clone()
    }

    /// The whole log as JSON lines, for byte-exact comparison and replay.
    pub fn to_json_lines(&self) -> String {
        self.records
            .borrow()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
            .collect()
    }

    /// One line per record from index `from` on, leaving out scheduling events: the form of
    /// the golden traces.
    pub fn render_since(&self, from: usize) -> String {
        self.records
            .borrow()
            .iter()
            .skip(from)
            .filter(|r| !r.event.is_scheduling())
            .map(|r| format!("{r}\n"))
            .collect()
    }
}

impl TraceEvent {
    /// Scheduling noise that golden traces of memory operations leave out.
    pub fn is_scheduling(&self) -> bool {
        matches!(
            self,
            Self::Spawn { .. } | Self::Run { .. } | Self::Exit { .. }
        )
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cpu {
            Some(cpu) => write!(f, "{:>7} cpu{cpu} {}", self.cycle, self.event),
            None => write!(f, "{:>7} ---- {}", self.cycle, self.event),
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn { task, name } => write!(f, "spawn task{} {name}", task.0),
            Self::Run { task } => write!(f, "run task{}", task.0),
            Self::Exit { task } => write!(f, "exit task{}", task.0),
            Self::IrqEnter { line, task } => write!(f, "irq{line} enter task{}", task.0),
            Self::IrqExit { task } => write!(f, "irq exit task{}", task.0),
            Self::SpuriousIrq { line } => write!(f, "irq{line} spurious"),
            Self::Op { mm, op } => write!(f, "== {mm} {op}"),
            Self::Notifier { notifier, mm, call } => write!(f, "{notifier}: {mm} {call}"),
            Self::Pte {
                mm,
                va,
                huge,
                old,
                new,
            } => {
                let level = if *huge { "pmd" } else { "pte" };
                write!(f, "{level} {mm} {va:#x}: {old} -> {new}")
            }
            Self::PteTable { mm, va, pfn } => {
                write!(
                    f,
                    "pmd {mm} {va:#x}: huge -> table of 512 ptes (pfn {pfn:#x}..)"
                )
            }
            Self::Flush { mm, start, end } => write!(f, "tlb flush {mm} [{start:#x}, {end:#x})"),
            Self::VmaMap {
                mm,
                start,
                end,
                prot,
            } => write!(f, "vma {mm} [{start:#x}, {end:#x}) {prot}"),
            Self::VmaUnmap { mm, start, end } => {
                write!(f, "vma {mm} [{start:#x}, {end:#x}) removed")
            }
            Self::Alloc { pfn, pages } => write!(f, "alloc pfn {pfn:#x} x{pages}"),
            Self::Copy { from, to, pages } => write!(f, "copy pfn {from:#x} -> {to:#x} x{pages}"),
            Self::Put {
                pfn,
                pages,
                refcount,
            } => write!(f, "put pfn {pfn:#x} x{pages} (ref {refcount})"),
            Self::Free { pfn, pages } => write!(f, "free pfn {pfn:#x} x{pages}"),
            Self::Writeback { pfn, slot } => write!(f, "writeback pfn {pfn:#x} -> slot {slot}"),
            Self::SwapIn { slot, pfn } => write!(f, "swapin slot {slot} -> pfn {pfn:#x}"),
            Self::Discard { mm, va } => write!(f, "discard {mm} {va:#x} (lazyfree, clean)"),
            Self::CacheAdd { file, index, pfn, read } => {
                write!(f, "page cache {file}[{index}] <- pfn {pfn:#x} ({})", if *read { "read" } else { "zero" })
            }
            Self::CacheDrop { file, index, pfn } => write!(f, "page cache {file}[{index}] dropped pfn {pfn:#x}"),
            Self::FileWrite { file, index, pfn } => write!(f, "writeback pfn {pfn:#x} -> {file}[{index}]"),
            Self::FileIo { file, offset, write, value } => {
                let (op, arrow) = if *write { ("pwrite", ":=") } else { ("pread", "=") };
                write!(f, "{op} {file} {offset:#x} {arrow} {value:#x}")
            }
        }
    }
}

//! The deterministic executor: simulated CPUs running async tasks, cycle by cycle.
//!
//! Every await point of a task reports what it costs (see [`super::Await`]). A CPU that is not
//! busy polls its task once more; an idle CPU takes a runnable thread chosen by the seeded RNG;
//! a pending interrupt preempts the thread at an await point chosen by the same RNG. The hardware
//! is ticked once per cycle before software runs, so the same seed gives the same trace.
//! A task that busy-waits with [`AtomicCtx::spin_until`](super::AtomicCtx::spin_until) (an MMIO
//! response not yet visible) is chosen every cycle as if it were polled — the same draws, the
//! same busy cycles — but its future is not polled before the cycle it named.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::clock::Clock;
use super::irq::IrqLevels;
use super::context::{IrqCtx, ProcCtx};
use super::cost;
use super::cpu::Cpu;
use super::irq::Hardware;
use crate::trace::{Trace, TraceEvent};

/// A task's identity, unique for the kernel's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TaskId(pub u64);

/// What a task's await point asked of the executor.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Stay on the CPU, busy for this many cycles.
    Busy(u64),
    /// `Busy(1)`, and a promise that polling the task before this cycle would just spin again
    /// (`Busy(1)` with no other effect): the executor skips those polls.
    Spin(u64),
    /// Leave the CPU until woken.
    Block,
    /// Leave the CPU until the given cycle.
    Sleep(u64),
    /// Leave the CPU and go back to the run queue.
    Yield,
}

/// Executor configuration.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// Number of simulated CPUs.
    pub num_cpus: usize,
    /// The seed of every scheduling choice.
    pub seed: u64,
    /// Chance, in percent, that a pending interrupt preempts a thread at a given await point.
    pub irq_preempt_percent: u32,
}

impl Default for KernelConfig {
    fn default() -> Self {
        Self {
            num_cpus: 4,
            seed: 0,
            irq_preempt_percent: 50,
        }
    }
}

/// Errors of running the kernel.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelError {
    /// Every remaining task is blocked and nothing can wake it.
    #[error("deadlock at cycle {cycle}: blocked tasks {tasks:?}")]
    Deadlock {
        /// When it was detected.
        cycle: u64,
        /// Names of the blocked tasks.
        tasks: Vec<String>,
    },
    /// The cycle limit passed with tasks still alive.
    #[error("timeout at cycle {cycle}: tasks still alive {tasks:?}")]
    Timeout {
        /// The limit.
        cycle: u64,
        /// Names of the live tasks.
        tasks: Vec<String>,
    },
    /// An IRQ routed to a CPU that does not exist.
    #[error("CPU {cpu} does not exist (the kernel has {num_cpus})")]
    NoSuchCpu {
        /// The requested CPU.
        cpu: usize,
        /// How many there are.
        num_cpus: usize,
    },
}

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;
type IrqHandler = Rc<dyn Fn(IrqCtx) -> BoxFuture>;

#[derive(Debug, PartialEq, Eq)]
enum State {
    Runnable,
    OnCpu,
    Blocked,
    Sleeping,
}

struct Task {
    name: String,
    fut: Option<BoxFuture>,
    state: State,
    /// Polling the task before this cycle would only spin one more cycle ([`Outcome::Spin`]).
    spin_until: u64,
}

struct Sched {
    rng: ChaCha8Rng,
    next_task: u64,
    tasks: BTreeMap<TaskId, Task>,
    runnable: Vec<TaskId>,
    sleepers: BTreeSet<(u64, TaskId)>,
    cpus: Vec<Cpu>,
    pending: Vec<VecDeque<u32>>,
    prev_lines: IrqLevels,
    handlers: BTreeMap<u32, IrqHandler>,
    affinity: BTreeMap<u32, usize>,
    polls: PollCounts,
    /// Skip the polls of spinning tasks (off: poll them every cycle, for comparison).
    skip_spins: bool,
}

/// How often the executor polled task futures, and how many polls of spinning tasks it
/// skipped (tasks spinning on an MMIO response not yet visible).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PollCounts {
    /// Futures polled.
    pub polled: u64,
    /// Polls skipped because the task was spinning until a later cycle.
    pub skipped: u64,
}

struct Inner {
    cfg: KernelConfig,
    clock: Clock,
    trace: Trace,
    current_cpu: Rc<Cell<Option<u32>>>,
    /// The task being polled now.
    current_task: Cell<Option<TaskId>>,
    outcome: Cell<Option<Outcome>>,
    sched: RefCell<Sched>,
}

/// Handle to the simulated kernel runtime (cheap to clone; single-threaded).
#[derive(Clone)]
pub struct Kernel(Rc<Inner>);

impl Kernel {
    /// A kernel with its own clock at cycle 0.
    pub fn new(mut cfg: KernelConfig) -> Self {
        cfg.num_cpus = cfg.num_cpus.max(1);
        let clock = Clock::new();
        let current_cpu = Rc::new(Cell::new(None));
        let trace = Trace::new(clock.clone(), current_cpu.clone());
        let sched = Sched {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            next_task: 1,
            tasks: BTreeMap::new(),
            runnable: Vec::new(),
            sleepers: BTreeSet::new(),
            cpus: (0..cfg.num_cpus).map(|_| Cpu::default()).collect(),
            pending: vec![VecDeque::new(); cfg.num_cpus],
            prev_lines: IrqLevels::default(),
            handlers: BTreeMap::new(),
            affinity: BTreeMap::new(),
            polls: PollCounts::default(),
            skip_spins: true,
        };
        Kernel(Rc::new(Inner {
            cfg,
            clock,
            trace,
            current_cpu,
            current_task: Cell::new(None),
            outcome: Cell::new(None),
            sched: RefCell::new(sched),
        }))
    }

    /// The shared cycle clock.
    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// The current cycle.
    pub fn now(&self) -> u64 {
        self.0.clock.now()
    }

    /// The event log.
    pub fn trace(&self) -> &Trace {
        &self.0.trace
    }

    /// The seed of this run, for error reports.
    pub fn seed(&self) -> u64 {
        self.0.cfg.seed
    }

    /// Number of CPUs.
    pub fn num_cpus(&self) -> usize {
        self.0.cfg.num_cpus
    }

    /// Start a thread in process context.
    pub fn spawn<F, Fut>(&self, name: &str, body: F) -> TaskId
    where
        F: FnOnce(ProcCtx) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let id = self.new_task_id();
        let fut: BoxFuture = Box::pin(body(ProcCtx::new(self.clone(), id)));
        let mut s = self.0.sched.borrow_mut();
        s.tasks.insert(
            id,
            Task {
                name: name.to_owned(),
                fut: Some(fut),
                state: State::Runnable,
                spin_until: 0,
            },
        );
        s.runnable.push(id);
        drop(s);
        self.0.trace.push(TraceEvent::Spawn {
            task: id,
            name: name.to_owned(),
        });
        id
    }

    /// Install the handler of IRQ `line`; each interrupt runs it as a fresh task in interrupt
    /// context on the line's CPU (by default `line % num_cpus`).
    pub fn request_irq<F, Fut>(&self, line: u32, handler: F)
    where
        F: Fn(IrqCtx) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let handler: IrqHandler = Rc::new(move |ctx| Box::pin(handler(ctx)) as BoxFuture);
        self.0.sched.borrow_mut().handlers.insert(line, handler);
    }

    /// Route IRQ `line` to `cpu`.
    pub fn set_irq_affinity(&self, line: u32, cpu: usize) -> Result<(), KernelError> {
        if cpu >= self.num_cpus() {
            return Err(KernelError::NoSuchCpu {
                cpu,
                num_cpus: self.num_cpus(),
            });
        }
        self.0.sched.borrow_mut().affinity.insert(line, cpu);
        Ok(())
    }

    /// Raise IRQ `line` from software (an IPI-like kick; hardware uses [`Hardware::irq_levels`]).
    pub fn raise_irq(&self, line: u32) {
        let mut s = self.0.sched.borrow_mut();
        let cpu = s
            .affinity
            .get(&line)
            .copied()
            .unwrap_or(line as usize % self.0.cfg.num_cpus);
        s.pending[cpu].push_back(line);
    }

    /// Make a blocked task runnable again; a no-op for a task that is not blocked.
    pub fn wake(&self, task: TaskId) {
        let mut s = self.0.sched.borrow_mut();
        if let Some(t) = s.tasks.get_mut(&task) {
            if t.state == State::Blocked {
                t.state = State::Runnable;
                s.runnable.push(task);
            }
        }
    }

    /// Whether the task has finished (or never existed).
    pub fn is_finished(&self, task: TaskId) -> bool {
        !self.0.sched.borrow().tasks.contains_key(&task)
    }

    /// Whether polls of spinning tasks are skipped (the default) or done every cycle as
    /// before spinning tasks were skipped; a run is the same either way, only its cost differs.
    pub fn set_skip_spins(&self, on: bool) {
        self.0.sched.borrow_mut().skip_spins = on;
    }

    /// Task polls so far, and polls skipped for spinning tasks.
    pub fn polls(&self) -> PollCounts {
        self.0.sched.borrow().polls
    }

    /// Number of tasks not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.0.sched.borrow().tasks.len()
    }

    /// Where every live task is, for a hang report: each CPU's thread and interrupt handler,
    /// then the tasks off-CPU by state, e.g. `cpu0: irq "gru0.tfm2" over "a.t0"; blocked: "b.t1"`.
    pub fn task_report(&self) -> String {
        let s = self.0.sched.borrow();
        let name = |t: &TaskId| s.tasks.get(t).map_or_else(|| format!("{t:?}"), |t| format!("{:?}", t.name));
        let mut parts: Vec<String> = s
            .cpus
            .iter()
            .enumerate()
            .map(|(i, c)| match (c.irq.as_ref(), c.thread.as_ref()) {
                (Some(irq), Some(t)) => format!("cpu{i}: irq {} over {}", name(irq), name(t)),
                (Some(irq), None) => format!("cpu{i}: irq {}", name(irq)),
                (None, Some(t)) => format!("cpu{i}: {}", name(t)),
                (None, None) => format!("cpu{i}: idle"),
            })
            .collect();
        for (label, state) in [("runnable", State::Runnable), ("blocked", State::Blocked), ("sleeping", State::Sleeping)] {
            let names: Vec<String> = s.tasks.iter().filter(|(_, t)| t.state == state).map(|(id, _)| name(id)).collect();
            if !names.is_empty() {
                parts.push(format!("{label}: {}", names.join(", ")));
            }
        }
        parts.join("; ")
    }

    /// Advance one cycle: tick the hardware, take its interrupts, run every CPU.
    pub fn step(&self, hw: &mut dyn Hardware) {
        let now = self.now();
        hw.tick(now);
        self.sample_irq_lines(hw.irq_levels());
        self.wake_sleepers(now);
        for cpu in 0..self.0.cfg.num_cpus {
            self.run_cpu(cpu, now);
        }
        self.0.clock.set(now + 1);
    }

    /// Step until the clock reaches `cycle`.
    pub fn run_until(&self, cycle: u64, hw: &mut dyn Hardware) {
        while self.now() < cycle {
            if !hw.needs_every_cycle() {
                self.skip_idle_cycles(cycle);
                if self.now() >= cycle {
                    break;
                }
            }
            self.step(hw);
        }
    }

    /// Run until every task has finished; fail on a deadlock (hardware that needs no ticks
    /// can wake nobody) or when `max_cycles` pass.
    pub fn run(&self, hw: &mut dyn Hardware, max_cycles: u64) -> Result<(), KernelError> {
        let limit = self.now().saturating_add(max_cycles);
        while self.live_tasks() > 0 {
            if self.now() >= limit {
                return Err(KernelError::Timeout {
                    cycle: self.now(),
                    tasks: self.task_names(),
                });
            }
            if !hw.needs_every_cycle() {
                if self.next_event().is_none() {
                    return Err(KernelError::Deadlock {
                        cycle: self.now(),
                        tasks: self.task_names(),
                    });
                }
                self.skip_idle_cycles(limit);
            }
            self.step(hw);
        }
        Ok(())
    }

    pub(crate) fn set_outcome(&self, outcome: Outcome) {
        self.0.outcome.set(Some(outcome));
    }

    /// The task (thread or interrupt handler) being run now, if any: what a device sees as
    /// the issuer of a request made from it.
    pub fn current_task(&self) -> Option<TaskId> {
        self.0.current_task.get()
    }

    pub(crate) fn current_cpu(&self) -> Option<usize> {
        self.0.current_cpu.get().map(|c| c as usize)
    }

    /// `local_irq_save` on `cpu`.
    pub(crate) fn irq_disable(&self, cpu: usize) {
        self.0.sched.borrow_mut().cpus[cpu].irq_disabled += 1;
    }

    /// `local_irq_restore` on `cpu`.
    pub(crate) fn irq_enable(&self, cpu: usize) {
        let mut s = self.0.sched.borrow_mut();
        let c = &mut s.cpus[cpu];
        c.irq_disabled = c.irq_disabled.saturating_sub(1);
    }

    fn new_task_id(&self) -> TaskId {
        let mut s = self.0.sched.borrow_mut();
        let id = TaskId(s.next_task);
        s.next_task += 1;
        id
    }

    fn task_names(&self) -> Vec<String> {
        self.0
            .sched
            .borrow()
            .tasks
            .values()
            .map(|t| t.name.clone())
            .collect()
    }

    fn sample_irq_lines(&self, levels: IrqLevels) {
        let prev = std::mem::replace(&mut self.0.sched.borrow_mut().prev_lines, levels);
        for (w, (&now, &before)) in levels.iter().zip(&prev).enumerate() {
            let mut rising = now & !before;
            while rising != 0 {
                self.raise_irq((w * 64) as u32 + rising.trailing_zeros());
                rising &= rising - 1;
            }
        }
    }

    fn wake_sleepers(&self, now: u64) {
        let mut s = self.0.sched.borrow_mut();
        while let Some(&(until, task)) = s.sleepers.first() {
            if until > now {
                break;
            }
            s.sleepers.pop_first();
            if let Some(t) = s.tasks.get_mut(&task) {
                t.state = State::Runnable;
            }
            s.runnable.push(task);
        }
    }

    /// The next cycle at which any CPU can do something, if anything is left that can happen
    /// without hardware.
    fn next_event(&self) -> Option<u64> {
        let s = self.0.sched.borrow();
        let now = self.now();
        let cpu_ready = s.cpus.iter().enumerate().filter_map(|(i, c)| {
            // A task spinning until a later cycle is not polled before it (`skip_spin`), and
            // its CPU takes nothing else meanwhile unless an interrupt is pending.
            let spin = c.running().and_then(|t| s.tasks.get(&t)).map_or(0, |t| t.spin_until);
            let spinning = s.skip_spins && s.pending[i].is_empty() && spin > now;
            let work = c.running().is_some() || !s.runnable.is_empty() || !s.pending[i].is_empty();
            work.then_some(if spinning { c.busy_until.max(spin) } else { c.busy_until.max(now) })
        });
        let sleeper = s.sleepers.first().map(|&(until, _)| until.max(now));
        cpu_ready.chain(sleeper).min()
    }

    fn skip_idle_cycles(&self, limit: u64) {
        let now = self.now();
        let Some(next) = self.next_event().map(|n| n.min(limit)).filter(|&n| n > now) else {
            return;
        };
        // The polls a spinning task would have skipped in the cycles jumped over, counted as
        // if they had been stepped (`skip_spin` once a cycle from the CPU's busy end on).
        let mut s = self.0.sched.borrow_mut();
        let spun: u64 = s
            .cpus
            .iter()
            .filter(|c| s.skip_spins && c.running().and_then(|t| s.tasks.get(&t)).is_some_and(|t| t.spin_until > now))
            .map(|c| next.saturating_sub(c.busy_until.max(now)))
            .sum();
        s.polls.skipped += spun;
        drop(s);
        self.0.clock.set(next);
    }

    /// Poll the tasks of one CPU until it is busy or has nothing to do.
    fn run_cpu(&self, cpu: usize, now: u64) {
        loop {
            let Some(task) = self.choose(cpu, now) else {
                return;
            };
            if self.skip_spin(cpu, now, task) {
                continue;
            }
            let Some(mut fut) = self.take_future(task) else {
                return;
            };
            self.0.current_cpu.set(Some(cpu as u32));
            self.0.current_task.set(Some(task));
            self.0.outcome.set(None);
            let waker = noop_waker();
            let done = fut
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            self.0.current_cpu.set(None);
            self.0.current_task.set(None);
            self.settle(cpu, now, task, fut, done);
        }
    }

    /// Pick what `cpu` runs next: a newly delivered interrupt, the running task, or a runnable
    /// thread. `None` when the CPU is busy or idle.
    fn choose(&self, cpu: usize, now: u64) -> Option<TaskId> {
        let mut s = self.0.sched.borrow_mut();
        if s.cpus[cpu].busy_until > now {
            return None;
        }
        let c = &s.cpus[cpu];
        if c.irq.is_none() && c.irq_disabled == 0 && !s.pending[cpu].is_empty() {
            let thread_running = c.thread.is_some();
            let percent = self.0.cfg.irq_preempt_percent.min(100);
            let deliver = !thread_running || s.rng.gen_range(0..100) < percent;
            if deliver {
                let line = s.pending[cpu].pop_front().unwrap_or_default();
                if let Some(handler) = s.handlers.get(&line).cloned() {
                    let id = TaskId(s.next_task);
                    s.next_task += 1;
                    drop(s);
                    let fut = handler(IrqCtx::new(self.clone(), id, line));
                    let mut s = self.0.sched.borrow_mut();
                    let name = format!("irq{line}");
                    s.tasks.insert(
                        id,
                        Task {
                            name,
                            fut: Some(fut),
                            state: State::OnCpu,
                            spin_until: 0,
                        },
                    );
                    s.cpus[cpu].irq = Some(id);
                    s.cpus[cpu].busy_until = now + cost::IRQ_ENTRY;
                    drop(s);
                    self.0
                        .trace
                        .push_on(cpu, TraceEvent::IrqEnter { line, task: id });
                } else {
                    drop(s);
                    self.0.trace.push_on(cpu, TraceEvent::SpuriousIrq { line });
                }
                return None;
            }
        }
        if let Some(t) = s.cpus[cpu].running() {
            return Some(t);
        }
        if s.runnable.is_empty() {
            return None;
        }
        let len = s.runnable.len();
        let idx = s.rng.gen_range(0..len);
        let task = s.runnable.remove(idx);
        if let Some(t) = s.tasks.get_mut(&task) {
            t.state = State::OnCpu;
        }
        s.cpus[cpu].thread = Some(task);
        s.cpus[cpu].busy_until = now + cost::CONTEXT_SWITCH;
        drop(s);
        self.0.trace.push_on(cpu, TraceEvent::Run { task });
        None
    }

    /// A task spinning until a later cycle is not polled: it spins one more cycle, exactly what
    /// the poll would have done.
    fn skip_spin(&self, cpu: usize, now: u64, task: TaskId) -> bool {
        let mut s = self.0.sched.borrow_mut();
        if s.skip_spins && s.tasks.get(&task).is_some_and(|t| t.spin_until > now) {
            s.cpus[cpu].busy_until = now + 1;
            s.polls.skipped += 1;
            return true;
        }
        s.polls.polled += 1;
        false
    }

    fn take_future(&self, task: TaskId) -> Option<BoxFuture> {
        self.0
            .sched
            .borrow_mut()
            .tasks
            .get_mut(&task)
            .and_then(|t| t.fut.take())
    }

    /// Record the result of polling `task` on `cpu`.
    fn settle(&self, cpu: usize, now: u64, task: TaskId, fut: BoxFuture, done: bool) {
        let mut s = self.0.sched.borrow_mut();
        let is_irq = s.cpus[cpu].irq == Some(task);
        let leave_cpu = |s: &mut Sched| {
            if is_irq {
                s.cpus[cpu].irq = None;
            } else {
                s.cpus[cpu].thread = None;
            }
        };
        if done {
            s.tasks.remove(&task);
            leave_cpu(&mut s);
            drop(s);
            // Dropping the finished future may release guards that wake others: no borrow held.
            drop(fut);
            let ev = if is_irq {
                TraceEvent::IrqExit { task }
            } else {
                TraceEvent::Exit { task }
            };
            self.0.trace.push_on(cpu, ev);
            return;
        }
        // A thread's future that returned Pending without an await point of ours (a foreign
        // future) is treated as a yield so that it is polled again.
        let mut spin_until = 0;
        let outcome = match self.0.outcome.take() {
            // Interrupt handlers cannot leave their CPU; the types keep them from sleeping,
            // and a foreign Pending just costs a cycle.
            Some(Outcome::Busy(cycles)) => Outcome::Busy(cycles),
            Some(Outcome::Spin(until)) => {
                spin_until = until;
                Outcome::Busy(1)
            }
            _ if is_irq => Outcome::Busy(1),
            other => other.unwrap_or(Outcome::Yield),
        };
        if let Some(t) = s.tasks.get_mut(&task) {
            t.fut = Some(fut);
            t.spin_until = spin_until;
        }
        match outcome {
            Outcome::Busy(cycles) => s.cpus[cpu].busy_until = now + cycles,
            Outcome::Spin(_) => unreachable!("a spin is settled as Busy(1)"),
            Outcome::Block => {
                leave_cpu(&mut s);
                set_state(&mut s, task, State::Blocked);
            }
            Outcome::Sleep(until) => {
                leave_cpu(&mut s);
                set_state(&mut s, task, State::Sleeping);
                s.sleepers.insert((until, task));
            }
            Outcome::Yield => {
                leave_cpu(&mut s);
                set_state(&mut s, task, State::Runnable);
                s.runnable.push(task);
            }
        }
    }
}

fn set_state(s: &mut Sched, task: TaskId, state: State) {
    if let Some(t) = s.tasks.get_mut(&task) {
        t.state = state;
    }
}

/// The executor knows by itself when a task can make progress, so wakers do nothing.
fn noop_waker() -> Waker {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every vtable function ignores the data pointer, so a null pointer is valid.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

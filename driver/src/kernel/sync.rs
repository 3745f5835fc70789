//! Locks, wait queues and atomics, each acquisition an await point that costs cycles.
//!
//! The model is single-threaded and sequentially consistent: a barrier reorders nothing, it
//! costs cycles and marks where the driver orders its accesses, like the real code.

use std::cell::{Cell, RefCell, RefMut};
use std::ops::{Deref, DerefMut};

use super::context::{AtomicCtx, ProcCtx};
use super::cost;
use super::executor::{Kernel, TaskId};

/// A spinlock: waiting for it busy-waits on the CPU, one [`cost::SPIN_STEP`] per try.
#[derive(Debug, Default)]
pub struct SpinLock<T> {
    locked: Cell<bool>,
    data: RefCell<T>,
}

/// Holds a [`SpinLock`]; releases it (and restores interrupts if saved) on drop.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    data: RefMut<'a, T>,
    irq_saved: Option<(Kernel, usize)>,
}

impl<T> SpinLock<T> {
    /// A free lock around `data`.
    pub fn new(data: T) -> Self {
        Self {
            locked: Cell::new(false),
            data: RefCell::new(data),
        }
    }

    /// `spin_lock`: spin until the lock is free, then take it.
    pub async fn lock<'a>(&'a self, ctx: &AtomicCtx) -> SpinGuard<'a, T> {
        self.acquire(ctx, None).await
    }

    /// `spin_lock_irqsave`: disable interrupts on this CPU first, so that an interrupt handler
    /// taking the same lock cannot deadlock against the holder.
    pub async fn lock_irqsave<'a>(&'a self, ctx: &AtomicCtx) -> SpinGuard<'a, T> {
        let cpu = ctx.cpu();
        ctx.kernel().irq_disable(cpu);
        self.acquire(ctx, Some((ctx.kernel().clone(), cpu))).await
    }

    /// `spin_trylock`: take the lock if it is free.
    pub fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        if self.locked.get() {
            return None;
        }
        self.locked.set(true);
        Some(SpinGuard {
            lock: self,
            data: self.data.borrow_mut(),
            irq_saved: None,
        })
    }

    /// Whether some task holds the lock.
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    async fn acquire<'a>(
        &'a self,
        ctx: &AtomicCtx,
        irq_saved: Option<(Kernel, usize)>,
    ) -> SpinGuard<'a, T> {
        while self.locked.get() {
            ctx.cost(cost::SPIN_STEP).await;
        }
        self.locked.set(true);
        let guard = SpinGuard {
            lock: self,
            data: self.data.borrow_mut(),
            irq_saved,
        };
        ctx.cost(cost::LOCK).await;
        guard
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.set(false);
        if let Some((kernel, cpu)) = self.irq_saved.take() {
            kernel.irq_enable(cpu);
        }
    }
}

/// A wait queue of sleeping threads.
#[derive(Debug, Default)]
pub struct WaitQueue {
    waiters: RefCell<Vec<TaskId>>,
}

impl WaitQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// `wait_event`: sleep until `cond` holds (checked before sleeping and after every wake-up).
    pub async fn wait_event(&self, ctx: &ProcCtx, mut cond: impl FnMut() -> bool) {
        while !cond() {
            self.waiters.borrow_mut().push(ctx.task());
            ctx.block().await;
        }
    }

    /// `wake_up_all`.
    pub fn wake_all(&self, kernel: &Kernel) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for task in waiters {
            kernel.wake(task);
        }
    }

    /// Whether any thread is waiting.
    pub fn has_waiters(&self) -> bool {
        !self.waiters.borrow().is_empty()
    }
}

/// A read-write semaphore (`mmap_lock`). Sleeping acquisition needs process context;
/// [`RwSem::try_read`] works anywhere. A waiting writer blocks new readers, as in Linux.
#[derive(Debug, Default)]
pub struct RwSem {
    readers: Cell<u32>,
    writer: Cell<bool>,
    writers_waiting: Cell<u32>,
    wq: WaitQueue,
}

/// A held read side of an [`RwSem`].
pub struct ReadGuard<'a> {
    sem: &'a RwSem,
    kernel: Kernel,
}

/// A held write side of an [`RwSem`].
pub struct WriteGuard<'a> {
    sem: &'a RwSem,
    kernel: Kernel,
}

impl RwSem {
    /// A free semaphore.
    pub fn new() -> Self {
        Self::default()
    }

    /// `down_read`: may sleep.
    pub async fn read<'a>(&'a self, ctx: &ProcCtx) -> ReadGuard<'a> {
        ctx.cost(cost::LOCK).await;
        self.wq
            .wait_event(ctx, || {
                !self.writer.get() && self.writers_waiting.get() == 0
            })
            .await;
        self.readers.set(self.readers.get() + 1);
        ReadGuard {
            sem: self,
            kernel: ctx.kernel().clone(),
        }
    }

    /// `down_read_trylock`: never sleeps, so it is usable from interrupt context.
    pub fn try_read<'a>(&'a self, ctx: &AtomicCtx) -> Option<ReadGuard<'a>> {
        if self.writer.get() || self.writers_waiting.get() > 0 {
            return None;
        }
        self.readers.set(self.readers.get() + 1);
        Some(ReadGuard {
            sem: self,
            kernel: ctx.kernel().clone(),
        })
    }

    /// `down_write`: may sleep.
    pub async fn write<'a>(&'a self, ctx: &ProcCtx) -> WriteGuard<'a> {
        ctx.cost(cost::LOCK).await;
        self.writers_waiting.set(self.writers_waiting.get() + 1);
        self.wq
            .wait_event(ctx, || !self.writer.get() && self.readers.get() == 0)
            .await;
        self.writers_waiting.set(self.writers_waiting.get() - 1);
        self.writer.set(true);
        WriteGuard {
            sem: self,
            kernel: ctx.kernel().clone(),
        }
    }

    /// Whether `guard` holds this semaphore (a guard of another semaphore proves nothing).
    pub fn is_held_by(&self, guard: &ReadGuard<'_>) -> bool {
        std::ptr::eq(self, guard.sem)
    }

    /// Whether `guard` holds this semaphore for writing.
    pub fn is_write_held_by(&self, guard: &WriteGuard<'_>) -> bool {
        std::ptr::eq(self, guard.sem)
    }
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        self.sem.readers.set(self.sem.readers.get() - 1);
        self.sem.wq.wake_all(&self.kernel);
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.sem.writer.set(false);
        self.sem.wq.wake_all(&self.kernel);
    }
}

/// An `atomic_t`. Operations are single instructions: they cost no await point of their own.
#[derive(Debug, Default)]
pub struct Atomic(Cell<i64>);

impl Atomic {
    /// An atomic holding `v`.
    pub fn new(v: i64) -> Self {
        Self(Cell::new(v))
    }
    /// `atomic_read`.
    pub fn read(&self) -> i64 {
        self.0.get()
    }
    /// `atomic_set`.
    pub fn set(&self, v: i64) {
        self.0.set(v);
    }
    /// `atomic_add_return`.
    pub fn add_return(&self, delta: i64) -> i64 {
        self.0.set(self.0.get() + delta);
        self.0.get()
    }
    /// `atomic_inc`.
    pub fn inc(&self) {
        self.add_return(1);
    }
    /// `atomic_dec`.
    pub fn dec(&self) {
        self.add_return(-1);
    }
    /// `atomic_dec_and_test`: true when the new value is zero.
    pub fn dec_and_test(&self) -> bool {
        self.add_return(-1) == 0
    }
    /// `atomic_cmpxchg`: returns the old value; stores `new` if it equalled `old`.
    pub fn cmpxchg(&self, old: i64, new: i64) -> i64 {
        let cur = self.0.get();
        if cur == old {
            self.0.set(new);
        }
        cur
    }
}

/// `smp_mb()`: a full barrier.
pub async fn smp_mb(ctx: &AtomicCtx) {
    ctx.cost(cost::BARRIER).await;
}

/// `smp_rmb()`: a read barrier.
pub async fn smp_rmb(ctx: &AtomicCtx) {
    ctx.cost(cost::BARRIER / 2).await;
}

/// `smp_wmb()`: a write barrier.
pub async fn smp_wmb(ctx: &AtomicCtx) {
    ctx.cost(cost::BARRIER / 2).await;
}

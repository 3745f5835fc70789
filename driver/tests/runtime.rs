//! The runtime's primitives: spinlock cost, rw-semaphore semantics, wait queues, interrupt
//! delivery and masking, deadlock detection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gru_driver::kernel::{
    smp_mb, Atomic, FakeIrqLines, Kernel, KernelConfig, KernelError, NoHardware, RwSem, SpinLock,
    WaitQueue,
};

fn kernel(cpus: usize) -> Kernel {
    Kernel::new(KernelConfig {
        num_cpus: cpus,
        seed: 3,
        ..KernelConfig::default()
    })
}

#[test]
fn contended_spinlock_busy_waits_for_the_holder() {
    let k = kernel(2);
    let lock = Rc::new(SpinLock::new(0u32));
    let acquired_at = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..2 {
        let (lock, at) = (lock.clone(), acquired_at.clone());
        k.spawn("spinner", move |ctx| async move {
            let mut g = lock.lock(&ctx).await;
            at.borrow_mut().push(ctx.now());
            *g += 1;
            ctx.cost(500).await;
        });
    }
    k.run(&mut NoHardware, 100_000).unwrap();
    let at = acquired_at.borrow();
    assert_eq!(*lock.try_lock().unwrap(), 2);
    assert!(
        at[1] >= at[0] + 500,
        "second holder waited for the first: {at:?}"
    );
}

#[test]
fn rwsem_readers_share_writer_excludes_and_try_read_fails_under_writer() {
    let k = kernel(4);
    let sem = Rc::new(RwSem::new());
    let log = Rc::new(RefCell::new(Vec::new()));
    {
        let (sem, log) = (sem.clone(), log.clone());
        k.spawn("writer", move |ctx| async move {
            let _w = sem.write(&ctx).await;
            log.borrow_mut().push(format!(
                "try_read under writer: {}",
                sem.try_read(&ctx).is_some()
            ));
            ctx.cost(1000).await;
            log.borrow_mut().push("writer done".to_owned());
        });
    }
    k.run_until(200, &mut NoHardware);
    for i in 0..2 {
        let (sem, log) = (sem.clone(), log.clone());
        k.spawn("reader", move |ctx| async move {
            let _r = sem.read(&ctx).await;
            log.borrow_mut().push(format!("reader{i} in"));
            ctx.cost(100).await;
        });
    }
    k.run(&mut NoHardware, 100_000).unwrap();
    let log = log.borrow();
    assert_eq!(log[0], "try_read under writer: false");
    assert_eq!(log[1], "writer done");
    assert_eq!(log.len(), 4);
}

#[test]
fn wait_queue_sleeps_until_woken() {
    let k = kernel(2);
    let wq = Rc::new(WaitQueue::new());
    let flag = Rc::new(Atomic::new(0));
    let woke_at = Rc::new(Cell::new(0));
    {
        let (wq, flag, woke_at) = (wq.clone(), flag.clone(), woke_at.clone());
        k.spawn("waiter", move |ctx| async move {
            wq.wait_event(&ctx, || flag.read() != 0).await;
            woke_at.set(ctx.now());
        });
    }
    {
        let (wq, flag) = (wq.clone(), flag.clone());
        k.spawn("waker", move |ctx| async move {
            ctx.sleep(5000).await;
            flag.inc();
            smp_mb(&ctx).await;
            wq.wake_all(ctx.kernel());
        });
    }
    k.run(&mut NoHardware, 100_000).unwrap();
    assert!(woke_at.get() >= 5000);
}

#[test]
fn irqsave_holds_interrupts_pending_until_unlock() {
    let k = kernel(1);
    let lock = Rc::new(SpinLock::new(()));
    let released_at = Rc::new(Cell::new(0));
    let irq_at = Rc::new(Cell::new(0));
    {
        let irq_at = irq_at.clone();
        k.request_irq(0, move |ctx| {
            let irq_at = irq_at.clone();
            async move { irq_at.set(ctx.now()) }
        });
    }
    {
        let (lock, released_at) = (lock.clone(), released_at.clone());
        k.spawn("holder", move |ctx| async move {
            let g = lock.lock_irqsave(&ctx).await;
            for _ in 0..20 {
                ctx.cost(100).await;
            }
            released_at.set(ctx.now());
            drop(g);
            ctx.cost(100).await;
        });
    }
    let mut hw = FakeIrqLines::new([(500, 0)]);
    k.run(&mut hw, 100_000).unwrap();
    assert!(
        irq_at.get() >= released_at.get(),
        "irq at {} before unlock at {}",
        irq_at.get(),
        released_at.get()
    );
}

#[test]
fn all_blocked_is_a_deadlock_not_a_hang() {
    let k = kernel(2);
    let wq = Rc::new(WaitQueue::new());
    k.spawn("stuck", move |ctx| async move {
        wq.wait_event(&ctx, || false).await
    });
    let err = k.run(&mut NoHardware, 1_000_000).unwrap_err();
    assert!(
        matches!(err, KernelError::Deadlock { ref tasks, .. } if tasks == &["stuck".to_owned()]),
        "{err}"
    );
}

#[test]
fn irq_affinity_rejects_missing_cpu() {
    let k = kernel(2);
    assert!(k.set_irq_affinity(3, 1).is_ok());
    assert_eq!(
        k.set_irq_affinity(3, 2),
        Err(KernelError::NoSuchCpu {
            cpu: 2,
            num_cpus: 2
        })
    );
}

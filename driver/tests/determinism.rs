//! The same seed gives a byte-identical event log; different seeds interleave two threads and
//! an interrupt differently.

mod common;

use std::rc::Rc;

use common::Sim;
use gru_driver::kernel::FakeIrqLines;
use gru_driver::mm::ops;
use gru_driver::mm::{cpu_load, cpu_store, Prot};
use gru_driver::notifier::Era;
use gru_driver::trace::TraceEvent;

const A: u64 = 0x4000_0000;

/// Two threads storing, loading, swapping and yielding on two CPUs, and an interrupt line
/// pulsed three times. Returns the JSON event log.
fn run(seed: u64) -> (String, Vec<String>) {
    let sim = Sim::new(Era::Modern, seed, 2);
    let mm = sim.mmu.create_mm();
    let counter = Rc::new(std::cell::Cell::new(0u64));
    let irq_counter = counter.clone();
    sim.kernel.request_irq(0, move |ctx| {
        let counter = irq_counter.clone();
        async move {
            counter.set(counter.get() + 1);
            ctx.cost(30).await;
        }
    });
    sim.kernel.spawn("setup", {
        let mm = mm.clone();
        move |ctx| async move {
            ops::mmap(&ctx, &mm, Some(A), 0x8000, Prot::ReadWrite)
                .await
                .unwrap();
        }
    });
    sim.kernel
        .run(&mut gru_driver::kernel::NoHardware, 1_000_000)
        .unwrap();
    for t in 0..2u64 {
        let mm = mm.clone();
        sim.kernel
            .spawn(&format!("worker{t}"), move |ctx| async move {
                for i in 0..12u64 {
                    let va = A + (t * 4 + i % 4) * 0x1000;
                    cpu_store(&ctx, &mm, va, t << 32 | i).await.unwrap();
                    assert_eq!(cpu_load(&ctx, &mm, va).await.unwrap(), t << 32 | i);
                    if i % 5 == 4 {
                        let _ = ops::swap_out(&ctx, &mm, va).await;
                    }
                    ctx.yield_now().await;
                }
            });
    }
    let t0 = sim.kernel.now();
    let mut hw = FakeIrqLines::new([(t0 + 300, 0), (t0 + 900, 0), (t0 + 1500, 0)]);
    sim.kernel.run(&mut hw, 10_000_000).unwrap();
    assert_eq!(counter.get(), 3, "every pulse delivered once");
    let schedule = sim
        .kernel
        .trace()
        .records()
        .into_iter()
        .filter(|r| {
            matches!(
                r.event,
                TraceEvent::Run { .. } | TraceEvent::IrqEnter { .. }
            )
        })
        .map(|r| format!("{} cpu{:?} {}", r.cycle, r.cpu, r.event))
        .collect();
    (sim.kernel.trace().to_json_lines(), schedule)
}

#[test]
fn same_seed_gives_identical_log() {
    let (a, _) = run(7);
    let (b, _) = run(7);
    assert!(!a.is_empty());
    assert_eq!(a.as_bytes(), b.as_bytes());
}

#[test]
fn different_seeds_interleave_differently() {
    let (log1, sched1) = run(1);
    let (log2, sched2) = run(2);
    assert_ne!(
        sched1, sched2,
        "thread picks and interrupt preemption points must depend on the seed"
    );
    assert_ne!(log1, log2);
}

/// Three threads busy-waiting with `spin_until` (and yielding between waits) on two CPUs
/// while an interrupt pulses: the JSON log and the poll counts.
fn spin_run(seed: u64, skip: bool) -> (String, gru_driver::kernel::PollCounts) {
    let sim = Sim::new(Era::Modern, seed, 2);
    sim.kernel.set_skip_spins(skip);
    sim.kernel.request_irq(0, move |ctx| async move {
        // A handler spinning too: interrupt context may spin.
        let until = ctx.now() + 25;
        while ctx.now() < until {
            ctx.spin_until(until).await;
        }
    });
    for t in 0..3u64 {
        sim.kernel.spawn(&format!("spinner{t}"), move |ctx| async move {
            for i in 0..6u64 {
                let until = ctx.now() + 40 + 7 * t + i;
                while ctx.now() < until {
                    ctx.spin_until(until).await;
                }
                ctx.cost(3).await;
                ctx.yield_now().await;
            }
        });
    }
    let t0 = sim.kernel.now();
    let mut hw = FakeIrqLines::new([(t0 + 50, 0), (t0 + 130, 0), (t0 + 260, 0), (t0 + 400, 0)]);
    sim.kernel.run(&mut hw, 10_000_000).unwrap();
    (sim.kernel.trace().to_json_lines(), sim.kernel.polls())
}

#[test]
fn skipping_the_polls_of_spinning_tasks_changes_nothing_but_the_cost() {
    for seed in 1..=8 {
        let (skipped, with) = spin_run(seed, true);
        let (polled, without) = spin_run(seed, false);
        assert!(!skipped.is_empty());
        assert_eq!(skipped.as_bytes(), polled.as_bytes(), "seed {seed}: the same log");
        assert_eq!(without.skipped, 0);
        assert!(with.skipped > 100, "seed {seed}: {with:?}");
        assert_eq!(with.polled + with.skipped, without.polled, "seed {seed}: each skipped poll replaces one");
    }
}

//! The notifier chain's registration rule: a registration made while a range is between its
//! start and its end waits for the end, as `mmu_notifier_register` does (mmap_lock for writing
//! and `mm_take_all_locks`). Without the wait a counter like the GRU's `range_active` sees an
//! end with no start and stays negative, which once made the GRU fault path drop in only while
//! ranges were active (every dropin then stale: a livelock).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::Sim;
use gru_driver::kernel::ProcCtx;
use gru_driver::mm::MmId;
use gru_driver::notifier::{Era, Event, KFuture, MmuNotifier, Range, WouldBlock};

/// Counts ranges in progress as the GRU does, remembering the lowest value it reached.
#[derive(Default)]
struct Counter {
    active: Cell<i64>,
    lowest: Cell<i64>,
}

impl MmuNotifier for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn invalidate_range_start<'a>(&'a self, _ctx: &'a ProcCtx, _mm: MmId, _r: &'a Range) -> KFuture<'a, Result<(), WouldBlock>> {
        self.active.set(self.active.get() + 1);
        Box::pin(async { Ok(()) })
    }
    fn invalidate_range_end<'a>(&'a self, _ctx: &'a ProcCtx, _mm: MmId, _r: &'a Range) -> KFuture<'a, ()> {
        self.active.set(self.active.get() - 1);
        self.lowest.set(self.lowest.get().min(self.active.get()));
        Box::pin(async {})
    }
}

#[test]
fn a_registration_inside_a_range_waits_for_its_end() {
    let sim = Sim::new(Era::Modern, 1, 2);
    let mm = sim.mmu.create_mm();
    let counter = Rc::new(Counter::default());
    let ended_at = Rc::new(Cell::new(0));
    let registered_at = Rc::new(Cell::new(0));
    let (mm2, ended) = (mm.clone(), ended_at.clone());
    sim.kernel.spawn("invalidate", move |ctx| async move {
        let range = Range::new(Era::Modern, 0x1000, 0x2000, Event::Clear);
        mm2.notifiers().invalidate_range_start(&ctx, mm2.id(), &range).await.unwrap();
        ctx.sleep(1_000).await;
        ended.set(ctx.now());
        mm2.notifiers().invalidate_range_end(&ctx, mm2.id(), &range).await;
    });
    let (c, registered) = (counter.clone(), registered_at.clone());
    sim.run(move |ctx| async move {
        ctx.sleep(10).await;
        assert_eq!(mm.notifiers().ranges_in_progress(), 1, "the range is open when the registration starts");
        mm.notifiers().get(&ctx, "counter", || c as Rc<dyn MmuNotifier>).await;
        registered.set(ctx.now());
    });
    assert!(registered_at.get() >= ended_at.get(), "registered at {} inside the range ending at {}", registered_at.get(), ended_at.get());
    assert_eq!(counter.lowest.get(), 0, "the notifier saw an end without its start");
}

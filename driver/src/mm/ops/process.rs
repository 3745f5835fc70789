//! fork and exit.

use super::begin;
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::range_op;
use crate::mm::mm::{pages, set_entry, Mm, PtWork};
use crate::mm::pte::{Present, Pte};
use crate::mm::vma::Vma;
use crate::mm::{MmError, TASK_SIZE};
use crate::notifier::{Event, Range};
use crate::trace::TraceEvent;

/// `fork`: a child address space sharing every page copy-on-write. Per VMA that has pages
/// (Linux: an `anon_vma`), S(PROTECTION_PAGE, [vm_start, vm_end)) on the parent · write-protect
/// its PTEs and copy them to the child · E; the parent's TLB is flushed once at the end.
/// Notifiers are not inherited.
pub async fn fork(ctx: &ProcCtx, parent: &Mm) -> Result<Mm, MmError> {
    parent.check_live()?;
    begin(parent, "fork".to_owned());
    let _lock = parent.mmap_lock().write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    let mmu = parent.mmu();
    let child = mmu.create_mm();
    mmu.oracle().fork(parent.id(), child.id());
    let mut protected = false;
    for vma in parent.vmas() {
        child.state().vmas.insert(vma);
        mmu.trace().push(TraceEvent::VmaMap {
            mm: child.id(),
            start: vma.start,
            end: vma.end,
            prot: vma.label(),
        });
        if !vma.anon {
            continue;
        }
        let range = Range::new(mmu.era(), vma.start, vma.end, Event::ProtectionPage);
        protected |= range_op(ctx, parent, range, |w| copy_page_range(w, &child, vma)).await;
    }
    if protected {
        mmu.trace().push(TraceEvent::Flush {
            mm: parent.id(),
            start: 0,
            end: TASK_SIZE,
        });
        ctx.cost(cost::TLB_FLUSH).await;
    }
    Ok(child)
}

/// Copy one VMA's entries into the child; returns whether a parent PTE was write-protected.
fn copy_page_range(w: &mut PtWork<'_>, child: &Mm, vma: Vma) -> bool {
    let mut cst = child.state();
    let mut protected = false;
    for (va, pte, huge) in w.st.pt.leaves_in(vma.start, vma.end) {
        let copy = match pte {
            Pte::Present(p) => {
                if p.write {
                    w.set(va, huge, Pte::Present(Present { write: false, ..p }));
                    protected = true;
                }
                w.phys.get(p.pfn, pages(huge));
                w.phys.add_rmap(p.pfn, pages(huge), child.id(), va);
                Pte::Present(Present {
                    write: false,
                    young: false,
                    ..p
                })
            }
            Pte::Swap(slot) => {
                w.swap.dup(slot);
                pte
            }
            // Migration holds this mm's mmap_lock for reading; fork holds it for writing.
            Pte::Migration { .. } | Pte::None => continue,
        };
        set_entry(w.trace, &mut cst, child.id(), va, huge, copy);
    }
    protected
}

/// `exit_mmap`: R to every notifier first (after which none sees anything), then everything
/// unmapped — one S/E(UNMAP, [0, MAX)) that only notifiers registered later would see — and
/// freed. Threads using the mm must have stopped.
pub async fn exit_mm(ctx: &ProcCtx, mm: &Mm) -> Result<(), MmError> {
    mm.check_live()?;
    begin(mm, "exit".to_owned());
    mm.notifiers().release(ctx, mm.id()).await;
    let _lock = mm.mmap_lock().write(ctx).await;
    let range = Range::new(mm.mmu().era(), 0, u64::MAX, Event::Unmap);
    range_op(ctx, mm, range, |w| {
        w.zap(0, u64::MAX);
        w.st.vmas.remove(0, u64::MAX);
        w.st.exited = true;
        w.oracle.exit(w.mm);
        w.trace.push(TraceEvent::VmaUnmap {
            mm: w.mm,
            start: 0,
            end: TASK_SIZE,
        });
    })
    .await;
    mm.mmu().forget_mm(mm.id());
    Ok(())
}

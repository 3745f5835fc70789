//! mprotect.

use super::begin;
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{range_op, split_huge_edges};
use crate::mm::mm::{Mm, PtWork};
use crate::mm::pte::{Present, Pte};
use crate::mm::vma::Prot;
use crate::mm::{user_range, MmError, HPAGE_MASK};
use crate::notifier::{Era, Event, Range};
use crate::trace::TraceEvent;

/// `mprotect(start, len, prot)`: per VMA whose protection changes, S(PROTECTION_VMA) · rewrite
/// PTEs · flush · E. Modern kernels start the range lazily at the first populated PMD and skip
/// it when nothing is populated; classic kernels announce the whole VMA range.
pub async fn mprotect(
    ctx: &ProcCtx,
    mm: &Mm,
    start: u64,
    len: u64,
    prot: Prot,
) -> Result<(), MmError> {
    let end = user_range(start, len)?;
    mm.check_live()?;
    begin(mm, format!("mprotect [{start:#x}, {end:#x}) {prot}"));
    let _lock = mm.mmap_lock().write(ctx).await;
    ctx.cost(cost::SYSCALL).await;
    if !mm.state().vmas.covers(start, end) {
        return Err(MmError::NotMapped {
            mm: mm.id(),
            start,
            end,
        });
    }
    split_huge_edges(ctx, mm, start, end).await;
    let segments = {
        let mut st = mm.state();
        st.vmas.split_at(start);
        st.vmas.split_at(end);
        st.vmas.clipped(start, end)
    };
    let era = mm.mmu().era();
    for seg in segments.into_iter().filter(|v| v.prot != prot) {
        let first_populated = {
            let mut st = mm.state();
            if let Some(v) = st.vmas.find_mut(seg.start) {
                v.prot = prot;
            }
            let first_pte = st.pt.ptes_in(seg.start, seg.end).first().map(|&(a, _)| a);
            let first_pmd = st.pt.pmds_in(seg.start, seg.end).first().map(|&(a, _)| a);
            first_pte.into_iter().chain(first_pmd).min()
        };
        mm.mmu().trace().push(TraceEvent::VmaMap {
            mm: mm.id(),
            start: seg.start,
            end: seg.end,
            prot: crate::mm::Vma { prot, ..seg }.label(),
        });
        let range_start = match (era, first_populated) {
            (Era::Classic | Era::ClassicUnlocked, _) => seg.start,
            (Era::Modern, Some(first)) => (first & HPAGE_MASK).max(seg.start),
            (Era::Modern, None) => continue,
        };
        let range = Range::new(era, range_start, seg.end, Event::ProtectionVma);
        range_op(ctx, mm, range, |w| {
            change_protection(w, seg.start, seg.end, prot)
        })
        .await;
    }
    Ok(())
}

/// Rewrite present entries for `prot` (a private mapping never gains write here: the next
/// store faults and upgrades or copies), then flush before the range ends.
fn change_protection(w: &mut PtWork<'_>, start: u64, end: u64, prot: Prot) {
    let mut changed = false;
    for (va, pte, huge) in w.st.pt.leaves_in(start, end) {
        let Some(p) = pte.present() else { continue };
        let new = Present {
            write: p.write && prot.writable(),
            protnone: !prot.readable(),
            ..p
        };
        if new != p {
            w.set(va, huge, Pte::Present(new));
            changed = true;
        }
    }
    if changed {
        w.flush_now(start, end);
    }
}

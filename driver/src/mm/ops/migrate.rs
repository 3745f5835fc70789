//! Page migration.

use super::{anon_page_at, begin, isolate_page};
use crate::kernel::{cost, ProcCtx};
use crate::mm::invalidate::{replace_pte, Announce, Gather};
use crate::mm::mm::{Mm, PtWork};
use crate::mm::pte::{Present, Pte};
use crate::mm::{MmError, Pfn};
use crate::notifier::Event;

/// `migrate_pages` for the page mapped at `va`: per mapping, S(CLEAR, page) · clear + flush ·
/// migration entry · E (classic: clear + flush · P · migration entry); copy to a new frame; the
/// new PTEs go in with no callback (clean and old, writable if they were); the old frame is
/// freed. Faults on a migration entry wait. Returns the new frame.
pub async fn migrate(ctx: &ProcCtx, mm: &Mm, va: u64) -> Result<Pfn, MmError> {
    mm.check_live()?;
    let (pfn, huge) = anon_page_at(mm, va)?;
    begin(mm, format!("migrate pfn {pfn:#x}"));
    let mmu = mm.mmu();
    let mms = mmu.mappers(pfn);
    let _locks = isolate_page(ctx, mmu, pfn, huge, &mms).await?;
    let new = mmu.alloc_page()?;
    mmu.phys().get(pfn, 1);
    let mappings = mmu.phys().mappings(pfn).to_vec();
    let mut unmapped = Vec::new();
    for m in mappings {
        let Some(target) = mmu.mm(m.mm) else { continue };
        let entry = |_: &mut PtWork<'_>, p: Present| {
            Some(Pte::Migration {
                pfn,
                write: p.write,
            })
        };
        if let Some(old) =
            replace_pte(ctx, &target, m.va, pfn, Event::Clear, Announce::Page, entry).await
        {
            mmu.put_pages(pfn, 1);
            unmapped.push((target, m.va, old));
        }
    }
    mmu.phys().copy(pfn, new, 1);
    ctx.cost(cost::PAGE_COPY).await;
    {
        let mut phys = mmu.phys();
        let flags = phys.flags(pfn);
        *phys.flags_mut(new) = flags;
        let cache = phys.set_swap_cache(pfn, None);
        phys.set_swap_cache(new, cache);
    }
    for (target, va, old) in unmapped {
        let _ptl = target.ptl().lock(ctx).await;
        let mut gather = Gather::default();
        let mut w = target.work(&mut gather);
        if w.st.pt.pte(va)
            == (Pte::Migration {
                pfn,
                write: old.write,
            })
        {
            w.phys.get(new, 1);
            w.map(
                va,
                false,
                Present {
                    pfn: new,
                    dirty: false,
                    young: false,
                    ..old
                },
            );
        }
    }
    mmu.0.migration_wq.wake_all(ctx.kernel());
    mmu.put_pages(new, 1);
    mmu.put_pages(pfn, 1);
    Ok(new)
}

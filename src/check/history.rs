//! What failure reports tell of a page or a frame: its PTE now, the dropins that mapped it and
//! the frame's last events.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use gru_driver::mm::{Leaf, MmId, PAGE_SHIFT};

use super::Checker;

/// Events kept per frame and per virtual page for failure reports.
const HISTORY: usize = 8;

impl Checker {
    /// What is known of the page at `va` of `mm`: its PTE now, the frames dropped in for it
    /// and those frames' histories.
    pub(super) fn story(&self, mm: MmId, va: u64) -> String {
        let page = va >> PAGE_SHIFT << PAGE_SHIFT;
        let pte = self.mmu.mm(mm).and_then(|m| m.lookup(va)).map_or("none".to_owned(), |l| format!("{l:?}"));
        let mut out = format!("PTE of {page:#x}: {pte}");
        let dropins = self.pages.borrow().get(&page).cloned().unwrap_or_default();
        if !dropins.is_empty() {
            out += &format!("; dropins of {page:#x}: [{}]", dropins.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        let mut pfns: Vec<u64> = dropins.iter().filter_map(|d| d.rsplit("pfn ").next()?.split_whitespace().next()?.parse().ok()).collect();
        if let Some(Leaf::Pte(_, p) | Leaf::Pmd(_, p)) = self.mmu.mm(mm).and_then(|m| m.lookup(va)) {
            pfns.extend(p.present().map(|p| p.pfn));
        }
        pfns.sort_unstable();
        pfns.dedup();
        let frames = self.frames.borrow();
        for pfn in pfns {
            if let Some(h) = frames.get(&pfn) {
                out += &format!("; frame {pfn}: [{}]", h.iter().cloned().collect::<Vec<_>>().join(", "));
            }
        }
        out
    }

    pub(super) fn remember(map: &RefCell<HashMap<u64, VecDeque<String>>>, key: u64, what: String) {
        let mut m = map.borrow_mut();
        let h = m.entry(key).or_default();
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(what);
    }
}

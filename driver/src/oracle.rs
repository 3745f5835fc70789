//! The data oracle for CPU-only workloads: the value each word of each address space must
//! hold — the last value stored there, zero if never stored — copied at fork.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::mm::{MmId, PAGE_MASK};

/// A load returned something other than the last value stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data oracle: cycle {cycle}, {mm}, address {addr:#x}: expected {expected:#x}, loaded {actual:#x} (seed {seed})")]
pub struct OracleMismatch {
    /// When the load happened.
    pub cycle: u64,
    /// The address space.
    pub mm: MmId,
    /// The address loaded.
    pub addr: u64,
    /// What the program must see.
    pub expected: u64,
    /// What it saw.
    pub actual: u64,
    /// The run's seed, to replay it.
    pub seed: u64,
}

#[derive(Clone, Default)]
struct Space {
    words: HashMap<u64, u64>,
    /// Pages `MADV_FREE`d and not stored to since: the kernel may zero them.
    lazyfree: BTreeSet<u64>,
}

/// Expected memory contents per address space.
pub struct Oracle {
    seed: u64,
    spaces: BTreeMap<MmId, Space>,
    loads_checked: u64,
}

impl Oracle {
    /// An oracle for a run with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            spaces: BTreeMap::new(),
            loads_checked: 0,
        }
    }

    /// Number of loads checked so far.
    pub fn loads_checked(&self) -> u64 {
        self.loads_checked
    }

    /// A store of `value` at `addr`.
    pub fn store(&mut self, mm: MmId, addr: u64, value: u64) {
        let space = self.spaces.entry(mm).or_default();
        space.lazyfree.remove(&(addr & PAGE_MASK));
        space.words.insert(addr & !7, value);
    }

    /// Check a load of `actual` from `addr`.
    pub fn check_load(
        &mut self,
        cycle: u64,
        mm: MmId,
        addr: u64,
        actual: u64,
    ) -> Result<(), OracleMismatch> {
        self.loads_checked += 1;
        let expected = self.expected(mm, addr);
        if expected == actual {
            return Ok(());
        }
        Err(OracleMismatch {
            cycle,
            mm,
            addr,
            expected,
            actual,
            seed: self.seed,
        })
    }

    /// The value a load of `addr` must return.
    pub fn expected(&self, mm: MmId, addr: u64) -> u64 {
        self.spaces
            .get(&mm)
            .and_then(|s| s.words.get(&(addr & !7)).copied())
            .unwrap_or(0)
    }

    /// The child starts with a copy of the parent's memory.
    pub fn fork(&mut self, parent: MmId, child: MmId) {
        let copy = self.spaces.get(&parent).cloned().unwrap_or_default();
        self.spaces.insert(child, copy);
    }

    /// The address space is gone.
    pub fn exit(&mut self, mm: MmId) {
        self.spaces.remove(&mm);
    }

    /// `[start, end)` reads as zero from now on (unmapped, or `MADV_DONTNEED`).
    pub fn clear(&mut self, mm: MmId, start: u64, end: u64) {
        if let Some(s) = self.spaces.get_mut(&mm) {
            s.words.retain(|&a, _| a < start || a >= end);
            s.lazyfree.retain(|&p| p < start || p >= end);
        }
    }

    /// The page at `page` was `MADV_FREE`d by the kernel.
    pub fn lazyfree(&mut self, mm: MmId, page: u64) {
        self.spaces
            .entry(mm)
            .or_default()
            .lazyfree
            .insert(page & PAGE_MASK);
    }

    /// Reclaim discarded a lazily freed page: legal only if nothing was stored since.
    pub fn discard(&mut self, mm: MmId, page: u64) -> Result<(), String> {
        let page = page & PAGE_MASK;
        let lazy = self
            .spaces
            .get(&mm)
            .is_some_and(|s| s.lazyfree.contains(&page));
        if !lazy {
            return Err(format!(
                "{mm}: page {page:#x} discarded but it was written after MADV_FREE"
            ));
        }
        self.clear(mm, page, page + crate::mm::PAGE_SIZE);
        Ok(())
    }

    /// mremap moved `[old, old + len)` to `new`.
    pub fn relocate(&mut self, mm: MmId, old: u64, new: u64, len: u64) {
        let Some(s) = self.spaces.get_mut(&mm) else {
            return;
        };
        let moved: Vec<(u64, u64)> = s
            .words
            .iter()
            .filter(|(&a, _)| a >= old && a < old + len)
            .map(|(&a, &v)| (a, v))
            .collect();
        let lazy: Vec<u64> = s.lazyfree.range(old..old + len).copied().collect();
        s.words.retain(|&a, _| a < new || a >= new + len);
        s.lazyfree.retain(|&p| p < new || p >= new + len);
        for (a, _) in &moved {
            s.words.remove(a);
        }
        for p in &lazy {
            s.lazyfree.remove(p);
        }
        s.words
            .extend(moved.into_iter().map(|(a, v)| (a - old + new, v)));
        s.lazyfree.extend(lazy.into_iter().map(|p| p - old + new));
    }
}

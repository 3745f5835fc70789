//! The `files` workload's memory: each process's region is cut in four kinds, a quarter each —
//! private anonymous, shared anonymous (shmem), a shared mapping of the run's file and a private
//! mapping of it (region page `i` maps file page `i`, in every process) — and the file
//! operations its CPU threads add to the stress mix. Both processes map the one file, so
//! writeback, truncate and hole punch reach several address spaces and their GRU contexts.

use gru_driver::kernel::ProcCtx;
use gru_driver::mm::ops::{mmap, mmap_file, mmap_shared_anon, msync, pread, punch_hole, pwrite, truncate, writeback};
use gru_driver::mm::{Backing, FileId, Mm, MmError, Mmu, Prot, PAGE_SIZE};

/// The kind of memory of one page of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Private anonymous.
    Anon,
    /// Shared anonymous (shmem).
    Shmem,
    /// `MAP_SHARED` of the run's file.
    SharedFile,
    /// `MAP_PRIVATE` of the run's file.
    PrivateFile,
}

/// The run's file and how regions map it.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    file: FileId,
    pages: u64,
}

impl Layout {
    /// A file of `pages` pages for regions of `pages` pages.
    pub fn new(mmu: &Mmu, pages: u64) -> Self {
        Self { file: mmu.create_file(pages, false), pages }
    }

    /// The kind of region page `page`.
    pub fn kind(&self, page: u64) -> Kind {
        match page * 4 / self.pages.max(1) {
            0 => Kind::Anon,
            1 => Kind::Shmem,
            2 => Kind::SharedFile,
            _ => Kind::PrivateFile,
        }
    }

    /// Map pages `[first, first + n)` of the region at `base` as their kinds say (MAP_FIXED,
    /// one mapping per run of one kind).
    pub async fn remap(&self, ctx: &ProcCtx, mm: &Mm, base: u64, first: u64, n: u64) -> Result<(), MmError> {
        let mut page = first;
        while page < first + n {
            let kind = self.kind(page);
            let run = (page..first + n).take_while(|&p| self.kind(p) == kind).count() as u64;
            let (va, len) = (base + page * PAGE_SIZE, run * PAGE_SIZE);
            let file = |shared| Backing { file: self.file, pgoff: page, shared };
            match kind {
                Kind::Anon => mmap(ctx, mm, Some(va), len, Prot::ReadWrite).await.map(drop)?,
                Kind::Shmem => mmap_shared_anon(ctx, mm, Some(va), len, Prot::ReadWrite).await.map(drop)?,
                Kind::SharedFile => mmap_file(ctx, mm, Some(va), len, Prot::ReadWrite, file(true)).await.map(drop)?,
                Kind::PrivateFile => mmap_file(ctx, mm, Some(va), len, Prot::ReadWrite, file(false)).await.map(drop)?,
            }
            page += run;
        }
        Ok(())
    }

    /// Give the freshly mapped anonymous region at `base` its kinds.
    pub async fn map_region(&self, ctx: &ProcCtx, mm: &Mm, base: u64) -> Result<(), MmError> {
        let first_shared = (0..self.pages).find(|&p| self.kind(p) != Kind::Anon).unwrap_or(self.pages);
        self.remap(ctx, mm, base, first_shared, self.pages - first_shared).await
    }

    /// One file operation of a CPU thread, chosen by `what` (0..100), on region page `page`
    /// (`n` pages from it, at `va`), its own word `slot`: pwrite, pread, msync, the flusher,
    /// a truncate below the page and back, or a hole punch. Returns the operation's name and
    /// result.
    #[allow(clippy::too_many_arguments)]
    pub async fn op(&self, ctx: &ProcCtx, mm: &Mm, what: u32, page: u64, n: u64, va: u64, slot: u64, value: u64) -> (&'static str, Result<(), MmError>) {
        let offset = page * PAGE_SIZE + slot * 8;
        match what {
            0..=29 => ("pwrite", pwrite(ctx, mm, self.file, offset, value).await),
            30..=54 => ("pread", pread(ctx, mm, self.file, offset).await.map(drop)),
            55..=74 => ("msync", msync(ctx, mm, va, n * PAGE_SIZE).await.map(drop)),
            75..=89 => ("writeback", writeback(ctx, mm, self.file).await.map(drop)),
            90..=95 => ("truncate", async {
                truncate(ctx, mm, self.file, page).await?;
                ctx.sleep(300).await;
                truncate(ctx, mm, self.file, self.pages).await
            }.await),
            _ => ("punch_hole", punch_hole(ctx, mm, self.file, page, n).await),
        }
    }
}

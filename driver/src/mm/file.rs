//! Files and their page cache (`struct address_space`): each file has a size, the pages cached
//! in memory and the contents on its backing store. Shared anonymous memory is a shmem file,
//! as in Linux: it has no backing store and is never written back.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::kernel::RwSem;
use crate::mm::frame::PageData;
use crate::mm::Pfn;

/// A file's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub u32);

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file{}", self.0)
    }
}

/// One file.
pub(crate) struct File {
    /// Size in pages (`i_size` rounded up).
    pub size: u64,
    /// Shmem: no writeback, and shared mappings are writable from the first fault (no
    /// `page_mkwrite`, so Linux does not ask to be told of the first store).
    pub shmem: bool,
    /// The page cache: file page → frame. The cache holds one reference on each frame.
    pub cache: BTreeMap<u64, Pfn>,
    /// The contents on the backing store, page by page (absent: zeros).
    pub disk: BTreeMap<u64, PageData>,
    /// `i_rwsem` and `invalidate_lock` in one: writes, truncates and hole punches of the file
    /// are serialised, and a fault that must read a page in waits for a truncate or hole punch.
    pub lock: Rc<RwSem>,
}

/// Every file of the machine.
#[derive(Default)]
pub(crate) struct Files {
    files: BTreeMap<FileId, File>,
    next: u32,
}

impl Files {
    /// A new empty file of `size` pages.
    pub fn create(&mut self, size: u64, shmem: bool) -> FileId {
        self.next += 1;
        let id = FileId(self.next);
        self.files.insert(id, File { size, shmem, cache: BTreeMap::new(), disk: BTreeMap::new(), lock: Rc::new(RwSem::new()) });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&File> {
        self.files.get(&id)
    }

    pub fn get_mut(&mut self, id: FileId) -> Option<&mut File> {
        self.files.get_mut(&id)
    }

    /// Every cached page: (file, page, frame), for invariant checks.
    pub fn cached(&self) -> impl Iterator<Item = (FileId, u64, Pfn)> + '_ {
        self.files.iter().flat_map(|(&id, f)| f.cache.iter().map(move |(&i, &p)| (id, i, p)))
    }
}

//! The swap device: slots holding saved page contents, reference-counted by swap PTEs and the
//! swap cache.

use crate::mm::frame::{zero_page, PageData};

/// A swap slot number.
pub type Slot = u32;

#[derive(Default)]
struct SwapSlot {
    count: u32,
    data: Option<PageData>,
    /// Reclaim is swapping a page out to this slot (see [`SwapDevice::begin_write`]).
    writing: bool,
}

/// A swap device with a fixed number of slots.
pub struct SwapDevice {
    slots: Vec<SwapSlot>,
    free: Vec<Slot>,
}

impl SwapDevice {
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| SwapSlot::default()).collect(),
            free: (0..slots as Slot).rev().collect(),
        }
    }

    /// A free slot with one reference, or `None` when the device is full.
    pub(crate) fn alloc(&mut self) -> Option<Slot> {
        let slot = self.free.pop()?;
        self.slots[slot as usize] = SwapSlot {
            count: 1,
            ..SwapSlot::default()
        };
        Some(slot)
    }

    /// `swap_duplicate`: one more reference.
    pub(crate) fn dup(&mut self, slot: Slot) {
        self.slots[slot as usize].count += 1;
    }

    /// `swap_free`: one reference less; the slot is freed at zero.
    pub(crate) fn put(&mut self, slot: Slot) {
        let s = &mut self.slots[slot as usize];
        s.count = s.count.saturating_sub(1);
        if s.count == 0 {
            s.data = None;
            self.free.push(slot);
        }
    }

    /// References to the slot.
    pub fn count(&self, slot: Slot) -> u32 {
        self.slots.get(slot as usize).map_or(0, |s| s.count)
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Reclaim starts swapping a page out to `slot`: it holds a reference of its own until
    /// [`SwapDevice::end_write`] (a write fault may drop the page from the swap cache
    /// meanwhile), and swap-ins of the slot wait until then, as Linux's wait for the page
    /// reclaim holds locked in the swap cache.
    pub(crate) fn begin_write(&mut self, slot: Slot) {
        let s = &mut self.slots[slot as usize];
        s.count += 1;
        s.writing = true;
    }

    /// Reclaim is done with `slot`: `data` is what it wrote there (`None`: the slot's copy was
    /// already the page's).
    pub(crate) fn end_write(&mut self, slot: Slot, data: Option<PageData>) {
        let s = &mut self.slots[slot as usize];
        if data.is_some() {
            s.data = data;
        }
        s.writing = false;
        self.put(slot);
    }

    /// Whether reclaim is still swapping a page out to `slot`.
    pub(crate) fn writing(&self, slot: Slot) -> bool {
        self.slots.get(slot as usize).is_some_and(|s| s.writing)
    }

    pub(crate) fn read(&self, slot: Slot) -> PageData {
        self.slots[slot as usize]
            .data
            .clone()
            .unwrap_or_else(zero_page)
    }
}

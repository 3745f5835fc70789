//! Driver mutants: known bug classes of an external-TLB driver, planted at run time so that the
//! checkers can be shown to catch each one. A mutant is selected by
//! [`GruConfig::mutant`](super::GruConfig::mutant) and applied by a one-line
//! `if self.mutated(Mutant::X)` at the spot where the bug would live; with `None` the driver is
//! the correct one.

use std::fmt;
use std::str::FromStr;

/// Defines the mutant enum with its snake_case names and descriptions, and the list of all.
macro_rules! mutants {
    ($($(#[$m:meta])* $var:ident = $name:literal: $what:literal),+ $(,)?) => {
        /// A planted driver bug; [`Mutant::description`] says what it breaks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Mutant { $($(#[$m])* $var),+ }

        impl Mutant {
            /// Every mutant, in catalogue order.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$var),+];

            /// The snake_case name (`--mutant NAME`).
            pub const fn name(self) -> &'static str {
                match self { $(Mutant::$var => $name),+ }
            }

            /// The bug class and its consequence.
            pub const fn description(self) -> &'static str {
                match self { $(Mutant::$var => $what),+ }
            }
        }
    };
}

mutants! {
    /// The flush moves from `invalidate_range_start` to `invalidate_range_end`.
    FlushInRangeEnd = "flush_in_range_end":
        "invalidate_range_start only counts the range and the flush happens in invalidate_range_end: \
         between the PTE change and the end the chip still uses the old translation (stores to a page \
         being swapped out or migrated are lost)",
    /// The interrupt-path dropin does not look at `range_active`.
    NoRangeActiveCheck = "no_range_active_check":
        "the interrupt-path dropin skips the range_active check: a miss taken after its chiplet's \
         purge but before the PTE change drops in the old frame, which is freed after the range ends",
    /// `range_active` is a flag instead of a counter.
    RangeActiveBool = "range_active_bool":
        "range_active is kept as a bool: the end of one range clears it while an overlapping range is \
         still flushing, so a dropin of the old frame slips in before that range's PTE change",
    /// The page count of a flush leaves out the range's last page.
    RangeEndOffByOne = "range_end_off_by_one":
        "the flushed page count is last - first instead of last - first + 1: the range's last page \
         keeps its TLB entries",
    /// The TGH bitmap leaves out one of several loaded contexts.
    CtxbitmapMissingCtx = "ctxbitmap_missing_ctx":
        "the TGH's ctxbitmap omits the highest of several loaded contexts of the mm (an off-by-one \
         over the loaded contexts): that context keeps its entries after the flush",
    /// Every flush covers one page.
    FirstPageOnly = "first_page_only":
        "every flush is issued for one page (n = 0), whatever the range: entries of the other pages \
         of a multi-page range survive",
    /// Ranges above 1023 pages are cut instead of becoming a full purge.
    NoFullPurgeAbove1024 = "no_full_purge_above_1024":
        "the TGH's n is taken as a page count capped at 1023 pages (n = 1022), never the n = 1023 full \
         ASID purge: a range over 1023 pages keeps the entries past its first 1023 pages",
    /// A flush that finds no loaded context keeps the mm's ASID.
    ZeroAsidSkipKeepsAsid = "zero_asid_skip_keeps_asid":
        "a flush that skips a chiplet with no loaded context of the mm (no TGH) keeps the mm's ASID \
         there: the reload reuses it and reaches the unflushed entries of the unloaded context",
    /// ASIDs are recycled without the full chiplet purge.
    AsidReuseNoPurge = "asid_reuse_no_purge":
        "the ASID allocator's limit reset and wrap hand out recycled ASIDs without purging the \
         chiplet: a new mm loaded in an old context slot hits the previous owner's entries",
    /// A flush names only the contexts loaded now, not those unloaded under the same ASID.
    FlushLoadedOnly = "flush_loaded_only":
        "the TGH's ctxbitmap names only the mm's contexts loaded now (Linux's mt_ctxbitmap): a \
         context unloaded while a sibling keeps the mm's ASID on the chiplet keeps its entries, and \
         reloading it in the same slot under that ASID reaches frames freed meanwhile",
    /// The interrupt path tests `range_active` before it reads the TFH.
    RangeCheckBeforeTfhRead = "range_check_before_tfh_read":
        "the interrupt-path dropin tests range_active before reading the TFH: an invalidate that \
         starts between the test and the read is missed by the driver; only the chip's race guard \
         (stale TFH) keeps its flush from being undone (driver protocol monitor)",
    /// Unload clears the tracker bit before INTERRUPT_SYNC has drained the context.
    TrackerClearBeforeSync = "tracker_clear_before_sync":
        "unload clears the context's tracker bit before INTERRUPT_SYNC completes: a flush in \
         that window leaves out a context whose CBs may still be running (driver protocol monitor)",
    /// The ASID allocator hands a base out twice.
    AsidHandedTwice = "asid_handed_twice":
        "the ASID allocator hands a base out again instead of advancing: two address spaces share \
         an ASID on a chiplet, harmless only while the chip's context tag keeps their entries \
         apart (driver protocol monitor; chip ownership check)",
    /// A read miss is dropped in writable.
    DirtyOnReadDropin = "dirty_on_read_dropin":
        "a read miss is dropped in with dirty = 1: later stores skip TLB_MOD and the write-permission \
         check, and write through read-only translations (the shared zero page, COW and KSM pages)",
    /// Classic `invalidate_page` does nothing.
    InvalidatePageIgnored = "invalidate_page_ignored":
        "classic era: invalidate_page is ignored as if start/end covered every PTE change; swap-out \
         and migration, which announce only invalidate_page, leave entries of the freed frame",
    /// The dropin fills the next region's ASID.
    DropinWrongAsid = "dropin_wrong_asid":
        "the dropin's fillasid is the miss ASID + 1 (the next region's ASID): the installed entry \
         never matches, the CB misses again and the driver drops in again, forever — a livelock in \
         which every dropin looks like progress",
    /// The flush tests the next chiplet's bit of `asidmap`.
    AsidmapBitOffByOne = "asidmap_bit_off_by_one":
        "the flush's walk over asidmap tests bit c + 1 for chiplet c: a chiplet is flushed when its \
         neighbour holds the mm's ASID, and the last chiplet never is",
    /// The TGH's vaddr is a page number.
    TghVaddrInPages = "tgh_vaddr_in_pages":
        "the TGH's vaddr is the range's first page number instead of its address (a unit slip): \
         the purge covers pages far below the range and the range keeps its entries",
    /// `range_active` drops back at the end of `invalidate_range_start`.
    RangeActiveEndsAtStart = "range_active_ends_at_start":
        "range_active is decremented when invalidate_range_start's flush finishes instead of in \
         invalidate_range_end: a miss between the two drops in the old PTE, which the range then \
         changes and frees",
    /// `invalidate_range_end` wakes nobody.
    NoWakeOnRangeEnd = "no_wake_on_range_end":
        "invalidate_range_end lowers range_active but wakes no waiter: a user fault path sleeping \
         for the range stays asleep (a lost wake-up) until some later range ends, or forever",
    /// A read miss on a clean writable PTE is dropped in writable.
    DropinIgnoresPteDirty = "dropin_ignores_pte_dirty":
        "the dropin's dirty bit is the PTE's write bit alone: a read miss on a writable but clean \
         PTE (after writeback, madvise FREE, a swap-in) drops in a writable entry, and the chip's \
         stores then skip TLB_MOD and leave the page clean, to be dropped or not written back",
    /// A TLB_MOD miss is serviced as a read miss.
    StoreMissAsRead = "store_miss_as_read":
        "the dropin takes every miss as a read (TLB_MOD cause ignored): a store to a read-only or \
         clean page gets a read-only entry again, and the CB faults with TLB_MOD forever",
    /// The ASID generation test of `gru_load_mm_tracker` is inverted.
    TrackerGenInverted = "tracker_gen_inverted":
        "gru_load_mm_tracker's generation test is inverted: an mm whose ASID is from before a wrap \
         keeps it, though the allocator may have handed it to another mm since, and the two mms \
         hit each other's entries",
    /// A refused DEALLOCATE is taken as done.
    UnloadIgnoresRefusal = "unload_ignores_refusal":
        "gru_unload_context ignores a refused DEALLOCATE (as Linux does): the context, its fault \
         still pending, is forgotten by the driver while the chip keeps it, and the slot is \
         handed out again",
    /// The interrupt handler reads its fault map once.
    IntrReadsMapOnce = "intr_reads_map_once":
        "gru_intr reads its fault map once and returns: a fault bit set after the read keeps the \
         level line high without a new edge, and its CB waits forever",
    /// page_mkclean's one-page write-protect is not flushed.
    MkcleanNoFlush = "mkclean_no_flush":
        "invalidate_range_start does not flush a one-page PROTECTION_PAGE range (page_mkclean before \
         writeback: \"the page stays mapped, reads stay good\"): the chip keeps its writable entry, \
         its next store lands in the page writeback has just cleaned, and reclaim drops the page \
         with the store (modern era)",
    /// Every flush purges the whole ASID.
    FullPurgeAlways = "full_purge_always":
        "every flush is a full purge of the mm's ASID (n = 1023) whatever the range: nothing is left \
         that should go, but every other entry of the mm goes too, each costing a miss, and a wrong \
         range is hidden (an over-flush only the flush-precision check sees)",
    /// The dropin does not refuse a GRU-space physical address.
    GruPaddrUnchecked = "gru_paddr_unchecked":
        "gru_try_dropin drops the is_gru_paddr test: a miss on a mapping of the GRU device (GRU \
         space, VM_PFNMAP) served from the interrupt handler installs a TLB entry into the chip's \
         own handle space instead of failing the CB with EXCEPTION",
    /// `release` leaves the mm's contexts running.
    NoFlushOnRelease = "no_flush_on_release":
        "release neither stops nor flushes the mm's contexts: after exit unmaps everything (with no \
         more notifier calls) the chip keeps translating into the freed frames",
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no driver mutant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown driver mutant {name:?}; valid: {}", names(Mutant::ALL))]
pub struct UnknownMutant {
    /// The name given.
    pub name: String,
}

/// The names of `mutants`, comma-separated.
fn names(mutants: &[Mutant]) -> String {
    mutants.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mutant::ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| UnknownMutant { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for m in Mutant::ALL {
            assert_eq!(m.name().parse::<Mutant>(), Ok(*m));
            assert!(m.name().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{m}");
        }
        let mut n: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), Mutant::ALL.len());
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let e = "flush_late".parse::<Mutant>().unwrap_err().to_string();
        assert!(e.contains("\"flush_late\"") && e.contains("first_page_only") && e.contains("no_flush_on_release"), "{e}");
    }
}

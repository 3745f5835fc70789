//! RTL mutants: known hardware bug classes, each switched on in the RTL by a Verilog define
//! `GRU_MUTANT_<NAME>` and built by `build.rs` into its own model variant, so that a run picks
//! one with [`Rtl::with_mutant`](crate::rtl::Rtl::with_mutant) without rebuilding.
//!
//! Every catalogue mutant is a safety bug that the system's checks must catch from a seed (a
//! stale translation, a lost write, a store through a read-only translation, an access to a
//! freed frame, or a hang). [`RtlMutant::TghStuck`] is fault injection for the bad-input tests (a
//! handle that never completes), not a catalogue bug. [`RtlMutant::TghException`] injects a
//! hardware fault too (a TGH failing with a TLB ECC error), but is in the catalogue: a driver that
//! ignored the failure would leave stale translations, so the checks must see the driver report
//! it. The reference model never has a mutant,
//! so a lockstep run of a mutant diverges as soon as the bug shows at a port.

use std::fmt;
use std::str::FromStr;

/// One RTL mutant (or fault injection): a model variant built with `GRU_MUTANT_<NAME>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RtlMutant {
    /// `GRU_MUTANT_NO_RACE_GUARD`: a dropin on a TFH made stale by an invalidate that started
    /// after the miss is installed anyway.
    NoRaceGuard,
    /// `GRU_MUTANT_PURGE_SKIP_LAST_LANE`: the purge engine never examines its last lane.
    PurgeSkipLastLane,
    /// `GRU_MUTANT_NO_TLB_MOD`: a store through a clean (`dirty = 0`) entry proceeds.
    NoTlbMod,
    /// `GRU_MUTANT_PURGE_N_IS_COUNT`: the purge reads the TGH's N as a page count (it is pages
    /// minus one), so every range purge misses its last page.
    PurgeNIsCount,
    /// `GRU_MUTANT_ASID_ALIAS`: the lookup's ASID compare ignores bit 3.
    AsidAlias,
    /// `GRU_MUTANT_TFM_NO_CLEAR`: reading a fault map does not clear it.
    TfmNoClear,
    /// `GRU_MUTANT_GUARD_START_ONLY`: a miss latching while an invalidate of its context runs
    /// is not marked stale (only misses pending at the start are).
    GuardStartOnly,
    /// `GRU_MUTANT_STALE_SAME_EDGE`: the start of an invalidate marks stale on the pre-edge
    /// state, missing a miss that latches at the same edge.
    StaleSameEdge,
    /// `GRU_MUTANT_RESTART_CLEARS_STALE`: WRITE_RESTART clears `stale` before the race guard
    /// reads it.
    RestartClearsStale,
    /// `GRU_MUTANT_TFM_SET_LOST`: a fault bit set at the edge its map is read is cleared with
    /// the returned ones.
    TfmSetLost,
    /// `GRU_MUTANT_INSTALL_NO_REPLACE`: a dropin takes a free entry instead of the overlapping
    /// entry of its context and ASID.
    InstallNoReplace,
    /// `GRU_MUTANT_PURGE_DONE_EARLY`: a TGH reads IDLE from its first purge group on, while
    /// the rest of its purge still runs.
    PurgeDoneEarly,
    /// `GRU_MUTANT_TGH_STUCK` (fault injection): a TGH purges but never leaves ACTIVE.
    TghStuck,
    /// `GRU_MUTANT_TGH_EXCEPTION` (fault injection, in the catalogue): one TGH in 16 fails like
    /// a TLB ECC error: it purges nothing and completes with status EXCEPTION, cause TLB_ECC.
    TghException,
}

impl RtlMutant {
    /// Every variant, catalogue mutants first, then fault injection.
    pub const ALL: [RtlMutant; 14] = [
        RtlMutant::NoRaceGuard,
        RtlMutant::PurgeSkipLastLane,
        RtlMutant::NoTlbMod,
        RtlMutant::PurgeNIsCount,
        RtlMutant::AsidAlias,
        RtlMutant::TfmNoClear,
        RtlMutant::GuardStartOnly,
        RtlMutant::StaleSameEdge,
        RtlMutant::RestartClearsStale,
        RtlMutant::TfmSetLost,
        RtlMutant::InstallNoReplace,
        RtlMutant::PurgeDoneEarly,
        RtlMutant::TghStuck,
        RtlMutant::TghException,
    ];

    /// The catalogue mutants: every variant except fault injection.
    pub fn catalogue() -> impl Iterator<Item = RtlMutant> {
        Self::ALL.into_iter().filter(|m| !m.is_fault_injection())
    }

    /// Snake-case name used on the command line and in reports, e.g. `rtl_no_race_guard`.
    pub fn name(self) -> &'static str {
        match self {
            RtlMutant::NoRaceGuard => "rtl_no_race_guard",
            RtlMutant::PurgeSkipLastLane => "rtl_purge_skip_last_lane",
            RtlMutant::NoTlbMod => "rtl_no_tlb_mod",
            RtlMutant::PurgeNIsCount => "rtl_purge_n_is_count",
            RtlMutant::AsidAlias => "rtl_asid_alias",
            RtlMutant::TfmNoClear => "rtl_tfm_no_clear",
            RtlMutant::GuardStartOnly => "rtl_guard_start_only",
            RtlMutant::StaleSameEdge => "rtl_stale_same_edge",
            RtlMutant::RestartClearsStale => "rtl_restart_clears_stale",
            RtlMutant::TfmSetLost => "rtl_tfm_set_lost",
            RtlMutant::InstallNoReplace => "rtl_install_no_replace",
            RtlMutant::PurgeDoneEarly => "rtl_purge_done_early",
            RtlMutant::TghStuck => "rtl_tgh_stuck",
            RtlMutant::TghException => "rtl_tgh_exception",
        }
    }

    /// The Verilog define that switches it on in rtl/, e.g. `GRU_MUTANT_NO_RACE_GUARD`.
    pub fn define(self) -> &'static str {
        match self {
            RtlMutant::NoRaceGuard => "GRU_MUTANT_NO_RACE_GUARD",
            RtlMutant::PurgeSkipLastLane => "GRU_MUTANT_PURGE_SKIP_LAST_LANE",
            RtlMutant::NoTlbMod => "GRU_MUTANT_NO_TLB_MOD",
            RtlMutant::PurgeNIsCount => "GRU_MUTANT_PURGE_N_IS_COUNT",
            RtlMutant::AsidAlias => "GRU_MUTANT_ASID_ALIAS",
            RtlMutant::TfmNoClear => "GRU_MUTANT_TFM_NO_CLEAR",
            RtlMutant::GuardStartOnly => "GRU_MUTANT_GUARD_START_ONLY",
            RtlMutant::StaleSameEdge => "GRU_MUTANT_STALE_SAME_EDGE",
            RtlMutant::RestartClearsStale => "GRU_MUTANT_RESTART_CLEARS_STALE",
            RtlMutant::TfmSetLost => "GRU_MUTANT_TFM_SET_LOST",
            RtlMutant::InstallNoReplace => "GRU_MUTANT_INSTALL_NO_REPLACE",
            RtlMutant::PurgeDoneEarly => "GRU_MUTANT_PURGE_DONE_EARLY",
            RtlMutant::TghStuck => "GRU_MUTANT_TGH_STUCK",
            RtlMutant::TghException => "GRU_MUTANT_TGH_EXCEPTION",
        }
    }

    /// One line: the bug class and what it breaks.
    pub fn description(self) -> &'static str {
        match self {
            RtlMutant::NoRaceGuard => {
                "missing race guard: a dropin computed before an invalidate started is installed \
                 anyway, leaving a stale translation after the shootdown"
            }
            RtlMutant::PurgeSkipLastLane => {
                "dead purge lane: entries with index % PURGE_LANES == PURGE_LANES-1 are never \
                 purged, so a shootdown leaves stale translations"
            }
            RtlMutant::NoTlbMod => {
                "missing write-permission check: a store through a clean (read-only) entry goes \
                 to memory instead of faulting TLB_MOD (writes to COW or clean pages)"
            }
            RtlMutant::PurgeNIsCount => {
                "TGH field semantics: the purge reads N as a page count instead of pages minus \
                 one, so every range purge leaves its last page's entries (a stale translation)"
            }
            RtlMutant::AsidAlias => {
                "ASID aliasing: the lookup ignores ASID bit 3, so address spaces 16/24, 32/40, ... \
                 hit each other's entries left under a reused context"
            }
            RtlMutant::TfmNoClear => {
                "lost read-and-clear: reading a fault map clears nothing, the interrupt stays \
                 high and the driver services the same faults forever (a hang)"
            }
            RtlMutant::GuardStartOnly => {
                "race guard marks only at the start: a miss latching while an invalidate of its \
                 context runs is not stale, so its dropin installs a translation the purge passed"
            }
            RtlMutant::StaleSameEdge => {
                "stale marking on the pre-edge state: a miss latching at the edge an invalidate \
                 starts escapes the race guard"
            }
            RtlMutant::RestartClearsStale => {
                "order of operations: WRITE_RESTART clears stale before the race guard reads \
                 it, so a dropin made stale by an invalidate installs anyway"
            }
            RtlMutant::TfmSetLost => {
                "read-clear after set: a fault bit set at the edge its map is read is cleared \
                 unreported, and that CB waits for a fault the driver never sees"
            }
            RtlMutant::InstallNoReplace => {
                "install ignores the overlap: a dropin (the TLB_MOD upgrade) takes a free entry \
                 next to the one it replaces, so two entries match one lookup"
            }
            RtlMutant::PurgeDoneEarly => {
                "done when taken: a TGH reads IDLE from the edge the purge engine takes its \
                 first group, while the rest of its purge still runs"
            }
            RtlMutant::TghStuck => {
                "fault injection: a TGH purges but never leaves ACTIVE, so the driver's wait \
                 times out (a handle that never completes)"
            }
            RtlMutant::TghException => {
                "TGH exception: one TGH in 16 fails like a TLB ECC error, purges nothing and \
                 ends in EXCEPTION; a driver that took it for done would leave stale \
                 translations, so the driver must report it"
            }
        }
    }

    /// True for fault injection (a broken input for the error paths), false for catalogue
    /// mutants (bugs the regression must catch).
    pub fn is_fault_injection(self) -> bool {
        self == RtlMutant::TghStuck
    }
}

impl fmt::Display for RtlMutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`RtlMutant`]; the message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown RTL mutant `{given}`; valid: {}", valid_names())]
pub struct UnknownRtlMutant {
    /// The name asked for.
    pub given: String,
}

fn valid_names() -> String {
    RtlMutant::ALL.map(RtlMutant::name).join(", ")
}

impl FromStr for RtlMutant {
    type Err = UnknownRtlMutant;

    /// Parses a [`RtlMutant::name`], e.g. `rtl_no_race_guard`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RtlMutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownRtlMutant { given: s.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut names: Vec<&str> = RtlMutant::ALL.iter().map(|m| m.name()).collect();
        for m in RtlMutant::ALL {
            assert_eq!(m.name().parse::<RtlMutant>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
            assert_eq!(m.define(), format!("GRU_MUTANT_{}", m.name()["rtl_".len()..].to_ascii_uppercase()));
            assert!(!m.description().is_empty() && !m.description().contains('\n'));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RtlMutant::ALL.len());
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let e = "no_race_guard".parse::<RtlMutant>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`no_race_guard`"), "{msg}");
        for m in RtlMutant::ALL {
            assert!(msg.contains(m.name()), "{msg}");
        }
    }

    #[test]
    fn only_tgh_stuck_is_fault_injection() {
        assert_eq!(RtlMutant::ALL.iter().filter(|m| m.is_fault_injection()).count(), 1);
        assert!(RtlMutant::TghStuck.is_fault_injection());
        assert_eq!(RtlMutant::catalogue().count(), 13);
    }

    #[test]
    fn every_define_in_the_rtl_is_a_variant_and_was_built() {
        let mut ours: Vec<&str> = RtlMutant::ALL.iter().map(|m| m.define()).collect();
        ours.sort_unstable();
        assert_eq!(ours, crate::rtl::BUILT_MUTANT_DEFINES, "RtlMutant and the GRU_MUTANT_ defines of rtl/ differ");
    }
}

//! The mutant catalogue: every known bug class, as a driver mutant (switched at run time) or an
//! RTL mutant (a model variant built with a Verilog define), and the names `--mutant` takes.

use gru_driver::gru::Mutant;
use gru_sim::mutant::RtlMutant;

use crate::system::HwKind;

/// One entry of the catalogue: what the mutant plants and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutantKind {
    /// A driver bug, switched at run time ([`gru_driver::gru::GruConfig::mutant`]); works on
    /// every `--hw`.
    Driver(Mutant),
    /// An RTL bug, a model variant built with its Verilog define ([`RtlMutant::define`]); needs
    /// `--hw rtl` or `--hw lockstep`.
    Rtl(RtlMutant),
}

impl MutantKind {
    /// The name `--mutant` takes.
    pub fn name(self) -> &'static str {
        match self {
            MutantKind::Driver(m) => m.name(),
            MutantKind::Rtl(m) => m.name(),
        }
    }

    /// The bug class and its consequence.
    pub fn description(self) -> &'static str {
        match self {
            MutantKind::Driver(m) => m.description(),
            MutantKind::Rtl(m) => m.description(),
        }
    }

    /// The driver bug to plant, if this is one.
    pub fn driver(self) -> Option<Mutant> {
        match self {
            MutantKind::Driver(m) => Some(m),
            MutantKind::Rtl(_) => None,
        }
    }

    /// The RTL model variant to build, if this is one.
    pub fn rtl(self) -> Option<RtlMutant> {
        match self {
            MutantKind::Rtl(m) => Some(m),
            MutantKind::Driver(_) => None,
        }
    }

    /// The hardware `gru-cosim mutants` hunts it on: the model for driver bugs (fastest), the
    /// RTL for RTL bugs.
    pub fn hw(self) -> HwKind {
        match self {
            MutantKind::Driver(_) => HwKind::Model,
            MutantKind::Rtl(_) => HwKind::Rtl,
        }
    }
}

/// Every mutant, in catalogue order: the driver's, then the RTL's.
pub fn catalogue() -> Vec<MutantKind> {
    let driver = Mutant::ALL.iter().copied().map(MutantKind::Driver);
    driver.chain(RtlMutant::catalogue().map(MutantKind::Rtl)).collect()
}

/// What `--mutant` also accepts besides the catalogue: fault injection for the bad-input tests
/// (a broken chiplet rather than a bug the checks hunt).
pub fn fault_injections() -> Vec<MutantKind> {
    RtlMutant::ALL.into_iter().filter(|m| m.is_fault_injection()).map(MutantKind::Rtl).collect()
}

/// A name that is in no catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant {name:?}; valid: {}", catalogue().iter().chain(&fault_injections()).map(|m| m.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownMutant {
    /// The name given.
    pub name: String,
}

/// The catalogue entry or fault injection called `name`.
pub fn find(name: &str) -> Result<MutantKind, UnknownMutant> {
    catalogue().into_iter().chain(fault_injections()).find(|m| m.name() == name).ok_or_else(|| UnknownMutant { name: name.to_owned() })
}


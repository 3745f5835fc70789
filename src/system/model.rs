//! The hardware kinds a system can run on ([`HwKind`]) and what the run loop, the checks and
//! the waveforms need of each cycle model ([`SystemModel`]).

use std::path::Path;

use gru_sim::lockstep::Lockstep;
use gru_sim::model::RefModel;
use gru_sim::ports::CycleModel;
use gru_sim::rtl::{Rtl, RtlError};

/// A cycle model the system can run, with what the checkers and waveforms need of it.
pub trait SystemModel: CycleModel + 'static {
    /// Whether this model compares two (the lockstep check applies).
    fn compares(&self) -> bool {
        false
    }
    /// The first lockstep divergence, if this model compares two.
    fn divergence(&self) -> Option<String> {
        None
    }
    /// Start a waveform dump; false if the model cannot dump.
    fn open_waves(&mut self, _path: &Path) -> Result<bool, RtlError> {
        Ok(false)
    }
    /// Stop (`true`) or resume writing cycles to the open dump.
    fn pause_waves(&mut self, _paused: bool) {}
    /// Stop the dump.
    fn close_waves(&mut self) {}
}

impl SystemModel for RefModel {}

impl SystemModel for Rtl {
    fn open_waves(&mut self, path: &Path) -> Result<bool, RtlError> {
        Rtl::open_waves(self, path).map(|()| true)
    }
    fn pause_waves(&mut self, paused: bool) {
        Rtl::pause_waves(self, paused);
    }
    fn close_waves(&mut self) {
        Rtl::close_waves(self);
    }
}

impl SystemModel for Lockstep<Rtl, RefModel> {
    fn compares(&self) -> bool {
        true
    }
    fn divergence(&self) -> Option<String> {
        Lockstep::divergence(self).map(ToString::to_string)
    }
    fn open_waves(&mut self, path: &Path) -> Result<bool, RtlError> {
        self.dut.open_waves(path).map(|()| true)
    }
    fn pause_waves(&mut self, paused: bool) {
        self.dut.pause_waves(paused);
    }
    fn close_waves(&mut self) {
        self.dut.close_waves();
    }
}

/// Which cycle model the chiplets run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwKind {
    /// The Verilated RTL.
    Rtl,
    /// The Rust reference model.
    Model,
    /// Both, every output compared every cycle.
    Lockstep,
}

//! `gru-cosim waves`: the window around one shootdown of a scenario, dumped on the RTL with its
//! save file.

use std::path::PathBuf;

use gru_sim::rtl::{Rtl, WaveFormat};

use super::gtkw;
use super::plan::{dump_path, rerun_check, shootdowns, windows_around, Shootdown, Span, WavePlan};
use super::WavesError;
use crate::scenario::{scenario_dir, Scenario};
use crate::system::{System, SystemConfig};

/// Cycles a scenario may run before it is stopped.
const MAX_CYCLES: u64 = 50_000_000;

#[derive(Clone, Debug)]
pub struct WavesArgs {
    /// Golden scenario name (or a scenario .toml file).
    pub scenario: String,
    /// Which shootdown, from 1, in start order over every chiplet.
    pub shootdown: usize,
    /// Cycles dumped before the start write and after the completion.
    pub margin: u64,
    /// Dump format.
    pub format: WaveFormat,
    /// Seed of the run.
    pub seed: u64,
}

/// The files `gru-cosim waves` wrote.
#[derive(Clone, Debug)]
pub struct WavesOutput {
    /// The dump.
    pub dump: PathBuf,
    /// Its GTKWave save file.
    pub save: PathBuf,
    /// The shootdown it shows.
    pub shootdown: Shootdown,
}

/// `gru-cosim waves`: dump the window around the K-th shootdown of a scenario on the RTL and
/// write its save file.
pub fn waves_cmd(args: &WavesArgs) -> Result<WavesOutput, WavesError> {
    let path = if args.scenario.ends_with(".toml") {
        PathBuf::from(&args.scenario)
    } else {
        scenario_dir().join(format!("{}.toml", args.scenario))
    };
    if !path.exists() {
        return Err(WavesError::UnknownScenario { name: args.scenario.clone() });
    }
    let sc = Scenario::load(&path)?;
    let run = |plan: Option<WavePlan>| -> Result<System<Rtl>, WavesError> {
        let replay = format!("gru-cosim waves --scenario {} --seed {}", args.scenario, args.seed);
        let cfg = SystemConfig { waves: plan, ..sc.system_config(args.seed, replay) };
        let sys = System::new(cfg, || Rtl::new(args.format)).map_err(WavesError::Setup)?;
        sc.spawn(&sys);
        sys.run(MAX_CYCLES);
        Ok(sys)
    };
    let first = shootdowns(&run(None)?.hw.trace());
    let count = first.len();
    let no_such = || WavesError::NoSuchShootdown { name: args.scenario.clone(), seed: args.seed, k: args.shootdown, count };
    let sd = *args.shootdown.checked_sub(1).and_then(|i| first.get(i)).ok_or_else(no_such)?;
    let dump = dump_path(&args.scenario, args.seed, None, &format!("sd{}", args.shootdown), args.format);
    let span = Span::Windows(windows_around(&[sd], args.margin));
    let sys = run(Some(WavePlan { path: dump.clone(), chiplet: sd.chiplet, span }))?;
    rerun_check(&first, &shootdowns(&sys.hw.trace()))?;
    let title = format!("{} seed {} shootdown {} of {count}", args.scenario, args.seed, args.shootdown);
    let save = gtkw::write_save(&sys, &title)?.ok_or_else(|| WavesError::Setup(format!("{} was not written", dump.display())))?;
    Ok(WavesOutput { dump, save, shootdown: sd })
}


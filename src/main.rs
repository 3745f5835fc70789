//! `gru-cosim`: the command-line front end.

use clap::{Parser, Subcommand, ValueEnum};
use gru_cosim::chiplet_cmds;
use gru_cosim::run_cmd::{self, RunArgs, WORKLOADS};
use gru_cosim::system::HwKind;
use gru_cosim::waves::{self, WaveRequest, WaveSelect, WavesArgs, Window, DEFAULT_MARGIN};
use gru_driver::notifier::Era;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "gru-cosim", version, about = "Co-simulation of a GRU-style external TLB with the Linux kernel side")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Waveform dump choice.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Waves {
    Fst,
    Vcd,
    None,
}

#[derive(Subcommand)]
enum Cmd {
    /// Short chiplet demo on the RTL: three contexts of one address space fault, get dropins and
    /// are shot down by one TGH write; every output checked against the reference model.
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Waves::Fst)]
        waves: Waves,
    },
    /// Random traffic on the RTL and the reference model in lockstep, every output compared
    /// every cycle.
    Lockstep {
        #[arg(long, default_value_t = 1_000_000)]
        cycles: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Throughput of the same stimulus through a pure C++ Verilator loop, the Rust harness and
    /// the reference model.
    Bench {
        #[arg(long, default_value_t = 400_000)]
        cycles: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run a workload on the whole system (chiplets, kernel, driver) with every check on and
    /// print the summary; exit status 1 on a failed check, with the command that replays it.
    Run(RunCli),
    /// Dump the window around the K-th shootdown (TGH invalidate, counted from 1 over every
    /// chiplet) of a golden scenario on the RTL, write its GTKWave save file, and print the
    /// command that opens it.
    Waves {
        /// Golden scenario (see `list`) or a scenario .toml file.
        #[arg(long)]
        scenario: String,
        /// Which shootdown, from 1.
        #[arg(long)]
        shootdown: usize,
        /// Cycles dumped before its start write and after its completion.
        #[arg(long, default_value_t = DEFAULT_MARGIN)]
        margin: u64,
        #[arg(long, value_enum, default_value_t = DumpFormat::Fst)]
        format: DumpFormat,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// List the workloads `run` knows.
    List,
    /// Re-run a failure from the replay command it printed (quote it as one argument).
    Replay {
        /// The printed command, e.g. "gru-cosim run default --seed 7 --hw rtl".
        command: String,
    },
}

/// Format of a dump.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DumpFormat {
    Fst,
    Vcd,
}

/// What `--waves-around` centres windows on.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Around {
    /// Every TGH invalidate of chiplet 0, from its start write to its completion.
    Shootdown,
}

/// A cycle range `A..B` (B excluded).
fn parse_window(s: &str) -> Result<Window, String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("{s:?} is not a range A..B"))?;
    let num = |x: &str| x.trim().parse::<u64>().map_err(|e| format!("{x:?} in {s:?}: {e}"));
    Window::new(num(a)?, num(b)?).map_err(|e| e.to_string())
}

/// Hardware choice of `run`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Hw {
    Rtl,
    Model,
    Lockstep,
}

/// Notifier era choice of `run`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum EraArg {
    Classic,
    Modern,
}

#[derive(clap::Args, Debug)]
struct RunCli {
    /// Workload: `default`, a scenario name (see `list`) or a scenario .toml file.
    workload: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Hw::Rtl)]
    hw: Hw,
    #[arg(long, value_enum, default_value_t = EraArg::Modern)]
    era: EraArg,
    #[arg(long, default_value_t = 2)]
    chiplets: usize,
    #[arg(long, default_value_t = 4)]
    cpus: usize,
    /// Waveform of chiplet 0 with its GTKWave save file, under waves/ (RTL only); the whole run
    /// unless a window is given.
    #[arg(long, value_enum, default_value_t = Waves::Fst)]
    waves: Waves,
    /// Dump only cycles A..B (B excluded).
    #[arg(long, value_name = "A..B", value_parser = parse_window, conflicts_with = "waves_around")]
    waves_window: Option<Window>,
    /// Dump only windows around every shootdown (found by a first run without waves).
    #[arg(long, value_enum)]
    waves_around: Option<Around>,
    /// Cycles dumped before each shootdown's start write and after its completion.
    #[arg(long, default_value_t = DEFAULT_MARGIN, requires = "waves_around")]
    waves_margin: u64,
    /// With --waves-around: only the first K shootdowns of chiplet 0.
    #[arg(long, value_name = "K", requires = "waves_around")]
    waves_max: Option<usize>,
    /// Write the semantic trace to this file as JSON Lines.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// GRU accesses of the random workload.
    #[arg(long, default_value_t = 20_000)]
    accesses: u64,
}

impl RunCli {
    fn args(&self) -> RunArgs {
        let hw = match self.hw {
            Hw::Rtl => HwKind::Rtl,
            Hw::Model => HwKind::Model,
            Hw::Lockstep => HwKind::Lockstep,
        };
        let era = match self.era {
            EraArg::Classic => Era::Classic,
            EraArg::Modern => Era::Modern,
        };
        let replay = format!(
            "gru-cosim run {} --seed {} --hw {:?} --era {:?} --chiplets {} --cpus {} --accesses {} --waves none",
            self.workload, self.seed, self.hw, self.era, self.chiplets, self.cpus, self.accesses
        )
        .to_lowercase();
        RunArgs {
            workload: self.workload.clone(),
            seed: self.seed,
            hw,
            era,
            chiplets: self.chiplets,
            cpus: self.cpus,
            waves: wave_format(self.waves).map(|format| WaveRequest {
                format,
                select: match (self.waves_window, self.waves_around) {
                    (Some(w), _) => WaveSelect::Cycles(w),
                    (None, Some(Around::Shootdown)) => WaveSelect::AroundShootdowns { margin: self.waves_margin, max: self.waves_max },
                    (None, None) => WaveSelect::Whole,
                },
            }),
            json: self.json.clone(),
            accesses: self.accesses,
            replay,
        }
    }
}

fn wave_format(w: Waves) -> Option<gru_sim::rtl::WaveFormat> {
    match w {
        Waves::Fst => Some(gru_sim::rtl::WaveFormat::Fst),
        Waves::Vcd => Some(gru_sim::rtl::WaveFormat::Vcd),
        Waves::None => None,
    }
}

fn run(cmd: Cmd) -> Result<bool, String> {
    match cmd {
        Cmd::Demo { seed, waves } => chiplet_cmds::demo(seed, wave_format(waves)).map_err(|e| e.to_string()),
        Cmd::Lockstep { cycles, seed } => chiplet_cmds::lockstep(cycles, seed).map_err(|e| e.to_string()),
        Cmd::Bench { cycles, seed } => chiplet_cmds::bench(cycles, seed).map_err(|e| e.to_string()),
        Cmd::Run(r) => run_cmd::run(&r.args()).map_err(|e| e.to_string()),
        Cmd::Waves { scenario, shootdown, margin, format, seed } => {
            let format = match format {
                DumpFormat::Fst => gru_sim::rtl::WaveFormat::Fst,
                DumpFormat::Vcd => gru_sim::rtl::WaveFormat::Vcd,
            };
            let out = waves::waves_cmd(&WavesArgs { scenario, shootdown, margin, format, seed }).map_err(|e| e.to_string())?;
            let sd = out.shootdown;
            let done = sd.done.map_or("never".into(), |c| format!("cycle {c}"));
            println!("shootdown {shootdown}: tgh{} on chiplet {}, start write cycle {}, done {done}", sd.tgh, sd.chiplet, sd.start);
            println!("  dump  {}", out.dump.display());
            println!("  save  {}", out.save.display());
            println!("gtkwave {} {}", out.dump.display(), out.save.display());
            Ok(true)
        }
        Cmd::List => {
            for (name, what) in WORKLOADS {
                println!("{name:<26} {what}");
            }
            for name in run_cmd::scenario_names() {
                println!("{name:<26} scenario golden/scenarios/{name}.toml");
            }
            Ok(true)
        }
        Cmd::Replay { command } => {
            let cli = Cli::try_parse_from(command.split_whitespace()).map_err(|e| e.to_string())?;
            match cli.cmd {
                c @ Cmd::Run(_) => run(c),
                _ => Err("replay takes a `gru-cosim run ...` command".into()),
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

//! `gru-cosim`: the command-line front end.

use clap::{Parser, Subcommand, ValueEnum};
use gru_cosim::chiplet_cmds;
use gru_cosim::run_cmd::{self, RunArgs, WORKLOADS};
use gru_cosim::system::HwKind;
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
    /// The performance report: co-simulation throughput (full system vs a pure C++ Verilator
    /// loop on the same stimulus), shootdown round trips and purge latency, MMIO writes per
    /// teardown, fault service latency. Writes REPORT.md, results.json and SVG charts; the last
    /// line is `bench: system/cpp = <ratio>, irq-share = <pct>%`.
    Bench(BenchCli),
    /// Run a workload on the whole system (chiplets, kernel, driver) with every check on and
    /// print the summary; exit status 1 on a failed check, with the command that replays it.
    Run(RunCli),
    /// List the workloads `run` knows.
    List,
    /// Re-run a failure from the replay command it printed (quote it as one argument).
    Replay {
        /// The printed command, e.g. "gru-cosim run default --seed 7 --hw rtl".
        command: String,
    },
}

#[derive(clap::Args, Debug)]
struct BenchCli {
    /// Seed of the default workload (and first seed of the directed setups).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "bench")]
    out: std::path::PathBuf,
    /// GRU accesses of the default workload.
    #[arg(long, default_value_t = 20_000)]
    accesses: u64,
    /// Repetitions of each throughput measurement (median reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Kernel seeds per shootdown setup.
    #[arg(long, default_value_t = 3)]
    sd_seeds: u64,
    /// Range sizes in pages for the range sweep (1024 and more: full purge).
    #[arg(long, value_delimiter = ',', default_values_t = [1u64, 4, 16, 64, 256, 1023, 1024, 4096])]
    ranges: Vec<u64>,
    /// Contexts per chiplet for the contexts sweep (1..=16).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 4, 8, 16])]
    contexts: Vec<usize>,
    /// Chiplet counts for the chiplets sweep (1..=4).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 3, 4])]
    chiplets: Vec<usize>,
    /// Range in pages of the contexts and chiplets sweeps.
    #[arg(long, default_value_t = 16)]
    sd_pages: u64,
    /// TLB sizes of the purge-latency sweep (reference model; the RTL is built at 128).
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 128, 256])]
    tlb_sizes: Vec<usize>,
    /// Largest teardown region in KiB (sizes 4 KiB × 4^k).
    #[arg(long, default_value_t = 1 << 20)]
    teardown_max_kib: u64,
    /// Largest per-page teardown simulated, in pages (at most 4096); larger are extrapolated.
    #[arg(long, default_value_t = 4096)]
    per_page_sim_pages: u64,
    /// Nominal clock for the ns figures, GHz.
    #[arg(long, default_value_t = 1.0)]
    clock_ghz: f64,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

impl BenchCli {
    fn config(&self) -> gru_cosim::bench::BenchConfig {
        gru_cosim::bench::BenchConfig {
            seed: self.seed,
            out: self.out.clone(),
            accesses: self.accesses,
            reps: self.reps,
            sd_seeds: self.sd_seeds,
            ranges: self.ranges.clone(),
            contexts: self.contexts.clone(),
            chiplet_counts: self.chiplets.clone(),
            sd_pages: self.sd_pages,
            tlb_sizes: self.tlb_sizes.clone(),
            teardown_max_kib: self.teardown_max_kib,
            per_page_sim_pages: self.per_page_sim_pages,
            clock_ghz: self.clock_ghz,
            command: std::iter::once("gru-cosim".to_owned()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" "),
            progress: !self.no_progress,
            ..gru_cosim::bench::BenchConfig::default()
        }
    }
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
    /// Waveform of chiplet 0 until the first shootdowns are over, under waves/ (RTL only).
    #[arg(long, value_enum, default_value_t = Waves::Fst)]
    waves: Waves,
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
            waves: wave_format(self.waves),
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
        Cmd::Bench(b) => gru_cosim::bench::run(&b.config()).map(|_| true),
        Cmd::Run(r) => run_cmd::run(&r.args()).map_err(|e| e.to_string()),
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

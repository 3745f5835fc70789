//! `gru-cosim`: the command-line front end.

use clap::{Parser, Subcommand, ValueEnum};
use gru_cosim::chiplet_cmds;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ok = match cli.cmd {
        Cmd::Demo { seed, waves } => {
            let fmt = match waves {
                Waves::Fst => Some(gru_sim::rtl::WaveFormat::Fst),
                Waves::Vcd => Some(gru_sim::rtl::WaveFormat::Vcd),
                Waves::None => None,
            };
            chiplet_cmds::demo(seed, fmt)
        }
        Cmd::Lockstep { cycles, seed } => chiplet_cmds::lockstep(cycles, seed),
        Cmd::Bench { cycles, seed } => chiplet_cmds::bench(cycles, seed),
    };
    match ok {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

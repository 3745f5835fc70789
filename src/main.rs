//! `gru-cosim`: the command-line front end.

use clap::{Parser, Subcommand, ValueEnum};
use gru_cosim::chiplet_cmds;
use gru_cosim::coverage_report;
use gru_cosim::mutants::{self, MutantKind};
use gru_cosim::regress::{self, regress, RegressArgs, RegressResults, Seeds, Shard};
use gru_cosim::run_cmd::{self, PurgeTimingKind, RunArgs, WORKLOADS};
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
    /// The performance report: co-simulation throughput (full system vs pure C++ Verilator
    /// loops on the same stimulus, every chiplet or chiplet 0), shootdown round trips and purge
    /// latency, MMIO writes per teardown, fault service and CALL_OS causes on the stress and HPC
    /// workloads, timed regressions. Writes REPORT.md, results.json and SVG charts; the last line
    /// is `bench: system/cpp_all = <r>, system/cpp = <r>, irq-share(hpc) = <p>%,
    /// irq-share(stress) = <p>%`.
    Bench(BenchCli),
    /// Run a workload on the whole system (chiplets, kernel, driver) with every check on and
    /// print the summary; exit status 1 on a failed check, with the command that replays it and
    /// the `debug` command that dumps its waveform. No waveform unless asked (--waves fst).
    #[command(args_override_self = true)]
    Run(RunCli),
    /// Run a workload as `run` does and print the driver's statistics as Linux shows them
    /// (`/proc/sgi_uv/gru/statistics`, `mcs_statistics` with each handle operation's count, mean
    /// and max latency in cycles), why misses went to the user thread, and every chiplet's own
    /// statistics handle; `--json` writes them as JSON too. Exit status 1 on a failed check.
    #[command(args_override_self = true)]
    Stats(StatsCli),
    /// From a failure to its waveform: run the workload as given to find its first failure,
    /// re-run it on the RTL dumping the cycles around the failing cycle and around the
    /// shootdowns and dropins that led to it, and write GTKWave and Surfer files with a named
    /// marker on the failing cycle and each related event, opening on the failure.
    #[command(args_override_self = true)]
    Debug(DebugCli),
    /// Run the random workload over a range of seeds in parallel, every check on; write every
    /// seed's result as JSON (and JUnit XML), and end with `regress: <S> seeds, <F> failures`
    /// (exit status 1 if F > 0).
    #[command(args_override_self = true)]
    Regress(RegressCli),
    /// Join the results files of the shards of one regression (`regress --shard i/n --out ...`)
    /// into the unsharded run's; print and exit like `regress`.
    Merge {
        /// The shards' results files (all of 1/n … n/n).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Where the merged results go.
        #[arg(long, default_value = "regress-results.json")]
        out: std::path::PathBuf,
        /// Also write the merged results as JUnit XML.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
    },
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
    /// The coverage report of a coverage build's runs (`make coverage`): merge the RTL
    /// counter files, write lcov files and genhtml reports of RTL line and toggle coverage, the
    /// functional cover points of the given regressions, and an index.html linking them. The
    /// last line is `rtl coverage: line L%, toggle T%`; exit status 1 if the line coverage is
    /// below --min-line.
    Coverage {
        /// Where the coverage build's runs wrote their counters (GRU_RTL_COVERAGE_DIR).
        #[arg(long, default_value = "target/coverage/dat")]
        dat: std::path::PathBuf,
        /// Regression results files (`regress --out`) for the functional page.
        #[arg(long = "results")]
        results: Vec<std::path::PathBuf>,
        /// The output directory.
        #[arg(long, default_value = "target/coverage")]
        out: std::path::PathBuf,
        /// Fail when the RTL line coverage is below this percentage.
        #[arg(long, default_value_t = 0.0)]
        min_line: f64,
    },
    /// List the workloads `run` knows and the mutants `--mutant` plants.
    List,
    /// Plant each mutant of the catalogue in turn: every golden scenario, then the default
    /// workload with seeds 1..=N, until a check fails (driver mutants on the model hardware,
    /// RTL mutants on their RTL variant). Ends with `mutants: <K> of <M> caught`; exit status 1
    /// if a mutant escaped.
    Mutants {
        /// Seeds of the default workload tried after the scenarios.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
    },
    /// Re-run a failure from the replay command it printed (quote it as one argument; options
    /// added at its end override the printed ones, e.g. "... --hw rtl"). With --waves, dump
    /// its waveform as `debug` does.
    Replay {
        /// The printed command, e.g. "gru-cosim run default --seed 7 --hw model".
        command: String,
        /// Dump the waveform around its first failure (as `gru-cosim debug`).
        #[arg(long)]
        waves: bool,
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

#[derive(clap::Args, Debug)]
struct BenchCli {
    /// Seed of the default workload (and first seed of the directed setups).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "bench")]
    out: std::path::PathBuf,
    /// GRU accesses of the default and HPC workloads.
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
    /// Chiplet counts for the chiplets sweep (1..=16).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 4, 8, 16])]
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
    /// Nominal clock for the ns figures, GHz [default: 0.5, the assumption of
    /// docs/MICROARCH.md §0: no public source gives the UV hub's clock].
    #[arg(long, default_value_t = 0.5)]
    clock_ghz: f64,
    /// Seeds of the timed regression on the reference model (0: skip it).
    #[arg(long, default_value_t = 1_000)]
    scale_model_seeds: u64,
    /// GRU accesses of each seed of the timed regression on the reference model.
    #[arg(long, default_value_t = 1_000)]
    scale_model_accesses: u64,
    /// Seeds of the timed regression on the RTL, `--accesses` GRU accesses each (0: skip it).
    #[arg(long, default_value_t = 100)]
    scale_rtl_seeds: u64,
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
            scale_model_seeds: self.scale_model_seeds,
            scale_model_accesses: self.scale_model_accesses,
            scale_rtl_seeds: self.scale_rtl_seeds,
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
    /// 2.6.27–3.5: invalidate_page under the page-table lock.
    Classic,
    /// 3.6–4.12: invalidate_page after the page-table lock is dropped.
    ClassicUnlocked,
    /// 5.4+: ranges with events.
    Modern,
}

/// The system options `run` and `regress` share.
#[derive(clap::Args, Debug)]
struct SystemCli {
    /// Hardware [default: rtl for `run`, model for `regress`].
    #[arg(long, value_enum)]
    hw: Option<Hw>,
    /// Notifier era [default: modern, or a scenario's own]; overrides a scenario's.
    #[arg(long, value_enum)]
    era: Option<EraArg>,
    /// Chiplets, 1..=16 [default: 2, or a scenario's own]; overrides a scenario's.
    #[arg(long)]
    chiplets: Option<usize>,
    /// CPUs, 1..=64 [default: 4, or a scenario's own]; overrides a scenario's.
    #[arg(long)]
    cpus: Option<usize>,
    /// GRU accesses of the random workload [default: 20000]; refused with a scenario.
    #[arg(long)]
    accesses: Option<u64>,
    /// Plant this bug (see `list`); a check must then fail.
    #[arg(long, value_parser = mutants::find)]
    mutant: Option<MutantKind>,
    /// Switch the chip monitors off (the end-to-end checks alone).
    #[arg(long)]
    no_chip_monitors: bool,
    /// Evaluate every chiplet every cycle: no idle skipping, no fast-forward (the same run,
    /// slower; for comparison).
    #[arg(long)]
    no_skip: bool,
    /// Round trip of an MMIO request across the interconnect, in cycles (half each way),
    /// 2..=100000 [default: 100]; printed with every latency figure.
    #[arg(long)]
    mmio_latency: Option<u64>,
    /// Reproduce Linux's THP lookup (grufault.c `atomic_pte_lookup`): a THP miss served from
    /// the interrupt handler drops in the huge page's first 4K frame, whatever the address.
    #[arg(long)]
    real_thp_lookup: bool,
    /// The chips' purge timing: `fixed` (one engine, TLB_ENTRIES/PURGE_LANES cycles per TGH),
    /// or `variable` (4 engines, 250 cycles + 4 per entry purged + a seeded tail of 0..8 x 128
    /// cycles; docs/MICROARCH.md §7; RTL: FST waves only, no RTL mutant).
    #[arg(long, value_enum, default_value = "fixed")]
    purge_timing: PurgeTimingKind,
}

impl SystemCli {
    /// The run of `workload` with `seed`, on `default_hw` unless `--hw` was given.
    fn args(&self, workload: &str, seed: u64, default_hw: Hw) -> RunArgs {
        let hw = match self.hw.unwrap_or(default_hw) {
            Hw::Rtl => HwKind::Rtl,
            Hw::Model => HwKind::Model,
            Hw::Lockstep => HwKind::Lockstep,
        };
        let era = self.era.map(|e| match e {
            EraArg::Classic => Era::Classic,
            EraArg::ClassicUnlocked => Era::ClassicUnlocked,
            EraArg::Modern => Era::Modern,
        });
        RunArgs {
            workload: workload.to_owned(),
            seed,
            hw,
            era,
            chiplets: self.chiplets,
            cpus: self.cpus,
            waves: None,
            json: None,
            accesses: self.accesses,
            mutant: self.mutant,
            no_chip_monitors: self.no_chip_monitors,
            no_skip: self.no_skip,
            stats: false,
            mmio_latency: self.mmio_latency,
            real_thp_lookup: self.real_thp_lookup,
            purge_timing: self.purge_timing,
        }
    }
}

#[derive(clap::Args, Debug)]
struct RunCli {
    /// Workload: `default`, `directed`, `hpc`, `files`, a scenario name (see `list`) or a scenario .toml file.
    workload: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    system: SystemCli,
    /// Waveform of chiplet 0 with its GTKWave save file, under waves/ (RTL only): none unless
    /// asked; with --waves-window or --waves-around, FST unless given.
    #[arg(long, value_enum)]
    waves: Option<Waves>,
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
    /// After the summary, print the statistics as `gru-cosim stats` does.
    #[arg(long)]
    stats: bool,
}

#[derive(clap::Args, Debug)]
struct StatsCli {
    /// Workload: `default`, `directed`, `hpc`, `files`, a scenario name (see `list`) or a scenario .toml file.
    workload: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    system: SystemCli,
    /// Also write the statistics to this file as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

impl RunCli {
    fn args(&self) -> RunArgs {
        let asked = self.waves_window.is_some() || self.waves_around.is_some();
        let waves = self.waves.unwrap_or(if asked { Waves::Fst } else { Waves::None });
        let waves = wave_format(waves).map(|format| WaveRequest {
            format,
            select: match (self.waves_window, self.waves_around) {
                (Some(w), _) => WaveSelect::Cycles(w),
                (None, Some(Around::Shootdown)) => WaveSelect::AroundShootdowns { margin: self.waves_margin, max: self.waves_max },
                (None, None) => WaveSelect::Whole,
            },
        });
        RunArgs { waves, json: self.json.clone(), stats: self.stats, ..self.system.args(&self.workload, self.seed, Hw::Rtl) }
    }
}

#[derive(clap::Args, Debug)]
struct DebugCli {
    /// Workload: `default`, `directed`, `hpc`, `files`, a scenario name (see `list`) or a scenario .toml file.
    workload: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    system: SystemCli,
    /// Cycles dumped each side of the failing cycle (a quarter of it around each related event).
    #[arg(long, default_value_t = DEFAULT_MARGIN)]
    margin: u64,
    #[arg(long, value_enum, default_value_t = DumpFormat::Fst)]
    format: DumpFormat,
    /// Then open it: start `gtkwave <dump> <save file>` (it must be on PATH).
    #[arg(long)]
    open: bool,
}

#[derive(clap::Args, Debug)]
struct RegressCli {
    /// Seeds, inclusive: `A..B` (or `A..=B`, or one seed).
    #[arg(long, default_value = "1..200")]
    seeds: Seeds,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard i of n, counted from 1 (a Slurm array task id fits): the seeds at
    /// positions i-1, i-1+n, i-1+2n… of the range. `gru-cosim merge` joins the shards' files.
    #[arg(long, default_value = "1/1")]
    shard: Shard,
    #[command(flatten)]
    system: SystemCli,
    /// Where every seed's result is written (JSON).
    #[arg(long, default_value = "regress-results.json")]
    out: std::path::PathBuf,
    /// Also write JUnit XML, one testcase per seed.
    #[arg(long)]
    junit: Option<std::path::PathBuf>,
    /// Dump the waveform of every failed seed (re-run on the RTL, as `gru-cosim debug`).
    #[arg(long)]
    waves_on_fail: bool,
    /// The random workload: `default`, `directed` (steered into the race windows), `hpc` (first
    /// touch, then streaming; rare mm operations), `files` (every kind of memory: private and
    /// shared anonymous, shared and private file mappings; file operations), or `mix`
    /// (seed s runs one of default, directed and files in one of the three eras, by s % 8:
    /// see `MIX_PLAN`).
    #[arg(long, default_value = "default", value_parser = ["default", "directed", "hpc", "files", gru_cosim::regress::MIX])]
    workload: String,
}

impl RegressCli {
    fn args(&self) -> RegressArgs {
        let run = self.system.args(&self.workload, self.seeds.first, Hw::Model);
        let jobs = self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        RegressArgs {
            seeds: self.seeds,
            shard: self.shard,
            jobs,
            run,
            out: self.out.clone(),
            junit: self.junit.clone(),
            waves_on_fail: self.waves_on_fail,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
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
        Cmd::Stats(st) => stats(&st),
        Cmd::Debug(d) => {
            let format = match d.format {
                DumpFormat::Fst => gru_sim::rtl::WaveFormat::Fst,
                DumpFormat::Vcd => gru_sim::rtl::WaveFormat::Vcd,
            };
            debug(&d.system.args(&d.workload, d.seed, Hw::Rtl), d.margin, format, d.open)
        }
        Cmd::Regress(r) => {
            let args = r.args();
            let results = regress(&args).map_err(|e| e.to_string())?;
            print_results(&results, &args.out, args.junit.as_deref());
            Ok(results.failed == 0)
        }
        Cmd::Coverage { dat, results, out, min_line } => {
            let args = coverage_report::ReportArgs { dat_dir: dat, results, out, src_root: ".".into() };
            let r = coverage_report::report(&args).map_err(|e| e.to_string())?;
            let f = &r.functional;
            println!("report      {}", args.out.join("index.html").display());
            println!("functional  {} of {} cover points hit (functional.html)", f.hit, f.total);
            println!("rtl         {} line points never hit (rtl-uncovered.txt)", r.uncovered.len());
            println!("{}", r.summary());
            if r.line.percent() < min_line {
                eprintln!("coverage: RTL line coverage {:.1}% is below --min-line {min_line}%", r.line.percent());
            }
            Ok(r.line.percent() >= min_line)
        }
        Cmd::Merge { files, out, junit } => {
            let parts = files.iter().map(|f| regress::read_results(f)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
            let merged = regress::merge(&parts).map_err(|e| e.to_string())?;
            regress::write_results(&out, &merged).map_err(|e| e.to_string())?;
            if let Some(j) = &junit {
                regress::write_junit(j, &merged).map_err(|e| e.to_string())?;
            }
            print_results(&merged, &out, junit.as_deref());
            Ok(merged.failed == 0)
        }
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
            println!("  surfer {}", waves::gtkw::surfer_path(&out.dump).display());
            println!("gtkwave {} {}", out.dump.display(), out.save.display());
            Ok(true)
        }
        Cmd::List => {
            for (name, what) in WORKLOADS {
                println!("{name:<26} {what}");
            }
            for name in gru_cosim::scenario::scenario_names() {
                println!("{name:<26} scenario golden/scenarios/{name}.toml");
            }
            for m in mutants::catalogue() {
                println!("{:<26} mutant: {}", m.name(), m.description());
            }
            for m in mutants::fault_injections() {
                println!("{:<26} {}", m.name(), m.description());
            }
            Ok(true)
        }
        Cmd::Mutants { seeds } => mutants::run_all(seeds, mutant_run_args).map_err(|e| e.to_string()),
        Cmd::Replay { command, waves } => {
            let words = shell_words::split(&command).map_err(|e| format!("cannot split {command:?} into words: {e}"))?;
            let cli = Cli::try_parse_from(words).map_err(|e| e.to_string())?;
            match (cli.cmd, waves) {
                (Cmd::Run(r), true) => debug(&r.args(), DEFAULT_MARGIN, gru_sim::rtl::WaveFormat::Fst, false),
                (c @ (Cmd::Run(_) | Cmd::Debug(_)), _) => run(c),
                _ => Err("replay takes a `gru-cosim run ...` (or `gru-cosim debug ...`) command".into()),
            }
        }
    }
}

/// `gru-cosim debug`: the failure, the files and the command that opens them.
/// `gru-cosim stats`: the run, then its statistics (text, and JSON if asked); false when a check
/// failed (its verdict and replay line printed first).
fn stats(st: &StatsCli) -> Result<bool, String> {
    let args = st.system.args(&st.workload, st.seed, Hw::Rtl);
    if let Some(path) = &st.json {
        run_cmd::check_writable(path).map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    let out = run_cmd::execute(&args, false).map_err(|e| e.to_string())?;
    println!("gru-cosim stats {} ({} cycles)", out.replay.trim_start_matches("gru-cosim run "), out.cycles);
    print!("{}", out.stats.text());
    if let Some(path) = &st.json {
        let json = serde_json::to_string_pretty(&out.stats).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    for f in &out.failures {
        println!("FAIL [{}] cycle {}: {}", f.check, f.cycle, f.detail);
    }
    if !out.failures.is_empty() {
        println!("replay: {}", out.replay);
    }
    Ok(out.failures.is_empty())
}

fn debug(args: &RunArgs, margin: u64, format: gru_sim::rtl::WaveFormat, open: bool) -> Result<bool, String> {
    let Some(out) = run_cmd::debug(args, margin, format).map_err(|e| e.to_string())? else {
        println!("PASS: {} has no failure to show", args.command());
        return Ok(true);
    };
    let f = &out.failure;
    println!("FAIL [{}] cycle {} seed {}: {}", f.check, f.cycle, args.seed, f.detail.lines().next().unwrap_or(""));
    let w = &out.focus.windows;
    let list: Vec<String> = w.iter().map(|w| format!("{}..{}", w.start, w.end)).collect();
    println!("  dump    {} (chiplet {}, cycles {})", out.dump.display(), out.focus.chiplet, list.join(" "));
    let marks: Vec<String> = out.focus.markers.iter().map(|m| format!("{} @{}", m.name, m.cycle)).collect();
    println!("  markers {}", marks.join(", "));
    println!("  save    {}", out.save.display());
    println!("  surfer  surfer {} --command-file {}", out.dump.display(), out.surfer.display());
    println!("gtkwave {} {}", out.dump.display(), out.save.display());
    if open {
        std::process::Command::new("gtkwave")
            .arg(&out.dump)
            .arg(&out.save)
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start gtkwave: {e} (the files above are written)"))?;
    }
    Ok(false)
}

/// The failures, the files written and the last line of `regress` and `merge`.
fn print_results(r: &RegressResults, out: &std::path::Path, junit: Option<&std::path::Path>) {
    for s in r.results.iter().filter(|s| !s.passed()) {
        if let Some(f) = &s.failure {
            println!("FAIL seed {} [{}] cycle {}: {}", s.seed, f.check, f.cycle, f.detail.lines().next().unwrap_or(""));
        }
        println!("  replay: {}", s.replay);
        if let Some(d) = &s.debug {
            println!("  waves:  {d}");
        }
        match &s.waves {
            Some(w) if w.error.is_none() => println!("  dumped: gtkwave {} {}", w.dump, w.save),
            Some(w) => println!("  no waveform: {}", w.error.as_deref().unwrap_or("")),
            None => {}
        }
    }
    let wall: f64 = r.results.iter().map(|s| s.wall_s).sum();
    let cycles: u64 = r.results.iter().map(|s| s.cycles).sum();
    println!("results written to {} ({cycles} cycles, {wall:.1} s of runs)", out.display());
    if let Some(j) = junit {
        println!("JUnit written to {}", j.display());
    }
    if let Some(c) = r.coverage() {
        let missed = c.missed();
        if !missed.is_empty() {
            println!("cover points not hit: {}", missed.join(", "));
        }
        println!("{}", c.summary());
    }
    println!("regress: {} seeds, {} failures", r.total, r.failed);
}

/// The arguments `run` would get for `workload` with `seed` and `mutant` on the mutant's
/// hardware (the defaults otherwise), so that the replay command printed is the one `run` prints.
fn mutant_run_args(mutant: MutantKind, workload: &str, seed: u64) -> RunArgs {
    let seed = seed.to_string();
    let hw = format!("{:?}", mutant.hw()).to_lowercase();
    let line = ["gru-cosim", "run", "--seed", &seed, "--hw", &hw, "--mutant", mutant.name(), "--", workload];
    match Cli::try_parse_from(line).map(|c| c.cmd) {
        Ok(Cmd::Run(r)) => r.args(),
        // Every option above is valid (the mutant comes from the catalogue) and `--` makes any
        // workload name a positional argument.
        other => unreachable!("{line:?} is a run command: {:?}", other.err()),
    }
}

/// Let a closed stdout (`gru-cosim run ... | head`) end the process quietly, as it does any
/// Unix filter, instead of a panic in `println!`: Rust ignores SIGPIPE by default.
fn default_sigpipe() {
    #[cfg(unix)]
    {
        extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: restoring the default action of a signal, before any thread starts.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    match run(Cli::parse().cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            // clap's own messages already start with "error: ".
            eprintln!("error: {}", e.strip_prefix("error: ").unwrap_or(&e).trim_end());
            ExitCode::from(2)
        }
    }
}

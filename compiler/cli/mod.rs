//! Command-line front end: clap types and one function per subcommand.
//! Exit codes: 0 ok, 1 diagnostics with errors, 2 usage or I/O error.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "hplanc", version, about = "Compile heterogeneous LLM-inference placement plans", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a plan file, solve every plan, write reports and print a summary.
    Build(BuildArgs),
    /// Solve every plan across its concurrency range (or its `sweep` block) and write
    /// the frontiers: <OUT>/frontier.csv and <OUT>/frontier.svg with every plan as a
    /// series, and each plan's reports as `build` does.
    Sweep {
        #[command(flatten)]
        args: BuildArgs,
        /// Concurrency values, log-spaced over the workload's range, for plans without
        /// a `sweep` block.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=crate::ir::MAX_SWEEP_POINTS as u64))]
        points: u64,
    },
    /// Report diagnostics only: parse, resolve, check names, schemas and units (fast).
    Check {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Also solve every plan, to find SLOs no placement meets and models that do not fit.
        #[arg(long)]
        solve: bool,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// Treat warnings as errors (exit 1).
        #[arg(short = 'W', long)]
        deny_warnings: bool,
    },
    /// Write the dataflow graph of a plan's decode step (or prefill) as Graphviz DOT.
    Graph {
        file: PathBuf,
        /// The plan to draw; default: the file's only plan.
        #[arg(long)]
        plan: Option<String>,
        #[arg(long, value_enum, default_value_t = GraphStep::Decode)]
        step: GraphStep,
        /// Decode batch; default: the low end of the workload's concurrency (with
        /// --placed: the batch the solver chose). From 1 to 1,000,000.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: Option<u64>,
        /// Solve the plan and colour every node by the pool it runs on.
        #[arg(long)]
        placed: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Format .hplan files in place (folders are searched); --check only reports.
    Fmt {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Change nothing; exit 1 if any file is not formatted.
        #[arg(long)]
        check: bool,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Make the edits diagnostics offer (a misspelled name, unit, attribute or choice
    /// with one close match) in FILE, not in the files it imports; --check only lists them.
    Fix {
        file: PathBuf,
        /// Change nothing; list the edits and exit 1 if there are any.
        #[arg(long)]
        check: bool,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Explain a diagnostic code, e.g. `hplanc explain E0202`.
    Explain { code: String },
    /// Run the language server on stdin/stdout (for editors).
    Lsp,
    /// Evaluate every row of a measured-deployments CSV (the columns of
    /// deployments.csv) as a pinned plan and compare predicted with measured TTFT and
    /// TPOT, per (model, system, framework, mode) group and overall.
    Validate {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
        format: ValidateFormat,
        /// Extra name mappings: `model,CSV_NAME,STD_MODEL` and
        /// `system,CSV_NAME,STD_CHIP,STD_LINK` lines (docs/validation.md).
        #[arg(long)]
        map: Option<PathBuf>,
    },
    /// Solve a plan and serve its placement request by request (a discrete-event
    /// simulation on the solver's step times): TTFT, TPOT and end-to-end percentiles,
    /// throughput and goodput under the plan's SLOs (docs/simulation.md).
    Simulate {
        file: PathBuf,
        /// The plan to simulate; default: the file's only plan.
        #[arg(long)]
        plan: Option<String>,
        /// Poisson arrivals at this many requests per second.
        #[arg(long, group = "arrivals")]
        rate: Option<f64>,
        /// A closed loop of this many clients, each sending its next request when its
        /// last finishes (the default: the solved batch).
        #[arg(long, group = "arrivals", value_parser = clap::value_parser!(u64).range(1..=crate::simulate::MAX_REQUESTS))]
        concurrency: Option<u64>,
        /// Arrivals and lengths from a trace: `arrival_s,input_tokens,output_tokens` lines.
        #[arg(long, group = "arrivals")]
        trace: Option<PathBuf>,
        /// Requests to simulate (not with --trace).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=crate::simulate::MAX_REQUESTS))]
        requests: u64,
        /// Prompt lengths: N, uniform:LOW:HIGH or lognormal:MEAN:SIGMA (tokens); default:
        /// the workload's.
        #[arg(long, value_parser = simulate::parse_lengths)]
        input: Option<crate::simulate::Lengths>,
        /// Answer lengths, as --input.
        #[arg(long, value_parser = simulate::parse_lengths)]
        output: Option<crate::simulate::Lengths>,
        /// Seed of the random draws (default: the workload's `seed`, else 0); the same seed gives the same bytes out.
        #[arg(long)]
        seed: Option<u64>,
        /// Most sequences decoding at once; default: the solved batch.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_batch: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Write one CSV line per request here.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Write the queue, running batch and KV use over time here (Chrome trace).
        #[arg(long)]
        counters: Option<PathBuf>,
        /// Write the same counters as an SVG chart here.
        #[arg(long)]
        plot: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Fit a chip's fixed costs per serving framework to the measured deployments on it
    /// (the columns of deployments.csv) and write the calibrated chip as .hplan text.
    Calibrate {
        file: PathBuf,
        /// The stdlib chip a system of the data maps to (e.g. h100_sxm_measured)
        #[arg(long)]
        chip: String,
        /// Extra name mappings, as for `validate`
        #[arg(long)]
        map: Option<PathBuf>,
        /// Write the calibrated chip here instead of printing it
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Human,
    Json,
    Csv,
    Markdown,
    /// one CSV line per row: its configuration, predicted and measured figures
    Rows,
}

/// What `build` and `sweep` share.
#[derive(Args, Debug)]
pub struct BuildArgs {
    pub file: PathBuf,
    /// Output folder; each plan's report goes to <OUT>/<plan>/report.json.
    #[arg(long, default_value = "hplan-out")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Treat warnings as errors (exit 1, write nothing).
    #[arg(short = 'W', long)]
    pub deny_warnings: bool,
    /// Threads for the plans, sweeps and varied inputs (0: one per core; at most 1024;
    /// each plan's solve also runs its two runner-up searches side by side); the output
    /// is the same for any number.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1024))]
    pub jobs: u64,
    /// Re-build on every save of the file or anything it imports, until interrupted;
    /// open <OUT>/report.html and it reloads itself after each build.
    #[arg(long)]
    pub watch: bool,
}

impl BuildArgs {
    fn run(&self, sweep_points: Option<usize>) -> u8 {
        let opts = build::Options {
            out: Some(&self.out),
            format: self.format,
            color: self.color.enabled(),
            solve: true,
            deny_warnings: self.deny_warnings,
            jobs: self.jobs as usize,
            sweep_points,
        };
        if self.watch {
            watch::run(&self.file, opts)
        }
        build::run(&self.file, opts)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphStep {
    Decode,
    Prefill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Colour on stderr: never when NO_COLOR is set or stderr is not a terminal (auto).
    fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal(),
        }
    }
}

/// Prints to stdout; a closed pipe (`hplanc build x | head`) is not an error.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Prints to stderr, ignoring write failures.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub(crate) use {errln, outln};

mod build;
mod calibrate;
mod explain;
pub mod fix;
mod fmt;
mod graph;
mod simulate;
mod validate;
mod watch;

/// The plan a command names with `--plan`, or the file's only plan; otherwise an error
/// (printed) and the exit code.
fn choose_plan(comp: &crate::Compilation, name: Option<&str>, file: &std::path::Path) -> Result<usize, u8> {
    let plans = &comp.program.plans;
    let found = match name {
        Some(n) => plans.iter().position(|p| p.name == n),
        None if plans.len() == 1 => Some(0),
        None => None,
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        match (name, names.is_empty()) {
            (_, true) => errln!("error: `{}` declares no plan", file.display()),
            (Some(n), false) => errln!("error: no plan `{n}`; the file declares {}", names.join(", ")),
            (None, false) => errln!("error: the file declares several plans ({}); choose one with --plan", names.join(", ")),
        }
        2
    })
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // clap's own printing also tolerates a closed pipe
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Build(args) => args.run(None),
        Command::Sweep { args, points } => args.run(Some(points as usize)),
        Command::Check { file, format, solve, color, deny_warnings } => build::run(
            &file,
            build::Options { out: None, format, color: color.enabled(), solve, deny_warnings, jobs: 0, sweep_points: None },
        ),
        Command::Graph { file, plan, step, batch, placed, out, color } => {
            graph::run(&file, graph::Options { plan: plan.as_deref(), step, batch, placed, out: out.as_deref(), color: color.enabled() })
        }
        Command::Fmt { paths, check, color } => fmt::run(&paths, check, color.enabled()),
        Command::Fix { file, check, color } => fix::run(&file, check, color.enabled()),
        Command::Explain { code } => explain::run(&code),
        Command::Lsp => crate::lsp::run_stdio(),
        Command::Validate { file, format, map } => validate::run(&file, format, map.as_deref()),
        Command::Simulate {
            file,
            plan,
            rate,
            concurrency,
            trace,
            requests,
            input,
            output,
            seed,
            max_batch,
            format,
            csv,
            counters,
            plot,
            color,
        } => simulate::run(
            &file,
            simulate::Options {
                plan: plan.as_deref(),
                rate,
                concurrency,
                trace: trace.as_deref(),
                requests,
                input,
                output,
                seed,
                max_batch,
                json: format == Format::Json,
                csv: csv.as_deref(),
                counters: counters.as_deref(),
                plot: plot.as_deref(),
                color: color.enabled(),
            },
        ),
        Command::Calibrate { file, chip, map, out } => calibrate::run(&file, &chip, map.as_deref(), out.as_deref()),
    };
    ExitCode::from(code)
}

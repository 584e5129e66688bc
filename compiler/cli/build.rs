//! `hplanc build` and `hplanc check`.

use super::Format;
use crate::diagnostics::render;
use crate::{compile_file_with, BuildOptions, Mode};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Options<'a> {
    /// where to write reports (`build`); `None` for `check`
    pub out: Option<&'a Path>,
    pub format: Format,
    pub color: bool,
    pub solve: bool,
    pub deny_warnings: bool,
    /// threads for sweeps (0: one per core)
    pub jobs: usize,
    /// `hplanc sweep`: sweep plans without a `sweep` block at this many points, and
    /// print only the frontiers
    pub sweep_points: Option<usize>,
}

/// A progress bar on stderr for sweeps, drawn only on a terminal and only once the
/// sweep has run for half a second; cleared when done.
struct Progress {
    tty: bool,
    start: Instant,
    /// when it last drew (None: never)
    drawn: Mutex<Option<Instant>>,
}

impl Progress {
    fn new() -> Self {
        Progress { tty: std::io::stderr().is_terminal(), start: Instant::now(), drawn: Mutex::new(None) }
    }

    fn update(&self, done: usize, total: usize) {
        if !self.tty || self.start.elapsed() < Duration::from_millis(500) {
            return;
        }
        let Ok(mut drawn) = self.drawn.lock() else { return };
        if drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(50)) && done < total {
            return;
        }
        *drawn = Some(Instant::now());
        let width = 30;
        let filled = width * done / total.max(1);
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width - filled));
        let mut err = std::io::stderr().lock();
        use std::io::Write as _;
        let _ = write!(err, "\r  sweeping [{bar}] {done}/{total} points ");
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.drawn.lock().is_ok_and(|d| d.is_some()) {
            use std::io::Write as _;
            let _ = write!(std::io::stderr().lock(), "\r{}\r", " ".repeat(60));
        }
    }
}

/// Compiles `file`; with `out`, writes each plan's report.json, report.md,
/// frontier.csv, frontier.svg and trace.json to `out/<plan>/`, and every plan's
/// frontier together to `out/frontier.csv` and `out/frontier.svg`. Nothing is written when there are errors (or
/// warnings, with `deny_warnings`).
pub fn run(file: &Path, opts: Options<'_>) -> u8 {
    let Options { out, format, color, solve, deny_warnings, jobs, sweep_points } = opts;
    let mode = if solve { Mode::Build } else { Mode::Check };
    let progress = Progress::new();
    let update = |done: usize, total: usize| progress.update(done, total);
    let build = BuildOptions { jobs, sweep_points, progress: Some(&update), ..Default::default() };
    let compiled = compile_file_with(file, mode, &build);
    progress.clear();
    let comp = match compiled {
        Ok(c) => c,
        Err(e) => {
            super::errln!("error: cannot read `{}`: {e}", file.display());
            return 2;
        }
    };
    let failed = comp.has_errors() || (deny_warnings && comp.diagnostics.warning_count() > 0);
    let report = comp.report();
    match format {
        Format::Json => {
            let doc = if out.is_some() {
                serde_json::to_string_pretty(&report)
            } else {
                serde_json::to_string_pretty(&serde_json::json!({ "diagnostics": report.diagnostics }))
            };
            match doc {
                Ok(s) => super::outln!("{s}"),
                Err(e) => {
                    super::errln!("error: cannot serialise the report: {e}");
                    return 2;
                }
            }
        }
        Format::Human => {
            let rendered = render::render_all(&comp.diagnostics, &comp.sources, color);
            if !rendered.is_empty() {
                super::errln!("{}", rendered.trim_end_matches('\n'));
            }
            if out.is_some() && !failed {
                for (i, p) in report.plans.iter().enumerate() {
                    if i > 0 {
                        super::outln!();
                    }
                    let text =
                        if sweep_points.is_some() { crate::report::human::render_frontier(p) } else { crate::report::human::render(p) };
                    super::outln!("{}", text.trim_end_matches('\n'));
                }
                for c in &report.comparisons {
                    let text = crate::report::human::render_blocks(crate::report::compare::document(c));
                    super::outln!("\n{}", text.trim_end_matches('\n'));
                }
            }
        }
    }
    if failed {
        return 1;
    }
    // a file of chips, models or links alone has nothing to build: no empty charts
    // that would claim things about plans that do not exist
    if out.is_some() && report.plans.is_empty() && report.comparisons.is_empty() {
        super::errln!("{}: no plan to build (the file declares none); nothing written", comp.sources.get(comp.root).name);
        return 0;
    }
    if let Some(out) = out {
        for plan in &report.plans {
            let one = crate::report::Report {
                hplanc: report.hplanc.clone(),
                plans: vec![plan.clone()],
                comparisons: vec![],
                diagnostics: report.diagnostics.clone(),
            };
            let dir = out.join(&plan.name);
            let json = match serde_json::to_string_pretty(&one) {
                Ok(s) => s + "\n",
                Err(e) => {
                    super::errln!("error: cannot serialise the report: {e}");
                    return 2;
                }
            };
            let mut files = vec![
                ("report.json", json),
                ("report.md", crate::report::markdown::render(plan)),
                ("frontier.csv", crate::report::csv::render(std::slice::from_ref(plan))),
            ];
            if let Some(trace) = crate::report::trace::render(plan) {
                files.push(("trace.json", trace));
            }
            files.push(("frontier.svg", crate::report::svg::render(std::slice::from_ref(plan))));
            for (name, text) in files {
                if let Err(e) = write_atomic(&dir, name, &text) {
                    super::errln!("error: cannot write `{}`: {e}", dir.join(name).display());
                    return 2;
                }
            }
            if format == Format::Human {
                super::outln!("\n  wrote {} (and report.md, frontier.csv, frontier.svg, trace.json)", dir.join("report.json").display());
            }
        }
        // every plan's frontier together, and the comparisons
        let mut all =
            vec![("frontier.csv", crate::report::csv::render(&report.plans)), ("frontier.svg", crate::report::svg::render(&report.plans))];
        if !report.comparisons.is_empty() {
            let md: Vec<String> =
                report.comparisons.iter().map(|c| crate::report::markdown::render_blocks(crate::report::compare::document(c))).collect();
            all.push(("compare.md", md.join("\n")));
        }
        for (name, text) in all {
            if let Err(e) = write_atomic(out, name, &text) {
                super::errln!("error: cannot write `{}`: {e}", out.join(name).display());
                return 2;
            }
        }
        if format == Format::Human {
            super::outln!("  wrote {} and frontier.svg (every plan)", out.join("frontier.csv").display());
        }
    }
    0
}

/// Writes to a temporary file in the same folder, then renames it into place.
pub(super) fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}

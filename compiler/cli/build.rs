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

/// Compiles `file`; with `out`, writes each plan's report.json, report.md, report.html,
/// frontier.csv, frontier.svg and trace.json to `out/<plan>/`, and every plan's
/// frontier together to `out/frontier.csv`, `out/frontier.svg` and `out/report.html`.
/// Nothing is written when there are errors (or warnings, with `deny_warnings`).
pub fn run(file: &Path, opts: Options<'_>) -> u8 {
    build(file, &opts, None).code
}

/// What one build did, for `build --watch`.
pub struct Built {
    pub code: u8,
    /// every file the build read from disk (the file and its imports)
    pub files: Vec<std::path::PathBuf>,
    /// the plans it wrote a folder for
    pub plans: Vec<String>,
}

/// Under `build --watch`: the plan folders earlier builds wrote, whose pages show a
/// failed build's diagnostics too (so an open page of any plan sees them).
#[derive(Default)]
pub struct Watching {
    pub plans: Vec<String>,
}

/// One build. Under `--watch` (`watching`), the pages poll `watch.js` and a build with
/// errors writes its diagnostics into out/report.html and the plan pages earlier builds
/// wrote (nothing else), so the open page shows them until the next good save.
pub fn build(file: &Path, opts: &Options<'_>, watching: Option<&Watching>) -> Built {
    let &Options { out, format, color, solve, deny_warnings, jobs, sweep_points } = opts;
    let mut built = Built { code: 0, files: vec![file.to_path_buf()], plans: vec![] };
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
            built.code = 2;
            return built;
        }
    };
    for (_, f) in comp.sources.iter() {
        if let crate::source::Origin::Disk(path) = &f.origin {
            if !built.files.contains(path) {
                built.files.push(path.clone());
            }
        }
    }
    let file_name = comp.sources.get(comp.root).name.clone();
    let watch = watching.is_some();
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
                    built.code = 2;
                    return built;
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
    let diagnostics_text = render::render_all(&comp.diagnostics, &comp.sources, false);
    let page = |title: String,
                plans: &[crate::report::PlanReport],
                comparisons: &[crate::report::compare::ComparisonReport],
                stamp: Option<&str>| {
        crate::report::html::render(&crate::report::html::Page {
            title,
            hplanc: &report.hplanc,
            plans,
            comparisons,
            diagnostics: &report.diagnostics,
            diagnostics_text: &diagnostics_text,
            watch: stamp.map(str::to_string),
        })
    };
    if failed {
        // under --watch the open pages show what is wrong; a plain build writes nothing
        if let (Some(out), Some(w)) = (out, watching) {
            let title = format!("hplanc: {file_name} (did not build)");
            let stamp = crate::report::html::stamp(&[&diagnostics_text]);
            let html = page(title, &[], &[], Some(&stamp));
            let dirs = std::iter::once(out.to_path_buf()).chain(w.plans.iter().map(|p| out.join(p)));
            for dir in dirs {
                for (name, text) in [("report.html", html.clone()), ("watch.js", crate::report::html::watch_js(&stamp))] {
                    if let Err(e) = write_atomic(&dir, name, &text) {
                        super::errln!("error: cannot write `{}`: {e}", dir.join(name).display());
                    }
                }
            }
        }
        built.code = 1;
        return built;
    }
    // a file of chips, models or links alone has nothing to build: no empty charts
    // that would claim things about plans that do not exist
    if out.is_some() && report.plans.is_empty() && report.comparisons.is_empty() {
        super::errln!("{file_name}: no plan to build (the file declares none); nothing written");
        return built;
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
                    built.code = 2;
                    return built;
                }
            };
            let stamp = watch.then(|| crate::report::html::stamp(&[&json, &diagnostics_text]));
            let html = page(format!("hplanc: plan {} ({file_name})", plan.name), std::slice::from_ref(plan), &[], stamp.as_deref());
            let mut files = vec![
                ("report.json", json),
                ("report.md", crate::report::markdown::render(plan)),
                ("frontier.csv", crate::report::csv::render(std::slice::from_ref(plan))),
            ];
            if let Some(trace) = crate::report::trace::render(plan) {
                files.push(("trace.json", trace));
            }
            files.push(("frontier.svg", crate::report::svg::render(std::slice::from_ref(plan))));
            if let Some(svg) = plan.uncertainty.as_ref().and_then(|u| crate::report::tornado::render(&plan.name, plan.objective.kind, u)) {
                files.push(("tornado.svg", svg));
            }
            files.push(("report.html", html));
            if let Some(stamp) = &stamp {
                files.push(("watch.js", crate::report::html::watch_js(stamp)));
            }
            for (name, text) in files {
                if let Err(e) = write_atomic(&dir, name, &text) {
                    super::errln!("error: cannot write `{}`: {e}", dir.join(name).display());
                    built.code = 2;
                    return built;
                }
            }
            built.plans.push(plan.name.clone());
            if format == Format::Human {
                super::outln!(
                    "\n  wrote {} (and report.md, report.html, frontier.csv, frontier.svg, trace.json)",
                    dir.join("report.json").display()
                );
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
        let stamp = watch.then(|| crate::report::html::stamp(&[&serde_json::to_string(&report).unwrap_or_default(), &diagnostics_text]));
        all.push(("report.html", page(format!("hplanc: {file_name}"), &report.plans, &report.comparisons, stamp.as_deref())));
        if let Some(stamp) = &stamp {
            all.push(("watch.js", crate::report::html::watch_js(stamp)));
        }
        for (name, text) in all {
            if let Err(e) = write_atomic(out, name, &text) {
                super::errln!("error: cannot write `{}`: {e}", out.join(name).display());
                built.code = 2;
                return built;
            }
        }
        if format == Format::Human {
            super::outln!("  wrote {} and frontier.svg, report.html (every plan)", out.join("frontier.csv").display());
        }
    }
    built
}

/// Writes to a temporary file in the same folder, then renames it into place.
pub(super) fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}

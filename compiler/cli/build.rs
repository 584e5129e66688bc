//! `hplanc build` and `hplanc check`.

use super::Format;
use crate::diagnostics::render;
use crate::{compile_file, Mode};
use std::path::Path;

pub struct Options<'a> {
    /// where to write reports (`build`); `None` for `check`
    pub out: Option<&'a Path>,
    pub format: Format,
    pub color: bool,
    pub solve: bool,
    pub deny_warnings: bool,
}

/// Compiles `file`; with `out`, writes each plan's report.json, report.md,
/// frontier.csv and trace.json to `out/<plan>/`. Nothing is written when there are errors (or
/// warnings, with `deny_warnings`).
pub fn run(file: &Path, opts: Options<'_>) -> u8 {
    let Options { out, format, color, solve, deny_warnings } = opts;
    let mode = if solve { Mode::Build } else { Mode::Check };
    let comp = match compile_file(file, mode) {
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
                    super::outln!("{}", crate::report::human::render(p).trim_end_matches('\n'));
                }
            }
        }
    }
    if failed {
        return 1;
    }
    if let Some(out) = out {
        for plan in &report.plans {
            let one =
                crate::report::Report { hplanc: report.hplanc.clone(), plans: vec![plan.clone()], diagnostics: report.diagnostics.clone() };
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
            for (name, text) in files {
                if let Err(e) = write_atomic(&dir, name, &text) {
                    super::errln!("error: cannot write `{}`: {e}", dir.join(name).display());
                    return 2;
                }
            }
            if format == Format::Human {
                super::outln!("\n  wrote {} (and report.md, frontier.csv, trace.json)", dir.join("report.json").display());
            }
        }
    }
    0
}

/// Writes to a temporary file in the same folder, then renames it into place.
fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}

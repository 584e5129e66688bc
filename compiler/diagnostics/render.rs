//! Terminal rendering through ariadne. The only file that knows ariadne.

use super::{Diagnostic, Diagnostics, Severity};
use crate::source::SourceMap;
use ariadne::{Config, IndexType, Label, Report, ReportKind};

/// Renders every diagnostic, sorted, followed by a one-line count.
pub fn render_all(diags: &Diagnostics, sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    // the sources are indexed once for all diagnostics, not once per diagnostic
    let mut cache = source_cache(sources);
    let sorted = diags.sorted();
    let mut shown = 0;
    for d in &sorted {
        if shown == MAX_RENDERED || out.len() >= MAX_RENDERED_BYTES {
            break;
        }
        out.push_str(&render_with(d, sources, color, &mut cache));
        shown += 1;
    }
    if sorted.len() > shown {
        out.push_str(&format!(
            "... and {} more diagnostics not shown (at most {MAX_RENDERED}, or {} MiB of text, are; `--format json` lists them all)\n",
            sorted.len() - shown,
            MAX_RENDERED_BYTES >> 20
        ));
    }
    let (e, w) = (diags.error_count(), diags.warning_count());
    if e + w > 0 {
        let plural = |n: usize, s: &str| if n == 1 { format!("{n} {s}") } else { format!("{n} {s}s") };
        match (e, w) {
            (0, w) => out.push_str(&format!("{} emitted\n", plural(w, "warning"))),
            (e, 0) => out.push_str(&format!("{} emitted\n", plural(e, "error"))),
            (e, w) => out.push_str(&format!("{} and {} emitted\n", plural(e, "error"), plural(w, "warning"))),
        }
    }
    out
}

/// A span's byte range, snapped outward to character boundaries and clamped to the
/// text: ariadne slices lines at these offsets and must never land inside a character.
fn safe_range(sources: &SourceMap, span: crate::source::Span) -> std::ops::Range<usize> {
    let text = &sources.get(span.file).text;
    let mut start = (span.start as usize).min(text.len());
    let mut end = (span.end as usize).min(text.len()).max(start);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Most diagnostics rendered for a terminal: each shows its source lines, so a file of
/// thousands of mistakes on one long line would print gigabytes.
pub const MAX_RENDERED: usize = 100;
/// Rendering stops once this much text is written (each diagnostic prints its whole
/// source lines, and one line may be the whole file).
pub const MAX_RENDERED_BYTES: usize = 4 << 20;

fn source_cache(sources: &SourceMap) -> impl ariadne::Cache<String> + '_ {
    ariadne::sources(sources.iter().map(|(_, f)| (f.name.clone(), f.text.as_str())))
}

/// One diagnostic as the terminal shows it.
pub fn render(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    render_with(d, sources, color, &mut source_cache(sources))
}

fn render_with(d: &Diagnostic, sources: &SourceMap, color: bool, cache: &mut impl ariadne::Cache<String>) -> String {
    let name = |span: crate::source::Span| sources.get(span.file).name.clone();
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let config = Config::default().with_index_type(IndexType::Byte).with_color(color);
    let primary = (name(d.primary.span), safe_range(sources, d.primary.span));
    let mut report = Report::build(kind, primary).with_config(config).with_code(d.code).with_message(&d.message);
    // ariadne starts a new snippet whenever a label lies above the previous one, so
    // labels go in source order (same-file labels then share one snippet).
    let mut labels: Vec<&super::Label> = std::iter::once(&d.primary).chain(d.labels.iter()).collect();
    labels.sort_by_key(|l| (l.span.file, l.span.start));
    for l in labels {
        report = report.with_label(Label::new((name(l.span), safe_range(sources, l.span))).with_message(&l.message));
    }
    for n in &d.notes {
        report = report.with_note(n);
    }
    if !d.help.is_empty() {
        report = report.with_help(&d.help);
    }
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail; a failure would only lose this one diagnostic's text.
    let _ = report.finish().write(cache, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

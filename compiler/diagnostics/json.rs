//! JSON rendering of diagnostics, as report.json and `check --format json` carry them.

use super::{Diagnostic, Diagnostics};
use crate::source::SourceMap;
use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonSpan {
    pub start: u32,
    pub end: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonLabel {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
    pub message: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
    pub labels: Vec<JsonLabel>,
    pub notes: Vec<String>,
    pub help: String,
    /// the help as an edit (absent when it is not one): the span's text becomes
    /// `replacement`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<JsonFix>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonFix {
    pub file: String,
    pub span: JsonSpan,
    pub replacement: String,
}

fn label(sources: &SourceMap, l: &super::Label) -> JsonLabel {
    let f = sources.get(l.span.file);
    let (line, column) = f.line_col(l.span.start);
    JsonLabel { file: f.name.clone(), line, column, span: JsonSpan { start: l.span.start, end: l.span.end }, message: l.message.clone() }
}

pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let p = label(sources, &d.primary);
    JsonDiagnostic {
        code: d.code,
        severity: d.severity.as_str(),
        message: d.message.clone(),
        file: p.file.clone(),
        line: p.line,
        column: p.column,
        span: p.span.clone(),
        labels: std::iter::once(p).chain(d.labels.iter().map(|l| label(sources, l))).collect(),
        notes: d.notes.clone(),
        help: d.help.clone(),
        fix: d.fix.as_ref().map(|f| JsonFix {
            file: sources.get(f.span.file).name.clone(),
            span: JsonSpan { start: f.span.start, end: f.span.end },
            replacement: f.replacement.clone(),
        }),
    }
}

pub fn all_to_json(diags: &Diagnostics, sources: &SourceMap) -> Vec<JsonDiagnostic> {
    diags.sorted().into_iter().map(|d| to_json(d, sources)).collect()
}

//! The one diagnostic model. Phases build [`Diagnostic`]s through the
//! constructors in [`catalog`] and push them into a [`Diagnostics`] sink;
//! rendering happens only at the edges ([`render`], [`json`]).

pub mod catalog;
pub mod json;
pub mod render;

use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// A code from the catalog, e.g. `E0202`.
    pub code: &'static str,
    pub severity: Severity,
    /// One sentence, lower case, no final period.
    pub message: String,
    /// Where the problem is; its message says what is wrong there.
    pub primary: Label,
    /// Other places that explain the problem (a declaration, a link, a limit).
    pub labels: Vec<Label>,
    /// Facts that help understand the problem.
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: String,
    /// The help as an edit a tool can make (an editor's quick fix, `hplanc fix`).
    pub fix: Option<Fix>,
}

/// A machine-applicable edit: the text `original` at `span` becomes `replacement`.
/// Tools apply it only where the source still reads `original` there.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub span: Span,
    pub original: String,
    pub replacement: String,
}

impl Fix {
    /// What the edit does, for a menu: "write `h100_sxm`".
    pub fn title(&self) -> String {
        format!("write `{}`", self.replacement)
    }

    /// Whether `text` (the span's file) still reads `original` at the span.
    pub fn applies_to(&self, text: &str) -> bool {
        text.get(self.span.range()) == Some(self.original.as_str())
    }
}

impl Diagnostic {
    /// Offers replacing `original` at the primary span with `replacement`.
    pub fn fix(mut self, original: &str, replacement: Option<String>) -> Diagnostic {
        self.fix = replacement.map(|replacement| Fix { span: self.primary.span, original: original.to_string(), replacement });
        self
    }

    pub fn label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The sink every phase appends to.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// (code, primary label, message) of every diagnostic in `list`, to say each once in
    /// O(log n) per push
    said: std::collections::BTreeSet<(&'static str, Span, String, String)>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        // The same problem found twice (e.g. through two imports) is said once.
        if self.said.insert((d.code, d.primary.span, d.primary.message.clone(), d.message.clone())) {
            self.list.push(d);
        }
    }

    /// Forgets every diagnostic after the first `len` (a look-ahead's findings).
    pub fn truncate(&mut self, len: usize) {
        for d in self.list.drain(len.min(self.list.len())..) {
            self.said.remove(&(d.code, d.primary.span, d.primary.message, d.message));
        }
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.list.len() - self.error_count()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Diagnostics in a stable order: by file, position, then code.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.list.iter().collect();
        v.sort_by(|a, b| {
            (a.primary.span.file, a.primary.span.start, a.primary.span.end, a.code).cmp(&(
                b.primary.span.file,
                b.primary.span.start,
                b.primary.span.end,
                b.code,
            ))
        });
        v
    }

    /// The diagnostics, in the order pushed.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn a_problem_found_twice_is_said_once_and_again_after_a_look_ahead_is_forgotten() {
        let at = |s: usize| Span::new(FileId(0), s, s + 1);
        let mut d = Diagnostics::new();
        d.push(catalog::unused_import(at(0), "a"));
        d.push(catalog::unused_import(at(0), "a"));
        d.push(catalog::unused_import(at(1), "a"));
        assert_eq!(d.len(), 2);
        // what a look-ahead found and forgot can be found again
        d.truncate(1);
        assert_eq!(d.len(), 1);
        d.push(catalog::unused_import(at(1), "a"));
        assert_eq!(d.len(), 2);
        // 10,000 distinct findings: each push is a set lookup, not a scan
        for i in 0..10_000 {
            d.push(catalog::unused_import(at(2 + i), "b"));
        }
        assert_eq!(d.len(), 10_002);
    }
}

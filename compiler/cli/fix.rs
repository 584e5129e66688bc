//! `hplanc fix FILE [--check]`: makes the edits diagnostics offer (a misspelled name,
//! unit, attribute or choice that has one close match) in FILE, then reports what is
//! left. Only FILE is edited, never a file it imports; an edit is made only where the
//! text still reads what the diagnostic saw.

use crate::diagnostics::{render, Fix};
use crate::{compile_with, BuildOptions, Compilation, Mode};
use std::path::Path;

/// Rounds of checking and fixing at most: a fixed name can reveal a mistake behind it
/// (an attribute of the item it now names), which the next round fixes.
pub const MAX_ROUNDS: usize = 8;

/// The edits of `comp`'s diagnostics that apply to its root file `text`, in order, none
/// overlapping another (of two that overlap, the earlier is kept).
pub fn root_fixes(comp: &Compilation, text: &str) -> Vec<Fix> {
    let mut fixes: Vec<Fix> =
        comp.diagnostics.iter().filter_map(|d| d.fix.clone()).filter(|f| f.span.file == comp.root && f.applies_to(text)).collect();
    fixes.sort_by_key(|f| (f.span.start, f.span.end));
    fixes.dedup();
    let mut kept: Vec<Fix> = Vec::new();
    for f in fixes {
        if kept.last().is_none_or(|k| k.span.end <= f.span.start) {
            kept.push(f);
        }
    }
    kept
}

/// `text` with `fixes` (in order, not overlapping) made.
pub fn apply(text: &str, fixes: &[Fix]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in fixes {
        let r = f.span.range();
        out.push_str(&text[at..r.start]);
        out.push_str(&f.replacement);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

pub fn run(file: &Path, check: bool, color: bool) -> u8 {
    let original = match crate::source::read_source(file) {
        Ok(t) => t,
        Err(e) => {
            super::errln!("error: cannot read `{}`: {e}", file.display());
            return 2;
        }
    };
    let name = file.to_string_lossy();
    let compile = |text: &str| compile_with(&name, text, Some(file), Mode::Check, &BuildOptions::default());
    let mut text = original.clone();
    let mut comp = compile(&text);
    let mut made = 0;
    for _ in 0..MAX_ROUNDS {
        let fixes = root_fixes(&comp, &text);
        if fixes.is_empty() {
            break;
        }
        let f = comp.sources.get(comp.root);
        for x in &fixes {
            let (line, col) = f.line_col(x.span.start);
            let verb = if check { "would write" } else { "wrote" };
            super::outln!("{}:{line}:{col}: {verb} `{}` for `{}`", file.display(), x.replacement, x.original);
        }
        made += fixes.len();
        text = apply(&text, &fixes);
        comp = compile(&text);
        if check {
            // what a second round would fix depends on the first: one round is the answer
            break;
        }
    }
    if check {
        return u8::from(made > 0);
    }
    if text != original {
        // whole or not at all: a temporary file beside it, renamed over it
        let tmp = file.with_extension("hplan.fix.tmp");
        if let Err(e) = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, file)) {
            let _ = std::fs::remove_file(&tmp);
            super::errln!("error: cannot write `{}`: {e}", file.display());
            return 2;
        }
    }
    let rendered = render::render_all(&comp.diagnostics, &comp.sources, color);
    if !rendered.is_empty() {
        super::errln!("{}", rendered.trim_end_matches('\n'));
    }
    let left = comp.diagnostics.len();
    super::outln!("{} edit{} made; {} diagnostic{} left", made, if made == 1 { "" } else { "s" }, left, if left == 1 { "" } else { "s" });
    u8::from(comp.has_errors())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn fix(start: u32, end: u32, original: &str, replacement: &str) -> Fix {
        Fix { span: Span::new(FileId(0), start as usize, end as usize), original: original.into(), replacement: replacement.into() }
    }

    #[test]
    fn edits_are_made_in_order_and_one_that_no_longer_reads_its_text_is_not() {
        let text = "pool a = h100sxm x 8 over nvlnk4";
        let a = fix(9, 16, "h100sxm", "h100_sxm");
        let b = fix(26, 32, "nvlnk4", "nvlink4");
        assert_eq!(apply(text, &[a.clone(), b.clone()]), "pool a = h100_sxm x 8 over nvlink4");
        assert!(a.applies_to(text) && b.applies_to(text));
        // the text changed under it: the edit does not apply
        assert!(!a.applies_to("pool a = h100_sm x 8 over nvlnk4"));
        assert_eq!(a.title(), "write `h100_sxm`");
    }
}

//! `hplanc fmt [--check] PATHS`: format .hplan files (folders are searched).

use crate::diagnostics::{render, Diagnostics};
use crate::source::{Origin, SourceMap};
use crate::syntax::fmt::{format, significant_tokens};
use std::path::{Path, PathBuf};

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "hplan") {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

pub fn run(paths: &[PathBuf], check: bool, color: bool) -> u8 {
    let mut files = Vec::new();
    for p in paths {
        if let Err(e) = collect(p, &mut files) {
            super::errln!("error: cannot read `{}`: {e}", p.display());
            return 2;
        }
    }
    let mut status = 0u8;
    for f in files {
        let text = match crate::source::read_source(&f) {
            Ok(t) => t,
            Err(e) => {
                super::errln!("error: cannot read `{}`: {e}", f.display());
                return 2;
            }
        };
        // Only files that parse are formatted: a skipped line has no canonical form.
        let mut sources = SourceMap::new();
        let id = sources.add(Origin::Disk(f.clone()), f.to_string_lossy(), text.clone());
        let mut diags = Diagnostics::new();
        crate::syntax::parse_file(id, &text, &mut diags);
        if diags.has_errors() {
            let rendered = render::render_all(&diags, &sources, color);
            if !rendered.is_empty() {
                super::errln!("{}", rendered.trim_end_matches('\n'));
            }
            super::errln!("error: not formatting `{}`: fix the syntax errors first", f.display());
            status = status.max(1);
            continue;
        }
        let formatted = format(&text);
        if significant_tokens(&formatted) != significant_tokens(&text) {
            super::errln!("error: the formatter would change the meaning of `{}`; this is a bug, please report it", f.display());
            return 2;
        }
        if formatted == text {
            continue;
        }
        if check {
            super::outln!("would reformat {}", f.display());
            status = status.max(1);
        } else {
            let tmp = f.with_extension("hplan.fmt.tmp");
            if let Err(e) = std::fs::write(&tmp, &formatted).and_then(|_| std::fs::rename(&tmp, &f)) {
                super::errln!("error: cannot write `{}`: {e}", f.display());
                return 2;
            }
            super::outln!("formatted {}", f.display());
        }
    }
    status
}

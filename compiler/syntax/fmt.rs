//! The formatter: canonical layout from the lossless token stream.
//!
//! Line breaks are the author's (blank lines collapse to one); everything else is
//! canonical: two-space indentation by brace depth, one space between tokens except
//! inside paths, stage names and units (`std::chips`, `decode.attn`, `TB/s`), inside
//! `[...]` and before `,`; a number keeps a glued suffix (`64k`) and gets one space
//! before its unit (`80 GB`); `=` aligns across consecutive attribute lines of a
//! block; trailing comments sit two spaces after the code. Only non-trivia tokens
//! matter to the parser, and the formatter never adds, drops or reorders them.

use super::lexer::{lex, Tok, Token};

/// Number suffixes the grammar glues to a number (`64k`, `2Mi`).
const SUFFIXES: [&str; 8] = ["k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"];

/// Start offsets of the braces of `use` groups (`std::chips::{a, b}`), which take
/// no inner spaces, unlike blocks.
fn use_group_braces(tokens: &[Token]) -> std::collections::BTreeSet<usize> {
    let mut marked = std::collections::BTreeSet::new();
    let mut stack: Vec<bool> = Vec::new();
    let mut prev: Option<Tok> = None;
    for t in tokens.iter().filter(|t| !t.kind.is_trivia()) {
        match t.kind {
            Tok::LBrace => {
                let group = prev == Some(Tok::PathSep);
                if group {
                    marked.insert(t.start);
                }
                stack.push(group);
            }
            Tok::RBrace if stack.pop() == Some(true) => {
                marked.insert(t.start);
            }
            _ => {}
        }
        prev = Some(t.kind);
    }
    marked
}

/// The canonical space between two tokens, never gluing two tokens into something
/// that lexes differently (`/` `/` must not become a `//` comment). In `safe` mode
/// the source's own adjacency is kept: glued stays glued, separated stays separated.
fn spacing(src: &str, groups: &std::collections::BTreeSet<usize>, prev: Token, next: Token, safe: bool) -> &'static str {
    if safe {
        return if prev.end == next.start && prev.kind != Tok::LineComment { "" } else { " " };
    }
    let s = canonical_spacing(src, groups, prev, next);
    if s.is_empty() && prev.end != next.start {
        let glued = format!("{}{}", prev.text(src), next.text(src));
        let toks = lex(&glued);
        if toks.len() != 2 || toks[0].kind != prev.kind || toks[1].kind != next.kind {
            return " ";
        }
    }
    s
}

fn canonical_spacing(src: &str, groups: &std::collections::BTreeSet<usize>, prev: Token, next: Token) -> &'static str {
    use Tok::*;
    match (prev.kind, next.kind) {
        (_, LineComment) => "  ",
        (LBrace, _) if groups.contains(&prev.start) => "",
        (_, RBrace) if groups.contains(&next.start) => "",
        (LBrace, RBrace) => "",
        (LBrace, _) | (_, RBrace) => " ",
        (LBracket, _) | (_, RBracket) => "",
        (_, Comma) | (_, Semi) => "",
        (PathSep, _) | (_, PathSep) | (Dot, _) | (_, Dot) => "",
        (Slash | Star | Caret | MiddleDot, _) | (_, Slash | Star | Caret | MiddleDot) => "",
        (Minus | Plus, Number) => "",
        // `25%`: the percent sign is the number's unit
        (Number, Percent) => "",
        (Number, Ident) if prev.end == next.start && SUFFIXES.contains(&next.text(src)) => "",
        _ => " ",
    }
}

struct Line {
    indent: usize,
    /// rendered code and comments, without indentation
    text: String,
    /// for alignment, when the line is `name = ...`: the name's (bytes, characters)
    attr_name: Option<(usize, usize)>,
    blank: bool,
}

/// Formats `src`. Total on any input, but meant for files that parse: callers
/// refuse to format files with syntax errors. Never changes the significant tokens:
/// if canonical spacing would (some broken inputs), the source's own token
/// adjacency is kept instead.
pub fn format(src: &str) -> String {
    let out = format_with(src, false);
    if significant_tokens(&out) == significant_tokens(src) {
        out
    } else {
        format_with(src, true)
    }
}

fn format_with(src: &str, safe: bool) -> String {
    let tokens = lex(src);
    let groups = use_group_braces(&tokens);
    let mut raw_lines: Vec<Vec<Token>> = vec![vec![]];
    for t in tokens {
        match t.kind {
            Tok::Newline => raw_lines.push(vec![]),
            Tok::Space => {}
            _ => raw_lines.last_mut().map(|l| l.push(t)).unwrap_or(()),
        }
    }
    let mut depth: usize = 0;
    let mut lines: Vec<Line> = Vec::new();
    for items in raw_lines {
        if items.is_empty() {
            lines.push(Line { indent: 0, text: String::new(), attr_name: None, blank: true });
            continue;
        }
        let leading_closers = items.iter().take_while(|t| matches!(t.kind, Tok::RBrace | Tok::RBracket)).count();
        let indent = depth.saturating_sub(leading_closers);
        let mut text = String::new();
        for (i, t) in items.iter().enumerate() {
            if i > 0 {
                text.push_str(spacing(src, &groups, items[i - 1], *t, safe));
            }
            let piece = t.text(src);
            text.push_str(if t.kind == Tok::LineComment { piece.trim_end() } else { piece });
            match t.kind {
                Tok::LBrace | Tok::LBracket => depth += 1,
                Tok::RBrace | Tok::RBracket => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let attr_name = (items.len() > 2 && items[0].kind == Tok::Ident && items[1].kind == Tok::Eq).then(|| {
            let name = items[0].text(src);
            (name.len(), name.chars().count())
        });
        lines.push(Line { indent, text, attr_name, blank: false });
    }
    // Align `=` over runs of consecutive attribute lines at the same indentation.
    let mut i = 0;
    while i < lines.len() {
        let Some(_) = lines[i].attr_name else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j < lines.len() && lines[j].attr_name.is_some() && lines[j].indent == lines[i].indent {
            j += 1;
        }
        let width = lines[i..j].iter().filter_map(|l| l.attr_name.map(|(_, w)| w)).max().unwrap_or(0);
        for l in &mut lines[i..j] {
            let (bytes, w) = l.attr_name.unwrap_or((0, width));
            let (name, rest) = l.text.split_at(bytes);
            l.text = format!("{name}{}{rest}", " ".repeat(width - w));
        }
        i = j;
    }
    let mut out = String::new();
    let mut pending_blank = false;
    for l in lines {
        if l.blank {
            pending_blank = !out.is_empty();
            continue;
        }
        if pending_blank {
            out.push('\n');
            pending_blank = false;
        }
        out.push_str(&"  ".repeat(l.indent));
        out.push_str(&l.text);
        out.push('\n');
    }
    out
}

/// The tokens the parser sees (no trivia), as (kind, text): formatting must keep them.
pub fn significant_tokens(src: &str) -> Vec<(Tok, String)> {
    lex(src).into_iter().filter(|t| !t.kind.is_trivia()).map(|t| (t.kind, t.text(src).to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spacing_and_indentation() {
        let src = "chip  a{\nsource=\"x\"  // why\n    compute {bf16=989TFLOP / s}\n\n\n  memory hbm { capacity = 80GB , holds=[ weights,kv ] }\n}\nworkload w { input = 64k tok\nconcurrency = 1..=512 }\n";
        let want = "chip a {\n  source = \"x\"  // why\n  compute { bf16 = 989 TFLOP/s }\n\n  memory hbm { capacity = 80 GB, holds = [weights, kv] }\n}\nworkload w { input = 64k tok\n  concurrency = 1 ..= 512 }\n";
        assert_eq!(format(src), want);
    }

    #[test]
    fn aligns_equals_in_runs() {
        let src = "model m {\n  layers = 80\n  hidden_size = 8192\n\n  vocab = 1\n}\n";
        assert_eq!(format(src), "model m {\n  layers      = 80\n  hidden_size = 8192\n\n  vocab = 1\n}\n");
    }

    #[test]
    fn never_glues_tokens_into_new_ones() {
        // Found by the fuzzer: `/ /x` became the comment `//x`.
        for src in ["/ /x", "a = 1 . . = 2", "x = < - > y", "p = a : : b", "/ * c * /", "aµ = 1\nbb = 2"] {
            let out = format(src);
            assert_eq!(significant_tokens(&out), significant_tokens(src), "{src:?} -> {out:?}");
            assert_eq!(format(&out), out, "{src:?}");
        }
    }

    #[test]
    fn idempotent_and_token_preserving() {
        let src = "use std::chips::{a,b}\nplan p{ place decode.attn on gpu\n slo{tpot<=2.5ms,ttft <= 3 s}\nminimize cost_per_mtok}\nlink l { latency = -2 us\n bw = 1 B*s^-1 }";
        let once = format(src);
        assert_eq!(format(&once), once);
        assert_eq!(significant_tokens(&once), significant_tokens(src));
        assert!(once.contains("slo { tpot <= 2.5 ms, ttft <= 3 s }"), "{once}");
        assert!(once.contains("-2 us") && once.contains("1 B*s^-1"), "{once}");
        assert!(once.starts_with("use std::chips::{a, b}\n"), "{once}");
    }
}

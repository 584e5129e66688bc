//! The two front ends agree: for every .hplan file in stdlib/, examples/ and tests/,
//! every token pest sees starts and ends on a logos token boundary, and logos finds
//! no unlexable text in files that parse. The formatter is idempotent, keeps every
//! significant token, and stdlib/ and examples/ are formatted.

use hplanc::syntax::fmt::{format, significant_tokens};
use hplanc::syntax::lexer::{lex, Tok};
use hplanc::syntax::parser::{HplanParser, Rule};
use pest::Parser;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn files(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| crate::root().join(d)).collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "hplan") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 5);
    out
}

fn parses_cleanly(text: &str) -> bool {
    let mut d = hplanc::diagnostics::Diagnostics::new();
    hplanc::syntax::parse_file(hplanc::source::FileId(0), text, &mut d);
    !d.has_errors()
}

fn leaves(pair: pest::iterators::Pair<'_, Rule>, out: &mut Vec<(Rule, usize, usize)>) {
    let (rule, span) = (pair.as_rule(), pair.as_span());
    let inner: Vec<_> = pair.into_inner().collect();
    // A string is one token in both (pest's STRING_INNER is its inside).
    if inner.is_empty() || rule == Rule::string {
        out.push((rule, span.start(), span.end()));
        return;
    }
    for p in inner {
        leaves(p, out);
    }
}

#[test]
fn pest_and_logos_agree_on_token_boundaries() {
    let mut checked = 0;
    for f in files(&["stdlib", "examples", "tests"]) {
        let text = std::fs::read_to_string(&f).unwrap();
        let toks = lex(&text);
        let boundaries: BTreeSet<usize> = toks.iter().flat_map(|t| [t.start, t.end]).chain([0, text.len()]).collect();
        if !parses_cleanly(&text) {
            continue;
        }
        assert!(toks.iter().all(|t| t.kind != Tok::Error), "{}: logos found unlexable text", f.display());
        let mut ls = Vec::new();
        for p in HplanParser::parse(Rule::file, &text).unwrap() {
            leaves(p, &mut ls);
        }
        for (rule, s, e) in ls {
            assert!(
                boundaries.contains(&s) && boundaries.contains(&e),
                "{}: pest token {rule:?} at {s}..{e} ({:?}) splits a logos token",
                f.display(),
                &text[s..e]
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn formatter_is_idempotent_and_keeps_every_token() {
    for f in files(&["stdlib", "examples", "tests"]) {
        let text = std::fs::read_to_string(&f).unwrap();
        if !parses_cleanly(&text) {
            continue;
        }
        let once = format(&text);
        assert_eq!(format(&once), once, "{}: not idempotent", f.display());
        assert_eq!(significant_tokens(&once), significant_tokens(&text), "{}: tokens changed", f.display());
        assert!(parses_cleanly(&once), "{}: formatted output does not parse", f.display());
    }
}

#[test]
fn stdlib_and_examples_are_formatted() {
    for f in files(&["stdlib", "examples"]) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(format(&text), text, "{} is not formatted: run `hplanc fmt stdlib examples`", f.display());
    }
}

/// Every unit spelling the registry accepts (each unit with each of its prefixes,
/// `µs` and `μs` among them) parses in pest as one quantity's unit, with its value,
/// and lexes as one logos token. (`2 μs` with the Greek mu used to be E0001.)
#[test]
fn every_unit_spelling_parses_and_lexes_as_one_token() {
    use hplanc::syntax::ast::{Entry, Value};
    let spellings = hplanc::units::known_units();
    assert!(spellings.iter().any(|s| s == "μs") && spellings.iter().any(|s| s == "µs") && spellings.len() > 80, "{}", spellings.len());
    for s in &spellings {
        let text = format!("chip c {{\n  x = 2 {s}\n}}\n");
        let mut d = hplanc::diagnostics::Diagnostics::new();
        let file = hplanc::syntax::parse_file(hplanc::source::FileId(0), &text, &mut d);
        assert!(!d.has_errors(), "`2 {s}` does not parse");
        let unit = file.items[0].body.entries.iter().find_map(|e| match e {
            Entry::Attr(a) => match &a.value {
                Value::Number(n) => n.unit.as_ref().map(|u| (n.value, u.name.clone())),
                _ => None,
            },
            _ => None,
        });
        assert_eq!(unit, Some((2.0, s.clone())), "`2 {s}`");
        let toks: Vec<Tok> = lex(s).iter().map(|t| t.kind).collect();
        assert_eq!(toks.len(), 1, "`{s}` lexes as {toks:?}");
        assert_ne!(toks[0], Tok::Error, "`{s}`");
    }
}

/// The item keywords come from one list (`ItemKind::ALL`): the pest rule takes exactly
/// them, the TextMate grammar highlights exactly them, and the "expected an item"
/// phrase and E0002's explanation name every one a user may write (`compare` was
/// missing from both).
#[test]
fn item_keywords_agree_everywhere() {
    use hplanc::syntax::ast::ItemKind;
    let all: Vec<&str> = ItemKind::ALL.iter().map(|k| k.keyword()).collect();
    let user: Vec<&str> = ItemKind::ALL.iter().filter(|k| !k.is_registry()).map(|k| k.keyword()).collect();
    for kw in &all {
        assert!(HplanParser::parse(Rule::ITEM_KIND, kw).is_ok_and(|p| p.as_str() == *kw), "pest: {kw}");
    }
    assert!(HplanParser::parse(Rule::ITEM_KIND, "chp").is_err() && HplanParser::parse(Rule::ITEM_KIND, "chips").is_err());
    let phrase = hplanc::syntax::parser::describe_rule(Rule::ITEM_KIND);
    let explanation = hplanc::diagnostics::catalog::lookup("E0002").unwrap().explanation;
    for kw in &user {
        assert!(phrase.contains(&format!("`{kw}`")), "{phrase}");
        assert!(explanation.split(|c: char| !c.is_alphanumeric()).any(|w| w == *kw), "E0002: {kw}");
    }
    let grammar = std::fs::read_to_string(crate::root().join("editors/vscode/syntaxes/hplan.tmLanguage.json")).unwrap();
    let at = grammar.find("^\\\\s*(chip|").expect("the item rule");
    let alternation = &grammar[at + "^\\\\s*(".len()..];
    let words: Vec<&str> = alternation[..alternation.find(')').unwrap()].split('|').collect();
    assert_eq!(words, all, "the TextMate grammar's item keywords");
}

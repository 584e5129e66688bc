//! What the editor features read off the text: the numbers it writes, the blocks around a position, and semantic tokens from the
//! logos lexer. Everything here works on a file that does not parse.

use crate::source::FileId;
use crate::syntax::ast::{Body, Entry, File, Item, ItemKind, Number, Spread, Value};
use crate::syntax::lexer::{lex, Tok, Token};
use std::collections::BTreeMap;

/// The parser's (partial) AST of `text`.
pub fn parse(text: &str) -> File {
    let mut sink = crate::diagnostics::Diagnostics::new();
    crate::syntax::lower::parse_file(FileId(0), text, &mut sink)
}

/// The stdlib's files parsed once: (path, text, AST).
pub fn stdlib() -> &'static [(&'static str, &'static str, File)] {
    static STD: std::sync::OnceLock<Vec<(&'static str, &'static str, File)>> = std::sync::OnceLock::new();
    STD.get_or_init(|| crate::resolve::stdlib::STDLIB_FILES.iter().map(|(p, t)| (*p, *t, parse(t))).collect())
}

/// The number literal (with its unit) whose span contains byte `at`.
pub fn number_at(file: &File, at: usize) -> Option<Number> {
    fn in_value(v: &Value, at: usize) -> Option<Number> {
        let hit = |n: &Number| n.span.range().contains(&at) || n.span.end as usize == at;
        match v {
            Value::Number(n) if hit(n) => Some(n.clone()),
            Value::Range { lo, hi, .. } => [lo, hi].into_iter().find(|n| hit(n)).cloned(),
            Value::Uncertain { nominal, spread, .. } => {
                let bounds: Vec<&Number> = match spread {
                    Spread::PlusMinus(d) => vec![nominal, d],
                    Spread::Within(a, b) => vec![nominal, a, b],
                };
                bounds.into_iter().find(|n| hit(n)).cloned()
            }
            Value::List(items, _) => items.iter().find_map(|x| in_value(x, at)),
            Value::Ref(_, Some(b)) => in_body(b, at),
            _ => None,
        }
    }
    fn in_body(b: &Body, at: usize) -> Option<Number> {
        b.entries.iter().find_map(|e| match e {
            Entry::Attr(a) => in_value(&a.value, at),
            Entry::Block(b) => in_body(&b.body, at),
            Entry::Constraint(c) => in_value(&c.value, at),
            _ => None,
        })
    }
    file.items.iter().filter(|i| i.span.range().contains(&at)).find_map(|i| in_body(&i.body, at))
}

/// The identifier (letters, digits, `_`) around byte `at`, and its byte range.
pub fn word_at(text: &str, at: usize) -> Option<(String, std::ops::Range<usize>)> {
    let is = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let start = text[..at].char_indices().rev().take_while(|(_, c)| is(*c)).last().map(|(i, _)| i).unwrap_or(at);
    let end = text[at..].char_indices().find(|(_, c)| !is(*c)).map(|(i, _)| at + i).unwrap_or(text.len());
    (start < end).then(|| (text[start..end].to_string(), start..end))
}

/// The blocks enclosing byte `at`, outermost first, by keyword (`plan`, `memory`, ...),
/// read from the text alone (brace matching skips comments and strings), so it works on
/// a file that does not parse.
pub fn enclosing(text: &str, at: usize) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut line_start = 0;
    while i < at.min(bytes.len()) {
        match bytes[i] {
            b'\n' => line_start = i + 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < at.min(bytes.len()) && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                let head = text[line_start..i].split_whitespace().next().unwrap_or("").to_string();
                // items do not nest: an item keyword starts afresh (an unclosed block
                // above, as while typing, does not swallow the rest of the file)
                if ItemKind::ALL.iter().any(|k| k.keyword() == head) {
                    stack.clear();
                }
                stack.push(head);
            }
            b'}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack
}

/// The item of the file whose text contains byte `at` (the partial AST's spans), or
/// failing that the last item that starts before it (a block still being typed).
pub fn item_around(file: &File, at: usize) -> Option<&Item> {
    file.items.iter().find(|i| i.span.range().contains(&at)).or_else(|| file.items.iter().rfind(|i| (i.span.start as usize) <= at))
}

/// Semantic token types, in the legend's order.
pub const TOKEN_TYPES: [&str; 15] = [
    "keyword",
    "property",
    "type",
    "number",
    "string",
    "comment",
    "operator",
    "class",
    "struct",
    "interface",
    "namespace",
    "event",
    "function",
    "enumMember",
    "variable",
];
/// Semantic token modifiers, in the legend's order (bit 0: a declaration).
pub const TOKEN_MODIFIERS: [&str; 2] = ["declaration", "defaultLibrary"];

fn type_index(name: &str) -> u32 {
    TOKEN_TYPES.iter().position(|t| *t == name).unwrap_or(TOKEN_TYPES.len() - 1) as u32
}

/// The semantic token type of an item kind's names.
pub fn kind_type(k: ItemKind) -> &'static str {
    match k {
        ItemKind::Chip => "class",
        ItemKind::Model => "struct",
        ItemKind::Link => "interface",
        ItemKind::Cluster => "namespace",
        ItemKind::Workload => "event",
        ItemKind::Plan | ItemKind::Compare => "function",
        ItemKind::Dimension | ItemKind::Prefix | ItemKind::Unit => "type",
    }
}

/// Words that are keywords wherever they stand (attribute names aside: a word before
/// `=` is an attribute).
const KEYWORDS: [&str; 12] = ["use", "pool", "place", "on", "over", "any", "auto", "minimize", "maximize", "true", "false", "x"];
/// Multipliers a number may carry before its unit (`8k tok`, `2Mi tok`).
const SUFFIXES: [&str; 8] = ["k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"];

/// One classified token: byte range, type index, modifier bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    pub start: usize,
    pub end: usize,
    pub kind: u32,
    pub modifiers: u32,
}

/// Classifies the tokens of `text` (from the logos lexer) for semantic highlighting:
/// comments, strings, numbers, units (the words after a number, through `/`, `*`, `·`
/// and `^`), keywords, attribute names (a word before `=`), item names by the kind of
/// item they name (`known`: names visible to the file, with their kinds; stdlib names
/// carry `defaultLibrary`), stage names after `place`, and operators.
pub fn classify(text: &str, known: &BTreeMap<String, (ItemKind, bool)>) -> Vec<Classified> {
    let toks: Vec<Token> = lex(text);
    // the tokens that are not whitespace or comments, by index into `toks`
    let code: Vec<usize> = (0..toks.len()).filter(|&i| !toks[i].kind.is_trivia()).collect();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut unit_run = false; // inside a unit expression
    let mut in_place = false; // between `place` and `on`
    for (ci, &ti) in code.iter().enumerate() {
        let t = toks[ti];
        let prev = ci.checked_sub(1).map(|j| toks[code[j]]);
        let next = code.get(ci + 1).map(|&j| toks[j]);
        let word = t.text(text);
        let mut push = |kind: &str, modifiers: u32| out.push(Classified { start: t.start, end: t.end, kind: type_index(kind), modifiers });
        match t.kind {
            Tok::LBrace => depth += 1,
            Tok::RBrace => depth = (depth - 1).max(0),
            _ => {}
        }
        let was_unit = unit_run;
        unit_run = false;
        match t.kind {
            Tok::Number => {
                push("number", 0);
                unit_run = true;
            }
            Tok::Str => push("string", 0),
            Tok::Eq
            | Tok::EqEq
            | Tok::Le
            | Tok::Ge
            | Tok::Lt
            | Tok::Gt
            | Tok::Arrow
            | Tok::RangeIncl
            | Tok::Range
            | Tok::Times
            | Tok::PlusMinus => push("operator", 0),
            Tok::Slash | Tok::Star | Tok::MiddleDot | Tok::Caret if was_unit => {
                push("type", 0);
                unit_run = true;
            }
            Tok::Dollar | Tok::Percent => {
                push("type", 0);
                unit_run = true;
            }
            Tok::Minus if was_unit && prev.is_some_and(|p| p.kind == Tok::Caret) => {
                push("type", 0);
                unit_run = true;
            }
            Tok::Ident => {
                let after_number = prev.is_some_and(|p| p.kind == Tok::Number && p.end == t.start) && SUFFIXES.contains(&word);
                let after_word = |k: &str| prev.is_some_and(|p| p.kind == Tok::Ident && p.text(text) == k);
                let declares = prev.filter(|p| p.kind == Tok::Ident && depth == 0).and_then(|p| ItemKind::from_keyword(p.text(text)));
                if let Some(k) = declares {
                    // an item's declaration: `chip mine = b200 { ... }`
                    push(kind_type(k), 1);
                } else if after_word("pool") {
                    push("variable", 1);
                } else if next.is_some_and(|n| n.kind == Tok::Eq) {
                    push("property", 0);
                } else if depth == 0 && ItemKind::from_keyword(word).is_some() && next.is_some_and(|n| n.kind == Tok::Ident) {
                    push("keyword", 0);
                } else if in_place && word != "on" {
                    push("enumMember", 0);
                } else if after_number {
                    // `8k`: the multiplier is part of the number
                    push("number", 0);
                    unit_run = true;
                } else if word == "x" && !(prev.is_some_and(|p| p.kind == Tok::Ident) && next.is_some_and(|n| n.kind == Tok::Number)) {
                    push(if was_unit { "type" } else { "variable" }, 0);
                    unit_run = was_unit;
                } else if KEYWORDS.contains(&word) {
                    // keywords end a unit: `x 8 over nvlink5`
                    push("keyword", 0);
                    if word == "place" {
                        in_place = true;
                    }
                } else if was_unit {
                    push("type", 0);
                    unit_run = true;
                } else if let Some((k, std)) = known.get(word) {
                    push(kind_type(*k), if *std { 2 } else { 0 });
                } else {
                    push("variable", 0);
                }
                if word == "on" {
                    in_place = false;
                }
            }
            Tok::Dot if in_place => push("enumMember", 0),
            _ => {}
        }
    }
    // comments are trivia, not in `code`: add them, then put everything in order
    for t in toks.iter().filter(|t| matches!(t.kind, Tok::LineComment | Tok::BlockComment)) {
        out.push(Classified { start: t.start, end: t.end, kind: type_index("comment"), modifiers: 0 });
    }
    out.sort_by_key(|c| c.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(&str, &'static str, u32)> {
        let mut known = BTreeMap::new();
        known.insert("b200".to_string(), (ItemKind::Chip, true));
        classify(text, &known).into_iter().map(|c| (&text[c.start..c.end], TOKEN_TYPES[c.kind as usize], c.modifiers)).collect()
    }

    #[test]
    fn tokens_are_classified_by_context() {
        let k = kinds("cluster c { // gpus\n  pool g = b200 x 8 over nvlink5\n}\nchip d = b200 { price = 8 $/h }\n");
        assert_eq!(k[0], ("cluster", "keyword", 0));
        assert_eq!(k[1], ("c", "namespace", 1));
        assert_eq!(k[2], ("// gpus", "comment", 0));
        assert_eq!(
            &k[3..11],
            [
                ("pool", "keyword", 0),
                ("g", "variable", 1),
                ("=", "operator", 0),
                ("b200", "class", 2),
                ("x", "keyword", 0),
                ("8", "number", 0),
                ("over", "keyword", 0),
                ("nvlink5", "variable", 0)
            ]
        );
        assert!(k.contains(&("d", "class", 1)));
        let price: Vec<_> = k.iter().skip_while(|x| x.0 != "price").take(6).collect();
        assert_eq!(price.iter().map(|x| x.1).collect::<Vec<_>>(), ["property", "operator", "number", "type", "type", "type"]);
        let q = kinds("workload w {\n  input = 8k tok\n  concurrency = 1 ..= 64\n}\nplan p {\n  place decode.attn on gpu\n}\n");
        let input: Vec<_> = q.iter().skip_while(|x| x.0 != "input").take(5).map(|x| (x.0, x.1)).collect();
        assert_eq!(input, [("input", "property"), ("=", "operator"), ("8", "number"), ("k", "number"), ("tok", "type")]);
        assert!(q.contains(&("..=", "operator", 0)));
        let place: Vec<_> = q.iter().skip_while(|x| x.0 != "place").take(6).map(|x| (x.0, x.1)).collect();
        assert_eq!(
            place,
            [
                ("place", "keyword"),
                ("decode", "enumMember"),
                (".", "enumMember"),
                ("attn", "enumMember"),
                ("on", "keyword"),
                ("gpu", "variable")
            ]
        );
    }

    #[test]
    fn the_number_under_the_cursor_is_found() {
        let text = "chip mine = b200 { price = 1 $/h }\n";
        let f = parse(text);
        assert_eq!(number_at(&f, text.find("1 $/h").unwrap()).map(|n| n.value), Some(1.0));
        assert!(number_at(&f, text.find("mine").unwrap()).is_none());
    }
}

//! Lowering pest pairs into the AST. Catch-all lines become syntax
//! diagnostics; everything that parsed is kept, so later phases still check it.

use super::ast::*;
use super::parser::{describe_rule, HplanParser, Rule};
use crate::diagnostics::{catalog, Diagnostics};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser;

/// Deepest nesting of blocks accepted; deeper input is a diagnostic, not a stack overflow.
pub const MAX_DEPTH: usize = 32;

struct Lower<'a> {
    file: FileId,
    text: &'a str,
    diags: &'a mut Diagnostics,
}

/// Parses one file. Never fails: problems are pushed into `diags`.
pub fn parse_file(file: FileId, text: &str, diags: &mut Diagnostics) -> File {
    if text.len() > crate::source::MAX_FILE_BYTES {
        diags.push(catalog::file_too_large(Span::new(file, 0, 0), text.len(), crate::source::MAX_FILE_BYTES));
        return File::default();
    }
    let mut lower = Lower { file, text, diags };
    match HplanParser::parse(Rule::file, text) {
        Ok(mut pairs) => match pairs.next() {
            Some(file_pair) => lower.file(file_pair),
            None => File::default(),
        },
        Err(e) => {
            // The grammar is total, so this is a bug in it; still, say something useful.
            let (start, end) = match e.location {
                pest::error::InputLocation::Pos(p) => (p, p),
                pest::error::InputLocation::Span((s, e)) => (s, e),
            };
            let span = Span::new(file, start, end);
            lower.diags.push(catalog::syntax_error(span, "valid syntax".into(), found_at(text, start).0, None));
            File::default()
        }
    }
}

/// A short description of the text at `pos`, for "found ...", and the byte range of
/// the word it names (after any leading blanks), if any.
fn found_at(text: &str, pos: usize) -> (String, Option<(usize, usize)>) {
    let rest = text.get(pos..).unwrap_or("");
    let first_line = rest.split(['\n', '\r']).next().unwrap_or("");
    let trimmed = first_line.trim_start();
    if rest.is_empty() {
        ("the end of the file".into(), None)
    } else if trimmed.is_empty() {
        ("the end of the line".into(), None)
    } else {
        let word: String = trimmed.chars().take_while(|c| !c.is_whitespace()).take(24).collect();
        let start = pos + (first_line.len() - trimmed.len());
        (format!("`{word}`"), Some((start, start + word.len())))
    }
}

impl<'a> Lower<'a> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        Span::new(self.file, p.as_span().start(), p.as_span().end())
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Ident { name: p.as_str().to_string(), span: self.span(&p) }
    }

    fn file(&mut self, pair: Pair<Rule>) -> File {
        let mut file = File::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::use_decl => {
                    if let Some(u) = self.use_decl(p) {
                        file.uses.push(u)
                    }
                }
                Rule::item => file.items.push(self.item(p)),
                Rule::unknown_item => self.unknown_item(p),
                Rule::top_junk => self.junk(p, Rule::strict_top),
                _ => {}
            }
        }
        file
    }

    /// Explains a catch-all line: text right after a complete entry on the same line
    /// breaks the one-entry-per-line rule; anything else is explained by re-parsing
    /// from its start with the strict rule.
    fn junk(&mut self, p: Pair<Rule>, strict: Rule) {
        let start = p.as_span().start();
        let end = p.as_span().end();
        let line_start = self.text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let before = self.text[line_start..start].trim();
        let after_entry =
            strict == Rule::strict_entry && !before.is_empty() && !before.ends_with(['{', ',', ';']) && !before.starts_with("//");
        let (pos, expected) = if after_entry {
            (start, "the end of the line (one entry per line)".to_string())
        } else {
            let (pos, expected) = self.expected_at(strict, start);
            (pos.min(end.max(start)), expected)
        };
        let (found, word) = found_at(self.text, pos);
        let (pos, tok_end) = word.unwrap_or((pos, pos));
        let span = Span::new(self.file, pos, tok_end);
        let skipped = ((start, end) != (pos, tok_end)).then(|| Span::new(self.file, start, end));
        self.diags.push(catalog::syntax_error(span, expected, found, skipped));
    }

    /// Where the strict rule fails when parsing from `start`, and what it expected there,
    /// in words users know.
    fn expected_at(&self, strict: Rule, start: usize) -> (usize, String) {
        match HplanParser::parse(strict, &self.text[start..]) {
            Err(e) => {
                let pos = match e.location {
                    pest::error::InputLocation::Pos(p) => p,
                    pest::error::InputLocation::Span((s, _)) => s,
                };
                let mut words: Vec<&str> = match &e.variant {
                    pest::error::ErrorVariant::ParsingError { positives, .. } => positives.iter().map(|r| describe_rule(*r)).collect(),
                    pest::error::ErrorVariant::CustomError { .. } => vec![],
                };
                words.sort();
                words.dedup();
                words.retain(|w| *w != "valid syntax");
                let expected = if words.is_empty() { "valid syntax".to_string() } else { join_or(&words) };
                (start + pos, expected)
            }
            // The strict rule accepts a prefix; the problem is what follows it.
            Ok(pairs) => (start + pairs.last().map(|x| x.as_span().end()).unwrap_or(0), "the end of the line".to_string()),
        }
    }

    fn unknown_item(&mut self, p: Pair<Rule>) {
        let mut inner = p.into_inner();
        if let Some(kind) = inner.next() {
            let k = self.ident(kind);
            let names: Vec<&str> = ItemKind::ALL.iter().filter(|k| !k.is_registry()).map(|k| k.keyword()).collect();
            self.diags.push(catalog::unknown_item_kind(k.span, &k.name, &names));
        }
    }

    fn use_decl(&mut self, p: Pair<Rule>) -> Option<Use> {
        let span = self.span(&p);
        let target = p.into_inner().find(|x| matches!(x.as_rule(), Rule::string | Rule::use_path))?;
        match target.as_rule() {
            Rule::string => {
                let s = self.string(target);
                Some(Use { target: UseTarget::File { path: s.0, span: s.1 }, span })
            }
            _ => {
                let mut module = Vec::new();
                let mut names = Vec::new();
                let mut glob = false;
                for part in target.into_inner() {
                    match part.as_rule() {
                        Rule::IDENT => module.push(self.ident(part)),
                        Rule::use_group => names.extend(part.into_inner().map(|i| self.ident(i))),
                        Rule::use_glob => glob = true,
                        _ => {}
                    }
                }
                // `use std::chips::h100_sxm`: the last segment is the imported name.
                if names.is_empty() && !glob && module.len() > 1 {
                    names.push(module.pop()?);
                }
                Some(Use { target: UseTarget::Module { module, names, glob }, span })
            }
        }
    }

    fn string(&mut self, p: Pair<Rule>) -> (String, Span) {
        let span = self.span(&p);
        let Some(inner) = p.into_inner().next() else { return (String::new(), span) };
        let start = inner.as_span().start();
        let raw = inner.as_str();
        let mut out = String::new();
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, c @ ('"' | '\\'))) => out.push(c),
                    // the SPEC knows no other escape: say so rather than drop the backslash
                    Some((j, other)) => {
                        let at = Span::new(self.file, start + i, start + j + other.len_utf8());
                        self.diags.push(catalog::unknown_escape(at, other));
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        (out, span)
    }

    fn item(&mut self, p: Pair<Rule>) -> Item {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let kind_pair = inner.next();
        let kind_span = kind_pair.as_ref().map(|k| self.span(k)).unwrap_or(span);
        let kind = kind_pair.and_then(|k| ItemKind::from_keyword(k.as_str().trim())).unwrap_or(ItemKind::Chip);
        let mut name = Ident { name: String::new(), span };
        let mut base = None;
        let mut body = Body { entries: vec![], span };
        for x in inner {
            match x.as_rule() {
                Rule::IDENT => name = self.ident(x),
                Rule::string => {
                    let (s, sp) = self.string(x);
                    name = Ident { name: s, span: sp };
                }
                Rule::extends => base = x.into_inner().next().map(|p| self.path(p)),
                Rule::body => body = self.body(x, 0),
                _ => {}
            }
        }
        Item { kind, kind_span, name, base, body, span }
    }

    /// A `COUNT` that must be whole and not negative, with its span; a diagnostic
    /// (`expected` says what was wanted) and `None` otherwise. The resolver reports the
    /// range (0, or more than u64 holds, which saturates).
    fn whole_count(&mut self, p: Pair<Rule>, expected: &str) -> Option<(u64, Span)> {
        let s = self.span(&p);
        let v = parse_number(p.as_str());
        if v.fract() == 0.0 && v >= 0.0 {
            return Some((v as u64, s));
        }
        let found = format!("`{}`", p.as_str());
        self.diags.push(catalog::syntax_error(s, expected.into(), found, None));
        None
    }

    fn path(&self, p: Pair<Rule>) -> Path {
        let span = self.span(&p);
        Path { segments: p.into_inner().map(|i| self.ident(i)).collect(), span }
    }

    fn body(&mut self, p: Pair<Rule>, depth: usize) -> Body {
        let span = self.span(&p);
        if depth > MAX_DEPTH {
            self.diags.push(catalog::nesting_too_deep(span, MAX_DEPTH));
            return Body { entries: vec![], span };
        }
        let mut entries = Vec::new();
        for e in p.into_inner() {
            let espan = self.span(&e);
            match e.as_rule() {
                Rule::attr => {
                    let mut it = e.into_inner();
                    let (Some(n), Some(v)) = (it.next(), it.next()) else { continue };
                    let name = self.ident(n);
                    if let Some(value) = self.value(v, depth) {
                        entries.push(Entry::Attr(Attr { name, value, span: espan }));
                    }
                }
                Rule::sub_block => {
                    let mut idents = Vec::new();
                    let mut body = None;
                    for x in e.into_inner() {
                        match x.as_rule() {
                            Rule::IDENT => idents.push(self.ident(x)),
                            Rule::body => body = Some(self.body(x, depth + 1)),
                            _ => {}
                        }
                    }
                    let mut idents = idents.into_iter();
                    if let (Some(kind), Some(body)) = (idents.next(), body) {
                        entries.push(Entry::Block(Block { kind, label: idents.next(), body, span: espan }));
                    }
                }
                Rule::constraint => {
                    let mut it = e.into_inner();
                    let (Some(m), Some(op), Some(v)) = (it.next(), it.next(), it.next()) else { continue };
                    let op = match op.as_str() {
                        "<=" => CmpOp::Le,
                        "<" => CmpOp::Lt,
                        ">=" => CmpOp::Ge,
                        ">" => CmpOp::Gt,
                        _ => CmpOp::Eq,
                    };
                    let metric = self.ident(m);
                    if let Some(value) = self.value(v, depth) {
                        entries.push(Entry::Constraint(Constraint { metric, op, value, span: espan }));
                    }
                }
                Rule::place_stmt => {
                    let mut stage = None;
                    let mut targets = Vec::new();
                    let mut pins = None;
                    for x in e.into_inner() {
                        match x.as_rule() {
                            Rule::STAGE => stage = Some(self.ident(x)),
                            Rule::IDENT => targets.push(self.ident(x)),
                            Rule::place_any => targets.extend(x.into_inner().filter(|i| i.as_rule() == Rule::IDENT).map(|i| self.ident(i))),
                            Rule::body => pins = Some(self.body(x, depth + 1)),
                            _ => {}
                        }
                    }
                    if let Some(stage) = stage {
                        if !targets.is_empty() {
                            entries.push(Entry::Place(PlaceStmt { stage, targets, pins, span: espan }));
                        }
                    }
                }
                Rule::pool_stmt => {
                    let mut name = None;
                    let mut paths = Vec::new();
                    let mut count = None;
                    let mut nodes = None;
                    let mut nodes_ok = true;
                    for x in e.into_inner() {
                        match x.as_rule() {
                            Rule::IDENT => name = Some(self.ident(x)),
                            Rule::path => paths.push(self.path(x)),
                            Rule::COUNT => count = self.whole_count(x, "a whole number of chips"),
                            Rule::pool_nodes => {
                                let span = self.span(&x);
                                let (mut n, mut over) = (None, None);
                                for y in x.into_inner() {
                                    match y.as_rule() {
                                        Rule::COUNT => n = self.whole_count(y, "a whole number of nodes"),
                                        Rule::path => over = Some(self.path(y)),
                                        _ => {}
                                    }
                                }
                                match (n, over) {
                                    (Some((count, count_span)), Some(over)) => nodes = Some(PoolNodes { count, count_span, over, span }),
                                    _ => nodes_ok = false,
                                }
                            }
                            _ => {}
                        }
                    }
                    let mut paths = paths.into_iter();
                    if let (Some(name), Some(chip), Some((count, count_span)), true) = (name, paths.next(), count, nodes_ok) {
                        entries.push(Entry::Pool(PoolStmt { name, chip, count, count_span, over: paths.next(), nodes, span: espan }));
                    }
                }
                Rule::link_stmt => {
                    let mut idents = Vec::new();
                    let mut over = None;
                    for x in e.into_inner() {
                        match x.as_rule() {
                            Rule::IDENT => idents.push(self.ident(x)),
                            Rule::path => over = Some(self.path(x)),
                            _ => {}
                        }
                    }
                    let mut idents = idents.into_iter();
                    if let (Some(a), Some(b), Some(over)) = (idents.next(), idents.next(), over) {
                        entries.push(Entry::Link(LinkStmt { a, b, over, span: espan }));
                    }
                }
                Rule::objective_stmt => {
                    let mut direction = Direction::Minimize;
                    let mut metric = None;
                    for x in e.into_inner() {
                        match x.as_rule() {
                            Rule::KW_MAXIMIZE => direction = Direction::Maximize,
                            Rule::IDENT => metric = Some(self.ident(x)),
                            _ => {}
                        }
                    }
                    if let Some(metric) = metric {
                        entries.push(Entry::Objective(ObjectiveStmt { direction, metric, span: espan }));
                    }
                }
                Rule::entry_junk => self.junk(e, Rule::strict_entry),
                _ => {}
            }
        }
        Body { entries, span }
    }

    fn value(&mut self, p: Pair<Rule>, depth: usize) -> Option<Value> {
        let inner = if p.as_rule() == Rule::value { p.into_inner().next()? } else { p };
        let span = self.span(&inner);
        Some(match inner.as_rule() {
            Rule::number_or_range => {
                let mut parts = inner.into_inner();
                let lo = parts.next()?;
                match (parts.next(), parts.next()) {
                    (Some(s), _) if s.as_rule() == Rule::spread => {
                        let nominal = self.number(lo);
                        let bounds: Vec<Number> =
                            s.into_inner().filter(|q| q.as_rule() == Rule::quantity).map(|q| self.number(q)).collect();
                        let spread = match bounds.as_slice() {
                            [pm] => Spread::PlusMinus(pm.clone()),
                            [a, b] => Spread::Within(a.clone(), b.clone()),
                            _ => return None,
                        };
                        Value::Uncertain { nominal, spread, span }
                    }
                    (Some(op), Some(hi)) => {
                        let (lo, hi) = (self.number(lo), self.number(hi));
                        Value::Range { lo, hi, inclusive: op.as_str() == "..=", span }
                    }
                    _ => Value::Number(self.number(lo)),
                }
            }
            Rule::string => {
                let (s, sp) = self.string(inner);
                Value::Str(s, sp)
            }
            Rule::BOOLEAN => Value::Bool(inner.as_str() == "true", span),
            Rule::reference => {
                let mut it = inner.into_inner();
                let path = self.path(it.next()?);
                let body = it.next().map(|b| self.body(b, depth + 1));
                Value::Ref(path, body)
            }
            Rule::list => {
                if depth > MAX_DEPTH {
                    self.diags.push(catalog::nesting_too_deep(span, MAX_DEPTH));
                    return None;
                }
                let items = inner.into_inner().filter_map(|v| self.value(v, depth + 1)).collect();
                Value::List(items, span)
            }
            _ => return None,
        })
    }

    fn number(&self, p: Pair<Rule>) -> Number {
        let span = self.span(&p);
        let mut value = f64::NAN;
        let mut unit = None;
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::NUMBER => value = parse_number(x.as_str()),
                Rule::UNIT => unit = Some(self.ident(x)),
                _ => {}
            }
        }
        Number { value, unit, span }
    }
}

/// `3.35` -> 3.35, `64k` -> 64000, `1_000` -> 1000, `2Ki` -> 2048. Overflow gives infinity,
/// which the resolver reports.
pub fn parse_number(text: &str) -> f64 {
    let (digits, mult) = match text {
        t if t.ends_with("Ki") => (&t[..t.len() - 2], 1024f64),
        t if t.ends_with("Mi") => (&t[..t.len() - 2], 1024f64.powi(2)),
        t if t.ends_with("Gi") => (&t[..t.len() - 2], 1024f64.powi(3)),
        t if t.ends_with("Ti") => (&t[..t.len() - 2], 1024f64.powi(4)),
        t if t.ends_with('k') => (&t[..t.len() - 1], 1e3),
        t if t.ends_with('M') => (&t[..t.len() - 1], 1e6),
        t if t.ends_with('G') => (&t[..t.len() - 1], 1e9),
        t if t.ends_with('T') => (&t[..t.len() - 1], 1e12),
        t => (t, 1.0),
    };
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    cleaned.parse::<f64>().map(|v| v * mult).unwrap_or(f64::NAN)
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_suffixes() {
        assert_eq!(parse_number("64k"), 64_000.0);
        assert_eq!(parse_number("64Ki"), 65_536.0);
        assert_eq!(parse_number("1_000"), 1000.0);
        assert_eq!(parse_number("3.35"), 3.35);
        assert_eq!(parse_number("1e3"), 1000.0);
        assert!(parse_number("1e999").is_infinite());
    }
}

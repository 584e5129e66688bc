//! Semantic tokens from the logos lexer, by context.

use super::*;

impl Ctx<'_> {
    /// Semantic tokens from the logos lexer, by context (see [`syntax::classify`]).
    pub(super) fn semantic_tokens(&self) -> lt::SemanticTokens {
        let mut known: BTreeMap<String, (ItemKind, bool)> = BTreeMap::new();
        for (_, f) in self.comp.sources.iter().filter(|(fid, _)| *fid != self.comp.root) {
            match &f.origin {
                Origin::Std(p) => {
                    for (_, _, file) in syntax::stdlib().iter().filter(|(sp, _, _)| sp == p) {
                        known.extend(file.items.iter().map(|it| (it.name.name.clone(), (it.kind, true))));
                    }
                }
                _ => known.extend(parse(&f.text).items.into_iter().map(|it| (it.name.name, (it.kind, false)))),
            }
        }
        for it in parse(self.text).items {
            known.insert(it.name.name, (it.kind, false));
        }
        semantic_tokens(self.text, &known)
    }
}

/// Encodes classified tokens as LSP semantic tokens (relative lines and UTF-16
/// columns; a token over several lines, a block comment, is split per line).
pub fn semantic_tokens(text: &str, known: &BTreeMap<String, (ItemKind, bool)>) -> lt::SemanticTokens {
    let mut data = Vec::new();
    let (mut last_line, mut last_col) = (0u32, 0u32);
    // tokens come in order, so positions are found by walking on from the previous one:
    // linear in the text, however many tokens share a line
    let mut walk = Walk { text, byte: 0, line: 0, col: 0 };
    let mut at = |b: usize| walk.to(b);
    for c in syntax::classify(text, known) {
        let mut start = c.start;
        for piece in text[c.start..c.end].split_inclusive('\n') {
            let body = piece.trim_end_matches(['\n', '\r']);
            let p = at(start);
            let len = body.encode_utf16().count() as u32;
            if len > 0 {
                let delta_line = p.line - last_line;
                let delta_start = if delta_line == 0 { p.character - last_col } else { p.character };
                data.push(lt::SemanticToken {
                    delta_line,
                    delta_start,
                    length: len,
                    token_type: c.kind,
                    token_modifiers_bitset: c.modifiers,
                });
                (last_line, last_col) = (p.line, p.character);
            }
            start += piece.len();
        }
    }
    lt::SemanticTokens { result_id: None, data }
}

/// A position in `text` moved forward byte by byte (UTF-16 columns, as LSP counts).
pub(super) struct Walk<'a> {
    pub(super) text: &'a str,
    pub(super) byte: usize,
    pub(super) line: u32,
    pub(super) col: u32,
}

impl Walk<'_> {
    /// The position of byte `b`; a `b` behind the walk starts again from the top.
    pub(super) fn to(&mut self, b: usize) -> lt::Position {
        if b < self.byte {
            (self.byte, self.line, self.col) = (0, 0, 0);
        }
        for ch in self.text[self.byte..b].chars() {
            if ch == '\n' {
                (self.line, self.col) = (self.line + 1, 0);
            } else {
                self.col += ch.len_utf16() as u32;
            }
        }
        self.byte = b;
        lt::Position { line: self.line, character: self.col }
    }
}

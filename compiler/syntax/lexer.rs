//! The lossless token stream (logos). Every byte of the input belongs to exactly
//! one token: whitespace, newlines, comments and unlexable text are tokens too, so
//! the formatter and editor features work on any file, broken or not.

use logos::Logos;

fn block_comment(lex: &mut logos::Lexer<'_, Tok>) {
    // An unterminated comment runs to the end of the file.
    match lex.remainder().find("*/") {
        Some(i) => lex.bump(i + 2),
        None => lex.bump(lex.remainder().len()),
    }
}

#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tok {
    #[regex(r"[ \t\u{FEFF}]+")]
    Space,
    #[regex(r"\r\n|\n|\r")]
    Newline,
    #[regex(r"//[^\r\n]*", allow_greedy = true)]
    LineComment,
    #[token("/*", block_comment)]
    BlockComment,
    /// names, keywords and unit words (`µs` included)
    #[regex(r"[A-Za-z_µμ][A-Za-z0-9_µμ]*")]
    Ident,
    /// unsigned; a sign or a `k`/`Mi` suffix is a separate token
    #[regex(r"[0-9][0-9_]*(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,
    #[regex(r#""([^"\\\r\n]|\\.)*""#)]
    Str,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token("=")]
    Eq,
    #[token("==")]
    EqEq,
    #[token("<=")]
    Le,
    #[token(">=")]
    Ge,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,
    #[token("<->")]
    Arrow,
    #[token("::")]
    PathSep,
    #[token("..=")]
    RangeIncl,
    #[token("..")]
    Range,
    #[token(".")]
    Dot,
    #[token("/")]
    Slash,
    #[token("*")]
    Star,
    #[token("·")]
    MiddleDot,
    #[token("^")]
    Caret,
    #[token("$")]
    Dollar,
    #[token("%")]
    Percent,
    #[token("×")]
    Times,
    /// an uncertain figure's `±` (or `+-`)
    #[token("±")]
    #[token("+-")]
    PlusMinus,
    #[token("-")]
    Minus,
    #[token("+")]
    Plus,
    /// anything else (kept, so the stream stays lossless)
    Error,
}

impl Tok {
    /// Whitespace, newlines and comments.
    pub fn is_trivia(self) -> bool {
        matches!(self, Tok::Space | Tok::Newline | Tok::LineComment | Tok::BlockComment)
    }
}

/// A token and its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text(self, src: &str) -> &str {
        &src[self.start..self.end]
    }
}

/// Lexes the whole input. Never fails; the tokens cover the input exactly.
pub fn lex(src: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut lexer = Tok::lexer(src);
    while let Some(r) = lexer.next() {
        let span = lexer.span();
        let kind = r.unwrap_or(Tok::Error);
        // Merge runs of error bytes into one token.
        if kind == Tok::Error {
            if let Some(last) = out.last_mut() {
                if last.kind == Tok::Error && last.end == span.start {
                    last.end = span.end;
                    continue;
                }
            }
        }
        out.push(Token { kind, start: span.start, end: span.end });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, &str)> {
        lex(src).into_iter().filter(|t| !t.kind.is_trivia()).map(|t| (t.kind, t.text(src))).collect()
    }

    #[test]
    fn lossless_on_anything() {
        for src in ["chip a { x = 3.35 TB/s } // c", "\"unterminated", "/* open", "@@@ ¿ x", "", "µs µ 64k 1..=2"] {
            let toks = lex(src);
            let joined: String = toks.iter().map(|t| t.text(src)).collect();
            assert_eq!(joined, src);
            for w in toks.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
        }
    }

    #[test]
    fn quantities_and_ranges() {
        assert_eq!(kinds("3.35 TB/s"), [(Tok::Number, "3.35"), (Tok::Ident, "TB"), (Tok::Slash, "/"), (Tok::Ident, "s")]);
        assert_eq!(kinds("1 ..= 512"), [(Tok::Number, "1"), (Tok::RangeIncl, "..="), (Tok::Number, "512")]);
        assert_eq!(kinds("64k"), [(Tok::Number, "64"), (Tok::Ident, "k")]);
        assert_eq!(kinds("5 µs"), [(Tok::Number, "5"), (Tok::Ident, "µs")]);
        assert_eq!(kinds("a <-> b"), [(Tok::Ident, "a"), (Tok::Arrow, "<->"), (Tok::Ident, "b")]);
        assert_eq!(kinds("-2e3"), [(Tok::Minus, "-"), (Tok::Number, "2e3")]);
    }
}

//! Positions: byte offsets in a text and LSP's UTF-16 line/character positions.

use lsp_types as lt;

/// The UTF-16 position of byte `at` in `text`.
pub fn position(text: &str, at: usize) -> lt::Position {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[..line_start].matches('\n').count() as u32;
    let character = text[line_start..at].encode_utf16().count() as u32;
    lt::Position { line, character }
}

/// The byte offset of a UTF-16 position in `text` (clamped to the line and the text).
pub fn offset(text: &str, p: lt::Position) -> usize {
    let mut start = 0usize;
    for _ in 0..p.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[start..].find('\n').map(|i| start + i).unwrap_or(text.len());
    let mut units = 0u32;
    for (i, c) in text[start..line_end].char_indices() {
        if units >= p.character {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    line_end
}

pub(super) fn range(text: &str, r: std::ops::Range<usize>) -> lt::Range {
    lt::Range { start: position(text, r.start), end: position(text, r.end) }
}

//! Positions: byte offsets in a text and LSP's UTF-16 line/character positions, on the
//! compiler's line index ([`crate::source::LineIndex`]): a file the compilation read
//! has one already ([`crate::source::SourceFile::lines`]), so converting many spans of
//! it costs a binary search and a line each, never a scan of the text.

use crate::source::LineIndex;
use lsp_types as lt;

/// The UTF-16 position of byte `at` in `text` (whose line index is `lines`).
pub fn position_in(lines: &LineIndex, text: &str, at: usize) -> lt::Position {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line = lines.line(at);
    let start = lines.start(line).unwrap_or(0).min(at);
    lt::Position { line: line as u32, character: text[start..at].encode_utf16().count() as u32 }
}

/// The byte offset of UTF-16 position `p` in `text` (clamped to the line and the text).
pub fn offset_in(lines: &LineIndex, text: &str, p: lt::Position) -> usize {
    let Some(start) = lines.start(p.line as usize) else { return text.len() };
    let line_end = lines.start(p.line as usize + 1).map_or(text.len(), |next| next - 1);
    let mut units = 0u32;
    for (i, c) in text[start..line_end].char_indices() {
        if units >= p.character {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    line_end
}

/// The range of bytes `r` of `text` (whose line index is `lines`).
pub fn range_in(lines: &LineIndex, text: &str, r: std::ops::Range<usize>) -> lt::Range {
    lt::Range { start: position_in(lines, text, r.start), end: position_in(lines, text, r.end) }
}

/// The UTF-16 position of byte `at` in `text`.
pub fn position(text: &str, at: usize) -> lt::Position {
    position_in(&LineIndex::new(text), text, at)
}

/// The byte offset of a UTF-16 position in `text` (clamped to the line and the text).
pub fn offset(text: &str, p: lt::Position) -> usize {
    offset_in(&LineIndex::new(text), text, p)
}

/// The range of bytes `r` of `text`.
pub(super) fn range(text: &str, r: std::ops::Range<usize>) -> lt::Range {
    range_in(&LineIndex::new(text), text, r)
}

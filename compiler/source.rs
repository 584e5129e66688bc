//! Source files, byte spans and line/column lookup.
//!
//! Every offset in the compiler is a byte offset into one file. Conversion to
//! characters (ariadne) or UTF-16 (LSP) happens only at the rendering edges.

use std::path::PathBuf;

/// The most bytes a source file may have: checked while reading, so a file that never
/// ends (a symlink to `/dev/zero`) costs at most this much (docs: E0004).
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Reads a regular file of at most `max` bytes as UTF-8. Anything else is an error
/// before it costs time or memory: a directory, a device or a FIFO (whose open would
/// block until a writer comes; checked before opening, and again on the open file), and
/// a file that grows past `max` while it is read.
pub fn read_bounded(path: &std::path::Path, max: usize) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let regular = |md: std::fs::Metadata| -> std::io::Result<()> {
        if !md.is_file() {
            return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
        }
        if md.len() > max as u64 {
            return Err(Error::new(ErrorKind::InvalidData, format!("larger than {}", size_name(max))));
        }
        Ok(())
    };
    regular(std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    regular(file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(Error::new(ErrorKind::InvalidData, format!("larger than {}", size_name(max))));
    }
    String::from_utf8(bytes).map_err(|_| Error::new(ErrorKind::InvalidData, "the file is not valid UTF-8"))
}

/// A source file: [`read_bounded`] at [`MAX_FILE_BYTES`].
pub fn read_source(path: &std::path::Path) -> std::io::Result<String> {
    read_bounded(path, MAX_FILE_BYTES)
}

fn size_name(bytes: usize) -> String {
    if bytes % (1024 * 1024) == 0 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// Index of a file in the [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A half-open byte range `[start, end)` inside one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end.max(start) as u32 }
    }

    /// The smallest span covering both (same file assumed; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where a file came from: the embedded standard library or the disk.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// `std/<path inside stdlib/>`
    Std(String),
    Disk(PathBuf),
    /// Text handed in directly (tests, the LSP's unsaved buffers).
    Memory(String),
}

/// Where each line of a text starts: byte offsets to lines in O(log n), built once per
/// text (a file's, kept with it; the language server's positions use the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i as u32 + 1);
            }
        }
        LineIndex { starts }
    }

    /// The 0-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&(offset.min(u32::MAX as usize) as u32)) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Where 0-based line `line` starts, if the text has it.
    pub fn start(&self, line: usize) -> Option<usize> {
        self.starts.get(line).map(|&s| s as usize)
    }
}

#[derive(Debug)]
pub struct SourceFile {
    pub origin: Origin,
    /// The name shown in diagnostics.
    pub name: String,
    pub text: String,
    lines: LineIndex,
}

impl SourceFile {
    fn new(origin: Origin, name: String, text: String) -> SourceFile {
        let lines = LineIndex::new(&text);
        SourceFile { origin, name, text, lines }
    }

    /// The file's line index.
    pub fn lines(&self) -> &LineIndex {
        &self.lines
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text.len() as u32);
        let line = self.lines.line(offset as usize);
        let start = self.lines.starts[line] as usize;
        let mut end = offset as usize;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.lines.start(line - 1).unwrap_or(0);
        let end = self.lines.start(line).unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// All files seen in one compilation, in load order.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
    /// texts that stand in for files on disk (an editor's unsaved buffers), by
    /// canonical path
    overlay: std::collections::BTreeMap<PathBuf, String>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, origin: Origin, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(origin, name.into(), text.into()));
        id
    }

    /// Texts to read instead of the disk for these (canonical) paths.
    pub fn set_overlay(&mut self, overlay: std::collections::BTreeMap<PathBuf, String>) {
        self.overlay = overlay;
    }

    /// The text of a file on disk, or its stand-in from the overlay.
    pub fn read_disk(&self, path: &std::path::Path) -> std::io::Result<String> {
        match self.overlay.get(path) {
            Some(t) => Ok(t.clone()),
            None => read_source(path),
        }
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn find(&self, origin: &Origin) -> Option<FileId> {
        self.files.iter().position(|f| &f.origin == origin).map(|i| FileId(i as u32))
    }

    pub fn text(&self, span: Span) -> &str {
        let f = self.get(span.file);
        f.text.get(span.range()).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
}

/// One data line of a comma-separated file: the line's span (without its line break)
/// and its cells, each trimmed, with the span of what is left.
pub struct CsvLine<'a> {
    pub span: Span,
    pub cells: Vec<(&'a str, Span)>,
}

/// The data lines of comma-separated `text` (file `file`), leaving out blank lines and
/// `#` comments: what the op-table and request-trace readers share, so that every
/// diagnostic of theirs points at the cell.
pub fn csv_lines(file: FileId, text: &str) -> impl Iterator<Item = CsvLine<'_>> {
    let mut offset = 0usize;
    text.split_inclusive('\n').filter_map(move |line| {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() || body.trim_start().starts_with('#') {
            return None;
        }
        let mut cells = Vec::new();
        let mut at = start;
        for c in body.split(',') {
            let lead = c.len() - c.trim_start().len();
            cells.push((c.trim(), Span::new(file, at + lead, at + lead + c.trim().len())));
            at += c.len() + 1;
        }
        Some(CsvLine { span: Span::new(file, start, start + body.len()), cells })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_and_lines() {
        let mut sm = SourceMap::new();
        let id = sm.add(Origin::Memory("t".into()), "t", "ab\nµs = 5\n");
        let f = sm.get(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // 'µ' is two bytes: the byte after it is column 2.
        assert_eq!(f.line_col(5), (2, 2));
        assert_eq!(f.line_text(2), "µs = 5");
    }
}

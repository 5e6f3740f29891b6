//! `Diagnostic`: one validation error pinned to `file:line:column`, and
//! `LoadErrors`, all of them from one load.
//!
//! Config and state files share this so `lunguard check`, the daemon's alerts
//! and the tests print errors one way. Pure: the caller supplies the text the
//! byte offsets point into.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem in one file. `line`/`column` are 1-based (column counts
/// characters, as editors do) and absent for problems with the file as a whole
/// (unreadable, wrong owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as the user named it (state directory + file name, not the
    /// resolved `..data/` target, so the user edits the right thing).
    pub file: PathBuf,
    /// 1-based line, if the problem has a position.
    pub line: Option<u32>,
    /// 1-based column in characters, if the problem has a position.
    pub column: Option<u32>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// A problem with the file as a whole.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A problem at `pos`.
    pub fn at(pos: &Pos, message: impl Into<String>) -> Self {
        Self {
            file: pos.file.clone(),
            line: Some(pos.line),
            column: Some(pos.column),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A position in a file, for diagnostics that point at another place ("also
/// in a.toml:3:8").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    /// The file as the user named it.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A file's name and text, to turn byte offsets (TOML spans) into positions.
///
/// Built once per file: [`Source::new`] indexes where each line starts, so a
/// position is a binary search, not a rescan of the text before it (which
/// made a file with 100,000 errors take a minute).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The file as the user named it.
    pub file: &'a Path,
    /// Its contents.
    pub text: &'a str,
    /// Where each line starts, and where the multi-byte characters are.
    index: LineIndex,
}

impl<'a> Source<'a> {
    /// Indexes `text` (one pass) so that [`Source::pos`] is logarithmic.
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            text,
            index: LineIndex::new(text),
        }
    }
}

impl Source<'_> {
    /// The position of byte offset `span.start`.
    pub fn pos(&self, span: &Range<usize>) -> Pos {
        let mut at = span.start.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let (line, column) = self.index.line_column(at);
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Pos {
            file: self.file.to_owned(),
            line: to_u32(line),
            column: to_u32(column),
        }
    }

    /// A diagnostic at `span`.
    pub fn error(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.pos(span), message)
    }

    /// A diagnostic from a `toml` parse or deserialize error, at its span when
    /// it has one. Only the message is kept: toml's own rendering repeats the
    /// source line, which `file:line:column` already points at.
    pub fn toml_error(&self, e: &toml::de::Error) -> Diagnostic {
        let message = e.message().trim().to_owned();
        match e.span() {
            Some(span) => self.error(&span, message),
            None => Diagnostic::file(self.file, message),
        }
    }
}

/// Byte offsets of line starts and of multi-byte characters, so a byte offset
/// maps to (line, column in characters) by two binary searches.
#[derive(Debug, Clone, Default)]
struct LineIndex {
    /// Byte offset where each line starts; `[0]` is 0. A line starts after
    /// each `\n` (a `\r` before it counts as a character of the line, as
    /// before).
    line_starts: Vec<usize>,
    /// For each character of more than one byte, in text order: its byte
    /// offset and the extra bytes (beyond one a character) up to and
    /// including it. Empty for ASCII text.
    wide: Vec<(usize, usize)>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        if text.is_ascii() {
            // The usual case: `match_indices` of one byte is a memchr, and
            // there are no multi-byte characters to note.
            line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
            return Self {
                line_starts,
                wide: Vec::new(),
            };
        }
        let mut wide = Vec::new();
        let mut extra = 0;
        // Bytes, not chars: a UTF-8 lead byte tells the character's length,
        // and continuation bytes (0x80..0xC0) are skipped without decoding.
        for (i, b) in text.bytes().enumerate() {
            let len = match b {
                b'\n' => {
                    line_starts.push(i + 1);
                    continue;
                }
                0..0xC0 => continue,
                0xC0..0xE0 => 2,
                0xE0..0xF0 => 3,
                0xF0.. => 4,
            };
            extra += len - 1;
            wide.push((i, extra));
        }
        Self { line_starts, wide }
    }

    /// Extra bytes of the multi-byte characters that start before `at`.
    fn extra_before(&self, at: usize) -> usize {
        let n = self.wide.partition_point(|(off, _)| *off < at);
        n.checked_sub(1).map_or(0, |i| self.wide[i].1)
    }

    /// 1-based line and column (in characters) of char boundary `at`.
    fn line_column(&self, at: usize) -> (usize, usize) {
        // Lines whose start is at or before `at`; there is always line 0.
        let line = self.line_starts.partition_point(|s| *s <= at).max(1);
        let start = self.line_starts[line - 1];
        let chars = (at - start) - (self.extra_before(at) - self.extra_before(start));
        (line, chars + 1)
    }
}

/// Every problem found in one load, in file order. Never empty when returned
/// as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct LoadErrors(pub Vec<Diagnostic>);

impl LoadErrors {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The diagnostics.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Keeps the first `max` diagnostics of each file (in the current order)
    /// and puts one "… and N more errors in FILE" after the last one kept.
    /// A file generated wrong can hold 100,000 mistakes; the first ones say
    /// what is wrong, the rest would only bury them (and the journal).
    /// Returns how many were dropped.
    pub fn cap_per_file(&mut self, max: usize) -> usize {
        let mut seen: HashMap<PathBuf, usize> = HashMap::new();
        for d in &self.0 {
            *seen.entry(d.file.clone()).or_default() += 1;
        }
        let dropped: usize = seen.values().map(|n| n.saturating_sub(max)).sum();
        if dropped == 0 {
            return 0;
        }
        let mut kept: HashMap<PathBuf, usize> = HashMap::new();
        let mut out = Vec::with_capacity(self.0.len().min(seen.len() * (max + 1)));
        for d in self.0.drain(..) {
            let k = kept.entry(d.file.clone()).or_default();
            if *k >= max {
                continue;
            }
            *k += 1;
            let total = seen.get(&d.file).copied().unwrap_or_default();
            let last = *k == max && total > max;
            let file = d.file.clone();
            out.push(d);
            if last {
                out.push(Diagnostic::file(
                    &file,
                    format!(
                        "… and {} more errors in {} (only the first {max} of a file are reported; fix these and check again)",
                        total - max,
                        file.display()
                    ),
                ));
            }
        }
        self.0 = out;
        dropped
    }
}

impl Extend<Diagnostic> for LoadErrors {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nnamé = \"x\"\n";
        let src = Source::new(Path::new("f.toml"), text);
        let at = text.find("\"x\"").unwrap();
        let pos = src.pos(&(at..at + 3));
        assert_eq!((pos.line, pos.column), (2, 8));
        assert_eq!(src.pos(&(0..1)).to_string(), "f.toml:1:1");
    }

    /// The old way: count from the start of the text (what every error did
    /// before the line index, quadratic in the number of errors).
    fn rescan(text: &str, at: usize) -> (u32, u32) {
        let before = &text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line as u32, column as u32)
    }

    #[test]
    fn line_index_gives_the_same_position_as_a_rescan_at_every_offset() {
        let text = "\nnamé = \"ünï\"\r\n\n[[a]]\nk = \"日本語\" # 🦀 x\n\nlast";
        let ascii = "a = 1\r\n\nb = 2\n";
        let src = Source::new(Path::new("a.toml"), ascii);
        for at in 0..=ascii.len() {
            let pos = src.pos(&(at..at + 1));
            assert_eq!((pos.line, pos.column), rescan(ascii, at), "offset {at}");
        }
        let src = Source::new(Path::new("f.toml"), text);
        for at in 0..=text.len() {
            // Inside a character, the position is that character's.
            let mut b = at;
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            let pos = src.pos(&(at..at + 1));
            assert_eq!((pos.line, pos.column), rescan(text, b), "offset {at}");
        }
        let past = src.pos(&(text.len() + 10..text.len() + 11));
        assert_eq!((past.line, past.column), rescan(text, text.len()));
        let empty = Source::new(Path::new("e.toml"), "");
        assert_eq!(empty.pos(&(0..0)).to_string(), "e.toml:1:1");
    }

    #[test]
    fn cap_per_file_keeps_the_first_and_counts_the_rest() {
        let at = |f: &str, line: u32| Diagnostic {
            file: PathBuf::from(f),
            line: Some(line),
            column: Some(1),
            message: format!("e{line}"),
        };
        let mut e = LoadErrors((1..=5).map(|l| at("a.toml", l)).collect());
        e.extend((1..=2).map(|l| at("b.toml", l)));
        assert_eq!(e.cap_per_file(3), 2);
        let text = e.to_string();
        assert_eq!(
            text,
            "a.toml:1:1: e1\na.toml:2:1: e2\na.toml:3:1: e3\n\
             a.toml: … and 2 more errors in a.toml (only the first 3 of a file are reported; fix these and check again)\n\
             b.toml:1:1: e1\nb.toml:2:1: e2"
        );
        let mut exact = LoadErrors((1..=3).map(|l| at("a.toml", l)).collect());
        assert_eq!(exact.cap_per_file(3), 0);
        assert_eq!(exact.0.len(), 3, "at the cap nothing is dropped");
    }

    #[test]
    fn display_omits_missing_position() {
        let d = Diagnostic::file("d/x.toml", "is writable by others");
        assert_eq!(d.to_string(), "d/x.toml: is writable by others");
    }
}

//! `Diagnostic`: one validation error pinned to `file:line:column`, and
//! `LoadErrors`, all of them from one load.
//!
//! Config and state files share this so `lunguard check`, the daemon's alerts
//! and the tests print errors one way. Pure: the caller supplies the text the
//! byte offsets point into.

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
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The file as the user named it.
    pub file: &'a Path,
    /// Its contents.
    pub text: &'a str,
}

impl Source<'_> {
    /// The position of byte offset `span.start`.
    pub fn pos(&self, span: &Range<usize>) -> Pos {
        let mut at = span.start.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &self.text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Pos {
            file: self.file.to_owned(),
            line: to_u32(before.matches('\n').count() + 1),
            column: to_u32(before[line_start..].chars().count() + 1),
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
        let src = Source {
            file: Path::new("f.toml"),
            text,
        };
        let at = text.find("\"x\"").unwrap();
        let pos = src.pos(&(at..at + 3));
        assert_eq!((pos.line, pos.column), (2, 8));
        assert_eq!(src.pos(&(0..1)).to_string(), "f.toml:1:1");
    }

    #[test]
    fn display_omits_missing_position() {
        let d = Diagnostic::file("d/x.toml", "is writable by others");
        assert_eq!(d.to_string(), "d/x.toml: is writable by others");
    }
}

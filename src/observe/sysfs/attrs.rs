//! `Attrs`: reads the attribute files of one sysfs object and records what
//! went wrong as `Problem`s instead of failing.

use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use super::super::tree::{Dir, Scan};
use crate::snapshot::Problem;

/// Attribute reader for the object at `base` (root-relative). The object's
/// directory is opened once and its attributes are read relative to it.
pub(super) struct Attrs<'s, 't> {
    pub(super) scan: &'s Scan<'t>,
    pub(super) base: PathBuf,
    /// `base`, open; `None` if it could not be opened, and then each read
    /// goes from the root and fails with its own error, as it would have.
    dir: Option<Dir<'s, 't>>,
    pub(super) problems: Vec<Problem>,
}

impl<'s, 't> Attrs<'s, 't> {
    pub(super) fn new(scan: &'s Scan<'t>, base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        Self {
            scan,
            dir: scan.dir(&base).ok(),
            base,
            problems: Vec::new(),
        }
    }

    /// The reader of the sub-directory `name` (opened relative to this
    /// one); its problems name the same paths as reads through `self` would.
    pub(super) fn sub(&self, name: &str) -> Attrs<'s, 't> {
        Attrs {
            scan: self.scan,
            base: self.path(name),
            dir: self.dir.as_ref().and_then(|d| d.dir(name).ok()),
            problems: Vec::new(),
        }
    }

    /// The raw text of attribute `name`; errors are the caller's to judge.
    pub(super) fn raw_string(&self, name: &str) -> io::Result<String> {
        match &self.dir {
            Some(d) => d.read_string(name),
            None => self.scan.read_string(self.path(name)),
        }
    }

    /// The raw bytes of attribute `name` (binary pages such as `vpd_pg83`).
    pub(super) fn raw_bytes(&self, name: &str) -> io::Result<Vec<u8>> {
        match &self.dir {
            Some(d) => d.read_bytes(name),
            None => self.scan.read_bytes(self.path(name)),
        }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        if name.is_empty() {
            self.base.clone()
        } else {
            self.base.join(name)
        }
    }

    pub(super) fn problem(&mut self, name: &str, what: impl Into<String>) {
        self.problems.push(Problem {
            path: self.scan.display(self.path(name)),
            what: what.into(),
        });
    }

    fn read(&mut self, name: &str, required: bool) -> Option<String> {
        match self.raw_string(name) {
            Ok(s) => Some(s.trim().to_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !required => None,
            Err(e) => {
                self.problem(name, format!("cannot read: {e}"));
                None
            }
        }
    }

    /// An attribute that must exist; absence is a problem.
    pub(super) fn required(&mut self, name: &str) -> Option<String> {
        self.read(name, true)
    }

    /// An attribute that only some kernels or drivers have.
    pub(super) fn optional(&mut self, name: &str) -> Option<String> {
        self.read(name, false)
    }

    /// Parses a present attribute with `parse`; a parse failure is a problem.
    pub(super) fn parse_with<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.read(name, required)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(name, format!("cannot parse {raw:?}: {e}"));
                None
            }
        }
    }

    pub(super) fn parsed<T: FromStr>(&mut self, name: &str, required: bool) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        self.parse_with(name, required, str::parse::<T>)
    }

    /// `0`/`1` flag.
    pub(super) fn flag(&mut self, name: &str, required: bool) -> Option<bool> {
        self.parse_with(name, required, |s| match s {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err("expected 0 or 1"),
        })
    }

    /// A `size` attribute in 512-byte sectors, as bytes.
    pub(super) fn size_bytes(&mut self, name: &str) -> Option<u64> {
        self.parse_with(name, true, |s| {
            s.parse::<u64>()
                .map_err(|e| e.to_string())?
                .checked_mul(512)
                .ok_or_else(|| "overflows u64 bytes".to_owned())
        })
    }

    /// Names in a sub-directory such as `holders`; missing directory = empty.
    pub(super) fn names(&mut self, dir: &str) -> Vec<String> {
        let listed = match &self.dir {
            Some(d) => d.list(dir),
            None => self.scan.list(self.path(dir)),
        };
        match listed {
            Ok(v) => v,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                self.problem(dir, format!("cannot list: {e}"));
                Vec::new()
            }
        }
    }

    pub(super) fn exists(&self, name: &str) -> bool {
        match &self.dir {
            Some(d) => d.exists(name),
            None => self.scan.exists(self.path(name)),
        }
    }
}

/// Parses `prefixN` names like `host3`, `session12`, `dm-0`.
pub(super) fn numbered(name: &str, prefix: &str) -> Option<u32> {
    let n = name.strip_prefix(prefix)?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Lists a class directory; a missing directory is `Ok(None)`.
pub(super) fn list_class(
    tree: &Scan<'_>,
    rel: &str,
    problems: &mut Vec<Problem>,
) -> Option<Vec<String>> {
    match tree.list(rel) {
        Ok(v) => Some(v),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(Problem {
                path: tree.display(rel),
                what: format!("cannot list: {e}"),
            });
            None
        }
    }
}

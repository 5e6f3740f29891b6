//! `Attrs`: reads the attribute files of one sysfs object and records what
//! went wrong as `Problem`s instead of failing.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::super::snapshot::Problem;
use super::super::tree::Tree;

/// Attribute reader for the object at `base` (root-relative).
pub(super) struct Attrs<'a> {
    pub(super) tree: &'a Tree,
    pub(super) base: PathBuf,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Attrs<'a> {
    pub(super) fn new(tree: &'a Tree, base: impl Into<PathBuf>) -> Self {
        Self {
            tree,
            base: base.into(),
            problems: Vec::new(),
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
            path: self.tree.display(self.path(name)),
            what: what.into(),
        });
    }

    fn read(&mut self, name: &str, required: bool) -> Option<String> {
        match self.tree.read_string(self.path(name)) {
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
        match self.tree.list(self.path(dir)) {
            Ok(v) => v,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                self.problem(dir, format!("cannot list: {e}"));
                Vec::new()
            }
        }
    }

    pub(super) fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.tree.exists(self.base.join(rel))
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
    tree: &Tree,
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

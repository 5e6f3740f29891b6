//! `Tree`: reads files under a root directory as if it were `/`.
//!
//! Every path is resolved component by component inside the root, the way
//! `openat2(RESOLVE_IN_ROOT)` does: relative symlinks (all the kernel makes)
//! are followed from the link's parent, `..` never climbs above the root, and
//! an absolute link target is taken as relative to the root. So a fake tree
//! in a temp dir can never lead a read out to the host's real `/sys`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

mod scan;

pub(crate) use scan::{Dir, Scan};

/// Symlink hops allowed in one resolution, as Linux's `MAXSYMLINKS`.
const MAX_HOPS: usize = 40;

/// A directory tree read as if it were mounted at `/`.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    root: PathBuf,
}

impl Tree {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where `rel` would be on the host, for messages; not resolved.
    pub(crate) fn display(&self, rel: impl AsRef<Path>) -> String {
        self.root.join(rel).to_string_lossy().into_owned()
    }

    /// Resolves `rel` to a root-relative path without symlinks or `..`.
    /// Fails with the OS error of the first component that does not exist.
    pub(crate) fn resolve(&self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        resolve_by(self, rel.as_ref(), |here| {
            let host = self.root.join(here);
            if std::fs::symlink_metadata(&host)?.file_type().is_symlink() {
                Ok(Some(std::fs::read_link(&host)?))
            } else {
                Ok(None)
            }
        })
    }

    /// One pass of reads over this tree (a snapshot): the root opened once,
    /// directories opened once and read relative to their descriptor, and
    /// symlinks resolved once. Not for long-lived use: what it learnt of the
    /// tree's links is kept for its whole life.
    pub(crate) fn scan(&self) -> Scan<'_> {
        Scan::new(self, true)
    }

    fn host_path(&self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        Ok(self.root.join(self.resolve(rel)?))
    }

    pub(crate) fn read_bytes(&self, rel: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        std::fs::read(self.host_path(rel)?)
    }

    pub(crate) fn read_string(&self, rel: impl AsRef<Path>) -> io::Result<String> {
        let bytes = self.read_bytes(rel)?;
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Names in a directory, sorted; non-UTF-8 names are skipped (the kernel
    /// names nothing we read that way).
    pub(crate) fn list(&self, rel: impl AsRef<Path>) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.host_path(rel)?)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Whether `rel` resolves to something that exists.
    pub(crate) fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.resolve(rel).is_ok()
    }

    /// Whether the root itself exists as a directory.
    pub(crate) fn root_is_dir(&self) -> bool {
        self.root.is_dir()
    }
}

/// Normal components of a path, with `..` kept and `/`, `.` dropped.
fn components(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// The in-root resolution shared by `Tree` and `Scan`: `lookup(here)` says
/// whether the symlink-free root-relative path `here` is a symlink (and to
/// what) or fails as `lstat` would.
fn resolve_by(
    tree: &Tree,
    rel: &Path,
    mut lookup: impl FnMut(&Path) -> io::Result<Option<PathBuf>>,
) -> io::Result<PathBuf> {
    let mut todo: VecDeque<OsString> = components(rel).collect();
    let mut done = PathBuf::new();
    let mut hops = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            done.pop();
            continue;
        }
        done.push(&name);
        let Some(target) = lookup(&done)? else {
            continue;
        };
        done.pop();
        hops += 1;
        if hops > MAX_HOPS {
            return Err(io::Error::other(format!(
                "too many levels of symbolic links resolving {}",
                tree.display(rel)
            )));
        }
        if target.is_absolute() {
            done = PathBuf::new();
        }
        for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
            todo.push_front(c);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_relative_links_like_the_kernel_makes() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("devices/pseudo_0/host2/scsi_host/host2")).unwrap();
        std::fs::write(
            r.join("devices/pseudo_0/host2/scsi_host/host2/proc_name"),
            "scsi_debug\n",
        )
        .unwrap();
        std::fs::create_dir_all(r.join("class/scsi_host")).unwrap();
        symlink(
            "../../devices/pseudo_0/host2/scsi_host/host2",
            r.join("class/scsi_host/host2"),
        )
        .unwrap();
        let tree = Tree::new(r);
        assert_eq!(
            tree.resolve("class/scsi_host/host2/proc_name").unwrap(),
            Path::new("devices/pseudo_0/host2/scsi_host/host2/proc_name")
        );
        assert_eq!(
            tree.read_string("/class/scsi_host/host2/proc_name")
                .unwrap(),
            "scsi_debug\n"
        );
    }

    #[test]
    fn never_escapes_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        std::fs::create_dir_all(r.join("class")).unwrap();
        std::fs::write(t.path().join("outside"), "secret").unwrap();
        std::fs::write(r.join("inside"), "ok").unwrap();
        // A link climbing above the root stops at the root.
        symlink("../../../../outside", r.join("class/up")).unwrap();
        // An absolute link is taken relative to the root.
        symlink("/inside", r.join("class/abs")).unwrap();
        let tree = Tree::new(&r);
        assert!(tree.read_string("class/up").is_err());
        assert!(tree.read_string("../outside").is_err());
        assert_eq!(tree.read_string("class/abs").unwrap(), "ok");
    }

    #[test]
    fn link_loops_are_an_error_not_a_hang() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        assert!(Tree::new(t.path()).resolve("a").is_err());
    }
}

//! `Scan` and `Dir`: one pass of reads over a `Tree` that resolves each
//! object's directory once and reads its attributes relative to it.
//!
//! A snapshot reads ~10 attributes in each of thousands of directories that
//! sit behind two or three symlinks and a dozen components. Resolving every
//! attribute's path from the root (as `Tree` does, for its long-lived users)
//! costs hundreds of `lstat`s a device; here:
//!
//! * the root is opened once, and a directory is opened once (`O_PATH`) with
//!   `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so the kernel does
//!   the confinement `Tree` does in user space: `..` stops at the root and an
//!   absolute link is taken relative to it;
//! * an attribute (one name) is opened with `openat(dir, name, O_NOFOLLOW)`;
//!   a name with several components with `openat2(RESOLVE_BENEATH)`. Either
//!   refuses to follow what could leave the directory (a symlink, `..`, an
//!   absolute link) and the read then goes the slow, in-root way from the
//!   root, so no read ever leaves the root;
//! * where `openat2` is missing (`ENOSYS`, or `EPERM` from a seccomp filter
//!   that does not know it), the same in-root resolution as `Tree`'s is done
//!   in user space, with every `lstat`/`readlink` answer remembered for the
//!   scan, and the resolved, symlink-free path opened with `O_NOFOLLOW`.
//!
//! What a scan learnt of the links is kept for its life: a scan is one
//! snapshot, not a long-lived view.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{Mode, SFlag, fstatat};

use super::{Tree, resolve_by};

/// Retries of an `openat2` that failed with `EAGAIN` (a rename raced the
/// confined walk; the kernel asks the caller to retry).
const EAGAIN_RETRIES: usize = 4;

/// One pass of reads over a `Tree`; see the module docs.
pub(crate) struct Scan<'t> {
    tree: &'t Tree,
    /// The root, `O_PATH`; the error of opening it if that failed.
    root: Result<OwnedFd, Errno>,
    /// Whether `openat2` confines the walks (else user space does).
    in_kernel: bool,
    /// `lstat` answers of the user-space resolution: a symlink-free
    /// root-relative path → its link target if it is a symlink.
    links: RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

impl<'t> Scan<'t> {
    /// `try_kernel`: use `openat2` if the kernel has it. Tests pass `false`
    /// to pin the user-space fallback.
    pub(crate) fn new(tree: &'t Tree, try_kernel: bool) -> Self {
        let root = openat(
            nix::fcntl::AT_FDCWD,
            tree.root.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        let in_kernel = try_kernel
            && match &root {
                Ok(fd) => !matches!(
                    in_root(fd, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY),
                    Err(Errno::ENOSYS | Errno::EPERM)
                ),
                Err(_) => false,
            };
        Self {
            tree,
            root,
            in_kernel,
            links: RefCell::new(HashMap::new()),
        }
    }

    /// What another thread needs to start a scan of the same tree in the
    /// same mode (a `Scan` remembers links in a `RefCell`: not shared).
    pub(crate) fn fork(&self) -> Fork<'t> {
        Fork {
            tree: self.tree,
            in_kernel: self.in_kernel,
        }
    }

    /// Whether `openat2` does the confinement (for tests and messages).
    #[cfg(test)]
    pub(crate) fn in_kernel(&self) -> bool {
        self.in_kernel
    }

    /// Where `rel` would be on the host, for messages; not resolved.
    pub(crate) fn display(&self, rel: impl AsRef<Path>) -> String {
        self.tree.display(rel)
    }

    fn root(&self) -> io::Result<&OwnedFd> {
        self.root.as_ref().map_err(|e| io::Error::from(*e))
    }

    /// As `Tree::resolve`, with each link looked up once per scan.
    pub(crate) fn resolve(&self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        let root = self.root()?;
        resolve_by(self.tree, rel.as_ref(), |here| {
            if let Some(known) = self.links.borrow().get(here) {
                return Ok(known.clone());
            }
            // One `readlinkat` tells a link (its target) from anything
            // else (`EINVAL`) and fails as `lstat` would on a missing name.
            let link = match readlinkat(root, here) {
                Ok(target) => Some(PathBuf::from(target)),
                Err(Errno::EINVAL) => None,
                Err(e) => return Err(e.into()),
            };
            self.links
                .borrow_mut()
                .insert(here.to_path_buf(), link.clone());
            Ok(link)
        })
    }

    /// Opens `rel`, resolved inside the root, with `flags`.
    fn open(&self, rel: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let root = self.root()?;
        if self.in_kernel {
            return Ok(in_root(root, rel, flags)?);
        }
        let resolved = self.resolve(rel)?;
        Ok(openat(
            root,
            or_dot(&resolved),
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?)
    }

    /// The directory `rel`, opened once to read relative to it.
    pub(crate) fn dir(&self, rel: impl AsRef<Path>) -> io::Result<Dir<'_, 't>> {
        let rel = rel.as_ref();
        let fd = self.open(rel, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        Ok(Dir {
            scan: self,
            rel: rel.to_path_buf(),
            fd,
        })
    }

    pub(crate) fn read_string(&self, rel: impl AsRef<Path>) -> io::Result<String> {
        utf8(read_all(self.open(rel.as_ref(), OFlag::O_RDONLY)?)?)
    }

    pub(crate) fn read_bytes(&self, rel: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        read_all(self.open(rel.as_ref(), OFlag::O_RDONLY)?)
    }

    /// Names in a directory, sorted, as `Tree::list`.
    pub(crate) fn list(&self, rel: impl AsRef<Path>) -> io::Result<Vec<String>> {
        list_fd(self.open(rel.as_ref(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?)
    }

    /// Whether `rel` resolves to something that exists.
    pub(crate) fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.open(rel.as_ref(), OFlag::O_PATH).is_ok()
    }
}

/// A `Scan` to be started on another thread; see `Scan::fork`.
#[derive(Clone, Copy)]
pub(crate) struct Fork<'t> {
    tree: &'t Tree,
    in_kernel: bool,
}

impl<'t> Fork<'t> {
    pub(crate) fn scan(self) -> Scan<'t> {
        Scan::new(self.tree, self.in_kernel)
    }
}

/// A directory of a `Scan`, open (`O_PATH`) to read relative to it.
pub(crate) struct Dir<'s, 't> {
    scan: &'s Scan<'t>,
    /// The root-relative path it was opened by (unresolved).
    rel: PathBuf,
    fd: OwnedFd,
}

impl<'s, 't> Dir<'s, 't> {
    /// Opens `name` (one or more components, or `""` for the directory
    /// itself) below this directory. Whatever could leave the directory (a
    /// symlink as the name, `..`, an absolute link) is not followed here but
    /// resolved again from the root, in-root.
    fn open(&self, name: &str, flags: OFlag) -> io::Result<OwnedFd> {
        if name.is_empty() {
            return Ok(openat(
                &self.fd,
                ".",
                flags | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
        }
        let slow = || self.scan.open(&self.rel.join(name), flags);
        if is_one_name(name) {
            return match openat(
                &self.fd,
                name,
                flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => Ok(fd),
                // A symlink: follow it the in-root way.
                Err(Errno::ELOOP | Errno::ENOTDIR) => slow(),
                Err(e) => Err(e.into()),
            };
        }
        if !self.scan.in_kernel {
            return slow();
        }
        match retry_eagain(|| {
            openat2(
                &self.fd,
                name,
                OpenHow::new()
                    .flags(flags | OFlag::O_CLOEXEC)
                    .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS),
            )
        }) {
            Ok(fd) => Ok(fd),
            // Would leave the directory: resolve from the root instead.
            Err(Errno::EXDEV | Errno::ELOOP) => slow(),
            Err(e) => Err(e.into()),
        }
    }

    /// The sub-directory `name`, opened once.
    pub(crate) fn dir(&self, name: &str) -> io::Result<Dir<'s, 't>> {
        let fd = self.open(name, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        Ok(Dir {
            scan: self.scan,
            rel: self.rel.join(name),
            fd,
        })
    }

    pub(crate) fn read_string(&self, name: &str) -> io::Result<String> {
        utf8(read_all(self.open(name, OFlag::O_RDONLY)?)?)
    }

    pub(crate) fn read_bytes(&self, name: &str) -> io::Result<Vec<u8>> {
        read_all(self.open(name, OFlag::O_RDONLY)?)
    }

    /// Names in `name` (`""`: this directory), sorted, as `Tree::list`.
    pub(crate) fn list(&self, name: &str) -> io::Result<Vec<String>> {
        list_fd(self.open(name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?)
    }

    /// Whether `name` resolves to something that exists (a dangling link
    /// does not).
    pub(crate) fn exists(&self, name: &str) -> bool {
        if is_one_name(name) {
            return match fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if !is_link(&st) => true,
                Ok(_) => self.scan.exists(self.rel.join(name)),
                Err(_) => false,
            };
        }
        self.open(name, OFlag::O_PATH).is_ok()
    }
}

fn is_link(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

/// `openat2(dir, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`.
fn in_root(dir: &OwnedFd, rel: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    retry_eagain(|| {
        openat2(
            dir,
            or_dot(rel),
            OpenHow::new()
                .flags(flags | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS),
        )
    })
}

fn retry_eagain(mut f: impl FnMut() -> Result<OwnedFd, Errno>) -> Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match f() {
            Err(Errno::EAGAIN) if tries < EAGAIN_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// `openat` needs a name; the root itself is `.`.
fn or_dot(p: &Path) -> &Path {
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

/// One normal component: no `/`, not `.` or `..`.
fn is_one_name(name: &str) -> bool {
    let mut c = Path::new(name).components();
    matches!((c.next(), c.next()), (Some(Component::Normal(_)), None)) && !name.contains('/')
}

/// Reads an open file to its end. Sysfs attributes fit in a page and the
/// kernel hands a whole attribute to the first `read`, so a page is read at
/// a time and a short read is taken as the end (as `lsscsi` does); no `stat`
/// for a size hint, no `lseek`.
fn read_all(fd: OwnedFd) -> io::Result<Vec<u8>> {
    const PAGE: usize = 4096;
    let mut buf = vec![0u8; PAGE];
    let mut len = 0;
    loop {
        if buf.len() - len < PAGE {
            buf.resize(len + PAGE, 0);
        }
        let want = buf.len() - len;
        let n = match nix::unistd::read(&fd, &mut buf[len..]) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        len += n;
        if n == 0 || n < want {
            break;
        }
    }
    buf.truncate(len);
    Ok(buf)
}

fn utf8(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sorted names of an open directory, without `.`/`..` and non-UTF-8 names.
/// Read with `getdents64` straight away (rustix): no `fdopendir`, whose
/// `fstat`, `fcntl`s and rewind cost more than the listing of a small
/// directory.
fn list_fd(fd: OwnedFd) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::new(fd)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if let Ok(s) = std::str::from_utf8(name) {
            names.push(s.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root with `devices/d/attr`, `class/c/d -> ../../devices/d`, a file
    /// outside the root and links that try to reach it.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        std::fs::create_dir_all(r.join("devices/d/sub")).unwrap();
        std::fs::create_dir_all(r.join("class/c")).unwrap();
        std::fs::write(r.join("devices/d/attr"), "inside\n").unwrap();
        std::fs::write(r.join("devices/d/sub/leaf"), "leaf\n").unwrap();
        std::fs::write(r.join("secret"), "root-secret").unwrap();
        std::fs::write(t.path().join("secret"), "host-secret").unwrap();
        symlink("../../devices/d", r.join("class/c/d")).unwrap();
        // Inside the object directory: links that climb and absolute ones.
        symlink("../../../../secret", r.join("devices/d/up")).unwrap();
        symlink("/secret", r.join("devices/d/abs")).unwrap();
        symlink("/devices/d/sub", r.join("devices/d/abssub")).unwrap();
        (t, r)
    }

    fn both_modes(check: impl Fn(&Scan<'_>)) {
        let (_t, r) = fixture();
        let tree = Tree::new(&r);
        let user = Scan::new(&tree, false);
        assert!(!user.in_kernel());
        check(&user);
        check(&Scan::new(&tree, true));
    }

    #[test]
    fn scan_reads_relative_to_a_directory_opened_through_links() {
        both_modes(|s| {
            let d = s.dir("class/c/d").unwrap();
            assert_eq!(d.read_string("attr").unwrap(), "inside\n");
            assert_eq!(d.read_string("sub/leaf").unwrap(), "leaf\n");
            assert_eq!(d.list("").unwrap(), ["abs", "abssub", "attr", "sub", "up"]);
            assert_eq!(d.dir("sub").unwrap().list("").unwrap(), ["leaf"]);
            assert!(d.exists("sub/leaf") && !d.exists("nope"));
            assert_eq!(
                s.resolve("class/c/d/attr").unwrap(),
                Path::new("devices/d/attr")
            );
        });
    }

    /// The in-root guarantee for reads relative to an open directory: a
    /// name that is a link climbing out, `..` above the root and absolute
    /// links all stay in the root (re-rooted), in both modes.
    #[test]
    fn scan_never_escapes_the_root() {
        both_modes(|s| {
            let d = s.dir("class/c/d").unwrap();
            // `up` climbs above the root: it stops at the root, where
            // `secret` is the root's own, never the host's.
            assert_eq!(d.read_string("up").unwrap(), "root-secret");
            assert_eq!(d.read_string("abs").unwrap(), "root-secret");
            assert_eq!(d.read_string("abssub/leaf").unwrap(), "leaf\n");
            assert_eq!(d.list("abssub").unwrap(), ["leaf"]);
            assert!(d.exists("abssub/leaf"));
            assert_eq!(
                d.read_string("../../../../../secret").unwrap(),
                "root-secret"
            );
            assert_eq!(s.read_string("../secret").unwrap(), "root-secret");
            assert_eq!(s.read_string("/devices/d/up").unwrap(), "root-secret");
            assert_eq!(
                s.dir("..").unwrap().list("").unwrap(),
                ["class", "devices", "secret"]
            );
        });
    }

    #[test]
    fn scan_link_loops_are_an_error_not_a_hang() {
        let (_t, r) = fixture();
        symlink("b", r.join("a")).unwrap();
        symlink("a", r.join("b")).unwrap();
        let tree = Tree::new(&r);
        for s in [Scan::new(&tree, false), Scan::new(&tree, true)] {
            assert!(s.read_string("a").is_err());
            assert!(s.dir("").unwrap().read_string("a").is_err());
            assert!(!s.exists("a"));
        }
    }

    /// Bug pinned: every attribute read re-resolved its path from the root
    /// (hundreds of `lstat`s a device). A directory is now resolved once:
    /// re-pointing its link after it was opened does not move the reads.
    #[test]
    fn scan_resolves_a_directory_once() {
        for kernel in [false, true] {
            let (_t, r) = fixture();
            std::fs::create_dir_all(r.join("devices/e")).unwrap();
            std::fs::write(r.join("devices/e/attr"), "other\n").unwrap();
            let tree = Tree::new(&r);
            let s = Scan::new(&tree, kernel);
            let d = s.dir("class/c/d").unwrap();
            let before = s.resolve("class/c/d").unwrap();
            std::fs::remove_file(r.join("class/c/d")).unwrap();
            symlink("../../devices/e", r.join("class/c/d")).unwrap();
            assert_eq!(d.read_string("attr").unwrap(), "inside\n");
            // And a link looked up once is not looked up again in one scan.
            assert_eq!(s.resolve("class/c/d").unwrap(), before);
            // `Tree` (long-lived users) still sees the change.
            assert_eq!(tree.read_string("class/c/d/attr").unwrap(), "other\n");
        }
    }

    #[test]
    fn files_longer_than_a_page_are_read_whole() {
        let (_t, r) = fixture();
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(r.join("devices/d/big"), &big).unwrap();
        std::fs::write(r.join("devices/d/page"), vec![7u8; 4096]).unwrap();
        std::fs::write(r.join("devices/d/empty"), b"").unwrap();
        let tree = Tree::new(&r);
        let s = tree.scan();
        let d = s.dir("class/c/d").unwrap();
        assert_eq!(d.read_bytes("big").unwrap(), big);
        assert_eq!(d.read_bytes("page").unwrap(), vec![7u8; 4096]);
        assert!(d.read_bytes("empty").unwrap().is_empty());
    }

    #[test]
    fn missing_root_fails_every_read() {
        let t = tempfile::tempdir().unwrap();
        let tree = Tree::new(t.path().join("absent"));
        let s = tree.scan();
        assert_eq!(
            s.read_string("x").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(s.dir("").is_err() && !s.exists(""));
    }
}

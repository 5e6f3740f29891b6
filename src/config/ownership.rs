//! `Ownership`: whether a config or state file may be trusted, by owner and
//! mode.
//!
//! Run as root, lunguard deletes devices on the word of these files; a file
//! someone else can write is a way to make root delete a disk. So as root, a
//! file (or its directory) must be owned by root and not writable by group or
//! others. The policy is a value so tests, which do not run as root or use
//! files they own, can exercise both outcomes.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Which files to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Only files owned by uid `owner` and not writable by group or others.
    Enforce {
        /// The required owner (0 in production).
        owner: u32,
    },
    /// Trust any file that can be read (not running as root: such a process
    /// can do no more damage than its user already can).
    Trust,
}

impl Ownership {
    /// `Enforce { owner: 0 }` when the effective uid is root, else `Trust`.
    pub fn for_this_process() -> Self {
        if nix::unistd::geteuid().is_root() {
            Self::Enforce { owner: 0 }
        } else {
            Self::Trust
        }
    }

    /// Checks `path` (following symlinks: the link's own mode means nothing).
    /// `Err` is a message saying what is wrong and the command that fixes it.
    pub fn check(&self, path: &Path) -> Result<(), String> {
        let Self::Enforce { owner } = *self else {
            return Ok(());
        };
        let meta =
            fs::metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        let mut problems = Vec::new();
        if meta.uid() != owner {
            problems.push(format!(
                "is owned by uid {} but lunguard runs as root and trusts only files owned by uid {owner} (fix: chown {owner} {})",
                meta.uid(),
                path.display()
            ));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            problems.push(format!(
                "is writable by group or others (mode {mode:04o}), so a non-root user could change what root does to disks (fix: chmod go-w {})",
                path.display()
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; it also "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me(path: &Path) -> u32 {
        fs::metadata(path).unwrap().uid()
    }

    #[test]
    fn trust_accepts_anything_readable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.toml");
        fs::write(&f, "").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(Ownership::Trust.check(&f), Ok(()));
    }

    #[test]
    fn enforce_accepts_owner_only_writable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.toml");
        fs::write(&f, "").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let own = Ownership::Enforce { owner: me(&f) };
        assert_eq!(own.check(&f), Ok(()));
    }

    #[test]
    fn enforce_refuses_group_or_world_writable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.toml");
        fs::write(&f, "").unwrap();
        let own = Ownership::Enforce { owner: me(&f) };
        for mode in [0o664, 0o646] {
            fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
            let e = own.check(&f).unwrap_err();
            assert!(e.contains("chmod go-w"), "{mode:o}: {e}");
        }
    }

    #[test]
    fn enforce_refuses_other_owner() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.toml");
        fs::write(&f, "").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let own = Ownership::Enforce {
            owner: me(&f).wrapping_add(1),
        };
        let e = own.check(&f).unwrap_err();
        assert!(e.contains("chown"), "{e}");
    }
}

//! Which inotify events on the state directory mean "reload": pure, so
//! every editor's write pattern is a table test.
//!
//! | pattern | events seen | decision |
//! |---|---|---|
//! | vim (`backupcopy=auto`) | `4913` create/delete, `a.toml` → `a.toml~` (MOVED_FROM), new `a.toml` CREATE, MODIFY, CLOSE_WRITE | trigger; the write is awaited (below) |
//! | vim swap, emacs lock | `.a.toml.swp`, `.#a.toml` | ignored |
//! | `sed -i` | `sedXXXXXX` written, renamed over `a.toml` (MOVED_TO) | trigger on the rename |
//! | `mv tmp a.toml` | MOVED_TO `a.toml` | trigger |
//! | in-place write (`>`, nano, `cp`) | MODIFY …, CLOSE_WRITE | trigger once the file is closed |
//! | ConfigMap update | `..2026_…` dir, `..data_tmp` symlink, MOVED_TO `..data` | trigger on `..data` |
//! | `chmod`/`chown` | ATTRIB on a state file or the directory | trigger (ownership check) |
//! | directory deleted/moved/replaced | DELETE_SELF/MOVE_SELF/IGNORED, parent CREATE/MOVED_TO/DELETE/MOVED_FROM of its name | re-watch, trigger |
//! | queue overflow | Q_OVERFLOW | trigger (full reload) |
//!
//! A regular state file that was created or modified and not yet closed is
//! *being written*: the trigger waits for its CLOSE_WRITE (up to a grace
//! period), so a reload never reads a half-written file — a TOML prefix can
//! parse, and a missing attachment means "detach it".

use std::ffi::{OsStr, OsString};

use inotify::EventMask;

use crate::desire::is_state_file_name;

/// ConfigMap volumes' pointer to the current generation.
pub const CONFIGMAP_DATA: &str = "..data";

/// Which watch an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The state directory.
    Dir,
    /// Its parent (for the directory's own replacement).
    Parent,
}

/// What one event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing.
    Ignore,
    /// Reload (after the quiet period); the state file concerned, if any.
    Changed(Option<OsString>),
    /// A state file appeared: reload, and if it is a regular file wait for
    /// its writer (the caller checks the file type).
    Created(OsString),
    /// A state file is being written: reload once it is closed.
    Writing(OsString),
    /// A state file is complete or gone: reload; stop waiting for it.
    Finished(OsString),
    /// The directory itself went away or came back: watch it again, reload.
    Rewatch,
    /// The kernel's inotify queue overflowed: reload everything.
    Overflow,
}

/// Decides what `mask`/`name` from `origin` means; `dir_name` is the state
/// directory's name in its parent.
pub(crate) fn decide(
    origin: Origin,
    mask: EventMask,
    name: Option<&OsStr>,
    dir_name: &OsStr,
) -> Effect {
    if mask.contains(EventMask::Q_OVERFLOW) {
        return Effect::Overflow;
    }
    match origin {
        Origin::Parent => match name {
            Some(n) if n == dir_name => Effect::Rewatch,
            _ => Effect::Ignore,
        },
        Origin::Dir => decide_dir(mask, name),
    }
}

fn decide_dir(mask: EventMask, name: Option<&OsStr>) -> Effect {
    let Some(name) = name else {
        // The directory itself.
        if mask.intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::IGNORED) {
            return Effect::Rewatch;
        }
        if mask.contains(EventMask::ATTRIB) {
            return Effect::Changed(None);
        }
        return Effect::Ignore;
    };
    if name == CONFIGMAP_DATA {
        return if mask.intersects(EventMask::MOVED_TO | EventMask::CREATE) {
            Effect::Changed(Some(name.to_owned()))
        } else {
            Effect::Ignore
        };
    }
    if !is_state_file_name(name) {
        return Effect::Ignore;
    }
    let name = name.to_owned();
    if mask.contains(EventMask::CREATE) {
        Effect::Created(name)
    } else if mask.contains(EventMask::MODIFY) {
        Effect::Writing(name)
    } else if mask.intersects(
        EventMask::CLOSE_WRITE
            | EventMask::MOVED_TO
            | EventMask::MOVED_FROM
            | EventMask::DELETE
            | EventMask::ATTRIB,
    ) {
        Effect::Finished(name)
    } else {
        Effect::Ignore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(mask: EventMask, name: &str) -> Effect {
        decide(
            Origin::Dir,
            mask,
            Some(OsStr::new(name)),
            OsStr::new("state.d"),
        )
    }

    #[test]
    fn editor_debris_is_ignored() {
        for n in [
            "4913",
            ".a.toml.swp",
            ".a.toml.swx",
            "a.toml~",
            ".#a.toml",
            "sedAb12Cd",
            "..2026_11_22_10_00_00.123",
            "..data_tmp",
        ] {
            for m in [
                EventMask::CREATE,
                EventMask::MODIFY,
                EventMask::CLOSE_WRITE,
                EventMask::DELETE,
                EventMask::MOVED_FROM,
            ] {
                assert_eq!(dir(m, n), Effect::Ignore, "{n} {m:?}");
            }
        }
    }

    #[test]
    fn state_file_lifecycle() {
        let n = || OsString::from("a.toml");
        assert_eq!(dir(EventMask::CREATE, "a.toml"), Effect::Created(n()));
        assert_eq!(dir(EventMask::MODIFY, "a.toml"), Effect::Writing(n()));
        for m in [
            EventMask::CLOSE_WRITE,
            EventMask::MOVED_TO,
            EventMask::MOVED_FROM,
            EventMask::DELETE,
            EventMask::ATTRIB,
        ] {
            assert_eq!(dir(m, "a.toml"), Effect::Finished(n()), "{m:?}");
        }
        // Renamed *into* a state file name (sed -i, mv tmp): a trigger.
        assert_eq!(
            dir(EventMask::MOVED_TO, "db.toml"),
            Effect::Finished("db.toml".into())
        );
    }

    #[test]
    fn configmap_swap_triggers_on_data_rename() {
        assert_eq!(
            dir(EventMask::MOVED_TO, "..data"),
            Effect::Changed(Some("..data".into()))
        );
        assert_eq!(dir(EventMask::DELETE, "..data"), Effect::Ignore);
    }

    #[test]
    fn directory_events() {
        let d = OsStr::new("state.d");
        assert_eq!(
            decide(Origin::Dir, EventMask::DELETE_SELF, None, d),
            Effect::Rewatch
        );
        assert_eq!(
            decide(Origin::Dir, EventMask::MOVE_SELF, None, d),
            Effect::Rewatch
        );
        assert_eq!(
            decide(Origin::Dir, EventMask::IGNORED, None, d),
            Effect::Rewatch
        );
        assert_eq!(
            decide(Origin::Dir, EventMask::ATTRIB | EventMask::ISDIR, None, d),
            Effect::Changed(None)
        );
        assert_eq!(
            decide(
                Origin::Parent,
                EventMask::CREATE | EventMask::ISDIR,
                Some(d),
                d
            ),
            Effect::Rewatch
        );
        assert_eq!(
            decide(
                Origin::Parent,
                EventMask::CREATE,
                Some(OsStr::new("other")),
                d
            ),
            Effect::Ignore
        );
        assert_eq!(
            decide(Origin::Dir, EventMask::Q_OVERFLOW, None, d),
            Effect::Overflow
        );
    }
}

//! multipathd's wwids file (`/etc/multipath/wwids`, under an injectable root): the WWIDs that
//! `find_multipaths strict` (or `yes`) lets multipathd build a map for.
//!
//! Read, never written: lunguard changes it only through multipath-tools' own commands
//! (`multipath -a` / `multipath -w`, `Action::RegisterWwid` / `Action::ForgetWwid`). The format,
//! as libmultipath's `wwids.c` writes it: `#` comment lines, then one `/<wwid>/` per line, the
//! WWID in multipath's form (`36001405…`). A missing file is an empty list (multipath creates it
//! on its first write).

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Where multipath-tools keeps the file unless `wwids_file` in multipath.conf says otherwise.
pub const WWIDS_FILE: &str = "/etc/multipath/wwids";

/// The WWIDs listed in the file at `path`; a missing file lists none. Lines that are neither
/// comments nor `/…/` are skipped, as libmultipath skips them.
pub fn read_wwids(path: &Path) -> io::Result<BTreeSet<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_wwids(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

/// The WWIDs of a wwids file's text.
pub fn parse_wwids(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix('/')?.strip_suffix('/'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_entries_multipath_writes_and_skips_comments_and_junk() {
        let text = "# Multipath wwids, Version : 1.0\n\
                    # NOTE: This file is automatically maintained by multipath and multipathd.\n\
                    #\n# Valid WWIDs:\n/36001405aaaa/\n/1LIO-ORG_disk_1/\n\
                    not a line\n//\n/3600a0b8/\n";
        let w = parse_wwids(text);
        assert_eq!(
            w.into_iter().collect::<Vec<_>>(),
            ["1LIO-ORG_disk_1", "36001405aaaa", "3600a0b8"]
        );
    }

    #[test]
    fn a_missing_file_lists_nothing_and_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_wwids(&dir.path().join("wwids")).unwrap().is_empty());
        // A directory where the file should be cannot be read as text.
        assert!(read_wwids(dir.path()).is_err());
    }
}

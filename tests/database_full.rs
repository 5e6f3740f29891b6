//! The database on a full filesystem (issue 10): a tmpfs of a few MiB mounted on a temp
//! directory (not a device; the test runs as root, as CI does), the database on it, the rest
//! filled. Journaling fails with a clear error instead of a panic; a command that opens it exits
//! 3 saying the filesystem is full; once space is freed everything recorded is still there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use lunguard::desire::Store;
use lunguard::desire::store::{Intent, SledStore};

/// A tmpfs mounted on a temp directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

fn run(argv: &[&str]) -> Output {
    // `timeout`: a hung mount must not hang the test run.
    let out = Command::new("timeout")
        .arg("20")
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().to_str().expect("utf-8 temp path");
        run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            target,
        ]);
        Self { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .args(["20", "umount", "-l"])
            .arg(self.dir.path())
            .output();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = f.write_all(&block).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
            break;
        }
    }
    // Byte by byte to the last one.
    while f.write_all(&[0]).and_then(|()| f.sync_all()).is_ok() {}
}

fn intent(i: usize) -> Intent {
    Intent {
        key: format!("3:0:0:{i}"),
        action: format!("remove 3:0:0:{i} (sd{i})"),
        at: SystemTime::now(),
    }
}

fn history(db: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["history", "--database"])
        .arg(db)
        .output()
        .expect("run lunguard history")
}

#[test]
fn full_filesystem_fails_journaling_clearly_and_start_exits_3() {
    let fs = Tmpfs::mount("8m");
    let db = fs.path().join("db");
    let filler = fs.path().join("filler");
    {
        let store = SledStore::open(&db).expect("open on the tmpfs");
        for i in 0..10 {
            store.record_intent(&intent(i)).expect("intent with space");
        }
        fill(&filler);
        let mut failed = None;
        for i in 10..2000 {
            if let Err(e) = store.record_intent(&intent(i)) {
                failed = Some(e);
                break;
            }
        }
        let e = failed.expect("a full filesystem must fail a journal write");
        assert!(e.no_space().is_some(), "ENOSPC recognized: {e:?}");
        assert!(
            store.history(usize::MAX).expect("reads still work").len() >= 10,
            "the journal before the filesystem filled"
        );
    }

    let out = history(&db);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("the filesystem holding it is full"), "{err}");
    assert!(err.contains(&db.display().to_string()), "{err}");

    std::fs::remove_file(&filler).expect("free space");
    let out = history(&db);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "entries without outcome: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..10 {
        assert!(
            text.contains(&format!("remove 3:0:0:{i} (sd{i})")),
            "intent {i} kept: {text}"
        );
    }
}

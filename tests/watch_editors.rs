//! The state-directory watch against real inotify in temp dirs: each
//! editor's save pattern gives exactly one reload trigger, debris alone
//! gives none, and the directory being replaced is survived.
//!
//! Paused time: file operations happen before `next()` is awaited, so their
//! events are already queued; tokio then auto-advances through the quiet
//! period, and "no further trigger" is a timeout that costs nothing.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lunguard::desire::watch::{Cause, StateDirWatch, Trigger, WatchConfig};
use tokio::time::timeout;

const A: &str = "[[attachment]]\nname = \"a\"\n";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state.d");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("a.toml"), A).unwrap();
    Fixture { _tmp: tmp, dir }
}

fn watch(dir: &Path) -> StateDirWatch {
    StateDirWatch::open(dir, WatchConfig::default()).unwrap()
}

async fn trigger(w: &mut StateDirWatch) -> Trigger {
    timeout(Duration::from_secs(60), w.next())
        .await
        .expect("a trigger")
        .unwrap()
}

async fn quiet(w: &mut StateDirWatch) {
    if let Ok(t) = timeout(Duration::from_secs(30), w.next()).await {
        panic!("unexpected trigger {t:?}");
    }
}

fn files(t: &Trigger) -> Vec<&str> {
    t.files.iter().map(|f| f.to_str().unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn vim_save_is_one_trigger() {
    let f = fixture();
    let mut w = watch(&f.dir);
    let d = &f.dir;
    // vim: swap file, write test, backup by rename, new file, cleanup.
    fs::write(d.join(".a.toml.swp"), "swap").unwrap();
    fs::write(d.join("4913"), "").unwrap();
    fs::remove_file(d.join("4913")).unwrap();
    fs::rename(d.join("a.toml"), d.join("a.toml~")).unwrap();
    fs::write(d.join("a.toml"), format!("{A}# edited\n")).unwrap();
    fs::remove_file(d.join("a.toml~")).unwrap();
    fs::remove_file(d.join(".a.toml.swp")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(t.cause, Cause::Changed);
    assert_eq!(files(&t), ["a.toml"]);
    assert!(t.unfinished.is_empty());
    quiet(&mut w).await;
}

#[tokio::test(start_paused = true)]
async fn editor_debris_alone_triggers_nothing() {
    let f = fixture();
    let mut w = watch(&f.dir);
    for n in [
        ".a.toml.swp",
        "4913",
        "a.toml~",
        ".#a.toml",
        "sedAbC123",
        "notes.txt",
    ] {
        fs::write(f.dir.join(n), "x").unwrap();
        fs::remove_file(f.dir.join(n)).unwrap();
    }
    quiet(&mut w).await;
}

#[tokio::test(start_paused = true)]
async fn sed_in_place_and_atomic_mv() {
    let f = fixture();
    let mut w = watch(&f.dir);
    // sed -i: temp file in the same directory, renamed over the original.
    fs::write(f.dir.join("sedXy12Zw"), format!("{A}# sed\n")).unwrap();
    fs::rename(f.dir.join("sedXy12Zw"), f.dir.join("a.toml")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(files(&t), ["a.toml"]);
    quiet(&mut w).await;
    // mv tmp file: a new state file by rename.
    fs::write(f.dir.join("b.toml.tmp"), A).unwrap();
    fs::rename(f.dir.join("b.toml.tmp"), f.dir.join("b.toml")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(files(&t), ["b.toml"]);
    quiet(&mut w).await;
}

#[tokio::test(start_paused = true)]
async fn configmap_data_swap_is_one_trigger() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("state.d");
    fs::create_dir_all(d.join("..2026_11_22_10_00_00.1")).unwrap();
    fs::write(d.join("..2026_11_22_10_00_00.1/a.toml"), A).unwrap();
    symlink("..2026_11_22_10_00_00.1", d.join("..data")).unwrap();
    symlink("..data/a.toml", d.join("a.toml")).unwrap();
    let mut w = watch(&d);
    // kubelet's AtomicWriter: new generation dir, ..data_tmp, rename, cleanup.
    fs::create_dir(d.join("..2026_11_22_10_05_00.2")).unwrap();
    fs::write(
        d.join("..2026_11_22_10_05_00.2/a.toml"),
        format!("{A}# v2\n"),
    )
    .unwrap();
    symlink("..2026_11_22_10_05_00.2", d.join("..data_tmp")).unwrap();
    fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    fs::remove_dir_all(d.join("..2026_11_22_10_00_00.1")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(files(&t), ["..data"]);
    quiet(&mut w).await;
    // A new key: a new top-level symlink, complete when created.
    fs::write(d.join("..2026_11_22_10_05_00.2/b.toml"), A).unwrap();
    symlink("..data/b.toml", d.join("b.toml")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(files(&t), ["b.toml"]);
    assert!(t.unfinished.is_empty());
}

#[tokio::test(start_paused = true)]
async fn delete_and_chmod_trigger() {
    let f = fixture();
    let mut w = watch(&f.dir);
    fs::remove_file(f.dir.join("a.toml")).unwrap();
    assert_eq!(files(&trigger(&mut w).await), ["a.toml"]);
    fs::write(f.dir.join("b.toml"), A).unwrap();
    trigger(&mut w).await;
    fs::set_permissions(f.dir.join("b.toml"), fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(files(&trigger(&mut w).await), ["b.toml"]);
    fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o777)).unwrap();
    let t = trigger(&mut w).await;
    assert!(t.files.is_empty(), "the directory's own ATTRIB: {t:?}");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_changes_is_one_trigger() {
    let f = fixture();
    let mut w = watch(&f.dir);
    for i in 0..50 {
        fs::write(f.dir.join(format!("f{i:02}.toml")), A).unwrap();
    }
    let t = trigger(&mut w).await;
    assert_eq!(t.files.len(), 50);
    quiet(&mut w).await;
}

#[tokio::test(start_paused = true)]
async fn a_file_being_written_is_awaited() {
    let f = fixture();
    let mut w = watch(&f.dir);
    let mut file = fs::File::create(f.dir.join("slow.toml")).unwrap();
    file.write_all(b"[[attachment]]\n").unwrap();
    // Still open: no reload within the grace period.
    assert!(timeout(Duration::from_secs(2), w.next()).await.is_err());
    file.write_all(b"name = \"slow\"\n").unwrap();
    drop(file);
    let t = trigger(&mut w).await;
    assert_eq!(files(&t), ["slow.toml"]);
    assert!(t.unfinished.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_writer_that_never_closes_is_reported_after_the_grace() {
    let f = fixture();
    let mut w = watch(&f.dir);
    let file = fs::File::create(f.dir.join("stuck.toml")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!(
        t.unfinished.iter().collect::<Vec<_>>(),
        [&OsString::from("stuck.toml")]
    );
    drop(file);
}

#[tokio::test(start_paused = true)]
async fn the_directory_replaced_is_watched_again() {
    let f = fixture();
    let mut w = watch(&f.dir);
    fs::remove_dir_all(&f.dir).unwrap();
    assert_eq!(trigger(&mut w).await.cause, Cause::DirectoryReplaced);
    quiet(&mut w).await;
    // Recreated (as `mv new state.d` would): reload, and the new directory's
    // files are watched.
    let staging = f.dir.with_file_name("staging");
    fs::create_dir(&staging).unwrap();
    fs::write(staging.join("a.toml"), A).unwrap();
    fs::rename(&staging, &f.dir).unwrap();
    assert_eq!(trigger(&mut w).await.cause, Cause::DirectoryReplaced);
    fs::write(f.dir.join("a.toml"), format!("{A}# again\n")).unwrap();
    let t = trigger(&mut w).await;
    assert_eq!((t.cause, files(&t)), (Cause::Changed, vec!["a.toml"]));
    // Moved away: the watch must not follow the old inode.
    let old = f.dir.with_file_name("old");
    fs::rename(&f.dir, &old).unwrap();
    assert_eq!(trigger(&mut w).await.cause, Cause::DirectoryReplaced);
    fs::write(old.join("a.toml"), "ignored").unwrap();
    quiet(&mut w).await;
}

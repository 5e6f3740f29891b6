//! Loading state files as a whole: directory layout rules, ownership,
//! all-or-nothing with every error collected, last-good retention, and
//! `lunguard check` on the repository's examples.

// Helpers outside #[test] fns too: in a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use lunguard::config::{Config, Ownership};
use lunguard::desire::store::{MemoryStore, SledStore};
use lunguard::desire::{Reload, Store, apply_load, load_desired};

fn att(name: &str, lun: u64) -> String {
    format!(
        "[[attachment]]\nname = \"{name}\"\ntransport = \"iscsi\"\ntarget = \"iqn.2001-04.com.example:t1\"\nportals = [\"192.0.2.1\"]\nlun = {lun}\n"
    )
}

struct Dir {
    _tmp: tempfile::TempDir,
    state: PathBuf,
}

fn state_dir(files: &[(&str, String)]) -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.d");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in files {
        write(&state.join(name), text);
    }
    Dir { _tmp: tmp, state }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

fn config(dir: &Path) -> Config {
    Config {
        state_dir: dir.to_owned(),
        ..Config::default()
    }
}

fn owner_me(dir: &Path) -> Ownership {
    Ownership::Enforce {
        owner: fs::metadata(dir).unwrap().uid(),
    }
}

#[test]
fn loads_every_file_sorted_by_name() {
    let d = state_dir(&[
        ("b.toml", att("zeta", 2)),
        ("a.toml", att("alpha", 1) + &att("mid", 3)),
    ]);
    let s = load_desired(&config(&d.state), Ownership::Trust).unwrap();
    let names: Vec<&str> = s.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
    assert_eq!(s.files, [d.state.join("a.toml"), d.state.join("b.toml")]);
    assert_eq!(s.get("mid").unwrap().lun, 3);
    assert_eq!(s.targets().len(), 1);
    assert_eq!(s.digest.len(), 16);
}

#[test]
fn empty_directory_is_a_valid_empty_state() {
    let d = state_dir(&[]);
    assert!(
        load_desired(&config(&d.state), Ownership::Trust)
            .unwrap()
            .attachments
            .is_empty()
    );
}

#[test]
fn missing_directory_is_an_error() {
    let e = load_desired(
        &config(Path::new("/nonexistent/lunguard/state.d")),
        Ownership::Trust,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("cannot open the state directory"),
        "{e}"
    );
}

#[test]
fn editor_debris_and_dotfiles_are_ignored() {
    let broken = "this is not toml [".to_owned();
    let d = state_dir(&[
        ("a.toml", att("a", 1)),
        (".a.toml.swp", broken.clone()),
        ("a.toml~", broken.clone()),
        (".#a.toml", broken.clone()),
        ("4913", broken.clone()),
        ("a.toml.tmp", broken.clone()),
        (".hidden.toml", broken.clone()),
        ("notes.txt", broken),
    ]);
    let s = load_desired(&config(&d.state), Ownership::Trust).unwrap();
    assert_eq!(s.attachments.len(), 1);
}

#[test]
fn configmap_layout_counts_each_file_once() {
    let d = state_dir(&[]);
    let generation = d.state.join("..2026_01_02_03_04_05.123456789");
    fs::create_dir(&generation).unwrap();
    fs::set_permissions(&generation, fs::Permissions::from_mode(0o755)).unwrap();
    write(&generation.join("a.toml"), &att("a", 1));
    write(&generation.join("b.toml"), &att("b", 2));
    symlink("..2026_01_02_03_04_05.123456789", d.state.join("..data")).unwrap();
    symlink("..data/a.toml", d.state.join("a.toml")).unwrap();
    symlink("..data/b.toml", d.state.join("b.toml")).unwrap();
    let s = load_desired(&config(&d.state), owner_me(&d.state)).unwrap();
    assert_eq!(s.attachments.len(), 2, "{s:?}");
    assert_eq!(
        s.files,
        [d.state.join("a.toml"), d.state.join("b.toml")],
        "named as the user sees them"
    );

    // The timestamped directory is checked too: whoever can write it can swap files.
    fs::set_permissions(&generation, fs::Permissions::from_mode(0o777)).unwrap();
    let e = load_desired(&config(&d.state), owner_me(&d.state)).unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");
}

#[test]
fn every_error_in_every_file_is_reported_with_position() {
    let d = state_dir(&[
        ("a.toml", att("vol-1", 1)),
        (
            "db.toml",
            att("ok", 2) + &att("vol-1", 3) + "lun_typo = 1\n",
        ),
        ("c.toml", "[[attachment]\n".to_owned()),
    ]);
    let e = load_desired(&config(&d.state), Ownership::Trust).unwrap_err();
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!("{}:1:", d.state.join("c.toml").display())),
        "{text}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{}:8:8: duplicate attachment name \"vol-1\" (also in {}:2:8); names must be unique across all state files",
            d.state.join("db.toml").display(),
            d.state.join("a.toml").display()
        )
    );
    assert!(
        lines[2].contains(":13:1: unknown field \"lun_typo\""),
        "{text}"
    );
}

#[test]
fn root_refuses_files_others_can_write_or_own() {
    let d = state_dir(&[("a.toml", att("a", 1))]);
    let strict = owner_me(&d.state);
    assert!(
        load_desired(&config(&d.state), strict).is_ok(),
        "owner-only files accepted"
    );

    fs::set_permissions(d.state.join("a.toml"), fs::Permissions::from_mode(0o664)).unwrap();
    let e = load_desired(&config(&d.state), strict).unwrap_err();
    assert!(
        e.to_string()
            .contains("a.toml: is writable by group or others"),
        "{e}"
    );
    assert!(
        load_desired(&config(&d.state), Ownership::Trust).is_ok(),
        "not root: not enforced"
    );
    fs::set_permissions(d.state.join("a.toml"), fs::Permissions::from_mode(0o644)).unwrap();

    fs::set_permissions(&d.state, fs::Permissions::from_mode(0o777)).unwrap();
    let e = load_desired(&config(&d.state), strict).unwrap_err();
    assert!(
        e.to_string()
            .contains("state.d: is writable by group or others"),
        "{e}"
    );
    fs::set_permissions(&d.state, fs::Permissions::from_mode(0o755)).unwrap();

    let someone_else = Ownership::Enforce {
        owner: fs::metadata(&d.state).unwrap().uid().wrapping_add(1),
    };
    let e = load_desired(&config(&d.state), someone_else).unwrap_err();
    assert!(e.to_string().contains("chown"), "{e}");
}

#[test]
fn broken_edit_keeps_the_last_good_state() {
    let d = state_dir(&[("a.toml", att("a", 1))]);
    let store = MemoryStore::new();
    let cfg = config(&d.state);

    let first_load = load_desired(&cfg, Ownership::Trust);
    let Reload::Replaced {
        state: good,
        changed,
    } = apply_load(&store, first_load).unwrap()
    else {
        panic!("valid load must replace");
    };
    assert!(changed);

    write(&d.state.join("a.toml"), &(att("a", 1) + &att("a", 2)));
    let broken_load = load_desired(&cfg, Ownership::Trust);
    let reload = apply_load(&store, broken_load).unwrap();
    let Reload::Kept { last_good, errors } = &reload else {
        panic!("broken load must keep: {reload:?}");
    };
    assert_eq!(last_good.as_ref(), Some(&good));
    assert!(
        errors.to_string().contains("duplicate attachment name"),
        "{errors}"
    );
    assert_eq!(reload.state(), Some(&good));
    assert_eq!(store.desired().unwrap(), Some(good.clone()));

    write(&d.state.join("a.toml"), &(att("a", 1) + &att("b", 2)));
    let fixed_load = load_desired(&cfg, Ownership::Trust);
    let Reload::Replaced { state, changed } = apply_load(&store, fixed_load).unwrap() else {
        panic!("fixed load must replace");
    };
    assert!(changed);
    assert_eq!(state.attachments.len(), 2);
    assert_eq!(store.desired().unwrap(), Some(state));
}

#[test]
fn restart_with_a_broken_file_keeps_the_stored_state() {
    let d = state_dir(&[("a.toml", att("a", 1))]);
    let db = d.state.parent().unwrap().join("db");
    let cfg = config(&d.state);
    let good = {
        let store = SledStore::open(&db).unwrap();
        apply_load(&store, load_desired(&cfg, Ownership::Trust))
            .unwrap()
            .state()
            .cloned()
            .unwrap()
    };
    write(&d.state.join("a.toml"), "[[attachment]]\nname = \"a\"\n");
    let store = SledStore::open(&db).unwrap();
    let reload = apply_load(&store, load_desired(&cfg, Ownership::Trust)).unwrap();
    assert!(matches!(reload, Reload::Kept { .. }), "{reload:?}");
    assert_eq!(reload.state(), Some(&good));
}

#[test]
fn first_start_with_a_broken_file_has_no_state_to_enforce() {
    let d = state_dir(&[("a.toml", "nonsense = [".to_owned())]);
    let reload = apply_load(
        &MemoryStore::new(),
        load_desired(&config(&d.state), Ownership::Trust),
    )
    .unwrap();
    assert_eq!(reload.state(), None, "nothing may be planned: {reload:?}");
}

fn lunguard(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn repository_examples_pass_check() {
    let (code, out) = lunguard(&[
        "check",
        "--config",
        "state/lunguard.toml.example",
        "--state-dir",
        "state",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "1 file, 2 attachments on 2 targets: ok\n")
    );
    let (code, out) = lunguard(&[
        "check",
        "--config",
        "state/lunguard.toml.example",
        "--state-dir",
        "state",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ok"], true);
    assert_eq!(v["attachments"].as_array().unwrap().len(), 2);
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
    let portals = v["attachments"][1]["portals"].as_array().unwrap();
    assert_eq!(
        portals[0], "[2001:db8::10]:3260",
        "the IPv6 example survives"
    );
}

#[test]
fn check_reports_errors_and_exits_one() {
    let d = state_dir(&[("a.toml", att("a", 1) + &att("a", 1))]);
    let cfg = d.state.parent().unwrap().join("lunguard.toml");
    write(&cfg, "");
    let dir = d.state.to_str().unwrap();
    let (code, out) = lunguard(&[
        "check",
        "--config",
        cfg.to_str().unwrap(),
        "--state-dir",
        dir,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("a.toml:8:8: duplicate attachment name"),
        "{out}"
    );
    assert!(
        out.contains("a.toml:10:10: target iqn.2001-04.com.example:t1 LUN 1 is already claimed"),
        "{out}"
    );
    let (code, out) = lunguard(&[
        "check",
        "--config",
        cfg.to_str().unwrap(),
        "--state-dir",
        dir,
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["line"], 8);
    assert_eq!(v["errors"][0]["column"], 8);
    assert!(v["errors"][0]["file"].as_str().unwrap().ends_with("a.toml"));
}

#[test]
fn check_with_a_missing_config_file_fails() {
    let (code, out) = lunguard(&[
        "check",
        "--config",
        "/nonexistent/lunguard.toml",
        "--state-dir",
        "state",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot read the config file"), "{out}");
}

/// `check_text` (what the fuzz target and the linear-time tests feed) must be the loader the
/// daemon runs on each file: same attachments, same diagnostics, for a valid and a broken file.
#[test]
fn check_text_is_the_per_file_loader() {
    // A cross-file error (the duplicate name in the second table) before a parse error (the
    // third): the diagnostics come in line order, as `lunguard check` prints them.
    let broken = format!("{}{}[[attachment]]\nnmae = 1\n", att("v", 1), att("v", 2));
    for text in [format!("{}{}", att("a", 1), att("b", 2)), broken] {
        let d = state_dir(&[("s.toml", text.clone())]);
        let whole = lunguard::desire::compile(&config(&d.state), Ownership::Trust);
        let one =
            lunguard::desire::check_text(&d.state.join("s.toml"), &text, &Config::default().scope);
        let mut attachments = one.attachments.clone();
        attachments.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(attachments, whole.attachments);
        assert_eq!(one.errors.0, whole.errors.0);
        assert_eq!(one.error_count, whole.error_count);
    }
}

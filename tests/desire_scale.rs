//! State files at scale (issue 8, goal 2): 10,000 attachments load whole,
//! error positions stay exact deep into a big file, 100,000 errors are capped
//! per file, and a file over the size cap is refused by name — each of these a
//! rejected load that keeps the last good state. Results only, no timings
//! (`lunguard check` on generated files is timed in docs/decisions.md).

// Helpers outside #[test] fns too: in a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use lunguard::config::{Config, Ownership};
use lunguard::desire::store::MemoryStore;
use lunguard::desire::{
    MAX_ERRORS_PER_FILE, MAX_STATE_FILE_BYTES, Reload, apply_load, compile, load_desired,
};

/// Lines of one attachment written by `att`.
const ATT_LINES: usize = 7;

fn att(out: &mut String, name: &str, lun: u64) {
    write!(
        out,
        "[[attachment]]\nname = \"{name}\"\ntransport = \"iscsi\"\ntarget = \"iqn.2001-04.com.example:t1\"\nportals = [\"192.0.2.1\"]\nlun = {lun}\n\n"
    )
    .unwrap();
}

fn config(dir: &Path) -> Config {
    Config {
        state_dir: dir.to_owned(),
        ..Config::default()
    }
}

fn state_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.d");
    fs::create_dir(&state).unwrap();
    (tmp, state)
}

/// `a.toml` with vol-0..vol-4999, `b.toml` with vol-5000..vol-9999.
fn ten_thousand(state: &Path, last_name: &str) {
    let mut a = String::new();
    for i in 0..5_000 {
        att(&mut a, &format!("vol-{i}"), i);
    }
    let mut b = String::new();
    for i in 5_000..9_999 {
        att(&mut b, &format!("vol-{i}"), i);
    }
    att(&mut b, last_name, 9_999);
    fs::write(state.join("a.toml"), a).unwrap();
    fs::write(state.join("b.toml"), b).unwrap();
}

#[test]
fn ten_thousand_attachments_load_and_a_duplicate_at_the_end_is_pinned_exactly() {
    let (_tmp, state) = state_dir();
    ten_thousand(&state, "vol-9999");
    let s = load_desired(&config(&state), Ownership::Trust).unwrap();
    assert_eq!(s.attachments.len(), 10_000);
    assert!(s.attachments.windows(2).all(|w| w[0].name < w[1].name));

    // The last table of b.toml reuses a.toml's first name: one error, at the
    // exact line of b.toml's 5,000th table, pointing back at a.toml:2:8.
    ten_thousand(&state, "vol-0");
    let e = load_desired(&config(&state), Ownership::Trust).unwrap_err();
    let line = 4_999 * ATT_LINES + 2;
    assert_eq!(
        e.to_string(),
        format!(
            "{}:{line}:8: duplicate attachment name \"vol-0\" (also in {}:2:8); names must be unique across all state files",
            state.join("b.toml").display(),
            state.join("a.toml").display()
        )
    );
}

/// 20,000 tables with four field errors each and a duplicate name in all but
/// the first, plus an unknown top-level key: 100,000 errors in one file.
fn hundred_thousand_errors() -> String {
    let mut text = String::from("extra = 1\n");
    for _ in 0..20_000 {
        text.push_str("[[attachment]]\nname = \"dup\"\ntransport = \"fc\"\ntarget = \"x\"\nportals = [\"bad\"]\nlun = 1\nwwid = \"36001\"\n");
    }
    text
}

#[test]
fn hundred_thousand_errors_report_the_first_hundred_and_count_the_rest() {
    let (_tmp, state) = state_dir();
    fs::write(state.join("bad.toml"), hundred_thousand_errors()).unwrap();
    let mut ok = String::new();
    att(&mut ok, "fine", 1);
    fs::write(state.join("ok.toml"), ok).unwrap();

    let c = compile(&config(&state), Ownership::Trust);
    assert_eq!(c.error_count, 100_000);
    let bad = state.join("bad.toml");
    let listed: Vec<_> = c.errors.iter().collect();
    assert_eq!(
        listed.len(),
        MAX_ERRORS_PER_FILE + 1,
        "the first 100 and one count"
    );

    // The first 100 by position: the top-level key, table 0's four field
    // errors, then five a table (duplicate name first) for tables 1..=19.
    let mut want = vec![(1, 1)];
    for t in 0..20 {
        let header = 2 + t * ATT_LINES;
        if t > 0 {
            want.push((header + 1, 8)); // name = "dup"
        }
        want.extend([
            (header + 2, 13), // transport = "fc"
            (header + 3, 10), // target = "x"
            (header + 4, 12), // portals = ["bad"]
            (header + 6, 8),  // wwid = "36001"
        ]);
    }
    let got: Vec<_> = listed[..MAX_ERRORS_PER_FILE]
        .iter()
        .map(|d| {
            assert_eq!(d.file, bad);
            (d.line.unwrap() as usize, d.column.unwrap() as usize)
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        listed[MAX_ERRORS_PER_FILE].to_string(),
        format!(
            "{0}: … and 99900 more errors in {0} (only the first 100 of a file are reported; fix these and check again)",
            bad.display()
        )
    );
    assert_eq!(
        c.attachments.len(),
        1,
        "ok.toml's attachment is still valid on its own"
    );
}

#[test]
fn an_over_cap_or_over_error_file_is_a_rejected_load_and_the_last_good_state_stays() {
    let (_tmp, state) = state_dir();
    let mut good = String::new();
    att(&mut good, "vol-1", 1);
    fs::write(state.join("a.toml"), &good).unwrap();
    let store = MemoryStore::default();
    let first = apply_load(&store, load_desired(&config(&state), Ownership::Trust)).unwrap();
    let Reload::Replaced {
        state: last_good, ..
    } = first
    else {
        panic!("{first:?}")
    };

    // One byte over the cap, in comments: valid TOML, refused for its size.
    let big = state.join("big.toml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let over = usize::try_from(MAX_STATE_FILE_BYTES).unwrap() + 1;
    let mut text = line.repeat(over / line.len() + 1);
    text.truncate(over);
    fs::write(&big, text).unwrap();
    let e = load_desired(&config(&state), Ownership::Trust).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: is 16.0 MiB (16777217 bytes), over the 16 MiB cap for a state file; split it into several files in the state directory",
            big.display()
        )
    );
    let kept = apply_load(&store, Err(e)).unwrap();
    assert_eq!(kept.state(), Some(&last_good), "over-cap: last good stays");
    fs::remove_file(&big).unwrap();

    fs::write(state.join("bad.toml"), hundred_thousand_errors()).unwrap();
    let e = load_desired(&config(&state), Ownership::Trust).unwrap_err();
    assert_eq!(e.0.len(), MAX_ERRORS_PER_FILE + 1);
    let kept = apply_load(&store, Err(e)).unwrap();
    assert_eq!(
        kept.state(),
        Some(&last_good),
        "over-error: last good stays"
    );
}

//! `lunguard --version` names the version and the commit the binary was built from (build.rs);
//! `-V` stays the plain version, which the man pages show too.

use std::process::Command;

fn lunguard(arg: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .arg(arg)
        .output()
        .expect("run lunguard");
    assert!(out.status.success(), "{arg}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// HEAD of the checkout the test runs in, when it is one and git is installed.
fn git_head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn long_version_names_the_commit_built_from() {
    let text = lunguard("--version");
    let prefix = format!("lunguard {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = text
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("{text:?} is not \"{prefix}<commit>)\""));
    match (std::env::var("LUNGUARD_COMMIT"), git_head()) {
        // A tarball build names its commit itself.
        (Ok(given), _) if !given.trim().is_empty() => assert_eq!(commit, given.trim()),
        (_, Some(head)) => assert_eq!(commit, head, "built from another commit than HEAD"),
        (_, None) => assert_eq!(commit, "unknown"),
    }
}

#[test]
fn short_version_is_the_plain_version() {
    assert_eq!(
        lunguard("-V"),
        format!("lunguard {}\n", env!("CARGO_PKG_VERSION"))
    );
}

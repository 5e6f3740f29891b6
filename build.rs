//! Stamps the binary with the commit it was built from, for `lunguard --version`
//! ("lunguard 0.1.0 (commit 5039e10)"): an operator's bug report then names the exact source.
//!
//! Order: `LUNGUARD_COMMIT` from the environment (a build from a release tarball, which has
//! no `.git`), else `git rev-parse --short=7 HEAD`, else "unknown" (no git, not a checkout).
//! Never fails the build: a missing commit is a worse version string, not a broken package.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// git answers in milliseconds; a hung one (a network filesystem, a lock) must not hang
/// the build, so it is killed after this and the commit becomes "unknown".
const GIT_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    println!("cargo:rerun-if-env-changed=LUNGUARD_COMMIT");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let commit = match std::env::var("LUNGUARD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => {
            watch_git_head(Path::new(&dir));
            git(Path::new(&dir), &["rev-parse", "--short=7", "HEAD"])
                .unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=LUNGUARD_COMMIT={commit}");
}

/// Reruns this script when HEAD moves: `.git/HEAD` changes on a checkout, the branch's ref
/// file (or `packed-refs`) on a commit. `--git-path` resolves both in a linked worktree too,
/// where `.git` is a file pointing elsewhere.
fn watch_git_head(dir: &Path) {
    let mut paths = vec![git(dir, &["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(git(dir, &["rev-parse", "--git-path", &branch]));
        paths.push(git(dir, &["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in paths.into_iter().flatten() {
        let path = dir.join(path); // relative answers are relative to `dir`
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Runs `git ARGS` in `dir` (argument vector, timeout, stderr captured); its trimmed stdout,
/// or `None` with a build warning naming git's stderr.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?; // no git installed: "unknown", silently (a tarball build host)
    let deadline = Instant::now() + GIT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                println!("cargo:warning=git {args:?} did not answer within {GIT_TIMEOUT:?}");
                return None;
            }
        }
    };
    // The answers are a few bytes: they fit the pipe buffer, so reading after exit is safe.
    let mut out = String::new();
    let mut err = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        // `symbolic-ref -q` on a detached HEAD exits 1 silently: not worth a warning.
        if !err.trim().is_empty() {
            println!("cargo:warning=git {args:?}: {}", err.trim());
        }
        return None;
    }
    let out = out.trim();
    (!out.is_empty()).then(|| out.to_owned())
}

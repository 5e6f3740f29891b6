//! Issue 7 item 5: `lunguard plan` (opening the database itself, no daemon) records first-seen
//! times, so the grace period of an unwanted device counts from the first look and `plan` says
//! when the removal would happen ("would remove at T (in N s)"), the same T on every run.

use std::path::Path;
use std::process::Command;

use lunguard::desire::Store;
use lunguard::desire::store::SledStore;

fn plan(dir: &Path) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iscsi-leftover");
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .arg("plan")
        .arg("--config")
        .arg(dir.join("lunguard.toml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--database")
        .arg(dir.join("db"))
        .arg("--fixture")
        .arg(&fixture)
        .output()
        .expect("run lunguard plan");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings: exit 1\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The "would remove at" times of every finding, in order.
fn due(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split("would remove at ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// Bug: `plan` never recorded first-seen times, so every run started the grace period afresh
/// ("waiting 3600s more", forever) and never said when the device would go.
#[test]
fn plan_records_first_seen_so_the_removal_time_stays_put() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("state")).expect("state dir");
    std::fs::write(
        dir.path().join("lunguard.toml"),
        "[scope]\niscsi_targets = [\"iqn.2026-11.test.lunguard:*\"]\n[policy]\ngrace = \"1h\"\n",
    )
    .expect("config");
    let first = plan(dir.path());
    let t1 = due(&first);
    assert!(
        !t1.is_empty(),
        "every LUN waits for the grace period:\n{first}"
    );
    assert!(first.contains("(in 3600 s; grace period)"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = plan(dir.path());
    assert_eq!(
        due(&second),
        t1,
        "the same removal time on the second look:\n{second}"
    );
    assert!(
        !second.contains("(in 3600 s;"),
        "the grace period counts down:\n{second}"
    );
    let store = SledStore::open(&dir.path().join("db")).expect("database");
    assert!(
        !store.seen().expect("first-seen times").is_empty(),
        "first-seen times are in the database"
    );
}

/// Issue 7 item 5: `status` planned with no first-seen times at all, so it always showed a fresh
/// grace period. It reads them from the database (when no daemon holds it; while one does, it
/// takes the daemon's latest findings) and says the same "would remove at T" as `plan`.
#[test]
fn status_shows_the_same_removal_time_as_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("state")).expect("state dir");
    std::fs::write(
        dir.path().join("lunguard.toml"),
        format!(
            "database = \"{}\"\n[scope]\niscsi_targets = [\"iqn.2026-11.test.lunguard:*\"]\n[policy]\ngrace = \"1h\"\n",
            dir.path().join("db").display()
        ),
    )
    .expect("config");
    let t = due(&plan(dir.path()));
    assert!(!t.is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iscsi-leftover");
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .arg("status")
        .arg("--config")
        .arg(dir.path().join("lunguard.toml"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--fixture")
        .arg(&fixture)
        .output()
        .expect("run lunguard status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(due(&text), t, "status and plan agree:\n{text}");
    assert!(!text.contains("(in 3600 s;"), "{text}");
}

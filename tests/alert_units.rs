//! The shipped systemd unit and udev rules say what the code expects:
//! `Type=notify` with a watchdog (src/notify.rs), the installed binary path,
//! the devices and the part of `/sys` the guard writes left usable under the
//! sandbox, every directive commented, and the removal-marker path pattern of
//! src/marker.rs. systemd's own checks run as well: `systemd-analyze verify`
//! and `systemd-analyze security --offline` (exposure at most 2.5, issue 9);
//! tests/host-deps.sh installs systemd, so a missing `systemd-analyze` fails.

// Helpers outside #[test] fns unwrap fixed test data too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lunguard::marker::removing_marker;
use lunguard::model::DevT;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// section → key → every value (keys may repeat).
fn parse_unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = line.split_once('=').expect("key=value");
        out.entry(section.clone())
            .or_default()
            .entry(k.trim().to_owned())
            .or_default()
            .push(v.trim().to_owned());
    }
    out
}

#[test]
fn service_is_notify_with_watchdog_and_keeps_dev_and_sys_usable() {
    let unit = parse_unit(&read("systemd/lunguard.service"));
    let svc = &unit["Service"];
    let one = |k: &str| svc.get(k).and_then(|v| v.last()).map(String::as_str);
    assert_eq!(one("Type"), Some("notify"));
    assert_eq!(one("NotifyAccess"), Some("main"));
    assert_eq!(one("ExecStart"), Some("/usr/sbin/lunguard daemon"));
    assert!(one("WatchdogSec").is_some_and(|v| !v.is_empty() && v != "0"));
    assert_eq!(one("ExecReload"), Some("/bin/kill -HUP $MAINPID"));
    assert_ne!(
        one("PrivateDevices"),
        Some("yes"),
        "BLKFLSBUF needs /dev/sdX and /dev/dm-N"
    );
    // /sys is read-only under ProtectKernelTunables=yes, except the device tree where the
    // scan and delete files live (/sys/class/... links resolve there).
    assert_eq!(one("ProtectKernelTunables"), Some("yes"));
    assert!(
        svc["ReadWritePaths"].iter().any(|v| v == "/sys/devices"),
        "scan/delete write /sys/devices: {:?}",
        svc["ReadWritePaths"]
    );
    assert_eq!(one("DevicePolicy"), Some("closed"));
    let allowed = &svc["DeviceAllow"];
    for dev in [
        "block-sd rw",
        "block-device-mapper rw",
        "/dev/mapper/control rw",
    ] {
        assert!(allowed.iter().any(|v| v == dev), "{dev}: {allowed:?}");
    }
    assert_eq!(one("IPAddressDeny"), Some("any"));
    assert_eq!(
        svc["SystemCallFilter"].first().map(String::as_str),
        Some("@system-service")
    );
    let after = unit["Unit"]["After"].join(" ");
    for u in ["iscsid.service", "multipathd.service"] {
        assert!(after.split_whitespace().any(|a| a == u), "After={after}");
    }
    assert!(
        unit["Unit"]["Documentation"]
            .iter()
            .any(|d| d.split_whitespace().any(|x| x == "man:lunguard(8)")),
        "{:?}",
        unit["Unit"]["Documentation"]
    );
    assert!(
        one("PrivateNetwork").is_none(),
        "uevents and abstract sockets are per netns"
    );
    let caps = one("CapabilityBoundingSet").unwrap();
    assert!(
        caps.contains("CAP_SYS_ADMIN") && caps.contains("CAP_NET_ADMIN"),
        "{caps}"
    );
    // Issue 7: the in-use checks of a bare disk need to read other users' /proc/PID/fd and to
    // open a node chowned to another user; without these they fail closed and block detaches.
    assert!(
        caps.contains("CAP_SYS_PTRACE") && caps.contains("CAP_DAC_READ_SEARCH"),
        "{caps}"
    );
    assert!(
        !caps.contains("CAP_DAC_OVERRIDE"),
        "reading needs no write override: {caps}"
    );
    let families = one("RestrictAddressFamilies").unwrap();
    assert!(families.contains("AF_UNIX") && families.contains("AF_NETLINK"));
    assert_eq!(
        one("RuntimeDirectory"),
        Some("lunguard"),
        "holds the removal markers"
    );
    assert!(
        !unit["Unit"].contains_key("Requires"),
        "no hard dependency on iscsid/multipathd"
    );
}

fn systemd_analyze(args: &[&str]) -> std::process::Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/lunguard.service");
    Command::new("systemd-analyze")
        .args(args)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze: {e} (install systemd: bash tests/host-deps.sh)")
        })
}

/// `systemd-analyze verify` checks the unit, including that every `Documentation=man:` page
/// exists: `man` looks them up in the generated pages of docs/man (as the package installs them).
#[test]
fn systemd_analyze_verify_finds_nothing_but_the_missing_binary() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manpath = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(top.join("docs/man")).unwrap() {
        let page = entry.unwrap().path();
        let section = page.extension().unwrap().to_string_lossy().into_owned();
        let dir = manpath.path().join(format!("man{section}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&page, dir.join(page.file_name().unwrap())).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(top.join("systemd/lunguard.service"))
        .env("MANPATH", manpath.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze: {e} (install systemd: bash tests/host-deps.sh)")
        });
    // The binary is not installed where the unit expects it on a build host;
    // anything else systemd-analyze reports is a real problem in the unit.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("/usr/sbin/lunguard") && !l.trim().is_empty())
        .filter(|l| !l.contains("Failed to connect") && !l.contains("System has not been booted"))
        .collect();
    assert!(problems.is_empty(), "systemd-analyze verify:\n{stderr}");
}

/// Issue 9: the sandbox is as tight as the job allows, by systemd's own measure. The VM
/// scenario `systemd-package` proves the daemon still does all of its job under it.
#[test]
fn systemd_analyze_security_rates_the_unit_at_most_2_5() {
    let out = systemd_analyze(&["security", "--offline=yes", "--no-pager"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let level = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for lunguard.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "no overall exposure level in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(level <= 2.5, "exposure {level} > 2.5:\n{text}");
}

/// Issue 9: every directive says why. A directive is preceded by a comment, or by the
/// same key (one comment may cover a repeated key such as `After=`).
#[test]
fn every_directive_of_the_unit_is_commented() {
    let text = read("systemd/lunguard.service");
    let mut prev: Option<&str> = None;
    let mut bare = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('[') {
            prev = None;
            continue;
        }
        if line.starts_with('#') {
            prev = Some("#");
            continue;
        }
        let key = line.split('=').next().unwrap_or(line);
        if prev != Some("#") && prev != Some(key) {
            bare.push(format!("line {}: {line}", n + 1));
        }
        prev = Some(key);
    }
    assert!(
        bare.is_empty(),
        "directives without a comment:\n{}",
        bare.join("\n")
    );
}

#[test]
fn removing_rule_tests_the_marker_path_the_code_creates() {
    let rules = read("rules/40-lunguard-removing.rules");
    let dir = Path::new("/run/lunguard");
    // The rule's pattern with udev's %M:%m substituted must be the code's path.
    let test = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.split("TEST==\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a TEST==\"…\" match");
    let dev = DevT::new(8, 32);
    assert_eq!(
        Path::new(&test.replace("%M", "8").replace("%m", "32")),
        removing_marker(dir, dev)
    );
    for flag in [
        "ENV{LUNGUARD_REMOVING}=\"1\"",
        "ENV{SYSTEMD_READY}=\"0\"",
        "ENV{DM_UDEV_DISABLE_OTHER_RULES_FLAG}=\"1\"",
    ] {
        assert!(rules.contains(flag), "{flag}");
    }
}

/// Issue 12: the quarantine rule tests exactly the files the writer creates (host and address
/// entries under the runtime directory), decides only from them, and sets every claimant's
/// "leave it alone" property.
#[test]
fn quarantine_rule_tests_the_files_the_writer_creates() {
    let rules = read("rules/59-lunguard-quarantine.rules");
    let tests: Vec<&str> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split("TEST==\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let run = tempfile::tempdir().unwrap();
    let w = lunguard::quarantine::Writer::new(run.path());
    let list = lunguard::reconcile::QuarantineList {
        hosts: [7].into_iter().collect(),
        declared: ["7:0:0:3".parse().unwrap()].into_iter().collect(),
    };
    w.sync(&list).unwrap();
    // The rule's paths, rooted at this test's runtime directory, with the saved parent names
    // substituted as udev does (the %b of the hostH and H:C:T:L parents).
    let at = |t: &str, host: &str, addr: &str| {
        run.path().join(
            t.strip_prefix("/run/lunguard/")
                .expect("under the runtime directory")
                .replace("$env{.LUNGUARD_HOST}", host)
                .replace("$env{.LUNGUARD_ADDR}", addr),
        )
    };
    let host_test = rules
        .lines()
        .find_map(|l| l.strip_prefix("TEST!=\""))
        .and_then(|rest| rest.split('"').next())
        .expect("the host TEST!=");
    assert_eq!(tests.len(), 1, "{tests:?}");
    assert!(
        at(host_test, "host7", "").exists(),
        "host entry: {host_test}"
    );
    assert!(!at(host_test, "host8", "").exists());
    assert!(
        at(tests[0], "", "7:0:0:3").exists(),
        "address entry: {}",
        tests[0]
    );
    assert!(!at(tests[0], "", "7:0:0:4").exists());
    assert!(rules.contains("KERNELS==\"host[0-9]*\", ENV{.LUNGUARD_HOST}=\"%b\""));
    // An unset name never tests the directory itself (which exists): it ends the rule first.
    assert!(rules.contains("ENV{.LUNGUARD_HOST}!=\"host[0-9]*\", GOTO="));
    assert!(rules.contains("ENV{.LUNGUARD_ADDR}!=\"[0-9]*:[0-9]*:[0-9]*:[0-9]*\", GOTO="));
    for flag in [
        "ENV{LUNGUARD_QUARANTINE}=\"1\"",
        "ENV{UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG}=\"1\"",
        "ENV{UDEV_DISABLE_PERSISTENT_STORAGE_BLKID_FLAG}=\"1\"",
        "ENV{DM_UDEV_DISABLE_OTHER_RULES_FLAG}=\"1\"",
        "ENV{SYSTEMD_READY}=\"0\"",
        "ENV{UDISKS_IGNORE}=\"1\"",
        // multipathd finds no WWID in udev even where sg3-utils-udev set one.
        "ENV{ID_WWN}=\"\", ENV{ID_WWN_WITH_EXTENSION}=\"\", ENV{ID_SERIAL}=\"\", ENV{ID_SERIAL_SHORT}=\"\"",
        // Only the add decides; later events keep its decision.
        "ACTION==\"add\", ENV{LUNGUARD_QUARANTINE}=\"1\"",
        "ACTION!=\"add\", IMPORT{db}=\"LUNGUARD_QUARANTINE\"",
    ] {
        assert!(rules.contains(flag), "{flag}");
    }
    assert!(rules.contains(&format!("ENV{{{}}}", lunguard::quarantine::PROPERTY)));
}

/// Issue 9: only rules the code relies on are shipped (the tag rule went: the monitor filters
/// by subsystem), and each is well formed. Issue 12 adds the quarantine rule.
#[test]
fn shipped_rules_are_the_marker_and_quarantine_rules_and_well_formed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["40-lunguard-removing.rules", "59-lunguard-quarantine.rules"]
    );
    for name in &names {
        let rules = read(&format!("rules/{name}"));
        assert!(
            !rules.contains("TAG+="),
            "{name}: nothing consumes udev tags"
        );
        // Every rule line (not a comment) is KEY op "value" pairs separated by ", ".
        for line in rules
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            for pair in line.split(", ") {
                assert!(
                    pair.contains("==\"")
                        || pair.contains("!=\"")
                        || pair.contains("+=\"")
                        || pair.contains("=\""),
                    "{name}: malformed: {pair:?} in {line:?}"
                );
            }
        }
    }
}

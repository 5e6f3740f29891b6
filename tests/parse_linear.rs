//! No input of up to 1 MiB takes a parser more than linear time (issue 10). Every parser that
//! reads outside data — state file, config, both uevent wire formats, `vpd_pg83`, `wwid`,
//! H:C:T:L, dev_t, mountinfo, swaps, the control protocol — is fed the worst inputs we could
//! build for it (many keys, many errors, long lines, deep nesting, many NULs, repeated escapes)
//! at 64 KiB and at 1 MiB, and the CPU time at 1 MiB must stay under [`MAX_RATIO`] times the
//! time at 64 KiB: linear work gives 16, a quadratic step 256.
//!
//! Robust on a loaded 2-core machine: CPU time of the measuring thread (not wall time, which
//! includes waiting for a core), the best of [`RUNS`] runs of each size (noise only ever adds
//! time), and no absolute threshold. A fixed cost per call only lowers the ratio. The bound is
//! 4× the size ratio: room for cache misses and `log n` factors (B-tree maps), still 4× below
//! quadratic. `the_check_fails_on_a_quadratic_parser` shows that it catches a quadratic step:
//! the line-number lookup by linear search that `config::Source` avoids with a binary search.

// Helpers outside #[test] fns too: in a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use lunguard::config::{Config, Scope};
use lunguard::control::{Request, reply_to};
use lunguard::desire::check_text;
use lunguard::model::{DevT, Hctl, Wwid};
use lunguard::observe::monitor::wire::{UDEV_HEADER_LEN, UDEV_MAGIC, UDEV_PREFIX, parse_datagram};
use lunguard::observe::{parse_mountinfo, parse_swaps};

const SMALL: usize = 64 * 1024;
const LARGE: usize = 1024 * 1024;
/// Allowed time ratio LARGE/SMALL: 4× the size ratio (16).
const MAX_RATIO: f64 = 4.0 * (LARGE / SMALL) as f64;
const RUNS: usize = 3;

/// CPU time of this thread (the test harness runs tests on parallel threads).
fn thread_cpu() -> Duration {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// Best CPU time of `RUNS` runs of `run(input)`.
fn best<U: ?Sized>(input: &U, run: &impl Fn(&U)) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = thread_cpu();
            run(black_box(input));
            thread_cpu() - start
        })
        .min()
        .unwrap()
}

/// `Err` with the measurements when the LARGE input costs more than `MAX_RATIO` times the
/// SMALL one. `make(n)` builds an input of about `n` bytes.
fn linear<T: AsRef<U>, U: ?Sized>(
    make: impl Fn(usize) -> T,
    run: impl Fn(&U),
) -> Result<f64, String> {
    let (small, large) = (make(SMALL), make(LARGE));
    run(small.as_ref()); // warm-up: first-touch page faults, lazy statics
    let (ts, tl) = (best(small.as_ref(), &run), best(large.as_ref(), &run));
    // Guard against a zero denominator on a coarse clock; a microsecond is far below any case.
    let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-6);
    if ratio <= MAX_RATIO {
        Ok(ratio)
    } else {
        Err(format!(
            "64 KiB: {ts:?}, 1 MiB: {tl:?}: ratio {ratio:.1} > {MAX_RATIO} (linear: 16, quadratic: 256)"
        ))
    }
}

/// Checks every shape of one parser; the panic message lists each shape's outcome.
fn assert_linear_all(parser: &str, results: Vec<(&str, Result<f64, String>)>) {
    let report: Vec<String> = results
        .iter()
        .map(|(shape, r)| match r {
            Ok(ratio) => format!("{parser} / {shape}: ratio {ratio:.1}"),
            Err(e) => format!("{parser} / {shape}: NOT LINEAR: {e}"),
        })
        .collect();
    eprintln!("{}", report.join("\n"));
    assert!(
        results.iter().all(|(_, r)| r.is_ok()),
        "{}",
        report.join("\n")
    );
}

/// `unit` repeated up to `n` bytes (whole units), between `head` and `tail`.
fn repeat(head: &str, unit: &str, tail: &str, n: usize) -> String {
    let mut s = String::with_capacity(n + head.len() + tail.len());
    s.push_str(head);
    while s.len() + unit.len() <= n {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

/// `count` valid attachments (`[[attachment]]` tables), about `n` bytes.
fn attachments(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        write!(
            s,
            "[[attachment]]\nname = \"vol-{i}\"\ntransport = \"iscsi\"\ntarget = \"iqn.2001-04.com.example:t{}\"\nportals = [\"192.0.2.1\", \"192.0.2.2:3261\"]\nlun = {}\nwwid = \"naa.6001405{i:025x}\"\n\n",
            i / 1000,
            i % 1000
        )
        .unwrap();
        i += 1;
    }
    s
}

fn state(text: &str) {
    black_box(check_text(Path::new("s.toml"), text, &Scope::default()));
}

#[test]
fn the_state_file_loader_is_linear() {
    assert_linear_all(
        "state file",
        vec![
            ("many attachments", linear(attachments, state)),
            (
                // Every key an error: diagnostics with line:column for each.
                "many unknown keys",
                linear(|n| repeat("[[attachment]]\n", "nmae = 1\n", "", n), state),
            ),
            (
                // Many duplicate names and claims: the cross-file rules compare attachments.
                "many duplicate names",
                linear(
                    |n| {
                        repeat(
                            "",
                            "[[attachment]]\nname=\"a\"\ntransport=\"iscsi\"\ntarget=\"iqn.2001-04.com.example:t\"\nportals=[\"192.0.2.1\"]\nlun=1\n",
                            "",
                            n,
                        )
                    },
                    state,
                ),
            ),
            (
                "many syntax errors",
                linear(|n| repeat("", "= = =\n", "", n), state),
            ),
            (
                "deep nesting",
                linear(|n| repeat("x = ", "[", "", n), state),
            ),
            (
                "deep inline tables",
                linear(|n| repeat("x = ", "{a=", "", n), state),
            ),
            (
                "one long line",
                linear(
                    |n| repeat("[[attachment]]\nname = \"", "v", "\"\n", n),
                    state,
                ),
            ),
            (
                "repeated escapes",
                linear(
                    |n| repeat("[[attachment]]\nname = \"", "\\u0041\\t", "\"\n", n),
                    state,
                ),
            ),
            (
                "long portal list",
                linear(
                    |n| repeat("[[attachment]]\nportals = [", "\"192.0.2.1\",", "]\n", n),
                    state,
                ),
            ),
        ],
    );
}

fn config(text: &str) {
    let _ = black_box(Config::parse(Path::new("c.toml"), text));
}

#[test]
fn the_config_loader_is_linear() {
    assert_linear_all(
        "config",
        vec![
            (
                // Patterns are compiled and checked one by one.
                "many scope patterns",
                linear(
                    |n| {
                        repeat(
                            "[scope]\niscsi_targets = [",
                            "\"iqn.2003-01.*.a?b*\",",
                            "]\n",
                            n,
                        )
                    },
                    config,
                ),
            ),
            (
                "many unknown keys",
                linear(|n| repeat("", "mdoe = 1\n", "", n), config),
            ),
            (
                "deep nesting",
                linear(|n| repeat("mode = ", "[", "", n), config),
            ),
            (
                "many tables",
                linear(|n| repeat("", "[x]\n", "", n), config),
            ),
            (
                "one long string",
                linear(|n| repeat("state_dir = \"/", "d", "\"\n", n), config),
            ),
            (
                "repeated escapes",
                linear(|n| repeat("state_dir = \"", "\\\\\\\"", "\"\n", n), config),
            ),
            (
                "pattern of stars",
                linear(
                    |n| repeat("[scope]\niscsi_targets = [\"", "*", "\"]\n", n),
                    config,
                ),
            ),
        ],
    );
}

fn uevent(buf: &[u8]) {
    let _ = black_box(parse_datagram(buf));
}

fn kernel(head: &str, unit: &[u8], n: usize) -> Vec<u8> {
    let mut b = head.as_bytes().to_vec();
    while b.len() + unit.len() <= n {
        b.extend_from_slice(unit);
    }
    b
}

fn udev(unit: &[u8], n: usize) -> Vec<u8> {
    let mut b = UDEV_PREFIX.to_vec();
    b.extend_from_slice(&UDEV_MAGIC.to_be_bytes());
    let header = UDEV_HEADER_LEN as u32;
    b.extend_from_slice(&header.to_ne_bytes());
    b.extend_from_slice(&header.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.resize(UDEV_HEADER_LEN, 0);
    b.extend_from_slice(b"ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=scsi\0SEQNUM=1\0");
    while b.len() + unit.len() <= n {
        b.extend_from_slice(unit);
    }
    b
}

#[test]
fn the_uevent_parser_is_linear_in_both_wire_formats() {
    let mut i = 0u64;
    let distinct_keys = std::cell::RefCell::new(move || {
        i += 1;
        format!("K{i}=v\0").into_bytes()
    });
    let head = "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0SUBSYSTEM=scsi\0SEQNUM=1\0";
    assert_linear_all(
        "uevent",
        vec![
            (
                "kernel: many distinct keys",
                linear(
                    |n| {
                        let mut b = head.as_bytes().to_vec();
                        while b.len() < n {
                            b.extend((distinct_keys.borrow_mut())());
                        }
                        b
                    },
                    uevent,
                ),
            ),
            (
                "kernel: one key repeated",
                linear(|n| kernel(head, b"K=v\0", n), uevent),
            ),
            (
                "kernel: all NULs",
                linear(|n| kernel(head, b"\0", n), uevent),
            ),
            (
                "kernel: no separator",
                linear(|n| kernel(head, b"x", n), uevent),
            ),
            (
                "kernel: one long value",
                linear(|n| kernel(&format!("{head}K="), b"v", n), uevent),
            ),
            (
                // A header that never finds its `@/`: the search must not restart.
                "kernel: header of @@@",
                linear(|n| vec![b'@'; n], uevent),
            ),
            (
                "kernel: invalid UTF-8",
                linear(|n| kernel(head, b"K=\xff\xfe\0", n), uevent),
            ),
            (
                "udev: many distinct keys",
                linear(
                    |n| {
                        let mut b = udev(b"", 0);
                        while b.len() < n {
                            b.extend((distinct_keys.borrow_mut())());
                        }
                        b
                    },
                    uevent,
                ),
            ),
            ("udev: all NULs", linear(|n| udev(b"\0", n), uevent)),
            ("udev: many `=`", linear(|n| udev(b"=", n), uevent)),
        ],
    );
}

#[test]
fn the_sysfs_attribute_parsers_are_linear() {
    // vpd_pg83: the page length is a u16, so a page is read up to 64 KiB + 4 whatever its size;
    // zero-length designators are the most per byte, T10 ids the most escaping.
    let vpd = |unit: &'static [u8]| {
        move |n: usize| {
            let mut p = vec![0, 0x83, 0xff, 0xff];
            while p.len() + unit.len() <= n {
                p.extend_from_slice(unit);
            }
            p
        }
    };
    let pg83 = |p: &[u8]| {
        black_box(Wwid::from_vpd_pg83(p));
    };
    let t10: &'static [u8] = &[0x02, 0x01, 0x00, 0xff];
    let mut t10_page = t10.to_vec();
    t10_page.extend([0x01; 0xff]);
    let t10_page: &'static [u8] = t10_page.leak();
    let wwid = |s: &str| {
        let _ = black_box(s.parse::<Wwid>());
    };
    let hctl = |s: &str| {
        let _ = black_box(s.parse::<Hctl>());
    };
    let dev_t = |s: &str| {
        let _ = black_box(s.parse::<DevT>());
    };
    assert_linear_all(
        "sysfs attributes",
        vec![
            (
                "vpd_pg83: empty designators",
                linear(vpd(&[0x02, 0x03, 0x00, 0x00]), pg83),
            ),
            (
                "vpd_pg83: T10 ids of bytes to escape",
                linear(vpd(t10_page), pg83),
            ),
            ("wwid: long", linear(|n| repeat("naa.", "6", "", n), wwid)),
            (
                "wwid: NULs and blanks",
                linear(|n| repeat("", "\0 ", "x", n), wwid),
            ),
            (
                "hctl: many colons",
                linear(|n| repeat("", ":", "", n), hctl),
            ),
            (
                "hctl: long digits",
                linear(|n| repeat("1:2:3:", "9", "", n), hctl),
            ),
            (
                "dev_t: long digits",
                linear(|n| repeat("8:", "0", "", n), dev_t),
            ),
            (
                "dev_t: many colons",
                linear(|n| repeat("8", ":", "", n), dev_t),
            ),
        ],
    );
}

#[test]
fn the_mountinfo_and_swaps_parsers_are_linear() {
    let mountinfo = |s: &str| {
        black_box(parse_mountinfo(s));
    };
    let swaps = |s: &str| {
        black_box(parse_swaps(s));
    };
    let line = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw\n";
    assert_linear_all(
        "procfs",
        vec![
            (
                "mountinfo: many mounts",
                linear(|n| repeat("", line, "", n), mountinfo),
            ),
            (
                "mountinfo: many bad lines",
                linear(|n| repeat("", "x\n", "", n), mountinfo),
            ),
            (
                "mountinfo: escapes in one long line",
                linear(
                    |n| repeat("36 35 98:0 / /m", "\\040", " rw - ext4 /dev/sda rw\n", n),
                    mountinfo,
                ),
            ),
            (
                "mountinfo: many fields before the separator",
                linear(
                    |n| repeat("36 35 98:0 / /m", " x", " - ext4 /dev/sda rw\n", n),
                    mountinfo,
                ),
            ),
            (
                "swaps: many swaps",
                linear(
                    |n| {
                        repeat(
                            "Filename Type Size Used Priority\n",
                            "/dev/sdb partition 1048572 0 -2\n",
                            "",
                            n,
                        )
                    },
                    swaps,
                ),
            ),
            (
                "swaps: one long line",
                linear(|n| repeat("h\n", " x", "", n), swaps),
            ),
        ],
    );
}

#[test]
fn the_control_protocol_is_linear() {
    let answer = |r: Request| Ok(format!("{r:?}"));
    let control = |s: &str| {
        let _ = black_box(reply_to(s.as_bytes(), &answer));
    };
    assert_linear_all(
        "control",
        vec![
            (
                "one long line",
                linear(|n| repeat("", "p", "\n", n), control),
            ),
            (
                "many lines",
                linear(|n| repeat("", "plan\n", "", n), control),
            ),
            (
                "history and a long number",
                linear(|n| repeat("history ", "9", "\n", n), control),
            ),
            (
                "blanks",
                linear(|n| repeat("history", " ", "1\n", n), control),
            ),
        ],
    );
}

/// The check itself: a line-number lookup by linear search over the line starts (the mistake
/// `config::Source` avoids with `partition_point`) makes reporting one diagnostic per line
/// quadratic, and the check must say so.
#[test]
fn the_check_fails_on_a_quadratic_parser() {
    fn diagnostics_with_linear_lookup(text: &str) {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut sum = 0usize;
        for &at in &starts {
            // The line of `at`, by counting every start at or before it.
            sum += starts.iter().filter(|s| **s <= at).count();
        }
        black_box(sum);
    }
    // 128-byte lines: 8192 of them at 1 MiB, quadratic enough to show, cheap enough to run.
    let lines = |n| repeat("", &format!("nmae = 1 #{}\n", "x".repeat(117)), "", n);
    let quadratic = linear(lines, diagnostics_with_linear_lookup);
    assert!(
        quadratic.is_err(),
        "a quadratic parser passed: ratio {quadratic:?}"
    );
    // And the same work with a binary search passes.
    let fixed = linear(lines, |text: &str| {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let sum: usize = starts
            .iter()
            .map(|at| starts.partition_point(|s| s <= at))
            .sum();
        black_box(sum);
    });
    assert!(fixed.is_ok(), "{fixed:?}");
}

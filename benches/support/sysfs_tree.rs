//! Kernel-shaped sysfs trees at any scale, cloned object by object from a recorded fixture.
//!
//! The benchmark set (docs/benchmarks.md) needs hosts with thousands of paths, and a real kernel
//! in the test VM cannot make them in reasonable time. So this module takes the objects of one
//! recorded tree (`tests/fixtures/iscsi-mpath`: an iSCSI host, its session and connection, a SCSI
//! target, one LUN with its `sd` disk and `bsg` node, one multipath map) and writes N sessions ×
//! M LUNs of them: every attribute file, every relative symlink (`subsystem`, `device`, `driver`,
//! `bdi`, `holders/`, `slaves/`) and every `class/` and `block/` link the recording has, with the
//! names and numbers a kernel would give them (`sd` index → `dev_t` as `sd.c` computes it, one
//! `dm-N` per LUN, WWIDs and VPD pages rewritten byte for byte). Two things the recording did not
//! capture are added in the kernel's layout: `bus/scsi/devices/` (lsscsi walks it) and, with
//! `partitions > 0`, disk partitions (`sdX1`…) and kpartx maps on each multipath map.
//!
//! It only ever writes below the directory it is given, and refuses a directory that is not
//! empty, so a wrong argument cannot overwrite anything (least of all a real `/sys`).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

/// The recorded fixture the objects are cloned from.
pub const DEFAULT_FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iscsi-mpath");

/// Names of the template objects in the fixture (its first session, LUN 0 and LUN 0's map).
const T_HOST: &str = "host0";
const T_SESSION: &str = "session1";
const T_CONNECTION: &str = "connection1:0";
const T_TARGET: &str = "target0:0:0";
const T_LUN: &str = "0:0:0:0";
const T_DISK: &str = "sda";
const T_MAP: &str = "dm-0";

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// iSCSI sessions, one per portal, all to the same target (host `k-1` carries session `k`).
    pub sessions: u32,
    /// LUNs on the target; each is a path on every session and one multipath map.
    pub luns: u32,
    /// Partitions on each path disk, and as many kpartx maps on each multipath map.
    pub partitions: u32,
}

impl Spec {
    /// SCSI paths (`sd` disks) the tree has.
    pub fn paths(&self) -> u64 {
        u64::from(self.sessions) * u64::from(self.luns)
    }

    /// Device-mapper devices: one multipath map per LUN plus its partition maps.
    pub fn dm_devices(&self) -> u64 {
        u64::from(self.luns) * (1 + u64::from(self.partitions))
    }
}

/// The target every generated session logs into (the fixture's).
pub const TARGET_IQN: &str = "iqn.2026-11.test.lunguard:target1";

/// The portal of session `k` (1-based): `127.0.0.k` like the fixture's two, then further.
pub fn portal_ip(session: u32) -> String {
    let n = session;
    format!("127.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The unit serial (VPD page 0x80) of LUN `lun`: 20 characters, as LIO makes them; LUNs 0–3 get
/// exactly the fixture's.
pub fn serial(lun: u32) -> String {
    format!("00291fe6{:04x}{:04x}feed", lun & 0xffff, lun >> 16)
}

/// The NAA WWID of LUN `lun` as 32 hex digits (LIO: `6001405` + serial + zero fill).
pub fn wwid_hex(lun: u32) -> String {
    format!("6001405{}00000", serial(lun))
}

/// The kernel name of the `index`-th sd disk: `sda`…`sdz`, `sdaa`… (as `sd_format_disk_name`).
pub fn sd_name(index: u64) -> String {
    let mut letters = Vec::new();
    let mut i = index + 1;
    while i > 0 {
        i -= 1;
        letters.push(b'a' + (i % 26) as u8);
        i /= 26;
    }
    letters.reverse();
    format!("sd{}", String::from_utf8_lossy(&letters))
}

/// `dev_t` of the `index`-th sd disk, as `sd_probe` assigns it (16 minors a disk, majors 8,
/// 65–71, 128–135, then extended minors).
pub fn sd_dev(index: u64) -> (u64, u64) {
    let major_idx = (index & 0xf0) >> 4;
    let major = match major_idx {
        0 => 8,
        1..=7 => 64 + major_idx,
        _ => 128 + major_idx - 8,
    };
    let minor = ((index & 0xf) << 4) | (index & 0xfff00);
    (major, minor)
}

/// Device-mapper's dynamic major in the fixture.
const DM_MAJOR: u64 = 254;
/// bsg's dynamic major in the fixture.
const BSG_MAJOR: u64 = 248;

/// One entry of a template object, relative to the object's directory.
#[derive(Debug, Clone)]
enum Node {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

/// A directory of the fixture, read into memory (entries in walk order, parents first).
#[derive(Debug, Clone)]
struct Object {
    entries: Vec<(PathBuf, Node)>,
}

impl Object {
    /// Reads `base`, leaving out the entries `skip` names (and everything under them).
    fn load(base: &Path, skip: &dyn Fn(&Path) -> bool) -> io::Result<Self> {
        let mut entries = Vec::new();
        walk(base, Path::new(""), skip, &mut entries)?;
        Ok(Self { entries })
    }
}

fn walk(
    base: &Path,
    rel: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut Vec<(PathBuf, Node)>,
) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(base.join(rel))
        .map_err(|e| with_path(e, &base.join(rel)))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let r = rel.join(&name);
        if skip(&r) {
            continue;
        }
        let full = base.join(&r);
        let meta = fs::symlink_metadata(&full).map_err(|e| with_path(e, &full))?;
        if meta.file_type().is_symlink() {
            out.push((r, Node::Link(fs::read_link(&full)?)));
        } else if meta.is_dir() {
            out.push((r.clone(), Node::Dir));
            walk(base, &r, skip, out)?;
        } else {
            out.push((
                r,
                Node::File(fs::read(&full).map_err(|e| with_path(e, &full))?),
            ));
        }
    }
    Ok(())
}

fn with_path(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// The template objects and the template values to rewrite in them.
struct Templates {
    host: Object,
    session: Object,
    target: Object,
    lun: Object,
    map: Object,
    /// `class/<cls>/<name>` and `block/<name>` links of the template objects: (dir, name, target).
    class_links: Vec<(String, String, PathBuf)>,
    mountinfo: Vec<u8>,
    swaps: Vec<u8>,
}

impl Templates {
    fn load(fixture: &Path) -> io::Result<Self> {
        let sys = fixture.join("sys");
        let host_dir = sys.join("devices/platform").join(T_HOST);
        let session_dir = host_dir.join(T_SESSION);
        let target_dir = session_dir.join(T_TARGET);
        let lun_dir = target_dir.join(T_LUN);
        let is_hctl =
            |p: &Path| p.components().count() == 1 && p.to_string_lossy().matches(':').count() == 3;
        let templates = Self {
            host: Object::load(&host_dir, &|p| p == Path::new(T_SESSION))?,
            session: Object::load(&session_dir, &|p| p == Path::new(T_TARGET))?,
            target: Object::load(&target_dir, &is_hctl)?,
            lun: Object::load(&lun_dir, &|_| false)?,
            map: Object::load(&sys.join("devices/virtual/block").join(T_MAP), &|p| {
                p.starts_with("slaves") && p != Path::new("slaves")
            })?,
            class_links: class_links(&sys)?,
            mountinfo: fs::read(fixture.join("proc/self/mountinfo"))?,
            swaps: fs::read(fixture.join("proc/swaps"))?,
        };
        for name in [T_CONNECTION, "block"] {
            let found = templates
                .session
                .entries
                .iter()
                .chain(&templates.lun.entries)
                .any(|(p, _)| p.starts_with(name));
            if !found {
                return Err(io::Error::other(format!(
                    "{}: not the expected fixture layout ({name} missing)",
                    fixture.display()
                )));
            }
        }
        Ok(templates)
    }
}

/// The fixture's class and block links that belong to a template object.
fn class_links(sys: &Path) -> io::Result<Vec<(String, String, PathBuf)>> {
    let names = [T_HOST, T_SESSION, T_CONNECTION, T_LUN, T_DISK, T_MAP];
    let mut dirs = vec!["block".to_string()];
    for e in fs::read_dir(sys.join("class"))? {
        dirs.push(format!("class/{}", e?.file_name().to_string_lossy()));
    }
    dirs.sort();
    let mut links = Vec::new();
    for dir in dirs {
        for name in names {
            let p = sys.join(&dir).join(name);
            if let Ok(t) = fs::read_link(&p) {
                links.push((dir.clone(), name.to_string(), t));
            }
        }
    }
    Ok(links)
}

/// Replaces every occurrence of `from` in `hay` by `to`.
fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Rewrites the `KEY=value` lines of a `uevent` file.
fn uevent(old: &[u8], set: &[(&str, String)]) -> Vec<u8> {
    let text = String::from_utf8_lossy(old);
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("");
        match set.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => out.push_str(&format!("{k}={v}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// Maps each path component through `names` (exact matches only).
fn rename(p: &Path, names: &HashMap<&str, String>) -> PathBuf {
    p.components()
        .map(|c| match c {
            Component::Normal(n) => {
                let s = n.to_string_lossy();
                names
                    .get(s.as_ref())
                    .map_or_else(|| PathBuf::from(n), PathBuf::from)
            }
            other => PathBuf::from(other.as_os_str()),
        })
        .collect()
}

/// Writes a clone of `obj` at `base`, renaming components and letting `patch` rewrite files
/// (given the template-relative path and content).
fn write_object(
    obj: &Object,
    base: &Path,
    names: &HashMap<&str, String>,
    patch: &dyn Fn(&Path, &[u8]) -> Vec<u8>,
) -> io::Result<()> {
    fs::create_dir_all(base)?;
    for (rel, node) in &obj.entries {
        let dst = base.join(rename(rel, names));
        match node {
            Node::Dir => fs::create_dir(&dst).map_err(|e| with_path(e, &dst))?,
            Node::File(bytes) => {
                fs::write(&dst, patch(rel, bytes)).map_err(|e| with_path(e, &dst))?
            }
            Node::Link(t) => symlink(rename(t, names), &dst).map_err(|e| with_path(e, &dst))?,
        }
    }
    Ok(())
}

/// The relative link from directory `from` to `to` (both relative to the sysfs root).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

fn link(sys: &Path, at: &Path, to: &Path) -> io::Result<()> {
    let dir = at.parent().unwrap_or(Path::new(""));
    fs::create_dir_all(sys.join(dir))?;
    symlink(relative(dir, to), sys.join(at)).map_err(|e| with_path(e, &sys.join(at)))
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Files, directories and links created.
    pub entries: u64,
}

/// Generates the tree for `spec` into `out` (`out/sys`, `out/proc/self/mountinfo`,
/// `out/proc/swaps`), cloning the objects of `fixture`. `out` must not exist or be empty.
pub fn generate(fixture: &Path, spec: Spec, out: &Path) -> io::Result<Written> {
    if spec.sessions == 0 || spec.luns == 0 {
        return Err(io::Error::other("sessions and luns must be at least 1"));
    }
    if spec.partitions > 15 {
        return Err(io::Error::other("at most 15 partitions a disk (16 minors)"));
    }
    if out.exists() && fs::read_dir(out)?.next().is_some() {
        return Err(io::Error::other(format!(
            "{}: not empty; the generator only writes into a new or empty directory",
            out.display()
        )));
    }
    let t = Templates::load(fixture)?;
    let sys = out.join("sys");
    fs::create_dir_all(out.join("proc/self"))?;
    for (dir, _, _) in &t.class_links {
        fs::create_dir_all(sys.join(dir))?;
    }
    fs::write(out.join("proc/self/mountinfo"), &t.mountinfo)?;
    fs::write(out.join("proc/swaps"), &t.swaps)?;

    let t_wwid = wwid_hex(0);
    let t_serial = serial(0);
    let t_naa = hex_bytes(&t_wwid);
    let mut disk_names: Vec<Vec<String>> = vec![Vec::new(); spec.luns as usize];

    for s in 1..=spec.sessions {
        let h = s - 1;
        let host = format!("host{h}");
        let session = format!("session{s}");
        let target = format!("target{h}:0:0");
        let ip = portal_ip(s);
        let mut names: HashMap<&str, String> = HashMap::new();
        names.insert(T_HOST, host.clone());
        names.insert(T_SESSION, session.clone());
        let connection = format!("connection{s}:0");
        names.insert(T_CONNECTION, connection.clone());
        names.insert(T_TARGET, target.clone());
        let host_base = PathBuf::from("devices/platform").join(&host);
        // `iscsi_host/ipaddress` is the initiator's own address and `unique_id` stayed 0 on
        // every host of the recording: both are kept as recorded.
        write_object(&t.host, &sys.join(&host_base), &names, &|_, b| b.to_vec())?;
        let session_base = host_base.join(&session);
        write_object(
            &t.session,
            &sys.join(&session_base),
            &names,
            &|rel, b| match rel.file_name().and_then(|n| n.to_str()) {
                Some("address" | "persistent_address") => format!("{ip}\n").into_bytes(),
                _ => b.to_vec(),
            },
        )?;
        let target_base = session_base.join(&target);
        write_object(&t.target, &sys.join(&target_base), &names, &|_, b| {
            b.to_vec()
        })?;
        link(&sys, &Path::new("bus/scsi/devices").join(&host), &host_base)?;
        link(
            &sys,
            &Path::new("bus/scsi/devices").join(&target),
            &target_base,
        )?;

        for lun in 0..spec.luns {
            let index = u64::from(h) * u64::from(spec.luns) + u64::from(lun);
            let hctl = format!("{h}:0:0:{lun}");
            let disk = sd_name(index);
            let (maj, min) = sd_dev(index);
            let map = format!("dm-{lun}");
            let mut names = names.clone();
            names.insert(T_LUN, hctl.clone());
            names.insert(T_DISK, disk.clone());
            names.insert(T_MAP, map.clone());
            names.insert("8:0", format!("{maj}:{min}"));
            let wwid = wwid_hex(lun);
            let ser = serial(lun);
            let naa = hex_bytes(&wwid);
            let lun_base = target_base.join(&hctl);
            let diskseq = index + 1;
            write_object(&t.lun, &sys.join(&lun_base), &names, &|rel, b| {
                let file = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let in_disk = rel.starts_with(Path::new("block").join(T_DISK));
                let in_bsg = rel.starts_with("bsg");
                match file {
                    "dev" if in_disk => format!("{maj}:{min}\n").into_bytes(),
                    "dev" if in_bsg => format!("{BSG_MAJOR}:{index}\n").into_bytes(),
                    "diskseq" if in_disk => format!("{diskseq}\n").into_bytes(),
                    "uevent" if in_disk => uevent(
                        b,
                        &[
                            ("MAJOR", maj.to_string()),
                            ("MINOR", min.to_string()),
                            ("DEVNAME", disk.clone()),
                            ("DISKSEQ", diskseq.to_string()),
                        ],
                    ),
                    "uevent" if in_bsg => uevent(
                        b,
                        &[
                            ("MINOR", index.to_string()),
                            ("DEVNAME", format!("bsg/{hctl}")),
                        ],
                    ),
                    _ => {
                        let b = replace_bytes(b, t_wwid.as_bytes(), wwid.as_bytes());
                        let b = replace_bytes(&b, t_serial.as_bytes(), ser.as_bytes());
                        replace_bytes(&b, &t_naa, &naa)
                    }
                }
            })?;
            let disk_dir = lun_base.join("block").join(&disk);
            for p in 1..=spec.partitions {
                write_partition(&sys, &disk_dir, &disk, (maj, min), p, spec)?;
            }
            link(&sys, &Path::new("bus/scsi/devices").join(&hctl), &lun_base)?;
            for (dir, name, target) in &t.class_links {
                let new_name = match name.as_str() {
                    T_HOST if lun == 0 => &host,
                    T_SESSION if lun == 0 => &session,
                    T_CONNECTION if lun == 0 => &connection,
                    T_LUN => &hctl,
                    T_DISK => &disk,
                    _ => continue,
                };
                let at = sys.join(dir).join(new_name);
                symlink(rename(target, &names), &at).map_err(|e| with_path(e, &at))?;
            }
            if let Some(v) = disk_names.get_mut(lun as usize) {
                v.push(disk_dir.to_string_lossy().into_owned());
            }
        }
    }

    for lun in 0..spec.luns {
        let slaves: Vec<String> = disk_names.get(lun as usize).cloned().unwrap_or_default();
        write_map(&sys, &t, lun, &slaves, spec)?;
    }
    Ok(Written {
        entries: count(out)?,
    })
}

/// The multipath map of LUN `lun` (`dm-<lun>`) over `slaves` (disk directories), and its
/// partition maps.
fn write_map(sys: &Path, t: &Templates, lun: u32, slaves: &[String], spec: Spec) -> io::Result<()> {
    let map = format!("dm-{lun}");
    let id = format!("3{}", wwid_hex(lun));
    let base = PathBuf::from("devices/virtual/block").join(&map);
    let seq = spec.paths() + u64::from(lun) + 1;
    write_dm(
        sys,
        t,
        &base,
        &map,
        u64::from(lun),
        &id,
        &format!("mpath-{id}"),
        seq,
    )?;
    for disk_dir in slaves {
        let disk_dir = Path::new(disk_dir);
        let disk = disk_dir.file_name().map(PathBuf::from).unwrap_or_default();
        link(sys, &base.join("slaves").join(&disk), disk_dir)?;
    }
    for p in 1..=spec.partitions {
        let n =
            u64::from(spec.luns) + u64::from(lun) * u64::from(spec.partitions) + u64::from(p) - 1;
        let part = format!("dm-{n}");
        let pbase = PathBuf::from("devices/virtual/block").join(&part);
        let seq = spec.paths() + u64::from(spec.luns) + n + 1;
        write_dm(
            sys,
            t,
            &pbase,
            &part,
            n,
            &format!("{id}-part{p}"),
            &format!("part{p}-mpath-{id}"),
            seq,
        )?;
        link(sys, &pbase.join("slaves").join(&map), &base)?;
        link(sys, &base.join("holders").join(&part), &pbase)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_dm(
    sys: &Path,
    t: &Templates,
    base: &Path,
    kname: &str,
    minor: u64,
    name: &str,
    uuid: &str,
    diskseq: u64,
) -> io::Result<()> {
    let mut names: HashMap<&str, String> = HashMap::new();
    names.insert(T_MAP, kname.to_string());
    names.insert("254:0", format!("{DM_MAJOR}:{minor}"));
    write_object(
        &t.map,
        &sys.join(base),
        &names,
        &|rel, b| match rel.to_str().unwrap_or("") {
            "dev" => format!("{DM_MAJOR}:{minor}\n").into_bytes(),
            "diskseq" => format!("{diskseq}\n").into_bytes(),
            "dm/name" => format!("{name}\n").into_bytes(),
            "dm/uuid" => format!("{uuid}\n").into_bytes(),
            "uevent" => uevent(
                b,
                &[
                    ("MINOR", minor.to_string()),
                    ("DEVNAME", kname.to_string()),
                    ("DISKSEQ", diskseq.to_string()),
                ],
            ),
            _ => b.to_vec(),
        },
    )?;
    for (dir, tname, target) in &t.class_links {
        if tname == T_MAP {
            let at = Path::new(dir).join(kname);
            symlink(rename(target, &names), sys.join(&at))
                .map_err(|e| with_path(e, &sys.join(&at)))?;
        }
    }
    Ok(())
}

/// Partition `p` of a path disk, in the kernel's layout (`block/sdX/sdXp`), with its class link.
fn write_partition(
    sys: &Path,
    disk_dir: &Path,
    disk: &str,
    (maj, min): (u64, u64),
    p: u32,
    spec: Spec,
) -> io::Result<()> {
    let name = format!("{disk}{p}");
    let dir = disk_dir.join(&name);
    let d = sys.join(&dir);
    fs::create_dir_all(d.join("holders"))?;
    let sectors = 16384u64;
    let each = (sectors - 2048) / u64::from(spec.partitions);
    let start = 2048 + each * u64::from(p - 1);
    let pmin = min + u64::from(p);
    let files: [(&str, String); 9] = [
        ("dev", format!("{maj}:{pmin}")),
        ("partition", p.to_string()),
        ("start", start.to_string()),
        ("size", each.to_string()),
        ("ro", "0".into()),
        ("alignment_offset", "0".into()),
        ("discard_alignment", "0".into()),
        ("inflight", "       0        0".into()),
        (
            "uevent",
            format!(
                "MAJOR={maj}\nMINOR={pmin}\nDEVNAME={name}\nDEVTYPE=partition\nDISKSEQ=0\nPARTN={p}"
            ),
        ),
    ];
    for (f, v) in files {
        fs::write(d.join(f), format!("{v}\n"))?;
    }
    link(sys, &dir.join("subsystem"), Path::new("class/block"))?;
    link(sys, &Path::new("class/block").join(&name), &dir)
}

fn count(dir: &Path) -> io::Result<u64> {
    let mut n = 0;
    for e in fs::read_dir(dir)? {
        let e = e?;
        n += 1;
        if e.file_type()?.is_dir() {
            n += count(&e.path())?;
        }
    }
    Ok(n)
}

/// Adds `bus/scsi/devices/` links (hosts, targets, LUNs, as the kernel has them) to a copy of a
/// recorded fixture's `sys/`, which the recording left out and lsscsi needs.
pub fn add_bus_links(sys: &Path) -> io::Result<()> {
    for e in fs::read_dir(sys.join("class/scsi_device"))? {
        let e = e?;
        let name = e.file_name();
        let lun_dir = resolve_in(
            sys,
            &Path::new("class/scsi_device").join(&name).join("device"),
        )?;
        let target_dir = lun_dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let lun_name = lun_dir.file_name().map(PathBuf::from).unwrap_or_default();
        let target_name = target_dir
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let bus = Path::new("bus/scsi/devices");
        link(sys, &bus.join(&lun_name), &lun_dir)?;
        if !sys.join(bus).join(&target_name).exists() {
            link(sys, &bus.join(&target_name), &target_dir)?;
        }
    }
    for e in fs::read_dir(sys.join("class/scsi_host"))? {
        let name = e?.file_name();
        let host_dir = resolve_in(
            sys,
            &Path::new("class/scsi_host").join(&name).join("device"),
        )?;
        link(sys, &Path::new("bus/scsi/devices").join(&name), &host_dir)?;
    }
    Ok(())
}

/// Copies a directory tree as it is (links kept as links), e.g. a fixture's `sys/` before
/// [`add_bus_links`].
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let obj = Object::load(from, &|_| false)?;
    write_object(&obj, to, &HashMap::new(), &|_, b| b.to_vec())
}

/// Resolves `rel` inside `sys` to a root-relative path without links.
fn resolve_in(sys: &Path, rel: &Path) -> io::Result<PathBuf> {
    let real = fs::canonicalize(sys.join(rel))?;
    let root = fs::canonicalize(sys)?;
    real.strip_prefix(&root)
        .map(Path::to_path_buf)
        .map_err(|_| io::Error::other(format!("{} leaves {}", rel.display(), sys.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_names_and_numbers_follow_the_kernel() {
        assert_eq!(sd_name(0), "sda");
        assert_eq!(sd_name(25), "sdz");
        assert_eq!(sd_name(26), "sdaa");
        assert_eq!(sd_name(701), "sdzz");
        assert_eq!(sd_name(702), "sdaaa");
        assert_eq!(sd_dev(0), (8, 0));
        assert_eq!(sd_dev(4), (8, 64));
        assert_eq!(sd_dev(16), (65, 0));
        assert_eq!(sd_dev(128), (128, 0));
        assert_eq!(sd_dev(256), (8, 256));
    }
}

//! Test support: builds fake kernel trees (`sys/`, `proc/`, `dev/`) laid out
//! the way Linux lays them out, with the same *relative* symlinks, so the
//! observer reads them exactly as it reads the real thing.
//!
//! Used by unit tests, by `tests/*.rs`, and later by the simulated kernel;
//! the daemon never calls it. It only ever writes under the directory it is
//! given. The layout it produces is the layout of the recorded fixtures in
//! `tests/fixtures/<name>/` (see docs/architecture.md).

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use crate::model::{DevT, Hctl};
use crate::observe::Roots;
use crate::observe::tree::Tree;

/// A fake kernel tree rooted at a directory (usually a tempdir).
#[derive(Debug, Clone)]
pub struct FakeTree {
    dir: PathBuf,
}

/// An iSCSI session to create: host, session, connection `sid:0`.
#[derive(Debug, Clone)]
pub struct FakeSession {
    /// Session id (N of `sessionN`).
    pub sid: u32,
    /// SCSI host number the session lives under (one host per session, as iscsi_tcp does).
    pub host: u32,
    /// Target IQN (`targetname`).
    pub target: String,
    /// Portal address as sysfs prints it (IPv6 without brackets).
    pub address: String,
    /// Portal port.
    pub port: u16,
    /// `state`: LOGGED_IN, FAILED, FREE.
    pub state: String,
}

/// A SCSI disk to create under an existing host.
#[derive(Debug, Clone)]
pub struct FakeDisk {
    /// Address; its host must already exist.
    pub hctl: Hctl,
    /// Block device name (`sdb`); `None` for a device without a disk.
    pub block: Option<String>,
    /// Block device number.
    pub dev: DevT,
    /// Size in bytes (written as 512-byte sectors).
    pub size_bytes: u64,
    /// `vendor` (padded to 8 as the kernel does).
    pub vendor: String,
    /// `model` (padded to 16).
    pub model: String,
    /// `state`.
    pub state: String,
    /// Contents of `wwid` (without newline); `None` = no such file.
    pub wwid: Option<String>,
    /// Raw `vpd_pg83`; `None` = no such file.
    pub vpd_pg83: Option<Vec<u8>>,
}

impl FakeDisk {
    /// A running 1 GiB LIO disk with the given address, block name and dev_t.
    pub fn new(hctl: Hctl, block: &str, dev: DevT) -> Self {
        Self {
            hctl,
            block: Some(block.to_owned()),
            dev,
            size_bytes: 1 << 30,
            vendor: "LIO-ORG".into(),
            model: "block1".into(),
            state: "running".into(),
            wwid: None,
            vpd_pg83: None,
        }
    }

    /// Sets `wwid`.
    pub fn wwid(mut self, wwid: &str) -> Self {
        self.wwid = Some(wwid.to_owned());
        self
    }
}

/// A device-mapper device to create (after the devices in `slaves`).
#[derive(Debug, Clone)]
pub struct FakeDm {
    /// N of `dm-N`.
    pub n: u32,
    /// `dm/name`.
    pub name: String,
    /// `dm/uuid` (empty string for none).
    pub uuid: String,
    /// Device number.
    pub dev: DevT,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Kernel names of the devices below (`sdb`, `dm-0`, …); each gets a
    /// `holders/dm-N` link back.
    pub slaves: Vec<String>,
}

impl FakeTree {
    /// Creates the skeleton: `sys/class/{scsi_host,scsi_device,block}`,
    /// `sys/block`, `proc/self/mountinfo` (empty), `proc/swaps` (header) and `dev/`.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let t = Self { dir: dir.into() };
        for d in [
            "sys/class/scsi_host",
            "sys/class/scsi_device",
            "sys/class/block",
            "sys/block",
            "proc/self",
            "dev",
        ] {
            fs::create_dir_all(t.dir.join(d))?;
        }
        fs::write(t.dir.join("proc/self/mountinfo"), "")?;
        fs::write(
            t.dir.join("proc/swaps"),
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
        )?;
        Ok(t)
    }

    /// The fixture directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Roots pointing into this tree.
    pub fn roots(&self) -> Roots {
        Roots::fixture(&self.dir)
    }

    /// Host path of a sysfs-relative path.
    pub fn sys_path(&self, rel: &str) -> PathBuf {
        self.dir.join("sys").join(rel)
    }

    /// Writes a sysfs attribute (creating parent directories).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> io::Result<()> {
        let p = self.sys_path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(p, contents)
    }

    /// Creates sysfs directory `rel`.
    pub fn mkdir(&self, rel: &str) -> io::Result<()> {
        fs::create_dir_all(self.sys_path(rel))
    }

    /// Removes a sysfs file, link or directory tree (a link is removed, not followed).
    pub fn remove(&self, rel: &str) -> io::Result<()> {
        let p = self.sys_path(rel);
        if fs::symlink_metadata(&p)?.is_dir() {
            fs::remove_dir_all(p)
        } else {
            fs::remove_file(p)
        }
    }

    /// Creates symlink `link` pointing at `target` (both sysfs-relative and
    /// free of symlinks), written relative to the link's directory as the
    /// kernel does, e.g. `class/scsi_host/host2 -> ../../devices/…/host2`.
    pub fn link(&self, link: &str, target: &str) -> io::Result<()> {
        let link_p = Path::new(link);
        let from = link_p.parent().unwrap_or(Path::new(""));
        self.mkdir(&from.to_string_lossy())?;
        symlink(relative(from, Path::new(target)), self.sys_path(link))
    }

    /// A scsi_debug host `hostN` under `devices/pseudo_0/adapter0`.
    pub fn add_scsi_debug_host(&self, host: u32) -> io::Result<()> {
        self.add_host(
            &format!("devices/pseudo_0/adapter0/host{host}"),
            host,
            "scsi_debug",
        )
    }

    fn add_host(&self, dir: &str, host: u32, proc_name: &str) -> io::Result<()> {
        let sh = format!("{dir}/scsi_host/host{host}");
        self.write(&format!("{sh}/proc_name"), format!("{proc_name}\n"))?;
        self.write(&format!("{sh}/state"), "running\n")?;
        self.write(&format!("{sh}/scan"), "")?;
        self.link(&format!("{sh}/device"), dir)?;
        self.link(&format!("class/scsi_host/host{host}"), &sh)
    }

    /// An iscsi_tcp host `hostH` under `devices/platform`, with session
    /// `sessionS` and connection `S:0`, and their class links.
    pub fn add_iscsi_session(&self, s: &FakeSession) -> io::Result<()> {
        let host = format!("devices/platform/host{}", s.host);
        self.add_host(&host, s.host, "iscsi_tcp")?;
        let ih = format!("{host}/iscsi_host/host{}", s.host);
        self.write(
            &format!("{ih}/initiatorname"),
            "iqn.1993-08.org.debian:01:lunguard\n",
        )?;
        self.link(&format!("class/iscsi_host/host{}", s.host), &ih)?;
        let sess = format!("{host}/session{}", s.sid);
        let is = format!("{sess}/iscsi_session/session{}", s.sid);
        self.write(&format!("{is}/targetname"), format!("{}\n", s.target))?;
        self.write(&format!("{is}/state"), format!("{}\n", s.state))?;
        self.write(&format!("{is}/tpgt"), "1\n")?;
        self.write(&format!("{is}/ifacename"), "default\n")?;
        self.write(
            &format!("{is}/initiatorname"),
            "iqn.1993-08.org.debian:01:lunguard\n",
        )?;
        self.link(&format!("class/iscsi_session/session{}", s.sid), &is)?;
        let conn = format!(
            "{sess}/connection{0}:0/iscsi_connection/connection{0}:0",
            s.sid
        );
        for (f, v) in [
            ("persistent_address", s.address.clone()),
            ("persistent_port", s.port.to_string()),
            ("address", s.address.clone()),
            ("port", s.port.to_string()),
            ("state", "up".to_owned()),
        ] {
            self.write(&format!("{conn}/{f}"), format!("{v}\n"))?;
        }
        self.link(
            &format!("class/iscsi_connection/connection{}:0", s.sid),
            &conn,
        )
    }

    /// Where targets of `host` go: the session directory for an iSCSI
    /// host, the host directory otherwise.
    fn target_parent(&self, host: u32) -> io::Result<String> {
        let tree = Tree::new(self.dir.join("sys"));
        let resolved = tree.resolve(format!("class/scsi_host/host{host}"))?;
        let host_dir = resolved
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| io::Error::other("scsi_host link too short"))?
            .to_string_lossy()
            .into_owned();
        for entry in fs::read_dir(self.sys_path(&host_dir))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with("session") {
                return Ok(format!("{host_dir}/{name}"));
            }
        }
        Ok(host_dir)
    }

    /// A SCSI device with its `scsi_device` class entry and, if
    /// `block` is set, its disk (`block/`, `class/block/`).
    pub fn add_disk(&self, d: &FakeDisk) -> io::Result<()> {
        let h = d.hctl;
        let dev_dir = format!(
            "{}/target{}:{}:{}/{h}",
            self.target_parent(h.host)?,
            h.host,
            h.channel,
            h.target
        );
        self.write(&format!("{dev_dir}/vendor"), format!("{:<8}\n", d.vendor))?;
        self.write(&format!("{dev_dir}/model"), format!("{:<16}\n", d.model))?;
        self.write(&format!("{dev_dir}/rev"), "4.0 \n")?;
        self.write(&format!("{dev_dir}/state"), format!("{}\n", d.state))?;
        self.write(&format!("{dev_dir}/device_blocked"), "0\n")?;
        self.write(&format!("{dev_dir}/iorequest_cnt"), "0x2a\n")?;
        self.write(&format!("{dev_dir}/delete"), "")?;
        if let Some(w) = &d.wwid {
            self.write(&format!("{dev_dir}/wwid"), format!("{w}\n"))?;
        }
        if let Some(v) = &d.vpd_pg83 {
            self.write(&format!("{dev_dir}/vpd_pg83"), v)?;
        }
        let sd = format!("{dev_dir}/scsi_device/{h}");
        self.link(&format!("{sd}/device"), &dev_dir)?;
        self.link(&format!("class/scsi_device/{h}"), &sd)?;
        if let Some(name) = &d.block {
            let b = format!("{dev_dir}/block/{name}");
            self.write(&format!("{b}/dev"), format!("{}\n", d.dev))?;
            self.write(&format!("{b}/size"), format!("{}\n", d.size_bytes / 512))?;
            self.write(&format!("{b}/ro"), "0\n")?;
            self.mkdir(&format!("{b}/holders"))?;
            self.mkdir(&format!("{b}/slaves"))?;
            self.link(&format!("{b}/device"), &dev_dir)?;
            self.link(&format!("class/block/{name}"), &b)?;
            self.link(&format!("block/{name}"), &b)?;
        }
        Ok(())
    }

    /// A partition `part` of disk `disk` (which must exist).
    pub fn add_partition(
        &self,
        disk: &str,
        part: &str,
        dev: DevT,
        size_bytes: u64,
    ) -> io::Result<()> {
        let b = self.block_dir(disk)?;
        let p = format!("{b}/{part}");
        self.write(&format!("{p}/dev"), format!("{dev}\n"))?;
        self.write(&format!("{p}/size"), format!("{}\n", size_bytes / 512))?;
        self.write(&format!("{p}/partition"), "1\n")?;
        self.mkdir(&format!("{p}/holders"))?;
        self.link(&format!("class/block/{part}"), &p)
    }

    fn block_dir(&self, name: &str) -> io::Result<String> {
        let tree = Tree::new(self.dir.join("sys"));
        Ok(tree
            .resolve(format!("class/block/{name}"))?
            .to_string_lossy()
            .into_owned())
    }

    /// A dm device under `devices/virtual/block/dm-N`, linked both ways with
    /// its slaves.
    pub fn add_dm(&self, m: &FakeDm) -> io::Result<()> {
        let kname = format!("dm-{}", m.n);
        let dir = format!("devices/virtual/block/{kname}");
        self.write(&format!("{dir}/dm/name"), format!("{}\n", m.name))?;
        self.write(&format!("{dir}/dm/uuid"), format!("{}\n", m.uuid))?;
        self.write(&format!("{dir}/dm/suspended"), "0\n")?;
        self.write(&format!("{dir}/dev"), format!("{}\n", m.dev))?;
        self.write(&format!("{dir}/size"), format!("{}\n", m.size_bytes / 512))?;
        self.write(&format!("{dir}/ro"), "0\n")?;
        self.mkdir(&format!("{dir}/holders"))?;
        self.mkdir(&format!("{dir}/slaves"))?;
        for s in &m.slaves {
            let sdir = self.block_dir(s)?;
            self.link(&format!("{dir}/slaves/{s}"), &sdir)?;
            self.link(&format!("{sdir}/holders/{kname}"), &dir)?;
        }
        self.link(&format!("class/block/{kname}"), &dir)?;
        self.link(&format!("block/{kname}"), &dir)
    }

    /// Appends a mountinfo line for `dev` mounted at `mount_point`.
    pub fn add_mount(
        &self,
        dev: DevT,
        mount_point: &str,
        source: &str,
        fstype: &str,
    ) -> io::Result<()> {
        let p = self.dir.join("proc/self/mountinfo");
        let mut text = fs::read_to_string(&p)?;
        let id = 20 + text.lines().count();
        let esc = |s: &str| s.replace('\\', "\\134").replace(' ', "\\040");
        text.push_str(&format!(
            "{id} 1 {dev} / {} rw,relatime shared:{id} - {fstype} {} rw\n",
            esc(mount_point),
            esc(source)
        ));
        fs::write(p, text)
    }

    /// Appends a `/proc/swaps` entry.
    pub fn add_swap(&self, filename: &str, kind: &str) -> io::Result<()> {
        let p = self.dir.join("proc/swaps");
        let mut text = fs::read_to_string(&p)?;
        text.push_str(&format!("{filename}\t{kind}\t1048572\t0\t-2\n"));
        fs::write(p, text)
    }
}

/// The target every example path points at.
pub const EXAMPLE_TARGET: &str = "iqn.2003-01.org.linux-iscsi.target.x8664:sn.0123456789ab";
/// The WWID of the example's multipathed LUN.
pub const EXAMPLE_WWID: &str = "naa.6001405abcdef0123456789abcdef012";

/// A small but complete example machine:
/// - scsi_debug `host2` with `2:0:0:0` = `sda` (8:0), WWID only in `vpd_pg83` (T10);
/// - iSCSI target [`EXAMPLE_TARGET`] via `session1` on `host3` (192.0.2.10:3260)
///   and `session2` on `host4` (`[2001:db8::10]:3260`), LUN 1 on both:
///   `3:0:0:1` = `sdb` (8:16) and `4:0:0:1` = `sdc` (8:32), WWID [`EXAMPLE_WWID`];
/// - multipath map `mpatha` = `dm-0` (253:0) over `sdb`, `sdc`;
/// - LVM LV `vg0-data` = `dm-1` (253:1) on `dm-0`, mounted at `/mnt/data`;
/// - a swap file `/swapfile` (not on any of these).
pub fn example(dir: impl Into<PathBuf>) -> io::Result<FakeTree> {
    let t = FakeTree::new(dir)?;
    t.add_scsi_debug_host(2)?;
    let mut sda = FakeDisk::new(Hctl::new(2, 0, 0, 0), "sda", DevT::new(8, 0));
    sda.vendor = "Linux".into();
    sda.model = "scsi_debug".into();
    sda.size_bytes = 8 << 20;
    sda.vpd_pg83 = Some(vpd_t10(b"Linux   scsi_debug  2000"));
    t.add_disk(&sda)?;
    for (sid, host, address, dev) in [(1, 3, "192.0.2.10", 16), (2, 4, "2001:db8::10", 32)] {
        t.add_iscsi_session(&FakeSession {
            sid,
            host,
            target: EXAMPLE_TARGET.into(),
            address: address.into(),
            port: 3260,
            state: "LOGGED_IN".into(),
        })?;
        let name = if sid == 1 { "sdb" } else { "sdc" };
        t.add_disk(
            &FakeDisk::new(Hctl::new(host, 0, 0, 1), name, DevT::new(8, dev)).wwid(EXAMPLE_WWID),
        )?;
    }
    t.add_dm(&FakeDm {
        n: 0,
        name: "mpatha".into(),
        uuid: "mpath-36001405abcdef0123456789abcdef012".into(),
        dev: DevT::new(253, 0),
        size_bytes: 1 << 30,
        slaves: vec!["sdb".into(), "sdc".into()],
    })?;
    t.add_dm(&FakeDm {
        n: 1,
        name: "vg0-data".into(),
        uuid: "LVM-Xy12abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU".into(),
        dev: DevT::new(253, 1),
        size_bytes: 512 << 20,
        slaves: vec!["dm-0".into()],
    })?;
    t.add_mount(
        DevT::new(253, 1),
        "/mnt/data",
        "/dev/mapper/vg0-data",
        "xfs",
    )?;
    t.add_swap("/swapfile", "file")?;
    Ok(t)
}

/// A VPD page 0x83 with one logical-unit T10 vendor id designator.
pub fn vpd_t10(id: &[u8]) -> Vec<u8> {
    let len = u8::try_from(id.len()).unwrap_or(u8::MAX);
    let mut p = vec![
        0x00,
        0x83,
        0x00,
        len.saturating_add(4),
        0x02,
        0x01,
        0x00,
        len,
    ];
    p.extend_from_slice(&id[..usize::from(len)]);
    p
}

/// `target` relative to directory `from` (both normalized, root-relative).
fn relative(from: &Path, target: &Path) -> PathBuf {
    let f: Vec<Component<'_>> = from.components().collect();
    let t: Vec<Component<'_>> = target.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_like_the_kernels() {
        assert_eq!(
            relative(
                Path::new("class/scsi_device"),
                Path::new(
                    "devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0/scsi_device/2:0:0:0"
                )
            ),
            Path::new(
                "../../devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0/scsi_device/2:0:0:0"
            )
        );
        let t = tempfile::tempdir().unwrap();
        let fake = FakeTree::new(t.path()).unwrap();
        fake.add_scsi_debug_host(2).unwrap();
        let link = fs::read_link(fake.sys_path("class/scsi_host/host2")).unwrap();
        assert_eq!(
            link,
            Path::new("../../devices/pseudo_0/adapter0/host2/scsi_host/host2")
        );
    }
}

//! Device-mapper's control interface (`<dev>/mapper/control` and the ioctls of
//! `<linux/dm-ioctl.h>`): the list of maps, each map's open count and each target's status or
//! table line — what `dmsetup info|status|table` print, without a process per pass.
//!
//! Owns the request encoding and the bounds-checked decoding of the kernel's replies. It only
//! asks: no ioctl here loads, suspends, renames or removes anything. Every offset and length in
//! a reply is checked against the buffer; a reply that does not add up is
//! [`DmError::Malformed`] (the caller then asks dmsetup, or the answer is "unknown"), never a
//! guess and never a panic. A reply the kernel marks `DM_BUFFER_FULL_FLAG` is asked again with twice the buffer.
//!
//! The ioctls can block (a map being suspended holds them up), so callers run them under a
//! deadline (`bounded::deadline`, as `observe::inspect` does). Why our own ioctl and not the
//! `devicemapper` crate: docs/decisions.md.
// The second reviewed `unsafe` module (after act::flush): one ioctl call, below.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::model::DevT;

/// `DM_IOCTL`, the ioctl type byte.
const DM_IOCTL: u8 = 0xfd;
/// The interface's major version (`DM_VERSION_MAJOR`); the kernel refuses another one.
const VERSION_MAJOR: u32 = 4;

/// `DM_STATUS_TABLE_FLAG` (in): DM_TABLE_STATUS returns the table, not the status.
const STATUS_TABLE_FLAG: u32 = 1 << 4;
/// `DM_BUFFER_FULL_FLAG` (out): the reply did not fit.
const BUFFER_FULL_FLAG: u32 = 1 << 8;
/// `DM_NOFLUSH_FLAG` (in): a status must not wait to flush anything first (`dmsetup status
/// --noflush`).
const NOFLUSH_FLAG: u32 = 1 << 11;

/// `sizeof(struct dm_ioctl)`; also where the kernel puts its data (`data_start`).
pub(crate) const HEADER_LEN: usize = 312;
/// `DM_NAME_LEN`, with the NUL.
const NAME_LEN: usize = 128;
/// `sizeof(struct dm_target_spec)`; the parameter string follows it.
pub(crate) const SPEC_LEN: usize = 40;
/// `offsetof(struct dm_name_list, name)`.
pub(crate) const NAME_LIST_HEAD: usize = 12;

// Field offsets in `struct dm_ioctl`.
const OFF_DATA_SIZE: usize = 12;
const OFF_DATA_START: usize = 16;
const OFF_TARGET_COUNT: usize = 20;
const OFF_OPEN_COUNT: usize = 24;
const OFF_FLAGS: usize = 28;
const OFF_DEV: usize = 40;
const OFF_NAME: usize = 48;

/// First buffer for a reply with data: what libdevmapper starts with.
const FIRST_BUFFER: usize = 16 * 1024;
/// No reply is asked for with more than this (4,096 maps named by WWID list in ~230 KiB).
const MAX_BUFFER: usize = 64 << 20;

/// The commands used here (`DM_*_CMD`); the ioctl number is `_IOWR(0xfd, cmd, struct dm_ioctl)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// `DM_VERSION`: the kernel's interface version.
    Version = 0,
    /// `DM_LIST_DEVICES`: every map's name and device number.
    ListDevices = 2,
    /// `DM_DEV_STATUS`: one map's header (open count, flags).
    DevStatus = 7,
    /// `DM_TABLE_STATUS`: one map's targets with their status (or table) strings.
    TableStatus = 12,
}

impl Cmd {
    /// The ioctl request number.
    fn request(self) -> nix::sys::ioctl::ioctl_num_type {
        nix::request_code_readwrite!(DM_IOCTL, self as u8, HEADER_LEN) as _
    }
}

/// Why device-mapper could not be asked, or answered something unusable.
#[derive(Debug, thiserror::Error)]
pub enum DmError {
    /// The control node could not be opened.
    #[error("cannot open device-mapper's control node {}: {source}", path.display())]
    Open {
        /// The node.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The node is not a character device: not device-mapper's control.
    #[error("{} is not a character device: not device-mapper's control node", path.display())]
    NotControl {
        /// The node.
        path: PathBuf,
    },
    /// The ioctl failed.
    #[error("device-mapper {cmd:?} ioctl{} failed: {errno}", on(name))]
    Ioctl {
        /// The command.
        cmd: Cmd,
        /// The map asked about (empty: none).
        name: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// The kernel speaks another major version of the interface.
    #[error(
        "device-mapper interface version {0}.x.x in the kernel; this lunguard speaks {VERSION_MAJOR}.x.x"
    )]
    Version(u32),
    /// A map name that device-mapper cannot have (too long, a NUL).
    #[error("{0:?} cannot be a device-mapper name")]
    BadName(String),
    /// The reply does not add up (an offset past the end, an unterminated string).
    #[error("malformed device-mapper {cmd:?} reply{}: {detail}", on(name))]
    Malformed {
        /// The command.
        cmd: Cmd,
        /// The map asked about (empty: none).
        name: String,
        /// What is wrong, with the offset.
        detail: String,
    },
    /// Still `DM_BUFFER_FULL_FLAG` with the largest buffer we ask with.
    #[error(
        "device-mapper {cmd:?} reply{} does not fit in {MAX_BUFFER} bytes",
        on(name)
    )]
    TooLarge {
        /// The command.
        cmd: Cmd,
        /// The map asked about.
        name: String,
    },
}

impl DmError {
    /// Whether there is no control node at all (device-mapper not loaded, or a test tree).
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Open { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// ` for map NAME`, or nothing.
fn on(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for map {name}")
    }
}

/// One DM ioctl on a buffer: the seam between encoding/decoding (tested with replies built by
/// hand) and the kernel.
pub trait Ioctl {
    /// Runs `cmd` with `buf` as `struct dm_ioctl` plus data; the kernel writes its reply into it.
    fn call(&self, cmd: Cmd, buf: &mut [u8]) -> Result<(), Errno>;
}

/// The open control node.
#[derive(Debug)]
pub struct Control {
    file: File,
}

impl Control {
    /// Opens `<dev_root>/mapper/control` read-write (as libdevmapper does) after checking it is a
    /// character device, and checks the interface's major version.
    pub fn open(dev_root: &Path) -> Result<Self, DmError> {
        let path = control_path(dev_root);
        let err = |source| DmError::Open {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(err)?;
        if !meta.file_type().is_char_device() {
            return Err(DmError::NotControl { path });
        }
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        // Again on the descriptor: the node may have been replaced since the `stat`.
        if !file.metadata().map_err(err)?.file_type().is_char_device() {
            return Err(DmError::NotControl { path });
        }
        let ctl = Self { file };
        version(&ctl)?;
        Ok(ctl)
    }
}

/// `<dev_root>/mapper/control`.
pub fn control_path(dev_root: &Path) -> PathBuf {
    dev_root.join("mapper").join("control")
}

impl Ioctl for Control {
    fn call(&self, cmd: Cmd, buf: &mut [u8]) -> Result<(), Errno> {
        // The kernel reads `data_size` bytes from the buffer and writes at most as many back;
        // `request` always encodes `data_size` as the buffer's length.
        if buf.len() < HEADER_LEN
            || u32_at(buf, OFF_DATA_SIZE).map(|n| n as usize) != Some(buf.len())
        {
            return Err(Errno::EINVAL);
        }
        // SAFETY: `buf` is a live, exclusively borrowed allocation of `buf.len()` bytes, and its
        // `data_size` field (checked just above) tells the kernel that length: device-mapper's
        // ctl_ioctl copies at most `data_size` bytes in and out of it and keeps no pointer past
        // the call. The fd is owned by `self.file` for the whole call.
        let r = unsafe {
            nix::libc::ioctl(
                self.file.as_raw_fd(),
                cmd.request(),
                buf.as_mut_ptr().cast::<nix::libc::c_void>(),
            )
        };
        Errno::result(r).map(drop)
    }
}

/// A map in `DM_LIST_DEVICES`'s reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its block device number.
    pub dev: DevT,
}

/// One target of a map in `DM_TABLE_STATUS`'s reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type (`multipath`, `linear`, …).
    pub kind: String,
    /// The status or table string (what `dmsetup status|table` prints after the type).
    pub params: String,
}

/// The decoded fields of `struct dm_ioctl` that a reply carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Interface version.
    pub version: [u32; 3],
    /// Bytes used, counted from the start of the header.
    pub data_size: u32,
    /// Where the data starts.
    pub data_start: u32,
    /// Targets in the reply (DM_TABLE_STATUS) or the table.
    pub target_count: u32,
    /// Openers of the map.
    pub open_count: i32,
    /// `DM_*_FLAG`s.
    pub flags: u32,
    /// The map's device number (huge-encoded).
    pub dev: u64,
    /// The map's name.
    pub name: String,
}

/// A request buffer of `len` bytes (at least the header): version, `data_size = len`,
/// `data_start` just after the header, `flags` and the map's name.
pub fn request(flags: u32, name: &str, len: usize) -> Result<Vec<u8>, DmError> {
    if name.len() >= NAME_LEN || name.contains('\0') {
        return Err(DmError::BadName(name.to_owned()));
    }
    let len = len.max(HEADER_LEN);
    let size = u32::try_from(len).map_err(|_| DmError::BadName(name.to_owned()))?;
    let mut buf = vec![0u8; len];
    put_u32(&mut buf, 0, VERSION_MAJOR);
    put_u32(&mut buf, OFF_DATA_SIZE, size);
    put_u32(&mut buf, OFF_DATA_START, HEADER_LEN as u32);
    put_u32(&mut buf, OFF_FLAGS, flags);
    buf[OFF_NAME..OFF_NAME + name.len()].copy_from_slice(name.as_bytes());
    Ok(buf)
}

impl Header {
    /// Reads the header at the start of `buf` (`None`: shorter than a header).
    pub fn decode(buf: &[u8]) -> Option<Self> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        Some(Self {
            version: [u32_at(buf, 0)?, u32_at(buf, 4)?, u32_at(buf, 8)?],
            data_size: u32_at(buf, OFF_DATA_SIZE)?,
            data_start: u32_at(buf, OFF_DATA_START)?,
            target_count: u32_at(buf, OFF_TARGET_COUNT)?,
            open_count: i32::from_ne_bytes(array(buf, OFF_OPEN_COUNT)?),
            flags: u32_at(buf, OFF_FLAGS)?,
            dev: u64_at(buf, OFF_DEV)?,
            name: c_string(buf.get(OFF_NAME..OFF_NAME + NAME_LEN)?)
                .map(str::to_owned)
                .unwrap_or_default(),
        })
    }

    /// The reply's data: `buf[data_start..data_size]`, checked against the buffer. A
    /// `data_size` not past `data_start` means the kernel wrote no data (a map with no table).
    pub fn payload<'a>(&self, buf: &'a [u8]) -> Result<&'a [u8], String> {
        let (start, end) = (self.data_start as usize, self.data_size as usize);
        if start < HEADER_LEN {
            return Err(format!(
                "data_start {start} inside the {HEADER_LEN}-byte header"
            ));
        }
        if end <= start {
            return Ok(&[]);
        }
        buf.get(start..end).ok_or_else(|| {
            format!(
                "data {start}..{end} past the end of the {}-byte buffer",
                buf.len()
            )
        })
    }
}

/// Decodes `DM_LIST_DEVICES`'s data: `struct dm_name_list` records (`dev`, `next` — the offset
/// of the next record from this one, 0 for the last — and the NUL-terminated name). A first
/// record with `dev == 0` means no maps. Names that are not UTF-8 are left out (no `DmName`
/// can hold them, as no line of `dmsetup` output would parse into one).
pub fn decode_names(data: &[u8]) -> Result<Vec<Listed>, String> {
    let mut out = Vec::new();
    if data.is_empty() || u64_at(data, 0) == Some(0) {
        return Ok(out);
    }
    let mut off = 0usize;
    loop {
        let rec = data
            .get(off..)
            .filter(|r| r.len() > NAME_LIST_HEAD)
            .ok_or_else(|| format!("name record at {off} truncated ({} bytes)", data.len()))?;
        let dev = u64_at(rec, 0).ok_or("unreachable: record length checked")?;
        let next = u32_at(rec, 8).ok_or("unreachable: record length checked")? as usize;
        let raw = c_bytes(&rec[NAME_LIST_HEAD..])
            .ok_or_else(|| format!("name at {} not NUL-terminated", off + NAME_LIST_HEAD))?;
        if let Ok(name) = std::str::from_utf8(raw) {
            out.push(Listed {
                name: name.to_owned(),
                dev: decode_dev(dev),
            });
        }
        if next == 0 {
            return Ok(out);
        }
        // A record holds at least its head and the name's NUL: a smaller step would go
        // backwards into this record (or loop forever on 0-length progress).
        if next < NAME_LIST_HEAD + raw.len() + 1 {
            return Err(format!("next offset {next} at {off} inside its own record"));
        }
        off = off
            .checked_add(next)
            .filter(|o| *o < data.len())
            .ok_or_else(|| {
                format!(
                    "next offset {next} at {off} past the end of {} bytes",
                    data.len()
                )
            })?;
    }
}

/// Decodes `DM_TABLE_STATUS`'s data: `count` `struct dm_target_spec`s, each followed by its
/// NUL-terminated string. Each `next` is the offset of the following spec from the *first*
/// one, and must lie past this spec's string.
pub fn decode_targets(data: &[u8], count: u32) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    let mut off = 0usize;
    for i in 0..count {
        let rec = data
            .get(off..)
            .filter(|r| r.len() >= SPEC_LEN)
            .ok_or_else(|| {
                format!(
                    "target {i} at {off} truncated ({} bytes of data)",
                    data.len()
                )
            })?;
        let field = |o: usize| u64_at(rec, o).ok_or("unreachable: spec length checked");
        let (start, length) = (field(0)?, field(8)?);
        let next = u32_at(rec, 20).ok_or("unreachable: spec length checked")? as usize;
        let kind = c_string(&rec[24..SPEC_LEN])
            .ok_or_else(|| format!("target {i}'s type at {} not terminated", off + 24))?;
        let params = c_string(&rec[SPEC_LEN..])
            .ok_or_else(|| format!("target {i}'s string at {} not terminated", off + SPEC_LEN))?;
        out.push(Target {
            start,
            length,
            kind: kind.to_owned(),
            params: params.to_owned(),
        });
        if i + 1 < count {
            let end = off + SPEC_LEN + params.len() + 1;
            if next < end || next >= data.len() {
                return Err(format!(
                    "target {i}'s next offset {next} not between {end} and {}",
                    data.len()
                ));
            }
            off = next;
        }
    }
    Ok(out)
}

/// Sends one request, asking again with twice the buffer while the kernel says it was full.
/// `Ok(None)`: no such map (`ENXIO`: it went away since it was listed).
fn exchange(
    ctl: &dyn Ioctl,
    cmd: Cmd,
    flags: u32,
    name: &str,
    first: usize,
) -> Result<Option<(Header, Vec<u8>)>, DmError> {
    let mut len = first;
    loop {
        let mut buf = request(flags, name, len)?;
        match ctl.call(cmd, &mut buf) {
            Ok(()) => {}
            Err(Errno::ENXIO) if !name.is_empty() => return Ok(None),
            Err(errno) => {
                return Err(DmError::Ioctl {
                    cmd,
                    name: name.to_owned(),
                    errno,
                });
            }
        }
        let h = Header::decode(&buf).ok_or_else(|| DmError::Malformed {
            cmd,
            name: name.to_owned(),
            detail: "reply shorter than a header".into(),
        })?;
        if h.flags & BUFFER_FULL_FLAG == 0 {
            return Ok(Some((h, buf)));
        }
        if len >= MAX_BUFFER {
            return Err(DmError::TooLarge {
                cmd,
                name: name.to_owned(),
            });
        }
        len = len.saturating_mul(2).min(MAX_BUFFER);
    }
}

/// `DM_VERSION`: fails unless the kernel speaks major version 4.
pub fn version(ctl: &dyn Ioctl) -> Result<[u32; 3], DmError> {
    let (h, _) = exchange(ctl, Cmd::Version, 0, "", HEADER_LEN)?.ok_or(DmError::Ioctl {
        cmd: Cmd::Version,
        name: String::new(),
        errno: Errno::ENXIO,
    })?;
    if h.version[0] != VERSION_MAJOR {
        return Err(DmError::Version(h.version[0]));
    }
    Ok(h.version)
}

/// `DM_LIST_DEVICES`: every map, in the kernel's (name) order.
pub fn list(ctl: &dyn Ioctl) -> Result<Vec<Listed>, DmError> {
    let (h, buf) = exchange(ctl, Cmd::ListDevices, 0, "", FIRST_BUFFER)?.ok_or(DmError::Ioctl {
        cmd: Cmd::ListDevices,
        name: String::new(),
        errno: Errno::ENXIO,
    })?;
    let malformed = |detail| DmError::Malformed {
        cmd: Cmd::ListDevices,
        name: String::new(),
        detail,
    };
    decode_names(h.payload(&buf).map_err(malformed)?).map_err(malformed)
}

/// `DM_DEV_STATUS`: a map's open count (`None`: the map is gone).
pub fn open_count(ctl: &dyn Ioctl, name: &str) -> Result<Option<u32>, DmError> {
    let Some((h, _)) = exchange(ctl, Cmd::DevStatus, 0, name, HEADER_LEN)? else {
        return Ok(None);
    };
    u32::try_from(h.open_count)
        .map(Some)
        .map_err(|_| DmError::Malformed {
            cmd: Cmd::DevStatus,
            name: name.to_owned(),
            detail: format!("negative open count {}", h.open_count),
        })
}

/// `DM_TABLE_STATUS`: a map's targets with their status strings, or with their table strings
/// when `table` (`None`: the map is gone). Status is asked with `DM_NOFLUSH_FLAG`.
pub fn targets(ctl: &dyn Ioctl, name: &str, table: bool) -> Result<Option<Vec<Target>>, DmError> {
    let flags = if table {
        STATUS_TABLE_FLAG
    } else {
        NOFLUSH_FLAG
    };
    let Some((h, buf)) = exchange(ctl, Cmd::TableStatus, flags, name, FIRST_BUFFER)? else {
        return Ok(None);
    };
    let malformed = |detail| DmError::Malformed {
        cmd: Cmd::TableStatus,
        name: name.to_owned(),
        detail,
    };
    let data = h.payload(&buf).map_err(malformed)?;
    decode_targets(data, h.target_count)
        .map(Some)
        .map_err(malformed)
}

/// Every map's open count, as `dmsetup info -c -o name,open` lists them (maps that went away
/// meanwhile are left out).
pub fn open_counts(ctl: &dyn Ioctl) -> Result<Vec<(String, u32)>, DmError> {
    let mut out = Vec::new();
    for m in list(ctl)? {
        if let Some(n) = open_count(ctl, &m.name)? {
            out.push((m.name, n));
        }
    }
    Ok(out)
}

/// The status and the table strings of every target of type `kind`, by map name, as `dmsetup
/// status --target KIND` and `dmsetup table --target KIND` print them. The table is asked only
/// of maps whose status has such a target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLines {
    /// `(map, status string)`.
    pub status: Vec<(String, String)>,
    /// `(map, table string)`.
    pub table: Vec<(String, String)>,
}

/// See [`TargetLines`].
pub fn target_lines(ctl: &dyn Ioctl, kind: &str) -> Result<TargetLines, DmError> {
    let mut out = TargetLines::default();
    for m in list(ctl)? {
        let pick = |ts: Vec<Target>| {
            ts.into_iter()
                .filter(|t| t.kind == kind)
                .map(|t| (m.name.clone(), t.params))
                .collect::<Vec<_>>()
        };
        let Some(status) = targets(ctl, &m.name, false)?.map(pick) else {
            continue;
        };
        if status.is_empty() {
            continue;
        }
        out.status.extend(status);
        if let Some(table) = targets(ctl, &m.name, true)?.map(pick) {
            out.table.extend(table);
        }
    }
    Ok(out)
}

/// `huge_decode_dev`: minor's low 8 bits, then 12 bits of major, then minor's upper bits.
fn decode_dev(dev: u64) -> DevT {
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff_ff00);
    DevT::new(major as u32, minor as u32)
}

fn array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    buf.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    array(buf, off).map(u32::from_ne_bytes)
}

fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    array(buf, off).map(u64::from_ne_bytes)
}

fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

/// The bytes before the first NUL (`None`: no NUL in `bytes`).
fn c_bytes(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|b| *b == 0)?;
    Some(&bytes[..end])
}

/// [`c_bytes`] as UTF-8 (`None`: unterminated or not UTF-8).
fn c_string(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(c_bytes(bytes)?).ok()
}

/// A kernel to run the encoding against in tests: maps with an open count and targets, answered
/// the way drivers/md/dm-ioctl.c lays its replies out (including `DM_BUFFER_FULL_FLAG` when
/// the request's buffer is too small).
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::cell::RefCell;

    /// One map.
    #[derive(Debug, Clone)]
    pub(crate) struct Map {
        pub name: String,
        pub dev: u64,
        pub open: i32,
        /// `(start, length, type, status, table)`.
        pub targets: Vec<(u64, u64, String, String, String)>,
    }

    /// The fake kernel; `calls` records `(cmd, buffer length)`.
    #[derive(Debug, Default)]
    pub(crate) struct Kernel {
        pub maps: Vec<Map>,
        pub version: u32,
        pub calls: RefCell<Vec<(Cmd, usize)>>,
        /// An errno to answer every call with.
        pub fail: Option<Errno>,
    }

    /// `huge_encode_dev`.
    pub(crate) fn encode_dev(major: u32, minor: u32) -> u64 {
        u64::from(minor & 0xff) | (u64::from(major) << 8) | (u64::from(minor & !0xff) << 12)
    }

    fn align8(n: usize) -> usize {
        (n + 7) & !7
    }

    /// `dm_name_list` records for `maps` (with the event_nr/flags words the kernel appends).
    pub(crate) fn names_data(maps: &[(&str, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        if maps.is_empty() {
            return vec![0u8; 16];
        }
        let mut last = None;
        for (name, dev) in maps {
            let at = out.len();
            if let Some(prev) = last {
                let next = (at - prev) as u32;
                out[prev + 8..prev + 12].copy_from_slice(&next.to_ne_bytes());
            }
            out.extend_from_slice(&dev.to_ne_bytes());
            out.extend_from_slice(&0u32.to_ne_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(align8(out.len()), 0);
            out.extend_from_slice(&[0u8; 8]); // event_nr, flags
            last = Some(at);
        }
        out
    }

    /// `dm_target_spec` records, `next` counted from the first one as the kernel does.
    pub(crate) fn targets_data(targets: &[(u64, u64, &str, &str)]) -> Vec<u8> {
        let (mut out, mut used) = (Vec::new(), 0);
        for (start, len, kind, params) in targets {
            let at = out.len();
            out.extend_from_slice(&start.to_ne_bytes());
            out.extend_from_slice(&len.to_ne_bytes());
            out.extend_from_slice(&0i32.to_ne_bytes());
            out.extend_from_slice(&0u32.to_ne_bytes());
            let mut ty = [0u8; 16];
            ty[..kind.len()].copy_from_slice(kind.as_bytes());
            out.extend_from_slice(&ty);
            out.extend_from_slice(params.as_bytes());
            out.push(0);
            used = out.len();
            out.resize(align8(used), 0);
            let next = out.len() as u32;
            out[at + 20..at + 24].copy_from_slice(&next.to_ne_bytes());
        }
        // The kernel's data_size ends at the last NUL, before the padding.
        out.truncate(used);
        out
    }

    /// Writes a reply header and `data` into `buf` (or `DM_BUFFER_FULL_FLAG` if it does not fit).
    pub(crate) fn reply(buf: &mut [u8], m: Option<&Map>, count: u32, data: &[u8]) {
        put_u32(buf, OFF_DATA_START, HEADER_LEN as u32);
        put_u32(buf, OFF_DATA_SIZE, 305); // offsetof(struct dm_ioctl, data): no data
        if let Some(m) = m {
            buf[OFF_OPEN_COUNT..OFF_OPEN_COUNT + 4].copy_from_slice(&m.open.to_ne_bytes());
            buf[OFF_DEV..OFF_DEV + 8].copy_from_slice(&m.dev.to_ne_bytes());
        }
        if data.is_empty() {
            put_u32(buf, OFF_TARGET_COUNT, count);
            return;
        }
        if HEADER_LEN + data.len() > buf.len() {
            let flags = u32_at(buf, OFF_FLAGS).unwrap_or(0) | BUFFER_FULL_FLAG;
            put_u32(buf, OFF_FLAGS, flags);
            return;
        }
        buf[HEADER_LEN..HEADER_LEN + data.len()].copy_from_slice(data);
        put_u32(buf, OFF_DATA_SIZE, (HEADER_LEN + data.len()) as u32);
        put_u32(buf, OFF_TARGET_COUNT, count);
    }

    impl Ioctl for Kernel {
        fn call(&self, cmd: Cmd, buf: &mut [u8]) -> Result<(), Errno> {
            self.calls.borrow_mut().push((cmd, buf.len()));
            if let Some(e) = self.fail {
                return Err(e);
            }
            let h = Header::decode(buf).ok_or(Errno::EINVAL)?;
            if h.data_size as usize != buf.len() || h.version[0] != 4 {
                return Err(Errno::EINVAL);
            }
            put_u32(buf, 0, self.version);
            let map = || {
                self.maps
                    .iter()
                    .find(|m| m.name == h.name)
                    .ok_or(Errno::ENXIO)
            };
            match cmd {
                Cmd::Version => reply(buf, None, 0, &[]),
                Cmd::ListDevices => {
                    let maps: Vec<_> = self.maps.iter().map(|m| (m.name.as_str(), m.dev)).collect();
                    reply(buf, None, 0, &names_data(&maps));
                }
                Cmd::DevStatus => {
                    let m = map()?;
                    reply(buf, Some(m), m.targets.len() as u32, &[]);
                }
                Cmd::TableStatus => {
                    let m = map()?;
                    let table = h.flags & STATUS_TABLE_FLAG != 0;
                    let ts: Vec<_> = m
                        .targets
                        .iter()
                        .map(|(s, l, k, st, tb)| {
                            (
                                *s,
                                *l,
                                k.as_str(),
                                if table { tb.as_str() } else { st.as_str() },
                            )
                        })
                        .collect();
                    reply(buf, Some(m), ts.len() as u32, &targets_data(&ts));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{Kernel, Map, encode_dev, names_data, targets_data};
    use super::*;

    #[test]
    fn the_request_header_is_laid_out_as_struct_dm_ioctl() {
        let buf = request(STATUS_TABLE_FLAG, "mpatha", 1024).unwrap();
        assert_eq!(buf.len(), 1024);
        let h = Header::decode(&buf).unwrap();
        assert_eq!(h.version, [4, 0, 0]);
        assert_eq!(h.data_size, 1024);
        assert_eq!(h.data_start, HEADER_LEN as u32);
        assert_eq!(h.flags, STATUS_TABLE_FLAG);
        assert_eq!(h.name, "mpatha");
        assert_eq!(&buf[OFF_NAME..OFF_NAME + 7], b"mpatha\0");
        // A buffer is never shorter than the header the kernel reads.
        assert_eq!(request(0, "", 10).unwrap().len(), HEADER_LEN);
        assert!(matches!(
            request(0, &"x".repeat(128), 4096),
            Err(DmError::BadName(_))
        ));
        assert!(matches!(request(0, "a\0b", 4096), Err(DmError::BadName(_))));
        // _IOWR(0xfd, 12, struct dm_ioctl): dir 3 (read|write), size 312, type 0xfd, nr 12.
        assert_eq!(
            Cmd::TableStatus.request(),
            ((3u64 << 30) | (312 << 16) | (0xfd << 8) | 12) as nix::sys::ioctl::ioctl_num_type
        );
    }

    #[test]
    fn device_numbers_decode_as_the_kernel_encodes_them() {
        for (ma, mi) in [(253, 0), (8, 16), (259, 1_048_575), (65, 300)] {
            assert_eq!(decode_dev(encode_dev(ma, mi)), DevT::new(ma, mi));
        }
    }

    #[test]
    fn a_list_with_several_names_decodes_in_order() {
        let data = names_data(&[
            ("3600140500291fe600020000feed00000", encode_dev(253, 0)),
            ("mpatha", encode_dev(253, 1)),
            ("vg-root", encode_dev(253, 12)),
        ]);
        let l = decode_names(&data).unwrap();
        let names: Vec<_> = l.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["3600140500291fe600020000feed00000", "mpatha", "vg-root"]
        );
        assert_eq!(l[2].dev, DevT::new(253, 12));
        assert!(decode_names(&names_data(&[])).unwrap().is_empty());
        assert!(decode_names(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_list_with_a_malformed_next_offset_is_refused_not_guessed() {
        let good = names_data(&[
            ("mpatha", encode_dev(253, 0)),
            ("mpathb", encode_dev(253, 1)),
        ]);
        // next pointing past the end.
        let mut past = good.clone();
        past[8..12].copy_from_slice(&(good.len() as u32 + 8).to_ne_bytes());
        assert!(decode_names(&past).unwrap_err().contains("past the end"));
        // next pointing back into its own record (a loop if followed).
        let mut back = good.clone();
        back[8..12].copy_from_slice(&4u32.to_ne_bytes());
        assert!(
            decode_names(&back)
                .unwrap_err()
                .contains("inside its own record")
        );
        // The data cut inside the second name: no NUL before the end.
        let second = u32_at(&good, 8).unwrap() as usize;
        let cut = &good[..second + NAME_LIST_HEAD + 3];
        assert!(
            decode_names(cut)
                .unwrap_err()
                .contains("not NUL-terminated")
        );
        // Cut inside the second record's head.
        assert!(
            decode_names(&good[..second + 4])
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn a_status_with_several_targets_decodes_each_string() {
        let data = targets_data(&[
            (0, 2048, "linear", "8:80 0"),
            (
                2048,
                2_095_104,
                "multipath",
                "2 0 0 0 1 1 A 0 1 2 8:16 A 0 0 1",
            ),
            (2_097_152, 8, "error", ""),
        ]);
        let t = decode_targets(&data, 3).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].params, "8:80 0");
        assert_eq!(t[1].kind, "multipath");
        assert_eq!((t[1].start, t[1].length), (2048, 2_095_104));
        assert_eq!(t[1].params, "2 0 0 0 1 1 A 0 1 2 8:16 A 0 0 1");
        assert_eq!((t[2].kind.as_str(), t[2].params.as_str()), ("error", ""));
        assert!(decode_targets(&[], 0).unwrap().is_empty());
    }

    #[test]
    fn a_truncated_or_misdirected_status_is_refused() {
        let data = targets_data(&[(0, 8, "linear", "8:80 0"), (8, 8, "linear", "8:96 0")]);
        // More targets announced than the data holds.
        assert!(
            decode_targets(&data, 3)
                .unwrap_err()
                .contains("next offset")
        );
        // The string of the second target cut before its NUL.
        assert!(
            decode_targets(&data[..data.len() - 1], 2)
                .unwrap_err()
                .contains("not terminated")
        );
        // The first spec's next pointing back at itself.
        let mut back = data.clone();
        back[20..24].copy_from_slice(&0u32.to_ne_bytes());
        assert!(
            decode_targets(&back, 2)
                .unwrap_err()
                .contains("not between")
        );
        // A header whose data would run past the buffer.
        let mut buf = request(0, "m", HEADER_LEN + 64).unwrap();
        put_u32(&mut buf, OFF_DATA_SIZE, (HEADER_LEN + 65) as u32);
        let h = Header::decode(&buf).unwrap();
        assert!(h.payload(&buf).unwrap_err().contains("past the end"));
        put_u32(&mut buf, OFF_DATA_START, 100);
        let h = Header::decode(&buf).unwrap();
        assert!(h.payload(&buf).unwrap_err().contains("inside"));
    }

    fn kernel(n: usize) -> Kernel {
        let maps = (0..n)
            .map(|i| Map {
                name: format!("3600140500291fe6000200{i:011}"),
                dev: encode_dev(253, i as u32),
                open: (i % 3) as i32,
                targets: vec![(
                    0,
                    2048,
                    "multipath".into(),
                    format!("2 0 0 0 1 1 A 0 1 2 8:{} A 0 0 1", 16 * (i + 1)),
                    format!(
                        "{}0 1 alua 1 1 service-time 0 1 1 8:{} 1",
                        if i % 2 == 0 {
                            "1 queue_if_no_path "
                        } else {
                            "0 "
                        },
                        16 * (i + 1)
                    ),
                )],
            })
            .collect();
        Kernel {
            maps,
            version: 4,
            ..Kernel::default()
        }
    }

    #[test]
    fn a_full_buffer_is_asked_again_with_a_bigger_one() {
        // 600 maps of 33-character names list in ~38 KiB: the first 16 KiB buffer is full.
        let k = kernel(600);
        let l = list(&k).unwrap();
        assert_eq!(l.len(), 600);
        assert_eq!(l[599].dev, DevT::new(253, 599));
        let sizes: Vec<_> = k.calls.borrow().iter().map(|c| c.1).collect();
        assert_eq!(sizes, [FIRST_BUFFER, 2 * FIRST_BUFFER, 4 * FIRST_BUFFER]);
    }

    #[test]
    fn open_counts_and_multipath_lines_come_from_the_replies() {
        let mut k = kernel(3);
        k.maps.push(Map {
            name: "vg-root".into(),
            dev: encode_dev(253, 9),
            open: 1,
            targets: vec![(0, 8, "linear".into(), String::new(), "8:2 0".into())],
        });
        let counts = open_counts(&k).unwrap();
        assert_eq!(counts.len(), 4);
        assert_eq!(counts[2], (format!("3600140500291fe6000200{:011}", 2), 2));
        assert_eq!(counts[3], ("vg-root".into(), 1));
        let lines = target_lines(&k, "multipath").unwrap();
        assert_eq!(lines.status.len(), 3);
        assert_eq!(lines.table.len(), 3);
        assert!(lines.table[0].1.starts_with("1 queue_if_no_path"));
        // The linear map's table is never asked for.
        let tables = k
            .calls
            .borrow()
            .iter()
            .filter(|c| c.0 == Cmd::TableStatus)
            .count();
        assert_eq!(tables, 4 + 3);
    }

    #[test]
    fn a_map_gone_since_the_listing_is_left_out() {
        struct Vanishing(Kernel);
        impl Ioctl for Vanishing {
            fn call(&self, cmd: Cmd, buf: &mut [u8]) -> Result<(), Errno> {
                let h = Header::decode(buf).ok_or(Errno::EINVAL)?;
                if cmd != Cmd::ListDevices && h.name.ends_with('1') {
                    return Err(Errno::ENXIO);
                }
                self.0.call(cmd, buf)
            }
        }
        let k = Vanishing(kernel(3));
        assert_eq!(open_counts(&k).unwrap().len(), 2);
        assert_eq!(target_lines(&k, "multipath").unwrap().status.len(), 2);
    }

    #[test]
    fn any_other_failure_or_version_is_an_error_not_an_empty_answer() {
        let mut k = kernel(2);
        k.fail = Some(Errno::EACCES);
        let e = open_counts(&k).unwrap_err();
        assert!(e.to_string().contains("EACCES"), "{e}");
        let mut k = kernel(2);
        k.version = 5;
        assert!(matches!(version(&k), Err(DmError::Version(5))));
        // A negative open count is not a count.
        let mut k = kernel(1);
        k.maps[0].open = -1;
        assert!(matches!(open_counts(&k), Err(DmError::Malformed { .. })));
    }

    #[test]
    fn a_missing_or_fake_control_node_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let missing = Control::open(d.path()).unwrap_err();
        assert!(matches!(missing, DmError::Open { .. }) && missing.is_missing());
        std::fs::create_dir(d.path().join("mapper")).unwrap();
        std::fs::write(d.path().join("mapper/control"), "").unwrap();
        let fake = Control::open(d.path()).unwrap_err();
        assert!(matches!(fake, DmError::NotControl { .. }) && !fake.is_missing());
    }
}

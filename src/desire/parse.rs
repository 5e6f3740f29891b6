//! Parsing one state file into declared attachments, with every problem found
//! in it pinned to `file:line:column`.
//!
//! Pure (text in, values and diagnostics out). Cross-file rules (unique names,
//! one claim per LUN) are `validate`'s. Each field is deserialized with serde
//! on its own and unknown fields are rejected (what `deny_unknown_fields`
//! does), so one run reports every mistake in a table, not only the first.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::config::{Diagnostic, Pos, Source};
use crate::model::{
    Attachment, Iqn, OnUnexpected, PolicyOverrides, Portal, Transport, Wwid, WwidKind,
};

/// Keys of an `[[attachment]]` table and what each holds (for "missing
/// field" messages). Anything else is an unknown field: an error, like serde's
/// `deny_unknown_fields`, because a typo (`multipth = false`) silently
/// falling back to a default could detach a disk.
const FIELDS: &[(&str, &str)] = &[
    (
        "name",
        "name = \"db-data-1\" (unique across all state files)",
    ),
    ("transport", "transport = \"iscsi\""),
    (
        "target",
        "target = \"iqn.2003-01.org.linux-iscsi.array:sn.1234\"",
    ),
    ("portals", "portals = [\"192.0.2.10:3260\"]"),
    ("lun", "lun = 1"),
    ("wwid", ""),
    ("multipath", ""),
    ("on_unexpected", ""),
    ("force", ""),
];

/// Longest accepted attachment name: it ends up in logs, journal keys and
/// journald fields.
const MAX_NAME: usize = 128;

/// An attachment as declared, with the positions cross-file rules point at.
/// The parts that parsed are kept even when others did not, so a file with a
/// bad IQN still gets its duplicate-name error in the same run.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    /// The name.
    pub name: String,
    /// Where the name is.
    pub name_pos: Pos,
    /// (target, LUN) if both parsed.
    pub address: Option<(Iqn, u64)>,
    /// Where the target is (the table header if the target is missing).
    pub target_pos: Pos,
    /// The expected WWID, if declared and valid.
    pub wwid: Option<(Wwid, Pos)>,
    /// The validated attachment, if every field was valid.
    pub attachment: Option<Attachment>,
}

/// Parses one file. Returns what was declared and every problem found.
pub(crate) fn parse_file(file: &Path, text: &str) -> (Vec<Declared>, Vec<Diagnostic>) {
    let src = Source::new(file, text);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        // A recovered document may be missing pieces; checking it would report
        // consequences of the syntax error as if they were separate mistakes.
        let mut errors: Vec<Diagnostic> = syntax.iter().map(|e| src.toml_error(e)).collect();
        errors.dedup();
        return (Vec::new(), errors);
    }
    let mut errors = Vec::new();
    let mut declared = Vec::new();
    for (key, value) in doc.get_ref().iter() {
        if key.get_ref() != "attachment" {
            errors.push(src.error(
                &key.span(),
                format!(
                    "unknown top-level key {:?}; a state file holds only [[attachment]] tables{}",
                    key.get_ref().as_ref(),
                    suggest(key.get_ref(), ["attachment"].into_iter())
                ),
            ));
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            errors.push(src.error(
                &value.span(),
                "`attachment` must be an array of tables: write [[attachment]] (double brackets) for each one",
            ));
            continue;
        };
        for item in items.iter() {
            let DeValue::Table(table) = item.get_ref() else {
                errors.push(src.error(
                    &item.span(),
                    "each `attachment` entry must be a table ([[attachment]] with keys below it)",
                ));
                continue;
            };
            let mut fields = Fields {
                src: &src,
                table,
                span: item.span(),
                errors: &mut errors,
            };
            fields.reject_unknown();
            if let Some(d) = check(&mut fields) {
                declared.push(d);
            }
        }
    }
    (declared, errors)
}

/// One `[[attachment]]` table, read field by field so that every field's
/// type error is reported, not only the first.
struct Fields<'a, 'i> {
    src: &'a Source<'a>,
    table: &'a DeTable<'i>,
    span: Range<usize>,
    errors: &'a mut Vec<Diagnostic>,
}

impl Fields<'_, '_> {
    fn reject_unknown(&mut self) {
        let known = || FIELDS.iter().map(|(k, _)| *k);
        for key in self.table.keys() {
            let k: &str = key.get_ref();
            if !known().any(|f| f == k) {
                let valid: Vec<&str> = known().collect();
                self.errors.push(self.src.error(
                    &key.span(),
                    format!(
                        "unknown field {k:?} in [[attachment]]{}; valid fields: {}",
                        suggest(k, known()),
                        valid.join(", ")
                    ),
                ));
            }
        }
    }

    /// The field `key` as `T`, or `None` (after recording why) if absent and
    /// `required`, or of the wrong type.
    fn get<T: Direct>(&mut self, key: &str, required: bool) -> Option<Spanned<T>> {
        let Some(value) = self.table.get(key) else {
            if required {
                let example = FIELDS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("", |(_, e)| *e);
                self.errors.push(self.src.error(
                    &self.span,
                    format!(
                        "[[attachment]] is missing the required field `{key}` (e.g. {example})"
                    ),
                ));
            }
            return None;
        };
        if let Some(v) = T::direct(value) {
            return Some(Spanned::new(value.span(), v));
        }
        match Spanned::<T>::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                let message = format!("field `{key}`: {}", e.message().trim());
                let span = e.span().unwrap_or_else(|| value.span());
                self.errors.push(self.src.error(&span, message));
                None
            }
        }
    }

    fn bad(&mut self, span: Range<usize>, message: String) {
        self.errors.push(self.src.error(&span, message));
    }
}

/// A field type read straight from the parsed value when the value has the
/// expected shape, skipping a clone and a serde round trip per field (a third
/// of the time spent on each attachment). Anything else, `None`, takes the
/// serde path, which gives the same value or words the type error, so results
/// and messages are serde's either way.
trait Direct: DeserializeOwned {
    fn direct(_value: &Spanned<DeValue<'_>>) -> Option<Self> {
        None
    }
}

impl Direct for String {
    fn direct(value: &Spanned<DeValue<'_>>) -> Option<Self> {
        value.get_ref().as_str().map(str::to_owned)
    }
}

impl Direct for bool {
    fn direct(value: &Spanned<DeValue<'_>>) -> Option<Self> {
        value.get_ref().as_bool()
    }
}

impl Direct for u64 {
    /// What serde accepts for a `u64`: any TOML integer that fits (negative
    /// or too large ones go to serde for its message).
    fn direct(value: &Spanned<DeValue<'_>>) -> Option<Self> {
        let i = value.get_ref().as_integer()?;
        u64::from_str_radix(i.as_str(), i.radix()).ok()
    }
}

impl Direct for Vec<Spanned<String>> {
    fn direct(value: &Spanned<DeValue<'_>>) -> Option<Self> {
        value
            .get_ref()
            .as_array()?
            .iter()
            .map(|v| Some(Spanned::new(v.span(), String::direct(v)?)))
            .collect()
    }
}

impl Direct for OnUnexpected {}

/// Reads and checks every field of one table. `None` only when there is not
/// even a name to refer to it by.
fn check(f: &mut Fields<'_, '_>) -> Option<Declared> {
    let before = f.errors.len();
    let name = f.get::<String>("name", true);
    let transport = f.get::<String>("transport", true);
    let target = f.get::<String>("target", true);
    let portals = f.get::<Vec<Spanned<String>>>("portals", true);
    let lun = f.get::<u64>("lun", true).map(Spanned::into_inner);
    let wwid = f.get::<String>("wwid", false);
    let multipath = f.get::<bool>("multipath", false);
    let on_unexpected = f
        .get::<OnUnexpected>("on_unexpected", false)
        .map(Spanned::into_inner);
    let force = f.get::<bool>("force", false).map(Spanned::into_inner);

    if let Some(n) = &name {
        let s = n.get_ref();
        if s.is_empty()
            || s.len() > MAX_NAME
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            f.bad(
                n.span(),
                format!("invalid attachment name {s:?}: use 1 to {MAX_NAME} characters without spaces (e.g. the volume id, \"db-data-1\")"),
            );
        }
    }
    let transport = transport.and_then(|t| match t.get_ref().as_str() {
        "iscsi" => Some(Transport::Iscsi),
        "fc" => {
            f.bad(
                t.span(),
                "transport \"fc\" is not supported yet; only \"iscsi\" is".to_owned(),
            );
            None
        }
        other => {
            f.bad(
                t.span(),
                format!("unknown transport {other:?}; use \"iscsi\""),
            );
            None
        }
    });
    let iqn = target
        .as_ref()
        .and_then(|t| match t.get_ref().parse::<Iqn>() {
            Ok(i) => Some(i),
            Err(e) => {
                f.bad(t.span(), e.to_string());
                None
            }
        });
    let portal_list = portals.as_ref().map(|p| check_portals(f, p));
    let wwid = wwid.and_then(|w| match check_wwid(w.get_ref()) {
        Ok(v) => Some((v, f.src.pos(&w.span()))),
        Err(msg) => {
            f.bad(w.span(), msg);
            None
        }
    });
    let mp = multipath.as_ref().is_none_or(|m| *m.get_ref());
    if let Some(p) = &portals
        && !mp
        && p.get_ref().len() > 1
    {
        let span = multipath.as_ref().map_or_else(|| p.span(), Spanned::span);
        f.bad(
            span,
            format!(
                "multipath = false with {} portals would give the host several unmanaged block devices for one LUN; set multipath = true or list one portal",
                p.get_ref().len()
            ),
        );
    }
    let name = name?;
    let valid = f.errors.len() == before;
    let address = iqn.clone().zip(lun);
    let attachment = match (valid, transport, iqn, portal_list, lun) {
        (true, Some(transport), Some(target), Some(portals), Some(lun)) => Some(Attachment {
            name: name.get_ref().clone(),
            transport,
            target,
            portals,
            lun,
            wwid: wwid.as_ref().map(|(w, _)| w.clone()),
            multipath: mp,
            policy: PolicyOverrides {
                on_unexpected,
                force,
            },
        }),
        _ => None,
    };
    Some(Declared {
        name_pos: f.src.pos(&name.span()),
        name: name.into_inner(),
        address,
        target_pos: f
            .src
            .pos(&target.map_or_else(|| f.span.clone(), |t| t.span())),
        wwid,
        attachment,
    })
}

fn check_portals(f: &mut Fields<'_, '_>, portals: &Spanned<Vec<Spanned<String>>>) -> Vec<Portal> {
    if portals.get_ref().is_empty() {
        f.bad(
            portals.span(),
            "portals is empty; list at least one \"ip:port\" (e.g. [\"192.0.2.10:3260\"], IPv6 as \"[2001:db8::10]:3260\")".to_owned(),
        );
    }
    let mut out: Vec<Portal> = Vec::new();
    for p in portals.get_ref() {
        match p.get_ref().parse::<Portal>() {
            Ok(portal) if out.contains(&portal) => {
                f.bad(
                    p.span(),
                    format!("portal {portal} is listed twice; list each portal once"),
                );
            }
            Ok(portal) => out.push(portal),
            Err(e) => f.bad(p.span(), e.to_string()),
        }
    }
    out
}

/// A declared WWID must be in the kernel's form (what
/// `/sys/class/scsi_device/*/device/wwid` says), because that is what it is
/// compared with. `naa.`/`eui.` hex is lower-cased, as the kernel prints it:
/// a case mismatch would make our own LUN look foreign.
fn check_wwid(s: &str) -> Result<Wwid, String> {
    let w = s.parse::<Wwid>().map_err(|e| e.to_string())?;
    match w.kind() {
        WwidKind::Naa | WwidKind::Eui => {
            let lower = w.as_str().to_ascii_lowercase();
            let hex = lower.get(4..).unwrap_or_default();
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "invalid WWID {s:?}: naa. and eui. must be followed by hex digits only (e.g. \"naa.6001405abcdef0123456789abcdef012\")"
                ));
            }
            lower.parse::<Wwid>().map_err(|e| e.to_string())
        }
        WwidKind::Unknown => {
            let hint = match s.strip_prefix('3') {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    format!(
                        " (this looks like multipath's form; the kernel's is \"naa.{}\")",
                        hex.to_ascii_lowercase()
                    )
                }
                _ => String::new(),
            };
            Err(format!(
                "invalid WWID {s:?}: expected the kernel's form from /sys/class/scsi_device/*/device/wwid, e.g. \"naa.6001405abcdef0123456789abcdef012\", \"eui.…\" or \"t10.…\"{hint}"
            ))
        }
        WwidKind::T10 | WwidKind::ScsiName => Ok(w),
    }
}

/// `"; did you mean \"x\"?"` for the closest candidate within two edits.
fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;

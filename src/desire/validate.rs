//! Rules across all state files: unique names, one claim per LUN, one LUN per
//! WWID, and no attachment the config's scope excludes.
//!
//! Pure. Runs on whatever parts of each attachment parsed, so these errors
//! appear in the same run as the per-field ones.

use std::collections::HashMap;

use super::parse::Declared;
use crate::config::{Diagnostic, Pos, Scope};
use crate::model::{Iqn, Wwid};

/// Every cross-file problem. The first declaration (in file-name order, then
/// file order) is taken as the original; later ones are reported.
pub(crate) fn validate(declared: &[Declared], scope: &Scope) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    // Sized up front: 10,000 attachments would otherwise rehash each map
    // a dozen times.
    let mut names: HashMap<&str, &Pos> = HashMap::with_capacity(declared.len());
    let mut addresses: HashMap<(&Iqn, u64), &Declared> = HashMap::with_capacity(declared.len());
    let mut wwids: HashMap<&Wwid, &Declared> = HashMap::with_capacity(declared.len());
    for d in declared {
        if let Some(first) = names.get(d.name.as_str()) {
            errors.push(Diagnostic::at(
                &d.name_pos,
                format!(
                    "duplicate attachment name {:?} (also in {first}); names must be unique across all state files",
                    d.name
                ),
            ));
        } else {
            names.insert(&d.name, &d.name_pos);
        }
        if let Some((target, lun)) = &d.address {
            if let Some(first) = addresses.get(&(target, *lun)) {
                errors.push(Diagnostic::at(
                    &d.target_pos,
                    format!(
                        "target {target} LUN {lun} is already claimed by attachment {:?} ({}); declare each LUN once (remove one of them or fix the lun)",
                        first.name, first.name_pos
                    ),
                ));
            } else {
                addresses.insert((target, *lun), d);
            }
            if scope.excludes_target(target) {
                errors.push(Diagnostic::at(
                    &d.target_pos,
                    format!(
                        "attachment {:?} declares target {target}, which scope.exclude.iscsi_targets in the config excludes; remove the exclusion or the attachment",
                        d.name
                    ),
                ));
            }
        }
        if let Some((wwid, pos)) = &d.wwid {
            check_wwid(d, wwid, pos, &mut wwids, &mut errors);
            if scope.excludes_wwid(wwid) {
                errors.push(Diagnostic::at(
                    pos,
                    format!(
                        "attachment {:?} declares WWID {wwid}, which scope.exclude.wwids in the config excludes; remove the exclusion or the attachment",
                        d.name
                    ),
                ));
            }
        }
    }
    errors
}

/// One WWID is one LUN: declared on two different (target, LUN) it means one
/// of them is a copy-paste mistake, and the planner could not tell which
/// device is the real one.
fn check_wwid<'a>(
    d: &'a Declared,
    wwid: &'a Wwid,
    pos: &Pos,
    wwids: &mut HashMap<&'a Wwid, &'a Declared>,
    errors: &mut Vec<Diagnostic>,
) {
    match wwids.get(wwid) {
        None => {
            wwids.insert(wwid, d);
        }
        Some(first)
            if first.address != d.address && first.address.is_some() && d.address.is_some() =>
        {
            let (t, l) = first
                .address
                .as_ref()
                .map(|(t, l)| (t.to_string(), *l))
                .unwrap_or_default();
            errors.push(Diagnostic::at(
                pos,
                format!(
                    "WWID {wwid} is also declared by attachment {:?} for target {t} LUN {l} ({}); one WWID is one LUN, so fix the wwid or the target/lun of one of them",
                    first.name, first.name_pos
                ),
            ));
        }
        Some(_) => {} // same address: already reported as a double claim
    }
}

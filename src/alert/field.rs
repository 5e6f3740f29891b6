//! Journald field names lunguard sends. Names are part of the interface
//! (operators filter on them; docs/alerts.md lists them): never rename one.

/// The human message.
pub const MESSAGE: &str = "MESSAGE";
/// The kind's fixed 128-bit id.
pub const MESSAGE_ID: &str = "MESSAGE_ID";
/// syslog priority 0–7.
pub const PRIORITY: &str = "PRIORITY";
/// Always [`IDENTIFIER`].
pub const SYSLOG_IDENTIFIER: &str = "SYSLOG_IDENTIFIER";
/// The value of `SYSLOG_IDENTIFIER`.
pub const IDENTIFIER: &str = "lunguard";
/// `AlertKind::name()`, readable twin of `MESSAGE_ID`.
pub const LUNGUARD_KIND: &str = "LUNGUARD_KIND";
/// The attachment (state file `name`) concerned.
pub const ATTACHMENT: &str = "LUNGUARD_ATTACHMENT";
/// The controller key (H:C:T:L, WWID, target, map) a degraded alert is about.
pub const KEY: &str = "LUNGUARD_KEY";
/// A LUN's WWID (the one found, when it differs from the declared one).
pub const WWID: &str = "WWID";
/// The declared WWID, in a mismatch.
pub const EXPECTED_WWID: &str = "EXPECTED_WWID";
/// A SCSI address `host:channel:target:lun`; repeated for several paths.
pub const HCTL: &str = "HCTL";
/// A kernel block device name (`sdc`, `dm-2`); repeated for several.
pub const DEVICE: &str = "DEVICE";
/// A block device number `major:minor`.
pub const DEVT: &str = "DEVT";
/// A multipath map's real name (`dm/name`).
pub const DM_NAME: &str = "DM_NAME";
/// An iSCSI target IQN.
pub const TARGET: &str = "TARGET";
/// An iSCSI portal `ip:port`.
pub const PORTAL: &str = "PORTAL";
/// An open-iscsi iface (`default`, `if2`): with `TARGET` and `PORTAL` it
/// names one session.
pub const ISCSI_IFACE: &str = "ISCSI_IFACE";
/// The action (`Action::kind()`: `delete_paths`, `flush_map`, …).
pub const ACTION: &str = "ACTION";
/// `changed`, `already_converged`, `would_change`, `failed`, `skipped`.
pub const OUTCOME: &str = "OUTCOME";
/// The step's position in its plan.
pub const STEP: &str = "STEP";
/// Why (the planner's reason, or a finding's explanation).
pub const REASON: &str = "REASON";
/// What the plan does about an unwanted device (`remove`, `alert only …`).
pub const PLANNED: &str = "PLANNED";
/// The error text of a failed step.
pub const ERROR: &str = "ERROR";
/// Seconds left of an unwanted device's grace period.
pub const GRACE_REMAINING_SEC: &str = "GRACE_REMAINING_SEC";
/// Number of removals a tripped blast radius would have made.
pub const COUNT: &str = "COUNT";
/// `policy.blast_radius`.
pub const LIMIT: &str = "LIMIT";
/// Attempts made before a key was marked degraded.
pub const ATTEMPTS: &str = "ATTEMPTS";
/// A state file named in a rejection; repeated per file.
pub const STATE_FILE: &str = "STATE_FILE";
/// Every diagnostic of a rejection, one per line (sent in binary form).
pub const DIAGNOSTICS: &str = "DIAGNOSTICS";
/// Number of attachments in the loaded state.
pub const ATTACHMENTS: &str = "ATTACHMENTS";
/// lunguard's version, on start.
pub const VERSION: &str = "VERSION";
/// `observe` or `enforce`, on start.
pub const MODE: &str = "MODE";
/// The kind whose alerts were suppressed.
pub const SUPPRESSED_KIND: &str = "SUPPRESSED_KIND";
/// The `MESSAGE_ID` of the suppressed alerts.
pub const SUPPRESSED_MESSAGE_ID: &str = "SUPPRESSED_MESSAGE_ID";
/// How many were suppressed.
pub const SUPPRESSED_COUNT: &str = "SUPPRESSED_COUNT";
/// The rate-limit interval in seconds.
pub const INTERVAL_SEC: &str = "INTERVAL_SEC";

/// Whether `name` is a valid journald field name for us to send: 1–64 of
/// `[A-Z0-9_]`, not starting with `_` or a digit.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

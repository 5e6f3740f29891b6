//! `AlertKind`: every kind of alert lunguard sends, with its fixed
//! journald `MESSAGE_ID` and default `PRIORITY`.
//!
//! The ids were generated once, at random, and must never change: operators
//! filter on them (`journalctl MESSAGE_ID=…`) and the catalog
//! (systemd/lunguard.catalog) is keyed by them. A new kind gets a new id and a
//! catalog entry; `tests/alert_catalog.rs` checks both directions.

use std::fmt;

use super::Priority;

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $id:literal, $prio:ident, $limited:literal; )*) => {
        /// What an alert is about. One journald `MESSAGE_ID` per kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum AlertKind {
            $( $(#[$doc])* $variant, )*
        }

        impl AlertKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [AlertKind] = &[$(AlertKind::$variant),*];

            /// The journald `MESSAGE_ID`: 32 lowercase hex digits, fixed forever.
            pub const fn message_id(self) -> &'static str {
                match self { $(AlertKind::$variant => $id,)* }
            }

            /// Stable snake_case name, sent as `LUNGUARD_KIND`.
            pub const fn name(self) -> &'static str {
                match self { $(AlertKind::$variant => $name,)* }
            }

            /// The priority an alert of this kind gets unless its constructor
            /// says otherwise.
            pub const fn default_priority(self) -> Priority {
                match self { $(AlertKind::$variant => Priority::$prio,)* }
            }

            /// Whether a flapping device (or a uevent storm) can trigger this
            /// kind repeatedly, so `RateLimited` throttles it per subject.
            /// Lifecycle and state-file alerts are rare and never dropped.
            pub const fn rate_limited(self) -> bool {
                match self { $(AlertKind::$variant => $limited,)* }
            }
        }
    };
}

kinds! {
    /// The daemon started (before the first observation).
    DaemonStarted = "daemon_started", "ef5b07e1d72843de9b8fd1c7d02f85f1", Notice, false;
    /// The first full observation is complete; actions are allowed from now on.
    DaemonReady = "daemon_ready", "8293264ae3f54a77a1f7b0c10c394eae", Info, false;
    /// The daemon is stopping (signal or fatal error).
    DaemonStopping = "daemon_stopping", "17ff9464906940aca2e26a1d7d2c06c8", Notice, false;
    /// New state files were loaded and validated.
    StateReloaded = "state_reloaded", "da29b13f37974c0e891a60dcfa2c2165", Info, false;
    /// State files failed validation; the last good state is kept.
    StateRejected = "state_rejected", "7bd3ba212a8e47a9b5fec22dd1d0f084", Err, false;
    /// Uevents were lost (netlink buffer overflow): a full resync follows.
    ResyncAfterOverflow = "resync_after_overflow", "9cd85a06592b48068225edc1033bce04", Warning, true;
    /// A subject is as declared (sent when it becomes so).
    Converged = "converged", "58e710cddb474f16965f8e429f8692e6", Info, true;
    /// A declared session, LUN or map is not (fully) there.
    Missing = "missing", "ea9833fc76e14980a2d1392619a2d0f0", Notice, true;
    /// A device in scope that nothing declares was found.
    UnwantedDevice = "unwanted_device", "61703139ba6849f79b84751e06c3e649", Warning, true;
    /// An unwanted device is in use (holder, mount, swap, open map): never removed.
    RemovalRefusedInUse = "removal_refused_in_use", "f400bc520ef74420a0c7218447660b24", Warning, true;
    /// Removal refused for another reason (blocked path, unreadable WWID).
    RemovalRefused = "removal_refused", "2ef31d28b70a4c3092f60fec9a617c07", Warning, true;
    /// The LUN at a declared address is not the declared WWID.
    WwidMismatch = "wwid_mismatch", "3e197ae171844bcb89aed69b360ac258", Err, true;
    /// Present but unhealthy (offline path, failed session, dead map).
    Degraded = "degraded", "28b7f7ba16f84ceeb036a45b176b0743", Warning, true;
    /// More removals than `policy.blast_radius` allows: none planned.
    BlastRadiusTripped = "blast_radius_tripped", "872d9580dcd5454d9a26694f0a143dfa", Err, true;
    /// About to run a step (the intent, as journaled before acting).
    ActionStarted = "action_started", "6e8611e8486d44c886532f807c77415f", Info, true;
    /// A login, LUN scan or multipath map creation changed the system.
    AttachDone = "attach_done", "a619a646dbc7419d9737f8e4af6bc324", Notice, true;
    /// A login, LUN scan or multipath map creation failed.
    AttachFailed = "attach_failed", "1d14f7f75f0d40cf91645432dc55c38f", Err, true;
    /// SCSI paths were deleted or a multipath map was flushed (removed).
    DeviceRemoved = "device_removed", "11148bfe68ce44b29d4e8252b94d8636", Notice, true;
    /// An iSCSI session was logged out or its node record deleted.
    SessionLoggedOut = "session_logged_out", "4db8077e2c2a4ba3be5d93b1ff08d7e8", Notice, true;
    /// A buffer flush, map flush or queueing change failed: the device is kept.
    FlushFailed = "flush_failed", "aed6803510d9470bb77f603c731eb692", Err, true;
    /// Another step failed (path delete, wait for removal, logout, node delete).
    ActionFailed = "action_failed", "78f913cbf65c411fb8a1203588480e78", Err, true;
    /// Any other step finished (changed, or already converged at debug priority).
    ActionDone = "action_done", "80edb8eafa8b42b7964b7547d3954d04", Info, true;
    /// A step was skipped because a step it depends on failed.
    ActionSkipped = "action_skipped", "8fec19997ceb4a8f898554ff1bfd06fd", Notice, true;
    /// Observe mode (dry run): the step would have changed the system.
    WouldAct = "would_act", "fa36c9dd8c4644eeae7546e53c002174", Notice, true;
    /// Retries for a key are exhausted: it is marked degraded, no more attempts.
    KeyDegraded = "key_degraded", "c08a844a9a8546bea71a110a50d9f747", Err, true;
    /// An action was in flight when lunguard last stopped (no outcome in the journal); the first
    /// pass re-plans it from the kernel's state.
    ActionInterrupted = "action_interrupted", "44b004486ccf49f6bbe6f34218962bd2", Warning, false;
    /// A whole pass could not run (the database failed, the pass panicked); retried with backoff.
    PassFailed = "pass_failed", "44a1d1f2ab9e4c85b4e2824fea5331c4", Err, true;
    /// Alerts of one kind for one subject were suppressed by the rate limit.
    AlertsSuppressed = "alerts_suppressed", "5f1b6969c77e4db691a88a78cc4be5a0", Notice, false;
    /// Under `force`, a removal went on although data may be lost: a flush failed (writeback
    /// error, deadline) and the removal continued, or queueing was disabled on a dead map.
    DataLossForced = "data_loss_forced", "435b2827cfd045e282315a2c73d59bed", Crit, true;
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn message_ids_are_unique_lowercase_128_bit_hex() {
        let mut seen = BTreeSet::new();
        for k in AlertKind::ALL {
            let id = k.message_id();
            assert_eq!(id.len(), 32, "{k}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{k}: {id}"
            );
            assert!(seen.insert(id), "duplicate MESSAGE_ID {id} ({k})");
        }
    }

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<_> = AlertKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), AlertKind::ALL.len());
    }
}

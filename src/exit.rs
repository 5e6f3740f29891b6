//! The process exit codes every command returns, outside the command-line grammar so that the
//! layers below it (state-file checks, the daemon) can name them without importing clap's types.

/// Exit codes, documented in `--help` and docs/cli.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, nothing to report.
    Ok,
    /// 1: done, but there are findings (e.g. `status` saw problems) or input failed validation.
    Findings,
    /// 2: usage error or runtime error (bad flags, a root that does not exist, output failed).
    Error,
    /// 3: the database is damaged, or its filesystem is full at start; nothing was done. The
    /// operator must move it aside (the state files are the source of truth) or free space.
    /// Distinct so that the unit does not restart into the same
    /// refusal (`RestartPreventExitStatus=3`) and scripts can tell it from a transient error.
    DatabaseDamaged,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Findings => 1,
            Self::Error => 2,
            Self::DatabaseDamaged => 3,
        }
    }
}

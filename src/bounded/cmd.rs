//! The one place lunguard runs external programs (`iscsiadm`, `multipath`,
//! `dmsetup`).
//!
//! Argv only, never a shell string; programs are resolved to absolute paths
//! once, at start; every run has a timeout after which the child is killed;
//! stdout and stderr are captured, and a failure carries program, args,
//! exit status and stderr.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where programs are looked for, in order (no `$PATH`: a daemon running as
/// root must not pick up whatever a caller's environment points at).
pub const SEARCH_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// A program resolved to an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    name: String,
    path: PathBuf,
}

impl Program {
    /// Finds `name` in `dirs` (the first executable file wins).
    pub fn find(name: &str, dirs: &[&str]) -> Result<Self, CmdError> {
        use std::os::unix::fs::PermissionsExt;
        dirs.iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .map(|path| Self {
                name: name.to_owned(),
                path,
            })
            .ok_or_else(|| CmdError::NotFound {
                program: name.to_owned(),
                searched: dirs.join(":"),
            })
    }

    /// A program at a given absolute path (tests, or a path from config).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path.file_name().map_or_else(
            || path.to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self { name, path }
    }

    /// Short name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a finished command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Captured stdout (lossy UTF-8).
    pub stdout: String,
    /// Captured stderr (lossy UTF-8).
    pub stderr: String,
}

/// The argv of a command, printed shell-quoted for messages only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<String>);

impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self
            .0
            .iter()
            .map(|a| {
                if !a.is_empty()
                    && a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=@[]+".contains(c))
                {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect();
        f.write_str(&quoted.join(" "))
    }
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// The program is not installed in any searched directory.
    #[error("{program} not found in {searched} (is it installed?)")]
    NotFound {
        /// Program name.
        program: String,
        /// Directories searched.
        searched: String,
    },
    /// The program could not be started.
    #[error("failed to start {argv}: {source}")]
    Spawn {
        /// Full command line.
        argv: Argv,
        /// OS error.
        source: std::io::Error,
    },
    /// The program ran and exited unsuccessfully.
    #[error("{argv} failed with {status}: {}", stderr_or(.stderr, .stdout))]
    Failed {
        /// Full command line.
        argv: Argv,
        /// Exit status.
        status: ExitStatus,
        /// Captured stderr.
        stderr: String,
        /// Captured stdout (some tools report errors there).
        stdout: String,
    },
    /// The program did not finish in time and was killed.
    #[error("{argv} did not finish within {}s and was killed; stderr so far: {}", timeout.as_secs_f32(), stderr_or(.stderr, ""))]
    TimedOut {
        /// Full command line.
        argv: Argv,
        /// The limit.
        timeout: Duration,
        /// Captured stderr up to the kill.
        stderr: String,
    },
}

fn stderr_or(stderr: &str, stdout: &str) -> String {
    let s = stderr.trim();
    let s = if s.is_empty() { stdout.trim() } else { s };
    if s.is_empty() {
        "(no output)".into()
    } else {
        s.to_owned()
    }
}

impl CmdError {
    /// The exit code, if the program exited with one.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Failed { status, .. } => status.code(),
            _ => None,
        }
    }

    /// Whether stdout or stderr mention `needle` (case-insensitive).
    pub fn output_contains(&self, needle: &str) -> bool {
        let n = needle.to_ascii_lowercase();
        match self {
            Self::Failed { stderr, stdout, .. } => {
                stderr.to_ascii_lowercase().contains(&n) || stdout.to_ascii_lowercase().contains(&n)
            }
            Self::TimedOut { stderr, .. } => stderr.to_ascii_lowercase().contains(&n),
            _ => false,
        }
    }
}

/// How often a running child is polled for exit.
const POLL: Duration = Duration::from_millis(10);

/// Runs `program args…` with stdin closed, capturing output, killing it
/// after `timeout`. A non-zero exit is `CmdError::Failed`.
pub fn run(program: &Program, args: &[&str], timeout: Duration) -> Result<Output, CmdError> {
    let argv = Argv(
        std::iter::once(program.path.to_string_lossy().into_owned())
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect(),
    );
    let mut child = Command::new(&program.path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .spawn()
        .map_err(|source| CmdError::Spawn {
            argv: argv.clone(),
            source,
        })?;
    let out = Capture::start(child.stdout.take());
    let err = Capture::start(child.stderr.take());
    let waited = wait_until(&mut child, Instant::now() + timeout, REAP_BOUND);
    // After a normal exit the pipes close and the readers end. After a kill,
    // a grandchild may still hold them: take what was captured, don't wait.
    let status = match waited {
        Waited::Exited(st) => Some(st),
        Waited::Killed => None,
        Waited::Stuck => {
            // Reaped whenever the kernel lets it go, off the caller's thread.
            tracing::warn!(%argv, "killed command is stuck in the kernel; left to a reaper thread");
            thread::spawn(move || {
                let _ = child.wait();
            });
            None
        }
    };
    let finished = status.is_some();
    let stdout = out.finish(finished);
    let stderr = err.finish(finished);
    match status {
        None => Err(CmdError::TimedOut {
            argv,
            timeout,
            stderr,
        }),
        Some(status) if status.success() => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        Some(status) => Err(CmdError::Failed {
            argv,
            status,
            stderr,
            stdout,
        }),
    }
}

/// A pipe drained by a thread into a shared buffer.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: thread::JoinHandle<()>,
}

impl Capture {
    fn start<R: Read + Send + 'static>(pipe: Option<R>) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let thread = thread::spawn(move || {
            let Some(mut p) = pipe else { return };
            let mut chunk = [0u8; 4096];
            // A read error just ends the capture; the exit status still counts.
            while let Ok(n @ 1..) = p.read(&mut chunk) {
                if let Ok(mut b) = sink.lock() {
                    b.extend_from_slice(&chunk[..n]);
                }
            }
        });
        Self { buf, thread }
    }

    fn finish(self, wait: bool) -> String {
        if wait {
            let _ = self.thread.join();
        }
        let bytes = self.buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// How long a killed child gets to be reaped. SIGKILL takes effect only when the process leaves
/// the kernel: one in uninterruptible sleep (`D`, e.g. blocked on a multipath map that queues
/// I/O) stays there, and an unbounded `wait()` would block the runner, and the loop, with it.
const REAP_BOUND: Duration = Duration::from_secs(2);

/// What `wait_until` needs from a child process (a seam: no test can put a real child in `D`).
trait Waitable {
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>>;
    fn kill(&mut self) -> std::io::Result<()>;
}

impl Waitable for Child {
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        Child::try_wait(self)
    }
    fn kill(&mut self) -> std::io::Result<()> {
        Child::kill(self)
    }
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// The child exited by itself.
    Exited(ExitStatus),
    /// Killed at the deadline and reaped.
    Killed,
    /// Killed at the deadline but still not gone after `REAP_BOUND`: stuck in the kernel.
    Stuck,
}

/// Waits for exit until `deadline`; on expiry kills the child and waits at most `reap` for it
/// to go. Never blocks past `deadline + reap`.
fn wait_until(child: &mut impl Waitable, deadline: Instant, reap: Duration) -> Waited {
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Waited::Exited(st),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            _ => break,
        }
    }
    let _ = child.kill();
    let until = Instant::now() + reap;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Waited::Killed,
            Ok(None) if Instant::now() < until => thread::sleep(POLL),
            _ => return Waited::Stuck,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Program {
        Program::find("sh", SEARCH_DIRS).unwrap()
    }

    #[test]
    fn captures_stdout_of_a_success() {
        let out = run(&sh(), &["-c", "echo hello"], Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, "hello\n");
        assert!(out.status.success());
    }

    #[test]
    fn failure_names_program_args_status_and_stderr() {
        let err = run(&sh(), &["-c", "echo x >&2; exit 3"], Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.exit_code(), Some(3));
        let msg = err.to_string();
        assert!(msg.contains("/sh -c 'echo x >&2; exit 3'"), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.ends_with(": x"), "{msg}");
        assert!(err.output_contains("X"));
    }

    #[test]
    fn args_are_never_interpreted_by_a_shell() {
        // `$(...)` reaches the program verbatim as one argument.
        let out = run(
            &sh(),
            &["-c", "printf %s \"$0\"", "$(echo no)"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, "$(echo no)");
    }

    #[test]
    fn a_hung_program_is_killed_at_the_timeout() {
        let sleep = Program::find("sleep", SEARCH_DIRS).unwrap();
        let t0 = Instant::now();
        let err = run(&sleep, &["30"], Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, CmdError::TimedOut { .. }), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(
            err.to_string().contains("did not finish within 0.2s"),
            "{err}"
        );
        // A grandchild keeping the pipes open does not stall the runner.
        let t0 = Instant::now();
        let err = run(
            &sh(),
            &["-c", "echo started >&2; sleep 30"],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(err.to_string().contains("started"), "{err}");
    }

    /// A child that never goes away, even after SIGKILL: what a process in `D` state is.
    struct StuckInTheKernel {
        killed: bool,
    }

    impl Waitable for StuckInTheKernel {
        fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
            Ok(None)
        }
        fn kill(&mut self) -> std::io::Result<()> {
            self.killed = true;
            Ok(())
        }
    }

    #[test]
    fn a_child_stuck_in_d_state_after_the_kill_does_not_block_the_runner() {
        // Issue 7: `child.wait()` after the kill blocked for as long as the child stayed in
        // uninterruptible sleep (a flush on a map queueing I/O), taking the loop with it.
        let mut child = StuckInTheKernel { killed: false };
        let t0 = Instant::now();
        let w = wait_until(
            &mut child,
            Instant::now() + Duration::from_millis(50),
            Duration::from_millis(200),
        );
        assert_eq!(w, Waited::Stuck);
        assert!(child.killed, "killed at the deadline");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }

    #[test]
    fn missing_program_says_where_it_looked() {
        let err = Program::find("no-such-lunguard-tool", &["/nonexistent"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no-such-lunguard-tool not found in /nonexistent (is it installed?)"
        );
    }
}

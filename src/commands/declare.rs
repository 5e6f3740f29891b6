//! `lunguard attach` and `lunguard detach`: the desired state edited one attachment at a time,
//! without hand-written TOML. Each attachment `attach` declares is its own file, `NAME.toml` in
//! the state directory, so `detach` removes exactly what `attach` wrote and never rewrites a file
//! an operator edited.
//!
//! Nothing is written that the daemon would reject: the directory is compiled as it would be
//! after the change (every file, the rules across files, the scope) and the change is refused
//! with the loader's own `file:line:column` errors otherwise — a rejected directory would keep
//! the last good state in force and the change would silently not happen. The file appears
//! whole or not at all (a temporary file, fsynced, then linked into place, which also refuses to
//! replace a file that appeared meanwhile), owned by root when run as root, mode 0644.

mod wait;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::{CommandError, EngineArgs, load_config};
use crate::cli::{AttachArgs, DeclareOpts, DetachArgs};
use crate::config::{Config, Ownership};
use crate::desire::{Compiled, StateFile, check_text, compile_files, read_state_dir};
use crate::exit::Exit;
use crate::model::{Iqn, rfc3339};

pub use wait::Goal;

/// Runs `attach`: exit 0 written (and, with `--wait`, converged); 1 refused (with the errors)
/// or not converged in time (with the reason); 2 could not run.
pub fn attach(args: &AttachArgs, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let Some(stem) = file_stem(&args.name) else {
        writeln!(
            out,
            "not written: attach writes NAME.toml, so NAME {:?} must be letters, digits, '.', '_' and '-', at most 128, not starting with '.'",
            args.name
        )?;
        return Ok(Exit::Findings);
    };
    let cfg = config(&args.common)?;
    let path = cfg.state_dir.join(format!("{stem}.toml"));
    let text = render(args)?;
    let (mut files, read_errors) = read_state_dir(&cfg.state_dir, Ownership::for_this_process());
    if let Some(existing) = files.iter().find(|f| f.path == path) {
        let wanted = check_text(&path, &text, &cfg.scope).attachments;
        let same = !wanted.is_empty()
            && check_text(&existing.path, &existing.text, &cfg.scope).attachments == wanted;
        if !same {
            writeln!(
                out,
                "not written: {} exists and declares something else; `lunguard detach {}` first, or edit it",
                path.display(),
                args.name
            )?;
            return Ok(Exit::Findings);
        }
        writeln!(
            out,
            "{} already declares {} as given; nothing written",
            path.display(),
            args.name
        )?;
    } else {
        files.push(StateFile {
            path: path.clone(),
            text: text.clone(),
        });
        let after = compile_files(&files, read_errors, &cfg.scope);
        if refused(&after, "not written", out)? {
            return Ok(Exit::Findings);
        }
        write_new(&cfg.state_dir, &path, &text)?;
        writeln!(
            out,
            "wrote {}: {} = {} LUN {} via {}",
            path.display(),
            args.name,
            args.target,
            args.lun,
            args.portals.join(", ")
        )?;
    }
    if !args.common.wait {
        writeln!(
            out,
            "a running daemon attaches it (lunguard status / lunguard plan show progress)"
        )?;
        return Ok(Exit::Ok);
    }
    wait::until(
        &cfg,
        &Goal::Converged {
            name: args.name.clone(),
        },
        args.common.timeout,
        out,
    )
}

/// Runs `detach`: exit 0 removed (or not declared) and, with `--wait`, gone; 1 refused or not
/// gone in time, with the reason; 2 could not run.
pub fn detach(args: &DetachArgs, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let cfg = config(&args.common)?;
    let (files, read_errors) = read_state_dir(&cfg.state_dir, Ownership::for_this_process());
    let mine = file_stem(&args.name)
        .map(|stem| cfg.state_dir.join(format!("{stem}.toml")))
        .and_then(|p| files.iter().find(|f| f.path == p));
    let Some(file) = mine else {
        // Not a file of ours: declared by hand somewhere, or not at all.
        if let Some(f) = files.iter().find(|f| {
            declared(&f.path, &f.text, &cfg)
                .iter()
                .any(|a| a.0 == args.name)
        }) {
            writeln!(
                out,
                "not removed: {} is declared in {}, which `lunguard attach` did not write; remove it there",
                args.name,
                f.path.display()
            )?;
            return Ok(Exit::Findings);
        }
        writeln!(out, "{} is not declared; nothing to remove", args.name)?;
        return Ok(Exit::Ok);
    };
    let decl = declared(&file.path, &file.text, &cfg);
    let [(name, target, lun)] = decl.as_slice() else {
        writeln!(
            out,
            "not removed: {} declares {} attachment(s), not just {}; edit it by hand",
            file.path.display(),
            decl.len(),
            args.name
        )?;
        return Ok(Exit::Findings);
    };
    if name != &args.name {
        writeln!(
            out,
            "not removed: {} declares {name}, not {}; edit it by hand",
            file.path.display(),
            args.name
        )?;
        return Ok(Exit::Findings);
    }
    let path = file.path.clone();
    let rest: Vec<StateFile> = files.iter().filter(|f| f.path != path).cloned().collect();
    let after = compile_files(&rest, read_errors, &cfg.scope);
    if refused(&after, "not removed", out)? {
        return Ok(Exit::Findings);
    }
    fs::remove_file(&path).map_err(|source| CommandError::File {
        action: "remove",
        path: path.clone(),
        source,
    })?;
    sync_dir(&cfg.state_dir)?;
    writeln!(
        out,
        "removed {}: {name} = {target} LUN {lun}",
        path.display()
    )?;
    if !args.common.wait {
        writeln!(
            out,
            "a running daemon flushes and removes it (lunguard status / lunguard plan show progress)"
        )?;
        return Ok(Exit::Ok);
    }
    wait::until(
        &cfg,
        &Goal::Gone {
            name: name.clone(),
            target: target.clone(),
            lun: *lun,
        },
        args.common.timeout,
        out,
    )
}

fn config(o: &DeclareOpts) -> Result<Config, CommandError> {
    load_config(&EngineArgs {
        config: o.config.clone(),
        state_dir: o.state_dir.clone(),
        ..EngineArgs::default()
    })
}

/// NAME as a file stem: the loader would ignore a dotfile, and a '/' would leave the directory.
fn file_stem(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(name)
}

/// (name, target, LUN) of each attachment a file declares validly.
fn declared(path: &Path, text: &str, cfg: &Config) -> Vec<(String, Iqn, u64)> {
    check_text(path, text, &cfg.scope)
        .attachments
        .into_iter()
        .map(|a| (a.name, a.target, a.lun))
        .collect()
}

/// Prints the errors of a directory that would be rejected; `true` when there are any.
fn refused(after: &Compiled, verdict: &str, out: &mut dyn Write) -> io::Result<bool> {
    if after.errors.is_empty() {
        return Ok(false);
    }
    writeln!(
        out,
        "{verdict}: the state directory would be rejected (the daemon would keep the last good state, so the change would not happen):"
    )?;
    for e in after.errors.iter() {
        writeln!(out, "  {e}")?;
    }
    Ok(true)
}

/// The state file for one attachment, as `lunguard check` documents the format.
fn render(args: &AttachArgs) -> Result<String, CommandError> {
    #[derive(Serialize)]
    struct File<'a> {
        attachment: [Entry<'a>; 1],
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        name: &'a str,
        transport: &'a str,
        target: &'a str,
        portals: &'a [String],
        lun: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        wwid: Option<&'a str>,
        multipath: bool,
    }
    let body = toml::to_string(&File {
        attachment: [Entry {
            name: &args.name,
            transport: "iscsi",
            target: &args.target,
            portals: &args.portals,
            lun: args.lun,
            wwid: args.wwid.as_deref(),
            multipath: !args.no_multipath,
        }],
    })
    .map_err(|e| CommandError::File {
        action: "render",
        path: PathBuf::from(format!("{}.toml", args.name)),
        source: io::Error::other(e),
    })?;
    Ok(format!(
        "# Written by `lunguard attach` at {}; `lunguard detach {}` removes it.\n{body}",
        rfc3339(SystemTime::now()),
        args.name
    ))
}

/// Creates `path` with `text`, whole or not at all: a temporary file in the same directory
/// (ignored by the loader: a dotfile ending in .tmp), fsynced, mode 0644, root's when run as
/// root; then `link`ed to its name, which fails rather than replace a file that appeared
/// since the check; then the directory is fsynced.
fn write_new(dir: &Path, path: &Path, text: &str) -> Result<(), CommandError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let err = |action, p: &Path| {
        let p = p.to_owned();
        move |source| CommandError::File {
            action,
            path: p,
            source,
        }
    };
    let written = (|| {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(err("create", &tmp))?;
        // The umask may have taken bits away; the loader wants exactly this.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(err("chmod", &tmp))?;
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::fchown(&f, Some(0), Some(0)).map_err(err("chown", &tmp))?;
        }
        f.write_all(text.as_bytes()).map_err(err("write", &tmp))?;
        f.sync_all().map_err(err("sync", &tmp))?;
        fs::hard_link(&tmp, path).map_err(err("create", path))
    })();
    let _ = fs::remove_file(&tmp);
    written?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), CommandError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| CommandError::File {
            action: "sync",
            path: dir.to_owned(),
            source,
        })
}

//! Renders every generated documentation file in memory: the man pages (clap_mangen from the
//! clap grammar in src/cli.rs, the two file-format pages from docs/config.md and
//! docs/state-files.md) and the bash, zsh and fish completions (clap_complete).
//!
//! Shared by `cargo run --example gen_docs`, which writes them, and tests/generated_docs.rs,
//! which fails when a checked-in copy is stale. Pure apart from reading the two docs.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use lunguard::cli::Cli;

#[path = "md2roff.rs"]
mod md2roff;

/// The command that rewrites the checked-in files; named in the test's failure message.
pub const REFRESH: &str = "cargo run --example gen_docs";

/// Directory of the man pages, relative to the crate root.
pub const MAN_DIR: &str = "docs/man";
/// Directory of the completions, relative to the crate root.
pub const COMPLETIONS_DIR: &str = "docs/completions";

/// The file-format pages: (page name, source under docs/, one-line description).
const FORMAT_PAGES: &[(&str, &str, &str)] = &[
    (
        "lunguard.toml",
        "config.md",
        "configuration file of the lunguard storage device guard",
    ),
    (
        "lunguard-state",
        "state-files.md",
        "state files declaring the LUNs a lunguard host must have",
    ),
];

/// Every generated file: its path relative to `root` (the crate) and its contents.
pub fn all(root: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = man_pages()?;
    for (name, source, what) in FORMAT_PAGES {
        let path = root.join("docs").join(source);
        let markdown = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        files.push((
            Path::new(MAN_DIR).join(format!("{name}.5")),
            format_page(name, what, &markdown).into_bytes(),
        ));
    }
    files.extend(completions()?);
    Ok(files)
}

/// The grammar as the man pages and completions see it: the plain version (`--version`'s
/// commit would change every page at every commit) and no `help` subcommand page.
fn command() -> clap::Command {
    let mut cmd = Cli::command()
        .long_version(None)
        .disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `lunguard(8)` and `lunguard-<subcommand>(8)` for each subcommand.
fn man_pages() -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let cmd = command();
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| format!("lunguard-{}", s.get_name()))
        .collect();
    let mut pages = Vec::new();
    let mut top = render_man(cmd.clone())?;
    top.push_str(&files_section());
    let mut see_also: Vec<String> = subcommands.iter().map(|s| format!("{s}(8)")).collect();
    see_also.extend(
        [
            "lunguard.toml(5)",
            "lunguard-state(5)",
            "systemd.service(5)",
            "journalctl(1)",
        ]
        .map(String::from),
    );
    top.push_str(&see_also_section(&see_also));
    pages.push((Path::new(MAN_DIR).join("lunguard.8"), top.into_bytes()));
    for sub in cmd.get_subcommands() {
        let name = format!("lunguard-{}", sub.get_name());
        let mut page = render_man(sub.clone().display_name(&name))?;
        page.push_str(&see_also_section(&[
            "lunguard(8)".to_owned(),
            "lunguard.toml(5)".to_owned(),
            "lunguard-state(5)".to_owned(),
        ]));
        pages.push((
            Path::new(MAN_DIR).join(format!("{name}.8")),
            page.into_bytes(),
        ));
    }
    Ok(pages)
}

fn render_man(cmd: clap::Command) -> Result<String, String> {
    let version = cmd
        .get_version()
        .unwrap_or(env!("CARGO_PKG_VERSION"))
        .to_owned();
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .source(format!("lunguard {version}"))
        .manual("System Administration");
    let mut out = Vec::new();
    man.render(&mut out)
        .map_err(|e| format!("cannot render a man page: {e}"))?;
    let page = String::from_utf8(out).map_err(|e| format!("man page is not UTF-8: {e}"))?;
    // clap_mangen names the after_help text "EXTRA"; ours is the exit codes, which man(7)
    // calls EXIT STATUS.
    Ok(page.replace(".SH EXTRA\n", ".SH \"EXIT STATUS\"\n"))
}

fn files_section() -> String {
    let entries = [
        (
            "/etc/lunguard/lunguard.toml",
            "configuration; see lunguard.toml(5)",
        ),
        (
            "/etc/lunguard/state.d/*.toml",
            "state files declaring the attachments; see lunguard-state(5)",
        ),
        (
            "/var/lib/lunguard/db",
            "database: last good desired state, first-seen times, action journal",
        ),
        ("/run/lunguard", "control socket and removal markers"),
        (
            "/usr/share/doc/lunguard",
            "operations guide, alert reference and the other documentation",
        ),
    ];
    let mut s = String::from(".SH FILES\n");
    for (path, what) in entries {
        s.push_str(&format!(
            ".TP\n\\fI{}\\fR\n{what}\n",
            path.replace('-', "\\-")
        ));
    }
    s
}

fn see_also_section(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| {
            let (name, section) = p.split_once('(').unwrap_or((p, ")"));
            format!("\\fB{}\\fR({section}", name.replace('-', "\\-"))
        })
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(",\n"))
}

/// A section-5 page from a docs/ reference.
fn format_page(name: &str, what: &str, markdown: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut s = format!(
        ".TH {} 5 \"\" \"lunguard {version}\" \"File Formats\"\n.SH NAME\n{} \\- {what}\n",
        name.to_uppercase(),
        name.replace('-', "\\-")
    );
    s.push_str(&md2roff::convert(markdown));
    s.push_str(&see_also_section(&[
        "lunguard(8)".to_owned(),
        "lunguard-check(8)".to_owned(),
        if name == "lunguard.toml" {
            "lunguard-state(5)"
        } else {
            "lunguard.toml(5)"
        }
        .to_owned(),
    ]));
    s
}

/// bash, zsh and fish completions, named as those shells' vendor directories expect.
fn completions() -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "lunguard.bash"),
        (Shell::Zsh, "_lunguard"),
        (Shell::Fish, "lunguard.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command(), "lunguard", &mut out);
        files.push((Path::new(COMPLETIONS_DIR).join(file), out));
    }
    Ok(files)
}

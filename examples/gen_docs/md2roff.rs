//! Markdown to man(7) roff, for the subset docs/config.md and docs/state-files.md use:
//! headings, paragraphs, `-` lists (with indented continuation lines and code blocks),
//! fenced code blocks, pipe tables, and inline code, bold, italic and links.
//!
//! Tables become tagged paragraphs (`.TP`): the first column is the tag, the middle columns
//! "header: value", the last the text. Man pages are read in an 80-column terminal, where a
//! three-column table with a paragraph in its last cell wraps badly; a tagged list does not.
//! Sections named "For the code" are left out: they are for developers, not operators.

/// Sections dropped from man pages.
const SKIPPED_SECTIONS: &[&str] = &["For the code"];

/// Converts `markdown` to roff lines (no `.TH`, no NAME: the caller writes those). The first
/// `#` heading is dropped (it is the page's title); the text under it becomes DESCRIPTION.
pub fn convert(markdown: &str) -> String {
    let mut out = Vec::<String>::new();
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    let mut skipping = false;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("# ") {
            out.push(".SH DESCRIPTION".to_owned());
            i += 1;
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            skipping = SKIPPED_SECTIONS.contains(&title.trim());
            if !skipping {
                out.push(format!(".SH {}", quote(&plain(title).to_uppercase())));
            }
            i += 1;
            continue;
        }
        if skipping {
            i += 1;
            continue;
        }
        if let Some(title) = line.strip_prefix("### ") {
            out.push(format!(".SS {}", quote(&plain(title))));
            i += 1;
        } else if line.trim().is_empty() {
            i += 1;
        } else if line.starts_with("```") {
            i = code_block(&lines, i, 0, &mut out);
        } else if line.starts_with('|') {
            i = table(&lines, i, &mut out);
        } else if line.starts_with("- ") {
            i = list(&lines, i, &mut out);
        } else {
            let start = i;
            while i < lines.len() && is_paragraph_line(lines[i]) {
                i += 1;
            }
            out.push(".PP".to_owned());
            out.push(text_line(&lines[start..i].join(" ")));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn is_paragraph_line(line: &str) -> bool {
    !(line.trim().is_empty()
        || line.starts_with('#')
        || line.starts_with("```")
        || line.starts_with('|')
        || line.starts_with("- "))
}

/// A fenced block starting at `lines[i]`, indented by `indent`; returns the next line's index.
fn code_block(lines: &[&str], mut i: usize, indent: usize, out: &mut Vec<String>) -> usize {
    i += 1; // the opening fence
    out.push(".PP".to_owned());
    out.push(".RS 4".to_owned());
    out.push(".nf".to_owned());
    while i < lines.len() && !lines[i].trim_start().starts_with("```") {
        let line = lines[i]
            .get(indent..)
            .unwrap_or_else(|| lines[i].trim_start());
        out.push(escape_line(&escape(line).replace('-', "\\-")));
        i += 1;
    }
    out.push(".fi".to_owned());
    out.push(".RE".to_owned());
    i + 1 // the closing fence
}

/// A pipe table: header, separator, rows; as tagged paragraphs (see the module comment).
fn table(lines: &[&str], mut i: usize, out: &mut Vec<String>) -> usize {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let header = cells(lines[i]);
    i += 2; // header and |---|---|
    while i < lines.len() && lines[i].starts_with('|') {
        let row = cells(lines[i]);
        out.push(".TP".to_owned());
        out.push(text_line(row.first().map_or("", String::as_str)));
        let mut body = Vec::new();
        let last = row.len().saturating_sub(1);
        for (n, cell) in row.iter().enumerate().skip(1) {
            if n == last {
                body.push(cell.clone());
            } else {
                let name = header.get(n).map_or("", String::as_str);
                body.push(format!("{}: {cell}.", capitalise(name)));
            }
        }
        out.push(text_line(&body.join(" ")));
        i += 1;
    }
    i
}

/// A `-` list; items continue on lines indented by two spaces, which may hold a code block.
fn list(lines: &[&str], mut i: usize, out: &mut Vec<String>) -> usize {
    while i < lines.len() && lines[i].starts_with("- ") {
        out.push(".IP \\(bu 2".to_owned());
        let mut text = vec![&lines[i][2..]];
        i += 1;
        loop {
            if i >= lines.len() {
                break;
            }
            let line = lines[i];
            if line.starts_with("  ") && line.trim_start().starts_with("```") {
                if !text.is_empty() {
                    out.push(text_line(&text.join(" ")));
                    text.clear();
                }
                i = code_block(lines, i, 2, out);
                out.push(".IP \"\" 2".to_owned());
            } else if line.starts_with("  ") {
                text.push(line.trim());
                i += 1;
            } else if line.trim().is_empty()
                && lines.get(i + 1).is_some_and(|l| l.starts_with("  "))
            {
                i += 1; // a blank line inside an item
                if !text.is_empty() {
                    out.push(text_line(&text.join(" ")));
                    text.clear();
                }
            } else {
                break;
            }
        }
        if !text.is_empty() {
            out.push(text_line(&text.join(" ")));
        }
        while i < lines.len()
            && lines[i].trim().is_empty()
            && lines.get(i + 1).is_some_and(|l| l.starts_with("- "))
        {
            i += 1;
        }
    }
    out.push(".PP".to_owned());
    i
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A `.SH`/`.SS` argument in double quotes.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\(dq"))
}

/// Heading text without inline markup.
fn plain(s: &str) -> String {
    s.replace('`', "")
}

/// Roff's escape character and the characters that would start a request at a line's start.
fn escape(s: &str) -> String {
    s.replace('\\', "\\e")
}

fn escape_line(s: &str) -> String {
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s.to_owned()
    }
}

/// One filled text line with inline markup turned into font changes.
fn text_line(s: &str) -> String {
    escape_line(&inline(s))
}

/// `code` and **bold** bold, *italic* italic, [text](target) as text plus where it points.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().collect();
        if chars[i] == '`'
            && let Some(end) = rest[1..].find('`')
        {
            let code = &rest[1..1 + end];
            out.push_str(&format!("\\fB{}\\fR", escape(code).replace('-', "\\-")));
            i += 1 + code.chars().count() + 1;
        } else if rest.starts_with("**")
            && let Some(end) = rest[2..].find("**")
        {
            out.push_str(&format!("\\fB{}\\fR", inline(&rest[2..2 + end])));
            i += 2 + rest[2..2 + end].chars().count() + 2;
        } else if chars[i] == '*'
            && let Some(end) = rest[1..].find('*')
            && end > 0
        {
            out.push_str(&format!("\\fI{}\\fR", inline(&rest[1..1 + end])));
            i += 1 + rest[1..1 + end].chars().count() + 1;
        } else if chars[i] == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            let text = &rest[1..close];
            let target = &rest[close + 2..close + end];
            match link_target(target) {
                // "[state-files.md](state-files.md)": the page's name says it all.
                Some(page) if text.trim_matches('`') == target => out.push_str(&page),
                Some(page) => out.push_str(&format!("{} ({page})", inline(text))),
                None => out.push_str(&inline(text)),
            }
            i += rest[..close + end + 1].chars().count();
        } else {
            match chars[i] {
                '\\' => out.push_str("\\e"),
                c => out.push(c),
            }
            i += 1;
        }
    }
    out
}

/// Where a link points, as a reader of the installed man page can follow it: the two file
/// format pages by name, the other docs where the package installs them, anchors inside the
/// page as nothing.
fn link_target(target: &str) -> Option<String> {
    let file = target.split('#').next().unwrap_or("");
    match file {
        "" => None,
        "config.md" => Some("lunguard.toml(5)".to_owned()),
        "state-files.md" => Some("lunguard-state(5)".to_owned()),
        f if f.ends_with(".md") && !f.contains('/') => Some(format!("/usr/share/doc/lunguard/{f}")),
        f if f.starts_with("../state/") => Some(format!(
            "/usr/share/doc/lunguard/examples/{}",
            f.trim_start_matches("../state/")
        )),
        f => Some(f.to_owned()),
    }
}

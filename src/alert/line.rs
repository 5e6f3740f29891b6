//! The one-line text form of an alert: what the stderr fallback writes when
//! journald is not there, and what `demo` prints. It carries the same fields
//! journald would get, so `grep MESSAGE_ID=…` works on either.

use std::fmt::Write as _;

use super::{Alert, field};

/// `lunguard: <message> MESSAGE_ID=… PRIORITY=… LUNGUARD_KIND=… HCTL=… …`
///
/// Always one line: control characters in the message are escaped, and a
/// value is double-quoted (with `\"`, `\\`, `\n`, `\t` escapes) when it is
/// empty or contains whitespace, quotes, backslashes or control characters.
pub fn format_line(alert: &Alert) -> String {
    let mut out = format!("{}: {}", field::IDENTIFIER, escape(&alert.message));
    for (name, value) in alert.journal_fields() {
        if name == field::MESSAGE || name == field::SYSLOG_IDENTIFIER {
            continue;
        }
        let _ = write!(out, " {name}={}", quote(&value));
    }
    out
}

fn needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
}

fn quote(value: &str) -> String {
    if needs_quotes(value) {
        let mut s = String::with_capacity(value.len() + 2);
        s.push('"');
        for c in value.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                _ => push_escaped(&mut s, c),
            }
        }
        s.push('"');
        s
    } else {
        value.to_owned()
    }
}

fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut s, c);
    }
    s
}

fn push_escaped(s: &mut String, c: char) {
    match c {
        '\n' => s.push_str("\\n"),
        '\t' => s.push_str("\\t"),
        '\r' => s.push_str("\\r"),
        c if c.is_control() => {
            let _ = write!(s, "\\u{{{:x}}}", c as u32);
        }
        c => s.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;

    #[test]
    fn quotes_values_with_spaces_and_keeps_one_line() {
        let a = Alert::new(AlertKind::FlushFailed, "flush map a failed:\nin use")
            .with(field::HCTL, "3:0:0:2")
            .with(field::ERROR, "map \"a\" in use")
            .with(field::REASON, "");
        let line = format_line(&a);
        assert!(!line.contains('\n'));
        assert_eq!(
            line,
            "lunguard: flush map a failed:\\nin use MESSAGE_ID=aed6803510d9470bb77f603c731eb692 \
             PRIORITY=3 LUNGUARD_KIND=flush_failed HCTL=3:0:0:2 ERROR=\"map \\\"a\\\" in use\" REASON=\"\""
        );
    }
}

//! The two configuration grammars the audit reads: open-iscsi's `key = value` lines
//! (iscsid.conf, node records) and multipath's sections (`multipath -t`, multipath.conf).

use std::collections::BTreeMap;

/// `key = value` settings with their 1-based line; the last one of a key wins, as in
/// open-iscsi. Comments (`#`) and blank lines are skipped.
pub fn parse_iscsi(text: &str) -> BTreeMap<String, (String, usize)> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.insert(k.trim().to_owned(), (v.trim().to_owned(), i + 1));
        }
    }
    out
}

/// What the audit needs of a multipath configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipathConfig {
    /// `defaults { key value }`, values unquoted.
    pub defaults: BTreeMap<String, String>,
    /// `overrides { key value }`: win over every device's settings.
    pub overrides: BTreeMap<String, String>,
    /// `blacklist { wwid "…" }` patterns.
    pub blacklist_wwids: Vec<String>,
    /// `blacklist { devnode "…" }` patterns.
    pub blacklist_devnodes: Vec<String>,
}

impl MultipathConfig {
    /// The effective value of a default: `overrides` first, then `defaults`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.overrides
            .get(key)
            .or_else(|| self.defaults.get(key))
            .map(String::as_str)
    }
}

/// Parses multipath's configuration syntax: sections `name {` … `}`, nested (`devices {
/// device { … } }`), `key value` lines, `#` and `!` comments, double-quoted values.
pub fn parse_multipath_config(text: &str) -> MultipathConfig {
    let mut cfg = MultipathConfig::default();
    let mut stack: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.split(['#', '!']).next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if line == "}" {
            stack.pop();
            continue;
        }
        if let Some(section) = line.strip_suffix('{') {
            stack.push(section.trim().to_owned());
            continue;
        }
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim().trim_matches('"').to_owned()),
            None => (line, String::new()),
        };
        match stack
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["defaults"] => {
                cfg.defaults.insert(key.to_owned(), value);
            }
            ["overrides"] => {
                cfg.overrides.insert(key.to_owned(), value);
            }
            ["blacklist"] if key == "wwid" => cfg.blacklist_wwids.push(value),
            ["blacklist"] if key == "devnode" => cfg.blacklist_devnodes.push(value),
            _ => {}
        }
    }
    cfg
}

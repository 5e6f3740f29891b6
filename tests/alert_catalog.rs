//! systemd/lunguard.catalog and `AlertKind` agree: every MESSAGE_ID in the
//! code has a catalog entry and every entry is a MESSAGE_ID in the code;
//! ids are unique 32-digit lowercase hex; every entry has the headers
//! `journalctl --update-catalog` and operators rely on.

// Helpers outside #[test] fns unwrap fixed test data too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use lunguard::alert::AlertKind;

struct Entry {
    id: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn catalog() -> Vec<Entry> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/lunguard.catalog");
    let text = std::fs::read_to_string(path).unwrap();
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_headers = false;
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("-- ") {
            entries.push(Entry {
                id: id.trim().to_owned(),
                headers: vec![],
                body: String::new(),
            });
            in_headers = true;
        } else if let Some(e) = entries.last_mut() {
            if in_headers && line.is_empty() {
                in_headers = false;
            } else if in_headers {
                let (k, v) = line.split_once(':').expect("header is Key: value");
                e.headers.push((k.to_owned(), v.trim().to_owned()));
            } else {
                e.body.push_str(line);
                e.body.push('\n');
            }
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "text before the first entry: {line}"
            );
        }
    }
    entries
}

#[test]
fn every_message_id_has_a_catalog_entry_and_vice_versa() {
    let entries = catalog();
    let in_catalog: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let unique: BTreeSet<&str> = in_catalog.iter().copied().collect();
    assert_eq!(unique.len(), in_catalog.len(), "duplicate catalog entries");
    let in_code: BTreeSet<&str> = AlertKind::ALL.iter().map(|k| k.message_id()).collect();
    assert_eq!(
        in_code.len(),
        AlertKind::ALL.len(),
        "duplicate MESSAGE_IDs in code"
    );
    for k in AlertKind::ALL {
        assert!(
            unique.contains(k.message_id()),
            "{k} ({}) has no catalog entry",
            k.message_id()
        );
    }
    for id in &unique {
        assert!(
            in_code.contains(id),
            "catalog entry {id} matches no AlertKind"
        );
    }
}

#[test]
fn ids_are_32_lowercase_hex() {
    for e in catalog() {
        assert_eq!(e.id.len(), 32, "{}", e.id);
        assert!(
            e.id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{}",
            e.id
        );
    }
}

#[test]
fn every_entry_has_subject_defined_by_documentation_and_a_body() {
    for e in catalog() {
        let h = |k: &str| {
            e.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert!(
            h("Subject").is_some_and(|s| !s.is_empty()),
            "{}: Subject",
            e.id
        );
        assert_eq!(h("Defined-By"), Some("lunguard"), "{}", e.id);
        assert!(h("Documentation").is_some(), "{}: Documentation", e.id);
        assert!(
            e.body.trim().len() > 40,
            "{}: body explains what happened and what to do",
            e.id
        );
    }
}

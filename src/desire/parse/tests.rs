use super::*;
use crate::config::Scope;
use crate::desire::validate::validate;

const GOOD: &str = r#"
[[attachment]]
name = "vol-1"
transport = "iscsi"
target = "iqn.2003-01.org.linux-iscsi.t:sn.1"
portals = ["192.0.2.10:3260", "[2001:db8::10]"]
lun = 1
wwid = "naa.6001405ABCDEF"
on_unexpected = "alert"
force = true
"#;

fn parse(text: &str) -> (Vec<Declared>, Vec<Diagnostic>) {
    parse_file(Path::new("s/a.toml"), text)
}

/// Replaces `line` of GOOD (by its key) with `with` and returns the one error.
fn error_with(key: &str, with: &str) -> Diagnostic {
    let text: String = GOOD
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                with.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (_, errors) = parse(&text);
    assert_eq!(errors.len(), 1, "{key}: {errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn good_table_gives_a_validated_attachment() {
    let (d, errors) = parse(GOOD);
    assert!(errors.is_empty(), "{errors:#?}");
    let a = d[0].attachment.as_ref().unwrap();
    assert_eq!(a.name, "vol-1");
    assert_eq!(a.portals.len(), 2);
    assert_eq!(a.portals[1].to_string(), "[2001:db8::10]:3260");
    assert!(a.multipath, "multipath defaults to true");
    assert_eq!(
        a.wwid.as_ref().unwrap().as_str(),
        "naa.6001405abcdef",
        "naa hex lower-cased"
    );
    assert_eq!(a.policy.on_unexpected, Some(OnUnexpected::Alert));
    assert_eq!(a.policy.force, Some(true));
    assert_eq!((d[0].name_pos.line, d[0].name_pos.column), (3, 8));
}

#[test]
fn all_fields_are_known_and_optional_ones_may_go() {
    let minimal = "[[attachment]]\nname = \"a\"\ntransport = \"iscsi\"\ntarget = \"iqn.2001-04.com.example:t\"\nportals = [\"192.0.2.1\"]\nlun = 0\n";
    let (d, errors) = parse(minimal);
    assert!(errors.is_empty(), "{errors:#?}");
    let a = d[0].attachment.as_ref().unwrap();
    assert_eq!(
        (a.wwid.as_ref(), a.multipath, a.policy),
        (None, true, PolicyOverrides::default())
    );
}

#[test]
fn empty_file_declares_nothing() {
    assert!(parse("# nothing attached\n").0.is_empty());
    assert!(parse("").1.is_empty());
}

#[test]
fn syntax_error_points_at_it() {
    let (_, e) = parse("[[attachment]]\nname = \"a\nlun = 1\n");
    assert!(!e.is_empty());
    assert_eq!(e[0].line, Some(2), "{e:#?}");
}

#[test]
fn unknown_field_with_suggestion_each_reported() {
    let text = GOOD.replace("force = true", "forse = true\nmultipth = false");
    let (_, e) = parse(&text);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e.iter().any(
            |d| d.message.contains("\"forse\"") && d.message.contains("did you mean \"force\"")
        )
    );
    assert!(
        e.iter()
            .any(|d| d.message.contains("\"multipth\"") && d.line == Some(11))
    );
}

#[test]
fn unknown_top_level_key() {
    let (_, e) = parse(&format!("attachments = 1\n{GOOD}"));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].message.contains("did you mean \"attachment\""),
        "{}",
        e[0]
    );
}

#[test]
fn single_bracket_table_is_explained() {
    let (_, e) = parse(&GOOD.replace("[[attachment]]", "[attachment]"));
    assert!(
        e[0].message.contains("[[attachment]] (double brackets)"),
        "{e:#?}"
    );
}

#[test]
fn missing_required_field() {
    let (_, e) = parse(&GOOD.replace("lun = 1\n", ""));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].message.contains("missing the required field `lun`"),
        "{}",
        e[0]
    );
    assert_eq!(e[0].line, Some(2), "points at the [[attachment]] header");
}

#[test]
fn wrong_type() {
    let d = error_with("lun", "lun = \"1\"");
    assert!(d.message.contains("field `lun`"), "{d}");
    assert_eq!((d.line, d.column), (Some(7), Some(7)));
    assert!(
        error_with("force", "multipath = \"yes\"")
            .message
            .contains("field `multipath`")
    );
}

#[test]
fn bad_iqn() {
    let d = error_with("target", "target = \"iqn.2003-13.org.x\"");
    assert!(d.message.contains("YYYY-MM"), "{d}");
    assert_eq!((d.line, d.column), (Some(5), Some(10)));
}

#[test]
fn bad_portal_each_reported() {
    let (_, e) = parse(&GOOD.replace(
        "\"[2001:db8::10]\"",
        "\"host.example:3260\", \"192.0.2.11:70000\"",
    ));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].message.contains("not an IP address"));
    assert!(e[1].message.contains("port must be"));
}

#[test]
fn empty_portals() {
    assert!(
        error_with("portals", "portals = []")
            .message
            .contains("portals is empty")
    );
}

#[test]
fn duplicate_portal() {
    let d = error_with("portals", "portals = [\"192.0.2.10\", \"192.0.2.10:3260\"]");
    assert!(d.message.contains("listed twice"), "{d}");
}

#[test]
fn bad_wwid() {
    assert!(error_with("wwid", "wwid = \"\"").message.contains("empty"));
    let d = error_with("wwid", "wwid = \"36001405abcdef\"");
    assert!(
        d.message.contains("naa.6001405abcdef"),
        "multipath form gets a hint: {d}"
    );
    assert!(
        error_with("wwid", "wwid = \"naa.60014zz\"")
            .message
            .contains("hex")
    );
}

#[test]
fn bad_name() {
    assert!(
        error_with("name", "name = \"vol 1\"")
            .message
            .contains("without spaces")
    );
    assert!(
        error_with("name", "name = \"\"")
            .message
            .contains("invalid attachment name")
    );
}

#[test]
fn transport_only_iscsi_for_now() {
    assert!(
        error_with("transport", "transport = \"fc\"")
            .message
            .contains("not supported yet")
    );
    assert!(
        error_with("transport", "transport = \"nvme\"")
            .message
            .contains("unknown transport")
    );
}

#[test]
fn bad_on_unexpected() {
    let d = error_with("on_unexpected", "on_unexpected = \"delete\"");
    assert!(
        d.message.contains("remove") && d.message.contains("alert"),
        "{d}"
    );
}

#[test]
fn several_portals_need_multipath() {
    let d = error_with("force", "multipath = false");
    assert!(
        d.message
            .contains("set multipath = true or list one portal"),
        "{d}"
    );
}

#[test]
fn all_errors_of_one_table_are_reported() {
    let text = "[[attachment]]\nname = \"a b\"\ntransport = \"fc\"\ntarget = \"x\"\nportals = []\nlun = -1\nwwid = \"36\"\n";
    let (d, e) = parse(text);
    assert_eq!(e.len(), 6, "{e:#?}");
    assert!(
        d[0].attachment.is_none(),
        "an invalid table gives no attachment"
    );
}

fn cross(files: &[(&str, &str)], scope: &Scope) -> Vec<Diagnostic> {
    let mut declared = Vec::new();
    for (name, text) in files {
        let (mut d, e) = parse_file(Path::new(name), text);
        assert!(e.is_empty(), "{e:#?}");
        declared.append(&mut d);
    }
    validate(&declared, scope)
}

fn att(name: &str, target: &str, lun: u64, wwid: Option<&str>) -> String {
    let wwid = wwid
        .map(|w| format!("wwid = \"{w}\"\n"))
        .unwrap_or_default();
    format!(
        "[[attachment]]\nname = \"{name}\"\ntransport = \"iscsi\"\ntarget = \"{target}\"\nportals = [\"192.0.2.1\"]\nlun = {lun}\n{wwid}"
    )
}

const T1: &str = "iqn.2001-04.com.example:t1";
const T2: &str = "iqn.2001-04.com.example:t2";

#[test]
fn distinct_attachments_pass() {
    let a = att("a", T1, 1, Some("naa.600a"));
    let b = att("b", T1, 2, Some("naa.600b")) + &att("c", T2, 1, None);
    assert!(cross(&[("s/a.toml", &a), ("s/b.toml", &b)], &Scope::default()).is_empty());
}

#[test]
fn duplicate_name_across_files() {
    let e = cross(
        &[
            ("s/a.toml", &att("vol-1", T1, 1, None)),
            ("s/db.toml", &att("vol-1", T1, 2, None)),
        ],
        &Scope::default(),
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        e[0].to_string(),
        "s/db.toml:2:8: duplicate attachment name \"vol-1\" (also in s/a.toml:2:8); names must be unique across all state files"
    );
}

#[test]
fn same_target_and_lun_claimed_twice() {
    let text = att("a", T1, 3, None) + &att("b", T1, 3, None);
    let e = cross(&[("s/a.toml", &text)], &Scope::default());
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].message.contains("already claimed by attachment \"a\""),
        "{}",
        e[0]
    );
}

#[test]
fn one_wwid_on_two_luns() {
    let text = att("a", T1, 1, Some("naa.600a")) + &att("b", T2, 1, Some("naa.600a"));
    let e = cross(&[("s/a.toml", &text)], &Scope::default());
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("one WWID is one LUN"), "{}", e[0]);
    assert_eq!(e[0].line, Some(14), "points at the second wwid");
}

#[test]
fn attachment_in_excluded_scope() {
    let mut scope = Scope::default();
    scope.exclude.iscsi_targets.push("*:t2".parse().unwrap());
    scope.exclude.wwids.push("naa.600a".parse().unwrap());
    let text = att("a", T1, 1, Some("naa.600a")) + &att("b", T2, 1, None);
    let e = cross(&[("s/a.toml", &text)], &scope);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e.iter().any(|d| d.message.contains("scope.exclude.wwids")));
    assert!(
        e.iter()
            .any(|d| d.message.contains("scope.exclude.iscsi_targets"))
    );
}

/// The direct read of a field (no serde round trip, issue 8 goal 2) gives
/// exactly what serde gives whenever it gives anything.
#[test]
fn direct_field_reads_agree_with_serde() {
    fn both<T: Direct + PartialEq + std::fmt::Debug>(text: &str) -> Option<T> {
        let (doc, e) = DeTable::parse_recoverable(text);
        assert!(e.is_empty(), "{text}: {e:?}");
        let v = doc.get_ref().get("v").unwrap();
        let serde = Spanned::<T>::deserialize(ValueDeserializer::from(v.clone())).ok();
        let direct = T::direct(v);
        if let Some(d) = &direct {
            assert_eq!(Some(d), serde.as_ref().map(Spanned::get_ref), "{text}");
        }
        direct
    }
    assert_eq!(both::<String>("v = \"a\\tb\"").as_deref(), Some("a\tb"));
    assert_eq!(both::<String>("v = 'lit'").as_deref(), Some("lit"));
    assert_eq!(both::<String>("v = 1"), None);
    assert_eq!(both::<bool>("v = false"), Some(false));
    assert_eq!(both::<bool>("v = \"true\""), None);
    for (text, want) in [
        ("v = 7", Some(7)),
        ("v = +7", Some(7)),
        ("v = 1_000", Some(1000)),
        ("v = 0x1f", Some(31)),
        ("v = 0o17", Some(15)),
        ("v = 0b11", Some(3)),
        ("v = -1", None),
        ("v = 1.0", None),
    ] {
        assert_eq!(both::<u64>(text), want, "{text}");
    }
    let p = both::<Vec<Spanned<String>>>("v = [\"a\", \"b\"]").unwrap();
    assert_eq!(
        p.iter()
            .map(|s| (s.span(), s.get_ref().as_str()))
            .collect::<Vec<_>>(),
        [(5..8, "a"), (10..13, "b")]
    );
    assert!(both::<Vec<Spanned<String>>>("v = [\"a\", 1]").is_none());
}

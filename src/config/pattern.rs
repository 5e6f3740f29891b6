//! `Pattern`: a glob over names (`*` any run, `?` one character), used by the
//! config's scope to name iSCSI targets without listing each one.
//!
//! Only `*` and `?`: IQNs contain `.`, `:` and `-`, and nothing more is needed
//! to say "every target of this array". Matching ignores ASCII case because
//! iSCSI names are case-insensitive (RFC 3722 folds them to lower case).

use std::fmt;
use std::str::FromStr;

/// A glob pattern; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern(String);

/// Why a string is not a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty: it would match nothing, which is never what was meant.
    #[error("invalid pattern: empty (use e.g. \"iqn.2003-01.org.linux-iscsi.*\")")]
    Empty,
    /// Whitespace can never occur in the names matched.
    #[error("invalid pattern {0:?}: contains whitespace or a control character")]
    Char(String),
}

impl Pattern {
    /// Whether `name` matches, ignoring ASCII case.
    pub fn matches(&self, name: &str) -> bool {
        let p: Vec<char> = self.0.chars().map(|c| c.to_ascii_lowercase()).collect();
        let n: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
        glob(&p, &n)
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Iterative wildcard match with single-star backtracking: linear-ish, no
/// recursion, so a hostile pattern cannot blow the stack.
fn glob(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PatternError::Char(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        p.parse::<Pattern>().unwrap().matches(n)
    }

    #[test]
    fn star_and_question_mark() {
        assert!(m(
            "iqn.2003-01.org.linux-iscsi.*",
            "iqn.2003-01.org.linux-iscsi.t:sn.1"
        ));
        assert!(m("*", ""));
        assert!(m("iqn.*:sn.?", "iqn.x:sn.7"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("iqn.*:sn.?", "iqn.x:sn.77"));
        assert!(!m("iqn.2003-01.*", "iqn.2004-01.com.x"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn ignores_ascii_case() {
        assert!(m("IQN.2003-01.ORG.*", "iqn.2003-01.org.example"));
    }

    #[test]
    fn rejects_empty_and_whitespace() {
        assert_eq!("".parse::<Pattern>(), Err(PatternError::Empty));
        assert!(matches!(
            "a b".parse::<Pattern>(),
            Err(PatternError::Char(_))
        ));
    }
}

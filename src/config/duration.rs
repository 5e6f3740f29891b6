//! Durations in the config file: `"30s"`, `"5m"`, `"1m30s"`, `"250ms"`, `"2h"`,
//! or an integer number of seconds.
//!
//! A tiny parser rather than a dependency: the grammar is a handful of units,
//! and the error can say exactly what is accepted.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Why a string is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a number with a unit (ms, s, m, h), several concatenated like \"1m30s\", or an integer number of seconds"
)]
pub struct DurationError(pub String);

/// Parses `"30s"`, `"5m"`, `"1h30m"`, `"250ms"`, or `"45"` (seconds).
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    let err = || DurationError(input.to_owned());
    if s.is_empty() {
        return Err(err());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map(Duration::from_secs).map_err(|_| err());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let (num, after) = rest.split_at(digits);
        let unit_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (unit, after) = after.split_at(unit_len);
        let n: u64 = num.parse().map_err(|_| err())?;
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(err)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(err)?),
            _ => return Err(err()),
        };
        total = total.checked_add(part).ok_or_else(err)?;
        rest = after;
    }
    Ok(total)
}

/// Formats a duration the way [`parse`] reads it back: the largest units that
/// divide it exactly (`90s` → `"1m30s"`).
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// `#[serde(with = "duration")]` for `Duration` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// `#[serde(with = "duration")]` for `Duration` fields.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like \"30s\", \"5m\", \"1m30s\" or an integer number of seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_seconds() {
        let s = Duration::from_secs;
        assert_eq!(parse("30s"), Ok(s(30)));
        assert_eq!(parse("5m"), Ok(s(300)));
        assert_eq!(parse("2h"), Ok(s(7200)));
        assert_eq!(parse("1m30s"), Ok(s(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 45 "), Ok(s(45)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_with_the_grammar() {
        for bad in [
            "",
            "s",
            "30",
            "30x",
            "1.5s",
            "-3s",
            "30 s",
            "m5",
            "99999999999999999999h",
        ] {
            if bad == "30" {
                continue; // bare seconds are valid; kept in the list to show the contrast
            }
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("1m30s"), "{bad}: {e}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [0u64, 1, 999, 1000, 30_000, 90_000, 3_600_000, 3_723_004] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)), Ok(d), "{ms}");
        }
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
    }
}

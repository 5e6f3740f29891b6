//! RFC 3339 timestamps (UTC, whole seconds) for what operators and scripts read: when a device
//! waiting for its grace period would be removed, `history`'s times; and the parse of
//! `history --since/--until`. Pure arithmetic on the Unix time (the days-from-civil conversion
//! and its inverse); no dependency: a date crate would bring far more than this.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, sub-seconds dropped). A time before 1970 prints as
/// 1970-01-01T00:00:00Z: the clock cannot produce one, and this is for display only.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid timestamp {0:?}: expected RFC 3339 like 2026-12-01T01:23:45Z or 2026-12-01T02:23:45+01:00 (a space may replace the T)"
)]
pub struct TimestampError(pub String);

/// A time that prints (`Display`, and serializes) as [`rfc3339`]: for documents scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc(pub SystemTime);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

impl serde::Serialize for Utc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`/`z` and a space for the `T` are
/// accepted, as RFC 3339 allows. Times before 1970 are refused.
pub fn parse_rfc3339(input: &str) -> Result<SystemTime, TimestampError> {
    let err = || TimestampError(input.to_owned());
    let b = input.trim().as_bytes();
    if b.len() < 20 {
        return Err(err());
    }
    let num = |from: usize, len: usize| -> Result<i64, TimestampError> {
        let part = b.get(from..from + len).ok_or_else(err)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(err());
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, ok: &[u8]| -> Result<(), TimestampError> {
        if b.get(at).is_some_and(|c| ok.contains(c)) {
            Ok(())
        } else {
            Err(err())
        }
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    sep(4, b"-")?;
    sep(7, b"-")?;
    sep(10, b"Tt ")?;
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":")?;
    sep(16, b":")?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err());
    }
    let mut at = 19;
    let mut nanos: u32 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        for (i, d) in b[at..at + digits].iter().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - u32::try_from(i).unwrap_or(8));
        }
        at += digits;
    }
    let offset_secs = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == at + 6 => {
            sep(at + 3, b":")?;
            let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err(err());
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(err()),
    };
    // A leap second (:60) is read as the next second, like most clocks do.
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    let secs = u64::try_from(secs).map_err(|_| err())?;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_date_reports_them() {
        let at = |s: u64| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        // `date -u -d @N`:
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_800_000_060), "2027-01-15T08:01:00Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_instants_round_trip_through_the_parser() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_796_087_025, "2026-12-01T01:03:45Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
        ] {
            assert_eq!(Utc(at(secs)).to_string(), want, "{secs}");
            assert_eq!(parse_rfc3339(want), Ok(at(secs)), "{want}");
        }
    }

    #[test]
    fn every_day_for_three_centuries_round_trips() {
        let mut secs = 0;
        while secs < 10_000_000_000 {
            let text = Utc(at(secs)).to_string();
            assert_eq!(parse_rfc3339(&text), Ok(at(secs)), "{text}");
            secs += 86_400 + 3_661;
        }
    }

    #[test]
    fn offsets_fractions_and_a_space_are_accepted() {
        let want = at(1_796_087_025);
        for text in [
            "2026-12-01T02:03:45+01:00",
            "2026-11-30T19:33:45-05:30",
            "2026-12-01 01:03:45Z",
            "2026-12-01t01:03:45z",
        ] {
            assert_eq!(parse_rfc3339(text), Ok(want), "{text}");
        }
        assert_eq!(
            parse_rfc3339("2026-12-01T01:03:45.25Z"),
            Ok(want + Duration::from_millis(250))
        );
    }

    #[test]
    fn malformed_or_impossible_timestamps_are_refused() {
        for text in [
            "",
            "2026-12-01",
            "2026-12-01T01:03:45",
            "2026-13-01T01:03:45Z",
            "2026-02-29T01:03:45Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T01:03:45+1:00",
            "2026-12-01T01:03:45.Z",
            "1969-12-31T23:59:59Z",
            "2026-12-01T01:03:45Zjunk",
            "２026-12-01T01:03:45Z",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text:?} accepted");
        }
    }
}

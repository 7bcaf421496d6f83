//! Go durations, as `service.json`, query parameters (`timeout=`, `expire-in=`) and the CLIs
//! write them (`"2m0s"`, `"1h30m"`, `"500ms"`, `"0s"`): parsing follows Go's
//! `time.ParseDuration` (every unit, fractions, sums, Go's error messages), formatting is
//! exactly Go's `time.Duration.String()`. Negative durations are refused: none of ours may be.

use std::fmt;
use std::time::Duration;

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationErrorKind {
    /// Go's `time: invalid duration "…"` (bad syntax or overflow).
    Invalid,
    /// Go's `time: missing unit in duration "…"`.
    MissingUnit,
    /// Go's `time: unknown unit "…" in duration "…"`.
    UnknownUnit(String),
    /// A syntactically valid negative duration, which `std::time::Duration` cannot hold.
    Negative,
}

/// A rejected Go duration string. `Display` gives Go's exact `time.ParseDuration` messages
/// (and, for [`DurationErrorKind::Negative`], an explanation of its own).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DurationError {
    /// What was wrong.
    pub kind: DurationErrorKind,
    /// The input as given.
    pub input: String,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = time_quote(&self.input);
        match &self.kind {
            DurationErrorKind::Invalid => write!(f, "time: invalid duration {q}"),
            DurationErrorKind::MissingUnit => write!(f, "time: missing unit in duration {q}"),
            DurationErrorKind::UnknownUnit(u) => {
                write!(f, "time: unknown unit {} in duration {q}", time_quote(u))
            }
            DurationErrorKind::Negative => {
                write!(f, "time: negative duration {q} is not supported here")
            }
        }
    }
}

/// The `quote` helper of Go's `time` package: `"` and `\` are escaped, and every byte of a
/// non-ASCII or control character is written as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) >= 0x80 || (c as u32) < 0x20 {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

const NS_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's `time.ParseDuration`, as (negative?, magnitude). It accepts exactly what Go accepts
/// (and rejects negatives with [`DurationErrorKind::Negative`]).
fn parse_duration_signed(orig: &str) -> Result<(bool, Duration), DurationError> {
    let err = |kind| DurationError {
        kind,
        input: orig.to_owned(),
    };
    let invalid = || err(DurationErrorKind::Invalid);
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok((false, Duration::ZERO));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // leadingInt
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // leadingFraction
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // unit: everything up to the next '.' or digit
        let ulen = s
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if ulen == 0 {
            return Err(err(DurationErrorKind::MissingUnit));
        }
        let unit_bytes = &s[..ulen];
        s = &s[ulen..];
        let Some(&(_, unit)) = NS_UNITS
            .iter()
            .find(|(name, _)| name.as_bytes() == unit_bytes)
        else {
            let u = String::from_utf8_lossy(unit_bytes).into_owned();
            return Err(err(DurationErrorKind::UnknownUnit(u)));
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go computes this in float64, truncating; reproduce that exactly.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if !neg && total > LIMIT - 1 {
        return Err(invalid());
    }
    if neg && total != 0 {
        return Err(err(DurationErrorKind::Negative));
    }
    Ok((neg, Duration::from_nanos(total)))
}

/// Parse a Go duration string (`"10s"`, `"1m30s"`, `"500ms"`, `"1.5h"`, `"0"`) exactly as
/// Go's `time.ParseDuration` does. Values are limited to Go's range (at most
/// `2562047h47m16.854775807s`). Negative durations are errors
/// ([`DurationErrorKind::Negative`]), because `std::time::Duration` is unsigned. `-0` is 0.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    parse_duration_signed(s).map(|(_, d)| d)
}

/// Format like Go's `time.Duration.String()`: `"0s"`, `"1.5µs"`, `"500ms"`, `"2m0s"`,
/// `"1h0m0s"`, `"4m5.001s"`. Durations beyond Go's range are formatted in the same style
/// (more hours).
pub fn format(d: Duration) -> String {
    let u: u128 = d.as_nanos();
    if u == 0 {
        return "0s".to_owned();
    }
    // fmtFrac: the fraction v/10^prec without trailing zeros (and without '.' if zero).
    fn frac(v: u128, prec: u32) -> (String, u128) {
        let mut digits = Vec::new();
        let mut v = v;
        let mut print = false;
        for _ in 0..prec {
            let digit = (v % 10) as u8;
            print = print || digit != 0;
            if print {
                digits.push(b'0' + digit);
            }
            v /= 10;
        }
        if print {
            digits.push(b'.');
        }
        digits.reverse();
        (String::from_utf8(digits).unwrap_or_default(), v)
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        let (f, int) = frac(u, prec);
        return format!("{int}{f}{unit}");
    }
    let (f, secs) = frac(u, 9);
    let mut out = format!("{}{f}s", secs % 60);
    let mins = secs / 60;
    if mins > 0 {
        out = format!("{}m{out}", mins % 60);
        let hours = mins / 60;
        if hours > 0 {
            out = format!("{hours}h{out}");
        }
    }
    out
}

/// Serde for `Duration` fields written as Go duration strings (`#[serde(with = "serde_go")]`
/// on the configuration's `Serialize`-only sections: reading goes through `config::json`).
pub(crate) mod serde_go {
    use super::*;
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_strings() {
        for (d, s) in [
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::ZERO, "0s"),
            (Duration::from_secs(10800), "3h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(86400), "24h0m0s"),
            (Duration::from_micros(3), "3µs"),
            (Duration::from_nanos(42), "42ns"),
            (Duration::from_secs(90), "1m30s"),
        ] {
            assert_eq!(format(d), s);
            assert_eq!(parse(s).unwrap(), d, "{s}");
        }
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "-1s", "1x", "s", "1.2.3s", "abc"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_duration_parse_table() {
        // Go's own time_test.go parseDurationTests (positive ones)
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("5s", 5_000_000_000),
            ("30s", 30_000_000_000),
            ("1478s", 1_478_000_000_000),
            ("+5s", 5_000_000_000),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5_000_000_000),
            ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000),
            (".5s", 500_000_000),
            ("1.0s", 1_000_000_000),
            ("1.00s", 1_000_000_000),
            ("1.004s", 1_004_000_000),
            ("1.0040s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12\u{b5}s", 12_000),
            ("12\u{3bc}s", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14_000_000_000),
            ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000),
            ("3h30m", 12_600_000_000_000),
            ("10.5s4m", 250_500_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX as u64),
            ("9223372036854775.807us", i64::MAX as u64),
            ("9223372036s854ms775us807ns", i64::MAX as u64),
            (".1h", 360_000_000_000),
            ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ];
        for (s, ns) in ok {
            assert_eq!(parse(s), Ok(Duration::from_nanos(*ns)), "{s}");
        }
        let invalid = [
            "",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "\u{85}\u{85}",
            "9223372036854775808ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
        ];
        for s in invalid {
            let e = parse(s).unwrap_err();
            assert_eq!(e.kind, DurationErrorKind::Invalid, "{s:?}");
        }
        assert_eq!(parse("3").unwrap_err().kind, DurationErrorKind::MissingUnit);
        assert_eq!(
            parse("1d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse("1 s").unwrap_err().to_string(),
            "time: unknown unit \" s\" in duration \"1 s\""
        );
        assert_eq!(
            parse("é").unwrap_err().to_string(),
            "time: invalid duration \"\\xc3\\xa9\""
        );
        assert_eq!(
            parse("-2m3.4s").unwrap_err().kind,
            DurationErrorKind::Negative
        );
        assert_eq!(
            parse("-9223372036854775808ns").unwrap_err().kind,
            DurationErrorKind::Negative
        );
        assert_eq!(
            parse("-9223372036854775809ns").unwrap_err().kind,
            DurationErrorKind::Invalid
        );
    }

    #[test]
    fn go_duration_format_table() {
        // Go's time_test.go durationTests
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (245_000_000_000, "4m5s"),
            (245_001_000_000, "4m5.001s"),
            (18_367_001_000_000, "5h6m7.001s"),
            (480_000_000_001, "8m0.000000001s"),
            (i64::MAX as u64, "2562047h47m16.854775807s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (500_000_000, "500ms"),
            (7_200_000_000_000, "2h0m0s"),
            (120_000_000_000, "2m0s"),
            (1_000, "1\u{b5}s"),
            (999, "999ns"),
        ];
        for (ns, s) in cases {
            assert_eq!(format(Duration::from_nanos(*ns)), *s, "{ns}");
        }
    }

    #[test]
    fn go_duration_roundtrip() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            // xorshift, covering every magnitude
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ns = (x >> (x % 64)) % (i64::MAX as u64);
            let d = Duration::from_nanos(ns);
            let s = format(d);
            assert_eq!(parse(&s), Ok(d), "{ns} -> {s}");
        }
        for s in ["10s", "1m30s", "500ms", "1h0m0s", "2m0s", "1.5µs", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}

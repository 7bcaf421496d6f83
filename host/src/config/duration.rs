//! Go durations, as `service.json` and query parameters write them (`"2m0s"`, `"1h30m"`,
//! `"500ms"`, `"0s"`): parsing accepts every unit Go accepts (ns, us/µs, ms, s, m, h), with
//! fractions and sums; formatting gives exactly Go's `time.Duration.String()`.

use std::time::Duration;

/// Parses a Go duration string. Negative durations are refused (none of ours may be).
pub fn parse(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(err());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total: f64 = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_end == 0 {
            return Err(err());
        }
        let num: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += num * nanos_per;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(err());
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats like Go's `time.Duration.String()`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(nanos, div));
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let h = secs_total / 3600;
    let m = (secs_total % 3600) / 60;
    let s = secs_total % 60;
    let secs = trim_fraction(s * 1_000_000_000 + frac, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn trim_fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Serde for `Duration` fields written as Go duration strings.
pub mod serde_go {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
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
}

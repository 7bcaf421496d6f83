//! Times as IPFS Cluster writes them: RFC 3339 with nanoseconds, trailing zeros trimmed (Go's
//! `RFC3339Nano`), UTC; the zero time `0001-01-01T00:00:00Z` means "unset" (for `expire_at`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, or Go's zero time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Go's zero time: "never" / "unset".
    pub const ZERO: Timestamp = Timestamp(time::macros::datetime!(0001-01-01 00:00:00 UTC));

    pub fn now() -> Timestamp {
        Timestamp(OffsetDateTime::now_utc())
    }

    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0 + d)
    }

    /// Seconds since the Unix epoch (what the state stores).
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn from_unix_seconds(secs: i64) -> Option<Timestamp> {
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .map(Timestamp)
    }

    pub fn unix_nanos(self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// Time left until `self` (zero when past).
    pub fn since(self, earlier: Timestamp) -> Duration {
        let d = self.0 - earlier.0;
        if d.is_negative() {
            Duration::ZERO
        } else {
            d.unsigned_abs()
        }
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self::ZERO
    }
}

/// Formats as Go's `time.Time` JSON does.
pub fn format_rfc3339(t: Timestamp) -> String {
    let t = t.0.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// Parses RFC 3339 (any offset) into a timestamp.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    if s == "0001-01-01T00:00:00Z" {
        return Ok(Timestamp::ZERO);
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(Timestamp)
        .map_err(|e| format!("{s:?}: {e}"))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*self))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(format_rfc3339(Timestamp::ZERO), "0001-01-01T00:00:00Z");
        let t = parse_rfc3339("2024-05-06T07:08:09.120000000+02:00").unwrap();
        assert_eq!(format_rfc3339(t), "2024-05-06T05:08:09.12Z");
        assert!(parse_rfc3339("yesterday").is_err());
        let t = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        assert_eq!(parse_rfc3339(&format_rfc3339(t)).unwrap(), t);
    }
}

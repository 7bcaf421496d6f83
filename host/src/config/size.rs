//! [`StorageSize`]: a byte size as Kubo writes `Datastore.StorageMax` (`"10GB"`, `"512MiB"`,
//! `"1.5TB"`, or a plain number of bytes), used by the embedded node's `storage_max` and the
//! plugins' memory limits. Decimal units are powers of 1000, `…iB` units powers of 1024;
//! displayed in the largest unit that keeps the value whole.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::json::FromJson;

/// A byte size written like Kubo's `StorageMax`: `"10GB"`, `"500MB"`, `"1.5TB"`, `"512MiB"`,
/// or a plain number of bytes. Decimal units are powers of 1000, `…iB` units of 1024.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StorageSize(pub u64);

/// A size [`StorageSize::parse`] cannot read (the text as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {0:?} (write e.g. \"10GB\", \"500MB\" or \"512MiB\")")]
pub struct SizeError(String);

impl StorageSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn parse(s: &str) -> Result<StorageSize, SizeError> {
        let err = || SizeError(s.to_string());
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        if num.is_empty() {
            return Err(err());
        }
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "p" | "pb" => 1_000_000_000_000_000,
            "ki" | "kib" => 1 << 10,
            "mi" | "mib" => 1 << 20,
            "gi" | "gib" => 1 << 30,
            "ti" | "tib" => 1 << 40,
            "pi" | "pib" => 1 << 50,
            _ => return Err(err()),
        };
        let bytes = if let Ok(n) = num.parse::<u64>() {
            n.checked_mul(mult).ok_or_else(err)?
        } else {
            let f: f64 = num.parse().map_err(|_| err())?;
            let b = (f * mult as f64).round();
            if !b.is_finite() || b >= u64::MAX as f64 {
                return Err(err());
            }
            b as u64
        };
        Ok(StorageSize(bytes))
    }
}

impl fmt::Display for StorageSize {
    /// The largest unit that divides the size exactly (`10GB`, `512MiB`, `1234B`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 10] = [
            (1_000_000_000_000_000, "PB"),
            (1 << 50, "PiB"),
            (1_000_000_000_000, "TB"),
            (1 << 40, "TiB"),
            (1_000_000_000, "GB"),
            (1 << 30, "GiB"),
            (1_000_000, "MB"),
            (1 << 20, "MiB"),
            (1_000, "kB"),
            (1 << 10, "KiB"),
        ];
        for (m, u) in UNITS {
            if self.0 >= m && self.0.is_multiple_of(m) {
                return write!(f, "{}{u}", self.0 / m);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl fmt::Debug for StorageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageSize({self})")
    }
}

impl Serialize for StorageSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromJson for StorageSize {
    fn from_json(v: &Value) -> Result<StorageSize, String> {
        match v {
            Value::String(s) => StorageSize::parse(s).map_err(|e| e.to_string()),
            Value::Number(_) => u64::from_json(v).map(StorageSize),
            other => Err(format!("expected a size such as \"10GB\", found {other}")),
        }
    }
}

//! Tracker statuses (IPFS Cluster's `TrackerStatus`) and status filters.
//!
//! In Go the statuses are bit flags, so a filter is a set; `error` and `queued` are composite
//! filter names. Unknown names in a filter are ignored, as in Go (`"invalidxx,pinned"` means
//! `pinned`), and an empty filter matches everything.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The state of a pin on one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackerStatus {
    Undefined,
    ClusterError,
    PinError,
    UnpinError,
    Pinned,
    Pinning,
    Unpinning,
    Unpinned,
    Remote,
    PinQueued,
    UnpinQueued,
    Sharded,
    UnexpectedlyUnpinned,
}

const ALL: [(TrackerStatus, &str); 13] = [
    (TrackerStatus::Undefined, "undefined"),
    (TrackerStatus::ClusterError, "cluster_error"),
    (TrackerStatus::PinError, "pin_error"),
    (TrackerStatus::UnpinError, "unpin_error"),
    (TrackerStatus::Pinned, "pinned"),
    (TrackerStatus::Pinning, "pinning"),
    (TrackerStatus::Unpinning, "unpinning"),
    (TrackerStatus::Unpinned, "unpinned"),
    (TrackerStatus::Remote, "remote"),
    (TrackerStatus::PinQueued, "pin_queued"),
    (TrackerStatus::UnpinQueued, "unpin_queued"),
    (TrackerStatus::Sharded, "sharded"),
    (TrackerStatus::UnexpectedlyUnpinned, "unexpectedly_unpinned"),
];

impl TrackerStatus {
    pub fn as_str(self) -> &'static str {
        ALL.iter()
            .find(|(s, _)| *s == self)
            .map(|(_, n)| *n)
            .expect("every status has a name")
    }

    pub fn from_name(name: &str) -> Option<TrackerStatus> {
        ALL.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }

    fn bit(self) -> u16 {
        match self {
            TrackerStatus::Undefined => 0,
            other => 1 << (ALL.iter().position(|(s, _)| *s == other).expect("listed") - 1),
        }
    }

    /// True for the statuses that mean something went wrong.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            TrackerStatus::ClusterError | TrackerStatus::PinError | TrackerStatus::UnpinError
        )
    }
}

impl Serialize for TrackerStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TrackerStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(TrackerStatus::from_name(&s).unwrap_or(TrackerStatus::Undefined))
    }
}

/// A set of statuses, parsed from a comma-separated `filter` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackerStatusFilter(u16);

impl TrackerStatusFilter {
    /// Matches every status.
    pub const ALL: TrackerStatusFilter = TrackerStatusFilter(0);

    pub fn parse(filter: &str) -> TrackerStatusFilter {
        let mut bits = 0u16;
        for name in filter.split(',').map(str::trim) {
            bits |= match name {
                "error" => {
                    TrackerStatus::ClusterError.bit()
                        | TrackerStatus::PinError.bit()
                        | TrackerStatus::UnpinError.bit()
                }
                "queued" => TrackerStatus::PinQueued.bit() | TrackerStatus::UnpinQueued.bit(),
                other => TrackerStatus::from_name(other).map_or(0, TrackerStatus::bit),
            };
        }
        TrackerStatusFilter(bits)
    }

    /// True when the filter names at least one status (a filter of only unknown names is
    /// "no filter", as in Go).
    pub fn is_all(self) -> bool {
        self.0 == 0
    }

    pub fn matches(self, status: TrackerStatus) -> bool {
        self.0 == 0 || status == TrackerStatus::Undefined || self.0 & status.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_filters() {
        for (s, n) in ALL {
            assert_eq!(s.as_str(), n);
            assert_eq!(TrackerStatus::from_name(n), Some(s));
        }
        let f = TrackerStatusFilter::parse("invalidxx,pinned");
        assert!(f.matches(TrackerStatus::Pinned));
        assert!(!f.matches(TrackerStatus::PinError));
        let e = TrackerStatusFilter::parse("error");
        assert!(e.matches(TrackerStatus::UnpinError) && e.matches(TrackerStatus::ClusterError));
        assert!(!e.matches(TrackerStatus::Pinned));
        assert!(TrackerStatusFilter::parse("nonsense").is_all());
        assert!(TrackerStatusFilter::parse("queued").matches(TrackerStatus::UnpinQueued));
    }
}

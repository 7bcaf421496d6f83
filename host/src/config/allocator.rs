//! The `allocator` section: `allocator.balanced` (Go's `balanced/config.go`), the metrics
//! allocations are partitioned and sorted by (`allocate_by`, default `["tag:group",
//! "freespace"]`). An absent section means `allocate_by = ["freespace"]` (Go's legacy rule,
//! see [`ServiceConfig::allocate_by`](crate::config::ServiceConfig::allocate_by)).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AllocatorConfig {
    /// Absent: `allocate_by = ["freespace"]` (see [`ServiceConfig::allocate_by`](crate::config::ServiceConfig::allocate_by)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<BalancedAllocatorConfig>,
}

impl AllocatorConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.balanced.is_none()
    }
}

/// `allocator.balanced`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalancedAllocatorConfig {
    pub allocate_by: Vec<String>,
}

impl Default for BalancedAllocatorConfig {
    fn default() -> BalancedAllocatorConfig {
        BalancedAllocatorConfig {
            allocate_by: vec!["tag:group".into(), "freespace".into()],
        }
    }
}

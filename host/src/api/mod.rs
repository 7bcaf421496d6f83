//! Cluster APIs. For now only the REST client lives here; the servers are written elsewhere.

pub mod rest;

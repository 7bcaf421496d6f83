//! Configuration (being written): Go duration strings for now.

pub mod duration;

//! UnixFS: the importer that turns byte streams and folders into Kubo-identical DAGs, and the
//! reader that turns them back into bytes and resolves paths.

pub mod data;
pub mod dir;
pub mod file;
pub mod reader;

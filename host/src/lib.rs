pub mod ipfs;

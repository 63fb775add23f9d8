//! Storage: RocksDB column families, key layout and the block codec.
//!
//! Knows stream ids, times and bytes — never label semantics or LogQL.

pub mod block;
pub mod columns;
pub mod disk;
pub mod filter;
pub mod head;
pub mod keys;
pub mod merge;
mod rocks;
pub mod scan;

pub use keys::BlockKey;
pub use rocks::{prefix_upper_bound, Batch, BlockKeyCursor, Deleted, PostingsCursor, Rocks, RocksOptions, Snapshot};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Rocks(String),
    #[error("storage: no space left on device: {0}")]
    NoSpace(String),
    #[error("storage io: {0}")]
    Io(String),
    #[error("storage corruption: {0}")]
    Corrupt(String),
}

//! Query engine: LogQL AST + time range → results, reading through one storage snapshot.
//!
//! Log queries stream through blocks with bounded memory and stop at the limit
//! ([`logs`]); metric queries are evaluated step by step ([`metric`]).

pub mod logs;
pub mod meta;
pub mod metric;
pub mod pipeline;
pub mod result;
pub mod source;

use std::sync::Arc;
use std::time::Instant;

use crate::index::Registry;
use crate::store::{Rocks, StoreError};

pub use result::{QueryResult, Sample, Series, Stats, StreamResult};

/// Errors of the query layer. `api::error` maps them to Loki's status codes.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A stage or function lokid does not execute yet (400, never wrong data).
    #[error("unsupported query: {0} is not supported by lokid yet")]
    Unsupported(String),
    #[error("{0}")]
    BadRegex(String),
    /// A pipeline construction problem (400).
    #[error("{0}")]
    Pipeline(String),
    /// Loki's limit errors (400), e.g. the series limit.
    #[error("{0}")]
    Limit(String),
    /// Errors Loki reports as 500 (e.g. vector matching conflicts).
    #[error("{0}")]
    Execution(String),
    #[error("request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed")]
    Timeout,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shared, read-only handles a query needs.
pub struct Engine {
    pub rocks: Arc<Rocks>,
    pub registry: Arc<Registry>,
}

/// A point after which a query gives up with [`QueryError::Timeout`].
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Option<Instant>);

impl Deadline {
    pub fn check(&self) -> Result<(), QueryError> {
        match self.0 {
            Some(d) if Instant::now() > d => Err(QueryError::Timeout),
            _ => Ok(()),
        }
    }
}

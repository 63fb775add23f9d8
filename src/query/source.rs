//! The seam between metric evaluation and storage: a source of pipeline-processed entries.
//!
//! `query::metric` asks a [`LogSource`] for the entries of a log expression in a time
//! range, in ascending time order, with their output labels; `query::logs` implements it
//! over the store. Tests implement it over vectors.

use super::QueryError;
use crate::logql::LogExpr;
use crate::model::{Labels, Nanos};

/// One entry after the log pipeline: what metric extraction needs.
pub struct ProcessedEntry<'a> {
    pub ts: Nanos,
    /// The line after the pipeline (`bytes_over_time` counts this).
    pub line: &'a str,
    /// Output labels: stream ∪ structured metadata ∪ parsed (+ `__error__`,
    /// `__error_details__` when set), sorted.
    pub labels: &'a Labels,
}

pub trait LogSource {
    /// Calls `f` for every entry of `log` (selector + pipeline) with `from <= ts < to`,
    /// in ascending time order across all streams. `f` returning an error stops the scan.
    fn for_each_entry(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        f: &mut dyn FnMut(ProcessedEntry<'_>) -> Result<(), QueryError>,
    ) -> Result<(), QueryError>;
}

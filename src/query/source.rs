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

pub trait LogSource: StreamScan {
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

/// Receives the entries of one stream after another (see [`LogSource::scan_streams`]).
pub trait StreamSink: Send {
    /// A stream begins; its entries follow until the next `begin`.
    fn begin(&mut self, stream: &Labels);
    /// One entry of the current stream: time, line (empty unless [`Self::wants_lines`]),
    /// the line's length, and its structured metadata encoded as in a block
    /// (`store::block::MetaIter` decodes it).
    fn entry(&mut self, ts: Nanos, line: &[u8], line_len: usize, metadata: &[u8]);

    /// Whether [`Self::entry`] reads the line itself: when no sink does and the scan has no
    /// line filter, the lines are not decompressed at all.
    /// What the sink holds now (for the query's memory budget); checked after each block.
    fn held_bytes(&self) -> usize {
        0
    }

    fn wants_lines(&self) -> bool {
        true
    }

    /// A `| json` field whose stored column (`store::columns`) the sink takes instead of
    /// lines, through [`Self::column_entry`]. Every sink of one scan answers alike.
    fn column(&self) -> Option<&str> {
        None
    }

    /// An entry of a block with the [`Self::column`] column, given that column's value for
    /// it (`None`: its line yields no value). False when the sink needs the line after all:
    /// then [`Self::entry`] follows for the same entry.
    fn column_entry(&mut self, _ts: Nanos, _value: Option<&[u8]>, _metadata: &[u8]) -> bool {
        false
    }
}

/// A per-stream scan: what metric kernels need when the order across streams does not
/// matter. The source may feed the sinks from several threads at once, one stream per sink
/// at a time.
pub trait StreamScan {
    /// Feeds every entry of `log` with `from <= ts < to` to the sinks, stream by stream and
    /// in ascending time order within a stream. Exact duplicates (same stream, time and
    /// line) are fed once. `log`'s stages must all be line filters.
    fn scan_streams(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        sinks: &mut [&mut dyn StreamSink],
    ) -> Result<(), QueryError>;
}

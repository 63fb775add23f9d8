//! Engine-side result types (not wire types: `api::wire::response` renders them).

use crate::model::{Labels, Nanos};

/// One result stream of a log query.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamResult {
    /// Grouping labels: stream labels only when categorized, else stream ∪ metadata ∪ parsed.
    pub labels: Labels,
    pub entries: Vec<ResultEntry>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResultEntry {
    pub ts: Nanos,
    pub line: String,
    /// Filled only for categorized responses.
    pub metadata: Vec<(String, String)>,
    pub parsed: Vec<(String, String)>,
}

/// One instant sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// Milliseconds.
    pub ts_ms: i64,
    pub value: f64,
}

/// One range series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// (milliseconds, value), ascending.
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    Streams(Vec<StreamResult>),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    /// (milliseconds, value)
    Scalar(i64, f64),
}

/// What a query did, for Loki's `stats` object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub lines_processed: u64,
    pub bytes_processed: u64,
    pub post_filter_lines: u64,
    pub entries_returned: u64,
    pub blocks_referenced: u64,
    pub blocks_decoded: u64,
    pub blocks_skipped: u64,
    pub decompressed_bytes: u64,
    pub compressed_bytes: u64,
    pub streams: u64,
    pub exec_seconds: f64,
}

impl Stats {
    /// Adds what another reader of the same query did (streams and time are the query's).
    pub fn add(&mut self, s: &Stats) {
        self.lines_processed += s.lines_processed;
        self.bytes_processed += s.bytes_processed;
        self.post_filter_lines += s.post_filter_lines;
        self.blocks_referenced += s.blocks_referenced;
        self.blocks_decoded += s.blocks_decoded;
        self.blocks_skipped += s.blocks_skipped;
        self.decompressed_bytes += s.decompressed_bytes;
        self.compressed_bytes += s.compressed_bytes;
    }
}

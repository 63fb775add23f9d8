//! Log pipeline compiled from AST stages. Executes line filters today; every other stage
//! is refused with a 400 that names it (never wrong data).

use memchr::memmem::Finder;

use super::filter::CompiledLineFilter;
use super::QueryError;
use crate::logql::Stage;
use crate::model::{Labels, Nanos};

/// The result of running the pipeline on one entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Processed {
    /// Some(new line) when a stage rewrote it.
    pub line: Option<String>,
    /// Output labels: stream ∪ structured metadata ∪ parsed (+ error labels).
    pub labels: Labels,
    /// Structured metadata and parsed labels that remain (for categorize-labels).
    pub metadata: Vec<(String, String)>,
    pub parsed: Vec<(String, String)>,
}

/// Per-entry processing of a log query.
#[derive(Debug, Default)]
pub struct LogPipeline {
    filters: Vec<CompiledLineFilter>,
}

impl LogPipeline {
    pub fn compile(stages: &[Stage]) -> Result<LogPipeline, QueryError> {
        let mut filters = Vec::new();
        for s in stages {
            match s {
                Stage::LineFilter(f) => filters.push(CompiledLineFilter::new(f)?),
                other => return Err(QueryError::Unsupported(format!("the `{}` stage", stage_name(other)))),
            }
        }
        Ok(LogPipeline { filters })
    }

    /// Whether a line passes every filter.
    #[inline]
    pub fn keep_line(&self, line: &[u8]) -> bool {
        self.filters.iter().all(|f| f.matches(line))
    }

    /// A substring every kept line contains (from the first filter), for block skipping.
    pub fn required_substring(&self) -> Option<&Finder<'static>> {
        self.filters.iter().find_map(|f| f.required_substring())
    }

    pub fn is_noop(&self) -> bool {
        self.filters.is_empty()
    }

    /// True when every stage is a line filter (the engine's fast path).
    pub fn line_filters_only(&self) -> bool {
        true
    }

    /// Runs the whole pipeline on one entry; `None` = dropped.
    pub fn process(&self, _ts: Nanos, line: &[u8], stream: &Labels, metadata: &[(String, String)]) -> Option<Processed> {
        if !self.keep_line(line) {
            return None;
        }
        Some(Processed {
            line: None,
            labels: crate::query::logs::with_metadata(stream, metadata),
            metadata: metadata.to_vec(),
            parsed: Vec::new(),
        })
    }
}

/// Loki's spelling of a stage, for messages.
pub fn stage_name(s: &Stage) -> &'static str {
    match s {
        Stage::LineFilter(_) => "line filter",
        Stage::Json(_) => "| json",
        Stage::Logfmt { .. } => "| logfmt",
        Stage::Regexp(_) => "| regexp",
        Stage::Pattern(_) => "| pattern",
        Stage::Unpack => "| unpack",
        Stage::LabelFilter(_) => "label filter",
        Stage::LineFormat(_) => "| line_format",
        Stage::LabelFormat(_) => "| label_format",
        Stage::Decolorize => "| decolorize",
        Stage::Drop(_) => "| drop",
        Stage::Keep(_) => "| keep",
    }
}

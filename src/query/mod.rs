//! Query engine: LogQL AST + time range → results, reading through one storage snapshot.
//!
//! Log queries stream through blocks with bounded memory and stop at the limit
//! ([`logs`]); metric queries are evaluated step by step ([`metric`]).

pub mod drilldown;
pub mod logs;
pub mod meta;
pub mod metric;
pub mod pipeline;
pub mod plan;
pub mod result;
mod scan;
pub mod source;
#[cfg(test)]
mod store_tests;
pub mod template;

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// `ip("…")` with an operator other than `|=` / `!=`.
    #[error("ip: invalid operation")]
    IpOperation,
    #[error("invalid line template: {0}")]
    LineTemplate(String),
    #[error("invalid template for label '{label}': {error}")]
    LabelTemplate { label: String, error: String },
    #[error("{0} cannot be formatted")]
    FormatsErrorLabel(String),
    #[error("multiple label name '{0}' not allowed in a single format operation")]
    LabelFormattedTwice(String),
    /// A `| json` or `| logfmt` extraction expression that does not parse.
    #[error("cannot parse expression [{expr}]: {reason}")]
    Expression { expr: String, reason: String },
    #[error("invalid extracted label name '{0}'")]
    ExtractedLabelName(String),
    #[error("duplicate extracted label name '{0}'")]
    DuplicateExtractedLabel(String),
    #[error("at least one named capture must be supplied")]
    NoNamedCapture,
    /// A series carries `__error__` at the end of a metric query (400), Loki's text.
    #[error(
        "pipeline error: '{error}' for series: '{series}'.\n\
         Use a label filter to intentionally skip this error. (e.g | __error__!=\"{error}\").\n\
         To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n\
         The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    )]
    SeriesError { error: String, series: String },
    /// Vector matching conflicts (500, as Loki): `side` is "left" or "right".
    #[error(
        "found duplicate series on the {side} hand-side;many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany { side: &'static str },
    #[error("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")]
    ManyToOneNotExplicit,
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    /// A literal where Loki needs an evaluator (e.g. `sum(1)`), 500.
    #[error("unexpected expr type (*syntax.LiteralExpr) for Evaluator type (*logql.DefaultEvaluator) ")]
    LiteralNotVector,
    /// Loki's `max_query_series` limit (400), with its text.
    #[error(
        "maximum number of series ({max}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
    )]
    SeriesLimit { max: usize },
    /// Loki's `ErrVolumeMaxSeriesHit` (400): a volume answer with more than `max` series.
    #[error("the query hit the max number of series limit (limit: {max} series)")]
    VolumeSeriesLimit { max: usize },
    /// A bug: an invariant of the engine did not hold (500).
    #[error("internal: {0}")]
    Internal(&'static str),
    #[error("request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed")]
    Timeout,
    #[error("the request was cancelled by the client")]
    Cancelled,
    /// The query needed to hold more than `lokid.query_memory_bytes` at once (400).
    #[error(
        "the query needs more memory than its budget (lokid.query_memory_bytes: {}); add label matchers, shorten the time range or aggregate",
        crate::gocompat::bytes(*.limit as u64)
    )]
    MemoryBudget { limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A metric query over the store, through one snapshot, with what it read.
pub fn run_metric(
    engine: &Engine,
    tenant: &str,
    deadline: Deadline,
    q: &metric::MetricQuery,
    max_series: usize,
) -> Result<(QueryResult, Stats), QueryError> {
    let started = Instant::now();
    let src = logs::StoreSource::new(engine, tenant, deadline);
    let res = metric::run(q, &src, max_series)?;
    let mut stats = src.stats.into_inner();
    stats.exec_seconds = started.elapsed().as_secs_f64();
    Ok((res, stats))
}

/// How many threads one query spreads its reading over: the cores, at most four.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

/// Shared, read-only handles a query needs.
pub struct Engine {
    pub rocks: Arc<Rocks>,
    pub registry: Arc<Registry>,
}

/// When a query must stop: a time limit ([`QueryError::Timeout`]), a flag set when the
/// client went away ([`QueryError::Cancelled`]), both checked between blocks, and the
/// memory it may hold at once ([`Budget`]).
#[derive(Clone, Debug, Default)]
pub struct Deadline {
    pub at: Option<Instant>,
    pub cancelled: Option<Arc<AtomicBool>>,
    pub budget: Option<Arc<Budget>>,
}

/// A query's memory budget: the bytes its executors hold at once, charged as decoded
/// blocks and samples are kept and released as they are dropped ([`Charge`]).
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes (0: unlimited).
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: Default::default() })
    }

    /// What is held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Bytes charged to a budget, released when dropped.
#[derive(Debug, Default)]
pub struct Charge {
    budget: Option<Arc<Budget>>,
    bytes: usize,
}

impl Charge {
    /// Charges `n` more bytes; fails (charging nothing) when the budget would be exceeded.
    pub fn grow(&mut self, n: usize) -> Result<(), QueryError> {
        let Some(b) = &self.budget else { return Ok(()) };
        let now = b.used.fetch_add(n, Ordering::Relaxed) + n;
        if b.limit > 0 && now > b.limit {
            b.used.fetch_sub(n, Ordering::Relaxed);
            return Err(QueryError::MemoryBudget { limit: b.limit });
        }
        self.bytes += n;
        Ok(())
    }

    /// Grows the charge to `total` bytes held (never shrinks it).
    pub fn hold(&mut self, total: usize) -> Result<(), QueryError> {
        match total.checked_sub(self.bytes) {
            Some(more) if more > 0 => self.grow(more),
            _ => Ok(()),
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.used.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

impl Deadline {
    /// No limit.
    pub fn none() -> Deadline {
        Deadline::default()
    }

    /// An empty charge against this query's budget.
    pub fn charge(&self) -> Charge {
        Charge { budget: self.budget.clone(), bytes: 0 }
    }

    pub fn check(&self) -> Result<(), QueryError> {
        if self.cancelled.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(QueryError::Cancelled);
        }
        match self.at {
            Some(d) if Instant::now() > d => Err(QueryError::Timeout),
            _ => Ok(()),
        }
    }
}

/// Sets its flag when dropped unless disarmed: a handler holds one while its query runs
/// on a blocking thread, so a client that disconnects (the handler future is dropped)
/// cancels the query.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl CancelOnDrop {
    pub fn new() -> CancelOnDrop {
        CancelOnDrop(Arc::new(AtomicBool::new(false)))
    }

    pub fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Default for CancelOnDrop {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_cancels_and_a_disarmed_one_does_not() {
        let guard = CancelOnDrop::new();
        let d = Deadline { at: None, cancelled: Some(Arc::clone(&guard.0)), budget: None };
        assert!(d.check().is_ok());
        drop(guard);
        assert!(matches!(d.check(), Err(QueryError::Cancelled)));

        let guard = CancelOnDrop::new();
        let d = Deadline { at: None, cancelled: Some(Arc::clone(&guard.0)), budget: None };
        guard.disarm();
        assert!(d.check().is_ok());
        let past =
            Deadline { at: Some(Instant::now() - std::time::Duration::from_secs(1)), cancelled: None, budget: None };
        assert!(matches!(past.check(), Err(QueryError::Timeout)));
    }
}

//! The query plan: every decision taken from a LogQL expression alone, before anything is
//! read — the order the pipeline's stages run in (Loki's reordering), the substrings every
//! kept line holds (what page filters and `memmem` skip with), how each range aggregation is
//! evaluated (counting kernel, stream by stream, field column, or one time-ordered pass),
//! which `sum` groupings are pushed down into range aggregations, and the evaluation steps.
//!
//! Planning is pure: no I/O, no store, no compiled regexes; the executors ([`super::logs`],
//! [`super::metric`], [`super::pipeline`]) take their decisions from here. [`Plan`] prints
//! as an indented tree (`Display`), which the snapshot tests in `snapshots.txt` pin down.

mod hints;
mod logs;
mod metric;
#[cfg(test)]
mod tests;

use std::fmt::{self, Display, Formatter};

use crate::logql::Expr;
use crate::model::Nanos;

pub use self::hints::{filter_names, template_fields, SampleHints};
pub use self::logs::{reorder, required_substrings, LogPlan};
pub use self::metric::{sum_pushes_down, Node, RangePlan, Strategy};

/// A whole query's plan.
#[derive(Debug)]
pub enum Plan<'a> {
    Logs(LogPlan<'a>),
    Metric { root: Node<'a>, steps: Option<Steps> },
}

impl<'a> Plan<'a> {
    /// The plan of a log query, or of a metric query evaluated at `steps` (None: not known
    /// yet, e.g. for printing).
    pub fn of(expr: &'a Expr, steps: Option<Steps>) -> Plan<'a> {
        match expr {
            Expr::Log(l) => Plan::Logs(LogPlan::new(l)),
            Expr::Metric(m) => Plan::Metric { root: Node::build(m), steps },
        }
    }
}

impl Display for Plan<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Logs(l) => l.write(f, 0),
            Plan::Metric { root, steps } => {
                if let Some(s) = steps {
                    writeln!(f, "{s}")?;
                }
                root.write(f, 0)
            }
        }
    }
}

/// Writes `depth` levels of indentation.
fn indent(f: &mut Formatter<'_>, depth: usize) -> fmt::Result {
    for _ in 0..depth {
        f.write_str("  ")?;
    }
    Ok(())
}

/// The evaluation times of a metric query: instant when `step == 0` (one step at `start`),
/// else `start, start + step, … ≤ end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub start: Nanos,
    pub step: Nanos,
    pub n: usize,
}

impl Steps {
    /// An instant query's step when `start == end && step == 0`, else a range query's.
    pub fn new(start: Nanos, end: Nanos, step: Nanos) -> Steps {
        if start == end && step == 0 {
            Steps::instant(start)
        } else {
            Steps::range(start, end, step)
        }
    }

    /// One evaluation at `t`.
    pub fn instant(t: Nanos) -> Steps {
        Steps { start: t, step: 0, n: 1 }
    }

    /// The steps of a range query from `start` to `end` as given (no alignment).
    pub fn range(start: Nanos, end: Nanos, step: Nanos) -> Steps {
        let step = step.max(1);
        let n = if end < start { 0 } else { ((end - start) / step) as usize + 1 };
        Steps { start, step, n }
    }

    /// The steps of a `query_range` request: Loki's query frontend aligns the start down
    /// and the end up to a multiple of the step.
    pub fn aligned(start: Nanos, end: Nanos, step: Nanos) -> Steps {
        let step = step.max(1);
        let start = start.div_euclid(step) * step;
        let end = end.div_euclid(step) * step + if end.rem_euclid(step) == 0 { 0 } else { step };
        Steps::range(start, end, step)
    }

    pub fn is_instant(&self) -> bool {
        self.step == 0
    }

    /// The `k`-th evaluation time.
    pub fn t(&self, k: usize) -> Nanos {
        self.start + k as i64 * self.step
    }

    /// The last evaluation time (the start when there is none).
    pub fn end(&self) -> Nanos {
        self.t(self.n.saturating_sub(1))
    }
}

impl Display for Steps {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.is_instant() {
            write!(f, "steps: instant at {}", self.start)
        } else {
            write!(f, "steps: {} from {} every {} to {}", self.n, self.start, self.step, self.end())
        }
    }
}

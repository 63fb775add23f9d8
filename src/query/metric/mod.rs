//! Metric query evaluation, step by step (logql.md §6): range aggregations streamed from a
//! [`LogSource`] ([`range`], samples from [`extract`]), vector aggregations and
//! `label_replace` ([`vector`]), binary operators with vector matching ([`binop`]), literals
//! and `vector()`; then Loki's result assembly with the series limit.
//!
//! Every node hands its per-step vectors to its parent through a sink as soon as a step is
//! complete, so only the left leg of a vector ∘ vector operation is held for all steps; raw
//! samples are held for one window at most. Each log range is scanned once.
//!
//! Deliberate differences from Loki 3.7.6: `avg_over_time(…) by (…)` is a true average (the
//! query frontend's sharding divides by all lines, including those without the unwrapped
//! label — fixed upstream in grafana/loki#23906); parser hints are followed only as far as
//! they decide whether parser errors exist at all (see `extract::ErrorMode`).

mod binop;
mod convert;
mod extract;
mod kernel;
mod range;
mod samples;
#[cfg(test)]
pub(crate) mod testutil;
mod vector;

use std::collections::HashMap;

use super::result::{QueryResult, Sample, Series};
use super::source::LogSource;
use super::QueryError;
use crate::logql::{BinOp, BinOpModifier, Grouping, MetricExpr, VectorOp};
use crate::model::{Labels, Nanos};
use crate::query::plan::{self, Steps};
use range::RangeAgg;
use vector::LabelReplace;

/// Evaluation parameters: the expression and its evaluation times.
pub struct MetricQuery<'a> {
    pub expr: &'a MetricExpr,
    pub steps: Steps,
}

/// One step's vector: `(labels, value)`.
type StepVector = Vec<(Labels, f64)>;

/// Output timestamp (ms) of an evaluation time.
fn ms(t: Nanos) -> i64 {
    t / 1_000_000
}

/// Loki's `PipelineError` text.
fn pipeline_error(series: &Labels) -> QueryError {
    QueryError::SeriesError {
        error: series.get("__error__").unwrap_or_default().to_string(),
        series: series.to_string(),
    }
}

fn series_limit(max: usize) -> QueryError {
    QueryError::SeriesLimit { max }
}

/// Evaluates a metric query. `max_series` is Loki's `max_query_series` (0 = unlimited).
pub fn run(q: &MetricQuery, src: &dyn LogSource, max_series: usize) -> Result<QueryResult, QueryError> {
    let steps = q.steps;
    let instant = steps.is_instant();
    let plan = Plan::build(&plan::Node::build(q.expr))?;
    let ev = Eval { steps: &steps, src };
    let limited = |n: usize| max_series > 0 && n > max_series;
    if instant {
        if let Some(v) = plan.constant() {
            return Ok(QueryResult::Scalar(ms(steps.start), v));
        }
        let mut result = Vec::new();
        ev.eval(&plan, &mut |_, val| {
            result = into_vector(val);
            Ok(())
        })?;
        if limited(result.len()) {
            return Err(series_limit(max_series));
        }
        if !has_sort(q.expr) {
            result.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let ts_ms = ms(steps.start);
        return Ok(QueryResult::Vector(
            result.into_iter().map(|(labels, value)| Sample { labels, ts_ms, value }).collect(),
        ));
    }
    let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    ev.eval(&plan, &mut |k, val| {
        let t = ms(steps.t(k));
        let vec = into_vector(val);
        if k == 0 && limited(vec.len()) {
            return Err(series_limit(max_series));
        }
        for (labels, v) in vec {
            if let Some(points) = series.get_mut(&labels) {
                points.push((t, v));
            } else if limited(series.len() + 1) {
                return Err(series_limit(max_series));
            } else {
                series.insert(labels, vec![(t, v)]);
            }
        }
        Ok(())
    })?;
    let mut out: Vec<Series> = series.into_iter().map(|(labels, points)| Series { labels, points }).collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(QueryResult::Matrix(out))
}

/// Whether `sort`/`sort_desc` appears anywhere (then instant results keep their order).
fn has_sort(e: &MetricExpr) -> bool {
    match e {
        MetricExpr::VectorAgg { op: VectorOp::Sort | VectorOp::SortDesc, .. } => true,
        MetricExpr::VectorAgg { expr, .. } | MetricExpr::LabelReplace { expr, .. } => has_sort(expr),
        MetricExpr::BinOp { lhs, rhs, .. } => has_sort(lhs) || has_sort(rhs),
        _ => false,
    }
}

/// The value of an expression at one step.
enum Value {
    Scalar(f64),
    Vector(StepVector),
}

fn into_vector(v: Value) -> StepVector {
    match v {
        Value::Scalar(x) => vec![(Labels::default(), x)],
        Value::Vector(v) => v,
    }
}

/// A literal where Loki needs an evaluator (e.g. `sum(1)`): Loki's error, HTTP 500.
fn expect_vector(v: Value) -> Result<StepVector, QueryError> {
    match v {
        Value::Vector(v) => Ok(v),
        Value::Scalar(_) => Err(QueryError::LiteralNotVector),
    }
}

/// The compiled expression tree.
enum Plan<'a> {
    Literal(f64),
    Vector(f64),
    Range(RangeAgg<'a>),
    VectorAgg { op: VectorOp, param: Option<f64>, grouping: Option<&'a Grouping>, child: Box<Plan<'a>> },
    BinOp { op: BinOp, modifier: &'a BinOpModifier, lhs: Box<Plan<'a>>, rhs: Box<Plan<'a>> },
    LabelReplace { child: Box<Plan<'a>>, replace: LabelReplace },
}

impl<'a> Plan<'a> {
    /// Compiles the planned tree (regexes, pipelines, extractors).
    fn build(node: &plan::Node<'a>) -> Result<Plan<'a>, QueryError> {
        Ok(match node {
            plan::Node::Literal(v) => Plan::Literal(*v),
            plan::Node::Vector(v) => Plan::Vector(*v),
            plan::Node::Range(r) => Plan::Range(RangeAgg::new(r)?),
            plan::Node::VectorAgg { op, param, grouping, child } => {
                Plan::VectorAgg { op: *op, param: *param, grouping: *grouping, child: Box::new(Plan::build(child)?) }
            }
            plan::Node::BinOp { op, modifier, lhs, rhs } => {
                Plan::BinOp { op: *op, modifier, lhs: Box::new(Plan::build(lhs)?), rhs: Box::new(Plan::build(rhs)?) }
            }
            plan::Node::LabelReplace { dst, replacement, src, regex, child } => Plan::LabelReplace {
                child: Box::new(Plan::build(child)?),
                replace: LabelReplace::new(dst, replacement, src, regex)?,
            },
        })
    }

    /// The value of a literal-only expression (folded as Loki's parser does).
    fn constant(&self) -> Option<f64> {
        match self {
            Plan::Literal(v) => Some(*v),
            Plan::BinOp { op, lhs, rhs, .. } => Some(binop::apply(*op, lhs.constant()?, rhs.constant()?)),
            _ => None,
        }
    }
}

type Sink<'s> = dyn FnMut(usize, Value) -> Result<(), QueryError> + 's;

struct Eval<'e> {
    steps: &'e Steps,
    src: &'e dyn LogSource,
}

impl Eval<'_> {
    /// Calls `sink` once per step, in step order.
    fn eval(&self, plan: &Plan<'_>, sink: &mut Sink<'_>) -> Result<(), QueryError> {
        if let Some(c) = plan.constant() {
            return (0..self.steps.n).try_for_each(|k| sink(k, Value::Scalar(c)));
        }
        match plan {
            Plan::Literal(_) => unreachable!("constant"),
            Plan::Vector(v) => {
                (0..self.steps.n).try_for_each(|k| sink(k, Value::Vector(vec![(Labels::default(), *v)])))
            }
            Plan::Range(r) => r.scan(self.steps, self.src, &mut |k, v| sink(k, Value::Vector(v))),
            Plan::VectorAgg { op, param, grouping, child } => self.eval(child, &mut |k, val| {
                sink(k, Value::Vector(vector::aggregate(*op, *param, *grouping, expect_vector(val)?)))
            }),
            Plan::LabelReplace { child, replace } => {
                self.eval(child, &mut |k, val| sink(k, Value::Vector(replace.apply(expect_vector(val)?))))
            }
            Plan::BinOp { op, modifier, lhs, rhs } => {
                let rb = modifier.return_bool;
                match (lhs.constant(), rhs.constant()) {
                    (Some(a), _) => self.eval(rhs, &mut |k, val| {
                        sink(k, Value::Vector(binop::with_scalar(*op, rb, expect_vector(val)?, a, true)))
                    }),
                    (_, Some(b)) => self.eval(lhs, &mut |k, val| {
                        sink(k, Value::Vector(binop::with_scalar(*op, rb, expect_vector(val)?, b, false)))
                    }),
                    (None, None) => {
                        let mut left = Vec::with_capacity(self.steps.n.min(1 << 14));
                        self.eval(lhs, &mut |_, val| {
                            left.push(expect_vector(val)?);
                            Ok(())
                        })?;
                        let mut left = left.into_iter();
                        self.eval(rhs, &mut |k, val| {
                            let l = left.next().unwrap_or_default();
                            sink(k, Value::Vector(binop::vectors(*op, modifier, l, expect_vector(val)?)?))
                        })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{inst, labels, metric, points, run_q, v, MemSource, S};
    use super::*;

    const T: i64 = 4_000_000_000 * S;

    fn src() -> MemSource {
        let mut e = Vec::new();
        for i in 0..6i64 {
            e.push((
                i * 10 * S + S,
                labels(&[("app", "a"), ("level", if i % 2 == 0 { "info" } else { "error" })]),
                "x",
            ));
            e.push((i * 10 * S + 2 * S, labels(&[("app", "b"), ("level", "info")]), "yy"));
        }
        e.push((33 * S, labels(&[("app", "c"), ("level", "warn")]), "zzz"));
        MemSource::new(e)
    }

    #[test]
    fn literals_and_vector() {
        let s = src();
        let r = run_q("2 * 3", &s, T, T, 0).unwrap();
        assert_eq!(r, QueryResult::Scalar(4_000_000_000_000, 6.0));
        let r = run_q("vector(1)+vector(1)", &s, T, T, 0).unwrap();
        assert_eq!(
            r,
            QueryResult::Vector(vec![Sample { labels: Labels::default(), ts_ms: 4_000_000_000_000, value: 2.0 }])
        );
        let r = run_q("6", &s, 0, 120 * S, 60 * S).unwrap();
        assert_eq!(points(r), vec![("{}".into(), vec![(0, 6.0), (60_000, 6.0), (120_000, 6.0)])]);
        let r = run_q("vector(2) * 3", &s, 0, 60 * S, 60 * S).unwrap();
        assert_eq!(points(r), vec![("{}".into(), vec![(0, 6.0), (60_000, 6.0)])]);
        let err = run_q("sum(1)", &s, T, T, 0).unwrap_err();
        assert!(matches!(err, QueryError::LiteralNotVector));
    }

    #[test]
    fn sum_by_and_ratio() {
        let s = src();
        let r = run_q(r#"sum by (level) (count_over_time({app=~"a|b"}[60s]))"#, &s, 60 * S, 60 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[("{level=\"error\"}", 3.0), ("{level=\"info\"}", 9.0)]));
        let q = r#"sum(count_over_time({level="error"}[60s])) / sum(count_over_time({app=~".+"}[60s]))"#;
        assert_eq!(inst(run_q(q, &s, 60 * S, 60 * S, 0).unwrap()), v(&[("{}", 3.0 / 13.0)]));
        assert_eq!(s.scans.get(), 3);
        // Division by an empty step is no point at all; by zero is NaN.
        let q = r#"sum(count_over_time({app="a"}[5s])) / (sum(count_over_time({app="a"}[5s])) - 1)"#;
        let r = inst(run_q(q, &s, 2 * S, 2 * S, 0).unwrap());
        assert!(r[0].1.is_nan());
    }

    #[test]
    fn topk_per_step_is_a_union_of_series() {
        let s = src();
        let q = r#"topk(1, sum by (app) (count_over_time({app=~".+"}[10s])))"#;
        // At 10,20,30: a and b tie (1 each) → the first in label order (a); at 40: c (1)…
        let r = points(run_q(q, &s, 10 * S, 40 * S, 10 * S).unwrap());
        assert_eq!(r.len(), 1);
        let q = r#"topk(1, sum by (app) (bytes_over_time({app=~".+"}[10s])))"#;
        let r = points(run_q(q, &s, 10 * S, 40 * S, 10 * S).unwrap());
        assert_eq!(
            r,
            vec![
                ("{app=\"b\"}".into(), vec![(10_000, 2.0), (20_000, 2.0), (30_000, 2.0)]),
                ("{app=\"c\"}".into(), vec![(40_000, 3.0)]),
            ]
        );
    }

    #[test]
    fn instant_sort_order_rules() {
        let s = src();
        let q = |f: &str| format!(r#"{f}(sum by (app) (bytes_over_time({{app=~".+"}}[60s])))"#);
        // a: 6×1, b: 6×2, c: 3.
        let labels_only = |r: Vec<(String, f64)>| r.into_iter().map(|x| x.0).collect::<Vec<_>>();
        let r = inst(run_q(&q("sort_desc"), &s, 60 * S, 60 * S, 0).unwrap());
        assert_eq!(r, v(&[("{app=\"b\"}", 12.0), ("{app=\"a\"}", 6.0), ("{app=\"c\"}", 3.0)]));
        let r = inst(run_q(&q("sort"), &s, 60 * S, 60 * S, 0).unwrap());
        assert_eq!(labels_only(r), vec!["{app=\"c\"}", "{app=\"a\"}", "{app=\"b\"}"]);
        // Sort anywhere in the query keeps the value order.
        let r = inst(run_q(&format!("{} * 2", q("sort")), &s, 60 * S, 60 * S, 0).unwrap());
        assert_eq!(labels_only(r), vec!["{app=\"c\"}", "{app=\"a\"}", "{app=\"b\"}"]);
        // topk comes back sorted by labels.
        let r =
            inst(run_q(r#"topk(2, sum by (app) (bytes_over_time({app=~".+"}[60s])))"#, &s, 60 * S, 60 * S, 0).unwrap());
        assert_eq!(r, v(&[("{app=\"a\"}", 6.0), ("{app=\"b\"}", 12.0)]));
    }

    #[test]
    fn binops_end_to_end() {
        let s = src();
        let t = 60 * S;
        let q = r#"sum by (app, level) (count_over_time({app=~".+"}[60s])) / on (app) group_left sum by (app) (count_over_time({app=~".+"}[60s]))"#;
        let r = inst(run_q(q, &s, t, t, 0).unwrap());
        assert_eq!(
            r,
            v(&[
                ("{app=\"a\", level=\"error\"}", 0.5),
                ("{app=\"a\", level=\"info\"}", 0.5),
                ("{app=\"b\", level=\"info\"}", 1.0),
                ("{app=\"c\", level=\"warn\"}", 1.0),
            ])
        );
        let q = r#"count_over_time({app="a"}[60s]) > 2"#;
        assert_eq!(
            inst(run_q(q, &s, t, t, 0).unwrap()),
            v(&[("{app=\"a\", level=\"error\"}", 3.0), ("{app=\"a\", level=\"info\"}", 3.0)])
        );
        let q = r#"sum(count_over_time({app="zz"}[60s])) or vector(0)"#;
        assert_eq!(inst(run_q(q, &s, t, t, 0).unwrap()), v(&[("{}", 0.0)]));
        let q = r#"count_over_time({app=~".+"}[60s]) unless on (app) count_over_time({level="error"}[60s])"#;
        let r = inst(run_q(q, &s, t, t, 0).unwrap());
        assert_eq!(
            r.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            vec!["{app=\"b\", level=\"info\"}", "{app=\"c\", level=\"warn\"}"]
        );
        let q = r#"sum by (app) (count_over_time({app=~".+"}[60s])) + on () count_over_time({app="c"}[60s])"#;
        let err = run_q(q, &s, t, t, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
        );
        let q = r#"label_replace(sum by (app) (count_over_time({app="c"}[60s])), "svc", "$1-svc", "app", "(.*)")"#;
        assert_eq!(inst(run_q(q, &s, t, t, 0).unwrap()), v(&[("{app=\"c\", svc=\"c-svc\"}", 1.0)]));
    }

    #[test]
    fn series_limit() {
        let s = src();
        let e = metric(r#"count_over_time({app=~".+"}[60s])"#);
        let q = MetricQuery { expr: &e, steps: Steps::instant(60 * S) };
        assert_eq!(inst(run(&q, &s, 4).unwrap()).len(), 4);
        let err = run(&q, &s, 3).unwrap_err();
        assert!(matches!(err, QueryError::SeriesLimit { max: 3 }), "{err}");
        assert_eq!(
            err.to_string(),
            "maximum number of series (3) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
        );
        // Range: 2 series per step but 3 distinct over the range.
        let e = metric(r#"count_over_time({app=~"a|c"}[10s])"#);
        let q = MetricQuery { expr: &e, steps: Steps::range(10 * S, 40 * S, 10 * S) };
        assert!(matches!(run(&q, &s, 2), Err(QueryError::SeriesLimit { max: 2 })));
        assert_eq!(points(run(&q, &s, 3).unwrap()).len(), 3);
        assert_eq!(points(run(&q, &s, 0).unwrap()).len(), 3, "0 = unlimited");
    }

    #[test]
    fn range_results_are_sorted_and_empty_when_nothing_matches() {
        let s = src();
        let r = points(run_q(r#"count_over_time({app=~".+"}[10s])"#, &s, 10 * S, 60 * S, 10 * S).unwrap());
        let names: Vec<_> = r.iter().map(|x| x.0.clone()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(points(run_q(r#"count_over_time({app="zz"}[10s])"#, &s, 0, 60 * S, 10 * S).unwrap()).is_empty());
        assert!(points(run_q(r#"sum(count_over_time({app="zz"}[10s]))"#, &s, 0, 60 * S, 10 * S).unwrap()).is_empty());
    }
}

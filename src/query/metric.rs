//! Metric query evaluation, step by step: literals, `vector()`, binary operators with
//! Loki's vector matching. Range and vector aggregations are refused with a 400 until
//! they are implemented (never wrong data).

use std::collections::HashMap;

use super::result::{QueryResult, Sample, Series};
use super::QueryError;
use crate::logql::{BinOp, BinOpModifier, MetricExpr};
use crate::model::{Labels, Nanos};

/// The value of an expression at one step.
#[derive(Clone, Debug)]
enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

/// Evaluation parameters: instant when `start == end && step == 0`.
pub struct MetricQuery<'a> {
    pub expr: &'a MetricExpr,
    pub start: Nanos,
    pub end: Nanos,
    pub step: Nanos,
}

pub fn run(q: &MetricQuery) -> Result<QueryResult, QueryError> {
    check_supported(q.expr)?;
    let instant = q.start == q.end && q.step == 0;
    if instant {
        let ms = q.start.div_euclid(1_000_000);
        return Ok(match eval(q.expr, q.start)? {
            Value::Scalar(v) => QueryResult::Scalar(ms, v),
            Value::Vector(v) => {
                let mut samples: Vec<Sample> =
                    v.into_iter().map(|(labels, value)| Sample { labels, ts_ms: ms, value }).collect();
                samples.sort_by(|a, b| a.labels.cmp(&b.labels));
                QueryResult::Vector(samples)
            }
        });
    }
    let step = q.step.max(1);
    let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    let mut t = q.start;
    while t <= q.end {
        let ms = t.div_euclid(1_000_000);
        match eval(q.expr, t)? {
            Value::Scalar(v) => series.entry(Labels::default()).or_default().push((ms, v)),
            Value::Vector(v) => {
                for (labels, value) in v {
                    series.entry(labels).or_default().push((ms, value));
                }
            }
        }
        t += step;
    }
    let mut out: Vec<Series> = series.into_iter().map(|(labels, points)| Series { labels, points }).collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(QueryResult::Matrix(out))
}

fn check_supported(e: &MetricExpr) -> Result<(), QueryError> {
    match e {
        MetricExpr::RangeAgg { .. } => Err(QueryError::Unsupported("range aggregation (e.g. count_over_time)".into())),
        MetricExpr::VectorAgg { .. } => Err(QueryError::Unsupported("vector aggregation (e.g. sum by)".into())),
        MetricExpr::LabelReplace { .. } => Err(QueryError::Unsupported("label_replace".into())),
        MetricExpr::BinOp { lhs, rhs, .. } => {
            check_supported(lhs)?;
            check_supported(rhs)
        }
        MetricExpr::Literal(_) | MetricExpr::Vector(_) => Ok(()),
    }
}

fn eval(e: &MetricExpr, t: Nanos) -> Result<Value, QueryError> {
    Ok(match e {
        MetricExpr::Literal(v) => Value::Scalar(*v),
        MetricExpr::Vector(v) => Value::Vector(vec![(Labels::default(), *v)]),
        MetricExpr::BinOp { op, modifier, lhs, rhs } => binop(*op, modifier, eval(lhs, t)?, eval(rhs, t)?)?,
        _ => unreachable!("check_supported rejected it"),
    })
}

/// Arithmetic and comparison on two numbers; comparisons yield Some(1/0) only when `bool`.
pub fn apply(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        // Loki deviates from Prometheus: x/0 and x%0 are NaN.
        BinOp::Div => if b == 0.0 { f64::NAN } else { a / b },
        BinOp::Mod => if b == 0.0 { f64::NAN } else { a % b },
        BinOp::Pow => a.powf(b),
        BinOp::Eq => (a == b) as u8 as f64,
        BinOp::Neq => (a != b) as u8 as f64,
        BinOp::Gt => (a > b) as u8 as f64,
        BinOp::Gte => (a >= b) as u8 as f64,
        BinOp::Lt => (a < b) as u8 as f64,
        BinOp::Lte => (a <= b) as u8 as f64,
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Eq | BinOp::Neq | BinOp::Gt | BinOp::Gte | BinOp::Lt | BinOp::Lte)
}

fn binop(op: BinOp, m: &BinOpModifier, l: Value, r: Value) -> Result<Value, QueryError> {
    let cmp = is_comparison(op);
    Ok(match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(apply(op, a, b)),
        (Value::Vector(v), Value::Scalar(s)) => Value::Vector(
            v.into_iter()
                .filter_map(|(l, a)| scalar_side(op, m.return_bool, cmp, a, s, a).map(|x| (l, x)))
                .collect(),
        ),
        (Value::Scalar(s), Value::Vector(v)) => Value::Vector(
            v.into_iter()
                .filter_map(|(l, b)| scalar_side(op, m.return_bool, cmp, s, b, b).map(|x| (l, x)))
                .collect(),
        ),
        (Value::Vector(a), Value::Vector(b)) => Value::Vector(vector_binop(op, m, a, b)?),
    })
}

/// `keep` is the vector's own value, returned by a filtering comparison.
fn scalar_side(op: BinOp, return_bool: bool, cmp: bool, a: f64, b: f64, keep: f64) -> Option<f64> {
    let v = apply(op, a, b);
    if !cmp || return_bool {
        Some(v)
    } else if v == 1.0 {
        Some(keep)
    } else {
        None
    }
}

fn signature(l: &Labels, m: &BinOpModifier) -> Labels {
    match &m.matching {
        None => l.clone(),
        Some(vm) if vm.on => Labels(l.0.iter().filter(|(n, _)| vm.labels.contains(n)).cloned().collect()),
        Some(vm) => Labels(l.0.iter().filter(|(n, _)| !vm.labels.contains(n)).cloned().collect()),
    }
}

fn vector_binop(
    op: BinOp,
    m: &BinOpModifier,
    lhs: Vec<(Labels, f64)>,
    rhs: Vec<(Labels, f64)>,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    match op {
        BinOp::And | BinOp::Or | BinOp::Unless => {
            let right: std::collections::HashSet<Labels> = rhs.iter().map(|(l, _)| signature(l, m)).collect();
            return Ok(match op {
                BinOp::And => lhs.into_iter().filter(|(l, _)| right.contains(&signature(l, m))).collect(),
                BinOp::Unless => lhs.into_iter().filter(|(l, _)| !right.contains(&signature(l, m))).collect(),
                _ => {
                    let left: std::collections::HashSet<Labels> = lhs.iter().map(|(l, _)| signature(l, m)).collect();
                    let mut out = lhs;
                    out.extend(rhs.into_iter().filter(|(l, _)| !left.contains(&signature(l, m))));
                    out
                }
            });
        }
        _ => {}
    }
    if m.group.is_some() {
        return Err(QueryError::Unsupported("group_left/group_right".into()));
    }
    let mut right: HashMap<Labels, f64> = HashMap::new();
    for (l, v) in rhs {
        if right.insert(signature(&l, m), v).is_some() {
            return Err(QueryError::Execution(
                "found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side".into(),
            ));
        }
    }
    let cmp = is_comparison(op);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (l, a) in lhs {
        let sig = signature(&l, m);
        let Some(&b) = right.get(&sig) else { continue };
        if !seen.insert(sig.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        let labels = match &m.matching {
            Some(vm) if vm.on => sig,
            Some(_) => sig,
            None => l,
        };
        if let Some(v) = scalar_side(op, m.return_bool, cmp, a, b, a) {
            out.push((labels, v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_plus_vector() -> MetricExpr {
        MetricExpr::BinOp {
            op: BinOp::Add,
            modifier: BinOpModifier::default(),
            lhs: Box::new(MetricExpr::Vector(1.0)),
            rhs: Box::new(MetricExpr::Vector(1.0)),
        }
    }

    #[test]
    fn grafana_health_check_is_two() {
        let e = vector_plus_vector();
        let t = 4_000_000_000 * 1_000_000_000;
        let r = run(&MetricQuery { expr: &e, start: t, end: t, step: 0 }).unwrap();
        assert_eq!(
            r,
            QueryResult::Vector(vec![Sample { labels: Labels::default(), ts_ms: 4_000_000_000_000, value: 2.0 }])
        );
    }

    #[test]
    fn literal_range_query_is_a_matrix_at_every_step() {
        let e = MetricExpr::Literal(6.0);
        let r = run(&MetricQuery { expr: &e, start: 0, end: 120_000_000_000, step: 60_000_000_000 }).unwrap();
        let QueryResult::Matrix(s) = r else { panic!("matrix expected") };
        assert_eq!(s[0].points, vec![(0, 6.0), (60_000, 6.0), (120_000, 6.0)]);
    }

    #[test]
    fn division_by_zero_is_nan() {
        assert!(apply(BinOp::Div, 1.0, 0.0).is_nan());
        assert!(apply(BinOp::Mod, 1.0, 0.0).is_nan());
    }
}

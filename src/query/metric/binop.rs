//! Binary operators at one step (logql.md §6.7): scalar arithmetic/comparison, vector ∘
//! scalar, vector ∘ vector with `on`/`ignoring`, `group_left`/`group_right`, `bool`, and the
//! set operators `and`, `or`, `unless`.

use std::collections::{HashMap, HashSet};

use super::StepVector;
use crate::logql::{BinOp, BinOpModifier};
use crate::model::Labels;
use crate::query::QueryError;

/// Arithmetic and comparison on two numbers (comparisons give 1/0). Loki deviates from
/// Prometheus: `x/0` and `x%0` are NaN.
pub(super) fn apply(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => f64::NAN,
        BinOp::Div => a / b,
        BinOp::Mod if b == 0.0 => f64::NAN,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Eq => f64::from(u8::from(a == b)),
        BinOp::Neq => f64::from(u8::from(a != b)),
        BinOp::Gt => f64::from(u8::from(a > b)),
        BinOp::Gte => f64::from(u8::from(a >= b)),
        BinOp::Lt => f64::from(u8::from(a < b)),
        BinOp::Lte => f64::from(u8::from(a <= b)),
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

pub(super) fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Eq | BinOp::Neq | BinOp::Gt | BinOp::Gte | BinOp::Lt | BinOp::Lte)
}

/// Loki's `MergeBinOp` on two values: `None` drops the pair (a false comparison without
/// `bool`); a true comparison without `bool` yields `keep`.
fn merge(op: BinOp, a: f64, b: f64, filter: bool, keep: f64) -> Option<f64> {
    let v = apply(op, a, b);
    if !is_comparison(op) || !filter {
        Some(v)
    } else if v == 1.0 {
        Some(keep)
    } else {
        None
    }
}

/// `vector op scalar` (`scalar_left: false`) or `scalar op vector`; labels are kept and a
/// filtering comparison keeps the vector's own value.
pub(super) fn with_scalar(op: BinOp, return_bool: bool, v: StepVector, s: f64, scalar_left: bool) -> StepVector {
    v.into_iter()
        .filter_map(|(l, x)| {
            let (a, b) = if scalar_left { (s, x) } else { (x, s) };
            merge(op, a, b, !return_bool, x).map(|r| (l, r))
        })
        .collect()
}

fn signature(l: &Labels, m: &BinOpModifier) -> Labels {
    match &m.matching {
        None => l.clone(),
        Some(vm) if vm.on => Labels(l.0.iter().filter(|(n, _)| vm.labels.contains(n)).cloned().collect()),
        Some(vm) => Labels(l.0.iter().filter(|(n, _)| !vm.labels.contains(n)).cloned().collect()),
    }
}

/// Result labels of a matched pair: `many` is the left side, or the right one for
/// `group_right`; `one` the other side.
fn result_labels(many: &Labels, one: &Labels, m: &BinOpModifier) -> Labels {
    let mut out = many.clone();
    match (&m.group, &m.matching) {
        (None, Some(vm)) if vm.on => out.0.retain(|(n, _)| vm.labels.contains(n)),
        (None, Some(vm)) => out.0.retain(|(n, _)| !vm.labels.contains(n)),
        (None, None) => {}
        (Some(g), _) => {
            for name in &g.labels {
                match one.get(name) {
                    Some(v) if !v.is_empty() => {
                        let v = v.to_string();
                        out.set(name, &v);
                    }
                    _ => out.0.retain(|(n, _)| n != name),
                }
            }
        }
    }
    out
}

/// `vector op vector`.
pub(super) fn vectors(
    op: BinOp,
    m: &BinOpModifier,
    lhs: StepVector,
    rhs: StepVector,
) -> Result<StepVector, QueryError> {
    match op {
        BinOp::And | BinOp::Or | BinOp::Unless => return Ok(set_op(op, m, lhs, rhs)),
        _ => {}
    }
    let one_to_many = m.group.as_ref().is_some_and(|g| !g.left);
    // For group_right the right side is the "many" side: swap, match, swap back to compute.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_sig: HashMap<Labels, (Labels, f64)> = HashMap::with_capacity(one.len());
    for (l, v) in one {
        if one_by_sig.insert(signature(&l, m), (l, v)).is_some() {
            let side = if one_to_many { "left" } else { "right" };
            return Err(QueryError::ManyToMany { side });
        }
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for (l, v) in many {
        let sig = signature(&l, m);
        let Some((rl, rv)) = one_by_sig.get(&sig) else { continue };
        let labels = result_labels(&l, rl, m);
        if m.group.is_none() {
            if matched.insert(sig, HashSet::new()).is_some() {
                return Err(QueryError::ManyToOneNotExplicit);
            }
        } else if !matched.entry(sig).or_default().insert(labels.clone()) {
            return Err(QueryError::GroupingNotUnique);
        }
        let (a, b) = if one_to_many { (*rv, v) } else { (v, *rv) };
        if let Some(x) = merge(op, a, b, !m.return_bool, a) {
            out.push((labels, x));
        }
    }
    Ok(out)
}

fn set_op(op: BinOp, m: &BinOpModifier, lhs: StepVector, rhs: StepVector) -> StepVector {
    match op {
        BinOp::Or => {
            let left: HashSet<Labels> = lhs.iter().map(|(l, _)| signature(l, m)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|(l, _)| !left.contains(&signature(l, m))));
            out
        }
        _ => {
            let right: HashSet<Labels> = rhs.iter().map(|(l, _)| signature(l, m)).collect();
            let want = op == BinOp::And;
            lhs.into_iter().filter(|(l, _)| right.contains(&signature(l, m)) == want).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{GroupModifier, VectorMatching};
    use crate::query::metric::testutil::labels;

    fn sv(items: &[(&[(&str, &str)], f64)]) -> StepVector {
        items.iter().map(|(l, v)| (labels(l), *v)).collect()
    }

    fn show(v: StepVector) -> Vec<(String, f64)> {
        v.into_iter().map(|(l, x)| (l.to_string(), x)).collect()
    }

    fn modifier(on: Option<(bool, &[&str])>, group: Option<(bool, &[&str])>, return_bool: bool) -> BinOpModifier {
        BinOpModifier {
            return_bool,
            matching: on.map(|(on, l)| VectorMatching { on, labels: l.iter().map(|s| s.to_string()).collect() }),
            group: group.map(|(left, l)| GroupModifier { left, labels: l.iter().map(|s| s.to_string()).collect() }),
        }
    }

    #[test]
    fn arithmetic_and_division_by_zero() {
        assert!(apply(BinOp::Div, 1.0, 0.0).is_nan());
        assert!(apply(BinOp::Mod, 1.0, 0.0).is_nan());
        assert_eq!(apply(BinOp::Mod, -7.0, 3.0), -1.0);
        assert_eq!(apply(BinOp::Pow, 2.0, 10.0), 1024.0);
        assert_eq!(apply(BinOp::Gte, 1.0, 1.0), 1.0);
    }

    #[test]
    fn vector_scalar_comparisons_filter_or_bool() {
        let v = sv(&[(&[("a", "1")], 1.0), (&[("a", "2")], 5.0)]);
        assert_eq!(show(with_scalar(BinOp::Gt, false, v.clone(), 2.0, false)), vec![("{a=\"2\"}".into(), 5.0)]);
        assert_eq!(
            show(with_scalar(BinOp::Gt, true, v.clone(), 2.0, false)),
            vec![("{a=\"1\"}".into(), 0.0), ("{a=\"2\"}".into(), 1.0)]
        );
        // 2 > v keeps the vector's value.
        assert_eq!(show(with_scalar(BinOp::Gt, false, v.clone(), 2.0, true)), vec![("{a=\"1\"}".into(), 1.0)]);
        assert_eq!(
            show(with_scalar(BinOp::Sub, false, v, 10.0, true)),
            vec![("{a=\"1\"}".into(), 9.0), ("{a=\"2\"}".into(), 5.0)]
        );
    }

    #[test]
    fn one_to_one_with_on_and_ignoring() {
        let l = sv(&[(&[("app", "a"), ("x", "1")], 10.0), (&[("app", "b"), ("x", "1")], 20.0)]);
        let r = sv(&[(&[("app", "a"), ("y", "2")], 2.0), (&[("app", "c"), ("y", "2")], 4.0)]);
        let on = modifier(Some((true, &["app"])), None, false);
        assert_eq!(show(vectors(BinOp::Div, &on, l.clone(), r.clone()).unwrap()), vec![("{app=\"a\"}".into(), 5.0)]);
        let ign = modifier(Some((false, &["x", "y"])), None, false);
        assert_eq!(show(vectors(BinOp::Mul, &ign, l.clone(), r.clone()).unwrap()), vec![("{app=\"a\"}".into(), 20.0)]);
        // Default matching uses all labels: nothing matches here.
        assert!(vectors(BinOp::Add, &BinOpModifier::default(), l.clone(), r.clone()).unwrap().is_empty());
        // Comparison keeps the left value; bool yields 0/1.
        assert_eq!(show(vectors(BinOp::Gt, &on, l.clone(), r.clone()).unwrap()), vec![("{app=\"a\"}".into(), 10.0)]);
        let on_bool = modifier(Some((true, &["app"])), None, true);
        assert_eq!(
            show(vectors(BinOp::Lt, &on_bool, l.clone(), r.clone()).unwrap()),
            vec![("{app=\"a\"}".into(), 0.0)]
        );
        // Errors: duplicate right side, many-to-one without group_left.
        let on_none = modifier(Some((true, &[])), None, false);
        let err = vectors(BinOp::Add, &on_none, l.clone(), r).unwrap_err();
        assert!(matches!(err, QueryError::ManyToMany { side: "right" }));
        assert_eq!(err.to_string(), "found duplicate series on the right hand-side;many-to-many matching not allowed: matching labels must be unique on one side");
        let err = vectors(BinOp::Add, &on_none, l, sv(&[(&[], 1.0)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
        );
    }

    #[test]
    fn group_left_and_group_right() {
        let many = sv(&[
            (&[("app", "a"), ("pod", "1")], 10.0),
            (&[("app", "a"), ("pod", "2")], 30.0),
            (&[("app", "b"), ("pod", "1")], 5.0),
        ]);
        let one = sv(&[(&[("app", "a"), ("team", "t1")], 40.0), (&[("app", "b"), ("team", "")], 5.0)]);
        let gl = modifier(Some((true, &["app"])), Some((true, &["team"])), false);
        let r = show(vectors(BinOp::Div, &gl, many.clone(), one.clone()).unwrap());
        assert_eq!(
            r,
            vec![
                ("{app=\"a\", pod=\"1\", team=\"t1\"}".into(), 0.25),
                ("{app=\"a\", pod=\"2\", team=\"t1\"}".into(), 0.75),
                ("{app=\"b\", pod=\"1\"}".into(), 1.0),
            ]
        );
        // group_right: the right side is "many"; values still computed left op right.
        let gr = modifier(Some((true, &["app"])), Some((false, &["team"])), false);
        let r = show(vectors(BinOp::Sub, &gr, one.clone(), many.clone()).unwrap());
        assert_eq!(r[0], ("{app=\"a\", pod=\"1\", team=\"t1\"}".into(), 30.0));
        assert_eq!(r.len(), 3);
        // Comparison without bool keeps the left (one-side) value under group_right.
        let r = show(vectors(BinOp::Gt, &gr, one.clone(), many.clone()).unwrap());
        assert_eq!(
            r,
            vec![
                ("{app=\"a\", pod=\"1\", team=\"t1\"}".into(), 40.0),
                ("{app=\"a\", pod=\"2\", team=\"t1\"}".into(), 40.0)
            ]
        );
        // Duplicate "one" side under group_right is reported on the left.
        let err = vectors(BinOp::Sub, &gr, many.clone(), one.clone()).unwrap_err();
        assert!(err.to_string().starts_with("found duplicate series on the left hand-side"));
        // Grouping that collapses two many-side samples into one label set.
        let many2 = sv(&[(&[("app", "a"), ("team", "x")], 1.0), (&[("app", "a"), ("team", "y")], 2.0)]);
        let err = vectors(BinOp::Add, &gl, many2, one).unwrap_err();
        assert_eq!(err.to_string(), "multiple matches for labels: grouping labels must ensure unique matches");
    }

    #[test]
    fn set_operators() {
        let l = sv(&[(&[("a", "1")], 1.0), (&[("a", "2")], 2.0)]);
        let r = sv(&[(&[("a", "2")], 20.0), (&[("a", "3")], 30.0)]);
        let d = BinOpModifier::default();
        assert_eq!(show(set_op(BinOp::And, &d, l.clone(), r.clone())), vec![("{a=\"2\"}".into(), 2.0)]);
        assert_eq!(show(set_op(BinOp::Unless, &d, l.clone(), r.clone())), vec![("{a=\"1\"}".into(), 1.0)]);
        assert_eq!(
            show(set_op(BinOp::Or, &d, l.clone(), r.clone())),
            vec![("{a=\"1\"}".into(), 1.0), ("{a=\"2\"}".into(), 2.0), ("{a=\"3\"}".into(), 30.0)]
        );
        let on_none = modifier(Some((true, &[])), None, false);
        assert_eq!(set_op(BinOp::And, &on_none, l.clone(), r.clone()).len(), 2);
        assert!(set_op(BinOp::And, &d, l.clone(), vec![]).is_empty());
        assert_eq!(set_op(BinOp::Unless, &d, l.clone(), vec![]).len(), 2);
        assert_eq!(set_op(BinOp::Or, &d, vec![], r).len(), 2);
    }
}

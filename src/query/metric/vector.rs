//! Vector aggregations at one step (`sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`,
//! `topk`, `bottomk`, `sort`, `sort_desc`) and `label_replace` (logql.md §6.6, §6.8).

use std::cmp::Ordering;
use std::collections::HashMap;

use super::convert::anchored_regex_with_names;
use super::StepVector;
use crate::logql::{Grouping, VectorOp};
use crate::model::Labels;
use crate::query::QueryError;

/// The group key (= output labels) of a sample.
fn group_key(l: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Labels::default(),
        Some(Grouping::By(g)) => Labels(l.0.iter().filter(|(n, _)| g.contains(n)).cloned().collect()),
        Some(Grouping::Without(g)) => {
            Labels(l.0.iter().filter(|(n, _)| n != "__name__" && !g.contains(n)).cloned().collect())
        }
    }
}

/// Descending by value, NaN last (`sort_desc`, `topk`).
fn desc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Ascending by value, NaN last (`sort`, `bottomk`).
fn asc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

struct Group {
    key: Labels,
    value: f64,
    mean: f64,
    count: usize,
    /// Original samples (topk, bottomk, sort, sort_desc).
    members: Vec<(Labels, f64)>,
}

/// Aggregates one step's vector. Groups come out in order of first appearance; `topk` keeps
/// the `k` largest original samples per group (ties: earlier input first), `sort*` keep all.
pub(super) fn aggregate(
    op: VectorOp,
    param: Option<f64>,
    grouping: Option<&Grouping>,
    input: StepVector,
) -> StepVector {
    let keeps_members =
        matches!(op, VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk | VectorOp::Sort | VectorOp::SortDesc);
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (labels, v) in input {
        let key = group_key(&labels, grouping);
        let Some(&i) = index.get(&key) else {
            index.insert(key.clone(), groups.len());
            let value = if matches!(op, VectorOp::Stddev | VectorOp::Stdvar) { 0.0 } else { v };
            let members = if keeps_members { vec![(labels, v)] } else { Vec::new() };
            groups.push(Group { key, value, mean: v, count: 1, members });
            continue;
        };
        let g = &mut groups[i];
        match op {
            VectorOp::Sum => g.value += v,
            VectorOp::Avg => {
                g.count += 1;
                if g.mean.is_infinite()
                    && ((v.is_infinite() && (g.mean > 0.0) == (v > 0.0)) || (!v.is_infinite() && !v.is_nan()))
                {
                    continue;
                }
                g.mean += (v - g.mean) / g.count as f64;
            }
            VectorOp::Max => {
                if g.value < v || g.value.is_nan() {
                    g.value = v;
                }
            }
            VectorOp::Min => {
                if g.value > v || g.value.is_nan() {
                    g.value = v;
                }
            }
            VectorOp::Count => g.count += 1,
            VectorOp::Stddev | VectorOp::Stdvar => {
                g.count += 1;
                let delta = v - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (v - g.mean);
            }
            VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk | VectorOp::Sort | VectorOp::SortDesc => {
                g.members.push((labels, v));
            }
        }
    }
    let k = param.unwrap_or(0.0).max(0.0) as usize;
    let mut out = Vec::new();
    for mut g in groups {
        let value = match op {
            VectorOp::Avg => g.mean,
            VectorOp::Count => g.count as f64,
            VectorOp::Stddev => (g.value / g.count as f64).sqrt(),
            VectorOp::Stdvar => g.value / g.count as f64,
            VectorOp::Topk | VectorOp::ApproxTopk | VectorOp::SortDesc | VectorOp::Bottomk | VectorOp::Sort => {
                let by_value = if matches!(op, VectorOp::Bottomk | VectorOp::Sort) { asc } else { desc };
                g.members.sort_by(|a, b| by_value(a.1, b.1));
                if !matches!(op, VectorOp::Sort | VectorOp::SortDesc) {
                    g.members.truncate(k);
                }
                out.extend(g.members);
                continue;
            }
            _ => g.value,
        };
        out.push((g.key, value));
    }
    out
}

/// `label_replace(v, dst, replacement, src, regex)`.
#[derive(Debug)]
pub(super) struct LabelReplace {
    dst: String,
    replacement: String,
    src: String,
    re: regex::Regex,
    names: Vec<Option<String>>,
}

impl LabelReplace {
    pub(super) fn new(dst: &str, replacement: &str, src: &str, re: &str) -> Result<LabelReplace, QueryError> {
        let (re, names) = anchored_regex_with_names(re)?;
        Ok(LabelReplace { dst: dst.into(), replacement: replacement.into(), src: src.into(), re, names })
    }

    pub(super) fn apply(&self, input: StepVector) -> StepVector {
        input
            .into_iter()
            .map(|(mut labels, v)| {
                let src = labels.get(&self.src).unwrap_or("").to_string();
                if let Some(caps) = self.re.captures(&src) {
                    let res = self.expand(&caps);
                    labels.0.retain(|(n, _)| *n != self.dst);
                    if !res.is_empty() {
                        labels.set(&self.dst, &res);
                    }
                }
                (labels, v)
            })
            .collect()
    }

    /// Go `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty.
    fn expand(&self, caps: &regex::Captures<'_>) -> String {
        let mut out = String::new();
        let mut t = self.replacement.as_str();
        while let Some(i) = t.find('$') {
            out.push_str(&t[..i]);
            t = &t[i + 1..];
            if let Some(rest) = t.strip_prefix('$') {
                out.push('$');
                t = rest;
                continue;
            }
            let (brace, body) = match t.strip_prefix('{') {
                Some(b) => (true, b),
                None => (false, t),
            };
            let n = body.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
            if n == 0 || (brace && !body[n..].starts_with('}')) {
                out.push('$');
                continue;
            }
            let name = &body[..n];
            t = &body[n + usize::from(brace)..];
            let group = match name.parse::<usize>() {
                Ok(num) if name.bytes().all(|c| c.is_ascii_digit()) => Some(num),
                _ => self.names.iter().position(|x| x.as_deref() == Some(name)).map(|i| i + 1),
            };
            if let Some(m) = group.and_then(|g| caps.get(g)) {
                out.push_str(m.as_str());
            }
        }
        out.push_str(t);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::metric::testutil::labels;

    fn sv(items: &[(&[(&str, &str)], f64)]) -> StepVector {
        items.iter().map(|(l, v)| (labels(l), *v)).collect()
    }

    fn show(v: StepVector) -> Vec<(String, f64)> {
        v.into_iter().map(|(l, x)| (l.to_string(), x)).collect()
    }

    fn input() -> StepVector {
        sv(&[
            (&[("app", "a"), ("pod", "1")], 1.0),
            (&[("app", "a"), ("pod", "2")], 5.0),
            (&[("app", "b"), ("pod", "1")], 3.0),
            (&[("app", "a"), ("pod", "3")], 3.0),
            (&[("pod", "4")], 7.0),
        ])
    }

    fn by(names: &[&str]) -> Grouping {
        Grouping::By(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn simple_aggregations() {
        let app = by(&["app"]);
        let g = Some(&app);
        let r = |op| show(aggregate(op, None, g, input()));
        assert_eq!(
            r(VectorOp::Sum),
            vec![("{app=\"a\"}".into(), 9.0), ("{app=\"b\"}".into(), 3.0), ("{}".into(), 7.0)]
        );
        assert_eq!(r(VectorOp::Avg)[0].1, 3.0);
        assert_eq!(r(VectorOp::Min)[0].1, 1.0);
        assert_eq!(r(VectorOp::Max)[0].1, 5.0);
        assert_eq!(r(VectorOp::Count)[0].1, 3.0);
        assert!((r(VectorOp::Stdvar)[0].1 - 8.0 / 3.0).abs() < 1e-12);
        assert!((r(VectorOp::Stddev)[0].1 - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(r(VectorOp::Stddev)[1].1, 0.0);
        assert_eq!(show(aggregate(VectorOp::Sum, None, None, input())), vec![("{}".into(), 19.0)]);
        let without = Grouping::Without(vec!["pod".into()]);
        assert_eq!(show(aggregate(VectorOp::Count, None, Some(&without), input()))[0], ("{app=\"a\"}".into(), 3.0));
    }

    #[test]
    fn topk_bottomk_per_group_keep_original_labels() {
        let app = by(&["app"]);
        let r = show(aggregate(VectorOp::Topk, Some(2.0), Some(&app), input()));
        assert_eq!(
            r,
            vec![
                ("{app=\"a\", pod=\"2\"}".into(), 5.0),
                ("{app=\"a\", pod=\"3\"}".into(), 3.0),
                ("{app=\"b\", pod=\"1\"}".into(), 3.0),
                ("{pod=\"4\"}".into(), 7.0),
            ]
        );
        let r = show(aggregate(VectorOp::Bottomk, Some(1.0), None, input()));
        assert_eq!(r, vec![("{app=\"a\", pod=\"1\"}".into(), 1.0)]);
        let r =
            show(aggregate(VectorOp::Topk, Some(10.0), None, sv(&[(&[("a", "1")], f64::NAN), (&[("a", "2")], 1.0)])));
        assert_eq!(r[0], ("{a=\"2\"}".into(), 1.0), "NaN is never preferred");
    }

    #[test]
    fn sort_orders() {
        let vals = |v: StepVector| v.into_iter().map(|(_, x)| x).collect::<Vec<_>>();
        assert_eq!(vals(aggregate(VectorOp::Sort, None, None, input())), vec![1.0, 3.0, 3.0, 5.0, 7.0]);
        assert_eq!(vals(aggregate(VectorOp::SortDesc, None, None, input())), vec![7.0, 5.0, 3.0, 3.0, 1.0]);
    }

    #[test]
    fn label_replace_expands_go_style() {
        let lr = LabelReplace::new("svc", "$1-${2}x$$", "app", "(.)(.*)").unwrap();
        let r = show(lr.apply(sv(&[(&[("app", "abc")], 1.0), (&[("b", "1")], 2.0)])));
        assert_eq!(r[0].0, "{app=\"abc\", svc=\"a-bcx$\"}");
        // No match (anchored): unchanged. Empty result removes dst.
        assert_eq!(r[1].0, "{b=\"1\"}");
        let lr = LabelReplace::new("app", "$nope", "app", "(?P<first>.).*").unwrap();
        assert_eq!(show(lr.apply(sv(&[(&[("app", "abc")], 1.0)])))[0].0, "{}");
        let lr = LabelReplace::new("x", "${first}", "app", "(?P<first>.).*").unwrap();
        assert_eq!(show(lr.apply(sv(&[(&[("app", "abc")], 1.0)])))[0].0, "{app=\"abc\", x=\"a\"}");
        let lr = LabelReplace::new("x", "y", "app", "b").unwrap();
        assert_eq!(show(lr.apply(sv(&[(&[("app", "abc")], 1.0)])))[0].0, "{app=\"abc\"}");
    }
}

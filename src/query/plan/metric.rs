//! The plan of a metric query: its expression tree with `sum` groupings pushed down into
//! range aggregations, and for each range aggregation the way it is evaluated.

use std::fmt::{self, Formatter};

use super::hints::SampleHints;
use super::indent;
use super::logs::{rewrites_line, LogPlan};
use crate::logql::{
    binop_str, range_op_name, vector_op_name, BinOp, BinOpModifier, Grouping, LogExpr, LogRange, MetricExpr, RangeOp,
    Stage, VectorOp,
};

/// A node of the evaluation tree.
#[derive(Debug)]
pub enum Node<'a> {
    Literal(f64),
    Vector(f64),
    Range(Box<RangePlan<'a>>),
    VectorAgg { op: VectorOp, param: Option<f64>, grouping: Option<&'a Grouping>, child: Box<Node<'a>> },
    BinOp { op: BinOp, modifier: &'a BinOpModifier, lhs: Box<Node<'a>>, rhs: Box<Node<'a>> },
    LabelReplace { dst: &'a str, replacement: &'a str, src: &'a str, regex: &'a str, child: Box<Node<'a>> },
}

/// A range aggregation and how it is evaluated.
#[derive(Debug)]
pub struct RangePlan<'a> {
    pub op: RangeOp,
    pub param: Option<f64>,
    pub range: &'a LogRange,
    /// The grouping samples are extracted with: the aggregation's own, or an enclosing
    /// `sum`'s pushed down into it (`pushed_down`).
    pub grouping: Option<Grouping>,
    pub pushed_down: bool,
    pub log: LogPlan<'a>,
    pub strategy: Strategy,
    /// Loki's parser hints for the samples.
    pub hints: SampleHints,
}

/// How a range aggregation reads its entries.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` over line filters only:
    /// sums, so streams are read in parallel in any order, and entries are counted without
    /// decompressing a line unless a filter reads it. `log` is the selector with the line
    /// filters (a `| drop __error__, __error_details__` dropped: nothing sets them).
    Counting { log: LogExpr, bytes: bool, per_second: bool },
    /// Every other aggregation but `absent_over_time`: stream by stream on every core, the
    /// entries that pass `prefilter` (the selector and the line filters that decide on the
    /// stored line) run through the whole pipeline. `column`: the `| json` field whose
    /// stored column stands in for the lines (`| json | unwrap f` and nothing else).
    PerStream { prefilter: LogExpr, column: Option<String> },
    /// `absent_over_time`: one pass over every stream's entries in time order.
    Entries,
}

/// Range operations into which Loki pushes an enclosing `sum`'s grouping.
pub fn sum_pushes_down(op: RangeOp) -> bool {
    matches!(
        op,
        RangeOp::BytesOverTime | RangeOp::BytesRate | RangeOp::SumOverTime | RangeOp::Rate | RangeOp::CountOverTime
    )
}

impl<'a> Node<'a> {
    pub fn build(e: &'a MetricExpr) -> Node<'a> {
        match e {
            MetricExpr::Literal(v) => Node::Literal(*v),
            MetricExpr::Vector(v) => Node::Vector(*v),
            MetricExpr::RangeAgg { op, param, range, grouping } => {
                Node::Range(Box::new(RangePlan::new(*op, *param, range, grouping.clone(), false)))
            }
            MetricExpr::VectorAgg { op, param, expr, grouping } => {
                let child = match &**expr {
                    // `sum by (…) (count_over_time(…))`: Loki extracts samples with the sum's
                    // grouping (which also decides its parser hints).
                    MetricExpr::RangeAgg { op: rop, param: rparam, range, grouping: None }
                        if *op == VectorOp::Sum && sum_pushes_down(*rop) =>
                    {
                        let g = grouping.clone().unwrap_or(Grouping::By(Vec::new()));
                        Node::Range(Box::new(RangePlan::new(*rop, *rparam, range, Some(g), true)))
                    }
                    other => Node::build(other),
                };
                Node::VectorAgg { op: *op, param: *param, grouping: grouping.as_ref(), child: Box::new(child) }
            }
            MetricExpr::BinOp { op, modifier, lhs, rhs } => {
                Node::BinOp { op: *op, modifier, lhs: Box::new(Node::build(lhs)), rhs: Box::new(Node::build(rhs)) }
            }
            MetricExpr::LabelReplace { expr, dst, replacement, src, regex } => {
                Node::LabelReplace { dst, replacement, src, regex, child: Box::new(Node::build(expr)) }
            }
        }
    }

    pub(super) fn write(&self, f: &mut Formatter<'_>, depth: usize) -> fmt::Result {
        indent(f, depth)?;
        match self {
            Node::Literal(v) => writeln!(f, "literal {v}"),
            Node::Vector(v) => writeln!(f, "vector({v})"),
            Node::Range(r) => r.write(f, depth),
            Node::VectorAgg { op, param, grouping, child } => {
                f.write_str(vector_op_name(*op))?;
                if let Some(p) = param {
                    write!(f, "({p})")?;
                }
                if let Some(g) = grouping {
                    write!(f, "{g}")?;
                }
                writeln!(f)?;
                child.write(f, depth + 1)
            }
            Node::BinOp { op, modifier, lhs, rhs } => {
                f.write_str(binop_str(*op))?;
                if modifier.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &modifier.matching {
                    write!(f, " {} ({})", if m.on { "on" } else { "ignoring" }, m.labels.join(","))?;
                }
                if let Some(g) = &modifier.group {
                    write!(f, " {} ({})", if g.left { "group_left" } else { "group_right" }, g.labels.join(","))?;
                }
                writeln!(f)?;
                lhs.write(f, depth + 1)?;
                rhs.write(f, depth + 1)
            }
            Node::LabelReplace { dst, replacement, src, regex, child } => {
                writeln!(f, "label_replace {dst:?} = {replacement:?} from {src:?} =~ {regex:?}")?;
                child.write(f, depth + 1)
            }
        }
    }
}

impl<'a> RangePlan<'a> {
    pub(crate) fn new(
        op: RangeOp,
        param: Option<f64>,
        range: &'a LogRange,
        grouping: Option<Grouping>,
        pushed_down: bool,
    ) -> RangePlan<'a> {
        let strategy = Strategy::for_range(op, range);
        let hints = SampleHints::new(op, range, grouping.as_ref());
        RangePlan { op, param, range, grouping, pushed_down, log: LogPlan::new(&range.log), strategy, hints }
    }

    fn write(&self, f: &mut Formatter<'_>, depth: usize) -> fmt::Result {
        f.write_str(range_op_name(self.op))?;
        if let Some(p) = self.param {
            write!(f, "({p})")?;
        }
        write!(f, " [{}]", crate::gocompat::prom_duration_string(self.range.range))?;
        if self.range.offset != 0 {
            write!(f, " offset {}", crate::gocompat::duration_string(self.range.offset))?;
        }
        if let Some(u) = &self.range.unwrap {
            write!(f, "{u}")?;
        }
        if let Some(g) = &self.grouping {
            write!(f, "{g}")?;
        }
        if self.pushed_down {
            f.write_str(", grouping pushed down from sum")?;
        }
        writeln!(f)?;
        indent(f, depth + 1)?;
        match &self.strategy {
            Strategy::Counting { bytes, per_second, .. } => writeln!(
                f,
                "counting kernel: {}{} per stream, in any order",
                if *bytes { "bytes" } else { "entries" },
                if *per_second { " per second" } else { "" }
            )?,
            Strategy::PerStream { prefilter, column } => {
                write!(f, "stream by stream")?;
                if !prefilter.stages.is_empty() {
                    f.write_str(", prefiltered by")?;
                    for s in &prefilter.stages {
                        write!(f, " {s}")?;
                    }
                }
                if let Some(c) = column {
                    write!(f, ", from the json column {c:?} where a block has it")?;
                }
                writeln!(f)?;
            }
            Strategy::Entries => writeln!(f, "one pass over every stream in time order")?,
        }
        if let Some(w) = &self.hints.wanted {
            indent(f, depth + 1)?;
            writeln!(f, "parsers add only: [{}]", w.join(", "))?;
        }
        self.log.write(f, depth + 1)
    }
}

impl Strategy {
    /// The evaluation of `op` over `range`.
    pub fn for_range(op: RangeOp, range: &LogRange) -> Strategy {
        if let Some(s) = counting(op, range) {
            return s;
        }
        if op == RangeOp::AbsentOverTime {
            return Strategy::Entries;
        }
        let mut stages = Vec::new();
        for s in &range.log.stages {
            match s {
                Stage::LineFilter(_) => stages.push(s.clone()),
                s if rewrites_line(s) => break,
                _ => {}
            }
        }
        Strategy::PerStream {
            prefilter: LogExpr { matchers: range.log.matchers.clone(), stages },
            column: column_field(range),
        }
    }
}

/// The counting kernel's plan, when it applies: a counting function, no unwrap, and a
/// pipeline of line filters, optionally with `| drop __error__, __error_details__` (which
/// Grafana's logs-volume query adds; without a parser those labels never exist).
fn counting(op: RangeOp, range: &LogRange) -> Option<Strategy> {
    let (bytes, per_second) = match op {
        RangeOp::CountOverTime => (false, false),
        RangeOp::Rate => (false, true),
        RangeOp::BytesOverTime => (true, false),
        RangeOp::BytesRate => (true, true),
        _ => return None,
    };
    if range.unwrap.is_some() {
        return None;
    }
    let mut stages = Vec::new();
    for s in &range.log.stages {
        match s {
            Stage::LineFilter(_) => stages.push(s.clone()),
            Stage::Drop(items)
                if items
                    .iter()
                    .all(|i| i.matcher.is_none() && (i.name == "__error__" || i.name == "__error_details__")) => {}
            _ => return None,
        }
    }
    Some(Strategy::Counting { log: LogExpr { matchers: range.log.matchers.clone(), stages }, bytes, per_second })
}

/// The field a stored `| json` column can stand in for: the pipeline is `| json` alone and
/// `unwrap` reads a label with no filter after it. A label named `<x>_extracted` may come
/// from a renamed field, which the column does not know: none then.
fn column_field(range: &LogRange) -> Option<String> {
    let [Stage::Json(params)] = range.log.stages.as_slice() else { return None };
    let u = range.unwrap.as_ref()?;
    let suffix = crate::query::pipeline::labels::DUPLICATE_SUFFIX;
    (params.is_empty() && u.post_filters.is_empty() && !u.label.ends_with(suffix)).then(|| u.label.clone())
}

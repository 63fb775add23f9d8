//! LogQL semantic validation with Loki's messages and ordering: checks Loki performs while
//! parsing (matcher regexes, `regexp`/`pattern` stages, label-filter literals), the post-parse
//! `validateExpr` pass (aggregation/binop rules, matcher requirement), and the stage checks Loki
//! performs when building pipelines (line-filter regexes/patterns/ip, `label_format`).
//! Also converts the parse tree to the public AST.

use super::ast::*;
use super::error::ParseError;
use super::ops::{range_op_name, vector_op_name};
use super::parser::Node;
use super::pattern;
use super::print::{line_filters_string, stage_string};
use gocompat::regex::{matcher_matches_empty, translate};
use gocompat::{parse_float, parse_int, quote};

const ERR_MATCHER_REQUIRED: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

/// `mustNewMatcher`: regex matchers must compile (Go message, no position).
pub(crate) fn check_matcher(m: &Matcher) -> Result<(), ParseError> {
    if matches!(m.op, MatchOp::Re | MatchOp::Nre) {
        translate(&m.value).map_err(ParseError::new)?;
    }
    Ok(())
}

/// `log.NewRegexpParser`: compiles, ≥1 named group, unique names.
pub(crate) fn check_regexp_stage(re: &str) -> Result<(), ParseError> {
    let wrap = |m: String| ParseError::new(format!("invalid regexp parser: {m}"));
    let g = translate(re).map_err(wrap)?;
    let missing = || wrap("at least one named capture must be supplied".into());
    let mut seen: Vec<&str> = Vec::new();
    for n in g.names.iter().flatten() {
        if seen.contains(&n.as_str()) {
            return Err(wrap(format!("duplicate extracted label name '{n}'")));
        }
        seen.push(n);
    }
    if seen.is_empty() {
        return Err(missing());
    }
    Ok(())
}

/// `log.NewPatternParser`.
pub(crate) fn check_pattern_stage(p: &str) -> Result<(), ParseError> {
    pattern::parse_extraction(p).map(drop).map_err(|e| ParseError::new(format!("invalid pattern parser: {e}")))
}

/// `|>` / `!>` line filter patterns (`pattern.ParseLineFilter`).
fn check_line_pattern(p: &str) -> Result<(), String> {
    pattern::parse_line_filter(p).map(drop)
}

/// The value of a numeric label filter literal (`mustNewNumericLabelFilter`).
pub(crate) fn label_filter_number(text: &str) -> Result<f64, ParseError> {
    parse_float(text).map_err(|e| ParseError::new(format!("unable to parse literal as a float: {e}")))
}

fn validate_matchers(ms: &[Matcher]) -> Result<(), ParseError> {
    let selects = |m: &Matcher| match m.op {
        MatchOp::Eq => !m.value.is_empty(),
        MatchOp::Neq => m.value.is_empty(),
        MatchOp::Re => !matcher_matches_empty(&m.value),
        MatchOp::Nre => matcher_matches_empty(&m.value),
    };
    if ms.iter().any(selects) {
        Ok(())
    } else {
        Err(ParseError::new(ERR_MATCHER_REQUIRED))
    }
}

/// `newRangeAggregationExpr` + `RangeAggregationExpr.validate`.
fn range_agg_error(op: RangeOp, param: Option<&str>, r: &LogRange, g: Option<&Grouping>) -> Option<String> {
    use RangeOp::*;
    let name = range_op_name(op);
    match param {
        Some(p) if op != QuantileOverTime => return Some(format!("parameter {p} not supported for operation {name}")),
        Some(p) => {
            if let Err(e) = parse_float(p) {
                return Some(format!("invalid parameter for operation {name}: {e}"));
            }
        }
        None if op == QuantileOverTime => return Some(format!("parameter required for operation {name}")),
        None => {}
    }
    let groupable = matches!(
        op,
        AvgOverTime
            | StddevOverTime
            | StdvarOverTime
            | QuantileOverTime
            | MaxOverTime
            | MinOverTime
            | FirstOverTime
            | LastOverTime
    );
    if g.is_some() && !groupable {
        return Some(format!("grouping not allowed for {name} aggregation"));
    }
    let ok = if r.unwrap.is_some() {
        !matches!(op, CountOverTime | BytesOverTime | BytesRate)
    } else {
        matches!(op, BytesOverTime | BytesRate | CountOverTime | Rate | AbsentOverTime)
    };
    let with = if r.unwrap.is_some() { "with" } else { "without" };
    (!ok).then(|| format!("invalid aggregation {name} {with} unwrap"))
}

/// `mustNewVectorAggregationExpr` + sort grouping rule.
fn vector_agg_error(op: VectorOp, param: Option<&str>, g: Option<&Grouping>) -> Option<String> {
    let name = vector_op_name(op);
    if matches!(op, VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk) {
        let Some(p) = param else {
            return Some(format!("parameter required for operation {name}"));
        };
        match parse_int(p) {
            None => return Some(format!("invalid parameter {name}({p},")),
            Some(v) if v <= 0 => return Some(format!("invalid parameter (must be greater than 0) {name}({p}")),
            _ => {}
        }
        if op == VectorOp::ApproxTopk && g.is_some() {
            return Some(format!("grouping not allowed for {name} aggregation"));
        }
    } else if let Some(p) = param {
        return Some(format!("unsupported parameter for operation {name}({p},"));
    }
    let grouped = matches!(g, Some(Grouping::By(l) | Grouping::Without(l)) if !l.is_empty());
    if matches!(op, VectorOp::Sort | VectorOp::SortDesc) && grouped {
        return Some("sort and sort_desc doesn't allow grouping by ".into());
    }
    None
}

/// Loki's `validateExpr`, in its traversal order.
pub(crate) fn validate(node: &Node) -> Result<(), ParseError> {
    let fail = |m: String| Err(ParseError::new(m));
    match node {
        Node::Log(l) => validate_matchers(&l.matchers),
        Node::Invalid(m) => fail(m.clone()),
        Node::Literal { err: Some(e), .. } => fail(e.clone()),
        Node::Literal { .. } => Ok(()),
        Node::VectorLit(t) => match parse_float(t) {
            Err(e) => fail(format!("unable to parse vectorExpr as a float: {e}")),
            Ok(_) => Ok(()),
        },
        Node::BinOp { lhs, rhs, .. } => {
            validate(lhs)?;
            validate(rhs)
        }
        Node::Vector { op, param, expr, grouping } => {
            if let Some(e) = vector_agg_error(*op, param.as_deref(), grouping.as_ref()) {
                return fail(e);
            }
            validate(expr)
        }
        Node::LabelReplace { expr, regex, .. } => {
            if let Err(e) = translate(&format!("^(?:{regex})$")) {
                return fail(format!("invalid regex in label_replace: {e}"));
            }
            validate(expr)
        }
        Node::Range { op, param, range, grouping } => {
            if let Some(e) = range_agg_error(*op, param.as_deref(), range, grouping.as_ref()) {
                return fail(e);
            }
            validate_matchers(&range.log.matchers)
        }
    }
}

fn ip_pattern_ok(p: &str) -> bool {
    use std::net::IpAddr;
    let addr = |s: &str| s.parse::<IpAddr>().ok();
    if addr(p).is_some() {
        return true;
    }
    if let Some((a, bits)) = p.split_once('/') {
        let max = match addr(a) {
            Some(IpAddr::V4(_)) => 32,
            Some(IpAddr::V6(_)) => 128,
            None => return false,
        };
        let digits_ok =
            !bits.is_empty() && bits.bytes().all(|c| c.is_ascii_digit()) && (bits == "0" || !bits.starts_with('0'));
        return digits_ok && bits.parse::<u32>().is_ok_and(|b| b <= max);
    }
    match p.split_once('-').map(|(a, b)| (addr(a), addr(b))) {
        Some((Some(IpAddr::V4(a)), Some(IpAddr::V4(b)))) => a <= b,
        Some((Some(IpAddr::V6(a)), Some(IpAddr::V6(b)))) => a <= b,
        _ => false,
    }
}

fn line_filter_error(lf: &LineFilter) -> Option<String> {
    use LineFilterOp::*;
    for v in &lf.values {
        let e = match v {
            LineFilterValue::Ip(_) if !matches!(lf.op, Contains | NotContains) => Some("ip: invalid operation".into()),
            LineFilterValue::Ip(p) if !ip_pattern_ok(p) => Some(format!("ip: invalid pattern: {}", quote(p))),
            LineFilterValue::Str(s) if matches!(lf.op, Match | NotMatch) => translate(s).err(),
            LineFilterValue::Str(s) if matches!(lf.op, Pattern | NotPattern) => check_line_pattern(s).err(),
            _ => None,
        };
        if e.is_some() {
            return e;
        }
    }
    None
}

fn stage_error(s: &Stage) -> Option<String> {
    match s {
        Stage::LabelFormat(fmts) => {
            let mut seen: Vec<&str> = Vec::new();
            for f in fmts {
                let dst = match f {
                    LabelFmt::Rename { dst, .. } | LabelFmt::Template { dst, .. } => dst.as_str(),
                };
                if dst == "__error__" {
                    return Some(format!("{dst} cannot be formatted"));
                }
                if seen.contains(&dst) {
                    return Some(format!("multiple label name '{dst}' not allowed in a single format operation"));
                }
                seen.push(dst);
            }
            None
        }
        Stage::LabelFilter(LabelFilter::Ip { pattern, .. }) if !ip_pattern_ok(pattern) => {
            Some(format!("ip: invalid pattern: {}", quote(pattern)))
        }
        _ => None,
    }
}

/// Loki's pipeline construction checks (`stage '…' : …`), in its stage reordering order.
fn check_pipeline(stages: &[Stage]) -> Result<(), ParseError> {
    let stage_err = |text: String, e: String| Err(ParseError::new(format!("stage '{text}' : {e}")));
    let mut lines: Vec<&LineFilter> = Vec::new();
    let mut others: Vec<&Stage> = Vec::new();
    let flush = |lines: &mut Vec<&LineFilter>, others: &mut Vec<&Stage>| -> Result<(), ParseError> {
        if let Some(e) = lines.iter().find_map(|lf| line_filter_error(lf)) {
            return stage_err(line_filters_string(lines), e);
        }
        lines.clear();
        for s in others.drain(..) {
            if let Some(e) = stage_error(s) {
                return stage_err(stage_string(s), e);
            }
        }
        Ok(())
    };
    for s in stages {
        match s {
            Stage::LineFilter(lf) => lines.push(lf),
            Stage::LabelFilter(_) => {
                flush(&mut lines, &mut others)?;
                others.push(s);
                flush(&mut lines, &mut others)?;
            }
            Stage::LineFormat(_) | Stage::Unpack => {
                others.push(s);
                flush(&mut lines, &mut others)?;
            }
            _ => others.push(s),
        }
    }
    flush(&mut lines, &mut others)
}

/// Stage checks for every log selector of the query, left to right.
pub(crate) fn check_stages(node: &Node) -> Result<(), ParseError> {
    match node {
        Node::Log(l) => check_pipeline(&l.stages),
        Node::Range { range, .. } => check_pipeline(&range.log.stages),
        Node::Vector { expr, .. } | Node::LabelReplace { expr, .. } => check_stages(expr),
        Node::BinOp { lhs, rhs, .. } => {
            check_stages(lhs)?;
            check_stages(rhs)
        }
        Node::Literal { .. } | Node::VectorLit(_) | Node::Invalid(_) => Ok(()),
    }
}

/// Convert a validated tree to the public AST.
pub(crate) fn to_expr(node: Node) -> Expr {
    match node {
        Node::Log(l) => Expr::Log(l),
        other => Expr::Metric(to_metric(other)),
    }
}

fn to_metric(node: Node) -> MetricExpr {
    match node {
        Node::Range { op, param, range, grouping } => {
            MetricExpr::RangeAgg { op, param: param.and_then(|p| parse_float(&p).ok()), range, grouping }
        }
        Node::Vector { op, param, expr, grouping } => MetricExpr::VectorAgg {
            op,
            param: param.and_then(|p| parse_int(&p)).map(|v| v as f64),
            expr: Box::new(to_metric(*expr)),
            grouping,
        },
        Node::BinOp { op, modifier, lhs, rhs } => {
            MetricExpr::BinOp { op, modifier, lhs: Box::new(to_metric(*lhs)), rhs: Box::new(to_metric(*rhs)) }
        }
        Node::Literal { value, .. } => MetricExpr::Literal(value),
        Node::VectorLit(t) => MetricExpr::Vector(parse_float(&t).unwrap_or(0.0)),
        Node::LabelReplace { expr, dst, replacement, src, regex } => {
            MetricExpr::LabelReplace { expr: Box::new(to_metric(*expr)), dst, replacement, src, regex }
        }
        // Unreachable after validation; keep the conversion total.
        Node::Log(_) | Node::Invalid(_) => MetricExpr::Literal(f64::NAN),
    }
}

//! LogQL operators: token → operator tables, operator names, and Loki's construction of
//! binary operations (`mustNewBinOpExpr`: leg checks and scalar folding with `MergeBinOp`).

use super::ast::*;
use super::lexer::Tok;
use super::parser::Node;
use gocompat::{format_float_6, parse_float};

/// `mustNewLiteralExpr`: the literal keeps its parse error for validation.
pub(crate) fn literal(text: &str, negate: bool) -> Node {
    match parse_float(text) {
        Ok(v) => Node::Literal { value: if negate { -v } else { v }, err: None },
        Err(e) => Node::Literal { value: 0.0, err: Some(format!("unable to parse literal as a float: {e}")) },
    }
}

pub(crate) fn binop_of(t: Tok) -> Option<(BinOp, u8)> {
    Some(match t {
        Tok::Or => (BinOp::Or, 1),
        Tok::And => (BinOp::And, 2),
        Tok::Unless => (BinOp::Unless, 2),
        Tok::CmpEq => (BinOp::Eq, 3),
        Tok::Neq => (BinOp::Neq, 3),
        Tok::Gt => (BinOp::Gt, 3),
        Tok::Gte => (BinOp::Gte, 3),
        Tok::Lt => (BinOp::Lt, 3),
        Tok::Lte => (BinOp::Lte, 3),
        Tok::Add => (BinOp::Add, 4),
        Tok::Sub => (BinOp::Sub, 4),
        Tok::Mul => (BinOp::Mul, 5),
        Tok::Div => (BinOp::Div, 5),
        Tok::Mod => (BinOp::Mod, 5),
        Tok::Pow => (BinOp::Pow, 6),
        _ => return None,
    })
}

pub fn binop_str(op: BinOp) -> &'static str {
    match op {
        BinOp::Or => "or",
        BinOp::And => "and",
        BinOp::Unless => "unless",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Pow => "^",
        BinOp::Eq => "==",
        BinOp::Neq => "!=",
        BinOp::Gt => ">",
        BinOp::Gte => ">=",
        BinOp::Lt => "<",
        BinOp::Lte => "<=",
    }
}

pub(crate) fn range_op_of(t: Tok) -> Option<RangeOp> {
    Some(match t {
        Tok::CountOverTime => RangeOp::CountOverTime,
        Tok::Rate => RangeOp::Rate,
        Tok::RateCounter => RangeOp::RateCounter,
        Tok::BytesOverTime => RangeOp::BytesOverTime,
        Tok::BytesRate => RangeOp::BytesRate,
        Tok::AvgOverTime => RangeOp::AvgOverTime,
        Tok::SumOverTime => RangeOp::SumOverTime,
        Tok::MinOverTime => RangeOp::MinOverTime,
        Tok::MaxOverTime => RangeOp::MaxOverTime,
        Tok::StdvarOverTime => RangeOp::StdvarOverTime,
        Tok::StddevOverTime => RangeOp::StddevOverTime,
        Tok::QuantileOverTime => RangeOp::QuantileOverTime,
        Tok::FirstOverTime => RangeOp::FirstOverTime,
        Tok::LastOverTime => RangeOp::LastOverTime,
        Tok::AbsentOverTime => RangeOp::AbsentOverTime,
        _ => return None,
    })
}

pub(crate) fn vector_op_of(t: Tok) -> Option<VectorOp> {
    Some(match t {
        Tok::Sum => VectorOp::Sum,
        Tok::Avg => VectorOp::Avg,
        Tok::Min => VectorOp::Min,
        Tok::Max => VectorOp::Max,
        Tok::Count => VectorOp::Count,
        Tok::Stddev => VectorOp::Stddev,
        Tok::Stdvar => VectorOp::Stdvar,
        Tok::Topk => VectorOp::Topk,
        Tok::Bottomk => VectorOp::Bottomk,
        Tok::Sort => VectorOp::Sort,
        Tok::SortDesc => VectorOp::SortDesc,
        Tok::ApproxTopk => VectorOp::ApproxTopk,
        _ => return None,
    })
}

/// Go's `%T` of a log selector expression used as a binary-operation leg.
fn go_type(l: &LogExpr) -> &'static str {
    if l.stages.is_empty() {
        "*syntax.MatchersExpr"
    } else {
        "*syntax.PipelineExpr"
    }
}

/// `mustNewBinOpExpr`: leg type checks, set-operation literal checks, literal folding.
pub(crate) fn make_binop(op: BinOp, modifier: BinOpModifier, lhs: Node, rhs: Node) -> Node {
    let name = binop_str(op);
    if let Node::Log(l) = &lhs {
        return Node::Invalid(format!("unexpected type for left leg of binary operation ({name}): {}", go_type(l)));
    }
    if let Node::Log(r) = &rhs {
        return Node::Invalid(format!("unexpected type for right leg of binary operation ({name}): {}", go_type(r)));
    }
    for side in [&lhs, &rhs] {
        if let Node::Literal { err: Some(e), .. } = side {
            return Node::Invalid(e.clone());
        }
    }
    let is_set = matches!(op, BinOp::Or | BinOp::And | BinOp::Unless);
    match (&lhs, &rhs) {
        (Node::Literal { value, .. }, _) if is_set => Node::Invalid(format!(
            "unexpected literal for left leg of logical/set binary operation ({name}): {}",
            format_float_6(*value)
        )),
        (_, Node::Literal { value, .. }) if is_set => Node::Invalid(format!(
            "unexpected literal for right leg of logical/set binary operation ({name}): {}",
            format_float_6(*value)
        )),
        (Node::Literal { value: l, .. }, Node::Literal { value: r, .. }) => {
            Node::Literal { value: fold(op, *l, *r), err: None }
        }
        _ => Node::BinOp { op, modifier, lhs: Box::new(lhs), rhs: Box::new(rhs) },
    }
}

/// Loki's `MergeBinOp` on two scalars (division / modulo by zero give NaN).
pub(crate) fn fold(op: BinOp, l: f64, r: f64) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => {
            if r == 0.0 {
                f64::NAN
            } else {
                l / r
            }
        }
        BinOp::Mod => {
            if r == 0.0 {
                f64::NAN
            } else {
                l % r
            }
        }
        BinOp::Pow => l.powf(r),
        BinOp::Eq => b(l == r),
        BinOp::Neq => b(l != r),
        BinOp::Gt => b(l > r),
        BinOp::Gte => b(l >= r),
        BinOp::Lt => b(l < r),
        BinOp::Lte => b(l <= r),
        BinOp::Or | BinOp::And | BinOp::Unless => f64::NAN,
    }
}

pub fn range_op_name(op: RangeOp) -> &'static str {
    use RangeOp::*;
    match op {
        CountOverTime => "count_over_time",
        Rate => "rate",
        RateCounter => "rate_counter",
        BytesOverTime => "bytes_over_time",
        BytesRate => "bytes_rate",
        AvgOverTime => "avg_over_time",
        SumOverTime => "sum_over_time",
        MinOverTime => "min_over_time",
        MaxOverTime => "max_over_time",
        StdvarOverTime => "stdvar_over_time",
        StddevOverTime => "stddev_over_time",
        QuantileOverTime => "quantile_over_time",
        FirstOverTime => "first_over_time",
        LastOverTime => "last_over_time",
        AbsentOverTime => "absent_over_time",
    }
}

pub fn vector_op_name(op: VectorOp) -> &'static str {
    use VectorOp::*;
    match op {
        Sum => "sum",
        Avg => "avg",
        Min => "min",
        Max => "max",
        Count => "count",
        Stddev => "stddev",
        Stdvar => "stdvar",
        Topk => "topk",
        Bottomk => "bottomk",
        Sort => "sort",
        SortDesc => "sort_desc",
        ApproxTopk => "approx_topk",
    }
}

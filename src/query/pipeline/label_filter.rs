//! Label filter expressions (`pkg/logql/log/label_filter.go`): string matchers, `ip()`, number,
//! duration and bytes comparisons, combined with and/or (short-circuit `or`, both sides of `and`).
//! A conversion failure keeps the entry and records `LabelFilterErr` unless an error is set.

use super::conv;
use super::ip::IpMatcher;
use super::labels::{LabelsBuilder, ERROR_LABEL, ERR_LABEL_FILTER};
use crate::index::CompiledMatcher;
use crate::logql::{CmpOp, LabelFilter};
use crate::query::QueryError;

#[derive(Debug)]
pub enum CompiledLabelFilter {
    And(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Or(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Str(CompiledMatcher),
    Ip {
        name: String,
        equal: bool,
        m: IpMatcher,
    },
    Number {
        name: String,
        op: CmpOp,
        value: f64,
    },
    Duration {
        name: String,
        op: CmpOp,
        value: i64,
    },
    Bytes {
        name: String,
        op: CmpOp,
        value: u64,
    },
}

fn cmp<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Neq => a != b,
        CmpOp::Gt => a > b,
        CmpOp::Gte => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Lte => a <= b,
    }
}

impl CompiledLabelFilter {
    pub fn new(f: &LabelFilter) -> Result<CompiledLabelFilter, QueryError> {
        Ok(match f {
            LabelFilter::And(a, b) => Self::And(Box::new(Self::new(a)?), Box::new(Self::new(b)?)),
            LabelFilter::Or(a, b) => Self::Or(Box::new(Self::new(a)?), Box::new(Self::new(b)?)),
            LabelFilter::Matcher(m) => {
                Self::Str(CompiledMatcher::new(m).map_err(QueryError::BadRegex)?)
            }
            LabelFilter::Ip {
                name,
                equal,
                pattern,
            } => Self::Ip {
                name: name.clone(),
                equal: *equal,
                m: IpMatcher::new(pattern).map_err(QueryError::Pipeline)?,
            },
            LabelFilter::Number { name, op, value } => Self::Number {
                name: name.clone(),
                op: *op,
                value: *value,
            },
            LabelFilter::Duration { name, op, value } => Self::Duration {
                name: name.clone(),
                op: *op,
                value: *value,
            },
            LabelFilter::Bytes { name, op, value } => Self::Bytes {
                name: name.clone(),
                op: *op,
                value: *value,
            },
        })
    }

    /// The single label this filter tests (None for and/or), for parser hints.
    pub fn single_label(&self) -> Option<&str> {
        match self {
            Self::And(..) | Self::Or(..) => None,
            Self::Str(m) => Some(&m.name),
            Self::Ip { name, .. }
            | Self::Number { name, .. }
            | Self::Duration { name, .. }
            | Self::Bytes { name, .. } => Some(name),
        }
    }

    /// Whether the entry passes; may record `LabelFilterErr`.
    pub fn eval(&self, lbs: &mut LabelsBuilder) -> bool {
        match self {
            Self::And(a, b) => {
                let l = a.eval(lbs);
                let r = b.eval(lbs);
                l && r
            }
            Self::Or(a, b) => a.eval(lbs) || b.eval(lbs),
            Self::Str(m) => {
                if m.name == ERROR_LABEL {
                    m.matches(lbs.err())
                } else {
                    m.matches(lbs.get(&m.name).unwrap_or(""))
                }
            }
            Self::Ip { name, equal, m } => {
                if lbs.has_err() {
                    return true;
                }
                match lbs.get(name) {
                    None => false,
                    Some(v) => m.matches(v.as_bytes()) == *equal,
                }
            }
            Self::Number { name, op, value } => {
                convert(lbs, name, conv::parse_float).test(|v| cmp(*op, v, *value))
            }
            Self::Duration { name, op, value } => {
                convert(lbs, name, conv::parse_duration).test(|v| cmp(*op, v, *value))
            }
            Self::Bytes { name, op, value } => {
                convert(lbs, name, conv::parse_bytes).test(|v| cmp(*op, v, *value))
            }
        }
    }
}

/// A label value read for a numeric comparison.
enum Converted<T> {
    /// The label is absent: the entry is dropped.
    Missing,
    /// Conversion failed: the entry is kept (with `LabelFilterErr`).
    Bad,
    Value(T),
}

impl<T> Converted<T> {
    fn test(self, f: impl FnOnce(T) -> bool) -> bool {
        match self {
            Converted::Missing => false,
            Converted::Bad => true,
            Converted::Value(v) => f(v),
        }
    }
}

fn convert<T>(
    lbs: &mut LabelsBuilder,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Converted<T> {
    let Some(v) = lbs.get(name) else {
        return Converted::Missing;
    };
    match parse(v) {
        Ok(v) => Converted::Value(v),
        Err(e) => {
            if !lbs.has_err() {
                lbs.set_err(ERR_LABEL_FILTER);
                lbs.set_err_details(e);
            }
            Converted::Bad
        }
    }
}

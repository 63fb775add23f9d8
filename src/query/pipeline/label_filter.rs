//! Label filter expressions (`pkg/logql/log/label_filter.go`): string matchers, `ip()`, number,
//! duration and bytes comparisons, combined with and/or (short-circuit `or`, both sides of `and`).
//! A conversion failure keeps the entry and records `LabelFilterErr` unless an error is set.
//! The same evaluator runs the metric engine's `unwrap` post-filters, over [`FilterLabels`].

use super::conv;
use super::ip::IpMatcher;
use super::labels::{LabelsBuilder, ERROR_LABEL, ERR_LABEL_FILTER};
use crate::gocompat::Dialect;
use crate::index::CompiledMatcher;
use crate::logql::{CmpOp, LabelFilter};
use crate::query::QueryError;

/// The labels a label filter reads, and where it records a conversion failure. The pipeline's
/// [`LabelsBuilder`] holds `__error__` / `__error_details__` apart from the other labels; the
/// metric engine's post-filters read a finished label set that carries them as labels.
pub trait FilterLabels {
    /// The value a string matcher tests (`""` when absent).
    fn matcher_value(&self, name: &str) -> &str;
    /// The value a number, duration, bytes or `ip()` filter reads (`None` drops the entry).
    fn value(&self, name: &str) -> Option<&str>;
    /// Whether an error is already recorded.
    fn has_err(&self) -> bool;
    /// Records `LabelFilterErr` with the conversion's error text.
    fn set_filter_err(&mut self, details: String);
}

impl FilterLabels for LabelsBuilder<'_> {
    fn matcher_value(&self, name: &str) -> &str {
        if name == ERROR_LABEL {
            self.err()
        } else {
            self.get(name).unwrap_or("")
        }
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    fn has_err(&self) -> bool {
        LabelsBuilder::has_err(self)
    }

    fn set_filter_err(&mut self, details: String) {
        self.set_err(ERR_LABEL_FILTER);
        self.set_err_details(details);
    }
}

#[derive(Debug)]
pub enum CompiledLabelFilter {
    And(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Or(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Str(CompiledMatcher),
    Ip { name: String, equal: bool, m: IpMatcher },
    Number { name: String, op: CmpOp, value: f64, dialect: &'static Dialect },
    Duration { name: String, op: CmpOp, value: i64, dialect: &'static Dialect },
    Bytes { name: String, op: CmpOp, value: u64 },
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
    /// A filter that converts numbers and durations as the pipeline does ([`conv::DIALECT`]).
    pub fn new(f: &LabelFilter) -> Result<CompiledLabelFilter, QueryError> {
        Self::with_dialect(f, &conv::DIALECT)
    }

    /// A filter that converts numbers and durations in `dialect` (their error texts included).
    pub fn with_dialect(f: &LabelFilter, dialect: &'static Dialect) -> Result<CompiledLabelFilter, QueryError> {
        let sub = |f| Self::with_dialect(f, dialect).map(Box::new);
        Ok(match f {
            LabelFilter::And(a, b) => Self::And(sub(a)?, sub(b)?),
            LabelFilter::Or(a, b) => Self::Or(sub(a)?, sub(b)?),
            LabelFilter::Matcher(m) => Self::Str(CompiledMatcher::new(m).map_err(QueryError::BadRegex)?),
            LabelFilter::Ip { name, equal, pattern } => Self::Ip {
                name: name.clone(),
                equal: *equal,
                m: IpMatcher::new(pattern).map_err(QueryError::Pipeline)?,
            },
            LabelFilter::Number { name, op, value } => {
                Self::Number { name: name.clone(), op: *op, value: *value, dialect }
            }
            LabelFilter::Duration { name, op, value } => {
                Self::Duration { name: name.clone(), op: *op, value: *value, dialect }
            }
            LabelFilter::Bytes { name, op, value } => Self::Bytes { name: name.clone(), op: *op, value: *value },
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
    pub fn eval<L: FilterLabels>(&self, lbs: &mut L) -> bool {
        match self {
            Self::And(a, b) => {
                let l = a.eval(lbs);
                let r = b.eval(lbs);
                l && r
            }
            Self::Or(a, b) => a.eval(lbs) || b.eval(lbs),
            Self::Str(m) => m.matches(lbs.matcher_value(&m.name)),
            Self::Ip { name, equal, m } => {
                if lbs.has_err() {
                    return true;
                }
                match lbs.value(name) {
                    None => false,
                    Some(v) => m.matches(v.as_bytes()) == *equal,
                }
            }
            Self::Number { name, op, value, dialect } => {
                convert(lbs, name, |v| dialect.parse_float(v)).test(|v| cmp(*op, v, *value))
            }
            Self::Duration { name, op, value, dialect } => {
                convert(lbs, name, |v| dialect.parse_duration(v)).test(|v| cmp(*op, v, *value))
            }
            Self::Bytes { name, op, value } => convert(lbs, name, conv::parse_bytes).test(|v| cmp(*op, v, *value)),
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

fn convert<T, L: FilterLabels>(lbs: &mut L, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Converted<T> {
    let Some(v) = lbs.value(name) else {
        return Converted::Missing;
    };
    match parse(v) {
        Ok(v) => Converted::Value(v),
        Err(e) => {
            if !lbs.has_err() {
                lbs.set_filter_err(e);
            }
            Converted::Bad
        }
    }
}

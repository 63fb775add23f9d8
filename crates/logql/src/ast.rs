//! LogQL abstract syntax tree: what the parser produces and the query engine consumes.
//!
//! Plain data, no regexes compiled, no I/O. Durations are nanoseconds (`i64`).

/// A whole LogQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `selector [pipeline]` — evaluates to streams.
    Log(LogExpr),
    /// Anything numeric — evaluates to vector / matrix / scalar.
    Metric(MetricExpr),
}

/// `{matchers} stage*`
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// `name op "value"` — Prometheus label matcher semantics (regexes fully anchored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

/// One pipeline stage, in query order (before Loki's reordering of line filters).
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// `|= "a" or "b"`, `!= "x"`, `|~ "re"`, `!~`, `|> "pat"`, `!>`.
    LineFilter(LineFilter),
    /// `| json` (empty list) or `| json a="x.y", b`.
    Json(Vec<LabelExtraction>),
    /// `| logfmt [--strict] [--keep-empty] [a, b="c"]`.
    Logfmt { strict: bool, keep_empty: bool, extractions: Vec<LabelExtraction> },
    /// `| regexp "re"` (the regex text, unvalidated).
    Regexp(String),
    /// `| pattern "<a> - <b>"`.
    Pattern(String),
    /// `| unpack`
    Unpack,
    /// `| <label filter expression>`
    LabelFilter(LabelFilter),
    /// `| line_format "template"`
    LineFormat(String),
    /// `| label_format a=b, c="{{.x}}"`
    LabelFormat(Vec<LabelFmt>),
    /// `| decolorize`
    Decolorize,
    /// `| drop a, b="x"`
    Drop(Vec<NamedMatcher>),
    /// `| keep a, b="x"`
    Keep(Vec<NamedMatcher>),
}

/// A line filter with its `or` alternatives. For positive ops the values are OR-ed;
/// for negative ops (`!=`, `!~`, `!>`) the line must match none of them (De Morgan).
#[derive(Clone, Debug, PartialEq)]
pub struct LineFilter {
    pub op: LineFilterOp,
    pub values: Vec<LineFilterValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Match,
    /// `!~`
    NotMatch,
    /// `|>`
    Pattern,
    /// `!>`
    NotPattern,
}

impl LineFilterOp {
    /// True for `!=`, `!~`, `!>`.
    pub fn is_negative(self) -> bool {
        matches!(self, Self::NotContains | Self::NotMatch | Self::NotPattern)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LineFilterValue {
    /// A plain string operand.
    Str(String),
    /// `ip("cidr or range")`.
    Ip(String),
}

/// `name="json.path"` or `name` (then `expr == name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelExtraction {
    pub name: String,
    pub expr: String,
}

/// Label filter expression tree (see logql.md §4.5 for precedence).
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// String matcher: `=`, `!=`, `=~`, `!~`.
    Matcher(Matcher),
    /// `name = ip("…")` (`equal: true`) or `name != ip("…")`.
    Ip {
        name: String,
        equal: bool,
        pattern: String,
    },
    /// `name op 1.5`
    Number {
        name: String,
        op: CmpOp,
        value: f64,
    },
    /// `name op 10s` — value in nanoseconds.
    Duration {
        name: String,
        op: CmpOp,
        value: i64,
    },
    /// `name op 20KB` — value in bytes.
    Bytes {
        name: String,
        op: CmpOp,
        value: u64,
    },
}

/// Comparison operators of numeric label filters (`=` and `==` are both `Eq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelFmt {
    /// `dst=src`
    Rename { dst: String, src: String },
    /// `dst="template"`
    Template { dst: String, template: String },
}

/// `name` or `name op "value"` in drop/keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedMatcher {
    pub name: String,
    pub matcher: Option<Matcher>,
}

/// Metric expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricExpr {
    RangeAgg {
        op: RangeOp,
        /// Only `quantile_over_time(φ, …)`.
        param: Option<f64>,
        range: LogRange,
        grouping: Option<Grouping>,
    },
    VectorAgg {
        op: VectorOp,
        /// `topk(k, …)`, `bottomk`, `approx_topk`.
        param: Option<f64>,
        expr: Box<MetricExpr>,
        grouping: Option<Grouping>,
    },
    BinOp {
        op: BinOp,
        modifier: BinOpModifier,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
    },
    /// A number (two literals are folded at parse time, as Loki does).
    Literal(f64),
    /// `vector(1)`
    Vector(f64),
    /// `label_replace(expr, "dst", "replacement", "src", "regex")`
    LabelReplace {
        expr: Box<MetricExpr>,
        dst: String,
        replacement: String,
        src: String,
        regex: String,
    },
}

/// `selector pipeline [unwrap] [range] [offset]` inside a range aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRange {
    pub log: LogExpr,
    pub unwrap: Option<Unwrap>,
    /// Range in nanoseconds.
    pub range: i64,
    /// Offset in nanoseconds (may be negative).
    pub offset: i64,
}

/// `| unwrap [conv(]label[)] (| label filter)*`
#[derive(Clone, Debug, PartialEq)]
pub struct Unwrap {
    pub label: String,
    pub conv: Option<UnwrapConv>,
    pub post_filters: Vec<LabelFilter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnwrapConv {
    Bytes,
    Duration,
    DurationSeconds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    RateCounter,
    BytesOverTime,
    BytesRate,
    AvgOverTime,
    SumOverTime,
    MinOverTime,
    MaxOverTime,
    StdvarOverTime,
    StddevOverTime,
    QuantileOverTime,
    FirstOverTime,
    LastOverTime,
    AbsentOverTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
    ApproxTopk,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Unless,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BinOpModifier {
    /// `bool` modifier on comparisons.
    pub return_bool: bool,
    /// `on(...)` (`on: true`) or `ignoring(...)`.
    pub matching: Option<VectorMatching>,
    /// `group_left(...)` / `group_right(...)`.
    pub group: Option<GroupModifier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorMatching {
    pub on: bool,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupModifier {
    /// `true` for group_left, `false` for group_right.
    pub left: bool,
    pub labels: Vec<String>,
}

//! `Display` for the LogQL AST: single-line LogQL text in the style of Loki's `String()`
//! (what `/format_query` returns for short queries), adjusted where Loki's form would not parse
//! back to the same AST. Invariant: `parse_expr(&e.to_string()) == Ok(e)` for parsed ASTs.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::ops::{binop_str, range_op_name, vector_op_name};
use gocompat::{bytes, duration_string, format_float, format_float_6, parse_bytes, prom_duration_string, quote};

fn join<T: Display>(items: &[T], sep: &str) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// A float that the lexer reads back identically (`-0` would lex as a duration, ±Inf/NaN are
/// not literals; they are written as expressions that fold to them).
fn number(v: f64, go_style: bool) -> String {
    if v.is_nan() {
        return "(0 / 0)".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "(1e308 * 10)".into() } else { "(-1e308 * 10)".into() };
    }
    if v == 0.0 && v.is_sign_negative() {
        return "-0.0".into();
    }
    if go_style {
        format_float(v)
    } else {
        format!("{v}")
    }
}

/// go-humanize `Bytes` with the space removed, as Loki prints byte label filters.
fn humanize_bytes(v: u64) -> String {
    bytes(v).replacen(' ', "", 1)
}

impl Display for MatchOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        })
    }
}

impl Display for Matcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, quote(&self.value))
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        })
    }
}

impl Display for LabelFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilter::And(l, r) => write!(f, "( {l} , {r} )"),
            LabelFilter::Or(l, r) => write!(f, "( {l} or {r} )"),
            LabelFilter::Matcher(m) => write!(f, "{m}"),
            LabelFilter::Ip { name, equal, pattern } => {
                write!(f, "{name}{}ip({})", if *equal { "=" } else { "!=" }, quote(pattern))
            }
            LabelFilter::Number { name, op, value } => {
                write!(f, "{name}{op}{}", number(*value, false))
            }
            LabelFilter::Duration { name, op, value } => {
                write!(f, "{name}{op}{}", duration_string(*value))
            }
            LabelFilter::Bytes { name, op, value } => {
                let h = humanize_bytes(*value);
                // Loki prints zero as `0B`, which its own lexer reads as an empty Go binary
                // literal (`0b…`): `0kB` reads back.
                let b = if *value == 0 {
                    "0kB".to_string()
                } else if parse_bytes(&h).ok() == Some(*value) {
                    h
                } else {
                    format!("{value}B")
                };
                write!(f, "{name}{op}{b}")
            }
        }
    }
}

impl Display for LineFilterOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Match => "|~",
            LineFilterOp::NotMatch => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        })
    }
}

impl Display for LineFilterValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LineFilterValue::Str(s) => f.write_str(&quote(s)),
            LineFilterValue::Ip(p) => write!(f, "ip({})", quote(p)),
        }
    }
}

impl Display for LineFilter {
    /// Negative filters with several values print as separate filters, as Loki does.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.op.is_negative() {
            let parts: Vec<String> = self.values.iter().map(|v| format!("{} {v}", self.op)).collect();
            f.write_str(&parts.join(" "))
        } else {
            write!(f, "{} {}", self.op, join(&self.values, " or "))
        }
    }
}

/// Loki's text for a group of line filters combined into one pipeline stage. Used in stage errors.
pub(crate) fn line_filters_string(lfs: &[&LineFilter]) -> String {
    lfs.iter().map(|lf| lf.to_string()).collect::<Vec<_>>().join(" ")
}

/// `name="expr"`, as Loki prints it; a name that is a lone character (the lexer makes one
/// an identifier) is printed bare when it is its own expression: `| json !` printed as
/// `!="!"` would read back as a line filter.
fn extractions(list: &[LabelExtraction]) -> String {
    let word = |n: &str| {
        n.starts_with(|c: char| c == '_' || c.is_alphabetic()) && n.chars().all(|c| c == '_' || c.is_alphanumeric())
    };
    list.iter()
        .map(
            |e| {
                if e.name == e.expr && !word(&e.name) {
                    e.name.clone()
                } else {
                    format!("{}={}", e.name, quote(&e.expr))
                }
            },
        )
        .collect::<Vec<_>>()
        .join(",")
}

fn named_matchers(list: &[NamedMatcher]) -> String {
    list.iter()
        .map(|n| n.matcher.as_ref().map_or_else(|| n.name.clone(), |m| m.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(lf) => write!(f, "{lf}"),
            Stage::Json(list) if list.is_empty() => f.write_str("| json"),
            Stage::Json(list) => write!(f, "| json {}", extractions(list)),
            Stage::Logfmt { strict, keep_empty, extractions: list } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                if !list.is_empty() {
                    write!(f, " {}", extractions(list))?;
                }
                Ok(())
            }
            Stage::Regexp(re) => write!(f, "| regexp {}", quote(re)),
            Stage::Pattern(p) => write!(f, "| pattern {}", quote(p)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(lf) => write!(f, "| {lf}"),
            Stage::LineFormat(t) => write!(f, "| line_format {}", quote(t)),
            Stage::LabelFormat(fmts) => {
                let items: Vec<String> = fmts
                    .iter()
                    .map(|l| match l {
                        LabelFmt::Rename { dst, src } => format!("{dst}={src}"),
                        LabelFmt::Template { dst, template } => {
                            format!("{dst}={}", quote(template))
                        }
                    })
                    .collect();
                write!(f, "| label_format {}", items.join(","))
            }
            Stage::Decolorize => f.write_str("| decolorize"),
            Stage::Drop(list) => write!(f, "| drop {}", named_matchers(list)),
            Stage::Keep(list) => write!(f, "| keep {}", named_matchers(list)),
        }
    }
}

/// Text of one stage (used in stage error messages).
pub(crate) fn stage_string(s: &Stage) -> String {
    s.to_string()
}

impl Display for LogExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", join(&self.matchers, ", "))?;
        for s in &self.stages {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

impl Display for Unwrap {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.conv {
            None => write!(f, " | unwrap {}", self.label)?,
            Some(c) => {
                let name = match c {
                    UnwrapConv::Bytes => "bytes",
                    UnwrapConv::Duration => "duration",
                    UnwrapConv::DurationSeconds => "duration_seconds",
                };
                write!(f, " | unwrap {name}({})", self.label)?;
            }
        }
        for pf in &self.post_filters {
            write!(f, " | {pf}")?;
        }
        Ok(())
    }
}

impl Display for LogRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.log)?;
        if let Some(u) = &self.unwrap {
            write!(f, "{u}")?;
        }
        write!(f, "[{}]", prom_duration_string(self.range))?;
        if self.offset != 0 {
            write!(f, " offset {}", duration_string(self.offset))?;
        }
        Ok(())
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Grouping::By(l) => write!(f, " by ({})", l.join(",")),
            Grouping::Without(l) => write!(f, " without ({})", l.join(",")),
        }
    }
}

fn fmt_modifier(m: &BinOpModifier, out: &mut String) {
    if m.return_bool {
        out.push_str(" bool");
    }
    if let Some(vm) = &m.matching {
        let _ = write!(out, " {} ({})", if vm.on { "on" } else { "ignoring" }, vm.labels.join(","));
    }
    if let Some(g) = &m.group {
        out.push_str(if g.left { " group_left" } else { " group_right" });
        if !g.labels.is_empty() {
            let _ = write!(out, " ({})", g.labels.join(","));
        }
    }
}

impl Display for MetricExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::RangeAgg { op, param, range, grouping } => {
                write!(f, "{}(", range_op_name(*op))?;
                if let Some(p) = param {
                    write!(f, "{},", number(*p, false))?;
                }
                write!(f, "{range})")?;
                if let Some(g) = grouping {
                    write!(f, "{g}")?;
                }
                Ok(())
            }
            MetricExpr::VectorAgg { op, param, expr, grouping } => {
                f.write_str(vector_op_name(*op))?;
                if let Some(g) = grouping {
                    write!(f, "{g}")?;
                }
                match param {
                    Some(p) => write!(f, "({},{expr})", number(*p, false)),
                    None => write!(f, "({expr})"),
                }
            }
            MetricExpr::BinOp { op, modifier, lhs, rhs } => {
                let mut m = String::new();
                fmt_modifier(modifier, &mut m);
                write!(f, "({lhs} {}{m} {rhs})", binop_str(*op))
            }
            MetricExpr::Literal(v) => f.write_str(&number(*v, true)),
            MetricExpr::Vector(v) => {
                let six = format_float_6(*v);
                let exact = six.parse::<f64>().ok() == Some(*v) && !(*v == 0.0 && v.is_sign_negative());
                write!(f, "vector({})", if exact { six } else { format!("{v}") })
            }
            MetricExpr::LabelReplace { expr, dst, replacement, src, regex } => {
                write!(f, "label_replace({expr},{},{},{},{})", quote(dst), quote(replacement), quote(src), quote(regex))
            }
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => write!(f, "{l}"),
            Expr::Metric(m) => write!(f, "{m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_humanize() {
        assert_eq!(humanize_bytes(20_000), "20kB");
        assert_eq!(humanize_bytes(1_500), "1.5kB");
        assert_eq!(humanize_bytes(5), "5B");
    }
}

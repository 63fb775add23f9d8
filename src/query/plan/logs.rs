//! The plan of a log pipeline: its stages in execution order and the substrings every kept
//! line must hold.

use std::fmt::{self, Formatter};

use super::indent;
use crate::logql::{LineFilterOp, LineFilterValue, LogExpr, Stage};

/// A selector and its pipeline, as they will run.
#[derive(Debug)]
pub struct LogPlan<'a> {
    pub expr: &'a LogExpr,
    /// The stages in the order they run ([`reorder`]).
    pub stages: Vec<&'a Stage>,
    /// What every kept line contains ([`required_substrings`]): pages whose filters lack
    /// one of them are skipped unread, lines are searched for the first with `memmem`.
    pub required: Vec<&'a str>,
}

impl<'a> LogPlan<'a> {
    pub fn new(expr: &'a LogExpr) -> LogPlan<'a> {
        let stages = reorder(&expr.stages);
        let required = required_substrings(&stages);
        LogPlan { expr, stages, required }
    }

    /// Whether every stage is a line filter: entries are then decided on the reader
    /// threads, page by page, and the merge only orders them.
    pub fn line_filters_only(&self) -> bool {
        self.stages.iter().all(|s| matches!(s, Stage::LineFilter(_)))
    }

    pub(super) fn write(&self, f: &mut Formatter<'_>, depth: usize) -> fmt::Result {
        indent(f, depth)?;
        write!(f, "select {{")?;
        for (i, m) in self.expr.matchers.iter().enumerate() {
            write!(f, "{}{m}", if i == 0 { "" } else { ", " })?;
        }
        writeln!(f, "}}")?;
        if !self.stages.is_empty() {
            indent(f, depth + 1)?;
            f.write_str("stages:")?;
            for s in &self.stages {
                write!(f, " {s}")?;
            }
            writeln!(f)?;
        }
        if !self.required.is_empty() {
            indent(f, depth + 1)?;
            f.write_str("lines hold:")?;
            for r in &self.required {
                write!(f, " {}", crate::gocompat::quote(r))?;
            }
            writeln!(f)?;
        }
        if !self.stages.is_empty() && self.line_filters_only() {
            indent(f, depth + 1)?;
            writeln!(f, "line filters only: decided on the reader threads")?;
        }
        Ok(())
    }
}

/// Whether a stage rewrites the line (a line filter after it tests the new line).
pub fn rewrites_line(s: &Stage) -> bool {
    matches!(s, Stage::LineFormat(_) | Stage::Unpack | Stage::Decolorize)
}

/// Loki's `reorderStages`: line filters move forward past stages that do not rewrite the
/// line (up to the next label filter, `line_format` or `unpack`).
pub fn reorder(stages: &[Stage]) -> Vec<&Stage> {
    fn flush<'s>(result: &mut Vec<&'s Stage>, filters: &mut Vec<&'s Stage>, others: &mut Vec<&'s Stage>) {
        result.append(filters);
        result.append(others);
    }
    let mut result = Vec::with_capacity(stages.len());
    let mut filters: Vec<&Stage> = Vec::new();
    let mut others: Vec<&Stage> = Vec::new();
    for s in stages {
        match s {
            Stage::LabelFilter(_) => {
                flush(&mut result, &mut filters, &mut others);
                result.push(s);
            }
            Stage::LineFilter(_) => filters.push(s),
            Stage::LineFormat(_) | Stage::Unpack => {
                others.push(s);
                flush(&mut result, &mut filters, &mut others);
            }
            _ => others.push(s),
        }
    }
    flush(&mut result, &mut filters, &mut others);
    result
}

/// The substrings every line a pipeline keeps must hold: the text of each `|= "…"` with a
/// single non-empty value that runs (in `ordered`, the execution order) before any stage
/// that rewrites the line.
pub fn required_substrings<'a>(ordered: &[&'a Stage]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for s in ordered {
        match s {
            Stage::LineFilter(f) => {
                if let [LineFilterValue::Str(v)] = f.values.as_slice() {
                    if matches!(f.op, LineFilterOp::Contains) && !v.is_empty() {
                        out.push(v.as_str());
                    }
                }
            }
            s if rewrites_line(s) => break,
            _ => {}
        }
    }
    out
}

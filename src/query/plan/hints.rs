//! Loki's parser hints for a range aggregation (`NewParserHint`): the labels its samples
//! can depend on — those the stages read (`RequiredLabelNames`), the unwrapped label and its
//! post-filters', the grouping — decided from the AST. Sample extraction and the pipeline's
//! parsers follow them (`metric::extract`).

use crate::logql::{Grouping, LabelFilter, LabelFmt, LogRange, RangeOp, Stage};
use crate::query::template::Template;

/// What a range aggregation's samples are grouped by and which labels parsers must add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleHints {
    /// The grouping's labels; an `unwrap` under no grouping or `without` adds its label
    /// to a `without` grouping (Loki drops it from the series).
    pub groups: Vec<String>,
    pub without: bool,
    /// `by ()` (or `absent_over_time`): every sample goes to one series without labels.
    pub no_labels: bool,
    /// The hint labels: the stages', the post-filters', the unwrapped one, the groups.
    pub required: Vec<String>,
    /// What `| json` and `| logfmt` without parameters add (None: every label).
    pub wanted: Option<Vec<String>>,
}

impl SampleHints {
    /// `grouping`: the aggregation's own, or an enclosing `sum`'s pushed down.
    pub fn new(op: RangeOp, range: &LogRange, grouping: Option<&Grouping>) -> SampleHints {
        let (mut groups, mut without, mut no_labels) = match grouping {
            None => (Vec::new(), false, false),
            Some(Grouping::By(g)) => (g.clone(), false, g.is_empty()),
            Some(Grouping::Without(g)) => (g.clone(), true, false),
        };
        if op == RangeOp::AbsentOverTime {
            no_labels = true;
        }
        let mut required = Vec::new();
        stage_label_names(&range.log.stages, &mut required);
        if let Some(u) = &range.unwrap {
            if groups.is_empty() || without {
                without = true;
                groups.push(u.label.clone());
            }
            u.post_filters.iter().for_each(|f| filter_names(f, &mut required));
            required.push(u.label.clone());
        }
        required.extend(groups.iter().cloned());
        required.retain(|n| !n.is_empty());
        // Once each, in first-use order (Loki's `uniqueString`).
        let mut seen = std::collections::HashSet::new();
        required.retain(|n| seen.insert(n.clone()));
        let wanted = (no_labels || (!without && !groups.is_empty())).then(|| required.clone());
        SampleHints { groups, without, no_labels, required, wanted }
    }
}

/// Labels read by the log pipeline's stages (Loki's `RequiredLabelNames`).
fn stage_label_names(stages: &[Stage], out: &mut Vec<String>) {
    for s in stages {
        match s {
            Stage::LabelFilter(f) => filter_names(f, out),
            Stage::LineFormat(t) => template_fields(t, out),
            Stage::LabelFormat(fmts) => {
                for f in fmts {
                    match f {
                        LabelFmt::Rename { src, .. } => out.push(src.clone()),
                        LabelFmt::Template { template, .. } => template_fields(template, out),
                    }
                }
            }
            _ => {}
        }
    }
}

/// The label names a label filter tests.
pub fn filter_names(f: &LabelFilter, out: &mut Vec<String>) {
    match f {
        LabelFilter::And(a, b) | LabelFilter::Or(a, b) => {
            filter_names(a, out);
            filter_names(b, out);
        }
        LabelFilter::Matcher(m) => out.push(m.name.clone()),
        LabelFilter::Ip { name, .. }
        | LabelFilter::Number { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. } => out.push(name.clone()),
    }
}

/// Field names a Go template reads ([`Template::fields`]); a template that does not parse
/// reads nothing (the pipeline refuses it).
pub fn template_fields(t: &str, out: &mut Vec<String>) {
    if let Ok(t) = Template::parse("line", t) {
        t.fields(out);
    }
}

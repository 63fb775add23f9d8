//! Sample extraction: turns one pipeline-processed entry into at most one sample (value and
//! series labels) for a range aggregation — `1` per line, the line's bytes, or an unwrapped
//! label with its conversion and post-filters; then the range grouping and Loki's handling of
//! `__error__` under parser hints (logql.md §4.10, §6.2).

use std::borrow::Cow;

use super::convert::{convert, PostFilter, ERROR, ERROR_DETAILS};
use crate::logql::{LogRange, RangeOp, UnwrapConv};
use crate::model::Labels;
use crate::query::pipeline::labels::LabelsBuilder;
use crate::query::plan::SampleHints;
use crate::query::QueryError;

/// Set by Loki's parsers when an error was explicitly asked for (`by (__error__)`, a filter
/// on `__error__`); a series carrying it does not abort the query.
pub(super) const PRESERVE_ERROR: &str = "__preserve_error__";

/// What `__error__` on a sample means for this range aggregation.
///
/// Loki tells parsers which labels a metric query needs. When it needs none (the samples'
/// labels are reduced to nothing and no stage, filter or unwrap reads a label), `json`,
/// `logfmt` and `unpack` do not run at all, so they never report errors: we drop their
/// errors (`IgnoreParser`). When the needed labels include `__error__`, parser errors are
/// marked `__preserve_error__="true"` and kept (`PreserveParser`). Otherwise any error aborts
/// the query with the pipeline error (`Raise`) — including `sum by (stream_label) (… | json …)`:
/// Loki then parses to look for that label and does report malformed lines. Not emulated: a
/// parser that stops early once every needed label was found (and so misses a later syntax
/// error in the line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ErrorMode {
    Raise,
    IgnoreParser,
    PreserveParser,
}

/// How sample labels are derived from the entry's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SampleGrouping {
    All,
    NoLabels,
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Debug)]
enum ValueKind {
    One,
    Bytes,
    Unwrap { label: String, conv: Option<UnwrapConv>, post: Vec<PostFilter> },
}

#[derive(Debug)]
pub(super) struct Extractor {
    kind: ValueKind,
    grouping: SampleGrouping,
    pub(super) mode: ErrorMode,
    /// The labels samples can depend on when the grouping reduces them (Loki's parser
    /// hints); None when every label can end up in a series.
    pub(super) wanted: Option<Vec<String>>,
}

fn is_parser_error(e: &str) -> bool {
    e == "JSONParserErr" || e == "LogfmtParserErr"
}

/// Whether a series with these labels aborts the query (logql.md §6.5).
pub(super) fn is_fatal(labels: &Labels) -> bool {
    labels.get(ERROR).is_some() && labels.get(PRESERVE_ERROR) != Some("true")
}

impl Extractor {
    /// [`Self::new`] with the hints planned for `grouping` (tests).
    #[cfg(test)]
    pub(super) fn planned(
        op: RangeOp,
        range: &LogRange,
        grouping: Option<&crate::logql::Grouping>,
    ) -> Result<Extractor, QueryError> {
        Extractor::new(op, range, &SampleHints::new(op, range, grouping))
    }

    /// The extraction of `op` over `range` under the planned `hints` (the grouping is the
    /// aggregation's own, or an enclosing `sum`'s pushed down, as Loki does).
    pub(super) fn new(op: RangeOp, range: &LogRange, hints: &SampleHints) -> Result<Extractor, QueryError> {
        let SampleHints { groups, without, no_labels, required, wanted } = hints.clone();
        let kind = match &range.unwrap {
            Some(u) => {
                let post = u.post_filters.iter().map(PostFilter::compile).collect::<Result<Vec<_>, _>>()?;
                ValueKind::Unwrap { label: u.label.clone(), conv: u.conv, post }
            }
            None if matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) => ValueKind::Bytes,
            None => ValueKind::One,
        };
        let wants_error = required.iter().any(|n| n == ERROR);
        let mode = if no_labels {
            if required.is_empty() {
                ErrorMode::IgnoreParser
            } else if wants_error {
                ErrorMode::PreserveParser
            } else {
                ErrorMode::Raise
            }
        } else if without || groups.is_empty() || !wants_error {
            ErrorMode::Raise
        } else {
            ErrorMode::PreserveParser
        };
        let grouping = if no_labels {
            SampleGrouping::NoLabels
        } else if groups.is_empty() {
            SampleGrouping::All
        } else if without {
            SampleGrouping::Without(groups)
        } else {
            SampleGrouping::By(groups)
        };
        Ok(Extractor { kind, grouping, mode, wanted })
    }

    /// The sample of one entry, or `None` when the entry yields none (unwrapped label
    /// missing or empty, or dropped by a post-filter).
    pub(super) fn extract<'l>(&self, line: &str, labels: &'l Labels) -> Option<(f64, Cow<'l, Labels>)> {
        let mut lbs = Cow::Borrowed(labels);
        let value = match &self.kind {
            ValueKind::One => 1.0,
            ValueKind::Bytes => line.len() as f64,
            ValueKind::Unwrap { label, conv, post } => {
                let raw = labels.get(label).filter(|v| !v.is_empty())?;
                let v = match convert(*conv, raw) {
                    Ok(v) => v,
                    Err(details) => {
                        let l = lbs.to_mut();
                        l.set(ERROR, "SampleExtractionErr");
                        l.set(ERROR_DETAILS, &details);
                        0.0
                    }
                };
                // Loki ANDs the post-filters without short-circuit.
                let mut keep = true;
                for f in post {
                    keep &= f.apply(&mut lbs);
                }
                if !keep {
                    return None;
                }
                v
            }
        };
        if let Some(err) = lbs.get(ERROR) {
            match self.mode {
                ErrorMode::IgnoreParser if is_parser_error(err) => {
                    lbs.to_mut().0.retain(|(n, _)| n != ERROR && n != ERROR_DETAILS);
                }
                ErrorMode::PreserveParser if is_parser_error(err) => {
                    lbs.to_mut().set(PRESERVE_ERROR, "true");
                    return Some((value, lbs));
                }
                // Errors keep the full label set so that they surface.
                _ => return Some((value, lbs)),
            }
        }
        Some((value, self.group(lbs)))
    }

    /// The value of an entry read straight from the label builder, for extractions whose
    /// result does not depend on more than one label (no post-filters): `None` when the
    /// general [`Self::extract`] must decide (an error, or a value that does not convert),
    /// `Some(None)` for no sample, `Some(Some(v))` for a sample.
    pub(super) fn lean_value(&self, lbs: &LabelsBuilder, line: &[u8]) -> Option<Option<f64>> {
        if lbs.has_error() {
            return None;
        }
        match &self.kind {
            ValueKind::One => Some(Some(1.0)),
            ValueKind::Bytes => Some(Some(line.len() as f64)),
            ValueKind::Unwrap { label, post, .. } if post.is_empty() => match lbs.get(label) {
                None => Some(None),
                Some(raw) => self.lean_text(raw),
            },
            ValueKind::Unwrap { .. } => None,
        }
    }

    /// [`Self::lean_value`] for an entry without error whose unwrapped label is `raw`.
    pub(super) fn lean_text(&self, raw: &str) -> Option<Option<f64>> {
        match &self.kind {
            ValueKind::Unwrap { conv, post, .. } if post.is_empty() => match raw {
                "" => Some(None),
                raw => convert(*conv, raw).ok().map(Some),
            },
            _ => None,
        }
    }

    /// The label `unwrap` reads, if the extraction unwraps one (an entry without it yields
    /// no sample, whatever else its labels hold).
    pub(super) fn unwrap_label(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::Unwrap { label, .. } => Some(label),
            _ => None,
        }
    }

    /// The series labels of an entry whose labels are `labels` and that yields a sample
    /// without error (what [`Self::extract`] returns then).
    pub(super) fn group_of(&self, labels: &Labels) -> Labels {
        self.group(Cow::Borrowed(labels)).into_owned()
    }

    /// Whether the series labels of a stream's entries are the same whatever their
    /// structured metadata: no labels at all, or only labels of the stream (a metadata
    /// name equal to a stream label is renamed `<name>_extracted`).
    pub(super) fn ignores_metadata(&self, stream: &Labels) -> bool {
        match &self.grouping {
            SampleGrouping::NoLabels => true,
            SampleGrouping::By(g) => g.iter().all(|n| stream.get(n).is_some()),
            SampleGrouping::All | SampleGrouping::Without(_) => false,
        }
    }

    fn group<'l>(&self, lbs: Cow<'l, Labels>) -> Cow<'l, Labels> {
        let filtered =
            |keep: &dyn Fn(&str) -> bool| Cow::Owned(Labels(lbs.0.iter().filter(|(n, _)| keep(n)).cloned().collect()));
        match &self.grouping {
            SampleGrouping::All => lbs,
            SampleGrouping::NoLabels => Cow::Owned(Labels::default()),
            SampleGrouping::By(g) => filtered(&|n| g.iter().any(|x| x == n)),
            SampleGrouping::Without(g) => filtered(&|n| !g.iter().any(|x| x == n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{CmpOp, Grouping, LabelFilter, LogExpr, MatchOp, Matcher, Stage, Unwrap};

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    fn range(stages: Vec<Stage>, unwrap: Option<Unwrap>) -> LogRange {
        LogRange { log: LogExpr { matchers: vec![], stages }, unwrap, range: 60_000_000_000, offset: 0 }
    }

    fn unwrap(label: &str, conv: Option<UnwrapConv>, post: Vec<LabelFilter>) -> Option<Unwrap> {
        Some(Unwrap { label: label.into(), conv, post_filters: post })
    }

    fn err_eq_empty() -> LabelFilter {
        LabelFilter::Matcher(Matcher { name: ERROR.into(), op: MatchOp::Eq, value: String::new() })
    }

    #[test]
    fn count_and_bytes_values_and_grouping() {
        let l = labels(&[("app", "a"), ("host", "h")]);
        let e = Extractor::planned(RangeOp::CountOverTime, &range(vec![], None), None).unwrap();
        assert_eq!(e.extract("xyz", &l), Some((1.0, Cow::Borrowed(&l))));
        let e =
            Extractor::planned(RangeOp::BytesOverTime, &range(vec![], None), Some(&Grouping::By(vec!["host".into()])))
                .unwrap();
        let (v, g) = e.extract("héllo", &l).unwrap();
        assert_eq!((v, g.into_owned()), (6.0, labels(&[("host", "h")])));
        let e = Extractor::planned(RangeOp::Rate, &range(vec![], None), Some(&Grouping::Without(vec!["host".into()])))
            .unwrap();
        assert_eq!(e.extract("", &l).unwrap().1.into_owned(), labels(&[("app", "a")]));
        let e = Extractor::planned(RangeOp::AbsentOverTime, &range(vec![], None), None).unwrap();
        assert_eq!(e.extract("", &l).unwrap().1.into_owned(), Labels::default());
    }

    #[test]
    fn unwrap_removes_label_converts_and_skips_missing() {
        let r = range(vec![], unwrap("latency", None, vec![]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, None).unwrap();
        let l = labels(&[("app", "a"), ("latency", "2.5")]);
        assert_eq!(e.extract("", &l).map(|(v, l)| (v, l.into_owned())), Some((2.5, labels(&[("app", "a")]))));
        assert_eq!(e.extract("", &labels(&[("app", "a")])), None);
        assert_eq!(e.extract("", &labels(&[("app", "a"), ("latency", "")])), None);
        // `by` keeps exactly the listed labels.
        let e = Extractor::planned(RangeOp::AvgOverTime, &r, Some(&Grouping::By(vec!["latency".into(), "x".into()])))
            .unwrap();
        assert_eq!(e.extract("", &l).unwrap().1.into_owned(), labels(&[("latency", "2.5")]));
        let r = range(vec![], unwrap("d", Some(UnwrapConv::Duration), vec![]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, None).unwrap();
        assert_eq!(e.extract("", &labels(&[("d", "1m30s")])).unwrap().0, 90.0);
    }

    #[test]
    fn conversion_error_then_post_filters() {
        let l = labels(&[("app", "a"), ("latency", "fast")]);
        let r = range(vec![], unwrap("latency", None, vec![]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, None).unwrap();
        let (v, got) = e.extract("", &l).unwrap();
        assert_eq!(v, 0.0);
        assert_eq!(got.get(ERROR), Some("SampleExtractionErr"));
        assert_eq!(got.get("latency"), Some("fast"), "error samples keep all labels");
        assert!(is_fatal(&got));
        let r = range(vec![], unwrap("latency", None, vec![err_eq_empty()]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, None).unwrap();
        assert_eq!(e.extract("", &l), None);
        // A numeric post-filter on a label that does not parse keeps the entry with an error.
        let gt = LabelFilter::Number { name: "n".into(), op: CmpOp::Gt, value: 1.0 };
        let r = range(vec![], unwrap("latency", None, vec![gt]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, None).unwrap();
        let l = labels(&[("latency", "3"), ("n", "x")]);
        assert_eq!(e.extract("", &l).unwrap().1.get(ERROR), Some("LabelFilterErr"));
        assert_eq!(e.extract("", &labels(&[("latency", "3"), ("n", "0")])), None);
    }

    #[test]
    fn parser_hint_modes() {
        let json = vec![Stage::Json(vec![])];
        let l = labels(&[("__error__", "JSONParserErr"), ("__error_details__", "bad"), ("app", "a")]);
        // sum(count_over_time({…} | json [1m])): nothing needed → parser never ran.
        let e = Extractor::planned(RangeOp::CountOverTime, &range(json.clone(), None), Some(&Grouping::By(vec![])))
            .unwrap();
        assert_eq!(e.mode, ErrorMode::IgnoreParser);
        assert_eq!(e.extract("", &l).unwrap().1.into_owned(), Labels::default());
        // count_over_time({…} | json [1m]): all labels needed → error surfaces.
        let e = Extractor::planned(RangeOp::CountOverTime, &range(json.clone(), None), None).unwrap();
        assert_eq!(e.mode, ErrorMode::Raise);
        assert!(is_fatal(&e.extract("", &l).unwrap().1));
        // sum by (app): the parser runs for `app` and reports errors.
        let by_app = Grouping::By(vec!["app".into()]);
        let e = Extractor::planned(RangeOp::CountOverTime, &range(json.clone(), None), Some(&by_app)).unwrap();
        assert_eq!(e.mode, ErrorMode::Raise);
        // sum by (__error__): errors were asked for.
        let by_err = Grouping::By(vec![ERROR.into()]);
        let e = Extractor::planned(RangeOp::CountOverTime, &range(json.clone(), None), Some(&by_err)).unwrap();
        assert_eq!(e.mode, ErrorMode::PreserveParser);
        let got = e.extract("", &l).unwrap().1;
        assert_eq!(got.get(PRESERVE_ERROR), Some("true"));
        assert!(!is_fatal(&got));
        // A label filter makes a label needed, even under sum().
        let f = Stage::LabelFilter(LabelFilter::Number { name: "status".into(), op: CmpOp::Gt, value: 1.0 });
        let e = Extractor::planned(
            RangeOp::CountOverTime,
            &range(vec![json[0].clone(), f], None),
            Some(&Grouping::By(vec![])),
        )
        .unwrap();
        assert_eq!(e.mode, ErrorMode::Raise);
        // A sample-extraction error is never a parser error.
        let r = range(json, unwrap("x", None, vec![]));
        let e = Extractor::planned(RangeOp::SumOverTime, &r, Some(&by_err)).unwrap();
        assert_eq!(e.mode, ErrorMode::PreserveParser);
        assert!(is_fatal(&e.extract("", &labels(&[("x", "y")])).unwrap().1));
    }
}

//! The LogQL log pipeline (logql.md §4): every stage compiled from the AST, after Loki's stage
//! reordering (§4.11), and run per entry over a label builder that keeps stream labels,
//! structured metadata and parsed labels apart (§4.1).
//!
//! Files follow Loki's `pkg/logql/log/`: [`filter`] (line filters), [`parser`] (json, logfmt,
//! regexp, pattern, unpack), [`label_filter`], [`format`] (line_format, label_format, decolorize,
//! with the Go template subset in [`template`]), [`drop_keep`], [`labels`] (the builder), [`ip`].

pub mod conv;
mod drop_keep;
mod fields;
mod filter;
mod format;
mod ip;
pub mod json;
mod jsonexpr;
pub mod label_filter;
pub mod labels;
pub mod logfmt;
mod parser;
mod pattern;
#[cfg(test)]
mod tests;

use memchr::memmem::Finder;

use self::drop_keep::DropKeep;
pub use self::fields::{JsonFields, JSON_FIELDS};
use self::filter::CompiledLineFilter;
use self::format::{LabelsFormatter, LineFormatter};
use self::jsonexpr::JsonExprParser;
use self::label_filter::CompiledLabelFilter;
use self::labels::LabelsBuilder;
use self::parser::{JsonParser, LogfmtExprParser, LogfmtParser, PatternParser, RegexpParser};
use crate::logql::Stage;
use crate::model::{Labels, Nanos};
use crate::query::QueryError;

/// The bytes a line must hold (unless it holds a `\`, which may escape any character of a
/// JSON key) for `| json` or `| logfmt` to produce the label `name`: its longest run of
/// ASCII letters and digits. Parsers name labels by sanitizing keys, which only turns
/// bytes into `_`, drops whitespace at the ends or prefixes `_`, and by joining nested keys
/// with `_`: a run of letters and digits in the name is a run of one key, verbatim.
/// `None` when the name has no letter or digit.
pub fn key_needle(name: &str) -> Option<&[u8]> {
    name.as_bytes().split(|c| !c.is_ascii_alphanumeric()).max_by_key(|r| r.len()).filter(|r| !r.is_empty())
}

#[derive(Debug)]
enum Compiled {
    LineFilter(CompiledLineFilter),
    Json(JsonParser),
    JsonExpr(JsonExprParser),
    Logfmt(LogfmtParser),
    LogfmtExpr(LogfmtExprParser),
    Regexp(RegexpParser),
    Pattern(PatternParser),
    Unpack,
    LabelFilter(CompiledLabelFilter),
    LineFormat(LineFormatter),
    LabelFormat(LabelsFormatter),
    Decolorize,
    DropKeep(DropKeep),
}

/// Loki's parser hints for log queries (`ShouldContinueParsingLine`): when a parser sets a label
/// that a single-label filter stage of the pipeline tests, that filter runs at once and a failing
/// entry is dropped right there (observable when a later stage would have changed the label).
#[derive(Debug, Default)]
pub struct Hints {
    filters: Vec<(String, CompiledLabelFilter)>,
    /// Loki's parser hints for metric queries: when set, `| json` and `| logfmt` (without
    /// parameters) only add the labels named here (the query's grouping, unwrap and the
    /// labels stages read).
    wanted: Option<Vec<String>>,
    /// Loki's `requiredLabels`: the wanted names, plus `x` for each `x_extracted`, once
    /// each. When every one of them is extracted, parsers stop (`AllRequiredExtracted`):
    /// the rest of the line is not read, and a later parser does nothing.
    required: Vec<String>,
}

impl Hints {
    /// Whether parsers add only some labels.
    #[inline]
    pub fn has_wanted(&self) -> bool {
        self.wanted.is_some()
    }

    /// Loki's `AllRequiredExtracted`: the query wants only some labels and parsers have
    /// extracted each of them for this entry. Parsers then stop reading the line.
    #[inline]
    pub fn all_extracted(&self, lbs: &LabelsBuilder) -> bool {
        !self.required.is_empty()
            && lbs.extracted_count() >= self.required.len()
            && self.required.iter().all(|n| lbs.extracted(n))
    }

    /// Whether a parser should add the label `name`.
    #[inline]
    pub fn wants(&self, name: &str) -> bool {
        self.wanted.as_ref().is_none_or(|w| w.iter().any(|n| n == name))
    }

    /// Whether a key whose sanitized name is `name` can yield a wanted label: as `name`,
    /// or as `name_extracted` when it collides with a stream label or metadata. Checked
    /// before the (costlier) collision test, so unwanted keys cost one comparison each.
    #[inline]
    pub fn may_want(&self, name: &[u8]) -> bool {
        self.wanted.as_ref().is_none_or(|w| {
            w.iter().any(|n| {
                let n = n.as_bytes();
                // Lengths first: most keys are rejected without comparing bytes.
                (n.len() == name.len() || n.len() == name.len() + labels::DUPLICATE_SUFFIX.len())
                    && n.strip_prefix(name)
                        .is_some_and(|rest| rest.is_empty() || rest == labels::DUPLICATE_SUFFIX.as_bytes())
            })
        })
    }

    pub fn ok(&self, name: &str, lbs: &mut LabelsBuilder) -> bool {
        match self.filters.iter().find(|(n, _)| n == name) {
            Some((_, f)) => f.eval(lbs),
            None => true,
        }
    }
}

/// Per-entry processing of a log query.
#[derive(Debug, Default)]
pub struct LogPipeline {
    stages: Vec<Compiled>,
    hints: Hints,
    /// What every kept line contains (`store::filter`), from the positive substring
    /// filters that run on the stored line.
    probe: crate::store::filter::Probe,
}

/// The result of running the pipeline on one kept entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// Some(new line) when a stage rewrote it.
    pub line: Option<String>,
    /// Output label set: stream ∪ structured metadata ∪ parsed (+ error labels), sorted.
    pub labels: Labels,
    /// Structured metadata that remains (sorted).
    pub metadata: Vec<(String, String)>,
    /// Parsed labels that remain, error labels included (sorted).
    pub parsed: Vec<(String, String)>,
}

impl LogPipeline {
    /// Builds the pipeline (after Loki's stage reordering). Errors carry Loki's stage texts.
    pub fn compile(stages: &[Stage]) -> Result<LogPipeline, QueryError> {
        Self::compile_for(stages, None)
    }

    /// [`Self::compile`] for a metric query that reads only the labels `wanted` of the
    /// output (None: every label).
    pub fn compile_for(stages: &[Stage], wanted: Option<Vec<String>>) -> Result<LogPipeline, QueryError> {
        let mut out = Vec::with_capacity(stages.len());
        let mut hints = Hints::default();
        let ordered = crate::query::plan::reorder(stages);
        for s in &ordered {
            out.push(match s {
                Stage::LineFilter(f) => Compiled::LineFilter(CompiledLineFilter::new(f)?),
                Stage::Json(ex) if ex.is_empty() => Compiled::Json(JsonParser),
                Stage::Json(ex) => Compiled::JsonExpr(JsonExprParser::new(ex)?),
                Stage::Logfmt { strict, keep_empty, extractions } if extractions.is_empty() => {
                    Compiled::Logfmt(LogfmtParser { strict: *strict, keep_empty: *keep_empty })
                }
                Stage::Logfmt { strict, extractions, .. } => {
                    Compiled::LogfmtExpr(LogfmtExprParser::new(extractions, *strict)?)
                }
                Stage::Regexp(re) => Compiled::Regexp(RegexpParser::new(re)?),
                Stage::Pattern(p) => Compiled::Pattern(PatternParser::new(p)?),
                Stage::Unpack => Compiled::Unpack,
                Stage::LabelFilter(f) => {
                    let c = CompiledLabelFilter::new(f)?;
                    if let Some(name) = c.single_label() {
                        hints.filters.push((name.to_string(), CompiledLabelFilter::new(f)?));
                    }
                    Compiled::LabelFilter(c)
                }
                Stage::LineFormat(t) => Compiled::LineFormat(LineFormatter::new(t)?),
                Stage::LabelFormat(f) => Compiled::LabelFormat(LabelsFormatter::new(f)?),
                Stage::Decolorize => Compiled::Decolorize,
                Stage::Drop(items) => Compiled::DropKeep(DropKeep::new(items, false)?),
                Stage::Keep(items) => Compiled::DropKeep(DropKeep::new(items, true)?),
            });
        }
        if let Some(w) = &wanted {
            // Loki's `appendLabelHints` and `uniqueString`.
            for n in w {
                let trimmed = n.strip_suffix(labels::DUPLICATE_SUFFIX);
                for name in std::iter::once(n.as_str()).chain(trimmed) {
                    if !hints.required.iter().any(|r| r == name) {
                        hints.required.push(name.to_string());
                    }
                }
            }
        }
        hints.wanted = wanted;
        let needles = crate::query::plan::required_substrings(&ordered).into_iter().map(str::as_bytes);
        let probe = crate::store::filter::Probe::new(needles);
        Ok(LogPipeline { stages: out, hints, probe })
    }

    /// True when every stage is a line filter (the engine then uses a fast path).
    pub fn line_filters_only(&self) -> bool {
        self.stages.iter().all(|s| matches!(s, Compiled::LineFilter(_)))
    }

    /// Whether no stage can change the stream's own labels or the line (only filters and
    /// parsers, which add labels beside the stream's): then a metric query can key samples
    /// by stream labels without building each entry's label set.
    pub fn keeps_stream_labels(&self) -> bool {
        self.stages.iter().all(|s| {
            matches!(
                s,
                Compiled::LineFilter(_)
                    | Compiled::Json(_)
                    | Compiled::JsonExpr(_)
                    | Compiled::Logfmt(_)
                    | Compiled::LogfmtExpr(_)
                    | Compiled::Regexp(_)
                    | Compiled::Pattern(_)
                    | Compiled::LabelFilter(_)
            )
        })
    }

    /// Whether every label a stage can add is named by a key of the line itself (`json` and
    /// `logfmt` without parameters; filters and `drop`/`keep` add none) and the line is never
    /// rewritten. Then a label the stream and the entry's metadata lack can only exist
    /// when the line holds its name's letters and digits (see [`key_needle`]).
    pub fn labels_only_from_line_keys(&self) -> bool {
        self.stages.iter().all(|s| {
            matches!(
                s,
                Compiled::LineFilter(_)
                    | Compiled::Json(_)
                    | Compiled::Logfmt(_)
                    | Compiled::LabelFilter(_)
                    | Compiled::DropKeep(_)
            )
        })
    }

    pub fn is_noop(&self) -> bool {
        self.stages.is_empty()
    }

    /// For line-filter-only pipelines: whether a line passes every filter.
    #[inline]
    pub fn keep_line(&self, line: &[u8]) -> bool {
        self.stages.iter().all(|s| match s {
            Compiled::LineFilter(f) => f.matches(line),
            _ => true,
        })
    }

    /// A substring every kept line contains, from a line filter that runs before any stage
    /// that rewrites the line.
    pub fn required_substring(&self) -> Option<&Finder<'static>> {
        for s in &self.stages {
            match s {
                Compiled::LineFilter(f) => {
                    if let Some(r) = f.required_substring() {
                        return Some(r);
                    }
                }
                Compiled::LineFormat(_) | Compiled::Unpack | Compiled::Decolorize => return None,
                _ => {}
            }
        }
        None
    }

    /// What every kept line contains (see `store::filter`): a page whose filter rules it
    /// out is skipped unread.
    pub fn required_probe(&self) -> &crate::store::filter::Probe {
        &self.probe
    }

    /// Runs the whole pipeline on one entry. None = dropped.
    pub fn process(&self, ts: Nanos, line: &[u8], stream: &Labels, metadata: &[(String, String)]) -> Option<Processed> {
        self.run(ts, line, stream, metadata, true)
    }

    /// [`Self::process`] without the categorized copies: `metadata` and `parsed` stay empty
    /// (for responses without `categorize-labels` and for metric queries).
    pub fn process_uncategorized(
        &self,
        ts: Nanos,
        line: &[u8],
        stream: &Labels,
        metadata: &[(String, String)],
    ) -> Option<Processed> {
        self.run(ts, line, stream, metadata, false)
    }

    /// Runs the stages; the label builder and the rewritten line (if any) of a kept entry.
    fn run_stages<'s>(
        &self,
        ts: Nanos,
        line: &[u8],
        stream: &'s Labels,
        metadata: &[(String, String)],
    ) -> Option<(LabelsBuilder<'s>, Option<Vec<u8>>)> {
        let mut b = LabelsBuilder::new(stream);
        b.add_metadata(metadata);
        let mut owned: Option<Vec<u8>> = None;
        for s in &self.stages {
            let cur: &[u8] = owned.as_deref().unwrap_or(line);
            let keep = match s {
                // Loki's parsers do nothing once every label the query needs is extracted
                // (`NoLabels`); `regexp` has no such check.
                Compiled::Json(_)
                | Compiled::JsonExpr(_)
                | Compiled::Logfmt(_)
                | Compiled::LogfmtExpr(_)
                | Compiled::Pattern(_)
                | Compiled::Unpack
                    if self.hints.all_extracted(&b) =>
                {
                    true
                }
                Compiled::LineFilter(f) => f.matches(cur),
                Compiled::Json(p) => p.process(cur, &mut b, &self.hints),
                Compiled::JsonExpr(p) => p.process(cur, &mut b),
                Compiled::Logfmt(p) => p.process(cur, &mut b, &self.hints),
                Compiled::LogfmtExpr(p) => p.process(cur, &mut b),
                Compiled::Regexp(p) => p.process(cur, &mut b, &self.hints),
                Compiled::Pattern(p) => p.process(cur, &mut b, &self.hints),
                Compiled::Unpack => {
                    let (keep, new) = parser::unpack(cur, &mut b, &self.hints);
                    if let Some(n) = new {
                        owned = Some(n);
                    }
                    keep
                }
                Compiled::LabelFilter(f) => f.eval(&mut b),
                Compiled::LineFormat(f) => {
                    if let Some(n) = f.process(ts, cur, &mut b) {
                        owned = Some(n.into_bytes());
                    }
                    true
                }
                Compiled::LabelFormat(f) => {
                    f.process(ts, cur, &mut b);
                    true
                }
                Compiled::Decolorize => {
                    if let Some(n) = format::decolorize(cur) {
                        owned = Some(n);
                    }
                    true
                }
                Compiled::DropKeep(d) => {
                    d.process(&mut b);
                    true
                }
            };
            if !keep {
                return None;
            }
        }
        Some((b, owned))
    }

    /// Like [`Self::process_uncategorized`], but hands `f` the label builder and the line
    /// as the stages left them instead of building the output label set: for metric
    /// queries that read a label or two per entry.
    pub fn process_lean<R>(
        &self,
        ts: Nanos,
        line: &[u8],
        stream: &Labels,
        metadata: &[(String, String)],
        f: impl FnOnce(&LabelsBuilder, &[u8]) -> R,
    ) -> Option<R> {
        let (b, owned) = self.run_stages(ts, line, stream, metadata)?;
        Some(f(&b, owned.as_deref().unwrap_or(line)))
    }

    fn run(
        &self,
        ts: Nanos,
        line: &[u8],
        stream: &Labels,
        metadata: &[(String, String)],
        categorize: bool,
    ) -> Option<Processed> {
        let (b, owned) = self.run_stages(ts, line, stream, metadata)?;
        let (labels, metadata, parsed) = b.finish(categorize);
        let line =
            owned.map(|v| String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
        Some(Processed { line, labels, metadata, parsed })
    }
}

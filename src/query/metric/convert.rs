//! `unwrap` for metric queries: the value conversions (Go's, as lokid's `unwrap` applies them) and
//! the label filters written after `unwrap`, run by the pipeline's label-filter evaluator over a
//! sample's label set; plus the label names stages read (for Loki's parser hints) and anchored
//! regexes.

use std::borrow::Cow;

use crate::gocompat::{self as go, translate_go_regex, Dialect, Escapes};
use crate::logql::{LabelFilter, UnwrapConv};
use crate::model::Labels;
use crate::query::pipeline::label_filter::{CompiledLabelFilter, FilterLabels};
use crate::query::pipeline::labels::ERR_LABEL_FILTER;
pub(super) use crate::query::pipeline::labels::{ERROR_DETAILS_LABEL as ERROR_DETAILS, ERROR_LABEL as ERROR};
use crate::query::QueryError;

/// Where `unwrap` (conversions and post-filters) differs from Go: quoting escapes only ASCII
/// control characters (as label sets print); `_` is not a digit separator; hexadecimal floats
/// (`0x1p4`) are not accepted.
pub(super) const UNWRAP: Dialect =
    Dialect { escapes: Escapes::AsciiControls, underscores: false, hex_floats: false, signed_nan: false };

/// The value of an unwrapped label, converted as `unwrap [conv(]label[)]` asks.
pub(super) fn convert(conv: Option<UnwrapConv>, v: &str) -> Result<f64, String> {
    match conv {
        None => UNWRAP.parse_float(v),
        Some(UnwrapConv::Duration | UnwrapConv::DurationSeconds) => UNWRAP.parse_duration(v).map(go::seconds),
        Some(UnwrapConv::Bytes) => go::parse_bytes(v).map(|b| b as f64),
    }
}

/// A sample's label set as a label filter sees it: `__error__` and `__error_details__` are
/// ordinary labels to string matchers, and absent to numeric filters (as empty values are).
struct SampleLabels<'a, 'l>(&'a mut Cow<'l, Labels>);

impl FilterLabels for SampleLabels<'_, '_> {
    fn matcher_value(&self, name: &str) -> &str {
        self.0.get(name).unwrap_or("")
    }

    fn value(&self, name: &str) -> Option<&str> {
        if name == ERROR || name == ERROR_DETAILS {
            return None;
        }
        self.0.get(name).filter(|v| !v.is_empty())
    }

    fn has_err(&self) -> bool {
        self.0.get(ERROR).is_some()
    }

    fn set_filter_err(&mut self, details: String) {
        let l = self.0.to_mut();
        l.set(ERROR, ERR_LABEL_FILTER);
        l.set(ERROR_DETAILS, &details);
    }
}

/// A label filter written after `unwrap` (logql.md §4.5), in the [`UNWRAP`] dialect.
#[derive(Debug)]
pub(super) struct PostFilter(CompiledLabelFilter);

impl PostFilter {
    pub(super) fn compile(f: &LabelFilter) -> Result<PostFilter, QueryError> {
        if has_ip(f) {
            return Err(QueryError::Unsupported("ip() label filter after unwrap".into()));
        }
        CompiledLabelFilter::with_dialect(f, &UNWRAP).map(PostFilter)
    }

    /// Whether the entry passes; may record `LabelFilterErr` (then it passes).
    pub(super) fn apply(&self, labels: &mut Cow<'_, Labels>) -> bool {
        self.0.eval(&mut SampleLabels(labels))
    }
}

fn has_ip(f: &LabelFilter) -> bool {
    match f {
        LabelFilter::And(a, b) | LabelFilter::Or(a, b) => has_ip(a) || has_ip(b),
        LabelFilter::Ip { .. } => true,
        _ => false,
    }
}

/// A Go regex anchored like `label_replace` (`^(?:re)$`), with the names of its capture groups
/// (by group number minus one).
pub(super) fn anchored_regex_with_names(re: &str) -> Result<(regex::Regex, Vec<Option<String>>), QueryError> {
    let tr = translate_go_regex(&format!("^(?:{re})$")).map_err(QueryError::BadRegex)?;
    let r = regex::Regex::new(&tr.rust).map_err(|e| QueryError::BadRegex(e.to_string()))?;
    Ok((r, tr.names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gocompat::seconds as go_seconds;
    use crate::logql::{CmpOp, MatchOp};

    fn parse_go_float(s: &str) -> Result<f64, String> {
        UNWRAP.parse_float(s)
    }

    fn parse_go_duration(s: &str) -> Result<i64, String> {
        UNWRAP.parse_duration(s)
    }

    #[test]
    fn go_float() {
        assert_eq!(parse_go_float("1e3"), Ok(1000.0));
        assert_eq!(parse_go_float("-2.5"), Ok(-2.5));
        assert_eq!(parse_go_float(".5"), Ok(0.5));
        assert_eq!(parse_go_float("Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_go_float("-infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("+nan"), Err(r#"strconv.ParseFloat: parsing "+nan": invalid syntax"#.into()));
        assert_eq!(parse_go_float("12ms"), Err(r#"strconv.ParseFloat: parsing "12ms": invalid syntax"#.into()));
        assert_eq!(parse_go_float(""), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
        assert_eq!(parse_go_float("1e400"), Err(r#"strconv.ParseFloat: parsing "1e400": value out of range"#.into()));
    }

    #[test]
    fn go_duration() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("900us"), Ok(900_000));
        assert_eq!(parse_go_duration("900µs"), Ok(900_000));
        assert_eq!(parse_go_duration("-3ms"), Ok(-3_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration(".5h"), Ok(1_800_000_000_000));
        assert_eq!(parse_go_duration("1d"), Err(r#"time: unknown unit "d" in duration "1d""#.into()));
        assert_eq!(parse_go_duration("12"), Err(r#"time: missing unit in duration "12""#.into()));
        assert_eq!(parse_go_duration("abc"), Err(r#"time: invalid duration "abc""#.into()));
        assert_eq!(parse_go_duration(""), Err(r#"time: invalid duration """#.into()));
        assert_eq!(go_seconds(1_500_000_000), 1.5);
        assert_eq!(convert(Some(UnwrapConv::Duration), "250ms"), Ok(0.25));
    }

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn label_filters() {
        let num = PostFilter::compile(&LabelFilter::Number { name: "x".into(), op: CmpOp::Gt, value: 5.0 }).unwrap();
        let l = labels(&[("x", "7")]);
        assert!(num.apply(&mut Cow::Borrowed(&l)));
        let l = labels(&[("y", "7")]);
        assert!(!num.apply(&mut Cow::Borrowed(&l)), "missing label drops");
        let l = labels(&[("x", "abc")]);
        let mut c = Cow::Borrowed(&l);
        assert!(num.apply(&mut c), "conversion failure keeps");
        assert_eq!(c.get(ERROR), Some("LabelFilterErr"));
        assert_eq!(c.get(ERROR_DETAILS), Some(r#"strconv.ParseFloat: parsing "abc": invalid syntax"#));
        let err_empty = PostFilter::compile(&LabelFilter::Matcher(crate::logql::Matcher {
            name: ERROR.into(),
            op: MatchOp::Eq,
            value: String::new(),
        }))
        .unwrap();
        assert!(!err_empty.apply(&mut c));
        let re = PostFilter::compile(&LabelFilter::Matcher(crate::logql::Matcher {
            name: "x".into(),
            op: MatchOp::Re,
            value: "a.c".into(),
        }))
        .unwrap();
        assert!(re.apply(&mut c));
        let l = labels(&[("x", "xabc")]);
        assert!(!re.apply(&mut Cow::Borrowed(&l)), "regex is anchored");
    }

    #[test]
    fn template_field_names() {
        let mut v = Vec::new();
        crate::query::plan::template_fields("{{.a}} {{ __line__ | trunc 2 }} {{ .b_c | upper }} {{ 1.5 }} .d", &mut v);
        assert_eq!(v, vec!["a", "b_c"]);
        let mut v = Vec::new();
        crate::query::plan::template_fields(
            r#"{{ .a.b }}{{ if .c }}{{ .d | printf "%s .e" }}{{ else }}{{ (.f) }}{{ end }}{{ $x := .g }}{{ $x.h }}{{ (.i).j }}"#,
            &mut v,
        );
        assert_eq!(v, vec!["a", "b", "c", "d", "f", "g"]);
        let mut v = Vec::new();
        crate::query::plan::template_fields(
            "{{ range .r }}{{ .s }}{{ end }}{{ with .t }}{{ else with .u }}{{ end }} {{ .broken",
            &mut v,
        );
        assert!(v.is_empty(), "unparsable: {v:?}");
        crate::query::plan::template_fields("{{ range .r }}{{ .s }}{{ end }}{{ with .t }}{{ .w }}{{ end }}", &mut v);
        assert_eq!(v, vec!["r", "s", "t", "w"]);
    }
}

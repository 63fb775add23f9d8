//! Formatting stages (`pkg/logql/log/fmt.go`): `line_format`, `label_format` (renames and
//! templates) and `decolorize`. Template execution errors keep the line / label unchanged and set
//! `__error__="TemplateFormatErr"` with Go's error text as details.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::labels::{LabelsBuilder, ERROR_LABEL, ERR_TEMPLATE};
use crate::logql::LabelFmt;
use crate::query::template::{Data, Env, PairsData, Template};
use crate::query::QueryError;

impl Data for LabelsBuilder<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.template_get(name)
    }

    fn pairs(&self) -> Vec<(String, String)> {
        self.snapshot()
    }
}

/// `| line_format "template"`.
#[derive(Debug)]
pub struct LineFormatter {
    tmpl: Template,
    simple_key: Option<String>,
}

impl LineFormatter {
    pub fn new(src: &str) -> Result<LineFormatter, QueryError> {
        let tmpl = Template::parse("line", src).map_err(|e| QueryError::LineTemplate(e.to_string()))?;
        let simple_key = tmpl.simple_key().map(str::to_string);
        Ok(LineFormatter { tmpl, simple_key })
    }

    /// The new line, or None when execution failed (the error labels are then set).
    pub fn process(&self, ts: i64, line: &[u8], lbs: &mut LabelsBuilder) -> Option<String> {
        if let Some(k) = &self.simple_key {
            return Some(lbs.get(k).unwrap_or("").to_string());
        }
        let text = String::from_utf8_lossy(line);
        let mut out = String::with_capacity(line.len());
        let res = {
            let env = Env { data: &*lbs, line: &text, ts };
            self.tmpl.execute(&env, &mut out)
        };
        match res {
            Ok(()) => Some(out),
            Err(e) => {
                lbs.set_err(ERR_TEMPLATE);
                lbs.set_err_details(e);
                None
            }
        }
    }
}

#[derive(Debug)]
enum Fmt {
    Rename { dst: String, src: String },
    Template { dst: String, tmpl: Template },
}

/// `| label_format a=b, c="{{…}}"`.
#[derive(Debug)]
pub struct LabelsFormatter {
    fmts: Vec<Fmt>,
}

impl LabelsFormatter {
    pub fn new(fmts: &[LabelFmt]) -> Result<LabelsFormatter, QueryError> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::with_capacity(fmts.len());
        for f in fmts {
            let dst = match f {
                LabelFmt::Rename { dst, .. } | LabelFmt::Template { dst, .. } => dst.as_str(),
            };
            if dst == ERROR_LABEL {
                return Err(QueryError::FormatsErrorLabel(dst.to_string()));
            }
            if seen.contains(&dst) {
                return Err(QueryError::LabelFormattedTwice(dst.to_string()));
            }
            seen.push(dst);
            out.push(match f {
                LabelFmt::Rename { dst, src } => Fmt::Rename { dst: dst.clone(), src: src.clone() },
                LabelFmt::Template { dst, template } => Fmt::Template {
                    dst: dst.clone(),
                    tmpl: Template::parse("label", template)
                        .map_err(|e| QueryError::LabelTemplate { label: dst.clone(), error: e.to_string() })?,
                },
            });
        }
        Ok(LabelsFormatter { fmts: out })
    }

    pub fn process(&self, ts: i64, line: &[u8], lbs: &mut LabelsBuilder) {
        // Every template of the stage sees the labels as they were when the first one ran.
        let mut snapshot: Option<Vec<(String, String)>> = None;
        let mut text = None;
        for f in &self.fmts {
            match f {
                Fmt::Rename { dst, src } => {
                    if let Some(v) = lbs.get(src).map(str::to_string) {
                        lbs.set_parsed(dst, v);
                        lbs.del(src);
                    }
                }
                Fmt::Template { dst, tmpl } => {
                    let snap = snapshot.get_or_insert_with(|| lbs.snapshot());
                    let text = text.get_or_insert_with(|| String::from_utf8_lossy(line).into_owned());
                    let data = PairsData(snap);
                    let env = Env { data: &data, line: text, ts };
                    let mut out = String::new();
                    match tmpl.execute(&env, &mut out) {
                        Ok(()) => lbs.set_parsed(dst, out),
                        Err(e) => {
                            lbs.set_err(ERR_TEMPLATE);
                            lbs.set_err_details(e);
                        }
                    }
                }
            }
        }
    }
}

/// Loki's ANSI escape pattern (from acarl005/stripansi).
const ANSI: &str = "[\u{1b}\u{9b}][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u{07})|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))";

/// `| decolorize`: the line without ANSI escape sequences (None when there are none).
pub fn decolorize(line: &[u8]) -> Option<Vec<u8>> {
    if memchr::memchr(0x1b, line).is_none() && memchr::memmem::find(line, "\u{9b}".as_bytes()).is_none() {
        return None;
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(ANSI).expect("static ANSI regex"));
    Some(re.replace_all(line, &b""[..]).into_owned())
}

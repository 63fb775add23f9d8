//! Parser stages (`pkg/logql/log/parser.go`): `json`, `json l="path"`, `logfmt`, `logfmt l="key"`,
//! `regexp`, `pattern` and `unpack`. Parsers never drop a line by themselves (except through
//! Loki's label-filter hints, see [`Hints`]); failures set `__error__`.

use regex::bytes::Regex;

/// Deepest JSON object nesting `| json` flattens (Loki has no limit; deeper levels are
/// skipped here so that one line cannot exhaust the stack).
pub const MAX_JSON_NESTING: usize = 256;

use super::json::{self, JType, Stop};
use super::labels::{clean_value, sanitize_key, LabelsBuilder, DUPLICATE_SUFFIX, ERROR_LABEL, ERR_JSON, ERR_LOGFMT};
use super::logfmt::Decoder;
use super::pattern::Pattern;
use super::Hints;
use crate::logql::LabelExtraction;

use crate::query::QueryError;

/// Appends Loki's `appendSanitized(part)` to `out`.
pub(super) fn append_sanitized(out: &mut String, part: &[u8]) {
    // Fast path: a plain ASCII identifier-like key needs no trimming or replacement.
    if part.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && part.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        out.push_str(std::str::from_utf8(part).expect("ASCII"));
        return;
    }
    let s = String::from_utf8_lossy(part);
    let t = s.trim();
    if t.is_empty() {
        return;
    }
    if out.is_empty() && t.as_bytes()[0].is_ascii_digit() {
        out.push('_');
    }
    out.extend(t.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
}

/// A key that sanitizing leaves unchanged (`append_sanitized`'s fast path): ASCII letters,
/// digits and `_`, not starting with a digit.
fn plain_key(key: &[u8]) -> bool {
    key.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && key.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a top-level `key` may yield a label the parser hints want (always, without
/// hints); `scratch` holds the sanitized name when the key is not plain.
fn may_want_key(hints: &Hints, key: &[u8], scratch: &mut String) -> bool {
    if !hints.has_wanted() {
        return true;
    }
    if plain_key(key) {
        // Sanitizing leaves a plain key as it is: no copy to decide.
        return hints.may_want(key);
    }
    scratch.clear();
    append_sanitized(scratch, key);
    hints.may_want(scratch.as_bytes())
}

/// Sanitized top-level key, `_extracted` on collision; None when it sanitizes to nothing.
fn top_level_name(lbs: &LabelsBuilder, key: &[u8], out: &mut String) -> bool {
    out.clear();
    append_sanitized(out, key);
    if out.is_empty() {
        return false;
    }
    if lbs.collides(out) {
        out.push_str(DUPLICATE_SUFFIX);
    }
    true
}

/// `| json` without parameters: every scalar leaf, flattened with `_`.
#[derive(Debug, Default)]
pub struct JsonParser;

struct JsonWalk<'h> {
    /// Raw key parts of the current path, concatenated; `ends[i]` is where part i ends.
    parts: Vec<u8>,
    ends: Vec<usize>,
    name: String,
    hints: &'h Hints,
}

impl JsonWalk<'_> {
    fn build_name(&mut self) {
        self.name.clear();
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            let part = &self.parts[start..end];
            start = end;
            if part.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if i > 0 && !self.name.is_empty() {
                self.name.push('_');
            }
            append_sanitized(&mut self.name, part);
        }
    }

    fn push(&mut self, key: &[u8]) {
        self.parts.extend_from_slice(key);
        self.ends.push(self.parts.len());
    }

    fn pop(&mut self) {
        self.ends.pop();
        self.parts.truncate(self.ends.last().copied().unwrap_or(0));
    }

    fn object(&mut self, obj: &[u8], lbs: &mut LabelsBuilder) -> Result<(), Stop> {
        json::object_each(obj, |key, value, ty| {
            match ty {
                JType::String | JType::Number | JType::Boolean => self.leaf(key, value, ty, lbs)?,
                // Flattening recurses per nesting level: objects nested deeper than this in a
                // (possibly hostile) line are skipped instead of overflowing the stack.
                JType::Object if self.ends.len() >= MAX_JSON_NESTING => {}
                JType::Object => {
                    self.push(key);
                    let r = self.object(value, lbs);
                    self.pop();
                    return r;
                }
                _ => {}
            }
            // Loki stops reading the line once every label the query needs is there
            // (`errFoundAllLabels`): damage after that point is not an error.
            if self.hints.all_extracted(lbs) {
                return Err(Stop::Done);
            }
            Ok(())
        })
    }

    fn leaf(&mut self, key: &[u8], value: &[u8], ty: JType, lbs: &mut LabelsBuilder) -> Result<(), Stop> {
        if self.ends.is_empty() {
            if !may_want_key(self.hints, key, &mut self.name) {
                return Ok(());
            }
            let mut name = std::mem::take(&mut self.name);
            let ok = top_level_name(lbs, key, &mut name);
            self.name = name;
            if !ok {
                return Ok(());
            }
        } else {
            self.push(key);
            self.build_name();
            if !self.hints.may_want(self.name.as_bytes()) {
                self.pop();
                return Ok(());
            }
            if lbs.collides(&self.name) {
                self.pop();
                let mut k = key.to_vec();
                k.extend_from_slice(DUPLICATE_SUFFIX.as_bytes());
                self.push(&k);
                self.build_name();
            }
            self.pop();
        }
        if lbs.extracted(&self.name) || !self.hints.wants(&self.name) {
            return Ok(());
        }
        let v = match ty {
            JType::String => json::unescape_string(value),
            JType::Boolean => if value == b"true" { "true" } else { "false" }.to_string(),
            _ => clean_value(value),
        };
        lbs.set_parsed(&self.name, v);
        if self.hints.ok(&self.name, lbs) {
            Ok(())
        } else {
            Err(Stop::Drop)
        }
    }
}

thread_local! {
    /// The path and name buffers of the last JSON walk on this thread (a walk per line).
    static WALK_BUFFERS: std::cell::Cell<(Vec<u8>, Vec<usize>, String)> = const { std::cell::Cell::new((Vec::new(), Vec::new(), String::new())) };
}

impl JsonParser {
    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder, hints: &Hints) -> bool {
        let (mut parts, mut ends, mut name) = WALK_BUFFERS.take();
        parts.clear();
        ends.clear();
        name.clear();
        let mut w = JsonWalk { parts, ends, name, hints };
        let r = w.object(line, lbs);
        WALK_BUFFERS.set((w.parts, w.ends, w.name));
        match r {
            Ok(()) | Err(Stop::Done) => true,
            Err(Stop::Drop) => false,
            Err(Stop::Err(e)) => {
                lbs.add_err(ERR_JSON, Some(e.to_string()));
                true
            }
        }
    }
}

/// `| logfmt [--strict] [--keep-empty]`.
#[derive(Debug)]
pub struct LogfmtParser {
    pub strict: bool,
    pub keep_empty: bool,
}

impl LogfmtParser {
    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder, hints: &Hints) -> bool {
        let mut dec = Decoder::new(line);
        let mut name = String::new();
        while !dec.eol() {
            if !dec.scan() {
                if self.strict {
                    break;
                }
                continue;
            }
            if !may_want_key(hints, dec.key(), &mut name) {
                continue;
            }
            if !top_level_name(lbs, dec.key(), &mut name) || lbs.extracted(&name) || !hints.wants(&name) {
                continue;
            }
            if !self.keep_empty && dec.value().is_empty() {
                continue;
            }
            lbs.set_parsed(&name, clean_value(dec.value()));
            if !hints.ok(&name, lbs) {
                return false;
            }
            if hints.all_extracted(lbs) {
                break;
            }
        }
        if let (true, Some(e)) = (self.strict, dec.err()) {
            lbs.add_err(ERR_LOGFMT, Some(e.to_string()));
            return hints.ok(ERROR_LABEL, lbs);
        }
        true
    }
}

/// `| logfmt a, b="key"`: only the listed keys, renamed; the last occurrence wins.
#[derive(Debug)]
pub struct LogfmtExprParser {
    strict: bool,
    /// (label name, logfmt key)
    ids: Vec<(String, String)>,
}

impl LogfmtExprParser {
    pub fn new(exprs: &[LabelExtraction], strict: bool) -> Result<LogfmtExprParser, QueryError> {
        let mut ids = Vec::new();
        for e in exprs {
            let key =
                parse_logfmt_key(&e.expr).map_err(|reason| QueryError::Expression { expr: e.expr.clone(), reason })?;
            ids.push((e.name.clone(), key));
        }
        Ok(LogfmtExprParser { strict, ids })
    }

    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder) -> bool {
        for (id, _) in &self.ids {
            if !lbs.collides(id) {
                lbs.set_parsed(id, String::new());
            }
        }
        let mut dec = Decoder::new(line);
        let mut key = String::new();
        while !dec.eol() {
            if !dec.scan() {
                if self.strict {
                    break;
                }
                continue;
            }
            key.clear();
            append_sanitized(&mut key, dec.key());
            if key.is_empty() {
                continue;
            }
            let always = self.ids.iter().any(|(id, _)| *id == key);
            if !always && lbs.extracted(&key) {
                continue;
            }
            let raw = dec.value();
            let val = match std::str::from_utf8(raw) {
                Ok(s) if !s.contains('\u{FFFD}') => s.to_string(),
                _ => String::new(),
            };
            if let Some((id, _)) = self.ids.iter().find(|(_, orig)| *orig == key) {
                key.clone_from(id);
            }
            if self.ids.iter().any(|(id, _)| *id == key) {
                if lbs.collides(&key) {
                    key.push_str(DUPLICATE_SUFFIX);
                    if lbs.extracted(&key) {
                        break;
                    }
                }
                lbs.set_parsed(&key, val);
            }
        }
        if let (true, Some(e)) = (self.strict, dec.err()) {
            lbs.add_err(ERR_LOGFMT, Some(e.to_string()));
        }
        true
    }
}

/// A logfmt extraction expression: an identifier or a quoted key.
fn parse_logfmt_key(expr: &str) -> Result<String, String> {
    let t = expr.trim_matches([' ', '\t', '\n']);
    if let Some(inner) = t.strip_prefix('"') {
        return Ok(inner.split(['"', ']']).next().unwrap_or("").to_string());
    }
    match t.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        _ if t.is_empty() => Err("syntax error: unexpected $end".into()),
        Some(c) => Err(format!("unexpected char {c}")),
        None if t.starts_with(|c: char| c.is_ascii_digit()) => Err(format!("unexpected char {}", &t[..1])),
        None => Ok(t.to_string()),
    }
}

/// `| regexp "re"`.
#[derive(Debug)]
pub struct RegexpParser {
    re: Regex,
    /// (group index, sanitized name)
    groups: Vec<(usize, String)>,
}

impl RegexpParser {
    pub fn new(re: &str) -> Result<RegexpParser, QueryError> {
        let g = crate::gocompat::translate_go_regex(re).map_err(QueryError::BadRegex)?;
        let compiled = Regex::new(&g.rust).map_err(|e| QueryError::BadRegex(e.to_string()))?;
        let mut groups: Vec<(usize, String)> = Vec::new();
        for (i, n) in g.names.iter().enumerate() {
            let Some(n) = n else { continue };
            if groups.iter().any(|(_, x)| x == n) {
                return Err(QueryError::DuplicateExtractedLabel(n.to_string()));
            }
            groups.push((i + 1, sanitize_key(n)));
        }
        if groups.is_empty() {
            return Err(QueryError::NoNamedCapture);
        }
        Ok(RegexpParser { re: compiled, groups })
    }

    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder, hints: &Hints) -> bool {
        let Some(caps) = self.re.captures(line) else {
            return true;
        };
        let mut key = String::new();
        for (i, name) in &self.groups {
            key.clone_from(name);
            if lbs.collides(&key) {
                key.push_str(DUPLICATE_SUFFIX);
            }
            if lbs.extracted(&key) {
                continue;
            }
            let v = caps.get(*i).map_or(&b""[..], |m| m.as_bytes());
            lbs.set_parsed(&key, String::from_utf8_lossy(v).into_owned());
            if !hints.ok(&key, lbs) {
                return false;
            }
        }
        true
    }
}

/// `| pattern "<a> <_> <b>"`.
#[derive(Debug)]
pub struct PatternParser {
    pattern: Pattern,
}

impl PatternParser {
    pub fn new(p: &str) -> Result<PatternParser, QueryError> {
        Ok(PatternParser { pattern: Pattern::new(p).map_err(QueryError::Pipeline)? })
    }

    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder, hints: &Hints) -> bool {
        let mut found = Vec::new();
        self.pattern.matches(line, &mut found);
        let mut key = String::new();
        for (name, v) in self.pattern.names().iter().zip(found) {
            key.clone_from(name);
            if lbs.collides(&key) {
                key.push_str(DUPLICATE_SUFFIX);
            }
            if lbs.extracted(&key) {
                continue;
            }
            lbs.set_parsed(&key, String::from_utf8_lossy(v).into_owned());
            if !hints.ok(&key, lbs) {
                return false;
            }
        }
        true
    }
}

/// `| unpack`: `_entry` replaces the line, other top-level strings become labels.
/// Returns (keep, new line).
pub fn unpack(line: &[u8], lbs: &mut LabelsBuilder, hints: &Hints) -> (bool, Option<Vec<u8>>) {
    if line.is_empty() {
        return (true, None);
    }
    if line[0] != b'{' {
        lbs.add_err(ERR_JSON, Some("expecting json object(6), but it is not".into()));
        return (true, None);
    }
    let mut found: Vec<(String, String)> = Vec::new();
    let mut entry: Option<Vec<u8>> = None;
    let r = json::object_each(line, |key, value, ty| {
        if ty != JType::String {
            return Ok(());
        }
        if key == b"_entry" {
            let v = json::unescape_cow(value).ok_or(Stop::Err(json::MALFORMED_STRING_ESCAPE))?;
            entry = Some(v.into_owned());
            return Ok(());
        }
        let mut k = String::from_utf8_lossy(key).into_owned();
        if lbs.collides(&k) {
            k.push_str(DUPLICATE_SUFFIX);
        }
        if !lbs.extracted(&k) {
            found.push((sanitize_key(&k), json::unescape_string(value)));
        }
        Ok(())
    });
    if let Err(Stop::Err(e)) = r {
        lbs.add_err(ERR_JSON, Some(e.to_string()));
        return (true, None);
    }
    if entry.is_some() {
        for (k, v) in found {
            lbs.set_parsed(&k, v);
            if !hints.ok(&k, lbs) {
                return (false, None);
            }
        }
    }
    (true, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_keys() {
        assert_eq!(parse_logfmt_key("host").unwrap(), "host");
        assert!(parse_logfmt_key("x-forwarded").is_err());
    }
}

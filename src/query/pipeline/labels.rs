//! The per-entry label builder (Loki's `LabelsBuilder`, `pkg/logql/log/labels.go`): stream labels,
//! structured metadata and parsed labels with Loki's precedence rules, deletions, and the
//! `__error__` / `__error_details__` pair that is held apart from the other labels.

use crate::model::Labels;

pub const ERROR_LABEL: &str = "__error__";
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
pub const PRESERVE_ERROR_LABEL: &str = "__preserve_error__";
pub const DUPLICATE_SUFFIX: &str = "_extracted";

/// Error label values.
pub const ERR_JSON: &str = "JSONParserErr";
pub const ERR_LOGFMT: &str = "LogfmtParserErr";
pub const ERR_LABEL_FILTER: &str = "LabelFilterErr";
pub const ERR_TEMPLATE: &str = "TemplateFormatErr";

/// Label pairs in a vector.
pub type Pairs = Vec<(String, String)>;

/// Labels of one entry while the pipeline runs.
#[derive(Debug)]
pub struct LabelsBuilder<'a> {
    base: &'a Labels,
    meta: Vec<(String, String)>,
    parsed: Vec<(String, String)>,
    del: Vec<String>,
    /// Parsed labels deleted after being set: they still count as extracted (first value wins).
    dropped_parsed: Vec<String>,
    err: String,
    err_details: String,
}

thread_local! {
    /// Buffers of builders dropped on this thread, for the next entry's builder: a metric
    /// query runs a builder per line, and reusing them keeps allocation off that path.
    static POOL: std::cell::RefCell<Pool> = const { std::cell::RefCell::new(Pool { pairs: Vec::new(), strings: Vec::new() }) };
}

struct Pool {
    pairs: Vec<Pairs>,
    strings: Vec<String>,
}

/// At most this many spare buffers of each kind per thread, each string at most
/// [`POOL_STRING_BYTES`] long: the pool stays a few KiB.
const POOL_MAX: usize = 32;
const POOL_STRING_BYTES: usize = 256;

fn pooled_pairs() -> Pairs {
    POOL.with(|p| p.borrow_mut().pairs.pop()).unwrap_or_default()
}

/// A string holding `s`, in a pooled buffer when one is spare.
fn pooled_string(s: &str) -> String {
    let mut out = POOL.with(|p| p.borrow_mut().strings.pop()).unwrap_or_default();
    out.push_str(s);
    out
}

fn recycle(mut v: Pairs) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        for (a, b) in v.drain(..) {
            for mut s in [a, b] {
                if p.strings.len() < POOL_MAX && s.capacity() <= POOL_STRING_BYTES && s.capacity() > 0 {
                    s.clear();
                    p.strings.push(s);
                }
            }
        }
        if p.pairs.len() < POOL_MAX && v.capacity() > 0 {
            p.pairs.push(v);
        }
    });
}

impl Drop for LabelsBuilder<'_> {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.meta));
        recycle(std::mem::take(&mut self.parsed));
    }
}

fn position(v: &[(String, String)], name: &str) -> Option<usize> {
    v.iter().position(|(n, _)| n == name)
}

impl<'a> LabelsBuilder<'a> {
    pub fn new(base: &'a Labels) -> LabelsBuilder<'a> {
        LabelsBuilder {
            base,
            meta: pooled_pairs(),
            parsed: pooled_pairs(),
            del: Vec::new(),
            dropped_parsed: Vec::new(),
            err: String::new(),
            err_details: String::new(),
        }
    }

    /// Attaches structured metadata (before any stage): a name that is also a stream label is
    /// renamed `<name>_extracted`; `__error__` / `__error_details__` set the error pair.
    pub fn add_metadata(&mut self, md: &[(String, String)]) {
        for (n, v) in md {
            let name = if self.base_has(n) { format!("{n}{DUPLICATE_SUFFIX}") } else { pooled_string(n) };
            match name.as_str() {
                ERROR_LABEL => self.err = v.clone(),
                ERROR_DETAILS_LABEL => self.err_details = v.clone(),
                _ => self.set_meta(name, pooled_string(v)),
            }
        }
    }

    /// Whether the stream has the label (even with an empty value, even if deleted).
    pub fn base_has(&self, name: &str) -> bool {
        self.base.get(name).is_some()
    }

    pub fn has_meta(&self, name: &str) -> bool {
        position(&self.meta, name).is_some()
    }

    /// Name a parser gives key `k`: `k_extracted` when it collides with a stream label or
    /// structured metadata.
    pub fn collides(&self, name: &str) -> bool {
        self.base_has(name) || self.has_meta(name)
    }

    /// Whether a stage set `__error__`.
    pub fn has_error(&self) -> bool {
        !self.err.is_empty()
    }

    /// Whether a parser already produced `name` for this entry (first value wins).
    pub fn extracted(&self, name: &str) -> bool {
        position(&self.parsed, name).is_some() || self.dropped_parsed.iter().any(|n| n == name)
    }

    /// How many labels parsers set for this entry (Loki's count of extracted names).
    pub fn extracted_count(&self) -> usize {
        self.parsed.len() + self.dropped_parsed.len()
    }

    /// Loki's `Get`: added labels, then deletions, then non-empty stream labels.
    pub fn get(&self, name: &str) -> Option<&str> {
        if let Some(i) = position(&self.meta, name) {
            return Some(&self.meta[i].1);
        }
        if let Some(i) = position(&self.parsed, name) {
            return Some(&self.parsed[i].1);
        }
        if self.del.iter().any(|d| d == name) {
            return None;
        }
        self.base.get(name).filter(|v| !v.is_empty())
    }

    /// Sets a parsed label: it hides structured metadata and stream labels of that name.
    pub fn set_parsed(&mut self, name: &str, value: String) {
        if let Some(i) = position(&self.meta, name) {
            self.meta.remove(i);
        }
        match position(&self.parsed, name) {
            Some(i) => self.parsed[i].1 = value,
            None => self.parsed.push((pooled_string(name), value)),
        }
    }

    /// `set_parsed` for an owned name.
    pub fn set_parsed_owned(&mut self, name: String, value: String) {
        if let Some(i) = position(&self.meta, &name) {
            self.meta.remove(i);
        }
        match position(&self.parsed, &name) {
            Some(i) => self.parsed[i].1 = value,
            None => self.parsed.push((name, value)),
        }
    }

    fn set_meta(&mut self, name: String, value: String) {
        if position(&self.parsed, &name).is_some() {
            return;
        }
        match position(&self.meta, &name) {
            Some(i) => self.meta[i].1 = value,
            None => self.meta.push((name, value)),
        }
    }

    /// Deletes a label of any category.
    pub fn del(&mut self, name: &str) {
        if let Some(i) = position(&self.meta, name) {
            self.meta.remove(i);
        }
        if let Some(i) = position(&self.parsed, name) {
            let (n, _) = self.parsed.remove(i);
            self.dropped_parsed.push(n);
        }
        if !self.del.iter().any(|d| d == name) {
            self.del.push(name.to_string());
        }
    }

    pub fn has_err(&self) -> bool {
        !self.err.is_empty()
    }

    pub fn err(&self) -> &str {
        &self.err
    }

    pub fn err_details(&self) -> &str {
        &self.err_details
    }

    pub fn set_err(&mut self, err: &str) {
        err.clone_into(&mut self.err);
    }

    pub fn set_err_details(&mut self, details: String) {
        self.err_details = details;
    }

    pub fn reset_err(&mut self) {
        self.err.clear();
    }

    pub fn reset_err_details(&mut self) {
        self.err_details.clear();
    }

    /// Parser error: `__error__` = `err` and, when given, `__error_details__`.
    pub fn add_err(&mut self, err: &str, details: Option<String>) {
        self.set_err(err);
        if let Some(d) = details {
            self.err_details = d;
        }
    }

    fn unchanged(&self) -> bool {
        self.del.is_empty() && self.meta.is_empty() && self.parsed.is_empty() && self.err.is_empty()
    }

    /// Visits the current output labels (Loki's `UnsortedLabels`), error labels included.
    pub fn for_each(&self, mut f: impl FnMut(&str, &str)) {
        for (n, v) in self.base.iter() {
            if self.del.iter().any(|d| d == n) || self.has_meta(n) || position(&self.parsed, n).is_some() {
                continue;
            }
            f(n, v);
        }
        if self.unchanged() {
            return;
        }
        for (n, v) in &self.meta {
            f(n, v);
        }
        for (n, v) in &self.parsed {
            f(n, v);
        }
        if !self.err.is_empty() {
            f(ERROR_LABEL, &self.err);
        }
        if !self.err_details.is_empty() {
            f(ERROR_DETAILS_LABEL, &self.err_details);
        }
    }

    /// Value of `name` as text templates see it (the label map includes the error pair).
    pub fn template_get(&self, name: &str) -> Option<&str> {
        match name {
            ERROR_LABEL if !self.err.is_empty() => Some(&self.err),
            ERROR_DETAILS_LABEL if !self.err_details.is_empty() && !self.unchanged() => Some(&self.err_details),
            _ => self.get(name),
        }
    }

    /// A sorted copy of the current label map.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.base.len() + self.meta.len() + self.parsed.len() + 2);
        self.for_each(|n, v| out.push((n.to_string(), v.to_string())));
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// Final labels: (all, structured metadata, parsed incl. error labels), each sorted by name.
    /// Without `categorize` the last two are left empty (saves copying every label twice).
    pub fn finish(mut self, categorize: bool) -> (Labels, Pairs, Pairs) {
        if self.unchanged() {
            return (self.base.clone(), Vec::new(), Vec::new());
        }
        let mut all = Vec::with_capacity(self.base.len() + self.meta.len() + self.parsed.len() + 2);
        for (n, v) in self.base.iter() {
            if self.del.iter().any(|d| d == n) || self.has_meta(n) || position(&self.parsed, n).is_some() {
                continue;
            }
            all.push((n.to_string(), v.to_string()));
        }
        let mut meta = std::mem::take(&mut self.meta);
        let mut parsed = std::mem::take(&mut self.parsed);
        if !self.err.is_empty() {
            parsed.retain(|(n, _)| n != ERROR_LABEL);
            parsed.push((ERROR_LABEL.to_string(), std::mem::take(&mut self.err)));
        }
        if !self.err_details.is_empty() {
            parsed.retain(|(n, _)| n != ERROR_DETAILS_LABEL);
            parsed.push((ERROR_DETAILS_LABEL.to_string(), std::mem::take(&mut self.err_details)));
        }
        if !categorize {
            all.append(&mut meta);
            all.append(&mut parsed);
            all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            return (Labels(all), meta, parsed);
        }
        meta.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        parsed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all.extend(meta.iter().cloned());
        all.extend(parsed.iter().cloned());
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        (Labels(all), meta, parsed)
    }
}

/// Loki's `sanitizeLabelKey(key, true)`: trim, `_` before a leading digit, every rune outside
/// `[A-Za-z0-9_]` becomes `_`.
pub fn sanitize_key(key: &str) -> String {
    let key = key.trim();
    let mut out = String::with_capacity(key.len() + 1);
    if key.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

/// Replaces U+FFFD (invalid UTF-8 or a literal replacement rune) by a space, as Loki does for
/// extracted values.
pub fn clean_value(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) if !s.contains('\u{FFFD}') => s.to_string(),
        _ => String::from_utf8_lossy(v).replace('\u{FFFD}', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn precedence_and_categories() {
        let base = labels(&[("app", "a"), ("level", "debug")]);
        let mut b = LabelsBuilder::new(&base);
        b.add_metadata(&[("level".into(), "x".into()), ("trace".into(), "t".into())]);
        assert_eq!(b.get("level_extracted"), Some("x"));
        b.set_parsed("trace", "p".into());
        b.set_parsed("app", "parsed".into());
        assert!(b.extracted("app"));
        b.del("app");
        assert!(b.extracted("app"));
        assert_eq!(b.get("app"), None);
        b.set_err("JSONParserErr");
        let (all, meta, parsed) = b.finish(true);
        assert_eq!(all.to_string(), r#"{__error__="JSONParserErr", level="debug", level_extracted="x", trace="p"}"#);
        assert_eq!(meta, vec![("level_extracted".to_string(), "x".to_string())]);
        assert_eq!(parsed.len(), 2);
    }

    #[test]
    fn sanitize_like_loki() {
        assert_eq!(sanitize_key(" 1a-b.c "), "_1a_b_c");
        assert_eq!(sanitize_key("héllo"), "h_llo");
        assert_eq!(clean_value("a\u{FFFD}b".as_bytes()), "a b");
    }
}

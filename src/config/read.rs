//! A walker over the parsed YAML: typed reads by key path, errors that name the path,
//! and the list of keys nobody read.
//!
//! Every read marks its path as used. Afterwards [`Reader::unused`] walks the document in
//! order and names each key that is neither used nor on the way to a used key: a whole
//! section lokid ignores is named once (`schema_config`), an unknown key inside a section
//! lokid reads is named by its full path (`ingester.chunk_idle_period`).
//!
//! Scalars are read the way Loki's YAML decoder reads them, a little more leniently: a null
//! value is the same as an absent key; booleans also accept YAML 1.1 `yes`/`no`/`on`/`off`;
//! integers accept quoted digits and whole floats (`1e5`).

use std::collections::HashSet;
use std::time::Duration;

use serde_yaml_ng::Value;

use super::units;

pub(super) struct Reader<'a> {
    root: &'a Value,
    used: HashSet<Vec<String>>,
    on_path: HashSet<Vec<String>>,
    /// Errors, each `key.path: what is wrong`.
    pub errors: Vec<String>,
    /// Keys found unused while reading values the walker treats as leaves (lists).
    pub extra_unused: Vec<String>,
    /// False when the text was not run through env expansion: values containing `${` then
    /// get a hint about `-config.expand-env=true` in their error.
    expanded: bool,
}

pub(super) fn key(path: &[&str]) -> String {
    path.join(".")
}

/// Short description of a YAML value for error messages: `"abc"`, `true`, `1.5`, `a list`.
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => describe(&t.value),
    }
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        v => v,
    }
}

/// A scalar as text (numbers and booleans as written), or `None` for lists and mappings.
fn scalar_text(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn key_text(k: &Value) -> String {
    scalar_text(k).unwrap_or_else(|| describe(k))
}

impl<'a> Reader<'a> {
    pub fn new(root: &'a Value, expanded: bool) -> Self {
        Reader {
            root,
            used: HashSet::new(),
            on_path: HashSet::new(),
            errors: Vec::new(),
            extra_unused: Vec::new(),
            expanded,
        }
    }

    fn mark(&mut self, path: &[&str]) {
        let owned: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        for n in 1..owned.len() {
            self.on_path.insert(owned[..n].to_vec());
        }
        self.used.insert(owned);
    }

    /// Whether the text went through env expansion.
    pub fn expanded(&self) -> bool {
        self.expanded
    }

    pub fn error(&mut self, path: &[&str], msg: impl std::fmt::Display) {
        self.push_error(format!("{}: {msg}", key(path)));
    }

    /// Records an already formatted `key.path: message` error.
    pub fn push_error(&mut self, e: String) {
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// Records an invalid value, adding the expand-env hint where it applies.
    fn invalid(&mut self, path: &[&str], v: &Value, msg: String) {
        let text = match untag(v) {
            Value::String(s) => s.as_str(),
            _ => "",
        };
        self.invalid_text(path, text, msg);
    }

    /// Like [`Reader::error`], with a hint about `-config.expand-env=true` when the value
    /// holds an unexpanded `${...}`.
    pub fn invalid_text(&mut self, path: &[&str], text: &str, msg: String) {
        if text.contains("${") && !self.expanded {
            self.error(path, format!("{msg}; this looks like an environment variable reference: start lokid with -config.expand-env=true"));
        } else {
            self.error(path, msg);
        }
    }

    /// The value at `path` without marking it used; `None` if absent, null, or below a
    /// non-mapping.
    pub fn peek(&self, path: &[&str]) -> Option<&'a Value> {
        let mut v = untag(self.root);
        for k in path {
            v = untag(v.as_mapping()?.get(*k)?);
        }
        (!v.is_null()).then_some(v)
    }

    /// The value at `path`, marking it used. A non-mapping where a section is expected is
    /// an error; absent and null give `None`.
    pub fn get(&mut self, path: &[&str]) -> Option<&'a Value> {
        self.mark(path);
        let mut v = untag(self.root);
        for (i, k) in path.iter().enumerate() {
            match v {
                Value::Null => return None,
                Value::Mapping(m) => v = untag(m.get(*k)?),
                other => {
                    let what = describe(other);
                    if i == 0 {
                        self.error(&["config"], format!("expected a mapping at the top level, got {what}"));
                    } else {
                        self.error(&path[..i], format!("expected a mapping, got {what}"));
                    }
                    return None;
                }
            }
        }
        (!v.is_null()).then_some(v)
    }

    pub fn string(&mut self, path: &[&str]) -> Option<String> {
        let v = self.get(path)?;
        match scalar_text(v) {
            Some(s) => Some(s),
            None => {
                self.error(path, format!("expected a string, got {}", describe(v)));
                None
            }
        }
    }

    pub fn bool(&mut self, path: &[&str]) -> Option<bool> {
        let v = self.get(path)?;
        match untag(v) {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.as_str() {
                "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
                "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
                _ => {
                    self.invalid(path, v, format!("expected true or false, got {}", describe(v)));
                    None
                }
            },
            _ => {
                self.invalid(path, v, format!("expected true or false, got {}", describe(v)));
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub fn int(&mut self, path: &[&str], min: i64, max: i64) -> Option<i64> {
        let v = self.get(path)?;
        let n = match untag(v) {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64))
            }
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            self.invalid(path, v, format!("expected an integer, got {}", describe(v)));
            return None;
        };
        if n < min || n > max {
            let msg = if n < 0 && min == 0 {
                format!("must not be negative, got {n}")
            } else {
                format!("{n} is out of range ({min}-{max})")
            };
            self.error(path, msg);
            return None;
        }
        Some(n)
    }

    /// A non-negative number (`ingestion_rate_mb: 4.5`).
    pub fn f64(&mut self, path: &[&str]) -> Option<f64> {
        let v = self.get(path)?;
        match scalar_text(v).and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(f) if f >= 0.0 && f.is_finite() => Some(f),
            _ => {
                self.invalid(path, v, format!("expected a non-negative number, got {}", describe(v)));
                None
            }
        }
    }

    pub fn usize(&mut self, path: &[&str]) -> Option<usize> {
        self.int(path, 0, i64::MAX).map(|n| n as usize)
    }

    pub fn duration(&mut self, path: &[&str]) -> Option<Duration> {
        let v = self.get(path)?;
        let parsed = scalar_text(v).map(|s| (units::parse_duration(&s), s));
        match parsed {
            Some((Ok(d), _)) => Some(d),
            Some((Err(why), s)) => {
                self.invalid(path, v, format!("invalid duration {s:?}: {why}"));
                None
            }
            None => {
                self.invalid(path, v, format!("expected a duration such as 10m or 7d, got {}", describe(v)));
                None
            }
        }
    }

    /// A duration that may be negative; `Some((negative, magnitude))`.
    pub fn signed_duration(&mut self, path: &[&str]) -> Option<(bool, Duration)> {
        let v = self.get(path)?;
        let Some(s) = scalar_text(v) else {
            self.invalid(path, v, format!("expected a duration such as 10m or 7d, got {}", describe(v)));
            return None;
        };
        match units::parse_signed_duration(&s) {
            Ok(d) => Some(d),
            Err(why) => {
                self.invalid(path, v, format!("invalid duration {s:?}: {why}"));
                None
            }
        }
    }

    pub fn bytes(&mut self, path: &[&str]) -> Option<u64> {
        let v = self.get(path)?;
        let Some(s) = scalar_text(v) else {
            self.invalid(path, v, format!("expected a size such as 256KB, got {}", describe(v)));
            return None;
        };
        match units::parse_bytes(&s) {
            Ok(n) => Some(n),
            Err(why) => {
                self.invalid(path, v, format!("invalid size {s:?}: {why}"));
                None
            }
        }
    }

    /// A list of strings; a single comma-separated string is accepted too.
    pub fn string_list(&mut self, path: &[&str]) -> Option<Vec<String>> {
        let v = self.get(path)?;
        match untag(v) {
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match scalar_text(item) {
                        Some(s) => out.push(s),
                        None => {
                            let p = format!("{}[{i}]", key(path));
                            self.error(&[&p], format!("expected a string, got {}", describe(item)));
                        }
                    }
                }
                Some(out)
            }
            other => match scalar_text(other) {
                Some(s) => Some(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
                None => {
                    self.error(path, format!("expected a list of strings, got {}", describe(v)));
                    None
                }
            },
        }
    }

    /// Keys present in the document that were never read, in document order.
    pub fn unused(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Value::Mapping(m) = untag(self.root) {
            let mut path = Vec::new();
            self.walk(m, &mut path, &mut out);
        }
        out.extend(self.extra_unused.iter().cloned());
        out
    }

    fn walk(&self, m: &serde_yaml_ng::Mapping, path: &mut Vec<String>, out: &mut Vec<String>) {
        for (k, v) in m {
            path.push(key_text(k));
            if self.used.contains(path) {
                // read as a leaf
            } else if self.on_path.contains(path) {
                if let Value::Mapping(inner) = untag(v) {
                    self.walk(inner, path, out);
                }
            } else {
                out.push(path.join("."));
            }
            path.pop();
        }
    }
}

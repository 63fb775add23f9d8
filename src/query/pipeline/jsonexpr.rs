//! `| json l="path", …` (`JSONExpressionParser` in `pkg/logql/log/parser.go`): the extraction
//! expression language of `pkg/logql/log/jsonexpr/` and the per-line lookups.

use super::json::{self, JType, PathStep};
use super::labels::{clean_value, LabelsBuilder, DUPLICATE_SUFFIX, ERR_JSON};
use crate::logql::LabelExtraction;
use crate::query::QueryError;

/// Parses a `| json` extraction expression (`a.b["c"][0]`, Loki's `jsonexpr`).
pub fn parse_json_path(expr: &str) -> Result<Vec<PathStep>, String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Dot,
        Lsb,
        Rsb,
        Str(String),
        Field(String),
        Index(usize),
    }
    let name = |t: &Tok| match t {
        Tok::Dot => "DOT",
        Tok::Lsb => "LSB",
        Tok::Rsb => "RSB",
        Tok::Str(_) => "STRING",
        Tok::Field(_) => "FIELD",
        Tok::Index(_) => "INDEX",
    };
    let chars: Vec<char> = expr.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '\t' | '\n') {
            i += 1;
        } else if c.is_ascii_digit() {
            let mut n = String::new();
            while i < chars.len() && !matches!(chars[i], ' ' | '\t' | '\n' | '.' | ']') {
                if !chars[i].is_ascii_digit() {
                    return Err(format!("non-integer value: {}", chars[i]));
                }
                n.push(chars[i]);
                i += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                return Err("cannot use float as array index".into());
            }
            toks.push(Tok::Index(n.parse().map_err(|_| format!("strconv.Atoi: parsing \"{n}\": value out of range"))?));
        } else if c == '[' {
            toks.push(Tok::Lsb);
            i += 1;
        } else if c == ']' {
            toks.push(Tok::Rsb);
            i += 1;
        } else if c == '.' {
            toks.push(Tok::Dot);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Field(chars[start..i].iter().collect()));
        } else if c == '"' {
            i += 1;
            let start = i;
            while i < chars.len() && chars[i] != '"' && chars[i] != ']' {
                i += 1;
            }
            toks.push(Tok::Str(chars[start..i].iter().collect()));
            if i < chars.len() && chars[i] == '"' {
                i += 1;
            }
        } else {
            return Err(format!("unexpected char {c}"));
        }
    }
    let mut steps = Vec::new();
    let mut t = toks.into_iter().peekable();
    let unexpected = |t: Option<Tok>| format!("syntax error: unexpected {}", t.as_ref().map_or("$end", name));
    let mut first = true;
    while let Some(tok) = t.next() {
        match tok {
            Tok::Field(f) if first => steps.push(PathStep::Key(f)),
            Tok::Dot if !first => match t.next() {
                Some(Tok::Field(f)) => steps.push(PathStep::Key(f)),
                other => return Err(unexpected(other)),
            },
            Tok::Lsb => {
                match t.next() {
                    Some(Tok::Str(s)) => steps.push(PathStep::Key(s)),
                    Some(Tok::Index(n)) => steps.push(PathStep::Index(n)),
                    other => return Err(unexpected(other)),
                }
                match t.next() {
                    Some(Tok::Rsb) => {}
                    other => return Err(unexpected(other)),
                }
            }
            other => return Err(unexpected(Some(other))),
        }
        first = false;
    }
    if steps.is_empty() {
        return Err(unexpected(None));
    }
    Ok(steps)
}

/// `| json a="x.y", b`.
#[derive(Debug)]
pub struct JsonExprParser {
    ids: Vec<String>,
    paths: Vec<Vec<PathStep>>,
}

impl JsonExprParser {
    pub fn new(exprs: &[LabelExtraction]) -> Result<JsonExprParser, QueryError> {
        let mut ids = Vec::new();
        let mut paths = Vec::new();
        for e in exprs {
            let p =
                parse_json_path(&e.expr).map_err(|reason| QueryError::Expression { expr: e.expr.clone(), reason })?;
            if e.name.is_empty() {
                return Err(QueryError::ExtractedLabelName(e.name.clone()));
            }
            ids.push(e.name.clone());
            paths.push(p);
        }
        Ok(JsonExprParser { ids, paths })
    }

    pub fn process(&self, line: &[u8], lbs: &mut LabelsBuilder) -> bool {
        if line.is_empty() {
            return true;
        }
        if !matches!(line[0], b'"' | b'{' | b'[') {
            lbs.add_err(ERR_JSON, None);
            return true;
        }
        let mut matches = 0;
        for (id, path) in self.ids.iter().zip(&self.paths) {
            match json::lookup(line, path) {
                Ok(Some((v, ty))) => {
                    let value = match ty {
                        JType::Null => String::new(),
                        JType::Object => clean_value(v),
                        _ => json::unescape_string(v),
                    };
                    if lbs.collides(id) {
                        lbs.set_parsed_owned(format!("{id}{DUPLICATE_SUFFIX}"), value);
                    } else {
                        lbs.set_parsed(id, value);
                    }
                    matches += 1;
                }
                Ok(None) => {}
                Err(e) => lbs.add_err(ERR_JSON, Some(e.to_string())),
            }
        }
        if matches < self.ids.len() {
            for id in &self.ids {
                if lbs.get(id).is_none() {
                    lbs.set_parsed(id, String::new());
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let k = |s: &str| PathStep::Key(s.into());
        assert_eq!(parse_json_path("a.b[0]").unwrap(), vec![k("a"), k("b"), PathStep::Index(0)]);
        assert_eq!(
            parse_json_path(r#"request.headers["User-Agent"]"#).unwrap(),
            vec![k("request"), k("headers"), k("User-Agent")]
        );
        assert_eq!(parse_json_path(r#"["a b"]"#).unwrap(), vec![k("a b")]);
        assert!(parse_json_path("a-b").is_err());
        assert!(parse_json_path("a..b").is_err());
        assert!(parse_json_path("").is_err());
    }
}

//! `-config.expand-env=true`: environment variable references in the config file text.
//!
//! Loki expands the whole file, comments included, before parsing the YAML, with
//! drone/envsubst (bash-like parameter expansion). This module follows that library:
//!
//! - `${VAR}`: the value, or empty when unset. A bare `$VAR` is left alone.
//! - `${VAR:-default}`, `${VAR:=default}`, `${VAR=default}`, `${VAR:?x}`, `${VAR:+x}`: the
//!   value, or the text after the operator when the variable is unset or empty (drone treats
//!   all of these as "default"). The default may contain further `${...}` references.
//! - `${VAR:N}` and `${VAR:N:LEN}`: a substring. Beware `${VAR:default}` (no dash): it is a
//!   substring whose offset is not a number, which yields the value unchanged, so **empty
//!   when unset**. lokid does the same as Loki and adds a warning suggesting `${VAR:-...}`.
//! - `${#VAR}` (length), `${VAR^}`/`${VAR^^}`/`${VAR,}`/`${VAR,,}` (case),
//!   `${VAR/a/b}`/`${VAR//a/b}`/`${VAR/#a/b}`/`${VAR/%a/b}` (literal replace),
//!   `${VAR#p}`/`${VAR##p}`/`${VAR%p}`/`${VAR%%p}` (trim a `*`/`?` glob).
//! - `$$` is a literal `$`; outside `${...}`, `\\` becomes `\` and `\/` becomes `/` (a
//!   drone/envsubst quirk that Loki has too).
//! - A malformed `${...}` is an error ("bad substitution"), as in Loki.

/// Expands `text` with the process environment. Returns the text and warnings.
pub fn expand_env(text: &str) -> Result<(String, Vec<String>), String> {
    expand_env_with(text, |k| std::env::var(k).ok())
}

/// Expands `text`, looking variables up with `lookup` (tests pass a map).
pub fn expand_env_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<(String, Vec<String>), String> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser { s: &chars, i: 0, lookup: &lookup, substrings: Vec::new() };
    let out = p.top()?;
    let mut warnings = Vec::new();
    if !p.substrings.is_empty() {
        warnings.push(format!(
            "${{VAR:text}} (no dash) is a substring of VAR, not a default, so it expands to VAR's \
             value, empty when VAR is unset (Loki does the same); write ${{VAR:-text}} for a \
             default: {}",
            p.substrings.join(", ")
        ));
    }
    Ok((out, warnings))
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// `line N: ${VAR:text}` for each substring reference whose offset is not a number.
    substrings: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }
    fn opens_ref(&self) -> bool {
        self.peek() == Some('$') && self.at(self.i + 1) == Some('{')
    }
    fn line(&self, pos: usize) -> usize {
        1 + self.s[..pos.min(self.s.len())].iter().filter(|&&c| c == '\n').count()
    }
    fn bad(&self, start: usize) -> String {
        format!("bad substitution at line {}", self.line(start))
    }
    fn var(&self, name: &str) -> String {
        (self.lookup)(name).unwrap_or_default()
    }

    fn top(&mut self) -> Result<String, String> {
        let mut out = String::with_capacity(self.s.len());
        while let Some(c) = self.peek() {
            let next = self.at(self.i + 1);
            match (c, next) {
                ('$', Some('{')) => {
                    let start = self.i;
                    self.i += 2;
                    out.push_str(&self.reference(start)?);
                }
                ('$', Some('$')) | ('\\', Some('\\' | '/')) => {
                    out.push(next.unwrap());
                    self.i += 2;
                }
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(out)
    }

    /// After `${`: parses up to and including the closing `}` and returns the expansion.
    fn reference(&mut self, start: usize) -> Result<String, String> {
        if self.peek() == Some('#') {
            self.i += 1;
            let name = self.ident(start)?;
            self.expect_close(start)?;
            return Ok(self.var(&name).len().to_string());
        }
        let name = self.ident(start)?;
        let value = self.var(&name);
        match self.peek() {
            Some('}') => {
                self.i += 1;
                Ok(value)
            }
            Some(':') if matches!(self.at(self.i + 1), Some('=' | '-' | '?' | '+')) => {
                self.i += 2;
                self.default(value, start)
            }
            Some('=') => {
                self.i += 1;
                self.default(value, start)
            }
            Some(':') => {
                self.i += 1;
                let offset = self.param(start, |c| c != ':' && c != '}')?;
                let len = match self.peek() {
                    Some('}') => None,
                    Some(':') => {
                        self.i += 1;
                        Some(self.param(start, |c| c != '}')?)
                    }
                    _ => return Err(self.bad(start)),
                };
                self.expect_close(start)?;
                if offset.parse::<i64>().is_err() {
                    self.substrings.push(format!("line {}: ${{{name}:{offset}}}", self.line(start)));
                }
                Ok(substring(&value, &offset, len.as_deref()))
            }
            Some(',' | '^') => {
                let op = self.run(2, |c| c == ',' || c == '^');
                self.expect_close(start)?;
                Ok(match op.as_str() {
                    "^" => first_mapped(&value, |c| c.to_uppercase().collect()),
                    "^^" => value.to_uppercase(),
                    "," => first_mapped(&value, |c| c.to_lowercase().collect()),
                    ",," => value.to_lowercase(),
                    _ => value,
                })
            }
            Some('/') => {
                self.i += 1;
                let mode = match self.peek() {
                    Some(c @ ('/' | '#' | '%')) => {
                        self.i += 1;
                        c
                    }
                    _ => '1',
                };
                let pattern = self.escaped_param(start, '/')?;
                if self.peek() != Some('/') {
                    return Err(self.bad(start));
                }
                self.i += 1;
                let with = if self.peek() == Some('}') { String::new() } else { self.escaped_param(start, '}')? };
                self.expect_close(start)?;
                Ok(match mode {
                    '/' => value.replace(&pattern, &with),
                    '#' if value.starts_with(&pattern) => {
                        format!("{with}{}", &value[pattern.len()..])
                    }
                    '%' if value.ends_with(&pattern) => {
                        format!("{}{with}", &value[..value.len() - pattern.len()])
                    }
                    '1' => value.replacen(&pattern, &with, 1),
                    _ => value,
                })
            }
            Some(op @ ('#' | '%')) => {
                let ops = self.run(2, |c| c == op);
                let pattern = self.param(start, |c| c != '}')?;
                self.expect_close(start)?;
                Ok(trim_glob(&value, &pattern, op == '#', ops.len() == 2))
            }
            _ => Err(self.bad(start)),
        }
    }

    fn default(&mut self, value: String, start: usize) -> Result<String, String> {
        let mut default = String::new();
        loop {
            match self.peek() {
                Some('}') => {
                    self.i += 1;
                    break;
                }
                None => return Err(self.bad(start)),
                _ => default.push_str(&self.param(start, |c| c != '}')?),
            }
        }
        Ok(if value.is_empty() { default } else { value })
    }

    /// A variable name: letters, digits, `_` and `-` (drone/envsubst's set).
    fn ident(&mut self, start: usize) -> Result<String, String> {
        let name = self.run(usize::MAX, |c| c.is_alphanumeric() || c == '_' || c == '-');
        if name.is_empty() {
            return Err(self.bad(start));
        }
        Ok(name)
    }

    /// One parameter: a nested `${...}`, or a non-empty run of accepted characters that
    /// stops before a nested `${`.
    fn param(&mut self, start: usize, accept: impl Fn(char) -> bool) -> Result<String, String> {
        if self.opens_ref() {
            let nested = self.i;
            self.i += 2;
            return self.reference(nested);
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if !accept(c) || self.opens_ref() {
                break;
            }
            text.push(c);
            self.i += 1;
        }
        if text.is_empty() {
            return Err(self.bad(start));
        }
        Ok(text)
    }

    /// A replace pattern or replacement: stops at `stop`, with `\/` and `\\` escapes.
    fn escaped_param(&mut self, start: usize, stop: char) -> Result<String, String> {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' && matches!(self.at(self.i + 1), Some('/' | '\\')) {
                text.push(self.at(self.i + 1).unwrap());
                self.i += 2;
                continue;
            }
            if c == stop || c == '}' {
                break;
            }
            text.push(c);
            self.i += 1;
        }
        if text.is_empty() {
            return Err(self.bad(start));
        }
        Ok(text)
    }

    fn run(&mut self, max: usize, accept: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if out.chars().count() >= max || !accept(c) {
                break;
            }
            out.push(c);
            self.i += 1;
        }
        out
    }

    fn expect_close(&mut self, start: usize) -> Result<(), String> {
        if self.peek() != Some('}') {
            return Err(self.bad(start));
        }
        self.i += 1;
        Ok(())
    }
}

fn first_mapped(s: &str, f: impl Fn(char) -> String) -> String {
    let mut it = s.chars();
    match it.next() {
        Some(c) => f(c) + it.as_str(),
        None => String::new(),
    }
}

/// bash `${VAR:offset[:len]}` as drone/envsubst implements it: a non-numeric offset or
/// length yields the value unchanged; a negative offset counts from the end.
fn substring(value: &str, offset: &str, len: Option<&str>) -> String {
    let chars: Vec<char> = value.chars().collect();
    let Ok(mut pos) = offset.parse::<i64>() else {
        return value.to_string();
    };
    if pos < 0 {
        pos = (chars.len() as i64 + pos).max(0);
    }
    let pos = pos as usize;
    let end = match len {
        None => chars.len(),
        Some(l) => match l.parse::<i64>() {
            Ok(l) => pos.saturating_add(l.max(0) as usize).min(chars.len()),
            Err(_) => return value.to_string(),
        },
    };
    if pos >= chars.len() {
        return String::new();
    }
    chars[pos..end.max(pos)].iter().collect()
}

/// `${VAR#p}` / `##` / `%` / `%%` with a glob of `*` and `?`. Like drone/envsubst, only
/// non-empty prefixes/suffixes are tried.
fn trim_glob(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let pat: Vec<char> = pattern.chars().collect();
    let n = chars.len();
    let mut cuts: Vec<usize> = (1..=n).collect();
    if longest {
        cuts.reverse();
    }
    for k in cuts {
        let part = if prefix { &chars[..k] } else { &chars[n - k..] };
        if glob(&pat, part) {
            let kept = if prefix { &chars[k..] } else { &chars[..n - k] };
            return kept.iter().collect();
        }
    }
    value.to_string()
}

fn glob(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|k| glob(&p[1..], &s[k..])),
        Some('?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> String {
        expand_env_with(text, |k| match k {
            "HOST" => Some("minio:9000".into()),
            "EMPTY" => Some(String::new()),
            "NAME" => Some("loki".into()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .0
    }

    #[test]
    fn plain_and_defaults() {
        assert_eq!(env("s3: ${HOST}"), "s3: minio:9000");
        assert_eq!(env("s3: ${MISSING}"), "s3: ");
        assert_eq!(env("${MISSING:-http://minio:9000}"), "http://minio:9000");
        assert_eq!(env("${HOST:-other}"), "minio:9000");
        assert_eq!(env("${EMPTY:-x}"), "x");
        assert_eq!(env("${EMPTY=x}"), "x");
        assert_eq!(env("${MISSING:=x}"), "x");
        assert_eq!(env("${MISSING:?x}"), "x");
        assert_eq!(env("${CONSUL_ACL_TOKEN:-}"), "");
        assert_eq!(env("${MISSING:-${NAME}-a}"), "loki-a");
        assert_eq!(env("${MISSING:-a:b/c d}"), "a:b/c d");
        assert_eq!(env("a $NAME b"), "a $NAME b");
        assert_eq!(env("cost $5"), "cost $5");
        assert_eq!(env("$${NAME}"), "${NAME}");
        assert_eq!(env("a\\\\d \\/ \\n"), "a\\d / \\n");
        // `${VAR-default}`: the name takes the dash, so this is the unset variable "VAR-default".
        assert_eq!(env("${NAME-x}"), "");
    }

    #[test]
    fn colon_without_dash_is_a_substring_and_warns() {
        let (out, warnings) = expand_env_with("period: ${RETENTION_PERIOD:744h}\n", |_| None).unwrap();
        assert_eq!(out, "period: \n");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].ends_with("default: line 1: ${RETENTION_PERIOD:744h}"), "{}", warnings[0]);
        let (out, _) = expand_env_with("${WAL:/loki/wal}", |_| Some("/data/wal".into())).unwrap();
        assert_eq!(out, "/data/wal");
        assert_eq!(env("${NAME:1}"), "oki");
        assert_eq!(env("${NAME:1:2}"), "ok");
        assert_eq!(env("${NAME:-2}"), "loki", "`:-` is a default, not a negative offset");
        assert_eq!(env("${NAME: -2}"), "loki", "drone/envsubst does not trim the offset");
        assert_eq!(env("${NAME:9}"), "");
    }

    #[test]
    fn string_functions() {
        assert_eq!(env("${#NAME}"), "4");
        assert_eq!(env("${NAME^}"), "Loki");
        assert_eq!(env("${NAME^^}"), "LOKI");
        assert_eq!(env("${HOST/9000/3100}"), "minio:3100");
        assert_eq!(env("${NAME//o/0}"), "l0ki");
        assert_eq!(env("${HOST#*:}"), "9000");
        assert_eq!(env("${HOST%:*}"), "minio");
        assert_eq!(env("${HOST##m*}"), "");
    }

    #[test]
    fn bad_substitutions() {
        for bad in ["${}", "${NAME", "${NAME.x}", "line\n${ NAME}", "${NAME:}", "${-"] {
            let err = expand_env_with(bad, |_| None).unwrap_err();
            assert!(err.starts_with("bad substitution at line"), "{bad}: {err}");
        }
        assert_eq!(expand_env_with("a\nb\n${!}", |_| None).unwrap_err(), "bad substitution at line 3");
    }
}

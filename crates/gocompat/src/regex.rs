//! Go RE2 (`regexp/syntax`, Perl flags) syntax checking and translation to Rust `regex` syntax.
//!
//! Loki validates regexes with Go's parser, so validity and error texts follow Go
//! (`error parsing regexp: missing closing ): `(``). The translated pattern keeps Go semantics
//! where Rust differs: `\d \s \w \b` are ASCII, `{` that is not a repetition is a literal, `\Q…\E`
//! quoting, octal escapes, escaped punctuation, duplicate group names (groups are emitted
//! unnamed; names are returned by index).

/// A Go regex translated to Rust syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRegex {
    /// Equivalent pattern for the Rust `regex` crate (capture groups unnamed, same numbering).
    pub rust: String,
    /// Name of each capture group, by group number minus one.
    pub names: Vec<Option<String>>,
}

const POSIX: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word",
    "xdigit",
];

#[rustfmt::skip]
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd",
    "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z",
    "Zl", "Zp", "Zs",
];

fn err(code: &str, frag: &str) -> String {
    format!("error parsing regexp: {code}: `{frag}`")
}

fn unicode_name_ok(name: &str) -> bool {
    if name == "Any" || CATEGORIES.contains(&name) {
        return true;
    }
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && regex_syntax::Parser::new().parse(&format!(r"\p{{sc={name}}}")).is_ok()
}

fn lit(c: char) -> String {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace()) {
        c.to_string()
    } else {
        format!("\\x{{{:X}}}", c as u32)
    }
}

struct P<'a> {
    s: &'a str,
    i: usize,
    out: String,
    names: Vec<Option<String>>,
    open: usize,
    has_operand: bool,
    operand_stack: Vec<bool>,
    last_repeat: Option<usize>,
    /// Output position before trailing flag-only groups (`a(?i)*` repeats `a` in Go).
    flags_at: Option<usize>,
}

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    /// Go `parseEscape` at `self.i` (which points at `\`): returns the escaped char.
    fn escape(&mut self) -> Result<char, String> {
        let start = self.i;
        self.i += 1;
        let Some(c) = self.next_char() else {
            return Err(err("trailing backslash at end of expression", ""));
        };
        let bad = |p: &Self| Err(err("invalid escape sequence", &p.s[start..p.i]));
        match c {
            '1'..='7' if !matches!(self.peek(), Some('0'..='7')) => bad(self),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                Ok(char::from_u32(r).unwrap_or('\0'))
            }
            'x' => {
                let Some(c1) = self.next_char() else {
                    return bad(self);
                };
                if c1 == '{' {
                    let mut r: u32 = 0;
                    let mut n = 0;
                    loop {
                        let Some(h) = self.next_char() else {
                            return bad(self);
                        };
                        if h == '}' {
                            break;
                        }
                        let Some(v) = h.to_digit(16) else {
                            return bad(self);
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return bad(self);
                        }
                        n += 1;
                    }
                    if n == 0 {
                        return bad(self);
                    }
                    return char::from_u32(r).map_or_else(|| bad(self), Ok);
                }
                let c2 = self.next_char();
                match (c1.to_digit(16), c2.and_then(|c| c.to_digit(16))) {
                    (Some(x), Some(y)) => Ok(char::from_u32(x * 16 + y).unwrap_or('\0')),
                    _ => bad(self),
                }
            }
            'a' => Ok('\x07'),
            'f' => Ok('\x0c'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\x0b'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            _ => bad(self),
        }
    }

    /// `\d \D \s \S \w \W` (Go's ASCII-only Perl classes) as Rust class text.
    fn perl_class(&mut self) -> Option<&'static str> {
        let r = self.rest();
        let class = match r.get(..2)? {
            "\\d" => "[0-9]",
            "\\D" => "[^0-9]",
            "\\s" => "[\\t\\n\\x0C\\r ]",
            "\\S" => "[^\\t\\n\\x0C\\r ]",
            "\\w" => "[0-9A-Za-z_]",
            "\\W" => "[^0-9A-Za-z_]",
            _ => return None,
        };
        self.i += 2;
        Some(class)
    }

    /// `\pN`, `\p{Name}`, `\P…`, `\p{^Name}`.
    fn unicode_class(&mut self) -> Result<Option<String>, String> {
        let r = self.rest();
        if !(r.starts_with("\\p") || r.starts_with("\\P")) {
            return Ok(None);
        }
        let mut neg = r.as_bytes()[1] == b'P';
        let after = &r[2..];
        let (seq_len, mut name) = match after.chars().next() {
            Some('{') => match r.find('}') {
                Some(end) => (end + 1, &r[3..end]),
                None => return Err(err("invalid character class range", r)),
            },
            Some(c) => (2 + c.len_utf8(), &after[..c.len_utf8()]),
            None => (2, ""),
        };
        let seq = &r[..seq_len];
        if let Some(n) = name.strip_prefix('^') {
            neg = !neg;
            name = n;
        }
        if !unicode_name_ok(name) {
            return Err(err("invalid character class range", seq));
        }
        self.i += seq_len;
        Ok(Some(format!("\\{}{{{name}}}", if neg { 'P' } else { 'p' })))
    }

    fn class(&mut self) -> Result<(), String> {
        let whole = self.rest();
        self.i += 1;
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.i += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            match self.peek() {
                None => return Err(err("missing closing ]", whole)),
                Some(']') if !first => break,
                _ => {}
            }
            first = false;
            let r = self.rest();
            if let Some(after) = r.strip_prefix("[:") {
                if let Some(end) = after.find(":]") {
                    let full = &r[..end + 4];
                    let name = &after[..end];
                    if !POSIX.contains(&name.strip_prefix('^').unwrap_or(name)) {
                        return Err(err("invalid character class range", full));
                    }
                    out.push_str(full);
                    self.i += full.len();
                    continue;
                }
            }
            if let Some(u) = self.unicode_class()? {
                out.push_str(&u);
                continue;
            }
            if let Some(p) = self.perl_class() {
                out.push_str(p);
                continue;
            }
            let rng = self.i;
            let lo = self.class_char(whole)?;
            let mut hi = lo;
            let r = self.rest();
            if r.len() >= 2 && r.starts_with('-') && !r[1..].starts_with(']') {
                self.i += 1;
                hi = self.class_char(whole)?;
                if hi < lo {
                    return Err(err("invalid character class range", &self.s[rng..self.i]));
                }
            }
            out.push_str(&lit(lo));
            if hi != lo {
                out.push('-');
                out.push_str(&lit(hi));
            }
        }
        self.i += 1;
        out.push(']');
        self.out.push_str(&out);
        Ok(())
    }

    fn class_char(&mut self, whole: &str) -> Result<char, String> {
        match self.peek() {
            None => Err(err("missing closing ]", whole)),
            Some('\\') => self.escape(),
            Some(_) => Ok(self.next_char().unwrap_or('\0')),
        }
    }

    /// Go `parseRepeat`: `{n}`, `{n,}`, `{n,m}` → (min, max (-1 = none), byte length).
    fn counted(&self) -> Option<(i64, i64, usize)> {
        let r = self.rest().as_bytes();
        let int = |j: usize| -> Option<(i64, usize)> {
            let n = r[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || (n >= 2 && r[j] == b'0') {
                return None;
            }
            let mut v: i64 = 0;
            for &c in &r[j..j + n] {
                if v >= 100_000_000 {
                    v = -1;
                    break;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some((v, j + n))
        };
        let (mut min, mut j) = int(1)?;
        let max;
        if r.get(j) == Some(&b',') {
            j += 1;
            if r.get(j) == Some(&b'}') {
                max = -1;
            } else {
                let (m, nj) = int(j)?;
                j = nj;
                max = m;
                if m < 0 {
                    min = -1;
                }
            }
        } else {
            max = min;
        }
        (r.get(j) == Some(&b'}')).then_some((min, max, j + 1))
    }

    fn repeat(&mut self, op_start: usize, op_len: usize) -> Result<(), String> {
        let mut end = op_start + op_len;
        let lazy = self.s[end..].starts_with('?');
        if lazy {
            end += 1;
        }
        if let Some(prev) = self.last_repeat {
            return Err(err("invalid nested repetition operator", &self.s[prev..end]));
        }
        if !self.has_operand {
            return Err(err("missing argument to repetition operator", &self.s[op_start..end]));
        }
        let op = &self.s[op_start..end];
        match self.flags_at {
            Some(at) => {
                self.out.insert_str(at, op);
                self.flags_at = Some(at + op.len());
            }
            None => self.out.push_str(op),
        }
        self.i = end;
        self.last_repeat = Some(op_start);
        Ok(())
    }

    /// A group opening; `Ok(true)` for a flags-only group such as `(?i)`.
    fn group(&mut self) -> Result<bool, String> {
        let t = self.rest();
        if !t.starts_with("(?") {
            self.i += 1;
            self.names.push(None);
            return self.open_group("(");
        }
        let tb = t.as_bytes();
        let with_p = tb.len() > 4 && tb[2] == b'P' && tb[3] == b'<';
        if with_p || (tb.len() > 3 && tb[2] == b'<') {
            let Some(end) = t.find('>') else {
                return Err(err("invalid named capture", t));
            };
            let name = &t[if with_p { 4 } else { 3 }..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err(err("invalid named capture", &t[..=end]));
            }
            self.i += end + 1;
            self.names.push(Some(name.to_string()));
            return self.open_group("(");
        }
        let mut j = 2;
        let (mut neg, mut saw_flag) = (false, false);
        loop {
            let Some(c) = t[j..].chars().next() else {
                return Err(err("invalid or unsupported Perl syntax", t));
            };
            j += c.len_utf8();
            match c {
                'i' | 'm' | 's' | 'U' => saw_flag = true,
                '-' if !neg => {
                    neg = true;
                    saw_flag = false;
                }
                ':' | ')' if !neg || saw_flag => {
                    self.i += j;
                    if c == ':' {
                        return self.open_group(&t[..j]);
                    }
                    self.flags_at.get_or_insert(self.out.len());
                    if j > 3 {
                        self.out.push_str(&t[..j]); // `(?)` sets nothing (and Rust rejects it)
                    }
                    return Ok(true);
                }
                _ => return Err(err("invalid or unsupported Perl syntax", &t[..j])),
            }
        }
    }

    fn open_group(&mut self, text: &str) -> Result<bool, String> {
        self.out.push_str(text);
        self.open += 1;
        self.operand_stack.push(self.has_operand);
        self.has_operand = false;
        Ok(false)
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek() {
            let start = self.i;
            let mut repeat = false;
            let mut flags_only = false;
            match c {
                '(' => flags_only = self.group()?,
                '|' => {
                    self.i += 1;
                    self.out.push('|');
                    self.has_operand = false;
                }
                ')' => {
                    if self.open == 0 {
                        return Err(err("unexpected )", self.s));
                    }
                    self.i += 1;
                    self.open -= 1;
                    self.operand_stack.pop();
                    self.out.push(')');
                    self.has_operand = true;
                }
                '^' | '$' | '.' => {
                    self.i += 1;
                    self.out.push_str(match c {
                        '^' => "(?:^)",
                        '$' => "(?:$)",
                        _ => ".",
                    });
                    self.has_operand = true;
                }
                '[' => {
                    self.class()?;
                    self.has_operand = true;
                }
                '*' | '+' | '?' => {
                    self.repeat(start, 1)?;
                    repeat = true;
                }
                '{' => match self.counted() {
                    Some((min, max, len)) => {
                        if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                            return Err(err("invalid repeat count", &self.s[start..start + len]));
                        }
                        self.repeat(start, len)?;
                        repeat = true;
                    }
                    None => {
                        self.i += 1;
                        self.out.push_str(&lit('{'));
                        self.has_operand = true;
                    }
                },
                '\\' => self.backslash()?,
                _ => {
                    self.i += c.len_utf8();
                    self.out.push_str(&lit(c));
                    self.has_operand = true;
                }
            }
            if !repeat {
                self.last_repeat = None;
            }
            if !flags_only && !repeat {
                self.flags_at = None;
            }
        }
        if self.open > 0 {
            return Err(err("missing closing )", self.s));
        }
        Ok(())
    }

    fn backslash(&mut self) -> Result<(), String> {
        let r = self.rest();
        let two = r.get(..2).unwrap_or("");
        let assertion = match two {
            "\\A" => Some("(?:\\A)"),
            "\\b" => Some("(?:(?-u:\\b))"),
            "\\B" => Some("(?:(?-u:\\B))"),
            "\\z" => Some("(?:\\z)"),
            _ => None,
        };
        if let Some(a) = assertion {
            self.i += 2;
            self.out.push_str(a);
            self.has_operand = true;
            return Ok(());
        }
        if two == "\\C" {
            return Err(err("invalid escape sequence", two));
        }
        if two == "\\Q" {
            let body = &r[2..];
            let (text, consumed) = match body.find("\\E") {
                Some(e) => (&body[..e], 2 + e + 2),
                None => (body, r.len()),
            };
            for ch in text.chars() {
                self.out.push_str(&lit(ch));
                self.has_operand = true;
            }
            self.i += consumed;
            return Ok(());
        }
        if let Some(u) = self.unicode_class()? {
            self.out.push_str(&u);
        } else if let Some(p) = self.perl_class() {
            self.out.push_str(p);
        } else {
            let c = self.escape()?;
            self.out.push_str(&lit(c));
        }
        self.has_operand = true;
        Ok(())
    }
}

/// Check a Go regex (Perl flags) and translate it. `Err` carries Go's error text.
pub fn translate(re: &str) -> Result<GoRegex, String> {
    let mut p = P {
        s: re,
        i: 0,
        out: String::with_capacity(re.len() + 8),
        names: Vec::new(),
        open: 0,
        has_operand: false,
        operand_stack: Vec::new(),
        last_repeat: None,
        flags_at: None,
    };
    p.run()?;
    regex_syntax::ParserBuilder::new().nest_limit(2000).build().parse(&p.out).map_err(|e| {
        let detail = match &e {
            regex_syntax::Error::Parse(pe) => pe.kind().to_string(),
            regex_syntax::Error::Translate(te) => te.kind().to_string(),
            other => other.to_string(),
        };
        format!("error parsing regexp: {detail}: `{re}`")
    })?;
    Ok(GoRegex { rust: p.out, names: p.names })
}

/// Whether a Prometheus label matcher regex (`^(?s:re)$`) matches the empty string.
pub fn matcher_matches_empty(re: &str) -> bool {
    translate(re)
        .ok()
        .and_then(|g| regex::RegexBuilder::new(&format!("^(?s:{})$", g.rust)).nest_limit(2000).build().ok())
        .is_some_and(|r| r.is_match(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(re: &str) -> String {
        translate(re).unwrap_err()
    }

    fn ok(re: &str) -> String {
        translate(re).unwrap_or_else(|e| panic!("{re}: {e}")).rust
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(e("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(e("a)"), "error parsing regexp: unexpected ): `a)`");
        assert_eq!(e("[a"), "error parsing regexp: missing closing ]: `[a`");
        assert_eq!(e("x[z-a]"), "error parsing regexp: invalid character class range: `z-a`");
        assert_eq!(e(r"\q"), r"error parsing regexp: invalid escape sequence: `\q`");
        assert_eq!(e(r"a\"), "error parsing regexp: trailing backslash at end of expression: ``");
        assert_eq!(e("*a"), "error parsing regexp: missing argument to repetition operator: `*`");
        assert_eq!(e("(+)"), "error parsing regexp: missing argument to repetition operator: `+`");
        assert_eq!(e("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
        assert_eq!(e("a*?+"), "error parsing regexp: invalid nested repetition operator: `*?+`");
        assert_eq!(e("a{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
        assert_eq!(e("(?!a)"), "error parsing regexp: invalid or unsupported Perl syntax: `(?!`");
        assert_eq!(e("(?P<>a)"), "error parsing regexp: invalid named capture: `(?P<>`");
        assert_eq!(e("(?P<a-b>x)"), "error parsing regexp: invalid named capture: `(?P<a-b>`");
        assert_eq!(e("[[:foo:]]"), "error parsing regexp: invalid character class range: `[:foo:]`");
        assert_eq!(e(r"\p{Foo}"), r"error parsing regexp: invalid character class range: `\p{Foo}`");
        assert_eq!(e(r"\1"), r"error parsing regexp: invalid escape sequence: `\1`");
        assert_eq!(e(r"\C"), r"error parsing regexp: invalid escape sequence: `\C`");
    }

    #[test]
    fn go_accepts_what_rust_would_not() {
        assert!(regex::Regex::new(&ok("{foo}")).unwrap().is_match("{foo}"));
        assert!(regex::Regex::new(&ok("a{,3}")).unwrap().is_match("a{,3}"));
        assert!(regex::Regex::new(&ok(r"\Q.*\E")).unwrap().is_match(".*"));
        assert!(regex::Regex::new(&ok(r"\<a\>")).unwrap().is_match("<a>"));
        assert!(regex::Regex::new(&ok(r"[a[]")).unwrap().is_match("["));
        assert!(regex::Regex::new(&ok(r"[a&&b]")).unwrap().is_match("&"));
        assert!(regex::Regex::new(&ok(r"\101")).unwrap().is_match("A"));
        assert!(!regex::Regex::new(&ok(r"^\d$")).unwrap().is_match("\u{0663}"));
        assert!(regex::Regex::new(&ok("^*a")).is_ok());
        assert!(regex::Regex::new(&ok("(?)a")).unwrap().is_match("a"));
        assert!(regex::Regex::new(&ok("^a(?i)*$")).unwrap().is_match("aaa"));
        assert!(regex::Regex::new(&ok("^a*(?i){2}$")).unwrap().is_match("aa"));
        assert!(regex::Regex::new(&ok(r"\bx\b")).unwrap().is_match("é x"));
        let g = translate("(?P<a>x)(y)(?<a>z)").unwrap();
        assert_eq!(g.names, vec![Some("a".into()), None, Some("a".into())]);
        assert!(regex::Regex::new(&g.rust).is_ok());
    }

    #[test]
    fn empty_matching() {
        assert!(matcher_matches_empty(".*"));
        assert!(!matcher_matches_empty(".+"));
        assert!(matcher_matches_empty("a|"));
        assert!(!matcher_matches_empty("foo"));
    }
}

//! Go `strconv`: `Quote`, `ParseFloat`, `Atoi`, `ParseInt(s, 0, 64)`, and float printing (`%v`,
//! `%f`), with Go's error texts. [`Dialect`] names the places where a lokid caller accepts or
//! quotes differently from Go.

use std::borrow::Cow;
use std::fmt;

use super::unicode::is_print;

/// Which characters [`Dialect::quote`] escapes (besides `"` and `\`, always escaped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escapes {
    /// Go's `strconv.Quote`: every rune that is not `strconv.IsPrint`.
    Go,
    /// ASCII control characters, DEL and the C1 controls (U+0080–U+009F) only.
    Controls,
    /// ASCII control characters and DEL only (as label sets print, `model::Labels`).
    AsciiControls,
}

impl Escapes {
    fn escapes(self, c: char) -> bool {
        let ascii_control = c < ' ' || c == '\x7f';
        match self {
            Escapes::Go => !is_print(c),
            Escapes::Controls => ascii_control || ('\u{80}'..'\u{a0}').contains(&c),
            Escapes::AsciiControls => ascii_control,
        }
    }
}

/// How a caller applies Go's conversions. [`Dialect::GO`] is Go; the other dialects are kept in
/// the modules that use them, each field that differs from Go documented there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// What `quote` (and so every quoted input in an error text) escapes.
    pub escapes: Escapes,
    /// `parse_float` follows Go's `_` digit-separator rules. When false, `_` makes a decimal
    /// number invalid and is ignored anywhere in a hexadecimal one.
    pub underscores: bool,
    /// `parse_float` accepts hexadecimal floats (`0x1p-2`), as Go does.
    pub hex_floats: bool,
    /// `parse_float` accepts `+NaN` / `-NaN` (Go takes a sign only in front of `Inf`).
    pub signed_nan: bool,
}

impl Dialect {
    /// Go itself.
    pub const GO: Dialect = Dialect { escapes: Escapes::Go, underscores: true, hex_floats: true, signed_nan: false };

    /// Go `strconv.Quote`, escaping what `self.escapes` says.
    pub fn quote(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        let _ = write_quoted(&mut out, s, self.escapes);
        out
    }

    /// Go `strconv.ParseFloat(s, 64)`: decimal, hexadecimal with a `p` exponent, `Inf`,
    /// `Infinity`, `NaN`. Errors carry Go's message
    /// (`strconv.ParseFloat: parsing "x": invalid syntax`).
    pub fn parse_float(&self, s: &str) -> Result<f64, String> {
        let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", self.quote(s));
        let (neg, body) = match s.as_bytes().first() {
            Some(b'+') => (false, &s[1..]),
            Some(b'-') => (true, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
            return Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
        }
        if body.eq_ignore_ascii_case("nan") {
            return match (body.len() == s.len(), neg) {
                (true, _) => Ok(f64::NAN),
                (false, _) if !self.signed_nan => Err(syntax()),
                (false, true) => Ok(-f64::NAN),
                (false, false) => Ok(f64::NAN),
            };
        }
        let b = body.as_bytes();
        let hex = b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x';
        if body.contains('_') {
            let allowed = if self.underscores { underscore_ok(body) } else { hex };
            if !allowed {
                return Err(syntax());
            }
        }
        let v = if hex {
            if !self.hex_floats {
                return Err(syntax());
            }
            let digits: String = body[2..].chars().filter(|&c| c != '_').collect::<String>().to_ascii_lowercase();
            let v = parse_hex_float(&digits).ok_or_else(syntax)?;
            if neg {
                -v
            } else {
                v
            }
        } else {
            let valid = !body.is_empty()
                && body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'));
            if !valid {
                return Err(syntax());
            }
            let text = match body.contains('_') {
                true => Cow::Owned(s.replace('_', "")),
                false => Cow::Borrowed(s),
            };
            text.parse::<f64>().map_err(|_| syntax())?
        };
        if v.is_infinite() {
            return Err(format!("strconv.ParseFloat: parsing {}: value out of range", self.quote(s)));
        }
        Ok(v)
    }
}

/// Writes `s` as a Go `strconv.Quote` literal into `out`, escaping what `escapes` says
/// (besides `"` and `\`). With [`Escapes::AsciiControls`] this is how Prometheus and Loki
/// print label values (`{a="x\"y"}`).
pub fn write_quoted(out: &mut impl fmt::Write, s: &str, escapes: Escapes) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            _ if !escapes.escapes(c) => out.write_char(c)?,
            '\x07' => out.write_str("\\a")?,
            '\x08' => out.write_str("\\b")?,
            '\x0c' => out.write_str("\\f")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\x0b' => out.write_str("\\v")?,
            _ if c < ' ' || c == '\x7f' => write!(out, "\\x{:02x}", c as u32)?,
            _ if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32)?,
            _ => write!(out, "\\U{:08x}", c as u32)?,
        }
    }
    out.write_char('"')
}

/// Go `strconv.Quote`.
pub fn quote(s: &str) -> String {
    Dialect::GO.quote(s)
}

/// Go `strconv.Unquote` of the inside of a `quote`-quoted literal (`"` or `'`), escapes
/// decoded as `strconv.UnquoteChar` does: `\a \b \f \n \r \t \v \\`, the enclosing quote,
/// `\x` and octal bytes (`\101`, at most `\377`), `\u`/`\U` code points. `None` is Go's
/// `invalid syntax` (a bare quote or newline, an unknown escape, a surrogate code point). Bytes
/// that do not form UTF-8 (`\xff`) become U+FFFD.
pub fn unquote(inner: &str, quote: char) -> Option<String> {
    unquote_bytes(inner, quote, false).map(|b| String::from_utf8(b).unwrap_or_else(|e| lossy(e.as_bytes())))
}

/// Prometheus `strutil.Unquote` of a double-quoted literal's inside (as the LogQL lexer uses
/// it): [`unquote`], except that a surrogate `\u` code point becomes U+FFFD instead of an error.
pub fn unquote_prometheus(inner: &str) -> Option<String> {
    unquote_bytes(inner, '"', true).map(|b| String::from_utf8(b).unwrap_or_else(|e| lossy(e.as_bytes())))
}

/// Go `strconv.QuotedPrefix` + `Unquote` for a double-quoted literal at the start of `s`: its
/// value and the bytes it takes.
pub fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix('"')?;
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((unquote(&body[..i], '"')?, i + 2)),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// The byte a Go one-character escape `\e` stands for inside a `quote`-quoted literal:
/// `\a \b \f \n \r \t \v \\` and the enclosing quote (`strconv.UnquoteChar`, Go's scanners).
pub fn simple_escape(e: char, quote: char) -> Option<u8> {
    Some(match e {
        'a' => 7,
        'b' => 8,
        'f' => 12,
        'n' => b'\n',
        'r' => b'\r',
        't' => b'\t',
        'v' => 11,
        '\\' => b'\\',
        _ if e == quote && quote.is_ascii() => quote as u8,
        _ => return None,
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn unquote_bytes(inner: &str, quote: char, surrogates_ok: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c == quote || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let e = rest.chars().next()?;
        rest = &rest[e.len_utf8()..];
        let simple = simple_escape(e, quote);
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return None,
        };
        let digits = rest.get(..n)?;
        if !digits.chars().all(|d| d.is_digit(radix)) {
            return None;
        }
        rest = &rest[n..];
        let v = u32::from_str_radix(digits, radix).ok()?;
        match e {
            'x' => out.push(v as u8),
            '0'..='7' => {
                let v = (e as u32 - '0' as u32) * 64 + v;
                out.push(u8::try_from(v).ok()?);
            }
            _ => {
                let ch = match char::from_u32(v) {
                    Some(ch) => ch,
                    None if surrogates_ok && v <= 0x10FFFF => '\u{FFFD}',
                    None => return None,
                };
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
    }
    Some(out)
}

/// Go `strconv.ParseFloat(s, 64)`.
pub fn parse_float(s: &str) -> Result<f64, String> {
    Dialect::GO.parse_float(s)
}

/// A lowercase hexadecimal mantissa with its `p` exponent (after `0x`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut m = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        m = m * 16.0 + f64::from(c.to_digit(16)?);
    }
    let e: i32 = exp.parse().ok()?;
    let scale = e - 4 * i32::try_from(frac_part.len()).ok()?;
    Some(m * 2f64.powi(scale))
}

/// Go's `underscoreOK` for an unsigned number (underscores only between digits or after a
/// base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go `strconv.Atoi` (base 10, optional sign, 64-bit).
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go `strconv.ParseInt(s, 0, 64)` (base prefixes 0x, 0o, 0b, leading-0 octal, underscores).
pub fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        if lower.contains('_') {
            return None;
        }
        (10, lower.as_str())
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Go `fmt.Sprint(float64)` / `strconv.FormatFloat(v, 'g', -1, 64)`: shortest digits, exponent
/// form when the exponent is < -4 or >= 6.
pub fn format_float(v: f64) -> String {
    if let Some(t) = non_finite(v) {
        return t.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:e}", v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

/// Go `fmt.Sprintf("%f", v)`.
pub fn format_float_6(v: f64) -> String {
    match non_finite(v) {
        Some(t) => t.into(),
        None => format!("{v:.6}"),
    }
}

/// How Go prints NaN and ±Inf.
fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        None
    }
}

/// ES6 number-to-string, as pdata and Go's `encoding/json` print a float64.
pub fn json_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` is shortest round-trip like Go's 'e' with precision -1; Go writes
        // the exponent's sign.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// A rune as Go's `%q` prints it in text/template's lexer errors: `'x'`, with Rust's default
/// escapes for what is not printable.
pub fn quote_char(c: char) -> String {
    format!("'{}'", c.escape_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_floats_print_like_encoding_json() {
        let cases = [(1.5, "1.5"), (0.0, "0"), (1e21, "1e+21"), (1.25e-7, "1.25e-7"), (123456.0, "123456")];
        for (f, want) in cases {
            assert_eq!(json_float(f), want, "{f}");
        }
        assert_eq!((json_float(f64::NAN), json_float(f64::NEG_INFINITY)), ("NaN".into(), "-Infinity".into()));
        assert_eq!((quote_char('a'), quote_char('\n')), ("'a'".into(), "'\\n'".into()));
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\n\t\x01é\u{7f}"), r#""\n\t\x01é\x7f""#);
        assert_eq!(quote("\u{ad}"), r#""\u00ad""#);
    }

    #[test]
    fn unquote_like_go() {
        assert_eq!(unquote(r#"a\n\x41\101\u00e9\U0001F600\\\""#, '"').as_deref(), Some("a\nAAé😀\\\""));
        assert_eq!(unquote(r"\xc3\xa9", '"').as_deref(), Some("é"));
        assert_eq!(unquote(r"\xff", '"').as_deref(), Some("\u{FFFD}"));
        assert_eq!(unquote(r"\'", '\'').as_deref(), Some("'"));
        for bad in [r"\'", r"\q", r"\400", r"\x4", r"\ud800", "a\"b", "a\nb", "\\"] {
            assert_eq!(unquote(bad, '"'), None, "{bad}");
        }
        assert_eq!(unquote(r#"\""#, '\''), None);
        assert_eq!(unquote_prometheus(r"\ud800").as_deref(), Some("\u{FFFD}"));
        assert_eq!(unquote_prometheus(r"\U00110000"), None);
        assert_eq!(unquote_prefix(r#""a\"b", c"#), Some(("a\"b".to_string(), 6)));
        assert_eq!(unquote_prefix(r#""open"#), None);
        let s = "x\"\\\n\t\u{7}\u{1b}\u{7f}é\u{ad}";
        let mut q = String::new();
        write_quoted(&mut q, s, Escapes::AsciiControls).unwrap();
        assert_eq!(unquote_prefix(&q), Some((s.to_string(), q.len())));
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float("5."), Ok(5.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("1_000"), Ok(1000.0));
        assert_eq!(parse_float("0755"), Ok(755.0));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("0x1F").unwrap_err(), r#"strconv.ParseFloat: parsing "0x1F": invalid syntax"#);
        assert_eq!(parse_float("1e999").unwrap_err(), r#"strconv.ParseFloat: parsing "1e999": value out of range"#);
        assert!(parse_float("0b1").is_err());
        assert_eq!(format_float(1e6), "1e+06");
        assert_eq!(format_float(123456.0), "123456");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float_6(1.0), "1.000000");
        assert_eq!(parse_int("05"), Some(5));
        assert_eq!(parse_int("1.5"), None);
    }
}

//! Go-compatible string/number primitives used by the LogQL lexer, parser and printer
//! (Unicode classes of Go's `unicode` package, `strconv.ParseFloat`/`Atoi`/`Quote`, `fmt`
//! float formatting), re-implemented from their documented behaviour.

use std::sync::OnceLock;

/// Unicode class ranges built once from regex-syntax's tables (pure, no I/O).
fn class_ranges(pattern: &str) -> Vec<(char, char)> {
    let hir = regex_syntax::ParserBuilder::new().build().parse(pattern);
    match hir.map(regex_syntax::hir::Hir::into_kind) {
        Ok(regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(c))) => {
            c.ranges().iter().map(|r| (r.start(), r.end())).collect()
        }
        _ => Vec::new(),
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Go `unicode.IsLetter` (general category L).
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(T.get_or_init(|| class_ranges(r"\p{L}")), c)
}

/// Go `unicode.IsDigit` (general category Nd).
pub(crate) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(T.get_or_init(|| class_ranges(r"\p{Nd}")), c)
}

/// Go `strconv.IsPrint`: categories L, M, N, P, S plus ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(
        T.get_or_init(|| class_ranges(r"[\p{L}\p{M}\p{N}\p{P}\p{S}]")),
        c,
    )
}

/// Go `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ if is_print(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            _ if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            _ => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go `strconv.ParseFloat(s, 64)` for the number syntaxes Go's scanner produces.
/// Errors carry Go's message (`strconv.ParseFloat: parsing "x": invalid syntax`).
pub fn parse_go_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(s)
        )
    };
    let range = || {
        format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(s)
        )
    };
    if !underscore_ok(s) {
        return Err(syntax());
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let v = if lower.len() > 2 && lower.starts_with("0x") {
        parse_hex_float(&lower[2..]).ok_or_else(syntax)?
    } else {
        let valid = !lower.is_empty()
            && lower
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            && lower.starts_with(|c: char| c.is_ascii_digit() || c == '.');
        if !valid {
            return Err(syntax());
        }
        lower.parse::<f64>().map_err(|_| syntax())?
    };
    if v.is_infinite() {
        return Err(range());
    }
    Ok(v)
}

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

/// Go's `underscoreOK` (underscores only between digits / after a base prefix).
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
pub fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go `fmt.Sprint(float64)` (`%v`: shortest digits, exponent form when exp < -4 or >= 6).
pub fn go_format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
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
pub fn go_format_float_6(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    format!("{v:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("\n\t\x01é\u{7f}"), r#""\n\t\x01é\x7f""#);
        assert_eq!(go_quote("\u{ad}"), r#""\u00ad""#);
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(parse_go_float("1.5"), Ok(1.5));
        assert_eq!(parse_go_float("5."), Ok(5.0));
        assert_eq!(parse_go_float(".5"), Ok(0.5));
        assert_eq!(parse_go_float("1_000"), Ok(1000.0));
        assert_eq!(parse_go_float("0755"), Ok(755.0));
        assert_eq!(parse_go_float("0x1p-2"), Ok(0.25));
        assert_eq!(
            parse_go_float("0x1F").unwrap_err(),
            r#"strconv.ParseFloat: parsing "0x1F": invalid syntax"#
        );
        assert_eq!(
            parse_go_float("1e999").unwrap_err(),
            r#"strconv.ParseFloat: parsing "1e999": value out of range"#
        );
        assert!(parse_go_float("0b1").is_err());
        assert_eq!(go_format_float(1e6), "1e+06");
        assert_eq!(go_format_float(123456.0), "123456");
        assert_eq!(go_format_float(0.0001), "0.0001");
        assert_eq!(go_format_float(0.00001), "1e-05");
        assert_eq!(go_format_float(-2.5), "-2.5");
        assert_eq!(go_format_float(1e21), "1e+21");
        assert_eq!(go_format_float_6(1.0), "1.000000");
        assert_eq!(parse_go_int("05"), Some(5));
        assert_eq!(parse_go_int("1.5"), None);
    }
}

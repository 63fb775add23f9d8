//! Helpers behind template functions: sprig's decimal float arithmetic, Go's `strings.Title`,
//! URL query escaping, base64, `fromJson` and Loki's align functions.

use std::rc::Rc;

use super::exec::Value;
use crate::query::pipeline::conv::go_quote;

fn s<'a>(v: String) -> Value<'a> {
    Value::Str(std::borrow::Cow::Owned(v))
}

/// Exact decimal arithmetic on shortest float representations (sprig's `addf`… use shopspring
/// decimals): mantissa × 10^-scale, falling back to f64 when it does not fit.
pub fn dec(v: f64) -> Option<(i128, u32)> {
    let t = format!("{v}");
    let (ip, fp) = t.split_once('.').unwrap_or((&t, ""));
    let m: i128 = format!("{ip}{fp}").parse().ok()?;
    Some((m, fp.len() as u32))
}

pub fn dec_op(a: f64, b: f64, op: u8) -> f64 {
    let fallback = match op {
        b'+' => a + b,
        b'-' => a - b,
        b'*' => a * b,
        _ => a / b,
    };
    let (Some((ma, sa)), Some((mb, sb))) = (dec(a), dec(b)) else {
        return fallback;
    };
    let p = |e: u32| 10i128.checked_pow(e);
    let r: Option<(i128, u32)> = (|| match op {
        b'+' | b'-' => {
            let sc = sa.max(sb);
            let x = ma.checked_mul(p(sc - sa)?)?;
            let y = mb.checked_mul(p(sc - sb)?)?;
            Some((if op == b'+' { x.checked_add(y)? } else { x.checked_sub(y)? }, sc))
        }
        b'*' => Some((ma.checked_mul(mb)?, sa + sb)),
        _ => {
            if mb == 0 {
                return None;
            }
            // Round to 16 decimal places, half away from zero.
            let num = ma.checked_mul(p(17 + sb)?)?;
            let q = num / mb.checked_mul(p(sa)?)?;
            let (q, last) = (q / 10, q % 10);
            Some((if last.abs() >= 5 { q + last.signum() } else { q }, 16))
        }
    })();
    match r {
        Some((m, sc)) => {
            let neg = m < 0;
            let digits = format!("{:0>width$}", m.unsigned_abs(), width = sc as usize + 1);
            let (i, f) = digits.split_at(digits.len() - sc as usize);
            format!("{}{i}.{f}0", if neg { "-" } else { "" }).parse().unwrap_or(fallback)
        }
        None => fallback,
    }
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of every word.
pub fn go_title(x: &str) -> String {
    let mut prev = ' ';
    x.chars()
        .map(|c| {
            let sep =
                if prev.is_ascii() { !(prev.is_ascii_alphanumeric() || prev == '_') } else { prev.is_whitespace() };
            prev = c;
            if sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

pub fn bytes_slice(x: &str, a: usize, b: usize) -> String {
    String::from_utf8_lossy(&x.as_bytes()[a..b]).into_owned()
}

pub fn url_escape(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    for &c in x.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            out.push(c as char);
        } else if c == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

pub fn url_unescape(x: &str) -> Result<String, String> {
    let b = x.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => out.push(v),
                    None => {
                        let bad = String::from_utf8_lossy(&b[i..(i + 3).min(b.len())]).into_owned();
                        return Err(format!("invalid URL escape {}", go_quote(&bad)));
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64enc(x: &[u8]) -> String {
    let mut out = String::with_capacity(x.len().div_ceil(3) * 4);
    for ch in x.chunks(3) {
        let n =
            (u32::from(ch[0]) << 16) | (u32::from(*ch.get(1).unwrap_or(&0)) << 8) | u32::from(*ch.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= ch.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Loki's `b64dec`: pads, decodes, and returns Go's error text on failure.
pub fn b64dec(v: &str) -> String {
    let mut v = v.to_string();
    let rem = v.len() % 4;
    if rem != 0 && rem != 1 {
        v.push_str(&"=".repeat(4 - rem));
    }
    let b = v.as_bytes();
    let mut out = Vec::new();
    for (ci, ch) in b.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (k, &c) in ch.iter().enumerate() {
            let d = if c == b'=' && k >= 2 {
                pad += 1;
                0
            } else if pad > 0 {
                return format!("illegal base64 data at input byte {}", ci * 4 + k);
            } else {
                match B64.iter().position(|&x| x == c) {
                    Some(d) => d as u32,
                    None => return format!("illegal base64 data at input byte {}", ci * 4 + k),
                }
            };
            n = (n << 6) | d;
        }
        if ch.len() < 4 {
            return format!("illegal base64 data at input byte {}", b.len());
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn from_json(x: &str) -> Value<'static> {
    fn conv_v(v: &[u8], ty: crate::query::pipeline::json::JType) -> Option<Value<'static>> {
        use crate::query::pipeline::json::{self, JType};
        Some(match ty {
            JType::String => s(json::unescape_string(v)),
            JType::Number => Value::Float(std::str::from_utf8(v).ok()?.parse().ok()?),
            JType::Boolean => Value::Bool(v == b"true"),
            JType::Null => Value::Nil,
            JType::Object => {
                let mut m: Vec<(String, Value<'static>)> = Vec::new();
                let mut bad = false;
                let r = json::object_each(v, |k, val, t| {
                    match conv_v(val, t) {
                        Some(x) => {
                            let k = String::from_utf8_lossy(k).into_owned();
                            m.retain(|(n, _)| *n != k);
                            m.push((k, x));
                        }
                        None => bad = true,
                    }
                    Ok(())
                });
                if r.is_err() || bad {
                    return None;
                }
                m.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(Rc::new(m))
            }
            JType::Array => {
                let mut l = Vec::new();
                let mut i = 0;
                while let Some((e, t)) = json::array_index(v, i) {
                    l.push(conv_v(e, t)?);
                    i += 1;
                }
                Value::List(Rc::new(l))
            }
        })
    }
    crate::query::pipeline::json::get(x.as_bytes()).ok().and_then(|(v, t, _)| conv_v(v, t)).unwrap_or(Value::Nil)
}

pub fn align(count: i64, src: &str, left: bool) -> String {
    let runes: Vec<char> = src.chars().collect();
    let l = runes.len() as i64;
    if count < 0 || count == l {
        return src.to_string();
    }
    if count > l {
        let pad = " ".repeat((count - l) as usize);
        return if left { format!("{src}{pad}") } else { format!("{pad}{src}") };
    }
    let c = count as usize;
    if left {
        runes[..c].iter().collect()
    } else {
        runes[runes.len() - c..].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_follow_go() {
        assert_eq!(dec_op(20.2, 5.25, b'/'), 3.8476190476190477);
        assert_eq!(dec_op(0.1, 0.2, b'+'), 0.3);
        assert_eq!(dec_op(1.5, 2.0, b'*'), 3.0);
        assert_eq!(b64enc(b"i'm a string, encode me!"), "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh");
        assert_eq!(b64dec("Zm9vYmE"), "fooba");
        assert_eq!(b64dec("Zm9vYg"), "foob");
        assert_eq!(go_title("hello wor_ld x-y"), "Hello Wor_ld X-Y");
        assert_eq!(url_unescape("a%2Fb+c").unwrap(), "a/b c");
        assert_eq!(url_escape("a b/~"), "a+b%2F~");
        assert_eq!(align(8, "Hello, 世界", true), "Hello, 世");
        assert_eq!(align(2, "Hello, 世界", false), "世界");
    }
}

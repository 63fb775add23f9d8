//! Template functions: Go's built-ins, Loki's `functionMap` and the sprig subset Loki registers
//! (`pkg/logql/log/fmt.go`), with Go/sprig argument order, conversions (`cast`) and error texts.

use std::borrow::Cow;

use super::exec::{Env, Value};
use super::util::{align, b64dec, b64enc, bytes_slice, dec_op, from_json, go_title, url_escape, url_unescape};
use crate::gocompat::time::{self as gotime, GoTime};
use crate::query::pipeline::conv::{self, go_quote};

macro_rules! funcs {
    ($($v:ident = $name:literal ($min:expr, $max:expr)),* $(,)?) => {
        /// A template function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Func { $($v),* }

        pub fn lookup_func(name: &str) -> Option<Func> {
            match name { $($name => Some(Func::$v),)* _ => None }
        }

        impl Func {
            pub fn name(self) -> &'static str {
                match self { $(Func::$v => $name),* }
            }

            /// (minimum, maximum) argument count (None = variadic).
            pub fn arity(self) -> (usize, Option<usize>) {
                match self { $(Func::$v => ($min, $max)),* }
            }
        }
    };
}

const V: Option<usize> = None;

funcs! {
    And = "and" (1, V), Or = "or" (1, V), Not = "not" (1, Some(1)), Len = "len" (1, Some(1)),
    Index = "index" (1, V), Print = "print" (0, V), Printf = "printf" (1, V), Println = "println" (0, V),
    Eq = "eq" (1, V), Ne = "ne" (2, Some(2)), Lt = "lt" (2, Some(2)), Le = "le" (2, Some(2)),
    Gt = "gt" (2, Some(2)), Ge = "ge" (2, Some(2)), Urlquery = "urlquery" (0, V),
    Line = "__line__" (0, Some(0)), Timestamp = "__timestamp__" (0, Some(0)),
    ToLower = "ToLower" (1, Some(1)), ToUpper = "ToUpper" (1, Some(1)), Replace = "Replace" (4, Some(4)),
    Trim = "Trim" (2, Some(2)), TrimLeft = "TrimLeft" (2, Some(2)), TrimRight = "TrimRight" (2, Some(2)),
    TrimPrefix = "TrimPrefix" (2, Some(2)), TrimSuffix = "TrimSuffix" (2, Some(2)), TrimSpace = "TrimSpace" (1, Some(1)),
    RegexReplaceAll = "regexReplaceAll" (3, Some(3)), RegexReplaceAllLiteral = "regexReplaceAllLiteral" (3, Some(3)),
    Count = "count" (2, Some(2)), Urldecode = "urldecode" (1, Some(1)), Urlencode = "urlencode" (1, Some(1)),
    Bytes = "bytes" (1, Some(1)), Duration = "duration" (1, Some(1)), DurationSeconds = "duration_seconds" (1, Some(1)),
    UnixEpochMillis = "unixEpochMillis" (1, Some(1)), UnixEpochNanos = "unixEpochNanos" (1, Some(1)),
    ToDateInZone = "toDateInZone" (3, Some(3)), UnixToTime = "unixToTime" (1, Some(1)),
    AlignLeft = "alignLeft" (2, Some(2)), AlignRight = "alignRight" (2, Some(2)), B64dec = "b64dec" (1, Some(1)),
    B64enc = "b64enc" (1, Some(1)), Lower = "lower" (1, Some(1)), Upper = "upper" (1, Some(1)),
    Title = "title" (1, Some(1)), Trunc = "trunc" (2, Some(2)), Substr = "substr" (3, Some(3)),
    Contains = "contains" (2, Some(2)), HasPrefix = "hasPrefix" (2, Some(2)), HasSuffix = "hasSuffix" (2, Some(2)),
    Indent = "indent" (2, Some(2)), Nindent = "nindent" (2, Some(2)), SReplace = "replace" (3, Some(3)),
    Repeat = "repeat" (2, Some(2)), STrim = "trim" (1, Some(1)), TrimAll = "trimAll" (2, Some(2)),
    STrimSuffix = "trimSuffix" (2, Some(2)), STrimPrefix = "trimPrefix" (2, Some(2)),
    Int = "int" (1, Some(1)), Float64 = "float64" (1, Some(1)), Add = "add" (0, V), Sub = "sub" (2, Some(2)),
    Mul = "mul" (1, V), Div = "div" (2, Some(2)), Mod = "mod" (2, Some(2)), Addf = "addf" (0, V),
    Subf = "subf" (1, V), Mulf = "mulf" (1, V), Divf = "divf" (1, V), Max = "max" (1, V), Min = "min" (1, V),
    Maxf = "maxf" (1, V), Minf = "minf" (1, V), Ceil = "ceil" (1, Some(1)), Floor = "floor" (1, Some(1)),
    Round = "round" (2, V), FromJson = "fromJson" (1, Some(1)), Date = "date" (2, Some(2)),
    ToDate = "toDate" (2, Some(2)), Now = "now" (0, Some(0)), UnixEpoch = "unixEpoch" (1, Some(1)),
    Default = "default" (1, V),
}

type Res<'a> = Result<Value<'a>, String>;

fn s<'a>(v: String) -> Value<'a> {
    Value::Str(Cow::Owned(v))
}

fn wrong(expected: &str, v: &Value) -> String {
    format!("wrong type for value; expected {expected}; got {}", v.type_name())
}

fn want_str<'v>(v: &'v Value) -> Result<&'v str, String> {
    match v {
        Value::Str(x) => Ok(x),
        other => Err(wrong("string", other)),
    }
}

fn want_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong("int", other)),
    }
}

fn want_time(v: &Value) -> Result<GoTime, String> {
    match v {
        Value::Time(t) => Ok(*t),
        other => Err(wrong("time.Time", other)),
    }
}

/// cast.ToInt64 (what sprig's arithmetic uses): failures are 0.
fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(x) => conv::parse_int_base0(trim_zero_decimal(x)).unwrap_or(0),
        _ => 0,
    }
}

fn trim_zero_decimal(x: &str) -> &str {
    let mut found_zero = false;
    for (i, c) in x.bytes().enumerate().rev() {
        match c {
            b'.' if found_zero => return &x[..i],
            b'.' => {}
            b'0' => found_zero = true,
            _ => return x,
        }
    }
    x
}

/// cast.ToFloat64.
fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(x) => conv::parse_float(x).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn regex(re: &str) -> Result<regex::Regex, String> {
    let g = crate::gocompat::translate_go_regex(re)?;
    regex::Regex::new(&g.rust).map_err(|e| format!("error parsing regexp: {e}"))
}

fn empty(v: &Value, env: &Env) -> bool {
    match v {
        Value::Time(_) => false,
        other => !other.truth(env),
    }
}

/// Go's `eq`/`lt` basic comparison.
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    Ok(match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Less),
        (Value::Bool(x), Value::Bool(y)) if x == y => Ordering::Equal,
        (Value::Bool(_), Value::Bool(_)) => Ordering::Greater,
        (Value::Nil, Value::Nil) => Ordering::Equal,
        _ => return Err("incompatible types for comparison".into()),
    })
}

/// Calls `f` with evaluated arguments (arity already checked).
pub fn call<'a>(f: Func, a: Vec<Value<'a>>, env: &Env<'a>) -> Res<'a> {
    let calling = |e: String| format!("error calling {}: {e}", f.name());
    let str_at = |i: usize| want_str(&a[i]);
    Ok(match f {
        Func::And | Func::Or => unreachable!("evaluated lazily"),
        Func::Not => Value::Bool(!a[0].truth(env)),
        Func::Len => Value::Int(match &a[0] {
            Value::Str(x) => x.len() as i64,
            Value::Labels => env.data.pairs().len() as i64,
            Value::Map(m) => m.len() as i64,
            Value::List(l) => l.len() as i64,
            other => return Err(calling(format!("len of type {}", other.type_name()))),
        }),
        Func::Index => {
            let mut v = a[0].clone();
            for k in &a[1..] {
                v = match (&v, k) {
                    (Value::Labels, Value::Str(key)) => s(env.data.get(key).unwrap_or("").to_string()),
                    (Value::Map(m), Value::Str(key)) => {
                        m.iter().find(|(n, _)| n == key).map_or(Value::Nil, |(_, x)| x.clone())
                    }
                    (Value::List(l), Value::Int(i)) => match l.get(*i as usize) {
                        Some(x) if *i >= 0 => x.clone(),
                        _ => return Err(calling(format!("error indexing slice: index out of range: {i}"))),
                    },
                    (Value::Nil, _) => return Err(calling("index of untyped nil".into())),
                    (x, _) => return Err(calling(format!("can't index item of type {}", x.type_name()))),
                };
            }
            v
        }
        Func::Print | Func::Println => {
            let mut out = String::new();
            for (i, v) in a.iter().enumerate() {
                let both_non_str = i > 0 && !matches!(v, Value::Str(_)) && !matches!(a[i - 1], Value::Str(_));
                if i > 0 && (f == Func::Println || both_non_str) {
                    out.push(' ');
                }
                v.write(env, &mut out, true);
            }
            if f == Func::Println {
                out.push('\n');
            }
            s(out)
        }
        Func::Printf => s(super::printf::sprintf(str_at(0)?, &a[1..], env)),
        Func::Urlquery => {
            let mut out = String::new();
            a.iter().for_each(|v| v.write(env, &mut out, true));
            s(url_escape(&out))
        }
        Func::Eq => {
            let mut any = false;
            for b in &a[1..] {
                any |= compare(&a[0], b).map_err(calling)? == std::cmp::Ordering::Equal;
            }
            Value::Bool(any)
        }
        Func::Ne => Value::Bool(compare(&a[0], &a[1]).map_err(calling)? != std::cmp::Ordering::Equal),
        Func::Lt | Func::Le | Func::Gt | Func::Ge => {
            if matches!(a[0], Value::Bool(_)) || matches!(a[1], Value::Bool(_)) {
                return Err(calling("invalid type for comparison".into()));
            }
            let o = compare(&a[0], &a[1]).map_err(calling)?;
            Value::Bool(match f {
                Func::Lt => o.is_lt(),
                Func::Le => o.is_le(),
                Func::Gt => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        Func::Line => s(env.line.to_string()),
        Func::Timestamp => Value::Time(GoTime::from_nanos(env.ts)),
        Func::ToLower | Func::Lower => s(str_at(0)?.to_lowercase()),
        Func::ToUpper | Func::Upper => s(str_at(0)?.to_uppercase()),
        Func::Replace => {
            let (x, old, new, n) = (str_at(0)?, str_at(1)?, str_at(2)?, want_int(&a[3])?);
            s(if n < 0 { x.replace(old, new) } else { x.replacen(old, new, n as usize) })
        }
        Func::Trim | Func::TrimAll => {
            let (x, cut) = if f == Func::Trim { (str_at(0)?, str_at(1)?) } else { (str_at(1)?, str_at(0)?) };
            s(x.trim_matches(|c| cut.contains(c)).to_string())
        }
        Func::TrimLeft => s(str_at(0)?.trim_start_matches(|c| str_at(1).unwrap_or("").contains(c)).to_string()),
        Func::TrimRight => s(str_at(0)?.trim_end_matches(|c| str_at(1).unwrap_or("").contains(c)).to_string()),
        Func::TrimPrefix => s(str_at(0)?.strip_prefix(str_at(1)?).unwrap_or(str_at(0)?).to_string()),
        Func::TrimSuffix => s(str_at(0)?.strip_suffix(str_at(1)?).unwrap_or(str_at(0)?).to_string()),
        Func::STrimPrefix => s(str_at(1)?.strip_prefix(str_at(0)?).unwrap_or(str_at(1)?).to_string()),
        Func::STrimSuffix => s(str_at(1)?.strip_suffix(str_at(0)?).unwrap_or(str_at(1)?).to_string()),
        Func::TrimSpace | Func::STrim => s(str_at(0)?.trim().to_string()),
        Func::RegexReplaceAll => {
            s(regex(str_at(0)?).map_err(calling)?.replace_all(str_at(1)?, str_at(2)?).into_owned())
        }
        Func::RegexReplaceAllLiteral => {
            s(regex(str_at(0)?).map_err(calling)?.replace_all(str_at(1)?, regex::NoExpand(str_at(2)?)).into_owned())
        }
        Func::Count => Value::Int(regex(str_at(0)?).map_err(calling)?.find_iter(str_at(1)?).count() as i64),
        Func::Urldecode => s(url_unescape(str_at(0)?).map_err(calling)?),
        Func::Urlencode => s(url_escape(str_at(0)?)),
        Func::Bytes => Value::Float(conv::parse_bytes(str_at(0)?).map_err(calling)? as f64),
        Func::Duration | Func::DurationSeconds => {
            Value::Float(conv::parse_duration(str_at(0)?).map_err(calling)? as f64 / 1e9)
        }
        Func::UnixEpochMillis => s((want_time(&a[0])?.unix_nanos().div_euclid(1_000_000)).to_string()),
        Func::UnixEpochNanos => s(want_time(&a[0])?.unix_nanos().to_string()),
        Func::UnixEpoch => s(want_time(&a[0])?.secs.to_string()),
        Func::ToDateInZone => Value::Time(GoTime::parse(str_at(0)?, str_at(2)?).unwrap_or(gotime::ZERO)),
        Func::ToDate => Value::Time(GoTime::parse(str_at(0)?, str_at(1)?).unwrap_or(gotime::ZERO)),
        Func::UnixToTime => {
            let e = str_at(0)?;
            let i: i64 = e.parse().map_err(|_| {
                calling(format!(
                    "unable to parse time '{e}': strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(e)
                ))
            })?;
            Value::Time(match e.len() {
                5 => GoTime { secs: i * 86400, nsec: 0 },
                10 => GoTime { secs: i, nsec: 0 },
                13 => GoTime::from_nanos(i.saturating_mul(1_000_000)),
                16 => GoTime::from_nanos(i.saturating_mul(1_000)),
                19 => GoTime::from_nanos(i),
                _ => return Err(calling(format!("unable to parse time '{e}': %!w(<nil>)"))),
            })
        }
        Func::AlignLeft | Func::AlignRight => s(align(want_int(&a[0])?, str_at(1)?, f == Func::AlignLeft)),
        Func::B64dec => s(b64dec(str_at(0)?)),
        Func::B64enc => s(b64enc(str_at(0)?.as_bytes())),
        Func::Title => s(go_title(str_at(0)?)),
        Func::Trunc => {
            let (c, x) = (want_int(&a[0])?, str_at(1)?);
            let l = x.len() as i64;
            s(if c < 0 && l + c > 0 {
                bytes_slice(x, (l + c) as usize, x.len())
            } else if c >= 0 && l > c {
                bytes_slice(x, 0, c as usize)
            } else {
                x.to_string()
            })
        }
        Func::Substr => {
            let (st, en, x) = (want_int(&a[0])?, want_int(&a[1])?, str_at(2)?);
            let l = x.len() as i64;
            let oob = |a: i64, b: i64| calling(format!("runtime error: slice bounds out of range [{a}:{b}]"));
            s(if st < 0 {
                if en < 0 || en > l {
                    return Err(oob(0, en));
                }
                bytes_slice(x, 0, en as usize)
            } else if en < 0 || en > l {
                if st > l {
                    return Err(oob(st, l));
                }
                bytes_slice(x, st as usize, x.len())
            } else {
                if st > en {
                    return Err(oob(st, en));
                }
                bytes_slice(x, st as usize, en as usize)
            })
        }
        Func::Contains => Value::Bool(str_at(1)?.contains(str_at(0)?)),
        Func::HasPrefix => Value::Bool(str_at(1)?.starts_with(str_at(0)?)),
        Func::HasSuffix => Value::Bool(str_at(1)?.ends_with(str_at(0)?)),
        Func::Indent | Func::Nindent => {
            let pad = " ".repeat(want_int(&a[0])?.max(0) as usize);
            let body = format!("{pad}{}", str_at(1)?.replace('\n', &format!("\n{pad}")));
            s(if f == Func::Nindent { format!("\n{body}") } else { body })
        }
        Func::SReplace => s(str_at(2)?.replace(str_at(0)?, str_at(1)?)),
        Func::Repeat => {
            let n = want_int(&a[0])?;
            if n < 0 {
                return Err(calling("strings: negative Repeat count".into()));
            }
            s(str_at(1)?.repeat(n as usize))
        }
        Func::Int => Value::Int(to_i64(&a[0])),
        Func::Float64 => Value::Float(to_f64(&a[0])),
        Func::Add => Value::Int(a.iter().map(to_i64).fold(0i64, i64::wrapping_add)),
        Func::Sub => Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))),
        Func::Mul => Value::Int(a[1..].iter().map(to_i64).fold(to_i64(&a[0]), i64::wrapping_mul)),
        Func::Div | Func::Mod => {
            let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
            if y == 0 {
                return Err(calling("runtime error: integer divide by zero".into()));
            }
            Value::Int(if f == Func::Div { x.wrapping_div(y) } else { x.wrapping_rem(y) })
        }
        Func::Addf | Func::Subf | Func::Mulf | Func::Divf => {
            let op = match f {
                Func::Addf => b'+',
                Func::Subf => b'-',
                Func::Mulf => b'*',
                _ => b'/',
            };
            let (first, rest) = if f == Func::Addf { (0.0, &a[..]) } else { (to_f64(&a[0]), &a[1..]) };
            Value::Float(rest.iter().fold(first, |acc, v| dec_op(acc, to_f64(v), op)))
        }
        Func::Max => Value::Int(a.iter().map(to_i64).max().unwrap_or(0)),
        Func::Min => Value::Int(a.iter().map(to_i64).min().unwrap_or(0)),
        Func::Maxf => Value::Float(a[1..].iter().map(to_f64).fold(to_f64(&a[0]), f64::max)),
        Func::Minf => Value::Float(a[1..].iter().map(to_f64).fold(to_f64(&a[0]), f64::min)),
        Func::Ceil => Value::Float(to_f64(&a[0]).ceil()),
        Func::Floor => Value::Float(to_f64(&a[0]).floor()),
        Func::Round => {
            let places = want_int(&a[1])?;
            let round_on = match a.get(2) {
                Some(Value::Float(x)) => *x,
                Some(Value::Int(x)) => *x as f64,
                Some(other) => return Err(wrong("float64", other)),
                None => 0.5,
            };
            let pow = 10f64.powf(places as f64);
            let digit = pow * to_f64(&a[0]);
            let r = if digit - digit.trunc() >= round_on { digit.ceil() } else { digit.floor() };
            Value::Float(r / pow)
        }
        Func::FromJson => from_json(str_at(0)?),
        Func::Date => {
            let t = match &a[1] {
                Value::Time(t) => *t,
                Value::Int(i) => GoTime { secs: *i, nsec: 0 },
                _ => GoTime::from_nanos(now_nanos()),
            };
            s(t.format(str_at(0)?))
        }
        Func::Now => Value::Time(GoTime::from_nanos(now_nanos())),
        Func::Default => match a.get(1) {
            Some(g) if !empty(g, env) => g.clone(),
            _ => a[0].clone(),
        },
    })
}

fn now_nanos() -> i64 {
    crate::clock::now_ns()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_conversions() {
        assert_eq!(to_i64(&Value::Str("2.0".into())), 2);
        assert_eq!(to_i64(&Value::Str("2.5".into())), 0);
        assert_eq!(to_f64(&Value::Str("x".into())), 0.0);
    }
}

//! Go `fmt.Sprintf` for the template `printf` function: verbs `v s q d b o x X c t f F e E g G`,
//! flags `- + # 0 space`, width and precision, and Go's `%!verb(type=value)` error forms.

use super::exec::{Env, Value};
use crate::query::pipeline::conv::{format_float, go_quote};

struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(out: &mut String, body: &str, sp: &Spec, numeric: bool) {
    let n = body.chars().count();
    let w = sp.width.unwrap_or(0);
    if n >= w {
        out.push_str(body);
        return;
    }
    let fill = w - n;
    if sp.minus {
        out.push_str(body);
        out.push_str(&" ".repeat(fill));
    } else if sp.zero && numeric {
        let (sign, digits) = match body.as_bytes().first() {
            Some(b'-') | Some(b'+') => body.split_at(1),
            _ => ("", body),
        };
        out.push_str(sign);
        out.push_str(&"0".repeat(fill));
        out.push_str(digits);
    } else {
        out.push_str(&" ".repeat(fill));
        out.push_str(body);
    }
}

fn exp_form(v: f64, prec: usize, upper: bool) -> String {
    let r = format!("{v:.prec$e}");
    let (m, e) = r.split_once('e').unwrap_or((&r, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

fn signed(body: String, sp: &Spec, negative: bool) -> String {
    if negative {
        body
    } else if sp.plus {
        format!("+{body}")
    } else if sp.space {
        format!(" {body}")
    } else {
        body
    }
}

fn bad(verb: char, v: &Value, env: &Env) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.type_name(), v.to_text(env)),
    }
}

fn one(verb: char, v: &Value, sp: &Spec, env: &Env, out: &mut String) {
    let body: String = match (verb, v) {
        ('v', Value::Float(f)) | ('g', Value::Float(f)) | ('G', Value::Float(f)) => {
            let s = match sp.prec {
                Some(p) => {
                    let p = p.max(1);
                    let e = if *f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
                    if e < -4 || e >= p as i32 {
                        exp_form(*f, p - 1, verb == 'G')
                    } else {
                        let s = format!("{:.*}", (p as i32 - 1 - e).max(0) as usize, f);
                        if s.contains('.') {
                            s.trim_end_matches('0').trim_end_matches('.').to_string()
                        } else {
                            s
                        }
                    }
                }
                None => format_float(*f),
            };
            signed(s, sp, *f < 0.0)
        }
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => signed(i.to_string(), sp, *i < 0),
        ('b', Value::Int(i)) => format!("{i:b}"),
        ('o', Value::Int(i)) => {
            if sp.sharp {
                format!("0{i:o}")
            } else {
                format!("{i:o}")
            }
        }
        ('x', Value::Int(i)) => {
            if sp.sharp {
                format!("0x{i:x}")
            } else {
                format!("{i:x}")
            }
        }
        ('X', Value::Int(i)) => {
            if sp.sharp {
                format!("0X{i:X}")
            } else {
                format!("{i:X}")
            }
        }
        ('c', Value::Int(i)) => char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
        ('q', Value::Int(i)) => format!("'{}'", char::from_u32(*i as u32).unwrap_or('\u{FFFD}')),
        ('f' | 'F', Value::Float(f)) => signed(format!("{:.*}", sp.prec.unwrap_or(6), f), sp, *f < 0.0),
        ('e' | 'E', Value::Float(f)) => signed(exp_form(*f, sp.prec.unwrap_or(6), verb == 'E'), sp, *f < 0.0),
        ('v' | 's', Value::Str(x)) => match sp.prec {
            Some(p) => x.chars().take(p).collect(),
            None => x.to_string(),
        },
        ('q', Value::Str(x)) => go_quote(x),
        ('x', Value::Str(x)) => x.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(x)) => x.bytes().map(|b| format!("{b:02X}")).collect(),
        ('v' | 't', Value::Bool(b)) => b.to_string(),
        ('v' | 's', Value::Time(_) | Value::Labels | Value::Map(_) | Value::List(_)) => v.to_text(env),
        ('v', Value::Nil) => "<nil>".into(),
        _ => {
            out.push_str(&bad(verb, v, env));
            return;
        }
    };
    let numeric = matches!(v, Value::Int(_) | Value::Float(_));
    pad(out, &body, sp, numeric);
}

/// Go `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value], env: &Env) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp =
            Spec { minus: false, plus: false, sharp: false, zero: false, space: false, width: None, prec: None };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                '0' => sp.zero = true,
                ' ' => sp.space = true,
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>, argi: &mut usize| -> Option<usize> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let v = match args.get(*argi) {
                    Some(Value::Int(i)) => Some((*i).max(0) as usize),
                    _ => None,
                };
                *argi += 1;
                return v;
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        sp.width = num(&mut chars, &mut argi);
        if chars.peek() == Some(&'.') {
            chars.next();
            sp.prec = Some(num(&mut chars, &mut argi).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argi) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(v) => one(verb, v, &sp, env, &mut out),
        }
        argi += 1;
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, v) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("{}={}", v.type_name(), v.to_text(env)));
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::exec::PairsData;
    use super::*;

    #[test]
    fn printf_like_go() {
        let data = PairsData(&[]);
        let env = Env { data: &data, line: "", ts: 0 };
        let f = |fmt: &str, a: &[Value]| sprintf(fmt, a, &env);
        assert_eq!(f("%s-%s", &[Value::Str("a".into()), Value::Str("b".into())]), "a-b");
        assert_eq!(f("%5.2f|%-4d|%04d", &[Value::Float(1.23456), Value::Int(7), Value::Int(-7)]), " 1.23|7   |-007");
        assert_eq!(
            f("%q %v %t", &[Value::Str("x\"y".into()), Value::Float(1e6), Value::Bool(true)]),
            r#""x\"y" 1e+06 true"#
        );
        assert_eq!(f("%d", &[Value::Str("x".into())]), "%!d(string=x)");
        assert_eq!(f("%s %s", &[Value::Str("x".into())]), "x %!s(MISSING)");
        assert_eq!(f("%s", &[Value::Str("x".into()), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            f("%x %e %.3g", &[Value::Int(255), Value::Float(1234.5), Value::Float(1.23456)]),
            "ff 1.234500e+03 1.23"
        );
    }
}

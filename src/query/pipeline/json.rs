//! A lenient, allocation-free JSON scanner with the observable behaviour of the `jsonparser`
//! library Loki uses (`ObjectEach`, `ArrayEach`, `Unescape`): values are located by delimiter
//! scanning, not validated, and errors carry that library's messages.

use std::borrow::Cow;

pub const MALFORMED_JSON: &str = "Malformed JSON error";
pub const MALFORMED_STRING: &str = "Value is string, but can't find closing '\"' symbol";
pub const MALFORMED_ARRAY: &str = "Value is array, but can't find closing ']' symbol";
pub const MALFORMED_OBJECT: &str = "Value looks like object, but can't find closing '}' symbol";
pub const UNKNOWN_VALUE_TYPE: &str = "Unknown value type";
pub const MALFORMED_STRING_ESCAPE: &str = "Encountered an invalid escape sequence in a string";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JType {
    String,
    Number,
    Boolean,
    Null,
    Array,
    Object,
}

/// Why a scan stopped early: a parse error (message), a callback's request to drop the
/// line, or the callback has all it needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    Err(&'static str),
    Drop,
    Done,
}

fn next_token(d: &[u8]) -> Option<usize> {
    d.iter().position(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
}

fn token_end(d: &[u8]) -> usize {
    d.iter().position(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | b',' | b'}' | b']')).unwrap_or(d.len())
}

/// Offset just past the closing quote of a string whose opening quote was already consumed, and
/// whether it contains escapes.
fn string_end(d: &[u8]) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &d[i..]) {
        let j = i + off;
        if d[j] == b'"' {
            if !escaped {
                return Some((j + 1, false));
            }
            let backslashes = d[..j].iter().rev().take_while(|&&c| c == b'\\').count();
            if backslashes % 2 == 0 {
                return Some((j + 1, true));
            }
        } else {
            escaped = true;
        }
        i = j + 1;
    }
    None
}

fn block_end(d: &[u8], open: u8, close: u8) -> Option<usize> {
    let mut level = 0i32;
    let mut i = 0;
    while let Some(off) = memchr::memchr3(b'"', open, close, &d[i..]) {
        i += off;
        match d[i] {
            b'"' => i += string_end(&d[i + 1..])?.0,
            c if c == open => level += 1,
            _ => {
                level -= 1;
                if level == 0 {
                    return Some(i + 1);
                }
            }
        }
        i += 1;
    }
    None
}

/// The value starting at `d[0]` (no leading whitespace): (value bytes, type, end offset).
/// String values are returned without their quotes, still escaped.
fn get_type(d: &[u8]) -> Result<(&[u8], JType, usize), &'static str> {
    match d[0] {
        b'"' => {
            let (end, _) = string_end(&d[1..]).ok_or(MALFORMED_STRING)?;
            Ok((&d[1..end], JType::String, end + 1))
        }
        b'[' => {
            let end = block_end(d, b'[', b']').ok_or(MALFORMED_ARRAY)?;
            Ok((&d[..end], JType::Array, end))
        }
        b'{' => {
            let end = block_end(d, b'{', b'}').ok_or(MALFORMED_OBJECT)?;
            Ok((&d[..end], JType::Object, end))
        }
        c => {
            let end = token_end(d);
            let v = &d[..end];
            let ty = match c {
                b't' | b'f' if v == b"true" || v == b"false" => JType::Boolean,
                b'n' if v == b"null" => JType::Null,
                b'0'..=b'9' | b'-' => JType::Number,
                _ => return Err(UNKNOWN_VALUE_TYPE),
            };
            Ok((v, ty, end))
        }
    }
}

/// `jsonparser.Get(data)` without keys: the first value in `d` and the offset past it.
pub fn get(d: &[u8]) -> Result<(&[u8], JType, usize), &'static str> {
    let start = next_token(d).ok_or(MALFORMED_JSON)?;
    let (v, ty, end) = get_type(&d[start..])?;
    Ok((v, ty, start + end))
}

/// `jsonparser.ObjectEach`: calls `f(key, value, type)` for each member of the object `d`.
pub fn object_each<'d>(d: &'d [u8], mut f: impl FnMut(&[u8], &'d [u8], JType) -> Result<(), Stop>) -> Result<(), Stop> {
    let err = |m| Err(Stop::Err(m));
    let mut off = match next_token(d) {
        Some(o) if d[o] == b'{' => o + 1,
        _ => return err(MALFORMED_OBJECT),
    };
    match next_token(&d[off..]) {
        None => return err(MALFORMED_JSON),
        Some(o) => off += o,
    }
    if d[off] == b'}' {
        return Ok(());
    }
    let mut key_buf = Vec::new();
    while off < d.len() {
        match d[off] {
            b'"' => off += 1,
            b'}' => return Ok(()),
            _ => return err(MALFORMED_OBJECT),
        }
        let Some((end, esc)) = string_end(&d[off..]) else {
            return err(MALFORMED_JSON);
        };
        let raw_key = &d[off..off + end - 1];
        off += end;
        let key: &[u8] = if esc {
            key_buf.clear();
            if !unescape_into(raw_key, &mut key_buf) {
                return err(MALFORMED_STRING_ESCAPE);
            }
            &key_buf
        } else {
            raw_key
        };
        match next_token(&d[off..]) {
            Some(o) if d[off + o] == b':' => off += o + 1,
            _ => return err(MALFORMED_JSON),
        }
        let (value, ty, consumed) = get(&d[off..]).map_err(Stop::Err)?;
        f(key, value, ty)?;
        off += consumed;
        match next_token(&d[off..]) {
            None => return err(MALFORMED_ARRAY),
            Some(o) => off += o,
        }
        match d[off] {
            b'}' => return Ok(()),
            b',' => off += 1,
            _ => return err(MALFORMED_OBJECT),
        }
        match next_token(&d[off..]) {
            None => return err(MALFORMED_ARRAY),
            Some(o) => off += o,
        }
    }
    err(MALFORMED_OBJECT)
}

/// `jsonparser.ArrayEach` (errors end the iteration): the `index`-th element of array `d`.
pub fn array_index(d: &[u8], index: usize) -> Option<(&[u8], JType)> {
    let mut off = next_token(d)?;
    if d[off] != b'[' {
        return None;
    }
    off += 1;
    off += next_token(&d[off..])?;
    if d[off] == b']' {
        return None;
    }
    let mut i = 0;
    while off < d.len() {
        let (v, ty, end) = get(&d[off..]).ok()?;
        if i == index {
            return Some((v, ty));
        }
        i += 1;
        off += end;
        off += next_token(&d[off..])?;
        match d[off] {
            b']' => return None,
            b',' => off += 1,
            _ => return None,
        }
    }
    None
}

/// One step of a `| json l="a.b[0]"` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// Finds the value at `path` (first occurrence of duplicated keys). Structural problems mean
/// "not found" (the scan is lenient); an error is reported only for an unreadable matched value.
pub fn lookup<'d>(d: &'d [u8], path: &[PathStep]) -> Result<Option<(&'d [u8], JType)>, &'static str> {
    let Some((step, rest)) = path.split_first() else {
        return Ok(None);
    };
    let start = match next_token(d) {
        Some(s) => s,
        None => return Ok(None),
    };
    let (value, ty) = match step {
        PathStep::Index(i) => match array_index(&d[start..], *i) {
            Some(found) => found,
            None => return Ok(None),
        },
        PathStep::Key(k) => {
            let mut found = None;
            let mut bad = None;
            let scan = object_each(&d[start..], |key, v, ty| {
                if key == k.as_bytes() {
                    found = Some((v, ty));
                    return Err(Stop::Drop);
                }
                Ok(())
            });
            if let Err(Stop::Err(e)) = scan {
                // A malformed value right where the key matched is reported; other damage is not.
                if found.is_none() {
                    bad = key_value_error(&d[start..], k.as_bytes(), e);
                }
            }
            if let Some(e) = bad {
                return Err(e);
            }
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        }
    };
    if rest.is_empty() {
        return Ok(Some((value, ty)));
    }
    match ty {
        JType::Object | JType::Array => lookup(value, rest),
        _ => Ok(None),
    }
}

/// Whether a scan error `e` happened while reading the value of key `k` (then it is reported).
fn key_value_error(d: &[u8], k: &[u8], e: &'static str) -> Option<&'static str> {
    let needle = [b"\"".as_slice(), k, b"\""].concat();
    let pos = memchr::memmem::find(d, &needle)?;
    let after = &d[pos + needle.len()..];
    let colon = next_token(after)?;
    if after[colon] != b':' {
        return None;
    }
    get(&after[colon + 1..]).err().map(|_| e)
}

/// Whose escape rules [`unescape_with`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Escapes {
    /// `jsonparser.Unescape` (Loki's `| json`): a broken surrogate pair is an error.
    JsonParser,
    /// Go `encoding/json` string decoding as go-logfmt uses it for quoted values: `\'` is
    /// an escape too, a bare `"` is an error, and a broken surrogate becomes U+FFFD.
    Logfmt,
}

/// `jsonparser.Unescape` into `out`; false on an invalid escape.
pub fn unescape_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    unescape_with(s, out, Escapes::JsonParser)
}

/// Unescapes the inside of a JSON-style string into `out` by `rules`; false when it is
/// invalid.
pub(super) fn unescape_with(s: &[u8], out: &mut Vec<u8>, rules: Escapes) -> bool {
    let logfmt = rules == Escapes::Logfmt;
    let mut i = 0;
    while i < s.len() {
        let next = if logfmt { memchr::memchr2(b'\\', b'"', &s[i..]) } else { memchr::memchr(b'\\', &s[i..]) };
        let Some(bs) = next else {
            out.extend_from_slice(&s[i..]);
            return true;
        };
        out.extend_from_slice(&s[i..i + bs]);
        i += bs;
        if s[i] == b'"' {
            return false;
        }
        let Some(&e) = s.get(i + 1) else { return false };
        let simple = match e {
            b'"' | b'\\' | b'/' => Some(e),
            b'\'' if logfmt => Some(e),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        if e != b'u' {
            return false;
        }
        let Some(r) = hex4(&s[i..]) else { return false };
        let (c, used) = if !(0xD800..=0xDFFF).contains(&r) {
            (char::from_u32(r), 6)
        } else if logfmt {
            match hex4(&s[i + 6..]) {
                Some(r2) if r < 0xDC00 && (0xDC00..=0xDFFF).contains(&r2) => {
                    (char::from_u32(0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)), 12)
                }
                _ => (None, 6),
            }
        } else {
            let Some(r2) = hex4(&s[i + 6..]) else {
                return false;
            };
            if r2 < 0xDC00 {
                return false;
            }
            (char::from_u32(0x10000 + ((r - 0xD800) << 10) + (r2.wrapping_sub(0xDC00))), 12)
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
        i += used;
    }
    true
}

fn hex4(s: &[u8]) -> Option<u32> {
    if s.len() < 6 || s[0] != b'\\' || s[1] != b'u' {
        return None;
    }
    let mut r = 0;
    for &c in &s[2..6] {
        r = r * 16 + (c as char).to_digit(16)?;
    }
    Some(r)
}

/// Loki's `unescapeJSONString`: unescaped text, `""` on a bad escape, U+FFFD → space.
pub fn unescape_string(s: &[u8]) -> String {
    if memchr::memchr(b'\\', s).is_none() {
        return super::labels::clean_value(s);
    }
    let mut out = Vec::with_capacity(s.len());
    if !unescape_into(s, &mut out) {
        return String::new();
    }
    super::labels::clean_value(&out)
}

/// Unescaped bytes (borrowed when there is nothing to unescape); None on a bad escape.
pub fn unescape_cow(s: &[u8]) -> Option<Cow<'_, [u8]>> {
    if memchr::memchr(b'\\', s).is_none() {
        return Some(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    unescape_into(s, &mut out).then_some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Members = Vec<(String, String, JType)>;

    fn members(d: &str) -> (Members, Result<(), Stop>) {
        let mut out = Vec::new();
        let r = object_each(d.as_bytes(), |k, v, t| {
            out.push((String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned(), t));
            Ok(())
        });
        (out, r)
    }

    #[test]
    fn object_each_like_jsonparser() {
        let (m, r) = members(r#" {"a":"x\"y", "b" : 1.5e3, "c":{"d":[1,"]"]}, "e":null, "f":true} trailing"#);
        assert_eq!(r, Ok(()));
        assert_eq!(m.len(), 5);
        assert_eq!(m[0], ("a".into(), r#"x\"y"#.into(), JType::String));
        assert_eq!(m[2].2, JType::Object);
        assert_eq!(members("{n}").1, Err(Stop::Err(MALFORMED_OBJECT)));
        assert_eq!(members("hello").1, Err(Stop::Err(MALFORMED_OBJECT)));
        assert_eq!(members(r#"{"a":"b""#).1, Err(Stop::Err(MALFORMED_ARRAY)));
        assert_eq!(members(r#"{"a":"b"#).1, Err(Stop::Err(MALFORMED_STRING)));
        assert_eq!(members(r#"{"a":xyz}"#).1, Err(Stop::Err(UNKNOWN_VALUE_TYPE)));
    }

    /// The two escape dialects differ only where their decoders do.
    #[test]
    fn escape_dialects() {
        let run = |s: &str, rules| {
            let mut out = Vec::new();
            unescape_with(s.as_bytes(), &mut out, rules).then(|| String::from_utf8(out).unwrap())
        };
        for (input, jsonparser, logfmt) in [
            (r"a\nb\u00e9", Some("a\nb\u{e9}"), Some("a\nb\u{e9}")),
            (r"it\'s", None, Some("it's")),
            (r#"a"b"#, Some(r#"a"b"#), None),
            (r"\ud83d\ude00", Some("\u{1F600}"), Some("\u{1F600}")),
            (r"\ud83dx", None, Some("\u{FFFD}x")),
            (r"\ude00", None, Some("\u{FFFD}")),
            (r"\u+123", None, None),
            (r"tail\", None, None),
        ] {
            assert_eq!(run(input, Escapes::JsonParser).as_deref(), jsonparser, "jsonparser {input}");
            assert_eq!(run(input, Escapes::Logfmt).as_deref(), logfmt, "logfmt {input}");
        }
    }

    #[test]
    fn unescape_and_lookup() {
        assert_eq!(unescape_string(br#"a\u00e9\ud83d\ude00\n"#), "aé😀\n");
        assert_eq!(unescape_string(br#"bad\q"#), "");
        let d = br#"{"req":{"method":"POST","headers":{"User-Agent":"k6"}},"servers":["a","b"],"n":null}"#;
        let k = |s: &str| PathStep::Key(s.into());
        assert_eq!(lookup(d, &[k("req"), k("method")]).unwrap(), Some((&b"POST"[..], JType::String)));
        assert_eq!(lookup(d, &[k("req"), k("headers"), k("User-Agent")]).unwrap().unwrap().0, b"k6");
        assert_eq!(lookup(d, &[k("servers"), PathStep::Index(1)]).unwrap().unwrap().0, b"b");
        assert_eq!(lookup(d, &[k("servers")]).unwrap().unwrap().0, br#"["a","b"]"#);
        assert_eq!(lookup(d, &[k("missing")]).unwrap(), None);
        assert_eq!(lookup(d, &[k("n")]).unwrap().unwrap().1, JType::Null);
    }
}

//! JSON push bodies, decoded with serde visitors straight into streams (no JSON tree).
//!
//! v1 (`/loki/api/v1/push`): `{"streams":[{"stream":{…},"values":[["<ns>","line",{…}]]}]}`,
//! like Loki's `loghttp.PushRequest`: timestamps must be strings of Unix nanoseconds,
//! `null` entries and `"values": null` are skipped, the optional third element is an object
//! of string values, extra elements and unknown keys are ignored.
//! Legacy (`/api/prom/push`): `{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":
//! "<RFC3339Nano>","line":"…","structuredMetadata":{…}}]}]}`; keys match case-insensitively
//! (Loki decodes it with jsoniter's default config) and metadata is sorted by name.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{RawLabels, RawStream};
use crate::model::{Entry, Nanos};

/// Decodes a JSON body (`legacy` selects the `/api/prom/push` shape). A top-level `null`
/// is an empty request; bytes after the first JSON value are ignored (as jsoniter does).
pub(super) fn decode(body: &[u8], legacy: bool) -> Result<Vec<RawStream>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Ok(OptionOf(Body { legacy }).deserialize(&mut de)?.unwrap_or_default())
}

struct Body {
    legacy: bool,
}

impl<'de> DeserializeSeed<'de> for Body {
    type Value = Vec<RawStream>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body {
    type Value = Vec<RawStream>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a push request object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut streams = Vec::new();
        while let Some(k) = map.next_key_seed(Field(&["streams"], true))? {
            match k {
                Some(_) => {
                    let seed = SeqOf(StreamSeed { legacy: self.legacy });
                    streams = map.next_value_seed(OptionOf(seed))?.unwrap_or_default();
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(streams)
    }
}

/// Object key → index in `.0` (`None` = ignored key); `.1` = ASCII case-insensitive.
struct Field(&'static [&'static str], bool);

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|n| if self.1 { n.eq_ignore_ascii_case(v) } else { *n == v }))
    }
}

/// `null` → `None`, anything else through the inner seed.
struct OptionOf<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for OptionOf<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for OptionOf<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// An array whose `null` elements are skipped.
struct SeqOf<S>(S);

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for SeqOf<S> {
    type Value = Vec<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for SeqOf<S> {
    type Value = Vec<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(OptionOf(self.0))? {
            if let Some(item) = item {
                out.push(item);
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
struct StreamSeed {
    legacy: bool,
}

impl<'de> DeserializeSeed<'de> for StreamSeed {
    type Value = RawStream;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StreamSeed {
    type Value = RawStream;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stream object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        if self.legacy {
            let mut labels = String::new();
            while let Some(k) = map.next_key_seed(Field(&["labels", "entries"], true))? {
                match k {
                    Some(0) => labels = map.next_value::<Option<String>>()?.unwrap_or_default(),
                    Some(_) => entries = map.next_value_seed(OptionOf(SeqOf(LegacyEntry)))?.unwrap_or_default(),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            return Ok(RawStream { labels: RawLabels::Text(labels), entries });
        }
        let mut labels = Vec::new();
        while let Some(k) = map.next_key_seed(Field(&["stream", "values"], false))? {
            match k {
                Some(0) => labels = map.next_value_seed(StringMap { label_values: true })?,
                Some(_) => entries = map.next_value_seed(OptionOf(SeqOf(V1Entry)))?.unwrap_or_default(),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawStream { labels: RawLabels::Map(labels), entries })
    }
}

/// `["<unix ns>", "line", {metadata}]`.
#[derive(Clone, Copy)]
struct V1Entry;

impl<'de> DeserializeSeed<'de> for V1Entry {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for V1Entry {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry array [\"<unix epoch nanoseconds>\", \"<log line>\", {<structured metadata>}]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut e = Entry::default();
        let Some(ts) = seq.next_element_seed(NanosString)? else { return Ok(e) };
        e.ts = ts;
        let Some(line) = seq.next_element_seed(LineString)? else { return Ok(e) };
        e.line = line;
        let Some(md) = seq.next_element_seed(StringMap { label_values: false })? else { return Ok(e) };
        e.metadata = md;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(e)
    }
}

/// A JSON string holding a decimal int64 (Unix nanoseconds); a JSON number is an error.
struct NanosString;

impl<'de> DeserializeSeed<'de> for NanosString {
    type Value = Nanos;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NanosString {
    type Value = Nanos;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string containing a Unix epoch timestamp in nanoseconds")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let digits = v.strip_prefix('-').unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format_args!("invalid timestamp {v:?}: expected Unix epoch nanoseconds")));
        }
        v.parse::<i64>()
            .map_err(|_| E::custom(format_args!("invalid timestamp {v:?}: value overflows int64 nanoseconds")))
    }
}

/// The log line: must be a JSON string.
struct LineString;

impl<'de> DeserializeSeed<'de> for LineString {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for LineString {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string log line")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(v)
    }
}

/// An object of name → value, in document order. Metadata values must be strings; stream
/// label values may also be numbers / booleans / null, which Loki keeps as their JSON text.
#[derive(Clone, Copy)]
struct StringMap {
    label_values: bool,
}

impl<'de> DeserializeSeed<'de> for StringMap {
    type Value = Vec<(String, String)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StringMap {
    type Value = Vec<(String, String)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.label_values {
            f.write_str("an object of label names to string values")
        } else {
            f.write_str("an object of structured metadata names to string values")
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
        while let Some(k) = map.next_key::<String>()? {
            let v = if self.label_values { map.next_value_seed(ScalarText)? } else { map.next_value_seed(LineString)? };
            out.push((k, v));
        }
        Ok(out)
    }
}

/// A string, or the JSON text of a number / boolean / null.
struct ScalarText;

impl<'de> DeserializeSeed<'de> for ScalarText {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string label value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok("null".to_string())
    }
}

/// Legacy `{"ts": "<RFC3339Nano>", "line": "…", "structuredMetadata": {…}}`.
#[derive(Clone, Copy)]
struct LegacyEntry;

impl<'de> DeserializeSeed<'de> for LegacyEntry {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LegacyEntry {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry object {\"ts\": \"<RFC3339>\", \"line\": \"…\"}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut e = Entry::default();
        while let Some(k) = map.next_key_seed(Field(&["ts", "line", "structuredMetadata"], true))? {
            match k {
                Some(0) => {
                    if let Some(ts) = map.next_value::<Option<String>>()? {
                        e.ts = parse_rfc3339(&ts).map_err(de::Error::custom)?;
                    }
                }
                Some(1) => e.line = map.next_value::<Option<String>>()?.unwrap_or_default(),
                Some(_) => {
                    let mut md = map.next_value_seed(OptionOf(StringMap { label_values: false }))?.unwrap_or_default();
                    md.sort_by(|a, b| a.0.cmp(&b.0));
                    md.dedup_by(|later, earlier| {
                        let same = later.0 == earlier.0;
                        if same {
                            std::mem::swap(&mut earlier.1, &mut later.1);
                        }
                        same
                    });
                    e.metadata = md;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(e)
    }
}

/// RFC 3339 with optional fraction (Go's `time.Time` JSON form) → Unix nanoseconds.
fn parse_rfc3339(s: &str) -> Result<Nanos, String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| format!("parsing time {s:?} as RFC3339: {e}"))?;
    t.timestamp_nanos_opt().ok_or_else(|| format!("parsing time {s:?}: out of the int64 nanosecond range"))
}

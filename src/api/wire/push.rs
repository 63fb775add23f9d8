//! Push request bodies: Loki's protobuf schema and the body decoder (`/loki/api/v1/push`,
//! `/api/prom/push`).
//!
//! [`decode_push_body`] follows Loki's `parsePushRequestBody`: Content-Encoding (none,
//! `snappy`, `gzip`, raw `deflate`), then by media type either JSON (v1 or legacy shape) or
//! snappy-block protobuf. Every stream's label text is parsed like `ParseLokiRequest` does
//! (one bad label set fails the whole request). Validation happens later, in `ingest`.
//!
//! The protobuf messages below mirror `proto/push.proto` by hand (no protoc, no build.rs).
//! They are used to *encode* (tests, tools); decoding goes straight into
//! [`PushStream`]s through a small hand-written reader that is lenient about invalid UTF-8
//! in lines (Loki stores such lines instead of failing the batch).

use std::io::Read;

use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};

use crate::ingest::labels::{is_plain_label_name, parse_label_set};
use crate::model::{write_go_quoted, Entry, Labels, Nanos, PushStream};

// ---- schema mirror (see proto/push.proto) --------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
    #[prost(string, tag = "2")]
    pub format: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
    #[prost(message, repeated, tag = "4")]
    pub parsed: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    pub fn from_nanos(ts: Nanos) -> Timestamp {
        Timestamp { seconds: ts.div_euclid(1_000_000_000), nanos: ts.rem_euclid(1_000_000_000) as i32 }
    }
    /// Go's `time.Unix(s, n).UnixNano()` (wrapping on overflow like Go).
    pub fn to_nanos(self) -> Nanos {
        self.seconds.wrapping_mul(1_000_000_000).wrapping_add(self.nanos as i64)
    }
}

// ---- errors ------------------------------------------------------------------------

/// Why a push body could not be decoded. Display is the plain-text response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushDecodeError {
    /// 400.
    #[error("Content-Encoding {0} not supported")]
    UnsupportedEncoding(GoQuoted),
    /// 400, Go's `mime.ParseMediaType` message (`mime: no media type`).
    #[error("{0}")]
    MediaType(String),
    /// 400: corrupt gzip / deflate / snappy data.
    #[error("{0}")]
    Decompress(String),
    /// 400: malformed protobuf.
    #[error("{0}")]
    Protobuf(String),
    /// 400: malformed JSON.
    #[error("{0}")]
    Json(String),
    /// 400: a stream's label set does not parse (the parser message follows).
    #[error("couldn't parse labels: {0}")]
    Labels(String),
    /// 413: the full message (`request body too large: …`).
    #[error("{0}")]
    TooLarge(String),
}

impl PushDecodeError {
    /// Loki's 413 for a *compressed* body over `distributor.max-recv-msg-size`, for the HTTP
    /// layer that enforces that limit while reading the body.
    pub fn body_too_large(size: usize, max: usize) -> PushDecodeError {
        PushDecodeError::TooLarge(format!("request body too large: message size too large than max ({size} vs {max})"))
    }

    fn decompressed_too_large(size: usize, max: usize) -> PushDecodeError {
        PushDecodeError::TooLarge(format!(
            "request body too large: decompressed message size too large than max ({size} vs {max})"
        ))
    }
}

/// A string shown the way Go's `%q` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoQuoted(pub String);

impl std::fmt::Display for GoQuoted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_go_quoted(f, &self.0)
    }
}

// ---- body decoding -------------------------------------------------------------------

/// Loki rejects a stream whose label text exceeds this (Prometheus' label encoder limit).
const MAX_STREAM_LABELS_SIZE: usize = 1 << 24;

/// Decodes a push body into streams (labels parsed, empty label values dropped).
///
/// `legacy` selects the `/api/prom/push` JSON shape. `max_decompressed_bytes` (0 = no
/// limit) bounds the gzip/deflate output and the snappy-decoded protobuf.
pub fn decode_push_body(
    legacy: bool,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    max_decompressed_bytes: usize,
) -> Result<Vec<PushStream>, PushDecodeError> {
    let inflated;
    let body: &[u8] = match content_encoding.unwrap_or("") {
        // snappy: the protobuf path snappy-decodes anyway (clients sometimes set it).
        "" | "snappy" => body,
        "gzip" => {
            if body.is_empty() {
                return Err(PushDecodeError::Decompress("EOF".into()));
            }
            if body.len() < 2 || body[0] != 0x1f || body[1] != 0x8b {
                return Err(PushDecodeError::Decompress("gzip: invalid header".into()));
            }
            inflated = inflate(flate2::read::MultiGzDecoder::new(body), max_decompressed_bytes)?;
            &inflated
        }
        "deflate" => {
            inflated = inflate(flate2::read::DeflateDecoder::new(body), max_decompressed_bytes)?;
            &inflated
        }
        other => return Err(PushDecodeError::UnsupportedEncoding(GoQuoted(other.to_string()))),
    };

    let media_type =
        crate::gocompat::mime::parse_media_type(content_type.unwrap_or("")).map_err(PushDecodeError::MediaType)?;
    let raw = if media_type == "application/json" {
        json::decode(body, legacy).map_err(|e| PushDecodeError::Json(e.to_string()))?
    } else {
        let len = snap::raw::decompress_len(body).map_err(|_| snappy_corrupt())?;
        if body.is_empty() {
            return Err(snappy_corrupt());
        }
        if max_decompressed_bytes > 0 && len > max_decompressed_bytes {
            return Err(PushDecodeError::decompressed_too_large(len, max_decompressed_bytes));
        }
        let decoded = snap::raw::Decoder::new().decompress_vec(body).map_err(|_| snappy_corrupt())?;
        proto::decode_request(&decoded).map_err(PushDecodeError::Protobuf)?
    };
    raw.into_iter().map(RawStream::into_push_stream).collect()
}

fn snappy_corrupt() -> PushDecodeError {
    PushDecodeError::Decompress("snappy: corrupt input".into())
}

fn inflate(reader: impl Read, max: usize) -> Result<Vec<u8>, PushDecodeError> {
    let mut out = Vec::new();
    let limit = if max == 0 { u64::MAX } else { max as u64 + 1 };
    reader.take(limit).read_to_end(&mut out).map_err(|e| {
        PushDecodeError::Decompress(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "unexpected EOF".to_string(),
            _ => format!("flate: corrupt input: {e}"),
        })
    })?;
    if max > 0 && out.len() > max {
        return Err(PushDecodeError::decompressed_too_large(out.len(), max));
    }
    Ok(out)
}

// ---- decoded streams before label parsing ------------------------------------------------

/// A stream as read from the body; labels are parsed once the whole body decoded (Loki
/// reports a body syntax error before any label error).
struct RawStream {
    labels: RawLabels,
    entries: Vec<Entry>,
}

enum RawLabels {
    /// Prometheus text form (protobuf, legacy JSON).
    Text(String),
    /// JSON v1 `stream` object, in document order.
    Map(Vec<(String, String)>),
}

impl RawStream {
    fn into_push_stream(self) -> Result<PushStream, PushDecodeError> {
        let labels = match self.labels {
            RawLabels::Text(text) => parse_text_labels(&text)?,
            RawLabels::Map(pairs) => labels_from_json_map(pairs)?,
        };
        Ok(PushStream { labels, entries: self.entries })
    }
}

fn parse_text_labels(text: &str) -> Result<Labels, PushDecodeError> {
    if text.len() > MAX_STREAM_LABELS_SIZE {
        return Err(PushDecodeError::TooLarge(format!(
            "request body too large: stream labels size {} exceeds limit of {}",
            crate::gocompat::bytes(text.len() as u64),
            crate::gocompat::bytes(MAX_STREAM_LABELS_SIZE as u64)
        )));
    }
    parse_label_set(text).map_err(PushDecodeError::Labels)
}

/// Loki renders the JSON object as `{k="v", …}` (keys sorted, last duplicate wins) and
/// re-parses it. Plain names skip the round trip; anything else takes it, so that errors
/// (`unexpected character inside braces: '.'`) are exactly Loki's.
fn labels_from_json_map(pairs: Vec<(String, String)>) -> Result<Labels, PushDecodeError> {
    let approx: usize = pairs.iter().map(|(n, v)| n.len() + v.len() + 5).sum();
    let simple =
        approx < MAX_STREAM_LABELS_SIZE && pairs.iter().all(|(n, v)| is_plain_label_name(n) && !v.contains('\u{FFFD}'));
    let mut labels = Labels::from_pairs(pairs);
    if simple {
        labels.0.retain(|(_, v)| !v.is_empty());
        return Ok(labels);
    }
    // Loki's loghttp.LabelSet.String() writes names unquoted (`%s=%q`).
    let mut text = String::from("{");
    for (i, (n, v)) in labels.0.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(n);
        text.push('=');
        let _ = crate::model::write_go_quoted(&mut text, v);
    }
    text.push('}');
    parse_text_labels(&text)
}

fn lossy_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

// ---- protobuf reader -----------------------------------------------------------------------

mod proto {
    use super::*;

    type Res<T> = Result<T, String>;

    fn err(e: prost::DecodeError) -> String {
        e.to_string()
    }

    fn bytes<'b>(buf: &mut &'b [u8]) -> Res<&'b [u8]> {
        let len = decode_varint(buf).map_err(err)?;
        if len > buf.len() as u64 {
            return Err("failed to decode Protobuf message: buffer underflow".into());
        }
        let (head, tail) = buf.split_at(len as usize);
        *buf = tail;
        Ok(head)
    }

    /// Iterates the fields of one message, handing known `(tag, wire type)` pairs to `f`
    /// (which returns false for fields it does not take) and skipping the rest.
    fn fields<'b>(mut buf: &'b [u8], mut f: impl FnMut(u32, WireType, &mut &'b [u8]) -> Res<bool>) -> Res<()> {
        while !buf.is_empty() {
            let (tag, wire) = decode_key(&mut buf).map_err(err)?;
            if !f(tag, wire, &mut buf)? {
                skip_field(wire, tag, &mut buf, DecodeContext::default()).map_err(err)?;
            }
        }
        Ok(())
    }

    fn expect(wire: WireType, want: WireType, what: &str) -> Res<()> {
        if wire != want {
            return Err(format!("failed to decode Protobuf message: wrong wire type {wire:?} for field {what}"));
        }
        Ok(())
    }

    pub(super) fn decode_request(buf: &[u8]) -> Res<Vec<RawStream>> {
        let mut streams = Vec::new();
        fields(buf, |tag, wire, buf| {
            if tag != 1 {
                return Ok(false);
            }
            expect(wire, WireType::LengthDelimited, "streams")?;
            streams.push(decode_stream(bytes(buf)?)?);
            Ok(true)
        })?;
        Ok(streams)
    }

    fn decode_stream(buf: &[u8]) -> Res<RawStream> {
        let mut labels = String::new();
        let mut entries = Vec::new();
        fields(buf, |tag, wire, buf| {
            match tag {
                1 => {
                    expect(wire, WireType::LengthDelimited, "labels")?;
                    labels = lossy_string(bytes(buf)?);
                }
                2 => {
                    expect(wire, WireType::LengthDelimited, "entries")?;
                    entries.push(decode_entry(bytes(buf)?)?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(RawStream { labels: RawLabels::Text(labels), entries })
    }

    fn decode_entry(buf: &[u8]) -> Res<Entry> {
        let mut e = Entry::default();
        fields(buf, |tag, wire, buf| {
            match tag {
                1 => {
                    expect(wire, WireType::LengthDelimited, "timestamp")?;
                    e.ts = decode_timestamp(bytes(buf)?)?;
                }
                2 => {
                    expect(wire, WireType::LengthDelimited, "line")?;
                    e.line = lossy_string(bytes(buf)?);
                }
                3 => {
                    expect(wire, WireType::LengthDelimited, "structuredMetadata")?;
                    e.metadata.push(decode_pair(bytes(buf)?)?);
                }
                _ => return Ok(false), // 4 = parsed: ignored on push
            }
            Ok(true)
        })?;
        Ok(e)
    }

    fn decode_timestamp(buf: &[u8]) -> Res<Nanos> {
        let mut ts = Timestamp::default();
        fields(buf, |tag, wire, buf| {
            match tag {
                1 => {
                    expect(wire, WireType::Varint, "seconds")?;
                    ts.seconds = decode_varint(buf).map_err(err)? as i64;
                }
                2 => {
                    expect(wire, WireType::Varint, "nanos")?;
                    ts.nanos = decode_varint(buf).map_err(err)? as i32;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(ts.to_nanos())
    }

    fn decode_pair(buf: &[u8]) -> Res<(String, String)> {
        let (mut name, mut value) = (String::new(), String::new());
        fields(buf, |tag, wire, buf| {
            match tag {
                1 => {
                    expect(wire, WireType::LengthDelimited, "name")?;
                    name = lossy_string(bytes(buf)?);
                }
                2 => {
                    expect(wire, WireType::LengthDelimited, "value")?;
                    value = lossy_string(bytes(buf)?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok((name, value))
    }
}

/// JSON bodies (v1 and legacy shapes), in `push/json.rs`.
mod json;

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use std::io::Write as _;

    /// The status `api::error` answers `e` with.
    fn status(e: &PushDecodeError) -> u16 {
        crate::api::error::ApiError::from(e.clone()).status().as_u16()
    }

    fn pb_body() -> Vec<u8> {
        let req = PushRequest {
            streams: vec![
                StreamAdapter {
                    labels: r#"{job="varlogs", host="h1", empty=""}"#.into(),
                    entries: vec![
                        EntryAdapter {
                            timestamp: Some(Timestamp::from_nanos(1_700_000_000_123_456_789)),
                            line: "first".into(),
                            structured_metadata: vec![LabelPairAdapter {
                                name: "trace_id".into(),
                                value: "abc".into(),
                            }],
                            parsed: vec![LabelPairAdapter { name: "ignored".into(), value: "x".into() }],
                        },
                        EntryAdapter {
                            timestamp: Some(Timestamp::from_nanos(-1)),
                            line: "second".into(),
                            ..Default::default()
                        },
                    ],
                    hash: 42,
                },
                StreamAdapter { labels: r#"{"service.name"="svc"}"#.into(), entries: vec![], hash: 0 },
            ],
            format: "loki".into(),
        };
        snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
    }

    fn decode(ct: Option<&str>, ce: Option<&str>, body: &[u8]) -> Result<Vec<PushStream>, PushDecodeError> {
        decode_push_body(false, ct, ce, body, 0)
    }

    #[test]
    fn protobuf_round_trip() {
        let streams = decode(Some("application/x-protobuf"), None, &pb_body()).unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].labels.to_string(), r#"{host="h1", job="varlogs"}"#);
        let e = &streams[0].entries;
        assert_eq!(e[0].ts, 1_700_000_000_123_456_789);
        assert_eq!(e[0].line, "first");
        assert_eq!(e[0].metadata, vec![("trace_id".to_string(), "abc".to_string())]);
        assert_eq!((e[1].ts, e[1].line.as_str(), e[1].metadata.len()), (-1, "second", 0));
        assert_eq!(streams[1].labels.get("service.name"), Some("svc"));
        // Same content as prost's own decoder sees.
        let raw = snap::raw::Decoder::new().decompress_vec(&pb_body()).unwrap();
        let via_prost = PushRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(via_prost.streams[0].entries[0].timestamp.unwrap().to_nanos(), e[0].ts);
        // Content-Encoding: snappy is accepted and ignored; any non-JSON type means protobuf.
        assert_eq!(decode(Some("application/octet-stream"), Some("snappy"), &pb_body()).unwrap(), streams);
    }

    #[test]
    fn protobuf_errors() {
        let e = decode(Some("application/x-protobuf"), None, b"not snappy at all").unwrap_err();
        assert_eq!((status(&e), e.to_string().as_str()), (400, "snappy: corrupt input"));
        let e = decode(Some("application/x-protobuf"), None, b"").unwrap_err();
        assert_eq!(e.to_string(), "snappy: corrupt input");
        let garbage = snap::raw::Encoder::new().compress_vec(&[0x0a, 0x05, 0x01]).unwrap();
        let e = decode(Some("application/x-protobuf"), None, &garbage).unwrap_err();
        assert!(matches!(e, PushDecodeError::Protobuf(_)), "{e:?}");
        let bad = PushRequest {
            streams: vec![StreamAdapter { labels: "{a=b}".into(), ..Default::default() }],
            format: String::new(),
        };
        let body = snap::raw::Encoder::new().compress_vec(&bad.encode_to_vec()).unwrap();
        let e = decode(Some("application/x-protobuf"), None, &body).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"couldn't parse labels: 1:4: parse error: unexpected identifier "b" in label set, expected string"#
        );
        assert_eq!(status(&e), 400);
    }

    #[test]
    fn protobuf_invalid_utf8_line_is_kept_lossily() {
        let mut raw = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{a="b"}"#.into(),
                entries: vec![EntryAdapter { line: "xy".into(), ..Default::default() }],
                hash: 0,
            }],
            format: String::new(),
        }
        .encode_to_vec();
        let at = raw.windows(2).position(|w| w == b"xy").unwrap();
        raw[at] = 0xff;
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let s = decode(Some("application/x-protobuf"), None, &body).unwrap();
        assert_eq!(s[0].entries[0].line, "\u{FFFD}y");
    }

    #[test]
    fn snappy_decompressed_limit_is_413() {
        let body = pb_body();
        let len = snap::raw::decompress_len(&body).unwrap();
        let e = decode_push_body(false, Some("application/x-protobuf"), None, &body, 10).unwrap_err();
        assert_eq!(status(&e), 413);
        assert_eq!(
            e.to_string(),
            format!("request body too large: decompressed message size too large than max ({len} vs 10)")
        );
        assert!(decode_push_body(false, Some("application/x-protobuf"), None, &body, len).is_ok());
    }

    const V1: &str = r#"{"streams":[{"stream":{"job":"app","env":"","n":5},"values":[
        ["1700000000000000000","line one"],
        null,
        ["1700000000000000001","line \"two\"\n",{"trace_id":"abc","user":"u1"},"extra"]]},
        {"stream":{"a":"b"},"values":null},{"stream":{"a":"c"}}],"other":1}"#;

    #[test]
    fn json_v1_with_metadata() {
        let s = decode(Some("application/json; charset=utf-8"), None, V1.as_bytes()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].labels.to_string(), r#"{job="app", n="5"}"#);
        assert_eq!(s[0].entries.len(), 2);
        assert_eq!(s[0].entries[0].ts, 1_700_000_000_000_000_000);
        assert_eq!(s[0].entries[1].line, "line \"two\"\n");
        let md = &s[0].entries[1].metadata;
        assert_eq!(md, &vec![("trace_id".into(), "abc".into()), ("user".into(), "u1".into())]);
        assert!(s[1].entries.is_empty() && s[2].entries.is_empty());
        assert!(decode(Some("application/json"), None, b"null").unwrap().is_empty());
    }

    #[test]
    fn json_v1_errors() {
        let err = |body: &str| decode(Some("application/json"), None, body.as_bytes()).unwrap_err();
        let e = err(r#"{"streams":[{"stream":{"a":"b"},"values":[[1700000000000000000,"x"]]}]}"#);
        assert_eq!(status(&e), 400);
        assert!(e.to_string().contains("expected a string containing a Unix epoch timestamp"), "{e}");
        let e = err(r#"{"streams":[{"stream":{"a":"b"},"values":[["12x","x"]]}]}"#);
        assert!(e.to_string().contains(r#"invalid timestamp "12x""#), "{e}");
        let e = err(r#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}"#);
        assert!(e.to_string().contains("invalid type: integer `1`"), "{e}");
        let e = err(r#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":{"n":"v"}}]]}]}"#);
        assert!(e.to_string().contains("invalid type: map"), "{e}");
        let e = err(r#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"#);
        assert!(matches!(e, PushDecodeError::Json(_)));
        let e = err(r#"{"streams":[{"stream":{"service.name":"x"},"values":[["1","x"]]}]}"#);
        assert_eq!(e.to_string(), "couldn't parse labels: 1:9: parse error: unexpected character inside braces: '.'");
        let e = err(r#"{"streams":[{"stream":{"":"x"},"values":[]}]}"#);
        assert_eq!(
            e.to_string(),
            r#"couldn't parse labels: 1:2: parse error: unexpected "=" in label set, expected identifier or "}""#
        );
    }

    #[test]
    fn legacy_json() {
        let body = r#"{"streams":[{"labels":"{app=\"foo\", x=\"\"}","entries":[
            {"ts":"2024-01-02T03:04:05.123456789Z","line":"hello","structuredMetadata":{"z":"1","a":"2"}},
            {"TS":"2024-01-02T04:04:05+01:00","Line":"again"}]}]}"#;
        let s = decode_push_body(true, Some("application/json"), None, body.as_bytes(), 0).unwrap();
        assert_eq!(s[0].labels.to_string(), r#"{app="foo"}"#);
        assert_eq!(s[0].entries[0].ts, 1_704_164_645_123_456_789);
        assert_eq!(s[0].entries[0].metadata, vec![("a".into(), "2".into()), ("z".into(), "1".into())]);
        assert_eq!((s[0].entries[1].ts, s[0].entries[1].line.as_str()), (1_704_164_645_000_000_000, "again"));
        let e = decode_push_body(
            true,
            Some("application/json"),
            None,
            br#"{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"yesterday"}]}]}"#,
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("parsing time \"yesterday\""), "{e}");
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate() {
        let plain = decode(Some("application/json"), None, V1.as_bytes()).unwrap();
        assert_eq!(decode(Some("application/json"), Some("gzip"), &gzip(V1.as_bytes())).unwrap(), plain);
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(V1.as_bytes()).unwrap();
        let deflated = enc.finish().unwrap();
        assert_eq!(decode(Some("application/json"), Some("deflate"), &deflated).unwrap(), plain);
        // gzip around snappy protobuf works too.
        assert_eq!(decode(Some("application/x-protobuf"), Some("gzip"), &gzip(&pb_body())).unwrap().len(), 2);
        // zlib-wrapped data is not raw DEFLATE.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(V1.as_bytes()).unwrap();
        let e = decode(Some("application/json"), Some("deflate"), &z.finish().unwrap()).unwrap_err();
        assert_eq!(status(&e), 400);
        let e = decode(Some("application/json"), Some("gzip"), V1.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "gzip: invalid header");
        let e = decode_push_body(false, Some("application/json"), Some("gzip"), &gzip(V1.as_bytes()), 100).unwrap_err();
        assert_eq!(status(&e), 413);
        assert_eq!(e.to_string(), "request body too large: decompressed message size too large than max (101 vs 100)");
    }

    #[test]
    fn unsupported_encoding_and_media_types() {
        let e = decode(Some("application/json"), Some("br"), b"{}").unwrap_err();
        assert_eq!((status(&e), e.to_string().as_str()), (400, r#"Content-Encoding "br" not supported"#));
        let e = decode(None, None, b"{}").unwrap_err();
        assert_eq!((status(&e), e.to_string().as_str()), (400, "mime: no media type"));
    }

    #[test]
    fn sizes_and_helpers() {
        let e = PushDecodeError::body_too_large(11, 10);
        assert_eq!(
            (status(&e), e.to_string().as_str()),
            (413, "request body too large: message size too large than max (11 vs 10)")
        );
        assert_eq!(Timestamp::from_nanos(-1), Timestamp { seconds: -1, nanos: 999_999_999 });
    }
}

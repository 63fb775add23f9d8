//! Loki's JSON result shapes, written byte for byte as Loki's Go encoder does:
//! streams (timestamps as strings), matrix/vector/scalar (numbers + string values),
//! `stats`, label lists. `<`, `>`, `&` are escaped `\u003c`… like Go's `encoding/json`.

use std::fmt::Write;

use crate::model::Labels;
use crate::query::{QueryResult, Stats, StreamResult};

/// Appends `s` as a JSON string literal with Go's HTML-safe escaping.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => None,
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

pub fn labels_obj(out: &mut String, l: &Labels) {
    pairs_obj(out, &l.0);
}

/// `{"k":"v",…}` from name/value pairs, in the given order.
pub fn pairs_obj(out: &mut String, pairs: &[(String, String)]) {
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, k);
        out.push(':');
        json_str(out, v);
    }
    out.push('}');
}

/// Go `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus's special values.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's Display is shortest round-trip and never uses exponents.
        format!("{v}")
    }
}

/// Milliseconds as a JSON number of seconds: `1700000000`, `1700000000.5`.
pub fn fmt_seconds(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        format!("{secs}")
    } else {
        let f = format!("{frac:03}");
        format!("{secs}.{}", f.trim_end_matches('0'))
    }
}

pub fn streams(out: &mut String, res: &[StreamResult], categorize: bool) {
    out.push('[');
    for (i, s) in res.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        labels_obj(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, e) in s.entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "[\"{}\",", e.ts);
            json_str(out, &e.line);
            if categorize {
                out.push_str(",{");
                let mut first = true;
                if !e.metadata.is_empty() {
                    out.push_str("\"structuredMetadata\":");
                    pairs_obj(out, &e.metadata);
                    first = false;
                }
                if !e.parsed.is_empty() {
                    if !first {
                        out.push(',');
                    }
                    out.push_str("\"parsed\":");
                    pairs_obj(out, &e.parsed);
                }
                out.push('}');
            }
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// The whole `{"status":"success","data":{…}}` body of query / query_range.
pub fn query_response(res: &QueryResult, stats: &Stats, categorize: bool) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":");
    match res {
        QueryResult::Streams(s) => {
            out.push_str("\"streams\",");
            if categorize {
                out.push_str("\"encodingFlags\":[\"categorize-labels\"],");
            }
            out.push_str("\"result\":");
            streams(&mut out, s, categorize);
        }
        QueryResult::Matrix(series) => {
            out.push_str("\"matrix\",\"result\":[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_obj(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, (ms, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "[{},\"{}\"]", fmt_seconds(*ms), fmt_value(*v));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryResult::Vector(samples) => {
            out.push_str("\"vector\",\"result\":[");
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_obj(&mut out, &s.labels);
                let _ = write!(out, ",\"value\":[{},\"{}\"]}}", fmt_seconds(s.ts_ms), fmt_value(s.value));
            }
            out.push(']');
        }
        QueryResult::Scalar(ms, v) => {
            let _ = write!(out, "\"scalar\",\"result\":[{},\"{}\"]", fmt_seconds(*ms), fmt_value(*v));
        }
    }
    out.push_str(",\"stats\":");
    stats_json(&mut out, stats);
    out.push_str("}}");
    out
}

const CACHE: &str = r#"{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0}"#;

fn store_json(out: &mut String, s: &Stats) {
    let _ = write!(
        out,
        r#"{{"totalChunksRef":{},"totalChunksDownloaded":{},"chunksDownloadTime":0,"queryReferencedStructuredMetadata":false,"queryUsedV2Engine":false,"chunk":{{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":{},"decompressedLines":{},"compressedBytes":{},"totalDuplicates":0,"postFilterLines":{},"headChunkStructuredMetadataBytes":0,"decompressedStructuredMetadataBytes":0}},"chunkRefsFetchTime":0,"congestionControlLatency":0,"pipelineWrapperFilteredLines":0}}"#,
        s.blocks_referenced,
        s.blocks_decoded,
        s.bytes_processed,
        s.lines_processed,
        s.compressed_bytes,
        s.post_filter_lines
    );
}

/// Loki's `stats` object, with lokid's real counters where they exist.
pub fn stats_json(out: &mut String, s: &Stats) {
    let secs = s.exec_seconds.max(1e-9);
    let _ = write!(
        out,
        r#"{{"summary":{{"bytesProcessedPerSecond":{},"linesProcessedPerSecond":{},"totalBytesProcessed":{},"totalLinesProcessed":{},"execTime":{},"queueTime":0,"subqueries":0,"totalEntriesReturned":{},"splits":0,"shards":0,"totalPostFilterLines":{},"totalStructuredMetadataBytesProcessed":0}},"querier":{{"store":"#,
        (s.bytes_processed as f64 / secs) as u64,
        (s.lines_processed as f64 / secs) as u64,
        s.bytes_processed,
        s.lines_processed,
        s.exec_seconds,
        s.entries_returned,
        s.post_filter_lines
    );
    store_json(out, s);
    out.push_str(
        r#"},"ingester":{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"store":"#,
    );
    store_json(out, &Stats::default());
    out.push_str(r#"},"cache":{"#);
    for (i, name) in [
        "chunk",
        "index",
        "result",
        "statsResult",
        "volumeResult",
        "seriesResult",
        "labelResult",
        "instantMetricResult",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{name}\":{CACHE}");
    }
    let _ = write!(
        out,
        r#"}},"index":{{"totalChunks":{},"postFilterChunks":{},"shardsDuration":0,"usedBloomFilters":false,"totalStreams":{},"chunkRefsLookupTime":0,"bloomFilterTime":0}}}}"#,
        s.blocks_referenced, s.blocks_decoded, s.streams
    );
}

/// `{"status":"success","data":[…]}`, omitting `data` when empty (Loki's omitempty).
pub fn string_list(items: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from("{\"status\":\"success\"");
    let mut first = true;
    for s in items {
        out.push_str(if first { ",\"data\":[" } else { "," });
        first = false;
        json_str(&mut out, &s);
    }
    if !first {
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_go() {
        let mut s = String::new();
        json_str(&mut s, "a<b>&\"\\\n\u{1}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001é""#);
    }

    #[test]
    fn numbers_format_like_loki() {
        assert_eq!(fmt_value(2.0), "2");
        assert_eq!(fmt_value(0.016666666666666666), "0.016666666666666666");
        assert_eq!(fmt_value(1e21), "1000000000000000000000");
        assert_eq!(fmt_value(f64::NAN), "NaN");
        assert_eq!(fmt_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_seconds(1_700_000_000_500), "1700000000.5");
        assert_eq!(fmt_seconds(4_000_000_000_000), "4000000000");
        assert_eq!(fmt_seconds(1_700_000_000_123), "1700000000.123");
    }

    #[test]
    fn empty_lists_omit_data() {
        assert_eq!(string_list(Vec::new()), r#"{"status":"success"}"#);
        assert_eq!(string_list(vec!["a".into()]), r#"{"status":"success","data":["a"]}"#);
    }

    #[test]
    fn categorized_values_are_triples() {
        let res = vec![StreamResult {
            labels: Labels::from_pairs(vec![("app".into(), "x".into())]),
            entries: vec![crate::query::result::ResultEntry {
                ts: 5,
                line: "l".into(),
                metadata: vec![("trace_id".into(), "t".into())],
                parsed: vec![],
            }],
        }];
        let mut s = String::new();
        streams(&mut s, &res, true);
        assert_eq!(s, r#"[{"stream":{"app":"x"},"values":[["5","l",{"structuredMetadata":{"trace_id":"t"}}]]}]"#);
    }
}

//! OTLP/HTTP log bodies (`POST /otlp/v1/logs`): decompression, protobuf or JSON, and the
//! mapping to the same [`PushStream`]s the Loki push paths produce.
//!
//! Follows Loki's `extractLogs`: Content-Encoding `gzip`, `zstd`, `lz4` (frame) or none;
//! the compressed body and the decompressed body each bounded (Loki answers 400 for both,
//! not 413); Content-Type exactly `application/x-protobuf` or `application/json`.

mod base64;
pub mod json;
pub mod mapping;
pub mod schema;

use std::io::Read;

use prost::Message;

use crate::limits::OtlpConfig;
use crate::model::{Nanos, PushStream};

pub use schema::ExportLogsServiceRequest;

/// Why an OTLP body was refused; Display is the message Loki sends (in a `google.rpc.Status`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpDecodeError {
    #[error("unsupported content encoding {0}: only gzip, lz4 and zstd are supported")]
    UnsupportedEncoding(String),
    #[error("content type: {0} is not supported")]
    UnsupportedContentType(String),
    #[error("{0}")]
    Decompress(String),
    #[error("message size too large than max ({0} vs {1})")]
    TooLarge(usize, usize),
    #[error("decompressed message size too large than max ({0} vs {1})")]
    DecompressedTooLarge(usize, usize),
    #[error("{0}")]
    Protobuf(String),
    #[error("{0}")]
    Json(String),
    /// An attribute name that has no Prometheus form.
    #[error("{0}")]
    Mapping(String),
}

/// Checks the Content-Encoding before the body is read, as Loki does.
pub fn check_encoding(content_encoding: Option<&str>) -> Result<(), OtlpDecodeError> {
    match content_encoding.unwrap_or("") {
        "" | "gzip" | "zstd" | "lz4" => Ok(()),
        other => Err(OtlpDecodeError::UnsupportedEncoding(other.to_string())),
    }
}

/// Decompresses and decodes `body` (at most `max_recv` bytes were kept of it;
/// `body_size` is how many arrived, up to `max_recv + 1`).
pub fn decode_otlp_body(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    body_size: usize,
    max_recv: usize,
    max_decompressed: usize,
) -> Result<ExportLogsServiceRequest, OtlpDecodeError> {
    check_encoding(content_encoding)?;
    let limit = max_decompressed as u64 + 1;
    let inflated;
    let buf: &[u8] = match content_encoding.unwrap_or("") {
        "gzip" => {
            if body.is_empty() {
                return Err(OtlpDecodeError::Decompress("EOF".into()));
            }
            if body.len() < 2 || body[0] != 0x1f || body[1] != 0x8b {
                return Err(OtlpDecodeError::Decompress("gzip: invalid header".into()));
            }
            inflated = read_all(flate2::read::MultiGzDecoder::new(body), limit)?;
            &inflated
        }
        "zstd" => {
            let d = zstd::stream::read::Decoder::new(body).map_err(|e| OtlpDecodeError::Decompress(e.to_string()))?;
            inflated = read_all(d, limit)?;
            &inflated
        }
        "lz4" => {
            inflated = read_all(lz4_flex::frame::FrameDecoder::new(body), limit)?;
            &inflated
        }
        _ => body,
    };
    if body_size > max_recv {
        return Err(OtlpDecodeError::TooLarge(body_size, max_recv));
    }
    if buf.len() > max_decompressed {
        return Err(OtlpDecodeError::DecompressedTooLarge(buf.len(), max_decompressed));
    }
    match content_type.unwrap_or("") {
        "application/x-protobuf" => {
            ExportLogsServiceRequest::decode(buf).map_err(|e| OtlpDecodeError::Protobuf(protobuf_message(e)))
        }
        "application/json" => json::decode(buf).map_err(OtlpDecodeError::Json),
        other => Err(OtlpDecodeError::UnsupportedContentType(other.to_string())),
    }
}

/// Decodes and maps in one step: what the handler calls.
#[allow(clippy::too_many_arguments)]
pub fn decode_otlp_streams(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    body_size: usize,
    max_recv: usize,
    max_decompressed: usize,
    cfg: &OtlpConfig,
    discover_service_name: &[String],
    now: Nanos,
) -> Result<Vec<PushStream>, OtlpDecodeError> {
    let req = decode_otlp_body(content_type, content_encoding, body, body_size, max_recv, max_decompressed)?;
    mapping::to_push_streams(req, cfg, discover_service_name, now).map_err(OtlpDecodeError::Mapping)
}

fn read_all(r: impl Read, limit: u64) -> Result<Vec<u8>, OtlpDecodeError> {
    let mut out = Vec::new();
    r.take(limit).read_to_end(&mut out).map_err(|e| OtlpDecodeError::Decompress(e.to_string()))?;
    Ok(out)
}

fn protobuf_message(e: prost::DecodeError) -> String {
    format!("proto: {}", e.to_string().trim_start_matches("failed to decode Protobuf message: "))
}

/// The body of an OTLP/HTTP error response: a `google.rpc.Status` with code 0 (Loki
/// leaves the code out; the HTTP status carries it).
pub fn status_body(message: &str) -> Vec<u8> {
    schema::Status { code: 0, message: message.to_string() }.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn encodings_types_and_sizes() {
        let pb = "application/x-protobuf";
        let msg = ExportLogsServiceRequest::default().encode_to_vec();
        assert!(decode_otlp_body(Some(pb), None, &msg, msg.len(), 100, 100).is_ok());
        let z = gz(br#"{"resourceLogs":[]}"#);
        assert!(decode_otlp_body(Some("application/json"), Some("gzip"), &z, z.len(), 100, 100).is_ok());
        let zs = zstd::encode_all(&br#"{"resourceLogs":[]}"#[..], 1).unwrap();
        assert!(decode_otlp_body(Some("application/json"), Some("zstd"), &zs, zs.len(), 100, 100).is_ok());
        let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
        std::io::Write::write_all(&mut lz, b"{}").unwrap();
        let lz = lz.finish().unwrap();
        assert!(decode_otlp_body(Some("application/json"), Some("lz4"), &lz, lz.len(), 100, 100).is_ok());

        let e = |ct: Option<&str>, ce: Option<&str>, b: &[u8], size: usize, max: usize, maxd: usize| {
            decode_otlp_body(ct, ce, b, size, max, maxd).unwrap_err().to_string()
        };
        assert_eq!(
            e(Some(pb), Some("br"), b"", 0, 9, 9),
            "unsupported content encoding br: only gzip, lz4 and zstd are supported"
        );
        assert_eq!(e(Some("text/plain"), None, b"", 0, 9, 9), "content type: text/plain is not supported");
        assert_eq!(e(Some(pb), Some("gzip"), b"xx", 2, 9, 9), "gzip: invalid header");
        assert_eq!(e(Some(pb), None, b"0123456789", 10, 9, 99), "message size too large than max (10 vs 9)");
        let big = gz(&[b' '; 200]);
        assert_eq!(
            e(Some("application/json"), Some("gzip"), &big, big.len(), 1000, 50),
            "decompressed message size too large than max (51 vs 50)"
        );
        assert!(e(Some(pb), None, b"\x0a\x05ab", 4, 9, 9).starts_with("proto: "));
        assert_eq!(status_body("x"), vec![0x12, 1, b'x']);
    }
}

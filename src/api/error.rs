//! `ApiError`: every layer's error converges here, and one `match` picks Loki's status
//! code. Bodies are plain text, as Loki writes them.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::wire::push::PushDecodeError;
use crate::ingest::IngestError;
use crate::logql::ParseError;
use crate::query::QueryError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A request Loki refuses (400), with its text.
    #[error(transparent)]
    Invalid(#[from] super::invalid::Invalid),
    #[error("no org id")]
    NoOrgId,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed")]
    Timeout,
    /// The request body did not arrive within `server.http_server_read_timeout`.
    #[error("request body not received within {0}")]
    ReadTimeout(String),
    /// Loki's 499: the client went away.
    #[error("the request was cancelled by the client")]
    Cancelled,
    /// Transient server trouble (full disk…): 503 so that Promtail retries.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    /// `format_query`'s answer to a query that does not parse: 400 with Loki's
    /// `{"status":"invalid-query","error":…}` body.
    #[error("{0}")]
    InvalidQuery(String),
    /// `GET /ready` while shutting down.
    #[error("Application is stopping\n")]
    Stopping,
    /// A path no route serves: Go's `http.NotFound`, as Loki answers.
    #[error("404 page not found\n")]
    NoRoute,
    /// An error of the OTLP endpoint: the inner error's status (503 for a 500), with a
    /// protobuf `google.rpc.Status` body as OTLP/HTTP specifies.
    #[error("{0}")]
    Otlp(Box<ApiError>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NoOrgId => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::ReadTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Cancelled => StatusCode::from_u16(499).expect("valid status"),
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Otlp(inner) => match inner.status() {
                StatusCode::INTERNAL_SERVER_ERROR => StatusCode::SERVICE_UNAVAILABLE,
                other => other,
            },
        }
    }

    /// Wraps `e` for the OTLP endpoint (idempotent).
    pub fn otlp(e: ApiError) -> ApiError {
        match e {
            ApiError::Otlp(_) => e,
            other => ApiError::Otlp(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, ApiError::Stopping) {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
        }
        if let ApiError::InvalidQuery(m) = &self {
            let mut out = String::from("{\"status\":\"invalid-query\",\"error\":");
            super::wire::response::json_str(&mut out, m);
            out.push('}');
            let mut r = super::json_response(out);
            *r.status_mut() = status;
            return r;
        }
        if let ApiError::Otlp(inner) = &self {
            let body = super::wire::otlp::status_body(&inner.to_string());
            return (status, [(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
        }
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.to_string()).into_response()
    }
}

impl From<PushDecodeError> for ApiError {
    fn from(e: PushDecodeError) -> Self {
        match e {
            PushDecodeError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSpace(_) => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Unsupported(_)
            | QueryError::BadRegex(_)
            | QueryError::Pipeline(_)
            | QueryError::IpOperation
            | QueryError::LineTemplate(_)
            | QueryError::LabelTemplate { .. }
            | QueryError::FormatsErrorLabel(_)
            | QueryError::LabelFormattedTwice(_)
            | QueryError::Expression { .. }
            | QueryError::ExtractedLabelName(_)
            | QueryError::DuplicateExtractedLabel(_)
            | QueryError::NoNamedCapture
            | QueryError::SeriesError { .. }
            | QueryError::SeriesLimit { .. }
            | QueryError::MemoryBudget { .. }
            | QueryError::VolumeSeriesLimit { .. } => ApiError::BadRequest(e.to_string()),
            QueryError::Timeout => ApiError::Timeout,
            QueryError::Cancelled => ApiError::Cancelled,
            QueryError::ManyToMany { .. }
            | QueryError::ManyToOneNotExplicit
            | QueryError::GroupingNotUnique
            | QueryError::LiteralNotVector
            | QueryError::Internal(_) => ApiError::Internal(e.to_string()),
            QueryError::Store(s) => s.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("internal error: task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (status, content type, body) of an error's response.
    fn answer(e: ApiError) -> (u16, String, String) {
        let r = e.into_response();
        let status = r.status().as_u16();
        let ct = r.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let body = rt.block_on(axum::body::to_bytes(r.into_body(), 1 << 20)).unwrap();
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn the_answers_loki_gives_outside_the_query_errors() {
        let (status, ct, body) = answer(ApiError::InvalidQuery("parse error at line 1, col 1".into()));
        assert_eq!(
            (status, body.as_str()),
            (400, r#"{"status":"invalid-query","error":"parse error at line 1, col 1"}"#)
        );
        assert!(ct.starts_with("application/json"), "{ct}");
        let text = "text/plain; charset=utf-8".to_string();
        assert_eq!(answer(ApiError::Stopping), (503, text.clone(), "Application is stopping\n".into()));
        assert_eq!(answer(ApiError::NoRoute), (404, text.clone(), "404 page not found\n".into()));
        let too_large = PushDecodeError::body_too_large(11, 10);
        let (status, _, body) = answer(too_large.into());
        assert_eq!(
            (status, body.as_str()),
            (413, "request body too large: message size too large than max (11 vs 10)")
        );
        assert_eq!(answer(PushDecodeError::Json("bad".into()).into()), (400, text, "bad".into()));
    }
}

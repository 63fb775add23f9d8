//! `ApiError`: every layer's error converges here, and one `match` picks Loki's status
//! code. Bodies are plain text, as Loki writes them.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ingest::IngestError;
use crate::logql::ParseError;
use crate::query::QueryError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
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
    /// An error of the OTLP endpoint: the inner error's status (503 for a 500), with a
    /// protobuf `google.rpc.Status` body as OTLP/HTTP specifies.
    #[error("{0}")]
    Otlp(Box<ApiError>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
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
        if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
        }
        if let ApiError::Otlp(inner) = &self {
            let body = super::wire::otlp::status_body(&inner.to_string());
            return (status, [(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
        }
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.to_string()).into_response()
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
            QueryError::Unsupported(_) | QueryError::BadRegex(_) | QueryError::Pipeline(_) | QueryError::Limit(_) => {
                ApiError::BadRequest(e.to_string())
            }
            QueryError::Timeout => ApiError::Timeout,
            QueryError::Cancelled => ApiError::Cancelled,
            QueryError::Execution(m) => ApiError::Internal(m),
            QueryError::Store(s) => s.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("internal error: task failed: {e}"))
    }
}

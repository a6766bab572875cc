//! Request bodies of `POST /graphql`: what kind a body is, reading it within its cap and
//! deadline, and a JSON body as one GraphQL request or a batch.

use std::time::Duration;

use async_graphql::BatchRequest;
use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};

use super::respond::{ResponseType, request_error};
use crate::error::code;

/// How a POST body carries its operation, judged by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyKind {
    Json,
    Multipart,
    Other,
}

pub(super) fn body_kind(headers: &HeaderMap) -> BodyKind {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/json" | "application/graphql-response+json" => BodyKind::Json,
        "multipart/form-data" => BodyKind::Multipart,
        _ => BodyKind::Other,
    }
}

/// Whether a multipart request carries a header no HTML form can set, the convention of
/// Apollo's clients and upload links: it proves a script sent it, which CORS then governs.
pub(super) fn has_preflight_header(headers: &HeaderMap) -> bool {
    ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| {
            headers
                .get(*name)
                .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
        })
}

/// Reads a JSON body as one GraphQL request (an object) or a batch (a non-empty array of
/// them), checking each member's type as the GraphQL-over-HTTP specification says.
///
/// # Errors
/// A message saying what is wrong with the body.
pub fn parse_body(body: &[u8]) -> Result<BatchRequest, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("The body is not valid JSON: {e}"))?;
    let check = |item: &serde_json::Value| -> Result<(), String> {
        let obj = item
            .as_object()
            .ok_or("A GraphQL request must be a JSON object")?;
        let is = |key: &str, ok: fn(&serde_json::Value) -> bool| obj.get(key).is_none_or(ok);
        if !obj.get("query").is_some_and(serde_json::Value::is_string) {
            return Err("`query` must be a string holding the GraphQL document".into());
        }
        if !is("operationName", |v| v.is_string() || v.is_null()) {
            return Err("`operationName` must be a string or null".into());
        }
        if !is("variables", |v| v.is_object() || v.is_null()) {
            return Err("`variables` must be an object or null".into());
        }
        if !is("extensions", |v| v.is_object() || v.is_null()) {
            return Err("`extensions` must be an object or null".into());
        }
        Ok(())
    };
    match &value {
        serde_json::Value::Array(items) if items.is_empty() => {
            return Err("A batch must hold at least one request".into());
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(check)?,
        item => check(item)?,
    }
    serde_json::from_value(value).map_err(|e| format!("Not a GraphQL request: {e}"))
}

/// Why a request body could not be had.
pub(super) enum BodyError {
    TooLarge(usize),
    TimedOut,
    Unreadable,
}

/// Reads a body of at most `limit` bytes within `deadline`: a declared length over the
/// limit is refused before a byte is read, and a client that sends too slowly is cut off.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                BodyError::TooLarge(limit)
            } else {
                BodyError::Unreadable
            })
        }
    }
}

pub(super) fn body_error(rt: ResponseType, err: BodyError) -> Response {
    let (status, message) = match err {
        BodyError::TooLarge(limit) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {limit} bytes"),
        ),
        BodyError::TimedOut => (
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time".to_owned(),
        ),
        BodyError::Unreadable => (
            StatusCode::BAD_REQUEST,
            "The request body could not be read".to_owned(),
        ),
    };
    let mut res = request_error(status, rt, code::GRAPHQL_PARSE_FAILED, &message);
    // The rest of the body is never read: the connection cannot carry another request.
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

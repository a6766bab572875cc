//! GraphQL answers over HTTP: the two media types a response can be sent as (negotiated
//! from `Accept`), request errors with their status codes, and the headers every answer
//! carries.

use async_graphql::BatchResponse;
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// The two media types a GraphQL response can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/graphql-response+json`: request errors get a 4xx status.
    GraphqlResponseJson,
    /// `application/json`: the legacy type, always 200 for a well-formed request.
    Json,
}

impl ResponseType {
    /// Picks the response type from an `Accept` header, by quality then order.
    ///
    /// A client that lists neither type (or `*/*`, or no header at all) gets
    /// `application/json`, which every GraphQL client understands.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Json;
        };
        let mut best: Option<(f32, Self)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let candidate = match media.as_str() {
                "application/graphql-response+json" => Self::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => Self::Json,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, candidate));
            }
        }
        best.map_or(Self::Json, |(_, t)| t)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }
}

pub(super) fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A response that is only a request error: `{"errors":[…]}` with no `data`.
pub(super) fn request_error(
    status: StatusCode,
    rt: ResponseType,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut res = (status, body.to_string()).into_response();
    graphql_headers(&mut res, rt);
    res
}

/// GraphQL answers carry tokens and personal data: never cached by anyone.
pub(super) fn graphql_headers(res: &mut Response, rt: ResponseType) {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, rt.content_type());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Whether a response failed before execution began (no field was resolved).
fn is_request_error(r: &async_graphql::Response) -> bool {
    !r.errors.is_empty()
        && r.data == async_graphql::Value::Null
        && r.errors.iter().all(|e| e.path.is_empty())
}

fn single_body(r: &async_graphql::Response) -> serde_json::Value {
    let mut value = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    // A request error has no `data` entry at all (GraphQL spec, "Response Format").
    if is_request_error(r)
        && let Some(obj) = value.as_object_mut()
    {
        obj.remove("data");
    }
    value
}

pub(super) fn respond(rt: ResponseType, batch: BatchResponse) -> Response {
    let (status, body) = match &batch {
        BatchResponse::Single(r) => {
            let status = if rt == ResponseType::GraphqlResponseJson && is_request_error(r) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, single_body(r))
        }
        BatchResponse::Batch(items) => (
            StatusCode::OK,
            serde_json::Value::Array(items.iter().map(single_body).collect()),
        ),
    };
    let mut res = (status, body.to_string()).into_response();
    graphql_headers(&mut res, rt);
    res
}

#[cfg(test)]
mod tests {
    use super::ResponseType::{self, GraphqlResponseJson, Json};

    #[test]
    fn negotiation_follows_the_accept_header() {
        let n = |a| ResponseType::negotiate(Some(a));
        assert_eq!(ResponseType::negotiate(None), Json);
        assert_eq!(n("application/json"), Json);
        assert_eq!(n("application/graphql-response+json"), GraphqlResponseJson);
        assert_eq!(
            n("application/graphql-response+json, application/json;q=0.9"),
            GraphqlResponseJson
        );
        assert_eq!(
            n("application/graphql-response+json;q=0.5, application/json"),
            Json
        );
        assert_eq!(n("*/*"), Json);
        assert_eq!(n("text/html"), Json);
        assert_eq!(n("application/graphql-response+json;q=0, */*"), Json);
    }
}

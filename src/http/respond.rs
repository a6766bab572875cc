//! GraphQL answers over HTTP: the two media types a response can be sent as (negotiated
//! from `Accept`), request errors with their status codes, and the headers every answer
//! carries.

use async_graphql::BatchResponse;
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::ser::{Serialize, SerializeMap, Serializer};
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

/// A GraphQL value written with the keys of every object in sorted order, as a
/// `serde_json::Value` (a sorted map) writes them, without building that copy first.
struct Sorted<'a>(&'a async_graphql::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use async_graphql::Value;
        match self.0 {
            Value::Object(fields) => {
                let mut entries: Vec<_> = fields.iter().collect();
                entries.sort_unstable_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (name, value) in entries {
                    map.serialize_entry(name.as_str(), &Sorted(value))?;
                }
                map.end()
            }
            Value::List(items) => serializer.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(serializer),
        }
    }
}

/// The body of one answer. An answer with data only (the common case) is written
/// directly; any other goes through a `serde_json::Value`. Both write the same bytes.
fn single_bytes(r: &async_graphql::Response) -> Vec<u8> {
    if r.errors.is_empty() && r.extensions.is_empty() {
        let mut out = Vec::with_capacity(256);
        let mut serializer = serde_json::Serializer::new(&mut out);
        let written = serializer.serialize_map(Some(1)).and_then(|mut map| {
            map.serialize_entry("data", &Sorted(&r.data))?;
            map.end()
        });
        if written.is_ok() {
            return out;
        }
    }
    single_body(r).to_string().into_bytes()
}

pub(super) fn respond(rt: ResponseType, batch: BatchResponse) -> Response {
    let (status, body) = match &batch {
        BatchResponse::Single(r) => {
            let status = if rt == ResponseType::GraphqlResponseJson && is_request_error(r) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, single_bytes(r))
        }
        BatchResponse::Batch(items) => (
            StatusCode::OK,
            serde_json::Value::Array(items.iter().map(single_body).collect())
                .to_string()
                .into_bytes(),
        ),
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    // Room for every header the answer will carry (these two, the request id and the
    // security headers), so the map is allocated once.
    res.headers_mut().reserve(12);
    graphql_headers(&mut res, rt);
    // Headers the resolvers set (the refresh cookie of cookie mode), in operation order.
    let answers = match &batch {
        BatchResponse::Single(r) => std::slice::from_ref(r),
        BatchResponse::Batch(items) => items.as_slice(),
    };
    for answer in answers {
        for (name, value) in &answer.http_headers {
            res.headers_mut().append(name, value.clone());
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::ResponseType::{self, GraphqlResponseJson, Json};

    #[test]
    fn an_answer_is_written_as_its_json_value_would_be() {
        use async_graphql::{Name, Value};
        let mut inner = async_graphql::indexmap::IndexMap::new();
        inner.insert(Name::new("zeta"), Value::from("a \"quoted\" é"));
        inner.insert(Name::new("alpha"), Value::from(1.5));
        inner.insert(Name::new("Mid"), Value::Null);
        inner.insert(
            Name::new("list"),
            Value::List(vec![Value::from(true), Value::from(-3)]),
        );
        let mut data = async_graphql::indexmap::IndexMap::new();
        data.insert(Name::new("me"), Value::Object(inner));
        data.insert(Name::new("another"), Value::from("x"));
        let answer = async_graphql::Response::new(Value::Object(data));
        let direct = String::from_utf8(super::single_bytes(&answer)).unwrap();
        assert_eq!(direct, super::single_body(&answer).to_string());
        assert!(direct.starts_with(r#"{"data":{"another":"x","me":{"Mid":null,"alpha":1.5,"#));
    }

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

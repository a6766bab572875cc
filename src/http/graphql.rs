//! GraphQL over HTTP at `/graphql`, following the GraphQL-over-HTTP specification.
//!
//! The transport is a thin handler over async-graphql's `http` helpers rather than
//! async-graphql-axum's extractor, because authql must decide what that extractor does not:
//! which content types may carry an operation, content negotiation of the response
//! (`application/json` for clients that ask for it), status codes for request errors, and
//! which operations GET may run.

use std::{net::SocketAddr, time::Duration};

use async_graphql::{
    BatchRequest, BatchResponse, Request as GqlRequest,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    Extension,
    body::{Body, Bytes},
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tracing::Instrument as _;

use super::{
    HttpState, admission::TimedOut, client, graphiql, request_id::RequestIdExt,
    serve::ConnectionHold,
};
use crate::{
    domain::ClientKey,
    error::{INTERNAL_MESSAGE, code},
    graphql::{
        RequestId,
        context::RequestContext,
        document::{self, DocumentLimits},
        limits::PreParsed,
    },
    service::sessions::ClientInfo,
};

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

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A response that is only a request error: `{"errors":[…]}` with no `data`.
fn request_error(status: StatusCode, rt: ResponseType, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut res = (status, body.to_string()).into_response();
    graphql_headers(&mut res, rt);
    res
}

/// GraphQL answers carry tokens and personal data: never cached by anyone.
fn graphql_headers(res: &mut Response, rt: ResponseType) {
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

fn respond(rt: ResponseType, batch: BatchResponse) -> Response {
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

/// Attaches what the resolvers need to know about the HTTP request to one operation.
async fn attach(
    http: &HttpState,
    request: GqlRequest,
    id: &RequestId,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> GqlRequest {
    let context = RequestContext::new(client.clone(), client::bearer(&http.state, headers).await);
    request.data(id.clone()).data(context)
}

/// The client of a request: as the rate middleware found it, or worked out here.
fn client_of(
    http: &HttpState,
    known: Option<Extension<ClientInfo>>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> ClientInfo {
    known.map_or_else(
        || client::client_info(&http.state, Some(peer), headers),
        |Extension(client)| client,
    )
}

/// How a POST body carries its operation, judged by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Multipart,
    Other,
}

fn body_kind(headers: &HeaderMap) -> BodyKind {
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
fn has_preflight_header(headers: &HeaderMap) -> bool {
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
enum BodyError {
    TooLarge(usize),
    TimedOut,
    Unreadable,
}

/// Reads a body of at most `limit` bytes within `deadline`: a declared length over the
/// limit is refused before a byte is read, and a client that sends too slowly is cut off.
async fn read_body(
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

fn body_error(rt: ResponseType, err: BodyError) -> Response {
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

/// `POST /graphql` with a JSON body: one operation, or a batch (a JSON array); or a
/// GraphQL multipart request (uploads), which has a larger cap of its own.
pub async fn post(
    State(http): State<HttpState>,
    request_id: RequestIdExt,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    hold: Option<Extension<ConnectionHold>>,
    known: Option<Extension<ClientInfo>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let rt = ResponseType::negotiate(accept(&headers));
    let limits = &http.state.settings.http;
    let kind = body_kind(&headers);
    let limit = match kind {
        BodyKind::Json => limits.max_json_bytes,
        BodyKind::Multipart if has_preflight_header(&headers) => limits.max_body_bytes,
        BodyKind::Multipart => {
            return request_error(
                StatusCode::BAD_REQUEST,
                rt,
                code::GRAPHQL_PARSE_FAILED,
                "A multipart request needs a non-empty `apollo-require-preflight` (or \
                 `x-apollo-operation-name`) header",
            );
        }
        BodyKind::Other => {
            return request_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                rt,
                code::GRAPHQL_PARSE_FAILED,
                "Content-Type must be application/json (or multipart/form-data for uploads)",
            );
        }
    };
    let body = match read_body(&headers, body, limit, limits.body_timeout).await {
        Ok(body) => body,
        Err(err) => return body_error(rt, err),
    };
    let parsed = match kind {
        BodyKind::Multipart => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            super::multipart::read(content_type, body, limits.max_json_bytes).await
        }
        _ => parse_body(&body)
            .map_err(|message| (StatusCode::BAD_REQUEST, code::GRAPHQL_PARSE_FAILED, message)),
    };
    let batch = match parsed {
        Ok(BatchRequest::Batch(items)) if items.len() > http.state.settings.graphql.max_batch => {
            let message = format!(
                "A batch may hold at most {} operations",
                http.state.settings.graphql.max_batch
            );
            return request_error(
                StatusCode::BAD_REQUEST,
                rt,
                code::GRAPHQL_VALIDATION_FAILED,
                &message,
            );
        }
        Ok(batch) => batch,
        Err((status, code, message)) => return request_error(status, rt, code, &message),
    };
    let client = client_of(&http, known, peer, &headers);
    let batch = match batch {
        BatchRequest::Single(r) => {
            BatchRequest::Single(attach(&http, r, &request_id.0, &client, &headers).await)
        }
        BatchRequest::Batch(items) => {
            let mut attached = Vec::with_capacity(items.len());
            for r in items {
                attached.push(attach(&http, r, &request_id.0, &client, &headers).await);
            }
            BatchRequest::Batch(attached)
        }
    };
    run_to_completion(&http, rt, &request_id.0.0, client.key(), batch, hold).await
}

/// The answer to an operation whose client's turn did not come in time.
fn busy() -> async_graphql::Response {
    let mut err = async_graphql::ServerError::new(
        "Too many operations from this client at once; try again in 1 s",
        None,
    );
    let extensions = err.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code::RATE_LIMITED);
    extensions.set("retryAfter", 1);
    crate::metrics::throttled("client_operations");
    async_graphql::Response::from_errors(vec![err])
}

/// Runs the operations in a task of their own, so that they finish even when the client
/// goes away mid-request: a mutation is never cut off between the statements of its
/// transaction. (A request future dropped while `BEGIN` is in flight can otherwise hand its
/// connection back to the pool still inside a transaction, holding row locks that every
/// later login would wait on.)
///
/// The connection's places under the connection caps (`hold`) stay taken until the task
/// ends, so a client that sends and disconnects cannot pile up work beyond its cap.
async fn run_to_completion(
    http: &HttpState,
    rt: ResponseType,
    request_id: &str,
    client: ClientKey,
    batch: BatchRequest,
    hold: Option<Extension<ConnectionHold>>,
) -> Response {
    let (schema, admission) = (http.schema.clone(), http.admission.clone());
    let run = move |request: GqlRequest| {
        let (schema, admission, client) = (schema.clone(), admission.clone(), client.clone());
        async move {
            match admission.enter(&client).await {
                Ok(_running) => schema.execute(request).await,
                Err(TimedOut) => busy(),
            }
        }
    };
    let task = tokio::spawn(
        async move {
            // A batch's operations run one after another, each in its client's turn: one
            // client takes one share of the runtime and the database pool, however many
            // connections and operations it sends.
            let answer = match batch {
                BatchRequest::Single(request) => BatchResponse::Single(run(request).await),
                BatchRequest::Batch(requests) => {
                    let mut answers = Vec::with_capacity(requests.len());
                    for request in requests {
                        answers.push(run(request).await);
                    }
                    BatchResponse::Batch(answers)
                }
            };
            drop(hold);
            answer
        }
        .in_current_span(),
    );
    match task.await {
        Ok(answer) => respond(rt, answer),
        Err(err) => {
            tracing::error!(error = %err, "the operation did not finish");
            let body = json!({ "errors": [{
                "message": INTERNAL_MESSAGE,
                "extensions": { "code": code::INTERNAL_SERVER_ERROR, "requestId": request_id },
            }] });
            let mut res = (StatusCode::INTERNAL_SERVER_ERROR, body.to_string()).into_response();
            graphql_headers(&mut res, rt);
            res
        }
    }
}

/// `GET /graphql`: runs the query in the URL, or shows GraphiQL to a browser that asks for
/// the bare page.
pub async fn get(
    State(http): State<HttpState>,
    request_id: RequestIdExt,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    hold: Option<Extension<ConnectionHold>>,
    known: Option<Extension<ClientInfo>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rt = ResponseType::negotiate(accept(&headers));
    let raw = raw.unwrap_or_default();
    let max = http.state.settings.http.max_json_bytes;
    if raw.len() > max {
        return request_error(
            StatusCode::URI_TOO_LONG,
            rt,
            code::GRAPHQL_PARSE_FAILED,
            &format!("The query string is longer than {max} bytes; send a POST"),
        );
    }
    let request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) if !r.query.is_empty() => r,
        _ if wants_html(&headers) => return graphiql::page().await,
        _ => {
            return request_error(
                StatusCode::BAD_REQUEST,
                rt,
                code::GRAPHQL_PARSE_FAILED,
                "GET /graphql needs a `query` parameter (and optionally `variables` as JSON \
                 and `operationName`)",
            );
        }
    };
    // Parsed here, through the one guarded parse, to see what it would run; the executor
    // then uses this document instead of parsing it again.
    let limits = DocumentLimits::from(&http.state.settings.graphql);
    let doc = match document::parse(&request.query, &limits) {
        Ok(doc) => doc,
        Err(refused) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                rt,
                refused.code(),
                &refused.to_string(),
            );
        }
    };
    if is_mutation(&doc, request.operation_name.as_deref()) {
        let mut res = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            rt,
            code::GRAPHQL_VALIDATION_FAILED,
            "Mutations must be sent with POST",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return res;
    }
    let mut request = request.data(PreParsed);
    request.set_parsed_query(doc);
    let client = client_of(&http, known, peer, &headers);
    let request = attach(&http, request, &request_id.0, &client, &headers).await;
    run_to_completion(
        &http,
        rt,
        &request_id.0.0,
        client.key(),
        BatchRequest::Single(request),
        hold,
    )
    .await
}

/// Whether the operation a GET would run is a mutation (GET must never change anything, so
/// that a link or an `<img>` cannot act on a user's behalf).
fn is_mutation(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let is_mut = |ty: OperationType| ty == OperationType::Mutation;
    match &doc.operations {
        DocumentOperations::Single(op) => is_mut(op.node.ty),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name).is_some_and(|op| is_mut(op.node.ty)),
            None => ops.values().any(|op| is_mut(op.node.ty)),
        },
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    accept(headers).is_some_and(|a| a.contains("text/html"))
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

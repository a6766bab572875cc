//! GraphQL over HTTP at `/graphql`, following the GraphQL-over-HTTP specification.
//!
//! The transport is a thin handler over async-graphql's `http` helpers rather than
//! async-graphql-axum's extractor, because authql must decide what that extractor does not:
//! which content types may carry an operation, content negotiation of the response
//! (`application/json` for clients that ask for it), status codes for request errors, and
//! which operations GET may run.

use std::{net::SocketAddr, sync::Arc};

use async_graphql::{
    BatchRequest, BatchResponse, Request as GqlRequest,
    parser::types::{ExecutableDocument, OperationType},
};
use axum::{
    Extension,
    extract::{ConnectInfo, RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tracing::Instrument as _;

use super::{
    HttpState,
    admission::TimedOut,
    body::{BodyKind, body_error, body_kind, has_preflight_header, parse_body, read_body},
    client,
    cookie::Refused,
    graphiql,
    request_id::RequestIdExt,
    respond::{ResponseType, accept, graphql_headers, request_error, respond},
    serve::ConnectionHold,
};
use crate::{
    domain::ClientKey,
    error::{INTERNAL_MESSAGE, code},
    graphql::{
        RequestId,
        context::RequestContext,
        cookie::CookieMode,
        document::{self, DocumentLimits},
        limits::PreParsed,
    },
    service::sessions::ClientInfo,
};

/// Attaches what the resolvers need to know about the HTTP request to one operation.
async fn attach(
    http: &HttpState,
    request: GqlRequest,
    id: &RequestId,
    client: &ClientInfo,
    headers: &HeaderMap,
    cookie: Option<&CookieMode>,
) -> GqlRequest {
    let context = RequestContext::new(
        client.clone(),
        client::bearer(&http.state, headers).await,
        cookie.cloned(),
    );
    request.data(id.clone()).data(context)
}

/// The answer to a request that asked for cookie mode and may not have it.
fn refuse_cookie_mode(rt: ResponseType, refused: Refused) -> Response {
    request_error(refused.status(), rt, code::FORBIDDEN, refused.message())
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

/// `POST /graphql` with a JSON body: one operation, or a batch (a JSON array); or a
/// GraphQL multipart request (uploads), which has a larger cap of its own.
pub async fn post(
    State(http): State<Arc<HttpState>>,
    request_id: RequestIdExt,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    hold: Option<Extension<ConnectionHold>>,
    known: Option<Extension<ClientInfo>>,
    request: Request,
) -> Response {
    // The headers taken out of the request, not copied (as the `HeaderMap` extractor does).
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let rt = ResponseType::negotiate(accept(&headers));
    let cookie = match http.cookie.admit(&headers) {
        Ok(cookie) => cookie,
        Err(refused) => return refuse_cookie_mode(rt, refused),
    };
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
        BatchRequest::Single(r) => BatchRequest::Single(
            attach(&http, r, &request_id.0, &client, &headers, cookie.as_ref()).await,
        ),
        BatchRequest::Batch(items) => {
            let mut attached = Vec::with_capacity(items.len());
            for r in items {
                let r = attach(&http, r, &request_id.0, &client, &headers, cookie.as_ref());
                attached.push(r.await);
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
    State(http): State<Arc<HttpState>>,
    request_id: RequestIdExt,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    hold: Option<Extension<ConnectionHold>>,
    known: Option<Extension<ClientInfo>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rt = ResponseType::negotiate(accept(&headers));
    let cookie = match http.cookie.admit(&headers) {
        Ok(cookie) => cookie,
        Err(refused) => return refuse_cookie_mode(rt, refused),
    };
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
    let request = attach(
        &http,
        request,
        &request_id.0,
        &client,
        &headers,
        cookie.as_ref(),
    )
    .await;
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
    document::operation_type(doc, operation_name) == Some(OperationType::Mutation)
}

fn wants_html(headers: &HeaderMap) -> bool {
    accept(headers).is_some_and(|a| a.contains("text/html"))
}

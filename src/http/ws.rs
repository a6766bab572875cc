//! `GET /graphql/ws`: the `sessionEvents` subscription over WebSocket, in the
//! graphql-transport-ws protocol that async-graphql-axum's `GraphQLWebSocket` speaks.
//!
//! authql's own handler wraps it (rather than mounting `GraphQLSubscription` as is) to add
//! what a public endpoint needs and that service leaves out:
//! - an `Origin` check as for cookie mode, so no other website can open a connection with
//!   a user's cookie (cross-site WebSocket hijacking);
//! - authentication in `connection_init` (the access token, or in cookie mode the refresh
//!   cookie of the upgrade request), which must come within a third of `WS_IDLE_TIMEOUT`;
//! - caps: connections in all (`WS_MAX_CONNECTIONS`, plus the HTTP connection caps, whose
//!   places a connection keeps), per client address (`WS_MAX_CONNECTIONS_PER_IP`), per
//!   user (`WS_MAX_PER_USER`), message size
//!   (`WS_MAX_MESSAGE_BYTES`), operations per connection ([`MAX_OPERATIONS`]), and only
//!   subscriptions (queries and mutations belong to `POST /graphql`, with its limits);
//! - liveness: a ping every third of `WS_IDLE_TIMEOUT`, and the connection closed when
//!   nothing (not even the pong) arrives for the whole of it;
//! - the connection closed (4401) once its session has ended and the event was sent.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Data, Executor, Request as GqlRequest, Response as GqlResponse, ServerError,
    parser::types::OperationType,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Extension,
    extract::{
        ConnectInfo, FromRequestParts, Request, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt, stream::BoxStream};
use serde_json::json;
use tokio::{sync::OwnedSemaphorePermit, time::Instant};

use super::{
    HttpState,
    request_id::RequestIdExt,
    serve::{AddressSlot, ConnectionHold},
};
use crate::{
    auth::opaque_token::OpaqueToken,
    error::code,
    graphql::{
        AuthqlSchema, RequestId,
        document::{self, DocumentLimits},
        limits::{OverWebSocket, PreParsed},
        subscription::SessionFeed,
    },
    service::session_events::{self, Watcher},
    state::AppState,
};

/// The one sub-protocol offered.
const PROTOCOL: &str = "graphql-transport-ws";

/// Operations one connection may have running at once.
pub const MAX_OPERATIONS: usize = 4;

/// Messages (WebSocket pings included) a client may send in a window before its connection
/// is closed (4429): enough for `connection_init`, a few subscriptions and keep-alive pings.
const MAX_MESSAGES: u32 = 20;
const MESSAGE_WINDOW: Duration = Duration::from_secs(10);

/// Longest a client may take to send `connection_init` (or a third of `WS_IDLE_TIMEOUT`).
const MAX_INIT_WAIT: Duration = Duration::from_secs(10);

/// Longest an answer the client does not read may pile up before the connection ends.
const MAX_WRITE_BUFFER: usize = 64 * 1024;

/// Close codes of the protocol (and this one's own).
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
const CLOSE_IDLE: u16 = 4409;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_MANY: u16 = 4429;
const TOO_MANY: (u16, &str) = (CLOSE_TOO_MANY, "Too many messages");

/// The upgrade of `GET /graphql/ws`.
pub async fn upgrade(
    State(http): State<Arc<HttpState>>,
    request_id: RequestIdExt,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    hold: Option<Extension<ConnectionHold>>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let offered = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| list.split(',').any(|p| p.trim() == PROTOCOL));
    if !offered {
        return refusal(
            StatusCode::BAD_REQUEST,
            "Open a WebSocket with the graphql-transport-ws sub-protocol",
        );
    }
    let cookie = match http.cookie.websocket(&parts.headers) {
        Ok(cookie) => cookie,
        Err(refused) => return refusal(refused.status(), refused.message()),
    };
    let client = super::client::client_info(&http.state, Some(peer), &parts.headers).key();
    let per_client = http.state.settings.http.ws_max_connections_per_ip;
    let Some(client_slot) = http.ws_clients.take_key(client, per_client) else {
        crate::metrics::connection_dropped("ws_per_client");
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many live connections from this address",
        );
    };
    let Ok(permit) = http.ws_slots.clone().try_acquire_owned() else {
        crate::metrics::connection_dropped("ws_total");
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many live connections; try again later",
        );
    };
    // Only the sub-protocol authql speaks is picked.
    parts.headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(PROTOCOL),
    );
    let (protocol, upgrade) = match (
        GraphQLProtocol::from_request_parts(&mut parts, &()).await,
        WebSocketUpgrade::from_request_parts(&mut parts, &()).await,
    ) {
        (Ok(protocol), Ok(upgrade)) => (protocol, upgrade),
        (_, Err(rejection)) => return rejection.into_response(),
        (Err(status), _) => return refusal(status, "Unknown sub-protocol"),
    };
    let settings = &http.state.settings.http;
    let connection = Connection {
        state: http.state.clone(),
        schema: http.schema.clone(),
        limits: DocumentLimits::from(&http.state.settings.graphql),
        request_id: request_id.0.clone(),
        cookie,
        idle: settings.ws_idle_timeout,
        closing: http.closing.clone(),
        _permit: permit,
        _client: client_slot,
        _hold: hold.map(|Extension(hold)| hold),
    };
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(settings.ws_max_message_bytes)
        .max_frame_size(settings.ws_max_message_bytes)
        // Every message is written at once (they are few and small), and what a client
        // leaves unread may pile up to MAX_WRITE_BUFFER.
        .write_buffer_size(0)
        .read_buffer_size(4096)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| connection.serve(socket, protocol))
}

fn refusal(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::FORBIDDEN => code::FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE => code::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS => code::RATE_LIMITED,
        _ => code::GRAPHQL_PARSE_FAILED,
    };
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// One live connection and what it holds until it closes.
struct Connection {
    state: AppState,
    schema: AuthqlSchema,
    limits: DocumentLimits,
    request_id: RequestId,
    /// The refresh cookie of the upgrade request, when it came from a trusted origin.
    cookie: Option<OpaqueToken>,
    idle: Duration,
    closing: tokio::sync::watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    _client: AddressSlot,
    /// Its places under the HTTP connection caps.
    _hold: Option<ConnectionHold>,
}

/// The watch of the connection's session, once `connection_init` authenticated it.
#[derive(Default)]
struct SignedIn {
    watcher: Mutex<Option<Watcher>>,
    /// Wakes the watchdog when `watcher` is set.
    now: tokio::sync::Notify,
}

type Signed = Arc<SignedIn>;

/// What the watchdog learns from the client's side: when it last heard anything (a pong
/// included), and whether it sent more messages than allowed.
struct Inbound {
    started: Instant,
    heard_ms: AtomicU64,
    /// The current window's start (milliseconds since `started`) and its messages.
    window: Mutex<(u64, u32)>,
    flooded: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl Inbound {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            heard_ms: AtomicU64::new(0),
            window: Mutex::new((0, 0)),
            flooded: std::sync::atomic::AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn heard(&self, message: &Message) {
        let now = millis(self.started.elapsed());
        self.heard_ms.store(now, Ordering::Release);
        // A ping costs an answer as a message does; a pong answers the server's own ping.
        if !matches!(
            message,
            Message::Text(_) | Message::Binary(_) | Message::Ping(_)
        ) {
            return;
        }
        let mut window = lock(&self.window);
        if now.saturating_sub(window.0) >= millis(MESSAGE_WINDOW) {
            *window = (now, 0);
        }
        window.1 += 1;
        if window.1 > MAX_MESSAGES {
            self.flooded.store(true, Ordering::Release);
            self.wake.notify_one();
        }
    }

    fn flooded(&self) -> bool {
        self.flooded.load(Ordering::Acquire)
    }

    fn silent(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(Duration::from_millis(self.heard_ms.load(Ordering::Acquire)))
    }
}

/// The sending half of the socket, shared by the protocol and the pings.
type Outgoing = Arc<tokio::sync::Mutex<futures_util::stream::SplitSink<WebSocket, Message>>>;

impl Connection {
    async fn serve(self, socket: WebSocket, protocol: GraphQLProtocol) {
        let inbound = Arc::new(Inbound::new());
        let (sink, stream) = socket.split();
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        // No message past the cap reaches the protocol, whatever else the client packed
        // into the same read; its close frame still ends the connection.
        let mut stream = {
            let (heard, cap) = (inbound.clone(), inbound.clone());
            stream
                .inspect(move |message| {
                    if let Ok(message) = message {
                        heard.heard(message);
                    }
                })
                .filter(move |message| {
                    let closing = matches!(message, Ok(Message::Close(_)));
                    std::future::ready(closing || !cap.flooded())
                })
        };
        // A client that stops reading cannot hold an answer (and the socket) forever.
        let patience = self.idle / 3;
        let out =
            futures_util::sink::unfold(sink.clone(), move |sink, message: Message| async move {
                let message = fitting_close(message);
                tokio::time::timeout(patience, async { sink.lock().await.send(message).await })
                    .await
                    .map_err(axum::Error::new)??;
                Ok::<_, axum::Error>(sink)
            });
        let signed: Signed = Arc::default();
        let executor = LiveOnly {
            schema: self.schema.clone(),
            limits: self.limits,
            running: Arc::default(),
        };
        let init = {
            let (state, cookie, signed) = (self.state.clone(), self.cookie.clone(), signed.clone());
            move |payload: serde_json::Value| sign_in(state, payload, cookie, signed)
        };
        // The protocol reads through a borrow: once it is done, the closing handshake is
        // read here.
        let graphql = GraphQLWebSocket::new_with_pair(out, &mut stream, executor, protocol)
            .with_data({
                let mut data = Data::default();
                data.insert(self.request_id.clone());
                data
            })
            .on_connection_init(init)
            .serve();
        let mut closing = self.closing.clone();
        let close = tokio::select! {
            () = graphql => inbound.flooded().then_some(TOO_MANY),
            close = self.watchdog(&inbound, &signed, &sink) => Some(close),
            _ = closing.wait_for(|c| *c) => Some((CLOSE_GOING_AWAY, "The server is stopping")),
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let closing = async {
                sink.lock().await.send(Message::Close(Some(frame))).await?;
                // The client's close frame (or its going away) ends the connection.
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
                Ok::<_, axum::Error>(())
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
        }
    }

    /// Completes with the close code and reason when the connection must end: its session
    /// ended, it did not sign in in time, it went silent or stopped reading, or it sent too
    /// much. Pings it meanwhile.
    async fn watchdog(
        &self,
        inbound: &Inbound,
        signed: &Signed,
        sink: &Outgoing,
    ) -> (u16, &'static str) {
        let every = self.idle / 3;
        let init_wait = every.min(MAX_INIT_WAIT);
        let mut ended: Option<tokio::sync::watch::Receiver<_>> = None;
        let mut next_ping = Instant::now() + every;
        loop {
            if inbound.flooded() {
                return TOO_MANY;
            }
            if ended.is_none() {
                ended = lock(&signed.watcher).as_ref().map(|w| w.ended.clone());
            }
            if ended.is_none() && inbound.started.elapsed() >= init_wait {
                return (CLOSE_INIT_TIMEOUT, "Connection initialisation timeout");
            }
            if inbound.silent() >= self.idle {
                return (CLOSE_IDLE, "Nothing heard for too long");
            }
            let tick = tokio::time::sleep_until(next_ping.min(Instant::now() + every / 4));
            let session_ended = match &mut ended {
                Some(rx) => tokio::select! {
                    // (A closed channel without an end cannot happen while the watch is held.)
                    found = rx.wait_for(Option::is_some) => { drop(found); true }
                    () = inbound.wake.notified() => false,
                    () = tick => false,
                },
                None => {
                    tokio::select! {
                        () = signed.now.notified() => {}
                        () = inbound.wake.notified() => {}
                        () = tick => {}
                    }
                    false
                }
            };
            if session_ended {
                // The subscription sends its event; then the connection closes.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return (CLOSE_UNAUTHORIZED, "The session has ended");
            }
            if Instant::now() >= next_ping {
                next_ping = Instant::now() + every;
                // A client that does not read cannot stall the watchdog: the ping waits a
                // moment at most (a busy sink is the protocol's, bounded by its own wait).
                if let Ok(mut sink) = sink.try_lock() {
                    let ping = sink.send(Message::Ping(Vec::new().into()));
                    if tokio::time::timeout(every.min(Duration::from_secs(5)), ping)
                        .await
                        .is_err()
                    {
                        return (CLOSE_IDLE, "Not reading");
                    }
                }
            }
        }
    }
}

/// The longest close reason a control frame can carry (RFC 6455 5.5: 125 bytes of payload,
/// two of them the code).
const MAX_CLOSE_REASON: usize = 123;

/// `message`, with a close reason cut to what a close frame may carry. The protocol closes
/// on a malformed message with the parser's error, which can quote the client's input at
/// any length; sent whole, the frame would be invalid.
fn fitting_close(message: Message) -> Message {
    match message {
        Message::Close(Some(CloseFrame { code, reason })) if reason.len() > MAX_CLOSE_REASON => {
            let mut end = MAX_CLOSE_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            Message::Close(Some(CloseFrame {
                code,
                reason: reason.as_str()[..end].into(),
            }))
        }
        other => other,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `connection_init`: signs the connection in and starts watching its session.
async fn sign_in(
    state: AppState,
    payload: serde_json::Value,
    cookie: Option<OpaqueToken>,
    signed: Signed,
) -> async_graphql::Result<Data> {
    let bearer = payload.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.as_str())
            .map(str::trim)
    });
    let access = match bearer {
        Some(value) => match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            _ => return Err("authorization must be \"Bearer <accessToken>\"".into()),
        },
        None => None,
    };
    let subject = session_events::authenticate(&state, access, cookie.as_ref())
        .await
        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
    let watcher = state
        .session_watch
        .watch(&state, subject)
        .map_err(|_| async_graphql::Error::new("Too many live connections for this user"))?;
    let feed = SessionFeed(watcher.ended.clone());
    *lock(&signed.watcher) = Some(watcher);
    signed.now.notify_one();
    let mut data = Data::default();
    data.insert(feed);
    Ok(data)
}

/// The schema as a WebSocket runs it: subscriptions only, each document through the same
/// guarded parse as over HTTP, at most [`MAX_OPERATIONS`] at once.
#[derive(Clone)]
struct LiveOnly {
    schema: AuthqlSchema,
    limits: DocumentLimits,
    running: Arc<AtomicUsize>,
}

fn refused(code: &str, message: &str) -> GqlResponse {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    GqlResponse::from_errors(vec![err])
}

/// One running operation of a connection, counted until its stream is dropped.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Executor for LiveOnly {
    fn execute(&self, _request: GqlRequest) -> impl Future<Output = GqlResponse> + Send {
        std::future::ready(refused(
            code::GRAPHQL_VALIDATION_FAILED,
            "Only subscriptions run over WebSocket",
        ))
    }

    fn execute_stream(
        &self,
        request: GqlRequest,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GqlResponse> {
        let one = |answer| futures_util::stream::once(std::future::ready(answer)).boxed();
        let doc = match document::parse(&request.query, &self.limits) {
            Ok(doc) => doc,
            Err(refusal) => return one(refused(refusal.code(), &refusal.to_string())),
        };
        let ty = document::operation_type(&doc, request.operation_name.as_deref());
        if ty != Some(OperationType::Subscription) {
            return one(refused(
                code::GRAPHQL_VALIDATION_FAILED,
                "Only subscriptions run over WebSocket; send queries and mutations to \
                 POST /graphql",
            ));
        }
        if self.running.fetch_add(1, Ordering::AcqRel) >= MAX_OPERATIONS {
            self.running.fetch_sub(1, Ordering::AcqRel);
            return one(refused(
                code::RATE_LIMITED,
                "Too many operations on this connection",
            ));
        }
        let running = Running(self.running.clone());
        let mut request = request.data(PreParsed).data(OverWebSocket);
        request.set_parsed_query(doc);
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |answer| {
                let _counted = &running;
                answer
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reason_of(message: &Message) -> &str {
        match message {
            Message::Close(Some(frame)) => frame.reason.as_str(),
            other => panic!("not a close frame: {other:?}"),
        }
    }

    proptest! {
        #[test]
        fn a_close_reason_is_cut_to_a_valid_frame_at_a_character_boundary(
            reason in "(.|é|€|😀){0,200}", code in 1000_u16..5000,
        ) {
            let frame = CloseFrame { code, reason: reason.as_str().into() };
            let sent = fitting_close(Message::Close(Some(frame)));
            let cut = reason_of(&sent);
            prop_assert!(cut.len() <= MAX_CLOSE_REASON);
            prop_assert!(reason.starts_with(cut));
            if reason.len() <= MAX_CLOSE_REASON {
                prop_assert_eq!(cut, reason.as_str());
            } else {
                // As much as fits: the next character would not.
                let next = reason[cut.len()..].chars().next().unwrap();
                prop_assert!(cut.len() + next.len_utf8() > MAX_CLOSE_REASON);
            }
            let Message::Close(Some(frame)) = sent else { unreachable!() };
            prop_assert_eq!(frame.code, code);
        }
    }

    #[test]
    fn other_messages_pass_unchanged() {
        let text = Message::Text("x".repeat(1000).into());
        assert_eq!(fitting_close(text.clone()), text);
        assert_eq!(fitting_close(Message::Close(None)), Message::Close(None));
    }
}

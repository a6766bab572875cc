//! The server loop: accepts connections up to a cap in all and a cap per client address,
//! and closes a connection whose client takes too long to send a request's line and
//! headers (`HTTP_HEADER_TIMEOUT`) or leaves it idle between requests
//! (`HTTP_IDLE_TIMEOUT`). Bodies have a deadline of their own (`HTTP_BODY_TIMEOUT`), kept
//! by the handler that reads them. A slow client is dropped; the rest are served.
//!
//! Each connection has a watchdog that knows which phase it is in, each with its limit:
//! waiting for a request's headers (from the connection's start, or from the first byte
//! after an idle spell: `HTTP_HEADER_TIMEOUT`), serving a request (from the moment its
//! headers are parsed until its answer is written: `HTTP_REQUEST_TIMEOUT`, which also ends
//! a client that stops reading its answers), or idle (after an answer:
//! `HTTP_IDLE_TIMEOUT`). A socket that will not take more of an answer for
//! `HTTP_REQUEST_TIMEOUT` (a client that stops reading) ends the connection too.
//!
//! A connection's places under both caps are held until the work it started is done: an
//! operation runs to its end when its client goes away (see `graphql::run_to_completion`),
//! and it counts against its client until then, so a client that sends and disconnects
//! cannot pile up work beyond its connection cap.

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore},
    time::Instant,
};
use tower::ServiceExt as _;

use crate::domain::{ClientKey, cidr::Cidr};

/// What one connection, and one client's connections, may take.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Largest request line and headers (a GET query string is in the line).
    pub max_head_bytes: usize,
    /// Proxies carry many clients' connections: no per-address cap for them.
    pub trusted_proxies: Vec<Cidr>,
}

const WAITING_FOR_HEADERS: u8 = 0;
const SERVING: u8 = 1;
const IDLE: u8 = 2;

/// Where a connection is in its life, and since when.
struct Activity {
    epoch: Instant,
    phase: AtomicU8,
    since_ms: AtomicU64,
    /// Since when the socket has refused to take more of an answer (milliseconds since
    /// `epoch`, plus one; 0 while writes go through): a client that stops reading.
    stalled_ms: AtomicU64,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            phase: AtomicU8::new(WAITING_FOR_HEADERS),
            since_ms: AtomicU64::new(0),
            stalled_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn set(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Release);
        self.phase.store(phase, Ordering::Release);
        self.changed.notify_one();
    }

    /// A write went through (`true`) or had to wait for the client (`false`).
    fn wrote(&self, through: bool) {
        if through {
            self.stalled_ms.store(0, Ordering::Release);
        } else if self.stalled_ms.load(Ordering::Acquire) == 0 {
            self.stalled_ms.store(self.now_ms() + 1, Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// Completes when the phase has lasted longer than its limit.
    async fn overstayed(&self, limits: &ConnectionLimits) {
        loop {
            let changed = self.changed.notified();
            let phase = self.phase.load(Ordering::Acquire);
            let since = Duration::from_millis(self.since_ms.load(Ordering::Acquire));
            let limit = match phase {
                WAITING_FOR_HEADERS => limits.header_timeout,
                IDLE => limits.idle_timeout,
                _ => limits.request_timeout,
            };
            let mut deadline = self.epoch + since + limit;
            // An answer the client does not take is as slow as a request it does not send.
            let stalled = self.stalled_ms.load(Ordering::Acquire);
            if stalled > 0 {
                let stalled = self.epoch + Duration::from_millis(stalled - 1);
                deadline = deadline.min(stalled + limits.request_timeout);
            }
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = changed => {}
            }
        }
    }
}

/// The socket, telling the watchdog when an idle connection starts sending again.
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before && self.activity.phase.load(Ordering::Acquire) == IDLE {
            self.activity.set(WAITING_FOR_HEADERS);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.activity.wrote(polled.is_ready());
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);

        self.activity.wrote(polled.is_ready());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// A response body that marks the connection idle once it has been sent (or dropped).
struct Answer {
    body: Body,
    activity: Arc<Activity>,
    done: bool,
}

impl Answer {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.activity.set(IDLE);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.finish();
    }
}

impl hyper::body::Body for Answer {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's places under the global and the per-address cap, taken until the
/// connection and every operation it started are done. Handlers that run work on past
/// their request (a spawned operation) keep a clone.
#[derive(Clone)]
pub struct ConnectionHold {
    _places: Arc<Places>,
}

/// Released when dropped.
struct Places {
    _global: tokio::sync::OwnedSemaphorePermit,
    _address: Option<AddressSlot>,
}

/// Open connections per client (the socket's address here; the client address behind
/// trusted proxies for live connections, `ws.rs`).
#[derive(Default)]
pub struct PerAddress(Mutex<HashMap<ClientKey, usize>>);

/// One connection counted against its client until dropped.
pub struct AddressSlot {
    counts: Arc<PerAddress>,
    key: ClientKey,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        self.take_key(ClientKey::of(Some(ip)), max)
    }

    /// A place for one more connection of `key`, unless it has `max` already.
    pub fn take_key(self: &Arc<Self>, key: ClientKey, max: usize) -> Option<AddressSlot> {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = counts.entry(key.clone()).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            counts: self.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` completes, then lets open connections finish
/// their current request (callers bound how long they wait for this future).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog keeps the header and idle timeouts; hyper's own timer (which would cut
    // idle connections at the header timeout) stays off.
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(limits.max_head_bytes.max(8 * 1024));
    let mut stop = std::pin::pin!(stop);
    loop {
        // At the cap, new connections wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut stop => break,
        };
        let Ok(slot) = slot else { break };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was taken.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let ip = peer.ip().to_canonical();
        let address_slot = if limits.trusted_proxies.iter().any(|c| c.contains(ip)) {
            None
        } else {
            match per_address.take(ip, limits.max_connections_per_ip) {
                Some(taken) => Some(taken),
                None => {
                    crate::metrics::connection_dropped("per_ip");
                    tracing::debug!(%ip, "connection refused: too many from this address");
                    continue;
                }
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let hold = ConnectionHold {
            _places: Arc::new(Places {
                _global: slot,
                _address: address_slot,
            }),
        };
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            tcp,
            activity: activity.clone(),
        });
        let service = {
            let (serving, answered) = (activity.clone(), activity.clone());
            let held = hold.clone();
            app.clone()
                .map_request(move |mut req: hyper::Request<Incoming>| {
                    serving.set(SERVING);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.extensions_mut().insert(held.clone());
                    req
                })
                .map_response(move |res: axum::response::Response| {
                    res.map(|body| Answer {
                        body,
                        activity: answered.clone(),
                        done: false,
                    })
                })
        };
        // With upgrades: a WebSocket (`/graphql/ws`) leaves this loop once upgraded, and
        // keeps the connection's places (`hold`) itself.
        let conn = http
            .serve_connection(io, TowerToHyperService::new(service))
            .with_upgrades();
        let limits = limits.clone();
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut finishing = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    () = activity.overstayed(&limits) => {
                        crate::metrics::connection_dropped("timeout");
                        tracing::debug!(%peer, "connection closed: too slow or idle too long");
                        break;
                    }
                    _ = stopping.changed(), if !finishing => {
                        // The request in flight is answered; the connection then closes.
                        finishing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(stopping);
            drop(hold);
        });
    }
    // Every connection's task holds a receiver: they are all done when none is left.
    drop(stopping_rx);
    stopping_tx.send_replace(true);
    stopping_tx.closed().await;
}

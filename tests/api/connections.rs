//! Connections: a client too slow with its headers or its body, or idle too long, is
//! dropped within its timeout while the others are served; open connections are capped in
//! all and per client address.

use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::harness::{
    TestApp, each_backend_alone, each_backend_with, eventually::eventually_every,
};

fn addr(app: &TestApp) -> SocketAddr {
    app.base_url.trim_start_matches("http://").parse().unwrap()
}

/// A raw connection to the service from `from` (any 127.0.0.0/8 address is this host).
async fn connect_from(app: &TestApp, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket.connect(addr(app)).await.unwrap()
}

/// Reads until the server closes the connection (or `within` passes); returns what it sent
/// and how long it took, `None` if it was still open.
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => {
                return Some((
                    String::from_utf8_lossy(&got).into_owned(),
                    started.elapsed(),
                ));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One answer read off a kept-alive connection (its headers, and a body of
/// `Content-Length` bytes).
async fn read_answer(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return text;
            }
        }
    }
}

/// `GET /healthz` on a raw connection, and its answer.
async fn health_on(conn: &mut TcpStream) -> String {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_answer(conn).await
}

async fn served(app: &TestApp) {
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
}

const TIMEOUTS: [(&str, &str); 3] = [
    ("HTTP_HEADER_TIMEOUT", "1s"),
    ("HTTP_BODY_TIMEOUT", "1s"),
    ("HTTP_IDLE_TIMEOUT", "3s"),
];

#[tokio::test]
async fn a_silent_client_is_dropped_at_the_header_timeout_while_others_are_served() {
    each_backend_with(&TIMEOUTS, |app| async move {
        let mut silent = connect_from(&app, [127, 0, 0, 1]).await;
        served(&app).await;
        let (sent, after) = read_until_closed(&mut silent, Duration::from_secs(5))
            .await
            .expect("closed");
        assert!(sent.is_empty(), "{sent}");
        assert!(after >= Duration::from_millis(800), "{after:?}");
        served(&app).await;
    })
    .await;
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_dropped_at_the_header_timeout() {
    each_backend_with(&TIMEOUTS, |app| async move {
        let conn = connect_from(&app, [127, 0, 0, 1]).await;
        let (mut reader, mut writer) = conn.into_split();
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let trickle = tokio::spawn(async move {
            let mut sent = 0;
            for byte in request {
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
                sent += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            sent
        });
        served(&app).await;
        let started = Instant::now();
        let mut buf = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "{closed:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let sent = trickle.await.unwrap();
        assert!(
            sent < request.len(),
            "the whole request got through: {sent}"
        );
        served(&app).await;
    })
    .await;
}

#[tokio::test]
async fn a_client_that_trickles_its_body_gets_a_408_at_the_body_timeout() {
    each_backend_with(&TIMEOUTS, |app| async move {
        let mut conn = connect_from(&app, [127, 0, 0, 1]).await;
        conn.write_all(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"query\":",
        )
        .await
        .unwrap();
        let (mut reader, mut writer) = conn.into_split();
        let trickle = tokio::spawn(async move {
            for _ in 0..40 {
                if writer.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        served(&app).await;
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let answer = String::from_utf8_lossy(&got);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("GRAPHQL_PARSE_FAILED"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(4));
        trickle.abort();
        served(&app).await;
    })
    .await;
}

#[tokio::test]
async fn a_kept_alive_connection_lives_past_the_header_timeout_until_the_idle_timeout() {
    each_backend_with(&TIMEOUTS, |app| async move {
        let mut conn = connect_from(&app, [127, 0, 0, 1]).await;
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        conn.write_all(request).await.unwrap();
        assert!(read_answer(&mut conn).await.starts_with("HTTP/1.1 200"));
        // Idle for longer than the header timeout: still open.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        conn.write_all(request).await.unwrap();
        assert!(read_answer(&mut conn).await.starts_with("HTTP/1.1 200"));
        // Idle for longer than the idle timeout: closed.
        let (sent, after) = read_until_closed(&mut conn, Duration::from_secs(8))
            .await
            .expect("closed when idle");
        assert!(sent.is_empty(), "{sent}");
        assert!(after >= Duration::from_millis(2_500), "{after:?}");
    })
    .await;
}

#[tokio::test]
async fn connections_from_one_address_are_capped_and_other_addresses_still_served() {
    let caps = [
        ("HTTP_MAX_CONNECTIONS_PER_IP", "3"),
        ("HTTP_HEADER_TIMEOUT", "30s"),
    ];
    each_backend_with(&caps, |app| async move {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(connect_from(&app, [127, 0, 0, 3]).await);
        }
        // Give the server time to take all three.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut fourth = connect_from(&app, [127, 0, 0, 3]).await;
        let (_, after) = read_until_closed(&mut fourth, Duration::from_secs(5))
            .await
            .expect("the fourth is closed at once");
        assert!(after < Duration::from_secs(2), "{after:?}");
        // Another address is served meanwhile.
        let mut other = connect_from(&app, [127, 0, 0, 4]).await;
        assert!(health_on(&mut other).await.starts_with("HTTP/1.1 200"));
        // A slot given back is a slot to take again.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut again = connect_from(&app, [127, 0, 0, 3]).await;
        assert!(health_on(&mut again).await.starts_with("HTTP/1.1 200"));
    })
    .await;
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_waits_for_a_free_slot() {
    let caps = [
        ("HTTP_MAX_CONNECTIONS", "2"),
        ("WS_MAX_CONNECTIONS", "1"),
        ("HTTP_HEADER_TIMEOUT", "30s"),
    ];
    each_backend_with(&caps, |app| async move {
        let first = connect_from(&app, [127, 0, 0, 5]).await;
        let _second = connect_from(&app, [127, 0, 0, 6]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = connect_from(&app, [127, 0, 0, 7]).await;
        third
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
        assert!(early.is_err(), "answered past the cap: {early:?}");
        drop(first);
        assert!(read_answer(&mut third).await.starts_with("HTTP/1.1 200"));
    })
    .await;
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_dropped_at_the_request_timeout() {
    let limits = [("HTTP_REQUEST_TIMEOUT", "2s"), ("HTTP_IDLE_TIMEOUT", "60s")];
    each_backend_alone(&limits, |app| async move {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket
            .bind(SocketAddr::new(IpAddr::from([127, 0, 0, 8]), 0))
            .unwrap();
        let mut conn = socket.connect(addr(&app)).await.unwrap();
        // Far more answers than the socket buffers on both sides hold (loopback buffers
        // grow to megabytes), and none of them read.
        let pipelined = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(60_000);
        let _ = tokio::time::timeout(Duration::from_secs(3), conn.write_all(pipelined.as_bytes()))
            .await;
        // The server answers until the buffers are full, then waits on this client; give it
        // time to fill them, and the request timeout to pass after that.
        tokio::time::sleep(Duration::from_secs(8)).await;
        served(&app).await;
        // Dropped by now: what is left to read ends well before the 5,000 answers.
        let (answers, _) = read_until_closed(&mut conn, Duration::from_secs(5))
            .await
            .expect("closed at the request timeout");
        let count = answers.matches("HTTP/1.1 200").count();
        assert!(count < 60_000, "all {count} answers were written");
    })
    .await;
}

#[tokio::test]
async fn work_a_client_started_counts_against_its_cap_after_it_hangs_up() {
    each_backend_with(&[("HTTP_MAX_CONNECTIONS_PER_IP", "2")], |app| async move {
        // Hold the row every sign-up from 127.0.0.20 updates first, so theirs wait.
        let txn = app.hold_signups_from("127.0.0.20").await;
        for i in 0..2 {
            let body = serde_json::json!({
                "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
                "variables": { "i": { "username": format!("hangup{i}"),
                    "email": format!("hangup{i}@example.com"), "password": crate::harness::PASSWORD } }
            })
            .to_string();
            let mut conn = connect_from(&app, [127, 0, 0, 20]).await;
            let request = format!(
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(request.as_bytes()).await.unwrap();
            // Hang up once the operation has started (and waits on the row): it runs on.
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(conn);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut third = connect_from(&app, [127, 0, 0, 20]).await;
        let closed = read_until_closed(&mut third, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "a third connection was taken while two operations run");
        txn.rollback().await.unwrap();
        // Once they are done, the address has its places back.
        tokio::time::sleep(Duration::from_millis(100)).await;
        eventually_every(
            "the address served again",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async {
                let mut conn = connect_from(&app, [127, 0, 0, 20]).await;
                if conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.is_err() {
                    return false;
                }
                let mut buf = [0u8; 12];
                matches!(
                    tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await,
                    Ok(Ok(n)) if n > 0
                )
            },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_client_over_its_request_rate_gets_429_while_others_are_served() {
    let defaults = [("HTTP_RATE_PER_IP", "100"), ("HTTP_RATE_BURST", "200")];
    each_backend_alone(&defaults, |app| async move {
        let from = |ip: [u8; 4]| {
            reqwest::Client::builder()
                .local_address(IpAddr::from(ip))
                .build()
                .unwrap()
        };
        let flooder = from([127, 0, 0, 30]);
        let url = app.url("/graphql?query=%7B__typename%7D");
        // 40 connections sending as fast as they are answered, for two seconds.
        let started = Instant::now();
        let senders: Vec<_> = (0..40)
            .map(|_| {
                let (flooder, url) = (flooder.clone(), url.clone());
                tokio::spawn(async move {
                    let (mut served, mut refused) = (0usize, Vec::new());
                    while started.elapsed() < Duration::from_secs(2) {
                        let sent = Instant::now();
                        let res = flooder.get(&url).send().await.unwrap();
                        match res.status().as_u16() {
                            200 => served += 1,
                            429 => refused.push((sent.elapsed(), res)),
                            other => panic!("{other}"),
                        }
                    }
                    (served, refused)
                })
            })
            .collect();
        let (mut served, mut refused) = (0, Vec::new());
        for s in senders {
            let (ok, no) = s.await.unwrap();
            served += ok;
            refused.extend(no);
        }
        let elapsed = started.elapsed().as_secs_f64();
        // The burst, then the rate: no more got through (a little slack for the clock).
        assert!(
            (served as f64) <= 200.0 + 100.0 * elapsed + 20.0,
            "{served} served in {elapsed:.1} s"
        );
        assert!(refused.len() >= 20, "{} refused", refused.len());
        // A refusal is answered a second later, with its code and when to come back.
        let (took, one) = refused.pop().unwrap();
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(one.headers().contains_key("retry-after"));
        let body: serde_json::Value = one.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                >= 1
        );
        // Health probes and other addresses are not held back.
        let health = flooder.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let other = from([127, 0, 0, 31]).get(&url).send().await.unwrap();
        assert_eq!(other.status(), 200);
    })
    .await;
}

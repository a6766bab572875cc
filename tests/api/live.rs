//! Live sign-out: the `sessionEvents` subscription over graphql-transport-ws at
//! `/graphql/ws`, how a connection signs in, its bounds, and events across replicas.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        self, Message, client::IntoClientRequest, http::HeaderValue, protocol::CloseFrame,
    },
};

use crate::harness::{
    PASSWORD, TestApp, Tokens, each_backend, each_backend_alone, each_backend_with,
};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SUBSCRIBE: &str = "subscription { sessionEvents { reason at } }";

/// The upgrade request to `app`'s `/graphql/ws`, with these headers.
fn upgrade_request(
    app: &TestApp,
    headers: &[(&'static str, String)],
) -> tungstenite::handshake::client::Request {
    let url = app.url("/graphql/ws").replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    req
}

/// Opens a connection offering graphql-transport-ws, or the HTTP status it was refused with.
async fn open(app: &TestApp, headers: &[(&'static str, String)]) -> Result<Ws, u16> {
    let mut all = vec![("sec-websocket-protocol", "graphql-transport-ws".to_owned())];
    all.extend_from_slice(headers);
    match tokio_tungstenite::connect_async(upgrade_request(app, &all)).await {
        Ok((ws, res)) => {
            assert_eq!(
                res.headers()["sec-websocket-protocol"],
                "graphql-transport-ws"
            );
            Ok(ws)
        }
        Err(tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(other) => panic!("unexpected handshake failure: {other}"),
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// What the server sent next: a protocol message, or how it closed.
#[derive(Debug)]
enum Next {
    Text(Value),
    Closed(Option<(u16, String)>),
}

async fn next(ws: &mut Ws, within: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from the server within {within:?}"));
        match msg {
            Some(Ok(Message::Text(t))) => return Next::Text(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return Next::Closed(
                    frame.map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string())),
                );
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Next::Closed(None),
        }
    }
}

async fn next_text(ws: &mut Ws) -> Value {
    match next(ws, Duration::from_secs(5)).await {
        Next::Text(v) => v,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn close_code(ws: &mut Ws, within: Duration) -> u16 {
    match next(ws, within).await {
        Next::Closed(Some((code, _))) => code,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// The code of the close frame that ends whatever the server sends (pings, messages),
/// waiting at most `each` for every frame.
async fn close_code_after_anything(ws: &mut Ws, each: Duration) -> Option<u16> {
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(each, ws.next()).await {
        if let Message::Close(Some(frame)) = msg {
            return Some(u16::from(frame.code));
        }
    }
    None
}

fn bearer(tokens: &Tokens) -> Value {
    json!({ "Authorization": format!("Bearer {}", tokens.access) })
}

/// A connection signed in with `payload` and subscribed to `sessionEvents` as `"1"`.
async fn watching(app: &TestApp, payload: Value, headers: &[(&'static str, String)]) -> Ws {
    let mut ws = open(app, headers).await.expect("upgraded");
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    assert_eq!(next_text(&mut ws).await["type"], "connection_ack");
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIBE } }),
    )
    .await;
    ws
}

/// Waits for the session's end on `ws`: its event (returned, with when it came),
/// `complete`, and the close.
async fn ended_at(ws: &mut Ws) -> (Value, Instant) {
    let msg = next_text(ws).await;
    let came = Instant::now();
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["id"], "1");
    let event = msg["payload"]["data"]["sessionEvents"].clone();
    assert!(event["at"].as_str().unwrap().contains('T'), "{event}");
    assert_eq!(next_text(ws).await["type"], "complete");
    assert_eq!(close_code(ws, Duration::from_secs(3)).await, 4401);
    (event, came)
}

async fn ended(ws: &mut Ws) -> Value {
    ended_at(ws).await.0
}

/// As [`ended`], for a session that ended at `started` or later: the event must come within
/// a second of it. Only a test that runs alone may use it (the promise is about time).
async fn ended_within_a_second(ws: &mut Ws, started: Instant) -> Value {
    let (event, came) = ended_at(ws).await;
    let took = came - started;
    assert!(
        took < Duration::from_secs(1),
        "the event came after {took:?}"
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_a_session_ends_reaches_its_connection_within_a_second() {
    each_backend_alone(&[], |app| async move {
        // LOGOUT: the session's own refresh token, from another tab.
        let t = app.register("ann").await;
        let mut ws = watching(&app, bearer(&t), &[]).await;
        let started = Instant::now();
        let res = app
            .gql(
                "mutation($t: String!) { logout(refreshToken: $t) }",
                json!({ "t": t.refresh }),
            )
            .await;
        res.data();
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "LOGOUT"
        );

        // REVOKED: from another session of the user.
        let a = app.login_ok("ann", PASSWORD).await;
        let b = app.login_ok("ann", PASSWORD).await;
        let mut ws = watching(&app, bearer(&a), &[]).await;
        let sessions = app
            .gql_as(&b.access, "{ sessions { id current } }", json!({}))
            .await;
        let id = sessions.data()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == false)
            .unwrap()["id"]
            .clone();
        let started = Instant::now();
        app.gql_as(
            &b.access,
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": id }),
        )
        .await
        .data();
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "REVOKED"
        );

        // LOGOUT_ALL.
        let mut ws = watching(&app, bearer(&b), &[]).await;
        let started = Instant::now();
        app.gql_as(&b.access, "mutation { logoutAll }", json!({}))
            .await
            .data();
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "LOGOUT_ALL"
        );

        // REUSE_DETECTED: a spent refresh token presented after the grace.
        let c = app.login_ok("ann", PASSWORD).await;
        let mut ws = watching(&app, bearer(&c), &[]).await;
        app.refresh(&c.refresh).await.data();
        app.advance(Duration::from_secs(11));
        let started = Instant::now();
        assert_eq!(
            app.refresh(&c.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "REUSE_DETECTED"
        );

        // PASSWORD_CHANGED: the other sessions of the user end.
        let d = app.login_ok("ann", PASSWORD).await;
        let e = app.login_ok("ann", PASSWORD).await;
        let mut ws = watching(&app, bearer(&d), &[]).await;
        let started = Instant::now();
        let res = app
            .gql_as(
                &e.access,
                "mutation($c: String!, $n: String!) { \
                 changePassword(input: { currentPassword: $c, newPassword: $n }) }",
                json!({ "c": PASSWORD, "n": "another-long-passphrase" }),
            )
            .await;
        assert_eq!(res.data()["changePassword"], true);
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "PASSWORD_CHANGED"
        );

        // ADMIN.
        let admin = app.admin("boss").await;
        let mut ws = watching(&app, bearer(&e), &[]).await;
        let user = app.id_of(&admin.access, "ann").await;
        let started = Instant::now();
        let res = app
            .gql_as(
                &admin.access,
                "mutation($id: ID!) { adminRevokeSessions(id: $id) }",
                json!({ "id": user }),
            )
            .await;
        res.data();
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "ADMIN"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_reaches_the_connection() {
    each_backend(|app| async move {
        let t = app.register("rita").await;
        let mut ws = watching(&app, json!({ "authorization": format!("bearer {}", t.access) }), &[])
            .await;
        app.gql(
            "mutation($e: String!) { requestReset(email: $e) }",
            json!({ "e": "rita@example.com" }),
        )
        .await
        .data();
        let mail = app.smtp.wait_for("rita@example.com", "Reset your").await;
        let token = mail.token("reset-password").unwrap();
        app.gql(
            "mutation($t: String!, $p: String!) { confirmReset(input: { token: $t, newPassword: $p }) }",
            json!({ "t": token, "p": "a-brand-new-passphrase" }),
        )
        .await
        .data();
        assert_eq!(ended(&mut ws).await["reason"], "PASSWORD_RESET");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_replica_reaches_a_connection_on_another() {
    each_backend_alone(&[], |app| async move {
        let (other, stop) = app.replica().await;
        let t = app.register("rex").await;
        let mut ws = watching(&other, bearer(&t), &[]).await;
        let started = Instant::now();
        app.gql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": t.refresh }),
        )
        .await
        .data();
        assert_eq!(
            ended_within_a_second(&mut ws, started).await["reason"],
            "LOGOUT"
        );

        // A replica that stops tells its live connections it is going away (1001), so that
        // they reconnect to another.
        let u = app.login_ok("rex", PASSWORD).await;
        let mut leaving = watching(&other, bearer(&u), &[]).await;
        let _ = stop.send(());
        assert_eq!(
            close_code(&mut leaving, Duration::from_secs(10)).await,
            1001
        );
    })
    .await;
}

#[tokio::test]
async fn a_browser_connection_signs_in_with_the_refresh_cookie_from_a_trusted_origin_only() {
    each_backend(|app| async move {
        app.sign_up("cora", "cora@example.com", PASSWORD)
            .await
            .data();
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("x-authql-cookie", "1")
            .header("origin", &app.base_url)
            .json(&json!({
                "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "usernameOrEmail": "cora", "password": PASSWORD } },
            }))
            .send()
            .await
            .unwrap();
        let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();

        // From authql's own origin, the cookie signs the connection in.
        let own = [("origin", app.base_url.clone()), ("cookie", cookie.clone())];
        let mut ws = watching(&app, json!({}), &own).await;

        // Another origin (another port of the same host) is refused before any upgrade.
        let port: u16 = app.base_url.rsplit(':').next().unwrap().parse().unwrap();
        let foreign = [
            (
                "origin",
                format!("http://127.0.0.1:{}", port.wrapping_add(1)),
            ),
            ("cookie", cookie.clone()),
        ];
        assert_eq!(open(&app, &foreign).await.err(), Some(403));
        // Without an Origin (not a browser) the cookie is not read.
        let mut bare = open(&app, &[("cookie", cookie.clone())]).await.unwrap();
        send(
            &mut bare,
            json!({ "type": "connection_init", "payload": {} }),
        )
        .await;
        assert!(matches!(
            next(&mut bare, Duration::from_secs(5)).await,
            Next::Closed(Some(_))
        ));

        // Cookie-mode logout ends the watched session.
        app.client
            .post(app.url("/graphql"))
            .header("x-authql-cookie", "1")
            .header("origin", &app.base_url)
            .header("cookie", &cookie)
            .json(&json!({ "query": "mutation { logout }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(ended(&mut ws).await["reason"], "LOGOUT");
    })
    .await;
}

#[tokio::test]
async fn a_connection_must_sign_in_with_a_live_session() {
    each_backend(|app| async move {
        for payload in [
            json!({}),
            json!({ "authorization": "Bearer not-a-token" }),
            json!({ "authorization": "Basic abc" }),
            json!("a string"),
        ] {
            let mut ws = open(&app, &[]).await.unwrap();
            send(
                &mut ws,
                json!({ "type": "connection_init", "payload": payload }),
            )
            .await;
            assert!(
                matches!(
                    next(&mut ws, Duration::from_secs(5)).await,
                    Next::Closed(Some(_))
                ),
                "{payload}"
            );
        }
        // A token of an ended session.
        let t = app.register("olga").await;
        app.gql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": t.refresh }),
        )
        .await
        .data();
        let mut ws = open(&app, &[]).await.unwrap();
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": bearer(&t) }),
        )
        .await;
        assert!(matches!(
            next(&mut ws, Duration::from_secs(5)).await,
            Next::Closed(Some(_))
        ));
        // Subscribing before signing in ends the connection.
        let mut ws = open(&app, &[]).await.unwrap();
        send(
            &mut ws,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIBE } }),
        )
        .await;
        assert!(matches!(
            next(&mut ws, Duration::from_secs(5)).await,
            Next::Closed(Some(_))
        ));
        // Over HTTP the subscription is refused with a code.
        let res = app.gql(SUBSCRIBE, json!({})).await;
        assert_eq!(
            res.error_code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{}",
            res.body
        );
        let message = res.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("/graphql/ws"), "{message}");
        // Without the sub-protocol there is no upgrade.
        let plain = upgrade_request(&app, &[]);
        match tokio_tungstenite::connect_async(plain).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 400),
            other => panic!("expected a 400, got {:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test]
async fn only_subscriptions_and_only_a_few_run_on_a_connection() {
    each_backend(|app| async move {
        let t = app.register("ivy").await;
        let mut ws = watching(&app, bearer(&t), &[]).await;
        // A query or a mutation belongs to POST /graphql.
        for (id, query) in [("q", "{ me { id } }"), ("m", "mutation { logoutAll }")] {
            send(
                &mut ws,
                json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
            )
            .await;
            let msg = next_text(&mut ws).await;
            assert_eq!(msg["id"], id);
            let code = &msg["payload"]["errors"][0]["extensions"]["code"];
            let errors = msg["payload"]["errors"].clone();
            assert_eq!(code, "GRAPHQL_VALIDATION_FAILED", "{msg}");
            assert!(!errors.is_null());
            // Its stream ends at once.
            assert_eq!(next_text(&mut ws).await["type"], "complete");
        }
        app.me(&t.access).await.data();
        // The first subscription ("1") and three more run; the fifth is refused.
        for id in ["2", "3", "4"] {
            send(
                &mut ws,
                json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIBE } }),
            )
            .await;
        }
        send(
            &mut ws,
            json!({ "id": "5", "type": "subscribe", "payload": { "query": SUBSCRIBE } }),
        )
        .await;
        let msg = next_text(&mut ws).await;
        assert_eq!(msg["id"], "5", "{msg}");
        assert_eq!(
            msg["payload"]["errors"][0]["extensions"]["code"],
            "RATE_LIMITED"
        );
        // A document over the parse limits is refused like over HTTP.
        let deep = format!("subscription {}{}", "{ a ".repeat(100), "}".repeat(100));
        send(
            &mut ws,
            json!({ "id": "6", "type": "subscribe", "payload": { "query": deep } }),
        )
        .await;
        let mut seen = next_text(&mut ws).await;
        while seen["id"] != "6" {
            seen = next_text(&mut ws).await;
        }
        assert_eq!(
            seen["payload"]["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
            "{seen}"
        );
    })
    .await;
}

#[tokio::test]
async fn connections_are_capped_per_user_and_in_all() {
    let caps = [("WS_MAX_PER_USER", "2"), ("WS_MAX_CONNECTIONS", "3")];
    each_backend_with(&caps, |app| async move {
        let t = app.register("max").await;
        let _one = watching(&app, bearer(&t), &[]).await;
        let _two = watching(&app, bearer(&t), &[]).await;
        let mut three = open(&app, &[]).await.unwrap();
        send(
            &mut three,
            json!({ "type": "connection_init", "payload": bearer(&t) }),
        )
        .await;
        match next(&mut three, Duration::from_secs(5)).await {
            Next::Closed(Some((_, reason))) => assert!(reason.contains("Too many"), "{reason}"),
            other => panic!("expected a close, got {other:?}"),
        }
        drop(three);
        // The third place in all is taken by a connection that has not signed in yet; a
        // fourth is refused before the upgrade.
        let _waiting = eventually_open(&app).await;
        assert_eq!(open(&app, &[]).await.err(), Some(503));
        // Another user is not held back by max's cap once places are free.
        drop(_one);
        let other = app.register("min").await;
        let theirs = eventually_watching(&app, &other).await;
        // Every watch is withdrawn once its connection is gone.
        drop((_two, _waiting, theirs));
        crate::harness::eventually::eventually("no watcher left", Duration::from_secs(5), || {
            let watchers = app.state.session_watch.watchers();
            async move { watchers == 0 }
        })
        .await;
    })
    .await;
}

/// Opens a connection as soon as a place is free (a closed one's place comes back once
/// the server has seen it close).
async fn eventually_open(app: &TestApp) -> Ws {
    for _ in 0..50 {
        if let Ok(ws) = open(app, &[]).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no place came free");
}

async fn eventually_watching(app: &TestApp, t: &Tokens) -> Ws {
    for _ in 0..50 {
        if let Ok(mut ws) = open(app, &[]).await {
            send(
                &mut ws,
                json!({ "type": "connection_init", "payload": bearer(t) }),
            )
            .await;
            if let Next::Text(ack) = next(&mut ws, Duration::from_secs(5)).await {
                assert_eq!(ack["type"], "connection_ack");
                return ws;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no place came free");
}

#[tokio::test]
async fn silent_slow_and_oversized_connections_are_closed() {
    each_backend_with(&[("WS_IDLE_TIMEOUT", "3s")], |app| async move {
        // No connection_init within a third of the idle timeout.
        let mut ws = open(&app, &[]).await.unwrap();
        let started = Instant::now();
        assert_eq!(close_code(&mut ws, Duration::from_secs(5)).await, 4408);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );

        // A client that answers pings (tungstenite does, as browsers do) stays.
        let t = app.register("sam").await;
        let mut alive = watching(&app, bearer(&t), &[]).await;
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut pinged = 0;
        while let Ok(msg) = tokio::time::timeout_at(until, alive.next()).await {
            match msg {
                Some(Ok(Message::Ping(_))) => pinged += 1,
                other => panic!("closed although it answered pings: {other:?}"),
            }
        }
        assert!(pinged >= 3, "pinged {pinged} times in 5 s");

        // One that reads nothing answers no ping, and is closed after the idle timeout.
        let mut deaf = watching(&app, bearer(&t), &[]).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let code = close_code_after_anything(&mut deaf, Duration::from_secs(2)).await;
        assert_eq!(code, Some(4409));

        // A message over WS_MAX_MESSAGE_BYTES ends the connection.
        let mut big = open(&app, &[]).await.unwrap();
        let padding = "x".repeat(20_000);
        let _ = big
            .send(Message::text(
                json!({ "type": "connection_init", "payload": { "pad": padding } }).to_string(),
            ))
            .await;
        assert!(matches!(
            next(&mut big, Duration::from_secs(5)).await,
            Next::Closed(_)
        ));

        // A malformed message whose parse error quotes it at length: the close frame stays
        // valid (its reason cut to 123 bytes), so the client learns its code.
        let mut odd = open(&app, &[]).await.unwrap();
        send(&mut odd, json!({ "type": "é".repeat(3000) })).await;
        match next(&mut odd, Duration::from_secs(5)).await {
            Next::Closed(Some((code, reason))) => {
                assert!((4000..5000).contains(&code) || code == 1002, "{code}");
                assert!(reason.len() <= 123 && !reason.is_empty(), "{reason:?}");
            }
            other => panic!("expected a valid close frame, got {other:?}"),
        }
        // The service is fine.
        app.me(&t.access).await.data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_and_clients_that_never_read_are_cut_off() {
    each_backend_with(&[("WS_IDLE_TIMEOUT", "3s")], |app| async move {
        let t = app.register("flo").await;
        // More than 20 messages in 10 s: closed with 4429. Sent in one go, the ones past
        // the cap are not even read: at most 18 pongs answer, after connection_init and
        // the subscription.
        let mut chatty = watching(&app, bearer(&t), &[]).await;
        let pings: Vec<_> = (0..200)
            .map(|_| Ok(Message::text(json!({ "type": "ping" }).to_string())))
            .collect();
        chatty
            .send_all(&mut futures_util::stream::iter(pings))
            .await
            .unwrap();
        let (mut pongs, mut code) = (0, None);
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout(Duration::from_secs(5), chatty.next()).await
        {
            match msg {
                Message::Text(t) if t.contains("pong") => pongs += 1,
                Message::Close(frame) => {
                    code = frame.map(|f| u16::from(f.code));
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(code, Some(4429));
        assert!(pongs <= 18, "{pongs} pongs answered");

        // WebSocket pings count too.
        let mut pinging = watching(&app, bearer(&t), &[]).await;
        for _ in 0..25 {
            pinging
                .send(Message::Ping(vec![0; 8].into()))
                .await
                .unwrap();
        }
        let code = close_code_after_anything(&mut pinging, Duration::from_secs(5)).await;
        assert_eq!(code, Some(4429));

        // Pings sent as fast as the socket takes them, without ever reading: the server
        // cannot be stalled by them, and lets the connection (and its watch) go.
        let mut flood = watching(&app, bearer(&t), &[]).await;
        let _ = tokio::time::timeout(Duration::from_secs(4), async {
            while flood.send(Message::Ping(vec![0; 8].into())).await.is_ok() {}
        })
        .await;
        crate::harness::eventually::eventually(
            "the flooding connection let go",
            Duration::from_secs(15),
            || {
                let watchers = app.state.session_watch.watchers();
                async move { watchers == 0 }
            },
        )
        .await;
        drop(flood);

        // At most 16 live connections from one address.
        let mut open_ones = Vec::new();
        for _ in 0..16 {
            open_ones.push(open(&app, &[]).await.expect("under the per-address cap"));
        }
        assert_eq!(open(&app, &[]).await.err(), Some(429));
        drop(open_ones);
        app.me(&t.access).await.data();
    })
    .await;
}

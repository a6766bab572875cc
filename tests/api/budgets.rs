//! The budget for password work: sign-ups per client address, a bounded and fair queue for
//! the hashers, successful logins and sessions per account. One client's flood cannot hold
//! back another client's login.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::harness::{LOGIN, PASSWORD, TestApp, each_backend_alone, each_backend_with};

/// A client whose requests come from `ip` (any 127.0.0.0/8 address is this host).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

async fn gql_from(app: &TestApp, client: &reqwest::Client, query: &str, vars: Value) -> Value {
    client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": vars }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) }";

fn sign_up_vars(name: &str) -> Value {
    json!({ "i": { "username": name, "email": format!("{name}@example.com"), "password": PASSWORD } })
}

fn login_vars(name: &str, password: &str) -> Value {
    json!({ "i": { "usernameOrEmail": name, "password": password } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hash_flood_from_one_address_does_not_hold_back_another_addresss_login() {
    // The flood's attempts must reach the hasher: no login throttle in the way. A login
    // that waits a second for a hasher is refused, so every success below waited less.
    let open = [
        ("LOGIN_MAX_FAILURES", "10000"),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1000000"),
        ("LOGIN_MAX_FAILURES_PER_IP", "1000000"),
        ("PASSWORD_HASH_WAIT", "1s"),
        // Let all 48 reach the hasher's queue (the operations a client may run at once
        // would otherwise hold most of them back first).
        ("GRAPHQL_MAX_RUNNING_PER_CLIENT", "64"),
    ];
    each_backend_alone(&open, |app| async move {
        app.register("victim").await;
        let app = Arc::new(app);
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let flooder = client_from([127, 0, 0, 9]);
        let mut flood = Vec::new();
        for i in 0..48 {
            let (app, stop, refused, flooder) =
                (app.clone(), stop.clone(), refused.clone(), flooder.clone());
            flood.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let vars = login_vars(&format!("nobody{i}"), "a-wrong-password");
                    let body = gql_from(&app, &flooder, LOGIN, vars).await;
                    match code(&body) {
                        "RATE_LIMITED" => {
                            assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => assert_eq!(other, "UNAUTHENTICATED", "{body}"),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The flood fills its share of the queue, and is refused past it...
        let user = client_from([127, 0, 0, 10]);
        for _ in 0..5 {
            // ...while every login of another address gets a hasher within a second
            // (PASSWORD_HASH_WAIT; else it would be RATE_LIMITED) and succeeds.
            let body = gql_from(&app, &user, LOGIN, login_vars("victim", PASSWORD)).await;
            assert!(
                body["data"]["login"]["accessToken"].is_string(),
                "a login during the flood: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for task in flood {
            task.await.unwrap();
        }
        assert!(
            refused.load(Ordering::Relaxed) > 0,
            "the flood was never refused"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_hash_queue_answers_rate_limited_at_once_instead_of_waiting() {
    let tight = [
        ("PASSWORD_HASH_CONCURRENCY", "1"),
        ("PASSWORD_HASH_QUEUE_PER_CLIENT", "1"),
        ("LOGIN_MAX_FAILURES_PER_IP", "1000"),
    ];
    each_backend_with(&tight, |app| async move {
        let names: Vec<String> = (0..12).map(|i| format!("nobody{i}")).collect();
        let attempts = names.iter().map(|n| app.login(n, "a-wrong-password"));
        let answers = futures_util::future::join_all(attempts).await;
        let codes: Vec<&str> = answers.iter().map(|a| a.error_code()).collect();
        assert!(codes.contains(&"RATE_LIMITED"), "{codes:?}");
        assert!(codes.contains(&"UNAUTHENTICATED"), "{codes:?}");
        assert!(
            codes
                .iter()
                .all(|c| matches!(*c, "RATE_LIMITED" | "UNAUTHENTICATED")),
            "{codes:?}"
        );
    })
    .await;
}

async fn users(app: &TestApp) -> u64 {
    authql::entity::users::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_address_and_refused_before_any_hash() {
    each_backend_with(&[("SIGNUP_MAX_PER_IP", "3")], |app| async move {
        let one = client_from([127, 0, 0, 11]);
        for name in ["ann", "ben", "cat"] {
            let body = gql_from(&app, &one, SIGN_UP, sign_up_vars(name)).await;
            assert_eq!(body["data"]["signUp"], true, "{body}");
        }
        let (hashes, accounts) = (app.state.hasher.computed(), users(&app).await);
        let body = gql_from(&app, &one, SIGN_UP, sign_up_vars("dan")).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                > 3000
        );
        assert_eq!(app.state.hasher.computed(), hashes);
        assert_eq!(users(&app).await, accounts);
        // Another address signs up as usual.
        let other = client_from([127, 0, 0, 12]);
        let body = gql_from(&app, &other, SIGN_UP, sign_up_vars("dan")).await;
        assert_eq!(body["data"]["signUp"], true, "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_sign_up_that_cannot_succeed_costs_no_hash() {
    each_backend_with(&[], |app| async move {
        app.sign_up("taken", "taken@example.com", PASSWORD)
            .await
            .data();
        let before = app.state.hasher.computed();
        for (vars, field) in [
            (
                json!({ "i": { "username": "TAKEN", "email": "new@example.com", "password": PASSWORD } }),
                "username",
            ),
            (
                json!({ "i": { "username": "fresh", "email": "not-an-address", "password": PASSWORD } }),
                "email",
            ),
            (
                json!({ "i": { "username": "fresh", "email": "fresh@example.com", "password": "short" } }),
                "password",
            ),
        ] {
            let res = app.gql(SIGN_UP, vars).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT");
            assert_eq!(res.body["errors"][0]["extensions"]["field"], field);
        }
        assert_eq!(app.state.hasher.computed(), before);
        // A taken email is answered like a new one, after the same hash.
        let res = app
            .sign_up("someone_else", "taken@example.com", PASSWORD)
            .await;
        assert_eq!(res.data()["signUp"], true);
        assert_eq!(app.state.hasher.computed(), before + 1);
    })
    .await;
}

const SESSIONS: &str = "{ sessions { id } }";

#[tokio::test]
async fn past_the_session_cap_a_login_ends_the_oldest_session() {
    each_backend_with(&[("SESSIONS_MAX_PER_ACCOUNT", "3")], |app| async move {
        let first = app.register("sam").await;
        let mut all = vec![first];
        for _ in 0..4 {
            all.push(app.login_ok("sam", PASSWORD).await);
        }
        let newest = all.last().unwrap();
        let res = app.gql_as(&newest.access, SESSIONS, json!({})).await;
        assert_eq!(res.data()["sessions"].as_array().unwrap().len(), 3);
        // The two oldest ended; the three newest still refresh.
        for (i, t) in all.iter().enumerate() {
            let res = app.refresh(&t.refresh).await;
            if i < 2 {
                assert_eq!(res.error_code(), "UNAUTHENTICATED", "session {i}");
            } else {
                assert!(
                    res.data()["refresh"]["accessToken"].is_string(),
                    "session {i}"
                );
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_of_one_account_leave_no_more_sessions_than_the_cap() {
    let vars = [
        ("SESSIONS_MAX_PER_ACCOUNT", "3"),
        // Every attempt is charged before its password is checked: room for all twelve.
        ("LOGIN_MAX_FAILURES", "100"),
        ("PASSWORD_HASH_WAIT", "30s"),
        ("PASSWORD_HASH_QUEUE_PER_CLIENT", "64"),
    ];
    each_backend_with(&vars, |app| async move {
        app.register("tess").await;
        let logins = (0..12).map(|_| app.login("tess", PASSWORD));
        let answers = futures_util::future::join_all(logins).await;
        let tokens: Vec<_> = answers
            .iter()
            .map(|a| crate::harness::Tokens::from_payload(&a.data()["login"]))
            .collect();
        // The sessions left live, as the account's `sessions` query lists them (a token of
        // an ended session is refused).
        let mut live = None;
        for t in &tokens {
            let res = app
                .gql_as(&t.access, "{ sessions { id } }", json!({}))
                .await;
            if res.body.get("errors").is_none() {
                live = Some(res.data()["sessions"].as_array().unwrap().len());
                break;
            }
        }
        assert_eq!(live, Some(3));
        let mut refreshed = 0;
        for t in &tokens {
            if app.refresh(&t.refresh).await.body.get("errors").is_none() {
                refreshed += 1;
            }
        }
        assert_eq!(refreshed, 3);
    })
    .await;
}

#[tokio::test]
async fn successful_logins_per_account_are_bounded() {
    each_backend_with(&[("LOGIN_MAX_SUCCESSES", "3")], |app| async move {
        app.sign_up("uma", "uma@example.com", PASSWORD).await.data();
        for _ in 0..3 {
            app.login_ok("uma", PASSWORD).await;
        }
        let res = app.login("uma", PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        assert!(
            res.body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                > 0
        );
        // A wrong password is still just wrong.
        let res = app.login("uma", "not-her-password").await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_client_runs_at_most_its_share_of_operations_at_once() {
    let share = [
        ("GRAPHQL_MAX_RUNNING_PER_CLIENT", "1"),
        ("GRAPHQL_CLIENT_WAIT", "300ms"),
    ];
    each_backend_with(&share, |app| async move {
        // Hold the row a sign-up from 127.0.0.40 updates first: its operation waits there.
        let txn = app.hold_signups_from("127.0.0.40").await;
        let busy = client_from([127, 0, 0, 40]);
        let pending = {
            let (busy, url) = (busy.clone(), app.url("/graphql"));
            tokio::spawn(async move {
                busy.post(url)
                    .json(&json!({ "query": SIGN_UP, "variables": sign_up_vars("held") }))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The same client's next operation waits its turn, and is refused when it does not
        // come in time; another client's runs.
        let body = gql_from(&app, &busy, "{ __typename }", json!({})).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
        let other = client_from([127, 0, 0, 41]);
        let body = gql_from(&app, &other, "{ __typename }", json!({})).await;
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
        txn.rollback().await.unwrap();
        let body = pending.await.unwrap();
        assert_eq!(body["data"]["signUp"], true, "{body}");
    })
    .await;
}

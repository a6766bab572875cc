//! `login`: credentials, the same answer for every failure, and throttling.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{LOGIN, PASSWORD, TestApp, each_backend, each_backend_with};

fn login_vars(name: &str, password: &str) -> Value {
    json!({ "i": { "usernameOrEmail": name, "password": password } })
}

#[tokio::test]
async fn login_works_by_username_or_email_in_any_case() {
    each_backend(|app| async move {
        app.sign_up("Alice", "alice@example.com", PASSWORD)
            .await
            .data();
        for name in [
            "Alice",
            "alice",
            "ALICE",
            "alice@example.com",
            "ALICE@Example.com",
            " alice ",
        ] {
            let res = app.login(name, PASSWORD).await;
            let payload = &res.data()["login"];
            assert_eq!(payload["tokenType"], "Bearer", "{name}");
            assert_eq!(payload["expiresIn"], 900);
            assert_eq!(payload["refreshExpiresIn"], 14 * 86_400);
            assert_eq!(payload["user"]["username"], "Alice");
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_user_wrong_password_and_deactivated_account_look_the_same() {
    each_backend(|app| async move {
        app.sign_up("bob", "bob@example.com", PASSWORD).await.data();
        app.sign_up("carl", "carl@example.com", PASSWORD)
            .await
            .data();
        deactivate(&app, "carl").await;
        let answers: Vec<Value> = [
            app.login("nobody", PASSWORD).await,
            app.login("bob", "wrong-password-here").await,
            app.login("carl", PASSWORD).await,
        ]
        .into_iter()
        .map(|r| {
            assert_eq!(r.error_code(), "UNAUTHENTICATED");
            let mut e = r.body["errors"][0].clone();
            e.as_object_mut().unwrap().remove("locations");
            e
        })
        .collect();
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[1], answers[2]);
    })
    .await;
}

/// Deactivates `username` as an administrator does.
async fn deactivate(app: &TestApp, username: &str) {
    let admin = app.admin("root").await;
    let id = app.id_of(&admin.access, username).await;
    let res = app
        .gql_as(
            &admin.access,
            "mutation($id: ID!) { adminUpdateUser(id: $id, input: { isActive: false }) { isActive } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(res.data()["adminUpdateUser"]["isActive"], false);
}

#[tokio::test]
async fn login_records_last_login_at() {
    each_backend(|app| async move {
        app.sign_up("dora", "dora@example.com", PASSWORD)
            .await
            .data();
        let t = app.login_ok("dora", PASSWORD).await;
        let first = app
            .gql_as(&t.access, "{ me { lastLoginAt } }", json!({}))
            .await
            .data()["me"]["lastLoginAt"]
            .as_str()
            .unwrap()
            .to_owned();
        app.advance(Duration::from_secs(60));
        let t = app.login_ok("dora", PASSWORD).await;
        let second = app
            .gql_as(&t.access, "{ me { lastLoginAt } }", json!({}))
            .await
            .data()["me"]["lastLoginAt"]
            .as_str()
            .unwrap()
            .to_owned();
        let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        assert!(parse(&second) > parse(&first));
    })
    .await;
}

#[tokio::test]
async fn bad_login_input_is_bad_user_input_not_a_failed_attempt() {
    each_backend(|app| async move {
        for (name, password, field) in [
            ("", PASSWORD, "usernameOrEmail"),
            (&"a".repeat(60_000) as &str, PASSWORD, "usernameOrEmail"),
            (&"ﷺ".repeat(20_000) as &str, PASSWORD, "usernameOrEmail"),
            ("some\0one", PASSWORD, "usernameOrEmail"),
            ("some\u{1b}[2Jone", PASSWORD, "usernameOrEmail"),
            ("someone", "", "password"),
            ("someone", &"p".repeat(60_000) as &str, "password"),
        ] {
            let res = app.login(name, password).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT");
            assert_eq!(res.body["errors"][0]["extensions"]["field"], field);
        }
    })
    .await;
}

const THROTTLED: &[(&str, &str)] = &[
    ("LOGIN_MAX_FAILURES", "3"),
    ("LOGIN_THROTTLE_WINDOW", "10m"),
];

fn retry_after(res: &crate::harness::Gql) -> u64 {
    assert_eq!(res.error_code(), "RATE_LIMITED", "{:?}", res.body);
    res.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter")
}

#[tokio::test]
async fn repeated_failures_are_throttled_the_same_for_real_and_unknown_names() {
    each_backend_with(THROTTLED, |app| async move {
        app.sign_up("erin", "erin@example.com", PASSWORD)
            .await
            .data();
        for name in ["erin", "ghost"] {
            for _ in 0..3 {
                assert_eq!(
                    app.login(name, "wrong-password").await.error_code(),
                    "UNAUTHENTICATED"
                );
            }
            let wait = retry_after(&app.login(name, "wrong-password").await);
            assert!((1..=600).contains(&wait), "{wait}");
            // Even the right password waits: the throttle comes before the check.
            retry_after(&app.login(name, PASSWORD).await);
        }
        // The window ends and the account can log in again.
        app.advance(Duration::from_secs(601));
        app.login_ok("erin", PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn a_successful_login_starts_the_account_count_over() {
    each_backend_with(THROTTLED, |app| async move {
        app.sign_up("fay", "fay@example.com", PASSWORD).await.data();
        for _ in 0..2 {
            app.login("fay", "wrong-password").await.error_code();
        }
        app.login_ok("fay", PASSWORD).await;
        for _ in 0..3 {
            assert_eq!(
                app.login("fay", "wrong-password").await.error_code(),
                "UNAUTHENTICATED"
            );
        }
        retry_after(&app.login("fay", "wrong-password").await);
    })
    .await;
}

#[tokio::test]
async fn aliases_in_one_request_cannot_multiply_attempts() {
    each_backend_with(THROTTLED, |app| async move {
        app.sign_up("gus", "gus@example.com", PASSWORD).await.data();
        let fields: String = (0..6)
            .map(|i| format!("a{i}: login(input: $i) {{ accessToken }} "))
            .collect();
        let res = app
            .gql(
                &format!("mutation($i: LoginInput!) {{ {fields} }}"),
                login_vars("gus", "wrong-password"),
            )
            .await;
        let codes: Vec<&str> = res.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["extensions"]["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "UNAUTHENTICATED",
                "UNAUTHENTICATED",
                "UNAUTHENTICATED",
                "RATE_LIMITED",
                "RATE_LIMITED",
                "RATE_LIMITED"
            ]
        );
        retry_after(&app.login("gus", PASSWORD).await);
    })
    .await;
}

#[tokio::test]
async fn a_batch_cannot_multiply_attempts() {
    each_backend_with(THROTTLED, |app| async move {
        app.sign_up("hal", "hal@example.com", PASSWORD).await.data();
        let one = json!({ "query": LOGIN, "variables": login_vars("hal", "wrong-password") });
        let res = app.post_graphql(json!([one, one, one, one, one])).await;
        // The operations of a batch may run concurrently: count, do not order.
        let mut codes: Vec<&str> = res
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["errors"][0]["extensions"]["code"].as_str().unwrap())
            .collect();
        codes.sort_unstable();
        assert_eq!(
            codes,
            [
                "RATE_LIMITED",
                "RATE_LIMITED",
                "UNAUTHENTICATED",
                "UNAUTHENTICATED",
                "UNAUTHENTICATED"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_attempts_cannot_slip_past_the_limit() {
    each_backend_with(THROTTLED, |app| async move {
        app.sign_up("ivy", "ivy@example.com", PASSWORD).await.data();
        let attempts = (0..10).map(|_| app.login("ivy", "wrong-password"));
        let results = futures_util::future::join_all(attempts).await;
        let unauthenticated = results
            .iter()
            .filter(|r| r.error_code() == "UNAUTHENTICATED")
            .count();
        assert_eq!(
            unauthenticated, 3,
            "only the allowed attempts reached the password check"
        );
    })
    .await;
}

const PER_IP: &[(&str, &str)] = &[("LOGIN_MAX_FAILURES_PER_IP", "3")];

async fn login_from(app: &TestApp, forwarded_for: &str, name: &str) -> crate::harness::Gql {
    app.login_from(forwarded_for, name, "wrong-password").await
}

#[tokio::test]
async fn failures_are_throttled_per_client_address_across_names() {
    each_backend_with(PER_IP, |app| async move {
        // The socket peer is the client: X-Forwarded-For from an untrusted peer is ignored.
        for (i, xff) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
            let res = login_from(&app, xff, &format!("name{i}")).await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED");
        }
        retry_after(&login_from(&app, "4.4.4.4", "fresh-name").await);
    })
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let vars = [PER_IP, &[("TRUSTED_PROXIES", "127.0.0.1/32")]].concat();
    each_backend_with(&vars, |app| async move {
        for i in 0..3 {
            let res = login_from(&app, "198.51.100.1", &format!("name{i}")).await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED");
        }
        retry_after(&login_from(&app, "198.51.100.1", "name9").await);
        // Another client behind the same proxy is not affected.
        let res = login_from(&app, "198.51.100.2", "name9").await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_weaker_stored_hash_is_upgraded_at_login() {
    each_backend(|app| async move {
        use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
        app.sign_up("jan", "jan@example.com", PASSWORD).await.data();
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
        set_hash(&app, "jan", &weak).await;

        app.login_ok("jan", PASSWORD).await;
        let stored = stored_hash(&app, "jan").await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        app.login_ok("jan", PASSWORD).await;
    })
    .await;
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    authql::repo::users::find_by_login_with_credential(&app.db, username, username)
        .await
        .unwrap()
        .unwrap()
        .1
        .hash
        .0
}

/// The stored row of an account, to change it behind the service's back.
async fn row_of(app: &TestApp, username: &str) -> authql::entity::users::Model {
    use sea_orm::EntityTrait;
    let user = authql::repo::users::find_by_login(&app.db, username, username)
        .await
        .unwrap()
        .unwrap();
    authql::entity::users::Entity::find_by_id(user.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn set_hash(app: &TestApp, username: &str, hash: &str) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let mut m = row_of(app, username).await.into_active_model();
    m.password_hash = Set(hash.into());
    m.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn new_passwords_are_stored_as_argon2id_phc_strings() {
    each_backend(|app| async move {
        app.sign_up("kim", "kim@example.com", PASSWORD).await.data();
        let stored = stored_hash(&app, "kim").await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains(PASSWORD));
    })
    .await;
}

#[tokio::test]
async fn a_login_refused_for_want_of_a_hasher_is_not_counted_as_a_failure() {
    // One failure allowed per address and per account: were the refused attempts counted,
    // the right password afterwards would be throttled.
    let overrides = &[
        ("LOGIN_MAX_FAILURES", "1"),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1"),
        ("LOGIN_MAX_FAILURES_PER_IP", "1"),
        ("PASSWORD_HASH_WAIT", "50ms"),
    ];
    each_backend_with(overrides, |app| async move {
        app.register("busy").await;
        {
            // Every hasher held: each login waits PASSWORD_HASH_WAIT, then is refused.
            let _held = app.state.hasher.pause().await.expect("the hasher held");
            for _ in 0..3 {
                let res = app.login("busy", PASSWORD).await;
                assert_eq!(res.error_code(), "RATE_LIMITED", "{}", res.body);
            }
        }
        app.login_ok("busy", PASSWORD).await;
        // A wrong password still counts, and the limit still holds.
        assert_eq!(
            app.login("busy", "wrong-password-1").await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.login("busy", PASSWORD).await.error_code(),
            "RATE_LIMITED"
        );
    })
    .await;
}

//! Step-up: sensitive changes need a recent sign-in (`REAUTH_MAX_AGE`), `reauthenticate`
//! renews it, and tokens and sessions say when and how their user signed in.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, Tokens, each_backend_with};

const REAUTH: &str = "mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";

const CHANGE: &str = "mutation($c: String!, $n: String!) { \
    changePassword(input: { currentPassword: $c, newPassword: $n }) }";

const NEW_PASSWORD: &str = "a different passphrase 42";

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn reauthenticate(app: &TestApp, access: &str, input: Value) -> crate::harness::Gql {
    app.gql_as(access, REAUTH, json!({ "i": input })).await
}

async fn change_password(app: &TestApp, access: &str) -> crate::harness::Gql {
    app.gql_as(access, CHANGE, json!({ "c": PASSWORD, "n": NEW_PASSWORD }))
        .await
}

fn error_field(res: &crate::harness::Gql) -> &str {
    res.body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a field: {}", res.body))
}

/// `REAUTH_MAX_AGE` at its smallest, so the tests move the clock by a minute.
const SHORT: &[(&str, &str)] = &[("REAUTH_MAX_AGE", "1m")];

#[tokio::test]
async fn a_refresh_keeps_the_sessions_sign_in_time_and_methods() {
    each_backend_with(SHORT, |app| async move {
        let t = app.register("keeper").await;
        let signed_in = claims(&t.access);
        app.advance(Duration::from_secs(120));
        let res = app.refresh(&t.refresh).await;
        let refreshed = claims(res.data()["refresh"]["accessToken"].as_str().unwrap());
        assert!(refreshed["iat"].as_i64() > signed_in["iat"].as_i64());
        assert_eq!(refreshed["auth_time"], signed_in["auth_time"]);
        assert_eq!(refreshed["amr"], json!(["pwd"]));
        // So a refresh is not a way around the step-up.
        let access = res.data()["refresh"]["accessToken"].as_str().unwrap();
        let res = change_password(&app, access).await;
        assert_eq!(res.error_code(), "REAUTHENTICATION_REQUIRED");
        let res = app
            .gql_as(access, "{ sessions { current authMethods } }", json!({}))
            .await;
        assert_eq!(
            res.data()["sessions"],
            json!([{ "current": true, "authMethods": ["pwd"] }])
        );
    })
    .await;
}

#[tokio::test]
async fn change_password_needs_a_recent_sign_in_and_reauthenticate_renews_it() {
    each_backend_with(SHORT, |app| async move {
        let t = app.register("stepper").await;
        // Just past REAUTH_MAX_AGE (one minute here).
        app.advance(Duration::from_secs(61));
        let res = change_password(&app, &t.access).await;
        assert_eq!(
            res.error_code(),
            "REAUTHENTICATION_REQUIRED",
            "{}",
            res.body
        );
        // Refused before anything was checked or changed: the password is the old one.
        app.login_ok("stepper", PASSWORD).await;

        let res = reauthenticate(&app, &t.access, json!({ "password": "not the password" })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "password");
        assert_eq!(
            change_password(&app, &t.access).await.error_code(),
            "REAUTHENTICATION_REQUIRED"
        );

        let res = reauthenticate(&app, &t.access, json!({ "password": PASSWORD })).await;
        let renewed = Tokens::from_payload(&res.data()["reauthenticate"]);
        assert_eq!(renewed.user_id, t.user_id);
        let (before, after) = (claims(&t.access), claims(&renewed.access));
        assert_eq!(after["sid"], before["sid"], "the same session");
        assert!(after["auth_time"].as_i64().unwrap() >= before["auth_time"].as_i64().unwrap() + 61);
        assert_eq!(after["auth_time"], after["iat"]);
        assert_eq!(after["amr"], json!(["pwd"]));
        // The session's refresh token was replaced: the new one works.
        let res = app.refresh(&renewed.refresh).await;
        let refreshed = Tokens::from_payload(&res.data()["refresh"]);
        assert_eq!(claims(&refreshed.access)["auth_time"], after["auth_time"]);

        // The session signed in again: its older access token may change the password too.
        let res = change_password(&app, &t.access).await;
        assert_eq!(res.data()["changePassword"], true, "{}", res.body);
        app.login_ok("stepper", NEW_PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn reauthenticate_needs_a_live_session_and_the_password() {
    each_backend_with(SHORT, |app| async move {
        let res = app
            .gql(REAUTH, json!({ "i": { "password": PASSWORD } }))
            .await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");

        let t = app.register("prover").await;
        let res = reauthenticate(&app, &t.access, json!({})).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "password");
        // No second factor: a code is not a proof of anything.
        let res = reauthenticate(
            &app,
            &t.access,
            json!({ "password": PASSWORD, "code": "123456" }),
        )
        .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "code");
        // A password past the length bound costs no hash: refused as input.
        let huge = "x".repeat(4_000);
        let res = reauthenticate(&app, &t.access, json!({ "password": huge })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");

        // A session that ended cannot be renewed, even with the right password.
        let res = app
            .gql_as(&t.access, "mutation { logoutAll }", json!({}))
            .await;
        assert_eq!(res.data()["logoutAll"], true);
        let res = reauthenticate(&app, &t.access, json!({ "password": PASSWORD })).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn wrong_passwords_at_reauthenticate_are_throttled_like_logins() {
    let overrides = &[("REAUTH_MAX_AGE", "1m"), ("LOGIN_MAX_FAILURES", "3")];
    each_backend_with(overrides, |app| async move {
        let t = app.register("guessed").await;
        for _ in 0..3 {
            let res = reauthenticate(&app, &t.access, json!({ "password": "wrong guess 1" })).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT");
        }
        // The account is throttled for this address now, the right password included: a
        // stolen access token is no way to guess the password faster than a login is.
        let res = reauthenticate(&app, &t.access, json!({ "password": PASSWORD })).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        assert!(
            res.body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                > 0
        );
        let res = app.login("guessed", PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
    })
    .await;
}

#[tokio::test]
async fn reauthenticate_successes_are_bounded_like_logins() {
    let overrides = &[("REAUTH_MAX_AGE", "1m"), ("LOGIN_MAX_SUCCESSES", "2")];
    each_backend_with(overrides, |app| async move {
        let t = app.register("repeater").await; // one successful login
        let res = reauthenticate(&app, &t.access, json!({ "password": PASSWORD })).await;
        res.data();
        let res = reauthenticate(&app, &t.access, json!({ "password": PASSWORD })).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
    })
    .await;
}

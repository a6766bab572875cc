//! `signUp` and `me`: the account rules, and what each bad input gets.

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::harness::{PASSWORD, TestApp, each_backend};

async fn user_count(app: &TestApp) -> u64 {
    authql::entity::users::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

async fn profile_count(app: &TestApp) -> u64 {
    authql::entity::profiles::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

/// Asserts a `BAD_USER_INPUT` on `field`, and that nothing was written.
async fn refused(app: &TestApp, username: &str, email: &str, password: &str, field: &str) {
    let before = user_count(app).await;
    let res = app.sign_up(username, email, password).await;
    assert_eq!(
        res.error_code(),
        "BAD_USER_INPUT",
        "{username:?} {email:?}: {:?}",
        res.body
    );
    assert_eq!(
        res.body["errors"][0]["extensions"]["field"], field,
        "{:?}",
        res.body
    );
    assert!(
        res.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(user_count(app).await, before, "something was written");
}

#[tokio::test]
async fn sign_up_creates_an_unverified_account_with_a_profile_that_can_log_in() {
    each_backend(|app| async move {
        let res = app.sign_up("Alice", "  Alice@Example.COM ", PASSWORD).await;
        assert_eq!(res.data()["signUp"], true);
        assert_eq!((user_count(&app).await, profile_count(&app).await), (1, 1));
        let t = app.login_ok("alice@example.com", PASSWORD).await;
        let me = app
            .gql_as(
                &t.access,
                "{ me { id username email emailVerified firstName lastName isAdmin isActive \
                   createdAt lastLoginAt profile { username bio contact } } }",
                json!({}),
            )
            .await;
        let me = &me.data()["me"];
        assert_eq!(me["id"], t.user_id.as_str());
        assert_eq!(me["username"], "Alice");
        assert_eq!(me["email"], "alice@example.com");
        assert_eq!(me["emailVerified"], false);
        assert_eq!(
            (me["isAdmin"].as_bool(), me["isActive"].as_bool()),
            (Some(false), Some(true))
        );
        assert!(chrono::DateTime::parse_from_rfc3339(me["createdAt"].as_str().unwrap()).is_ok());
        assert!(me["lastLoginAt"].is_string());
        assert_eq!(
            me["profile"],
            json!({ "username": "Alice", "bio": "", "contact": "" })
        );
    })
    .await;
}

#[tokio::test]
async fn each_username_rule_is_reported_on_the_username_field() {
    each_backend(|app| async move {
        // As long as a JSON body may be (HTTP_MAX_JSON_BYTES): refused by the rule, unread.
        let huge = "a".repeat(60_000);
        for bad in [
            "",
            "ab",
            "a b",
            "x".repeat(33).as_str(),
            "nul\0byte",
            "émile",
            "a/b",
            &huge,
        ] {
            refused(&app, bad, "someone@example.com", PASSWORD, "username").await;
        }
    })
    .await;
}

#[tokio::test]
async fn each_email_rule_is_reported_on_the_email_field() {
    each_backend(|app| async move {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "   ",
            "not-an-email",
            "a@b",
            "nul\0@example.com",
            long.as_str(),
        ] {
            refused(&app, "someone", bad, PASSWORD, "email").await;
        }
    })
    .await;
}

#[tokio::test]
async fn each_password_rule_is_reported_on_the_password_field() {
    each_backend(|app| async move {
        let cases = [
            "short",
            &"x".repeat(129),
            "password123",
            "Qwertyuiop",
            "SOMEONE1",
            "SomeOne@Example.com",
            "nul\0-in-the-middle",
            "",
        ];
        for bad in cases {
            refused(&app, "someone1", "someone@example.com", bad, "password").await;
        }
        let huge = "p".repeat(60_000);
        refused(&app, "someone1", "someone@example.com", &huge, "password").await;
    })
    .await;
}

#[tokio::test]
async fn a_password_is_kept_exactly_as_typed() {
    each_backend(|app| async move {
        let spaced = "  Tricky Horse Battery  ";
        assert_eq!(
            app.sign_up("bob", "bob@example.com", spaced).await.data()["signUp"],
            true
        );
        app.login_ok("bob", spaced).await;
        for variant in ["Tricky Horse Battery", "  tricky horse battery  "] {
            assert_eq!(
                app.login("bob", variant).await.error_code(),
                "UNAUTHENTICATED"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_username_taken_in_any_case_is_reported() {
    each_backend(|app| async move {
        app.sign_up("Carol", "carol@example.com", PASSWORD)
            .await
            .data();
        refused(&app, "cAROL", "other@example.com", PASSWORD, "username").await;
    })
    .await;
}

#[tokio::test]
async fn a_taken_email_gets_the_same_answer_and_creates_nothing() {
    each_backend(|app| async move {
        app.sign_up("dave", "dave@example.com", PASSWORD)
            .await
            .data();
        let res = app
            .sign_up("dave2", "DAVE@example.com", "another-fine-password")
            .await;
        assert_eq!(res.body, json!({ "data": { "signUp": true } }));
        assert_eq!(user_count(&app).await, 1);
        // The original owner's password is untouched.
        app.login_ok("dave@example.com", PASSWORD).await;
        assert_eq!(
            app.login("dave@example.com", "another-fine-password")
                .await
                .error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

#[tokio::test]
async fn usernames_are_normalised_before_they_are_checked() {
    each_backend(|app| async move {
        // Full-width letters are the same name as their ASCII forms (NFKC).
        app.sign_up("ｅｖｅ", "eve@example.com", PASSWORD)
            .await
            .data();
        let t = app.login_ok("EVE", PASSWORD).await;
        assert_eq!(app.me(&t.access).await.data()["me"]["username"], "eve");
        refused(&app, "Eve", "eve2@example.com", PASSWORD, "username").await;
    })
    .await;
}

#[tokio::test]
async fn me_without_a_token_or_with_a_malformed_header_is_unauthenticated() {
    each_backend(|app| async move {
        let res = app.gql("{ me { id } }", json!({})).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
        for header in [
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "token abc",
            "Bearer a.b.c",
        ] {
            let res = app
                .client
                .post(app.url("/graphql"))
                .header("authorization", header)
                .json(&json!({ "query": "{ me { id } }" }))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{header}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_bad_token_does_not_block_public_operations() {
    each_backend(|app| async move {
        app.sign_up("frank", "frank@example.com", PASSWORD)
            .await
            .data();
        app.confirm_email("frank@example.com").await;
        let res = app
            .gql_as(
                "not-a-token",
                "query { profile(username: \"frank\") { username } }",
                json!({}),
            )
            .await;
        assert_eq!(res.data()["profile"]["username"], "frank");
        // And an expired token does not stop a client from logging in again.
        let res = app
            .gql_as(
                "expired.or.bad",
                crate::harness::LOGIN,
                json!({ "i": { "usernameOrEmail": "frank", "password": PASSWORD } }),
            )
            .await;
        assert!(res.data()["login"]["accessToken"].is_string());
    })
    .await;
}

#[tokio::test]
async fn mutations_are_refused_over_get() {
    each_backend(|app| async move {
        let t = app.register("gina").await;
        let res = app
            .client
            .get(app.url("/graphql"))
            .bearer_auth(&t.access)
            .query(&[("query", "mutation { logoutAll }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        // Nothing happened: the session still works.
        app.me(&t.access).await.data();
    })
    .await;
}

#[tokio::test]
async fn every_broken_field_of_a_sign_up_is_reported_in_one_answer() {
    each_backend(|app| async move {
        // Each of the eight mixes of good and bad fields: exactly the bad ones are named,
        // each in its own BAD_USER_INPUT error, in the input's order; all good signs up.
        for mask in 0u8..8 {
            let (bad_name, bad_email, bad_password) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
            let name = format!("user{mask}");
            let username = if bad_name {
                "a b".to_owned()
            } else {
                name.clone()
            };
            let email = if bad_email {
                "not an address".to_owned()
            } else {
                format!("{name}@example.com")
            };
            let password = if bad_password { "short" } else { PASSWORD };
            let before = user_count(&app).await;
            let res = app.sign_up(&username, &email, password).await;
            let expected: Vec<&str> = [
                (bad_name, "username"),
                (bad_email, "email"),
                (bad_password, "password"),
            ]
            .iter()
            .filter(|(bad, _)| *bad)
            .map(|(_, field)| *field)
            .collect();
            if expected.is_empty() {
                assert_eq!(res.data()["signUp"], true);
                continue;
            }
            let errors = res.body["errors"].as_array().expect("errors");
            let fields: Vec<&str> = errors
                .iter()
                .map(|e| e["extensions"]["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, expected, "{}", res.body);
            for e in errors {
                assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT");
                assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
                assert_eq!(e["path"], json!(["signUp"]));
                // The carrier of the other fields never reaches the client.
                assert_eq!(e["extensions"].as_object().unwrap().len(), 2, "{e}");
            }
            assert_eq!(user_count(&app).await, before, "something was written");
        }
    })
    .await;
}

/// The `extensions.field` of every error of an answer, in order.
fn error_fields(res: &crate::harness::Gql) -> Vec<String> {
    res.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors expected: {}", res.body))
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn login_change_password_and_confirm_reset_report_every_bad_field_at_once() {
    each_backend(|app| async move {
        let res = app.login("", "").await;
        assert_eq!(error_fields(&res), ["usernameOrEmail", "password"]);

        let t = app.register("gus").await;
        let change = "mutation($c: String!, $n: String!) { \
            changePassword(input: { currentPassword: $c, newPassword: $n }) }";
        let res = app
            .gql_as(&t.access, change, json!({ "c": "", "n": "short" }))
            .await;
        assert_eq!(error_fields(&res), ["currentPassword", "newPassword"]);
        let res = app
            .gql_as(&t.access, change, json!({ "c": PASSWORD, "n": PASSWORD }))
            .await;
        assert_eq!(error_fields(&res), ["newPassword"]);

        let reset = "mutation($t: String!, $n: String!) { \
            confirmReset(input: { token: $t, newPassword: $n }) }";
        let res = app
            .gql(reset, json!({ "t": "not-a-token", "n": "short" }))
            .await;
        assert_eq!(error_fields(&res), ["token", "newPassword"]);
        // Nothing changed: the password still signs in.
        app.login_ok("gus", PASSWORD).await;
    })
    .await;
}

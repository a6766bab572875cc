//! Every string input, hostile: NUL and other control characters are refused as
//! `BAD_USER_INPUT` (PostgreSQL refuses NUL in text, so it must never reach it), and no
//! input, whatever its characters, gets an internal error on either database.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, Tokens, each_backend};

/// NUL, other C0 controls, DEL and C1 controls.
const CONTROLS: [char; 6] = ['\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'];

async fn as_user(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    match token {
        Some(t) => app.gql_as(t, query, vars).await.body,
        None => app.gql(query, vars).await.body,
    }
}

/// Each operation that takes a string a database query could see, the variables that
/// carry `bad` in it, and the field the refusal must name.
fn cases(bad: &str) -> Vec<(&'static str, Value, &'static str, bool)> {
    vec![
        (
            "mutation($i: SignUpInput!) { signUp(input: $i) }",
            json!({ "i": { "username": format!("a{bad}b"), "email": "x@example.com", "password": PASSWORD } }),
            "username",
            false,
        ),
        (
            "mutation($i: SignUpInput!) { signUp(input: $i) }",
            json!({ "i": { "username": "okname", "email": format!("x{bad}@example.com"), "password": PASSWORD } }),
            "email",
            false,
        ),
        (
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "usernameOrEmail": format!("root{bad}"), "password": PASSWORD } }),
            "usernameOrEmail",
            false,
        ),
        (
            "mutation($e: String!) { requestReset(email: $e) }",
            json!({ "e": format!("root{bad}@example.com") }),
            "email",
            false,
        ),
        (
            "query($u: String!) { profile(username: $u) { username } }",
            json!({ "u": format!("ro{bad}ot") }),
            "username",
            false,
        ),
        (
            "query($s: String) { users(search: $s) { totalCount } }",
            json!({ "s": format!("ro{bad}ot") }),
            "search",
            true,
        ),
        (
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
            json!({ "i": { "firstName": format!("A{bad}da") } }),
            "firstName",
            true,
        ),
        (
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
            json!({ "i": { "bio": format!("about{bad}me") } }),
            "bio",
            true,
        ),
        (
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
            json!({ "i": { "username": format!("new{bad}name") } }),
            "username",
            true,
        ),
    ]
}

#[tokio::test]
async fn control_characters_in_any_string_are_bad_user_input_on_both_databases() {
    each_backend(|app| async move {
        let admin: Tokens = app.admin("root").await;
        for c in CONTROLS {
            for (query, vars, field, signed_in) in cases(&c.to_string()) {
                let token = signed_in.then_some(admin.access.as_str());
                let body = as_user(&app, token, query, vars).await;
                let what = format!("{c:?} in {field} of {query}");
                assert_eq!(
                    body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                    "{what}: {body}"
                );
                assert_eq!(body["errors"][0]["extensions"]["field"], field, "{what}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn tokens_and_ids_with_control_characters_are_refused_without_an_internal_error() {
    each_backend(|app| async move {
        let t = app.admin("root").await;
        for c in CONTROLS {
            let bad = format!("abc{c}def");
            for (query, vars, token) in [
                (
                    "mutation($t: String!) { verifyEmail(token: $t) }",
                    json!({ "t": bad }),
                    None,
                ),
                (
                    "query($t: String!) { resetTokenValid(token: $t) }",
                    json!({ "t": bad }),
                    None,
                ),
                (
                    "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
                    json!({ "t": bad }),
                    None,
                ),
                (
                    "mutation($t: String!) { logout(refreshToken: $t) }",
                    json!({ "t": bad }),
                    None,
                ),
                (
                    "mutation($i: ConfirmResetInput!) { confirmReset(input: $i) }",
                    json!({ "i": { "token": bad, "newPassword": PASSWORD } }),
                    None,
                ),
                (
                    "query($id: ID!) { user(id: $id) { id } }",
                    json!({ "id": bad }),
                    Some(&t.access),
                ),
                (
                    "mutation($id: ID!) { revokeSession(id: $id) }",
                    json!({ "id": bad }),
                    Some(&t.access),
                ),
                (
                    "query($a: String) { users(after: $a) { totalCount } }",
                    json!({ "a": bad }),
                    Some(&t.access),
                ),
            ] {
                let body = as_user(&app, token.map(String::as_str), query, vars).await;
                let code = &body["errors"][0]["extensions"]["code"];
                assert_ne!(code, "INTERNAL_SERVER_ERROR", "{c:?} in {query}: {body}");
                assert!(
                    body["errors"].is_array() || body["data"]["resetTokenValid"] == false,
                    "{c:?} in {query}: {body}"
                );
            }
        }
        assert_eq!(app.get("/healthz").await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_huge_username_lookup_is_refused_before_it_is_normalised() {
    each_backend(|app| async move {
        // Each of these characters is 18 once normalised (NFKC): the length is checked on
        // the raw text first.
        let huge = "ﷺ".repeat(20_000);
        let res = app
            .gql(
                "query($u: String!) { profile(username: $u) { username } }",
                json!({ "u": huge }),
            )
            .await;
        assert!(res.data()["profile"].is_null());
        let res = app.login(&huge, PASSWORD).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(
            res.body["errors"][0]["extensions"]["field"],
            "usernameOrEmail"
        );
    })
    .await;
}

//! `profile(username)`: the public, case-insensitive profile lookup.

use authql::{
    domain::{Account, PasswordHash},
    repo::users::{NewUser, Unique, WriteError, insert_with_profile},
};
use sea_orm::TransactionTrait;
use serde_json::json;

use crate::harness::{PASSWORD, TestApp, Tokens, each_backend};

const PROFILE: &str = "query($u: String!) { profile(username: $u) { username bio contact } }";

/// Stores an account directly, as the repository does for a use case.
async fn try_insert(app: &TestApp, username: &str, email: &str) -> Result<Account, WriteError> {
    let txn = app.db.begin().await.unwrap();
    let user = insert_with_profile(
        &txn,
        NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: PasswordHash("$argon2id$unused".into()),
            // A profile is public once the address is verified.
            email_verified: true,
            is_admin: false,
        },
        chrono::Utc::now(),
    )
    .await?;
    txn.commit().await.unwrap();
    Ok(user)
}

/// Signs an account up and verifies its address, as its owner does: a profile is public
/// once the address is verified.
async fn verified_user(app: &TestApp, username: &str, email: &str) -> Tokens {
    let res = app.sign_up(username, email, PASSWORD).await;
    assert_eq!(res.data()["signUp"], true);
    app.confirm_email(email).await;
    app.login_ok(username, PASSWORD).await
}

#[tokio::test]
async fn profile_finds_a_user_by_username_in_any_case() {
    each_backend(|app| async move {
        verified_user(&app, "Alice_1", "alice@example.com").await;
        for asked in ["Alice_1", "alice_1", "ALICE_1"] {
            let res = app.gql(PROFILE, json!({ "u": asked })).await;
            assert_eq!(
                res.data()["profile"],
                json!({ "username": "Alice_1", "bio": "", "contact": "" }),
                "asked for {asked}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn profile_is_null_for_an_unknown_username() {
    each_backend(|app| async move {
        verified_user(&app, "bob", "bob@example.com").await;
        let res = app.gql(PROFILE, json!({ "u": "bobby" })).await;
        assert_eq!(res.data()["profile"], serde_json::Value::Null);
    })
    .await;
}

#[tokio::test]
async fn profile_is_null_for_a_deactivated_user() {
    each_backend(|app| async move {
        let user = verified_user(&app, "carol", "carol@example.com").await;
        let admin = app.admin("root").await;
        let res = app
            .gql_as(
                &admin.access,
                "mutation($id: ID!) { adminUpdateUser(id: $id, input: { isActive: false }) { isActive } }",
                json!({ "id": user.user_id }),
            )
            .await;
        assert_eq!(res.data()["adminUpdateUser"]["isActive"], false);
        let res = app.gql(PROFILE, json!({ "u": "carol" })).await;
        assert_eq!(res.data()["profile"], serde_json::Value::Null);
    })
    .await;
}

#[tokio::test]
async fn usernames_that_differ_only_by_case_cannot_both_exist() {
    each_backend(|app| async move {
        try_insert(&app, "Dave", "dave@example.com").await.unwrap();
        let err = try_insert(&app, "dAVE", "other@example.com")
            .await
            .expect_err("a case-insensitive duplicate is refused");
        assert!(matches!(err, WriteError::Taken(Unique::Username)), "{err}");
        // A taken email is told apart from a taken username, on both engines.
        let err = try_insert(&app, "someone-else", "dave@example.com")
            .await
            .expect_err("a duplicate email is refused");
        assert!(matches!(err, WriteError::Taken(Unique::Email)), "{err}");
    })
    .await;
}

const UPDATE: &str = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { \
    username firstName lastName profile { username bio contact } } }";

#[tokio::test]
async fn update_profile_changes_only_the_fields_given() {
    each_backend(|app| async move {
        let t = app.register("erin").await;
        app.confirm_email("erin@example.com").await;
        let res = app
            .gql_as(
                &t.access,
                UPDATE,
                json!({ "i": { "bio": "Hello\nthere", "firstName": " Erin " } }),
            )
            .await;
        let user = &res.data()["updateProfile"];
        assert_eq!(user["firstName"], "Erin");
        assert_eq!(user["lastName"], "");
        assert_eq!(user["profile"]["bio"], "Hello\nthere");
        let res = app
            .gql_as(
                &t.access,
                UPDATE,
                json!({ "i": { "contact": "@erin", "lastName": "Smith" } }),
            )
            .await;
        let user = &res.data()["updateProfile"];
        assert_eq!(user["firstName"], "Erin");
        assert_eq!(user["lastName"], "Smith");
        assert_eq!(
            user["profile"],
            json!({ "username": "erin", "bio": "Hello\nthere", "contact": "@erin" })
        );
        // `me` and the public profile show it at once.
        let me = app
            .gql_as(
                &t.access,
                "{ me { lastName profile { contact } } }",
                json!({}),
            )
            .await;
        assert_eq!(me.data()["me"]["profile"]["contact"], "@erin");
        let public = app.gql(PROFILE, json!({ "u": "ERIN" })).await;
        assert_eq!(public.data()["profile"]["bio"], "Hello\nthere");
    })
    .await;
}

#[tokio::test]
async fn a_new_username_keeps_the_rules_and_case_insensitive_uniqueness() {
    each_backend(|app| async move {
        app.register("frank").await;
        let t = app.register("gina").await;
        for (name, field) in [
            ("FRANK", "username"),
            ("a b", "username"),
            ("x", "username"),
        ] {
            let res = app
                .gql_as(&t.access, UPDATE, json!({ "i": { "username": name } }))
                .await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{name}");
            assert_eq!(res.body["errors"][0]["extensions"]["field"], field);
        }
        let res = app
            .gql_as(&t.access, UPDATE, json!({ "i": { "username": "Gina_B" } }))
            .await;
        assert_eq!(res.data()["updateProfile"]["username"], "Gina_B");
        // The new name logs in and is found; the old one is free again.
        app.login_ok("gina_b", crate::harness::PASSWORD).await;
        assert_eq!(
            app.gql(PROFILE, json!({ "u": "gina" })).await.data()["profile"],
            serde_json::Value::Null
        );
        // Changing only the case of one's own name is allowed.
        let res = app
            .gql_as(&t.access, UPDATE, json!({ "i": { "username": "GINA_B" } }))
            .await;
        assert_eq!(res.data()["updateProfile"]["username"], "GINA_B");
    })
    .await;
}

#[tokio::test]
async fn profile_fields_have_length_caps_and_nothing_is_half_written() {
    each_backend(|app| async move {
        let t = app.register("hugo").await;
        let cases = [
            (json!({ "bio": "b".repeat(1001) }), "bio"),
            (json!({ "contact": "c".repeat(201) }), "contact"),
            (json!({ "contact": "two\nlines" }), "contact"),
            (json!({ "firstName": "f".repeat(151) }), "firstName"),
            (json!({ "lastName": "nul\u{0}" }), "lastName"),
            (
                json!({ "bio": "ok", "lastName": "l".repeat(151) }),
                "lastName",
            ),
        ];
        for (input, field) in cases {
            let res = app.gql_as(&t.access, UPDATE, json!({ "i": input })).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{input}");
            assert_eq!(res.body["errors"][0]["extensions"]["field"], field);
        }
        let me = app
            .gql_as(&t.access, "{ me { lastName profile { bio } } }", json!({}))
            .await;
        assert_eq!(me.data()["me"]["profile"]["bio"], "");
        assert_eq!(me.data()["me"]["lastName"], "");
        let res = app.gql(UPDATE, json!({ "i": { "bio": "anon" } })).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_profile_exposes_only_public_fields() {
    each_backend(|app| async move {
        app.register("iris").await;
        app.confirm_email("iris@example.com").await;
        let res = app
            .gql("{ profile(username: \"iris\") { email } }", json!({}))
            .await;
        assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED");
        let res = app
            .gql(
                "{ profile(username: \"iris\") { username bio contact avatarUrl } }",
                json!({}),
            )
            .await;
        assert_eq!(
            res.data()["profile"],
            json!({ "username": "iris", "bio": "", "contact": "", "avatarUrl": null })
        );
    })
    .await;
}

#[tokio::test]
async fn every_broken_field_of_a_profile_update_is_reported_and_nothing_changes() {
    each_backend(|app| async move {
        let t = app.register("fay").await;
        let res = app
            .gql_as(
                &t.access,
                UPDATE,
                json!({ "i": {
                    "username": "a b",
                    "firstName": "x".repeat(151),
                    "lastName": "Ok",
                    "bio": "y".repeat(1001),
                    "contact": "z".repeat(201),
                } }),
            )
            .await;
        let fields: Vec<&str> = res.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["extensions"]["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            ["username", "firstName", "bio", "contact"],
            "{}",
            res.body
        );
        let me = app
            .gql_as(&t.access, "{ me { username lastName } }", json!({}))
            .await;
        assert_eq!(
            me.data()["me"],
            json!({ "username": "fay", "lastName": "" })
        );
    })
    .await;
}

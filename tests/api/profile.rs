//! `profile(username)`: the public, case-insensitive profile lookup.

use authql::{
    entity::users::{self, PasswordHash},
    repo::users::{NewUser, insert_with_profile},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel, TransactionTrait};
use serde_json::json;

use crate::helpers::{TestApp, each_backend};

const PROFILE: &str = "query($u: String!) { profile(username: $u) { username bio contact } }";

/// Stores an account directly: signing up over the API comes with the accounts capability.
async fn insert_user(app: &TestApp, username: &str, email: &str) -> users::Model {
    let txn = app.db.begin().await.unwrap();
    let user = insert_with_profile(
        &txn,
        NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: PasswordHash("$argon2id$unused".into()),
            email_verified: false,
            is_admin: false,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    user
}

#[tokio::test]
async fn profile_finds_a_user_by_username_in_any_case() {
    each_backend(|app| async move {
        insert_user(&app, "Alice_1", "alice@example.com").await;
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
        insert_user(&app, "bob", "bob@example.com").await;
        let res = app.gql(PROFILE, json!({ "u": "bobby" })).await;
        assert_eq!(res.data()["profile"], serde_json::Value::Null);
    })
    .await;
}

#[tokio::test]
async fn profile_is_null_for_a_deactivated_user() {
    each_backend(|app| async move {
        let user = insert_user(&app, "carol", "carol@example.com").await;
        let mut active = user.into_active_model();
        active.is_active = Set(false);
        active.update(&app.db).await.unwrap();
        let res = app.gql(PROFILE, json!({ "u": "carol" })).await;
        assert_eq!(res.data()["profile"], serde_json::Value::Null);
    })
    .await;
}

#[tokio::test]
async fn usernames_that_differ_only_by_case_cannot_both_exist() {
    each_backend(|app| async move {
        insert_user(&app, "Dave", "dave@example.com").await;
        let txn = app.db.begin().await.unwrap();
        let err = insert_with_profile(
            &txn,
            NewUser {
                username: "dAVE".into(),
                email: "other@example.com".into(),
                password_hash: PasswordHash("$argon2id$unused".into()),
                email_verified: false,
                is_admin: false,
            },
            chrono::Utc::now(),
        )
        .await
        .expect_err("a case-insensitive duplicate is refused");
        assert!(
            matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            "{err}"
        );
    })
    .await;
}

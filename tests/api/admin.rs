//! Administration over GraphQL: listing, reading, changing and deleting users.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, each_backend, each_backend_with};

const USERS: &str = "query($first: Int, $after: String, $search: String) { \
    users(first: $first, after: $after, search: $search) { totalCount \
    edges { cursor node { id username email isActive profile { bio } } } \
    pageInfo { hasNextPage endCursor } } }";
const UPDATE: &str = "mutation($id: ID!, $i: AdminUpdateUserInput!) { \
    adminUpdateUser(id: $id, input: $i) { id username email emailVerified isAdmin isActive \
    firstName } }";
const DELETE: &str = "mutation($id: ID!) { adminDeleteUser(id: $id) }";
const REVOKE: &str = "mutation($id: ID!) { adminRevokeSessions(id: $id) }";

#[tokio::test]
async fn everyone_but_an_administrator_is_forbidden() {
    each_backend(|app| async move {
        let t = app.register("plain").await;
        let id = t.user_id.clone();
        let ops: [(&str, Value); 5] = [
            (USERS, json!({})),
            (
                "query($id: ID!) { user(id: $id) { id } }",
                json!({ "id": id }),
            ),
            (UPDATE, json!({ "id": id, "i": { "firstName": "x" } })),
            (DELETE, json!({ "id": id })),
            (REVOKE, json!({ "id": id })),
        ];
        for (query, vars) in ops {
            assert_eq!(
                app.gql_as(&t.access, query, vars.clone())
                    .await
                    .error_code(),
                "FORBIDDEN"
            );
            assert_eq!(app.gql(query, vars).await.error_code(), "UNAUTHENTICATED");
        }
    })
    .await;
}

#[tokio::test]
async fn users_pages_through_everyone_in_a_stable_order() {
    // Two dozen sign-ups from one address: more than a client may make in an hour.
    each_backend_with(&[("SIGNUP_MAX_PER_IP", "100")], |app| async move {
        let admin = app.admin("root").await;
        for i in 0..24 {
            app.sign_up(
                &format!("user{i:02}"),
                &format!("user{i:02}@example.com"),
                PASSWORD,
            )
            .await
            .data();
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let res = app
                .gql_as(&admin.access, USERS, json!({ "first": 10, "after": after }))
                .await;
            let page = &res.data()["users"];
            assert_eq!(page["totalCount"], 25);
            let edges = page["edges"].as_array().unwrap();
            seen.extend(
                edges
                    .iter()
                    .map(|e| e["node"]["username"].as_str().unwrap().to_owned()),
            );
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
            assert_eq!(after.as_deref(), edges.last().unwrap()["cursor"].as_str());
        }
        assert_eq!(seen.len(), 25);
        let mut expected = vec!["root".to_owned()];
        expected.extend((0..24).map(|i| format!("user{i:02}")));
        assert_eq!(seen, expected, "creation order, no gaps, no repeats");
    })
    .await;
}

#[tokio::test]
async fn users_can_be_searched_by_username_or_email() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        app.sign_up("alice", "alice@wonder.land", PASSWORD)
            .await
            .data();
        app.sign_up("bob_smith", "bob@example.com", PASSWORD)
            .await
            .data();
        app.sign_up("carol", "carol%50@example.com", PASSWORD)
            .await
            .data();
        for (search, expected) in [
            ("WONDER", vec!["alice"]),
            ("b_s", vec!["bob_smith"]),
            ("%", vec!["carol"]),
            ("example.com", vec!["root", "bob_smith", "carol"]),
            ("nobody", vec![]),
        ] {
            let res = app
                .gql_as(&admin.access, USERS, json!({ "search": search }))
                .await;
            let names: Vec<&str> = res.data()["users"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["username"].as_str().unwrap())
                .collect();
            assert_eq!(names, expected, "{search}");
            assert_eq!(res.data()["users"]["totalCount"], expected.len());
        }
    })
    .await;
}

#[tokio::test]
async fn bad_page_arguments_are_bad_user_input() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        for (vars, field) in [
            (json!({ "first": -1 }), "first"),
            (json!({ "first": 100000 }), "first"),
            (json!({ "first": 101 }), "first"),
            (json!({ "after": "never-issued" }), "after"),
            (json!({ "after": "dXNlcjpub3QtYS11dWlk" }), "after"),
        ] {
            let res = app.gql_as(&admin.access, USERS, vars.clone()).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{vars}");
            assert_eq!(res.body["errors"][0]["extensions"]["field"], field);
        }
        let res = app
            .gql_as(&admin.access, USERS, json!({ "first": 100 }))
            .await;
        res.data();
    })
    .await;
}

#[tokio::test]
async fn user_reads_one_account_or_null() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        let t = app.register("dave").await;
        let q = "query($id: ID!) { user(id: $id) { username email } }";
        let res = app
            .gql_as(&admin.access, q, json!({ "id": t.user_id }))
            .await;
        assert_eq!(
            res.data()["user"],
            json!({ "username": "dave", "email": "dave@example.com" })
        );
        let missing = uuid::Uuid::now_v7().to_string();
        let res = app.gql_as(&admin.access, q, json!({ "id": missing })).await;
        assert_eq!(res.data()["user"], Value::Null);
        let res = app.gql_as(&admin.access, q, json!({ "id": "42" })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
    })
    .await;
}

#[tokio::test]
async fn admin_update_user_changes_any_field_and_deactivation_ends_sessions() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        let t = app.register("erin").await;
        let vars = json!({ "id": t.user_id, "i": {
            "username": "Erin2", "email": "ERIN2@example.com", "firstName": "Erin",
            "isAdmin": true, "emailVerified": true } });
        let res = app.gql_as(&admin.access, UPDATE, vars).await;
        let u = &res.data()["adminUpdateUser"];
        assert_eq!(u["username"], "Erin2");
        assert_eq!(u["email"], "erin2@example.com");
        assert_eq!(
            (u["isAdmin"].as_bool(), u["emailVerified"].as_bool()),
            (Some(true), Some(true))
        );
        // A new address is unverified unless the administrator says otherwise.
        let vars = json!({ "id": t.user_id, "i": { "email": "erin3@example.com" } });
        let res = app.gql_as(&admin.access, UPDATE, vars).await;
        assert_eq!(res.data()["adminUpdateUser"]["emailVerified"], false);

        app.me(&t.access).await.data();
        let vars = json!({ "id": t.user_id, "i": { "isActive": false } });
        assert_eq!(
            app.gql_as(&admin.access, UPDATE, vars).await.data()["adminUpdateUser"]["isActive"],
            false
        );
        assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.login("erin2", PASSWORD).await.error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

#[tokio::test]
async fn admin_update_user_keeps_the_rules() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        app.register("frank").await;
        let t = app.register("gus").await;
        for (input, code, field) in [
            (
                json!({ "username": "FRANK" }),
                "BAD_USER_INPUT",
                Some("username"),
            ),
            (
                json!({ "email": "frank@example.com" }),
                "BAD_USER_INPUT",
                Some("email"),
            ),
            (
                json!({ "email": "not-an-address" }),
                "BAD_USER_INPUT",
                Some("email"),
            ),
            (
                json!({ "firstName": "x".repeat(151) }),
                "BAD_USER_INPUT",
                Some("firstName"),
            ),
        ] {
            let res = app
                .gql_as(
                    &admin.access,
                    UPDATE,
                    json!({ "id": t.user_id, "i": input }),
                )
                .await;
            assert_eq!(res.error_code(), code);
            assert_eq!(res.body["errors"][0]["extensions"]["field"].as_str(), field);
        }
        let res = app
            .gql_as(
                &admin.access,
                UPDATE,
                json!({ "id": uuid::Uuid::now_v7().to_string(), "i": {} }),
            )
            .await;
        assert_eq!(res.error_code(), "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn an_administrator_cannot_lock_themselves_out() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        let me = admin.user_id.clone();
        for input in [json!({ "isAdmin": false }), json!({ "isActive": false })] {
            let res = app
                .gql_as(&admin.access, UPDATE, json!({ "id": me, "i": input }))
                .await;
            assert_eq!(res.error_code(), "FORBIDDEN");
        }
        assert_eq!(
            app.gql_as(&admin.access, DELETE, json!({ "id": me }))
                .await
                .error_code(),
            "FORBIDDEN"
        );
        let res = app
            .gql_as(&admin.access, "{ me { isAdmin isActive } }", json!({}))
            .await;
        assert_eq!(
            res.data()["me"],
            json!({ "isAdmin": true, "isActive": true })
        );
    })
    .await;
}

#[tokio::test]
async fn admin_delete_user_removes_everything_of_theirs() {
    each_backend(|app| async move {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let admin = app.admin("root").await;
        let t = app.register("hank").await;
        let png = include_bytes!("../fixtures/avatar.png");
        let res = app
            .upload(
                Some(&t.access),
                "mutation($file: Upload!) { uploadAvatar(file: $file) { avatarUrl } }",
                "a.png",
                "image/png",
                png,
            )
            .await;
        let body: Value = res.json().await.unwrap();
        let url = body["data"]["uploadAvatar"]["avatarUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let media = url.strip_prefix(&app.base_url).unwrap().to_owned();
        assert_eq!(app.get(&media).await.status(), 200);
        let sessions_before = authql::entity::sessions::Entity::find()
            .count(&app.db)
            .await
            .unwrap();

        let id = t.user_id.clone();
        assert_eq!(
            app.gql_as(&admin.access, DELETE, json!({ "id": id }))
                .await
                .data()["adminDeleteUser"],
            true
        );
        assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.get(&media).await.status(), 404);
        assert_eq!(
            app.gql("{ profile(username: \"hank\") { username } }", json!({}))
                .await
                .data()["profile"],
            Value::Null
        );
        let sessions_after = authql::entity::sessions::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(sessions_after, sessions_before - 1);
        let tokens = authql::entity::email_tokens::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        let hanks = authql::entity::profiles::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(
            (tokens, hanks),
            (0, 1),
            "only the administrator's profile is left"
        );
        assert_eq!(
            app.gql_as(&admin.access, DELETE, json!({ "id": id }))
                .await
                .error_code(),
            "NOT_FOUND"
        );
    })
    .await;
}

#[tokio::test]
async fn admin_revoke_sessions_ends_every_session_of_the_user() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        let a = app.register("ivy").await;
        let b = app.login_ok("ivy", PASSWORD).await;
        let res = app
            .gql_as(&admin.access, REVOKE, json!({ "id": a.user_id }))
            .await;
        assert_eq!(res.data()["adminRevokeSessions"], 2);
        for t in [&a, &b] {
            assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
        }
        let res = app
            .gql_as(&admin.access, REVOKE, json!({ "id": a.user_id }))
            .await;
        assert_eq!(res.data()["adminRevokeSessions"], 0);
        app.me(&admin.access).await.data();
    })
    .await;
}

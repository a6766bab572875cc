//! Refresh rotation with reuse detection, expiry, logout and the sessions list.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Gql, PASSWORD, Tokens, each_backend, each_backend_with};

const DAY: Duration = Duration::from_secs(86_400);

fn tokens(res: &Gql) -> Tokens {
    Tokens::from_payload(&res.data()["refresh"])
}

#[tokio::test]
async fn refresh_rotates_to_a_new_working_pair_of_the_same_session() {
    each_backend(|app| async move {
        let first = app.register("alice").await;
        let res = app.refresh(&first.refresh).await;
        let second = tokens(&res);
        assert_ne!(second.refresh, first.refresh);
        assert_ne!(second.access, first.access);
        assert_eq!(second.user_id, first.user_id);
        assert_eq!(res.data()["refresh"]["tokenType"], "Bearer");
        app.me(&second.access).await.data();
        let third = tokens(&app.refresh(&second.refresh).await);
        app.me(&third.access).await.data();
        let list = app
            .gql_as(&third.access, "{ sessions { id current } }", json!({}))
            .await;
        assert_eq!(list.data()["sessions"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_tabs_refreshing_one_token_at_once_all_stay_signed_in() {
    each_backend(|app| async move {
        let t = app.register("bob").await;
        let results =
            futures_util::future::join_all((0..20).map(|_| app.refresh(&t.refresh))).await;
        let pairs: Vec<Tokens> = results.iter().map(tokens).collect();
        for pair in &pairs {
            app.me(&pair.access).await.data();
        }
        // The session survived, and every tab can go on refreshing its own token.
        for pair in &pairs {
            tokens(&app.refresh(&pair.refresh).await);
        }
        let list = app
            .gql_as(&pairs[0].access, "{ sessions { id } }", json!({}))
            .await;
        assert_eq!(list.data()["sessions"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_grace_exactly_one_of_twenty_concurrent_refreshes_succeeds() {
    each_backend_with(&[("REFRESH_REUSE_GRACE", "0")], |app| async move {
        let t = app.register("carol").await;
        let results =
            futures_util::future::join_all((0..20).map(|_| app.refresh(&t.refresh))).await;
        let ok = results
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(ok, 1);
        for failed in results.iter().filter(|r| r.body.get("errors").is_some()) {
            assert_eq!(failed.error_code(), "UNAUTHENTICATED");
        }
        // With no grace, the second presentation was reuse: the session is over, the
        // winner's new pair included.
        let winner = results
            .iter()
            .find(|r| r.body.get("errors").is_none())
            .unwrap();
        let winner = tokens(winner);
        assert_eq!(app.me(&winner.access).await.error_code(), "UNAUTHENTICATED");
        assert_eq!(
            app.refresh(&winner.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

#[tokio::test]
async fn within_the_grace_the_just_spent_token_gets_the_same_successor() {
    each_backend(|app| async move {
        let t = app.register("dan").await;
        let a = tokens(&app.refresh(&t.refresh).await);
        // The clock also runs in real time: leave a second for a slow machine.
        app.advance(Duration::from_secs(9));
        let b = tokens(&app.refresh(&t.refresh).await);
        assert_eq!(a.refresh, b.refresh);
        assert_ne!(a.access, b.access);
        app.me(&a.access).await.data();
        app.me(&b.access).await.data();
        // Only one of the tabs can move the chain on.
        tokens(&app.refresh(&a.refresh).await);
    })
    .await;
}

#[tokio::test]
async fn the_grace_ends_exactly_at_refresh_reuse_grace() {
    each_backend(|app| async move {
        let t = app.register("dina").await;
        let next = tokens(&app.refresh(&t.refresh).await);
        app.advance(Duration::from_secs(10));
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.me(&next.access).await.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_replay_within_the_grace_shares_the_chain_and_is_caught_when_it_falls_behind() {
    each_backend(|app| async move {
        let t = app.register("dirk").await;
        let victim = tokens(&app.refresh(&t.refresh).await);
        // An attacker replays the stolen token within the grace: same successor…
        let thief = tokens(&app.refresh(&t.refresh).await);
        assert_eq!(thief.refresh, victim.refresh);
        // …so when the victim moves on, the thief's copy is an ancestor: reuse.
        tokens(&app.refresh(&victim.refresh).await);
        app.advance(Duration::from_secs(11));
        assert_eq!(
            app.refresh(&thief.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.me(&thief.access).await.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_spent_token_after_the_grace_revokes_the_session_and_its_newest_token() {
    each_backend(|app| async move {
        let t = app.register("eve").await;
        let next = tokens(&app.refresh(&t.refresh).await);
        app.advance(Duration::from_secs(11));
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        // The whole family is gone: the newest refresh token and its access token.
        assert_eq!(
            app.refresh(&next.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.me(&next.access).await.error_code(), "UNAUTHENTICATED");
        // Logging in again starts a fresh session.
        app.login_ok("eve", PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn an_older_ancestor_is_reuse_even_within_the_grace() {
    each_backend(|app| async move {
        let t0 = app.register("fred").await;
        let t1 = tokens(&app.refresh(&t0.refresh).await);
        let t2 = tokens(&app.refresh(&t1.refresh).await);
        // t0 was spent a moment ago, but t1 (issued for it) has been spent since.
        assert_eq!(
            app.refresh(&t0.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.refresh(&t2.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

#[tokio::test]
async fn an_idle_session_expires_after_the_refresh_token_ttl() {
    each_backend(|app| async move {
        let t = app.register("gail").await;
        app.advance(14 * DAY + Duration::from_secs(1));
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_it_is_refreshed() {
    each_backend(|app| async move {
        let mut t = app.register("hank").await;
        for _ in 0..2 {
            app.advance(10 * DAY);
            let res = app.refresh(&t.refresh).await;
            t = tokens(&res);
        }
        // 20 days in: the idle window would reach day 34, but the session ends at day 30.
        let res = app.refresh(&t.refresh).await;
        let left = res.data()["refresh"]["refreshExpiresIn"].as_i64().unwrap();
        assert!((10 * 86_400 - 5..=10 * 86_400).contains(&left), "{left}");
        t = tokens(&res);
        app.advance(10 * DAY + Duration::from_secs(1));
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn logout_ends_the_session_for_refresh_and_access_alike() {
    each_backend(|app| async move {
        let t = app.register("ida").await;
        let other = app.login_ok("ida", PASSWORD).await;
        let res = app
            .gql(
                "mutation($t: String!) { logout(refreshToken: $t) }",
                json!({ "t": t.refresh }),
            )
            .await;
        assert_eq!(res.data()["logout"], true);
        assert_eq!(
            app.refresh(&t.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
        // Only that session: the other one still works.
        app.me(&other.access).await.data();
        let res = app
            .gql(
                "mutation($t: String!) { logout(refreshToken: $t) }",
                json!({ "t": "nonsense" }),
            )
            .await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    each_backend(|app| async move {
        let a = app.register("jack").await;
        let b = app.login_ok("jack", PASSWORD).await;
        let res = app
            .gql_as(&a.access, "mutation { logoutAll }", json!({}))
            .await;
        assert_eq!(res.data()["logoutAll"], true);
        for t in [&a, &b] {
            assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
            assert_eq!(
                app.refresh(&t.refresh).await.error_code(),
                "UNAUTHENTICATED"
            );
        }
        let res = app.gql("mutation { logoutAll }", json!({})).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn sessions_lists_live_sessions_and_marks_the_current_one() {
    each_backend(|app| async move {
        let a = app.register("kate").await;
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("user-agent", "kate-phone/1.0")
            .json(&json!({
                "query": crate::harness::LOGIN,
                "variables": { "i": { "usernameOrEmail": "kate", "password": PASSWORD } }
            }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        let b = Tokens::from_payload(&body["data"]["login"]);
        let q = "{ sessions { id createdAt lastUsedAt expiresAt userAgent ip current } }";
        let res = app.gql_as(&b.access, q, json!({})).await;
        let list = res.data()["sessions"].as_array().unwrap().clone();
        assert_eq!(list.len(), 2);
        let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["userAgent"], "kate-phone/1.0");
        assert_eq!(current[0]["ip"], "127.0.0.1");
        app.gql_as(&a.access, "mutation { logoutAll }", json!({}))
            .await
            .data();
        let res = app.gql("{ sessions { id } }", json!({})).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn revoke_session_ends_one_of_your_own_sessions_only() {
    each_backend(|app| async move {
        let mine = app.register("liam").await;
        let other_device = app.login_ok("liam", PASSWORD).await;
        let stranger = app.register("mona").await;
        let ids = |res: Gql| -> Vec<String> {
            res.data()["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let strangers = ids(app
            .gql_as(&stranger.access, "{ sessions { id } }", json!({}))
            .await);
        let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";

        let res = app
            .gql_as(&mine.access, revoke, json!({ "id": strangers[0] }))
            .await;
        assert_eq!(res.error_code(), "NOT_FOUND");
        app.me(&stranger.access).await.data();

        let res = app
            .gql_as(&mine.access, revoke, json!({ "id": "not-a-uuid" }))
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");

        let listing = app
            .gql_as(&mine.access, "{ sessions { id current } }", json!({}))
            .await;
        let other_id = listing.data()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == false)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app
            .gql_as(&mine.access, revoke, json!({ "id": other_id }))
            .await;
        assert_eq!(res.data()["revokeSession"], true);
        assert_eq!(
            app.me(&other_device.access).await.error_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.refresh(&other_device.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        app.me(&mine.access).await.data();
    })
    .await;
}

#[tokio::test]
async fn ended_sessions_are_purged() {
    each_backend(|app| async move {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let t = app.register("nora").await;
        app.login_ok("nora", PASSWORD).await;
        app.gql_as(&t.access, "mutation { logoutAll }", json!({}))
            .await
            .data();
        let count = || authql::entity::sessions::Entity::find().count(&app.db);
        let tokens = || authql::entity::refresh_tokens::Entity::find().count(&app.db);
        assert_eq!(count().await.unwrap(), 2);
        // Kept a day for investigations, then purged with their refresh tokens.
        assert_eq!(
            authql::service::maintenance::purge(&app.state)
                .await
                .unwrap()
                .sessions,
            0
        );
        app.advance(DAY + Duration::from_secs(1));
        assert_eq!(
            authql::service::maintenance::purge(&app.state)
                .await
                .unwrap()
                .sessions,
            2
        );
        assert_eq!((count().await.unwrap(), tokens().await.unwrap()), (0, 0));
    })
    .await;
}

#[tokio::test]
async fn sealed_successors_are_erased_once_the_grace_is_over() {
    each_backend(|app| async move {
        use authql::entity::refresh_tokens::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let t = app.register("nell").await;
        tokens(&app.refresh(&t.refresh).await);
        let sealed = || {
            Entity::find()
                .filter(Column::SuccessorSealed.is_not_null())
                .count(&app.db)
        };
        assert_eq!(sealed().await.unwrap(), 1);
        let purge = || authql::service::maintenance::purge(&app.state);
        assert_eq!(purge().await.unwrap().successor_seals, 0);
        app.advance(Duration::from_secs(11));
        assert_eq!(purge().await.unwrap().successor_seals, 1);
        assert_eq!(sealed().await.unwrap(), 0);
    })
    .await;
}

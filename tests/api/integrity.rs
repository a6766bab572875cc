//! Account integrity: bare email addresses, administrators that cannot all disappear,
//! credential changes that win races with logins, a sign-up that is no email oracle, and
//! login throttling that an attacker cannot turn against the account's owner.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    LOGIN, PASSWORD, TestApp, Tokens, each_backend, each_backend_with, eventually::eventually_every,
};

const UPDATE: &str = "mutation($id: ID!, $i: AdminUpdateUserInput!) { \
    adminUpdateUser(id: $id, input: $i) { id isAdmin isActive } }";
const DELETE: &str = "mutation($id: ID!) { adminDeleteUser(id: $id) }";
const CONFIRM_RESET: &str = "mutation($i: ConfirmResetInput!) { confirmReset(input: $i) }";
const NEW_PASSWORD: &str = "a-brand-new-passphrase";

fn login_vars(name: &str, password: &str) -> Value {
    json!({ "i": { "usernameOrEmail": name, "password": password } })
}

/// Signs `name` up and confirms the address with the mailed link.
async fn verified(app: &TestApp, name: &str) -> Tokens {
    let email = format!("{name}@example.com");
    assert_eq!(
        app.sign_up(name, &email, PASSWORD).await.data()["signUp"],
        true
    );
    let mail = app.smtp.wait_for(&email, "Confirm your email").await;
    let token = mail.token("verify-email").expect("a verification link");
    let res = app
        .gql(
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(res.data()["verifyEmail"], true);
    app.login_ok(name, PASSWORD).await
}

/// The token of the newest reset mail to `email` after asking for one.
async fn reset_token(app: &TestApp, email: &str) -> String {
    let res = app
        .gql(
            "mutation($e: String!) { requestReset(email: $e) }",
            json!({ "e": email }),
        )
        .await;
    assert_eq!(res.data()["requestReset"], true);
    app.smtp
        .wait_for(email, "Reset your")
        .await
        .token("reset-password")
        .expect("a reset link")
}

async fn login_from(
    app: &TestApp,
    address: &str,
    name: &str,
    password: &str,
) -> crate::harness::Gql {
    app.login_from(address, name, password).await
}

#[tokio::test]
async fn display_names_comments_and_quoted_addresses_are_refused_and_nothing_is_mailed() {
    each_backend(|app| async move {
        let forms = [
            "x <victim@example.com>",
            "victim@example.com <eve@evil.test>",
            "\"victim@example.com\"@evil.test",
            "<victim@example.com>",
            "victim(x)@example.com",
            "Victim <victim@example.com>",
        ];
        for (i, email) in forms.iter().enumerate() {
            let res = app.sign_up(&format!("form{i}"), email, PASSWORD).await;
            assert_eq!(
                res.error_code(),
                "BAD_USER_INPUT",
                "{email}: {:?}",
                res.body
            );
            assert_eq!(
                res.body["errors"][0]["extensions"]["field"], "email",
                "{email}"
            );
            let res = app
                .gql(
                    "mutation($e: String!) { requestReset(email: $e) }",
                    json!({ "e": email }),
                )
                .await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{email}");
        }
        // A bare address still works; by the time its mail arrives, the refused ones would
        // have been sent too.
        app.sign_up("plain", "plain@example.com", PASSWORD).await;
        app.smtp.wait_for("plain@example.com", "Confirm").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mails = app.smtp.mails();
        assert_eq!(mails.len(), 1, "{mails:#?}");
        assert_eq!(
            app.login("form0", PASSWORD).await.error_code(),
            "UNAUTHENTICATED"
        );
    })
    .await;
}

/// The ids of the active administrators, as an administrator's `users` query lists them.
async fn active_admins(app: &TestApp, admin_token: &str) -> Vec<String> {
    let res = app
        .gql_as(
            admin_token,
            "{ users(first: 100) { totalCount edges { node { id isAdmin isActive } } } }",
            json!({}),
        )
        .await;
    let users = &res.data()["users"];
    assert!(users["totalCount"].as_u64().unwrap() <= 100, "{users}");
    users["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["isAdmin"] == true && n["isActive"] == true)
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Locks every administrator's row (PostgreSQL) or the whole database (SQLite) until the
/// transaction ends, so that two requests sent meanwhile both reach their checks before
/// either has changed anything.
async fn hold_admins(app: &TestApp) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let txn = app.db.begin().await.unwrap();
    txn.execute_raw(Statement::from_string(
        txn.get_database_backend(),
        "UPDATE users SET updated_at = updated_at WHERE is_admin",
    ))
    .await
    .unwrap();
    txn
}

#[tokio::test]
async fn two_administrators_removing_each_other_at_once_leave_one() {
    each_backend(|app| async move {
        for (round, op) in ["demote", "deactivate", "delete"].iter().enumerate() {
            let a = app.admin(&format!("adm-a{round}")).await;
            let b = app.admin(&format!("adm-b{round}")).await;
            // The administrators of earlier rounds lose their rights first (one by one,
            // which the rule allows), so that these two are the only ones.
            let admins = active_admins(&app, &a.access).await;
            for id in admins {
                if id != a.user_id && id != b.user_id {
                    let res = app
                        .gql_as(
                            &a.access,
                            UPDATE,
                            json!({ "id": id, "i": { "isAdmin": false } }),
                        )
                        .await;
                    assert_eq!(res.data()["adminUpdateUser"]["isAdmin"], false);
                }
            }
            let (query, vars_for) = match *op {
                "demote" => (UPDATE, json!({ "isAdmin": false })),
                "deactivate" => (UPDATE, json!({ "isActive": false })),
                _ => (DELETE, Value::Null),
            };
            let vars = |id: &str| {
                if vars_for.is_null() {
                    json!({ "id": id })
                } else {
                    json!({ "id": id, "i": vars_for })
                }
            };
            let held = hold_admins(&app).await;
            let (first, second) = {
                let one = app.gql_as(&a.access, query, vars(&b.user_id));
                let other = app.gql_as(&b.access, query, vars(&a.user_id));
                let release = async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    held.rollback().await.unwrap();
                };
                let (one, other, ()) = tokio::join!(one, other, release);
                (one, other)
            };
            let ok = [&first, &second]
                .iter()
                .filter(|r| r.body["errors"].is_null())
                .count();
            assert_eq!(ok, 1, "{op}: {:?} / {:?}", first.body, second.body);
            let refused = if first.body["errors"].is_null() {
                &second
            } else {
                &first
            };
            assert_eq!(
                refused.error_code(),
                "FORBIDDEN",
                "{op}: {:?}",
                refused.body
            );
            let winner = if first.body["errors"].is_null() {
                &a
            } else {
                &b
            };
            let left = active_admins(&app, &winner.access).await;
            assert_eq!(left.len(), 1, "{op}: {left:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_last_administrator_cannot_be_removed_by_anyone() {
    each_backend(|app| async move {
        let a = app.admin("only-admin").await;
        let b = app.admin("second-admin").await;
        // b demotes a: allowed (b remains).
        let res = app
            .gql_as(
                &b.access,
                UPDATE,
                json!({ "id": a.user_id, "i": { "isAdmin": false } }),
            )
            .await;
        assert_eq!(res.data()["adminUpdateUser"]["isAdmin"], false);
        // a is no longer an administrator: its old token cannot demote b.
        let res = app
            .gql_as(
                &a.access,
                UPDATE,
                json!({ "id": b.user_id, "i": { "isAdmin": false } }),
            )
            .await;
        assert_eq!(res.error_code(), "FORBIDDEN");
        // b cannot remove itself.
        for i in [json!({ "isAdmin": false }), json!({ "isActive": false })] {
            let res = app
                .gql_as(&b.access, UPDATE, json!({ "id": b.user_id, "i": i }))
                .await;
            assert_eq!(res.error_code(), "FORBIDDEN");
        }
        let left = active_admins(&app, &b.access).await;
        assert_eq!(left.len(), 1);
    })
    .await;
}

/// Holds `app`'s hasher, starts `login` on it, and waits until the login has read the
/// account and queued for its password check; returns the login's future and the hold.
async fn login_held_at_its_password_check(
    app: &TestApp,
    name: &str,
    password: &str,
) -> (
    tokio::task::JoinHandle<crate::harness::Gql>,
    authql::auth::password::Paused,
) {
    let paused = app.state.hasher.pause().await.expect("the hasher held");
    let login = {
        let client = app.client.clone();
        let url = app.url("/graphql");
        let body = json!({ "query": LOGIN, "variables": login_vars(name, password) });
        tokio::spawn(async move {
            let res = client.post(url).json(&body).send().await.unwrap();
            crate::harness::Gql {
                status: res.status(),
                body: res.json().await.unwrap(),
            }
        })
    };
    eventually_every(
        "the login queued for the hasher",
        Duration::from_secs(2),
        Duration::from_millis(10),
        || std::future::ready(app.state.hasher.waiting() == 1),
    )
    .await;
    (login, paused)
}

async fn live_sessions(app: &TestApp, user_id: &str) -> usize {
    let id = user_id.parse().unwrap();
    authql::repo::sessions::list_live(&app.db, id, chrono::Utc::now())
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_login_racing_a_reset_gets_no_session_and_cannot_undo_it() {
    // The login checks a hash weaker than the configured one, so it would store a new hash
    // of the old password if it were let through.
    each_backend_with(&[("PASSWORD_HASH_WAIT", "30s")], |app| async move {
        let t = app.register("racer").await;
        let weak = authql::auth::password::Hasher::new(
            authql::config::HashParams {
                memory_kib: 8 * 1024,
                iterations: 1,
                parallelism: 1,
            },
            authql::config::HashBudget::for_tool(1),
        )
        .await
        .unwrap();
        let weak_hash = weak
            .hash(
                &authql::domain::Password::candidate(
                    PASSWORD.into(),
                    authql::error::Field::Password,
                )
                .unwrap(),
                &authql::domain::ClientKey::of(None),
            )
            .await
            .unwrap();
        authql::repo::users::set_password(
            &app.db,
            t.user_id.parse().unwrap(),
            weak_hash,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let token = reset_token(&app, "racer@example.com").await;
        let (replica, stop) = app.replica().await;

        let (login, paused) = login_held_at_its_password_check(&app, "racer", PASSWORD).await;
        // Another replica completes the reset while the login waits with the old hash.
        let res = replica
            .gql(
                CONFIRM_RESET,
                json!({ "i": { "token": token, "newPassword": NEW_PASSWORD } }),
            )
            .await;
        assert_eq!(res.data()["confirmReset"], true, "{:?}", res.body);
        let stored =
            authql::repo::users::find_by_id_with_credential(&app.db, t.user_id.parse().unwrap())
                .await
                .unwrap()
                .unwrap()
                .1
                .hash;
        drop(paused);
        let raced = login.await.unwrap();
        assert_eq!(raced.error_code(), "UNAUTHENTICATED", "{:?}", raced.body);
        assert_eq!(
            raced.body["errors"][0]["message"],
            app.login("racer", "not-the-password").await.body["errors"][0]["message"]
        );
        // The reset's hash stands, and only the new password signs in.
        let now =
            authql::repo::users::find_by_id_with_credential(&app.db, t.user_id.parse().unwrap())
                .await
                .unwrap()
                .unwrap()
                .1
                .hash;
        assert_eq!(now, stored);
        assert_eq!(live_sessions(&app, &t.user_id).await, 0);
        assert_eq!(
            app.login("racer", PASSWORD).await.error_code(),
            "UNAUTHENTICATED"
        );
        app.login_ok("racer", NEW_PASSWORD).await;
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn a_login_racing_a_password_change_gets_no_session() {
    each_backend_with(&[("PASSWORD_HASH_WAIT", "30s")], |app| async move {
        let t = app.register("changer").await;
        let (replica, stop) = app.replica().await;
        let (login, paused) = login_held_at_its_password_check(&app, "changer", PASSWORD).await;
        // The hold is on this replica's hasher: the change runs on the other one.
        let res = replica
            .gql_as(
                &t.access,
                "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
                json!({ "i": { "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD } }),
            )
            .await;
        assert_eq!(res.data()["changePassword"], true, "{:?}", res.body);
        drop(paused);
        let raced = login.await.unwrap();
        assert_eq!(raced.error_code(), "UNAUTHENTICATED", "{:?}", raced.body);
        // Only the session the change was made from is live.
        assert_eq!(live_sessions(&app, &t.user_id).await, 1);
        app.login_ok("changer", NEW_PASSWORD).await;
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn a_password_change_sent_from_a_session_a_reset_ended_is_refused() {
    each_backend(|app| async move {
        let t = app.register("stolen").await;
        let token = reset_token(&app, "stolen@example.com").await;
        let res = app
            .gql(
                CONFIRM_RESET,
                json!({ "i": { "token": token, "newPassword": NEW_PASSWORD } }),
            )
            .await;
        assert_eq!(res.data()["confirmReset"], true);
        // The attacker's access token (still within its lifetime) and the old password.
        let res = app
            .gql_as(
                &t.access,
                "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
                json!({ "i": { "currentPassword": PASSWORD, "newPassword": "attacker-owns-this-now" } }),
            )
            .await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED", "{:?}", res.body);
        app.login_ok("stolen", NEW_PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn sign_up_looks_the_same_whether_or_not_the_email_had_an_account() {
    each_backend(|app| async move {
        verified(&app, "owner").await;
        let hashes = app.state.hasher.computed();
        let taken = app
            .sign_up("probe-taken", "owner@example.com", PASSWORD)
            .await;
        let after_taken = app.state.hasher.computed();
        let fresh = app
            .sign_up("probe-fresh", "fresh@example.com", PASSWORD)
            .await;
        let after_fresh = app.state.hasher.computed();
        // The same answer, after the same work (one hash each).
        assert_eq!(taken.status, fresh.status);
        assert_eq!(taken.body, fresh.body);
        assert_eq!(taken.body, json!({ "data": { "signUp": true } }));
        assert_eq!(after_taken - hashes, 1);
        assert_eq!(after_fresh - after_taken, 1);

        for name in ["probe-taken", "probe-fresh"] {
            // No public profile either way (an unverified account has none yet).
            let res = app
                .gql(
                    "query($u: String!) { profile(username: $u) { username } }",
                    json!({ "u": name }),
                )
                .await;
            assert_eq!(res.body, json!({ "data": { "profile": null } }), "{name}");
            // The username is taken either way.
            let again = app
                .sign_up(name, &format!("other-{name}@example.com"), PASSWORD)
                .await;
            assert_eq!(again.error_code(), "BAD_USER_INPUT", "{name}");
            assert_eq!(again.body["errors"][0]["extensions"]["field"], "username");
            let upper = app
                .sign_up(
                    &name.to_uppercase(),
                    &format!("x-{name}@example.com"),
                    PASSWORD,
                )
                .await;
            assert_eq!(upper.body["errors"], again.body["errors"], "{name}");
        }
        // And a signed-in user cannot rename to either.
        let me = app.register("renamer").await;
        for name in ["probe-taken", "probe-fresh"] {
            let res = app
                .gql_as(
                    &me.access,
                    "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { username } }",
                    json!({ "i": { "username": name } }),
                )
                .await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{name}: {:?}", res.body);
        }
        // The owner is told; the new address gets its link.
        app.smtp
            .wait_for("owner@example.com", "tried to sign up")
            .await;
        app.smtp.wait_for("fresh@example.com", "Confirm").await;
        // Once verified, the new account's profile is public.
        verified(&app, "visible").await;
        let res = app
            .gql("{ profile(username: \"visible\") { username } }", json!({}))
            .await;
        assert_eq!(res.data()["profile"]["username"], "visible");
    })
    .await;
}

const THROTTLE: &[(&str, &str)] = &[
    ("LOGIN_MAX_FAILURES", "3"),
    ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "6"),
    ("TRUSTED_PROXIES", "127.0.0.1/32"),
];

#[tokio::test]
async fn username_and_email_are_one_bucket_and_each_address_has_its_own() {
    each_backend_with(THROTTLE, |app| async move {
        verified(&app, "bucket").await;
        // Three failures from one address, by either name, use up that address's tries.
        for name in ["bucket", "BUCKET@example.com", "bucket"] {
            let res = login_from(&app, "10.0.0.1", name, "wrong-password").await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED");
        }
        for name in ["bucket", "bucket@example.com"] {
            let res = login_from(&app, "10.0.0.1", name, PASSWORD).await;
            assert_eq!(res.error_code(), "RATE_LIMITED", "{name}");
        }
        // The owner elsewhere is not affected.
        let res = login_from(&app, "10.0.0.2", "bucket", PASSWORD).await;
        assert!(res.body["errors"].is_null(), "{:?}", res.body);
        // An unknown name is throttled exactly like a real one.
        for _ in 0..3 {
            let res = login_from(&app, "10.0.0.1", "nobody-here", "wrong-password").await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED");
        }
        let res = login_from(&app, "10.0.0.1", "nobody-here", "wrong-password").await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
    })
    .await;
}

/// Locks `name` account-wide from addresses 10.9.0.x; returns when it is.
async fn lock_account(app: &TestApp, name: &str) {
    // 3 tries from each of two addresses reach the account-wide limit of 6.
    for address in ["10.9.0.1", "10.9.0.2"] {
        for _ in 0..3 {
            let res = login_from(app, address, name, "wrong-password").await;
            assert_eq!(
                res.error_code(),
                "UNAUTHENTICATED",
                "{address}: {:?}",
                res.body
            );
        }
    }
    let res = login_from(app, "10.9.0.3", name, "wrong-password").await;
    assert_eq!(res.error_code(), "RATE_LIMITED", "{:?}", res.body);
}

#[tokio::test]
async fn a_completed_reset_lets_the_owner_back_in_past_an_attackers_lock() {
    each_backend_with(THROTTLE, |app| async move {
        verified(&app, "victim").await;
        lock_account(&app, "victim").await;
        // Locked for everyone, the owner's address too.
        let res = login_from(&app, "192.0.2.7", "victim", PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        // A throttled account can still reset its password, which lifts the lock.
        let token = reset_token(&app, "victim@example.com").await;
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("x-forwarded-for", "192.0.2.7")
            .json(&json!({
                "query": CONFIRM_RESET,
                "variables": { "i": { "token": token, "newPassword": NEW_PASSWORD } },
            }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(res["data"]["confirmReset"], true, "{res:?}");
        // The attacker's addresses got no fresh tries from it...
        let res = login_from(&app, "10.9.0.1", "victim", "wrong-password").await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        // ...and when new addresses lock the account again, the owner's address, which
        // completed the reset, still gets in.
        for address in ["10.9.2.1", "10.9.2.2", "10.9.2.3"] {
            for _ in 0..3 {
                login_from(&app, address, "victim", "wrong-password").await;
            }
        }
        let res = login_from(&app, "10.9.2.4", "victim", NEW_PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED", "locked again");
        let res = login_from(&app, "192.0.2.7", "victim", NEW_PASSWORD).await;
        assert!(res.body["errors"].is_null(), "{:?}", res.body);
    })
    .await;
}

#[tokio::test]
async fn a_locked_accounts_owner_gets_one_mail_whose_link_unlocks_their_address() {
    each_backend_with(THROTTLE, |app| async move {
        verified(&app, "locked").await;
        lock_account(&app, "locked").await;
        let mail = app
            .smtp
            .wait_for("locked@example.com", "trying to sign in")
            .await;
        let token = mail.token("unlock-account").expect("an unlock link");
        // More attempts from new addresses: still locked, and no second mail this window.
        for address in ["10.9.1.1", "10.9.1.2"] {
            let res = login_from(&app, address, "locked", "wrong-password").await;
            assert_eq!(res.error_code(), "RATE_LIMITED");
        }
        // The attacker cannot use the link without it; a wrong token unlocks nothing.
        let unlock = |address: &'static str, token: String| {
            let app = &app;
            async move {
                let res = app
                    .client
                    .post(app.url("/graphql"))
                    .header("x-forwarded-for", address)
                    .json(&json!({
                        "query": "mutation($t: String!) { unlockAccount(token: $t) }",
                        "variables": { "t": token },
                    }))
                    .send()
                    .await
                    .unwrap();
                res.json::<Value>().await.unwrap()
            }
        };
        let res = unlock("10.9.0.1", "A".repeat(43)).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        // The owner kept trying meanwhile (an app retrying on its own), past its own
        // address's limit.
        for _ in 0..5 {
            let res = login_from(&app, "198.51.100.4", "locked", PASSWORD).await;
            assert_eq!(res.error_code(), "RATE_LIMITED");
        }
        // The owner opens the link at home: that address signs in; the attacker's do not.
        let res = unlock("198.51.100.4", token.clone()).await;
        assert_eq!(res["data"]["unlockAccount"], true, "{res:?}");
        let res = login_from(&app, "198.51.100.4", "locked", PASSWORD).await;
        assert!(res.body["errors"].is_null(), "{:?}", res.body);
        let res = login_from(&app, "10.9.1.3", "locked", PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        // The link works once.
        let res = unlock("10.9.1.3", token).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let unlock_mails = app
            .smtp
            .mails()
            .iter()
            .filter(|m| m.subject().contains("trying to sign in"))
            .count();
        assert_eq!(unlock_mails, 1);
    })
    .await;
}

#[tokio::test]
async fn an_unverified_account_is_never_sent_an_unlock_mail() {
    // It may carry someone else's address: the lock mail would be mail to a stranger.
    each_backend_with(THROTTLE, |app| async move {
        app.register("unverified").await;
        lock_account(&app, "unverified").await;
        verified(&app, "control").await;
        lock_account(&app, "control").await;
        app.smtp
            .wait_for("control@example.com", "trying to sign in")
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !app.smtp
                .mails()
                .iter()
                .any(|m| m.to.iter().any(|t| t == "unverified@example.com")
                    && m.subject().contains("trying to sign in"))
        );
    })
    .await;
}

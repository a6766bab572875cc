//! The email flows, end to end: mail really arrives at an SMTP server (through RabbitMQ and
//! the worker where a broker is configured), the test follows its link through the API and
//! sees the effect.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::harness::{PASSWORD, TestApp, each_backend, each_backend_with, eventually::eventually};

const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestReset(email: $e) }";
const CONFIRM_RESET: &str =
    "mutation($t: String!, $p: String!) { confirmReset(input: { token: $t, newPassword: $p }) }";
const RESET_VALID: &str = "query($t: String!) { resetTokenValid(token: $t) }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { \
    changePassword(input: { currentPassword: $c, newPassword: $n }) }";

async fn outbox_rows(app: &TestApp, to: &str, kind: &str) -> u64 {
    use authql::entity::outbox::{Column, Entity};
    Entity::find()
        .filter(Column::Recipient.eq(to))
        .filter(Column::Kind.eq(kind))
        .count(&app.db)
        .await
        .unwrap()
}

async fn email_verified(app: &TestApp, access: &str) -> bool {
    app.gql_as(access, "{ me { emailVerified } }", json!({}))
        .await
        .data()["me"]["emailVerified"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn sign_up_mails_a_verification_link_that_verifies_the_address_once() {
    let vars = [
        ("APP_URL", "https://app.example.com/auth"),
        ("MAIL_FROM", "Example Accounts <accounts@example.com>"),
    ];
    each_backend_with(&vars, |app| async move {
        app.sign_up("alice", "alice@example.com", PASSWORD)
            .await
            .data();
        let mail = app
            .smtp
            .wait_for("alice@example.com", "Confirm your email")
            .await;
        assert_eq!(mail.from, "accounts@example.com");
        assert!(
            mail.data.contains("Content-Type: text/plain"),
            "{}",
            mail.data
        );
        assert!(
            mail.data.contains("Content-Type: text/html"),
            "{}",
            mail.data
        );
        assert!(
            mail.body()
                .contains("https://app.example.com/auth/verify-email?token=")
        );
        let token = mail.token("verify-email").expect("a link with a token");

        let t = app.login_ok("alice", PASSWORD).await;
        assert!(!email_verified(&app, &t.access).await);
        assert_eq!(
            app.gql(VERIFY, json!({ "t": token })).await.data()["verifyEmail"],
            true
        );
        assert!(email_verified(&app, &t.access).await);
        // Single use.
        let again = app.gql(VERIFY, json!({ "t": token })).await;
        assert_eq!(again.error_code(), "BAD_USER_INPUT");
        assert_eq!(again.body["errors"][0]["extensions"]["field"], "token");
    })
    .await;
}

#[tokio::test]
async fn links_come_from_app_url_never_from_request_headers() {
    each_backend(|app| async move {
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .header("origin", "https://evil.example")
            .json(&json!({
                "query": "mutation { signUp(input: { username: \"bob\", email: \"bob@example.com\", \
                          password: \"correct-horse-battery-staple\" }) }"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mail = app.smtp.wait_for("bob@example.com", "Confirm").await;
        assert!(!mail.data.contains("evil.example"));
        // Without APP_URL: authql's own account pages, at its own address.
        let own = format!("{}/account/verify-email?token=", app.base_url);
        assert!(mail.body().contains(&own), "{}", mail.body());
    })
    .await;
}

#[tokio::test]
async fn resending_replaces_the_link_and_a_verified_address_is_refused() {
    each_backend(|app| async move {
        let t = app.register("carol").await;
        let first = app.smtp.wait_for("carol@example.com", "Confirm").await;
        let res = app
            .gql_as(&t.access, "mutation { resendVerification }", json!({}))
            .await;
        assert_eq!(res.data()["resendVerification"], true);
        let second = app
            .smtp
            .wait_until(Duration::from_secs(30), |mails| {
                let links: Vec<_> = mails
                    .iter()
                    .filter(|m| m.to == ["carol@example.com"])
                    .filter_map(|m| m.token("verify-email"))
                    .collect();
                (links.len() == 2).then(|| links[1].clone())
            })
            .await
            .expect("a second verification mail");
        let old = first.token("verify-email").unwrap();
        assert_ne!(old, second);
        assert_eq!(
            app.gql(VERIFY, json!({ "t": old })).await.error_code(),
            "BAD_USER_INPUT"
        );
        app.gql(VERIFY, json!({ "t": second })).await.data();
        let res = app
            .gql_as(&t.access, "mutation { resendVerification }", json!({}))
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
    })
    .await;
}

#[tokio::test]
async fn verifying_an_already_verified_account_is_bad_user_input() {
    each_backend(|app| async move {
        app.sign_up("dora", "dora@example.com", PASSWORD)
            .await
            .data();
        let token = app
            .smtp
            .wait_for("dora@example.com", "Confirm")
            .await
            .token("verify-email")
            .unwrap();
        // Verified another way (by an administrator): the link is still unspent.
        let admin = app.admin("root").await;
        let id = app.id_of(&admin.access, "dora").await;
        let res = app
            .gql_as(
                &admin.access,
                "mutation($id: ID!) { adminUpdateUser(id: $id, input: { emailVerified: true }) { emailVerified } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(res.data()["adminUpdateUser"]["emailVerified"], true);
        let res = app.gql(VERIFY, json!({ "t": token })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert!(
            res.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("already")
        );
    })
    .await;
}

#[tokio::test]
async fn a_sign_up_with_a_taken_email_tells_the_owner_instead() {
    each_backend(|app| async move {
        app.sign_up("erin", "erin@example.com", PASSWORD)
            .await
            .data();
        app.smtp.wait_for("erin@example.com", "Confirm").await;
        let res = app
            .sign_up("mallory", "ERIN@example.com", "another-fine-password")
            .await;
        assert_eq!(res.data()["signUp"], true);
        let notice = app
            .smtp
            .wait_for("erin@example.com", "tried to sign up")
            .await;
        assert!(notice.body().contains("erin"));
        assert_eq!(
            outbox_rows(&app, "erin@example.com", "verify_email").await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_ends_every_session_and_verifies_the_address() {
    each_backend(|app| async move {
        let t = app.register("fred").await;
        let other = app.login_ok("fred", PASSWORD).await;
        let res = app
            .gql(REQUEST_RESET, json!({ "e": "FRED@example.com" }))
            .await;
        assert_eq!(res.data()["requestReset"], true);
        let mail = app.smtp.wait_for("fred@example.com", "Reset your").await;
        let token = mail.token("reset-password").unwrap();
        assert_eq!(
            app.gql(RESET_VALID, json!({ "t": token })).await.data()["resetTokenValid"],
            true
        );

        let weak = app
            .gql(CONFIRM_RESET, json!({ "t": token, "p": "password1" }))
            .await;
        assert_eq!(weak.error_code(), "BAD_USER_INPUT");
        assert_eq!(weak.body["errors"][0]["extensions"]["field"], "newPassword");

        let new = "a-brand-new-passphrase";
        let res = app
            .gql(CONFIRM_RESET, json!({ "t": token, "p": new }))
            .await;
        assert_eq!(res.data()["confirmReset"], true);
        // Every session ended, access tokens issued before included.
        for old in [&t, &other] {
            assert_eq!(app.me(&old.access).await.error_code(), "UNAUTHENTICATED");
            assert_eq!(
                app.refresh(&old.refresh).await.error_code(),
                "UNAUTHENTICATED"
            );
        }
        assert_eq!(
            app.login("fred", PASSWORD).await.error_code(),
            "UNAUTHENTICATED"
        );
        let fresh = app.login_ok("fred", new).await;
        assert!(email_verified(&app, &fresh.access).await);
        // The link is spent.
        assert_eq!(
            app.gql(RESET_VALID, json!({ "t": token })).await.data()["resetTokenValid"],
            false
        );
        let again = app
            .gql(
                CONFIRM_RESET,
                json!({ "t": token, "p": "yet-another-passphrase" }),
            )
            .await;
        assert_eq!(again.error_code(), "BAD_USER_INPUT");
        app.smtp.wait_for("fred@example.com", "was reset").await;
    })
    .await;
}

#[tokio::test]
async fn request_reset_answers_true_for_unknown_addresses_and_mails_nothing() {
    each_backend(|app| async move {
        let res = app
            .gql(REQUEST_RESET, json!({ "e": "nobody@example.com" }))
            .await;
        assert_eq!(res.body, json!({ "data": { "requestReset": true } }));
        assert_eq!(
            outbox_rows(&app, "nobody@example.com", "reset_password").await,
            0
        );
        let res = app
            .gql(REQUEST_RESET, json!({ "e": "not an address" }))
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
    })
    .await;
}

#[tokio::test]
async fn a_new_reset_request_replaces_the_previous_link_and_links_expire() {
    each_backend(|app| async move {
        app.register("gail").await;
        app.gql(REQUEST_RESET, json!({ "e": "gail@example.com" }))
            .await
            .data();
        let first = app
            .smtp
            .wait_for("gail@example.com", "Reset")
            .await
            .token("reset-password");
        app.gql(REQUEST_RESET, json!({ "e": "gail@example.com" }))
            .await
            .data();
        let second = app
            .smtp
            .wait_until(Duration::from_secs(30), |mails| {
                let tokens: Vec<_> = mails
                    .iter()
                    .filter_map(|m| m.token("reset-password"))
                    .collect();
                (tokens.len() == 2).then(|| tokens[1].clone())
            })
            .await
            .unwrap();
        let valid = |t: String| {
            let app = &app;
            async move {
                app.gql(RESET_VALID, json!({ "t": t })).await.data()["resetTokenValid"].clone()
            }
        };
        assert_eq!(valid(first.unwrap()).await, false);
        assert_eq!(valid(second.clone()).await, true);
        app.advance(Duration::from_secs(3601));
        assert_eq!(valid(second).await, false);
    })
    .await;
}

#[tokio::test]
async fn a_throttled_account_can_still_reset_its_password() {
    each_backend_with(&[("LOGIN_MAX_FAILURES", "2")], |app| async move {
        app.register("hank").await;
        for _ in 0..3 {
            app.login("hank", "wrong-password").await;
        }
        assert_eq!(
            app.login("hank", PASSWORD).await.error_code(),
            "RATE_LIMITED"
        );
        app.gql(REQUEST_RESET, json!({ "e": "hank@example.com" }))
            .await
            .data();
        let token = app
            .smtp
            .wait_for("hank@example.com", "Reset")
            .await
            .token("reset-password")
            .unwrap();
        let res = app
            .gql(
                CONFIRM_RESET,
                json!({ "t": token, "p": "recovered-passphrase" }),
            )
            .await;
        assert_eq!(res.data()["confirmReset"], true);
    })
    .await;
}

#[tokio::test]
async fn change_password_checks_the_current_one_ends_other_sessions_and_sends_a_notice() {
    each_backend(|app| async move {
        let mine = app.register("ida").await;
        let other = app.login_ok("ida", PASSWORD).await;
        let res = app
            .gql_as(
                &mine.access,
                CHANGE,
                json!({ "c": "not-my-password", "n": "x-new-passphrase" }),
            )
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(
            res.body["errors"][0]["extensions"]["field"],
            "currentPassword"
        );
        let res = app
            .gql_as(&mine.access, CHANGE, json!({ "c": PASSWORD, "n": "ida" }))
            .await;
        assert_eq!(res.body["errors"][0]["extensions"]["field"], "newPassword");

        let new = "ida-new-passphrase";
        let res = app
            .gql_as(&mine.access, CHANGE, json!({ "c": PASSWORD, "n": new }))
            .await;
        assert_eq!(res.data()["changePassword"], true);
        app.me(&mine.access).await.data();
        assert_eq!(app.me(&other.access).await.error_code(), "UNAUTHENTICATED");
        assert_eq!(
            app.refresh(&other.refresh).await.error_code(),
            "UNAUTHENTICATED"
        );
        app.login_ok("ida", new).await;
        assert_eq!(
            app.login("ida", PASSWORD).await.error_code(),
            "UNAUTHENTICATED"
        );
        app.smtp.wait_for("ida@example.com", "was changed").await;
        let res = app
            .gql(CHANGE, json!({ "c": new, "n": "whatever-passphrase" }))
            .await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn reset_and_verification_mails_are_limited_per_address() {
    each_backend_with(&[("MAIL_LIMIT_PER_ADDRESS", "2")], |app| async move {
        app.sign_up("jack", "jack@example.com", PASSWORD)
            .await
            .data();
        // The verification mail counted as one; one reset mail is left, then nothing.
        for _ in 0..3 {
            let res = app
                .gql(REQUEST_RESET, json!({ "e": "jack@example.com" }))
                .await;
            assert_eq!(res.data()["requestReset"], true);
        }
        assert_eq!(
            outbox_rows(&app, "jack@example.com", "verify_email").await,
            1
        );
        assert_eq!(
            outbox_rows(&app, "jack@example.com", "reset_password").await,
            1
        );
        // The window passes and mail flows again.
        app.advance(Duration::from_secs(3601));
        app.gql(REQUEST_RESET, json!({ "e": "jack@example.com" }))
            .await
            .data();
        assert_eq!(
            outbox_rows(&app, "jack@example.com", "reset_password").await,
            2
        );
    })
    .await;
}

#[tokio::test]
async fn once_handed_on_an_outbox_row_keeps_no_token() {
    each_backend(|app| async move {
        app.sign_up("kate", "kate@example.com", PASSWORD)
            .await
            .data();
        let mail = app.smtp.wait_for("kate@example.com", "Confirm").await;
        let token = mail.token("verify-email").unwrap();
        // Marked just after the hand-on completes.
        let row = eventually(
            "the row marked published",
            Duration::from_secs(5),
            || async {
                authql::entity::outbox::Entity::find()
                    .filter(authql::entity::outbox::Column::Recipient.eq("kate@example.com"))
                    .one(&app.db)
                    .await
                    .unwrap()
                    .filter(|r| r.published_at.is_some())
            },
        )
        .await;
        assert_eq!(row.payload, "{}");
        assert!(!format!("{row:?}").contains(&token));
    })
    .await;
}

#[tokio::test]
async fn sign_up_answers_without_waiting_for_a_slow_smtp_server() {
    each_backend(|app| async move {
        let gate = app.smtp.hold();
        let res = app.sign_up("liam", "liam@example.com", PASSWORD).await;
        assert_eq!(res.data()["signUp"], true);
        // The answer came back while the SMTP server still holds the mail.
        assert!(app.smtp.mails().is_empty());
        assert!(app.smtp.wait_offered(1, Duration::from_secs(30)).await);
        assert!(app.smtp.mails().is_empty());
        gate.release(1);
        app.smtp.wait_for("liam@example.com", "Confirm").await;
    })
    .await;
}

#[tokio::test]
async fn a_send_that_fails_twice_then_succeeds_is_delivered_once() {
    each_backend(|app| async move {
        app.smtp.refuse_next(2);
        app.sign_up("mona", "mona@example.com", PASSWORD)
            .await
            .data();
        app.smtp.wait_for("mona@example.com", "Confirm").await;
        assert_eq!(app.smtp.offered(), 3);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.smtp.mails().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn without_smtp_url_mail_goes_to_the_dev_mailbox_folder() {
    let dir = std::env::temp_dir().join(format!("authql-devbox-{}", uuid::Uuid::new_v4().simple()));
    let dir_str = dir.display().to_string();
    let vars = [("SMTP_URL", ""), ("MAIL_DIR", dir_str.as_str())];
    each_backend_with(&vars, |app| {
        let dir = dir.clone();
        async move {
            app.sign_up("nina", "nina@example.com", PASSWORD)
                .await
                .data();
            let file = eventually("an .eml file in MAIL_DIR", Duration::from_secs(30), || {
                std::future::ready(std::fs::read_dir(&dir).ok().and_then(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .find(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                }))
            })
            .await;
            let eml = std::fs::read_to_string(file.path()).unwrap();
            assert!(eml.contains("To: nina@example.com"), "{eml}");
            assert!(eml.contains("/verify-email?token="), "{eml}");
            std::fs::remove_dir_all(&dir).ok();
        }
    })
    .await;
}

#[tokio::test]
async fn a_verification_link_expires_after_a_day() {
    each_backend(|app| async move {
        app.sign_up("quentin", "quentin@example.com", PASSWORD)
            .await
            .data();
        let token = app
            .smtp
            .wait_for("quentin@example.com", "Confirm")
            .await
            .token("verify-email")
            .unwrap();
        app.advance(Duration::from_secs(24 * 3600 + 1));
        let res = app.gql(VERIFY, json!({ "t": token })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_link_works_once_even_when_used_concurrently() {
    // Ten hashes at once from one address, however slowly a loaded machine hashes them.
    let budget = [("PASSWORD_HASH_WAIT", "30s")];
    each_backend_with(&budget, |app| async move {
        app.register("rita").await;
        app.gql(REQUEST_RESET, json!({ "e": "rita@example.com" }))
            .await
            .data();
        let token = app
            .smtp
            .wait_for("rita@example.com", "Reset")
            .await
            .token("reset-password")
            .unwrap();
        let attempts = (0..10).map(|i| {
            let vars = json!({ "t": token, "p": format!("concurrent-passphrase-{i}") });
            app.gql(CONFIRM_RESET, vars)
        });
        let results = futures_util::future::join_all(attempts).await;
        let ok = results
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(ok, 1);
        for r in results.iter().filter(|r| r.body.get("errors").is_some()) {
            assert_eq!(r.error_code(), "BAD_USER_INPUT");
        }
    })
    .await;
}

#[tokio::test]
async fn changing_the_email_as_administrator_retires_links_sent_to_the_old_address() {
    each_backend(|app| async move {
        let admin = app.admin("root").await;
        let t = app.register("sven").await;
        let verify = app
            .smtp
            .wait_for("sven@example.com", "Confirm")
            .await
            .token("verify-email")
            .unwrap();
        app.gql(REQUEST_RESET, json!({ "e": "sven@example.com" })).await.data();
        let reset = app
            .smtp
            .wait_for("sven@example.com", "Reset")
            .await
            .token("reset-password")
            .unwrap();
        let update = "mutation($id: ID!) { adminUpdateUser(id: $id, input: { email: \"sven@new.example\" }) { email } }";
        app.gql_as(&admin.access, update, json!({ "id": t.user_id })).await.data();
        assert_eq!(app.gql(VERIFY, json!({ "t": verify })).await.error_code(), "BAD_USER_INPUT");
        assert_eq!(app.gql(RESET_VALID, json!({ "t": reset })).await.data()["resetTokenValid"], false);
    })
    .await;
}

/// A free loopback port (bound and released; good enough for a server started next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn mail_also_reaches_an_independent_smtp_server() {
    // Python's own SMTP server (smtpd, in CPython 3.11's standard library) beside the test:
    // a second implementation, so the sender is not only proven against our own.
    use tokio::io::AsyncBufReadExt;
    let port = free_port();
    let mut server = tokio::process::Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-u",
            "-m",
            "smtpd",
            "-n",
            "-c",
            "DebuggingServer",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (CPython 3.11 with smtpd)");
    let lines =
        tokio::sync::Mutex::new(tokio::io::BufReader::new(server.stdout.take().unwrap()).lines());
    eventually(
        "python's SMTP server listening",
        Duration::from_secs(5),
        || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await },
    )
    .await;
    let url = format!("smtp://127.0.0.1:{port}");
    each_backend_with(&[("SMTP_URL", url.as_str())], |app| {
        let lines = &lines;
        async move {
            app.sign_up("uma", "uma@example.com", PASSWORD).await.data();
            let mut message = String::new();
            let mut lines = lines.lock().await;
            let read = async {
                while let Ok(Some(line)) = lines.next_line().await {
                    message.push_str(&line);
                    message.push('\n');
                    if line.contains("END MESSAGE") && message.contains("uma@example.com") {
                        break;
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(30), read)
                .await
                .expect("a mail arrived");
            assert!(
                message.contains("Subject: Confirm your email address"),
                "{message}"
            );
            assert!(message.contains("/verify-email?token="), "{message}");
        }
    })
    .await;
    server.kill().await.ok();
}

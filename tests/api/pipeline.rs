//! The mail pipeline under trouble: an SMTP server that keeps refusing, a broker that is
//! down when the change commits, a worker killed mid-send, redeliveries, several relays
//! claiming at once, and a use case whose transaction fails at its commit.

use std::{
    collections::{BTreeMap, HashSet},
    process::{Child, Command, Stdio},
    time::Duration,
};

use authql::mail::{Mail, MailKind, MailMessage, broker};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};

use serde_json::{Value, json};

use crate::harness::{
    Backend, PASSWORD, TestApp, Worker, amqp_url, broker_environments, each_backend,
    each_backend_with, each_env, environments,
    eventually::{eventually, eventually_every},
    link::{Link, broker_addr},
    logs,
};

async fn dead_letters(app: &TestApp) -> u32 {
    let topology = app.topology();
    let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
    let q = ch
        .queue_declare(
            topology.dead.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    conn.close(200, "done".into()).await.ok();
    q.message_count()
}

/// Waits (10 s) until exactly one mail is parked: in the dead-letter queue with a broker,
/// given up in the outbox without.
async fn parked(app: &TestApp) {
    eventually_every(
        "one mail parked",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let parked = if app.broker {
                u64::from(dead_letters(app).await)
            } else {
                authql::entity::outbox::Entity::find()
                    .filter(authql::entity::outbox::Column::DeadAt.is_not_null())
                    .count(&app.db)
                    .await
                    .unwrap()
            };
            if parked == 1 {
                Ok(())
            } else {
                Err(format!("{parked} parked"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_send_that_always_fails_is_parked_not_lost() {
    each_backend_with(&[("MAIL_MAX_ATTEMPTS", "3")], |app| async move {
        app.smtp.refuse_all();
        app.sign_up("olga", "olga@example.com", PASSWORD)
            .await
            .data();
        assert!(app.smtp.wait_offered(3, Duration::from_secs(30)).await);
        parked(&app).await;
        // Exactly the configured attempts, then it rests.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(app.smtp.offered(), 3);
        assert!(app.smtp.mails().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_permanent_refusal_is_parked_at_once() {
    each_backend_with(&[("MAIL_MAX_ATTEMPTS", "5")], |app| async move {
        app.smtp.reject_all();
        app.sign_up("otto", "otto@example.com", PASSWORD)
            .await
            .data();
        assert!(app.smtp.wait_offered(1, Duration::from_secs(30)).await);
        parked(&app).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(app.smtp.offered(), 1, "a permanent failure is not retried");
    })
    .await;
}

#[tokio::test]
async fn a_parked_message_keeps_no_working_link() {
    each_env(
        broker_environments(),
        &[("MAIL_MAX_ATTEMPTS", "1")],
        Worker::InProcess,
        |app| async move {
            app.smtp.refuse_all();
            app.sign_up("pia", "pia@example.com", PASSWORD).await.data();
            assert!(app.smtp.wait_offered(1, Duration::from_secs(30)).await);
            let topology = app.topology();
            let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
            let parked = eventually_every(
                "a parked message",
                Duration::from_secs(10),
                Duration::from_millis(100),
                || async {
                    ch.basic_get(
                        topology.dead.as_str().into(),
                        lapin::options::BasicGetOptions::default(),
                    )
                    .await
                    .unwrap()
                },
            )
            .await;
            let body = String::from_utf8(parked.delivery.data.clone()).unwrap();
            assert!(body.contains("verify_email"), "{body}");
            assert!(!body.contains("token="), "{body}");
            conn.close(200, "done".into()).await.ok();
        },
    )
    .await;
}

#[tokio::test]
async fn mail_committed_while_the_broker_is_down_is_delivered_once_it_is_back() {
    for env in broker_environments() {
        let link = Link::start(broker_addr(), false).await;
        let url = link.url(&amqp_url().unwrap());
        let vars = [("AMQP_URL", url.as_str())];
        each_env(vec![env], &vars, Worker::InProcess, |app| {
            let link = &link;
            async move {
                let res = app.sign_up("pam", "pam@example.com", PASSWORD).await;
                assert_eq!(res.data()["signUp"], true);
                tokio::time::sleep(Duration::from_millis(500)).await;
                assert!(app.smtp.mails().is_empty());
                let (pending, _) = authql::repo::outbox::pending(&app.db).await.unwrap();
                assert_eq!(pending, 1, "the mail waits in the outbox");

                link.set_up(true);
                app.smtp.wait_for("pam@example.com", "Confirm").await;
            }
        })
        .await;
    }
}

fn start_worker(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("worker")
        .env_clear()
        .envs(app.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("authql worker starts")
}

async fn signal(child: &Child, sig: &str) {
    let ok = tokio::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .await
        .unwrap()
        .success();
    assert!(ok);
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    eventually("the worker's exit", Duration::from_secs(20), || {
        std::future::ready(child.try_wait().unwrap())
    })
    .await
}

#[tokio::test]
async fn a_message_held_by_a_killed_worker_is_redelivered_to_the_next() {
    // A short SMTP timeout: the dead worker's hold on the message goes stale sooner.
    let vars = [("SMTP_TIMEOUT", "2s")];
    each_env(
        broker_environments(),
        &vars,
        Worker::None,
        |app| async move {
            let gate = app.smtp.hold();
            let mut first = start_worker(&app);
            app.sign_up("quinn", "quinn@example.com", PASSWORD)
                .await
                .data();
            assert!(app.smtp.wait_offered(1, Duration::from_secs(30)).await);
            signal(&first, "-KILL").await;
            wait_exit(&mut first).await;

            let mut second = start_worker(&app);
            gate.release(10);
            app.smtp.wait_for("quinn@example.com", "Confirm").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(app.smtp.mails().len(), 1, "delivered exactly once");

            // And a worker stops cleanly on SIGTERM.
            signal(&second, "-TERM").await;
            assert!(wait_exit(&mut second).await.success());
        },
    )
    .await;
}

#[tokio::test]
async fn a_redelivered_message_already_sent_is_skipped() {
    each_env(
        broker_environments(),
        &[("MAIL_PREFETCH", "1")],
        Worker::InProcess,
        |app| async move {
            app.sign_up("rose", "rose@example.com", PASSWORD)
                .await
                .data();
            let mail = app.smtp.wait_for("rose@example.com", "Confirm").await;
            let id: uuid::Uuid = mail
                .data
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: <"))
                .and_then(|l| l.split('@').next())
                .and_then(|s| s.parse().ok())
                .expect("a Message-ID");
            let topology = app.topology();
            let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
            let vars: BTreeMap<String, String> =
                [("username", "rose"), ("link", "x"), ("valid_for", "1 hour")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
            let duplicate = MailMessage {
                id,
                kind: MailKind::VerifyEmail,
                to: "rose@example.com".into(),
                vars: vars.clone(),
            };
            broker::publish(&ch, &topology, &duplicate).await.unwrap();
            // A fresh message behind it shows the worker has gone past the duplicate.
            let marker = MailMessage {
                id: uuid::Uuid::now_v7(),
                kind: MailKind::VerifyEmail,
                to: "marker@example.com".into(),
                vars,
            };
            broker::publish(&ch, &topology, &marker).await.unwrap();
            conn.close(200, "done".into()).await.ok();
            app.smtp.wait_for("marker@example.com", "Confirm").await;
            let to_rose = app
                .smtp
                .mails()
                .iter()
                .filter(|m| m.to == ["rose@example.com"])
                .count();
            assert_eq!(to_rose, 1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relays_claiming_at_once_never_take_the_same_row() {
    // Claim directly, as several replicas' relays do, with no one handing rows on.
    let envs = environments();
    each_env(
        envs,
        &[("SMTP_URL", "smtp://127.0.0.1:1")],
        Worker::None,
        |app| async move {
            let now = chrono::Utc::now() + chrono::TimeDelta::hours(1);
            let txn = app.db.begin().await.unwrap();
            for i in 0..200 {
                authql::mail::outbox::enqueue(
                    &txn,
                    &format!("user{i}@example.com"),
                    Mail::PasswordChanged {
                        username: format!("user{i}"),
                    },
                    now,
                )
                .await
                .unwrap();
            }
            txn.commit().await.unwrap();
            let later = now + chrono::TimeDelta::seconds(1);
            let claimers = (0..4).map(|_| {
                let db = app.db.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let rows = authql::repo::outbox::claim(
                            &db,
                            later,
                            later + chrono::TimeDelta::minutes(1),
                            7,
                        )
                        .await
                        .unwrap();
                        if rows.is_empty() {
                            return mine;
                        }
                        mine.extend(rows.into_iter().map(|r| r.id));
                    }
                })
            });
            let claimed: Vec<Vec<uuid::Uuid>> = futures_util::future::join_all(claimers)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let all: Vec<uuid::Uuid> = claimed.into_iter().flatten().collect();
            let unique: HashSet<_> = all.iter().collect();
            assert_eq!(all.len(), unique.len(), "a row was claimed twice");
            assert!(unique.len() >= 200, "rows were missed: {}", unique.len());
        },
    )
    .await;
}

/// Makes the commit of the transaction that creates the account `username` fail: inserting
/// its row also inserts a row whose foreign key points nowhere, a violation the database
/// checks only at COMMIT (the key is deferred), after everything else the use case wrote in
/// that transaction, its mail in the outbox included.
async fn fail_the_commit_that_creates(app: &TestApp, username: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let (int, trigger) = match app.backend {
        Backend::Sqlite => (
            "INTEGER",
            vec![format!(
                "CREATE TRIGGER doom AFTER INSERT ON users WHEN NEW.username = '{username}' \
                 BEGIN INSERT INTO doomed (parent) VALUES (1); END"
            )],
        ),
        Backend::Postgres => (
            "INT",
            vec![
                "CREATE FUNCTION doom() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN INSERT INTO doomed (parent) VALUES (1); RETURN NEW; END $$"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER doom AFTER INSERT ON users FOR EACH ROW \
                     WHEN (NEW.username = '{username}') EXECUTE FUNCTION doom()"
                ),
            ],
        ),
    };
    let tables = [
        format!("CREATE TABLE doomed_parent (id {int} PRIMARY KEY)"),
        format!(
            "CREATE TABLE doomed (parent {int} REFERENCES doomed_parent (id) \
             DEFERRABLE INITIALLY DEFERRED)"
        ),
    ];
    for statement in tables.iter().chain(&trigger) {
        db.execute_unprepared(statement).await.unwrap();
    }
    db.close().await.ok();
}

#[tokio::test]
async fn a_rolled_back_change_sends_no_mail_and_a_committed_one_does() {
    each_backend(|app| async move {
        // A sign-up writes the account, its verification token and its mail in one
        // transaction, and commits last: here the commit fails.
        fail_the_commit_that_creates(&app, "doomed").await;
        let request_id = format!("doomed-{}", uuid::Uuid::new_v4().simple());
        let sign_up = json!({
            "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
            "variables": { "i": {
                "username": "doomed", "email": "doomed@example.com", "password": PASSWORD,
            } },
        });
        let body: Value = app
            .client
            .post(app.url("/graphql"))
            .header("x-request-id", &request_id)
            .json(&sign_up)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = &body["errors"][0]["extensions"]["code"];
        assert_eq!(code, "INTERNAL_SERVER_ERROR", "{body}");
        // It failed at the commit: the deferred key is checked nowhere else.
        let line = logs()
            .lines()
            .find(|l| l.contains(&request_id) && l.contains("internal error"))
            .map(str::to_lowercase)
            .expect("an error line with the request id");
        assert!(line.contains("foreign key"), "{line}");
        assert_eq!(
            app.login("doomed", PASSWORD).await.error_code(),
            "UNAUTHENTICATED",
            "the account was kept"
        );

        let res = app.sign_up("kept", "kept@example.com", PASSWORD).await;
        assert_eq!(res.data()["signUp"], true);
        app.smtp.wait_for("kept@example.com", "Confirm").await;
        // The mail of the failed sign-up was written first: by now it would have arrived.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mails = app.smtp.mails();
        assert!(
            mails.iter().all(|m| m.to != ["doomed@example.com"]),
            "{mails:#?}"
        );
    })
    .await;
}

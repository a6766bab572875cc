//! Outages of PostgreSQL and RabbitMQ, provoked through a TCP relay the test cuts
//! ([`Link`]): what clients are told while one lasts, how soon everything works again, and
//! that mail neither waits out a lease nor gets lost.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use authql::mail::broker;
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::harness::{
    PASSWORD, Worker, amqp_url, broker_environments, each_env, each_env_alone,
    eventually::eventually,
    link::{Link, broker_addr, database_addr},
    postgres_through,
    process::{free_port, serve},
};

/// The `extensions` of the first error, after asserting it is the retryable one.
fn assert_retryable(body: &Value) {
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(ext["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(ext["retryAfter"], 1, "{body}");
}

#[tokio::test]
async fn during_a_database_outage_clients_are_told_to_retry_and_after_it_nothing_fails() {
    let link = Link::start(database_addr(), true).await;
    each_env(
        vec![postgres_through(&link)],
        // One client signs up dozens of accounts here.
        &[("SIGNUP_MAX_PER_IP", "1000")],
        Worker::InProcess,
        |app| {
            let link = &link;
            async move {
                let tokens = app.register("olga").await;
                link.set_up(false);

                // Reads and writes alike: retryable, never INTERNAL_SERVER_ERROR.
                assert_retryable(&app.me(&tokens.access).await.body);
                assert_retryable(
                    &app.sign_up("petra", "petra@example.com", PASSWORD)
                        .await
                        .body,
                );
                assert_retryable(&app.login("olga", PASSWORD).await.body);

                link.set_up(true);
                let back = Instant::now();
                let mut sent = 0;
                while back.elapsed() < Duration::from_secs(3) {
                    let started = back.elapsed();
                    let name = format!("after{sent}");
                    let answers = [
                        app.me(&tokens.access).await.body,
                        app.sign_up(&name, &format!("{name}@example.com"), PASSWORD)
                            .await
                            .body,
                    ];
                    for body in answers {
                        if started >= Duration::from_secs(1) {
                            assert!(body.get("errors").is_none(), "at {started:?}: {body}");
                        } else if body.get("errors").is_some() {
                            assert_retryable(&body);
                        }
                    }
                    sent += 1;
                }
                assert!(sent > 5, "only {sent} rounds in 3 s");
                // What was stored before the outage is all there.
                app.login_ok("olga", PASSWORD).await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_mail_handed_to_the_broker_while_the_database_went_away_is_settled_once_it_returns() {
    let database = Link::start(database_addr(), true).await;
    let rabbit = Link::start(broker_addr(), true).await;
    let amqp = rabbit.url(&amqp_url().unwrap());
    each_env(
        vec![postgres_through(&database)],
        &[("AMQP_URL", amqp.as_str())],
        Worker::None,
        |app| {
            let (database, rabbit) = (&database, &rabbit);
            async move {
                let direct = Database::connect(&app.database_url).await.unwrap();
                let topology = app.topology();
                let queued = || async {
                    let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
                    let q = ch
                        .queue_declare(
                            topology.queue.as_str().into(),
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
                };
                eventually(
                    "the relay on the broker",
                    Duration::from_secs(10),
                    || async { app.state.relay.broker_up().then_some(()) },
                )
                .await;

                // The broker's confirm is held while the database goes away, so the relay
                // learns the message is safe only when it can no longer record it.
                rabbit.pause(true);
                let res = app.sign_up("quade", "quade@example.com", PASSWORD).await;
                assert_eq!(res.data()["signUp"], true);
                tokio::time::sleep(Duration::from_millis(300)).await;
                database.set_up(false);
                rabbit.pause(false);
                eventually(
                    "the message in the queue",
                    Duration::from_secs(10),
                    || async { (queued().await == 1).then_some(()) },
                )
                .await;
                tokio::time::sleep(Duration::from_secs(1)).await;

                database.set_up(true);
                let outbox = || {
                    authql::entity::outbox::Entity::find()
                        .filter(authql::entity::outbox::Column::PublishedAt.is_not_null())
                };
                let back = Instant::now();
                eventually(
                    "the row marked published",
                    Duration::from_secs(10),
                    || async { (outbox().count(&direct).await.unwrap() == 1).then_some(()) },
                )
                .await;
                // Settled once the database answers, not after the five-minute lease.
                assert!(
                    back.elapsed() < Duration::from_secs(5),
                    "{:?}",
                    back.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(1500)).await;
                assert_eq!(queued().await, 1, "published once, never again");
                direct.close().await.ok();
            }
        },
    )
    .await;
}

#[tokio::test]
async fn mail_flows_within_two_seconds_of_the_broker_returning() {
    for env in broker_environments() {
        let rabbit = Link::start(broker_addr(), true).await;
        let amqp = rabbit.url(&amqp_url().unwrap());
        // Alone: the promise is about time.
        each_env_alone(vec![env], &[("AMQP_URL", amqp.as_str())], |app| {
            let rabbit = &rabbit;
            async move {
                app.sign_up("rhea", "rhea@example.com", PASSWORD)
                    .await
                    .data();
                app.smtp.wait_for("rhea@example.com", "Confirm").await;

                // Long enough for a doubling backoff to have grown past several seconds.
                rabbit.set_up(false);
                let res = app.sign_up("saul", "saul@example.com", PASSWORD).await;
                assert_eq!(res.data()["signUp"], true);
                tokio::time::sleep(Duration::from_secs(8)).await;
                assert!(
                    app.smtp
                        .mails()
                        .iter()
                        .all(|m| m.to != ["saul@example.com"])
                );

                rabbit.set_up(true);
                let back = Instant::now();
                app.smtp.wait_for("saul@example.com", "Confirm").await;
                let took = back.elapsed();
                assert!(took < Duration::from_secs(2), "mail resumed after {took:?}");
            }
        })
        .await;
    }
}

#[tokio::test]
async fn a_broker_outage_keeps_the_service_ready_shows_in_metrics_and_is_logged_once() {
    assert!(
        !broker_environments().is_empty(),
        "this test needs TEST_AMQP_URL"
    );
    let rabbit = Link::start(broker_addr(), false).await;
    let dir = std::env::temp_dir().join(format!("authql-outage-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let queue = format!("authql.test.{id}");
    let (amqp, metrics_port) = (rabbit.url(&amqp_url().unwrap()), free_port());
    let database = format!("sqlite://{}/authql.db?mode=rwc", dir.display());
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let mut served = serve(&[
        ("DATABASE_URL", &database),
        ("BIND", "127.0.0.1:0"),
        ("METRICS_BIND", &metrics_bind),
        ("AMQP_URL", &amqp),
        ("MAIL_QUEUE", &queue),
        ("MAIL_EXCHANGE", &queue),
        ("RUST_LOG", "info"),
        ("SIGNUP_MAX_PER_IP", "1000"),
    ]);
    let addr = served.addr.clone();
    let client = reqwest::Client::new();
    let sign_up = |name: String| {
        let client = client.clone();
        let url = format!("http://{addr}/graphql");
        async move {
            let body = serde_json::json!({
                "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
                "variables": { "i": {
                    "username": name, "email": format!("{name}@example.com"), "password": PASSWORD
                } },
            });
            let res = client.post(url).json(&body).send().await.unwrap();
            res.json::<Value>().await.unwrap()
        }
    };
    let metric = || async {
        let text = reqwest::get(format!("http://{metrics_bind}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("authql_broker_connected{role=\"relay\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };

    // Thirty sign-ups over three seconds of outage: each commit wakes the relay, which
    // must not try the broker again before its backoff says so.
    let attempts_before = rabbit.accepted();
    let outage = Instant::now();
    for n in 0..30 {
        let res = sign_up(format!("user{n}")).await;
        assert_eq!(res["data"]["signUp"], true, "{res}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = rabbit.accepted() - attempts_before;
    let lasted = outage.elapsed().as_secs_f64();
    // Not one per sign-up (a wake per commit made at least 30): at most the backoff's own
    // pace, a few quick tries and then one every 0.5-1 s, however slow the machine.
    assert!(
        attempts < 30 && f64::from(u32::try_from(attempts).unwrap()) <= 4.0 + 2.0 * lasted,
        "{attempts} connection attempts in {lasted:.1} s of outage"
    );
    let ready = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the database answers: ready");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["broker"], "unavailable", "{body}");
    assert_eq!(metric().await.as_deref(), Some("0"));

    rabbit.set_up(true);
    eventually("the relay connected", Duration::from_secs(5), || async {
        (metric().await.as_deref() == Some("1")).then_some(())
    })
    .await;
    let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
    eventually(
        "thirty mails in the queue",
        Duration::from_secs(5),
        || async {
            let q = ch
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    lapin::types::FieldTable::default(),
                )
                .await
                .ok()?;
            (q.message_count() == 30).then_some(())
        },
    )
    .await;

    let _ = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status();
    let _ = served.child.wait();
    let log: Vec<String> = served.lines.try_iter().collect();
    let warned: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert_eq!(
        warned.len(),
        1,
        "one warning for the outage, not one per sign-up: {warned:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("mail relay: available again")),
        "{log:#?}"
    );
    for suffix in [
        "",
        ".dead",
        ".retry.10s",
        ".retry.1m",
        ".retry.5m",
        ".retry.30m",
    ] {
        let _ = ch
            .queue_delete(
                format!("{queue}{suffix}").as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await;
    }
    let _ = ch
        .exchange_delete(
            queue.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await;
    conn.close(200, "done".into()).await.ok();
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn after_a_database_restart_while_nothing_ran_the_first_requests_succeed() {
    let link = Link::start(database_addr(), true).await;
    // One pooled connection: each request below meets the one the restart killed.
    each_env(
        vec![postgres_through(&link)],
        &[("DATABASE_MAX_CONNECTIONS", "1")],
        Worker::InProcess,
        |app| {
            let link = &link;
            async move {
                let tokens = app.register("vera").await;
                // The server restarts between two requests: the pooled connection is dead,
                // and the server is back before the next request.
                let restart = || async {
                    link.set_up(false);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    link.set_up(true);
                };
                // A read, a login and a write, each the first request after a restart.
                restart().await;
                assert_eq!(
                    app.me(&tokens.access).await.data()["me"]["username"],
                    "vera"
                );
                restart().await;
                app.login_ok("vera", PASSWORD).await;
                restart().await;
                let res = app.sign_up("wanda", "wanda@example.com", PASSWORD).await;
                assert_eq!(res.data()["signUp"], true);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_worker_holds_the_mail_it_got_while_the_database_was_out_and_sends_it_once_it_returns() {
    let database = Link::start(database_addr(), true).await;
    let rabbit = Link::start(broker_addr(), true).await;
    let relay_amqp = rabbit.url(&amqp_url().unwrap());
    each_env(
        vec![postgres_through(&database)],
        &[("AMQP_URL", relay_amqp.as_str())],
        Worker::None,
        |app| {
            let (database, rabbit) = (&database, &rabbit);
            async move {
                // The worker reaches the broker directly and the database through the link.
                let mut vars: Vec<(&str, &str)> = app
                    .vars
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let direct = amqp_url().unwrap();
                vars.push(("AMQP_URL", direct.as_str()));
                let settings = authql::config::Settings::with_overrides(&vars).unwrap();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let worker = tokio::spawn(authql::worker::run(settings, async {
                    let _ = stopped.await;
                }));
                eventually(
                    "the relay on the broker",
                    Duration::from_secs(10),
                    || async { app.state.relay.broker_up().then_some(()) },
                )
                .await;
                tokio::time::sleep(Duration::from_millis(500)).await;

                // The mail reaches the worker only once the database is gone.
                rabbit.pause(true);
                let res = app.sign_up("xena", "xena@example.com", PASSWORD).await;
                assert_eq!(res.data()["signUp"], true);
                tokio::time::sleep(Duration::from_millis(300)).await;
                database.set_up(false);
                rabbit.pause(false);
                // Longer than every retry delay and attempt of this test's settings
                // (200 ms, 400 ms, five attempts): a mail retried instead of held would be
                // parked by now.
                tokio::time::sleep(Duration::from_secs(4)).await;
                assert!(app.smtp.mails().is_empty());

                database.set_up(true);
                app.smtp.wait_for("xena@example.com", "Confirm").await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                assert_eq!(app.smtp.mails().len(), 1, "sent once");
                let _ = stop.send(());
                let _ = worker.await;
            }
        },
    )
    .await;
}

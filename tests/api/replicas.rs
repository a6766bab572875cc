//! Several `authql serve` replicas and several workers on one PostgreSQL and one RabbitMQ,
//! as behind a load balancer: what one replica did holds at the other, mail leaves once,
//! and a replica killed mid-work loses none. (Avatars shared by replicas: avatars.rs.)

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use authql::config::Settings;
use lapin::{options::QueueDeclareOptions, types::FieldTable};

use crate::harness::{
    Backend, PASSWORD, TestApp, Worker, amqp_url, each_env, environments, environments::in_ci,
    eventually::eventually, process::serve,
};

fn postgres_with_a_broker() -> Vec<crate::harness::environments::Env> {
    let envs: Vec<_> = environments()
        .into_iter()
        .filter(|e| e.backend == Backend::Postgres && e.broker)
        .collect();
    assert!(
        !(envs.is_empty() && in_ci()),
        "CI must set TEST_DATABASE_URL and TEST_AMQP_URL: this test needs both"
    );
    envs
}

/// Starts an `authql worker` loop in this process with `app`'s configuration.
fn start_worker(app: &TestApp) -> tokio::sync::oneshot::Sender<()> {
    let pairs: Vec<(&str, &str)> = app
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let settings = Settings::with_overrides(&pairs).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(authql::worker::run(settings, async {
        let _ = stopped.await;
    }));
    stop
}

/// How many mails each recipient got.
fn received(app: &TestApp) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for mail in app.smtp.mails() {
        for to in mail.to {
            *by.entry(to).or_default() += 1;
        }
    }
    by
}

#[tokio::test]
async fn replicas_share_tokens_and_throttles_and_each_mail_leaves_once_through_two_workers() {
    let vars = [("LOGIN_MAX_FAILURES", "3"), ("SIGNUP_MAX_PER_IP", "1000")];
    each_env(
        postgres_with_a_broker(),
        &vars,
        Worker::None,
        |app| async move {
            let (other, stop_other) = app.replica().await;

            // A token one replica issued is accepted by the other, both ways.
            let t = app.register("ursa").await;
            assert_eq!(other.me(&t.access).await.data()["me"]["username"], "ursa");
            let t2 = other.login_ok("ursa", PASSWORD).await;
            assert_eq!(app.me(&t2.access).await.data()["me"]["username"], "ursa");

            // Failed logins counted through one replica lock the account at the other.
            for _ in 0..3 {
                assert_eq!(
                    app.login("ursa", "wrong-password").await.error_code(),
                    "UNAUTHENTICATED"
                );
            }
            assert_eq!(
                other.login("ursa", PASSWORD).await.error_code(),
                "RATE_LIMITED"
            );

            // Twenty sign-ups, half through each: both relays publish, and each row once.
            for n in 0..20 {
                let through = if n % 2 == 0 { &app } else { &other };
                let name = format!("rep{n}");
                through
                    .sign_up(&name, &format!("{name}@example.com"), PASSWORD)
                    .await
                    .data();
            }
            let topology = app.topology();
            let (conn, ch) = authql::mail::broker::connect(&amqp_url().unwrap())
                .await
                .unwrap();
            eventually(
                "21 messages in the queue",
                Duration::from_secs(10),
                || async {
                    let q = ch
                        .queue_declare(
                            topology.queue.as_str().into(),
                            QueueDeclareOptions {
                                passive: true,
                                ..Default::default()
                            },
                            FieldTable::default(),
                        )
                        .await
                        .unwrap();
                    (q.message_count() >= 21).then_some(())
                },
            )
            .await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let q = ch
                .queue_declare(
                    topology.queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            assert_eq!(q.message_count(), 21, "each outbox row published once");
            conn.close(200, "done".into()).await.ok();

            // Two workers share the queue; every mail arrives once.
            let workers = [start_worker(&app), start_worker(&app)];
            eventually("21 mails delivered", Duration::from_secs(30), || {
                std::future::ready((received(&app).values().sum::<usize>() >= 21).then_some(()))
            })
            .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let got = received(&app);
            assert_eq!(got.len(), 21, "{got:?}");
            assert!(got.values().all(|n| *n == 1), "{got:?}");

            for stop in workers {
                let _ = stop.send(());
            }
            let _ = stop_other.send(());
        },
    )
    .await;
}

#[tokio::test]
async fn a_replica_killed_while_it_signs_users_up_loses_none_of_their_mail() {
    let vars = [("SIGNUP_MAX_PER_IP", "1000")];
    each_env(
        postgres_with_a_broker(),
        &vars,
        Worker::InProcess,
        |app| async move {
            let pairs: Vec<(&str, &str)> = app
                .vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut victim = serve(&pairs);
            let addr = victim.addr.clone();
            let through = app.pointed_at(format!("http://{addr}"));

            // Sign-ups through the doomed replica from four clients at once; it is killed
            // (SIGKILL) once five were confirmed, with others in flight.
            let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
            let mut clients = Vec::new();
            for c in 0..4 {
                let (client, url, confirmed) = (
                    through.client.clone(),
                    through.url("/graphql"),
                    confirmed.clone(),
                );
                clients.push(tokio::spawn(async move {
                    for n in 0..100 {
                        let name = format!("vic{c}x{n}");
                        let answered = client
                            .post(&url)
                            .json(&serde_json::json!({
                                "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
                                "variables": { "i": {
                                    "username": name, "email": format!("{name}@example.com"),
                                    "password": PASSWORD
                                } },
                            }))
                            .send()
                            .await;
                        let Ok(res) = answered else { break };
                        let body: serde_json::Value = res.json().await.unwrap_or_default();
                        if body["data"]["signUp"] == true {
                            confirmed
                                .lock()
                                .unwrap()
                                .push(format!("{name}@example.com"));
                        }
                    }
                }));
            }
            eventually(
                "five sign-ups through the replica",
                Duration::from_secs(60),
                || std::future::ready((confirmed.lock().unwrap().len() >= 5).then_some(())),
            )
            .await;
            let pid = victim.child.id().to_string();
            let _ = tokio::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .await;
            let _ = victim.child.wait();
            for client in clients {
                client.await.unwrap();
            }
            let confirmed = confirmed.lock().unwrap().clone();

            // Rows the dead replica had claimed come back when its lease runs out.
            app.advance(Duration::from_secs(6 * 60));
            eventually(
                "every confirmed sign-up's mail",
                Duration::from_secs(30),
                || {
                    let got = received(&app);
                    std::future::ready(
                        confirmed
                            .iter()
                            .all(|to| got.contains_key(to))
                            .then_some(()),
                    )
                },
            )
            .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let got = received(&app);
            assert!(got.values().all(|n| *n == 1), "sent twice: {got:?}");
        },
    )
    .await;
}

//! Starting authql for a test: the service (and, with a broker, its worker) on a fresh
//! database and a random port, replicas on the same database, and the clean-up after each
//! run even when the test fails.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc};

use authql::{
    App, BuildOptions, clock::Clock, config::Settings, mail::broker::Topology, state::AppState,
};
use futures_util::FutureExt as _;
use sea_orm::DatabaseConnection;
use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    environments::{Backend, Env, TestDb, amqp_url, backends, environments},
    logs::capture_logs,
    smtp::SmtpServer,
};

/// A running authql and a client for it.
pub struct TestApp {
    pub backend: Backend,
    pub broker: bool,
    pub base_url: String,
    pub client: reqwest::Client,
    /// The service's own pool, for arranging data a test cannot create over the API yet.
    pub db: DatabaseConnection,
    /// The service's state, for driving its background work (key reloads, purges).
    pub state: AppState,
    /// The URL of this test's database (for a second connection, or the CLI).
    pub database_url: String,
    /// The SMTP server the service (or its worker) sends to.
    pub smtp: Arc<SmtpServer>,
    /// The configuration the service runs with, as variables (to start a worker process).
    pub vars: Vec<(String, String)>,
    /// `http://<METRICS_BIND>` when a test asked for the metrics listener.
    pub metrics_url: Option<String>,
}

/// What is left to undo once the test body is over.
pub struct Running {
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    worker: Option<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
    topology: Option<Topology>,
    db: TestDb,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        if let Some((stop, task)) = self.worker {
            let _ = stop.send(());
            let _ = task.await;
        }
        if let Some(topology) = self.topology {
            delete_topology(&topology).await;
        }
        self.db.remove().await;
    }
}

/// Deletes a test's exchange and queues from RabbitMQ.
pub async fn delete_topology(t: &Topology) {
    let Some(url) = amqp_url() else { return };
    let Ok((conn, ch)) = authql::mail::broker::connect(&url).await else {
        return;
    };
    let queues = [t.queue.clone(), t.dead.clone()]
        .into_iter()
        .chain(t.retries.iter().map(|(_, q)| q.clone()));
    for q in queues {
        let _ = ch
            .queue_delete(
                q.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await;
    }
    let _ = ch
        .exchange_delete(
            t.exchange.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = conn.close(200, "done".into()).await;
}

/// How a test wants its service started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// With a broker, run `authql worker`'s loop in-process beside the API.
    InProcess,
    /// Start no worker (the test runs its own).
    None,
}

/// Starts authql (and, with a broker, its worker) for `env`, with `overrides` applied last.
pub async fn spawn(env: Env, overrides: &[(&str, &str)], worker: Worker) -> (TestApp, Running) {
    capture_logs();
    let db = TestDb::create(env.backend).await;
    let smtp = Arc::new(SmtpServer::start().await);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mail_dir = std::env::temp_dir().join(format!("authql-mailbox-{id}"));
    let database_url = match env.database_port {
        Some(port) => {
            let mut url = url::Url::parse(&db.url).unwrap();
            url.set_port(Some(port)).unwrap();
            url.to_string()
        }
        None => db.url.clone(),
    };
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url),
        ("BIND".into(), "127.0.0.1:0".into()),
        ("METRICS_BIND".into(), String::new()),
        ("SMTP_URL".into(), smtp.url()),
        ("MAIL_DIR".into(), mail_dir.display().to_string()),
        ("MAIL_RETRY_DELAYS".into(), "200ms,400ms".into()),
        // Every request of a test comes from one address, faster than one client sends;
        // connections.rs tests the per-address request rate at its defaults.
        ("HTTP_RATE_PER_IP".into(), "1000000".into()),
        ("HTTP_RATE_BURST".into(), "1000000".into()),
    ];
    if env.broker {
        let url = amqp_url().expect("TEST_AMQP_URL");
        vars.push(("AMQP_URL".into(), url));
        vars.push(("MAIL_QUEUE".into(), format!("authql.test.{id}")));
        vars.push(("MAIL_EXCHANGE".into(), format!("authql.test.{id}")));
    }
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let settings = Settings::with_overrides(&pairs).expect("valid test settings");
    let topology = env.broker.then(|| Topology::from_settings(&settings));

    let options = BuildOptions {
        clock: Clock::adjustable(),
        ..BuildOptions::default()
    };
    let app = App::build(settings.clone(), options)
        .await
        .expect("authql starts");
    let addr = app.local_addr().expect("bound");
    let metrics_url = app.metrics_addr().map(|a| format!("http://{a}"));
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let worker = (env.broker && worker == Worker::InProcess).then(|| {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(authql::worker::run(settings, async {
            let _ = stopped.await;
        }));
        (stop, task)
    });
    let test_app = TestApp {
        backend: env.backend,
        broker: env.broker,
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db: state.db.clone(),
        state,
        database_url: db.url.clone(),
        smtp,
        vars,
        metrics_url,
    };
    (
        test_app,
        Running {
            shutdown: tx,
            server,
            worker,
            topology,
            db,
        },
    )
}

/// Runs `test` against a fresh authql in every environment (see [`environments`]).
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_with(&[], test).await;
}

/// As [`each_backend`], with configuration variables set for the service.
pub async fn each_backend_with<F, Fut>(overrides: &[(&str, &str)], test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_env(environments(), overrides, Worker::InProcess, test).await;
}

/// Held shared by every test the harness runs, and exclusively by a test that measures time
/// against the CPU (a flood's share of the hashers, a request rate, a timeout behind full
/// socket buffers): such a test runs alone, so that the other tests' work on the same cores
/// cannot decide its outcome.
static CORES: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// As [`each_backend_with`], with no other harness test running at the same time.
pub async fn each_backend_alone<F, Fut>(overrides: &[(&str, &str)], test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let _alone = CORES.write().await;
    run_each(environments(), overrides, Worker::InProcess, test).await;
}

/// As [`each_env`], with no other harness test running at the same time (for a promise
/// about time, such as how soon mail resumes after an outage).
pub async fn each_env_alone<F, Fut>(envs: Vec<Env>, overrides: &[(&str, &str)], test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let _alone = CORES.write().await;
    run_each(envs, overrides, Worker::InProcess, test).await;
}

/// Runs `test` in each of `envs`, cleaning up after each run even when it fails.
pub async fn each_env<F, Fut>(envs: Vec<Env>, overrides: &[(&str, &str)], worker: Worker, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let _shared = CORES.read().await;
    run_each(envs, overrides, worker, test).await;
}

async fn run_each<F, Fut>(envs: Vec<Env>, overrides: &[(&str, &str)], worker: Worker, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for env in envs {
        eprintln!("--- on {env:?}");
        let (app, running) = spawn(env, overrides, worker).await;
        let outcome = AssertUnwindSafe(test(app)).catch_unwind().await;
        running.stop().await;
        if let Err(panic) = outcome {
            eprintln!("--- failed on {env:?}: {}", panic_message(&*panic));
            std::panic::resume_unwind(panic);
        }
    }
}

/// Runs `test` with the URL of an empty, unmigrated database on every backend, removing the
/// database afterwards even when the test fails.
pub async fn each_empty_database<F, Fut>(test: F)
where
    F: Fn(Backend, String) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("--- on {backend:?}");
        let db = TestDb::create(backend).await;
        let outcome = AssertUnwindSafe(test(backend, db.url.clone()))
            .catch_unwind()
            .await;
        db.remove().await;
        if let Err(panic) = outcome {
            eprintln!("--- failed on {backend:?}: {}", panic_message(&*panic));
            std::panic::resume_unwind(panic);
        }
    }
}

/// A panic's message, repeated after the backtrace so that the end of a long log says
/// what failed.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)")
}

impl TestApp {
    /// The broker names (exchange and queues) this service's mail goes through.
    pub fn topology(&self) -> Topology {
        let pairs: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Topology::from_settings(&Settings::with_overrides(&pairs).expect("valid test settings"))
    }

    /// A second authql on this one's database (another replica behind the same load
    /// balancer), with its own hasher; mail it writes goes out through this one's relay
    /// path. Stop it with the returned sender.
    pub async fn replica(&self) -> (TestApp, oneshot::Sender<()>) {
        self.replica_with(&[]).await
    }

    /// A client for another replica of this service at `base_url` (one started as a
    /// process with this app's variables): the same database, broker and SMTP server.
    pub fn pointed_at(&self, base_url: String) -> TestApp {
        TestApp {
            backend: self.backend,
            broker: self.broker,
            base_url,
            client: self.client.clone(),
            db: self.db.clone(),
            state: self.state.clone(),
            database_url: self.database_url.clone(),
            smtp: self.smtp.clone(),
            vars: self.vars.clone(),
            metrics_url: None,
        }
    }

    /// As [`TestApp::replica`], with configuration variables of its own set last (another
    /// machine's `MEDIA_DIR`, say).
    pub async fn replica_with(&self, overrides: &[(&str, &str)]) -> (TestApp, oneshot::Sender<()>) {
        let mut vars = self.vars.clone();
        vars.push(("BIND".into(), "127.0.0.1:0".into()));
        vars.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let settings = Settings::with_overrides(&pairs).expect("valid test settings");
        let app = App::build(settings, BuildOptions::default())
            .await
            .expect("the replica starts");
        let addr = app.local_addr().expect("bound");
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let replica = TestApp {
            backend: self.backend,
            broker: self.broker,
            base_url: format!("http://{addr}"),
            client: self.client.clone(),
            db: state.db.clone(),
            state,
            database_url: self.database_url.clone(),
            smtp: self.smtp.clone(),
            vars,
            metrics_url: None,
        };
        (replica, tx)
    }
}

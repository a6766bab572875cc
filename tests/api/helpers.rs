//! The test harness: a real authql on a random port, against a fresh database of its own.
//!
//! Every API test goes through [`each_backend`] (or [`each_backend_with`]): the test body
//! runs once on a temporary SQLite file with mail sent in-process and, when
//! `TEST_DATABASE_URL` and `TEST_AMQP_URL` are set, once more on a freshly created
//! PostgreSQL database (dropped afterwards) with mail crossing RabbitMQ to a worker. Either
//! way mail arrives at a real SMTP server the harness starts ([`crate::smtp`]). The body
//! talks to the service over HTTP only, through [`TestApp`]'s helpers.

use std::{future::Future, panic::AssertUnwindSafe, path::PathBuf};

use std::sync::Arc;

use authql::{
    App, BuildOptions, clock::Clock, config::Settings, mail::broker::Topology, state::AppState,
};
use futures_util::FutureExt as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::smtp::SmtpServer;

/// The database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        all.push(Backend::Postgres);
    }
    all
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A database that exists for one test only.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(PathBuf),
    Drop { admin_url: String, name: String },
}

impl TestDb {
    /// Creates an empty database (not migrated).
    pub async fn create(backend: Backend) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("authql-test-{id}.db"));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::Files(path),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url().expect("TEST_DATABASE_URL is set");
                let name = format!("authql_test_{id}");
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    cleanup: Cleanup::Drop { admin_url, name },
                }
            }
        }
    }

    /// Removes the database (files, or `DROP DATABASE … WITH (FORCE)`).
    pub async fn remove(self) {
        match self.cleanup {
            Cleanup::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Drop { admin_url, name } => {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            }
        }
    }
}

/// Everything the services under test log, as JSON lines (one process-wide capture, so a
/// test looks for its own request ids and secrets in it).
static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = self.0.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Starts capturing logs (idempotent).
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,authql=debug"))
            .with_writer(Capture(buffer.clone()))
            .try_init();
        buffer
    });
}

/// What the services have logged so far.
pub fn logs() -> String {
    LOGS.get()
        .and_then(|l| {
            l.lock()
                .ok()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
        })
        .unwrap_or_default()
}

/// Where a test runs: its database engine, and whether mail crosses RabbitMQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    pub backend: Backend,
    /// Mail goes relay → RabbitMQ (`TEST_AMQP_URL`) → worker → SMTP; otherwise the relay
    /// hands it to the sender in-process.
    pub broker: bool,
}

/// SQLite with in-process mail always; then PostgreSQL (`TEST_DATABASE_URL`) with mail
/// through RabbitMQ (`TEST_AMQP_URL`), each when set. CI sets both.
pub fn environments() -> Vec<Env> {
    let broker = amqp_url().is_some();
    let mut all = vec![Env {
        backend: Backend::Sqlite,
        broker: false,
    }];
    match (postgres_admin_url().is_some(), broker) {
        (true, broker) => all.push(Env {
            backend: Backend::Postgres,
            broker,
        }),
        (false, true) => all.push(Env {
            backend: Backend::Sqlite,
            broker: true,
        }),
        (false, false) => {}
    }
    all
}

/// `TEST_AMQP_URL`, when set.
pub fn amqp_url() -> Option<String> {
    std::env::var("TEST_AMQP_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Whether this run is CI (`CI` set to anything but empty, 0 or false).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// The environments with a broker. CI must have one: a test that needs RabbitMQ fails
/// there rather than pass without it.
pub fn broker_environments() -> Vec<Env> {
    let with: Vec<Env> = environments().into_iter().filter(|e| e.broker).collect();
    assert!(
        !(with.is_empty() && in_ci()),
        "CI must set TEST_AMQP_URL: this test needs RabbitMQ"
    );
    with
}

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
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
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

/// Runs `test` in each of `envs`, cleaning up after each run even when it fails.
pub async fn each_env<F, Fut>(envs: Vec<Env>, overrides: &[(&str, &str)], worker: Worker, test: F)
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
            eprintln!("--- failed on {env:?}");
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
            eprintln!("--- failed on {backend:?}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// A GraphQL response body with helpers for what tests check.
#[derive(Debug)]
pub struct Gql {
    pub status: reqwest::StatusCode,
    pub body: Value,
}

impl Gql {
    /// `data`, after asserting there were no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The `extensions.code` of the first error, after asserting there is one.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {}", self.body))
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `POST /graphql` with a JSON body.
    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.post_graphql(json!({ "query": query, "variables": variables }))
            .await
    }

    /// `POST /graphql` with any JSON body (a batch, a malformed request…).
    pub async fn post_graphql(&self, body: Value) -> Gql {
        let res = self
            .client
            .post(self.url("/graphql"))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let body = res.json().await.expect("a JSON body");
        Gql { status, body }
    }

    /// `POST /graphql` with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Gql {
        let res = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let body = res.json().await.expect("a JSON body");
        Gql { status, body }
    }

    /// Holds the sign-up counter row of `ip` in an open transaction: every sign-up from that
    /// address waits on it (the row lock on PostgreSQL, the write lock on SQLite) until the
    /// transaction ends.
    pub async fn hold_signups_from(&self, ip: &str) -> sea_orm::DatabaseTransaction {
        use sea_orm::{Statement, TransactionTrait};
        let txn = self.db.begin().await.expect("a transaction");
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO rate_counters (key, hits, window_start) VALUES ($1, 0, $2)",
            [format!("signup:{ip}").into(), chrono::Utc::now().into()],
        ))
        .await
        .expect("the counter row held");
        txn
    }

    /// A second authql on this one's database (another replica behind the same load
    /// balancer), with its own hasher; mail it writes goes out through this one's relay
    /// path. Stop it with the returned sender.
    pub async fn replica(&self) -> (TestApp, oneshot::Sender<()>) {
        let mut vars = self.vars.clone();
        vars.push(("BIND".into(), "127.0.0.1:0".into()));
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

    /// Moves the service's clock forward (expiry without waiting).
    pub fn advance(&self, by: std::time::Duration) {
        self.state.clock.advance(by);
    }

    pub async fn sign_up(&self, username: &str, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) }",
            json!({ "i": { "username": username, "email": email, "password": password } }),
        )
        .await
    }

    pub async fn login(&self, username_or_email: &str, password: &str) -> Gql {
        self.gql(
            LOGIN,
            json!({ "i": { "usernameOrEmail": username_or_email, "password": password } }),
        )
        .await
    }

    /// Signs `username` up (email `<username>@example.com`, password [`PASSWORD`]) and
    /// logs in.
    pub async fn register(&self, username: &str) -> Tokens {
        let res = self
            .sign_up(username, &format!("{username}@example.com"), PASSWORD)
            .await;
        assert_eq!(res.data()["signUp"], true);
        self.login_ok(username, PASSWORD).await
    }

    /// Opens the verification link mailed to `email` (the newest one), as its owner would.
    /// An account's profile is public only once its address is verified.
    pub async fn confirm_email(&self, email: &str) {
        let mail = self.smtp.wait_for(email, "Confirm your email").await;
        let token = mail.token("verify-email").expect("a verification link");
        let res = self
            .gql(
                "mutation($t: String!) { verifyEmail(token: $t) }",
                json!({ "t": token }),
            )
            .await;
        assert_eq!(res.data()["verifyEmail"], true, "{:?}", res.body);
    }

    /// `login` as a client behind a proxy that forwards for `address` (the service must
    /// trust 127.0.0.1 in `TRUSTED_PROXIES` for it to count).
    pub async fn login_from(&self, address: &str, username_or_email: &str, password: &str) -> Gql {
        let vars = json!({ "i": { "usernameOrEmail": username_or_email, "password": password } });
        let res = self
            .client
            .post(self.url("/graphql"))
            .header("x-forwarded-for", address)
            .json(&json!({ "query": LOGIN, "variables": vars }))
            .send()
            .await
            .expect("request sent");
        Gql {
            status: res.status(),
            body: res.json().await.expect("a JSON body"),
        }
    }

    pub async fn login_ok(&self, username_or_email: &str, password: &str) -> Tokens {
        Tokens::from_payload(&self.login(username_or_email, password).await.data()["login"])
    }

    pub async fn refresh(&self, refresh_token: &str) -> Gql {
        self.gql(REFRESH, json!({ "t": refresh_token })).await
    }

    /// `me { id username }` with this access token.
    pub async fn me(&self, access_token: &str) -> Gql {
        self.gql_as(access_token, "{ me { id username email } }", json!({}))
            .await
    }

    /// Creates (through the library, as `authql create-admin` does) and logs in an
    /// administrator.
    pub async fn admin(&self, username: &str) -> Tokens {
        authql::service::bootstrap::create_admin(
            &self.db,
            &self.state.hasher,
            username,
            &format!("{username}@example.com"),
            authql::service::bootstrap::Existing::Refuse,
            || Ok(PASSWORD.to_owned()),
        )
        .await
        .expect("an administrator");
        self.login_ok(username, PASSWORD).await
    }

    /// A GraphQL multipart request (the upload spec) with one file as variable `file`.
    pub async fn upload(
        &self,
        token: Option<&str>,
        query: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> reqwest::Response {
        let boundary = "authql-test-boundary-7f3a";
        let operations = json!({ "query": query, "variables": { "file": null } }).to_string();
        let body = multipart_body(
            boundary,
            &[
                Part::field("operations", operations.as_bytes()),
                Part::field("map", br#"{"0":["variables.file"]}"#),
                Part::file("0", filename, content_type, bytes),
            ],
        );
        self.post_multipart(token, boundary, body).await
    }

    /// `POST /graphql` with a multipart body as given (and the preflight header).
    pub async fn post_multipart(
        &self,
        token: Option<&str>,
        boundary: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("apollo-require-preflight", "true")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// Polls `/readyz` until it answers 200 (the mail relay connects to the broker in the
    /// background after start) and returns its body.
    pub async fn wait_ready(&self) -> Value {
        for _ in 0..100 {
            let res = self.get("/readyz").await;
            if res.status() == 200 {
                return res.json().await.expect("a JSON body");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "/readyz never answered 200: {}",
            self.get("/readyz").await.text().await.unwrap()
        );
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// One part of a `multipart/form-data` body.
pub struct Part<'a> {
    name: &'a str,
    file: Option<(&'a str, &'a str)>,
    content: &'a [u8],
}

impl<'a> Part<'a> {
    pub fn field(name: &'a str, content: &'a [u8]) -> Self {
        Self {
            name,
            file: None,
            content,
        }
    }

    /// A file part, with its name and content type.
    pub fn file(
        name: &'a str,
        filename: &'a str,
        content_type: &'a str,
        content: &'a [u8],
    ) -> Self {
        Self {
            name,
            file: Some((filename, content_type)),
            content,
        }
    }
}

/// The one multipart encoder of the tests: `parts` between `boundary` lines.
pub fn multipart_body(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            part.name
        );
        if let Some((filename, content_type)) = part.file {
            head.push_str(&format!(
                "; filename=\"{filename}\"\r\nContent-Type: {content_type}"
            ));
        }
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A password that passes every rule.
pub const PASSWORD: &str = "correct-horse-battery-staple";

pub const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";

pub const REFRESH: &str = "mutation($t: String!) { refresh(refreshToken: $t) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";

/// The tokens of an `AuthPayload`.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

impl Tokens {
    pub fn from_payload(payload: &Value) -> Self {
        Self {
            access: payload["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh: payload["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
            user_id: payload["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }
}

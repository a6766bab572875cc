//! Where a test runs: its database engine (SQLite always, PostgreSQL with
//! `TEST_DATABASE_URL`), whether mail crosses RabbitMQ (`TEST_AMQP_URL`), and a database
//! that exists for one test only.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

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

/// Where a test runs: its database engine, and whether mail crosses RabbitMQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    pub backend: Backend,
    /// Mail goes relay → RabbitMQ (`TEST_AMQP_URL`) → worker → SMTP; otherwise the relay
    /// hands it to the sender in-process.
    pub broker: bool,
    /// Reach PostgreSQL through this local port (a [`super::link::Link`] the test cuts)
    /// instead of `TEST_DATABASE_URL`'s.
    pub database_port: Option<u16>,
}

/// SQLite with in-process mail always; then PostgreSQL (`TEST_DATABASE_URL`) with mail
/// through RabbitMQ (`TEST_AMQP_URL`), each when set. CI sets both.
pub fn environments() -> Vec<Env> {
    let broker = amqp_url().is_some();
    let mut all = vec![Env {
        backend: Backend::Sqlite,
        broker: false,
        database_port: None,
    }];
    match (postgres_admin_url().is_some(), broker) {
        (true, broker) => all.push(Env {
            backend: Backend::Postgres,
            broker,
            database_port: None,
        }),
        (false, true) => all.push(Env {
            backend: Backend::Sqlite,
            broker: true,
            database_port: None,
        }),
        (false, false) => {}
    }
    all
}

/// PostgreSQL with RabbitMQ, reached through `link` (a database outage the test controls).
/// CI must offer both.
pub fn postgres_through(link: &super::link::Link) -> Env {
    assert!(
        postgres_admin_url().is_some() && amqp_url().is_some(),
        "this test needs TEST_DATABASE_URL and TEST_AMQP_URL"
    );
    Env {
        backend: Backend::Postgres,
        broker: true,
        database_port: Some(link.port()),
    }
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

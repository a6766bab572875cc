use std::time::Duration;

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};

use crate::harness::{
    Backend, TestApp, each_backend, each_backend_with,
    eventually::{eventually, eventually_every},
};

const POOL_SIZE: usize = 2;

#[tokio::test]
async fn healthz_answers_ok_while_the_process_runs() {
    each_backend(|app| async move {
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    })
    .await;
}

#[tokio::test]
async fn readyz_answers_ok_when_the_database_answers_and_reports_the_broker() {
    each_backend(|app| async move {
        let body = app.wait_ready().await;
        assert_eq!(body["checks"]["database"], "ok");
        if app.broker {
            // Reported (the relay connects in the background), but not a condition of
            // readiness: see outages.rs for the service ready while the broker is down.
            eventually("the broker reported", Duration::from_secs(10), || async {
                let body: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
                (body["checks"]["broker"] == "ok").then_some(())
            })
            .await;
        } else {
            assert!(body["checks"].get("broker").is_none());
        }
    })
    .await;
}

/// What keeps the service's database out of reach until [`restore_database`].
enum CutOff {
    /// PostgreSQL refuses new connections and has ended the open ones.
    Postgres {
        admin: DatabaseConnection,
        name: String,
    },
    /// An SQLite file cannot become unreachable while open; instead every connection of the
    /// service's pool is held busy, so the database does not answer it in time.
    Sqlite(Vec<DatabaseTransaction>),
}

async fn cut_off_database(app: &TestApp) -> CutOff {
    match app.backend {
        Backend::Postgres => {
            let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
            let admin = Database::connect(&admin_url).await.unwrap();
            let name = url::Url::parse(&app.database_url).unwrap().path()[1..].to_owned();
            admin
                .execute_unprepared(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ))
                .await
                .unwrap();
            CutOff::Postgres { admin, name }
        }
        Backend::Sqlite => {
            let mut held = Vec::new();
            for _ in 0..POOL_SIZE {
                held.push(app.db.begin().await.unwrap());
            }
            CutOff::Sqlite(held)
        }
    }
}

async fn restore_database(cut: CutOff) {
    match cut {
        CutOff::Postgres { admin, name } => {
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
        CutOff::Sqlite(held) => {
            for txn in held {
                txn.rollback().await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_unreachable_and_recovers() {
    let pool = POOL_SIZE.to_string();
    each_backend_with(&[("DATABASE_MAX_CONNECTIONS", &pool)], |app| async move {
        app.wait_ready().await;
        let guard = cut_off_database(&app).await;

        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["checks"]["database"], "unavailable");
        // The process itself is still alive.
        assert_eq!(app.get("/healthz").await.status(), 200);

        restore_database(guard).await;
        eventually_every(
            "/readyz recovering",
            Duration::from_secs(5),
            Duration::from_millis(100),
            || async {
                let status = app.get("/readyz").await.status();
                if status == 200 { Ok(()) } else { Err(status) }
            },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404() {
    each_backend(|app| async move {
        assert_eq!(app.get("/nope").await.status(), 404);
        assert_eq!(app.get("/graphiql/missing.js").await.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    each_backend(|app| async move {
        for path in ["/healthz", "/nope", "/graphql?query=%7B__typename%7D"] {
            let res = app.get(path).await;
            let id = res.headers().get("x-request-id").expect("x-request-id");
            assert!(
                uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(),
                "{id:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_sane_client_request_id_is_kept_and_an_odd_one_replaced() {
    each_backend(|app| async move {
        let sent = "client-trace.42";
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], sent);

        let odd = "<script>alert(1)</script>";
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", odd)
            .send()
            .await
            .unwrap();
        let got = res.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(got, odd);
        assert!(uuid::Uuid::parse_str(got).is_ok());
    })
    .await;
}

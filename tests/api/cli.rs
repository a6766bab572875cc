//! The `authql` binary itself: configuration errors, start-up failures, migrations, serving
//! with no configuration at all, and stopping on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::harness::{each_empty_database, eventually::eventually};

fn authql(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authql"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    cmd
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("authql-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `authql serve` in `dir` on a free port with nothing else configured; returns the
/// child, its stderr lines as they come, and the address it announced.
fn serve_on_a_free_port(
    dir: &Path,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    String,
) {
    let mut child = authql(dir)
        .env("BIND", "127.0.0.1:0")
        .env("METRICS_BIND", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("authql announces its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    (child, rx, addr)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_invalid_value_stops_the_process_naming_the_variable() {
    let dir = temp_dir();
    for (name, value) in [("BIND", "not-an-address"), ("ACCESS_TOKEN_TTL", "soon")] {
        let out = authql(&dir).arg("serve").env(name, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let all = text(&out);
        assert!(all.contains(name), "{all}");
        assert!(!all.contains("panicked"), "{all}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn production_refuses_to_start_with_unsafe_settings() {
    let dir = temp_dir();
    let out = authql(&dir)
        .arg("serve")
        .env("APP_ENV", "production")
        .env("SMTP_URL", "smtp://mail:25")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The first refused: no https PUBLIC_URL (APP_URL may be left to the account pages).
    assert!(text(&out).contains("PUBLIC_URL"), "{}", text(&out));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn production_serve_and_worker_refuse_cleartext_mail_to_another_host() {
    let dir = temp_dir();
    for (command, name, url) in [
        ("serve", "SMTP_URL", "smtp://smtp.example.com:25"),
        (
            "worker",
            "AMQP_URL",
            "amqp://authql:secret-pw@rabbit.internal:5672/%2f",
        ),
    ] {
        let out = authql(&dir)
            .arg(command)
            .env("APP_ENV", "production")
            .env("APP_URL", "https://app.example.com")
            .env("PUBLIC_URL", "https://auth.example.com")
            .env(
                "SIGNING_KEY_ENCRYPTION_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            )
            .env(name, url)
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {all}");
        assert!(all.contains(name), "{all}");
        assert!(all.contains("ALLOW_CLEARTEXT_TRANSPORT"), "{all}");
        assert!(!all.contains("secret-pw"), "the password leaked: {all}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_production_worker_without_smtp_refuses_to_start_and_writes_no_mailbox() {
    let dir = temp_dir();
    let out = authql(&dir)
        .arg("worker")
        .env("APP_ENV", "production")
        .env("APP_URL", "https://app.example.com")
        .env("PUBLIC_URL", "https://auth.example.com")
        .env(
            "SIGNING_KEY_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        // Nothing listens there: a worker that started would wait for the broker.
        .env("AMQP_URL", "amqp://127.0.0.1:1/%2f")
        .env("MAIL_DIR", dir.join("mailbox"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut child = out;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().ok();
            panic!("the worker started without SMTP_URL in production");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("SMTP_URL"), "{all}");
    assert!(!dir.join("mailbox").exists(), "{all}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_database_that_is_down_at_start_gives_one_clear_line_and_a_failure_exit() {
    let dir = temp_dir();
    // Nothing listens on port 1.
    let out = authql(&dir)
        .arg("serve")
        .env(
            "DATABASE_URL",
            "postgres://authql:secret-pw@127.0.0.1:1/authql",
        )
        .env("BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("cannot connect to the database"), "{all}");
    assert!(all.contains("127.0.0.1:1"), "{all}");
    assert!(!all.contains("secret-pw"), "the password leaked: {all}");
    assert!(!all.contains("panicked"), "{all}");
    assert_eq!(all.trim().lines().count(), 1, "{all}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn migrate_status_up_down_and_fresh_work_on_every_backend() {
    each_empty_database(|backend, url| async move {
        let dir = temp_dir();
        let run = |args: &[&str]| {
            let out = authql(&dir)
                .args(args)
                .env("DATABASE_URL", &url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?} on {backend:?}: {}",
                text(&out)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let status = run(&["migrate", "status"]);
        assert!(
            status.lines().all(|l| l.starts_with("pending ")) && status.lines().count() >= 2,
            "{status}"
        );
        run(&["migrate", "up"]);
        let status = run(&["migrate", "status"]);
        assert!(
            status.lines().all(|l| l.starts_with("applied ")),
            "{status}"
        );
        run(&["migrate", "down"]);
        let status = run(&["migrate", "status"]);
        let last = status.lines().last().unwrap();
        assert!(last.starts_with("pending "), "{status}");
        run(&["migrate", "fresh"]);
        let status = run(&["migrate", "status"]);
        assert!(
            status.lines().all(|l| l.starts_with("applied ")),
            "{status}"
        );
        std::fs::remove_dir_all(dir).ok();
    })
    .await;
}

#[tokio::test]
async fn serve_with_no_configuration_uses_a_sqlite_file_here_and_stops_on_sigterm() {
    let dir = temp_dir();
    // Port 0 instead of the default 8000 so tests never collide; nothing else is set.
    let (mut child, rx, addr) = serve_on_a_free_port(&dir);
    assert!(
        dir.join("authql.db").exists(),
        "no SQLite file in the working directory"
    );

    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // The container HEALTHCHECK's probe agrees, and fails where nothing answers.
    let probe = |url: String| {
        let dir = dir.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_authql"))
                .args(["healthcheck", "--url", &url])
                .current_dir(dir)
                .env_clear()
                .output()
                .await
                .unwrap()
                .status
        }
    };
    assert!(probe(format!("http://{addr}/readyz")).await.success());
    assert!(!probe(format!("http://{addr}/nope")).await.success());
    assert!(
        !probe("http://127.0.0.1:1/readyz".to_owned())
            .await
            .success()
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = eventually("the exit on SIGTERM", Duration::from_secs(15), || {
        std::future::ready(child.try_wait().unwrap())
    })
    .await;
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("authql stopped")),
        "{rest:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn create_admin_creates_a_new_administrator_and_never_promotes_a_squatter() {
    use authql::repo;
    each_empty_database(|backend, url| async move {
        let dir = temp_dir();
        let run = |args: &[&str], stdin: &str| {
            let mut child = authql(&dir)
                .arg("create-admin")
                .args(args)
                .env("DATABASE_URL", &url)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        };
        let db = sea_orm::Database::connect(&url).await.unwrap();
        // Migrated by the first run, which also refuses a weak password.
        let out = run(
            &["--username", "root", "--email", "root@example.com"],
            "password\n",
        );
        assert_eq!(out.status.code(), Some(1), "{backend:?}: {}", text(&out));
        assert!(text(&out).contains("password"), "{}", text(&out));

        // Someone signed up as `ops` with the operator's address before the bootstrap.
        let settings =
            authql::config::Settings::with_overrides(&[("DATABASE_URL", url.as_str())]).unwrap();
        let hasher = authql::auth::password::Hasher::new(
            settings.password_hash,
            authql::config::HashBudget::for_tool(1),
        )
        .await
        .unwrap();
        let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
        let squatter = repo::users::insert_with_profile(
            &txn,
            repo::users::NewUser {
                username: "ops".into(),
                email: "ops@example.com".into(),
                password_hash: hasher
                    .hash(
                        &authql::domain::Password::candidate(
                            "x-ops-passphrase".into(),
                            authql::error::Field::Password,
                        )
                        .unwrap(),
                        &authql::domain::ClientKey::of(None),
                    )
                    .await
                    .unwrap(),
                email_verified: false,
                is_admin: false,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let now = chrono::Utc::now();
        let session = authql::domain::session::Session::start(
            squatter.id,
            now,
            now + chrono::TimeDelta::hours(1),
            now + chrono::TimeDelta::hours(1),
            None,
            None,
            authql::domain::session::AuthMethods::Password,
        );
        let session_id = session.id;
        repo::sessions::insert(&txn, session).await.unwrap();
        txn.commit().await.unwrap();
        let is_admin = |name: &'static str| {
            let db = db.clone();
            async move {
                repo::users::find_by_username(&db, name)
                    .await
                    .unwrap()
                    .is_some_and(|u| u.is_admin)
            }
        };

        // Without --promote, a taken username or email is refused, whatever the other is.
        for args in [
            ["--username", "ops", "--email", "admin@example.com"],
            ["--username", "admin", "--email", "OPS@example.com"],
            ["--username", "OPS", "--email", "ops@example.com"],
        ] {
            let out = run(&args, "a-root-passphrase\n");
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            assert!(text(&out).contains("--promote"), "{}", text(&out));
        }
        assert!(!is_admin("ops").await);
        assert!(
            repo::users::find_by_username(&db, "admin")
                .await
                .unwrap()
                .is_none()
        );

        // A new administrator.
        let out = run(
            &["--username", "root", "--email", "root@example.com"],
            "a-root-passphrase\n",
        );
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("created administrator root"));
        let root = repo::users::find_by_username(&db, "root")
            .await
            .unwrap()
            .unwrap();
        assert!(root.is_admin && root.email_verified && root.is_active);
        let credential = repo::users::find_by_id_with_credential(&db, root.id)
            .await
            .unwrap()
            .unwrap()
            .1;
        assert!(credential.hash.0.starts_with("$argon2id$"));

        // --promote needs the username and the email of one account, with a verified email.
        for (args, why) in [
            (
                ["--username", "someone", "--email", "ops@example.com"],
                "username",
            ),
            (
                ["--username", "ops", "--email", "nobody@example.com"],
                "email",
            ),
            (
                ["--username", "root", "--email", "ops@example.com"],
                "two different",
            ),
            (
                ["--username", "ops", "--email", "ops@example.com"],
                "not verified",
            ),
        ] {
            let mut all = vec!["--promote"];
            all.extend(args);
            let out = run(&all, "");
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            assert!(text(&out).contains(why), "{args:?}: {}", text(&out));
            assert!(!is_admin("ops").await, "{args:?} promoted the squatter");
        }

        // Verified, named by both: promoted, told so, and its sessions end.
        repo::users::mark_email_verified(&db, squatter.id, chrono::Utc::now())
            .await
            .unwrap();
        let out = run(
            &[
                "--promote",
                "--username",
                "OPS",
                "--email",
                "ops@example.com",
            ],
            "",
        );
        assert!(out.status.success(), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains("promoted ops <ops@example.com>") && said.contains("1 of its sessions"),
            "{said}"
        );
        assert!(is_admin("ops").await);
        assert!(
            !repo::sessions::is_live(&db, session_id, chrono::Utc::now())
                .await
                .unwrap()
        );
        db.close().await.ok();
        std::fs::remove_dir_all(dir).ok();
    })
    .await;
}

#[tokio::test]
async fn on_sigterm_serve_finishes_the_request_in_flight_then_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir();
    let (mut child, _stderr, addr) = serve_on_a_free_port(&dir);
    // Half a request: the headers and part of the body.
    let body = br#"{"query":"{ __typename }"}"#;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still running: the request is in flight.
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"__typename\":\"Query\""), "{response}");

    let status = eventually(
        "the exit after the request",
        Duration::from_secs(15),
        || std::future::ready(child.try_wait().unwrap()),
    )
    .await;
    assert!(status.success(), "{status}");
    // New connections are refused once it stopped.
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn keys_in_clear_are_sealed_at_start_and_a_wrong_or_missing_key_refuses_to_start() {
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const OTHER: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";
    each_empty_database(|backend, url| async move {
        let dir = temp_dir();
        let rotate = |key: Option<&str>| {
            let mut cmd = authql(&dir);
            cmd.arg("rotate-keys").env("DATABASE_URL", &url);
            if let Some(key) = key {
                cmd.env("SIGNING_KEY_ENCRYPTION_KEY", key);
            }
            cmd.output().unwrap()
        };
        let stored = || async {
            let db = sea_orm::Database::connect(&url).await.unwrap();
            let rows = authql::repo::signing_keys::all(&db).await.unwrap();
            db.close().await.ok();
            rows.into_iter()
                .map(|r| r.private_key.0)
                .collect::<Vec<_>>()
        };
        // Development without a key: stored in clear (base64 PKCS#8).
        let out = rotate(None);
        assert!(out.status.success(), "{backend:?}: {}", text(&out));
        let clear = stored().await;
        assert_eq!(clear.len(), 1);
        assert!(!clear[0].starts_with("sealed:"));

        // The first start with a key seals what is in clear (and the new key too).
        let out = rotate(Some(KEY));
        assert!(out.status.success(), "{}", text(&out));
        let sealed = stored().await;
        assert_eq!(sealed.len(), 2);
        assert!(
            sealed.iter().all(|k| k.starts_with("sealed:v1:")),
            "{sealed:?}"
        );
        assert!(!sealed.contains(&clear[0]));

        // Serving with another key, or with none, refuses to start and says why.
        for (key, says) in [
            (
                Some(OTHER),
                "SIGNING_KEY_ENCRYPTION_KEY does not open signing key",
            ),
            (None, "is sealed, and SIGNING_KEY_ENCRYPTION_KEY is not set"),
        ] {
            let mut cmd = authql(&dir);
            cmd.arg("serve")
                .env("DATABASE_URL", &url)
                .env("BIND", "127.0.0.1:0")
                .env("METRICS_BIND", "");
            if let Some(key) = key {
                cmd.env("SIGNING_KEY_ENCRYPTION_KEY", key);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            assert!(text(&out).contains(says), "{}", text(&out));
            assert!(!text(&out).contains(KEY) && !text(&out).contains(OTHER));
        }
        // revoke-key checks the same way before it writes a replacement key.
        let out = authql(&dir)
            .args(["revoke-key", "any-kid"])
            .env("DATABASE_URL", &url)
            .env("SIGNING_KEY_ENCRYPTION_KEY", OTHER)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("does not open signing key"),
            "{}",
            text(&out)
        );
        // Nothing was changed by the refused commands.
        assert_eq!(stored().await, sealed);
        std::fs::remove_dir_all(dir).ok();
    })
    .await;
}

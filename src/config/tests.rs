use std::time::Duration;

use chrono::TimeDelta;

use super::*;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::with_overrides(vars)
}

fn error_for(vars: &[(&str, &str)]) -> ConfigError {
    match settings(vars) {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn no_configuration_gives_the_documented_development_defaults() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.app_env, AppEnv::Development);
    assert_eq!(s.database.url.expose(), "sqlite://authql.db?mode=rwc");
    assert_eq!(s.database.kind(), DatabaseKind::Sqlite);
    assert_eq!(s.broker.amqp_url, None);
    assert_eq!(s.mail.smtp_url, None);
    assert_eq!(s.mail.from, "authql <no-reply@localhost>");
    assert_eq!(s.mail.app_url, None);
    assert!(s.http.account_pages);
    assert_eq!(
        s.app_url_for("127.0.0.1:8000".parse().unwrap()),
        "http://127.0.0.1:8000/account"
    );
    assert_eq!(s.http.bind.to_string(), "127.0.0.1:8000");
    assert_eq!(
        (s.tokens.issuer.as_str(), s.tokens.audience.as_str()),
        ("authql", "authql")
    );
    assert_eq!(s.tokens.access_ttl, TimeDelta::minutes(15));
    assert_eq!(s.tokens.refresh_ttl, TimeDelta::days(14));
    assert_eq!(s.tokens.session_max_age, TimeDelta::days(30));
    assert_eq!(s.tokens.refresh_reuse_grace, TimeDelta::seconds(10));
    assert_eq!(s.tokens.reauth_max_age, TimeDelta::minutes(10));
    assert_eq!(s.tokens.mfa_token_ttl, TimeDelta::minutes(5));
    assert_eq!(s.http.cors_origins, CorsOrigins::List(vec![]));
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert_eq!(
        s.metrics_bind.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9100")
    );
    assert!(s.http.trusted_proxies.is_empty());
}

#[test]
fn each_invalid_value_is_reported_under_its_variable_name() {
    let cases = [
        ("APP_ENV", "staging"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("AMQP_URL", "http://localhost"),
        ("SMTP_URL", "localhost:25"),
        ("MAIL_FROM", "not an address"),
        ("APP_URL", "ftp://example.com"),
        ("BIND", "localhost"),
        ("ACCESS_TOKEN_TTL", "15 minutes"),
        ("REFRESH_TOKEN_TTL", "-1d"),
        ("SESSION_MAX_AGE", "forever"),
        ("REFRESH_REUSE_GRACE", "1h"),
        ("REAUTH_MAX_AGE", "59s"),
        ("REAUTH_MAX_AGE", "2d"),
        ("MFA_TOKEN_TTL", "10s"),
        ("MFA_TOKEN_TTL", "2h"),
        ("CORS_ORIGINS", "https://app.example.com/path"),
        ("LOG_FORMAT", "xml"),
        ("MEDIA_STORE", "s3"),
        ("METRICS_BIND", "9100"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
    ];
    for (name, value) in cases {
        let err = error_for(&[(name, value)]);
        assert_eq!(err.variable(), name, "{name}={value:?} gave {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_secret_value_is_never_echoed_in_an_error() {
    let err = error_for(&[("AMQP_URL", "http://user:hunter2@broker")]);
    assert_eq!(err.variable(), "AMQP_URL");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let s = settings(&[("DATABASE_URL", "postgres://u:hunter2@db/authql")]).unwrap();
    assert_eq!(s.database.kind(), DatabaseKind::Postgres);
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn an_empty_metrics_bind_disables_the_metrics_listener() {
    assert_eq!(
        settings(&[("METRICS_BIND", "")]).unwrap().metrics_bind,
        None
    );
}

#[test]
fn production_refuses_a_missing_or_plain_http_app_url() {
    let prod = [
        ("APP_ENV", "production"),
        (
            "SIGNING_KEY_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("SMTP_URL", "smtp://mail:25"),
        ("PUBLIC_URL", "https://auth.example.com"),
    ];
    // Without account pages the links need somewhere to go.
    let without_pages = [&prod[..], &[("ACCOUNT_PAGES", "false")]].concat();
    assert_eq!(error_for(&without_pages).variable(), "APP_URL");
    let http = [&prod[..], &[("APP_URL", "http://app.example.com")]].concat();
    assert_eq!(error_for(&http).variable(), "APP_URL");
    // With them (the default), the links go to PUBLIC_URL's account pages.
    let sound = [&prod[..], &[("SMTP_URL", "smtps://mail:465")]].concat();
    let s = settings(&sound).unwrap();
    assert_eq!(
        s.app_url_for("127.0.0.1:8000".parse().unwrap()),
        "https://auth.example.com/account"
    );
}

#[test]
fn production_refuses_wildcard_cors_and_the_dev_mailbox() {
    let base = [
        ("APP_ENV", "production"),
        ("APP_URL", "https://app.example.com"),
        ("PUBLIC_URL", "https://auth.example.com"),
        (
            "SIGNING_KEY_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
    ];
    let cors = [
        &base[..],
        &[("SMTP_URL", "smtp://mail:25"), ("CORS_ORIGINS", "*")],
    ]
    .concat();
    assert_eq!(error_for(&cors).variable(), "CORS_ORIGINS");
    assert_eq!(error_for(&base).variable(), "SMTP_URL");
    let ok = [&base[..], &[("AMQP_URL", "amqps://rabbit:5671/%2f")]].concat();
    assert!(settings(&ok).unwrap().is_production());
}

#[test]
fn development_accepts_wildcard_cors() {
    assert_eq!(
        settings(&[("CORS_ORIGINS", "*")])
            .unwrap()
            .http
            .cors_origins,
        CorsOrigins::Any
    );
}

#[test]
fn cors_origins_are_normalised_origins() {
    let s = settings(&[(
        "CORS_ORIGINS",
        "https://a.example.com/, http://localhost:5173",
    )])
    .unwrap();
    assert_eq!(
        s.http.cors_origins,
        CorsOrigins::List(vec![
            "https://a.example.com".into(),
            "http://localhost:5173".into()
        ])
    );
}

#[test]
fn app_url_loses_its_trailing_slash() {
    let s = settings(&[("APP_URL", "https://app.example.com/auth/")]).unwrap();
    assert_eq!(
        s.mail.app_url.as_deref(),
        Some("https://app.example.com/auth")
    );
}

#[test]
fn durations_accept_units_and_combinations() {
    let d = |s| parse_duration(s).unwrap();
    assert_eq!(d("0"), Duration::ZERO);
    assert_eq!(d("500ms"), Duration::from_millis(500));
    assert_eq!(d("10s"), Duration::from_secs(10));
    assert_eq!(d("15m"), Duration::from_secs(900));
    assert_eq!(d("1h30m"), Duration::from_secs(5400));
    assert_eq!(d("14d"), Duration::from_secs(14 * 86_400));
    assert_eq!(d("2w"), Duration::from_secs(14 * 86_400));
    for bad in ["", "15", "m", "1.5h", "1y", "-1s", "99999999999999999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn the_help_text_lists_every_variable() {
    let help = help_text();
    for v in variables() {
        assert!(help.contains(&v.name), "{} missing from help", v.name);
    }
}

#[test]
fn env_example_documents_every_variable() {
    let example = include_str!("../../.env.example");
    for v in variables() {
        let documented = example.lines().any(|l| {
            l.trim_start_matches("# ")
                .starts_with(&format!("{}=", v.name))
        });
        assert!(documented, "{} is not in .env.example", v.name);
    }
}

#[test]
fn production_refuses_a_missing_public_url() {
    let vars = [
        ("APP_ENV", "production"),
        ("APP_URL", "https://app.example.com"),
        ("SMTP_URL", "smtp://mail:25"),
    ];
    assert_eq!(error_for(&vars).variable(), "PUBLIC_URL");
}

#[test]
fn avatars_live_beside_the_sqlite_file_by_default() {
    let at = |url: &str| settings(&[("DATABASE_URL", url)]).unwrap().media_dir;
    assert_eq!(
        at("sqlite://authql.db?mode=rwc"),
        std::path::PathBuf::from("media")
    );
    assert_eq!(
        at("sqlite:///var/lib/authql/a.db"),
        std::path::PathBuf::from("/var/lib/authql/media")
    );
    assert_eq!(
        at("postgres://db/authql"),
        std::path::PathBuf::from("media")
    );
    let s = settings(&[("PUBLIC_URL", "https://auth.example.com/")]).unwrap();
    assert_eq!(
        s.http.public_url.as_deref(),
        Some("https://auth.example.com")
    );
}

#[test]
fn avatars_go_to_the_database_on_postgresql_and_to_files_on_sqlite_by_default() {
    let store = |vars: &[(&str, &str)]| settings(vars).unwrap().media_store;
    assert_eq!(store(&[]), MediaStoreKind::Local);
    assert_eq!(
        store(&[("DATABASE_URL", "sqlite:///var/lib/authql/a.db")]),
        MediaStoreKind::Local
    );
    assert_eq!(
        store(&[("DATABASE_URL", "postgres://db/authql")]),
        MediaStoreKind::Database
    );
    assert_eq!(
        store(&[("DATABASE_URL", "postgresql://db/authql")]),
        MediaStoreKind::Database
    );
    // Either store on either engine, when asked for.
    assert_eq!(
        store(&[
            ("DATABASE_URL", "postgres://db/authql"),
            ("MEDIA_STORE", "local")
        ]),
        MediaStoreKind::Local
    );
    assert_eq!(
        store(&[("MEDIA_STORE", "Database")]),
        MediaStoreKind::Database
    );
}

#[test]
fn an_unknown_media_store_is_refused_under_its_name() {
    for bad in ["s3", "files", "db", "local,database"] {
        let err = error_for(&[("MEDIA_STORE", bad)]);
        assert_eq!(err.variable(), "MEDIA_STORE", "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn introspection_and_suggestions_default_by_environment() {
    let dev = settings(&[]).unwrap();
    assert!(dev.graphql.introspection && dev.graphql.suggestions);
    let prod = settings(&[
        ("APP_ENV", "production"),
        (
            "SIGNING_KEY_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("APP_URL", "https://app.example.com"),
        ("PUBLIC_URL", "https://auth.example.com"),
        ("SMTP_URL", "smtps://mail:465"),
    ])
    .unwrap();
    assert!(!prod.graphql.introspection && !prod.graphql.suggestions);
    let on = settings(&[
        ("GRAPHQL_INTROSPECTION", "false"),
        ("GRAPHQL_SUGGESTIONS", "yes"),
    ])
    .unwrap();
    assert!(!on.graphql.introspection && on.graphql.suggestions);
    assert_eq!(
        error_for(&[("GRAPHQL_INTROSPECTION", "maybe")]).variable(),
        "GRAPHQL_INTROSPECTION"
    );
}

#[test]
fn production_requires_a_signing_key_encryption_key_of_32_bytes() {
    let base = [
        ("APP_ENV", "production"),
        ("APP_URL", "https://app.example.com"),
        ("PUBLIC_URL", "https://auth.example.com"),
        ("AMQP_URL", "amqp://127.0.0.1:5672/%2f"),
    ];
    assert_eq!(error_for(&base).variable(), "SIGNING_KEY_ENCRYPTION_KEY");
    for bad in [
        "",
        "not base64!",
        "AAECAwQFBgcICQoLDA0ODw==",
        &"A".repeat(64),
    ] {
        let vars = [&base[..], &[("SIGNING_KEY_ENCRYPTION_KEY", bad)]].concat();
        let err = error_for(&vars);
        assert_eq!(err.variable(), "SIGNING_KEY_ENCRYPTION_KEY", "{bad:?}");
        assert!(!err.to_string().contains(bad) || bad.is_empty(), "{err}");
    }
    // Standard or URL-safe base64, padded or not.
    for good in [
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "-_-_AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    ] {
        let vars = [&base[..], &[("SIGNING_KEY_ENCRYPTION_KEY", good)]].concat();
        let s = settings(&vars).unwrap();
        assert!(
            crate::auth::custody::Custody::from_settings(&s).seals(),
            "{good}"
        );
        assert!(!format!("{s:?}").contains(good));
    }
    // Development runs without one (keys in clear, sealed once it is set).
    assert!(!crate::auth::custody::Custody::from_settings(&settings(&[]).unwrap()).seals());
}

mod transport;

#[test]
fn live_connections_must_leave_requests_some_http_places() {
    for (http, ws) in [("512", "512"), ("100", "512"), ("1", "1")] {
        let err = error_for(&[("HTTP_MAX_CONNECTIONS", http), ("WS_MAX_CONNECTIONS", ws)]);
        assert_eq!(err.variable(), "WS_MAX_CONNECTIONS", "{http} {ws}");
        assert!(err.to_string().contains("HTTP_MAX_CONNECTIONS"), "{err}");
    }
    let ok = settings(&[
        ("HTTP_MAX_CONNECTIONS", "513"),
        ("WS_MAX_CONNECTIONS", "512"),
    ]);
    assert_eq!(ok.unwrap().http.ws_max_connections, 512);
    let err = error_for(&[("HTTP_MAX_CONNECTIONS", "256")]);
    assert!(err.to_string().contains("(got \"512\")"), "{err}");
}

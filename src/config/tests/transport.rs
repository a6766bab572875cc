//! Production refuses mail and broker traffic in cleartext to another machine.

use super::*;

/// Production settings that are safe but for the transport under test.
const PRODUCTION: &[(&str, &str)] = &[
    ("APP_ENV", "production"),
    ("APP_URL", "https://app.example.com"),
    ("PUBLIC_URL", "https://auth.example.com"),
    (
        "SIGNING_KEY_ENCRYPTION_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ),
];

fn production_with(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    settings(&[PRODUCTION, vars].concat())
}

#[test]
fn production_refuses_cleartext_smtp_to_another_host() {
    for url in [
        "smtp://mail.example.com:25",
        "smtp://user:hunter2@10.0.0.5:587",
        "smtp://mail.example.com:587?tls=opportunistic",
        "smtp://[2001:db8::1]:25",
    ] {
        let err = production_with(&[("SMTP_URL", url)]).unwrap_err();
        assert_eq!(err.variable(), "SMTP_URL", "{url}");
        let message = err.to_string();
        assert!(message.contains("ALLOW_CLEARTEXT_TRANSPORT"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn production_accepts_cleartext_smtp_on_loopback() {
    for url in [
        "smtp://127.0.0.1:1025",
        "smtp://127.8.9.10:25",
        "smtp://localhost:25",
        "smtp://LOCALHOST:25",
        "smtp://[::1]:25",
    ] {
        assert!(production_with(&[("SMTP_URL", url)]).is_ok(), "{url}");
    }
}

#[test]
fn production_accepts_smtp_over_tls() {
    for url in [
        "smtps://mail.example.com:465",
        "smtps://user:pass@mail.example.com",
        "smtp://mail.example.com:587?tls=required",
        "smtp://user:pass@mail.example.com:587?tls=required",
    ] {
        assert!(production_with(&[("SMTP_URL", url)]).is_ok(), "{url}");
    }
}

#[test]
fn production_refuses_cleartext_amqp_to_another_host() {
    let tls_smtp = ("SMTP_URL", "smtps://mail.example.com:465");
    for url in ["amqp://guest:hunter2@rabbit:5672/%2f", "amqp://10.1.2.3"] {
        let err = production_with(&[tls_smtp, ("AMQP_URL", url)]).unwrap_err();
        assert_eq!(err.variable(), "AMQP_URL", "{url}");
        assert!(
            err.to_string().contains("ALLOW_CLEARTEXT_TRANSPORT"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    // Without SMTP_URL the broker is the only way out, and is judged alike.
    let err = production_with(&[("AMQP_URL", "amqp://rabbit:5672/%2f")]).unwrap_err();
    assert_eq!(err.variable(), "AMQP_URL");
    let local = production_with(&[("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")]);
    assert!(local.is_ok());
}

#[test]
fn production_accepts_amqp_over_tls() {
    for url in [
        "amqps://rabbit.example.com:5671/%2f",
        "amqps://u:p@10.1.2.3/vhost",
    ] {
        assert!(production_with(&[("AMQP_URL", url)]).is_ok(), "{url}");
    }
}

#[test]
fn allow_cleartext_transport_lets_production_use_a_private_network() {
    let cleartext = [
        ("SMTP_URL", "smtp://mailpit:1025"),
        ("AMQP_URL", "amqp://authql:secret@rabbitmq:5672/%2f"),
    ];
    assert!(production_with(&cleartext).is_err());
    let allowed = [&cleartext[..], &[("ALLOW_CLEARTEXT_TRANSPORT", "true")]].concat();
    let s = production_with(&allowed).unwrap();
    assert!(s.allow_cleartext_transport);
    let refused = [&cleartext[..], &[("ALLOW_CLEARTEXT_TRANSPORT", "false")]].concat();
    assert_eq!(
        production_with(&refused).unwrap_err().variable(),
        "SMTP_URL"
    );
    assert_eq!(
        error_for(&[("ALLOW_CLEARTEXT_TRANSPORT", "maybe")]).variable(),
        "ALLOW_CLEARTEXT_TRANSPORT"
    );
}

#[test]
fn development_is_unaffected_by_cleartext_transport() {
    let s = settings(&[
        ("SMTP_URL", "smtp://mail.example.com:25"),
        ("AMQP_URL", "amqp://guest:guest@rabbit:5672/%2f"),
    ])
    .unwrap();
    assert!(!s.is_production());
    assert!(!s.allow_cleartext_transport);
}

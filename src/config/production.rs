//! What `APP_ENV=production` refuses: settings that are only safe on a developer's machine.

use std::net::IpAddr;

use super::{ConfigError, CorsOrigins, Secret, Settings};

fn unsafe_(name: &'static str, reason: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Unsafe {
        name,
        reason: reason.to_owned(),
    })
}

/// Refuses the first unsafe setting. `is_set` says whether the operator set a variable, as
/// opposed to relying on its default.
pub(super) fn refuse_unsafe(
    s: &Settings,
    is_set: impl Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    if !is_set("APP_URL") && !s.http.account_pages {
        return unsafe_(
            "APP_URL",
            "must be set to the frontend's public https URL when ACCOUNT_PAGES=false",
        );
    }
    // Unset, the links go to the account pages at PUBLIC_URL, which must be https (below).
    if s.mail
        .app_url
        .as_ref()
        .is_some_and(|u| !u.starts_with("https://"))
    {
        return unsafe_("APP_URL", "mail links must use https");
    }
    let public_https = s
        .http
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if !is_set("PUBLIC_URL") || !public_https {
        return unsafe_(
            "PUBLIC_URL",
            "must be set to the service's public https URL",
        );
    }
    if s.http.cors_origins == CorsOrigins::Any {
        return unsafe_("CORS_ORIGINS", "`*` lets any website call the API");
    }
    if s.tokens.signing_key_encryption_key.is_none() {
        return unsafe_(
            "SIGNING_KEY_ENCRYPTION_KEY",
            "must be set (base64 of 32 random bytes) so that the private signing keys are \
             sealed at rest",
        );
    }
    if s.broker.amqp_url.is_none() && s.mail.smtp_url.is_none() {
        return unsafe_(
            "SMTP_URL",
            "without AMQP_URL the API sends mail itself and needs an SMTP server \
             (the dev mailbox is for development)",
        );
    }
    if s.allow_cleartext_transport {
        return Ok(());
    }
    // Mail (with its reset and verification links) and the broker's messages must not cross a
    // network in cleartext: TLS, or this machine, or ALLOW_CLEARTEXT_TRANSPORT=true.
    let remote_and_cleartext = |url: &Option<Secret>, cleartext: fn(&url::Url) -> bool| {
        url.as_ref()
            .and_then(|u| url::Url::parse(u.expose()).ok())
            .is_some_and(|u| cleartext(&u) && !is_loopback_host(&u))
    };
    if remote_and_cleartext(&s.mail.smtp_url, smtp_is_cleartext) {
        return unsafe_(
            "SMTP_URL",
            "mail would cross the network in cleartext: use smtps:// or smtp://…?tls=required, \
             or, on a private network you trust, set ALLOW_CLEARTEXT_TRANSPORT=true",
        );
    }
    if remote_and_cleartext(&s.broker.amqp_url, amqp_is_cleartext) {
        return unsafe_(
            "AMQP_URL",
            "mail would cross the network to RabbitMQ in cleartext: use amqps://, or, on a \
             private network you trust, set ALLOW_CLEARTEXT_TRANSPORT=true",
        );
    }
    Ok(())
}

/// Whether mail to this `SMTP_URL` may cross the network in cleartext: anything but
/// implicit TLS (`smtps://`) or STARTTLS that must succeed (`?tls=required`, read as lettre
/// reads it: the first `tls` parameter). `tls=opportunistic` counts as cleartext, since
/// whoever sits on the path can strip the server's STARTTLS offer.
fn smtp_is_cleartext(url: &url::Url) -> bool {
    let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v);
    url.scheme() != "smtps" && tls.as_deref() != Some("required")
}

/// Whether this `AMQP_URL` connects without TLS.
fn amqp_is_cleartext(url: &url::Url) -> bool {
    url.scheme() != "amqps"
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback_host(url: &url::Url) -> bool {
    let ip = match url.host() {
        // smtp and amqp are not "special" schemes to the URL standard, so an IPv4 address
        // arrives as a domain.
        Some(url::Host::Domain(name)) => match name.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return name.eq_ignore_ascii_case("localhost"),
        },
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        None => return false,
    };
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

//! Pure parsers for configuration values; each error says what was expected.

use std::{net::SocketAddr, time::Duration};

use chrono::TimeDelta;

use super::{
    AppEnv, CorsOrigins, DatabaseKind, LogFormat, MediaStoreKind, QueueType, SealingKey, Secret,
};
use crate::domain::cidr::Cidr;

/// What clap needs of a parser built from bounds.
pub(super) trait Parser<T>:
    Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
{
}
impl<T, F: Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static> Parser<T> for F {}

pub(super) fn app_env(v: &str) -> Result<AppEnv, String> {
    match v.to_ascii_lowercase().as_str() {
        "development" | "dev" => Ok(AppEnv::Development),
        "production" | "prod" => Ok(AppEnv::Production),
        _ => Err("expected development or production".into()),
    }
}

pub(super) fn log_format(v: &str) -> Result<LogFormat, String> {
    match v.to_ascii_lowercase().as_str() {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected pretty or json".into()),
    }
}

pub(super) fn database_kind(v: &str) -> Result<DatabaseKind, String> {
    if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else if v.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else {
        Err("expected a postgres://… or sqlite:… URL".into())
    }
}

pub(super) fn media_store(v: &str) -> Result<MediaStoreKind, String> {
    match v.to_ascii_lowercase().as_str() {
        "database" => Ok(MediaStoreKind::Database),
        "local" => Ok(MediaStoreKind::Local),
        _ => Err("expected database or local".into()),
    }
}

/// The store avatars go to unless `MEDIA_STORE` says: the database where replicas share
/// one (PostgreSQL), files beside the database where there is one process (SQLite).
pub(super) fn default_media_store(database: DatabaseKind) -> MediaStoreKind {
    match database {
        DatabaseKind::Postgres => MediaStoreKind::Database,
        DatabaseKind::Sqlite => MediaStoreKind::Local,
    }
}

/// A whole number from `min` to `max`.
pub(super) fn within<T: TryFrom<u64> + 'static>(min: u64, max: u64) -> impl Parser<T> {
    move |v| match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => T::try_from(n).map_err(|_| String::new()),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

pub(super) fn non_empty(v: &str) -> Result<String, String> {
    if v.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(v.to_owned())
    }
}

pub(super) fn socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.parse()
        .map_err(|_| "expected an address and port such as 127.0.0.1:8000 or [::]:8000".into())
}

pub(super) fn database_url(v: &str) -> Result<Secret, String> {
    database_kind(v).map(|_| Secret::new(v))
}

pub(super) fn amqp_url(v: &str) -> Result<Secret, String> {
    url_with_scheme(v, &["amqp", "amqps"]).map(Secret::new)
}

pub(super) fn smtp_url(v: &str) -> Result<Secret, String> {
    url_with_scheme(v, &["smtp", "smtps"]).map(Secret::new)
}

/// An address to listen on, or nothing (empty) for no listener.
pub(super) fn metrics_bind(v: &str) -> Result<Option<SocketAddr>, String> {
    (!v.is_empty()).then(|| socket_addr(v)).transpose()
}

fn url_with_scheme(v: &str, schemes: &[&str]) -> Result<String, String> {
    let expected = || {
        format!(
            "expected a URL starting with {}://",
            schemes.join(":// or ")
        )
    };
    let url = url::Url::parse(v).map_err(|_| expected())?;
    if !schemes.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(expected());
    }
    Ok(v.to_owned())
}

/// An http(s) base URL without query or fragment, returned without its trailing slash.
pub(super) fn base_url(v: &str) -> Result<String, String> {
    let url = url::Url::parse(v).map_err(|_| "expected an http(s) URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http(s) URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `Name <local@domain>` or `local@domain`.
pub(super) fn mailbox(v: &str) -> Result<String, String> {
    let address = match (v.rfind('<'), v.ends_with('>')) {
        (Some(open), true) => &v[open + 1..v.len() - 1],
        (None, false) => v,
        _ => return Err("expected `Name <address>` or a bare address".into()),
    };
    let valid = address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(v.to_owned())
    } else {
        Err("expected `Name <address>` or a bare address".into())
    }
}

/// A duration such as `15m`, `14d`, `1h30m`, `500ms` or `0`.
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let err = || "expected a duration such as 30s, 15m, 12h, 14d or 1h30m".to_owned();
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = v;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis_per_unit: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        let part = n.checked_mul(millis_per_unit).ok_or_else(err)?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(err)?;
    }
    Ok(total)
}

fn duration_in(v: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d < min || d > max {
        return Err(format!("must be between {} and {}", human(min), human(max)));
    }
    Ok(d)
}

/// A duration from `min` to `max`, for waits and timeouts.
pub(super) fn dur(min: Duration, max: Duration) -> impl Parser<Duration> {
    move |v| duration_in(v, min, max)
}

/// A duration from `min` to `max`, for lifetimes and windows reckoned on timestamps.
pub(super) fn delta(min: Duration, max: Duration) -> impl Parser<TimeDelta> {
    move |v| TimeDelta::from_std(duration_in(v, min, max)?).map_err(|e| e.to_string())
}

/// The waits between sending attempts: a non-empty list of durations from 10 ms to a day.
pub(super) fn retry_delays(v: &str) -> Result<Vec<Duration>, String> {
    list(
        v,
        dur(Duration::from_millis(10), Duration::from_secs(86_400)),
    )
}

pub(super) fn queue_type(v: &str) -> Result<QueueType, String> {
    match v {
        "quorum" => Ok(QueueType::Quorum),
        "classic" => Ok(QueueType::Classic),
        _ => Err("expected quorum or classic".to_owned()),
    }
}

/// Comma-separated networks; empty is none.
pub(super) fn cidr_list(v: &str) -> Result<Vec<Cidr>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Cidr::parse)
        .collect()
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub(super) fn cors_origins(v: &str) -> Result<CorsOrigins, String> {
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items == ["*"] {
        return Ok(CorsOrigins::Any);
    }
    items
        .into_iter()
        .map(|item| {
            let url = url::Url::parse(item).map_err(|_| {
                format!("{item:?} is not an origin such as https://app.example.com")
            })?;
            let origin = url.origin().ascii_serialization();
            if !matches!(url.scheme(), "http" | "https") || item.trim_end_matches('/') != origin {
                return Err(format!(
                    "{item:?} is not an origin such as https://app.example.com (scheme, host \
                     and port only; `*` must stand alone)"
                ));
            }
            Ok(origin)
        })
        .collect::<Result<_, _>>()
        .map(CorsOrigins::List)
}

/// A RabbitMQ exchange or queue name: 1–200 visible ASCII characters.
pub(super) fn amqp_name(v: &str) -> Result<String, String> {
    if (1..=200).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(v.to_owned())
    } else {
        Err("expected a name of 1 to 200 visible ASCII characters".into())
    }
}

/// A non-empty comma-separated list, each item parsed by `item`.
fn list<T>(v: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let items: Vec<T> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(item)
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Err("expected at least one item".into());
    }
    Ok(items)
}

/// `media` beside an SQLite database file, or in the working directory.
pub(super) fn media_dir_beside(database_url: &str) -> std::path::PathBuf {
    let file = database_url
        .strip_prefix("sqlite:")
        .map(|rest| rest.trim_start_matches("//"))
        .and_then(|rest| rest.split('?').next())
        .filter(|path| !path.is_empty() && !path.starts_with(':'));
    match file.and_then(|f| std::path::Path::new(f).parent()) {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("media"),
        _ => std::path::PathBuf::from("media"),
    }
}

pub(super) fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// Base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
pub(super) fn sealing_key(v: &str) -> Result<SealingKey, String> {
    use base64::{
        Engine as _,
        engine::general_purpose::{STANDARD, URL_SAFE},
    };
    let v = v.trim();
    let padded = format!("{v}{}", "=".repeat((4 - v.len() % 4) % 4));
    let bytes = STANDARD
        .decode(&padded)
        .or_else(|_| URL_SAFE.decode(&padded))
        .map_err(|_| "expected base64 of 32 random bytes (openssl rand -base64 32)".to_owned())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(SealingKey)
        .map_err(|_| {
            format!(
                "expected 32 bytes, got {}: generate one with openssl rand -base64 32",
                bytes.len()
            )
        })
}

//! Putting mail in the outbox from a use case: links, per-address limits, and the wake-up
//! of the relay once the transaction has committed.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    auth::opaque_token::OpaqueToken,
    error::AppError,
    mail::{Link, Mail, outbox},
    repo::{self, email_tokens::Purpose},
    state::AppState,
};

/// `{APP_URL}/{path}?token=…`, from configuration only, never from request headers.
pub fn link(state: &AppState, path: &str, token: &OpaqueToken) -> String {
    format!("{}/{path}?token={}", state.app_url, token.expose())
}

/// "24 hours", "1 hour", "30 minutes": how long a link works, for the mail text.
pub fn human(d: TimeDelta) -> String {
    let s = d.num_seconds().unsigned_abs();
    let (n, unit) = if s.is_multiple_of(86_400) && s >= 2 * 86_400 {
        (s / 86_400, "day")
    } else if s.is_multiple_of(3_600) {
        (s / 3_600, "hour")
    } else {
        (s.div_ceil(60), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Counts one more mail to `email`; `false` once past `MAIL_LIMIT_PER_ADDRESS` in the
/// window (the caller then sends nothing, and still answers as if it had).
///
/// # Errors
/// Only internal ones.
pub async fn within_limit(
    txn: &repo::Tx,
    state: &AppState,
    email: &str,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let s = &state.settings;
    let window = s.mail.limit_window;
    let key = format!("mail:{email}");
    let (hits, _) = repo::rate_counters::hit(txn, &key, now, now - window).await?;
    let allowed = hits <= i32::try_from(s.mail.limit_per_address).unwrap_or(i32::MAX);
    if !allowed {
        tracing::info!(
            kind = "mail",
            "per-address mail limit reached; nothing sent"
        );
    }
    Ok(allowed)
}

/// Writes a mail to the outbox in `txn`.
///
/// # Errors
/// Only internal ones.
pub async fn enqueue(
    txn: &repo::Tx,
    to: &str,
    mail: Mail,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    Ok(outbox::enqueue(txn, to, mail, now).await?)
}

/// Issues a token for `purpose` (replacing any earlier one) and mails its link: a
/// verification link, a reset link, or the unlock link of a locked account. The caller has
/// checked the per-address limit ([`within_limit`]) where one applies; the unlock mail has
/// its own (one per login window), so that an attacker who spends the per-address limit
/// cannot stop it.
///
/// # Errors
/// Only internal ones.
pub async fn send_link(
    txn: &repo::Tx,
    state: &AppState,
    user_id: Uuid,
    username: &str,
    email: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let s = &state.settings;
    let (ttl, path, mail): (_, _, fn(Link) -> Mail) = match purpose {
        Purpose::VerifyEmail => (s.mail.verification_ttl, "verify-email", Mail::VerifyEmail),
        Purpose::ResetPassword => (s.mail.reset_ttl, "reset-password", Mail::ResetPassword),
        Purpose::UnlockAccount => (s.mail.reset_ttl, "unlock-account", Mail::SignInAttempts),
    };
    let token = OpaqueToken::generate()?;
    let expires = now + ttl;
    repo::email_tokens::replace(txn, user_id, purpose, &token.hash(), now, expires).await?;
    let link = Link {
        username: username.to_owned(),
        url: link(state, path, &token),
        valid_for: human(ttl),
    };
    enqueue(txn, email, mail(link), now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{TimeDelta, human};

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(TimeDelta::seconds(86_400)), "24 hours");
        assert_eq!(human(TimeDelta::seconds(3_600)), "1 hour");
        assert_eq!(human(TimeDelta::seconds(7 * 86_400)), "7 days");
        assert_eq!(human(TimeDelta::seconds(90)), "2 minutes");
    }
}

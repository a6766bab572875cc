//! A second factor: TOTP from an authenticator app, with single-use recovery codes.
//!
//! Enrolment is two steps: `startTotpEnrollment` (a recent sign-in required) stores a new
//! secret, sealed like the signing keys, and shows it; `confirmTotpEnrollment` turns it on
//! once a current code proves the app has it, and shows ten recovery codes once (only their
//! hashes are kept). From then on a login with the right password is answered with
//! `MFA_REQUIRED` and a challenge: a single-use token, valid `MFA_TOKEN_TTL`, bound to the
//! client address and user agent it was issued to and to the password it checked, which
//! `verifyMfa` completes with a TOTP code or a recovery code. A TOTP code is accepted once
//! (each account remembers the last time step it accepted); wrong codes count against the
//! account in the login throttle, as wrong passwords do, and the count starts over only
//! when a whole sign-in succeeds.

use uuid::Uuid;

use crate::{
    auth::{
        opaque_token::{OpaqueToken, looks_like_token},
        totp::{self, TotpSecret},
    },
    domain::{
        Account, Credential, TokenHash,
        second_factor::{
            ENROLMENT_TTL, MfaChallenge, OneTimeCode, RECOVERY_CODES, RecoveryCode, recovery_hash,
        },
        session::{AuthMethods, Authentication},
    },
    error::AppError,
    mail::{Mail, SecondFactorNotice},
    repo::{
        self,
        sessions::{RevokeReason, Scope},
    },
    service::{
        admin::require_admin,
        current_user::CurrentUser,
        login::{open_session, settle},
        mailing,
        sessions::{ClientInfo, Issued},
        throttle,
    },
    state::AppState,
};

/// What `startTotpEnrollment` shows: the secret, as text and as the URI an app scans.
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_code_svg: String,
}

/// Whether an account has a second factor, and how many recovery codes it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub recovery_codes_left: u64,
}

/// Which code proved the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeUsed {
    Totp,
    Recovery,
}

/// The associated data a user's sealed secret is bound to: moved to another row, it does
/// not open.
fn seal_label(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

fn open_secret(state: &AppState, user_id: Uuid, sealed: &str) -> Result<TotpSecret, AppError> {
    let bytes = state
        .custody
        .open(&seal_label(user_id), sealed)
        .map_err(AppError::internal)?;
    TotpSecret::from_bytes(&bytes).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("a stored TOTP secret has the wrong length"))
    })
}

fn wrong_code() -> AppError {
    AppError::input(crate::error::Field::Code, "The code is not correct")
}

fn mfa_token_refused() -> AppError {
    AppError::Unauthenticated("The sign-in has expired or was completed; sign in again")
}

/// What a client is bound to: its address and user agent, hashed.
fn client_binding(client: &ClientInfo) -> TokenHash {
    let ip = client
        .ip
        .map(|ip| ip.to_canonical().to_string())
        .unwrap_or_default();
    TokenHash::of(&format!(
        "{ip}\n{}",
        client.user_agent.as_deref().unwrap_or_default()
    ))
}

/// New recovery codes: shown once, stored hashed in place of the old ones.
async fn new_recovery_codes(
    txn: &repo::Tx,
    user_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, AppError> {
    let codes = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<TokenHash> = codes.iter().map(|c| c.hash.clone()).collect();
    repo::recovery_codes::replace(txn, user_id, &hashes, now).await?;
    Ok(codes.into_iter().map(|c| c.shown).collect())
}

async fn notify(
    txn: &repo::Tx,
    account: &Account,
    kind: SecondFactorNotice,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let mail = Mail::SecondFactor {
        kind,
        username: account.username.clone(),
    };
    mailing::enqueue(txn, &account.email, mail, now)
        .await
        .map(|_| ())
}

/// Starts TOTP enrolment: a new secret, waiting for its first code.
///
/// # Errors
/// `REAUTHENTICATION_REQUIRED` without a recent sign-in; `FORBIDDEN` when TOTP is on already
/// (turn it off first).
pub async fn start_enrollment(state: &AppState, me: &CurrentUser) -> Result<Enrollment, AppError> {
    me.require_recent(state).await?;
    let secret = TotpSecret::generate()
        .map_err(|e| AppError::internal(anyhow::anyhow!("OS randomness unavailable: {e}")))?;
    let sealed = state
        .custody
        .seal(&seal_label(me.account.id), secret.as_bytes())
        .map_err(AppError::internal)?;
    let now = state.clock.now();
    if !repo::totp_factors::put_pending(&state.db, me.account.id, sealed, now).await? {
        return Err(AppError::Forbidden(
            "Two-step sign-in is on already: turn it off first",
        ));
    }
    let issuer = &state.settings.mail.product_name;
    let otpauth_uri = totp::otpauth_uri(&secret, issuer, &me.account.email);
    let qr_code_svg = totp::qr_svg(&otpauth_uri).map_err(AppError::internal)?;
    Ok(Enrollment {
        secret: secret.base32(),
        otpauth_uri,
        qr_code_svg,
    })
}

/// Turns TOTP on with a current code of the waiting secret (at most [`ENROLMENT_TTL`]
/// old, from a session that still signed in recently); returns the recovery codes. Every
/// other session of the account ends (they signed in without the factor), and this one
/// counts as having proved it. Wrong codes count in the login throttle.
///
/// # Errors
/// `BAD_USER_INPUT` on `code` for a code that is not the secret's (or no enrolment waits);
/// `FORBIDDEN` when TOTP is on already; `REAUTHENTICATION_REQUIRED` without a recent
/// sign-in; `RATE_LIMITED` after too many wrong codes.
pub async fn confirm_enrollment(
    state: &AppState,
    me: &CurrentUser,
    code: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    me.require_recent(state).await?;
    let OneTimeCode::Totp(code) = OneTimeCode::parse(code)? else {
        return Err(wrong_code());
    };
    let user_id = me.account.id;
    let now = state.clock.now();
    let no_enrolment = || {
        AppError::input(
            crate::error::Field::Code,
            "No enrolment is waiting (or it expired): start it again",
        )
    };
    let factor = repo::totp_factors::find(&state.db, user_id)
        .await?
        .ok_or_else(no_enrolment)?;
    if factor.confirmed {
        return Err(AppError::Forbidden("Two-step sign-in is on already"));
    }
    if now - factor.created_at > ENROLMENT_TTL {
        return Err(no_enrolment());
    }
    let subject = throttle::LoginSubject::Account(user_id);
    let charged = match throttle::charge_login(state, subject, client.ip).await? {
        Ok(charged) => charged,
        Err(refused) => return Err(refused.into()),
    };
    let secret = open_secret(state, user_id, &factor.secret_sealed)?;
    let step = secret.matching_step(&code, now).ok_or_else(wrong_code)?;
    let txn = repo::begin(&state.db).await?;
    // Only the secret the code was checked against: an enrolment started again meanwhile
    // waits for a code of its own.
    if !repo::totp_factors::confirm(&txn, user_id, &factor.secret_sealed, step, now).await? {
        return Err(wrong_code());
    }
    let codes = new_recovery_codes(&txn, user_id, now).await?;
    let proved = Authentication {
        time: now,
        methods: AuthMethods::PasswordAndCode,
    };
    if !repo::sessions::record_authentication(&txn, me.session_id, proved, None).await? {
        return Err(AppError::Unauthenticated(
            "The session has ended; sign in again",
        ));
    }
    let others = Scope::AllOf {
        user: user_id,
        keep: Some(me.session_id),
    };
    let ended = repo::sessions::revoke(&txn, others, RevokeReason::SecondFactorOn, now).await?;
    notify(&txn, &me.account, SecondFactorNotice::TotpEnabled, now).await?;
    repo::commit(txn).await?;
    settle(state, charged).await;
    state.relay.wake();
    tracing::info!(user_id = %user_id, sessions_ended = ended, "second factor turned on");
    Ok(codes)
}

/// An account's second factor, as `me { mfa }` shows it.
///
/// # Errors
/// Only internal ones.
pub async fn status(state: &AppState, user_id: Uuid) -> Result<MfaStatus, AppError> {
    let totp_enabled = repo::totp_factors::is_enabled(&state.db, user_id).await?;
    let recovery_codes_left = if totp_enabled {
        repo::recovery_codes::unused(&state.db, user_id).await?
    } else {
        0
    };
    Ok(MfaStatus {
        totp_enabled,
        recovery_codes_left,
    })
}

/// Replaces the recovery codes with ten new ones.
///
/// # Errors
/// `REAUTHENTICATION_REQUIRED` without a recent sign-in; `FORBIDDEN` without a second
/// factor.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    me: &CurrentUser,
) -> Result<Vec<String>, AppError> {
    me.require_recent(state).await?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    if !repo::totp_factors::is_enabled(&txn, me.account.id).await? {
        return Err(AppError::Forbidden("Turn two-step sign-in on first"));
    }
    let codes = new_recovery_codes(&txn, me.account.id, now).await?;
    repo::commit(txn).await?;
    tracing::info!(user_id = %me.account.id, "recovery codes replaced");
    Ok(codes)
}

/// Removes a user's second factor: the secret, the codes and the waiting challenges.
///
/// In the order `verifyMfa` takes its locks (challenge, factor, codes), so that the two
/// running at once take turns instead of deadlocking.
async fn remove(txn: &repo::Tx, user_id: Uuid) -> Result<bool, AppError> {
    repo::mfa_challenges::delete_for(txn, user_id).await?;
    let was_on = repo::totp_factors::delete(txn, user_id).await?;
    repo::recovery_codes::delete_all(txn, user_id).await?;
    Ok(was_on)
}

/// Turns TOTP off; `false` when it was not on.
///
/// # Errors
/// `REAUTHENTICATION_REQUIRED` without a recent sign-in.
pub async fn disable_totp(state: &AppState, me: &CurrentUser) -> Result<bool, AppError> {
    me.require_recent(state).await?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let was_on = remove(&txn, me.account.id).await?;
    if was_on {
        notify(&txn, &me.account, SecondFactorNotice::TotpDisabled, now).await?;
    }
    repo::commit(txn).await?;
    if was_on {
        state.relay.wake();
        tracing::info!(user_id = %me.account.id, "second factor turned off");
    }
    Ok(was_on)
}

/// An administrator removes a user's second factor (a lost device): every session of the
/// user ends and the owner is told.
///
/// # Errors
/// `FORBIDDEN` for non-administrators; `REAUTHENTICATION_REQUIRED` without a recent sign-in
/// of the administrator; `NOT_FOUND` for an unknown id.
pub async fn admin_reset(state: &AppState, me: &CurrentUser, id: Uuid) -> Result<bool, AppError> {
    require_admin(me)?;
    // A stolen administrator's token must not be enough to strip anyone's second factor.
    me.require_recent(state).await?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let user = repo::users::find_by_id(&txn, id)
        .await?
        .ok_or(AppError::NotFound("No such user"))?;
    let was_on = remove(&txn, id).await?;
    let scope = Scope::AllOf {
        user: id,
        keep: None,
    };
    let ended = repo::sessions::revoke(&txn, scope, RevokeReason::Admin, now).await?;
    notify(&txn, &user, SecondFactorNotice::Reset, now).await?;
    repo::commit(txn).await?;
    state.relay.wake();
    tracing::info!(admin_id = %me.account.id, user_id = %id, was_on, sessions_ended = ended,
        "second factor reset by an administrator");
    Ok(was_on)
}

/// The answer to a right password on an account with a second factor: a new challenge,
/// as the `MFA_REQUIRED` error that carries its token.
///
/// # Errors
/// Only internal ones (the challenge is the `Ok` value).
pub(crate) async fn challenge(
    state: &AppState,
    user: &Account,
    checked: &Credential,
    client: &ClientInfo,
) -> Result<AppError, AppError> {
    let token = OpaqueToken::generate()?;
    let now = state.clock.now();
    let challenge = MfaChallenge {
        user_id: user.id,
        credential_version: checked.version,
        client_binding: client_binding(client),
        expires_at: now + state.settings.tokens.mfa_token_ttl,
        spent_at: None,
    };
    repo::mfa_challenges::insert(&state.db, &token.hash(), challenge, now).await?;
    tracing::info!(user_id = %user.id, "password right; second factor required");
    Ok(AppError::MfaRequired(token))
}

/// Completes a login that answered `MFA_REQUIRED`, with a TOTP code or a recovery code.
///
/// # Errors
/// `UNAUTHENTICATED` for a token that is unknown, spent, expired, presented by another
/// client, or whose password changed since; `BAD_USER_INPUT` on `code` for a wrong code
/// (the token stays usable until it expires); `RATE_LIMITED` when wrong codes and wrong
/// passwords have added up to the login throttle's limits.
#[tracing::instrument(skip_all)]
pub async fn verify_mfa(
    state: &AppState,
    presented: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<Issued, AppError> {
    if !looks_like_token(presented) {
        return Err(mfa_token_refused());
    }
    let hash = TokenHash::of(presented);
    let now = state.clock.now();
    let challenge = repo::mfa_challenges::find(&state.db, &hash)
        .await?
        .filter(|c| c.spent_at.is_none() && c.expires_at > now)
        .filter(|c| c.client_binding == client_binding(client))
        .ok_or_else(mfa_token_refused)?;
    let code = OneTimeCode::parse(code)?;
    throttle::precheck_login(state, client.ip)?;
    let (user, checked) = repo::users::find_by_id_with_credential(&state.db, challenge.user_id)
        .await?
        .filter(|(u, c)| u.is_active && c.version == challenge.credential_version)
        .ok_or_else(mfa_token_refused)?;
    let subject = throttle::LoginSubject::Account(user.id);
    let charged = match throttle::charge_login(state, subject, client.ip).await? {
        Ok(charged) => charged,
        Err(refused) => {
            crate::metrics::login("throttled");
            if refused.locked_account_now {
                crate::service::login::tell_owner_of_lock(state, &user);
            }
            return Err(refused.into());
        }
    };

    let txn = repo::begin(&state.db).await?;
    // The challenge first: of two requests with one token, one goes on.
    if !repo::mfa_challenges::spend(&txn, &hash, now).await? {
        return Err(mfa_token_refused());
    }
    let Some(used) = check_code(&txn, state, user.id, &code, now).await? else {
        drop(txn);
        crate::metrics::login("failure");
        tracing::info!(user_id = %user.id, "wrong second-factor code");
        return Err(wrong_code());
    };
    let methods = AuthMethods::PasswordAndCode;
    let Some(opened) =
        open_session(&txn, state, &user, &checked, None, methods, client, now).await?
    else {
        return Err(mfa_token_refused());
    };
    if used == CodeUsed::Recovery {
        notify(&txn, &user, SecondFactorNotice::RecoveryCodeUsed, now).await?;
    }
    repo::commit(txn).await?;
    if used == CodeUsed::Recovery {
        state.relay.wake();
    }
    // Both steps were charged to the same counters (the token is bound to this client):
    // the sign-in gives both attempts back, as a one-step sign-in gives back its one.
    settle(state, charged.with_password_step()).await;
    crate::metrics::login("success");
    opened.issue(state, user, now)
}

/// Checks and spends a code of a user with a second factor: a TOTP code for a time step
/// after the last one accepted, or an unused recovery code. `None` for anything else.
async fn check_code(
    txn: &repo::Tx,
    state: &AppState,
    user_id: Uuid,
    code: &OneTimeCode,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<CodeUsed>, AppError> {
    match code {
        OneTimeCode::Totp(code) => {
            let Some(factor) = repo::totp_factors::find(txn, user_id)
                .await?
                .filter(|f| f.confirmed)
            else {
                return Ok(None);
            };
            let secret = open_secret(state, user_id, &factor.secret_sealed)?;
            let Some(step) = secret.matching_step(code, now) else {
                return Ok(None);
            };
            let accepted = repo::totp_factors::accept_step(txn, user_id, step).await?;
            Ok(accepted.then_some(CodeUsed::Totp))
        }
        OneTimeCode::Recovery(normalised) => {
            let spent =
                repo::recovery_codes::spend(txn, user_id, &recovery_hash(normalised), now).await?;
            Ok(spent.then_some(CodeUsed::Recovery))
        }
    }
}

/// Checks (and spends) the code `reauthenticate` was given for an account with a second
/// factor.
///
/// # Errors
/// `BAD_USER_INPUT` on `code` when it is missing, malformed or wrong.
pub(crate) async fn check_reauthentication_code(
    state: &AppState,
    user: &Account,
    code: Option<&str>,
) -> Result<(), AppError> {
    let code = code.ok_or_else(|| {
        AppError::input(
            crate::error::Field::Code,
            "This account has a second factor: send a code with the password",
        )
    })?;
    let code = OneTimeCode::parse(code)?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let Some(used) = check_code(&txn, state, user.id, &code, now).await? else {
        return Err(wrong_code());
    };
    if used == CodeUsed::Recovery {
        notify(&txn, user, SecondFactorNotice::RecoveryCodeUsed, now).await?;
    }
    repo::commit(txn).await?;
    if used == CodeUsed::Recovery {
        state.relay.wake();
    }
    Ok(())
}

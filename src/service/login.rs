//! Signing in: a username or email and a password, checked against the login throttle and
//! the hasher, start a session; a login that loses a race with a credential change starts
//! none. The owner of an account the throttle locks is told, with a way back in.

use chrono::{DateTime, Utc};

use crate::{
    auth::opaque_token::OpaqueToken,
    domain::{
        Account, Credential, MAX_LOOKUP_LEN, Password, PasswordHash, parse_username_lookup,
        session::{AuthMethods, Session},
    },
    error::{AppError, Field},
    repo,
    service::{
        second_factor,
        sessions::{ClientInfo, Issued, IssuedFor, access_token, seconds_until},
        throttle,
    },
    state::AppState,
};

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated("Invalid username, email or password")
}

/// Logs in by username or email (case-insensitive) and starts a session.
///
/// An unknown name, a wrong password and a deactivated account give the same error after
/// the same work (a dummy hash is checked when there is no user). Every attempt is counted
/// by the login throttle first, against the account whichever of its names was typed. A
/// session starts only if the password checked is still the stored one when the login is
/// recorded: a reset or change that lands meanwhile makes this login fail like a wrong
/// password (and a stronger hash made from it is not written).
///
/// An account with a second factor gets no session yet: the right password is answered
/// with `MFA_REQUIRED` and a challenge that `verifyMfa` completes with a code.
///
/// # Errors
/// `UNAUTHENTICATED` for bad credentials, `RATE_LIMITED` when throttled, `MFA_REQUIRED`
/// when a code must follow.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    identifier: &str,
    password: &Password,
    client: &ClientInfo,
) -> Result<Issued, AppError> {
    let username_key = parse_username_lookup(identifier, MAX_LOOKUP_LEN)
        .map_err(|why| why.input_error(Field::UsernameOrEmail, MAX_LOOKUP_LEN))?;
    // An address in the one spelling it is stored in (full-width or Unicode domains
    // included); anything else cannot be an email and is only a username.
    let email_key = crate::domain::Email::parse(identifier)
        .map(crate::domain::Email::into_inner)
        .unwrap_or_else(|_| identifier.trim().to_lowercase());
    throttle::precheck_login(state, client.ip)
        .inspect_err(|_| crate::metrics::login("throttled"))?;
    let found = repo::idempotent(|| {
        repo::users::find_by_login_with_credential(&state.db, &username_key, &email_key)
    })
    .await?;
    let (user, checked) = found.unzip();
    let subject = match &user {
        Some(u) => throttle::LoginSubject::Account(u.id),
        None => throttle::LoginSubject::UnknownName(&username_key),
    };
    let charged = match throttle::charge_login(state, subject, client.ip).await? {
        Ok(charged) => charged,
        Err(refused) => {
            crate::metrics::login("throttled");
            if refused.locked_account_now
                && let Some(owner) = &user
            {
                tell_owner_of_lock(state, owner);
            }
            return Err(refused.into());
        }
    };

    let verified = match state
        .hasher
        .verify(password, checked.as_ref().map(|c| &c.hash), &client.key())
        .await
    {
        Ok(verified) => verified,
        Err(err) => {
            // No password was checked: the attempt is given back.
            give_back(state, charged).await;
            return Err(err);
        }
    };
    let (user, checked) = match (user, checked) {
        (Some(u), Some(c)) if verified.matches && u.is_active => (u, c),
        _ => {
            tracing::info!("login failed");
            crate::metrics::login("failure");
            return Err(invalid_credentials());
        }
    };
    // Right password: the account's successful logins are bounded too (each one is a
    // session and a hash), and the failure counters are settled either way.
    if let Err(limited) = throttle::charge_success(state, user.id).await {
        settle(state, charged).await;
        crate::metrics::login("throttled");
        return Err(limited);
    }
    // An account with a second factor: the password was right, and a code must follow
    // (`verifyMfa`). Its failure counters stay as they are until the code is right, so
    // wrong codes and wrong passwords add up; its hash is upgraded at a later sign-in.
    if repo::totp_factors::is_enabled(&state.db, user.id).await? {
        crate::metrics::login("mfa_required");
        return Err(second_factor::challenge(state, &user, &checked, client).await?);
    }
    let rehashed = if verified.needs_rehash {
        Some(state.hasher.hash(password, &client.key()).await?)
    } else {
        None
    };
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let Some(opened) = open_session(
        &txn,
        state,
        &user,
        &checked,
        rehashed,
        AuthMethods::Password,
        client,
        now,
    )
    .await?
    else {
        drop(txn);
        tracing::info!(user_id = %user.id, "login lost a race with a credential change");
        crate::metrics::login("failure");
        return Err(invalid_credentials());
    };
    repo::commit(txn).await?;
    // After the commit, not inside the transaction: every login from one address updates
    // the same counter row, and its lock must not be held for a whole transaction.
    settle(state, charged).await;
    crate::metrics::login("success");
    opened.issue(state, user, now)
}

/// A session started inside a sign-in's transaction, to be issued once it commits.
pub(crate) struct Opened {
    session: Session,
    refresh: OpaqueToken,
}

impl Opened {
    /// The answer of the sign-in: tokens for the session, and the account as it is now.
    pub(crate) fn issue(
        self,
        state: &AppState,
        mut account: Account,
        now: DateTime<Utc>,
    ) -> Result<Issued, AppError> {
        account.last_login_at = Some(now);
        Ok(Issued {
            access_token: access_token(state, &self.session, now)?,
            refresh_token: self.refresh,
            expires_in: state
                .settings
                .tokens
                .access_ttl
                .num_seconds()
                .unsigned_abs(),
            refresh_expires_in: seconds_until(self.session.idle_expires_at, now),
            user: IssuedFor::Loaded(account),
        })
    }
}

/// Starts a session for a sign-in whose proof was checked against `checked`, inside `txn`:
/// records the login (and a stronger hash of the password, written only over the hash it
/// replaces), stores the session and its first refresh token, and trims the account's
/// sessions to the cap. `None` when the credential changed since it was checked (a reset
/// or change won the race): the sign-in fails and nothing is written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn open_session(
    txn: &repo::Tx,
    state: &AppState,
    user: &Account,
    checked: &Credential,
    rehashed: Option<PasswordHash>,
    methods: AuthMethods,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Option<Opened>, AppError> {
    let s = &state.settings;
    let absolute = now + s.tokens.session_max_age;
    let idle = (now + s.tokens.refresh_ttl).min(absolute);
    let session = Session::start(
        user.id,
        now,
        idle,
        absolute,
        client.user_agent.clone(),
        client.ip.map(|ip| ip.to_canonical().to_string()),
        methods,
    );
    let refresh = OpaqueToken::generate()?;
    // The user's row first: its lock makes concurrent logins of one account take turns, so
    // each sees the others' sessions when it trims them to the cap.
    // Only if the password checked is still the stored one: a reset or change that landed
    // meanwhile wins, and this sign-in fails as a wrong password would.
    if !repo::users::record_login(txn, user.id, now, checked, rehashed).await? {
        return Ok(None);
    }
    // A password-only sign-in that raced the account's second factor being turned on
    // (after its check, before this transaction) loses too.
    if methods == AuthMethods::Password && repo::totp_factors::is_enabled(txn, user.id).await? {
        return Ok(None);
    }
    repo::sessions::insert(txn, session.clone()).await?;
    repo::refresh_tokens::insert(txn, &refresh.hash(), session.id, None, now).await?;
    let cap = s.throttle.sessions_max_per_account as usize;
    let ended = repo::sessions::revoke_beyond_newest(txn, user.id, cap, now).await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, sessions_ended = ended,
        amr = methods.as_stored(), "logged in");
    Ok(Some(Opened { session, refresh }))
}

/// Mails the owner of a just-locked account a link that unlocks it for the address that
/// opens it (once per login window), in the background: the attempt that locks an account
/// is answered as fast as any other. Only a verified, active account is mailed (an
/// unverified one may carry someone else's address). A failure is logged, not answered.
pub(crate) fn tell_owner_of_lock(state: &AppState, owner: &Account) {
    if !owner.email_verified || !owner.is_active {
        return;
    }
    let (state, owner) = (state.clone(), owner.clone());
    tokio::spawn(async move {
        let sent = async {
            let txn = repo::begin(&state.db).await?;
            if !throttle::unlock_mail_allowed(&txn, &state, owner.id).await? {
                return Ok::<_, AppError>(false);
            }
            let now = state.clock.now();
            crate::service::mailing::send_link(
                &txn,
                &state,
                owner.id,
                &owner.username,
                &owner.email,
                crate::repo::email_tokens::Purpose::UnlockAccount,
                now,
            )
            .await?;
            repo::commit(txn).await?;
            state.relay.wake();
            Ok(true)
        }
        .await;
        match sent {
            Ok(sent) => {
                tracing::info!(user_id = %owner.id, sent, "account locked by failed logins");
            }
            Err(err) => tracing::warn!(error = ?err, "unlock mail not written"),
        }
    });
}

/// The signed-in user's own password, checked as a login checks one: charged to the login
/// throttle first (the owner is told if this attempt locks the account), and given back
/// if it never reached the hasher. `Some` with the charge when it matches (settle it once
/// the operation stands); `None` when it does not, the attempt staying counted.
///
/// # Errors
/// `RATE_LIMITED` when throttled or no hasher is free; internal ones.
pub(crate) async fn check_own_password(
    state: &AppState,
    user: &Account,
    credential: &Credential,
    password: &Password,
    client: &ClientInfo,
) -> Result<Option<throttle::Charged>, AppError> {
    let subject = throttle::LoginSubject::Account(user.id);
    let charged = match throttle::charge_login(state, subject, client.ip).await? {
        Ok(charged) => charged,
        Err(refused) => {
            if refused.locked_account_now {
                tell_owner_of_lock(state, user);
            }
            return Err(refused.into());
        }
    };
    match state
        .hasher
        .verify(password, Some(&credential.hash), &client.key())
        .await
    {
        Ok(verified) if verified.matches => Ok(Some(charged)),
        Ok(_) => Ok(None),
        Err(err) => {
            // No password was checked: the attempt is given back.
            give_back(state, charged).await;
            Err(err)
        }
    }
}

/// An attempt that never checked its password gives its counters back. Best effort, as
/// [`settle`]: a counter left charged only costs the user one attempt.
pub(crate) async fn give_back(state: &AppState, charged: throttle::Charged) {
    if let Err(err) = throttle::give_back(&state.db, charged).await {
        tracing::warn!(error = ?err, "login throttle counters not given back");
    }
}

/// A login got past the password: its account starts over and its address gets the attempt
/// back. The login has happened by now; a counter left charged only costs the user one
/// attempt, so a failure here is logged, not answered.
pub(crate) async fn settle(state: &AppState, charged: throttle::Charged) {
    if let Err(err) = throttle::settle_success(&state.db, charged).await {
        tracing::warn!(error = ?err, "login throttle counters not settled");
    }
}

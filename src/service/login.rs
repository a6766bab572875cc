//! Signing in: a username or email and a password, checked against the login throttle and
//! the hasher, start a session; a login that loses a race with a credential change starts
//! none. The owner of an account the throttle locks is told, with a way back in.

use crate::{
    auth::opaque_token::OpaqueToken,
    domain::{Account, MAX_LOOKUP_LEN, Password, parse_username_lookup, session::Session},
    error::{AppError, Field},
    repo,
    service::{
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
/// # Errors
/// `UNAUTHENTICATED` for bad credentials, `RATE_LIMITED` when throttled.
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

    let verified = state
        .hasher
        .verify(password, checked.as_ref().map(|c| &c.hash), &client.key())
        .await?;
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
    let rehashed = if verified.needs_rehash {
        Some(state.hasher.hash(password, &client.key()).await?)
    } else {
        None
    };
    let s = &state.settings;
    let now = state.clock.now();
    let absolute = now + s.tokens.session_max_age;
    let idle = (now + s.tokens.refresh_ttl).min(absolute);
    let session = Session::start(
        user.id,
        now,
        idle,
        absolute,
        client.user_agent.clone(),
        client.ip.map(|ip| ip.to_canonical().to_string()),
    );
    let session_id = session.id;
    let refresh = OpaqueToken::generate()?;
    let txn = repo::begin(&state.db).await?;
    // The user's row first: its lock makes concurrent logins of one account take turns, so
    // each sees the others' sessions when it trims them to the cap.
    // Only if the password checked above is still the stored one: a reset or change that
    // landed meanwhile wins, and this login fails as a wrong password would.
    if !repo::users::record_login(&txn, user.id, now, &checked, rehashed).await? {
        drop(txn);
        tracing::info!(user_id = %user.id, "login lost a race with a credential change");
        crate::metrics::login("failure");
        return Err(invalid_credentials());
    }
    repo::sessions::insert(&txn, session).await?;
    repo::refresh_tokens::insert(&txn, &refresh.hash(), session_id, None, now).await?;
    let cap = s.throttle.sessions_max_per_account as usize;
    let ended = repo::sessions::revoke_beyond_newest(&txn, user.id, cap, now).await?;
    repo::commit(txn).await?;
    // After the commit, not inside the transaction: every login from one address updates
    // the same counter row, and its lock must not be held for a whole transaction.
    settle(state, charged).await;
    tracing::info!(user_id = %user.id, %session_id, sessions_ended = ended, "logged in");
    crate::metrics::login("success");

    let mut account = user;
    account.last_login_at = Some(now);
    Ok(Issued {
        access_token: access_token(state, account.id, session_id, now)?,
        refresh_token: refresh,
        expires_in: s.tokens.access_ttl.num_seconds().unsigned_abs(),
        refresh_expires_in: seconds_until(idle, now),
        user: IssuedFor::Loaded(account),
    })
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

/// A login got past the password: its account starts over and its address gets the attempt
/// back. The login has happened by now; a counter left charged only costs the user one
/// attempt, so a failure here is logged, not answered.
async fn settle(state: &AppState, charged: throttle::Charged) {
    if let Err(err) = throttle::settle_success(&state.db, charged).await {
        tracing::warn!(error = ?err, "login throttle counters not settled");
    }
}

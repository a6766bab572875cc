//! Administration: listing, reading, changing and deleting accounts, and ending their
//! sessions, never leaving the service without an active administrator.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::{
    domain::{Account, AccountChanges, Email, Username, profile, profile::ProfileData},
    error::{AppError, Field, FieldChecks},
    repo::{
        self,
        email_tokens::Purpose,
        sessions::{RevokeReason, Scope},
    },
    service::{current_user::CurrentUser, profiles},
    state::AppState,
};

/// Most users one page may hold.
pub const MAX_PAGE: i32 = 100;

/// Refuses anyone but an administrator.
///
/// # Errors
/// `FORBIDDEN` for a user who is not an administrator.
pub fn require_admin(me: &CurrentUser) -> Result<(), AppError> {
    if me.account.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only administrators may do this"))
    }
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct Page {
    pub users: Vec<(String, Account, ProfileData)>,
    pub has_next_page: bool,
    pub total_count: u64,
}

fn cursor_of(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("user:{id}"))
}

fn parse_cursor(cursor: &str) -> Result<Uuid, AppError> {
    let bad = || AppError::input(Field::After, "This is not a cursor of this list");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("user:")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(bad)
}

/// Users in a stable order (by id, which follows creation time), `first` at a time after
/// the cursor `after`, optionally only those whose username or email contains `search`.
///
/// # Errors
/// `FORBIDDEN` for non-administrators; `BAD_USER_INPUT` for `first` outside 0–100 or a
/// cursor this list did not issue.
pub async fn list_users(
    state: &AppState,
    me: &CurrentUser,
    first: i32,
    after: Option<&str>,
    search: Option<&str>,
) -> Result<Page, AppError> {
    require_admin(me)?;
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(AppError::input(
            Field::First,
            format!("Ask for 0 to {MAX_PAGE} users at a time"),
        ));
    }
    if search.is_some_and(|s| s.len() > 256) {
        return Err(AppError::input(Field::Search, "At most 256 characters"));
    }
    if search.is_some_and(|s| s.chars().any(char::is_control)) {
        return Err(AppError::input(
            Field::Search,
            "Control characters are not allowed",
        ));
    }
    let after = after.map(parse_cursor).transpose()?;
    let limit = u64::try_from(first).unwrap_or(0);
    let mut rows = repo::user_pages::page(&state.db, search, after, limit + 1).await?;
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let total_count = repo::user_pages::count(&state.db, search).await?;
    Ok(Page {
        users: rows
            .into_iter()
            .map(|(u, p)| (cursor_of(u.id), u, p.unwrap_or_default()))
            .collect(),
        has_next_page,
        total_count,
    })
}

/// One user, if there is one with this id.
///
/// # Errors
/// `FORBIDDEN` for non-administrators.
pub async fn get_user(
    state: &AppState,
    me: &CurrentUser,
    id: Uuid,
) -> Result<Option<(Account, ProfileData)>, AppError> {
    require_admin(me)?;
    Ok(repo::users::find_with_profile(&state.db, id)
        .await?
        .map(|(u, p)| (u, p.unwrap_or_default())))
}

/// Changes any field of an account. Deactivating ends every session of the user; a new
/// email is unverified unless `emailVerified` says otherwise. An administrator cannot take
/// their own administrator rights or deactivate themselves, and no change may leave zero
/// active administrators (checked in the change's transaction, so concurrent changes
/// cannot either).
///
/// # Errors
/// `FORBIDDEN` for non-administrators and for those two self-changes;
/// `REAUTHENTICATION_REQUIRED` without a recent sign-in of the administrator; `NOT_FOUND`
/// for an unknown id; `BAD_USER_INPUT` naming the field for a broken rule or a taken name.
pub async fn update_user(
    state: &AppState,
    me: &CurrentUser,
    id: Uuid,
    update: AccountChanges,
) -> Result<(Account, ProfileData), AppError> {
    require_admin(me)?;
    // It can change anyone's email, the way into their account: not with a stolen token.
    me.require_recent(state).await?;
    if id == me.account.id && (update.is_admin == Some(false) || update.is_active == Some(false)) {
        return Err(AppError::Forbidden(
            "Administrators cannot remove their own rights or deactivate themselves",
        ));
    }
    // Every field is checked, and every broken rule reported at once.
    let mut checks = FieldChecks::default();
    let username = checks.given(update.username.as_deref(), Username::parse);
    let email = checks.given(update.email.as_deref(), Email::parse);
    let first_name = checks.given(update.first_name.as_deref(), |v| {
        profile::name(v, Field::FirstName)
    });
    let last_name = checks.given(update.last_name.as_deref(), |v| {
        profile::name(v, Field::LastName)
    });
    checks.finish()?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    if update.is_admin == Some(false) || update.is_active == Some(false) {
        keep_an_admin(&txn, me, id).await?;
    }
    let current = repo::users::find_by_id(&txn, id)
        .await?
        .ok_or(AppError::NotFound("No such user"))?;
    if let Some(name) = &username
        && repo::users::find_by_username(&txn, &name.key())
            .await?
            .is_some_and(|u| u.id != id)
    {
        return Err(AppError::input(Field::Username, "This username is taken"));
    }
    if let Some(email) = &email
        && repo::users::find_by_email(&txn, email.as_str())
            .await?
            .is_some_and(|u| u.id != id)
    {
        return Err(AppError::input(
            Field::Email,
            "This email address has an account",
        ));
    }
    let email_changed = email.as_ref().is_some_and(|e| e.as_str() != current.email);
    let changes = AccountChanges {
        username: username.map(Username::into_inner),
        email: email.map(Email::into_inner),
        first_name,
        last_name,
        is_admin: update.is_admin,
        is_active: update.is_active,
        email_verified: update.email_verified.or((email_changed).then_some(false)),
    };
    // Taken meanwhile: reported on the field that is.
    repo::users::update(&txn, id, changes, now).await?;
    if update.is_active == Some(false) {
        let scope = Scope::AllOf {
            user: id,
            keep: None,
        };
        repo::sessions::revoke(&txn, scope, RevokeReason::Deactivated, now).await?;
    }
    if email_changed {
        // Links mailed to the old address must not verify or reset the account any more.
        for purpose in [
            Purpose::VerifyEmail,
            Purpose::ResetPassword,
            Purpose::UnlockAccount,
        ] {
            repo::email_tokens::delete_for(&txn, id, purpose).await?;
        }
    }
    let (user, profile) = repo::users::find_with_profile(&txn, id)
        .await?
        .ok_or(AppError::NotFound("No such user"))?;
    repo::commit(txn).await?;
    tracing::info!(admin_id = %me.account.id, user_id = %id, "account changed by an administrator");
    Ok((user, profile.unwrap_or_default()))
}

/// Deletes an account with its profile, sessions, tokens and avatar file.
///
/// # Errors
/// `FORBIDDEN` for non-administrators and for deleting oneself; `NOT_FOUND` for an unknown id.
pub async fn delete_user(state: &AppState, me: &CurrentUser, id: Uuid) -> Result<(), AppError> {
    require_admin(me)?;
    if id == me.account.id {
        return Err(AppError::Forbidden(
            "Administrators cannot delete themselves",
        ));
    }
    let txn = repo::begin(&state.db).await?;
    keep_an_admin(&txn, me, id).await?;
    let avatar = repo::profiles::find_by_user(&txn, id)
        .await?
        .and_then(|p| p.avatar);
    if !repo::users::delete(&txn, id).await? {
        return Err(AppError::NotFound("No such user"));
    }
    repo::commit(txn).await?;
    profiles::remove_avatar_file(state, avatar.as_deref()).await;
    tracing::info!(admin_id = %me.account.id, user_id = %id, "account deleted by an administrator");
    Ok(())
}

/// Ends every session of a user; returns how many ended.
///
/// # Errors
/// `FORBIDDEN` for non-administrators; `NOT_FOUND` for an unknown id.
pub async fn revoke_sessions(
    state: &AppState,
    me: &CurrentUser,
    id: Uuid,
) -> Result<u64, AppError> {
    require_admin(me)?;
    if repo::users::find_by_id(&state.db, id).await?.is_none() {
        return Err(AppError::NotFound("No such user"));
    }
    let scope = Scope::AllOf {
        user: id,
        keep: None,
    };
    let now = state.clock.now();
    Ok(repo::sessions::revoke(&state.db, scope, RevokeReason::Admin, now).await?)
}

/// Refuses a change that would leave no active administrator, and a change by someone who
/// is no longer one. Call it inside the change's write transaction, before the change: the
/// administrators' rows stay locked until it commits, so two administrators demoting or
/// deleting each other at once take turns, and the second sees the first's change.
async fn keep_an_admin(txn: &repo::Tx, me: &CurrentUser, removing: Uuid) -> Result<(), AppError> {
    let admins = repo::users::lock_active_admins(txn).await?;
    if !admins.contains(&me.account.id) {
        return Err(AppError::Forbidden("Only administrators may do this"));
    }
    if admins.iter().all(|id| *id == removing) {
        return Err(AppError::Forbidden(
            "At least one active administrator must remain",
        ));
    }
    Ok(())
}

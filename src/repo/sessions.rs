//! Queries on `sessions`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, sea_query::Expr,
};

use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::{
        Account,
        session::{AuthMethods, Authentication, Session, SessionEnd, SessionEndReason},
    },
    entity::sessions::{self, Column, Entity},
};

/// Why a session ended early; kept for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    LogoutAll,
    Revoked,
    TokenReuse,
    PasswordChanged,
    PasswordReset,
    Deactivated,
    SessionLimit,
    /// A second factor was turned on: sessions signed in without it end.
    SecondFactorOn,
    /// An administrator ended them (`adminRevokeSessions`, `adminResetMfa`, `create-admin`).
    Admin,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::TokenReuse => "token_reuse",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::Deactivated => "deactivated",
            Self::SessionLimit => "session_limit",
            Self::SecondFactorOn => "second_factor_on",
            Self::Admin => "admin",
        }
    }

    /// What a signed-in app is told about a session that ended this way.
    fn told_as(stored: &str) -> SessionEndReason {
        match stored {
            "logout" => SessionEndReason::Logout,
            "logout_all" => SessionEndReason::LogoutAll,
            "token_reuse" => SessionEndReason::ReuseDetected,
            "password_changed" => SessionEndReason::PasswordChanged,
            "password_reset" => SessionEndReason::PasswordReset,
            "deactivated" | "admin" => SessionEndReason::Admin,
            // `revoked`, `session_limit` (a newer sign-in pushed it out), `second_factor_on`
            // (the user turned a second factor on elsewhere).
            _ => SessionEndReason::Revoked,
        }
    }
}

/// Sessions that can still be used at `now`.
fn live(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Column::RevokedAt.is_null())
        .add(Column::IdleExpiresAt.gt(now))
        .add(Column::AbsoluteExpiresAt.gt(now))
}

/// Stores a new session.
///
/// # Errors
/// When the insert fails.
pub async fn insert(db: &impl Conn, session: Session) -> Result<(), Error> {
    let active: sessions::ActiveModel = sessions::Model {
        id: session.id,
        user_id: session.user_id,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        idle_expires_at: session.idle_expires_at,
        absolute_expires_at: session.absolute_expires_at,
        revoked_at: session.revoked_at,
        revoked_reason: None,
        user_agent: session.user_agent,
        ip: session.ip,
        auth_time: Some(session.authentication.time),
        auth_methods: session.authentication.methods.as_stored().to_owned(),
    }
    .into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The columns [`find_live_user`] reads: the account without its credential, and how the
/// session signed in.
#[derive(Debug, FromQueryResult)]
struct LiveUser {
    id: Uuid,
    username: String,
    email: String,
    email_verified: bool,
    first_name: String,
    last_name: String,
    is_admin: bool,
    is_active: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    auth_time: DateTime<Utc>,
    auth_methods: String,
}

/// The live-user query, written out once: it runs on every authenticated operation, where
/// building it with the query builder cost more than the rest of the query's CPU. The
/// session filters are [`live`]'s.
const LIVE_USER: &str = "SELECT u.id, u.username, u.email, u.email_verified, u.first_name, \
    u.last_name, u.is_admin, u.is_active, u.created_at, u.last_login_at, \
    COALESCE(s.auth_time, s.created_at) AS auth_time, s.auth_methods \
    FROM users u \
    JOIN sessions s ON s.user_id = u.id \
    WHERE s.id = $1 AND u.id = $2 AND u.is_active = $3 \
    AND s.revoked_at IS NULL AND s.idle_expires_at > $4 AND s.absolute_expires_at > $4";

/// The user behind an access token, and how its session signed in, if the session is live
/// and the user active: the one query every authenticated operation makes. It reads only
/// the account's own columns (never the password hash); the profile is read when an
/// operation selects it.
///
/// # Errors
/// When the query fails.
pub async fn find_live_user(
    db: &impl Conn,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<(Account, Authentication)>, Error> {
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        LIVE_USER,
        [session_id.into(), user_id.into(), true.into(), now.into()],
    );
    let found = LiveUser::find_by_statement(statement).one(db).await?;
    Ok(found.map(|row| {
        let authentication = Authentication {
            time: row.auth_time,
            methods: AuthMethods::from_stored(&row.auth_methods),
        };
        let account = Account {
            id: row.id,
            username: row.username,
            email: row.email,
            email_verified: row.email_verified,
            first_name: row.first_name,
            last_name: row.last_name,
            is_admin: row.is_admin,
            is_active: row.is_active,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        };
        (account, authentication)
    }))
}

/// Whether the session is live now.
///
/// # Errors
/// When the query fails.
pub async fn is_live(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<bool, Error> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::Id.eq(id))
        .filter(live(now))
        .count(db)
        .await?
        == 1)
}

/// A user's live sessions, most recently used first.
///
/// # Errors
/// When the query fails.
pub async fn list_live(
    db: &impl Conn,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, Error> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(live(now))
        .order_by_desc(Column::LastUsedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Records a refresh: the session was used now and stays alive until `idle_expires_at`.
/// Returns `false` when the session is no longer live (ended by a concurrent request).
///
/// # Errors
/// When the update fails.
pub async fn touch(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .col_expr(Column::IdleExpiresAt, Expr::value(idle_expires_at))
        .filter(Column::Id.eq(id))
        .filter(live(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A session by id, whatever its state.
///
/// # Errors
/// When the query fails.
pub async fn find(db: &impl Conn, id: Uuid) -> Result<Option<Session>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?.map(Into::into))
}

/// Records how and when a live session's user last proved who they are: a second factor
/// just confirmed in it, or a `reauthenticate`, which also counts as a use of the session
/// and extends its idle expiry to `extend_idle_to` like a refresh. `false` when the
/// session has ended.
///
/// # Errors
/// When the update fails.
pub async fn record_authentication(
    db: &impl Conn,
    id: Uuid,
    authentication: Authentication,
    extend_idle_to: Option<DateTime<Utc>>,
) -> Result<bool, Error> {
    let now = authentication.time;
    let mut update = Entity::update_many()
        .col_expr(Column::AuthTime, Expr::value(now))
        .col_expr(
            Column::AuthMethods,
            Expr::value(authentication.methods.as_stored()),
        );
    if let Some(idle) = extend_idle_to {
        update = update
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .col_expr(Column::IdleExpiresAt, Expr::value(idle));
    }
    let result = update
        .filter(Column::Id.eq(id))
        .filter(live(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Which sessions a revocation applies to.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// One session, whoever owns it.
    One(Uuid),
    /// One session, only if `user` owns it.
    OneOf { session: Uuid, user: Uuid },
    /// Every session of a user, except `keep` if given.
    AllOf { user: Uuid, keep: Option<Uuid> },
}

/// Ends the live sessions in `scope`; returns how many ended.
///
/// # Errors
/// When the update fails.
pub async fn revoke(
    db: &impl Conn,
    scope: Scope,
    reason: RevokeReason,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let filter = match scope {
        Scope::One(id) => Condition::all().add(Column::Id.eq(id)),
        Scope::OneOf { session, user } => Condition::all()
            .add(Column::Id.eq(session))
            .add(Column::UserId.eq(user)),
        Scope::AllOf { user, keep } => {
            let mut c = Condition::all().add(Column::UserId.eq(user));
            if let Some(keep) = keep {
                c = c.add(Column::Id.ne(keep));
            }
            c
        }
    };
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokedReason, Expr::value(reason.as_str()))
        .filter(filter)
        .filter(live(now))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// Ends a user's live sessions beyond the `keep` most recently started; returns how many
/// ended. Run it in the transaction that starts a session, after locking the user's row.
///
/// # Errors
/// When a statement fails.
pub async fn revoke_beyond_newest(
    db: &impl Conn,
    user_id: Uuid,
    keep: usize,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let ids: Vec<Uuid> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::UserId.eq(user_id))
        .filter(live(now))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let beyond: Vec<Uuid> = ids.into_iter().skip(keep).collect();
    if beyond.is_empty() {
        return Ok(0);
    }
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(
            Column::RevokedReason,
            Expr::value(RevokeReason::SessionLimit.as_str()),
        )
        .filter(Column::Id.is_in(beyond))
        .filter(live(now))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// Deletes sessions that ended before `ended_before` (their refresh tokens go with them).
///
/// # Errors
/// When the delete fails.
pub async fn delete_ended_before(
    db: &impl Conn,
    ended_before: DateTime<Utc>,
) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::RevokedAt.lt(ended_before))
                .add(Column::IdleExpiresAt.lt(ended_before))
                .add(Column::AbsoluteExpiresAt.lt(ended_before)),
        )
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// A session's id, `revoked_at`, `revoked_reason`, `idle_expires_at`, `absolute_expires_at`.
type EndColumns = (
    Uuid,
    Option<DateTime<Utc>>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Of the sessions `ids`, those that have ended by `now` (revoked, expired or purged), with
/// how and when. Reads by primary key, a bounded number of ids per statement.
///
/// # Errors
/// When a query fails.
pub async fn ended_among(
    db: &impl Conn,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, SessionEnd)>, Error> {
    const PER_QUERY: usize = 500;
    let mut ended = Vec::new();
    for chunk in ids.chunks(PER_QUERY) {
        let rows: Vec<EndColumns> = Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::RevokedAt)
            .column(Column::RevokedReason)
            .column(Column::IdleExpiresAt)
            .column(Column::AbsoluteExpiresAt)
            .filter(Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let mut found = std::collections::HashSet::with_capacity(rows.len());
        for (id, revoked_at, reason, idle, absolute) in rows {
            found.insert(id);
            let end = match revoked_at {
                Some(at) => Some(SessionEnd {
                    reason: RevokeReason::told_as(reason.as_deref().unwrap_or_default()),
                    at,
                }),
                None if idle <= now || absolute <= now => Some(SessionEnd {
                    reason: SessionEndReason::Expired,
                    at: idle.min(absolute),
                }),
                None => None,
            };
            if let Some(end) = end {
                ended.push((id, end));
            }
        }
        // Purged since: it ended long ago.
        ended.extend(chunk.iter().filter(|id| !found.contains(id)).map(|id| {
            (
                *id,
                SessionEnd {
                    reason: SessionEndReason::Expired,
                    at: now,
                },
            )
        }));
    }
    Ok(ended)
}

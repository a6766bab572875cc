//! Live sign-out: which sessions this process's WebSocket connections watch, and the poll
//! that tells them when one ends.
//!
//! While it has watchers, each process asks the database every [`POLL`] which of the
//! watched sessions have ended (by primary key, 500 per statement). A session ended by any
//! replica (a logout, a revocation, a password change, reuse detected, an administrator)
//! therefore reaches the watchers on every replica within a second, with no broker or
//! database-specific notification in between, and a replica with no watchers asks nothing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    auth::opaque_token::OpaqueToken,
    domain::{TokenHash, session::SessionEnd},
    error::AppError,
    repo,
    state::AppState,
};

/// How often the watched sessions are checked.
pub const POLL: Duration = Duration::from_millis(400);

/// Whose session a connection follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub user: Uuid,
    pub session: Uuid,
}

/// Who a WebSocket connection is: the access token of its `connection_init`, or (in cookie
/// mode) the refresh cookie its upgrade request carried. The cookie's token is looked up,
/// not spent: it must be the session's current one (or spent within the reuse grace, by a
/// tab refreshing at that moment).
///
/// # Errors
/// `UNAUTHENTICATED` without credentials, or for credentials of an ended session.
pub async fn authenticate(
    state: &AppState,
    access_token: Option<&str>,
    refresh_cookie: Option<&OpaqueToken>,
) -> Result<Subject, AppError> {
    let now = state.clock.now();
    if let Some(token) = access_token {
        let claims =
            state.tokens.verify(token, now).await.map_err(|_| {
                AppError::Unauthenticated("The access token is invalid or has expired")
            })?;
        let me = super::current_user::current_user(state, &claims).await?;
        return Ok(Subject {
            user: me.account.id,
            session: me.session_id,
        });
    }
    let Some(cookie) = refresh_cookie else {
        return Err(AppError::Unauthenticated(
            "Send {\"authorization\": \"Bearer <accessToken>\"} in connection_init, or use \
             cookie mode",
        ));
    };
    let ended = AppError::Unauthenticated("The refresh cookie's session has ended");
    let hash = TokenHash::of(cookie.expose());
    let (token, session) =
        repo::idempotent(|| repo::refresh_tokens::find_with_session(&state.db, &hash))
            .await?
            .ok_or(ended)?;
    let grace = state.settings.tokens.refresh_reuse_grace;
    let current = token.spent_at.is_none_or(|spent| now - spent <= grace);
    if !current || !session.is_live(now) {
        return Err(AppError::Unauthenticated(
            "The refresh cookie's session has ended",
        ));
    }
    Ok(Subject {
        user: session.user_id,
        session: session.id,
    })
}

/// The sessions this process's connections watch.
pub struct SessionWatch {
    watched: Mutex<Watched>,
    max_per_user: usize,
}

/// A watcher's id, and where its session's end is sent.
type Tell = (u64, watch::Sender<Option<SessionEnd>>);

#[derive(Default)]
struct Watched {
    by_session: HashMap<Uuid, Vec<Tell>>,
    per_user: HashMap<Uuid, usize>,
    next_id: u64,
    polling: bool,
}

/// One connection's watch of its session. `ended` turns `Some` when the session ends; the
/// watch is withdrawn when this is dropped.
pub struct Watcher {
    hub: Arc<SessionWatch>,
    id: u64,
    subject: Subject,
    pub ended: watch::Receiver<Option<SessionEnd>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl SessionWatch {
    /// A hub allowing `max_per_user` watchers per user on this process.
    pub fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(Self {
            watched: Mutex::default(),
            max_per_user,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many connections are watching on this process.
    pub fn watchers(&self) -> usize {
        self.lock().per_user.values().sum()
    }

    /// Watches `subject`'s session.
    ///
    /// # Errors
    /// `RATE_LIMITED` when the user already has `max_per_user` watchers here.
    pub fn watch(
        self: &Arc<Self>,
        state: &AppState,
        subject: Subject,
    ) -> Result<Watcher, AppError> {
        let (tx, rx) = watch::channel(None);
        let mut w = self.lock();
        let count = w.per_user.entry(subject.user).or_default();
        if *count >= self.max_per_user {
            crate::metrics::throttled("live_connections_per_user");
            return Err(AppError::RateLimited {
                retry_after_secs: 60,
            });
        }
        *count += 1;
        w.next_id += 1;
        let id = w.next_id;
        w.by_session
            .entry(subject.session)
            .or_default()
            .push((id, tx));
        if !w.polling {
            w.polling = true;
            tokio::spawn(poll(self.clone(), state.clone()));
        }
        Ok(Watcher {
            hub: self.clone(),
            id,
            subject,
            ended: rx,
        })
    }

    /// Tells the watchers of every ended session, and forgets them.
    fn tell(&self, ended: Vec<(Uuid, SessionEnd)>) {
        let mut w = self.lock();
        for (session, end) in ended {
            if let Some(watchers) = w.by_session.remove(&session) {
                for (_, tx) in watchers {
                    tx.send_replace(Some(end));
                }
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut w = self.hub.lock();
        if let Some(watchers) = w.by_session.get_mut(&self.subject.session) {
            watchers.retain(|(id, _)| *id != self.id);
            if watchers.is_empty() {
                w.by_session.remove(&self.subject.session);
            }
        }
        if let Some(n) = w.per_user.get_mut(&self.subject.user) {
            *n -= 1;
            if *n == 0 {
                w.per_user.remove(&self.subject.user);
            }
        }
    }
}

/// Checks the watched sessions every [`POLL`] while there are any.
async fn poll(hub: Arc<SessionWatch>, state: AppState) {
    let mut failing = false;
    loop {
        tokio::time::sleep(POLL).await;
        let ids: Vec<Uuid> = {
            let mut w = hub.lock();
            if w.per_user.is_empty() {
                w.polling = false;
                return;
            }
            w.by_session.keys().copied().collect()
        };
        if ids.is_empty() {
            continue;
        }
        match repo::sessions::ended_among(&state.db, &ids, state.clock.now()).await {
            Ok(ended) => {
                failing = false;
                hub.tell(ended);
            }
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "cannot check the watched sessions; retrying");
            }
            Err(_) => {}
        }
    }
}

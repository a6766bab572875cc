//! Profiles.

use uuid::Uuid;

use crate::{entity::profiles, error::AppError, repo, state::AppState};

/// What anyone may see of an active account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProfile {
    pub username: String,
    pub bio: String,
    pub contact: String,
}

/// The profile fields of one account (its username lives on the account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileData {
    pub bio: String,
    pub contact: String,
}

impl From<profiles::Model> for ProfileData {
    fn from(p: profiles::Model) -> Self {
        Self {
            bio: p.bio,
            contact: p.contact,
        }
    }
}

/// The profile of the active user with this username, compared case-insensitively.
///
/// # Errors
/// Only internal ones (the database failing).
#[tracing::instrument(skip_all)]
pub async fn public_profile(
    state: &AppState,
    username: &str,
) -> Result<Option<PublicProfile>, AppError> {
    let key = crate::domain::username_lookup_key(username);
    let row = repo::profiles::find_public_by_username(&state.db, &key).await?;
    Ok(row.map(|r| PublicProfile {
        username: r.username,
        bio: r.bio,
        contact: r.contact,
    }))
}

/// The profile of a user, by id.
///
/// # Errors
/// Only internal ones.
pub async fn of_user(state: &AppState, user_id: Uuid) -> Result<ProfileData, AppError> {
    repo::profiles::find_by_user(&state.db, user_id)
        .await?
        .map(Into::into)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user {user_id} has no profile")))
}

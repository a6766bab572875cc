//! Public profiles.

use crate::{error::AppError, repo, state::AppState};

/// What anyone may see of an active account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProfile {
    pub username: String,
    pub bio: String,
    pub contact: String,
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
    let key = username.trim().to_lowercase();
    let row = repo::profiles::find_public_by_username(&state.db, &key).await?;
    Ok(row.map(|r| PublicProfile {
        username: r.username,
        bio: r.bio,
        contact: r.contact,
    }))
}

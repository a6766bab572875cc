//! Profile resolvers.

use async_graphql::{Context, Object, Result, ResultExt};

use super::types::Profile;
use crate::service::profiles;

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// The public profile of an active user, found by username case-insensitively;
    /// `null` when there is no such user.
    async fn profile(&self, ctx: &Context<'_>, username: String) -> Result<Option<Profile>> {
        let state = super::context::state(ctx)?;
        Ok(profiles::public_profile(state, &username)
            .await
            .extend()?
            .map(Profile::from))
    }
}

//! Profile resolvers: `profile`, `updateProfile`, `uploadAvatar`.

use async_graphql::{Context, Object, Result, ResultExt, Upload};

use super::{
    context,
    types::{Profile, UpdateProfileInput, User},
};
use crate::service::profiles::{self, ProfileUpdate};

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// The public profile of an active user, found by username case-insensitively;
    /// `null` when there is no such user.
    async fn profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username, in any case.")] username: String,
    ) -> Result<Option<Profile>> {
        let state = context::state(ctx)?;
        Ok(profiles::public_profile(state, &username)
            .await
            .extend()?
            .map(Profile::from))
    }
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Changes the signed-in user's names and profile; only the fields given change.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; those left out stay as they are.")]
        input: UpdateProfileInput,
    ) -> Result<User> {
        let me = context::current_user(ctx).await?;
        let update = ProfileUpdate {
            username: input.username,
            first_name: input.first_name,
            last_name: input.last_name,
            bio: input.bio,
            contact: input.contact,
        };
        let (account, profile) = profiles::update_own(context::state(ctx)?, me, update)
            .await
            .extend()?;
        Ok(User::new(account, Some(profile)))
    }

    /// Sets the signed-in user's picture: a PNG, JPEG or WebP of at most 2 MiB (judged by
    /// its content, not its name), sent as a GraphQL multipart request. It is stored
    /// re-encoded from its pixels, upright and without metadata (a JPEG as JPEG, the others
    /// as PNG). The previous picture is removed.
    async fn upload_avatar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The picture (multipart file).")] file: Upload,
    ) -> Result<Profile> {
        let me = context::current_user(ctx).await?;
        let upload = file.value(ctx)?;
        let profile = profiles::set_avatar(context::state(ctx)?, me, &upload.content)
            .await
            .extend()?;
        Ok(Profile::of(&me.account.username, profile))
    }
}

//! Password resolvers: `requestReset`, `resetTokenValid`, `confirmReset`,
//! `changePassword`.

use async_graphql::{Context, InputObject, Object, Result, ResultExt};

use super::context;
use crate::service::passwords;

/// A new password, proven by a reset link.
#[derive(InputObject)]
pub struct ConfirmResetInput {
    /// The `token` parameter of the link in the reset mail.
    pub token: String,
    /// 8–128 characters, not a common password, not the username or email.
    pub new_password: String,
}

/// A new password, proven by the current one.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password the account has now.
    pub current_password: String,
    /// 8–128 characters, not a common password, not the username or email.
    pub new_password: String,
}

#[derive(Default)]
pub struct PasswordQuery;

#[Object]
impl PasswordQuery {
    /// Whether a password reset link still works, so a frontend can say so before it shows
    /// its form.
    async fn reset_token_valid(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `token` parameter of the link in the reset mail.")] token: String,
    ) -> Result<bool> {
        passwords::reset_token_valid(context::state(ctx)?, &token)
            .await
            .extend()
    }
}

#[derive(Default)]
pub struct PasswordMutation;

#[Object]
impl PasswordMutation {
    /// Mails a password reset link if the address has an account. Always answers `true`,
    /// so the answer reveals nothing.
    async fn request_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address of the account.")] email: String,
    ) -> Result<bool> {
        passwords::request_reset(context::state(ctx)?, &email)
            .await
            .extend()?;
        Ok(true)
    }

    /// Sets a new password with a reset link. The link is spent, the address counts as
    /// verified, every session ends, and a notice is mailed.
    async fn confirm_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The link's token and the new password.")] input: ConfirmResetInput,
    ) -> Result<bool> {
        let req = context::request(ctx)?;
        passwords::confirm_reset(
            context::state(ctx)?,
            &input.token,
            input.new_password,
            &req.client,
        )
        .await
        .extend()?;
        Ok(true)
    }

    /// Changes the signed-in user's password. Every other session ends and a notice is
    /// mailed.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current password and the new one.")] input: ChangePasswordInput,
    ) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        let req = context::request(ctx)?;
        passwords::change_password(
            context::state(ctx)?,
            me,
            input.current_password,
            input.new_password,
            &req.client,
        )
        .await
        .extend()?;
        Ok(true)
    }
}

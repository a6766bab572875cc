//! Email verification resolvers: `verifyEmail`, `resendVerification`.

use async_graphql::{Context, Object, Result, ResultExt};

use super::context;
use crate::service::verification;

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Confirms an email address with the token from the verification mail.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `token` parameter of the link in the verification mail.")]
        token: String,
    ) -> Result<bool> {
        verification::verify_email(context::state(ctx)?, &token)
            .await
            .extend()?;
        Ok(true)
    }

    /// Mails a new verification link to the signed-in user; the previous link stops working.
    /// Answers `true` even past the per-address mail limit (then nothing is sent).
    async fn resend_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        verification::resend_verification(context::state(ctx)?, me)
            .await
            .extend()?;
        Ok(true)
    }
}

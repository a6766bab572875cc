//! Second-factor resolvers: `startTotpEnrollment`, `confirmTotpEnrollment`,
//! `regenerateRecoveryCodes`, `disableTotp`, `verifyMfa`.

use async_graphql::{Context, InputObject, Object, Result, ResultExt, SimpleObject};

use super::{context, types::AuthPayload};
use crate::service::second_factor;

/// A TOTP secret waiting for its first code: add it to an authenticator app, by scanning
/// the QR code or typing the secret, then confirm with a code it shows.
#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// The secret in base32, to type into an app.
    pub secret: String,
    /// The `otpauth://totp/…` URI the QR code holds (SHA-1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_code_svg: String,
}

/// Single-use recovery codes, each good for one sign-in without the app. Shown once: only
/// their hashes are kept.
#[derive(SimpleObject)]
pub struct RecoveryCodes {
    /// Ten codes (`xxxxx-xxxxx`; case, spaces and dashes do not matter).
    pub codes: Vec<String>,
}

/// The second step of a sign-in that answered `MFA_REQUIRED`.
#[derive(InputObject)]
pub struct VerifyMfaInput {
    /// `extensions.mfaToken` of the `MFA_REQUIRED` error.
    pub mfa_token: String,
    /// A current code from the authenticator app, or an unused recovery code.
    pub code: String,
}

#[derive(Default)]
pub struct SecondFactorMutation;

#[Object]
impl SecondFactorMutation {
    /// Starts turning on two-step sign-in with an authenticator app (TOTP): answers a new
    /// secret, which takes effect once `confirmTotpEnrollment` gets a code of it. Needs a
    /// recent sign-in (`REAUTHENTICATION_REQUIRED`); `FORBIDDEN` when it is on already.
    async fn start_totp_enrollment(&self, ctx: &Context<'_>) -> Result<TotpEnrollment> {
        let me = context::current_user(ctx).await?;
        let e = second_factor::start_enrollment(context::state(ctx)?, me)
            .await
            .extend()?;
        Ok(TotpEnrollment {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_code_svg: e.qr_code_svg,
        })
    }

    /// Turns two-step sign-in on with a current code of the secret `startTotpEnrollment`
    /// gave (within 10 minutes), and answers ten recovery codes (shown once). Every other
    /// session of the account ends, and a notice is mailed. Needs a recent sign-in;
    /// `BAD_USER_INPUT` on `code` for a wrong code (wrong codes count like wrong passwords).
    async fn confirm_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A code the authenticator app shows now.")] code: String,
    ) -> Result<RecoveryCodes> {
        let me = context::current_user(ctx).await?;
        let req = context::request(ctx)?;
        let codes = second_factor::confirm_enrollment(context::state(ctx)?, me, &code, &req.client)
            .await
            .extend()?;
        Ok(RecoveryCodes { codes })
    }

    /// Replaces the recovery codes with ten new ones (the old ones stop working). Needs a
    /// recent sign-in; `FORBIDDEN` without a second factor.
    async fn regenerate_recovery_codes(&self, ctx: &Context<'_>) -> Result<RecoveryCodes> {
        let me = context::current_user(ctx).await?;
        let codes = second_factor::regenerate_recovery_codes(context::state(ctx)?, me)
            .await
            .extend()?;
        Ok(RecoveryCodes { codes })
    }

    /// Turns two-step sign-in off (the secret and the recovery codes are deleted) and mails
    /// a notice; `false` when it was not on. Needs a recent sign-in.
    async fn disable_totp(&self, ctx: &Context<'_>) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        second_factor::disable_totp(context::state(ctx)?, me)
            .await
            .extend()
    }

    /// Completes a sign-in that answered `MFA_REQUIRED`, from the same client, with a code
    /// from the authenticator app (each accepted once) or a recovery code (each works once;
    /// its use is mailed). `UNAUTHENTICATED` for a token that expired (`MFA_TOKEN_TTL`), was
    /// used, or comes from another client; `BAD_USER_INPUT` on `code` for a wrong code.
    /// Wrong codes count against the account like wrong passwords (`RATE_LIMITED`).
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The sign-in's token and a code.")] input: VerifyMfaInput,
    ) -> Result<AuthPayload> {
        let state = context::state(ctx)?;
        let req = context::request(ctx)?;
        let issued = second_factor::verify_mfa(state, &input.mfa_token, &input.code, &req.client)
            .await
            .extend()?;
        super::cookie::answer(ctx, issued)
    }
}

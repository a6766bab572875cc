//! Account resolvers: `me`, `signUp`.

use async_graphql::{Context, Object, Result, ResultExt};

use super::{
    context,
    types::{SignUpInput, User},
};
use crate::service::accounts::{self, SignUpRequest};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let me = context::current_user(ctx).await?;
        Ok(User::new(me.account.clone(), None))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an unverified account. Answers `true` whether or not the email already has
    /// an account, in the same time, so the answer reveals nothing; a taken username is
    /// reported (`BAD_USER_INPUT`, field `username`).
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account's name, address and password.")] input: SignUpInput,
    ) -> Result<bool> {
        let state = context::state(ctx)?;
        let client = context::request(ctx)?.client.key();
        let req = SignUpRequest {
            username: input.username,
            email: input.email,
            password: input.password,
        };
        accounts::sign_up(state, req, &client).await.extend()?;
        Ok(true)
    }
}

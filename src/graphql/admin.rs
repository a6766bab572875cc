//! Administration resolvers: `users`, `user`, `adminUpdateUser`, `adminDeleteUser`,
//! `adminResetMfa`, `adminRevokeSessions`. Everyone but an administrator gets `FORBIDDEN`.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use uuid::Uuid;

use super::{
    context,
    types::{AdminUpdateUserInput, PageInfo, User, UserConnection, UserEdge},
};
use crate::{
    error::{AppError, Field},
    service::{admin, second_factor},
};

fn user_id(id: &ID) -> Result<Uuid> {
    Uuid::parse_str(id)
        .map_err(|_| AppError::input(Field::Id, "Not a user id"))
        .extend()
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Users, oldest first, `first` (at most 100) at a time after the cursor `after`;
    /// `search` keeps those whose username or email contains it. Administrators only.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many users, 0 to 100.")] first: Option<i32>,
        #[graphql(desc = "The `cursor` of the user to continue after.")] after: Option<String>,
        #[graphql(desc = "Keeps users whose username or email contains this text.")] search: Option<
            String,
        >,
    ) -> Result<UserConnection> {
        let me = context::current_user(ctx).await?;
        // An explicit null (an unset nullable variable) means the default.
        let page = admin::list_users(
            context::state(ctx)?,
            me,
            first.unwrap_or(20),
            after.as_deref(),
            search.as_deref(),
        )
        .await
        .extend()?;
        let end_cursor = page.users.last().map(|(c, _, _)| c.clone());
        Ok(UserConnection {
            edges: page
                .users
                .into_iter()
                .map(|(cursor, account, profile)| UserEdge {
                    cursor,
                    node: User::new(account, Some(profile)),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor,
            },
            total_count: i32::try_from(page.total_count).unwrap_or(i32::MAX),
        })
    }

    /// One user by id; `null` when there is none. Administrators only.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<Option<User>> {
        let me = context::current_user(ctx).await?;
        let id = user_id(&id)?;
        Ok(admin::get_user(context::state(ctx)?, me, id)
            .await
            .extend()?
            .map(|(account, profile)| User::new(account, Some(profile))))
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Changes any field of an account. Deactivating ends all of the user's sessions. An
    /// administrator cannot remove their own rights or deactivate themselves. Needs a
    /// recent sign-in of the administrator (`REAUTHENTICATION_REQUIRED`), since it can
    /// change anyone's email.
    async fn admin_update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
        #[graphql(desc = "The fields to change; those left out stay as they are.")]
        input: AdminUpdateUserInput,
    ) -> Result<User> {
        let me = context::current_user(ctx).await?;
        let id = user_id(&id)?;
        let (account, profile) = admin::update_user(context::state(ctx)?, me, id, input.into())
            .await
            .extend()?;
        Ok(User::new(account, Some(profile)))
    }

    /// Deletes an account with its profile, sessions, tokens and avatar. Administrators
    /// cannot delete themselves.
    async fn admin_delete_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        let id = user_id(&id)?;
        admin::delete_user(context::state(ctx)?, me, id)
            .await
            .extend()?;
        Ok(true)
    }

    /// Turns a user's second factor off (a lost device): deletes their TOTP secret and
    /// recovery codes, ends every session of theirs and mails them a notice. Answers whether
    /// it was on. Administrators only, with a recent sign-in (`REAUTHENTICATION_REQUIRED`).
    async fn admin_reset_mfa(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        let id = user_id(&id)?;
        second_factor::admin_reset(context::state(ctx)?, me, id)
            .await
            .extend()
    }

    /// Ends every session of a user; answers how many ended.
    async fn admin_revoke_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<i32> {
        let me = context::current_user(ctx).await?;
        let id = user_id(&id)?;
        let ended = admin::revoke_sessions(context::state(ctx)?, me, id)
            .await
            .extend()?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }
}

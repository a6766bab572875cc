//! The GraphQL schema: its types, resolvers and the extension that gives every error a code.
//!
//! Resolvers are thin: they parse their input, call one service function and map the result
//! to a GraphQL type of their own. They never touch the database directly.

mod account;
mod admin;
pub mod context;
mod errors;
pub mod limits;
mod observe;
mod password;
mod profile;
mod session;
mod types;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::state::AppState;

pub use errors::RequestId;

/// The entry point of every read.
#[derive(MergedObject, Default)]
pub struct Query(
    account::AccountQuery,
    profile::ProfileQuery,
    password::PasswordQuery,
    session::SessionQuery,
    admin::AdminQuery,
);

/// The entry point of every change.
#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    password::PasswordMutation,
    session::SessionMutation,
    profile::ProfileMutation,
    admin::AdminMutation,
);

/// The schema type served at `/graphql`.
pub type AuthqlSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .extension(errors::ErrorCodes)
        .extension(observe::Observe)
}

/// The schema with the application state its resolvers need, and the limits of its
/// settings.
pub fn build(state: AppState) -> AuthqlSchema {
    let limits = state.settings.graphql.clone();
    let mut schema = builder()
        .extension(limits::Limits(limits.clone()))
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_nesting);
    if !limits.introspection {
        schema = schema.disable_introspection();
    }
    if !limits.suggestions {
        schema = schema.disable_suggestions();
    }
    schema.data(state).finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

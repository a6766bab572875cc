//! The GraphQL schema: its types, resolvers and the extension that gives every error a code.
//!
//! Resolvers are thin: they parse their input, call one service function and map the result
//! to a GraphQL type of their own. They never touch the database directly.

mod account;
mod admin;
pub mod app_error;
pub mod context;
pub mod cookie;
pub mod document;
mod errors;
pub mod limits;
mod observe;
mod password;
mod profile;
mod second_factor;
mod session;
pub mod subscription;
mod types;
mod verification;

use std::collections::HashSet;

use async_graphql::{
    MergedObject, Schema, SchemaBuilder,
    parser::types::{TypeKind, TypeSystemDefinition},
};

use crate::{config::GraphqlLimits, state::AppState};

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
    verification::VerificationMutation,
    password::PasswordMutation,
    session::SessionMutation,
    profile::ProfileMutation,
    second_factor::SecondFactorMutation,
    admin::AdminMutation,
);

/// The schema type served at `/graphql`.
pub type AuthqlSchema = Schema<Query, Mutation, subscription::Subscription>;

fn bare() -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
}

/// The schema with its extensions, outermost first: codes (and the cap on errors), then
/// the operation's name for logs and metrics, then the limits.
fn builder(limits: &GraphqlLimits) -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    bare()
        .extension(errors::ErrorCodes::new(limits.max_errors))
        .extension(observe::Observe::new(root_fields()))
        .extension(limits::Limits::new(limits.clone()))
}

/// The names of the root fields of the schema (and the introspection ones), from its SDL.
fn root_fields() -> HashSet<String> {
    let mut names: HashSet<String> = ["__typename", "__schema", "__type"]
        .map(str::to_owned)
        .into();
    let Ok(doc) = async_graphql::parser::parse_schema(bare().finish().sdl()) else {
        return names;
    };
    for definition in doc.definitions {
        if let TypeSystemDefinition::Type(ty) = definition
            && matches!(
                ty.node.name.node.as_str(),
                "Query" | "Mutation" | "Subscription"
            )
            && let TypeKind::Object(object) = &ty.node.kind
        {
            names.extend(object.fields.iter().map(|f| f.node.name.node.to_string()));
        }
    }
    names
}

/// The schema with the application state its resolvers need, and the limits of its
/// settings.
pub fn build(state: AppState) -> AuthqlSchema {
    let limits = state.settings.graphql.clone();
    let mut schema = builder(&limits)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_nesting)
        .limit_directives(limits.max_directives);
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
    bare().finish().sdl()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_fields_are_read_from_the_schema() {
        let names = super::root_fields();
        for name in [
            "me",
            "login",
            "signUp",
            "users",
            "adminDeleteUser",
            "__typename",
        ] {
            assert!(names.contains(name), "{name} missing: {names:?}");
        }
        assert!(!names.contains("User"));
    }
}

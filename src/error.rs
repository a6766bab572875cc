//! The one error type of authql's domain, and its mapping to GraphQL errors.
//!
//! Every variant has a stable `extensions.code` from SPEC.md; tests assert on codes and
//! fields, never on messages. Internal errors keep their cause for the log and show the
//! client only a generic message (the request id is added by the GraphQL layer).

use async_graphql::ErrorExtensions;

/// What can go wrong in a use case, as the client should learn it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input broke a rule; `field` names the input field (e.g. `password`).
    #[error("{message}")]
    BadUserInput {
        field: &'static str,
        message: String,
    },
    /// No valid credentials, or credentials that do not (or no longer) grant access.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(&'static str),
    /// Too many attempts; the client may try again after `retry_after_secs`.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Anything the client cannot fix: the cause goes to the log, never to the client.
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

/// `extensions.code` values of SPEC.md section 4.
pub mod code {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
}

/// The message every internal error shows the client.
pub const INTERNAL_MESSAGE: &str = "Internal server error";

impl AppError {
    /// A rule on `field` was broken; the message says which.
    pub fn input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field,
            message: message.into(),
        }
    }

    /// Wraps any unexpected failure.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } => code::BAD_USER_INPUT,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::internal(err)
    }
}

/// Resolvers turn an `AppError` into a GraphQL error with `.extend()` (from
/// `async_graphql::ResultExt`); an error that misses it reaches the client as internal.
impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        match self {
            AppError::Internal(cause) => {
                // Logged inside the request's span, which carries its request id.
                tracing::error!(error = format!("{cause:#}"), "internal error");
                async_graphql::Error::new(INTERNAL_MESSAGE).extend_with(|_, e| e.set("code", code))
            }
            AppError::BadUserInput { field, message } => async_graphql::Error::new(message)
                .extend_with(|_, e| {
                    e.set("code", code);
                    e.set("field", *field);
                }),
            AppError::RateLimited { retry_after_secs } => {
                async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("retryAfter", *retry_after_secs);
                })
            }
            other => {
                async_graphql::Error::new(other.to_string()).extend_with(|_, e| e.set("code", code))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(err: AppError) -> serde_json::Value {
        let gql = err.extend();
        let server = gql.into_server_error(async_graphql::Pos::default());
        serde_json::to_value(server).unwrap()
    }

    #[test]
    fn bad_input_names_its_field() {
        let v = extensions(AppError::input("password", "too short"));
        assert_eq!(v["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(v["extensions"]["field"], "password");
        assert_eq!(v["message"], "too short");
    }

    #[test]
    fn rate_limited_says_when_to_retry() {
        let v = extensions(AppError::RateLimited {
            retry_after_secs: 42,
        });
        assert_eq!(v["extensions"]["code"], "RATE_LIMITED");
        assert_eq!(v["extensions"]["retryAfter"], 42);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let v = extensions(AppError::internal(anyhow::anyhow!(
            "password=hunter2 leaked"
        )));
        assert_eq!(v["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(v["message"], INTERNAL_MESSAGE);
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn every_variant_has_a_code_from_the_spec() {
        let all = [
            AppError::input("f", "m"),
            AppError::Unauthenticated("u"),
            AppError::Forbidden("f"),
            AppError::NotFound("n"),
            AppError::RateLimited {
                retry_after_secs: 1,
            },
            AppError::internal(anyhow::anyhow!("x")),
        ];
        let codes: Vec<_> = all.iter().map(AppError::code).collect();
        assert_eq!(
            codes,
            [
                "BAD_USER_INPUT",
                "UNAUTHENTICATED",
                "FORBIDDEN",
                "NOT_FOUND",
                "RATE_LIMITED",
                "INTERNAL_SERVER_ERROR"
            ]
        );
    }
}

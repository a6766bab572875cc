//! An [`AppError`] as a GraphQL error: its `extensions.code`, the field a bad input broke,
//! when to retry, and nothing of an internal cause.

use async_graphql::ErrorExtensions;

use crate::error::{AppError, Field, INTERNAL_MESSAGE};

/// The name the schema gives the input a rule was broken on (`extensions.field`).
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::Username => "username",
        Field::Email => "email",
        Field::Password => "password",
        Field::NewPassword => "newPassword",
        Field::CurrentPassword => "currentPassword",
        Field::UsernameOrEmail => "usernameOrEmail",
        Field::FirstName => "firstName",
        Field::LastName => "lastName",
        Field::Bio => "bio",
        Field::Contact => "contact",
        Field::Token => "token",
        Field::File => "file",
        Field::Id => "id",
        Field::After => "after",
        Field::First => "first",
        Field::Search => "search",
        Field::Code => "code",
        Field::RefreshToken => "refreshToken",
    }
}

/// The extension under which an error carries the other broken fields of its input; the
/// error-code extension turns each into an error of its own and removes it.
pub const MORE_FIELDS: &str = "authqlMoreFields";

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
                    e.set("field", field_name(*field));
                }),
            // The first field's error, carrying the others for the error-code extension,
            // which answers each as an error of its own.
            AppError::BadUserInputs(list) => {
                let (first, rest) = list
                    .split_first()
                    .map_or((None, &[][..]), |(f, r)| (Some(f), r));
                let message = first.map_or_else(|| self.to_string(), |f| f.message.clone());
                let field = first.map(|f| field_name(f.field));
                async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", code);
                    if let Some(field) = field {
                        e.set("field", field);
                    }
                    e.set(
                        MORE_FIELDS,
                        async_graphql::Value::List(
                            rest.iter()
                                .map(|f| {
                                    async_graphql::value!({
                                        "message": f.message.clone(),
                                        "field": field_name(f.field),
                                    })
                                })
                                .collect(),
                        ),
                    );
                })
            }
            AppError::RateLimited { retry_after_secs }
            | AppError::Unavailable { retry_after_secs } => {
                async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("retryAfter", *retry_after_secs);
                })
            }
            AppError::MfaRequired(token) => async_graphql::Error::new(self.to_string())
                .extend_with(|_, e| {
                    e.set("code", code);
                    e.set("mfaToken", token.expose());
                    e.set(
                        "methods",
                        async_graphql::Value::List(
                            crate::domain::second_factor::METHODS
                                .iter()
                                .map(|m| async_graphql::Value::from(*m))
                                .collect(),
                        ),
                    );
                }),
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
        let v = extensions(AppError::input(Field::Password, "too short"));
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
        let v = extensions(AppError::Unavailable {
            retry_after_secs: 1,
        });
        assert_eq!(v["extensions"]["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(v["extensions"]["retryAfter"], 1);
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
}

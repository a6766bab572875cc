//! The one error type of authql's domain. Its mapping to GraphQL errors is a GraphQL
//! concern: [`crate::graphql::app_error`].
//!
//! Every variant has a stable `extensions.code` from SPEC.md; tests assert on codes and
//! fields, never on messages. Internal errors keep their cause for the log and show the
//! client only a generic message (the request id is added by the GraphQL layer).

/// What can go wrong in a use case, as the client should learn it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input broke a rule; `field` says which input.
    #[error("{message}")]
    BadUserInput { field: Field, message: String },
    /// Several fields of one input broke rules: the answer names every one of them (one
    /// `BAD_USER_INPUT` error per field), not only the first. Built by [`FieldChecks`].
    #[error("{} fields are invalid", .0.len())]
    BadUserInputs(Vec<FieldError>),
    /// No valid credentials, or credentials that do not (or no longer) grant access.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The password was right, and the account has a second factor: `verifyMfa` completes
    /// the sign-in with this token and a code. (`Debug` of the token never shows it.)
    #[error("A second factor is required: send a code with verifyMfa")]
    MfaRequired(crate::auth::opaque_token::OpaqueToken),
    /// Authenticated, but not recently enough for a sensitive change: the session's user
    /// must prove who they are again (`reauthenticate`).
    #[error("This change needs a recent sign-in: reauthenticate first")]
    ReauthenticationRequired,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(&'static str),
    /// Too many attempts; the client may try again after `retry_after_secs`.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The database could not be reached (it restarts, or every connection is busy): nothing
    /// was changed, and the same request may succeed after `retry_after_secs`.
    #[error("the service is briefly unavailable; try again in {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    /// Anything the client cannot fix: the cause goes to the log, never to the client.
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

/// The input a broken rule is about. Each transport names it in its own words: GraphQL
/// as the argument or input field (`graphql::app_error`), the command line as its option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Username,
    Email,
    Password,
    NewPassword,
    CurrentPassword,
    UsernameOrEmail,
    FirstName,
    LastName,
    Bio,
    Contact,
    /// The token of a mailed link.
    Token,
    /// An uploaded file.
    File,
    Id,
    /// A page's cursor.
    After,
    /// A page's size.
    First,
    Search,
    /// A one-time code (TOTP or recovery code).
    Code,
    /// A refresh token given as an argument.
    RefreshToken,
}

/// One field's broken rule, as [`AppError::BadUserInputs`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

/// Checks the fields of one input object and collects every broken rule, so that a form
/// with three bad fields learns about all three in one answer.
#[derive(Debug, Default)]
pub struct FieldChecks {
    broken: Vec<FieldError>,
    /// The first error that is not about a field (it wins over the field errors).
    other: Option<AppError>,
}

impl FieldChecks {
    /// The value of a field's check, or `None` with its error noted.
    pub fn check<T>(&mut self, result: Result<T, AppError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(AppError::BadUserInput { field, message }) => {
                self.broken.push(FieldError { field, message });
                None
            }
            Err(AppError::BadUserInputs(list)) => {
                self.broken.extend(list);
                None
            }
            Err(other) => {
                self.other.get_or_insert(other);
                None
            }
        }
    }

    /// The parsed value of an optional field (`None` when it was not given or is broken;
    /// a broken one is noted).
    pub fn given<T>(
        &mut self,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, AppError>,
    ) -> Option<T> {
        self.check(raw.map(parse).transpose()).flatten()
    }

    /// `Ok` when every check passed; otherwise the error naming every broken field.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for one field, [`AppError::BadUserInputs`] for several.
    pub fn finish(mut self) -> Result<(), AppError> {
        if let Some(other) = self.other {
            return Err(other);
        }
        match self.broken.len() {
            0 => Ok(()),
            1 => {
                let FieldError { field, message } = self.broken.remove(0);
                Err(AppError::BadUserInput { field, message })
            }
            _ => Err(AppError::BadUserInputs(self.broken)),
        }
    }
}

/// `extensions.code` values of SPEC.md section 4.
pub mod code {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const REAUTHENTICATION_REQUIRED: &str = "REAUTHENTICATION_REQUIRED";
    pub const MFA_REQUIRED: &str = "MFA_REQUIRED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
}

/// The message every internal error shows the client.
pub const INTERNAL_MESSAGE: &str = "Internal server error";

impl AppError {
    /// A rule on `field` was broken; the message says which.
    pub fn input(field: Field, message: impl Into<String>) -> Self {
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
            Self::BadUserInput { .. } | Self::BadUserInputs(_) => code::BAD_USER_INPUT,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::ReauthenticationRequired => code::REAUTHENTICATION_REQUIRED,
            Self::MfaRequired(_) => code::MFA_REQUIRED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Unavailable { .. } => code::SERVICE_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_collect_every_broken_field_and_an_other_error_wins() {
        let mut checks = FieldChecks::default();
        assert_eq!(checks.check(Ok::<_, AppError>(1)), Some(1));
        assert_eq!(checks.finish().ok(), Some(()));

        let mut checks = FieldChecks::default();
        checks.check::<()>(Err(AppError::input(Field::Username, "u")));
        assert!(matches!(
            checks.finish(),
            Err(AppError::BadUserInput {
                field: Field::Username,
                ..
            })
        ));

        let mut checks = FieldChecks::default();
        checks.check::<()>(Err(AppError::input(Field::Username, "u")));
        checks.check::<()>(Err(AppError::input(Field::Email, "e")));
        let Err(AppError::BadUserInputs(list)) = checks.finish() else {
            panic!("two fields");
        };
        assert_eq!(
            list.iter().map(|e| e.field).collect::<Vec<_>>(),
            [Field::Username, Field::Email]
        );

        let mut checks = FieldChecks::default();
        checks.check::<()>(Err(AppError::input(Field::Username, "u")));
        checks.check::<()>(Err(AppError::RateLimited {
            retry_after_secs: 1,
        }));
        assert!(matches!(checks.finish(), Err(AppError::RateLimited { .. })));
    }

    #[test]
    fn every_variant_has_a_code_from_the_spec() {
        let all = [
            AppError::input(Field::Password, "m"),
            AppError::Unauthenticated("u"),
            AppError::ReauthenticationRequired,
            AppError::Forbidden("f"),
            AppError::NotFound("n"),
            AppError::RateLimited {
                retry_after_secs: 1,
            },
            AppError::Unavailable {
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
                "REAUTHENTICATION_REQUIRED",
                "FORBIDDEN",
                "NOT_FOUND",
                "RATE_LIMITED",
                "SERVICE_UNAVAILABLE",
                "INTERNAL_SERVER_ERROR"
            ]
        );
    }
}

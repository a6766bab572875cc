//! Gives every GraphQL error an `extensions.code`, following SPEC.md and Apollo's names.
//!
//! Errors from authql's own resolvers already carry a code (see [`crate::error`]). The ones
//! async-graphql produces itself (syntax, validation, variables) get theirs here, at the
//! phase that produced them. An error that still has no code is treated as internal: its
//! message is replaced and it carries the request id the log line also has.

use std::sync::Arc;

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextRequest, NextValidation,
    },
    parser::types::ExecutableDocument,
};

use super::app_error::MORE_FIELDS;
use crate::error::{INTERNAL_MESSAGE, code};

/// The id of the HTTP request an operation belongs to, as sent in `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Extension factory: add it to the schema once, outermost, with the most errors one
/// answer may list.
pub struct ErrorCodes {
    max_errors: usize,
}

impl ErrorCodes {
    pub fn new(max_errors: usize) -> Self {
        Self { max_errors }
    }
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            max_errors: self.max_errors,
            request_id: std::sync::Mutex::default(),
        })
    }
}

/// One per request: it remembers the request id from the request's data (which the later
/// hooks do not see) for the errors of the response.
struct ErrorCodesExtension {
    max_errors: usize,
    request_id: std::sync::Mutex<Option<String>>,
}

fn code_of(err: &ServerError) -> Option<async_graphql::Value> {
    err.extensions.as_ref().and_then(|e| e.get("code")).cloned()
}

/// Keeps the first `max` errors and returns one that stands for the rest (it counts them
/// in `extensions.omittedErrors` and carries the code of the first of them), so that an
/// answer stays a small multiple of its request however many errors the request provokes.
fn cap(errors: &mut Vec<ServerError>, max: usize) -> Option<ServerError> {
    if errors.len() <= max {
        return None;
    }
    let mut rest = errors.split_off(max);
    let omitted = rest.len();
    let mut first = rest.swap_remove(0);
    drop(rest);
    // The first left-out error decides the summary's code, as it would its own.
    settle(&mut first, None);
    let mut summary = ServerError::new(
        format!("{omitted} more errors were left out of this answer"),
        None,
    );
    let extensions = summary.extensions.get_or_insert_with(Default::default);
    if let Some(code) = code_of(&first) {
        extensions.set("code", code);
    }
    extensions.set("omittedErrors", omitted);
    Some(summary)
}

/// An error that carries the other broken fields of its input (`AppError::BadUserInputs`)
/// becomes one `BAD_USER_INPUT` error per field, each with its `extensions.field` and the
/// same path and locations.
fn one_per_field(errors: Vec<ServerError>) -> Vec<ServerError> {
    let mut out = Vec::with_capacity(errors.len());
    for mut err in errors {
        let more = err.extensions.as_mut().and_then(|e| {
            let more = e.get(MORE_FIELDS).cloned();
            e.unset(MORE_FIELDS);
            more
        });
        let (path, locations) = (err.path.clone(), err.locations.clone());
        out.push(err);
        let Some(async_graphql::Value::List(more)) = more else {
            continue;
        };
        for item in more {
            let async_graphql::Value::Object(item) = item else {
                continue;
            };
            let message = match item.get("message") {
                Some(async_graphql::Value::String(m)) => m.clone(),
                _ => continue,
            };
            let mut one = ServerError::new(message, None);
            one.path.clone_from(&path);
            one.locations.clone_from(&locations);
            let extensions = one.extensions.get_or_insert_with(Default::default);
            extensions.set("code", code::BAD_USER_INPUT);
            if let Some(field) = item.get("field") {
                extensions.set("field", field.clone());
            }
            out.push(one);
        }
    }
    out
}

/// Gives an error its code (an error without one is internal: logged, and its message
/// replaced), and an internal error the request id.
fn settle(err: &mut ServerError, request_id: Option<&str>) {
    // A declared variable that was not sent is bad input on that variable (as Apollo and
    // SPEC.md have it); the executor's wording reads like an undeclared one.
    if !has_code(err)
        && let Some(name) = missing_variable(&err.message).map(str::to_owned)
    {
        err.message = format!("Variable \"${name}\" is declared but was not sent");
        let extensions = err.extensions.get_or_insert_with(Default::default);
        extensions.set("code", code::BAD_USER_INPUT);
        extensions.set("field", name);
    }
    if !has_code(err) {
        match late_code(err) {
            Some(code) => set_code(err, code),
            None => {
                tracing::error!(error = %err.message, "GraphQL error without a code");
                err.message = INTERNAL_MESSAGE.to_owned();
                set_code(err, code::INTERNAL_SERVER_ERROR);
            }
        }
    }
    let internal =
        code_of(err).is_some_and(|c| c == async_graphql::Value::from(code::INTERNAL_SERVER_ERROR));
    if let (true, Some(id)) = (internal, request_id) {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", id);
    }
}

fn has_code(err: &ServerError) -> bool {
    err.extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

fn set_code(err: &mut ServerError, value: &'static str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", value);
}

/// The code of an error async-graphql raised while validating a document.
fn validation_code(err: &ServerError) -> &'static str {
    // An argument (literal or variable) that does not coerce to its type is bad input, the
    // way Apollo reports it; any other rule broken is a validation failure.
    if err.message.starts_with("Invalid value for argument") {
        code::BAD_USER_INPUT
    } else {
        code::GRAPHQL_VALIDATION_FAILED
    }
}

/// The variable named by the executor's "Variable x is not defined.": one the operation
/// declares but the request did not send (and that has no default).
fn missing_variable(message: &str) -> Option<&str> {
    message
        .strip_prefix("Variable ")?
        .strip_suffix(" is not defined.")
        .filter(|name| !name.is_empty() && !name.contains(' '))
}

/// The code of an error that reached the response without one.
fn late_code(err: &ServerError) -> Option<&'static str> {
    let m = err.message.as_str();
    if m.starts_with("Unknown operation named") || m.starts_with("Operation name required") {
        Some(code::GRAPHQL_VALIDATION_FAILED)
    } else if missing_variable(m).is_some()
        || m.starts_with("Failed to parse")
        || m.starts_with("Expected input type")
        || m.starts_with("Invalid value for argument")
    {
        Some(code::BAD_USER_INPUT)
    } else {
        None
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let id = request
            .data
            .get(&std::any::TypeId::of::<RequestId>())
            .and_then(|d| d.downcast_ref::<RequestId>())
            .map(|r| r.0.clone());
        if let Ok(mut slot) = self.request_id.lock() {
            *slot = id;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut err| {
            if !has_code(&err) {
                // A parsed document over a limit is invalid, not unparsable.
                let over_a_limit = err.message.starts_with("The number of directives")
                    || err.message.starts_with("The recursion depth");
                let code = if over_a_limit {
                    code::GRAPHQL_VALIDATION_FAILED
                } else {
                    code::GRAPHQL_PARSE_FAILED
                };
                set_code(&mut err, code);
            }
            err
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for err in errors.iter_mut().filter(|e| !has_code(e)) {
                let code = validation_code(err);
                set_code(err, code);
            }
            errors
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors = one_per_field(std::mem::take(&mut response.errors));
        let request_id = self.request_id.lock().ok().and_then(|id| id.clone());
        // Capped before anything is done per error (an error without a code is logged).
        let left_out = cap(&mut response.errors, self.max_errors);
        for err in response.errors.iter_mut() {
            settle(err, request_id.as_deref());
        }
        if let Some(mut summary) = left_out {
            settle(&mut summary, request_id.as_deref());
            response.errors.push(summary);
        }
        response
    }
}

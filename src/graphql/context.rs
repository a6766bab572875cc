//! What the HTTP layer tells the resolvers about a request, and the guard that turns its
//! access token into the signed-in user (loaded at most once per operation).

use async_graphql::{Context, ResultExt};
use tokio::sync::OnceCell;

use super::cookie::CookieMode;

use crate::{
    auth::jwt::AccessClaims,
    error::AppError,
    service::{self, current_user::CurrentUser, sessions::ClientInfo},
    state::AppState,
};

/// The `Authorization` header of a request, as the HTTP layer found it.
#[derive(Debug, Clone)]
pub enum Bearer {
    /// No header: an anonymous request.
    None,
    /// A well-formed, correctly signed, unexpired access token of this service.
    Valid(AccessClaims),
    /// A header or token that is not acceptable. Public operations still run; those that
    /// need a user answer `UNAUTHENTICATED`.
    Invalid,
}

/// Per-operation data attached by the HTTP layer.
#[derive(Debug)]
pub struct RequestContext {
    pub client: ClientInfo,
    pub bearer: Bearer,
    /// Set when the request is in cookie mode (see [`super::cookie`]).
    pub cookie: Option<CookieMode>,
    user: OnceCell<CurrentUser>,
}

impl RequestContext {
    pub fn new(client: ClientInfo, bearer: Bearer, cookie: Option<CookieMode>) -> Self {
        Self {
            client,
            bearer,
            cookie,
            user: OnceCell::new(),
        }
    }
}

/// The application state.
///
/// # Errors
/// Internal, if the schema was built without it.
pub fn state<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>()
}

/// The request's context.
///
/// # Errors
/// Internal, if the HTTP layer did not attach it.
pub fn request<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
}

/// The signed-in user, or `UNAUTHENTICATED`.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid token, or when its session has ended.
pub async fn current_user<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a CurrentUser> {
    let req = request(ctx)?;
    let claims = match &req.bearer {
        Bearer::Valid(claims) => claims,
        Bearer::None => {
            return Err(AppError::Unauthenticated(
                "Sign in first: send Authorization: Bearer <accessToken>",
            ))
            .extend();
        }
        Bearer::Invalid => {
            return Err(AppError::Unauthenticated(
                "The access token is invalid or has expired",
            ))
            .extend();
        }
    };
    let state = state(ctx)?;
    req.user
        .get_or_try_init(|| service::current_user::current_user(state, claims))
        .await
        .extend()
}

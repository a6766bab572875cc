//! Cookie mode (`X-Authql-Cookie: 1`): a browser app's refresh token travels in an
//! `HttpOnly` cookie that its script cannot read, never in an answer's body.
//!
//! The HTTP layer decides whether a request is in cookie mode (the header, from an origin
//! authql trusts) and reads the cookie; the resolvers that issue or spend refresh tokens
//! use the functions here to put the token in the cookie, read it, or clear it.

use async_graphql::{Context, Result, ResultExt};
use axum::http::header::SET_COOKIE;

use super::{context, types::AuthPayload};
use crate::{
    auth::opaque_token::OpaqueToken,
    error::{AppError, Field},
    service::sessions::Issued,
};

/// The header that asks for cookie mode, and its one accepted value.
pub const HEADER: &str = "x-authql-cookie";
pub const HEADER_VALUE: &str = "1";

/// The refresh cookie's name and attributes.
///
/// Served over https (`PUBLIC_URL`), it is `__Host-authql_refresh` with `Secure`: the prefix
/// makes browsers refuse it unless it is `Secure`, host-only and for `Path=/`, so no
/// sibling subdomain can plant or shadow it. A development server on plain http (such as
/// `http://127.0.0.1:8000`) gets `authql_refresh` without `Secure`, which browsers would
/// not keep over http.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshCookie {
    secure: bool,
}

impl RefreshCookie {
    pub fn for_public_url(public_url: &str) -> Self {
        Self {
            secure: public_url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://")),
        }
    }

    pub const fn name(self) -> &'static str {
        if self.secure {
            "__Host-authql_refresh"
        } else {
            "authql_refresh"
        }
    }

    const fn attributes(self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; Secure; SameSite=Strict"
        } else {
            "Path=/; HttpOnly; SameSite=Strict"
        }
    }

    /// `Set-Cookie` for a new refresh token, kept as long as the token stays usable.
    pub fn set(self, token: &OpaqueToken, max_age: u64) -> String {
        format!(
            "{}={}; Max-Age={max_age}; {}",
            self.name(),
            token.expose(),
            self.attributes()
        )
    }

    /// `Set-Cookie` that makes the browser forget the cookie.
    pub fn clear(self) -> String {
        format!("{}=; Max-Age=0; {}", self.name(), self.attributes())
    }
}

/// A request in cookie mode: its cookie's policy, and the refresh token the cookie holds.
#[derive(Debug, Clone)]
pub struct CookieMode {
    pub cookie: RefreshCookie,
    pub presented: Option<OpaqueToken>,
}

/// Where the refresh token of a `refresh` or `logout` came from.
pub enum Presented<'a> {
    Argument(&'a str),
    Cookie(&'a OpaqueToken),
}

impl Presented<'_> {
    pub fn token(&self) -> &str {
        match self {
            Self::Argument(token) => token,
            Self::Cookie(token) => token.expose(),
        }
    }
}

fn mode<'a>(ctx: &Context<'a>) -> Result<Option<&'a CookieMode>> {
    Ok(context::request(ctx)?.cookie.as_ref())
}

/// The answer to a sign-in. In cookie mode the refresh token goes into the cookie and the
/// body's `refreshToken` is the empty string.
///
/// # Errors
/// Internal, if the HTTP layer attached no request context.
pub fn answer(ctx: &Context<'_>, issued: Issued) -> Result<AuthPayload> {
    let Some(mode) = mode(ctx)? else {
        return Ok(issued.into());
    };
    ctx.insert_http_header(
        SET_COOKIE,
        mode.cookie
            .set(&issued.refresh_token, issued.refresh_expires_in),
    );
    let mut payload = AuthPayload::from(issued);
    payload.refresh_token = String::new();
    Ok(payload)
}

/// The refresh token `refresh` or `logout` acts on: its argument, or in cookie mode the
/// cookie.
///
/// # Errors
/// `BAD_USER_INPUT` on `refreshToken` with neither; `UNAUTHENTICATED` in cookie mode when
/// the request carries no refresh cookie (the browser is signed out).
pub fn presented<'a>(ctx: &Context<'a>, argument: Option<&'a str>) -> Result<Presented<'a>> {
    match (argument, mode(ctx)?) {
        (Some(token), _) => Ok(Presented::Argument(token)),
        (
            None,
            Some(CookieMode {
                presented: Some(token),
                ..
            }),
        ) => Ok(Presented::Cookie(token)),
        (None, Some(_)) => {
            clear(ctx)?;
            Err(AppError::Unauthenticated(
                "This browser holds no refresh cookie: sign in first",
            ))
            .extend()
        }
        (None, None) => Err(AppError::input(
            Field::RefreshToken,
            "Send the refresh token, or use cookie mode (the X-Authql-Cookie: 1 header)",
        ))
        .extend(),
    }
}

/// Tells the browser to forget the refresh cookie (nothing outside cookie mode).
///
/// # Errors
/// Internal, if the HTTP layer attached no request context.
pub fn clear(ctx: &Context<'_>) -> Result<()> {
    if let Some(mode) = mode(ctx)? {
        ctx.insert_http_header(SET_COOKIE, mode.cookie.clear());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_gets_the_host_prefix_and_secure() {
        let c = RefreshCookie::for_public_url("https://auth.example.com");
        let token = OpaqueToken::presented(&"a".repeat(43)).unwrap();
        let set = c.set(&token, 600);
        assert!(set.starts_with(&format!(
            "__Host-authql_refresh={}; Max-Age=600;",
            "a".repeat(43)
        )));
        for attribute in ["Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(set.split("; ").any(|a| a == attribute), "{set}");
        }
        assert!(!set.contains("Domain"));
        assert_eq!(
            c.clear(),
            "__Host-authql_refresh=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn plain_http_drops_the_prefix_and_secure_only() {
        let c = RefreshCookie::for_public_url("http://127.0.0.1:8000");
        assert_eq!(c.name(), "authql_refresh");
        assert_eq!(
            c.clear(),
            "authql_refresh=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            RefreshCookie::for_public_url("HTTPS://X.example").name(),
            "__Host-authql_refresh"
        );
    }
}

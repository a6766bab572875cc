//! Which requests may use cookie mode, and the refresh cookie they carry.
//!
//! Cross-site request forgery is impossible by construction: a request is in cookie mode
//! only with the `X-Authql-Cookie: 1` header, which an HTML form cannot send and which makes
//! a cross-origin `fetch` preflight (answered only for `CORS_ORIGINS`), and with an `Origin`
//! that is authql's own (`PUBLIC_URL`) or listed in `CORS_ORIGINS`. The cookie itself is
//! `SameSite=Strict` and `HttpOnly`.

use axum::http::{HeaderMap, StatusCode, header};

use crate::{
    auth::opaque_token::OpaqueToken,
    config::CorsOrigins,
    graphql::cookie::{CookieMode, HEADER, HEADER_VALUE, RefreshCookie},
};

/// Why a request that asked for cookie mode was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The header has a value other than `1`.
    Value,
    /// No `Origin`, or one authql does not trust.
    Origin,
}

impl Refused {
    pub const fn status(self) -> StatusCode {
        match self {
            Self::Value => StatusCode::BAD_REQUEST,
            Self::Origin => StatusCode::FORBIDDEN,
        }
    }

    pub const fn message(self) -> &'static str {
        match self {
            Self::Value => "X-Authql-Cookie must be 1",
            Self::Origin => {
                "Cookie mode is only for pages served from PUBLIC_URL or an origin in \
                 CORS_ORIGINS (the request's Origin is neither)"
            }
        }
    }
}

/// The origins cookie mode trusts, and the cookie it reads.
#[derive(Debug, Clone)]
pub struct CookieGate {
    origins: Vec<String>,
    cookie: RefreshCookie,
}

impl CookieGate {
    /// `public_url`'s origin and every origin listed in `CORS_ORIGINS` (`*` lists none:
    /// credentials are never shared with any website).
    pub fn new(public_url: &str, cors: &CorsOrigins) -> Self {
        let mut origins: Vec<String> = url::Url::parse(public_url)
            .map(|u| u.origin().ascii_serialization())
            .into_iter()
            .collect();
        if let CorsOrigins::List(list) = cors {
            origins.extend(list.iter().cloned());
        }
        Self {
            origins,
            cookie: RefreshCookie::for_public_url(public_url),
        }
    }

    /// Cookie mode for a request that asks for it, `None` for one that does not.
    ///
    /// # Errors
    /// When the request asks for it with a bad value or from an untrusted origin.
    pub fn admit(&self, headers: &HeaderMap) -> Result<Option<CookieMode>, Refused> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        if value.as_bytes() != HEADER_VALUE.as_bytes() || headers.get_all(HEADER).iter().count() > 1
        {
            return Err(Refused::Value);
        }
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .ok_or(Refused::Origin)?;
        if !self.origins.iter().any(|trusted| trusted == origin) {
            return Err(Refused::Origin);
        }
        Ok(Some(CookieMode {
            cookie: self.cookie,
            presented: refresh_cookie(headers, self.cookie.name()),
        }))
    }
}

impl CookieGate {
    /// For a WebSocket upgrade (which a browser sends with its cookies and an `Origin`, and
    /// without custom headers): the refresh cookie, usable only from a trusted origin.
    /// Without an `Origin` (not a browser) the cookie is ignored and the access token must
    /// sign the connection in.
    ///
    /// # Errors
    /// An `Origin` authql does not trust: no other website may open a connection that
    /// rides on a user's cookie.
    pub fn websocket(&self, headers: &HeaderMap) -> Result<Option<OpaqueToken>, Refused> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let origin = origin.to_str().map_err(|_| Refused::Origin)?;
        if !self.origins.iter().any(|trusted| trusted == origin) {
            return Err(Refused::Origin);
        }
        Ok(refresh_cookie(headers, self.cookie.name()))
    }
}

/// The first cookie named `name` in the request's `Cookie` headers, if its value could be
/// one of authql's tokens.
fn refresh_cookie(headers: &HeaderMap, name: &str) -> Option<OpaqueToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, value)| OpaqueToken::presented(value.trim_matches('"')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> CookieGate {
        CookieGate::new(
            "https://auth.example.com/base",
            &CorsOrigins::List(vec!["https://app.example.com".to_owned()]),
        )
    }

    fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_the_header_asks_for_cookie_mode() {
        let h = request(&[("origin", "https://evil.example"), ("cookie", "x=1")]);
        assert!(gate().admit(&h).unwrap().is_none());
    }

    #[test]
    fn own_and_listed_origins_are_trusted_and_no_other() {
        let token = "t".repeat(43);
        let cookie = format!("a=b; __Host-authql_refresh={token}; c=d");
        for origin in ["https://auth.example.com", "https://app.example.com"] {
            let h = request(&[
                ("x-authql-cookie", "1"),
                ("origin", origin),
                ("cookie", &cookie),
            ]);
            let mode = gate().admit(&h).unwrap().unwrap();
            assert_eq!(mode.presented.unwrap().expose(), token);
        }
        for origin in [
            "https://evil.example",
            "http://auth.example.com",
            "https://auth.example.com:444",
            "https://app.example.com.evil.example",
            "null",
        ] {
            let h = request(&[("x-authql-cookie", "1"), ("origin", origin)]);
            assert_eq!(gate().admit(&h).unwrap_err(), Refused::Origin, "{origin}");
        }
        let no_origin = request(&[("x-authql-cookie", "1")]);
        assert_eq!(gate().admit(&no_origin).unwrap_err(), Refused::Origin);
    }

    #[test]
    fn the_header_value_is_exactly_one() {
        for value in ["0", "true", "1 ", ""] {
            let h = request(&[
                ("x-authql-cookie", value),
                ("origin", "https://auth.example.com"),
            ]);
            assert_eq!(gate().admit(&h).unwrap_err(), Refused::Value, "{value:?}");
        }
    }

    #[test]
    fn a_wildcard_cors_setting_trusts_no_website() {
        let g = CookieGate::new("http://127.0.0.1:8000", &CorsOrigins::Any);
        let h = request(&[("x-authql-cookie", "1"), ("origin", "http://evil.example")]);
        assert_eq!(g.admit(&h).unwrap_err(), Refused::Origin);
        let own = request(&[
            ("x-authql-cookie", "1"),
            ("origin", "http://127.0.0.1:8000"),
        ]);
        assert!(g.admit(&own).unwrap().is_some());
    }

    proptest::proptest! {
        #[test]
        fn any_cookie_header_is_read_without_panic(raw in "[ -~]{0,300}") {
            let Ok(value) = raw.parse() else { return Ok(()) };
            let mut h = request(&[("x-authql-cookie", "1"), ("origin", "https://app.example.com")]);
            h.insert(header::COOKIE, value);
            let presented = gate().admit(&h).unwrap().unwrap().presented;
            // Found only when the header holds the cookie's name and a token after it.
            if let Some(token) = presented {
                proptest::prop_assert!(raw.contains("__Host-authql_refresh="));
                proptest::prop_assert!(raw.contains(token.expose()));
            }
        }

        #[test]
        fn the_token_is_found_among_other_cookies(
            before in proptest::collection::vec("[a-z_]{1,12}=[A-Za-z0-9%]{0,20}", 0..8),
            after in proptest::collection::vec("[a-z_]{1,12}=[A-Za-z0-9%]{0,20}", 0..8),
            token in "[A-Za-z0-9_-]{43}",
        ) {
            let mut pairs = before;
            pairs.push(format!("__Host-authql_refresh={token}"));
            pairs.extend(after);
            let cookie = pairs.join("; ");
            let h = request(&[
                ("x-authql-cookie", "1"),
                ("origin", "https://auth.example.com"),
                ("cookie", &cookie),
            ]);
            let found = gate().admit(&h).unwrap().unwrap().presented.unwrap();
            proptest::prop_assert_eq!(found.expose(), token.as_str());
        }
    }

    #[test]
    fn a_cookie_that_is_not_a_token_is_no_cookie() {
        let h = request(&[
            ("x-authql-cookie", "1"),
            ("origin", "https://auth.example.com"),
            ("cookie", "__Host-authql_refresh=short"),
            ("cookie", "authql_refresh_x=1"),
        ]);
        assert!(gate().admit(&h).unwrap().unwrap().presented.is_none());
    }
}

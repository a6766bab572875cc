//! The account pages under `/account/` (`ACCOUNT_PAGES`): sign up, sign in (password, then
//! a second step), verify an email address, reset a password, unlock an account, and the
//! security page. One page and its script and styles, compiled in; the script uses only
//! the public GraphQL API in cookie mode and the `sessionEvents` subscription. The mailed
//! links of the default `APP_URL` open these pages.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::assets::{self, Asset, CSS, JS, asset};

static ASSETS: &[Asset] = &[
    asset!("account", "account.js", JS),
    asset!("account", "account.css", CSS),
];

/// The pages the script knows; every other name under `/account/` is a 404.
const PAGES: &[&str] = &[
    "sign-in",
    "sign-up",
    "verify-email",
    "reset-password",
    "unlock-account",
    "security",
];

const PAGE: &str = include_str!("../../assets/account/index.html");

/// Its own files only; it talks to nothing but this service (the API and its WebSocket);
/// forms post nowhere (the script sends them); no frames, no `<base>`.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// `GET /account`: to the sign-in page (relative, so that a path prefix in front of authql
/// is kept).
pub async fn root() -> Response {
    let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_static("account/sign-in"),
    );
    res
}

/// `GET /account/`: the sign-in page.
pub async fn index() -> Response {
    assets::page(PAGE, PAGE_CSP)
}

/// `GET /account/{name}`: a page, or one of the pages' files.
pub async fn file(Path(name): Path<String>) -> Response {
    if PAGES.contains(&name.as_str()) {
        return assets::page(PAGE, PAGE_CSP);
    }
    assets::serve(ASSETS, &name, "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_references_only_its_own_files_and_every_page_is_routed() {
        for src in PAGE
            .split(['"'])
            .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        {
            assert!(ASSETS.iter().any(|a| a.name == src), "{src} is not served");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        let script = std::str::from_utf8(ASSETS[0].body).unwrap();
        for page in PAGES {
            assert!(
                script.contains(&format!("'{page}'")),
                "{page} has no route in account.js"
            );
        }
        assets::types_match(ASSETS);
    }
}

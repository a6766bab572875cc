//! The GraphiQL playground, served entirely from the binary so it works offline.
//!
//! The page, its bootstrap script and the vendored GraphiQL and React bundles (see
//! `assets/graphiql/update.sh`) are compiled in. The Content-Security-Policy lets the page
//! load nothing but its own files and talk to nothing but this service.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("graphiql.min.js", JS),
    asset!("graphiql.min.css", CSS),
    asset!("react.production.min.js", JS),
    asset!("react-dom.production.min.js", JS),
    asset!("init.js", JS),
    asset!("page.css", CSS),
];

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Only this origin, for scripts, styles, fetches; fonts and images inlined as `data:`.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /graphiql` (and `GET /graphql` from a browser): the playground page.
pub async fn page() -> Response {
    let mut res = PAGE.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /graphiql/{file}`: one of the playground's own files.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = asset.body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_only_references_files_that_are_served() {
        for src in PAGE
            .split("\"/graphiql/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
        {
            assert!(ASSETS.iter().any(|a| a.name == src), "{src} is not served");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }

    #[test]
    fn content_types_match_the_file_kind() {
        for a in ASSETS {
            let expected = if a.name.ends_with(".js") { JS } else { CSS };
            assert_eq!(a.content_type, expected, "{}", a.name);
        }
    }
}

//! The GraphiQL playground, served entirely from the binary so it works offline.
//!
//! The page, its bootstrap script and the vendored GraphiQL and React bundles (see
//! `assets/graphiql/update.sh`) are compiled in. The Content-Security-Policy lets the page
//! load nothing but its own files and talk to nothing but this service.

use axum::{extract::Path, response::Response};

use super::assets::{self, Asset, CSS, JS, asset};

static ASSETS: &[Asset] = &[
    asset!("graphiql", "graphiql.min.js", JS),
    asset!("graphiql", "graphiql.min.css", CSS),
    asset!("graphiql", "react.production.min.js", JS),
    asset!("graphiql", "react-dom.production.min.js", JS),
    asset!("graphiql", "init.js", JS),
    asset!("graphiql", "page.css", CSS),
];

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Only this origin, for scripts, styles, fetches; fonts and images inlined as `data:`.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /graphiql` (and `GET /graphql` from a browser): the playground page.
pub async fn page() -> Response {
    assets::page(PAGE, PAGE_CSP)
}

/// `GET /graphiql/{file}`: one of the playground's own files.
pub async fn asset(Path(file): Path<String>) -> Response {
    assets::serve(ASSETS, &file, "public, max-age=86400")
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
        assets::types_match(ASSETS);
    }
}

//! Files compiled into the binary (the playground's and the account pages'), served with
//! their content type, a cache policy and, for pages, a Content-Security-Policy.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// One file compiled in.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

pub const JS: &str = "text/javascript; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";

/// `Asset` for a file of `folder` under `assets/`, compiled in.
macro_rules! asset {
    ($folder:literal, $name:literal, $type:expr) => {
        $crate::http::assets::Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../assets/", $folder, "/", $name)),
        }
    };
}
pub(crate) use asset;

/// An HTML page under its own policy; never cached without asking.
pub fn page(html: &'static str, csp: &'static str) -> Response {
    let mut res = html.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The file of `assets` named `name`, or 404.
pub fn serve(assets: &[Asset], name: &str, cache: &'static str) -> Response {
    let Some(asset) = assets.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = asset.body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

/// For tests: every `.js` file is served as JavaScript, every other as CSS.
#[cfg(test)]
pub fn types_match(assets: &[Asset]) {
    for a in assets {
        let expected = if a.name.ends_with(".js") { JS } else { CSS };
        assert_eq!(a.content_type, expected, "{}", a.name);
    }
}

//! `GET /media/{file}`: uploaded avatars, with the content type of their (verified) format
//! and headers that stop a browser from treating them as anything else.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::HttpState;
use crate::media::MediaKey;

pub async fn serve(State(http): State<Arc<HttpState>>, Path(file): Path<String>) -> Response {
    let Some((key, format)) = MediaKey::parse(&file).and_then(|k| k.format().map(|f| (k, f)))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match http.state.media.get(&key).await {
        Ok(Some(bytes)) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            // A name is never reused for other content.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            res
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "reading a media file failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

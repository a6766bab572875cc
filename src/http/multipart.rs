//! GraphQL multipart requests (the upload spec): `operations`, `map`, and one file.
//!
//! Read here rather than by async-graphql's reader, which copies a file's name and type
//! once per path the map lists (a small map naming one large part a hundred thousand times
//! is a request for gigabytes) and gives `operations` the file's size limit. Here
//! `operations` has the JSON body cap, the map names one file at one path, and a file's
//! name and type are short.

use std::collections::BTreeMap;

use async_graphql::{BatchRequest, UploadValue};
use axum::{body::Bytes, http::StatusCode};
use multer::{Constraints, Multipart, SizeLimit};

use crate::error::code;

/// Largest file a multipart request may carry.
pub const MAX_UPLOAD_BYTES: usize = crate::service::profiles::MAX_AVATAR_BYTES;
/// Largest `map` part: one file at one path.
const MAX_MAP_BYTES: usize = 1024;
/// Longest file name or content type kept.
const MAX_FILE_LABEL: usize = 255;

/// Why a multipart request was refused: the status, the `extensions.code`, the message.
pub type Refusal = (StatusCode, &'static str, String);

fn bad(message: impl Into<String>) -> Refusal {
    (
        StatusCode::BAD_REQUEST,
        code::GRAPHQL_PARSE_FAILED,
        message.into(),
    )
}

fn one_file() -> Refusal {
    (
        StatusCode::BAD_REQUEST,
        code::BAD_USER_INPUT,
        "A request carries at most 1 file, placed at 1 path".to_owned(),
    )
}

fn too_large(field: Option<&str>, json_limit: usize) -> Refusal {
    let message = match field {
        Some("operations") => format!("`operations` is larger than {json_limit} bytes"),
        Some("map") => format!("`map` is larger than {MAX_MAP_BYTES} bytes"),
        _ => format!(
            "Uploads are at most {} MiB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ),
    };
    (StatusCode::PAYLOAD_TOO_LARGE, code::BAD_USER_INPUT, message)
}

fn refusal(err: multer::Error, json_limit: usize) -> Refusal {
    match err {
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            too_large(field_name.as_deref(), json_limit)
        }
        multer::Error::StreamSizeExceeded { .. } => too_large(None, json_limit),
        other => bad(format!("Not a GraphQL multipart request: {other}")),
    }
}

/// Reads a multipart request of `content_type` from `body`: its operations (held to the
/// JSON body rules and cap) with the one file the map places in them.
///
/// # Errors
/// A [`Refusal`] saying what is wrong.
pub async fn read(
    content_type: &str,
    body: Bytes,
    json_limit: usize,
) -> Result<BatchRequest, Refusal> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| bad(format!("No boundary: {e}")))?;
    let limits = SizeLimit::new()
        .whole_stream((MAX_UPLOAD_BYTES + json_limit + MAX_MAP_BYTES) as u64)
        .per_field(MAX_UPLOAD_BYTES as u64)
        .for_field("operations", json_limit as u64)
        .for_field("map", MAX_MAP_BYTES as u64);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts =
        Multipart::with_constraints(stream, boundary, Constraints::new().size_limit(limits));

    let (mut operations, mut map, mut file) = (None, None, None);
    while let Some(part) = parts
        .next_field()
        .await
        .map_err(|e| refusal(e, json_limit))?
    {
        match part.name().map(str::to_owned).as_deref() {
            Some("operations") => {
                let bytes = part.bytes().await.map_err(|e| refusal(e, json_limit))?;
                operations = Some(super::body::parse_body(&bytes).map_err(bad)?);
            }
            Some("map") => {
                let bytes = part.bytes().await.map_err(|e| refusal(e, json_limit))?;
                let parsed: BTreeMap<String, Vec<String>> = serde_json::from_slice(&bytes)
                    .map_err(|e| bad(format!("`map` is not a JSON object of paths: {e}")))?;
                map = Some(parsed);
            }
            Some(name) => {
                if file.is_some() {
                    return Err(one_file());
                }
                let label = |s: Option<&str>, what: &str| -> Result<Option<String>, Refusal> {
                    match s {
                        Some(s) if s.len() > MAX_FILE_LABEL || s.chars().any(char::is_control) => {
                            Err(bad(format!("The file's {what} is not a plain short text")))
                        }
                        other => Ok(other.map(str::to_owned)),
                    }
                };
                let filename = label(part.file_name(), "name")?.unwrap_or_default();
                let content_type = label(part.content_type().map(|m| m.as_ref()), "type")?;
                let content = part.bytes().await.map_err(|e| refusal(e, json_limit))?;
                file = Some((
                    name.to_owned(),
                    UploadValue {
                        filename,
                        content_type,
                        content,
                    },
                ));
            }
            None => return Err(bad("A part without a name")),
        }
    }
    let mut operations = operations.ok_or_else(|| bad("The `operations` part is missing"))?;
    let map = map.ok_or_else(|| bad("The `map` part is missing"))?;
    if map.len() > 1 || map.values().any(|paths| paths.len() != 1) {
        return Err(one_file());
    }
    match (map.into_iter().next(), file) {
        (None, None) => {}
        (Some((key, paths)), Some((name, upload))) if key == name => {
            let path = &paths[0];
            match &mut operations {
                BatchRequest::Single(request) => request.set_upload(path, upload),
                BatchRequest::Batch(requests) => {
                    let (index, path) = path
                        .split_once('.')
                        .and_then(|(i, p)| Some((i.parse::<usize>().ok()?, p)))
                        .ok_or_else(|| {
                            bad("A batch's map path starts with the operation's index")
                        })?;
                    if let Some(request) = requests.get_mut(index) {
                        request.set_upload(path, upload);
                    }
                }
            }
        }
        _ => return Err(bad("`map` and the file part do not match")),
    }
    Ok(operations)
}

//! GraphQL multipart requests (the upload spec): one encoder for every multipart body the
//! tests send.

use serde_json::json;

use super::app::TestApp;

impl TestApp {
    /// A GraphQL multipart request (the upload spec) with one file as variable `file`.
    pub async fn upload(
        &self,
        token: Option<&str>,
        query: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> reqwest::Response {
        let boundary = "authql-test-boundary-7f3a";
        let operations = json!({ "query": query, "variables": { "file": null } }).to_string();
        let body = multipart_body(
            boundary,
            &[
                Part::field("operations", operations.as_bytes()),
                Part::field("map", br#"{"0":["variables.file"]}"#),
                Part::file("0", filename, content_type, bytes),
            ],
        );
        self.post_multipart(token, boundary, body).await
    }

    /// `POST /graphql` with a multipart body as given (and the preflight header).
    pub async fn post_multipart(
        &self,
        token: Option<&str>,
        boundary: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("apollo-require-preflight", "true")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }
}

/// One part of a `multipart/form-data` body.
pub struct Part<'a> {
    name: &'a str,
    file: Option<(&'a str, &'a str)>,
    content: &'a [u8],
}

impl<'a> Part<'a> {
    pub fn field(name: &'a str, content: &'a [u8]) -> Self {
        Self {
            name,
            file: None,
            content,
        }
    }

    /// A file part, with its name and content type.
    pub fn file(
        name: &'a str,
        filename: &'a str,
        content_type: &'a str,
        content: &'a [u8],
    ) -> Self {
        Self {
            name,
            file: Some((filename, content_type)),
            content,
        }
    }
}

/// The one multipart encoder of the tests: `parts` between `boundary` lines.
pub fn multipart_body(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            part.name
        );
        if let Some((filename, content_type)) = part.file {
            head.push_str(&format!(
                "; filename=\"{filename}\"\r\nContent-Type: {content_type}"
            ));
        }
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

//! `uploadAvatar` over the GraphQL multipart request spec, and `/media`.

use image::GenericImageView;
use serde_json::{Value, json};

use std::{collections::BTreeMap, path::PathBuf};

use crate::{
    crafted::{GPS_MARKER, SCRIPT, contains, phone_photo, png_bomb, png_chunk},
    harness::{
        Backend, Part, TestApp, Worker, each_backend, each_backend_with, each_env, environments,
        environments::in_ci, multipart_body,
    },
};

const UPLOAD: &str =
    "mutation($file: Upload!) { uploadAvatar(file: $file) { username avatarUrl } }";
const PNG: &[u8] = include_bytes!("../fixtures/avatar.png");
const JPEG: &[u8] = include_bytes!("../fixtures/avatar.jpg");
const WEBP: &[u8] = include_bytes!("../fixtures/avatar.webp");

async fn upload(app: &TestApp, token: Option<&str>, name: &str, bytes: &[u8]) -> (u16, Value) {
    let res = app
        .upload(token, UPLOAD, name, "application/octet-stream", bytes)
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("a JSON body"))
}

/// The path of an avatar URL on this service.
fn media_path(url: &str, base: &str) -> String {
    url.strip_prefix(base)
        .unwrap_or_else(|| panic!("{url} is not under {base}"))
        .to_owned()
}

/// Decodes served bytes as any client would: by their content, and in the format their
/// content type names.
fn decode(bytes: &[u8], content_type: &str) -> image::DynamicImage {
    let format = image::guess_format(bytes).unwrap();
    assert_eq!(format.to_mime_type(), content_type);
    image::load_from_memory(bytes).unwrap()
}

#[tokio::test]
async fn png_jpeg_and_webp_avatars_are_stored_re_encoded_and_served_with_their_type() {
    each_backend_with(
        &[("PUBLIC_URL", "https://auth.example.com")],
        |app| async move {
            let t = app.register("alice").await;
            app.confirm_email("alice@example.com").await;
            // A photo stays a JPEG; WebP is stored as PNG.
            for (bytes, name, content_type, extension) in [
                (PNG, "me.png", "image/png", ".png"),
                (JPEG, "photo.jpeg", "image/jpeg", ".jpg"),
                (WEBP, "no-extension", "image/png", ".png"),
            ] {
                let (status, body) = upload(&app, Some(&t.access), name, bytes).await;
                assert_eq!(status, 200, "{body}");
                let url = body["data"]["uploadAvatar"]["avatarUrl"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(url.starts_with("https://auth.example.com/media/"), "{url}");
                assert!(url.ends_with(extension), "{url}");
                let res = app.get(&media_path(&url, "https://auth.example.com")).await;
                assert_eq!(res.status(), 200);
                assert_eq!(res.headers()["content-type"], content_type);
                assert_eq!(res.headers()["x-content-type-options"], "nosniff");
                let served = res.bytes().await.unwrap();
                let uploaded = image::load_from_memory(bytes).unwrap();
                let stored = decode(&served, content_type);
                assert_eq!(stored.dimensions(), uploaded.dimensions(), "{name}");
                assert_eq!(stored.dimensions(), (16, 12));
            }
            let public = app
                .gql("{ profile(username: \"alice\") { avatarUrl } }", json!({}))
                .await;
            assert!(
                public.data()["profile"]["avatarUrl"]
                    .as_str()
                    .unwrap()
                    .ends_with(".png")
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_phone_photo_is_served_upright_without_its_exif_location_or_tail() {
    each_backend(|app| async move {
        let t = app.register("paula").await;
        for (orientation, upright) in [(1, (64, 48)), (6, (48, 64))] {
            let photo = phone_photo(64, 48, orientation);
            assert!(contains(&photo, GPS_MARKER) && contains(&photo, SCRIPT));

            let (status, body) = upload(&app, Some(&t.access), "IMG_0001.jpg", &photo).await;

            assert_eq!(status, 200, "{body}");
            let url = body["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap();
            let res = app.get(&media_path(url, &app.base_url)).await;
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "image/jpeg");
            let served = res.bytes().await.unwrap();
            for gone in [&b"Exif\0\0"[..], GPS_MARKER, b"GPS", SCRIPT, b"<?php"] {
                assert!(
                    !contains(&served, gone),
                    "{} survived",
                    String::from_utf8_lossy(gone)
                );
            }
            assert!(
                served.ends_with(&[0xFF, 0xD9]),
                "something follows the image"
            );
            let stored = decode(&served, "image/jpeg");
            assert_eq!(stored.dimensions(), upright, "orientation {orientation}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_as_bad_input_and_the_old_avatar_stays() {
    each_backend(|app| async move {
        let t = app.register("bomber").await;
        let (_, ok) = upload(&app, Some(&t.access), "a.png", PNG).await;
        let url = ok["data"]["uploadAvatar"]["avatarUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        // A hundred bytes declaring 8192×8192 RGBA (256 MiB of pixels, within the side
        // limit), and a side over the limit.
        for (width, height) in [(8192, 8192), (8193, 1)] {
            let bomb = png_bomb(width, height);
            assert!(bomb.len() < 200);
            let (status, body) = upload(&app, Some(&t.access), "bomb.png", &bomb).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{width}x{height}: {body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], "file");
        }
        let me = app
            .gql_as(&t.access, "{ me { profile { avatarUrl } } }", json!({}))
            .await;
        assert_eq!(me.data()["me"]["profile"]["avatarUrl"], url.as_str());
        assert_eq!(app.get("/healthz").await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_new_avatar_replaces_the_old_file() {
    each_backend(|app| async move {
        let t = app.register("bob").await;
        let (_, first) = upload(&app, Some(&t.access), "a.png", PNG).await;
        let old = media_path(
            first["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap(),
            &app.base_url,
        );
        let (_, second) = upload(&app, Some(&t.access), "b.jpg", JPEG).await;
        let new = media_path(
            second["data"]["uploadAvatar"]["avatarUrl"]
                .as_str()
                .unwrap(),
            &app.base_url,
        );
        assert_ne!(old, new);
        assert_eq!(app.get(&old).await.status(), 404);
        assert_eq!(app.get(&new).await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn what_is_not_an_acceptable_image_is_refused_and_the_old_avatar_stays() {
    each_backend(|app| async move {
        let t = app.register("carl").await;
        let (_, ok) = upload(&app, Some(&t.access), "a.png", PNG).await;
        let url = ok["data"]["uploadAvatar"]["avatarUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let truncated = &PNG[..PNG.len() - 10];
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        for (name, bytes) in [
            ("not-an-image.png", b"just some text, honestly".as_slice()),
            ("truncated.png", truncated),
            ("drawing.png", svg.as_slice()),
            ("empty.png", b"".as_slice()),
        ] {
            let (status, body) = upload(&app, Some(&t.access), name, bytes).await;
            assert_eq!(status, 200, "{name}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{name}: {body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], "file");
        }
        let me = app
            .gql_as(&t.access, "{ me { profile { avatarUrl } } }", json!({}))
            .await;
        assert_eq!(me.data()["me"]["profile"]["avatarUrl"], url.as_str());
        assert_eq!(
            app.get(&media_path(&url, &app.base_url)).await.status(),
            200
        );
    })
    .await;
}

#[tokio::test]
async fn oversized_uploads_are_cut_off_with_a_clear_error() {
    each_backend(|app| async move {
        let t = app.register("dora").await;
        // Just over the 2 MiB limit: the file part is refused by size.
        let mut big = PNG.to_vec();
        big.resize(2 * 1024 * 1024 + 1, 0);
        let (status, body) = upload(&app, Some(&t.access), "big.png", &big).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        // Far over: the body is refused as soon as its size is known.
        let huge = vec![0u8; 50 * 1024 * 1024];
        let (status, body) = upload(&app, Some(&t.access), "huge.png", &huge).await;
        assert_eq!(status, 413);
        assert!(body["errors"][0]["extensions"]["code"].is_string());
        // The process is unaffected.
        assert_eq!(app.get("/healthz").await.status(), 200);
        let (status, _) = upload(&app, Some(&t.access), "ok.png", PNG).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn an_upload_without_a_session_is_unauthenticated() {
    each_backend(|app| async move {
        let (status, body) = upload(&app, None, "a.png", PNG).await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    })
    .await;
}

/// A complete multipart upload request: operations, map, and the given files.
fn multipart(files: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "form-boundary-1";
    let map: serde_json::Map<String, Value> = (0..files.len())
        .map(|i| (i.to_string(), json!(["variables.file"])))
        .collect();
    let operations = json!({ "query": UPLOAD, "variables": { "file": null } }).to_string();
    let map = Value::Object(map).to_string();
    let names: Vec<String> = (0..files.len()).map(|i| i.to_string()).collect();
    let mut parts = vec![
        Part::field("operations", operations.as_bytes()),
        Part::field("map", map.as_bytes()),
    ];
    for (name, file) in names.iter().zip(files) {
        parts.push(Part::file(name, "a.png", "image/png", file));
    }
    let body = multipart_body(boundary, &parts);
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_multipart_request_without_a_preflight_header_runs_nothing() {
    each_backend(|app| async move {
        let t = app.register("eve").await;
        // What a plain HTML form could send: multipart, but no custom header.
        let (content_type, body) = multipart(&[PNG]);
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type.clone())
            .bearer_auth(&t.access)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let json: Value = res.json().await.unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "GRAPHQL_PARSE_FAILED"
        );
        assert!(json.get("data").is_none());
        let me = app
            .gql_as(&t.access, "{ me { profile { avatarUrl } } }", json!({}))
            .await;
        assert_eq!(
            me.data()["me"]["profile"]["avatarUrl"],
            Value::Null,
            "the upload ran"
        );
        // The same request with the header does run.
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .header("x-apollo-operation-name", "UploadAvatar")
            .bearer_auth(&t.access)
            .body(body)
            .send()
            .await
            .unwrap();
        let json: Value = res.json().await.unwrap();
        assert!(
            json["data"]["uploadAvatar"]["avatarUrl"].is_string(),
            "{json}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_multipart_request_carries_one_file_at_most() {
    each_backend(|app| async move {
        let t = app.register("fay").await;
        let (content_type, body) = multipart(&[PNG, PNG]);
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .header("apollo-require-preflight", "true")
            .bearer_auth(&t.access)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    })
    .await;
}

/// A multipart request with these parts, as given.
async fn raw_multipart(
    app: &TestApp,
    token: &str,
    operations: &str,
    map: &str,
    filename: &str,
) -> (u16, Value) {
    let boundary = "form-boundary-2";
    let body = multipart_body(
        boundary,
        &[
            Part::field("operations", operations.as_bytes()),
            Part::field("map", map.as_bytes()),
            Part::file("0", filename, "image/png", PNG),
        ],
    );
    let res = app.post_multipart(Some(token), boundary, body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_multipart_map_places_one_file_at_one_path_and_operations_keep_the_json_cap() {
    each_backend(|app| async move {
        let t = app.register("gil").await;
        let operations = json!({ "query": UPLOAD, "variables": { "file": null } }).to_string();
        let code = |body: &Value| body["errors"][0]["extensions"]["code"].clone();
        // One file named at many paths would be copied once per path.
        let many = json!({ "0": vec!["variables.file"; 50_000] }).to_string();
        let (status, body) = raw_multipart(&app, &t.access, &operations, &many, "a.png").await;
        assert_eq!(status, 413, "{body}");
        let some = json!({ "0": vec!["variables.file"; 50] }).to_string();
        let (status, body) = raw_multipart(&app, &t.access, &operations, &some, "a.png").await;
        assert_eq!(
            (status, code(&body)),
            (400, json!("BAD_USER_INPUT")),
            "{body}"
        );
        let two = json!({ "0": ["variables.file", "variables.file"] }).to_string();
        let (status, body) = raw_multipart(&app, &t.access, &operations, &two, "a.png").await;
        assert_eq!(
            (status, code(&body)),
            (400, json!("BAD_USER_INPUT")),
            "{body}"
        );
        // `operations` is held to the JSON body cap, multipart or not.
        let padded = format!(
            "{{\"query\":\"{UPLOAD} # {}\",\"variables\":{{\"file\":null}}}}",
            "x".repeat(70_000)
        );
        let one = json!({ "0": ["variables.file"] }).to_string();
        let (status, body) = raw_multipart(&app, &t.access, &padded, &one, "a.png").await;
        assert_eq!(status, 413, "{body}");
        // A file's name is short and plain.
        let long = "n".repeat(1_000);
        let (status, body) = raw_multipart(&app, &t.access, &operations, &one, &long).await;
        assert_eq!(
            (status, code(&body)),
            (400, json!("GRAPHQL_PARSE_FAILED")),
            "{body}"
        );
        // The well-formed request runs.
        let (status, body) = raw_multipart(&app, &t.access, &operations, &one, "a.png").await;
        assert_eq!(status, 200);
        assert!(
            body["data"]["uploadAvatar"]["avatarUrl"].is_string(),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn media_serves_only_names_it_issued() {
    each_backend(|app| async move {
        for path in [
            "/media/../Cargo.toml",
            "/media/%2e%2e%2fCargo.toml",
            "/media/0123456789abcdef0123456789abcdef.png",
            "/media/anything.svg",
        ] {
            assert_eq!(app.get(path).await.status(), 404, "{path}");
        }
    })
    .await;
}

/// A `side`×`side` PNG of palette indices in noise: one byte a pixel, stored uncompressed
/// (zlib "stored" blocks), that decodes to three bytes a pixel of noise.
fn palette_noise_png(side: u32) -> Vec<u8> {
    let header = [
        &side.to_be_bytes()[..],
        &side.to_be_bytes(),
        &[8, 3, 0, 0, 0],
    ]
    .concat();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 24) as u8
    };
    let palette: Vec<u8> = (0..256 * 3).map(|_| next()).collect();
    let mut raw = Vec::new();
    for _ in 0..side {
        raw.push(0); // no filter
        raw.extend((0..side).map(|_| next()));
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks = raw.chunks(65_535).collect::<Vec<_>>();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap();
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &png_chunk(b"IHDR", &header),
        &png_chunk(b"PLTE", &palette),
        &png_chunk(b"IDAT", &zlib),
        &png_chunk(b"IEND", &[]),
    ]
    .concat()
}

#[tokio::test]
async fn an_image_that_re_encodes_past_the_size_limit_is_refused_and_the_old_avatar_stays() {
    let png = palette_noise_png(1400);
    assert!(png.len() < 2 * 1024 * 1024, "{}", png.len());
    // The control: it is a valid image, three times larger once its pixels are written out.
    let decoded = image::load_from_memory(&png).unwrap();
    assert_eq!(decoded.dimensions(), (1400, 1400));
    each_backend(|app| {
        let png = png.clone();
        async move {
            let t = app.register("bigger").await;
            let (_, ok) = upload(&app, Some(&t.access), "a.png", PNG).await;
            let url = ok["data"]["uploadAvatar"]["avatarUrl"]
                .as_str()
                .unwrap()
                .to_owned();
            let (status, body) = upload(&app, Some(&t.access), "noise.png", &png).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], "file");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("re-encoded"),
                "{body}"
            );
            let me = app
                .gql_as(&t.access, "{ me { profile { avatarUrl } } }", json!({}))
                .await;
            assert_eq!(me.data()["me"]["profile"]["avatarUrl"], url.as_str());
        }
    })
    .await;
}

/// A `MEDIA_DIR` of one test's own, removed afterwards.
struct MediaDir(PathBuf);

impl MediaDir {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple();
        Self(std::env::temp_dir().join(format!("authql-media-{id}")))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The names of the files in it (none when nothing created it).
    fn files(&self) -> Vec<String> {
        match std::fs::read_dir(&self.0) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => panic!("{e}"),
        }
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `GET /media/<name>` answered: status, headers (but those that differ from one
/// response to the next) and body.
#[derive(PartialEq, Eq)]
struct Served {
    status: u16,
    headers: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

async fn served(app: &TestApp, path: &str) -> Served {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    let bytes = res.bytes().await.unwrap().to_vec();
    Served {
        status,
        headers,
        bytes,
    }
}

/// Uploads `bytes` as the avatar and answers the path it is served at.
async fn upload_ok(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let (status, body) = upload(app, Some(token), name, bytes).await;
    assert_eq!(status, 200, "{body}");
    let url = body["data"]["uploadAvatar"]["avatarUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("no avatar URL: {body}"));
    media_path(url, &app.base_url)
}

/// The file name an avatar path names.
fn file_name(path: &str) -> String {
    path.strip_prefix("/media/").unwrap().to_owned()
}

#[tokio::test]
async fn an_avatar_in_the_database_is_served_as_a_local_file_is_and_writes_no_file() {
    let (local_dir, database_dir) = (MediaDir::new(), MediaDir::new());
    let (local_dir, database_dir) = (&local_dir, &database_dir);
    let local = [("MEDIA_STORE", "local"), ("MEDIA_DIR", local_dir.path())];
    each_backend_with(&local, |app| async move {
        let database = [
            ("MEDIA_STORE", "database"),
            ("MEDIA_DIR", database_dir.path()),
        ];
        let (other, stop) = app.replica_with(&database).await;
        let lena = app.register("lena").await;
        let dirk = other.register("dirk").await;
        let mut previous = None;
        for (name, bytes, content_type) in
            [("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg")]
        {
            let in_file = upload_ok(&app, &lena.access, name, bytes).await;
            let in_row = upload_ok(&other, &dirk.access, name, bytes).await;

            let from_file = served(&app, &in_file).await;
            let from_row = served(&other, &in_row).await;
            assert_eq!(from_file.status, 200, "{name}");
            assert_eq!(from_file.headers["content-type"], content_type);
            assert_eq!(from_row, from_file, "{name}");
            // Each store holds only what was put in it.
            assert_eq!(app.get(&in_row).await.status(), 404);
            assert_eq!(other.get(&in_file).await.status(), 404);
            let files = local_dir.files();
            assert!(files.contains(&file_name(&in_file)), "{files:?}");
            if let Some(old) = previous.replace(file_name(&in_file)) {
                assert!(!files.contains(&old), "the replaced file stayed: {files:?}");
            }
        }
        assert_eq!(database_dir.files(), Vec::<String>::new());
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn on_postgresql_every_replica_serves_every_avatar_with_the_same_headers() {
    let (one_dir, other_dir) = (MediaDir::new(), MediaDir::new());
    let (one_dir, other_dir) = (&one_dir, &other_dir);
    let postgres: Vec<_> = environments()
        .into_iter()
        .filter(|env| env.backend == Backend::Postgres)
        .collect();
    assert!(
        !(postgres.is_empty() && in_ci()),
        "CI must set TEST_DATABASE_URL: this test needs PostgreSQL"
    );
    // Each replica has a MEDIA_DIR of its own, as on separate machines: only the default
    // store (the database) can make them agree.
    let own_dir = [("MEDIA_DIR", one_dir.path())];
    each_env(postgres, &own_dir, Worker::InProcess, |app| async move {
        let (other, stop) = app.replica_with(&[("MEDIA_DIR", other_dir.path())]).await;
        let t = app.register("rhea").await;

        let first = upload_ok(&app, &t.access, "a.png", PNG).await;

        let here = served(&app, &first).await;
        assert_eq!(here.status, 200);
        assert_eq!(here.headers["content-type"], "image/png");
        assert_eq!(served(&other, &first).await, here);

        // Replaced through the other replica: the old bytes are gone for both.
        let second = upload_ok(&other, &t.access, "b.jpg", JPEG).await;
        assert_eq!(app.get(&first).await.status(), 404);
        assert_eq!(other.get(&first).await.status(), 404);
        let there = served(&other, &second).await;
        assert_eq!(there.status, 200);
        assert_eq!(there.headers["content-type"], "image/jpeg");
        assert_eq!(served(&app, &second).await, there);

        assert_eq!(one_dir.files(), Vec::<String>::new());
        assert_eq!(other_dir.files(), Vec::<String>::new());
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn on_sqlite_avatars_are_files_in_media_dir_by_default() {
    let dir = MediaDir::new();
    let dir = &dir;
    let sqlite = environments()
        .into_iter()
        .filter(|env| env.backend == Backend::Sqlite)
        .collect();
    each_env(
        sqlite,
        &[("MEDIA_DIR", dir.path())],
        Worker::InProcess,
        |app| async move {
            let t = app.register("sam").await;
            let first = upload_ok(&app, &t.access, "a.png", PNG).await;
            let stored = std::fs::read(dir.0.join(file_name(&first))).unwrap();
            assert_eq!(served(&app, &first).await.bytes, stored);

            let second = upload_ok(&app, &t.access, "b.jpg", JPEG).await;
            let files = dir.files();
            assert!(files.contains(&file_name(&second)), "{files:?}");
            assert!(!files.contains(&file_name(&first)), "{files:?}");
        },
    )
    .await;
}

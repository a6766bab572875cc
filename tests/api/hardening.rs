//! Production hardening: GraphQL limits, CSRF and CORS, error hygiene, security headers,
//! logs, and metrics.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Tokens, each_backend, each_backend_with, logs};

fn code_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn depth_complexity_aliases_and_root_fields_are_limited() {
    let vars = [
        ("GRAPHQL_MAX_DEPTH", "2"),
        ("GRAPHQL_MAX_COMPLEXITY", "3"),
        ("GRAPHQL_MAX_ALIASES", "2"),
        ("GRAPHQL_MAX_ROOT_FIELDS", "2"),
    ];
    each_backend_with(&vars, |app| async move {
        for (query, what) in [
            ("{ me { profile { username } } }", "depth"),
            ("{ __typename a: __typename b: __typename c: __typename }", "complexity/aliases"),
            ("{ a: __typename b: __typename c: __typename }", "aliases"),
            (
                "query { __typename profile(username: \"x\") { username } resetTokenValid(token: \"x\") }",
                "root fields",
            ),
        ] {
            let res = app.gql(query, json!({})).await;
            assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED", "{what}: {}", res.body);
        }
        // Within the limits: fine.
        let res = app.gql("{ a: __typename b: __typename }", json!({})).await;
        assert_eq!(res.data()["a"], "Query");
    })
    .await;
}

#[tokio::test]
async fn login_aliases_beyond_the_root_field_limit_are_refused_before_any_hash() {
    each_backend(|app| async move {
        let fields: String = (0..21)
            .map(|i| format!("a{i}: login(input: $i) {{ accessToken }} "))
            .collect();
        let res = app
            .gql(
                &format!("mutation($i: LoginInput!) {{ {fields} }}"),
                json!({ "i": { "usernameOrEmail": "x", "password": "y" } }),
            )
            .await;
        assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED");
    })
    .await;
}

#[tokio::test]
async fn batches_are_capped() {
    each_backend(|app| async move {
        let one = json!({ "query": "{ __typename }" });
        let res = app.post_graphql(Value::Array(vec![one.clone(); 11])).await;
        assert_eq!(res.status, 400);
        assert_eq!(code_of(&res.body), "GRAPHQL_VALIDATION_FAILED");
        let res = app.post_graphql(Value::Array(vec![one; 10])).await;
        assert_eq!(res.body.as_array().unwrap().len(), 10);
    })
    .await;
}

#[tokio::test]
async fn the_request_body_size_is_capped() {
    each_backend_with(&[("HTTP_MAX_JSON_BYTES", "10000")], |app| async move {
        let res = app
            .post_graphql(json!({ "query": format!("{{ __typename }} # {}", "x".repeat(20_000)) }))
            .await;
        assert_eq!(res.status, 413);
        assert_eq!(code_of(&res.body), "GRAPHQL_PARSE_FAILED");
    })
    .await;
}

#[tokio::test]
async fn a_pathologically_nested_document_is_refused_before_it_is_parsed() {
    each_backend(|app| async move {
        for query in [
            "{a".repeat(100_000),
            "{ a(x: ".to_owned() + &"[".repeat(100_000),
        ] {
            let res = app.post_graphql(json!({ "query": query })).await;
            assert_eq!(code_of(&res.body), "GRAPHQL_PARSE_FAILED", "{}", res.body);
        }
        assert_eq!(app.get("/healthz").await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn introspection_and_suggestions_can_be_turned_off() {
    each_backend(|app| async move {
        // On by default in development.
        let res = app
            .gql("{ __schema { queryType { name } } }", json!({}))
            .await;
        assert_eq!(res.data()["__schema"]["queryType"]["name"], "Query");
        let res = app.gql("{ sesions { id } }", json!({})).await;
        assert!(
            res.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Did you mean")
        );
    })
    .await;
    let off = [("GRAPHQL_INTROSPECTION", "false")];
    each_backend_with(&off, |app| async move {
        // The schema is not revealed.
        let res = app
            .gql("{ __schema { queryType { name } } }", json!({}))
            .await;
        assert!(res.body["data"]["__schema"].is_null(), "{}", res.body);
        let res = app
            .gql("{ __type(name: \"User\") { fields { name } } }", json!({}))
            .await;
        assert!(res.body["data"]["__type"].is_null(), "{}", res.body);
        let res = app.gql("{ sesions { id } }", json!({})).await;
        assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED");
        assert!(
            !res.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Did you mean")
        );
    })
    .await;
}

#[tokio::test]
async fn a_cross_site_form_or_text_plain_request_runs_nothing() {
    each_backend(|app| async move {
        let mutation = json!({ "query": "mutation { signUp(input: { username: \"csrf\", \
            email: \"csrf@example.com\", password: \"correct-horse-battery-staple\" }) }" })
        .to_string();
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let res = app
                .client
                .post(app.url("/graphql"))
                .header("content-type", content_type)
                .body(mutation.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 415, "{content_type}");
        }
        assert_eq!(
            app.login("csrf@example.com", PASSWORD).await.error_code(),
            "UNAUTHENTICATED",
            "the mutation ran"
        );
    })
    .await;
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only_and_credentials_only_for_them() {
    let vars = [("CORS_ORIGINS", "https://app.example.com")];
    each_backend_with(&vars, |app| async move {
        let preflight = |origin| app.preflight(origin, "content-type, authorization");
        let res = preflight("https://app.example.com").await;
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        // Credentials (cookie mode's refresh cookie) for a listed origin; cookies.rs has
        // `*`, which never gets them.
        assert_eq!(h["access-control-allow-credentials"], "true");

        let res = preflight("https://evil.example").await;
        assert!(res.headers().get("access-control-allow-origin").is_none());

        let res = app
            .client
            .post(app.url("/graphql"))
            .header("origin", "https://app.example.com")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        let exposed = res.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap();
        assert!(exposed.contains("x-request-id"));
    })
    .await;
}

#[tokio::test]
async fn an_internal_error_shows_a_generic_message_and_the_request_id_the_log_has() {
    each_backend(|app| async move {
        use sea_orm::ConnectionTrait;
        app.sign_up("gone", "gone@example.com", PASSWORD)
            .await
            .data();
        app.db
            .execute_unprepared("ALTER TABLE profiles RENAME TO profiles_elsewhere")
            .await
            .unwrap();
        let res = app
            .client
            .post(app.url("/graphql"))
            .header(
                "x-request-id",
                format!("internal-{}", uuid::Uuid::new_v4().simple()),
            )
            .json(&json!({ "query": "{ profile(username: \"gone\") { username } }" }))
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(err["message"], "Internal server error");
        assert_eq!(err["extensions"]["requestId"], id.as_str());
        assert!(
            !body.to_string().contains("profiles"),
            "internals leaked: {body}"
        );
        // The log line of that request has the cause.
        let line = logs()
            .lines()
            .find(|l| l.contains(&id) && l.contains("internal error"))
            .map(str::to_owned)
            .expect("an error line with the request id");
        assert!(line.contains("profiles"), "{line}");
        app.db
            .execute_unprepared("ALTER TABLE profiles_elsewhere RENAME TO profiles")
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_graphql_is_never_cached() {
    each_backend(|app| async move {
        let graphql = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        let bad = app.get("/graphql").await;
        let get = app.get("/graphql?query=%7B__typename%7D").await;
        for res in [&graphql, &bad, &get] {
            assert_eq!(res.headers()["cache-control"], "no-store");
        }
        for res in [
            graphql,
            bad,
            get,
            app.get("/healthz").await,
            app.get("/nope").await,
        ] {
            let h = res.headers();
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(h["x-frame-options"], "DENY");
            assert!(h.get("content-security-policy").is_some());
            assert!(h.get("x-request-id").is_some());
        }
    })
    .await;
}

#[tokio::test]
async fn each_request_is_one_log_line_with_operation_status_latency_and_user() {
    each_backend(|app| async move {
        let t = app.register("hilda").await;
        let id = format!("logline-{}", uuid::Uuid::new_v4().simple());
        let res = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&t.access)
            .header("x-request-id", &id)
            .json(&json!({ "query": "query Me { me { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let lines: Vec<Value> = logs()
            .lines()
            .filter(|l| l.contains(&id) && l.contains("request done"))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        let span = &line["span"];
        assert_eq!(span["operation"], "me");
        assert_eq!(span["user_id"], t.user_id.as_str());
        assert_eq!(line["status"], 200);
        assert!(line["latency_ms"].as_f64().is_some());
    })
    .await;
}

#[tokio::test]
async fn no_password_token_or_hash_reaches_the_log() {
    each_backend(|app| async move {
        let password = format!("unique-passphrase-{}", uuid::Uuid::new_v4().simple());
        let email = format!("leak-{}@example.com", uuid::Uuid::new_v4().simple());
        app.sign_up("leaky", &email, &password).await.data();
        let verify = app.smtp.wait_for(&email, "Confirm").await.token("verify-email").unwrap();
        app.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": verify }))
            .await
            .data();
        let t: Tokens = app.login_ok(&email, &password).await;
        app.me(&t.access).await.data();
        let refreshed = Tokens::from_payload(&app.refresh(&t.refresh).await.data()["refresh"]);
        app.login("leaky", "a-wrong-password-attempt").await;
        app.gql("mutation($e: String!) { requestReset(email: $e) }", json!({ "e": email }))
            .await
            .data();
        let reset = app.smtp.wait_for(&email, "Reset").await.token("reset-password").unwrap();
        let new_password = format!("another-passphrase-{}", uuid::Uuid::new_v4().simple());
        app.gql(
            "mutation($t: String!, $p: String!) { confirmReset(input: { token: $t, newPassword: $p }) }",
            json!({ "t": reset, "p": new_password }),
        )
        .await
        .data();
        app.smtp.wait_for(&email, "was reset").await;
        let hash = authql::repo::users::find_by_login_with_credential(&app.db, &email, &email)
            .await
            .unwrap()
            .unwrap()
            .1
            .hash
            .0;
        let captured = logs();
        assert!(captured.contains("logged in"), "the flow was not logged at all");
        for (what, secret) in [
            ("the password", password.as_str()),
            ("the new password", new_password.as_str()),
            ("the wrong password", "a-wrong-password-attempt"),
            ("the access token", t.access.as_str()),
            ("the refresh token", t.refresh.as_str()),
            ("the next refresh token", refreshed.refresh.as_str()),
            ("the verification token", verify.as_str()),
            ("the reset token", reset.as_str()),
            ("the password hash", hash.as_str()),
        ] {
            assert!(!captured.contains(secret), "{what} reached the log");
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_are_served_on_the_internal_listener_only() {
    each_backend_with(&[("METRICS_BIND", "127.0.0.1:0")], |app| async move {
        assert_eq!(app.get("/metrics").await.status(), 404);
        let t = app.register("ingrid").await;
        app.smtp.wait_for("ingrid@example.com", "Confirm").await;
        app.login("ingrid", "wrong-password").await;
        app.me(&t.access).await.data();
        let url = format!(
            "{}/metrics",
            app.metrics_url.clone().expect("a metrics listener")
        );
        let res = app.client.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let text = res.text().await.unwrap();
        for metric in [
            "authql_http_requests_total",
            "authql_http_request_duration_seconds_bucket",
            "authql_graphql_operations_total{operation=\"me\"",
            "authql_graphql_operation_duration_seconds_bucket",
            "authql_logins_total{outcome=\"success\"}",
            "authql_logins_total{outcome=\"failure\"}",
            "authql_outbox_depth",
            "authql_outbox_oldest_age_seconds",
            "authql_mail_total{outcome=\"sent\"}",
        ] {
            assert!(text.contains(metric), "{metric} missing from:\n{text}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_mutation_runs_to_completion_when_its_client_disconnects() {
    each_backend(|app| async move {
        use tokio::io::AsyncWriteExt;
        let body = json!({
            "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
            "variables": { "i": {
                "username": "gone", "email": "gone@example.com", "password": PASSWORD,
            } },
        })
        .to_string();
        let host = app.base_url.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // The client goes away while the password is being hashed, before any answer.
        drop(stream);
        // It ran to its end: the account exists and its verification mail went out.
        app.smtp.wait_for("gone@example.com", "Confirm").await;
        let res = app.login("gone", PASSWORD).await;
        assert!(
            res.body["data"]["login"]["accessToken"].is_string(),
            "the signUp was cut off when its client disconnected: {:?}",
            res.body
        );
    })
    .await;
}

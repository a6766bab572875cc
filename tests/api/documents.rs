//! Hostile documents: whatever a client sends as GraphQL, on whichever path, the process
//! answers it cleanly and goes on answering; the answer stays small however many errors
//! the request provokes; and nothing a client names becomes a metric label or a long log
//! field.

use std::collections::BTreeSet;

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};

use crate::harness::{TestApp, each_backend, each_backend_with, logs};

const DEPTHS: [usize; 4] = [1_000, 2_500, 5_000, 10_000];

/// The documents that used to end the process, at `depth`.
fn crash_shapes(depth: usize) -> Vec<(&'static str, String)> {
    let (open, close) = ("[".repeat(depth), "]".repeat(depth));
    vec![
        ("nested lists", format!("{{a(x:{open}1{close})}}")),
        (
            "lists after a comment ended by \\r",
            format!("{{a # {{{{{{\r(x:{open}1{close})}}"),
        ),
        (
            "lists after a block string that never ends",
            format!("{{a(x:[\"\"\"\\\\\"\"\" {open}1{close}])}}"),
        ),
        (
            "nested objects",
            format!("{{a(x:{}1{})}}", "{a:".repeat(depth), "}".repeat(depth)),
        ),
        (
            "a variable's list type",
            format!("query($v:{open}Int{close}){{a}}"),
        ),
        (
            "selection sets",
            format!("{}{}", "{a".repeat(depth), "}".repeat(depth)),
        ),
    ]
}

fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// `GET /graphql?query=…`, written by hand: the longest of these URLs are longer than an
/// HTTP client library lets one build (64 KiB), which is what the server must answer too.
async fn get_query(app: &TestApp, query: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let addr = app.base_url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /graphql?query={encoded} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// A GraphQL multipart request carrying `query` (and no file).
async fn multipart(app: &TestApp, query: &str) -> (u16, Value) {
    let boundary = "authql-hostile-boundary";
    let operations = json!({ "query": query, "variables": {} }).to_string();
    let body = crate::harness::multipart_body(
        boundary,
        &[
            crate::harness::Part::field("operations", operations.as_bytes()),
            crate::harness::Part::field("map", b"{}"),
        ],
    );
    let res = app.post_multipart(None, boundary, body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn still_answers(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    let res = app.gql("{ __typename }", json!({})).await;
    assert_eq!(res.data()["__typename"], "Query");
}

#[tokio::test]
async fn the_crash_shapes_are_refused_on_every_path_at_every_depth_and_the_process_answers() {
    each_backend(|app| async move {
        for depth in DEPTHS {
            for (shape, doc) in crash_shapes(depth) {
                let what = format!("{shape} at depth {depth}");
                let post = app.post_graphql(json!({ "query": doc })).await;
                assert_eq!(
                    first_code(&post.body),
                    "GRAPHQL_PARSE_FAILED",
                    "POST, {what}"
                );

                let (status, body) = get_query(&app, &doc).await;
                // A URL over 64 KiB gets the HTTP layer's own bare 414.
                if !(status == 414 && body.is_null()) {
                    assert!(matches!(status, 400 | 414), "GET, {what}: {status}");
                    assert_eq!(first_code(&body), "GRAPHQL_PARSE_FAILED", "GET, {what}");
                }

                let batch = app
                    .post_graphql(json!([{ "query": doc }, { "query": "{ __typename }" }]))
                    .await;
                assert_eq!(
                    first_code(&batch.body[0]),
                    "GRAPHQL_PARSE_FAILED",
                    "batch, {what}"
                );
                assert_eq!(
                    batch.body[1]["data"]["__typename"], "Query",
                    "batch, {what}"
                );

                let (_, body) = multipart(&app, &doc).await;
                assert_eq!(
                    first_code(&body),
                    "GRAPHQL_PARSE_FAILED",
                    "multipart, {what}"
                );

                still_answers(&app).await;
            }
        }
    })
    .await;
}

/// Documents mixing what a lexer can get wrong: comments ended by `\r` or `\n`, plain and
/// block strings with their escapes (and one that never ends), and deep runs of every
/// bracket.
fn hostile_document() -> impl Strategy<Value = String> {
    let bracket_run = (0..6usize, 1..3_000usize).prop_map(|(kind, n)| {
        let c = ["[", "{", "(", "]", "}", ")"][kind];
        c.repeat(n)
    });
    let piece = prop_oneof![
        "#[ -~]{0,6}\r",
        "#[ -~]{0,6}\n",
        "#[ -~]{0,6}\r\n",
        Just("\"\"\"".to_owned()),
        Just("\\\"\"\"".to_owned()),
        Just("\"".to_owned()),
        Just("\\\\".to_owned()),
        Just("\\\"".to_owned()),
        Just("\\u00e9".to_owned()),
        "[a-z]{1,4}",
        Just(": ".to_owned()),
        Just("$v".to_owned()),
        Just("...".to_owned()),
        Just("@d".to_owned()),
        Just("1.5e3".to_owned()),
        Just(" ".to_owned()),
        Just(",".to_owned()),
        Just("\u{feff}".to_owned()),
        bracket_run,
    ];
    (
        prop::collection::vec(piece, 0..40),
        prop_oneof![Just(""), Just("{ a(x: "), Just("query($v: ")],
    )
        .prop_map(|(pieces, prefix)| format!("{prefix}{}", pieces.concat()))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96)
}

#[tokio::test]
async fn any_mix_of_comments_strings_and_brackets_gets_a_clean_answer() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        ..Config::default()
    });
    let docs: Vec<String> = (0..cases())
        .map(|_| hostile_document().new_tree(&mut runner).unwrap().current())
        .collect();
    let clean = [
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    ];
    each_backend(|app| {
        let docs = docs.clone();
        async move {
            for doc in &docs {
                let res = app.post_graphql(json!({ "query": doc })).await;
                let code = first_code(&res.body);
                assert!(
                    clean.contains(&code) || res.body.get("data").is_some(),
                    "{doc:?} got {} {}",
                    res.status,
                    res.body
                );
                let (status, body) = get_query(&app, doc).await;
                assert!(
                    matches!(status, 200 | 400 | 405 | 414),
                    "GET {doc:?}: {status}"
                );
                assert!(body.is_object(), "GET {doc:?}: {body}");
            }
            still_answers(&app).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_amplification_request_gets_a_small_answer() {
    let arguments = |n: usize| (0..n).map(|i| format!("a{i}:1")).collect::<Vec<_>>();
    // Far over the JSON cap: refused before a byte of it is parsed.
    each_backend(|app| {
        async move {
            let huge = format!("{{ me({}) {{ id }} }}", arguments(120_000).join(", "));
            assert!(huge.len() > 1_200_000);
            let res = app.post_graphql(json!({ "query": huge })).await;
            assert_eq!(res.status, 413);
            assert_eq!(first_code(&res.body), "GRAPHQL_PARSE_FAILED");
            assert!(res.body.to_string().len() < 300, "{}", res.body);
            // Within the cap, over the token limit: refused before it is parsed.
            let big = format!("{{ me({}) {{ id }} }}", arguments(5_000).join(", "));
            assert!(big.len() < 65_536);
            let res = app.post_graphql(json!({ "query": big })).await;
            assert_eq!(first_code(&res.body), "GRAPHQL_PARSE_FAILED");
            assert!(res.body.to_string().len() < 300, "{}", res.body);
        }
    })
    .await;
    // With room for the tokens, every argument is an error: the answer lists 20 of them and
    // counts the rest, and stays smaller than the request.
    each_backend_with(&[("GRAPHQL_MAX_TOKENS", "50000")], |app| async move {
        let big = format!("{{ me({}) {{ id }} }}", arguments(5_000).join(", "));
        let res = app.post_graphql(json!({ "query": big })).await;
        let errors = res.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 21, "{}", res.body);
        assert!(
            errors
                .iter()
                .all(|e| e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED")
        );
        assert_eq!(errors[20]["extensions"]["omittedErrors"], 5_000 - 20);
        let answer = res.body.to_string().len();
        assert!(answer < big.len(), "{answer} bytes for {}", big.len());
    })
    .await;
}

#[tokio::test]
async fn directives_on_one_field_are_limited() {
    each_backend(|app| async move {
        let five = "@skip(if: false) ".repeat(5);
        let res = app
            .gql(&format!("{{ __typename {five} }}"), json!({}))
            .await;
        assert_eq!(res.data()["__typename"], "Query");
        let six = "@skip(if: false) ".repeat(6);
        let res = app.gql(&format!("{{ __typename {six} }}"), json!({})).await;
        assert_eq!(
            res.error_code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{}",
            res.body
        );
    })
    .await;
}

/// The label values of `label` in the lines of `metric` in a Prometheus text page.
fn label_values(page: &str, metric: &str, label: &str) -> BTreeSet<String> {
    let prefix = format!("{label}=\"");
    page.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let start = l.find(&prefix)? + prefix.len();
            let end = l[start..].find('"')? + start;
            Some(l[start..end].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn unknown_root_fields_and_odd_methods_never_become_label_values() {
    each_backend_with(&[("METRICS_BIND", "127.0.0.1:0")], |app| async move {
        let queries: Vec<String> = (0..1_000).map(|i| format!("{{ zq{i} }}")).collect();
        for chunk in queries.chunks(50) {
            let answers =
                futures_util::future::join_all(chunk.iter().map(|q| app.gql(q, json!({})))).await;
            assert!(
                answers
                    .iter()
                    .all(|r| r.error_code() == "GRAPHQL_VALIDATION_FAILED")
            );
        }
        for i in 0..50 {
            let method = reqwest::Method::from_bytes(format!("XMETHOD{i}").as_bytes()).unwrap();
            for path in ["/graphql", "/healthz", "/nowhere"] {
                let res = app
                    .client
                    .request(method.clone(), app.url(path))
                    .send()
                    .await;
                assert!(res.is_ok());
            }
        }
        let res = app
            .client
            .get(format!("{}/metrics", app.metrics_url.clone().unwrap()))
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("x-request-id"), "{res:?}");
        let page = res.text().await.unwrap();
        let operations = label_values(&page, "authql_graphql_operations_total", "operation");
        assert!(operations.contains("invalid"), "{operations:?}");
        let roots = schema_root_fields();
        for op in &operations {
            assert!(
                roots.contains(op)
                    || [
                        "__typename",
                        "__schema",
                        "__type",
                        "invalid",
                        "multiple",
                        "none"
                    ]
                    .contains(&op.as_str()),
                "{op} is not a closed label value"
            );
        }
        let methods = label_values(&page, "authql_http_requests_total", "method");
        let standard = [
            "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "CONNECT", "TRACE", "other",
        ];
        assert!(methods.contains("other"), "{methods:?}");
        assert!(
            methods.iter().all(|m| standard.contains(&m.as_str())),
            "{methods:?}"
        );
        let routes = label_values(&page, "authql_http_requests_total", "route");
        assert!(routes.iter().all(|r| r.len() < 40), "{routes:?}");
    })
    .await;
}

/// The root fields of the schema, read from its SDL.
fn schema_root_fields() -> BTreeSet<String> {
    let doc = async_graphql::parser::parse_schema(authql::graphql::sdl()).unwrap();
    let mut names = BTreeSet::new();
    for def in doc.definitions {
        if let async_graphql::parser::types::TypeSystemDefinition::Type(ty) = def
            && let async_graphql::parser::types::TypeKind::Object(o) = &ty.node.kind
            && matches!(ty.node.name.node.as_str(), "Query" | "Mutation")
        {
            names.extend(o.fields.iter().map(|f| f.node.name.node.to_string()));
        }
    }
    names
}

#[tokio::test]
async fn what_a_request_line_logs_is_bounded() {
    each_backend(|app| async move {
        let id = format!("longpath-{}", uuid::Uuid::new_v4().simple());
        let path = format!("/{}", "p".repeat(20_000));
        let res = app
            .client
            .request(
                reqwest::Method::from_bytes(b"XLONGMETHOD").unwrap(),
                app.url(&path),
            )
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        let line: Value = logs()
            .lines()
            .find(|l| l.contains(&id) && l.contains("request done"))
            .map(|l| serde_json::from_str(l).unwrap())
            .expect("the request's log line");
        let span = &line["span"];
        assert!(span["path"].as_str().unwrap().len() < 300, "{span}");
        assert_eq!(span["method"], "other");
    })
    .await;
}

#[tokio::test]
async fn with_introspection_off_asking_for_the_schema_says_so() {
    each_backend_with(&[("GRAPHQL_INTROSPECTION", "false")], |app| async move {
        for query in [
            "{ __schema { types { name } } }",
            "{ __type(name: \"User\") { name } }",
            "query { ...F } fragment F on Query { __schema { queryType { name } } }",
        ] {
            let res = app.gql(query, json!({})).await;
            assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED", "{query}");
            let message = res.body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("Introspection is turned off"), "{message}");
        }
        // `__typename` is not introspection.
        let res = app.gql("{ __typename }", json!({})).await;
        assert_eq!(res.data()["__typename"], "Query");
    })
    .await;
}

#[tokio::test]
async fn an_undefined_variable_is_a_validation_failure_and_a_missing_one_bad_input() {
    each_backend(|app| async move {
        for query in [
            "query { profile(username: $who) { username } }",
            "query { ...F } fragment F on Query { profile(username: $who) { username } }",
        ] {
            let res = app.gql(query, json!({})).await;
            assert_eq!(
                res.error_code(),
                "GRAPHQL_VALIDATION_FAILED",
                "{}",
                res.body
            );
        }
        // A declared variable that is not sent is bad input on that variable, on every
        // path.
        let query = "query($who: String!) { profile(username: $who) { username } }";
        let res = app.gql(query, json!({ "other": 1 })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT", "{}", res.body);
        assert_eq!(res.body["errors"][0]["extensions"]["field"], "who");
        let (_, body) = get_query(&app, query).await;
        assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "who");
    })
    .await;
}

/// `query { ...F0 }` where each fragment spreads the next twice: a few hundred bytes that
/// select 2^n fields.
fn doubling_fragments(n: usize) -> String {
    let mut doc = String::from("query { ...F0 }");
    for i in 0..n {
        doc.push_str(&format!(
            " fragment F{i} on Query {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    doc.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
    doc
}

#[tokio::test]
async fn fragments_spread_into_millions_of_fields_are_refused_before_they_are_walked() {
    each_backend(|app| async move {
        // Within the limit: answered.
        let res = app.gql(&doubling_fragments(8), json!({})).await;
        assert_eq!(res.data()["__typename"], "Query");
        for n in [10, 22, 60] {
            let res = app.gql(&doubling_fragments(n), json!({})).await;
            assert_eq!(
                res.error_code(),
                "GRAPHQL_VALIDATION_FAILED",
                "n={n}: {}",
                res.body
            );
            let message = res.body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("fields"), "{message}");
        }
        // A long chain of fragments spread inside one another, used or not.
        let mut chain = String::from("{ __typename }");
        for i in 0..200 {
            chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        chain.push_str(" fragment F200 on Query { __typename }");
        let res = app.gql(&chain, json!({})).await;
        assert_eq!(
            res.error_code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{}",
            res.body
        );
        still_answers(&app).await;
    })
    .await;
}

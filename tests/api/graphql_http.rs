//! GraphQL over HTTP: content types, negotiation, status codes and error codes.

use serde_json::json;

use crate::harness::each_backend;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_post_with_json_runs_the_query() {
    each_backend(|app| async move {
        let res = app.gql("{ __typename }", json!({})).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.data()["__typename"], "Query");
    })
    .await;
}

#[tokio::test]
async fn a_get_with_a_query_parameter_runs_it() {
    each_backend(|app| async move {
        let res = app
            .client
            .get(app.url("/graphql"))
            .query(&[
                (
                    "query",
                    "query Q($u: String!) { profile(username: $u) { username } }",
                ),
                ("variables", r#"{"u":"nobody"}"#),
                ("operationName", "Q"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, json!({ "data": { "profile": null } }));
    })
    .await;
}

#[tokio::test]
async fn the_response_type_follows_the_accept_header() {
    each_backend(|app| async move {
        for (accept, expected) in [
            (None, "application/json"),
            (Some("application/json"), "application/json"),
            (Some("*/*"), "application/json"),
            (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                GRAPHQL_RESPONSE,
            ),
        ] {
            let mut req = app
                .client
                .post(app.url("/graphql"))
                .json(&json!({ "query": "{ __typename }" }));
            if let Some(accept) = accept {
                req = req.header("accept", accept);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with(expected), "Accept {accept:?} gave {ct}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_request_error_is_400_for_graphql_response_json_and_200_for_json() {
    each_backend(|app| async move {
        for (accept, status) in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)] {
            let res = app
                .client
                .post(app.url("/graphql"))
                .header("accept", accept)
                .json(&json!({ "query": "{ noSuchField }" }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), status, "Accept {accept}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(
                body["errors"][0]["extensions"]["code"],
                "GRAPHQL_VALIDATION_FAILED"
            );
            // A request error has no data entry at all.
            assert!(body.get("data").is_none(), "{body}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_syntax_error_is_graphql_parse_failed() {
    each_backend(|app| async move {
        let res = app.gql("{ profile(username: ", json!({})).await;
        assert_eq!(res.error_code(), "GRAPHQL_PARSE_FAILED");
    })
    .await;
}

#[tokio::test]
async fn a_variable_of_the_wrong_type_is_bad_user_input() {
    each_backend(|app| async move {
        let q = "query($u: String!) { profile(username: $u) { username } }";
        let res = app.gql(q, json!({ "u": 42 })).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        let res = app.gql(q, json!({})).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_operation_name_is_a_validation_failure() {
    each_backend(|app| async move {
        let res = app
            .post_graphql(json!({ "query": "query A { __typename }", "operationName": "B" }))
            .await;
        assert_eq!(res.error_code(), "GRAPHQL_VALIDATION_FAILED");
    })
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_is_a_400_with_a_graphql_error() {
    each_backend(|app| async move {
        for body in ["not json", "[]", "{\"query\": 5}", "42"] {
            let res = app
                .client
                .post(app.url("/graphql"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "body {body:?}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert_eq!(
                json["errors"][0]["extensions"]["code"],
                "GRAPHQL_PARSE_FAILED"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn only_json_bodies_may_carry_an_operation() {
    each_backend(|app| async move {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/html",
        ] {
            let res = app
                .client
                .post(app.url("/graphql"))
                .header("content-type", content_type)
                .body(r#"{"query":"{ __typename }"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 415, "{content_type}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert!(json["errors"][0]["extensions"]["code"].is_string());
            assert!(json.get("data").is_none());
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_gets_one_response_per_operation() {
    each_backend(|app| async move {
        let res = app
            .post_graphql(json!([
                { "query": "{ __typename }" },
                { "query": "{ nope }" },
            ]))
            .await;
        assert_eq!(res.status, 200);
        let items = res.body.as_array().expect("an array");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["data"]["__typename"], "Query");
        assert_eq!(
            items[1]["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    })
    .await;
}

#[tokio::test]
async fn a_get_without_a_query_is_a_400_unless_a_browser_asks_for_the_page() {
    each_backend(|app| async move {
        let res = app.get("/graphql").await;
        assert_eq!(res.status(), 400);
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "GRAPHQL_PARSE_FAILED"
        );

        let res = app
            .client
            .get(app.url("/graphql"))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("/graphiql/graphiql.min.js")
        );
    })
    .await;
}

#[tokio::test]
async fn a_browser_following_a_query_link_gets_the_result_not_the_page() {
    each_backend(|app| async move {
        let res = app
            .client
            .get(app.url("/graphql?query=%7B__typename%7D"))
            .header("accept", "text/html,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query");
    })
    .await;
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    each_backend(|app| async move {
        let huge = "x".repeat(3 * 1024 * 1024);
        let res = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": format!("{{ __typename }} # {huge}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_PARSE_FAILED"
        );
    })
    .await;
}

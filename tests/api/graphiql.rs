//! The embedded GraphiQL playground: served by the binary, working with no internet access.

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    browser::{Browser, find_chromium},
    each_backend,
    eventually::{eventually_blocking, within_blocking},
};

#[tokio::test]
async fn graphiql_page_and_assets_are_served_by_the_binary() {
    each_backend(|app| async move {
        let page = app.get("/graphiql").await;
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        let html = page.text().await.unwrap();
        for (file, kind) in [
            ("graphiql.min.js", "text/javascript"),
            ("graphiql.min.css", "text/css"),
            ("react.production.min.js", "text/javascript"),
            ("react-dom.production.min.js", "text/javascript"),
            ("init.js", "text/javascript"),
            ("page.css", "text/css"),
        ] {
            assert!(
                html.contains(&format!("/graphiql/{file}")),
                "{file} not on the page"
            );
            let res = app.get(&format!("/graphiql/{file}")).await;
            assert_eq!(res.status(), 200, "{file}");
            let ct = res.headers()["content-type"].to_str().unwrap();
            assert!(ct.starts_with(kind), "{file}: {ct}");
            assert!(!res.bytes().await.unwrap().is_empty());
        }
    })
    .await;
}

/// Whether a URL the page requested stays on the service (or inside the page).
fn is_local(url: &str, base: &str) -> bool {
    url.starts_with(&format!("{base}/")) || url.starts_with("data:") || url == "about:blank"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_a_headless_browser_without_leaving_the_service() {
    let Some(chromium) = find_chromium() else {
        // CI installs Chromium (.ci/run) and must never get here; on a developer machine
        // without it, say so loudly rather than pretend the browser check ran.
        let in_ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
        assert!(
            !in_ci,
            "Chromium is required in CI: apt-get install chromium (or set CHROMIUM)"
        );
        eprintln!(
            "WARNING: Chromium not found; the in-browser GraphiQL check did not run \
             (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"
        );
        return;
    };
    each_backend(|app| {
        let chromium = chromium.clone();
        async move {
            let base = app.base_url.clone();
            let result = tokio::task::spawn_blocking(move || drive_graphiql(&chromium, &base))
                .await
                .unwrap();
            let Driven {
                answer,
                urls,
                first_document,
                editors,
            } = result;
            // It opens on a document that walks the main flows as named operations, with
            // their variables, and the headers pane showing where the token goes.
            for op in [
                "mutation SignUp(",
                "mutation Login(",
                "query Me",
                "mutation Refresh(",
                "mutation Logout(",
            ] {
                assert!(
                    first_document.contains(op),
                    "{op} missing: {first_document}"
                );
            }
            assert!(editors.contains("Bearer <accessToken>"), "{editors}");
            assert!(
                editors.contains("correct-horse-battery-staple"),
                "{editors}"
            );
            assert!(answer.contains("\"__typename\": \"Query\""), "{answer}");
            assert!(
                urls.iter()
                    .any(|u| u == &format!("{}/graphql", app.base_url)),
                "the query never reached /graphql: {urls:?}"
            );
            let foreign: Vec<_> = urls
                .iter()
                .filter(|u| !is_local(u, &app.base_url))
                .collect();
            assert!(
                foreign.is_empty(),
                "the page reached other hosts: {foreign:?}"
            );
        }
    })
    .await;
}

/// What a visit to the playground saw.
struct Driven {
    /// The result pane's text after running `{ __typename }`.
    answer: String,
    /// Every URL the page requested.
    urls: Vec<String>,
    /// The query editor's text when the page opened.
    first_document: String,
    /// The text of every editor (query, variables, headers) when the page opened.
    editors: String,
}

/// Opens `/graphql` as a browser would, reads the document it opens with, types
/// `{ __typename }` into the editor, runs it and returns what it saw.
fn drive_graphiql(chromium: &std::path::Path, base: &str) -> Driven {
    let mut browser = Browser::launch(chromium);
    let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let s = session.as_str();
    for domain in [
        "Network.enable",
        "Runtime.enable",
        "Log.enable",
        "Page.enable",
    ] {
        browser.call(Some(s), domain, json!({}));
    }
    browser.call(
        Some(s),
        "Page.navigate",
        json!({ "url": format!("{base}/graphql") }),
    );

    let editor = ".graphiql-query-editor .CodeMirror";
    browser.wait_for(
        s,
        &format!("!!document.querySelector('{editor}')?.CodeMirror"),
        Duration::from_secs(30),
    );
    let first_document = browser
        .eval(
            s,
            &format!("document.querySelector('{editor}').CodeMirror.getValue()"),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let editors = browser
        .eval(
            s,
            "Array.from(document.querySelectorAll('.CodeMirror')) \
             .map(e => e.CodeMirror.getValue()).join('\\n---\\n')",
        )
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The playground may still be starting (its schema loading) when the editor appears: a
    // click that lands before it is wired does nothing, so it is clicked again until the
    // answer shows, for at most 30 s.
    let run = format!(
        "(() => {{ const cm = document.querySelector('{editor}').CodeMirror; \
         if (cm.getValue() !== '{{ __typename }}') cm.setValue('{{ __typename }}'); \
         document.querySelector('.graphiql-execute-button').click(); return true; }})()"
    );
    let result = "(() => { const r = document.querySelector('.result-window .CodeMirror'); \
         const v = r && r.CodeMirror.getValue(); \
         return v && v.includes('__typename') ? v : ''; })()";
    let every = Duration::from_millis(100);
    let answer = eventually_blocking(
        "GraphiQL showing the answer to { __typename }",
        Duration::from_secs(30),
        Duration::ZERO,
        || {
            browser.eval(s, &run);
            within_blocking(Duration::from_secs(3), every, || {
                let v = browser.eval(s, result);
                if v.as_str().is_some_and(|v| !v.is_empty()) {
                    Ok(v)
                } else {
                    Err(v)
                }
            })
        },
    );
    browser.drain_events();

    let problems: Vec<_> = browser
        .events_named("Runtime.exceptionThrown")
        .into_iter()
        .chain(
            browser
                .events_named("Log.entryAdded")
                .into_iter()
                .filter(|e| e["params"]["entry"]["level"] == json!("error")),
        )
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.is_empty(),
        "the page reported errors: {problems:#?}"
    );

    let urls = browser
        .events_named("Network.requestWillBeSent")
        .iter()
        .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
        .collect();
    Driven {
        answer: answer.as_str().unwrap_or_default().to_owned(),
        urls,
        first_document,
        editors,
    }
}

//! Cookie mode (`X-Authql-Cookie: 1`): the refresh token in an `HttpOnly` cookie, read by
//! `refresh` and `logout` without an argument, and only for trusted origins.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::{Gql, LOGIN, PASSWORD, TestApp, each_backend, each_backend_with};

const REFRESH: &str = "mutation { refresh { accessToken refreshToken refreshExpiresIn \
    user { username } } }";
const LOGOUT: &str = "mutation { logout }";

/// A browser's cookie jar for authql's refresh cookie, shared by its tabs.
#[derive(Clone, Default)]
struct Jar(Arc<Mutex<Option<String>>>);

impl Jar {
    fn value(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }

    fn set(&self, value: Option<String>) {
        *self.0.lock().unwrap() = value;
    }
}

/// One answer: the body and the `Set-Cookie` headers.
struct Answer {
    gql: Gql,
    set_cookie: Vec<String>,
}

impl Answer {
    /// The one `Set-Cookie` of the answer, after asserting there is exactly one.
    fn cookie(&self) -> SetCookie {
        assert_eq!(self.set_cookie.len(), 1, "{:?}", self.set_cookie);
        SetCookie::parse(&self.set_cookie[0])
    }
}

/// A `Set-Cookie` header, taken apart.
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn parse(header: &str) -> Self {
        let mut parts = header.split("; ");
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes: parts.map(str::to_owned).collect(),
        }
    }

    fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a == attribute)
    }

    fn max_age(&self) -> i64 {
        self.attributes
            .iter()
            .find_map(|a| a.strip_prefix("Max-Age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Max-Age: {self:?}"))
    }
}

/// A page of `origin` calling authql in cookie mode with the cookies of `jar` (which it
/// keeps up to date, as a browser does), or with extra `headers` in place of the default.
struct Page<'a> {
    app: &'a TestApp,
    origin: Option<String>,
    jar: Jar,
    cookie_name: &'static str,
    cookie_header: Option<&'static str>,
}

impl<'a> Page<'a> {
    fn own(app: &'a TestApp, jar: &Jar) -> Self {
        Self::from_origin(app, Some(app.base_url.clone()), jar)
    }

    fn from_origin(app: &'a TestApp, origin: Option<String>, jar: &Jar) -> Self {
        Self {
            app,
            origin,
            jar: jar.clone(),
            cookie_name: "authql_refresh",
            cookie_header: Some("1"),
        }
    }

    async fn call(&self, query: &str, variables: Value) -> Answer {
        let mut req = self
            .app
            .client
            .post(self.app.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(value) = self.cookie_header {
            req = req.header("x-authql-cookie", value);
        }
        if let Some(origin) = &self.origin {
            req = req.header("origin", origin);
        }
        if let Some(value) = self.jar.value() {
            req = req.header("cookie", format!("other=1; {}={value}", self.cookie_name));
        }
        let res = req.send().await.expect("request sent");
        let set_cookie: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for header in &set_cookie {
            let cookie = SetCookie::parse(header);
            if cookie.name == self.cookie_name {
                self.jar.set((cookie.max_age() > 0).then_some(cookie.value));
            }
        }
        let status = res.status();
        let body = res.json().await.expect("a JSON body");
        Answer {
            gql: Gql { status, body },
            set_cookie,
        }
    }

    async fn login(&self, username: &str) -> Answer {
        let vars = json!({ "i": { "usernameOrEmail": username, "password": PASSWORD } });
        self.call(LOGIN, vars).await
    }
}

async fn signed_up(app: &TestApp, username: &str) {
    let res = app
        .sign_up(username, &format!("{username}@example.com"), PASSWORD)
        .await;
    assert_eq!(res.data()["signUp"], true);
}

#[tokio::test]
async fn a_sign_in_in_cookie_mode_keeps_the_refresh_token_out_of_the_body() {
    each_backend(|app| async move {
        signed_up(&app, "ada").await;
        let jar = Jar::default();
        let page = Page::own(&app, &jar);
        let login = page.login("ada").await;
        let payload = &login.gql.data()["login"];
        assert_eq!(payload["refreshToken"], "", "the body never holds it");
        let cookie = login.cookie();
        // Plain http in development: no `__Host-` prefix and no `Secure`.
        assert_eq!(cookie.name, "authql_refresh");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.has(attribute), "{cookie:?}");
        }
        assert!(!cookie.has("Secure"));
        assert!(!cookie.attributes.iter().any(|a| a.starts_with("Domain")));
        assert_eq!(
            cookie.max_age(),
            payload["refreshExpiresIn"].as_i64().unwrap()
        );
        assert_eq!(cookie.value.len(), 43);

        // The cookie refreshes, and is replaced by the new token.
        let first = cookie.value;
        let refreshed = page.call(REFRESH, json!({})).await;
        let pair = &refreshed.gql.data()["refresh"];
        assert_eq!(pair["refreshToken"], "");
        assert_eq!(pair["user"]["username"], "ada");
        let second = refreshed.cookie().value;
        assert_ne!(second, first);
        let access = pair["accessToken"].as_str().unwrap();
        assert_eq!(app.me(access).await.data()["me"]["username"], "ada");

        // The cookie's token is an ordinary refresh token: past the grace for racing tabs,
        // the spent one is refused...
        app.advance(std::time::Duration::from_secs(11));
        let replay = app.refresh(&first).await;
        assert_eq!(replay.error_code(), "UNAUTHENTICATED");
        // ...which ended the session (reuse detection), whatever the cookie now holds.
        assert_eq!(app.refresh(&second).await.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn logout_ends_the_cookies_session_and_clears_it() {
    each_backend(|app| async move {
        signed_up(&app, "bea").await;
        let jar = Jar::default();
        let page = Page::own(&app, &jar);
        let login = page.login("bea").await;
        let access = login.gql.data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = login.cookie().value;

        let out = page.call(LOGOUT, json!({})).await;
        assert_eq!(out.gql.data()["logout"], true);
        let cleared = out.cookie();
        assert_eq!(cleared.max_age(), 0);
        assert_eq!(cleared.value, "");
        assert!(jar.value().is_none());
        assert_eq!(app.me(&access).await.error_code(), "UNAUTHENTICATED");
        assert_eq!(app.refresh(&token).await.error_code(), "UNAUTHENTICATED");

        // Signed out, the page has no cookie to refresh with.
        let again = page.call(REFRESH, json!({})).await;
        assert_eq!(again.gql.error_code(), "UNAUTHENTICATED");
        assert_eq!(again.cookie().max_age(), 0);

        // A stale cookie (the browser kept it past the session) is refused and cleared.
        jar.set(Some(token));
        let stale = page.call(REFRESH, json!({})).await;
        assert_eq!(stale.gql.error_code(), "UNAUTHENTICATED");
        assert_eq!(stale.cookie().max_age(), 0);
        assert!(jar.value().is_none());
    })
    .await;
}

#[tokio::test]
async fn another_origin_cannot_use_the_cookie() {
    each_backend(|app| async move {
        signed_up(&app, "cyd").await;
        let jar = Jar::default();
        let own = Page::own(&app, &jar);
        let login = own.login("cyd").await;
        let access = login.gql.data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = login.cookie().value;

        // Another port on the same host is another origin; no Origin at all is none.
        let port: u16 = app.base_url.rsplit(':').next().unwrap().parse().unwrap();
        let foreign = [
            Some(format!("http://127.0.0.1:{}", port.wrapping_add(1))),
            Some(format!("http://localhost:{port}")),
            Some("null".to_owned()),
            None,
        ];
        for origin in foreign {
            let page = Page::from_origin(&app, origin.clone(), &jar);
            for query in [REFRESH, LOGOUT] {
                let res = page.call(query, json!({})).await;
                assert_eq!(res.gql.status, 403, "{origin:?}: {}", res.gql.body);
                assert_eq!(res.gql.error_code(), "FORBIDDEN");
                assert!(res.set_cookie.is_empty());
            }
            // Not even a sign-in sets the cookie for it.
            let res = page.login("cyd").await;
            assert_eq!(res.gql.status, 403);
            assert!(res.set_cookie.is_empty());
        }
        // Without the header the cookie is not read at all.
        let mut plain = Page::own(&app, &jar);
        plain.cookie_header = None;
        let res = plain.call(REFRESH, json!({})).await;
        assert_eq!(res.gql.error_code(), "BAD_USER_INPUT");
        assert_eq!(
            res.gql.body["errors"][0]["extensions"]["field"],
            "refreshToken"
        );
        let res = plain.call(LOGOUT, json!({})).await;
        assert_eq!(res.gql.error_code(), "BAD_USER_INPUT");
        // A header other than `1` is refused.
        plain.cookie_header = Some("true");
        let res = plain.call(REFRESH, json!({})).await;
        assert_eq!(res.gql.status, 400);
        assert_eq!(res.gql.error_code(), "FORBIDDEN");

        // Nothing of the above touched the session or the cookie.
        assert_eq!(jar.value().as_deref(), Some(token.as_str()));
        app.me(&access).await.data();
        own.call(REFRESH, json!({})).await.gql.data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tabs_sharing_the_cookie_refresh_at_once_and_stay_signed_in() {
    each_backend(|app| async move {
        signed_up(&app, "dot").await;
        let jar = Jar::default();
        Page::own(&app, &jar).login("dot").await.gql.data();
        let shared = jar.value().unwrap();
        // Every tab sends the cookie the browser holds now; their answers land in any order.
        let tabs: Vec<Page<'_>> = (0..8)
            .map(|_| {
                let tab = Page::own(&app, &Jar::default());
                tab.jar.set(Some(shared.clone()));
                tab
            })
            .collect();
        let answers =
            futures_util::future::join_all(tabs.iter().map(|t| t.call(REFRESH, json!({})))).await;
        let mut next = None;
        for answer in &answers {
            let access = answer.gql.data()["refresh"]["accessToken"]
                .as_str()
                .unwrap();
            app.me(access).await.data();
            let value = answer.cookie().value;
            // All racing tabs are handed the same successor: whichever answer the browser
            // stores last, the jar holds a live token.
            assert_eq!(next.get_or_insert(value.clone()), &value);
        }
        jar.set(next);
        let after = Page::own(&app, &jar).call(REFRESH, json!({})).await;
        after.gql.data();
    })
    .await;
}

#[tokio::test]
async fn https_gets_the_host_prefixed_secure_cookie() {
    let public = "https://auth.example.test";
    each_backend_with(&[("PUBLIC_URL", public)], |app| async move {
        signed_up(&app, "eve").await;
        let jar = Jar::default();
        let mut page = Page::from_origin(&app, Some(public.to_owned()), &jar);
        page.cookie_name = "__Host-authql_refresh";
        let cookie = page.login("eve").await.cookie();
        assert_eq!(cookie.name, "__Host-authql_refresh");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(cookie.has(attribute), "{cookie:?}");
        }
        page.call(REFRESH, json!({})).await.gql.data();
        // The relaxed development name is not read over https.
        page.cookie_name = "authql_refresh";
        let res = page.call(REFRESH, json!({})).await;
        assert_eq!(res.gql.error_code(), "UNAUTHENTICATED");
        assert_eq!(res.cookie().name, "__Host-authql_refresh");
    })
    .await;
}

#[tokio::test]
async fn a_listed_origin_gets_credentialed_cors_and_cookie_mode() {
    let app_origin = "http://app.example.test:5173";
    each_backend_with(&[("CORS_ORIGINS", app_origin)], |app| async move {
        let preflight = |origin| app.preflight(origin, "content-type,x-authql-cookie");
        let ok = preflight(app_origin).await;
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], app_origin);
        assert_eq!(h["access-control-allow-credentials"], "true");
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.contains("x-authql-cookie"), "{allowed}");
        let refused = preflight("http://evil.example.test").await;
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );

        signed_up(&app, "fay").await;
        let jar = Jar::default();
        let page = Page::from_origin(&app, Some(app_origin.to_owned()), &jar);
        page.login("fay").await.gql.data();
        let res = page.call(REFRESH, json!({})).await;
        res.gql.data();
        assert_eq!(res.set_cookie.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_wildcard_cors_setting_never_shares_credentials() {
    each_backend_with(&[("CORS_ORIGINS", "*")], |app| async move {
        let res = app
            .preflight("http://anywhere.example.test", "x-authql-cookie")
            .await;
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert!(
            res.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        // Nor does `*` make a website a trusted origin for cookie mode.
        let page = Page::from_origin(
            &app,
            Some("http://anywhere.example.test".to_owned()),
            &Jar::default(),
        );
        assert_eq!(page.call(REFRESH, json!({})).await.gql.status, 403);
    })
    .await;
}

#[tokio::test]
async fn a_garbage_or_huge_cookie_is_no_refresh_token() {
    each_backend(|app| async move {
        let jar = Jar::default();
        let page = Page::own(&app, &jar);
        for junk in ["x", "\"quoted\"", &"A".repeat(4000), &"A".repeat(44), "a=b"] {
            jar.set(Some(junk.to_owned()));
            let res = page.call(REFRESH, json!({})).await;
            assert_eq!(res.gql.error_code(), "UNAUTHENTICATED", "{}", res.gql.body);
            assert_eq!(res.cookie().max_age(), 0);
        }
    })
    .await;
}

#[tokio::test]
async fn reauthenticate_in_cookie_mode_replaces_the_cookie() {
    each_backend(|app| async move {
        signed_up(&app, "gus").await;
        let jar = Jar::default();
        let page = Page::own(&app, &jar);
        let login = page.login("gus").await;
        let old = login.cookie().value;
        let access = login.gql.data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&access)
            .header("x-authql-cookie", "1")
            .header("origin", &app.base_url)
            .json(&json!({
                "query": "mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { refreshToken } }",
                "variables": { "i": { "password": PASSWORD } },
            }))
            .send()
            .await
            .unwrap();
        let set = SetCookie::parse(res.headers()["set-cookie"].to_str().unwrap());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["reauthenticate"]["refreshToken"], "", "{body}");
        assert_ne!(set.value, old);
        jar.set(Some(set.value));
        page.call(REFRESH, json!({})).await.gql.data();
    })
    .await;
}

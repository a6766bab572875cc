//! The account pages under `/account/`, driven in headless Chromium against a real authql:
//! sign up, the mailed link, sign in, the HttpOnly refresh cookie across reloads and tabs,
//! a foreign origin, sign-out, the reset flow, the security page (sessions, TOTP), and live
//! sign-out across replicas.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    PASSWORD,
    browser::{Browser, find_chromium},
    each_backend, each_backend_alone,
    eventually::eventually,
};

/// Chromium, or `None` off CI when it is not installed (CI installs it and fails without).
fn chromium() -> Option<std::path::PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        let in_ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
        assert!(
            !in_ci,
            "Chromium is required in CI: apt-get install chromium (or set CHROMIUM)"
        );
        eprintln!("WARNING: Chromium not found; the account pages were not driven");
    }
    found
}

/// A headless Chromium whose protocol calls block their thread only (the service runs on
/// the test's other threads meanwhile).
struct Chrome(Browser);

/// One tab (a DevTools session).
#[derive(Clone)]
struct Tab(String);

const SLOW: Duration = Duration::from_secs(20);

/// Now, in milliseconds since the Unix epoch (the clock `performance.timeOrigin` uses).
fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// True once the security page says the password was changed.
const PASSWORD_CHANGED: &str = "document.querySelector('#change-password')?.previousElementSibling\
     ?.textContent?.startsWith('Password changed')";

impl Chrome {
    fn launch(path: &std::path::Path) -> Self {
        Self(Browser::launch(path))
    }

    fn call(&mut self, tab: Option<&Tab>, method: &str, params: Value) -> Value {
        tokio::task::block_in_place(|| self.0.call(tab.map(|t| t.0.as_str()), method, params))
    }

    fn open(&mut self, url: &str) -> Tab {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let tab = Tab(attached["sessionId"].as_str().unwrap().to_owned());
        for domain in [
            "Network.enable",
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
        ] {
            self.call(Some(&tab), domain, json!({}));
        }
        self.go(&tab, url);
        tab
    }

    fn go(&mut self, tab: &Tab, url: &str) {
        self.call(Some(tab), "Page.navigate", json!({ "url": url }));
    }

    fn reload(&mut self, tab: &Tab) {
        self.call(Some(tab), "Page.reload", json!({}));
    }

    fn eval(&mut self, tab: &Tab, expression: &str) -> Value {
        tokio::task::block_in_place(|| self.0.eval(&tab.0, expression))
    }

    fn wait(&mut self, tab: &Tab, expression: &str) -> Value {
        tokio::task::block_in_place(|| self.0.wait_for(&tab.0, expression, SLOW))
    }

    /// Waits for the page at `path` (under `/account/`) with an `h1` of `title`.
    fn wait_page(&mut self, tab: &Tab, path: &str, title: &str) {
        self.wait(
            tab,
            &format!(
                "location.pathname.endsWith('/account/{path}') && \
                 document.querySelector('h1')?.textContent === {title:?}"
            ),
        );
    }

    fn fill(&mut self, tab: &Tab, id: &str, value: &str) {
        self.eval(
            tab,
            &format!(
                "(() => {{ document.getElementById({id:?}).value = {value:?}; return true }})()"
            ),
        );
    }

    fn click(&mut self, tab: &Tab, selector: &str) {
        self.wait(tab, &format!("!!document.querySelector({selector:?})"));
        self.eval(
            tab,
            &format!("(() => {{ document.querySelector({selector:?}).click(); return true }})()"),
        );
    }

    fn text(&mut self, tab: &Tab, selector: &str) -> String {
        self.wait(
            tab,
            &format!("document.querySelector({selector:?})?.textContent"),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The browser's cookies for `url`, as the DevTools protocol reports them.
    fn cookies(&mut self, tab: &Tab, url: &str) -> Vec<Value> {
        let res = self.call(Some(tab), "Network.getCookies", json!({ "urls": [url] }));
        res["cookies"].as_array().cloned().unwrap_or_default()
    }

    fn sign_in(&mut self, tab: &Tab, base: &str, who: &str, password: &str) {
        self.go(tab, &format!("{base}/account/sign-in"));
        self.wait_page(tab, "sign-in", "Sign in");
        self.fill(tab, "sign-in-usernameOrEmail", who);
        self.fill(tab, "sign-in-password", password);
        self.click(tab, "#sign-in button[type=submit]");
        self.wait_page(tab, "security", "Security");
    }

    /// Errors the pages threw or logged, and URLs they requested outside `base`.
    fn problems(&mut self, base: &str) -> Vec<String> {
        tokio::task::block_in_place(|| self.0.drain_events());
        let b = &self.0;
        let mut found: Vec<String> = b
            .events_named("Runtime.exceptionThrown")
            .into_iter()
            .chain(
                b.events_named("Log.entryAdded")
                    .into_iter()
                    .filter(|e| e["params"]["entry"]["level"] == json!("error"))
                    // A refused request is logged by the browser; the tests cause those.
                    .filter(|e| e["params"]["entry"]["source"] != json!("network")),
            )
            .map(ToString::to_string)
            .collect();
        found.extend(
            b.events_named("Network.requestWillBeSent")
                .iter()
                .filter_map(|e| e["params"]["request"]["url"].as_str())
                .filter(|u| !(u.starts_with(base) || u.starts_with("data:") || *u == "about:blank"))
                .map(|u| format!("left the service: {u}")),
        );
        found
    }
}

/// A page at another origin (another port on the same host) that tries to use authql's
/// cookie: a tiny HTTP server answering every request with `html`.
fn foreign_origin(html: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    format!("http://{addr}")
}

/// The TOTP code of `secret` (base32) at the service's clock, by an implementation that is
/// not the service's.
fn totp_now(app: &crate::harness::TestApp, secret: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 key");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build_noncompliant();
    let at = u64::try_from(app.state.clock.now().timestamp()).unwrap();
    totp.generate(at).to_string()
}

/// Where the screenshot of the account page is kept: the repository's copy when
/// `AUTHQL_UPDATE_SCREENSHOT=1`, otherwise beside the build.
fn screenshot_path() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var("AUTHQL_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        root.join("docs/account-security.png")
    } else {
        root.join("target/account-security.png")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newcomer_signs_up_opens_the_mailed_link_and_stays_signed_in_with_the_cookie() {
    let Some(path) = chromium() else { return };
    each_backend(|app| {
        let path = path.clone();
        async move {
            let base = app.base_url.clone();
            let mut chrome = Chrome::launch(&path);

            // Sign-up answers every bad field at once, beside each field.
            let tab = chrome.open(&format!("{base}/account/sign-up"));
            chrome.wait_page(&tab, "sign-up", "Create an account");
            chrome.fill(&tab, "sign-up-username", "a");
            chrome.fill(&tab, "sign-up-email", "not-an-email");
            chrome.fill(&tab, "sign-up-password", "short");
            chrome.click(&tab, "#sign-up button[type=submit]");
            chrome.wait(
                &tab,
                "document.querySelectorAll('#sign-up [aria-invalid=true]').length === 3",
            );
            let described = chrome.eval(
                &tab,
                "document.getElementById('sign-up-email').getAttribute('aria-describedby')",
            );
            assert!(described.as_str().unwrap().contains("sign-up-email-error"));

            chrome.fill(&tab, "sign-up-username", "newcomer");
            chrome.fill(&tab, "sign-up-email", "newcomer@example.com");
            chrome.fill(&tab, "sign-up-password", PASSWORD);
            chrome.click(&tab, "#sign-up button[type=submit]");
            chrome.wait_page(&tab, "sign-up", "Check your inbox");

            // The mailed link opens the page, which verifies the address.
            let mail = app
                .smtp
                .wait_for("newcomer@example.com", "Confirm your email")
                .await;
            let link = mail.link("verify-email").expect("a verification link");
            assert!(link.starts_with(&format!("{base}/account/verify-email?token=")), "{link}");
            chrome.go(&tab, &link);
            chrome.wait_page(&tab, "verify-email", "Email confirmed");
            // The link's token is gone from the address bar (and so from history).
            assert_eq!(chrome.eval(&tab, "location.search"), "");
            let me = app.login_ok("newcomer", PASSWORD).await;
            let verified = app.gql_as(&me.access, "{ me { emailVerified } }", json!({})).await;
            assert_eq!(verified.data()["me"]["emailVerified"], true);

            // Sign in on the page: the refresh token is an HttpOnly cookie script cannot read.
            chrome.sign_in(&tab, &base, "newcomer", PASSWORD);
            assert_eq!(chrome.text(&tab, "#who"), "newcomer");
            let script_sees = chrome.eval(&tab, "document.cookie");
            assert!(!script_sees.as_str().unwrap().contains("authql_refresh"), "{script_sees}");
            let cookies = chrome.cookies(&tab, &base);
            let cookie = cookies
                .iter()
                .find(|c| c["name"] == "authql_refresh")
                .unwrap_or_else(|| panic!("no refresh cookie: {cookies:?}"));
            assert_eq!(cookie["httpOnly"], true);
            assert_eq!(cookie["sameSite"], "Strict");
            assert_eq!(cookie["path"], "/");

            // It survives a reload, and two tabs refreshing it at once both stay signed in.
            chrome.reload(&tab);
            chrome.wait_page(&tab, "security", "Security");
            let second = chrome.open(&format!("{base}/account/security"));
            chrome.reload(&tab);
            chrome.wait_page(&second, "security", "Security");
            chrome.wait_page(&tab, "security", "Security");
            assert_eq!(chrome.text(&second, "#who"), "newcomer");
            chrome.reload(&second);
            chrome.wait_page(&second, "security", "Security");

            // A page of another origin can neither refresh nor sign out with the cookie.
            let evil = foreign_origin("<!doctype html><title>elsewhere</title>");
            let other = chrome.open(&evil);
            chrome.wait(&other, "document.title === 'elsewhere'");
            let attempts = format!(
                "Promise.all([\
                   fetch('{base}/graphql', {{ method: 'POST', credentials: 'include', \
                     headers: {{ 'content-type': 'application/json', 'x-authql-cookie': '1' }}, \
                     body: JSON.stringify({{ query: 'mutation {{ logout }}' }}) }})\
                     .then(r => 'answered ' + r.status, () => 'blocked'),\
                   fetch('{base}/graphql', {{ method: 'POST', credentials: 'include', mode: 'no-cors', \
                     headers: {{ 'content-type': 'text/plain' }}, \
                     body: JSON.stringify({{ query: 'mutation {{ logout }}' }}) }})\
                     .then(r => 'opaque', () => 'blocked'),\
                   fetch('{base}/graphql', {{ method: 'POST', credentials: 'include', \
                     headers: {{ 'content-type': 'application/json', 'x-authql-cookie': '1' }}, \
                     body: JSON.stringify({{ query: 'mutation {{ refresh {{ accessToken }} }}' }}) }})\
                     .then(r => r.text(), () => 'blocked')])"
            );
            let outcome = chrome.eval(&other, &attempts);
            assert_eq!(outcome[0], "blocked", "{outcome}");
            assert_eq!(outcome[2], "blocked", "{outcome}");
            chrome.reload(&tab);
            chrome.wait_page(&tab, "security", "Security");

            std::fs::create_dir_all(screenshot_path().parent().unwrap()).unwrap();
            // A tab in the background is never painted: the one shot comes to the front.
            for background in [&other, &second] {
                chrome.call(Some(background), "Page.close", json!({}));
            }
            chrome.call(Some(&tab), "Page.bringToFront", json!({}));
            chrome.call(
                Some(&tab),
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 900, "height": 1100, "deviceScaleFactor": 1, "mobile": false }),
            );
            chrome.reload(&tab);
            chrome.wait_page(&tab, "security", "Security");
            let shot = chrome.call(Some(&tab), "Page.captureScreenshot", json!({ "format": "png" }));
            let png = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                shot["data"].as_str().unwrap(),
            )
            .unwrap();
            assert!(png.starts_with(b"\x89PNG"));
            if app.backend == crate::harness::Backend::Sqlite {
                std::fs::write(screenshot_path(), png).unwrap();
            }

            // Signing out clears the cookie.
            chrome.click(&tab, "#sign-out");
            chrome.wait_page(&tab, "sign-in", "Sign in");
            let left = chrome.cookies(&tab, &base);
            assert!(
                !left.iter().any(|c| c["name"] == "authql_refresh"),
                "{left:?}"
            );
            chrome.go(&tab, &format!("{base}/account/security"));
            chrome.wait_page(&tab, "sign-in", "Sign in");

            let problems = chrome.problems(&base);
            let problems: Vec<_> = problems
                .into_iter()
                .filter(|p| !p.contains(&evil))
                .collect();
            assert!(problems.is_empty(), "{problems:#?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reset_link_and_the_security_page_sessions_and_totp_work_in_the_browser() {
    let Some(path) = chromium() else { return };
    each_backend(|app| {
        let path = path.clone();
        async move {
            let base = app.base_url.clone();
            app.register("pat").await;
            let mut chrome = Chrome::launch(&path);

            // Forgot the password: the mailed link opens the form, the new one signs in.
            let tab = chrome.open(&format!("{base}/account/sign-in"));
            chrome.wait_page(&tab, "sign-in", "Sign in");
            chrome.click(&tab, "a[href='reset-password']");
            chrome.wait_page(&tab, "reset-password", "Reset your password");
            chrome.fill(&tab, "request-reset-email", "pat@example.com");
            chrome.click(&tab, "#request-reset button[type=submit]");
            chrome.wait_page(&tab, "reset-password", "Check your inbox");
            let mail = app.smtp.wait_for("pat@example.com", "Reset your").await;
            chrome.go(&tab, &mail.link("reset-password").unwrap());
            chrome.wait_page(&tab, "reset-password", "Choose a new password");
            assert_eq!(chrome.eval(&tab, "location.search"), "");
            chrome.fill(&tab, "reset-newPassword", "short");
            chrome.click(&tab, "#reset button[type=submit]");
            chrome.wait(&tab, "document.getElementById('reset-newPassword').getAttribute('aria-invalid') === 'true'");
            let new_password = "a-brand-new-passphrase";
            chrome.fill(&tab, "reset-newPassword", new_password);
            chrome.click(&tab, "#reset button[type=submit]");
            chrome.wait_page(&tab, "sign-in", "Sign in");
            chrome.sign_in(&tab, &base, "pat", new_password);

            // The security page lists the sessions and signs one out.
            let elsewhere = app.login_ok("pat", new_password).await;
            chrome.reload(&tab);
            chrome.wait(&tab, "document.querySelectorAll('#sessions li').length === 2");
            chrome.click(&tab, "#sessions li:not(:has(strong)) button");
            chrome.wait(&tab, "document.querySelectorAll('#sessions li').length === 1");
            assert_eq!(app.refresh(&elsewhere.refresh).await.error_code(), "UNAUTHENTICATED");

            // Long after the sign-in, a password change first asks for the password (only:
            // the account has no second factor yet), then goes through, and the list of
            // sessions drops the others it ended.
            app.login_ok("pat", new_password).await;
            chrome.reload(&tab);
            chrome.wait(&tab, "document.querySelectorAll('#sessions li').length === 2");
            app.advance(Duration::from_secs(11 * 60));
            let password = "a-second-passphrase";
            chrome.fill(&tab, "change-password-currentPassword", new_password);
            chrome.fill(&tab, "change-password-newPassword", password);
            chrome.click(&tab, "#change-password button[type=submit]");
            chrome.wait(&tab, "!!document.getElementById('step-up-password')");
            assert_eq!(
                chrome.eval(&tab, "document.getElementById('step-up-code') === null"),
                true
            );
            chrome.fill(&tab, "step-up-password", new_password);
            chrome.click(&tab, "#step-up button[type=submit]");
            chrome.wait(&tab, PASSWORD_CHANGED);
            chrome.wait(&tab, "document.querySelectorAll('#sessions li').length === 1");
            assert_eq!(app.login("pat", new_password).await.error_code(), "UNAUTHENTICATED");
            app.login_ok("pat", password).await;

            // TOTP: the QR code and key are shown, a code computed here turns it on.
            chrome.click(&tab, "#totp-start");
            let secret = chrome.text(&tab, "#totp-secret");
            let qr = chrome.eval(&tab, "document.getElementById('totp-qr').naturalWidth > 0");
            assert_eq!(qr, true);
            let code = totp_now(&app, &secret);
            chrome.fill(&tab, "totp-confirm-code", &code);
            chrome.click(&tab, "#totp-confirm button[type=submit]");
            chrome.wait(&tab, "document.querySelectorAll('#recovery-codes li').length === 10");
            assert!(chrome.text(&tab, "#totp-on").starts_with("On."));
            let res = app.login("pat", password).await;
            assert_eq!(res.error_code(), "MFA_REQUIRED");

            // Signing in on the page now asks for a code after the password.
            chrome.click(&tab, "#sign-out");
            chrome.wait_page(&tab, "sign-in", "Sign in");
            chrome.fill(&tab, "sign-in-usernameOrEmail", "pat");
            chrome.fill(&tab, "sign-in-password", password);
            chrome.click(&tab, "#sign-in button[type=submit]");
            chrome.wait(&tab, "document.querySelector('h1')?.textContent === 'Two-step sign-in'");
            app.advance(Duration::from_secs(30));
            let code = totp_now(&app, &secret);
            chrome.fill(&tab, "second-step-code", &code);
            chrome.click(&tab, "#second-step button[type=submit]");
            chrome.wait_page(&tab, "security", "Security");

            // Long after the sign-in, a password change first asks who it is (password and
            // code, as the account has a second factor), then goes through.
            app.advance(Duration::from_secs(11 * 60));
            chrome.fill(&tab, "change-password-currentPassword", password);
            chrome.fill(&tab, "change-password-newPassword", "yet-another-passphrase");
            chrome.click(&tab, "#change-password button[type=submit]");
            chrome.wait(&tab, "!!document.getElementById('step-up-code')");
            chrome.fill(&tab, "step-up-password", password);
            chrome.fill(&tab, "step-up-code", &totp_now(&app, &secret));
            chrome.click(&tab, "#step-up button[type=submit]");
            chrome.wait(&tab, PASSWORD_CHANGED);
            // The new password is right (the account's code comes next).
            assert_eq!(
                app.login("pat", "yet-another-passphrase").await.error_code(),
                "MFA_REQUIRED"
            );
            assert_eq!(
                app.login("pat", password).await.error_code(),
                "UNAUTHENTICATED"
            );

            let problems = chrome.problems(&base);
            assert!(problems.is_empty(), "{problems:#?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_is_signed_out_within_a_second_when_its_session_is_revoked_elsewhere() {
    let Some(path) = chromium() else { return };
    // A promise about time: no other test shares the cores meanwhile.
    each_backend_alone(&[], |app| {
        let path = path.clone();
        async move {
            app.register("liv").await;
            let mut chrome = Chrome::launch(&path);
            // The page talks to one replica; the session is revoked through another.
            let (replica, stop) = app.replica().await;
            for (page_on, revoke_on) in [(&app, &app), (&replica, &app)] {
                let base = page_on.base_url.clone();
                let tab = chrome.open(&format!("{base}/account/sign-in"));
                chrome.sign_in(&tab, &base, "liv", PASSWORD);
                // Its live connection is up before the session ends.
                let watching = page_on.state.session_watch.clone();
                eventually("the page watching its session", SLOW, || {
                    let n = watching.watchers();
                    async move { n >= 1 }
                })
                .await;
                let other = revoke_on.login_ok("liv", PASSWORD).await;
                let list = revoke_on
                    .gql_as(
                        &other.access,
                        "{ sessions { id current userAgent } }",
                        json!({}),
                    )
                    .await;
                // The page's own session: the one Chromium signed in (the others are the
                // test client's).
                let page_session = list.data()["sessions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| {
                        s["current"] == false
                            && s["userAgent"]
                                .as_str()
                                .is_some_and(|ua| ua.contains("Chrome"))
                    })
                    .expect("the page's session")["id"]
                    .clone();
                let revoked_at = epoch_ms();
                revoke_on
                    .gql_as(
                        &other.access,
                        "mutation($id: ID!) { revokeSession(id: $id) }",
                        json!({ "id": page_session }),
                    )
                    .await
                    .data();
                chrome.wait_page(&tab, "sign-in", "Sign in");
                // From the revocation to the page leaving for sign-in (the navigation's
                // start, on the same clock): the event's way, not the new page's load.
                let left_at = chrome
                    .eval(&tab, "performance.timeOrigin")
                    .as_f64()
                    .unwrap();
                let took = left_at - revoked_at;
                assert!((0.0..1000.0).contains(&took), "signed out after {took} ms");
                let notice = chrome.text(&tab, ".notice");
                assert!(notice.contains("another device"), "{notice}");
                chrome.call(Some(&tab), "Page.close", json!({}));
            }
            let _ = stop.send(());
            let problems = chrome.problems(&app.base_url);
            let problems: Vec<_> = problems
                .into_iter()
                .filter(|p| !p.contains(&replica.base_url))
                .collect();
            assert!(problems.is_empty(), "{problems:#?}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_pages_are_served_with_a_strict_policy_and_can_be_turned_off() {
    each_backend(|app| async move {
        for page in [
            "sign-in",
            "sign-up",
            "verify-email",
            "reset-password",
            "unlock-account",
            "security",
        ] {
            let res = app.get(&format!("/account/{page}")).await;
            assert_eq!(res.status(), 200, "{page}");
            let h = res.headers();
            assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
            let csp = h["content-security-policy"].to_str().unwrap();
            for directive in [
                "default-src 'none'",
                "script-src 'self'",
                "connect-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
            ] {
                assert!(csp.contains(directive), "{page}: {csp}");
            }
            assert!(!csp.contains("unsafe"), "{csp}");
            // The token in a link's query never leaves in a Referer.
            assert_eq!(h["referrer-policy"], "no-referrer");
        }
        for (file, kind) in [
            ("account.js", "text/javascript"),
            ("account.css", "text/css"),
        ] {
            let res = app.get(&format!("/account/{file}")).await;
            assert_eq!(res.status(), 200);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(kind)
            );
        }
        assert_eq!(app.get("/account/index.html").await.status(), 404);
        assert_eq!(app.get("/account/..%2fgraphql").await.status(), 404);
        let bare = app.get("/account").await;
        assert_eq!(bare.status(), 308);
        assert_eq!(bare.headers()["location"], "account/sign-in");
    })
    .await;
    crate::harness::each_backend_with(&[("ACCOUNT_PAGES", "false")], |app| async move {
        for path in [
            "/account",
            "/account/",
            "/account/sign-in",
            "/account/account.js",
        ] {
            assert_eq!(app.get(path).await.status(), 404, "{path}");
        }
    })
    .await;
}

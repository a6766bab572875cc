//! The client side of a test: GraphQL requests and the answers tests check, the usual
//! journeys (sign up, log in, confirm an address), and the tokens they hand back.

use std::time::Duration;

use serde_json::{Value, json};

use super::{app::TestApp, eventually::eventually};

/// A GraphQL response body with helpers for what tests check.
#[derive(Debug)]
pub struct Gql {
    pub status: reqwest::StatusCode,
    pub body: Value,
}

impl Gql {
    /// `data`, after asserting there were no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The `extensions.code` of the first error, after asserting there is one.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {}", self.body))
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `POST /graphql` with a JSON body.
    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.post_graphql(json!({ "query": query, "variables": variables }))
            .await
    }

    /// `POST /graphql` with any JSON body (a batch, a malformed request…).
    pub async fn post_graphql(&self, body: Value) -> Gql {
        let res = self
            .client
            .post(self.url("/graphql"))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let body = res.json().await.expect("a JSON body");
        Gql { status, body }
    }

    /// A browser's CORS preflight of a `POST /graphql` from `origin` that will send
    /// `headers` (comma-separated).
    pub async fn preflight(&self, origin: &str, headers: &str) -> reqwest::Response {
        self.client
            .request(reqwest::Method::OPTIONS, self.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send()
            .await
            .expect("preflight sent")
    }

    /// `POST /graphql` with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Gql {
        let res = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let body = res.json().await.expect("a JSON body");
        Gql { status, body }
    }

    pub async fn sign_up(&self, username: &str, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) }",
            json!({ "i": { "username": username, "email": email, "password": password } }),
        )
        .await
    }

    pub async fn login(&self, username_or_email: &str, password: &str) -> Gql {
        self.gql(
            LOGIN,
            json!({ "i": { "usernameOrEmail": username_or_email, "password": password } }),
        )
        .await
    }

    /// Signs `username` up (email `<username>@example.com`, password [`PASSWORD`]) and
    /// logs in.
    pub async fn register(&self, username: &str) -> Tokens {
        let res = self
            .sign_up(username, &format!("{username}@example.com"), PASSWORD)
            .await;
        assert_eq!(res.data()["signUp"], true);
        self.login_ok(username, PASSWORD).await
    }

    /// Opens the verification link mailed to `email` (the newest one), as its owner would.
    /// An account's profile is public only once its address is verified.
    pub async fn confirm_email(&self, email: &str) {
        let mail = self.smtp.wait_for(email, "Confirm your email").await;
        let token = mail.token("verify-email").expect("a verification link");
        let res = self
            .gql(
                "mutation($t: String!) { verifyEmail(token: $t) }",
                json!({ "t": token }),
            )
            .await;
        assert_eq!(res.data()["verifyEmail"], true, "{:?}", res.body);
    }

    /// `login` as a client behind a proxy that forwards for `address` (the service must
    /// trust 127.0.0.1 in `TRUSTED_PROXIES` for it to count).
    pub async fn login_from(&self, address: &str, username_or_email: &str, password: &str) -> Gql {
        let vars = json!({ "i": { "usernameOrEmail": username_or_email, "password": password } });
        let res = self
            .client
            .post(self.url("/graphql"))
            .header("x-forwarded-for", address)
            .json(&json!({ "query": LOGIN, "variables": vars }))
            .send()
            .await
            .expect("request sent");
        Gql {
            status: res.status(),
            body: res.json().await.expect("a JSON body"),
        }
    }

    pub async fn login_ok(&self, username_or_email: &str, password: &str) -> Tokens {
        Tokens::from_payload(&self.login(username_or_email, password).await.data()["login"])
    }

    pub async fn refresh(&self, refresh_token: &str) -> Gql {
        self.gql(REFRESH, json!({ "t": refresh_token })).await
    }

    /// The id of the account `username`, as an administrator's `users` search finds it.
    pub async fn id_of(&self, admin_token: &str, username: &str) -> String {
        let res = self
            .gql_as(
                admin_token,
                "query($s: String!) { users(first: 100, search: $s) { edges { node { id username } } } }",
                json!({ "s": username }),
            )
            .await;
        res.data()["users"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"])
            .find(|n| {
                n["username"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(username)
            })
            .and_then(|n| n["id"].as_str())
            .unwrap_or_else(|| panic!("no account {username}: {:?}", res.body))
            .to_owned()
    }

    /// `me { id username }` with this access token.
    pub async fn me(&self, access_token: &str) -> Gql {
        self.gql_as(access_token, "{ me { id username email } }", json!({}))
            .await
    }

    /// Polls `/readyz` until it answers 200 (the mail relay connects to the broker in the
    /// background after start) and returns its body.
    pub async fn wait_ready(&self) -> Value {
        eventually("/readyz answering 200", Duration::from_secs(5), || async {
            let res = self.get("/readyz").await;
            let status = res.status();
            let body: Value = res.json().await.expect("a JSON body");
            if status == 200 {
                Ok(body)
            } else {
                Err((status, body))
            }
        })
        .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// A password that passes every rule.
pub const PASSWORD: &str = "correct-horse-battery-staple";

pub const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";

pub const REFRESH: &str = "mutation($t: String!) { refresh(refreshToken: $t) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";

/// The tokens of an `AuthPayload`.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

impl Tokens {
    pub fn from_payload(payload: &Value) -> Self {
        Self {
            access: payload["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh: payload["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
            user_id: payload["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }
}

//! A second factor: TOTP enrolment with recovery codes, the `MFA_REQUIRED` sign-in that
//! `verifyMfa` completes, replay and throttling, step-up, notices and the administrator's
//! reset. Codes are computed here with totp-rs from the secret the service showed, at the
//! service's clock.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::harness::{Gql, PASSWORD, TestApp, Tokens, each_backend, each_backend_with};

const START: &str = "mutation { startTotpEnrollment { secret otpauthUri qrCodeSvg } }";
const CONFIRM: &str = "mutation($c: String!) { confirmTotpEnrollment(code: $c) { codes } }";
const VERIFY: &str = "mutation($i: VerifyMfaInput!) { verifyMfa(input: $i) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";
const REAUTH: &str = "mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { \
    accessToken refreshToken tokenType expiresIn refreshExpiresIn user { id username } } }";
const STATUS: &str = "{ me { mfa { totpEnabled recoveryCodesLeft } } }";

/// A TOTP code of `secret` (base32) at the service's clock, `steps` steps from now, by an
/// implementation that is not the service's.
fn code(app: &TestApp, secret: &str, steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build_noncompliant();
    let at = app.state.clock.now().timestamp() + steps * 30;
    totp.generate(u64::try_from(at).unwrap()).to_string()
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn error_field(res: &Gql) -> &str {
    res.body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a field: {}", res.body))
}

/// An enrolled account: its tokens from before enrolment, the secret and the recovery codes.
struct Enrolled {
    tokens: Tokens,
    secret: String,
    codes: Vec<String>,
}

async fn enrol(app: &TestApp, username: &str) -> Enrolled {
    let tokens = app.register(username).await;
    app.confirm_email(&format!("{username}@example.com")).await;
    let res = app.gql_as(&tokens.access, START, json!({})).await;
    let secret = res.data()["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .gql_as(
            &tokens.access,
            CONFIRM,
            json!({ "c": code(app, &secret, 0) }),
        )
        .await;
    let codes = res.data()["confirmTotpEnrollment"]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // The enrolment code's step is spent: later codes are taken a step on.
    app.advance(Duration::from_secs(30));
    Enrolled {
        tokens,
        secret,
        codes,
    }
}

/// The `mfaToken` of a login that must answer `MFA_REQUIRED`.
async fn mfa_token(app: &TestApp, username: &str) -> String {
    let res = app.login(username, PASSWORD).await;
    assert_eq!(res.error_code(), "MFA_REQUIRED", "{}", res.body);
    let ext = &res.body["errors"][0]["extensions"];
    assert_eq!(ext["methods"], json!(["totp", "recovery_code"]));
    assert!(res.body["data"].is_null() || res.body["data"]["login"].is_null());
    ext["mfaToken"].as_str().expect("mfaToken").to_owned()
}

async fn verify(app: &TestApp, token: &str, code: &str) -> Gql {
    app.gql(VERIFY, json!({ "i": { "mfaToken": token, "code": code } }))
        .await
}

/// Decodes the QR code of an SVG of `<path d="M{x} {y}h{w}v{h}…">` modules with rqrr.
fn decode_qr(svg: &str) -> String {
    let view_box = svg.split("viewBox=\"").nth(1).unwrap();
    let dims: Vec<usize> = view_box
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (w, h) = (dims[2], dims[3]);
    let mut dark = vec![false; w * h];
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut nums = Vec::new();
    let mut cmds = Vec::new();
    let mut cur = String::new();
    for c in path.chars() {
        if c.is_ascii_alphabetic() {
            if !cur.is_empty() {
                nums.push(cur.parse::<i64>().unwrap());
                cur.clear();
            }
            cmds.push((c, nums.len()));
        } else if c == ' ' {
            if !cur.is_empty() {
                nums.push(cur.parse::<i64>().unwrap());
                cur.clear();
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        nums.push(cur.parse::<i64>().unwrap());
    }
    // Each module is `M x y h w v h h -w z`: read the rectangles from the M and h/v pairs.
    let (mut x, mut y, mut rect_w) = (0i64, 0i64, 0i64);
    for (i, (cmd, at)) in cmds.iter().enumerate() {
        match cmd {
            'M' => {
                x = nums[*at];
                y = nums[*at + 1];
            }
            'h' if i > 0 && cmds[i - 1].0 == 'M' => rect_w = nums[*at],
            'v' => {
                let rect_h = nums[*at];
                for yy in y..y + rect_h {
                    for xx in x..x + rect_w {
                        dark[usize::try_from(yy).unwrap() * w + usize::try_from(xx).unwrap()] =
                            true;
                    }
                }
            }
            _ => {}
        }
    }
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(
            w,
            h,
            |x, y| {
                if dark[y * w + x] { 0 } else { 255 }
            },
        );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    grids[0].decode().expect("a readable QR code").1
}

#[tokio::test]
async fn enrolment_turns_totp_on_and_a_login_then_needs_a_code() {
    each_backend(|app| async move {
        let tokens = app.register("alice").await;
        app.confirm_email("alice@example.com").await;
        let res = app.gql_as(&tokens.access, STATUS, json!({})).await;
        assert_eq!(
            res.data()["me"]["mfa"],
            json!({ "totpEnabled": false, "recoveryCodesLeft": 0 })
        );
        let res = app.gql_as(&tokens.access, START, json!({})).await;
        let e = &res.data()["startTotpEnrollment"];
        let secret = e["secret"].as_str().unwrap();
        let uri = e["otpauthUri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/authql:alice%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(uri.contains("issuer=authql"), "{uri}");
        // The QR code holds exactly the URI, and another implementation reads the URI as
        // SHA-1, 6 digits, 30 s with this secret.
        assert_eq!(decode_qr(e["qrCodeSvg"].as_str().unwrap()), uri);
        let parsed = totp_rs::Totp::from_url(uri).expect("a valid otpauth URI");
        let t = u64::try_from(app.state.clock.now().timestamp()).unwrap();
        assert_eq!(parsed.generate(t).to_string(), code(&app, secret, 0));
        // Not on until a code confirms it: a login still answers tokens.
        app.login_ok("alice", PASSWORD).await;

        // A wrong code does not turn it on.
        let wrong = if code(&app, secret, 0) == "000000" {
            "111111"
        } else {
            "000000"
        };
        let res = app
            .gql_as(&tokens.access, CONFIRM, json!({ "c": wrong }))
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "code");
        let res = app
            .gql_as(
                &tokens.access,
                CONFIRM,
                json!({ "c": code(&app, secret, 0) }),
            )
            .await;
        let codes = res.data()["confirmTotpEnrollment"]["codes"]
            .as_array()
            .unwrap();
        assert_eq!(codes.len(), 10);
        let res = app.gql_as(&tokens.access, STATUS, json!({})).await;
        assert_eq!(
            res.data()["me"]["mfa"],
            json!({ "totpEnabled": true, "recoveryCodesLeft": 10 })
        );
        app.smtp
            .wait_for("alice@example.com", "Two-step sign-in is on")
            .await;
        // On already: a second enrolment is refused and changes nothing.
        let res = app.gql_as(&tokens.access, START, json!({})).await;
        assert_eq!(res.error_code(), "FORBIDDEN");

        // The right password is only the first step now.
        app.advance(Duration::from_secs(30));
        let token = mfa_token(&app, "alice").await;
        let res = verify(&app, &token, &code(&app, secret, 0)).await;
        let signed_in = Tokens::from_payload(&res.data()["verifyMfa"]);
        let c = claims(&signed_in.access);
        assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(c["auth_time"], c["iat"]);
        let res = app
            .gql_as(
                &signed_in.access,
                "{ sessions { current authMethods } }",
                json!({}),
            )
            .await;
        let current: Vec<&Value> = res.data()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .collect();
        assert_eq!(current[0]["authMethods"], json!(["pwd", "otp", "mfa"]));
        // A refresh keeps how the session signed in.
        let res = app.refresh(&signed_in.refresh).await;
        let refreshed = claims(res.data()["refresh"]["accessToken"].as_str().unwrap());
        assert_eq!(refreshed["amr"], json!(["pwd", "otp", "mfa"]));

        // The token was spent; the code was accepted once: a replay is refused, even with a
        // new token within the code's window.
        let res = verify(&app, &token, &code(&app, secret, 0)).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
        let again = mfa_token(&app, "alice").await;
        let res = verify(&app, &again, &code(&app, secret, 0)).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "code");
        // The challenge survives a wrong code: the next step's code completes it.
        let res = verify(&app, &again, &code(&app, secret, 1)).await;
        Tokens::from_payload(&res.data()["verifyMfa"]);
    })
    .await;
}

#[tokio::test]
async fn a_recovery_code_works_once_and_its_use_is_mailed() {
    each_backend(|app| async move {
        let e = enrol(&app, "bob").await;
        let token = mfa_token(&app, "bob").await;
        // Case, spaces and dashes do not matter.
        let typed = e.codes[3].to_uppercase().replace('-', " ");
        let res = verify(&app, &token, &typed).await;
        let t = Tokens::from_payload(&res.data()["verifyMfa"]);
        assert_eq!(claims(&t.access)["amr"], json!(["pwd", "otp", "mfa"]));
        app.smtp
            .wait_for("bob@example.com", "A recovery code was used")
            .await;
        let res = app.gql_as(&t.access, STATUS, json!({})).await;
        assert_eq!(res.data()["me"]["mfa"]["recoveryCodesLeft"], 9);

        let token = mfa_token(&app, "bob").await;
        let res = verify(&app, &token, &e.codes[3]).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        // Another account's code is no code of this one.
        let other = enrol(&app, "carol").await;
        let res = verify(&app, &token, &other.codes[0]).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        let res = verify(&app, &token, &e.codes[4]).await;
        res.data();
    })
    .await;
}

#[tokio::test]
async fn the_mfa_token_is_single_use_expires_and_is_bound_to_its_client() {
    each_backend_with(&[("MFA_TOKEN_TTL", "30s")], |app| async move {
        let e = enrol(&app, "dave").await;
        let token = mfa_token(&app, "dave").await;
        // Another client (another user agent) cannot complete it.
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("user-agent", "someone else")
            .json(&json!({
                "query": VERIFY,
                "variables": { "i": { "mfaToken": token, "code": code(&app, &e.secret, 0) } },
            }))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        // Unknown and malformed tokens.
        for bad in ["", "x", &"A".repeat(43), &"é".repeat(5000)] {
            let res = verify(&app, bad, &code(&app, &e.secret, 0)).await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED", "{bad:.20}");
        }
        // Past MFA_TOKEN_TTL.
        app.advance(Duration::from_secs(31));
        let res = verify(&app, &token, &code(&app, &e.secret, 0)).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
        // A reset between the steps voids the challenge.
        let token = mfa_token(&app, "dave").await;
        app.gql(
            "mutation { requestReset(email: \"dave@example.com\") }",
            json!({}),
        )
        .await
        .data();
        let mail = app.smtp.wait_for("dave@example.com", "Reset your").await;
        let reset = mail.token("reset-password").unwrap();
        let res = app
            .gql(
                "mutation($t: String!) { confirmReset(input: { token: $t, newPassword: \"a new passphrase 77\" }) }",
                json!({ "t": reset }),
            )
            .await;
        assert_eq!(res.data()["confirmReset"], true);
        let res = verify(&app, &token, &code(&app, &e.secret, 0)).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn of_concurrent_completions_with_one_token_or_one_code_exactly_one_signs_in() {
    // Room in the throttle for the losers' attempts: this test is about the race.
    each_backend_with(&[("LOGIN_MAX_FAILURES", "100")], |app| async move {
        let e = enrol(&app, "erin").await;
        let token = mfa_token(&app, "erin").await;
        let code_now = code(&app, &e.secret, 0);
        let answers =
            futures_util::future::join_all((0..8).map(|_| verify(&app, &token, &code_now))).await;
        let ok = answers
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(ok, 1, "{answers:?}");

        // One code on two challenges at once: accepted once.
        app.advance(Duration::from_secs(30));
        let (a, b) = (mfa_token(&app, "erin").await, mfa_token(&app, "erin").await);
        let code_now = code(&app, &e.secret, 0);
        let (ra, rb) = tokio::join!(verify(&app, &a, &code_now), verify(&app, &b, &code_now));
        let ok = [&ra, &rb]
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(ok, 1, "{ra:?} {rb:?}");
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_add_up_with_wrong_passwords_and_a_right_password_does_not_reset_them() {
    each_backend_with(&[("LOGIN_MAX_FAILURES", "4")], |app| async move {
        let e = enrol(&app, "frank").await;
        let wrong = |app: &TestApp| {
            let right = code(app, &e.secret, 0);
            if right == "123456" {
                "654321".to_owned()
            } else {
                "123456".to_owned()
            }
        };
        let token = mfa_token(&app, "frank").await; // 1
        for _ in 0..2 {
            let res = verify(&app, &token, &wrong(&app)).await; // 2, 3
            assert_eq!(res.error_code(), "BAD_USER_INPUT");
        }
        let token = mfa_token(&app, "frank").await; // 4: the right password
        let res = verify(&app, &token, &wrong(&app)).await; // 5: over the limit
        assert_eq!(res.error_code(), "RATE_LIMITED", "{}", res.body);
        // Throttled now whatever is sent: the right code, the right password.
        let res = verify(&app, &token, &code(&app, &e.secret, 0)).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        let res = app.login("frank", PASSWORD).await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
    })
    .await;
}

#[tokio::test]
async fn changes_to_the_second_factor_need_a_recent_sign_in_with_a_code() {
    each_backend_with(&[("REAUTH_MAX_AGE", "1m")], |app| async move {
        let e = enrol(&app, "gina").await;
        let token = mfa_token(&app, "gina").await;
        let res = verify(&app, &token, &code(&app, &e.secret, 0)).await;
        let t = Tokens::from_payload(&res.data()["verifyMfa"]);
        app.advance(Duration::from_secs(61));
        for op in [
            START,
            "mutation { regenerateRecoveryCodes { codes } }",
            "mutation { disableTotp }",
        ] {
            let res = app.gql_as(&t.access, op, json!({})).await;
            assert_eq!(res.error_code(), "REAUTHENTICATION_REQUIRED", "{op}");
        }
        // The password alone is not enough for an account with a second factor.
        let res = app
            .gql_as(&t.access, REAUTH, json!({ "i": { "password": PASSWORD } }))
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        assert_eq!(error_field(&res), "code");
        let res = app
            .gql_as(
                &t.access,
                REAUTH,
                json!({ "i": { "password": PASSWORD, "code": code(&app, &e.secret, 0) } }),
            )
            .await;
        let renewed = Tokens::from_payload(&res.data()["reauthenticate"]);
        assert_eq!(claims(&renewed.access)["amr"], json!(["pwd", "otp", "mfa"]));

        let res = app
            .gql_as(
                &renewed.access,
                "mutation { regenerateRecoveryCodes { codes } }",
                json!({}),
            )
            .await;
        let fresh = res.data()["regenerateRecoveryCodes"]["codes"]
            .as_array()
            .unwrap();
        assert_eq!(fresh.len(), 10);
        // The old codes stopped working.
        let token = mfa_token(&app, "gina").await;
        let res = verify(&app, &token, &e.codes[0]).await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");

        let res = app
            .gql_as(&renewed.access, "mutation { disableTotp }", json!({}))
            .await;
        assert_eq!(res.data()["disableTotp"], true);
        app.smtp
            .wait_for("gina@example.com", "Two-step sign-in is off")
            .await;
        // The waiting challenge died with the factor; a login answers tokens again.
        let res = verify(&app, &token, fresh[0].as_str().unwrap()).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
        app.login_ok("gina", PASSWORD).await;
        let res = app
            .gql_as(&renewed.access, "mutation { disableTotp }", json!({}))
            .await;
        assert_eq!(res.data()["disableTotp"], false);
    })
    .await;
}

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor() {
    each_backend(|app| async move {
        let e = enrol(&app, "hank").await;
        let admin = app.admin("root").await;
        let id = e.tokens.user_id.clone();
        let reset = "mutation($id: ID!) { adminResetMfa(id: $id) }";
        let res = app
            .gql_as(&e.tokens.access, reset, json!({ "id": id }))
            .await;
        assert_eq!(res.error_code(), "FORBIDDEN");
        let res = app.gql_as(&admin.access, reset, json!({ "id": id })).await;
        assert_eq!(res.data()["adminResetMfa"], true);
        app.smtp
            .wait_for("hank@example.com", "Two-step sign-in was reset")
            .await;
        // Every session of the user ended; the password alone signs in now.
        let res = app.me(&e.tokens.access).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED");
        let t = app.login_ok("hank", PASSWORD).await;
        let res = app.gql_as(&t.access, STATUS, json!({})).await;
        assert_eq!(
            res.data()["me"]["mfa"],
            json!({ "totpEnabled": false, "recoveryCodesLeft": 0 })
        );
        let res = app
            .gql_as(
                &admin.access,
                reset,
                json!({ "id": uuid::Uuid::new_v4().to_string() }),
            )
            .await;
        assert_eq!(res.error_code(), "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn the_totp_secret_is_sealed_at_rest_and_codes_are_checked_before_work() {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    each_backend_with(&[("SIGNING_KEY_ENCRYPTION_KEY", key)], |app| async move {
        let e = enrol(&app, "iris").await;
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT secret_sealed FROM totp_factors",
            ))
            .await
            .unwrap()
            .unwrap();
        let stored: String = row.try_get("", "secret_sealed").unwrap();
        assert!(stored.starts_with("sealed:v1:"), "{stored}");
        assert!(!stored.contains(&e.secret));
        // Hostile codes are refused as input, whatever their size or script.
        let token = mfa_token(&app, "iris").await;
        for bad in ["", "12345", "１２３４５６", &"1".repeat(10_000)] {
            let res = verify(&app, &token, bad).await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT", "{bad:.10}");
        }
        let res = verify(&app, &token, &code(&app, &e.secret, 0)).await;
        res.data();
    })
    .await;
}

#[tokio::test]
async fn completed_two_step_sign_ins_leave_nothing_in_the_throttle() {
    // Three attempts allowed on the account from all addresses: every completed two-step
    // sign-in gives back both of its attempts, so five in a row all go through.
    let overrides = &[
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3"),
        ("LOGIN_MAX_FAILURES_PER_IP", "3"),
    ];
    each_backend_with(overrides, |app| async move {
        let e = enrol(&app, "jane").await;
        for code in &e.codes[..5] {
            let token = mfa_token(&app, "jane").await;
            let res = verify(&app, &token, code).await;
            assert!(res.body.get("errors").is_none(), "{}", res.body);
        }
    })
    .await;
}

#[tokio::test]
async fn confirming_needs_a_fresh_enrolment_counts_wrong_codes_and_ends_other_sessions() {
    let overrides = &[("REAUTH_MAX_AGE", "1h"), ("LOGIN_MAX_FAILURES", "3")];
    each_backend_with(overrides, |app| async move {
        let tokens = app.register("kate").await;
        let elsewhere = app.login_ok("kate", PASSWORD).await;
        // A secret left waiting for more than ten minutes is no longer confirmed.
        let res = app.gql_as(&tokens.access, START, json!({})).await;
        let secret = res.data()["startTotpEnrollment"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        app.advance(Duration::from_secs(601));
        let res = app
            .gql_as(
                &tokens.access,
                CONFIRM,
                json!({ "c": code(&app, &secret, 0) }),
            )
            .await;
        assert_eq!(res.error_code(), "BAD_USER_INPUT");
        // A new one: guessing its code is throttled like guessing the password.
        let res = app.gql_as(&tokens.access, START, json!({})).await;
        let secret = res.data()["startTotpEnrollment"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let right = code(&app, &secret, 0);
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..3 {
            let res = app
                .gql_as(&tokens.access, CONFIRM, json!({ "c": wrong }))
                .await;
            assert_eq!(res.error_code(), "BAD_USER_INPUT");
        }
        let res = app
            .gql_as(&tokens.access, CONFIRM, json!({ "c": right }))
            .await;
        assert_eq!(res.error_code(), "RATE_LIMITED");
        let res = app.gql_as(&tokens.access, STATUS, json!({})).await;
        assert_eq!(res.data()["me"]["mfa"]["totpEnabled"], false);

        app.advance(Duration::from_secs(16 * 60));
        let tokens = app.login_ok("kate", PASSWORD).await;
        let elsewhere_too = app.login_ok("kate", PASSWORD).await;
        let res = app.gql_as(&tokens.access, START, json!({})).await;
        let secret = res.data()["startTotpEnrollment"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app
            .gql_as(
                &tokens.access,
                CONFIRM,
                json!({ "c": code(&app, &secret, 0) }),
            )
            .await;
        res.data();
        // Sessions that signed in without the factor ended; this one proved it.
        assert_eq!(
            app.me(&elsewhere_too.access).await.error_code(),
            "UNAUTHENTICATED"
        );
        for other in [&elsewhere, &elsewhere_too] {
            assert_eq!(
                app.refresh(&other.refresh).await.error_code(),
                "UNAUTHENTICATED"
            );
        }
        let res = app
            .gql_as(
                &tokens.access,
                "mutation { regenerateRecoveryCodes { codes } }",
                json!({}),
            )
            .await;
        assert_eq!(
            res.data()["regenerateRecoveryCodes"]["codes"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
    })
    .await;
}

#[tokio::test]
async fn an_administrators_reset_needs_their_recent_sign_in() {
    each_backend_with(&[("REAUTH_MAX_AGE", "1m")], |app| async move {
        let e = enrol(&app, "liam").await;
        let admin = app.admin("boss").await;
        app.advance(Duration::from_secs(61));
        let reset = "mutation($id: ID!) { adminResetMfa(id: $id) }";
        let res = app
            .gql_as(&admin.access, reset, json!({ "id": e.tokens.user_id }))
            .await;
        assert_eq!(res.error_code(), "REAUTHENTICATION_REQUIRED");
        let res = app
            .gql_as(
                &admin.access,
                "mutation($id: ID!) { adminUpdateUser(id: $id, input: { email: \"thief@example.com\" }) { id } }",
                json!({ "id": e.tokens.user_id }),
            )
            .await;
        assert_eq!(res.error_code(), "REAUTHENTICATION_REQUIRED");
        // Nothing changed: the account still asks for its code.
        mfa_token(&app, "liam").await;
    })
    .await;
}

#[tokio::test]
async fn a_two_step_sign_in_in_cookie_mode_sets_the_cookie_only_once_complete() {
    each_backend(|app| async move {
        let enrolled = enrol(&app, "cookiemfa").await;
        let send = |query: &'static str, variables: Value| {
            app.client
                .post(app.url("/graphql"))
                .header("x-authql-cookie", "1")
                .header("origin", &app.base_url)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
        };
        let login = send(
            crate::harness::LOGIN,
            json!({ "i": { "usernameOrEmail": "cookiemfa", "password": PASSWORD } }),
        )
        .await
        .unwrap();
        assert!(login.headers().get("set-cookie").is_none());
        let body: Value = login.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "MFA_REQUIRED");
        let token = body["errors"][0]["extensions"]["mfaToken"]
            .as_str()
            .unwrap();

        let done = send(
            VERIFY,
            json!({ "i": { "mfaToken": token, "code": code(&app, &enrolled.secret, 0) } }),
        )
        .await
        .unwrap();
        let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body: Value = done.json().await.unwrap();
        assert_eq!(body["data"]["verifyMfa"]["refreshToken"], "", "{body}");
        let value = cookie
            .strip_prefix("authql_refresh=")
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        assert_eq!(value.len(), 43, "{cookie}");
        assert!(cookie.contains("; HttpOnly"));
        // The cookie's session carries both methods.
        let refreshed = app.refresh(value).await;
        let access = refreshed.data()["refresh"]["accessToken"].as_str().unwrap();
        assert_eq!(claims(access)["amr"], json!(["pwd", "otp", "mfa"]));
    })
    .await;
}

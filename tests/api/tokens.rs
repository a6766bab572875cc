//! Access tokens: their shape, the JWKS, key rotation, and forged tokens refused.

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use serde_json::{Value, json};

use crate::harness::{TestApp, each_backend, each_backend_with};

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn jwks(app: &TestApp) -> JwkSet {
    let res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
    res.json().await.unwrap()
}

/// The access token lifetime the lifetime test configures (`ACCESS_TOKEN_TTL=15m`).
const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;

/// The service's own signing key, read from its database.
async fn signing_key(app: &TestApp) -> (String, EncodingKey) {
    let keys = authql::repo::signing_keys::current(&app.db).await.unwrap();
    assert_eq!(keys.len(), 1);
    let row = &keys[0];
    let der = STANDARD.decode(&row.private_key.0).unwrap();
    (row.kid.clone(), EncodingKey::from_ed_der(&der))
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn at_header(kid: &str) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some("at+jwt".into());
    h.kid = Some(kid.into());
    h
}

#[tokio::test]
async fn an_access_token_is_an_eddsa_at_jwt_with_every_claim() {
    each_backend(|app| async move {
        let t = app.register("alice").await;
        let header = decode_part(&t.access, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "at+jwt");
        assert!(header["kid"].is_string());
        let claims = decode_part(&t.access, 1);
        assert_eq!(claims["iss"], "authql");
        assert_eq!(claims["aud"], "authql");
        assert_eq!(claims["client_id"], "authql");
        assert_eq!(claims["sub"], t.user_id.as_str());
        for claim in ["jti", "sid"] {
            assert!(
                uuid::Uuid::parse_str(claims[claim].as_str().unwrap()).is_ok(),
                "{claim}"
            );
        }
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, 15 * 60);
        // A password sign-in, at the time the token was issued (RFC 9068, RFC 8176).
        assert_eq!(claims["auth_time"], claims["iat"]);
        assert_eq!(claims["amr"], json!(["pwd"]));
    })
    .await;
}

#[tokio::test]
async fn a_token_issued_without_auth_time_and_amr_still_verifies() {
    // Tokens issued before authql wrote `auth_time` and `amr` stay valid until they expire.
    each_backend(|app| async move {
        let t = app.register("older").await;
        let (kid, key) = signing_key(&app).await;
        let mut claims = decode_part(&t.access, 1);
        let object = claims.as_object_mut().unwrap();
        assert!(object.remove("auth_time").is_some());
        assert!(object.remove("amr").is_some());
        let res = app.me(&sign(&at_header(&kid), &claims, &key)).await;
        assert_eq!(res.data()["me"]["id"], t.user_id.as_str());
    })
    .await;
}

#[tokio::test]
async fn another_service_can_verify_a_token_offline_with_the_jwks() {
    each_backend(|app| async move {
        let t = app.register("alice").await;
        let set = jwks(&app).await;
        let raw: Value = serde_json::to_value(&set).unwrap();
        let key = &raw["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "EdDSA");
        let kid = decode_part(&t.access, 0)["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let jwk = set.find(&kid).expect("the token's kid is published");
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["authql"]);
        v.set_issuer(&["authql"]);
        let data =
            jsonwebtoken::decode::<Value>(&t.access, &DecodingKey::from_jwk(jwk).unwrap(), &v)
                .expect("verifies with the published key");
        assert_eq!(data.claims["sub"], t.user_id.as_str());
    })
    .await;
}

/// Runs `authql rotate-keys` as another process would, without blocking the runtime the
/// service under test runs on.
async fn rotate_keys(app: &TestApp, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("rotate-keys")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn kid_of(token: &str) -> String {
    decode_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rotate_keys_publishes_first_signs_later_and_retires_the_old_key_when_its_tokens_expire() {
    each_backend(|app| async move {
        let before = app.register("alice").await;
        let old_kid = kid_of(&before.access);
        let new_kid = rotate_keys(&app, &[]).await;
        assert_ne!(new_kid, old_kid);

        // What every replica does within a minute: the new key is published at once…
        app.state.keys.reload(app.state.clock.now()).await.unwrap();
        let set = jwks(&app).await;
        assert!(set.find(&old_kid).is_some() && set.find(&new_kid).is_some());
        // …but the old key signs until every verifier has had time to fetch the new one.
        let during = app.login_ok("alice", crate::harness::PASSWORD).await;
        assert_eq!(kid_of(&during.access), old_kid);

        app.advance(std::time::Duration::from_secs(6 * 60 + 1));
        let after = app.login_ok("alice", crate::harness::PASSWORD).await;
        assert_eq!(kid_of(&after.access), new_kid);
        app.me(&during.access).await.data();
        app.me(&after.access).await.data();

        // Once no token it signed can be valid, the retired key is gone.
        let purged = authql::service::maintenance::purge(&app.state)
            .await
            .unwrap();
        assert_eq!(purged.signing_keys, 0);
        app.advance(std::time::Duration::from_secs(15 * 60 + 30 + 60 + 1));
        let purged = authql::service::maintenance::purge(&app.state)
            .await
            .unwrap();
        assert_eq!(purged.signing_keys, 1);
        app.state.keys.reload(app.state.clock.now()).await.unwrap();
        let set = jwks(&app).await;
        assert!(set.find(&old_kid).is_none() && set.find(&new_kid).is_some());
    })
    .await;
}

#[tokio::test]
async fn rotate_keys_now_signs_with_the_new_key_at_once() {
    each_backend(|app| async move {
        let before = app.register("bob").await;
        let new_kid = rotate_keys(&app, &["--now"]).await;
        // Another replica rotated: this one meets the new kid in a token and reloads.
        app.state.keys.reload(app.state.clock.now()).await.unwrap();
        let after = app.login_ok("bob", crate::harness::PASSWORD).await;
        assert_eq!(kid_of(&after.access), new_kid);
        // Tokens of the retired key still work until they expire.
        app.me(&before.access).await.data();
        app.me(&after.access).await.data();
    })
    .await;
}

#[tokio::test]
async fn a_token_signed_correctly_by_the_service_key_is_accepted() {
    // The control for the forgeries below: re-signing real claims with the real key works,
    // so each refusal is due to the one thing that forgery changed.
    each_backend(|app| async move {
        let t = app.register("alice").await;
        let (kid, key) = signing_key(&app).await;
        let token = sign(&at_header(&kid), &decode_part(&t.access, 1), &key);
        app.me(&token).await.data();
    })
    .await;
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    each_backend(|app| async move {
        let t = app.register("alice").await;
        let (kid, key) = signing_key(&app).await;
        let claims = decode_part(&t.access, 1);
        let now = chrono::Utc::now().timestamp();
        let with = |k: &str, v: Value| {
            let mut c = claims.clone();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        let x = {
            let set = jwks(&app).await;
            serde_json::to_value(&set).unwrap()["keys"][0]["x"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());

        let mut forged: Vec<(&str, String)> = Vec::new();
        forged.push((
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "typ": "at+jwt", "kid": kid })),
                b64(&claims)
            ),
        ));
        let mut hs = Header::new(Algorithm::HS256);
        hs.typ = Some("at+jwt".into());
        hs.kid = Some(kid.clone());
        forged.push((
            "HS256 keyed with the public key",
            sign(&hs, &claims, &EncodingKey::from_secret(x.as_bytes())),
        ));
        forged.push(("unknown kid", sign(&at_header("not-a-key"), &claims, &key)));
        forged.push((
            "wrong iss",
            sign(&at_header(&kid), &with("iss", json!("evil")), &key),
        ));
        forged.push((
            "wrong aud",
            sign(&at_header(&kid), &with("aud", json!("other")), &key),
        ));
        forged.push((
            "wrong client_id",
            sign(&at_header(&kid), &with("client_id", json!("other")), &key),
        ));
        forged.push((
            "expired beyond the 30 s leeway",
            sign(&at_header(&kid), &with("exp", json!(now - 45)), &key),
        ));
        forged.push((
            "issued in the future",
            sign(&at_header(&kid), &with("iat", json!(now + 3600)), &key),
        ));
        for claim in ["sid", "jti", "client_id", "iat", "exp", "sub"] {
            forged.push((
                "a missing claim",
                sign(&at_header(&kid), &without(claim), &key),
            ));
        }
        let mut no_typ = at_header(&kid);
        no_typ.typ = None;
        forged.push(("no typ", sign(&no_typ, &claims, &key)));
        let mut jwt_typ = at_header(&kid);
        jwt_typ.typ = Some("JWT".into());
        forged.push(("typ JWT", sign(&jwt_typ, &claims, &key)));
        let mut parts: Vec<String> = t.access.split('.').map(str::to_owned).collect();
        parts[1] = b64(&with("sub", json!(uuid::Uuid::new_v4().to_string())));
        forged.push(("tampered payload", parts.join(".")));
        let attacker = {
            let seed = [7u8; 32];
            let prefix: [u8; 16] = [
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            EncodingKey::from_ed_der(&[&prefix[..], &seed].concat())
        };
        let mut with_jku = at_header(&kid);
        with_jku.jku = Some("https://attacker.example/jwks.json".into());
        forged.push((
            "signed by another key, with jku",
            sign(&with_jku, &claims, &attacker),
        ));
        forged.push(("a refresh token", t.refresh.clone()));
        forged.push(("garbage", "not.a.token".into()));

        for (what, token) in forged {
            let res = app.me(&token).await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED", "{what} was accepted");
        }
        // Still within the 30 s leeway, or the long form of the type: accepted.
        let lenient = sign(&at_header(&kid), &with("exp", json!(now - 10)), &key);
        app.me(&lenient).await.data();
        let early = sign(&at_header(&kid), &with("iat", json!(now + 20)), &key);
        app.me(&early).await.data();
        let mut long_typ = at_header(&kid);
        long_typ.typ = Some("application/at+jwt".into());
        app.me(&sign(&long_typ, &claims, &key)).await.data();
    })
    .await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    each_backend(|app| async move {
        let t = app.register("alice").await;
        app.advance(std::time::Duration::from_secs(15 * 60 + 31));
        assert_eq!(app.me(&t.access).await.error_code(), "UNAUTHENTICATED");
    })
    .await;
}

#[tokio::test]
async fn a_token_that_lives_longer_than_the_configured_lifetime_is_refused() {
    each_backend_with(&[("ACCESS_TOKEN_TTL", "15m")], |app| async move {
        let t = app.register("longlived").await;
        let (kid, key) = signing_key(&app).await;
        let mut claims = decode_part(&t.access, 1);
        let iat = claims["iat"].as_i64().unwrap();
        let ttl = ACCESS_TOKEN_TTL_SECS;
        // The configured lifetime exactly: accepted (the control).
        claims["exp"] = json!(iat + ttl);
        app.me(&sign(&at_header(&kid), &claims, &key)).await.data();
        // A second longer, or years (a token minted with a leaked key): refused.
        for exp in [iat + ttl + 1, iat + 10 * 365 * 86_400] {
            claims["exp"] = json!(exp);
            let res = app.me(&sign(&at_header(&kid), &claims, &key)).await;
            assert_eq!(res.error_code(), "UNAUTHENTICATED", "exp {exp}");
        }
    })
    .await;
}

/// Runs `authql revoke-key KID` as an operator would, from another process.
async fn revoke_key(app: &TestApp, kid: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("revoke-key")
        .arg(kid)
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_revoked_keys_tokens_are_refused_at_the_next_key_refresh_and_a_new_key_signs() {
    each_backend(|app| async move {
        let t = app.register("revoked").await;
        let kid = kid_of(&t.access);
        // Verified once, so the token is in the verified-token cache.
        app.me(&t.access).await.data();

        let out = revoke_key(&app, &kid).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(said.contains(&format!("revoked {kid}")), "{said}");

        // What every replica does within a minute (RELOAD_INTERVAL):
        app.state.keys.reload(app.state.clock.now()).await.unwrap();
        let res = app.me(&t.access).await;
        assert_eq!(res.error_code(), "UNAUTHENTICATED", "{:?}", res.body);
        assert!(jwks(&app).await.find(&kid).is_none());
        // A token freshly signed with the revoked key is refused too.
        let key = authql::repo::signing_keys::all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.kid == kid)
            .unwrap();
        assert!(key.revoked_at.is_some());
        let der = STANDARD.decode(&key.private_key.0).unwrap();
        let forged = sign(
            &at_header(&kid),
            &decode_part(&t.access, 1),
            &EncodingKey::from_ed_der(&der),
        );
        assert_eq!(app.me(&forged).await.error_code(), "UNAUTHENTICATED");

        // A new key signs at once, and its tokens work.
        let after = app.login_ok("revoked", crate::harness::PASSWORD).await;
        assert_ne!(kid_of(&after.access), kid);
        app.me(&after.access).await.data();
        assert!(jwks(&app).await.find(&kid_of(&after.access)).is_some());

        // An unknown or already revoked key is an error, not a silent success; a kid may
        // begin with `-` (base64url) and is still a kid, not an option.
        for kid in [kid.as_str(), "-not-a-kid"] {
            let out = revoke_key(&app, kid).await;
            assert!(!out.status.success());
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(said.contains("No signing key"), "{kid}: {said}");
        }
    })
    .await;
}

const SEALING_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test]
async fn with_an_encryption_key_the_stored_private_keys_do_not_decode_as_pkcs8() {
    each_backend_with(
        &[("SIGNING_KEY_ENCRYPTION_KEY", SEALING_KEY)],
        |app| async move {
            let t = app.register("sealed").await;
            app.me(&t.access).await.data();
            let rows = authql::repo::signing_keys::all(&app.db).await.unwrap();
            assert!(!rows.is_empty());
            let pkcs8_prefix = [
                0x30u8, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
            ];
            for row in rows {
                let stored = &row.private_key.0;
                assert!(stored.starts_with("sealed:v1:"), "{}", row.kid);
                // Neither the column nor its sealed body is a PKCS#8 key.
                for candidate in [stored.as_str(), &stored["sealed:v1:".len()..]] {
                    if let Ok(bytes) = STANDARD.decode(candidate) {
                        assert!(!bytes.starts_with(&pkcs8_prefix), "{}", row.kid);
                    }
                }
            }
        },
    )
    .await;
}

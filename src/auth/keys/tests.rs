use base64::{Engine as _, engine::general_purpose::STANDARD};

use super::*;

#[test]
fn a_generated_key_has_a_thumbprint_kid_and_a_32_byte_public_key() {
    let key = generate(&Custody::Clear, Utc::now(), Utc::now()).unwrap();
    assert_eq!(key.kid.len(), 43, "{}", key.kid);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&key.public_key)
        .unwrap();
    assert_eq!(x.len(), 32);
    let der = STANDARD.decode(&key.private_key.0).unwrap();
    assert_eq!(
        public_jwk(&der).unwrap().common.key_id.as_deref(),
        Some(key.kid.as_str())
    );
    // The JWK published from the public half alone is the same key.
    assert_eq!(jwk_of(&key), public_jwk(&der).unwrap());
    assert!(!format!("{key:?}").contains(&key.private_key.0));
}

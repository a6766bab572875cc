use argon2::{PasswordHasher as _, PasswordVerifier as _};

use super::*;

fn weak_params() -> HashParams {
    HashParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    }
}

fn pw(s: &str) -> Password {
    Password::candidate(s.into(), Field::Password).unwrap()
}

fn budget(concurrency: usize) -> HashBudget {
    HashBudget {
        concurrency: Some(concurrency),
        queue: 64,
        queue_per_client: 4,
        wait: std::time::Duration::from_secs(5),
    }
}

fn me() -> ClientKey {
    ClientKey::of(None)
}

/// The hashing threads run below request handling's priority (the nice value is field
/// 19 of `/proc/self/task/<tid>/stat`, counted after the parenthesised name).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_yield_to_request_handling() {
    let _hasher = Hasher::new(weak_params(), budget(2)).await.unwrap();
    let mut nice = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with("authql-hasher") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let field: i32 = after_name.split(' ').nth(16).unwrap().parse().unwrap();
        nice.push(field);
    }
    assert!(nice.len() >= 2, "hasher threads not found: {nice:?}");
    assert!(nice.iter().all(|&n| n == HASHER_NICE), "{nice:?}");
}

#[tokio::test]
async fn a_hash_verifies_its_password_only() {
    let hasher = Hasher::new(HashParams::OWASP, budget(2)).await.unwrap();
    let hash = hasher.hash(&pw("correct horse"), &me()).await.unwrap();
    assert!(
        hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hash.0
    );
    let ok = hasher
        .verify(&pw("correct horse"), Some(&hash), &me())
        .await
        .unwrap();
    assert_eq!(
        ok,
        Verified {
            matches: true,
            needs_rehash: false
        }
    );
    let bad = hasher
        .verify(&pw("Correct horse"), Some(&hash), &me())
        .await
        .unwrap();
    assert!(!bad.matches);
}

#[tokio::test]
async fn hashes_agree_with_the_argon2_crate_both_ways() {
    let hasher = Hasher::new(HashParams::OWASP, budget(1)).await.unwrap();
    let ours = hasher.hash(&pw("interoperable"), &me()).await.unwrap();
    let parsed = argon2::PasswordHash::new(&ours.0).unwrap();
    assert!(
        Argon2::default()
            .verify_password(b"interoperable", &parsed)
            .is_ok()
    );
    let theirs = Argon2::default()
        .hash_password(b"interoperable")
        .unwrap()
        .to_string();
    let v = hasher
        .verify(&pw("interoperable"), Some(&PasswordHash(theirs)), &me())
        .await
        .unwrap();
    assert!(v.matches);
}

#[tokio::test]
async fn no_stored_hash_never_matches() {
    let hasher = Hasher::new(HashParams::OWASP, budget(1)).await.unwrap();
    let v = hasher
        .verify(&pw("authql dummy password"), None, &me())
        .await
        .unwrap();
    assert!(!v.matches);
}

#[tokio::test]
async fn a_hash_weaker_than_configured_asks_for_a_rehash() {
    let weak = Hasher::new(weak_params(), budget(1)).await.unwrap();
    let strong = Hasher::new(HashParams::OWASP, budget(1)).await.unwrap();
    let hash = weak.hash(&pw("correct horse"), &me()).await.unwrap();
    let v = strong
        .verify(&pw("correct horse"), Some(&hash), &me())
        .await
        .unwrap();
    assert_eq!(
        v,
        Verified {
            matches: true,
            needs_rehash: true
        }
    );
}

#[tokio::test]
async fn a_garbled_stored_hash_does_not_match() {
    let hasher = Hasher::new(HashParams::OWASP, budget(1)).await.unwrap();
    for junk in [
        "pbkdf2_sha256$260000$salt$hash",
        "",
        "$argon2id$v=19$m=19456,t=2,p=1$x$y",
    ] {
        let v = hasher
            .verify(&pw("anything"), Some(&PasswordHash(junk.into())), &me())
            .await
            .unwrap();
        assert!(!v.matches, "{junk}");
    }
}

#[test]
fn constant_time_eq_compares_whole_slices() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
}

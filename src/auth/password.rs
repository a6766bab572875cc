//! Argon2id password hashing on tokio's blocking pool, behind a semaphore sized to the
//! cores, so a flood of logins queues for the hasher instead of starving other requests.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use crate::{domain::Password, entity::users::PasswordHash, error::AppError};

/// Argon2id cost parameters (OWASP's minimum is m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashParams {
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash is weaker than the configured parameters: store a new one.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords without blocking the async runtime.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    params: HashParams,
    permits: Arc<Semaphore>,
    /// A hash of nothing in particular, checked when there is no user so that an unknown
    /// name costs the same time as a wrong password.
    dummy: Arc<String>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

impl Hasher {
    /// Builds the hasher (computing its dummy hash once, on the blocking pool).
    ///
    /// # Errors
    /// When the parameters are out of Argon2's range.
    pub async fn new(params: HashParams, concurrency: usize) -> Result<Self, AppError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let for_dummy = argon.clone();
        let dummy = tokio::task::spawn_blocking(move || {
            for_dummy
                .hash_password(b"authql dummy password")
                .map(|h| h.to_string())
        })
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))?;
        Ok(Self {
            argon,
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    /// Runs CPU-heavy work on the blocking pool once a hasher slot is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        let argon = self.argon.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(argon)
        })
        .await
        .map_err(AppError::internal)
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for a new password, with a fresh random salt.
    ///
    /// # Errors
    /// Only internal ones.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
        let pw = password.expose().to_owned();
        self.run(move |argon| argon.hash_password(pw.as_bytes()).map(|h| h.to_string()))
            .await?
            .map(PasswordHash)
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// stored hash (unknown user), so both cases take the same time.
    ///
    /// # Errors
    /// Only internal ones; a stored hash that cannot be parsed simply does not match.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHash>,
    ) -> Result<Verified, AppError> {
        let pw = password.expose().to_owned();
        let real = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy.as_str().to_owned(), |h| h.0.clone());
        let params = self.params;
        self.run(move |argon| {
            let Ok(parsed) = argon2::PasswordHash::new(&hash) else {
                return Verified {
                    matches: false,
                    needs_rehash: false,
                };
            };
            let matches = real && argon.verify_password(pw.as_bytes(), &parsed).is_ok();
            if !real {
                // Same work as a real check; the answer is always no.
                let _ = argon.verify_password(pw.as_bytes(), &parsed);
            }
            Verified {
                matches,
                needs_rehash: matches && is_weaker(&parsed, params),
            }
        })
        .await
    }
}

/// Whether a stored hash is not Argon2id v19 or has lower costs than `wanted`.
fn is_weaker(hash: &argon2::PasswordHash, wanted: HashParams) -> bool {
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() < wanted.memory_kib
                || p.t_cost() < wanted.iterations
                || p.p_cost() < wanted.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weak_params() -> HashParams {
        HashParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::candidate(s.into(), "password").unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = Hasher::new(HashParams::OWASP, 2).await.unwrap();
        let hash = hasher.hash(&pw("correct horse")).await.unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.0
        );
        let ok = hasher
            .verify(&pw("correct horse"), Some(&hash))
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
            .verify(&pw("Correct horse"), Some(&hash))
            .await
            .unwrap();
        assert!(!bad.matches);
    }

    #[tokio::test]
    async fn no_stored_hash_never_matches() {
        let hasher = Hasher::new(HashParams::OWASP, 1).await.unwrap();
        let v = hasher
            .verify(&pw("authql dummy password"), None)
            .await
            .unwrap();
        assert!(!v.matches);
    }

    #[tokio::test]
    async fn a_hash_weaker_than_configured_asks_for_a_rehash() {
        let weak = Hasher::new(weak_params(), 1).await.unwrap();
        let strong = Hasher::new(HashParams::OWASP, 1).await.unwrap();
        let hash = weak.hash(&pw("correct horse")).await.unwrap();
        let v = strong
            .verify(&pw("correct horse"), Some(&hash))
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
        let hasher = Hasher::new(HashParams::OWASP, 1).await.unwrap();
        let junk = PasswordHash("pbkdf2_sha256$260000$salt$hash".into());
        let v = hasher.verify(&pw("anything"), Some(&junk)).await.unwrap();
        assert!(!v.matches);
    }
}

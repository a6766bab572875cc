//! Argon2id password hashing off the async runtime, at most one hash per core at a time, so
//! a flood of logins queues for the hasher instead of starving other requests. The queue is
//! bounded and fair between client addresses ([`super::fair_queue`]): a request that cannot
//! get a hasher in time is answered `RATE_LIMITED`, and one client's flood cannot push
//! another client's login back by more than a hash or two.
//!
//! The work runs on a few long-lived threads of its own (as many as hashes may run at
//! once), each keeping its Argon2 memory (19 MiB at the default cost) from one hash to the
//! next. Allocating that memory per hash on the runtime's blocking pool costs page faults
//! on every hash and, through the allocator's per-thread arenas, hundreds of MiB of
//! resident memory under load; reusing it keeps the hasher at `concurrency` × m KiB.

use std::sync::{Arc, Mutex, mpsc};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::fair_queue::{FairQueue, QueueLimits, Refusal};
use crate::{
    config::{HashBudget, HashParams},
    domain::PasswordHash,
    domain::{ClientKey, Password},
    error::{AppError, Field},
};

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash is weaker than the configured parameters: store a new one.
    pub needs_rehash: bool,
}

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: String,
        phc: String,
        /// Whether this is a real account's hash (else the dummy: never a match).
        real: bool,
        reply: oneshot::Sender<Verified>,
    },
}

/// Every hashing turn, held by [`Hasher::pause`] until dropped.
pub struct Paused {
    _turns: Vec<super::fair_queue::Turn>,
}

/// Hashes and verifies passwords without blocking the async runtime.
#[derive(Clone)]
pub struct Hasher {
    params: HashParams,
    jobs: mpsc::Sender<Job>,
    turns: FairQueue,
    /// Hashes computed (new hashes and verifications), for tests and operators.
    computed: Arc<std::sync::atomic::AtomicU64>,
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

fn argon(params: HashParams) -> Result<Argon2<'static>, String> {
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(OUTPUT_LEN),
    )
    .map_err(|e| format!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// One hashing thread: its Argon2 memory lives as long as the thread.
struct HasherThread {
    params: HashParams,
    argon: Argon2<'static>,
    memory: Vec<Block>,
}

impl HasherThread {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.memory.len() < count {
            self.memory.resize(count, Block::default());
        }
        &mut self.memory[..count]
    }

    fn hash(&mut self, password: &str) -> Result<String, String> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| format!("OS randomness unavailable: {e}"))?;
        let mut out = [0u8; OUTPUT_LEN];
        let argon = self.argon.clone();
        let count = argon.params().block_count();
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut out,
                self.blocks(count),
            )
            .map_err(|e| format!("argon2: {e}"))?;
        let phc = argon2::PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: argon
                .params()
                .try_into()
                .map_err(|e| format!("argon2: {e}"))?,
            salt: Some(argon2::password_hash::phc::Salt::new(&salt).map_err(|e| e.to_string())?),
            hash: Some(argon2::password_hash::phc::Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Recomputes `phc` for `password` with the stored parameters; `None` when the stored
    /// string is not an Argon2 hash this code can check.
    fn verify(&mut self, password: &str, phc: &str) -> Option<Verified> {
        let parsed = argon2::PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::new(parsed.algorithm.as_str()).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::V0x10,
        };
        let expected = parsed.hash?;
        let params = Params::try_from(&parsed).ok()?;
        let salt = parsed.salt?;
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let count = argon.params().block_count();
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                self.blocks(count),
            )
            .ok()?;
        let matches = constant_time_eq(&out, expected.as_bytes());
        let p = argon.params();
        let weaker = algorithm != Algorithm::Argon2id
            || version != Version::V0x13
            || p.m_cost() < self.params.memory_kib
            || p.t_cost() < self.params.iterations
            || p.p_cost() < self.params.parallelism;
        Some(Verified {
            matches,
            needs_rehash: matches && weaker,
        })
    }

    fn run(mut self, jobs: &Mutex<mpsc::Receiver<Job>>) {
        loop {
            let job = match jobs.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            match job {
                Ok(Job::Hash { password, reply }) => {
                    let _ = reply.send(self.hash(&password));
                }
                Ok(Job::Verify {
                    password,
                    phc,
                    real,
                    reply,
                }) => {
                    let verified = self.verify(&password, &phc).unwrap_or(Verified {
                        matches: false,
                        needs_rehash: false,
                    });
                    let _ = reply.send(if real {
                        verified
                    } else {
                        Verified {
                            matches: false,
                            needs_rehash: false,
                        }
                    });
                }
                // Every sender is gone: the service is shutting down.
                Err(_) => return,
            }
        }
    }
}

/// Compares without an early exit, so the time taken says nothing about where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The nice value of the hashing threads: when the cores are busy, request handling gets
/// about nine times their share of CPU (kernel weights 1024 and 110), so a login flood slows
/// logins, not every request. Alone, the hashers still have the cores to themselves.
#[cfg(target_os = "linux")]
const HASHER_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority (on Linux `setpriority` with a thread id
/// applies to that thread alone). Best effort: a failure only costs latency.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(err) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHER_NICE)
    {
        tracing::debug!(error = %err, "hasher priority left unchanged");
    }
}

impl Hasher {
    /// Starts one hashing thread per hash the budget runs at once, and computes the dummy
    /// hash.
    ///
    /// # Errors
    /// When the parameters are out of Argon2's range or a thread cannot start.
    pub async fn new(params: HashParams, budget: HashBudget) -> Result<Self, AppError> {
        let concurrency = budget.hashers();
        let template = argon(params).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = Vec::with_capacity(concurrency.max(1));
        for i in 0..concurrency.max(1) {
            let worker = HasherThread {
                params,
                argon: template.clone(),
                memory: Vec::new(),
            };
            let rx = rx.clone();
            let (started_tx, started_rx) = oneshot::channel();
            std::thread::Builder::new()
                .name(format!("authql-hasher-{i}"))
                .spawn(move || {
                    yield_to_requests();
                    let _ = started_tx.send(());
                    worker.run(&rx);
                })
                .map_err(AppError::internal)?;
            started.push(started_rx);
        }
        // Every thread has its priority before the first job can reach it.
        for thread in started {
            thread.await.map_err(AppError::internal)?;
        }
        let mut hasher = Self {
            params,
            jobs,
            turns: FairQueue::new(QueueLimits {
                permits: concurrency.max(1),
                queue: budget.queue,
                per_client: budget.queue_per_client,
                wait: budget.wait,
            }),
            dummy: Arc::new(String::new()),
            computed: Arc::default(),
        };
        let dummy = Password::candidate("authql dummy password".into(), Field::Password)?;
        hasher.dummy = Arc::new(hasher.hash(&dummy, &ClientKey::of(None)).await?.0);
        Ok(hasher)
    }

    /// Hands a job to the hashing threads once `client`'s turn comes, and waits for it.
    async fn run<T>(
        &self,
        client: &ClientKey,
        job: impl FnOnce(oneshot::Sender<T>) -> Job,
    ) -> Result<T, AppError> {
        let _turn = self.turns.turn(client).await.map_err(|refusal| {
            let why = match refusal {
                Refusal::QueueFull => "queue full",
                Refusal::ClientFull => "client's share of the queue full",
                Refusal::TimedOut => "no hasher in time",
            };
            tracing::debug!(why, "password hashing refused");
            crate::metrics::throttled("password_hash");
            AppError::RateLimited {
                retry_after_secs: 1,
            }
        })?;
        let (reply, answer) = oneshot::channel();
        self.computed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.jobs
            .send(job(reply))
            .map_err(|_| AppError::internal(anyhow::anyhow!("the hasher has stopped")))?;
        answer
            .await
            .map_err(|_| AppError::internal(anyhow::anyhow!("a hasher thread failed")))
    }

    /// Takes every hashing turn until the guard is dropped: new hashes and verifications
    /// wait meanwhile (and are refused after `PASSWORD_HASH_WAIT`). For holding requests
    /// at their password check: maintenance, and tests that must force a race
    /// deterministically.
    ///
    /// # Errors
    /// `RATE_LIMITED` when the turns do not all come free within the wait.
    pub async fn pause(&self) -> Result<Paused, AppError> {
        let mut turns = Vec::new();
        for _ in 0..self.turns.permits() {
            let turn =
                self.turns
                    .turn(&ClientKey::of(None))
                    .await
                    .map_err(|_| AppError::RateLimited {
                        retry_after_secs: 1,
                    })?;
            turns.push(turn);
        }
        Ok(Paused { _turns: turns })
    }

    /// Requests waiting for a hashing turn right now.
    pub fn waiting(&self) -> usize {
        self.turns.snapshot().1
    }

    /// How many hashes this hasher has computed (new ones and verifications).
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for a new password, with a fresh random salt,
    /// hashed in `client`'s turn.
    ///
    /// # Errors
    /// `RATE_LIMITED` when no hasher is free for `client` in time; otherwise only internal.
    pub async fn hash(
        &self,
        password: &Password,
        client: &ClientKey,
    ) -> Result<PasswordHash, AppError> {
        let password = password.expose().to_owned();
        self.run(client, |reply| Job::Hash { password, reply })
            .await?
            .map(PasswordHash)
            .map_err(|e| AppError::internal(anyhow::anyhow!(e)))
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// stored hash (unknown user), so both cases take the same time.
    ///
    /// # Errors
    /// `RATE_LIMITED` as [`Hasher::hash`]; otherwise only internal ones (a stored hash that
    /// cannot be parsed simply does not match).
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHash>,
        client: &ClientKey,
    ) -> Result<Verified, AppError> {
        let password = password.expose().to_owned();
        let real = stored.is_some();
        let phc = stored.map_or_else(|| self.dummy.as_str().to_owned(), |h| h.0.clone());
        self.run(client, |reply| Job::Verify {
            password,
            phc,
            real,
            reply,
        })
        .await
    }
}

#[cfg(test)]
mod tests;

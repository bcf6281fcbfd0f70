//! Argon2id password hashes (PHC strings), computed off the async threads.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
///
/// Each Argon2 run takes tens of milliseconds and 19 MiB (the crate's default parameters, the
/// OWASP minimum), so it runs in `spawn_blocking`, and at most one run per CPU at a time: a burst
/// of logins waits its turn instead of taking all the memory.
#[derive(Clone, Debug)]
pub struct Passwords {
    /// The hash of a random password nobody knows: logins for unknown usernames are checked
    /// against it, so that they take as long as a wrong password for a real user.
    dummy_hash: Arc<str>,
    permits: Arc<Semaphore>,
}

/// Hashing failed or its task panicked; the cause is for the log only.
#[derive(Debug)]
pub struct HashError(String);

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Passwords {
    pub async fn new() -> Result<Self, String> {
        let mut password = [0u8; 32];
        getrandom::fill(&mut password)
            .map_err(|error| format!("cannot generate a random password: {error}"))?;
        let dummy_hash = tokio::task::spawn_blocking(move || hash(&password))
            .await
            .map_err(|error| format!("cannot hash a password: {error}"))?
            .map_err(|error| format!("cannot hash a password: {error}"))?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            dummy_hash: Arc::from(dummy_hash),
            permits: Arc::new(Semaphore::new(cpus)),
        })
    }

    /// The PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash(password.as_bytes())).await?
    }

    /// Whether `password` matches `hash`; with `None` (no such user) it checks against the dummy
    /// hash, taking as long, and answers `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move || {
                Argon2::default()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError("the hashing semaphore is closed".to_owned()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|error| HashError(format!("the hashing task failed: {error}")))
    }
}

fn hash(password: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(format!("Argon2 failed: {error}")))
}

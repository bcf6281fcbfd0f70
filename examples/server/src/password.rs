//! Argon2id password hashes (PHC strings), computed off the async threads.

use std::sync::Arc;
use std::time::Duration;

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

/// How long a request waits for its turn to hash. A burst of hashing (registrations, which
/// anyone may send) must not keep a login waiting past the server's request timeout.
const PERMIT_WAIT: Duration = Duration::from_secs(5);

/// Why no hash was computed.
#[derive(Debug)]
pub enum HashError {
    /// Every CPU stayed busy hashing for [`PERMIT_WAIT`]: the server is overloaded.
    Busy,
    /// Hashing failed or its task panicked; the cause is for the log only.
    Failed(String),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Busy => write!(f, "no CPU free to hash within {PERMIT_WAIT:?}"),
            Self::Failed(why) => f.write_str(why),
        }
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
        let permit = Arc::clone(&self.permits).acquire_owned();
        let permit = tokio::time::timeout(PERMIT_WAIT, permit)
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Failed("the hashing semaphore is closed".to_owned()))?;
        // The permit goes with the run: a request that goes away does not stop the run, and
        // must not let another start beside it.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|error| HashError::Failed(format!("the hashing task failed: {error}")))
    }
}

fn hash(password: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError::Failed(format!("Argon2 failed: {error}")))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;

    use super::*;

    /// A request that goes away (its client hung up) while its Argon2 run goes on in the blocking
    /// pool must hold its permit until the run ends: else hung-up requests run any number of
    /// hashes at once, 19 MiB each.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_goes_away_keeps_its_permit_until_its_run_ends() {
        let passwords = Passwords {
            dummy_hash: Arc::from(""),
            permits: Arc::new(Semaphore::new(1)),
        };
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        for _ in 0..4 {
            let (running, most) = (running.clone(), most.clone());
            let run = passwords.run(move || {
                most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                running.fetch_sub(1, SeqCst);
            });
            // The client hangs up before the answer.
            let _ = tokio::time::timeout(Duration::from_millis(20), run).await;
        }
        // Every run that started has ended.
        while passwords.permits.available_permits() == 0 || running.load(SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(most.load(SeqCst), 1, "runs at once, with one permit");
    }

    /// Found by review: the wait for a turn to hash had no bound, so a burst of registrations
    /// kept logins waiting past the server's request timeout (408). A request waits at most
    /// `PERMIT_WAIT`, then is told the server is busy.
    #[tokio::test(start_paused = true)]
    async fn a_request_waits_its_turn_for_a_bounded_time() {
        let passwords = Passwords {
            dummy_hash: Arc::from(""),
            permits: Arc::new(Semaphore::new(1)),
        };
        let _busy = Arc::clone(&passwords.permits).acquire_owned().await;
        let started = tokio::time::Instant::now();
        let outcome = passwords.run(|| ()).await;
        assert!(matches!(outcome, Err(HashError::Busy)), "{outcome:?}");
        assert_eq!(started.elapsed(), PERMIT_WAIT);
    }
}

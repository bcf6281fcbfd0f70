//! Concurrent revocations of one token id: how many callers `Revocations::revoke` told "this call
//! revoked it". Shared by `tests/tokens_beyond.rs` (memory) and `tests/scale_out.rs` (Redis).
//!
//! Included as a module: `#[path = "support/race.rs"] mod race;`.

use std::fmt::Debug;
use std::sync::Arc;

use tower_login_manager::Revocations;

/// `tasks` tasks, released together by a barrier, each revoking `jti` until `exp`: the number
/// that got `true`. Needs a multi-thread runtime to race for real.
pub async fn winners<R>(store: &R, jti: &str, exp: u64, tasks: usize) -> usize
where
    R: Revocations,
    R::Error: Debug,
{
    let start = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, start, jti) = (store.clone(), start.clone(), jti.to_owned());
            tokio::spawn(async move {
                start.wait().await;
                store.revoke(&jti, exp).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        winners += usize::from(handle.await.unwrap());
    }
    winners
}

//! The user, the loader and the tokens of the tests that put the layer in front of a real server
//! and call it over a loopback socket: `tests/hyper.rs` and `tests/tonic.rs`
//! (`support::fixtures`). Tokens are signed with `support::SECRET`, on the real clock.

use std::time::Duration;

use tower_login_manager::LoginManager;

use super::{InMemory, SECRET};

/// What the loader loads, and the handlers find in the request's extensions.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
}

/// The servers' loader: knows user "1" (ada), fails for "down" and finds nobody else.
pub fn loader() -> InMemory<User> {
    InMemory::new()
        .user(
            "1",
            User {
                id: "1".into(),
                name: "ada".into(),
            },
        )
        .fails("down", "database is down")
}

/// A token for `user_id`, good for an hour.
pub fn token(user_id: &str) -> String {
    LoginManager::new(SECRET)
        .unwrap()
        .issue_token(user_id, Duration::from_secs(60 * 60))
        .unwrap()
}

/// A token for user 1 signed with another secret.
pub fn other_secret_token() -> String {
    LoginManager::new("another secret, also thirty-two bytes long")
        .unwrap()
        .issue_token("1", Duration::from_secs(60 * 60))
        .unwrap()
}

/// A token for user 1 minted two hours ago with a one-hour lifetime.
pub fn expired_token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let two_hours_ago = now - 2 * 60 * 60;
    LoginManager::builder(SECRET)
        .clock(move || two_hours_ago)
        .build()
        .unwrap()
        .issue_token("1", Duration::from_secs(60 * 60))
        .unwrap()
}

//! Access tokens signed with ES256 or EdDSA (`SIGNING_KEYS_FILE`), published at
//! `GET /.well-known/jwks.json`, and rotated without a restart.
//!
//! The file holds one or more PKCS#8 private keys in PEM (`openssl genpkey -algorithm EC -pkeyopt
//! ec_paramgen_curve:P-256`, or `-algorithm ed25519`): the first signs the access tokens, every
//! one is published. On SIGHUP the server reads the file again and brings the manager to it, one
//! library call per change, so that a rotation is three edits of the file:
//!
//! 1. append the next key, SIGHUP: it is published (`LoginManager::publish_key`); wait for the
//!    verifiers' copies of the set to expire (`JWKS_MAX_AGE_SECS`);
//! 2. move it to the top, SIGHUP: it signs (`LoginManager::sign_with`);
//! 3. once the old key's last access token has expired, remove the old key, SIGHUP: it is
//!    retired (`LoginManager::retire_key`).
//!
//! A file that cannot be read or holds a key that cannot be used changes nothing (the error is
//! logged, never the key). Keys are named by their RFC 7638 thumbprints, which do not change
//! across restarts.

use std::path::{Path, PathBuf};

use tower_login_manager::{LoginManager, SigningKey};

const END: &str = "-----END PRIVATE KEY-----";

/// The keys of `path`, the signing key first.
pub fn load(path: &Path) -> Result<Vec<SigningKey>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("SIGNING_KEYS_FILE {}: {error}", path.display()))?;
    let keys = text
        .split_inclusive(END)
        .filter(|block| block.contains("-----BEGIN"))
        .enumerate()
        .map(|(index, block)| {
            SigningKey::from_pem(block.trim()).map_err(|error| {
                format!(
                    "SIGNING_KEYS_FILE {}: key {} of the file: {error}",
                    path.display(),
                    index + 1
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (index, key) in keys.iter().enumerate() {
        if keys[..index].iter().any(|k| k.kid() == key.kid()) {
            return Err(format!(
                "SIGNING_KEYS_FILE {}: key {} is in the file twice",
                path.display(),
                index + 1
            ));
        }
    }
    if keys.is_empty() {
        return Err(format!(
            "SIGNING_KEYS_FILE {}: no PKCS#8 private key (-----BEGIN PRIVATE KEY-----)",
            path.display()
        ));
    }
    Ok(keys)
}

/// Brings `manager` to `keys`: publishes the new ones, signs with the first, retires the ones no
/// longer there. Returns what it did, for the log (key ids only).
pub fn apply(manager: &LoginManager, keys: &[SigningKey]) -> Result<String, String> {
    let published: Vec<String> = manager
        .jwks()
        .keys()
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    let mut done = Vec::new();
    for key in keys {
        if !published.iter().any(|kid| kid == key.kid()) {
            manager
                .publish_key(key.clone())
                .map_err(|error| error.to_string())?;
            done.push(format!("published {}", key.kid()));
        }
    }
    let signing = keys.first().expect("load returns at least one key");
    manager
        .sign_with(signing.kid())
        .map_err(|error| error.to_string())?;
    for kid in &published {
        if !keys.iter().any(|key| key.kid() == kid) {
            manager.retire_key(kid).map_err(|error| error.to_string())?;
            done.push(format!("retired {kid}"));
        }
    }
    done.push(format!(
        "signing access tokens with {} ({})",
        signing.kid(),
        signing.algorithm()
    ));
    Ok(done.join(", "))
}

/// Reads the file again on every SIGHUP and applies it; runs until the process ends.
pub fn reload_on_sighup(manager: LoginManager, path: PathBuf) {
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            eprintln!("error: cannot listen for SIGHUP: signing keys will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            match load(&path).and_then(|keys| apply(&manager, &keys)) {
                Ok(done) => eprintln!("signing keys reloaded: {done}"),
                Err(error) => eprintln!("error: signing keys not reloaded: {error}"),
            }
        }
    });
}

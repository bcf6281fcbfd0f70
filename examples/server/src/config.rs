//! Settings from the environment.

use std::env::{self, VarError};
use std::time::Duration;

use crate::client_address::{ForwardedHeader, TrustedProxies};
use crate::throttle::Limits;

/// Where the users live unless `DATABASE_URL` says otherwise: a file in the current directory,
/// created on first start (`mode=rwc`).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tower-login-manager-example.db?mode=rwc";

/// Length of the secret generated when `SECRET_KEY` is not set.
const GENERATED_SECRET_LEN: usize = 48;

/// The server's settings. No `Debug`: it holds the secret.
pub struct Config {
    pub host: String,
    pub port: u16,
    pub secret: Vec<u8>,
    pub secret_is_generated: bool,
    pub database_url: String,
    /// Where revoked tokens are shared; `None`: in this process's memory.
    pub redis_url: Option<String>,
    /// How long a loaded user is kept in this process (`USER_CACHE_SECS`); zero (unset): not at
    /// all.
    pub user_cache: Duration,
    /// Failed logins allowed per window (`LOGIN_MAX_FAILURES`, default 5 per username;
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS`, default 20 per client address; `LOGIN_WINDOW_SECS`,
    /// default 900).
    pub login_limits: Limits,
    /// The reverse proxies whose forwarded client address the throttle believes
    /// (`TRUSTED_PROXIES`, and the header they write, `FORWARDED_HEADER`); none when unset.
    pub trusted_proxies: TrustedProxies,
    /// The prefix of the session cookies' names (`COOKIE_PREFIX`): `""` (unset), `__Secure-` or
    /// `__Host-`, against sibling subdomains.
    pub cookie_prefix: &'static str,
    /// The PEM file of the keys that sign access tokens (`SIGNING_KEYS_FILE`); `None` (unset):
    /// every token HS256 with the secret. See `signing_keys.rs`.
    pub signing_keys_file: Option<std::path::PathBuf>,
    /// How long clients may keep `GET /.well-known/jwks.json` (`JWKS_MAX_AGE_SECS`, default
    /// 300): the wait between publishing a key and signing with it.
    pub jwks_max_age: Duration,
}

impl Config {
    /// Reads `HOST`, `PORT`, `SECRET_KEY`, `DATABASE_URL`, `REDIS_URL`, `USER_CACHE_SECS`, the
    /// login limits, the trusted proxies, `COOKIE_PREFIX`, `SIGNING_KEYS_FILE` and
    /// `JWKS_MAX_AGE_SECS`. Empty counts as unset for all but `HOST`, `PORT`, `DATABASE_URL`
    /// and `SECRET_KEY`: an empty `HOST`, `PORT` or `DATABASE_URL` is an error, and an empty
    /// `SECRET_KEY` is refused as too short rather than replaced by a generated one. The secret's
    /// length is checked by the `LoginManager` builder, not here, so that the message is the
    /// crate's.
    pub fn from_env() -> Result<Self, String> {
        let host = var("HOST")?.unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = match var("PORT")? {
            None => 3000,
            Some(port) => port
                .parse()
                .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}"))?,
        };
        let (secret, secret_is_generated) = match var("SECRET_KEY")? {
            Some(secret) => (secret.into_bytes(), false),
            None => {
                let mut secret = vec![0; GENERATED_SECRET_LEN];
                getrandom::fill(&mut secret)
                    .map_err(|error| format!("cannot generate a secret: {error}"))?;
                (secret, true)
            }
        };
        let database_url = var("DATABASE_URL")?.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let redis_url = var("REDIS_URL")?.filter(|url| !url.is_empty());
        let user_cache = match var("USER_CACHE_SECS")?.filter(|v| !v.is_empty()) {
            None => Duration::ZERO,
            Some(secs) => secs.parse().map(Duration::from_secs).map_err(|_| {
                format!("USER_CACHE_SECS must be a whole number of seconds, not {secs:?}")
            })?,
        };
        let login_limits = Limits {
            per_username: number("LOGIN_MAX_FAILURES", 5)?,
            per_address: number("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)?,
            window: Duration::from_secs(number("LOGIN_WINDOW_SECS", 900)?.into()),
        };
        let forwarded_header = match var("FORWARDED_HEADER")?.filter(|v| !v.is_empty()) {
            None => ForwardedHeader::default(),
            Some(name) => ForwardedHeader::parse(&name)?,
        };
        let trusted_proxies = TrustedProxies::parse(
            &var("TRUSTED_PROXIES")?.unwrap_or_default(),
            forwarded_header,
        )?;
        // One prefix for both names, so that no setting puts a refresh cookie a sibling can
        // plant beside a `__Host-` access cookie (which `SessionCookies::names` refuses).
        let cookie_prefix = match var("COOKIE_PREFIX")?.as_deref() {
            None | Some("") => "",
            Some("__Secure-") => "__Secure-",
            Some("__Host-") => "__Host-",
            Some(other) => {
                return Err(format!(
                    "COOKIE_PREFIX must be __Host- or __Secure- (or unset), not {other:?}"
                ));
            }
        };
        let signing_keys_file = var("SIGNING_KEYS_FILE")?
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from);
        let jwks_max_age = match var("JWKS_MAX_AGE_SECS")?.filter(|v| !v.is_empty()) {
            None => Duration::from_secs(300),
            Some(secs) => secs.parse().map(Duration::from_secs).map_err(|_| {
                format!("JWKS_MAX_AGE_SECS must be a whole number of seconds, not {secs:?}")
            })?,
        };
        Ok(Self {
            signing_keys_file,
            jwks_max_age,
            cookie_prefix,
            login_limits,
            trusted_proxies,
            host,
            port,
            secret,
            secret_is_generated,
            database_url,
            redis_url,
            user_cache,
        })
    }
}

/// A whole number of at least 1 from the environment, `default` when unset or empty.
fn number(name: &str, default: u32) -> Result<u32, String> {
    match var(name)?.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => {
            value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                format!("{name} must be a whole number of at least 1, not {value:?}")
            })
        }
    }
}

/// An environment variable, `None` when unset. The error names the variable, never its value
/// (it may be the secret).
fn var(name: &str) -> Result<Option<String>, String> {
    match env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

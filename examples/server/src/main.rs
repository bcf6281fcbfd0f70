//! An API server with register, login and a protected `/me`: the Flask API login manager's demo,
//! on axum with [`LoginLayer`] and users in SQLite (or PostgreSQL).
//!
//! ```text
//! cargo run -p example-server
//! ```
//!
//! Its settings (environment variables), routes, browser page, login limits and several
//! instances behind a load balancer are described in `examples/server/README.md`, in one place.
//!
//! [`LoginLayer`]: tower_login_manager::LoginLayer
//! [`CachedLoader`]: tower_login_manager::CachedLoader

mod answer;
mod client_address;
mod config;
mod db;
mod password;
mod request_log;
mod revocations;
mod routes;
mod serve;
mod signing_keys;
mod throttle;
mod username;

use std::process::ExitCode;

use axum::middleware;
use tokio::net::TcpListener;
use tower_login_manager::{CachedLoader, LoginLayer, LoginManager, SessionCookies};

use crate::config::Config;
use crate::db::{Database, Loader};
use crate::password::Passwords;
use crate::revocations::Store;
use crate::routes::AppState;
use crate::throttle::Throttle;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    if config.secret_is_generated {
        eprintln!(
            "warning: SECRET_KEY is not set, so a random secret was generated for this run: \
             tokens issued now will NOT survive a restart. Set SECRET_KEY to at least 32 bytes \
             (e.g. `export SECRET_KEY=$(openssl rand -base64 48)`) to keep them valid."
        );
    }

    // The secret and REDIS_URL are checked before anything else is touched (no database file is
    // created for a server that cannot start).
    let manager = LoginManager::new(&config.secret)
        .map_err(|error| format!("SECRET_KEY cannot be used: {error}"))?;
    drop(config.secret);
    // Signing keys, like the secret, before anything else is touched.
    if let Some(path) = &config.signing_keys_file {
        let done = signing_keys::apply(&manager, &signing_keys::load(path)?)?;
        eprintln!("signing keys: {done}; reloaded on SIGHUP");
        signing_keys::reload_on_sighup(manager.clone(), path.clone());
    } else {
        eprintln!("signing keys: none (SIGNING_KEYS_FILE unset): every token is HS256");
    }
    // One Redis connection, made by the crate's store with its settings, shared with the
    // login throttle so that both recover together when Redis comes back.
    let revocations = Store::new(config.redis_url.as_deref())?;
    let redis = revocations.redis_connection();
    let throttle = Throttle::new(config.login_limits, redis);

    let database = Database::connect(&config.database_url).await?;
    eprintln!("database: {}", database.describe());
    eprintln!("revoked tokens: {}", revocations.describe());
    let limits = config.login_limits;
    eprintln!(
        "failed logins: {} per username, {} per client address, per {} s; counted {}",
        limits.per_username,
        limits.per_address,
        limits.window.as_secs(),
        throttle.describe()
    );
    eprintln!("client addresses: {}", config.trusted_proxies.describe());
    let users = database.users();
    let loader = match config.user_cache.as_secs() {
        0 => {
            eprintln!("users: loaded from the database on every request (USER_CACHE_SECS unset)");
            Loader::Direct(users.clone())
        }
        secs => {
            eprintln!("users: cached for {secs} s after loading (USER_CACHE_SECS)");
            // At most this many users are kept; the ones cached longest ago make room.
            const CACHED_USERS: usize = 10_000;
            Loader::Cached(CachedLoader::new(
                users.clone(),
                config.user_cache,
                CACHED_USERS,
            ))
        }
    };
    let passwords = Passwords::new().await?;

    let login = LoginLayer::new(manager.clone(), loader)
        .revocations(revocations.clone())
        .on_backend_error(|error| {
            eprintln!("error: loading a token's user or checking its revocation failed: {error}")
        });
    let app = routes::app(AppState {
        users,
        login,
        manager,
        jwks_max_age: config.jwks_max_age,
        passwords,
        revocations,
        throttle,
        trusted_proxies: config.trusted_proxies,
        cookies: SessionCookies::new().names(
            format!("{}access_token", config.cookie_prefix),
            format!("{}refresh_token", config.cookie_prefix),
        ),
    })
    .layer(middleware::from_fn(serve::request_timeout))
    .layer(middleware::from_fn(request_log::log_request));

    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|error| format!("cannot listen on {}:{}: {error}", config.host, config.port))?;
    let addr = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    eprintln!("listening on http://{addr}");

    serve::serve(listener, app).await;

    database.close().await;
    eprintln!("stopped");
    Ok(())
}

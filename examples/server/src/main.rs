//! An API server with register, login and a protected `/me`: the Flask API login manager's demo,
//! on axum with [`LoginLayer`] and users in SQLite (or PostgreSQL).
//!
//! ```text
//! cargo run -p example-server
//! ```
//!
//! | variable          | default                                                    |
//! | ----------------- | ---------------------------------------------------------- |
//! | `HOST`            | `127.0.0.1`                                                |
//! | `PORT`            | `3000`                                                     |
//! | `SECRET_KEY`      | random at each start (tokens die with the process)         |
//! | `DATABASE_URL`    | `sqlite://tower-login-manager-example.db?mode=rwc`         |
//! | `REDIS_URL`       | unset: revoked tokens are kept in this process's memory    |
//! | `USER_CACHE_SECS` | unset: users are loaded from the database on every request |
//!
//! `SECRET_KEY` must be at least 32 bytes (`openssl rand -base64 48`). `DATABASE_URL` may also
//! name a PostgreSQL database (`postgres://user:password@host/db`): the queries are the same.
//! `REDIS_URL` (`redis://host:port`) keeps revoked tokens in Redis, so
//! that several instances behind a load balancer, with the same `SECRET_KEY` and a shared
//! PostgreSQL, honour each other's logouts. While Redis is unreachable, protected routes answer
//! 503 and recover by themselves when it is back.
//!
//! `USER_CACHE_SECS=N` keeps each loaded user in this process for N seconds ([`CachedLoader`]),
//! so that a busy user costs one query per N seconds instead of one per request, and concurrent
//! requests for one user share one query. A change to a user shows up to N seconds late; a logout
//! does not wait: revocation is checked on every request, before the cache.
//!
//! Endpoints: `POST /register` and `POST /login` with `{"username": "..", "password": ".."}`
//! (login answers an access `token` and a `refresh_token`), `GET /me` and `POST /logout` with
//! `Authorization: Bearer <token>`, `POST /refresh` with `Authorization: Bearer <refresh_token>`
//! (a new pair; the refresh token is spent), `GET /health`. Every error is
//! `{"status": <code>, "message": ".."}`.
//!
//! For browsers: `GET /` serves a page to register, log in, see the current user and log out;
//! `POST /session` logs in as `/login` does but puts the tokens into `HttpOnly` cookies
//! (`SessionCookies`) and answers the user. `/me`, `/refresh` and `/logout` take the cookie when
//! the `Authorization` header holds no bearer token; the layer refuses a cookie's token on a
//! cross-origin `POST`, and tower-http's `CsrfLayer` refuses cross-origin posts to `/session` and
//! `/register`. `/logout` clears the cookies.
//!
//! Login attempts (`/login`, `/session`) are limited per username (`LOGIN_MAX_FAILURES`, 5) and
//! per client address (`LOGIN_MAX_FAILURES_PER_ADDRESS`, 20) in windows of `LOGIN_WINDOW_SECS`
//! (900), each counted before its password is checked (a success takes it back): past the limit,
//! 429 with `Retry-After`, without checking the password. The counts are shared through
//! `REDIS_URL` when it is set.
//!
//! A client has 10 s to send a request's headers (a connection that sends nothing is closed), and
//! a request is answered within 20 s (408 otherwise); on Ctrl-C or SIGTERM the server stops
//! taking connections and finishes the requests in flight.
//!
//! [`LoginLayer`]: tower_login_manager::LoginLayer
//! [`CachedLoader`]: tower_login_manager::CachedLoader

mod config;
mod db;
mod password;
mod request_log;
mod revocations;
mod routes;
mod serve;
mod throttle;

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
        passwords,
        revocations,
        throttle,
        cookies: SessionCookies::new(),
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

//! The routes, the JSON body they read, and the JSON errors they answer.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::csrf::{CsrfLayer, ProtectionError};
use tower_login_manager::{
    Claims, CurrentUser, LoginLayer, LoginManager, Rejection, RequireLayer, Revocations,
    SessionCookies, TokenKind, TokenLocation, TokenPair,
};

use crate::answer::status_message;
use crate::client_address::TrustedProxies;
use crate::db::{CreateError, Loader, User, Users};
use crate::password::{HashError, Passwords};
use crate::revocations::Store;
use crate::throttle::{RetryAfter, Throttle, retry_after_secs};
use crate::username::skeleton;

/// Longest accepted username, in characters.
const MAX_USERNAME_CHARS: usize = 64;
/// Longest accepted password, in bytes (Argon2 reads all of it).
const MAX_PASSWORD_BYTES: usize = 1024;
/// Largest accepted request body.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long the socket of `GET /ws` stays open, all told: it sends one message and closes.
const SOCKET_LIFETIME: Duration = Duration::from_secs(5);
/// Largest message or frame `GET /ws` reads from a client (it expects only a close).
const MAX_SOCKET_MESSAGE_BYTES: usize = 1024;

#[derive(Clone, Debug)]
pub struct AppState {
    pub users: Users,
    /// The login layer: its loader (`users`, behind a cache when `USER_CACHE_SECS` is set), the
    /// revocation store and the hook that logs their failures. The routes' layers are made from
    /// it, and handlers refuse a request with its answers.
    pub login: LoginLayer<Loader, Store>,
    pub manager: LoginManager,
    /// `Cache-Control: max-age` of `GET /.well-known/jwks.json` (`JWKS_MAX_AGE_SECS`).
    pub jwks_max_age: std::time::Duration,
    pub passwords: Passwords,
    pub revocations: Store,
    pub throttle: Throttle,
    /// Whose forwarded headers name the client the throttle counts (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// The browser's cookies: the access cookie for every route, the refresh cookie for
    /// `/refresh` (`access_token` and `refresh_token`, with `COOKIE_PREFIX` before both).
    pub cookies: SessionCookies,
}

/// The browser page, served by the server itself: plain HTML and JavaScript, no build step.
const PAGE: &str = include_str!("../static/index.html");
const SCRIPT: &str = include_str!("../static/app.js");
const STYLE: &str = include_str!("../static/app.css");

/// `POST /register`, `POST /login` (tokens in the body, for API clients), `POST /session` (tokens
/// in cookies, for browsers), `GET /health`, `GET /.well-known/jwks.json` (the public keys), `GET /`, `/app.js` and `/app.css` (the browser
/// page); `GET /me`, `GET /ws` (a WebSocket), `POST /logout`, `POST /logout-all` (every session
/// of the user), `POST /password` (a password change) and `GET /admin` (only for users whose
/// stored role is `admin`: 403 for the others) behind the login layer (access tokens,
/// from the `Authorization` header or the access cookie); `POST /refresh` and `DELETE /refresh`
/// (the end of the session) behind a second one that takes only refresh tokens (header, or the
/// refresh cookie). Both layers check the revocation store, and refuse a cookie's token
/// on a cross-origin `POST` or `DELETE`, or WebSocket handshake (the layer's default).
pub fn app(state: AppState) -> Router {
    // `route_layer`: the layer runs only for routes that matched, so an unknown path is a 404
    // and not a "You need to login".
    // Only admins: the requirement asks the user the login layer loaded (from the database, or
    // its cache), so it runs inside the login layer: a `route_layer` before the login layer's.
    let admins = Router::new()
        .route("/admin", get(admin))
        .route_layer(RequireLayer::user(|user: &User| {
            std::future::ready(Ok::<_, std::convert::Infallible>(user.admin))
        }));
    let protected = Router::new()
        .merge(admins)
        .route("/me", get(me))
        .route("/ws", get(live))
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all))
        .route("/password", post(change_password))
        .route_layer(state.login.clone().token_locations([
            TokenLocation::Header,
            state.cookies.location(TokenKind::Access),
        ]));
    let refresh = Router::new()
        .route("/refresh", post(refresh).delete(end_session))
        .route_layer(
            state
                .login
                .clone()
                .token_kind(TokenKind::Refresh)
                .token_locations([
                    TokenLocation::Header,
                    state.cookies.location(TokenKind::Refresh),
                ]),
        );

    // The forms of the page carry no token for the login layer's check to guard, so tower-http's
    // `CsrfLayer` (the same Go 1.25 rules) refuses cross-origin posts to them: otherwise another
    // site could register accounts through the user's browser, or log the user into the
    // attacker's account (login CSRF). API clients send neither header and pass.
    let layer = state.login.clone();
    let forms = Router::new()
        .route("/register", post(register))
        .route("/session", post(session))
        .route_layer(
            CsrfLayer::new().with_rejection_response(move |_: ProtectionError| {
                layer
                    .rejection_response(&Rejection::CrossOrigin)
                    .map(Body::from)
            }),
        );

    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route("/health", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/login", post(login))
        .merge(forms)
        .merge(protected)
        .merge(refresh)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// `GET /`: the page. Its script and style are files of their own, so that the policy allows
/// nothing inline.
async fn page() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ],
        PAGE,
    )
}

async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

async fn style() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /.well-known/jwks.json`: the public keys that verify this server's access tokens (RFC 7517
/// section 5), empty without `SIGNING_KEYS_FILE`; cacheable for `JWKS_MAX_AGE_SECS`.
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let max_age = format!("public, max-age={}", state.jwks_max_age.as_secs());
    (
        [
            // RFC 7517 section 8.5.1.
            (
                axum::http::header::CONTENT_TYPE,
                "application/jwk-set+json".to_owned(),
            ),
            (axum::http::header::CACHE_CONTROL, max_age),
        ],
        state.manager.jwks().to_json(),
    )
}

async fn register(
    State(state): State<AppState>,
    credentials: Credentials,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let Credentials { username, password } = credentials;
    let username = username_form(&username).map_err(ApiError::bad_request)?;
    let hash = state
        .passwords
        .hash(password)
        .await
        .map_err(|error| ApiError::hashing("hashing a password", error))?;
    match state.users.create(&username, &hash).await {
        Ok(user) => Ok((StatusCode::CREATED, Json(user))),
        Err(CreateError::Taken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "Username already taken",
        )),
        Err(CreateError::Database(error)) => Err(ApiError::internal("creating a user", error)),
    }
}

/// `POST /login`: the tokens in the body, for API clients.
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let client = state.trusted_proxies.client_address(peer.ip(), &headers);
    let user = authenticate(&state, client, credentials).await?;
    token_pair(new_pair(&state, &user)?)
}

/// `POST /session`: the same check, for browsers: the tokens go into `HttpOnly` cookies that no
/// script can read, and the body is the user.
async fn session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let client = state.trusted_proxies.client_address(peer.ip(), &headers);
    let user = authenticate(&state, client, credentials).await?;
    let pair = new_pair(&state, &user)?;
    session_cookies(&state, &user, &pair)
}

/// The user these credentials are the password of, or the answer to give: 429 while the username
/// or the client address (the TCP peer's, or what trusted proxies forwarded) has used up its attempts (each attempt is counted before its password
/// is checked, and the password is not checked then, so the answer's time tells nothing), 401 for
/// a wrong password or an unknown username. A success takes its attempt back, and so does a
/// failure of the database (500), which checked no password. Neither the password nor its hash
/// is ever logged.
async fn authenticate(
    state: &AppState,
    address: IpAddr,
    credentials: Credentials,
) -> Result<User, ApiError> {
    let Credentials { username, password } = credentials;
    // The username in its one form, as `/register` stored it. `None`: no account has such a
    // name; counted for the address only, and answered as a wrong password without asking the
    // database, so that such names cannot fill the throttle's memory.
    // Counted under its skeleton: look-alikes of a name count as that name.
    let username = username_form(&username).ok();
    let counted = username.as_deref().map(skeleton);
    let attempt = state
        .throttle
        .attempt(counted.as_deref(), address)
        .await
        .map_err(ApiError::too_many_attempts)?;
    // Cut off before its end (the request timed out), the attempt is taken back.
    match check_password(state, username.as_deref(), password).await {
        Ok(Some(user)) => {
            attempt.succeeded().await;
            Ok(user)
        }
        Ok(None) => {
            attempt.failed();
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Invalid username or password",
            ))
        }
        Err(error) => {
            attempt.unchecked().await;
            Err(error)
        }
    }
}

/// The user whose password this is; `None` for a wrong password or an unknown username (or
/// none, for a name no account can have); `Err` when the database or the hashing failed.
async fn check_password(
    state: &AppState,
    username: Option<&str>,
    password: String,
) -> Result<Option<User>, ApiError> {
    let found = match username {
        Some(username) => state
            .users
            .find_with_hash(username)
            .await
            .map_err(|error| ApiError::internal("looking up a user", error))?,
        None => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // An unknown username costs a hash too (against a dummy), and gets the same answer as a wrong
    // password: the answer and its timing do not tell which usernames exist.
    let matches = state
        .passwords
        .verify(password, hash)
        .await
        .map_err(|error| ApiError::hashing("verifying a password", error))?;
    Ok(user.filter(|_| matches))
}

/// `POST /refresh` with `Authorization: Bearer <refresh token>`: the presented refresh token is
/// revoked (rotation: each one is good for a single exchange) and a new pair of the same session
/// is answered, as by `/login`. The layer has already refused refresh tokens that are revoked,
/// expired or invalid, access tokens, and users that no longer exist.
///
/// The token is spent before the pair is issued, in one atomic step: two requests with the same
/// token can both pass the layer's check, but only the one whose revocation answers `true` gets a
/// pair. A spent token that comes back is a reuse (RFC 9700 section 4.14.2): two parties hold it,
/// and which one is legitimate cannot be told, so its session ends (every token of it, the pair
/// issued from the spent token included) and the request gets the layer's 401 for a revoked
/// token. The layer does the same for a reuse it refuses itself.
async fn refresh(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser<User>,
    claims: Claims,
) -> Result<Response, ApiError> {
    if !revoke(&state, &claims).await? {
        end_session_of(&state, &claims).await?;
        return Err(ApiError::login(&state.login, Rejection::Revoked));
    }
    let pair = state
        .manager
        .refresh_token_pair(&claims)
        .map_err(|error| ApiError::internal("issuing a token", error))?;
    answer_pair(&state, &claims, &user, pair)
}

/// Revokes the session of `claims` (every token of it); a store that cannot be reached is a 503.
async fn end_session_of(state: &AppState, claims: &Claims) -> Result<bool, ApiError> {
    let revocation = claims.revocation();
    state
        .revocations
        .revoke_session(revocation)
        .await
        .map_err(|error| unavailable(state, "revoking a session", error))
}

/// `POST /logout-all` with the access token: every token of this user issued before this second
/// is refused, on every instance that shares the revocation store: every session, on every device
/// ("log out everywhere"). A browser's cookies are cleared as well.
async fn logout_all(State(state): State<AppState>, claims: Claims) -> Result<Response, ApiError> {
    cut_off(&state, claims.user_id()).await?;
    Ok(signed_out(&state, &claims, "Logged out everywhere"))
}

/// `POST /password` with the access token and `{"old_password": "..", "new_password": ".."}`:
/// the old password is checked as `/login` checks one (the same throttle, the same client address
/// behind trusted proxies: a wrong one counts as a failed login, and 429 once the attempts are
/// used up), the new one is hashed as `/register`
/// hashes it, and every session of the user ends (the cutoff of `/logout-all`). The answer is a
/// new pair for this client, as `/login` (or `/session`, for a browser) answers it: only the
/// other sessions end. Neither password is ever logged.
async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    CurrentUser(user): CurrentUser<User>,
    claims: Claims,
    change: PasswordChange,
) -> Result<Response, ApiError> {
    let PasswordChange { old, new } = change;
    let client = state.trusted_proxies.client_address(peer.ip(), &headers);
    let credentials = Credentials {
        username: user.username.clone(),
        password: old,
    };
    let user = authenticate(&state, client, credentials).await?;
    let hash = state
        .passwords
        .hash(new)
        .await
        .map_err(|error| ApiError::hashing("hashing a password", error))?;
    state
        .users
        .set_password_hash(user.id, &hash)
        .await
        .map_err(|error| ApiError::internal("changing a password", error))?;
    // Once the password is changed, not when the request came in: a token issued while the new
    // password was hashed (a refresh on another device) must not escape the cutoff.
    cut_off(&state, &user.id.to_string()).await?;
    // Issued in the cutoff's second or later: `iat < cutoff` refuses only the earlier tokens.
    let pair = new_pair(&state, &user)?;
    answer_pair(&state, &claims, &user, pair)
}

/// Sets the cutoff of the user `user_id` to now, on the manager's clock: tokens issued in an
/// earlier second are refused.
async fn cut_off(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    // `false`: a concurrent request set the same cutoff, or a later one.
    let _moved = state
        .revocations
        .revoke_user(state.manager.user_revocation(user_id))
        .await
        .map_err(|error| unavailable(state, "logging a user out everywhere", error))?;
    Ok(())
}

/// `POST /logout` with the access token (header or cookie): that token is revoked until it
/// expires, on every instance that shares the revocation store. A browser's cookies are cleared
/// as well. The session's refresh token lives on: `DELETE /refresh` ends it.
async fn logout(State(state): State<AppState>, claims: Claims) -> Result<Response, ApiError> {
    // `false`: a concurrent logout with the same token revoked it first; logged out all the same.
    let _revoked_here = revoke(&state, &claims).await?;
    Ok(signed_out(&state, &claims, "Logged out"))
}

/// `DELETE /refresh` with the refresh token (header, or the browser's refresh cookie, which the
/// browser sends to `/refresh` only, or everywhere with `COOKIE_PREFIX=__Host-`): ends the
/// session. The refresh token is revoked, and so is its session (every token of it: the API
/// client's access token, the pairs refreshed from it), and this user's access token in the
/// access cookie, which the browser sends with every request; a browser's cookies are cleared.
async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    claims: Claims,
) -> Result<Response, ApiError> {
    // `false`: a concurrent request spent the token first, perhaps a `/refresh` whose new pair
    // goes on: this request ended nothing, and says so as `/refresh` would.
    if !revoke(&state, &claims).await? {
        return Err(ApiError::login(&state.login, Rejection::Revoked));
    }
    end_session_of(&state, &claims).await?;
    let TokenLocation::Cookie(access_cookie) = state.cookies.location(TokenKind::Access) else {
        unreachable!("SessionCookies locates its tokens in cookies");
    };
    for access in cookie_values(&headers, &access_cookie) {
        let Ok(access) = state.manager.decode_token(&access) else {
            continue; // expired, or not a token: nothing to revoke
        };
        let own = access.kind() == TokenKind::Access && access.user_id() == claims.user_id();
        if own && access.revocation().token_id().is_some() {
            revoke(&state, &access).await?;
        }
    }
    Ok(signed_out(&state, &claims, "Logged out"))
}

/// The values of the cookies named `name` in the request's `Cookie` headers, as the login layer
/// reads them: the header as bytes, split on `;` (a browser sends every cookie of the host, and
/// another site's may hold UTF-8), each value without its quotes (RFC 6265 section 4.1.1).
fn cookie_values<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = String> + 'h {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| cookie::Cookie::parse(pair).ok())
        .filter(move |c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

/// `GET /ws`: a WebSocket (RFC 6455) that sends the user, `{"id":1,"username":"ada"}`, and
/// closes; what a page's live updates would start from. A browser cannot put an `Authorization`
/// header on a WebSocket, so the page's is opened with the access cookie, and the layer refuses
/// the handshake from any other origin (403) before it is upgraded.
async fn live(CurrentUser(user): CurrentUser<User>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .max_message_size(MAX_SOCKET_MESSAGE_BYTES)
        .max_frame_size(MAX_SOCKET_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            // A client that never answers the close is dropped when the time is up.
            let _ = tokio::time::timeout(SOCKET_LIFETIME, say_who(socket, user)).await;
        })
}

/// Sends the user and a close (code 1000), then waits for the client's close (RFC 6455 section
/// 7.1.1), dropping anything else it sends.
async fn say_who(mut socket: WebSocket, user: User) -> Result<(), axum::Error> {
    let user = serde_json::to_string(&user).map_err(axum::Error::new)?;
    socket.send(Message::Text(user.into())).await?;
    socket.send(Message::Close(None)).await?;
    while let Some(message) = socket.recv().await {
        if let Message::Close(_) = message? {
            break;
        }
    }
    Ok(())
}

/// The answer of `/logout`, `/logout-all` and `DELETE /refresh`; a browser's cookies are cleared.
fn signed_out(state: &AppState, claims: &Claims, message: &str) -> Response {
    let body = status_message(StatusCode::OK, message);
    let cleared = match from_cookie(claims) {
        true => state.cookies.clear().to_vec(),
        false => Vec::new(),
    };
    (
        AppendHeaders(cleared.into_iter().map(|c| (SET_COOKIE, c))),
        body,
    )
        .into_response()
}

/// `pair` answered as the request's token came: in cookies to a browser, in the body otherwise.
fn answer_pair(
    state: &AppState,
    claims: &Claims,
    user: &User,
    pair: TokenPair,
) -> Result<Response, ApiError> {
    match from_cookie(claims) {
        true => session_cookies(state, user, &pair),
        false => token_pair(pair),
    }
}

/// Whether the layer took the token from a cookie (a browser's request, answered with cookies).
fn from_cookie(claims: &Claims) -> bool {
    matches!(claims.token_location(), Some(TokenLocation::Cookie(_)))
}

/// Revokes the token of `claims` for as long as the layer would accept it: `true` when this call
/// revoked it, `false` when it was already revoked (a concurrent request was first). A store that
/// cannot be reached is a 503 with the login layer's message, and the client may retry: the
/// token may or may not be revoked then (a store that timed out may still have applied it), so a
/// retry may get 401 "Token has been revoked".
async fn revoke(state: &AppState, claims: &Claims) -> Result<bool, ApiError> {
    // Every token this server issues has an id; a token minted elsewhere with the same secret
    // may lack a `jti`.
    let revocation = claims.revocation();
    if revocation.token_id().is_none() {
        return Err(ApiError::bad_request(
            "This token has no id (jti) and cannot be revoked",
        ));
    }
    state
        .revocations
        .revoke(revocation)
        .await
        .map_err(|error| unavailable(state, "revoking a token", error))
}

/// The login layer's 503 for a revocation store that cannot be reached; the cause goes to the
/// log, never to the client.
fn unavailable(state: &AppState, doing: &str, error: impl std::fmt::Display) -> ApiError {
    eprintln!("error: {doing} failed: {error}");
    ApiError::login(&state.login, Rejection::RevocationUnavailable)
}

/// A new pair for `user`, in a new session.
fn new_pair(state: &AppState, user: &User) -> Result<TokenPair, ApiError> {
    state
        .manager
        .issue_token_pair(&user.id.to_string())
        .map_err(|error| ApiError::internal("issuing a token", error))
}

/// `pair` in cookies, as `/session` and a browser's `/refresh` answer it: the body is the user,
/// never a token.
fn session_cookies(state: &AppState, user: &User, pair: &TokenPair) -> Result<Response, ApiError> {
    let [access, refresh] = state
        .cookies
        .set_pair(pair)
        .map_err(|error| ApiError::internal("setting the session cookies", error))?;
    // `AppendHeaders`: two `Set-Cookie` headers (an array of headers would keep only the last).
    Ok((
        AppendHeaders([
            (SET_COOKIE, access),
            (SET_COOKIE, refresh),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ]),
        Json(user.clone()),
    )
        .into_response())
}

/// `pair` in the body, as `/login` and `/refresh` answer it.
fn token_pair(pair: TokenPair) -> Result<Response, ApiError> {
    let body = Json(TokenResponse {
        token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token,
        refresh_expires_in: pair.refresh_expires_in,
    });
    // RFC 6749 section 5.1: a response carrying a token must not be cached.
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        body,
    )
        .into_response())
}

/// The answer to a successful login or refresh, in the fields of OAuth 2.0 (RFC 6749 section
/// 5.1), except that the access token is `token`, as the Flask original names it.
#[derive(Debug, Serialize)]
struct TokenResponse {
    /// The access token, for `Authorization: Bearer` on every request.
    token: String,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// For `POST /refresh` only.
    refresh_token: String,
    /// Seconds until the refresh token expires.
    refresh_expires_in: u64,
}

/// The user the login layer loaded for the request's token.
async fn me(CurrentUser(user): CurrentUser<User>) -> Json<User> {
    Json(user)
}

/// `GET /admin`: only an admin gets here; anyone else logged in gets 403
/// `{"status":403,"message":"Permission denied"}` from the route's `RequireLayer`.
async fn admin(CurrentUser(user): CurrentUser<User>) -> Json<Value> {
    Json(json!({ "admin": user.username }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
}

/// An error answer: `{"status": <code>, "message": ".."}`, the same shape as the login layer's.
#[derive(Debug)]
pub enum ApiError {
    /// An answer of this server's own.
    Message {
        status: StatusCode,
        message: Cow<'static, str>,
    },
    /// A prepared answer: the login layer's own (`LoginLayer::rejection_response`), where a
    /// handler refuses a request as the layer would (same message, same challenge), or one with
    /// headers of its own (`Retry-After`). Boxed: it is rare, and an unboxed response would make
    /// every `Result<_, ApiError>` large.
    Login(Box<Response>),
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Message {
            status,
            message: message.into(),
        }
    }

    /// The login layer's answer to `rejection`, with its messages and realm.
    fn login(login: &LoginLayer<Loader, Store>, rejection: Rejection) -> Self {
        Self::Login(Box::new(
            login.rejection_response(&rejection).map(Body::from),
        ))
    }

    /// 429 with `Retry-After` (RFC 6585 section 4).
    fn too_many_attempts(wait: RetryAfter) -> Self {
        let mut response = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed login attempts. Please try again later",
        )
        .into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        Self::Login(Box::new(response))
    }

    fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 500 whose cause goes to the log, never to the client.
    fn internal(doing: &str, error: impl std::fmt::Display) -> Self {
        eprintln!("error: {doing} failed: {error}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// A 503 when every CPU is busy hashing (the client may try again), else a 500.
    fn hashing(doing: &str, error: HashError) -> Self {
        match error {
            HashError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable. Please try again",
            ),
            HashError::Failed(_) => Self::internal(doing, error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Message { status, message } => status_message(status, &message),
            Self::Login(response) => *response,
        }
    }
}

/// The body of `/register` and `/login`: `{"username": "..", "password": ".."}`, both non-empty
/// strings.
///
/// Read by hand rather than with `Json<T>`, whose rejections are plain text and 415 or 422: here
/// every problem is a JSON 400 that says what to fix. The `Content-Type` is not checked, so
/// `curl -d '{..}'` works without `-H`.
#[derive(Debug)]
pub struct Credentials {
    username: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = json_object(req, state, "a username and a password").await?;
        /// The two members. Read from the object again: a `Value` keeps the last of a repeated
        /// member silently, serde's derive refuses it.
        #[derive(Deserialize)]
        struct Fields {
            username: Option<Value>,
            password: Option<Value>,
        }
        let fields = serde_json::from_slice::<Fields>(&body).map_err(|_| {
            ApiError::bad_request(
                "The request body must give the username and the password once each",
            )
        })?;
        let username = string_field(fields.username, "username")?;
        let password = password_field(fields.password, "password")?;
        Ok(Self { username, password })
    }
}

/// The body of `/password`: `{"old_password": "..", "new_password": ".."}`, both non-empty
/// strings, read as [`Credentials`] are.
#[derive(Debug)]
pub struct PasswordChange {
    old: String,
    new: String,
}

impl<S: Send + Sync> FromRequest<S> for PasswordChange {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = json_object(req, state, "an old_password and a new_password").await?;
        /// The two members, each once (serde's derive refuses a repeated member).
        #[derive(Deserialize)]
        struct Fields {
            old_password: Option<Value>,
            new_password: Option<Value>,
        }
        let fields = serde_json::from_slice::<Fields>(&body).map_err(|_| {
            ApiError::bad_request(
                "The request body must give the old_password and the new_password once each",
            )
        })?;
        Ok(Self {
            old: password_field(fields.old_password, "old_password")?,
            new: password_field(fields.new_password, "new_password")?,
        })
    }
}

/// The request's body, once it is known to be a JSON object (`with`: what it must hold).
async fn json_object<S: Send + Sync>(
    req: Request,
    state: &S,
    with: &str,
) -> Result<Bytes, ApiError> {
    let body = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body must be at most {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request("The request body could not be read")
        }
    })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(_)) => Ok(body),
        _ => Err(ApiError::bad_request(format!(
            "The request body must be a JSON object with {with}"
        ))),
    }
}

/// A password member: a non-empty string of at most [`MAX_PASSWORD_BYTES`].
fn password_field(field: Option<Value>, name: &str) -> Result<String, ApiError> {
    let password = string_field(field, name)?;
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(format!(
            "{name} must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(password)
}

/// RFC 5893 section 2, which RFC 8265 applies to a username with right-to-left characters.
const BIDI_RULE: &str = "username breaks RFC 5893's Bidi Rule: a name with right-to-left \
                         characters starts with a letter, ends with a letter or digit, and \
                         mixes neither directions nor kinds of digits";

/// The one form of a username, or why no account can have it. RFC 8265's UsernameCasePreserved
/// profile: full-width letters become their usual forms and the whole is NFC (so "josé" is one
/// account however its "é" is typed), and a character that would let two names look alike or
/// hide part of one is refused: spaces, controls (PostgreSQL's `text` cannot even hold U+0000),
/// format characters such as U+200B or U+202E, symbols. At most 64 characters. `/register`
/// answers why; a login with such a username is a wrong password. Look-alikes made of allowed
/// letters ("аda" with a Cyrillic а) pass here, and are one name by their skeleton
/// ([`skeleton`]): the second is taken.
fn username_form(username: &str) -> Result<String, String> {
    use precis_core::{Error, profile::PrecisFastInvocation};
    let form =
        precis_profiles::UsernameCasePreserved::enforce(username).map_err(|error| match error {
            Error::BadCodepoint(bad) => format!("username must not contain U+{:04X}", bad.cp),
            // What is left of the profile's rules once every character is allowed (and the
            // name is not empty): RFC 5893's Bidi Rule.
            Error::Invalid => BIDI_RULE.to_owned(),
            Error::Unexpected(_) => "username is refused by RFC 8265's rules".to_owned(),
        })?;
    if form.chars().count() > MAX_USERNAME_CHARS {
        return Err(format!(
            "username must be at most {MAX_USERNAME_CHARS} characters"
        ));
    }
    Ok(form.into_owned())
}

fn string_field(field: Option<Value>, name: &str) -> Result<String, ApiError> {
    match field {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("Missing {name}"))),
        Some(Value::String(value)) if value.is_empty() => {
            Err(ApiError::bad_request(format!("{name} must not be empty")))
        }
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
    }
}

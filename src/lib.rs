//! Bearer-token login for any [Tower](https://docs.rs/tower) service: axum, hyper, tonic.
//!
//! A Rust take on the Flask "API login manager": a [`LoginManager`] issues and verifies HS256 (or,
//! given a [`SigningKey`], ES256 or EdDSA) JWTs carrying `exp`, `iat` and `user_id`, a [`UserLoader`] turns the user id into your user, and
//! a [`LoginLayer`] guards any `Service<http::Request<B>>`: it reads `Authorization: Bearer
//! <token>`, loads the user, puts it (and the token's [`Claims`]) into the request's extensions,
//! and answers every failure with `401 {"status": 401, "message": "..."}`.
//!
//! Tokens are interchangeable with the Flask original: PyJWT tokens minted with the same secret
//! work here, and ours decode in PyJWT.
//!
//! # One way per task
//!
//! | task | the API | Flask original |
//! |---|---|---|
//! | protect routes | [`LoginLayer::new`]`(manager, loader)` ([axum](#axum), [hyper](#hyper), [tonic](#tonic)) | `@login_required` |
//! | load the user a token names | a [`UserLoader`] (from an async closure: [`loader_fn`]) | `@user_loader` |
//! | read the user in axum | [`CurrentUser<U>`](CurrentUser) and [`Claims`] (feature `axum`) | `g.user` |
//! | read the user in hyper / tonic | `req.extensions().get::<U>()` ([hyper](#hyper), [tonic](#tonic); `cargo run --example hyper`, `--example tonic`) | `g.user` |
//! | issue a token | [`LoginManager::issue_token`] | `encode_token`, `get_token_for` |
//! | issue an access and a refresh token | [`LoginManager::issue_token_pair`] (a new session), [`LoginManager::refresh_token_pair`] (the same session) | |
//! | add your own claims | [`LoginManager::with_claims`], read with [`Claims::extra`] | |
//! | issue a token with scopes or roles | `manager.`[`with_claims`](LoginManager::with_claims)`(&json!({"scope": "a b", "roles": ["admin"]}))?.issue_token(..)` | |
//! | require a scope, a role, any claim, or something of the user on a route (403 otherwise) | [`RequireLayer::scopes`], [`RequireLayer::roles`], [`RequireLayer::claims`], [`RequireLayer::user`], inside the login layer | a decorator around `get_jwt()` |
//! | verify a token by hand | [`LoginManager::decode_token`] | `decode_token` |
//! | refresh | a route behind [`LoginLayer::token_kind`]`(`[`TokenKind::Refresh`]`)` ([example](#beyond-the-original)) | |
//! | revoke (logout) | [`Revocations::revoke`]`(claims.`[`revocation`](Claims::revocation)`())`, with [`LoginLayer::revocations`] | |
//! | end a session (refresh-token families: a spent refresh token that comes back ends it) | [`Revocations::revoke_session`]; a [`TokenKind::Refresh`] layer does it for a reuse it refuses | |
//! | log out everywhere, a password change | [`Revocations::revoke_user`]`(manager.`[`user_revocation`](LoginManager::user_revocation)`(id))`: every token of the user issued before now | |
//! | rotate HS256 secrets | [`LoginManagerBuilder::key_id`], [`LoginManagerBuilder::previous_key`] | |
//! | sign access tokens with ES256 or EdDSA, publish the JWK Set | [`LoginManagerBuilder::signing_key`]`(`[`SigningKey`]`)`, [`LoginManager::jwks`] | |
//! | rotate a signing key without a 401 | [`LoginManager::publish_key`], then [`sign_with`](LoginManager::sign_with), then [`retire_key`](LoginManager::retire_key) | |
//! | verify in a service that cannot mint | [`TokenVerifier`] from [`VerifyingKey`]s or a [`JwkSet`], given to [`LoginLayer::new`] | |
//! | change the messages | [`LoginLayer::message`]`(`[`Rejection`]`, text)` | `login_message` |
//! | change the response | [`LoginLayer::responder`] with a [`Responder`] | |
//! | refuse in a handler as the layer would | [`LoginLayer::rejection_response`] | |
//! | let anonymous requests through | [`LoginLayer::anonymous`] with [`Anonymous`] | |
//! | leave some requests unchecked (CORS preflight by default, health checks) | [`LoginLayer::skip_if`] | |
//! | keep the tokens in browser cookies | [`SessionCookies`] (`Set-Cookie` to log in, to log out) | |
//! | take the token from a cookie | [`LoginLayer::token_locations`] with [`SessionCookies::location`]; cross-origin requests are refused unless [`LoginLayer::trusted_origins`] | |
//! | tell where the token came from | [`Claims::token_location`] | |
//! | cache loaded users | [`CachedLoader`] | |
//! | log store failures | [`LoginLayer::on_backend_error`] | |
//!
//! Each row's link leads to a runnable example (the hyper server below runs as
//! `cargo run --example hyper`, and `tests/hyper.rs` drives it over a real connection). The names
//! of the Flask original find their counterpart in the docs' search.
//!
//! # axum
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use std::{convert::Infallible, time::Duration};
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode, header};
//! use tower::ServiceExt;
//! use tower_login_manager::{CurrentUser, LoginLayer, LoginManager, loader_fn};
//!
//! #[derive(Clone)]
//! struct User { name: String }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = LoginManager::new("a secret of at least thirty-two bytes!!")?;
//! let loader = loader_fn(|id: String| async move {
//!     // Look the user up in your store; `None` answers 401 "User not found...".
//!     Ok::<_, Infallible>((id == "1").then(|| User { name: "ada".into() }))
//! });
//!
//! let app = Router::new()
//!     .route("/me", get(|CurrentUser(user): CurrentUser<User>| async move { user.name }))
//!     .route_layer(LoginLayer::new(manager.clone(), loader));
//!
//! // Without a token: 401 and the Flask original's body.
//! let res = app.clone().oneshot(Request::get("/me").body(Body::empty())?).await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(res.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
//!
//! // With one: the handler sees the user.
//! let token = manager.issue_token("1", Duration::from_secs(3600))?;
//! let req = Request::get("/me")
//!     .header(header::AUTHORIZATION, format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! assert_eq!(app.oneshot(req).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! # hyper
//!
//! Any Tower service works: here a plain `service_fn`, served by hyper 1 through hyper-util.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use hyper_util::{rt::{TokioExecutor, TokioIo}, server::conn::auto, service::TowerToHyperService};
//! use tower::{ServiceBuilder, service_fn};
//! use tower_login_manager::{LoginLayer, LoginManager, loader_fn};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = LoginManager::new(std::env::var("SECRET_KEY")?)?;
//! let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
//! let svc = ServiceBuilder::new()
//!     .layer(LoginLayer::new(manager, loader))
//!     .service(service_fn(|req: Request<hyper::body::Incoming>| async move {
//!         let user = req.extensions().get::<String>().cloned().unwrap_or_default();
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("hello {user}")))))
//!     }));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let svc = TowerToHyperService::new(svc.clone());
//!     tokio::spawn(async move {
//!         let _ = auto::Builder::new(TokioExecutor::new())
//!             .serve_connection(TokioIo::new(stream), svc)
//!             .await;
//!     });
//! }
//! # }
//! ```
//!
//! # tonic
//!
//! gRPC requests (`content-type: application/grpc...`) are answered with a gRPC status instead of
//! JSON: `UNAUTHENTICATED` (16) with the same message, or `INTERNAL` (13) when the loader fails,
//! so tonic clients see `Code::Unauthenticated` rather than a transport error.
//!
//! ```
//! use std::{convert::Infallible, future::{Ready, ready}, task::{Context, Poll}};
//! use tonic::{Status, body::Body, server::NamedService, transport::Server};
//! use tower::{Layer, ServiceExt};
//! use tower_login_manager::{LoginLayer, LoginManager, loader_fn};
//!
//! /// A service as tonic-build would generate it, written by hand.
//! #[derive(Clone)]
//! struct Greeter;
//!
//! impl NamedService for Greeter {
//!     const NAME: &'static str = "hello.Greeter";
//! }
//!
//! impl tower::Service<http::Request<Body>> for Greeter {
//!     type Response = http::Response<Body>;
//!     type Error = Infallible;
//!     type Future = Ready<Result<Self::Response, Infallible>>;
//!
//!     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//!         Poll::Ready(Ok(()))
//!     }
//!
//!     fn call(&mut self, req: http::Request<Body>) -> Self::Future {
//!         // Only logged-in calls get here; tonic hands the extensions on to `tonic::Request`.
//!         let user: &String = req.extensions().get().expect("the layer adds the user");
//!         ready(Ok(Status::unimplemented(format!("hello {user}")).into_http()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = LoginManager::new("a secret of at least thirty-two bytes!!")?;
//! let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
//! let layer = LoginLayer::new(manager, loader);
//!
//! // In front of every service of the server; `.await` this to serve.
//! let serve = Server::builder()
//!     .layer(layer.clone())
//!     .add_service(Greeter)
//!     .serve("127.0.0.1:50051".parse()?);
//! # drop(serve);
//!
//! // A call without a token: a trailers-only gRPC answer, UNAUTHENTICATED.
//! let req = http::Request::post("/hello.Greeter/SayHello")
//!     .header("content-type", "application/grpc")
//!     .body(Body::empty())?;
//! let res = layer.layer(Greeter).oneshot(req).await?;
//! assert_eq!(res.status(), http::StatusCode::OK);
//! assert_eq!(res.headers()["grpc-status"], "16");
//! assert_eq!(res.headers()["grpc-message"], "You need to login");
//! # Ok(())
//! # }
//! ```
//!
//! # Browsers
//!
//! A page in a browser keeps its tokens in `HttpOnly` cookies ([`SessionCookies`]), where no
//! script can read them, and the layer reads the access cookie ([`TokenLocation::Cookie`]).
//! Cross-origin requests other than `GET`, `HEAD` and `OPTIONS`, and cross-origin WebSocket
//! handshakes, cannot use it (see [`LoginLayer::trusted_origins`]). The login route itself carries no token for the layer to
//! guard: refuse cross-origin posts to it too (tower-http's `CsrfLayer` applies the same rules),
//! or another site can log the user into the attacker's account.
//!
//! ```
//! use axum::{Json, Router, extract::State, http::header::SET_COOKIE, response::{AppendHeaders, IntoResponse}, routing::{get, post}};
//! use tower_login_manager::{LoginLayer, LoginManager, SessionCookies, TokenKind};
//! # use tower::ServiceExt;
//! # let manager = LoginManager::new([7u8; 32]).unwrap();
//! # let loader = tower_login_manager::loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
//! # async fn me() -> &'static str { "me" }
//!
//! async fn session(State(manager): State<LoginManager>) -> Result<impl IntoResponse, String> {
//!     let user_id = "1"; // once the username and password are checked
//!     let pair = manager.issue_token_pair(user_id).map_err(|e| e.to_string())?;
//!     let [access, refresh] = SessionCookies::new().set_pair(&pair).map_err(|e| e.to_string())?; // HttpOnly, Secure, SameSite=Lax
//!     Ok((AppendHeaders([(SET_COOKIE, access), (SET_COOKIE, refresh)]), Json(user_id)))
//! }
//!
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route_layer(LoginLayer::new(manager.clone(), loader)
//!         .token_locations([SessionCookies::new().location(TokenKind::Access)]))
//!     .route("/session", post(session))
//!     .with_state(manager);
//! # tokio_test::block_on(async {
//! let res = app.clone().oneshot(http::Request::post("/session").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! let cookie = res.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
//! assert!(cookie.starts_with("access_token="));
//! // The page's own request uses the cookie; a form on another site cannot.
//! let from = |site: &'static str| http::Request::get("/me").header("cookie", &cookie).header("sec-fetch-site", site);
//! assert_eq!(app.clone().oneshot(from("same-origin").body(axum::body::Body::empty()).unwrap()).await.unwrap().status(), 200);
//! let post = http::Request::post("/me").header("cookie", &cookie).header("sec-fetch-site", "cross-site");
//! assert_eq!(app.oneshot(post.body(axum::body::Body::empty()).unwrap()).await.unwrap().status(), 403);
//! # });
//! ```
//!
//! # What the client sees
//!
//! Every failure is answered with `{"status": <code>, "message": "..."}` (`content-type:
//! application/json`), an RFC 6750 `WWW-Authenticate` challenge on 401 and 400, and a gRPC
//! status for gRPC requests; each situation's answer is in the [README's
//! table](https://github.com/tower-login-manager/tower-login-manager#what-the-client-sees),
//! which `tests/answers.rs` holds the layer to. Each message is set with
//! [`LoginLayer::message`] ([`RequireLayer::message`] for a requirement's 403: `insufficient_scope`,
//! RFC 6750 section 3.1, gRPC `PERMISSION_DENIED`). The loader's (or the store's) error never reaches the client; see
//! [`LoginLayer::on_backend_error`].
//!
//! # Validation defaults
//!
//! Strict by default, each configurable on [`LoginManagerBuilder`]: HS256 only (`none` and every
//! other `alg` refused, RFC 8725 section 3.1); secrets of at least 32 bytes (RFC 7518 section
//! 3.2); `exp` required; `nbf` and `iat` must not be in the future; leeway 0 seconds, as in PyJWT;
//! the user id is the `user_id` claim, a non-empty string (numbers are refused: the original
//! writes `str(user.id)`); a token carrying `aud` is refused unless an audience is configured;
//! `crit` is refused (RFC 7515 section 4.1.11), and a `kid` that is not a string (RFC 7515
//! section 4.1.4; `null` included); a member repeated at the top level of the header or the
//! claims is refused, however it is escaped, never "last wins" (RFC 7515 section 4, RFC 7519
//! section 4); tokens above 8 KiB are refused before any decoding. Lifetimes and the leeway are
//! whole seconds, rounded up.
//!
//! # Beyond the original
//!
//! Each off by default, so the defaults stay the Flask original's behaviour:
//!
//! - optional login: [`LoginLayer::anonymous`]; unchecked requests: [`LoginLayer::skip_if`]
//!   (CORS preflight `OPTIONS` requests pass untouched unless it says otherwise);
//! - token locations: [`LoginLayer::token_locations`] with [`TokenLocation`] (header, cookie,
//!   query parameter);
//! - access and refresh tokens: [`LoginManager::issue_token_pair`], [`LoginLayer::token_kind`];
//! - revocation: [`LoginLayer::revocations`] with a [`Revocations`] store such as
//!   [`MemoryRevocations`], fed by [`Claims::revocation`] (which covers the leeway; every issued
//!   token carries the `jti` it names, and the tokens of a pair the `sid` of their session): one
//!   token, one session (RFC 9700 section 4.14.2: a spent refresh token that comes back ends its
//!   session), or every token of a user issued before now ("log out everywhere"), all checked in
//!   one store operation per request;
//! - key rotation: [`LoginManagerBuilder::key_id`], [`LoginManagerBuilder::previous_key`];
//! - the application's own claims: [`LoginManager::with_claims`], [`Claims::extra`];
//! - authorization: [`RequireLayer`] (OAuth scopes, roles, a predicate, the loaded user);
//! - custom rejections: [`LoginLayer::responder`] with a [`Responder`];
//! - a short-lived cache of loaded users: [`CachedLoader`] around any loader (revocation is still
//!   checked on every request).
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use std::convert::Infallible;
//! use axum::{Router, body::Body, routing::{get, post}};
//! use http::{Request, StatusCode, header};
//! use tower::ServiceExt;
//! use tower_login_manager::{
//!     Claims, LoginLayer, LoginManager, MemoryRevocations, Revocations, TokenKind, loader_fn,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = LoginManager::new("a secret of at least thirty-two bytes!!")?;
//! let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
//! let revocations = MemoryRevocations::new();
//!
//! // The refresh route spends each refresh token once (RFC 9700 section 4.14.2): its layer
//! // refuses revoked tokens too, and the handler revokes the token it was given, then answers
//! // the next pair of the same session. A token spent already ends its session.
//! let (store, issuer) = (revocations.clone(), manager.clone());
//! let refresh = move |claims: Claims| async move {
//!     if store.revoke(claims.revocation()).await != Ok(true) {
//!         let _ = store.revoke_session(claims.revocation()).await;
//!         return Err(StatusCode::UNAUTHORIZED);
//!     }
//!     let next = issuer.refresh_token_pair(&claims).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
//!     Ok(next.refresh_token)
//! };
//! let app = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .route_layer(LoginLayer::new(manager.clone(), loader.clone()).revocations(revocations.clone()))
//!     .merge(Router::new().route("/refresh", post(refresh)).route_layer(
//!         LoginLayer::new(manager.clone(), loader)
//!             .token_kind(TokenKind::Refresh)
//!             .revocations(revocations.clone()),
//!     ));
//!
//! let pair = manager.issue_token_pair("1")?;
//! let call = |method: &str, uri: &str, token: &str| {
//!     Request::builder().method(method).uri(uri)
//!         .header(header::AUTHORIZATION, format!("Bearer {token}"))
//!         .body(Body::empty()).unwrap()
//! };
//! let status = |res: http::Response<Body>| res.status();
//! assert_eq!(status(app.clone().oneshot(call("GET", "/me", &pair.access_token)).await?), StatusCode::OK);
//! // The refresh token is good only at the refresh route, and only once.
//! assert_eq!(status(app.clone().oneshot(call("GET", "/me", &pair.refresh_token)).await?), StatusCode::UNAUTHORIZED);
//! assert_eq!(status(app.clone().oneshot(call("POST", "/refresh", &pair.refresh_token)).await?), StatusCode::OK);
//! assert_eq!(status(app.clone().oneshot(call("POST", "/refresh", &pair.refresh_token)).await?), StatusCode::UNAUTHORIZED);
//! // That spent token came back: two parties hold it, so its session is over, every token of it.
//! assert_eq!(status(app.clone().oneshot(call("GET", "/me", &pair.access_token)).await?), StatusCode::UNAUTHORIZED);
//!
//! // Logout: revoke the access token for as long as it would be accepted (its `exp` plus the
//! // leeway); it is refused at once. `true`: this call revoked it.
//! let pair = manager.issue_token_pair("1")?;
//! let claims = manager.decode_token(&pair.access_token)?;
//! assert!(revocations.revoke(claims.revocation()).await?);
//! assert_eq!(status(app.oneshot(call("GET", "/me", &pair.access_token)).await?), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | everything above; no framework dependency |
//! | `axum` | extractors [`CurrentUser<U>`](CurrentUser), `Option<CurrentUser<U>>` and [`Claims`] (the examples above use them) |
//! | `redis` | [`RedisRevocations`]: revocations shared by several instances through Redis (Tokio) |
//! | `jwks-fetch` | [`TokenVerifierBuilder::jwks_url`]: a JWK Set fetched from a URL (an identity provider's, another service's) and kept fresh by a Tokio task (hyper, rustls) |
//! | `tracing` | one `tracing` event (level `DEBUG`) per rejection, with its kind and reason, never the token |
//!
//! With `tracing`, each rejection is one `DEBUG` event carrying its `kind` (and, for invalid
//! tokens, the `reason`), never the token; any subscriber receives it:
//!
//! ```standalone_crate
//! # #[cfg(feature = "tracing")]
//! # {
//! # use std::sync::{Arc, Mutex};
//! # use tracing::{Event, Metadata, Subscriber, field::{Field, Visit}, span::{Attributes, Id, Record}};
//! # #[derive(Clone, Default)]
//! # struct Kinds(Arc<Mutex<Vec<String>>>);
//! # struct KindField(Option<String>);
//! # impl Visit for KindField {
//! #     fn record_str(&mut self, f: &Field, v: &str) { if f.name() == "kind" { self.0 = Some(v.into()) } }
//! #     fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
//! # }
//! # impl Subscriber for Kinds {
//! #     fn enabled(&self, _: &Metadata<'_>) -> bool { true }
//! #     fn new_span(&self, _: &Attributes<'_>) -> Id { Id::from_u64(1) }
//! #     fn record(&self, _: &Id, _: &Record<'_>) {}
//! #     fn record_follows_from(&self, _: &Id, _: &Id) {}
//! #     fn event(&self, e: &Event<'_>) { let mut k = KindField(None); e.record(&mut k); self.0.lock().unwrap().extend(k.0) }
//! #     fn enter(&self, _: &Id) {}
//! #     fn exit(&self, _: &Id) {}
//! # }
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_login_manager::{LoginLayer, LoginManager, loader_fn};
//!
//! let kinds = Kinds::default(); // a subscriber recording the `kind` of each event
//! let _guard = tracing::subscriber::set_default(kinds.clone());
//!
//! let manager = LoginManager::new([7u8; 32]).unwrap();
//! let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
//! let svc = LoginLayer::new(manager, loader).layer(service_fn(|_req: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! }));
//! let req = http::Request::get("/").header("authorization", "Bearer not.a.token").body(()).unwrap();
//! let res = tokio_test::block_on(svc.oneshot(req)).unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(*kinds.0.lock().unwrap(), ["invalid_token"]);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum;
pub mod body;
mod cache;
mod cookies;
mod error;
pub mod future;
mod keys;
mod layer;
mod loader;
mod manager;
mod rejection;
pub mod require;
mod service;
mod source;
mod store;
mod token;
mod verifier;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use axum::CurrentUser;
pub use cache::{CachedLoad, CachedLoader};
pub use cookies::{SameSite, SessionCookies};
pub use error::{BoxError, ConfigError, TokenError};
pub use keys::{Algorithm, JwkSet, SigningKey, VerifyingKey};
pub use layer::LoginLayer;
pub use loader::{UserLoader, loader_fn};
pub use manager::{LoginManager, LoginManagerBuilder, TokenPair};
pub use rejection::{Anonymous, Rejection, Responder};
pub use require::{Require, RequireLayer, UserCheck};
pub use service::LoginService;
pub use source::TokenLocation;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::RedisRevocations;
pub use store::{MemoryRevocations, Revocation, Revocations};
pub use token::{Claims, TokenKind};
pub use verifier::{TokenVerifier, TokenVerifierBuilder};

/// The README's Rust blocks, compiled and run as doc tests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! [`LoginLayer`]: applies [`LoginService`] to a service, with the per-route settings and the
//! answers it gives.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, Uri};
use tower_layer::Layer;

use crate::error::ConfigError;
use crate::rejection::{Anonymous, Answers, Rejection, Responder};
use crate::service::{LoginService, Settings};
use crate::source::TokenLocation;
use crate::source::cross_origin::Origin;
use crate::store::Revocations;
use crate::token::TokenKind;
use crate::verifier::TokenVerifier;

/// Applies [`LoginService`] to the services it wraps: bearer-token login for any
/// `Service<http::Request<B>>`.
///
/// The defaults are the Flask original's `login_required`: a token in `Authorization: Bearer`,
/// required, with CORS preflight (`OPTIONS`) requests let through untouched. Each setting below
/// changes one of them. Clone it freely: it holds the loader and one `Arc`.
///
/// ```
/// use tower_login_manager::{Anonymous, LoginLayer, LoginManager, TokenLocation, loader_fn};
///
/// # let manager = LoginManager::new([1u8; 32]).unwrap();
/// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
/// let layer = LoginLayer::new(manager, loader)
///     // Handlers run without a user when no token is sent (a bad token is still refused).
///     .anonymous(Anonymous::NoToken)
///     // Look in the header first, then in the `access_token` cookie.
///     .token_locations([TokenLocation::Header, TokenLocation::Cookie("access_token".into())])
///     // Let health checks through as well as CORS preflight.
///     .skip_if(|method, uri, _headers| method == http::Method::OPTIONS || uri.path() == "/health");
/// ```
#[derive(Clone)]
#[doc(alias = "login_required")]
pub struct LoginLayer<L, R = ()> {
    loader: L,
    revocations: R,
    settings: Arc<Settings>,
}

impl<L> LoginLayer<L> {
    /// A layer checking tokens with `verifier` and loading users with `loader`. The verifier is
    /// a [`LoginManager`](crate::LoginManager) (which issues the tokens) or a [`TokenVerifier`]
    /// (a service that only checks them, holding public keys).
    pub fn new(verifier: impl Into<TokenVerifier>, loader: L) -> Self {
        Self {
            loader,
            revocations: (),
            settings: Arc::new(Settings {
                verifier: verifier.into(),
                answers: Arc::new(Answers::default()),
                anonymous: Anonymous::Refused,
                skip: Some(Arc::new(|method, _, _| method == Method::OPTIONS)),
                locations: vec![TokenLocation::Header],
                kind: TokenKind::Access,
                trusted_origins: Some(Vec::new()),
            }),
        }
    }
}

impl<L, R> LoginLayer<L, R> {
    /// Check every token against `revocations` (after the MAC, before the user is loaded): its
    /// `jti`, its session and its user's cutoff, in one store operation. Revoked tokens get 401
    /// "Token has been revoked", and a store that cannot answer gets 503, never a pass. A layer
    /// set to [`TokenKind::Refresh`] that refuses a revoked refresh token of a session also
    /// revokes that session (RFC 9700 section 4.14.2: a spent refresh token came back). See
    /// [`Revocations`].
    pub fn revocations<R2: Revocations>(self, revocations: R2) -> LoginLayer<L, R2> {
        LoginLayer {
            loader: self.loader,
            revocations,
            settings: self.settings,
        }
    }

    /// Which tokens this layer accepts: [`TokenKind::Access`] (the default; tokens without a
    /// `type` claim count as access tokens) or [`TokenKind::Refresh`], for the route that
    /// exchanges a refresh token for a new pair. The other kind is an invalid token.
    ///
    /// ```
    /// use tower_login_manager::{LoginLayer, LoginManager, TokenKind, loader_fn};
    ///
    /// # let manager = LoginManager::new([1u8; 32]).unwrap();
    /// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
    /// let api = LoginLayer::new(manager.clone(), loader.clone());
    /// let refresh_route = LoginLayer::new(manager, loader).token_kind(TokenKind::Refresh);
    /// ```
    pub fn token_kind(mut self, kind: TokenKind) -> Self {
        Arc::make_mut(&mut self.settings).kind = kind;
        self
    }

    /// Which requests go on without a user instead of being refused: none by default (login
    /// required); [`Anonymous::NoToken`] for optional login (Flask-JWT-Extended's
    /// `optional=True`); [`Anonymous::NoTokenOrExpired`] to treat an expired token as none. A
    /// token that is present but invalid is refused whatever this says. Handlers read the user
    /// as an `Option` (`Option<CurrentUser<U>>` in axum).
    #[doc(alias = "optional")]
    pub fn anonymous(mut self, anonymous: Anonymous) -> Self {
        Arc::make_mut(&mut self.settings).anonymous = anonymous;
        self
    }

    /// Requests for which `skip` returns `true` pass to the inner service untouched, with no
    /// user. Replaces the default, which lets CORS preflight (`OPTIONS`) requests through, as
    /// Flask-Login and Flask-JWT-Extended do; `skip_if(|_, _, _| false)` checks every request.
    pub fn skip_if(
        mut self,
        skip: impl Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync + 'static,
    ) -> Self {
        Arc::make_mut(&mut self.settings).skip = Some(Arc::new(skip));
        self
    }

    /// Where to look for the token, in order; only a *missing* token moves on to the next place.
    /// Default: `[TokenLocation::Header]`. An empty list restores the default.
    pub fn token_locations(mut self, locations: impl IntoIterator<Item = TokenLocation>) -> Self {
        let mut locations: Vec<_> = locations.into_iter().collect();
        if locations.is_empty() {
            locations.push(TokenLocation::Header);
        }
        Arc::make_mut(&mut self.settings).locations = locations;
        self
    }

    /// Origins allowed to send cross-origin requests with a token in a cookie (a front end on
    /// another origin that calls this API with `fetch(.., {credentials: "include"})`), written as
    /// browsers send `Origin`: `scheme://host[:port]`.
    ///
    /// Whenever the token comes from a [`TokenLocation::Cookie`], a request whose method is not
    /// `GET`, `HEAD` or `OPTIONS`, or that opens a WebSocket (a `GET` with `Upgrade: websocket`
    /// or `Sec-Fetch-Mode: websocket`, RFC 6455 section 4.1, which a page on another origin of
    /// the same site can open with the `SameSite=Lax` cookie), is refused with 403
    /// `{"status":403,"message":"Cross-origin request refused"}` ([`Rejection::CrossOrigin`](crate::Rejection::CrossOrigin), gRPC
    /// `PERMISSION_DENIED`) unless the browser says it comes from this origin: `Sec-Fetch-Site`
    /// is `same-origin` or `none`, or, without `Sec-Fetch-Site`, `Origin` names the `Host`, or
    /// neither header is sent (not a browser); or its `Origin` is one of these. This is Go 1.25's
    /// `CrossOriginProtection` (which lets WebSocket handshakes through), and needs no token in
    /// the page: plain HTML forms and `new WebSocket(..)` work. A token
    /// in the `Authorization` header is never checked, since no other page can make a browser
    /// send one. On by default, with no trusted origin; see
    /// [`disable_cross_origin_protection`](Self::disable_cross_origin_protection).
    ///
    /// Fails with [`ConfigError::InvalidOrigin`], saying why, if an origin is not a web origin
    /// as browsers send it (RFC 6454): `http` or `https`, a host (an international one in
    /// punycode), a port up to 65535 if any, and no path (not even `/`), query, fragment or
    /// user info.
    ///
    /// ```
    /// use tower_login_manager::{LoginLayer, LoginManager, TokenLocation, loader_fn};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # tokio_test::block_on(async {
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let token = manager.issue_token("1", std::time::Duration::from_secs(60))?;
    /// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
    /// let layer = LoginLayer::new(manager, loader)
    ///     .token_locations([TokenLocation::Cookie("access_token".into())])
    ///     .trusted_origins(["https://app.example.com"])?;
    /// let svc = layer.layer(service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// }));
    /// let post_from = |site: &str, origin: &str| {
    ///     http::Request::post("https://api.example.com/logout")
    ///         .header("cookie", format!("access_token={token}"))
    ///         .header("sec-fetch-site", site)
    ///         .header("origin", origin)
    ///         .body(())
    ///         .unwrap()
    /// };
    /// // A form on another site posting with the user's cookie: refused.
    /// let res = svc.clone().oneshot(post_from("cross-site", "https://evil.example")).await?;
    /// assert_eq!(res.status(), 403);
    /// // The trusted front end: let through.
    /// let res = svc.oneshot(post_from("same-site", "https://app.example.com")).await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn trusted_origins<I>(mut self, origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref();
                Origin::parse(origin).map_err(|reason| ConfigError::InvalidOrigin {
                    origin: origin.to_owned(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Arc::make_mut(&mut self.settings).trusted_origins = Some(origins);
        Ok(self)
    }

    /// Let cross-origin requests use a token from a cookie: turns off the check described at
    /// [`trusted_origins`](Self::trusted_origins). Only for an API whose cookies are
    /// `SameSite=Strict` and whose every subdomain you trust, or that no browser can reach:
    /// otherwise any page the user visits can act with their token.
    pub fn disable_cross_origin_protection(mut self) -> Self {
        Arc::make_mut(&mut self.settings).trusted_origins = None;
        self
    }

    /// The `message` of the answer to `rejection` (the Flask original's `login_message` is
    /// `message(Rejection::MissingToken, ..)`). Every [`Rejection::InvalidToken`] shares one
    /// message, whatever its reason: clients never learn why a token was refused. The defaults
    /// are in the [README's table](https://github.com/tower-login-manager/tower-login-manager#what-the-client-sees).
    ///
    /// ```
    /// use tower_login_manager::{LoginLayer, LoginManager, Rejection, loader_fn};
    ///
    /// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
    /// let layer = LoginLayer::new(LoginManager::new([7u8; 32])?, loader)
    ///     .message(Rejection::MissingToken, "Please log in first");
    /// let res = layer.rejection_response(&Rejection::MissingToken);
    /// assert_eq!(res.body(), r#"{"status":401,"message":"Please log in first"}"#);
    /// # Ok::<(), tower_login_manager::ConfigError>(())
    /// ```
    #[doc(alias = "login_message")]
    pub fn message(mut self, rejection: Rejection, message: impl Into<String>) -> Self {
        self.answers_mut().set_message(rejection, message.into());
        self
    }

    /// The realm of the `WWW-Authenticate: Bearer realm="..."` challenge (RFC 6750 section 3).
    /// Default: `api`. Fails with [`ConfigError::InvalidRealm`] if it cannot be sent in a header
    /// (control characters).
    pub fn realm(mut self, realm: &str) -> Result<Self, ConfigError> {
        self.answers_mut().set_realm(realm)?;
        Ok(self)
    }

    /// Shape the answers to rejections yourself; see [`Responder`]. gRPC requests keep the
    /// automatic gRPC status.
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.answers_mut().set_responder(Arc::new(responder));
        self
    }

    /// Called with the error whenever the [`UserLoader`](crate::UserLoader) or the
    /// [`Revocations`] store fails. The client only ever sees 500 "Internal server error" (503
    /// for the store); this is where the application logs the cause.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tower::{Layer, ServiceExt, service_fn};
    /// use tower_login_manager::{LoginLayer, LoginManager, loader_fn};
    ///
    /// # tokio_test::block_on(async {
    /// let logged = Arc::new(Mutex::new(Vec::new()));
    /// let log = logged.clone();
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let token = manager.issue_token("1", std::time::Duration::from_secs(60))?;
    /// let database_down = loader_fn(|_id: String| async {
    ///     Err::<Option<String>, _>(std::io::Error::other("connection refused"))
    /// });
    /// let layer = LoginLayer::new(manager, database_down)
    ///     .on_backend_error(move |error| log.lock().unwrap().push(error.to_string()));
    /// let svc = layer.layer(service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// }));
    /// let req = http::Request::get("/").header("authorization", format!("Bearer {token}")).body(())?;
    /// let res = svc.oneshot(req).await?;
    /// assert_eq!(res.status(), 500); // "Internal server error", and nothing more
    /// assert_eq!(*logged.lock().unwrap(), ["connection refused"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn on_backend_error(
        mut self,
        hook: impl Fn(&(dyn std::error::Error + Send + Sync + 'static)) + Send + Sync + 'static,
    ) -> Self {
        self.answers_mut().set_backend_error_hook(Arc::new(hook));
        self
    }

    /// The answer this layer gives to `rejection` (over HTTP, not gRPC): its
    /// [`responder`](Self::responder)'s, else the `{"status", "message"}` JSON with its status
    /// code and RFC 6750 challenge, with this layer's messages and realm. For a handler that must
    /// refuse a request exactly as the layer would, such as a refresh whose token a concurrent
    /// refresh has just spent:
    ///
    /// ```
    /// use tower_login_manager::{LoginLayer, LoginManager, Rejection, loader_fn};
    ///
    /// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
    /// let layer = LoginLayer::new(LoginManager::new([7u8; 32]).unwrap(), loader);
    /// let res = layer.rejection_response(&Rejection::Revoked);
    /// assert_eq!(res.status(), 401);
    /// assert_eq!(res.body(), r#"{"status":401,"message":"Token has been revoked"}"#);
    /// assert_eq!(
    ///     res.headers()["www-authenticate"],
    ///     r#"Bearer realm="api", error="invalid_token", error_description="Token has been revoked""#
    /// );
    /// ```
    pub fn rejection_response(&self, rejection: &Rejection) -> Response<Bytes> {
        self.settings.answers.reject(*rejection, false)
    }

    fn answers_mut(&mut self) -> &mut Answers {
        Arc::make_mut(&mut Arc::make_mut(&mut self.settings).answers)
    }
}

impl<L: fmt::Debug, R: fmt::Debug> fmt::Debug for LoginLayer<L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginLayer")
            .field("loader", &self.loader)
            .field("revocations", &self.revocations)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, L: Clone, R: Clone> Layer<S> for LoginLayer<L, R> {
    type Service = LoginService<S, L, R>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginService::from_parts(
            inner,
            self.loader.clone(),
            self.revocations.clone(),
            self.settings.clone(),
        )
    }
}

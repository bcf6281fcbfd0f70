//! [`LoginLayer`]: applies [`LoginService`] to a service, with the per-route settings.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, Method, Request, Uri};
use tower_layer::Layer;

use crate::cross_origin::{self, Origin};
use crate::error::Rejection;
use crate::extract::TokenLocation;
use crate::manager::LoginManager;
use crate::response::Responder;
use crate::revocation::Revocations;
use crate::service::LoginService;
use crate::token::TokenKind;

type SkipFn = Arc<dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync>;

/// Applies [`LoginService`] to the services it wraps: bearer-token login for any
/// `Service<http::Request<B>>`.
///
/// The defaults are the Flask original's `login_required`: a token in `Authorization: Bearer`,
/// required, with CORS preflight (`OPTIONS`) requests let through untouched. Each setting below
/// changes one of them. Clone it freely: it holds the loader and one `Arc`.
///
/// ```
/// use tower_login_manager::{LoginLayer, LoginManager, TokenLocation, loader_fn};
///
/// # let manager = LoginManager::new([1u8; 32]).unwrap();
/// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
/// let layer = LoginLayer::new(manager, loader)
///     // Handlers run without a user when no token is sent (a bad token is still refused).
///     .optional(true)
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

/// What every request handled by one layer shares: the manager and the layer's settings.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) manager: LoginManager,
    pub(crate) optional: bool,
    pub(crate) expired_as_anonymous: bool,
    pub(crate) skip: Option<SkipFn>,
    pub(crate) locations: Vec<TokenLocation>,
    pub(crate) responder: Option<Arc<dyn Responder>>,
    pub(crate) kind: TokenKind,
    /// The origins trusted to send cross-origin requests with a cookie's token; `None` when
    /// the check is off.
    pub(crate) trusted_origins: Option<Vec<Origin>>,
}

impl Settings {
    /// `true` when the request passes untouched (by default: CORS preflight).
    pub(crate) fn skips<B>(&self, req: &Request<B>) -> bool {
        self.skip
            .as_ref()
            .is_some_and(|skip| skip(req.method(), req.uri(), req.headers()))
    }

    /// Whether a request refused with `rejection` goes on without a user instead: with
    /// optional login, one that sent no token, or (if so set) an expired one.
    pub(crate) fn lets_through(&self, rejection: Rejection) -> bool {
        match rejection {
            Rejection::MissingToken => self.optional,
            Rejection::ExpiredToken => self.optional && self.expired_as_anonymous,
            _ => false,
        }
    }

    /// Whether a request may use the token it sent in a cookie: see [`cross_origin::allows`].
    pub(crate) fn cookie_allowed<B>(&self, req: &Request<B>) -> bool {
        self.trusted_origins
            .as_deref()
            .is_none_or(|trusted| cross_origin::allows(req, trusted))
    }
}

impl<L> LoginLayer<L> {
    /// A layer checking tokens with `manager` and loading users with `loader`.
    pub fn new(manager: LoginManager, loader: L) -> Self {
        Self {
            loader,
            revocations: (),
            settings: Arc::new(Settings {
                manager,
                optional: false,
                expired_as_anonymous: false,
                skip: Some(Arc::new(|method, _, _| method == Method::OPTIONS)),
                locations: vec![TokenLocation::Header],
                responder: None,
                kind: TokenKind::Access,
                trusted_origins: Some(Vec::new()),
            }),
        }
    }
}

impl<L, R> LoginLayer<L, R> {
    /// Check every token's `jti` against `revocations` (after the MAC, before the user is
    /// loaded): revoked tokens get 401 "Token has been revoked", and a store that cannot answer
    /// gets 503, never a pass. See [`Revocations`].
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

    /// Optional login (Flask-JWT-Extended's `optional=True`): a request with no token goes
    /// through with no user in its extensions (axum handlers take `Option<Extension<User>>`);
    /// a token that is present but invalid or expired is still refused. Default: `false`.
    pub fn optional(mut self, optional: bool) -> Self {
        Arc::make_mut(&mut self.settings).optional = optional;
        self
    }

    /// With [`optional`](Self::optional), let an *expired* token through as anonymous instead of
    /// refusing it. Invalid tokens are still refused. Default: `false`.
    pub fn expired_as_anonymous(mut self, allow: bool) -> Self {
        Arc::make_mut(&mut self.settings).expired_as_anonymous = allow;
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
    /// `GET`, `HEAD` or `OPTIONS` is refused with 403 `{"status":403,"message":"Cross-origin
    /// request refused"}` ([`Rejection::CrossOrigin`](crate::Rejection::CrossOrigin), gRPC
    /// `PERMISSION_DENIED`) unless the browser says it comes from this origin: `Sec-Fetch-Site`
    /// is `same-origin` or `none`, or, without `Sec-Fetch-Site`, `Origin` names the `Host`, or
    /// neither header is sent (not a browser); or its `Origin` is one of these. This is Go 1.25's
    /// `CrossOriginProtection`, and needs no token in the page: plain HTML forms work. A token
    /// in the `Authorization` header is never checked, since no other page can make a browser
    /// send one. On by default, with no trusted origin; see
    /// [`disable_cross_origin_protection`](Self::disable_cross_origin_protection).
    ///
    /// # Panics
    ///
    /// If an origin is not `scheme://host[:port]` (with `http` or `https`, and a port up to
    /// 65535), as a route that does not parse panics in axum: it is a mistake in the program,
    /// found at its start.
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
    ///     .trusted_origins(["https://app.example.com"]);
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
    pub fn trusted_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref();
                Origin::parse(origin).unwrap_or_else(|| {
                    panic!(
                        "trusted origin {origin:?} is not `scheme://host[:port]` (http or https)"
                    )
                })
            })
            .collect();
        Arc::make_mut(&mut self.settings).trusted_origins = Some(origins);
        self
    }

    /// Let cross-origin requests use a token from a cookie: turns off the check described at
    /// [`trusted_origins`](Self::trusted_origins). Only for an API whose cookies are
    /// `SameSite=Strict` and whose every subdomain you trust, or that no browser can reach:
    /// otherwise any page the user visits can act with their token.
    pub fn disable_cross_origin_protection(mut self) -> Self {
        Arc::make_mut(&mut self.settings).trusted_origins = None;
        self
    }

    /// Shape the answers to rejections yourself; see [`Responder`]. gRPC requests keep the
    /// automatic gRPC status.
    pub fn responder(mut self, responder: impl Responder) -> Self {
        Arc::make_mut(&mut self.settings).responder = Some(Arc::new(responder));
        self
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

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("manager", &self.manager)
            .field("optional", &self.optional)
            .field("expired_as_anonymous", &self.expired_as_anonymous)
            .field("skip", &self.skip.as_ref().map(|_| "Fn"))
            .field("locations", &self.locations)
            .field("responder", &self.responder.as_ref().map(|_| "Responder"))
            .field("kind", &self.kind)
            .field("trusted_origins", &self.trusted_origins)
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

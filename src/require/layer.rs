//! [`RequireLayer`]: applies [`Require`] to a service, with its rule and its answers.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::check::{Rule, UserCheck, UserFn};
use super::service::{Require, Settings};
use crate::error::{BoxError, ConfigError};
use crate::rejection::{Answers, Rejection, scope_token};
use crate::token::Claims;

/// Applies [`Require`] to the services it wraps: authorization, behind a
/// [`LoginLayer`](crate::LoginLayer), for any `Service<http::Request<B>>`.
///
/// The login layer answers "who is this?"; a requirement answers "may they?". It reads the
/// verified [`Claims`] the login layer put into the request's extensions: the OAuth scopes of
/// the `scope` claim ([`scopes`](Self::scopes)), roles ([`roles`](Self::roles),
/// [`roles_in`](Self::roles_in)), any predicate ([`claims`](Self::claims)); or it asks about the
/// loaded user ([`user`](Self::user)). A request that fails it is answered with 403
/// `{"status":403,"message":"Permission denied"}` and `WWW-Authenticate: Bearer
/// error="insufficient_scope", scope="..."` naming the scopes the route needs (RFC 6750 section
/// 3.1); a gRPC request with `PERMISSION_DENIED` (7) and the same message. The token's scopes
/// and roles are written when it is issued, with
/// [`LoginManager::with_claims`](crate::LoginManager::with_claims).
///
/// The requirement goes *inside* the login layer (in axum, a `route_layer` after the login
/// layer's, or a `.layer(..)` of the same `ServiceBuilder` after it). A request the login layer
/// let through without a user is answered as that layer answers when login is required (401
/// "You need to login" for an [`Anonymous`](crate::Anonymous) one), unless the login layer was
/// told to leave it unchecked ([`skip_if`](crate::LoginLayer::skip_if), CORS preflight by
/// default), which goes on unchecked here too. A request with no login layer in front is never
/// let through: 500, and an `ERROR` event with the feature `tracing`.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode, header};
/// use serde_json::json;
/// use tower::ServiceExt;
/// use tower_login_manager::{LoginLayer, LoginManager, RequireLayer, loader_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = LoginManager::new("a secret of at least thirty-two bytes!!")?;
/// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
/// let app = Router::new()
///     .route("/reports", get(|| async { "reports" }))
///     .route_layer(RequireLayer::scopes(["reports:read"])?)
///     .route_layer(LoginLayer::new(manager.clone(), loader));
///
/// // Scopes are one claim, written when the token is issued (RFC 9068 section 2.2.3).
/// let reader = manager.with_claims(&json!({ "scope": "profile reports:read" }))?;
/// let token = reader.issue_token("1", Duration::from_secs(60))?;
/// let get = |token: &str| Request::get("/reports")
///     .header(header::AUTHORIZATION, format!("Bearer {token}"))
///     .body(Body::empty())
///     .unwrap();
/// assert_eq!(app.clone().oneshot(get(&token)).await?.status(), StatusCode::OK);
///
/// // Logged in, without the scope: 403, naming the scope the route needs.
/// let token = manager.issue_token("1", Duration::from_secs(60))?;
/// let res = app.oneshot(get(&token)).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     res.headers()[header::WWW_AUTHENTICATE],
///     r#"Bearer error="insufficient_scope", scope="reports:read""#
/// );
/// # Ok(())
/// # }
/// ```
#[doc(alias = "permission_required", alias = "roles_required")]
pub struct RequireLayer<A = ()> {
    user: A,
    settings: Arc<Settings>,
}

impl RequireLayer {
    fn new(rule: Rule) -> Self {
        Self {
            user: (),
            settings: Arc::new(Settings {
                rule,
                answers: Answers::default(),
            }),
        }
    }

    /// Requests whose token carries every one of `scopes` in its `scope` claim: a JSON string
    /// of space-separated scopes (RFC 8693 section 4.2, RFC 9068 section 2.2.3; RFC 6749
    /// section 3.3). Each scope matches whole and case-sensitively, in any order; a token
    /// without the claim, or whose claim is not a string, has none. The 403 names them all:
    /// `scope="a b"`.
    ///
    /// Fails with [`ConfigError::InvalidScope`] if one is not a scope token (RFC 6749 section
    /// 3.3: no space, `"` or `\`, printable ASCII).
    pub fn scopes<I>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let scopes = scopes
            .into_iter()
            .map(|scope| {
                let scope = scope.as_ref();
                match scope_token(scope) {
                    true => Ok(scope.into()),
                    false => Err(ConfigError::InvalidScope(scope.to_owned())),
                }
            })
            .collect::<Result<Box<[Box<str>]>, _>>()?;
        let joined = scopes.join(" ");
        let mut layer = Self::new(Rule::scopes(scopes));
        layer.answers_mut().set_scope(joined);
        Ok(layer)
    }

    /// Requests whose token carries every one of `roles` in its `roles` claim, a JSON array of
    /// strings (RFC 9068 section 2.2.3.1, after SCIM's `roles`). Exact, case-sensitive matches;
    /// a token without the claim, or whose claim is not an array of strings, has none. For
    /// another claim, see [`roles_in`](Self::roles_in); for "any one of", [`claims`](Self::claims).
    pub fn roles<I>(roles: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::roles_in("roles", roles)
    }

    /// As [`roles`](Self::roles), in the claim `claim` (`groups`, `permissions`, ...).
    pub fn roles_in<I>(claim: &str, roles: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let roles = roles.into_iter().map(|r| r.as_ref().into()).collect();
        Self::new(Rule::values(claim, roles))
    }

    /// Requests whose claims satisfy `predicate`, called in `call` with the verified
    /// [`Claims`] (read the application's claims with [`Claims::extra`]).
    ///
    /// ```
    /// use tower_login_manager::{Claims, RequireLayer};
    ///
    /// // Any one of two roles, read as the application wrote them.
    /// #[derive(serde::Deserialize)]
    /// struct Roles { roles: Vec<String> }
    /// let editors = RequireLayer::claims(|claims: &Claims| {
    ///     claims.extra::<Roles>().is_ok_and(|r| r.roles.iter().any(|r| r == "editor" || r == "admin"))
    /// });
    /// ```
    #[doc(alias = "predicate_required")]
    pub fn claims(predicate: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        Self::new(Rule::predicate(predicate))
    }

    /// Requests whose user, as the [`UserLoader`](crate::UserLoader) loaded it (`U` is its
    /// `User`), passes the asynchronous `check`: see [`UserCheck`] for its answers. The future
    /// must own what it needs of the user.
    ///
    /// ```
    /// use tower_login_manager::RequireLayer;
    ///
    /// #[derive(Clone)]
    /// struct User { id: i64 }
    ///
    /// let admins = RequireLayer::user(|user: &User| {
    ///     let id = user.id;
    ///     // e.g. SELECT admin FROM users WHERE id = ?
    ///     async move { Ok::<_, std::io::Error>(id == 1) }
    /// });
    /// ```
    pub fn user<U, F, Fut, E>(check: F) -> RequireLayer<impl UserCheck<User = U>>
    where
        F: Fn(&U) -> Fut + Clone + Send + Sync + 'static,
        U: Send + Sync + 'static,
        Fut: Future<Output = Result<bool, E>> + Send,
        E: Into<BoxError>,
    {
        RequireLayer {
            user: UserFn {
                f: check,
                user: PhantomData,
            },
            settings: Self::new(Rule::Any).settings,
        }
    }
}

impl<A> RequireLayer<A> {
    /// The `message` of the answer to `rejection`, as
    /// [`LoginLayer::message`](crate::LoginLayer::message) sets it:
    /// [`Rejection::InsufficientScope`] (default "Permission denied"), or
    /// [`Rejection::LoaderFailed`] (the 500 of a failing [`UserCheck`], default "Internal server
    /// error").
    pub fn message(mut self, rejection: Rejection, message: impl Into<String>) -> Self {
        self.answers_mut().set_message(rejection, message.into());
        self
    }

    /// Called with the error whenever the [`UserCheck`] fails, as
    /// [`LoginLayer::on_backend_error`](crate::LoginLayer::on_backend_error) is for the loader.
    pub fn on_backend_error(
        mut self,
        hook: impl Fn(&(dyn std::error::Error + Send + Sync + 'static)) + Send + Sync + 'static,
    ) -> Self {
        self.answers_mut().set_backend_error_hook(Arc::new(hook));
        self
    }

    fn answers_mut(&mut self) -> &mut Answers {
        &mut Arc::make_mut(&mut self.settings).answers
    }
}

impl<A: Clone> Clone for RequireLayer<A> {
    fn clone(&self) -> Self {
        Self {
            user: self.user.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<A> fmt::Debug for RequireLayer<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLayer")
            .field("user", &std::any::type_name::<A>())
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, A: Clone> Layer<S> for RequireLayer<A> {
    type Service = Require<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        Require::from_parts(inner, self.user.clone(), self.settings.clone())
    }
}

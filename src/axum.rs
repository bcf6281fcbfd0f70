//! axum extractors: [`CurrentUser`], `Option<CurrentUser<U>>` and [`Claims`].

use std::any::type_name;
use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, header};

use crate::token::Claims;

/// Put into the extensions of a request the layer let through *without* a user (optional login,
/// skipped requests), so that `Option<CurrentUser<U>>` can tell "no user" from "no layer".
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassedWithoutUser;

/// The user the [`LoginLayer`](crate::LoginLayer) loaded, as an axum extractor.
///
/// `CurrentUser<U>` requires a user; `Option<CurrentUser<U>>` accepts requests let through
/// without one ([`optional`](crate::LoginLayer::optional) login, skipped requests). On a route
/// the layer does not cover, both answer 500 with a message naming the missing layer, instead of
/// silently treating everyone as anonymous.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_login_manager::{Claims, CurrentUser};
///
/// #[derive(Clone)]
/// struct User { name: String }
///
/// async fn me(CurrentUser(user): CurrentUser<User>, claims: Claims) -> String {
///     format!("{} (token expires at {})", user.name, claims.expires_at())
/// }
///
/// async fn home(user: Option<CurrentUser<User>>) -> String {
///     match user {
///         Some(CurrentUser(user)) => format!("hello {}", user.name),
///         None => "hello stranger".into(),
///     }
/// }
/// # let _: Router = Router::new().route("/me", get(me)).route("/", get(home));
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

/// Rejection of [`CurrentUser`] and [`Claims`], and of `Option<CurrentUser<U>>` and
/// `Option<Claims>`, on a route without [`LoginLayer`](crate::LoginLayer): a programming error,
/// answered with 500 and a message naming the layer.
#[derive(Debug, Clone)]
pub struct MissingLoginLayer {
    extractor: &'static str,
}

impl fmt::Display for MissingLoginLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was used on a route that tower_login_manager::LoginLayer does not cover \
             (or whose loader yields another user type): add the layer to this route",
            self.extractor
        )
    }
}

impl std::error::Error for MissingLoginLayer {}

impl IntoResponse for MissingLoginLayer {
    fn into_response(self) -> Response {
        #[derive(serde::Serialize)]
        struct Body {
            status: u16,
            message: String,
        }
        let body = serde_json::to_vec(&Body {
            status: 500,
            message: self.to_string(),
        })
        .expect("a JSON object always serializes");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

fn missing<T>() -> MissingLoginLayer {
    MissingLoginLayer {
        extractor: type_name::<T>(),
    }
}

/// The `T` the layer put into the extensions; `None` when it let the request through without a
/// user; the rejection `E` names when the layer does not cover the route.
fn optional<T: Clone + Send + Sync + 'static, E>(
    parts: &Parts,
) -> Result<Option<T>, MissingLoginLayer> {
    match parts.extensions.get::<T>() {
        Some(found) => Ok(Some(found.clone())),
        None if parts.extensions.get::<PassedWithoutUser>().is_some() => Ok(None),
        None => Err(missing::<Option<E>>()),
    }
}

impl<U, S> FromRequestParts<S> for CurrentUser<U>
where
    U: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingLoginLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<U>()
            .cloned()
            .map(CurrentUser)
            .ok_or_else(missing::<Self>)
    }
}

impl<U, S> OptionalFromRequestParts<S> for CurrentUser<U>
where
    U: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingLoginLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(optional::<U, Self>(parts)?.map(CurrentUser))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = MissingLoginLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or_else(missing::<Self>)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = MissingLoginLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        optional::<Claims, Self>(parts)
    }
}

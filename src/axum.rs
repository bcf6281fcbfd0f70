//! axum extractors: [`CurrentUser`], `Option<CurrentUser<U>>` and [`Claims`].

use std::any::type_name;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, header};

use crate::rejection::is_grpc;
use crate::service::PassedWithoutUser;
use crate::token::Claims;

/// The user the [`LoginLayer`](crate::LoginLayer) loaded, as an axum extractor.
///
/// `CurrentUser<U>` requires a user: on a request the layer let through without one
/// ([`anonymous`](crate::LoginLayer::anonymous) requests, skipped requests) it answers as the layer
/// would have, had login been required ("You need to login", or the expired token's answer).
/// `Option<CurrentUser<U>>` accepts such requests. On a route the layer does not cover, both
/// answer 500 with a message naming the missing layer, instead of silently treating everyone as
/// anonymous. [`Claims`] and `Option<Claims>` extract the same way.
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

/// The answer on a route without [`LoginLayer`](crate::LoginLayer), a programming error: 500,
/// with a message naming the extractor and the layer.
fn missing_layer<T>() -> Response {
    #[derive(serde::Serialize)]
    struct Answer {
        status: u16,
        message: String,
    }
    let message = format!(
        "{} was used on a route that tower_login_manager::LoginLayer does not cover \
         (or whose loader yields another user type): add the layer to this route",
        type_name::<T>()
    );
    let body = serde_json::to_vec(&Answer {
        status: 500,
        message,
    })
    .expect("a JSON object always serializes");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The `T` the layer put into the extensions; otherwise, when the layer let the request through
/// without a user, the layer's answer had login been required; otherwise (no layer) 500.
#[expect(
    clippy::result_large_err,
    reason = "axum's rejection, a response, as is"
)]
fn required<T: Clone + Send + Sync + 'static, E>(parts: &Parts) -> Result<T, Response> {
    if let Some(found) = parts.extensions.get::<T>() {
        return Ok(found.clone());
    }
    match parts.extensions.get::<PassedWithoutUser>() {
        Some(passed) => Err(passed.answer(is_grpc(&parts.headers)).map(Body::from)),
        None => Err(missing_layer::<E>()),
    }
}

/// The `T` the layer put into the extensions; `None` when it let the request through without a
/// user; 500 when the layer does not cover the route.
#[expect(
    clippy::result_large_err,
    reason = "axum's rejection, a response, as is"
)]
fn optional<T: Clone + Send + Sync + 'static, E>(parts: &Parts) -> Result<Option<T>, Response> {
    match parts.extensions.get::<T>() {
        Some(found) => Ok(Some(found.clone())),
        None if parts.extensions.get::<PassedWithoutUser>().is_some() => Ok(None),
        None => Err(missing_layer::<Option<E>>()),
    }
}

impl<U, S> FromRequestParts<S> for CurrentUser<U>
where
    U: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        required::<U, Self>(parts).map(CurrentUser)
    }
}

impl<U, S> OptionalFromRequestParts<S> for CurrentUser<U>
where
    U: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(optional::<U, Self>(parts)?.map(CurrentUser))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        required::<Claims, Self>(parts)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        optional::<Claims, Self>(parts)
    }
}

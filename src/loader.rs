//! Loading the user a token names.

use std::fmt;
use std::future::Future;

use crate::error::BoxError;

/// Loads the user a verified token names: the `user_loader` callback of the Flask original.
///
/// `Ok(Some(user))` lets the request through with the user (and the token's
/// [`Claims`](crate::Claims)) in its extensions; `Ok(None)` is answered with 401 "User not found.
/// Please register or login"; `Err(_)` with 500 "Internal server error" (the error itself goes to
/// [`LoginLayer::on_backend_error`](crate::LoginLayer::on_backend_error), never to the client).
///
/// The future is a named associated type so that the layer's response future needs no box. For a
/// closure, use [`loader_fn`]:
///
/// ```
/// use tower_login_manager::{loader_fn, UserLoader};
///
/// #[derive(Clone)]
/// struct User { id: u64, name: String }
///
/// let loader = loader_fn(|id: String| async move {
///     // e.g. SELECT id, name FROM users WHERE id = ?
///     Ok::<_, std::io::Error>(match id.as_str() {
///         "1" => Some(User { id: 1, name: "ada".into() }),
///         _ => None,
///     })
/// });
/// # fn check<L: UserLoader>(_: &L) {}
/// # check(&loader);
/// ```
///
/// A store that answers without waiting can implement the trait directly, with a ready future,
/// and avoid copying the id:
///
/// ```
/// use std::{collections::HashMap, convert::Infallible, future::{ready, Ready}, sync::Arc};
/// use tower_login_manager::UserLoader;
///
/// #[derive(Clone)]
/// struct InMemory(Arc<HashMap<String, Arc<str>>>);
///
/// impl UserLoader for InMemory {
///     type User = Arc<str>;
///     type Error = Infallible;
///     type Future = Ready<Result<Option<Arc<str>>, Infallible>>;
///
///     fn load_user(&self, user_id: &str) -> Self::Future {
///         ready(Ok(self.0.get(user_id).cloned()))
///     }
/// }
/// ```
#[doc(alias = "user_loader")]
pub trait UserLoader: Clone + Send + Sync + 'static {
    /// The user, cloned into the request's extensions.
    type User: Clone + Send + Sync + 'static;
    /// Why loading failed (the store is down, ...). Answered with 500, never 401; the error goes
    /// to [`LoginLayer::on_backend_error`](crate::LoginLayer::on_backend_error).
    type Error: Into<BoxError>;
    /// The future returned by [`UserLoader::load_user`].
    type Future: Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Loads the user with this id (the token's `user_id` claim, a non-empty string).
    fn load_user(&self, user_id: &str) -> Self::Future;
}

/// Builds a [`UserLoader`] from an async closure taking the user id as a `String`.
pub fn loader_fn<F, Fut, U, E>(f: F) -> impl UserLoader<User = U, Error = E> + fmt::Debug
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<U>, E>> + Send,
    U: Clone + Send + Sync + 'static,
    E: Into<BoxError>,
{
    LoaderFn { f }
}

/// A [`UserLoader`] made from a closure by [`loader_fn`].
#[derive(Clone, Copy)]
struct LoaderFn<F> {
    f: F,
}

impl<F> fmt::Debug for LoaderFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoaderFn")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}

impl<F, Fut, U, E> UserLoader for LoaderFn<F>
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<U>, E>> + Send,
    U: Clone + Send + Sync + 'static,
    E: Into<BoxError>,
{
    type User = U;
    type Error = E;
    type Future = Fut;

    fn load_user(&self, user_id: &str) -> Fut {
        (self.f)(user_id.to_owned())
    }
}

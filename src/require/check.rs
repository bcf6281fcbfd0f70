//! What a [`RequireLayer`](super::RequireLayer) checks: a rule over the verified claims, and
//! the [`UserCheck`] over the loaded user.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use super::claim::{self, Name};
use crate::error::BoxError;
use crate::token::Claims;

type Predicate = Arc<dyn Fn(&Claims) -> bool + Send + Sync>;

/// The check over the claims, made in `call`, before the inner service is called.
#[derive(Clone)]
pub(super) enum Rule {
    /// Every one of these in the space-separated `scope` claim.
    Scopes(Name, Box<[Box<str>]>),
    /// Every one of `values` in the array of strings `claim` (`roles` by default).
    Values {
        claim: Name,
        values: Box<[Box<str>]>,
    },
    /// The application's predicate.
    Claims(Predicate),
    /// Any verified claims: the [`UserCheck`] decides.
    Any,
}

impl Rule {
    pub(super) fn scopes(scopes: Box<[Box<str>]>) -> Self {
        Self::Scopes(Name::new("scope"), scopes)
    }

    pub(super) fn values(claim: &str, values: Box<[Box<str>]>) -> Self {
        Self::Values {
            claim: Name::new(claim),
            values,
        }
    }

    pub(super) fn predicate(f: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        Self::Claims(Arc::new(f))
    }

    /// Whether `claims` satisfy the rule. A claim that is absent, empty or of the wrong type
    /// satisfies no scope and no role.
    pub(super) fn allows(&self, claims: &Claims) -> bool {
        let member = |name: &Name| claim::value_of(claims, name);
        match self {
            Self::Scopes(scope, scopes) => {
                member(scope).is_some_and(|v| claim::has_scopes(v, scopes))
            }
            Self::Values { claim, values } => {
                member(claim).is_some_and(|v| claim::has_all(v.json, values))
            }
            Self::Claims(f) => f(claims),
            Self::Any => true,
        }
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scopes(_, scopes) => f.debug_tuple("Scopes").field(scopes).finish(),
            Self::Values { claim, values } => f
                .debug_struct("Values")
                .field("claim", claim)
                .field("values", values)
                .finish(),
            Self::Claims(_) => f.write_str("Claims(Fn)"),
            Self::Any => f.write_str("Any"),
        }
    }
}

/// An asynchronous check over the user the [`LoginLayer`](crate::LoginLayer) loaded (its role
/// in the database, say), for [`RequireLayer::user`](super::RequireLayer::user).
///
/// `Ok(true)` lets the request through, `Ok(false)` is answered with 403
/// ([`Rejection::InsufficientScope`](crate::Rejection::InsufficientScope)), and `Err(_)` as the
/// loader's errors are: 500 "Internal server error", the error going to
/// [`RequireLayer::on_backend_error`](super::RequireLayer::on_backend_error), never a 403 and
/// never to the client. The future is a named type, so the response future needs no box.
pub trait UserCheck: Clone + Send + Sync + 'static {
    /// The user, as the loader put it in the request's extensions
    /// ([`UserLoader::User`](crate::UserLoader::User)).
    type User: Send + Sync + 'static;
    /// Why the check could not be made (the database is down, ...).
    type Error: Into<BoxError>;
    /// The future returned by [`UserCheck::check`].
    type Future: Future<Output = Result<bool, Self::Error>> + Send;

    /// Whether `user` may call the route.
    fn check(&self, user: &Self::User) -> Self::Future;
}

/// A [`UserCheck`] made from a closure by [`RequireLayer::user`](super::RequireLayer::user).
pub(super) struct UserFn<F, U> {
    pub(super) f: F,
    pub(super) user: PhantomData<fn(&U)>,
}

impl<F: Clone, U> Clone for UserFn<F, U> {
    fn clone(&self) -> Self {
        Self {
            f: self.f.clone(),
            user: PhantomData,
        }
    }
}

impl<F, U> fmt::Debug for UserFn<F, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserFn")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}

impl<F, U, Fut, E> UserCheck for UserFn<F, U>
where
    F: Fn(&U) -> Fut + Clone + Send + Sync + 'static,
    U: Send + Sync + 'static,
    Fut: Future<Output = Result<bool, E>> + Send,
    E: Into<BoxError>,
{
    type User = U;
    type Error = E;
    type Future = Fut;

    fn check(&self, user: &U) -> Fut {
        (self.f)(user)
    }
}

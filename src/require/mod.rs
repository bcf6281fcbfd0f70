//! Authorization behind the login layer: [`RequireLayer`] lets a request through only if the
//! verified [`Claims`](crate::Claims) (its scopes, its roles, any predicate) or the loaded user
//! allow the route, and answers 403 `insufficient_scope` otherwise (RFC 6750 section 3.1).
//!
//! This module imports only the crate's claims, answers, body and errors; nothing in the crate
//! imports it.

mod check;
mod claim;
mod future;
mod layer;
mod service;

pub use check::UserCheck;
pub use future::ResponseFuture;
pub use layer::RequireLayer;
pub use service::Require;

//! [`LoginLayer`]: applies [`LoginService`] to a service.

use tower_layer::Layer;

use crate::manager::LoginManager;
use crate::service::LoginService;

/// Applies [`LoginService`] to the services it wraps: bearer-token login for any
/// `Service<http::Request<B>>`.
///
/// Clone it freely: it holds a [`LoginManager`] (one `Arc`) and the loader.
#[derive(Debug, Clone)]
pub struct LoginLayer<L> {
    manager: LoginManager,
    loader: L,
}

impl<L> LoginLayer<L> {
    /// A layer checking tokens with `manager` and loading users with `loader`.
    pub fn new(manager: LoginManager, loader: L) -> Self {
        Self { manager, loader }
    }
}

impl<S, L: Clone> Layer<S> for LoginLayer<L> {
    type Service = LoginService<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginService::new(inner, self.manager.clone(), self.loader.clone())
    }
}

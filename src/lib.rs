//! Bearer-token login for any [Tower](https://docs.rs/tower) service: axum, hyper, tonic.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod error;
pub mod future;
mod layer;
mod loader;
mod manager;
mod response;
mod service;
mod token;

pub use body::ResponseBody;
pub use error::{BoxError, ConfigError, TokenError};
pub use layer::LoginLayer;
pub use loader::{AuthUser, LoaderFn, UserLoader, loader_fn};
pub use manager::{LoginManager, LoginManagerBuilder, MIN_SECRET_LEN};
pub use service::LoginService;
pub use token::Claims;

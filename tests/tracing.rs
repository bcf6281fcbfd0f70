//! Feature `tracing`: one event per rejection, with its kind, never the token.
//!
//! In a test binary of its own: tracing caches each callsite's interest globally, and a test
//! running the layer on another thread without a subscriber could race this one's subscriber
//! registration and leave the callsite disabled.
#![cfg(feature = "tracing")]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};
use support::{InMemory, NOW, SECRET};
use tower::{ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, LoginManager, UserLoader};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Clone, Debug, PartialEq)]
struct User(String);

fn layer() -> LoginLayer<impl UserLoader<User = User>> {
    let manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();
    LoginLayer::new(
        manager,
        InMemory::new().others(|id| Some(User(id.to_owned()))),
    )
}

fn token(id: &str) -> String {
    LoginManager::builder(SECRET)
        .clock(|| NOW)
        .build()
        .unwrap()
        .issue_token(id, Duration::from_secs(60))
        .unwrap()
}

fn get(bearer: Option<&str>) -> Request<Empty<Bytes>> {
    let mut b = Request::get("/");
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Empty::new()).unwrap()
}

async fn send(
    layer: LoginLayer<impl UserLoader<User = User>>,
    req: Request<Empty<Bytes>>,
) -> StatusCode {
    let svc = tower::Layer::layer(
        &layer,
        service_fn(|_: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }),
    );
    support::read(svc.oneshot(req).await.unwrap()).await.status
}

/// Records every event's fields as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);
impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn one_event_per_rejection_with_its_kind_and_never_the_token() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let mut tampered = token("1");
    // Another last character (the one popped decides: every token now carries a random jti).
    let last = tampered.pop();
    tampered.push(if last == Some('A') { 'B' } else { 'A' });
    assert_eq!(send(layer(), get(None)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(layer(), get(Some(&tampered))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(layer(), get(Some(&token("1")))).await, StatusCode::OK);
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].contains("kind=\"missing_token\""), "{events:?}");
    assert!(events[1].contains("kind=\"invalid_token\""), "{events:?}");
    assert!(events[1].contains("signature does not match"), "{events:?}");
    let signature = tampered.rsplit('.').next().unwrap();
    assert!(events.iter().all(|e| !e.contains(signature)), "{events:?}");
}

/// Issue 24: a `RequireLayer` without a login layer in front answers 500 and says so in the
/// log (level `ERROR`), never with the token; a 403 is one `DEBUG` event like the rejections.
#[tokio::test]
async fn a_requirement_without_a_login_layer_logs_an_error() {
    use tower_login_manager::RequireLayer;
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let inner = service_fn(|_: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let alone = tower::Layer::layer(&RequireLayer::roles(["admin"]), inner);
    let token = token("1");
    let res = alone.oneshot(get(Some(&token))).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let behind = tower::Layer::layer(
        &layer(),
        tower::Layer::layer(&RequireLayer::roles(["admin"]), inner),
    );
    let res = behind.oneshot(get(Some(&token))).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].contains("kind=\"no_login_layer\""), "{events:?}");
    assert!(events[0].contains("put a LoginLayer"), "{events:?}");
    assert!(
        events[1].contains("kind=\"insufficient_scope\""),
        "{events:?}"
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(events.iter().all(|e| !e.contains(signature)), "{events:?}");
}

//! Properties over generated inputs (proptest): what `issue_token` writes, `decode_token` reads
//! back; no single-byte change of a token survives, whether it reaches `decode_token` or the
//! layer.

mod support;

// Polls a future that must be ready at once: every future here is (the loader's and a `Ready`
// inner service).
use support::in_memory::now_or_never as now;

use std::convert::Infallible;
use std::future::ready;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use proptest::prelude::*;
use proptest::sample::Index;
use support::{InMemory, NOW, manager};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, TokenError};

const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // No regression files in the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A user id `issue_token` accepts: a non-empty string without control characters, up to 600
/// characters (past the verifier's 512-byte stack buffer).
fn user_id() -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_filter("no control characters", |c| !c.is_control()),
        1..600,
    )
    .prop_map(String::from_iter)
}

/// Every id is a user, named by its id; loaded through the future (`async_only`): the layer's
/// waiting path.
fn everyone() -> InMemory<String> {
    InMemory::new()
        .others(|id| Some(id.to_owned()))
        .async_only()
}

/// Sends `Authorization: <value>` through the layer; the status and the body.
fn send(value: HeaderValue) -> (StatusCode, Bytes) {
    let svc =
        LoginLayer::new(manager(), everyone()).layer(service_fn(|req: Request<Empty<Bytes>>| {
            let user = req
                .extensions()
                .get::<String>()
                .cloned()
                .unwrap_or_default();
            ready(Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                user,
            )))))
        }));
    let mut req = Request::get("/").body(Empty::new()).unwrap();
    req.headers_mut().insert(header::AUTHORIZATION, value);
    let res = now(svc.oneshot(req)).unwrap();
    let status = res.status();
    let body = now(res.into_body().collect()).unwrap().to_bytes();
    (status, body)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn issued_tokens_round_trip(id in user_id(), ttl in 1u64..=1_000_000_000) {
        let m = manager();
        let token = m.issue_token(&id, Duration::from_secs(ttl)).unwrap();
        let claims = m.decode_token(&token).unwrap();
        prop_assert_eq!(claims.user_id(), id.as_str());
        prop_assert_eq!(claims.expires_at(), NOW + ttl);
        prop_assert_eq!(claims.issued_at(), Some(NOW));
        // And through the layer: the loader receives the same id.
        let (status, body) = send(HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        prop_assert_eq!(status, StatusCode::OK);
        prop_assert_eq!(body, Bytes::from(id));
    }

    /// RFC 7515 section 5.2 step 8: the MAC covers every byte of the signing input, and the
    /// strict base64url of the MAC leaves no byte of the signature free either.
    #[test]
    fn any_single_byte_change_is_rejected(
        id in user_id(),
        ttl in 1u64..=1_000_000_000,
        at in any::<Index>(),
        delta in 1u8..=255,
    ) {
        let m = manager();
        let token = m.issue_token(&id, Duration::from_secs(ttl)).unwrap().into_bytes();
        let mut tampered = token.clone();
        let i = at.index(tampered.len());
        tampered[i] = tampered[i].wrapping_add(delta);
        prop_assert_ne!(&tampered, &token);

        // Every changed byte is checked on at least one of the two paths: control bytes cannot
        // be sent in a header, and bytes 0x80-0xFF alone are not UTF-8.
        let mut checked = false;
        if let Ok(text) = std::str::from_utf8(&tampered) {
            let err = m.decode_token(text).unwrap_err();
            prop_assert!(err != TokenError::Expired, "{err:?}");
            checked = true;
        }
        if let Ok(value) = HeaderValue::from_bytes(&[b"Bearer ".as_slice(), &tampered].concat()) {
            let (status, body) = send(value);
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
            prop_assert_eq!(body, INVALID);
            checked = true;
        }
        prop_assert!(checked, "byte {:#04x} at {i} reached neither path", tampered[i]);
    }

    /// Random compact-JWS-shaped strings never decode (and never panic).
    #[test]
    fn random_three_segment_strings_are_refused(
        token in "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,50}",
    ) {
        prop_assert!(manager().decode_token(&token).is_err());
    }
}

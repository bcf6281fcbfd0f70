//! Arbitrary `Authorization` headers and tokens through the public API: `LoginLayer` around a
//! `service_fn`, and `LoginManager::decode_token`.
//!
//! Input layout: one flags byte, then an `Authorization` value and a token separated by the first
//! `\n`.
//!
//! | flags bits | meaning |
//! |---|---|
//! | `0b11` | 0: send the raw value; 1: send `Bearer <token>`; 2: send both (two headers); 3: send none |
//! | `0x04` | a gRPC request (`content-type: application/grpc`) |
//! | `0x08` | the token part is `header JSON \0 claims JSON`, MACed here with the secret, so that the claims parser is reached |
//! | `0x10` | the strict manager: issuer, audience, `sub` as the user id, leeway, 512-byte cap |
//!
//! Every future is ready at once (a `Ready` loader and a `Ready` inner service), so a no-op waker
//! is the whole executor. Asserted: no panic, and the client sees 200, 400 or 401 only (or, for
//! gRPC, a 200 with `grpc-status` 16 or the inner service's answer).
#![no_main]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body as _;
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, LoginManager, TokenError, UserLoader};

/// The secret the seed corpus was MACed with.
const SECRET: &[u8] = b"fuzzing-secret-of-at-least-32-bytes!!";
const NOW: u64 = 1_700_000_000;

static DEFAULT: LazyLock<LoginManager> =
    LazyLock::new(|| LoginManager::builder(SECRET).clock(|| NOW).build().unwrap());

static STRICT: LazyLock<LoginManager> = LazyLock::new(|| {
    LoginManager::builder(SECRET)
        .clock(|| NOW)
        .issuer("https://auth.example")
        .audience("orders")
        .user_id_claim("sub")
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap()
});

/// Judged by the system clock, like jsonwebtoken: the differential half of the target.
static SYSTEM: LazyLock<LoginManager> = LazyLock::new(|| LoginManager::new(SECRET).unwrap());

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ReferenceClaims {
    user_id: String,
}

/// jsonwebtoken 12 configured like this crate's defaults (as in tests/differential.rs).
fn reference_accepts(token: &str) -> bool {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    static KEY: LazyLock<DecodingKey> =
        LazyLock::new(|| DecodingKey::from_secret(SECRET).expect("HMAC keys are always valid"));
    static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        v
    });
    jsonwebtoken::decode::<ReferenceClaims>(token, &KEY, &VALIDATION).is_ok()
}

/// Where this crate is stricter than jsonwebtoken on purpose (README, "Validation").
fn deliberate(e: TokenError) -> bool {
    matches!(
        e,
        TokenError::UnsupportedCritical
            | TokenError::InvalidClaims
            | TokenError::Malformed
            | TokenError::InvalidAudience
            | TokenError::NotYetValid
            | TokenError::InvalidClaim("user id")
            // `type` other than "access" or "refresh", `jti` or `sid` other than a non-empty
            // string: the layer tells access from refresh tokens, and revokes by `jti` and `sid`,
            // on these claims.
            | TokenError::InvalidClaim("type")
            | TokenError::InvalidClaim("jti")
            | TokenError::InvalidClaim("sid")
            | TokenError::TooLarge
    )
}

/// Every user exists but "gone".
#[derive(Clone)]
struct Store;

impl UserLoader for Store {
    type User = String;
    type Error = Infallible;
    type Future = Ready<Result<Option<String>, Infallible>>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        ready(Ok((user_id != "gone").then(|| user_id.to_owned())))
    }
}

/// Polls a future that must be ready at once.
fn now<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a future of the layer was not immediately ready"),
    }
}

/// `b64(header).b64(claims).b64(HMAC-SHA256)` under [`SECRET`].
fn sign(header: &[u8], claims: &[u8]) -> Vec<u8> {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).unwrap();
    mac.update(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
    token.into_bytes()
}

fn split_at_first(bytes: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == sep) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (raw_value, token_part) = split_at_first(rest, b'\n');
    let token = if flags & 0x08 != 0 {
        let (header, claims) = split_at_first(token_part, 0);
        sign(header, claims)
    } else {
        token_part.to_vec()
    };
    let manager = if flags & 0x10 != 0 {
        &*STRICT
    } else {
        &*DEFAULT
    };
    let grpc = flags & 0x04 != 0;

    // The verifier alone, on arbitrary UTF-8.
    let text = String::from_utf8_lossy(&token);
    let decoded = manager.decode_token(&text);
    if let Ok(claims) = &decoded {
        assert!(!claims.user_id().is_empty());
        assert!(!claims.user_id().chars().any(char::is_control));
    }

    // Differential: never accept what jsonwebtoken refuses; refuse what it accepts only on purpose.
    match (SYSTEM.decode_token(&text), reference_accepts(&text)) {
        (Ok(_), reference) => assert!(reference, "accepted what jsonwebtoken refuses"),
        (Err(e), true) => assert!(deliberate(e), "refused ({e:?}) what jsonwebtoken accepts"),
        (Err(_), false) => {}
    }

    // The layer, on arbitrary header bytes.
    let bearer = [b"Bearer ".as_slice(), &token].concat();
    let values: &[&[u8]] = match flags & 0x03 {
        0 => &[raw_value],
        1 => &[&bearer],
        2 => &[raw_value, &bearer],
        _ => &[],
    };
    let mut req = Request::new(());
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            req.headers_mut().append(AUTHORIZATION, value);
        }
    }
    if grpc {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    }
    let svc = LoginLayer::new(manager.clone(), Store).layer(service_fn(|req: Request<()>| {
        let user = req.extensions().get::<String>().cloned();
        assert!(
            user.is_some(),
            "the inner service was called without a user"
        );
        ready(Ok::<_, Infallible>(Response::new(String::from("inner"))))
    }));
    let res = now(svc.oneshot(req)).unwrap();

    let status = res.status();
    let passed =
        res.headers().get("grpc-status").is_none() && res.headers().get(CONTENT_TYPE).is_none();
    if grpc {
        assert_eq!(status, StatusCode::OK);
        let grpc_status = res.headers().get("grpc-status").map(HeaderValue::as_bytes);
        assert!(passed || grpc_status == Some(b"16"), "{grpc_status:?}");
    } else {
        assert!(
            [
                StatusCode::OK,
                StatusCode::BAD_REQUEST,
                StatusCode::UNAUTHORIZED
            ]
            .contains(&status),
            "{status}"
        );
        assert_eq!(passed, status == StatusCode::OK);
    }
    // With exactly one `Bearer <token>` header, the layer and the verifier agree.
    if flags & 0x03 == 1
        && std::str::from_utf8(&token).is_ok()
        && !token.starts_with(b" ")
        && HeaderValue::from_bytes(&bearer).is_ok()
    {
        let known = decoded.as_ref().is_ok_and(|c| c.user_id() != "gone");
        assert_eq!(passed, known, "layer and decode_token disagree");
    }

    // The body: the inner service's, or the rejection's JSON (empty for gRPC).
    let mut body = pin!(res.into_body());
    let mut bytes = Vec::new();
    while let Some(frame) = now(std::future::poll_fn(|cx| body.as_mut().poll_frame(cx))) {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    let bytes = Bytes::from(bytes);
    if passed {
        assert_eq!(bytes, "inner");
    } else if grpc {
        assert!(bytes.is_empty());
    } else {
        assert!(bytes.starts_with(format!("{{\"status\":{},", status.as_u16()).as_bytes()));
    }
});

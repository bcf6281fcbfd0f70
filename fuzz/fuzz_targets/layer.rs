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
//! | `0x60` | with `0x08`, what signs: 0 the HS256 secret, 1 the ES256 key, 2 the EdDSA key, 3 the RS256 key; 1 to 3 send the token to a verifier of the three public keys (kids `es`, `ed`, `rsa`), not to a manager |
//! | `0x80` | the request also goes through requirements behind the layer, scope `read` then role `admin` |
//!
//! Every input is also judged by jsonwebtoken: HS256 against the manager, and ES256, EdDSA and
//! RS256 against the public-key verifier (the key for the header's `alg`); and with `0x80`, the
//! requirements' verdict by serde_json's reading of the claims.
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
use tower_login_manager::{
    LoginLayer, LoginManager, RequireLayer, SigningKey, TokenError, TokenKind, TokenVerifier,
    UserLoader, VerifyingKey,
};

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

/// The public keys: (kid, `alg`, PKCS#8 or PKCS#1 DER of the private key). P-256 and Ed25519 keys
/// of fixed bytes (0x3c.., 0xc3..), and the RSA key of tests/data.
const PUBLIC: [(&str, jsonwebtoken::Algorithm, &[u8]); 3] = [
    (
        "es",
        jsonwebtoken::Algorithm::ES256,
        &hex::<138>(
            "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104203c3c3c3c3c3c3c3c\
         3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3ca14403420004480011fd860eae308cc4291ee974\
         eaa40ded6e99e1a51cca5d1e694fdb855afbbf66413c95d399ca88e58c6238166dcb3c07f6c17509af8ed1b8\
         bb15ce4a49fd",
        ),
    ),
    (
        "ed",
        jsonwebtoken::Algorithm::EdDSA,
        &hex::<48>(
            "302e020100300506032b657004220420c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\
         c3c3c3c3c3",
        ),
    ),
    (
        "rsa",
        jsonwebtoken::Algorithm::RS256,
        include_bytes!("../../tests/data/rs256_test_key.pkcs1.der"),
    ),
];

const fn hex<const N: usize>(s: &str) -> [u8; N] {
    let s = s.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut n) = (0, 0);
    while i < s.len() {
        let v = match s[i] {
            b'0'..=b'9' => s[i] - b'0',
            b'a'..=b'f' => s[i] - b'a' + 10,
            _ => {
                i += 1;
                continue;
            }
        };
        out[n / 2] |= if n % 2 == 0 { v << 4 } else { v };
        n += 1;
        i += 1;
    }
    assert!(n == 2 * N);
    out
}

/// The public half of `PUBLIC[i]`, with its kid, from our key (EC, Ed) or the RSA key's file.
fn public_key(i: usize) -> VerifyingKey {
    let (kid, _, der) = PUBLIC[i];
    let key = if i == 2 {
        VerifyingKey::from_pem(include_str!("../../tests/data/rs256_test_key.pub.pem")).unwrap()
    } else {
        // RFC 7468 section 2: 64 characters a line, as the PEM decoder insists.
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        SigningKey::from_pem(&pem).unwrap().verifying_key()
    };
    key.with_kid(kid)
}

fn public_verifier(clock: Option<u64>) -> TokenVerifier {
    let builder = (0..3).fold(TokenVerifier::builder(), |b, i| b.key(public_key(i)));
    match clock {
        Some(now) => builder.clock(move || now).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// The public-key verifier at the pinned time (the layer's) and on the system clock (the
/// differential's).
static PUBLIC_AT_NOW: LazyLock<TokenVerifier> = LazyLock::new(|| public_verifier(Some(NOW)));
static PUBLIC_SYSTEM: LazyLock<TokenVerifier> = LazyLock::new(|| public_verifier(None));

/// jsonwebtoken 12 on a public-key token: the key of the header's `alg`, that algorithm only,
/// configured like this crate's defaults.
fn reference_public_accepts(token: &str) -> bool {
    use jsonwebtoken::{DecodingKey, Validation};
    static KEYS: LazyLock<Vec<DecodingKey>> = LazyLock::new(|| {
        (0..3)
            .map(|i| {
                let jwk = public_key(i).to_jwk();
                let m = |name: &str| jwk[name].as_str().unwrap().to_owned();
                match i {
                    0 => DecodingKey::from_ec_components(&m("x"), &m("y")).unwrap(),
                    1 => DecodingKey::from_ed_components(&m("x")).unwrap(),
                    _ => DecodingKey::from_rsa_components(&m("n"), &m("e")).unwrap(),
                }
            })
            .collect()
    });
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    let Some(i) = PUBLIC.iter().position(|(_, alg, _)| *alg == header.alg) else {
        return false;
    };
    let mut v = Validation::new(header.alg);
    v.leeway = 0;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<ReferenceClaims>(token, &KEYS[i], &v).is_ok()
}

/// Where the public-key verifier differs from jsonwebtoken on purpose (DESIGN.md, "Validation"):
/// the HS256 list, and a `kid` names the key that verifies, of the header's algorithm (RFC 8725
/// section 3.1; jsonwebtoken, given one key, ignores the `kid`). The other way round, `Ed25519`
/// (RFC 9864) is an `alg` we accept and jsonwebtoken does not know.
fn deliberate_public(e: TokenError, token: &str) -> bool {
    let header = jsonwebtoken::decode_header(token).ok();
    let kid = header.as_ref().and_then(|h| h.kid.as_deref());
    let held = kid.and_then(|kid| PUBLIC.iter().find(|(k, _, _)| *k == kid));
    match e {
        TokenError::UnknownKey => kid.is_some() && held.is_none(),
        TokenError::WrongAlgorithm => held
            .zip(header)
            .is_some_and(|((_, alg, _), h)| *alg != h.alg),
        e => deliberate(e),
    }
}

/// The `alg` of a token's header, if it has one.
fn header_alg(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    Some(header["alg"].as_str()?.to_owned())
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

/// The claims the requirements of flag `0x80` read, as serde_json reads them. The others are
/// skipped: the verifier accepts any JSON in them, some of which a `serde_json::Value` cannot
/// hold (`1e400`, a lone surrogate, deep nesting).
#[derive(Debug, serde::Deserialize)]
struct Required {
    scope: Option<serde_json::Value>,
    roles: Option<serde_json::Value>,
}

/// Whether claims read by serde_json carry scope `read` among the space-separated tokens of a
/// `scope` string (RFC 6749 section 3.3) and role `admin` in a `roles` array of strings only (RFC
/// 9068 section 2.2.3.1): the verdict of the requirements of flag `0x80`, which read the claims
/// text in place. A value serde_json cannot read (a lone surrogate) satisfies neither.
fn reference_allows(claims: &Required) -> bool {
    let scope = claims
        .scope
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .is_some_and(|scope| scope.split(' ').any(|token| token == "read"));
    let roles = claims
        .roles
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .is_some_and(|roles| {
            roles.iter().all(serde_json::Value::is_string)
                && roles.iter().any(|role| role == "admin")
        });
    scope && roles
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

/// `b64(header).b64(claims).b64(signature)` with the private key `PUBLIC[i]`, by jsonwebtoken.
fn sign_public(i: usize, header: &[u8], claims: &[u8]) -> Vec<u8> {
    use jsonwebtoken::EncodingKey;
    static KEYS: LazyLock<Vec<EncodingKey>> = LazyLock::new(|| {
        vec![
            EncodingKey::from_ec_der(PUBLIC[0].2),
            EncodingKey::from_ed_der(PUBLIC[1].2),
            EncodingKey::from_rsa_der(PUBLIC[2].2),
        ]
    });
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = jsonwebtoken::crypto::sign(token.as_bytes(), &KEYS[i], PUBLIC[i].1).unwrap();
    token.push('.');
    token.push_str(&signature);
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
    let signer = usize::from((flags >> 5) & 0x03);
    let token = match (flags & 0x08 != 0, signer) {
        (true, 0) => {
            let (header, claims) = split_at_first(token_part, 0);
            sign(header, claims)
        }
        (true, i) => {
            let (header, claims) = split_at_first(token_part, 0);
            sign_public(i - 1, header, claims)
        }
        (false, _) => token_part.to_vec(),
    };
    let manager = if flags & 0x10 != 0 {
        &*STRICT
    } else {
        &*DEFAULT
    };
    let grpc = flags & 0x04 != 0;

    // The public-key verifier takes the tokens its keys signed; the manager the others.
    let verifier = match signer {
        0 => manager.verifier(),
        _ => PUBLIC_AT_NOW.clone(),
    };

    // The verifier alone, on arbitrary UTF-8.
    let text = String::from_utf8_lossy(&token);
    let decoded = verifier.decode_token(&text);
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
    // The same for the public keys, on every input.
    match (
        PUBLIC_SYSTEM.decode_token(&text),
        reference_public_accepts(&text),
    ) {
        (Ok(_), reference) => assert!(
            reference || header_alg(&text).as_deref() == Some("Ed25519"),
            "public keys: accepted what jsonwebtoken refuses"
        ),
        (Err(e), true) => assert!(
            deliberate_public(e, &text),
            "public keys: refused ({e:?}) what jsonwebtoken accepts"
        ),
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
    let request = || {
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
        req
    };
    let inner = service_fn(|req: Request<()>| {
        let user = req.extensions().get::<String>().cloned();
        assert!(
            user.is_some(),
            "the inner service was called without a user"
        );
        ready(Ok::<_, Infallible>(Response::new(String::from("inner"))))
    });
    // With exactly one `Bearer <token>` header, the layer lets the request in exactly when the
    // verifier accepts the token (asserted below): then these are its claims.
    let one_bearer = flags & 0x03 == 1
        && std::str::from_utf8(&token).is_ok()
        && !token.starts_with(b" ")
        && HeaderValue::from_bytes(&bearer).is_ok();
    // A refresh token verifies, but a default layer takes access tokens only.
    let known = decoded
        .as_ref()
        .is_ok_and(|c| c.user_id() != "gone" && c.kind() == TokenKind::Access);

    if flags & 0x80 != 0 {
        let required = RequireLayer::scopes(["read"])
            .unwrap()
            .layer(RequireLayer::roles(["admin"]).layer(inner));
        let svc = LoginLayer::new(verifier.clone(), Store).layer(required);
        let res = now(svc.oneshot(request())).unwrap();
        let grpc_status = res.headers().get("grpc-status").map(HeaderValue::as_bytes);
        if one_bearer && known {
            let claims = decoded.as_ref().unwrap().extra::<Required>();
            let allowed = claims.as_ref().is_ok_and(reference_allows);
            match grpc {
                // gRPC PERMISSION_DENIED (7) for a refusal.
                true => assert_eq!(grpc_status, (!allowed).then_some(b"7".as_slice())),
                false => assert_eq!(
                    res.status(),
                    match allowed {
                        true => StatusCode::OK,
                        false => StatusCode::FORBIDDEN,
                    },
                    "the requirements and serde_json disagree on {claims:?}"
                ),
            }
        } else if grpc {
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                [None, Some(b"16".as_slice()), Some(b"7".as_slice())].contains(&grpc_status),
                "{grpc_status:?}"
            );
        } else {
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::BAD_REQUEST,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN
                ]
                .contains(&res.status()),
                "{}",
                res.status()
            );
        }
    }

    let svc = LoginLayer::new(verifier, Store).layer(inner);
    let res = now(svc.oneshot(request())).unwrap();

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
    if one_bearer {
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

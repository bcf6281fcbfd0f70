//! Hostile tokens and keys against the public-key verifier (issue 23): algorithm confusion, DER
//! and malleable signatures, wrong curves and points, non-canonical Ed25519 encodings, `kid`s
//! that name a key of another algorithm, junk and oversized JWK Sets; and the RFC examples
//! (RFC 7515 appendix A.3, RFC 8037 appendix A) as vectors. Each table row names the RFC rule it
//! checks where there is one.

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use support::{NOW, SECRET, b64, mac};
use tower::{Layer as _, ServiceExt as _};
use tower_login_manager::{
    Algorithm, ConfigError, JwkSet, LoginLayer, LoginManager, SigningKey, TokenError,
    TokenVerifier, VerifyingKey,
};

/// RFC 8037 appendix A.1: the Ed25519 private key of the RFC's examples.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// The order of P-256's group, big-endian (SEC 2 section 2.4.2).
const P256_N: [u8; 32] = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
/// P-256's field prime, big-endian.
const P256_P: [u8; 32] = hex32("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
/// The order of Ed25519's prime subgroup, little-endian (RFC 8032 section 5.1).
const ED25519_L: [u8; 32] = {
    let mut le = hex32("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
    let mut i = 0;
    while i < 16 {
        let t = le[i];
        le[i] = le[31 - i];
        le[31 - i] = t;
        i += 1;
    }
    le
};

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let s = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// `a + b` (or `a - b`) of 32-byte integers, big-endian, the carry dropped.
fn add_be(a: &[u8; 32], b: &[u8; 32], subtract: bool) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0i16;
    for i in (0..32).rev() {
        let v = if subtract {
            i16::from(a[i]) - i16::from(b[i]) + carry
        } else {
            i16::from(a[i]) + i16::from(b[i]) + carry
        };
        out[i] = v.rem_euclid(256) as u8;
        carry = v.div_euclid(256);
    }
    out
}

fn le_add(a: &[u8], b: &[u8; 32]) -> [u8; 32] {
    let rev = |x: &[u8]| -> [u8; 32] {
        let mut r: [u8; 32] = x.try_into().unwrap();
        r.reverse();
        r
    };
    rev(&add_be(&rev(a), &rev(b), false))
}

/// The test's keys: an ES256 key (from PKCS#8 PEM), the RFC 8037 Ed25519 key (from its JWK) and
/// Wycheproof's first RSA 2048 key (public only, from its JWK), with the raw halves the tests
/// sign with by hand.
struct Keys {
    es: SigningKey,
    es_raw: p256::ecdsa::SigningKey,
    ed: SigningKey,
    ed_raw: ed25519_dalek::SigningKey,
    rsa: VerifyingKey,
    rsa_pem: String,
    rsa_der: Vec<u8>,
}

fn keys() -> Keys {
    use p256::pkcs8::EncodePrivateKey as _;
    let es_raw = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let pem = es_raw.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let es = SigningKey::from_pem(&pem).unwrap().with_kid("es");

    let d: [u8; 32] = URL_SAFE_NO_PAD
        .decode(RFC8037_D)
        .unwrap()
        .try_into()
        .unwrap();
    let ed_raw = ed25519_dalek::SigningKey::from_bytes(&d);
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X, "kid": "ed"});
    let ed = SigningKey::from_jwk(&jwk.to_string()).unwrap();

    let data: Value = serde_json::from_str(include_str!(
        "data/wycheproof/rsa_signature_2048_sha256_test.json"
    ))
    .unwrap();
    let group = &data["testGroups"][0];
    let rsa = VerifyingKey::from_jwk(&group["keyJwk"].to_string())
        .unwrap()
        .with_kid("rsa");
    let rsa_der = hex(group["publicKeyDer"].as_str().unwrap());
    Keys {
        es,
        es_raw,
        ed,
        ed_raw,
        rsa,
        rsa_pem: group["publicKeyPem"].as_str().unwrap().to_owned(),
        rsa_der,
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The claims of a good token at [`NOW`].
fn claims() -> String {
    format!(r#"{{"exp":{},"iat":{NOW},"user_id":"42"}}"#, NOW + 600)
}

/// A compact JWS of this header and these claims, its signature `sign(signing input)`.
fn jws(header: Value, claims: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn es256(key: &p256::ecdsa::SigningKey) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    |input| {
        use signature::Signer as _;
        let sig: p256::ecdsa::Signature = key.sign(input);
        sig.to_bytes().to_vec()
    }
}

fn ed25519(key: &ed25519_dalek::SigningKey) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    |input| {
        use signature::Signer as _;
        key.sign(input).to_bytes().to_vec()
    }
}

/// An HS256 MAC under `key`: the classic confusion, a public key's bytes taken as a secret.
fn hs256_with(key: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    |input| {
        URL_SAFE_NO_PAD
            .decode(mac(key, std::str::from_utf8(input).unwrap()))
            .unwrap()
    }
}

/// Public key bytes an attacker might MAC with: SPKI PEM text, its DER, the JWK's raw `x` and
/// the JWK text.
fn public_key_bytes(k: &Keys) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    // One trait (the `pkcs8` crate's) for both curves.
    use ed25519_dalek::pkcs8::EncodePublicKey as _;
    let lf = p256::pkcs8::LineEnding::LF;
    let x = |jwk: &Value| URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let (es, ed) = (k.es_raw.verifying_key(), k.ed_raw.verifying_key());
    let (es_pem, es_der) = (es.to_public_key_pem(lf), es.to_public_key_der());
    let (ed_pem, ed_der) = (ed.to_public_key_pem(lf), ed.to_public_key_der());
    let (es_jwk, ed_jwk) = (k.es.verifying_key().to_jwk(), k.ed.verifying_key().to_jwk());
    vec![
        ("es", "ES256 PEM", es_pem.unwrap().into_bytes()),
        ("es", "ES256 DER", es_der.unwrap().into_vec()),
        ("es", "ES256 JWK x", x(&es_jwk)),
        ("es", "ES256 JWK", es_jwk.to_string().into_bytes()),
        ("ed", "Ed25519 PEM", ed_pem.unwrap().into_bytes()),
        ("ed", "Ed25519 DER", ed_der.unwrap().into_vec()),
        ("ed", "Ed25519 JWK x", x(&ed_jwk)),
        ("rsa", "RSA PEM", k.rsa_pem.clone().into_bytes()),
        ("rsa", "RSA DER", k.rsa_der.clone()),
        ("rsa", "RSA JWK", k.rsa.to_jwk().to_string().into_bytes()),
    ]
}

struct Case {
    name: String,
    token: String,
    /// The user id, or why the token is refused.
    want: Result<&'static str, TokenError>,
}

fn case(name: impl Into<String>, token: String, want: Result<&'static str, TokenError>) -> Case {
    Case {
        name: name.into(),
        token,
        want,
    }
}

fn check(verifier: &TokenVerifier, cases: &[Case]) {
    for case in cases {
        let got = verifier.decode_token(&case.token);
        let got = got.as_ref().map(|c| c.user_id()).map_err(|e| *e);
        assert_eq!(got, case.want, "{}", case.name);
    }
}

/// A verifier that holds the three public keys and no secret, time pinned at [`NOW`].
fn verifier(k: &Keys) -> TokenVerifier {
    TokenVerifier::builder()
        .key(k.es.verifying_key())
        .key(k.ed.verifying_key())
        .key(k.rsa.clone())
        .clock(|| NOW)
        .build()
        .unwrap()
}

/// The issuer: the HS256 secret, the ES256 signing key and the Ed25519 key published beside it.
fn manager(k: &Keys) -> LoginManager {
    let manager = LoginManager::builder(SECRET)
        .signing_key(k.es.clone())
        .clock(|| NOW)
        .build()
        .unwrap();
    manager.publish_key(k.ed.clone()).unwrap();
    manager
}

/// RFC 8725 section 3.1 and RFC 7515 section 4.1.1: an HS256 token MACed with a public key's
/// bytes (PEM, DER, JWK `x`, JWK text), with and without the key's `kid`, is refused by a verifier
/// (it holds no secret) and by a manager that holds both a secret and the public key (the MAC is
/// checked with the secret only, never with a public key).
#[test]
fn rfc8725_section3_1_hs256_keyed_with_a_public_key_is_refused() {
    let k = keys();
    let (verifier, manager) = (verifier(&k), manager(&k).verifier());
    let mut on_verifier = Vec::new();
    let mut on_manager = Vec::new();
    for (kid, what, bytes) in public_key_bytes(&k) {
        for header in [
            json!({"alg": "HS256", "kid": kid}),
            json!({"alg": "HS256", "typ": "JWT"}),
        ] {
            let token = jws(header.clone(), &claims(), hs256_with(&bytes));
            let name = format!("HS256 keyed with the {what}, header {header}");
            on_verifier.push(case(&name, token.clone(), Err(TokenError::WrongAlgorithm)));
            on_manager.push(case(name, token, Err(TokenError::BadSignature)));
        }
    }
    assert_eq!(on_verifier.len(), 20);
    check(&verifier, &on_verifier);
    check(&manager, &on_manager);
}

/// Tokens of every shape a public-key verifier meets, against one that holds an ES256, an
/// Ed25519 and an RSA key and no secret.
#[test]
fn hostile_tokens_against_a_public_key_verifier() {
    let k = keys();
    let es = json!({"alg": "ES256", "typ": "JWT", "kid": "es"});
    let ed = json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed"});
    let by_es = |header: Value| jws(header, &claims(), es256(&k.es_raw));
    let by_ed = |header: Value| jws(header, &claims(), ed25519(&k.ed_raw));
    let by_bytes =
        |header: Value, byte: u8, len: usize| jws(header, &claims(), |_| vec![byte; len]);
    let good_es = jws(es.clone(), &claims(), es256(&k.es_raw));
    let es_sig = |token: &str| {
        URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap()
    };
    let with_sig = |token: &str, sig: &[u8]| {
        let (input, _) = token.rsplit_once('.').unwrap();
        format!("{input}.{}", b64(sig))
    };
    let sig = es_sig(&good_es);
    let (r, s) = sig.split_at(32);
    let s: [u8; 32] = s.try_into().unwrap();
    // The other one of `s` and `n - s`: both verify (ECDSA is malleable).
    let other_s = add_be(&P256_N, &s, true);
    let good_ed = jws(ed.clone(), &claims(), ed25519(&k.ed_raw));
    let ed_sig = es_sig(&good_ed);
    let manager = manager(&k);

    let wrong_alg = Err(TokenError::WrongAlgorithm);
    let bad_sig = Err(TokenError::BadSignature);
    let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
    let s_plus_l = [&ed_sig[..32], &le_add(&ed_sig[32..], &ED25519_L)[..]].concat();
    let other_key = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
    let embedded = SigningKey::generate_es256().verifying_key().to_jwk();
    let none_unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims().as_bytes())
    );
    let hs256_no_secret = jws(
        json!({"alg": "HS256", "kid": "es"}),
        &claims(),
        hs256_with(SECRET.as_bytes()),
    );
    let expired = format!(r#"{{"exp":{},"user_id":"42"}}"#, NOW - 1);
    let hs256_manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();

    #[rustfmt::skip]
    let cases = [
        case("ES256, kid es", good_es.clone(), Ok("42")),
        case("EdDSA, kid ed", good_ed.clone(), Ok("42")),
        case("alg Ed25519 (RFC 9864), kid ed", by_ed(json!({"alg": "Ed25519", "kid": "ed"})), Ok("42")),
        case("ES256 without a kid: the one ES256 key (RFC 7515 section 4.1.4: kid is optional)", by_es(json!({"alg": "ES256"})), Ok("42")),
        case("EdDSA without a kid", by_ed(json!({"alg": "EdDSA"})), Ok("42")),
        case("ES256 signed by the manager", manager.issue_token("42", Duration::from_secs(60)).unwrap(), Ok("42")),
        // RFC 7518 section 3.4 asks for no low s: both s and n - s verify. A token is named by
        // its jti, never by its signature bytes, so the malleability gives nothing away.
        case("ES256 with s and n - s swapped", with_sig(&good_es, &[r, &other_s[..]].concat()), Ok("42")),
        case("ES256 with s = n (SEC 1 section 4.1.4: 0 < s < n)", with_sig(&good_es, &[r, &P256_N[..]].concat()), bad_sig),
        case("ES256 with a DER signature (RFC 7518 section 3.4: r || s, never DER)", with_sig(&good_es, der.as_bytes()), bad_sig),
        case("ES256 signature of 63 bytes", with_sig(&good_es, &sig[..63]), bad_sig),
        case("ES256 signature of 65 bytes", with_sig(&good_es, &[&sig[..], &[0]].concat()), bad_sig),
        case("ES256 signature of 0 bytes", with_sig(&good_es, &[]), bad_sig),
        case("ES256 signature r = s = 0", with_sig(&good_es, &[0; 64]), bad_sig),
        case("ES256 signed by another key under kid es", jws(es.clone(), &claims(), es256(&other_key)), bad_sig),
        case("EdDSA signature of 63 bytes", with_sig(&good_ed, &ed_sig[..63]), bad_sig),
        case("EdDSA signature of 128 bytes", with_sig(&good_ed, &[&ed_sig[..], &ed_sig[..]].concat()), bad_sig),
        case("EdDSA with S + L, non-canonical (RFC 8032 section 5.1.7: S < L)", with_sig(&good_ed, &s_plus_l), bad_sig),
        case("EdDSA with R the identity, of small order (verify_strict)", with_sig(&good_ed, &[&[1u8][..], &[0; 63]].concat()), bad_sig),
        case("alg none, kid es (RFC 8725 section 3.1)", by_bytes(json!({"alg": "none", "kid": "es"}), 0, 0), wrong_alg),
        case("alg none, empty signature segment", none_unsigned, wrong_alg),
        case("alg NONE", by_bytes(json!({"alg": "NONE"}), 0, 0), wrong_alg),
        case("alg es256 (RFC 7515 section 4.1.1: case-sensitive)", by_es(json!({"alg": "es256", "kid": "es"})), wrong_alg),
        case("kid es, alg EdDSA, signed by the Ed25519 key (RFC 8725 section 3.1)", by_ed(json!({"alg": "EdDSA", "kid": "es"})), wrong_alg),
        case("kid es, alg Ed25519, signed by the Ed25519 key", by_ed(json!({"alg": "Ed25519", "kid": "es"})), wrong_alg),
        case("kid es, alg RS256", by_bytes(json!({"alg": "RS256", "kid": "es"}), 0, 256), wrong_alg),
        case("kid es, alg HS256 (the verifier holds no secret)", hs256_no_secret, wrong_alg),
        case("kid es, alg ES384", by_bytes(json!({"alg": "ES384", "kid": "es"}), 0, 96), wrong_alg),
        case("kid es, alg PS256", by_bytes(json!({"alg": "PS256", "kid": "es"}), 0, 256), wrong_alg),
        case("kid ed (an Ed25519 key), alg ES256, signed by the ES256 key", by_es(json!({"alg": "ES256", "kid": "ed"})), wrong_alg),
        case("kid rsa (an RSA key), alg ES256, signed by the ES256 key", by_es(json!({"alg": "ES256", "kid": "rsa"})), wrong_alg),
        case("RS256 under kid rsa, a signature of 255 bytes", by_bytes(json!({"alg": "RS256", "kid": "rsa"}), 1, 255), bad_sig),
        case("RS256 under kid rsa, a forged signature", by_bytes(json!({"alg": "RS256", "kid": "rsa"}), 1, 256), bad_sig),
        case("an unknown kid", by_es(json!({"alg": "ES256", "kid": "nobody"})), Err(TokenError::UnknownKey)),
        case("a kid of the empty string", by_es(json!({"alg": "ES256", "kid": ""})), Err(TokenError::UnknownKey)),
        case("a kid that is a number (RFC 7515 section 4.1.4: a string)", by_es(json!({"alg": "ES256", "kid": 1})), Err(TokenError::Malformed)),
        case("an embedded jwk is ignored: the kid decides", by_es(json!({"alg": "ES256", "kid": "nobody", "jwk": embedded})), Err(TokenError::UnknownKey)),
        case("the manager's refresh token (HS256, never leaves the issuer)", manager.issue_token_pair("42").unwrap().refresh_token, wrong_alg),
        case("an HS256 token of the manager's secret", hs256_manager.issue_token("42", Duration::from_secs(60)).unwrap(), wrong_alg),
        case("ES256, expired: the claim rules hold for every algorithm", jws(es.clone(), &expired, es256(&k.es_raw)), Err(TokenError::Expired)),
    ];
    check(&verifier(&k), &cases);
}

/// A `kid` that names no key is `UnknownKey`, and the layer answers it as it answers any invalid
/// token: 401 `invalid_token`, the same body and challenge as a bad signature; a good token
/// reaches the inner service.
#[tokio::test]
async fn an_unknown_kid_is_a_plain_401_invalid_token_through_the_layer() {
    let k = keys();
    let layer = LoginLayer::new(verifier(&k), support::in_memory::loader("42"));
    let send = |token: String| {
        let svc = layer.layer(support::in_memory::noop());
        async move {
            let req = Request::get("/")
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(())
                .unwrap();
            support::read(svc.oneshot(req).await.unwrap()).await
        }
    };
    let es = json!({"alg": "ES256", "kid": "es"});
    let good = jws(es.clone(), &claims(), es256(&k.es_raw));
    assert_eq!(send(good.clone()).await.status, StatusCode::OK);

    let unknown = jws(
        json!({"alg": "ES256", "kid": "nobody"}),
        &claims(),
        es256(&k.es_raw),
    );
    assert_eq!(
        verifier(&k).decode_token(&unknown).unwrap_err(),
        TokenError::UnknownKey
    );
    let forged = format!("{}.{}", good.rsplit_once('.').unwrap().0, b64(&[7; 64]));
    assert_eq!(
        verifier(&k).decode_token(&forged).unwrap_err(),
        TokenError::BadSignature
    );

    let unknown = send(unknown).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let challenge = unknown.headers[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(unknown, send(forged).await);
}

/// Keys a verifier must not load, each with the RFC rule it breaks. The error's text never
/// holds the key material it was given.
#[test]
fn hostile_jwks_are_refused_and_their_errors_hold_no_key_material() {
    let k = keys();
    let es = k.es.verifying_key().to_jwk();
    let ed = k.ed.verifying_key().to_jwk();
    let with = |jwk: &Value, name: &str, value: Value| {
        let mut jwk = jwk.clone();
        jwk[name] = value;
        jwk
    };
    let without = |jwk: &Value, name: &str| {
        let mut jwk = jwk.clone();
        jwk.as_object_mut().unwrap().remove(name);
        jwk
    };
    let x = URL_SAFE_NO_PAD.decode(es["x"].as_str().unwrap()).unwrap();
    let mut off_curve_y = URL_SAFE_NO_PAD.decode(es["y"].as_str().unwrap()).unwrap();
    off_curve_y[31] ^= 1;
    let mut off_curve_x = x.clone();
    off_curve_x[31] ^= 1;
    // x = 5 is on P-256 with this y; x + p is the same number modulo p, as 32 bytes.
    let y5 = hex32("459243b9aa581806fe913bce99817ade11ca503c64d9a3c533415c083248fbcc");
    let mut five = [0u8; 32];
    five[31] = 5;
    let ed_y = |y: u8, sign: bool| {
        let mut bytes = [0u8; 32];
        bytes[0] = y;
        if sign {
            bytes[31] |= 0x80;
        }
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&bytes)})
    };
    // y = p + k in little-endian, for k < 19: a non-canonical encoding of y = k.
    let ed_y_plus_p = |k: u8| {
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xed + k;
        bytes[31] = 0x7f;
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&bytes)})
    };
    let d = json!(RFC8037_D);
    let p384 = json!({"kty": "EC", "crv": "P-384",
        "x": "m2Wh6wMTqdGjFmMwu5VRXrbmaRUiTZmgXuvbW4XB3sK1CUlKlhGlm6kqM6cEKpey",
        "y": "ZH3Z9g03G5YwiYGcE6T7d3ujJaAUDjGZvrMxZbSMdjcThYKcnFaL3pDVIqEdRoxO"});

    let cases: Vec<(&str, Value)> = vec![
        (
            "EC on P-384 (RFC 7518 section 6.2.1.1: P-256 is ES256's curve)",
            p384,
        ),
        (
            "EC with an x off the curve (SEC 1 section 3.2.2.1)",
            with(&es, "x", json!(b64(&off_curve_x))),
        ),
        (
            "EC with a y off the curve",
            with(&es, "y", json!(b64(&off_curve_y))),
        ),
        (
            "EC with x = 5 + p, not reduced (RFC 7518 section 6.2.1.2, SEC 1 section 2.3.5)",
            json!({"kty": "EC", "crv": "P-256", "x": b64(&add_be(&five, &P256_P, false)), "y": b64(&y5)}),
        ),
        ("EC with x of 31 bytes", with(&es, "x", json!(b64(&x[1..])))),
        (
            "EC with x of 33 bytes",
            with(&es, "x", json!(b64(&[&[0u8][..], &x].concat()))),
        ),
        ("EC without y", without(&es, "y")),
        (
            "EC with crv secp256k1",
            with(&es, "crv", json!("secp256k1")),
        ),
        (
            "EC with alg EdDSA (RFC 7517 section 4.4)",
            with(&es, "alg", json!("EdDSA")),
        ),
        ("EC with alg ES384", with(&es, "alg", json!("ES384"))),
        ("EC with alg HS256", with(&es, "alg", json!("HS256"))),
        (
            "EC with use enc (RFC 7517 section 4.2)",
            with(&es, "use", json!("enc")),
        ),
        (
            "EC with key_ops [sign] (RFC 7517 section 4.3)",
            with(&es, "key_ops", json!(["sign"])),
        ),
        (
            "EC with key_ops a string",
            with(&es, "key_ops", json!("verify")),
        ),
        (
            "EC with d (a private key in a public set)",
            with(
                &es,
                "d",
                json!("jpsQnnGQmL-YBIffH1136cLyQ6O6RZZ3gN3Gkz5aNJI"),
            ),
        ),
        (
            "EC with x in padded base64url (RFC 7515 section 2)",
            with(&es, "x", json!(format!("{}=", es["x"].as_str().unwrap()))),
        ),
        ("EC with kid a number", with(&es, "kid", json!(7))),
        (
            "OKP with d (a private key in a public set)",
            with(&ed, "d", d),
        ),
        (
            "OKP on X25519 (an ECDH key, RFC 8037 section 2)",
            with(&ed, "crv", json!("X25519")),
        ),
        ("OKP on Ed448", with(&ed, "crv", json!("Ed448"))),
        ("OKP with alg ES256", with(&ed, "alg", json!("ES256"))),
        (
            "OKP with x of 31 bytes",
            with(&ed, "x", json!(b64(&[1; 31]))),
        ),
        (
            "OKP with x the identity, of small order (RFC 8032 section 5.1.7 strict)",
            ed_y(1, false),
        ),
        ("OKP with x the point (0, -1), of order 2", {
            // y = p - 1, little-endian.
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xec;
            bytes[31] = 0x7f;
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&bytes)})
        }),
        ("OKP with x the point (x, 0), of order 4", ed_y(0, false)),
        (
            "OKP with x = -0 (RFC 8032 section 5.1.3: x = 0 with its sign bit set)",
            ed_y(1, true),
        ),
        (
            "OKP with y = p + 1, a non-canonical identity (RFC 8032 section 5.1.3: y < p)",
            ed_y_plus_p(1),
        ),
        (
            "OKP with y = p + 3, a non-canonical encoding of a point of large order (RFC 8032 section 5.1.3)",
            ed_y_plus_p(3),
        ),
        (
            "OKP with y = p + 0, a non-canonical encoding of a point of order 4",
            ed_y_plus_p(0),
        ),
        (
            "RSA of 1024 bits (RFC 7518 section 3.3)",
            wycheproof_jwk("keysize_too_small"),
        ),
        (
            "RSA of the ROCA family (CVE-2017-15361: factored from the public key)",
            wycheproof_jwk("jws_rsa_roca_key"),
        ),
        ("RSA with e = 1", with(&k.rsa.to_jwk(), "e", json!("AQ"))),
        (
            "RSA with n with a leading zero (RFC 7518 section 6.3.1.1)",
            {
                let n = URL_SAFE_NO_PAD
                    .decode(k.rsa.to_jwk()["n"].as_str().unwrap())
                    .unwrap();
                with(&k.rsa.to_jwk(), "n", json!(b64(&[&[0u8][..], &n].concat())))
            },
        ),
        (
            "RSA with alg PS256",
            with(&k.rsa.to_jwk(), "alg", json!("PS256")),
        ),
        (
            "RSA with members of EC (kty RSA, x and y)",
            with(&without(&es, "alg"), "kty", json!("RSA")),
        ),
        (
            "oct (a symmetric key)",
            json!({"kty": "oct", "k": b64(SECRET.as_bytes())}),
        ),
        ("no kty", without(&es, "kty")),
        ("not an object", json!([es])),
    ];
    let mut pems = 0;
    for (name, jwk) in &cases {
        let text = jwk.to_string();
        let err = VerifyingKey::from_jwk(&text).expect_err(name);
        assert!(matches!(err, ConfigError::InvalidKey(_)), "{name}: {err:?}");
        // The JWK in a set: skipped, the set's other key kept.
        let set = format!(r#"{{"keys":[{text},{es}]}}"#);
        let kept: Vec<String> = JwkSet::from_json(&set)
            .unwrap()
            .keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        assert_eq!(kept, ["es"], "{name}");
        assert_no_key_material(&format!("{err} {err:?}"), &text, name);
        // An Ed25519 point refused in a JWK is refused in SPKI PEM too.
        let x = jwk["x"]
            .as_str()
            .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok());
        let bare_okp = jwk.as_object().is_some_and(|m| m.len() == 3) && jwk["crv"] == "Ed25519";
        if let (true, Some(x)) = (bare_okp, x.filter(|x| x.len() == 32)) {
            let der = [&hex("302a300506032b6570032100")[..], &x].concat();
            let pem = format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                STANDARD.encode(der)
            );
            assert!(VerifyingKey::from_pem(&pem).is_err(), "{name}, as PEM");
            pems += 1;
        }
    }
    assert_eq!(pems, 7, "the Ed25519 points also tried as PEM");
    let good = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(
            [
                &hex("302a300506032b6570032100")[..],
                &URL_SAFE_NO_PAD.decode(RFC8037_X).unwrap()
            ]
            .concat()
        )
    );
    assert_eq!(
        VerifyingKey::from_pem(&good).unwrap(),
        k.ed.verifying_key()
            .with_kid(VerifyingKey::from_pem(&good).unwrap().kid())
    );
    // The good keys load, so the refusals above are the changes' doing.
    for good in [&es, &ed, &k.rsa.to_jwk()] {
        VerifyingKey::from_jwk(&good.to_string()).unwrap();
    }
}

/// The first public key of the Wycheproof JWK group `comment`.
fn wycheproof_jwk(comment: &str) -> Value {
    let data: Value =
        serde_json::from_str(include_str!("data/wycheproof/json_web_key_test.json")).unwrap();
    let groups = data["testGroups"].as_array().unwrap();
    let group = groups.iter().find(|g| g["comment"] == comment).unwrap();
    group["public"]["keys"][0].clone()
}

/// No base64url or base64 member of `jwk` over 8 characters, nor any 16-character piece of it,
/// shows in `text`.
fn assert_no_key_material(text: &str, key: &str, name: &str) {
    for piece in key.split(|c: char| {
        !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '+' || c == '/')
    }) {
        if piece.len() < 16 {
            continue;
        }
        for window in piece.as_bytes().windows(16) {
            let window = std::str::from_utf8(window).unwrap();
            assert!(!text.contains(window), "{name}: key material in {text:?}");
        }
    }
}

/// RFC 7517 section 5 read leniently: junk entries are skipped, the good key kept; keys that
/// share a `kid` are all dropped; a text that is not a set, or is over the size limit, is an
/// error, fast and without a panic.
#[test]
fn jwk_sets_with_junk_duplicates_and_ten_megabytes() {
    let k = keys();
    let es = k.es.verifying_key().to_jwk();
    let ed = k.ed.verifying_key().to_jwk();
    let junk = format!(
        r#"{{"keys":[1,"x",null,[],{{}},{{"kty":"oct","k":"c2VjcmV0"}},{{"kty":"EC"}},{use_enc},{wrong_alg},{{"kty":"OKP","crv":"X25519","x":"{x}"}},{es},{{"kty":"RSA","n":"AQAB","e":"AQAB"}}],"extra":true}}"#,
        use_enc =
            json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "use": "enc", "kid": "e1"}),
        wrong_alg =
            json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "alg": "RS256", "kid": "e2"}),
        x = RFC8037_X,
    );
    let set = JwkSet::from_json(&junk).unwrap();
    let kids: Vec<&str> = set.keys().iter().map(VerifyingKey::kid).collect();
    assert_eq!(kids, ["es"]);

    // RFC 7517 section 4.5: a kid names one key; two keys under one kid name neither.
    let other = SigningKey::generate_es256()
        .with_kid("es")
        .verifying_key()
        .to_jwk();
    let dup = format!(r#"{{"keys":[{es},{ed},{other}]}}"#);
    let set = JwkSet::from_json(&dup).unwrap();
    let kids: Vec<&str> = set.keys().iter().map(VerifyingKey::kid).collect();
    assert_eq!(kids, ["ed"]);
    let verifier = TokenVerifier::builder()
        .jwks(set)
        .clock(|| NOW)
        .build()
        .unwrap();
    let token = jws(
        json!({"alg": "ES256", "kid": "es"}),
        &claims(),
        es256(&k.es_raw),
    );
    assert_eq!(
        verifier.decode_token(&token).unwrap_err(),
        TokenError::UnknownKey
    );
    // The same two keys given to a builder one by one are a configuration error.
    let twice = TokenVerifier::builder()
        .key(k.es.verifying_key())
        .key(VerifyingKey::from_jwk(&other.to_string()).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(twice, ConfigError::InvalidKey("two keys share a key id"));
    let again = JwkSet::from_keys([
        k.es.verifying_key(),
        VerifyingKey::from_jwk(&other.to_string()).unwrap(),
    ]);
    assert!(again.keys().is_empty());

    let not_sets = [
        "".to_owned(),
        "[]".to_owned(),
        r#"{"keys":{}}"#.to_owned(),
        r#"{"keys":null}"#.to_owned(),
        r#"{"kty":"EC"}"#.to_owned(),
        format!(r#"{{"keys":[{es}]}} trailing"#),
        // Nested deeper than serde_json's recursion limit: an error, not a stack overflow.
        format!(
            r#"{{"keys":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    ];
    for text in &not_sets {
        assert!(
            JwkSet::from_json(text).is_err(),
            "{}",
            &text[..text.len().min(40)]
        );
    }

    // 10 MB of valid keys: refused on its length, before parsing.
    let mut big = String::from(r#"{"keys":["#);
    while big.len() < 10_000_000 {
        big.push_str(&es.to_string());
        big.push(',');
    }
    big.push_str(&es.to_string());
    big.push_str("]}");
    let started = Instant::now();
    let err = JwkSet::from_json(&big).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        err,
        ConfigError::InvalidKey("a JWK Set is larger than 256 KiB")
    );
}

/// Key material never shows in `Debug` nor in the published JWK Set: not a private `d`, not a
/// PEM body, not the HS256 secret.
#[test]
fn debug_output_holds_no_key_material() {
    use p256::pkcs8::EncodePrivateKey as _;
    let k = keys();
    let pem = k.es_raw.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let es_d = b64(&k.es_raw.to_bytes());
    let manager = manager(&k);
    let verifier = verifier(&k);
    let builder = LoginManager::builder(SECRET).signing_key(k.es.clone());
    let shown = [
        format!("{:?}", k.es),
        format!("{:#?}", k.ed),
        format!("{:?}", k.es.verifying_key()),
        format!("{verifier:?}"),
        format!("{:?}", manager.verifier()),
        format!("{manager:?}"),
        format!("{builder:?}"),
        format!("{:?}", manager.jwks()),
        // What the issuer publishes: public halves only, never `d` nor the HS256 secret.
        manager.jwks().to_json(),
        format!("{:?}", TokenVerifier::builder().key(k.rsa.clone())),
    ];
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for text in &shown {
        for secret in [
            &es_d[..],
            RFC8037_D,
            SECRET,
            &body[..],
            &STANDARD.encode(k.es_raw.to_bytes()),
        ] {
            assert_no_key_material(text, secret, text);
        }
    }
}

/// RFC 8037 appendix A: the Ed25519 key's RFC 7638 thumbprint (A.3), and the JWS over
/// "Example of Ed25519 signing" (A.4, verified as in A.5): its signature verifies, and as its
/// payload is no claims set, it is refused at the claims; one bit off, at the signature.
#[test]
fn rfc8037_appendix_a_ed25519_thumbprint_and_signature() {
    let public = json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X});
    let key = VerifyingKey::from_jwk(&public.to_string()).unwrap();
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_eq!(key.algorithm(), Algorithm::EdDSA);
    let private = json!({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X});
    let signing = SigningKey::from_jwk(&private.to_string()).unwrap();
    assert_eq!(signing.verifying_key(), key);

    let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
               hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let verifier = TokenVerifier::builder().key(key).build().unwrap();
    assert_eq!(verifier.decode_token(jws), Err(TokenError::InvalidClaims));
    let off = jws.replace("hgyY", "hgyZ");
    assert_eq!(verifier.decode_token(&off), Err(TokenError::BadSignature));
    // The header names no kid: the EdDSA keys are tried; an ES256-only verifier has none.
    let es_only = TokenVerifier::builder()
        .key(SigningKey::generate_es256().verifying_key())
        .build()
        .unwrap();
    assert_eq!(es_only.decode_token(jws), Err(TokenError::WrongAlgorithm));
}

/// RFC 7515 appendix A.3: the ES256 example verifies (its `s` is the high one of `s` and `n - s`).
/// Its claims, `{"iss":"joe","exp":1300819380,"http://example.com/is_root":true}`, carry no user
/// id, so the token is refused at the claims even before its `exp` (2011-03-22).
#[test]
fn rfc7515_appendix_a3_es256_example() {
    let public = json!({"kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let key = VerifyingKey::from_jwk(&public.to_string()).unwrap();
    let jws = "eyJhbGciOiJFUzI1NiJ9.\
               eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.\
               DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let sig = URL_SAFE_NO_PAD
        .decode(jws.rsplit('.').next().unwrap())
        .unwrap();
    let s: [u8; 32] = sig[32..].try_into().unwrap();
    assert!(
        s > add_be(&P256_N, &s, true),
        "s is the high one of s and n - s"
    );
    let before_exp = TokenVerifier::builder()
        .key(key.clone())
        .issuer("joe")
        .clock(|| 1_300_819_000)
        .build()
        .unwrap();
    assert_eq!(
        before_exp.decode_token(jws),
        Err(TokenError::MissingClaim("user id"))
    );
    let bad = jws.replace("DtEh", "DtEi");
    assert_eq!(before_exp.decode_token(&bad), Err(TokenError::BadSignature));
    let after_exp = TokenVerifier::builder().key(key).build().unwrap();
    assert_eq!(after_exp.decode_token(jws), Err(TokenError::Expired));
}

/// Rotation in the three steps of issue 23 (`publish_key`, `sign_with`, `retire_key`), with a
/// verifier rebuilt from the published JWK Set (as a fetching service would) after each step: no
/// token is refused while the protocol is followed; a stale set refuses the new key's tokens
/// (why step 1 comes first and verifiers refresh before step 2); a retired key's tokens are
/// refused; the signing key cannot be retired; a published kid cannot be published again.
#[test]
fn rotation_in_three_steps_refuses_no_token_while_the_protocol_is_followed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let now = Arc::new(AtomicU64::new(NOW));
    let clock = {
        let now = now.clone();
        move || now.load(Ordering::SeqCst)
    };
    let old = SigningKey::generate_es256().with_kid("2026-11");
    let next = SigningKey::generate_ed25519().with_kid("2026-12");
    let manager = LoginManager::builder(SECRET)
        .signing_key(old.clone())
        .access_ttl(Duration::from_secs(600))
        .clock(clock.clone())
        .build()
        .unwrap();
    // What a verifying service holds: the published set, as served and read back.
    let fetched = || {
        let set = JwkSet::from_json(&manager.jwks().to_json()).unwrap();
        TokenVerifier::builder()
            .jwks(set)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let kids = |v: &LoginManager| -> Vec<String> {
        v.jwks().keys().iter().map(|k| k.kid().to_owned()).collect()
    };
    // The manager's own verifier, taken once: it follows the rotation without being rebuilt.
    let own = manager.verifier();
    let issue = || manager.issue_token("42", Duration::from_secs(600)).unwrap();
    let all_accept = |verifiers: &[&TokenVerifier], tokens: &[&String], step: &str| {
        for (i, v) in verifiers.iter().enumerate() {
            for (j, t) in tokens.iter().enumerate() {
                let got = v.decode_token(t).map(|c| c.user_id().to_owned());
                assert_eq!(got, Ok("42".to_owned()), "{step}: verifier {i}, token {j}");
            }
        }
    };

    let before = fetched();
    let t_old = issue();
    all_accept(&[&before, &own], &[&t_old], "start");

    // Step 1: publish; tokens are still signed with the old key, which every set holds.
    manager.publish_key(next.clone()).unwrap();
    assert_eq!(kids(&manager), ["2026-11", "2026-12"]);
    let t_old2 = issue();
    let after_publish = fetched();
    all_accept(
        &[&before, &after_publish, &own],
        &[&t_old, &t_old2],
        "step 1",
    );
    let again = manager.publish_key(next.clone()).unwrap_err();
    assert_eq!(
        again,
        ConfigError::InvalidKey("a key with this kid is already published")
    );
    let same_kid = SigningKey::generate_es256().with_kid("2026-11");
    assert!(
        manager.publish_key(same_kid).is_err(),
        "the signing key's kid"
    );
    assert!(manager.retire_key("2026-11").is_err(), "the signing key");
    assert!(manager.sign_with("2027-01").is_err(), "an unpublished kid");

    // Step 2, once verifiers have fetched the set: sign with the new key.
    manager.sign_with("2026-12").unwrap();
    let t_next = issue();
    assert_eq!(header_of(&t_next)["alg"], "EdDSA");
    assert_eq!(header_of(&t_next)["kid"], "2026-12");
    let after_switch = fetched();
    all_accept(
        &[&after_publish, &after_switch, &own],
        &[&t_old, &t_old2, &t_next],
        "step 2",
    );
    // A verifier that skipped step 1's refresh does not know the new key yet.
    assert_eq!(before.decode_token(&t_next), Err(TokenError::UnknownKey));
    let signing = manager.retire_key("2026-12").unwrap_err();
    assert_eq!(
        signing,
        ConfigError::InvalidKey("the key that signs cannot be retired")
    );
    // Refresh tokens stay HS256 and with the issuer throughout.
    let pair = manager.issue_token_pair("42").unwrap();
    assert_eq!(header_of(&pair.refresh_token)["alg"], "HS256");
    assert_eq!(header_of(&pair.access_token)["alg"], "EdDSA");

    // Step 3, after the old key's longest token lifetime: retire it.
    now.fetch_add(601, Ordering::SeqCst);
    let t_next2 = issue();
    manager.retire_key("2026-11").unwrap();
    assert_eq!(kids(&manager), ["2026-12"]);
    let after_retire = fetched();
    all_accept(
        &[&after_publish, &after_switch, &after_retire, &own],
        &[&t_next2],
        "step 3",
    );
    assert!(manager.retire_key("2026-11").is_err(), "already retired");

    // A token of the retired key, still within its own lifetime (an unusually long ttl), is
    // refused by the manager and by the new set: nothing verifies it any more.
    now.fetch_sub(601, Ordering::SeqCst);
    let legacy = LoginManager::builder(SECRET)
        .signing_key(old)
        .clock(clock.clone())
        .build()
        .unwrap()
        .issue_token("42", Duration::from_secs(86_400))
        .unwrap();
    now.fetch_add(601, Ordering::SeqCst);
    assert_eq!(own.decode_token(&legacy), Err(TokenError::UnknownKey));
    assert_eq!(
        after_retire.decode_token(&legacy),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(manager.decode_token(&legacy), Err(TokenError::UnknownKey));
    // A set fetched before the retirement still holds the key: why step 3 waits for the
    // longest lifetime of the old key's tokens.
    assert!(after_switch.decode_token(&legacy).is_ok());
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// PEM keys a verifier or an issuer must not load: other curves (P-384, secp256k1), the ECDH
/// and Ed448 OKP keys, RSA under 2048 bits, other encodings (PKCS#1, SEC1, encrypted PKCS#8),
/// private for public and public for private. The errors hold no key material.
#[test]
fn hostile_pems_are_refused_and_their_errors_hold_no_key_material() {
    use p256::pkcs8::EncodePrivateKey as _;
    let k = keys();
    let our_private = k.es_raw.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let public: [(&str, &str); 10] = [
        (
            "P-384 SPKI (RFC 7518 section 3.4: ES256 is P-256)",
            "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEKDwdc2XOR4jyn46/I07f/q1v6Zf76l/6\nLVjMnfp7HFCLBVJvVbnrsgQPBbSPttDhlHXJkGHkG4i6Uu/bjBaQRxph2GfteZcp\n2cks0B29IlYw2E7eMqePnmRmTNrFEu+M\n-----END PUBLIC KEY-----\n",
        ),
        (
            "secp256k1 SPKI",
            "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEXL3wZG5dtOqjmPNl8up6Dj1Bm34DMOOc\n6Svd7crE+bxq68pAuiVZYKMXjW2GGlTbqBPQuBP957WlCCYoCHJk2g==\n-----END PUBLIC KEY-----\n",
        ),
        (
            "X25519 SPKI (an ECDH key, RFC 8037 section 2)",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAE75P6uryBMf9M1j8nAByGIHRdCeBKCJ+xnTzf3/pe20=\n-----END PUBLIC KEY-----\n",
        ),
        (
            "Ed448 SPKI",
            "-----BEGIN PUBLIC KEY-----\nMEMwBQYDK2VxAzoArQaSIjva2yaCd7zmfR/oZVWs8VNSdfBxJvXTSF2rTWrwt6yX\nbG2NYKDThna6GZaaq9ank6krnXQA\n-----END PUBLIC KEY-----\n",
        ),
        (
            "RSA of 1024 bits (RFC 7518 section 3.3)",
            "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC17hSXWmTsRtRhggdawMw7cCny\ndwZzuZL3rNnlaoWB/Vc+m1eNJ6XbOBnC3hVyXJO2MPxFXndxYgPAUN7uNFMf/Z5+\n9dtRLZm3C1q7ZwcvVenP5dwnbpVkyA63bOPKr1sZ3COJ9Cfc/GTRzokJfiRm7tuE\nkxwP0Jb5rJSplP/bQwIDAQAB\n-----END PUBLIC KEY-----\n",
        ),
        (
            "RSA PKCS#1 (not SPKI)",
            "-----BEGIN RSA PUBLIC KEY-----\nMIGJAoGBALXuFJdaZOxG1GGCB1rAzDtwKfJ3BnO5kves2eVqhYH9Vz6bV40npds4\nGcLeFXJck7Yw/EVed3FiA8BQ3u40Ux/9nn7121EtmbcLWrtnBy9V6c/l3CdulWTI\nDrds48qvWxncI4n0J9z8ZNHOiQl+JGbu24STHA/QlvmslKmU/9tDAgMBAAE=\n-----END RSA PUBLIC KEY-----\n",
        ),
        ("a private key (PKCS#8) given as public", &our_private),
        (
            "an SPKI body under a CERTIFICATE label",
            "-----BEGIN CERTIFICATE-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END CERTIFICATE-----\n",
        ),
        ("an empty text", ""),
        (
            "base64 without a PEM frame",
            "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        ),
    ];
    for (name, pem) in public {
        let err = VerifyingKey::from_pem(pem).expect_err(name);
        assert_no_key_material(&format!("{err} {err:?}"), pem, name);
    }
    let private: [(&str, &str); 4] = [
        (
            "SEC1 EC PRIVATE KEY (not PKCS#8)",
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAHoAoGCCqGSM49\nAwEHoUQDQgAEjlM7b6C/e0YluzBmfAH7YH75+LioD+9bMAYocDGHsqNz6x294DMY\nNm0Gn4Om9ZAAU8c2M8sEGyHFXhqGwfQAtA==\n-----END EC PRIVATE KEY-----\n",
        ),
        (
            "encrypted PKCS#8",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIH0MF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBDWym0NTnesMhK3Mxvv\nGNKXAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQB6GL59Aw8x2NzzJG\n2Ka/EQSBkMvPLMdLfuDZF+k+Xe+CwQ37T/7ZII5DR18HzctCpyn79mVq9FQ4zUdj\n8VOltMZ0NLJ+IyxOSkIBqDvCywg76XXgio9t8mFIZoysZYCEtOS1ZoYfIvi4K2ad\nj8LRNTIy5269eSV49kAxPiWNThAT+XYNw8sCnSk1jIEUekaIJYluAZVU+RYFWSI9\nGOAA3cmr+g==\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ),
        (
            "P-384 PKCS#8",
            "-----BEGIN PRIVATE KEY-----\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAehZANiAAQoPB1zZc5H\niPKfjr8jTt/+rW/pl/vqX/otWMyd+nscUIsFUm9VueuyBA8FtI+20OGUdcmQYeQb\niLpS79uMFpBHGmHYZ+15lynZySzQHb0iVjDYTt4yp4+eZGZM2sUS74w=\n-----END PRIVATE KEY-----\n",
        ),
        ("a public key given as private", public[0].1),
    ];
    for (name, pem) in private {
        let err = SigningKey::from_pem(pem).expect_err(name);
        assert_no_key_material(&format!("{err} {err:?}"), pem, name);
    }
}

/// A private JWK is a signing key only if it is meant to sign: `use`, if present, `sig`, and
/// `key_ops`, if present, holding `sign` (RFC 7517 sections 4.2 and 4.3), as a public JWK must
/// be meant to verify.
#[test]
fn rfc7517_section4_3_a_private_jwk_not_meant_to_sign_is_refused() {
    let private = json!({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X});
    let with = |name: &str, value: Value| {
        let mut jwk = private.clone();
        jwk[name] = value;
        jwk.to_string()
    };
    assert!(SigningKey::from_jwk(&private.to_string()).is_ok());
    assert!(SigningKey::from_jwk(&with("use", json!("sig"))).is_ok());
    assert!(SigningKey::from_jwk(&with("key_ops", json!(["sign", "verify"]))).is_ok());
    for (name, jwk) in [
        ("use enc", with("use", json!("enc"))),
        ("key_ops [verify]", with("key_ops", json!(["verify"]))),
        ("key_ops [encrypt]", with("key_ops", json!(["encrypt"]))),
        ("key_ops a string", with("key_ops", json!("sign"))),
        ("alg ES256 on an Ed25519 key", with("alg", json!("ES256"))),
    ] {
        let err = SigningKey::from_jwk(&jwk).expect_err(name);
        assert_no_key_material(&format!("{err} {err:?}"), &jwk, name);
    }
}

/// RFC 7515 section 4.1.4 makes `kid` optional; with one key of the token's algorithm there is
/// no choice to make, so a token without one verifies. With several, a token without a `kid`
/// is refused as naming no key: trying each in turn would let every forged kid-less token cost a
/// verifier as many signature checks as an identity provider publishes keys of its algorithm.
#[test]
fn rfc7515_section4_1_4_without_a_kid_only_a_lone_key_of_the_algorithm_is_tried() {
    let k = keys();
    let second = p256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap();
    let two = TokenVerifier::builder()
        .key(k.es.verifying_key())
        .key(
            VerifyingKey::from_jwk(&{
                use p256::pkcs8::EncodePrivateKey as _;
                let pem = second.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
                SigningKey::from_pem(&pem)
                    .unwrap()
                    .verifying_key()
                    .to_jwk()
                    .to_string()
            })
            .unwrap()
            .with_kid("es-2"),
        )
        .clock(|| NOW)
        .build()
        .unwrap();
    let one = verifier(&k);
    let no_kid =
        |key: &p256::ecdsa::SigningKey| jws(json!({"alg": "ES256"}), &claims(), es256(key));

    assert_eq!(
        one.decode_token(&no_kid(&k.es_raw))
            .map(|c| c.user_id().to_owned()),
        Ok("42".into())
    );
    for key in [&k.es_raw, &second] {
        assert_eq!(two.decode_token(&no_kid(key)), Err(TokenError::UnknownKey));
    }
    // With their kids, both verify.
    let with_kid = jws(
        json!({"alg": "ES256", "kid": "es-2"}),
        &claims(),
        es256(&second),
    );
    assert!(two.decode_token(&with_kid).is_ok());
}

/// RFC 7515 section 5.2 steps 2-5: a header byte for byte the one this crate writes for a key
/// (`{"alg":..,"typ":"JWT","kid":..}`) is read as that key's `alg` and `kid` without parsing;
/// it means what it says, exactly as the same members in another order do, and the signature is
/// still checked with that key alone.
#[test]
fn rfc7515_section5_2_a_header_this_crate_writes_is_known_byte_for_byte() {
    let k = keys();
    let verifier = verifier(&k);
    let written = |alg: &str, kid: &str| format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
    let token = |header: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>| {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims().as_bytes()));
        let signature = sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    };
    let by_ed = |input: &[u8]| ed25519(&k.ed_raw)(input);
    let by_es = |input: &[u8]| es256(&k.es_raw)(input);
    let other_ed = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let by_other_ed = |input: &[u8]| ed25519(&other_ed)(input);
    // The header the issuer writes is the one the verifier knows.
    let issued = manager(&k)
        .issue_token("42", Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        header_of(&issued),
        serde_json::from_str::<Value>(&written("ES256", "es")).unwrap()
    );
    check(
        &verifier,
        &[
            case("issued by the manager (ES256)", issued, Ok("42")),
            case(
                "EdDSA, the header as written",
                token(&written("EdDSA", "ed"), &by_ed),
                Ok("42"),
            ),
            case(
                "EdDSA, the same members in another order (parsed)",
                token(r#"{"kid":"ed","typ":"JWT","alg":"EdDSA"}"#, &by_ed),
                Ok("42"),
            ),
            case(
                "ES256, the header as written",
                token(&written("ES256", "es"), &by_es),
                Ok("42"),
            ),
            case(
                "EdDSA's header as written, signed by another Ed25519 key",
                token(&written("EdDSA", "ed"), &by_other_ed),
                Err(TokenError::BadSignature),
            ),
            case(
                "EdDSA's header as written, signed by the ES256 key",
                token(&written("EdDSA", "ed"), &by_es),
                Err(TokenError::BadSignature),
            ),
            case(
                "`es` named with EdDSA: no key writes that header (parsed, refused)",
                token(&written("EdDSA", "es"), &by_ed),
                Err(TokenError::WrongAlgorithm),
            ),
        ],
    );
}

/// A refused RSA key says why, as a JWK and as PEM: a modulus outside 2048 to 8192 bits (RFC
/// 7518 section 3.3), or one of the ROCA family (CVE-2017-15361).
#[test]
fn rfc7518_section3_3_an_rsa_key_is_refused_for_its_own_reason() {
    use rsa::pkcs8::EncodePublicKey as _;
    let pem = |jwk: &Value| {
        let int = |name: &str| {
            let bytes = URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
            rsa::BoxedUint::from_be_slice_vartime(&bytes)
        };
        rsa::PublicKey::new_unchecked(int("n"), int("e"))
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let small = wycheproof_jwk("keysize_too_small");
    let roca = wycheproof_jwk("jws_rsa_roca_key");
    // Under the `rsa` crate's own floor for PEM (1024 bits), and over 8192 bits.
    let of_bits = |bits: usize| {
        let mut n = vec![0xc5; bits / 8];
        n[bits / 8 - 1] |= 1;
        json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"})
    };
    let (tiny, huge) = (of_bits(512), of_bits(8200));
    for (jwk, why) in [
        (&small, "2048 to 8192 bits"),
        (&tiny, "2048 to 8192 bits"),
        (&huge, "2048 to 8192 bits"),
        (&roca, "ROCA"),
    ] {
        let from_jwk = refusal(VerifyingKey::from_jwk(&jwk.to_string()));
        assert!(from_jwk.contains(why), "{from_jwk}");
        let from_pem = refusal(VerifyingKey::from_pem(&pem(jwk)));
        assert!(from_pem.contains(why), "{from_pem}");
    }
}

/// An SPKI names what its key is for (RFC 5280 section 4.1.2.7): `rsaEncryption` with NULL
/// parameters (RFC 3279 section 2.3.1) is an RS256 key; `id-RSASSA-PSS` is for PSS only (RFC
/// 4055 section 1.2), never PKCS#1 v1.5, and is refused saying so. The same modulus in each.
#[test]
fn rfc4055_section1_2_an_rsassa_pss_spki_is_not_an_rs256_key() {
    use rsa::pkcs8::ObjectIdentifier;
    use rsa::pkcs8::der::{Encode as _, asn1::BitString};
    use rsa::pkcs8::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    let rsa_key = include_str!("data/rs256_test_key.pub.pem");
    let der = rsa::pkcs8::Document::from_pem(rsa_key).unwrap().1;
    let spki = SubjectPublicKeyInfoOwned::try_from(der.as_bytes()).unwrap();
    let with = |oid: &str, parameters: Option<rsa::pkcs8::der::Any>| {
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap(oid),
                parameters,
            },
            subject_public_key: BitString::from_bytes(spki.subject_public_key.raw_bytes()).unwrap(),
        };
        let der = rsa::pkcs8::Document::try_from(spki.to_der().unwrap()).unwrap();
        der.to_pem("PUBLIC KEY", rsa::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let null = Some(rsa::pkcs8::der::asn1::Null.into());
    // The file's own form, rebuilt: accepted.
    assert!(VerifyingKey::from_pem(&with("1.2.840.113549.1.1.1", null)).is_ok());
    assert!(VerifyingKey::from_pem(&with("1.2.840.113549.1.1.1", None)).is_err());
    let pss = refusal(VerifyingKey::from_pem(&with("1.2.840.113549.1.1.10", None)));
    assert!(pss.contains("RSASSA-PSS"), "{pss}");
}

/// Why `key` was refused: the reason of its `ConfigError::InvalidKey`.
fn refusal(key: Result<VerifyingKey, ConfigError>) -> &'static str {
    match key {
        Err(ConfigError::InvalidKey(reason)) => reason,
        other => panic!("{other:?}"),
    }
}

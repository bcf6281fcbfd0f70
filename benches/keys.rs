//! What the layer adds to an asymmetric signature check, per algorithm (ES256, EdDSA, RS256), and
//! `decode_token` against `jsonwebtoken::decode` on the same token.
//!
//! ```text
//! cargo bench --bench keys                  # interleaved rounds, then the table of ratios
//! ROUNDS=100 cargo bench --bench keys       # fewer rounds (default 200)
//! ```
//!
//! Per algorithm, on one token:
//! - `verify_<alg>`: the signature check alone, with the very crate the layer uses (`p256`,
//!   `ed25519-dalek`'s `verify`, `rsa`), its key prepared and the signature decoded beforehand:
//!   the least any verifier of the algorithm does. `verify_strict_eddsa` is `ed25519-dalek`'s
//!   `verify_strict`, whose verdicts the layer gives at `verify`'s cost (`src/keys/ed25519.rs`).
//! - `layer_<alg>`: one request through a `LoginLayer` on a `TokenVerifier` holding the public
//!   key, around a no-op service; `bare` is the no-op service alone, so `layer_<alg> - bare` is
//!   what the layer costs, signature included (target: at most 1.05x `verify_<alg>`).
//! - `decode_token_<alg>` / `jsonwebtoken_<alg>`: this crate and the reference on the same token
//!   (target: at most 1).
//!
//! The cases run interleaved (see `support/interleaved.rs`), on the bench thread's CPU time; each
//! ratio is the median of the per-round ratios.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use jsonwebtoken::{DecodingKey, Validation};
use tower::Layer;
use tower_login_manager::{LoginLayer, LoginManager, SigningKey, TokenVerifier, VerifyingKey};

#[path = "support/cpu_time.rs"]
mod cpu_time;
#[path = "../tests/support/in_memory.rs"]
mod in_memory;
#[path = "support/interleaved.rs"]
mod interleaved;
#[path = "../tests/support/reference.rs"]
mod reference;

use in_memory::{bearer, loader, noop, one_request};
use interleaved::{Run, interleaved, percentile};
use reference::JwtClaims;

const SECRET: &str = "a benchmark secret of at least thirty-two bytes";
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// A 2048-bit RSA key for test use only: this crate verifies RS256 and does not sign it, so the
/// token is signed by jsonwebtoken.
const RSA_PRIVATE_PEM: &str = include_str!("../tests/data/keys/rsa2048_private.pem");

/// One algorithm's token, its public key three ways, and the signature check alone.
struct Algorithm {
    name: &'static str,
    token: String,
    header: HeaderValue,
    verifier: TokenVerifier,
    reference_key: DecodingKey,
    validation: Validation,
    verify_alone: Box<dyn Fn() -> bool>,
    /// EdDSA only: the same check with `verify_strict`, which decompresses `R` to test its
    /// order and tests the key's on every call.
    verify_strict: Option<Box<dyn Fn() -> bool>>,
}

fn jwk_bytes(jwk: &serde_json::Value, member: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwk[member].as_str().expect("a string member"))
        .expect("base64url")
}

impl Algorithm {
    fn new(name: &'static str, token: String, public: VerifyingKey) -> Self {
        let jwk = public.to_jwk();
        let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
        let (input, signature) = (
            input.as_bytes().to_vec(),
            URL_SAFE_NO_PAD.decode(signature).expect("base64url"),
        );
        let mut verify_strict: Option<Box<dyn Fn() -> bool>> = None;
        let verify_alone: Box<dyn Fn() -> bool> = match name {
            "es256" => {
                let mut sec1 = vec![4];
                sec1.extend(jwk_bytes(&jwk, "x"));
                sec1.extend(jwk_bytes(&jwk, "y"));
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).expect("P-256");
                Box::new(move || {
                    use signature::Verifier as _;
                    let sig = p256::ecdsa::Signature::from_slice(black_box(&signature)).unwrap();
                    key.verify(black_box(&input), &sig).is_ok()
                })
            }
            "eddsa" => {
                let x: [u8; 32] = jwk_bytes(&jwk, "x").try_into().expect("32 bytes");
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x).expect("Ed25519");
                let (strict_input, strict_signature) = (input.clone(), signature.clone());
                verify_strict = Some(Box::new(move || {
                    let sig: [u8; 64] = black_box(&strict_signature[..]).try_into().unwrap();
                    let sig = ed25519_dalek::Signature::from_bytes(&sig);
                    key.verify_strict(black_box(&strict_input), &sig).is_ok()
                }));
                Box::new(move || {
                    use signature::Verifier as _;
                    let sig: [u8; 64] = black_box(&signature[..]).try_into().unwrap();
                    let sig = ed25519_dalek::Signature::from_bytes(&sig);
                    key.verify(black_box(&input), &sig).is_ok()
                })
            }
            _ => {
                let n = jwk_bytes(&jwk, "n");
                let e = jwk_bytes(&jwk, "e");
                let n = rsa::BoxedUint::from_be_slice(&n, n.len() as u32 * 8).unwrap();
                let e = rsa::BoxedUint::from_be_slice(&e, e.len() as u32 * 8).unwrap();
                let key = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(
                    rsa::PublicKey::new(n, e).expect("an RSA key"),
                );
                Box::new(move || {
                    use signature::Verifier as _;
                    let sig =
                        rsa::pkcs1v15::Signature::try_from(black_box(&signature[..])).unwrap();
                    key.verify(black_box(&input), &sig).is_ok()
                })
            }
        };
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).expect("a JWK");
        let reference_key = DecodingKey::from_jwk(&jwk).expect("jsonwebtoken takes the JWK");
        let alg = match name {
            "es256" => jsonwebtoken::Algorithm::ES256,
            "eddsa" => jsonwebtoken::Algorithm::EdDSA,
            _ => jsonwebtoken::Algorithm::RS256,
        };
        let verifier = TokenVerifier::builder()
            .key(public)
            .build()
            .expect("one key");
        let this = Self {
            name,
            header: bearer(&token),
            token,
            verifier,
            reference_key,
            validation: Validation::new(alg),
            verify_alone,
            verify_strict,
        };
        // Every case must do what it claims before it is timed.
        assert!((this.verify_alone)(), "{name}: the signature verifies");
        assert_eq!(
            this.verifier.decode_token(&this.token).unwrap().user_id(),
            "42"
        );
        let decoded =
            jsonwebtoken::decode::<JwtClaims>(&this.token, &this.reference_key, &this.validation)
                .expect("jsonwebtoken verifies it");
        assert_eq!(decoded.claims.user_id, "42");
        this
    }
}

fn algorithms() -> Vec<Algorithm> {
    let signed = |key: SigningKey| {
        let manager = LoginManager::builder(SECRET)
            .signing_key(key.clone())
            .build()
            .expect("a valid secret");
        let token = manager.issue_token("42", FAR_FUTURE).expect("a user id");
        (token, key.verifying_key())
    };
    let (es256, es256_key) = signed(SigningKey::generate_es256());
    let (eddsa, eddsa_key) = signed(SigningKey::generate_ed25519());
    let rs256 = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims =
            serde_json::json!({"exp": now + FAR_FUTURE.as_secs(), "iat": now, "user_id": "42"});
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        let private = rsa::PrivateKey::from_pkcs8_pem(RSA_PRIVATE_PEM).unwrap();
        let key =
            jsonwebtoken::EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes());
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let rs256_key = {
        use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
        let private = rsa::PrivateKey::from_pkcs8_pem(RSA_PRIVATE_PEM).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        VerifyingKey::from_pem(&pem).unwrap()
    };
    vec![
        Algorithm::new("es256", es256, es256_key),
        Algorithm::new("eddsa", eddsa, eddsa_key),
        Algorithm::new("rs256", rs256, rs256_key),
    ]
}

fn cases(algorithms: &[Algorithm]) -> Vec<(String, Run<'_>)> {
    let mut cases: Vec<(String, Run<'_>)> = Vec::new();
    let first = &algorithms[0];
    let mut bare = noop();
    let bare_header = first.header.clone();
    cases.push((
        "bare".into(),
        Box::new(move || {
            black_box(one_request(&mut bare, black_box(Some(&bare_header))));
        }),
    ));
    for a in algorithms {
        cases.push((
            format!("verify_{}", a.name),
            Box::new(|| {
                black_box((a.verify_alone)());
            }),
        ));
        if let Some(strict) = &a.verify_strict {
            cases.push((
                format!("verify_strict_{}", a.name),
                Box::new(move || {
                    black_box(strict());
                }),
            ));
        }
        let mut layered = LoginLayer::new(a.verifier.clone(), loader("42")).layer(noop());
        let header = a.header.clone();
        assert_eq!(one_request(&mut layered, Some(&header)).status(), 200);
        cases.push((
            format!("layer_{}", a.name),
            Box::new(move || {
                black_box(one_request(&mut layered, black_box(Some(&header))));
            }),
        ));
        cases.push((
            format!("decode_token_{}", a.name),
            Box::new(|| {
                black_box(a.verifier.decode_token(black_box(&a.token)).is_ok());
            }),
        ));
        cases.push((
            format!("jsonwebtoken_{}", a.name),
            Box::new(|| {
                let decoded = jsonwebtoken::decode::<JwtClaims>(
                    black_box(&a.token),
                    &a.reference_key,
                    &a.validation,
                );
                black_box(decoded.is_ok());
            }),
        ));
    }
    cases
}

fn main() {
    // Under `cargo test` (which runs benches once with `--bench` absent): build and check only.
    let algorithms = algorithms();
    let mut cases = cases(&algorithms);
    if !std::env::args().any(|a| a == "--bench") {
        for (_, run) in &mut cases {
            run();
        }
        return;
    }
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut named: Vec<(&'static str, Run<'_>)> = cases
        .into_iter()
        .map(|(name, run)| (&*Box::leak(name.into_boxed_str()), run))
        .collect();
    let times = interleaved(&mut named, cpu_time::thread_cpu_time, rounds);
    let index = |name: &str| named.iter().position(|(n, _)| *n == name).expect("a case");
    let per_round = |f: &dyn Fn(usize) -> f64| -> f64 {
        percentile(&(0..rounds).map(f).collect::<Vec<_>>(), 0.5)
    };

    println!("\nthread CPU time; interleaved: {rounds} rounds\n");
    println!("| case | median |");
    println!("|---|---:|");
    for (i, (name, _)) in named.iter().enumerate() {
        println!("| {name} | {:.0} ns |", percentile(&times[i], 0.5));
    }
    println!(
        "\n| algorithm | (layer - bare) / verify alone (target <= 1.05) | decode_token / jsonwebtoken (target <= 1) |"
    );
    println!("|---|---:|---:|");
    let bare = index("bare");
    for a in &algorithms {
        let (layer, verify) = (
            index(&format!("layer_{}", a.name)),
            index(&format!("verify_{}", a.name)),
        );
        let (ours, reference) = (
            index(&format!("decode_token_{}", a.name)),
            index(&format!("jsonwebtoken_{}", a.name)),
        );
        let added = per_round(&|r| (times[layer][r] - times[bare][r]) / times[verify][r]);
        let versus = per_round(&|r| times[ours][r] / times[reference][r]);
        println!("| {} | {added:.3} | {versus:.3} |", a.name);
    }
    if let Some(strict) = named.iter().position(|(n, _)| *n == "verify_strict_eddsa") {
        let plain = index("verify_eddsa");
        let cost = per_round(&|r| times[strict][r] / times[plain][r]);
        println!("\nEdDSA: verify_strict / verify (the layer's check costs verify's): {cost:.3}");
    }
}

//! Project Wycheproof's HMAC JWS vectors (tests/data/wycheproof_hmac_jws.json, Apache-2.0; the
//! labels are explained in tests/data/WYCHEPROOF.md).
//!
//! No case is a valid login token (the payloads are raw bytes such as `foo`, not JWT claims), so
//! every case must be refused. Beyond that, each case must be refused at the right stage: a case
//! whose MAC and format are right (Wycheproof "valid", or "invalid" for a reason that lies in the
//! key set) gets past the MAC and fails on its claims (RFC 7519 section 7.2 step 10); every other
//! case fails on its format, algorithm or MAC (RFC 7515 section 5.2) and never reaches the claims.

use serde_json::Value;
use tower_login_manager::{
    ConfigError, JwkSet, LoginManager, TokenError, TokenVerifier, VerifyingKey,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[derive(Debug, PartialEq)]
enum Stage {
    /// Refused before the claims were read: format, algorithm, key id, MAC or signature.
    BeforeClaims,
    /// MAC verified, claims refused.
    Claims,
}

fn stage(e: TokenError) -> Stage {
    match e {
        TokenError::Malformed
        | TokenError::WrongAlgorithm
        | TokenError::BadSignature
        | TokenError::UnknownKey
        | TokenError::KeysUnavailable
        | TokenError::UnsupportedCritical
        | TokenError::TooLarge => Stage::BeforeClaims,
        _ => Stage::Claims,
    }
}

#[test]
fn every_wycheproof_hmac_case_is_refused_at_the_right_stage() {
    let data: Value =
        serde_json::from_str(include_str!("data/wycheproof_hmac_jws.json")).expect("valid JSON");
    let cases = data["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 77, "the vector file has 77 cases");

    let (mut short_keys, mut claims_stage, mut early) = (0, 0, 0);
    for case in cases {
        let name = format!(
            "{} tcId {} ({})",
            case["file"].as_str().unwrap(),
            case["tcId"],
            case["comment"].as_str().unwrap()
        );
        // A JWS in the JSON serialization is an object; sent as a bearer token it is its text.
        let jws = match &case["jws"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Case 31 has an EC key and no secret: any secret of ours must refuse it.
        let secret = case["secret_hex"]
            .as_str()
            .map(hex)
            .unwrap_or_else(|| b"an unrelated secret of 32+ bytes!!".to_vec());

        let manager = match LoginManager::new(&secret) {
            Ok(m) => m,
            Err(e) => {
                // RFC 7518 section 3.2: HS256 keys shorter than the hash output are refused.
                assert!(secret.len() < 32, "{name}: key refused: {e}");
                assert_eq!(
                    e,
                    ConfigError::SecretTooShort { len: secret.len() },
                    "{name}"
                );
                short_keys += 1;
                continue;
            }
        };
        let err = manager
            .decode_token(&jws)
            .expect_err(&format!("{name}: must be refused, it is no JWT"));

        let alg = case["decoded_header"]["alg"].as_str();
        let recheck = &case["strict_recheck"];
        // tcId 25/26 of the key file: the MAC under the secret is right, and "invalid" is about the
        // JWK's `alg` (an AES key). This crate takes a bare HS256 secret, which carries no JWK
        // metadata, so for it the MAC is right and the claims are what fails.
        let key_metadata_only = recheck["detail"].as_str().unwrap().contains("!= key alg");
        let mac_ok = recheck["mac_and_format_ok"].as_bool().unwrap() || key_metadata_only;
        let want = if mac_ok && alg == Some("HS256") {
            Stage::Claims
        } else {
            Stage::BeforeClaims
        };
        assert_eq!(stage(err), want, "{name}: refused with {err:?}");
        if want == Stage::Claims {
            // The payloads (`foo`, `Test`, ...) are not JSON objects.
            assert_eq!(err, TokenError::InvalidClaims, "{name}");
            claims_stage += 1;
        } else {
            early += 1;
        }
        if alg.is_some_and(|a| a != "HS256") {
            // RFC 8725 section 3.1: only the pinned algorithm is accepted, `none` included.
            assert_eq!(err, TokenError::WrongAlgorithm, "{name}");
        }
    }
    // The counts pin the file's content: a change in the data is a change in the test.
    assert_eq!((short_keys, claims_stage, early), (4, 19, 54));
}

/// How a JWS case of the public-key algorithms came out through [`TokenVerifier`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// The group's key (or every key of its set) was refused when loaded: no verifier can hold it.
    KeyRefused,
    /// Refused before the claims: format, algorithm, key id or signature.
    BeforeClaims(TokenError),
    /// The signature verified and the claims were refused (the payloads are not JWT claims).
    Claims,
}

/// The algorithms of issue 23, as a JWS header names them (RFC 7518 section 3.1, RFC 8037,
/// RFC 9864's `Ed25519`).
const PUBLIC_KEY_ALGS: [&str; 4] = ["ES256", "EdDSA", "Ed25519", "RS256"];

fn header_alg(jws: &Value) -> Option<String> {
    use base64::Engine as _;
    let header = jws.as_str()?.split('.').next()?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&raw).ok()?;
    Some(header["alg"].as_str()?.to_owned())
}

/// A verifier holding the group's public key (its `private` JWK where it has no `public`, which a
/// public set must refuse), one JWK or a JWK Set.
fn verifier_of(group: &Value) -> Option<TokenVerifier> {
    let jwk = group.get("public").unwrap_or(&group["private"]);
    let builder = TokenVerifier::builder();
    let builder = if jwk.get("keys").is_some() {
        let set = JwkSet::from_json(&jwk.to_string()).expect("a JWK Set's shape is right");
        if set.keys().is_empty() {
            return None;
        }
        builder.jwks(set)
    } else {
        builder.key(VerifyingKey::from_jwk(&jwk.to_string()).ok()?)
    };
    Some(
        builder
            .build()
            .expect("one key, or a set without shared kids"),
    )
}

/// Every JWS case of ES256, EdDSA and RS256 in Wycheproof's JWS and JWK files (and every case
/// whose header names one of them) through the public [`TokenVerifier`], keys loaded from the
/// cases' JWKs. RFC 7515 section 5.2 and RFC 8725 section 3.1 decide the stage: a case
/// Wycheproof calls valid verifies and fails only at the claims (RFC 7519 section 7.2 step 10:
/// `foo` is no claims set); an invalid one is refused with its key or before the claims. The
/// file has no EdDSA case: the Ed25519 vectors run on the raw check in `src/keys/wycheproof.rs`.
#[test]
fn every_wycheproof_public_key_jws_case_is_refused_at_the_right_stage() {
    let files = [
        (
            "json_web_signature_test.json",
            include_str!("data/wycheproof/json_web_signature_test.json"),
        ),
        (
            "json_web_key_test.json",
            include_str!("data/wycheproof/json_web_key_test.json"),
        ),
    ];
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (file, text) in files {
        let data: Value = serde_json::from_str(text).expect("valid JSON");
        for group in data["testGroups"].as_array().expect("testGroups") {
            let group_name = group["comment"].as_str().unwrap();
            for case in group["tests"].as_array().expect("tests") {
                let alg = header_alg(&case["jws"]);
                let of_ours = alg.as_deref().is_some_and(|a| PUBLIC_KEY_ALGS.contains(&a));
                if !of_ours && !["es256", "rs256"].contains(&group_name) {
                    continue;
                }
                let id: u64 = match &case["tcId"] {
                    Value::String(s) => s.parse().unwrap(),
                    other => other.as_u64().unwrap(),
                };
                let name = format!("{file} tcId {id} ({group_name}: {})", case["comment"]);
                let verdict = match verifier_of(group) {
                    None => Verdict::KeyRefused,
                    Some(verifier) => {
                        let jws = case["jws"].as_str().expect("compact");
                        match verifier.decode_token(jws) {
                            Ok(_) => panic!("{name}: accepted, yet no case is a JWT"),
                            Err(e) if stage(e) == Stage::Claims => {
                                assert_eq!(e, TokenError::InvalidClaims, "{name}");
                                Verdict::Claims
                            }
                            Err(e) => Verdict::BeforeClaims(e),
                        }
                    }
                };
                let result = case["result"].as_str().unwrap();
                match (result, verdict) {
                    ("valid", v) => assert_eq!(v, Verdict::Claims, "{name}"),
                    ("invalid", v) => assert_ne!(v, Verdict::Claims, "{name}: signature verified"),
                    (other, _) => panic!("{name}: result {other}"),
                }
                if alg
                    .as_deref()
                    .is_some_and(|a| !PUBLIC_KEY_ALGS.contains(&a))
                {
                    // RFC 8725 section 3.1: an HS256 header under an EC key (tcId 31) never
                    // reaches a MAC; the verifier holds no secret.
                    assert_eq!(
                        verdict,
                        Verdict::BeforeClaims(TokenError::WrongAlgorithm),
                        "{name}"
                    );
                }
                let verdict = match verdict {
                    Verdict::BeforeClaims(e) => format!("{e:?}"),
                    other => format!("{other:?}"),
                };
                *counts
                    .entry(format!("{file}: {result} -> {verdict}"))
                    .or_default() += 1;
            }
        }
    }
    // The counts pin the files' content: a change in the data is a change in the test. 288
    // cases: 11 valid, each verified and refused at its claims; 277 invalid, refused with their
    // key (use `enc`, `key_ops` without `verify`, an `alg` of another family or a curve, `kty`
    // or point that is not P-256's, an RSA key under 2048 bits, with e = 1 or of the ROCA
    // family), as malformed (a header missing or modified out of JSON), for an unknown `kid` (a
    // modified header names another key), for their `alg` (HS256 under an EC key) or for their
    // signature.
    let want = [
        ("json_web_key_test.json: invalid -> KeyRefused", 10),
        ("json_web_key_test.json: valid -> Claims", 1),
        ("json_web_signature_test.json: invalid -> BadSignature", 245),
        ("json_web_signature_test.json: invalid -> KeyRefused", 5),
        ("json_web_signature_test.json: invalid -> Malformed", 14),
        ("json_web_signature_test.json: invalid -> UnknownKey", 2),
        ("json_web_signature_test.json: invalid -> WrongAlgorithm", 1),
        ("json_web_signature_test.json: valid -> Claims", 10),
    ];
    let want: std::collections::BTreeMap<String, usize> =
        want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(counts, want);
}

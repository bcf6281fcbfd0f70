//! Project Wycheproof's HMAC JWS vectors (tests/data/wycheproof_hmac_jws.json, Apache-2.0; the
//! labels are explained in tests/data/WYCHEPROOF.md).
//!
//! No case is a valid login token (the payloads are raw bytes such as `foo`, not JWT claims), so
//! every case must be refused. Beyond that, each case must be refused at the right stage: a case
//! whose MAC and format are right (Wycheproof "valid", or "invalid" for a reason that lies in the
//! key set) gets past the MAC and fails on its claims (RFC 7519 section 7.2 step 10); every other
//! case fails on its format, algorithm or MAC (RFC 7515 section 5.2) and never reaches the claims.

use serde_json::Value;
use tower_login_manager::{ConfigError, LoginManager, TokenError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[derive(Debug, PartialEq)]
enum Stage {
    /// Refused before the claims were read: format, algorithm, MAC.
    BeforeClaims,
    /// MAC verified, claims refused.
    Claims,
}

fn stage(e: TokenError) -> Stage {
    match e {
        TokenError::Malformed
        | TokenError::WrongAlgorithm
        | TokenError::BadSignature
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

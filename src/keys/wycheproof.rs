//! Project Wycheproof's signature vectors for the three public-key algorithms, on the raw
//! signature check ([`VerifyingKey::verify`]): ECDSA P-256 in the P1363 form `r || s` (ES256,
//! RFC 7518 section 3.4), Ed25519 (EdDSA, RFC 8032 / RFC 8037) and RSASSA-PKCS1-v1_5 with SHA-256
//! (RS256, RFC 7518 section 3.3). The files are Wycheproof's, unmodified, in
//! `tests/data/wycheproof/` (Apache-2.0; `tests/data/WYCHEPROOF.md` explains them).
//!
//! Each group's key is built through the public constructors twice, from its JWK and from its SPKI
//! PEM, and the two must be the same key. Then every case's verdict must be Wycheproof's: `valid`
//! verifies, `invalid` is refused. `acceptable` cases are listed with what this crate does and why.
//! The counts are asserted, so a missing or truncated file cannot pass.

use serde_json::Value;

use super::{Algorithm, VerifyingKey};

fn load(file: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("a Wycheproof file is JSON")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The JWK of an EC group that has none (nine groups of the ECDSA file), from its uncompressed
/// point: `x` and `y` of 32 bytes each (RFC 7518 section 6.2.1.2).
fn ec_jwk_of(public_key: &Value) -> String {
    use base64::Engine as _;
    let point = hex(public_key["uncompressed"].as_str().expect("uncompressed"));
    assert_eq!(
        (point.len(), point[0]),
        (65, 4),
        "an uncompressed P-256 point"
    );
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(&point[1..33]),
        "y": b64(&point[33..]),
        "kid": "none",
    })
    .to_string()
}

/// How a file's cases came out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// `valid` cases that verified.
    valid_verified: usize,
    /// `invalid` cases refused.
    invalid_refused: usize,
    /// `acceptable` cases refused (each listed in its test with the reason).
    acceptable_refused: Vec<u64>,
    /// `acceptable` cases that verified.
    acceptable_verified: Vec<u64>,
}

/// Runs every case of `file`, whose groups carry the key as a JWK under `jwk_member` and as SPKI
/// PEM under `publicKeyPem`. Panics on the first verdict that is not Wycheproof's.
fn run(file: &str, jwk_member: &str, algorithm: Algorithm, cases: usize) -> Tally {
    let data = load(file);
    assert_eq!(data["numberOfTests"], cases, "{file}: numberOfTests");
    let mut tally = Tally::default();
    let mut seen = 0;
    for group in data["testGroups"].as_array().expect("testGroups") {
        let jwk = match group.get(jwk_member) {
            Some(jwk) => jwk.to_string(),
            None => ec_jwk_of(&group["publicKey"]),
        };
        let from_jwk = VerifyingKey::from_jwk(&jwk)
            .unwrap_or_else(|e| panic!("{file}: a group's JWK refused: {e}"));
        let pem = group["publicKeyPem"].as_str().expect("publicKeyPem");
        let from_pem = VerifyingKey::from_pem(pem)
            .unwrap_or_else(|e| panic!("{file}: a group's PEM refused: {e}"));
        assert_eq!(from_jwk.algorithm(), algorithm, "{file}");
        // The JWK carries `kid: "none"`; the PEM key is named by its thumbprint.
        assert_eq!(from_pem.with_kid(from_jwk.kid()), from_jwk, "{file}");
        for case in group["tests"].as_array().expect("tests") {
            seen += 1;
            let id = case["tcId"].as_u64().expect("tcId");
            let name = format!("{file} tcId {id} ({})", case["comment"]);
            let msg = hex(case["msg"].as_str().expect("msg"));
            let sig = hex(case["sig"].as_str().expect("sig"));
            let verified = from_jwk.verify(&msg, &sig);
            match case["result"].as_str().expect("result") {
                "valid" => {
                    assert!(verified, "{name}: valid, refused");
                    tally.valid_verified += 1;
                }
                "invalid" => {
                    assert!(!verified, "{name}: invalid, verified");
                    tally.invalid_refused += 1;
                }
                "acceptable" if verified => tally.acceptable_verified.push(id),
                "acceptable" => tally.acceptable_refused.push(id),
                other => panic!("{name}: result {other}"),
            }
        }
    }
    assert_eq!(seen, cases, "{file}: cases run");
    tally
}

/// ES256 (RFC 7518 section 3.4): the P1363 `r || s` form is the JWS signature itself. Wycheproof
/// labels both `s` and `n - s` valid (ECDSA is malleable, RFC 7518 does not ask for low `s`), and
/// this crate, like every ES256 verifier of RFC 7518, accepts both: a token's signature is not its
/// identity (its `jti` is), so malleability gives an attacker nothing.
#[test]
fn wycheproof_ecdsa_p256_sha256_p1363_rfc7518_section3_4() {
    let tally = run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        "publicKeyJwk",
        Algorithm::ES256,
        262,
    );
    assert_eq!(
        tally,
        Tally {
            valid_verified: 173,
            invalid_refused: 89,
            ..Tally::default()
        }
    );
}

/// EdDSA on Ed25519 (RFC 8037, RFC 8032 section 5.1.7) with `verify_strict`'s verdicts.
#[test]
fn wycheproof_ed25519_rfc8032_section5_1_7() {
    let tally = run("ed25519_test.json", "publicKeyJwk", Algorithm::EdDSA, 151);
    assert_eq!(
        tally,
        Tally {
            valid_verified: 88,
            invalid_refused: 63,
            ..Tally::default()
        }
    );
}

/// RS256 (RFC 7518 section 3.3, RSASSA-PKCS1-v1_5 of RFC 8017 section 8.2.2). The one
/// `acceptable` case, tcId 8, is a DigestInfo without the `NULL` parameters: RFC 8017 section
/// 9.2 note 1 allows a verifier to take it, but JWS writes the `NULL` form only and the
/// encoding-then-compare check of section 8.2.2 step 4 refuses any other, so this crate refuses it.
#[test]
fn wycheproof_rsa_pkcs1v15_2048_sha256_rfc7518_section3_3() {
    let tally = run(
        "rsa_signature_2048_sha256_test.json",
        "keyJwk",
        Algorithm::RS256,
        259,
    );
    assert_eq!(
        tally,
        Tally {
            valid_verified: 9,
            invalid_refused: 249,
            acceptable_refused: vec![8],
            acceptable_verified: vec![],
        }
    );
}

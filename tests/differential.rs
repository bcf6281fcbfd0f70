//! Differential test: our HS256 verifier against jsonwebtoken 12, the reference, on the same
//! inputs. We must never accept what the reference refuses; where we refuse what it accepts, the
//! reason must be one of the documented, deliberate extra rules.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use support::{SECRET, b64, sign_raw};
use tower_login_manager::{LoginManager, SigningKey, TokenError, TokenVerifier, VerifyingKey};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ReferenceClaims {
    user_id: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The reference configured like our defaults: HS256 only, `exp` required, `nbf` checked, no
/// leeway, no audience.
fn reference(token: &str) -> bool {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    let key = DecodingKey::from_secret(SECRET.as_bytes()).expect("HMAC keys are always valid");
    jsonwebtoken::decode::<ReferenceClaims>(token, &key, &validation).is_ok()
}

/// Rules of ours the reference does not have (see README, "Validation").
fn deliberate(e: TokenError) -> bool {
    matches!(
        e,
        TokenError::UnsupportedCritical      // RFC 7515 4.1.11: crit refused
            | TokenError::InvalidClaims      // repeated claims refused, any name
            | TokenError::Malformed          // repeated header members, `kid` not a string
                                             // (null too), strict base64url
            | TokenError::InvalidAudience    // aud without configured audience
            | TokenError::NotYetValid        // iat in the future
            | TokenError::InvalidClaim("user id") // empty or control characters
            // `type` other than "access" or "refresh", `jti` or `sid` other than a non-empty
            // string: the layer tells access from refresh tokens, and revokes by `jti` and `sid`,
            // on these claims.
            | TokenError::InvalidClaim("type")
            | TokenError::InvalidClaim("jti")
            | TokenError::InvalidClaim("sid")
            | TokenError::TooLarge
    )
}

fn inputs() -> Vec<String> {
    let exp = now() + 3600;
    let secret = SECRET.as_bytes();
    let std_header = br#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = [
        format!(r#"{{"exp":{exp},"iat":1,"user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"user_id":"42","extra":{{"a":[1,2,{{}}]}}}}"#),
        format!(r#"{{"exp":{exp}.75,"user_id":"42"}}"#),
        // Found by the fuzz target: NumericDates past u64::MAX, which jsonwebtoken refuses.
        r#"{"exp":18446744073709551616,"user_id":"42"}"#.to_owned(),
        r#"{"exp":170444444444444444444444444444444440000060.5,"user_id":"42"}"#.to_owned(),
        r#"{"exp":1e300,"user_id":"42"}"#.to_owned(),
        r#"{"exp":18446744073709551615,"user_id":"42"}"#.to_owned(),
        // Found by the fuzz target: a `type` or `jti` of another kind than this crate writes.
        format!(r#"{{"exp":{exp},"type":1699999999,"user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"type":"id","user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"jti":7,"user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"jti":"","user_id":"42"}}"#),
        // A session (`sid`) is a non-empty string too (issue 22).
        format!(r#"{{"exp":{exp},"sid":7,"user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"sid":"","user_id":"42"}}"#),
        format!(r#"{{"exp":{exp},"user_id":42}}"#),
        format!(r#"{{"exp":{exp},"user_id":""}}"#),
        format!(r#"{{"exp":{exp},"user_id":"a\u0000b"}}"#),
        format!(r#"{{"exp":{exp},"user_id":"1","user_id":"2"}}"#),
        format!(r#"{{"exp":{exp},"user_id":"1","role":"user","role":"admin"}}"#),
        format!(r#"{{"exp":{exp},"nbf":{},"user_id":"1"}}"#, now() + 100),
        format!(r#"{{"exp":{exp},"nbf":1,"user_id":"1"}}"#),
        format!(r#"{{"exp":{exp},"iat":{},"user_id":"1"}}"#, now() + 100),
        format!(r#"{{"exp":{exp},"aud":"x","user_id":"1"}}"#),
        format!(r#"{{"exp":"{exp}","user_id":"1"}}"#),
        format!(r#"{{"exp":{},"user_id":"1"}}"#, now() - 1),
        r#"{"exp":-5,"user_id":"1"}"#.to_owned(),
        r#"{"user_id":"1"}"#.to_owned(),
        format!(r#"[{exp}]"#),
        "null".to_owned(),
        format!(r#"{{"exp":{exp},"user_id":"1"}} "#),
        format!(r#"{{"exp":{exp},"user_id":"1"}}x"#),
        format!("\u{feff}{{\"exp\":{exp},\"user_id\":\"1\"}}"),
    ];
    let headers: [&[u8]; 13] = [
        std_header,
        br#"{"alg":"HS256"}"#,
        br#"{"alg":"HS256","kid":"../../x","jku":"http://evil"}"#,
        br#"{"alg":"HS256","kid":1}"#,
        br#"{"alg":"HS256","kid":null}"#,
        br#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
        br#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        br#"{"alg":"HS256","alg":"HS256"}"#,
        br#"{"alg":"HS512"}"#,
        br#"{"alg":"none"}"#,
        br#"{"typ":"JWT"}"#,
        br#"["HS256"]"#,
        br#"{"alg":"HS256","typ":"JWT"} "#,
    ];
    let mut out = Vec::new();
    for h in headers {
        for c in &claims {
            out.push(sign_raw(h, c.as_bytes(), secret));
        }
    }
    // Structural mutations of a valid token.
    let valid = sign_raw(std_header, claims[0].as_bytes(), secret);
    let (h, rest) = valid.split_once('.').unwrap();
    let (c, s) = rest.split_once('.').unwrap();
    out.extend([
        format!("{h}.{c}"),
        format!("{h}.{c}."),
        format!("{h}.{c}.{s}."),
        format!(".{h}.{c}.{s}"),
        format!("{h}.{c}.{s}=="),
        format!("{h}=.{c}.{s}"),
        format!("{h}.{c}.{}", &s[..s.len() - 1]),
        format!("{h}.{c}.{s}A"),
        format!("{h}.{c}.{}", b64(&[0u8; 32])),
        format!("{h}..{s}"),
        format!("{h}.{c} .{s}"),
        valid.replace('-', "+").replace('_', "/"),
    ]);
    // Every single-character change of the valid token.
    let alphabet = b"AZaz09-_.=+/ ";
    for i in 0..valid.len() {
        for &b in alphabet {
            let mut t = valid.clone().into_bytes();
            if t[i] != b {
                t[i] = b;
                out.push(String::from_utf8(t).unwrap());
            }
        }
    }
    out.push(valid);
    out
}

#[test]
fn we_never_accept_what_jsonwebtoken_refuses_and_differ_only_on_purpose() {
    let ours = LoginManager::new(SECRET).unwrap();
    let (mut agree_ok, mut agree_err, mut stricter) = (0, 0, 0);
    for token in inputs() {
        let reference_ok = reference(&token);
        match ours.decode_token(&token) {
            Ok(claims) => {
                assert!(reference_ok, "we accept what jsonwebtoken refuses: {token}");
                assert!(!claims.user_id().is_empty());
                agree_ok += 1;
            }
            Err(e) if reference_ok => {
                assert!(
                    deliberate(e),
                    "we refuse ({e:?}) what jsonwebtoken accepts: {token}"
                );
                stricter += 1;
            }
            Err(_) => agree_err += 1,
        }
    }
    eprintln!(
        "differential: {agree_ok} both accept, {agree_err} both refuse, {stricter} refused on purpose"
    );
    assert!(
        agree_ok >= 5 && agree_err >= 1000 && stricter >= 5,
        "{agree_ok} {agree_err} {stricter}"
    );
}

// --- ES256, EdDSA and RS256 ---------------------------------------------------------------------

/// One public-key algorithm on both sides: jsonwebtoken signs every input (so that a signature
/// is right unless the input breaks it on purpose) and verifies it as the reference; this crate
/// verifies with the same public key under the kid `k`.
struct PublicAlg {
    name: &'static str,
    alg: Algorithm,
    signer: jsonwebtoken::EncodingKey,
    reference: DecodingKey,
    ours: TokenVerifier,
}

fn public_algs() -> [PublicAlg; 3] {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use jsonwebtoken::EncodingKey;
    // Both sides hold the same public key: ours from SPKI PEM or our own, jsonwebtoken's from our
    // JWK. jsonwebtoken signs with PKCS#8 DER (EC, Ed) or PKCS#1 DER (RSA), its `use_pem`
    // feature being off.
    let pair = |key: VerifyingKey| {
        let jwk = serde_json::from_value(key.to_jwk()).unwrap();
        let reference = DecodingKey::from_jwk(&jwk).unwrap();
        let ours = TokenVerifier::builder()
            .key(key.with_kid("k"))
            .build()
            .unwrap();
        (reference, ours)
    };
    let es = SigningKey::from_pem(
        &p256::ecdsa::SigningKey::from_slice(&[0x3c; 32])
            .unwrap()
            .to_pkcs8_pem(Default::default())
            .unwrap(),
    )
    .unwrap();
    let es_der = p256::ecdsa::SigningKey::from_slice(&[0x3c; 32])
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    let ed_raw = ed25519_dalek::SigningKey::from_bytes(&[0xc3; 32]);
    let ed = SigningKey::from_pem(&ed_raw.to_pkcs8_pem(Default::default()).unwrap()).unwrap();
    let rsa = VerifyingKey::from_pem(include_str!("data/rs256_test_key.pub.pem")).unwrap();
    let ((es_ref, es_ours), (ed_ref, ed_ours), (rsa_ref, rsa_ours)) = (
        pair(es.verifying_key()),
        pair(ed.verifying_key()),
        pair(rsa),
    );
    [
        PublicAlg {
            name: "ES256",
            alg: Algorithm::ES256,
            signer: EncodingKey::from_ec_der(es_der.as_bytes()),
            reference: es_ref,
            ours: es_ours,
        },
        PublicAlg {
            name: "EdDSA",
            alg: Algorithm::EdDSA,
            signer: EncodingKey::from_ed_der(ed_raw.to_pkcs8_der().unwrap().as_bytes()),
            reference: ed_ref,
            ours: ed_ours,
        },
        PublicAlg {
            name: "RS256",
            alg: Algorithm::RS256,
            signer: EncodingKey::from_rsa_der(include_bytes!("data/rs256_test_key.pkcs1.der")),
            reference: rsa_ref,
            ours: rsa_ours,
        },
    ]
}

impl PublicAlg {
    /// The reference configured like our defaults, for this algorithm only.
    fn reference_accepts(&self, token: &str) -> bool {
        let mut validation = Validation::new(self.alg);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<ReferenceClaims>(token, &self.reference, &validation).is_ok()
    }

    /// A compact JWS of these header and claims bytes, signed with this algorithm's key.
    fn sign(&self, header: &[u8], claims: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.signer, self.alg).unwrap();
        format!("{input}.{sig}")
    }

    fn inputs(&self, rng: &mut u64) -> Vec<String> {
        let exp = now() + 3600;
        let a = self.name;
        let other = if a == "ES256" { "EdDSA" } else { "ES256" };
        let headers = [
            format!(r#"{{"alg":"{a}","typ":"JWT","kid":"k"}}"#),
            format!(r#"{{"alg":"{a}","kid":"k"}}"#),
            format!(r#"{{"alg":"{a}"}}"#),
            format!(r#"{{"alg":"{a}","kid":"another"}}"#),
            format!(r#"{{"alg":"{a}","kid":7}}"#),
            format!(r#"{{"alg":"{a}","kid":"k","kid":"k"}}"#),
            format!(r#"{{"alg":"{a}","kid":"k","crit":["b64"],"b64":false}}"#),
            format!(r#"{{"alg":"{other}","kid":"k"}}"#),
            r#"{"alg":"HS256","kid":"k"}"#.to_owned(),
            r#"{"alg":"RS384","kid":"k"}"#.to_owned(),
            r#"{"alg":"none","kid":"k"}"#.to_owned(),
            r#"{"alg":"Ed25519","kid":"k"}"#.to_owned(),
            format!(r#"["{a}"]"#),
        ];
        let claims = [
            format!(r#"{{"exp":{exp},"iat":1,"user_id":"42"}}"#),
            format!(r#"{{"exp":{exp},"user_id":"42","extra":{{"a":[1,2,{{}}]}}}}"#),
            format!(r#"{{"exp":{},"user_id":"1"}}"#, now() - 1),
            format!(r#"{{"exp":{exp},"nbf":{},"user_id":"1"}}"#, now() + 100),
            format!(r#"{{"exp":{exp},"iat":{},"user_id":"1"}}"#, now() + 100),
            format!(r#"{{"exp":{exp},"aud":"x","user_id":"1"}}"#),
            format!(r#"{{"exp":{exp},"user_id":42}}"#),
            format!(r#"{{"exp":{exp},"jti":7,"user_id":"42"}}"#),
            r#"{"user_id":"1"}"#.to_owned(),
            "null".to_owned(),
        ];
        let mut out = Vec::new();
        for h in &headers {
            for c in &claims {
                out.push(self.sign(h.as_bytes(), c.as_bytes()));
            }
        }
        // Signature defects of a valid token.
        let valid = self.sign(headers[0].as_bytes(), claims[0].as_bytes());
        let (input, sig) = valid.rsplit_once('.').unwrap();
        let sig = support::unb64(sig);
        let with_sig = |sig: &[u8]| format!("{input}.{}", b64(sig));
        out.extend([
            with_sig(&sig[..sig.len() - 1]),
            with_sig(&[&sig[..], &[0]].concat()),
            with_sig(&vec![0; sig.len()]),
            with_sig(&[]),
            format!("{input}."),
            input.to_owned(),
            format!("{valid}.{}", b64(&sig)),
        ]);
        if a == "ES256" {
            let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
            out.push(with_sig(der.as_bytes()));
            let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
            // s and n - s: the other one of the pair (both verify, on both sides).
            let flipped = p256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
            out.push(with_sig(&flipped.to_bytes()));
        }
        // Random single-character changes and random bit flips of the signature.
        let alphabet = b"AZaz09-_.=+/ ";
        let mut next = || {
            // xorshift64: reproducible, no dependency.
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        for _ in 0..120 {
            let mut t = valid.clone().into_bytes();
            let i = next() as usize % t.len();
            t[i] = alphabet[next() as usize % alphabet.len()];
            out.push(String::from_utf8(t).unwrap());
        }
        for _ in 0..40 {
            let mut s = sig.clone();
            let bit = next() as usize % (s.len() * 8);
            s[bit / 8] ^= 1 << (bit % 8);
            out.push(with_sig(&s));
        }
        out.push(valid);
        out
    }
}

/// Where we differ from jsonwebtoken on purpose for the public-key algorithms, beyond the HS256
/// list ([`deliberate`]): a `kid` names the key that must verify (RFC 7515 section 4.1.4;
/// jsonwebtoken, given one key, ignores the `kid`).
fn deliberate_public(e: TokenError) -> bool {
    deliberate(e) || e == TokenError::UnknownKey
}

/// ES256, EdDSA and RS256: the same inputs to both, the same verdicts, apart from the documented
/// differences (DESIGN.md, "Validation"): we refuse a `kid` we do not hold, and accept the
/// `Ed25519` algorithm name (RFC 9864) that jsonwebtoken does not know.
#[test]
fn public_key_verdicts_match_jsonwebtoken_but_on_purpose() {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for alg in public_algs() {
        let (mut agree_ok, mut agree_err, mut stricter, mut ed25519_name) = (0, 0, 0, 0);
        for token in alg.inputs(&mut rng) {
            let reference_ok = alg.reference_accepts(&token);
            match alg.ours.decode_token(&token) {
                Ok(claims) if reference_ok => {
                    assert!(!claims.user_id().is_empty());
                    agree_ok += 1;
                }
                Ok(_) => {
                    // RFC 9864: `Ed25519` names EdDSA on Ed25519; jsonwebtoken has no such name.
                    let header = token.split('.').next().unwrap();
                    let header: serde_json::Value =
                        serde_json::from_slice(&support::unb64(header)).unwrap();
                    assert!(
                        alg.name == "EdDSA" && header["alg"] == "Ed25519",
                        "{}: we accept what jsonwebtoken refuses: {token}",
                        alg.name
                    );
                    ed25519_name += 1;
                }
                Err(e) if reference_ok => {
                    assert!(
                        deliberate_public(e),
                        "{}: we refuse ({e:?}) what jsonwebtoken accepts: {token}",
                        alg.name
                    );
                    stricter += 1;
                }
                Err(_) => agree_err += 1,
            }
        }
        eprintln!(
            "differential {}: {agree_ok} both accept, {agree_err} both refuse, {stricter} \
             refused on purpose, {ed25519_name} accepted as Ed25519",
            alg.name
        );
        assert!(
            agree_ok >= 4 && agree_err >= 150 && stricter >= 5,
            "{}",
            alg.name
        );
        assert_eq!(ed25519_name > 0, alg.name == "EdDSA", "{}", alg.name);
    }
}

//! Issuing and verifying HS256 tokens: a strict compact-JWS verifier on a prepared HMAC key.
//!
//! The order of checks follows RFC 7515 section 5.2 and RFC 8725: size, structure, header,
//! algorithm, MAC, and only then the claims, so nothing an attacker controls is interpreted before
//! the MAC has been checked (apart from the header, which is needed to know the algorithm).
//!
//! This file holds that order ([`KeySet::verify_token`]); each step lives with its concern:
//! `keys` (the HMAC keys, prepared once, and issuing), `parse` (segments, base64url, the header
//! and the claims read into borrowed values), `flat` (the fast path for flat claims objects),
//! `validate` (the claim rules) and `claims` (the verified [`Claims`] handed to handlers).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::TokenError;
use crate::keys::{Algorithm, PublicKeys, VerifyingKey};

mod claims;
mod flat;
mod keys;
mod parse;
mod validate;

pub(crate) use claims::UserId;
pub use claims::{Claims, TokenKind};
pub(crate) use flat::skip_ws;
pub(crate) use keys::{Issue, KeySet, Signer, issue};
pub(crate) use parse::{Spot, noted};
pub(crate) use validate::{Rules, valid_user_id, whole_secs};

use parse::{b64_decode, decode_header, parse_claims, split};

/// The header every issued token carries, `{"alg":"HS256","typ":"JWT"}`, as PyJWT writes it.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// Headers meaning "HS256, no `kid`, no `crit`", in the encodings that this crate and PyJWT
/// (`{"alg":"HS256","typ":"JWT"}`), jsonwebtoken (`{"typ":"JWT","alg":"HS256"}`) and minimal
/// issuers (`{"alg":"HS256"}`) write. Any other header is decoded and parsed.
const KNOWN_HEADERS: [&str; 3] = [
    HEADER_B64,
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJIUzI1NiJ9",
];
/// The claims this crate itself reads or writes besides the user id claim, which therefore cannot
/// be the user id claim: `exp`, `iat`, `nbf`, `iss`, `aud` and `jti` (RFC 7519 section 4.1),
/// `sid` (the session a token belongs to, OpenID Connect's registered claim) and `type` (access
/// or refresh, see [`TokenKind`]).
pub(crate) const CRATE_CLAIMS: [&str; 8] =
    ["exp", "iat", "nbf", "iss", "aud", "jti", "sid", "type"];
/// The longest token accepted, in bytes; longer ones are refused before any decoding, and
/// never issued.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// An HS256 MAC is 32 bytes, 43 characters of unpadded base64url.
const MAC_LEN: usize = 32;
const MAC_B64_LEN: usize = 43;
/// Decoded claims up to this size stay on the stack.
const STACK_BUF: usize = 512;

/// The keys a verifier checks signatures with: the HS256 keys, if it holds the secret, and the
/// public keys (ES256, EdDSA, RS256), each pinned to its algorithm and named by its `kid`.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) hmac: Option<KeySet>,
    pub(crate) public: PublicKeys,
}

/// The longest signature read, in bytes: an RS256 signature under an 8192-bit key.
const MAX_SIGNATURE_LEN: usize = 1024;

impl Keys {
    /// Step 8 for every `alg` but HS256: `known`, the key whose own header the token carries,
    /// else the public key the `kid` names, of that algorithm. Out of line, so that the HS256
    /// path stays as short as it was.
    #[inline(never)]
    fn verify_public(
        &self,
        alg: &str,
        kid: Option<&str>,
        known: Option<&VerifyingKey>,
        parts: &parse::Parts<'_>,
    ) -> Result<(), TokenError> {
        let algorithm = Algorithm::from_header(alg).ok_or(TokenError::WrongAlgorithm)?;
        let mut signature = [0u8; MAX_SIGNATURE_LEN];
        let len = URL_SAFE_NO_PAD
            .decode_slice(parts.signature, &mut signature)
            .map_err(|_| TokenError::BadSignature)?;
        let signature = &signature[..len];
        match known {
            Some(key) if key.verify(parts.signing_input, signature) => Ok(()),
            Some(_) => Err(TokenError::BadSignature),
            None => self
                .public
                .verify(algorithm, kid, parts.signing_input, signature),
        }
    }

    /// Verifies a compact JWS and its claims at time `now` (seconds since the epoch).
    pub(crate) fn verify_token(
        &self,
        rules: &Rules,
        token: &[u8],
        now: u64,
    ) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        let parts = split(token)?;

        // RFC 7515 section 5.2 steps 2-5 and RFC 8725 section 3.1: the header, and the algorithm
        // pinned to the key, before any key is used. The HS256 headers that this crate, PyJWT and
        // jsonwebtoken write are known byte for byte: no need to decode and parse them again.
        let mut header_heap = Vec::new();
        let parsed;
        let mut known_key = None;
        let (alg, kid) = match &self.hmac {
            Some(_) if KNOWN_HEADERS.iter().any(|h| h.as_bytes() == parts.header) => {
                ("HS256", None)
            }
            Some(hmac) if parts.header == hmac.header_b64.as_bytes() => {
                ("HS256", hmac.current_kid.as_deref())
            }
            // The header a public key's tokens carry when this crate signs them is known too.
            _ => match self.public.with_header(parts.header) {
                // Verified with this very key in step 8: no `kid` to look up.
                Some(key) => {
                    let alg = key.algorithm().as_str();
                    known_key = Some(key);
                    (alg, None)
                }
                None => {
                    parsed = decode_header(parts.header, &mut header_heap)?;
                    let Some(parse::Value::Str(alg)) = &parsed.alg else {
                        unreachable!("parse_header refuses a header without a string `alg`")
                    };
                    (&**alg, parsed.kid.as_deref())
                }
            },
        };

        // Steps 6-7: the payload and the signature must be strict base64url too.
        let mut claims_stack = [0u8; STACK_BUF];
        let mut claims_heap = Vec::new();
        let raw = b64_decode(parts.claims, &mut claims_stack, &mut claims_heap)
            .ok_or(TokenError::Malformed)?;

        // Step 8: the signature, with a key of the header's algorithm only.
        if alg == "HS256" {
            let hmac = self.hmac.as_ref().ok_or(TokenError::WrongAlgorithm)?;
            // Into exactly 32 bytes: any other length of signature does not fit, or falls short.
            let mut tag = [0u8; MAC_LEN];
            if URL_SAFE_NO_PAD.decode_slice(parts.signature, &mut tag) != Ok(MAC_LEN) {
                return Err(TokenError::BadSignature);
            }
            // Compared in constant time.
            if !hmac.verify(kid, parts.signing_input, &tag) {
                return Err(TokenError::BadSignature);
            }
        } else {
            self.verify_public(alg, kid, known_key.as_ref(), &parts)?;
        }

        // RFC 7519 section 7.2 steps 9-10: only now are the claims read; a JSON object.
        // RFC 7519 section 7.2 step 10 / RFC 8259 section 8.1: UTF-8 throughout, members this
        // crate skips included (serde_json does not check what it skips).
        let text = std::str::from_utf8(raw).map_err(|_| TokenError::InvalidClaims)?;
        // The claims tokens usually carry take the fast path; anything else goes to serde_json.
        let claims = match flat::parse(text, &rules.user_id_claim) {
            Some(claims) => claims,
            None => parse_claims(text, &rules.user_id_claim)?,
        };
        let has_extra = claims.has_extra;
        let mut claims = claims.validate(rules, now)?;
        if has_extra {
            claims.raw = Some(raw.into());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The fast path must mean exactly what parsing would: pin the known encodings.
    #[test]
    fn known_headers_are_what_they_claim_to_be() {
        let decoded: Vec<serde_json::Value> = super::KNOWN_HEADERS
            .iter()
            .map(|h| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap())
            .collect();
        assert_eq!(
            decoded,
            [
                serde_json::json!({"alg": "HS256", "typ": "JWT"}),
                serde_json::json!({"typ": "JWT", "alg": "HS256"}),
                serde_json::json!({"alg": "HS256"}),
            ]
        );
        // The header issued without a `kid` is the first of them, PyJWT's.
        assert_eq!(crate::keys::header_b64("HS256", None), super::HEADER_B64);
        for h in super::KNOWN_HEADERS {
            assert!(super::parse::parse_header(&URL_SAFE_NO_PAD.decode(h).unwrap()).is_ok());
        }
    }
}

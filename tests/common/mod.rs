//! Helpers shared by the integration tests: hand-made tokens with any header and claims.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SECRET: &str = "integration-test-secret-of-32+-bytes";
pub const NOW: u64 = 1_700_000_000;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `input` under `secret`, base64url.
pub fn mac(secret: &[u8], input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// A compact JWS of exactly these header and payload bytes, MACed with HS256 under `secret`
/// (whatever the header says).
pub fn sign_raw(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = mac(secret, &input);
    format!("{input}.{sig}")
}

/// A token with the standard header and these claims (a JSON text), signed with [`SECRET`].
pub fn sign_claims(claims: &str) -> String {
    sign_raw(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        claims.as_bytes(),
        SECRET.as_bytes(),
    )
}

/// Decodes a base64url segment.
pub fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

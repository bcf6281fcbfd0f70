//! The references that `benches/decode.rs` times and `loadtest/src/bin/loadtest_app.rs` serves
//! next to the layer: the verify floor, written plainly, and the claims jsonwebtoken decodes. One
//! copy, so that the bench and the load test measure the very same code.
//!
//! Part of the tests' support module (`support::reference`); included on its own with
//! `#[path = "../tests/support/reference.rs"] mod reference;` from `benches/` and
//! `#[path = "../../../tests/support/reference.rs"] mod reference;` from `loadtest/src/bin/`.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Deserialize)]
struct FloorHeader<'a> {
    alg: &'a str,
}

#[derive(Deserialize)]
struct FloorClaims<'a> {
    exp: u64,
    user_id: &'a str,
}

/// The floor: the least work any HS256 verifier must do. Split at the dots, base64url into stack
/// buffers, the MAC from a key state prepared once (`mac`), the header and the claims parsed into
/// borrowed structs, `exp` against the clock. Returns the length of the user id (a stand-in for
/// the user id itself, so that the floor does not count a copy of it).
pub fn floor(mac: &Hmac<Sha256>, token: &[u8]) -> Option<usize> {
    let first = token.iter().position(|b| *b == b'.')?;
    let second = first + 1 + token[first + 1..].iter().position(|b| *b == b'.')?;
    let (header_b64, claims_b64, sig_b64) = (
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    );

    let mut header = [0u8; 512];
    let mut claims = [0u8; 512];
    let mut sig = [0u8; 35];
    let header_len = URL_SAFE_NO_PAD.decode_slice(header_b64, &mut header).ok()?;
    let claims_len = URL_SAFE_NO_PAD.decode_slice(claims_b64, &mut claims).ok()?;
    let sig_len = URL_SAFE_NO_PAD.decode_slice(sig_b64, &mut sig).ok()?;

    let mut mac = mac.clone();
    mac.update(&token[..second]);
    mac.verify_slice(&sig[..sig_len]).ok()?;

    let header: FloorHeader<'_> = serde_json::from_slice(&header[..header_len]).ok()?;
    if header.alg != "HS256" {
        return None;
    }
    let claims: FloorClaims<'_> = serde_json::from_slice(&claims[..claims_len]).ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    (claims.exp > now).then_some(claims.user_id.len())
}

/// The claims as jsonwebtoken decodes them.
#[derive(Deserialize)]
pub struct JwtClaims {
    pub exp: u64,
    pub iat: u64,
    pub user_id: String,
}

/// Serialized in the order the crate writes them: `{"exp":..,"iat":..,"user_id":".."}`.
#[derive(Serialize)]
pub struct JwtClaimsRef<'a> {
    pub exp: u64,
    pub iat: u64,
    pub user_id: &'a str,
}

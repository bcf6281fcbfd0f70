//! Hostile input: every token and header shape an attacker can send, each case citing the RFC
//! section it exercises; then the faults a deployment meets (a failing, panicking or hanging
//! loader, a moving clock). One test binary, a module per kind:
//!
//! - `tokens`: the compact JWS itself: algorithm attacks, structure and base64url, the JSON of
//!   the header and the claims, the signature, the header parameters (`alg`, `kid`, `crit`).
//! - `claims`: the registered claims and the user id.
//! - `headers`: the `Authorization` header, through the layer.
//! - `faults`: the loader fails, panics or hangs; the clock moves.
//!
//! This file holds what they share: hand-made tokens and the cases checked against
//! `decode_token`, then the loader, the inner service and the requests of the layer's tests.
//!
//! The MAC comparison itself is constant-time by construction (`Key::verify` in
//! `src/token/keys.rs` checks the tag with the `hmac` crate's `Mac::verify_slice`, a
//! constant-time comparison backed by `subtle`); timing is not measurable in a unit test, so only
//! its correctness is covered here.

#[path = "../support/mod.rs"]
mod support;

mod claims;
mod faults;
mod headers;
mod tokens;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http::{HeaderValue, Request, Response, header};
use http_body_util::{Empty, Full};
use support::{InMemory, NOW, SECRET, b64, mac, manager, sign_raw};
use tower_login_manager::{LoginManager, TokenError, UserLoader};

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Valid claims for user "1", with `extra` members appended (`,"k":v`).
fn claims(extra: &str) -> String {
    format!(r#"{{"exp":{},"user_id":"1"{extra}}}"#, NOW + 60)
}

/// A token of exactly these header and claims texts, MACed with HS256 under [`SECRET`].
fn token(header: &str, claims: &str) -> String {
    sign_raw(header.as_bytes(), claims.as_bytes(), SECRET.as_bytes())
}

fn valid() -> String {
    token(HEADER, &claims(""))
}

/// `header_b64.claims_b64.<correct MAC of that text>`: for segments that are not what
/// [`b64`] would write (padding, another alphabet, whitespace...).
fn resign(header_b64: &str, claims_b64: &str) -> String {
    let input = format!("{header_b64}.{claims_b64}");
    let sig = mac(SECRET.as_bytes(), &input);
    format!("{input}.{sig}")
}

fn mac_with<M: Mac + KeyInit>(input: &str) -> String {
    let mut m = <M as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(input.as_bytes());
    b64(&m.finalize().into_bytes())
}

/// A token whose MAC is computed with `M` (another hash) over the usual signing input.
fn token_mac<M: Mac + KeyInit>(header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let sig = mac_with::<M>(&input);
    format!("{input}.{sig}")
}

/// Sets an unused low bit of the last character of an unpadded base64url segment whose length
/// is not a multiple of 4: the same bytes, spelled non-canonically (RFC 4648 section 3.5).
fn noncanonical(segment: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_ne!(segment.len() % 4, 0, "{segment}: no unused bits");
    let last = *segment.as_bytes().last().unwrap();
    let index = ALPHABET.iter().position(|c| *c == last).unwrap();
    assert_eq!(index & 1, 0, "{segment}: not canonical already");
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(ALPHABET[index | 1] as char);
    out
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    let t = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none());
    t
}

struct Case {
    name: &'static str,
    token: String,
    want: Result<&'static str, TokenError>,
}

fn check(cases: Vec<Case>) {
    check_with(&manager(), cases);
}

fn check_with(m: &LoginManager, cases: Vec<Case>) {
    for case in cases {
        let got = m.decode_token(&case.token);
        let got = got.as_ref().map(|c| c.user_id()).map_err(|e| *e);
        assert_eq!(got, case.want, "{}", case.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Through the layer: the answers, the users, the inner service and the requests of `headers`
// and `faults`.
// ---------------------------------------------------------------------------------------------

const LOGIN: &str = r#"{"status":401,"message":"You need to login"}"#;
const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;
const EXPIRED: &str =
    r#"{"status":401,"message":"Expired token. Please login to get a new token"}"#;
const NOT_FOUND: &str = r#"{"status":401,"message":"User not found. Please register or login"}"#;
const AMBIGUOUS: &str = r#"{"status":400,"message":"Send exactly one Authorization header"}"#;
const INTERNAL: &str = r#"{"status":500,"message":"Internal server error"}"#;

#[derive(Clone, Debug, PartialEq)]
struct User(String);

/// Users "1" and "2" exist; "500" makes the store fail; "panic" makes the loader panic.
fn loader() -> impl UserLoader<User = User> {
    InMemory::new()
        .user("1", User("1".into()))
        .user("2", User("2".into()))
        .fails("500", "db down")
        .panics("panic", "the loader panicked")
}

async fn echo(req: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = req.extensions().get::<User>().map(|u| u.0.clone());
    let body = format!("hello {}", user.as_deref().unwrap_or("nobody"));
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn issue(user_id: &str) -> String {
    manager()
        .issue_token(user_id, Duration::from_secs(3600))
        .unwrap()
}

fn request(values: Vec<HeaderValue>) -> Request<Empty<Bytes>> {
    let mut req = Request::get("/me").body(Empty::new()).unwrap();
    for v in values {
        req.headers_mut().append(header::AUTHORIZATION, v);
    }
    req
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

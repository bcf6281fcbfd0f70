//! Properties over generated inputs (proptest): what `issue_token` writes, `decode_token` reads
//! back; no single-byte change of a token survives, whether it reaches `decode_token` or the
//! layer.

mod support;

// Polls a future that must be ready at once: every future here is (the loader's and a `Ready`
// inner service).
use support::in_memory::now_or_never as now;

use std::convert::Infallible;
use std::future::ready;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use proptest::prelude::*;
use proptest::sample::Index;
use support::{InMemory, NOW, SECRET, manager, sign_raw};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, TokenError};

const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // No regression files in the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A user id `issue_token` accepts: a non-empty string without control characters, up to 600
/// characters (past the verifier's 512-byte stack buffer).
fn user_id() -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_filter("no control characters", |c| !c.is_control()),
        1..600,
    )
    .prop_map(String::from_iter)
}

/// Every id is a user, named by its id.
fn everyone() -> InMemory<String> {
    InMemory::new().others(|id| Some(id.to_owned()))
}

/// Sends `Authorization: <value>` through the layer; the status and the body.
fn send(value: HeaderValue) -> (StatusCode, Bytes) {
    let svc =
        LoginLayer::new(manager(), everyone()).layer(service_fn(|req: Request<Empty<Bytes>>| {
            let user = req
                .extensions()
                .get::<String>()
                .cloned()
                .unwrap_or_default();
            ready(Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                user,
            )))))
        }));
    let mut req = Request::get("/").body(Empty::new()).unwrap();
    req.headers_mut().insert(header::AUTHORIZATION, value);
    let res = now(svc.oneshot(req)).unwrap();
    let status = res.status();
    let body = now(res.into_body().collect()).unwrap().to_bytes();
    (status, body)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn issued_tokens_round_trip(id in user_id(), ttl in 1u64..=1_000_000_000) {
        let m = manager();
        let token = m.issue_token(&id, Duration::from_secs(ttl)).unwrap();
        let claims = m.decode_token(&token).unwrap();
        prop_assert_eq!(claims.user_id(), id.as_str());
        prop_assert_eq!(claims.expires_at(), NOW + ttl);
        prop_assert_eq!(claims.issued_at(), Some(NOW));
        // And through the layer: the loader receives the same id.
        let (status, body) = send(HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        prop_assert_eq!(status, StatusCode::OK);
        prop_assert_eq!(body, Bytes::from(id));
    }

    /// RFC 7515 section 5.2 step 8: the MAC covers every byte of the signing input, and the
    /// strict base64url of the MAC leaves no byte of the signature free either.
    #[test]
    fn any_single_byte_change_is_rejected(
        id in user_id(),
        ttl in 1u64..=1_000_000_000,
        at in any::<Index>(),
        delta in 1u8..=255,
    ) {
        let m = manager();
        let token = m.issue_token(&id, Duration::from_secs(ttl)).unwrap().into_bytes();
        let mut tampered = token.clone();
        let i = at.index(tampered.len());
        tampered[i] = tampered[i].wrapping_add(delta);
        prop_assert_ne!(&tampered, &token);

        // Every changed byte is checked on at least one of the two paths: control bytes cannot
        // be sent in a header, and bytes 0x80-0xFF alone are not UTF-8.
        let mut checked = false;
        if let Ok(text) = std::str::from_utf8(&tampered) {
            let err = m.decode_token(text).unwrap_err();
            prop_assert!(err != TokenError::Expired, "{err:?}");
            checked = true;
        }
        if let Ok(value) = HeaderValue::from_bytes(&[b"Bearer ".as_slice(), &tampered].concat()) {
            let (status, body) = send(value);
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
            prop_assert_eq!(body, INVALID);
            checked = true;
        }
        prop_assert!(checked, "byte {:#04x} at {i} reached neither path", tampered[i]);
    }

    /// Random compact-JWS-shaped strings never decode (and never panic). Garbage only: the
    /// MAC and the claims checks are put to the test by `signed_random_claims_match_the_oracle`.
    #[test]
    fn random_three_segment_strings_are_refused(
        token in "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,50}",
    ) {
        prop_assert!(manager().decode_token(&token).is_err());
    }

    /// Random claims, valid or not, MACed with HS256 here (not by the crate), under the right
    /// key and under a wrong one: the wrong key's token is always `BadSignature`, whatever its
    /// claims; the right key's is accepted exactly when the oracle finds its claims valid, with
    /// those claims, and otherwise refused for one of the oracle's reasons.
    #[test]
    fn signed_random_claims_match_the_oracle(
        claims in random_claims(),
        order in Just((0..16).collect::<Vec<usize>>()).prop_shuffle(),
        wrong_key in wrong_key(),
    ) {
        let json = claims.json(&order);
        let m = manager();

        let forged = sign_raw(HS256_HEADER, json.as_bytes(), &wrong_key);
        prop_assert_eq!(m.decode_token(&forged).map(|_| ()), Err(TokenError::BadSignature), "{}", json);

        let signed = sign_raw(HS256_HEADER, json.as_bytes(), SECRET.as_bytes());
        let reasons = claims.reasons();
        match m.decode_token(&signed) {
            Ok(got) => {
                prop_assert!(reasons.is_empty(), "accepted, but the oracle says {reasons:?}: {json}");
                let Some(Member::Date(exp)) = &claims.exp else { unreachable!("valid claims have exp") };
                let Some(Member::Str(id)) = &claims.user_id else { unreachable!("and a user id") };
                prop_assert_eq!(got.user_id(), id.as_str());
                prop_assert_eq!(got.expires_at(), *exp);
                prop_assert_eq!(got.issued_at(), claims.iat.as_ref().and_then(Member::date));
                prop_assert_eq!(got.not_before(), claims.nbf.as_ref().and_then(Member::date));
            }
            Err(e) => {
                prop_assert!(reasons.contains(&e), "refused ({e:?}), but the oracle says {reasons:?}: {json}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle of `signed_random_claims_match_the_oracle`: the default rules (no leeway, no issuer,
// no audience), the clock at `NOW`.

const HS256_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// A claim's value: a NumericDate, a string, or another JSON value.
#[derive(Clone, Debug)]
enum Member {
    Date(u64),
    Str(String),
    Other(serde_json::Value),
}

impl Member {
    fn date(&self) -> Option<u64> {
        match self {
            Member::Date(t) => Some(*t),
            _ => None,
        }
    }

    fn json(&self) -> String {
        match self {
            Member::Date(t) => t.to_string(),
            Member::Str(s) => serde_json::Value::from(s.as_str()).to_string(),
            Member::Other(v) => v.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
struct RandomClaims {
    exp: Option<Member>,
    nbf: Option<Member>,
    iat: Option<Member>,
    user_id: Option<Member>,
    /// Members no rule reads (`x_` names, each once).
    extra: Vec<(String, serde_json::Value)>,
}

impl RandomClaims {
    /// The JSON object, its members in the order `order` gives (a permutation of 0..16; there
    /// are at most 9 members).
    fn json(&self, order: &[usize]) -> String {
        let mut members: Vec<String> = [
            ("exp", &self.exp),
            ("nbf", &self.nbf),
            ("iat", &self.iat),
            ("user_id", &self.user_id),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| format!(r#""{name}":{}"#, v.json())))
        .collect();
        members.extend(
            self.extra
                .iter()
                .map(|(name, v)| format!(r#""{name}":{v}"#)),
        );
        let ordered: Vec<&str> = order
            .iter()
            .filter_map(|&i| members.get(i).map(String::as_str))
            .collect();
        format!("{{{}}}", ordered.join(","))
    }

    /// Why these claims must be refused (RFC 7519 section 4.1 and the crate's rules): each
    /// refusal the crate may give. Empty when the claims are valid.
    fn reasons(&self) -> Vec<TokenError> {
        let mut reasons = Vec::new();
        match &self.exp {
            None => reasons.push(TokenError::MissingClaim("exp")),
            Some(Member::Date(exp)) if *exp > NOW => {}
            Some(Member::Date(_)) => reasons.push(TokenError::Expired),
            Some(_) => reasons.push(TokenError::InvalidClaim("exp")),
        }
        for (name, claim) in [("nbf", &self.nbf), ("iat", &self.iat)] {
            match claim {
                None => {}
                Some(Member::Date(t)) if *t <= NOW => {}
                Some(Member::Date(_)) => reasons.push(TokenError::NotYetValid),
                Some(_) => reasons.push(TokenError::InvalidClaim(name)),
            }
        }
        match &self.user_id {
            None => reasons.push(TokenError::MissingClaim("user id")),
            Some(Member::Str(id)) if !id.is_empty() && !id.chars().any(char::is_control) => {}
            Some(_) => reasons.push(TokenError::InvalidClaim("user id")),
        }
        reasons
    }
}

/// A JSON value that is neither a number nor a string.
fn other_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        prop::collection::vec(any::<i32>(), 0..3).prop_map(serde_json::Value::from),
        Just(serde_json::json!({"a": 1})),
    ]
}

/// A time claim: mostly a NumericDate around `NOW` (both sides, `NOW` itself and its
/// neighbours included), else a string or another JSON value.
fn date_member() -> impl Strategy<Value = Member> {
    prop_oneof![
        8 => (NOW - 1_000_000..=NOW + 1_000_000).prop_map(Member::Date),
        3 => (NOW - 1..=NOW + 1).prop_map(Member::Date),
        1 => (0..=u64::MAX).prop_map(Member::Date),
        1 => (NOW - 10..NOW + 10).prop_map(|t| Member::Str(t.to_string())),
        1 => other_value().prop_map(Member::Other),
    ]
}

/// A user id: mostly a valid one; else empty, with a control character, or not a string.
fn user_id_member() -> impl Strategy<Value = Member> {
    prop_oneof![
        8 => "[^\\p{Cc}]{1,20}".prop_map(Member::Str),
        1 => Just(Member::Str(String::new())),
        1 => "[a-z]{0,3}[\\x00-\\x1f\\x7f][a-z]{0,3}".prop_map(Member::Str),
        1 => (0..1000u64).prop_map(Member::Date),
        1 => other_value().prop_map(Member::Other),
    ]
}

/// A JSON value of any kind, for the members no rule reads.
fn any_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        "[^\\p{Cc}]{0,10}".prop_map(serde_json::Value::from),
        other_value(),
    ]
}

fn random_claims() -> impl Strategy<Value = RandomClaims> {
    (
        prop::option::weighted(0.9, date_member()),
        prop::option::weighted(0.3, date_member()),
        prop::option::weighted(0.5, date_member()),
        prop::option::weighted(0.9, user_id_member()),
        prop::collection::btree_map("x_[a-z]{1,6}", any_value(), 0..=5),
    )
        .prop_map(|(exp, nbf, iat, user_id, extra)| RandomClaims {
            exp,
            nbf,
            iat,
            user_id,
            extra: extra.into_iter().collect(),
        })
}

/// A key that is not [`SECRET`]: random, or `SECRET` with one byte changed.
fn wrong_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 32..80),
        (any::<Index>(), 1u8..=255).prop_map(|(at, delta)| {
            let mut key = SECRET.as_bytes().to_vec();
            let i = at.index(key.len());
            key[i] = key[i].wrapping_add(delta);
            key
        }),
    ]
    .prop_filter("not the right key", |key| key != SECRET.as_bytes())
}

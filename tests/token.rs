//! `LoginManager`: issuing, verifying, and every validation rule, each citing its RFC.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{NOW, SECRET, manager, sign_claims, sign_raw, unb64};
use tower_login_manager::{ConfigError, LoginManager, TokenError};

fn decode(token: &str) -> Result<String, TokenError> {
    manager()
        .decode_token(token)
        .map(|c| c.user_id().to_owned())
}

/// The Flask original's claims, and a `jti` (RFC 7519 section 4.1.7) so that any token can be
/// revoked: 16 random bytes, base64url. PyJWT ignores it (tests/interop.rs).
#[test]
fn issued_tokens_have_the_flask_claim_set_and_a_token_id() {
    let token = manager()
        .issue_token("42", Duration::from_secs(30 * 60))
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&unb64(parts[0])).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let mut claims: Value = serde_json::from_slice(&unb64(parts[1])).unwrap();
    let jti = claims.as_object_mut().unwrap().remove("jti").unwrap();
    assert_eq!(unb64(jti.as_str().unwrap()).len(), 16);
    assert_eq!(
        claims,
        json!({"exp": NOW + 30 * 60, "iat": NOW, "user_id": "42"})
    );
    // The MAC is HMAC-SHA256 of the signing input under the secret (RFC 7518 section 3.2).
    assert_eq!(
        parts[2],
        support::mac(SECRET.as_bytes(), &format!("{}.{}", parts[0], parts[1]))
    );
    assert_eq!(decode(&token), Ok("42".into()));
}

/// The original's `get_token_for(user)`: `str(user.id)` and sixty minutes, the default access
/// lifetime.
#[test]
fn get_token_for_is_issue_token_with_str_of_the_id_and_sixty_minutes() {
    struct User {
        id: i64,
    }
    let m = manager();
    let user = User { id: 7 };
    let claims = m
        .decode_token(
            &m.issue_token(&user.id.to_string(), Duration::from_secs(3600))
                .unwrap(),
        )
        .unwrap();
    assert_eq!(claims.user_id(), "7");
    assert_eq!(claims.expires_at(), NOW + 3600);
    assert_eq!(claims.issued_at(), Some(NOW));
    assert_eq!(claims.not_before(), None);
    // The default access lifetime is the original's sixty minutes.
    let pair = m.issue_token_pair("7").unwrap();
    assert_eq!(pair.expires_in, 3600);
    let access = m.decode_token(&pair.access_token).unwrap();
    assert_eq!(access.expires_at(), NOW + 3600);
}

#[test]
fn a_tampered_signature_is_refused_so_verification_really_runs() {
    let token = manager().issue_token("1", Duration::from_secs(60)).unwrap();
    let mut tampered = token.into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(decode(&tampered), Err(TokenError::BadSignature));
}

#[test]
fn rfc7518_section3_2_secrets_shorter_than_32_bytes_are_refused() {
    let err = LoginManager::new([7u8; 31]).unwrap_err();
    assert_eq!(err, ConfigError::SecretTooShort { len: 31 });
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    assert!(LoginManager::new([7u8; 32]).is_ok());
}

#[test]
fn the_secret_never_appears_in_debug_output() {
    let secret = "a-very-recognisable-secret-value-0123456789";
    let m = LoginManager::new(secret).unwrap();
    let builder = LoginManager::builder(secret);
    for text in [format!("{m:?}"), format!("{m:#?}"), format!("{builder:?}")] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

#[test]
fn rfc7519_section4_1_4_exp_is_exclusive_and_leeway_extends_it() {
    struct Case {
        name: &'static str,
        exp: u64,
        leeway: u64,
        want: Result<(), TokenError>,
    }
    let cases = [
        Case {
            name: "one second left",
            exp: NOW + 1,
            leeway: 0,
            want: Ok(()),
        },
        Case {
            name: "exp == now is expired",
            exp: NOW,
            leeway: 0,
            want: Err(TokenError::Expired),
        },
        Case {
            name: "long gone",
            exp: 1,
            leeway: 0,
            want: Err(TokenError::Expired),
        },
        Case {
            name: "zero",
            exp: 0,
            leeway: 0,
            want: Err(TokenError::Expired),
        },
        Case {
            name: "within leeway",
            exp: NOW - 10,
            leeway: 11,
            want: Ok(()),
        },
        Case {
            name: "at leeway's edge (PyJWT: exp <= now - leeway)",
            exp: NOW - 10,
            leeway: 10,
            want: Err(TokenError::Expired),
        },
        Case {
            name: "u64::MAX is the far future",
            exp: u64::MAX,
            leeway: 5,
            want: Ok(()),
        },
    ];
    for case in cases {
        let m = LoginManager::builder(SECRET)
            .clock(|| NOW)
            .leeway(Duration::from_secs(case.leeway))
            .build()
            .unwrap();
        let token = sign_claims(&format!(r#"{{"exp":{},"user_id":"1"}}"#, case.exp));
        assert_eq!(
            m.decode_token(&token).map(|_| ()),
            case.want,
            "{}",
            case.name
        );
    }
}

#[test]
fn rfc7519_section4_1_5_nbf_and_future_iat_with_symmetric_leeway() {
    let strict = manager();
    let lenient = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    let exp = NOW + 3600;
    for (claim, at, strict_want, lenient_want) in [
        ("nbf", NOW, Ok(()), Ok(())),
        ("nbf", NOW + 1, Err(TokenError::NotYetValid), Ok(())),
        ("nbf", NOW + 30, Err(TokenError::NotYetValid), Ok(())),
        (
            "nbf",
            NOW + 31,
            Err(TokenError::NotYetValid),
            Err(TokenError::NotYetValid),
        ),
        // An `iat` in the future is refused like a future `nbf`, as PyJWT does.
        ("iat", NOW + 1, Err(TokenError::NotYetValid), Ok(())),
        (
            "iat",
            NOW + 31,
            Err(TokenError::NotYetValid),
            Err(TokenError::NotYetValid),
        ),
        ("iat", 0, Ok(()), Ok(())),
    ] {
        let token = sign_claims(&format!(r#"{{"exp":{exp},"{claim}":{at},"user_id":"1"}}"#));
        assert_eq!(
            strict.decode_token(&token).map(|_| ()),
            strict_want,
            "{claim}={at}"
        );
        if let Ok(claims) = lenient.decode_token(&token) {
            let read = if claim == "nbf" {
                claims.not_before()
            } else {
                claims.issued_at()
            };
            assert_eq!(read, Some(at), "{claim}={at} read back");
        }
        assert_eq!(
            lenient.decode_token(&token).map(|_| ()),
            lenient_want,
            "{claim}={at} leeway"
        );
    }
}

#[test]
fn numeric_dates_accept_integers_and_fractions_only() {
    let cases = [
        (r#"{"exp":1700003600.5,"user_id":"1"}"#, Ok("1".to_owned())),
        // Past u64::MAX: refused, as jsonwebtoken (the reference) refuses it (the fuzz target).
        (
            r#"{"exp":1e300,"user_id":"1"}"#,
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            r#"{"exp":18446744073709551615,"user_id":"1"}"#,
            Ok("1".to_owned()),
        ),
        (
            r#"{"exp":1700003600,"nbf":18446744073709551616,"user_id":"1"}"#,
            Err(TokenError::InvalidClaim("nbf")),
        ),
        (r#"{"exp":-1,"user_id":"1"}"#, Err(TokenError::Expired)),
        (
            r#"{"exp":"1700003600","user_id":"1"}"#,
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            r#"{"exp":null,"user_id":"1"}"#,
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            r#"{"exp":true,"user_id":"1"}"#,
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            r#"{"exp":1e400,"user_id":"1"}"#,
            Err(TokenError::InvalidClaims),
        ),
        (
            r#"{"exp":1700003600,"nbf":"soon","user_id":"1"}"#,
            Err(TokenError::InvalidClaim("nbf")),
        ),
        (
            r#"{"exp":1700003600,"iat":[1],"user_id":"1"}"#,
            Err(TokenError::InvalidClaim("iat")),
        ),
    ];
    for (claims, want) in cases {
        assert_eq!(decode(&sign_claims(claims)), want, "{claims}");
    }
    // RFC 7519 section 2: a negative date is before the epoch, never the epoch itself: however
    // large the leeway, `exp` -0.5 is expired while `exp` 0 is not.
    let lenient = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .leeway(Duration::from_secs(u64::MAX / 2))
        .build()
        .unwrap();
    for (exp, want) in [
        ("0", Ok("1")),
        ("0.0", Ok("1")),
        ("-0.5", Err(TokenError::Expired)),
        ("-1", Err(TokenError::Expired)),
    ] {
        let token = sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1"}}"#));
        let got = lenient.decode_token(&token);
        assert_eq!(
            got.as_ref().map(|c| c.user_id()).map_err(|e| *e),
            want,
            "exp {exp}"
        );
    }
    // `nbf` and `iat` before the epoch are read as the epoch.
    let token = sign_claims(&format!(
        r#"{{"exp":{},"nbf":-3.5,"iat":-7,"user_id":"1"}}"#,
        NOW + 60
    ));
    let claims = manager().decode_token(&token).unwrap();
    assert_eq!(
        (claims.not_before(), claims.issued_at()),
        (Some(0), Some(0))
    );
}

/// `Claims` and the manager show what a log needs and never a secret or a token.
#[test]
fn debug_output_names_the_claims_and_the_keys_never_the_secret() {
    let m = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .key_id("k1")
        .previous_key(Some("k0"), "a former secret of thirty-two bytes or more")
        .build()
        .unwrap();
    let claims = m
        .decode_token(&m.issue_token("7", Duration::from_secs(60)).unwrap())
        .unwrap();
    let jti = claims.revocation().token_id().unwrap().to_owned();
    assert_eq!(
        format!("{claims:?}"),
        format!(
            "Claims {{ user_id: \"7\", exp: {}, iat: Some({NOW}), nbf: None, \
             jti: Some({jti:?}), sid: None, kind: Access, refused_from: {}, extra: false, \
             location: None }}",
            NOW + 60,
            NOW + 60
        )
    );
    let debug = format!("{m:?}");
    assert!(
        debug.contains(r#"keys: KeySet { current_kid: Some("k1"), previous: 1, .. }"#),
        "{debug}"
    );
    assert!(
        !debug.contains(SECRET) && !debug.contains("former"),
        "{debug}"
    );
}

#[test]
fn exp_is_required() {
    let token = sign_claims(r#"{"user_id":"1"}"#);
    assert_eq!(decode(&token), Err(TokenError::MissingClaim("exp")));
    let expired = sign_claims(&format!(r#"{{"exp":{NOW},"user_id":"1"}}"#));
    assert_eq!(decode(&expired), Err(TokenError::Expired));
}

#[test]
fn the_user_id_is_a_non_empty_string() {
    let exp = NOW + 60;
    let cases = [
        (
            format!(r#"{{"exp":{exp},"user_id":"42"}}"#),
            Ok("42".to_owned()),
        ),
        (
            format!(r#"{{"exp":{exp},"user_id":"caf\u00e9"}}"#),
            Ok("café".to_owned()),
        ),
        (
            format!(r#"{{"exp":{exp}}}"#),
            Err(TokenError::MissingClaim("user id")),
        ),
        (
            format!(r#"{{"exp":{exp},"user_id":""}}"#),
            Err(TokenError::InvalidClaim("user id")),
        ),
        // A number is refused: the original always writes str(user.id).
        (
            format!(r#"{{"exp":{exp},"user_id":42}}"#),
            Err(TokenError::InvalidClaim("user id")),
        ),
        (
            format!(r#"{{"exp":{exp},"user_id":null}}"#),
            Err(TokenError::InvalidClaim("user id")),
        ),
        (
            format!(r#"{{"exp":{exp},"user_id":{{"id":"1"}}}}"#),
            Err(TokenError::InvalidClaim("user id")),
        ),
        (
            format!(r#"{{"exp":{exp},"user_id":"1\n2"}}"#),
            Err(TokenError::InvalidClaim("user id")),
        ),
        (
            format!(r#"{{"exp":{exp},"sub":"1"}}"#),
            Err(TokenError::MissingClaim("user id")),
        ),
    ];
    for (claims, want) in cases {
        assert_eq!(decode(&sign_claims(&claims)), want, "{claims}");
    }
    assert_eq!(
        manager().issue_token("", Duration::from_secs(1)),
        Err(TokenError::InvalidClaim("user id"))
    );
}

#[test]
fn rfc7519_section4_1_7_jti_is_a_non_empty_string() {
    let exp = NOW + 60;
    for (jti, want) in [
        (r#""a1""#, Ok(Some("a1".to_owned()))),
        (r#""""#, Err(TokenError::InvalidClaim("jti"))),
        ("7", Err(TokenError::InvalidClaim("jti"))),
        ("null", Err(TokenError::InvalidClaim("jti"))),
    ] {
        let token = sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1","jti":{jti}}}"#));
        let got = manager()
            .decode_token(&token)
            .map(|c| c.revocation().token_id().map(str::to_owned));
        assert_eq!(got, want, "jti {jti}");
    }
}

/// Issue 22: the session a token belongs to (`sid`, OpenID Connect's registered claim) is a
/// non-empty string, as `jti` is; a pair's two tokens share a random 128-bit one, which a
/// refreshed pair keeps and a new login does not.
#[test]
fn sid_is_a_non_empty_string_shared_by_a_pair_and_kept_by_its_refreshes() {
    let exp = NOW + 60;
    for (sid, want) in [
        (r#""s1""#, Ok(Some("s1".to_owned()))),
        (r#""""#, Err(TokenError::InvalidClaim("sid"))),
        ("7", Err(TokenError::InvalidClaim("sid"))),
        ("null", Err(TokenError::InvalidClaim("sid"))),
    ] {
        let token = sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1","sid":{sid}}}"#));
        let got = manager()
            .decode_token(&token)
            .map(|c| c.revocation().session_id().map(str::to_owned));
        assert_eq!(got, want, "sid {sid}");
    }
    let m = manager();
    let sid = |token: &str| {
        let claims = m.decode_token(token).unwrap();
        claims.revocation().session_id().map(str::to_owned)
    };
    let pair = m.issue_token_pair("1").unwrap();
    let first = sid(&pair.access_token).expect("a pair has a session");
    assert_eq!(unb64(&first).len(), 16, "128 random bits");
    assert_eq!(sid(&pair.refresh_token).as_ref(), Some(&first));
    let refreshed = m
        .refresh_token_pair(&m.decode_token(&pair.refresh_token).unwrap())
        .unwrap();
    assert_eq!(sid(&refreshed.access_token).as_ref(), Some(&first));
    assert_eq!(sid(&refreshed.refresh_token).as_ref(), Some(&first));
    let again = m.issue_token_pair("1").unwrap();
    assert_ne!(
        sid(&again.access_token).as_ref(),
        Some(&first),
        "a new login"
    );
    // A single token has no session; refreshing from one starts a new session.
    let single = m.issue_token("1", Duration::from_secs(60)).unwrap();
    assert_eq!(sid(&single), None);
    let from_single = m
        .refresh_token_pair(&m.decode_token(&single).unwrap())
        .unwrap();
    assert!(sid(&from_single.access_token).is_some());
}

#[test]
fn rfc7519_section4_1_2_the_user_id_claim_can_be_sub() {
    let m = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .user_id_claim("sub")
        .build()
        .unwrap();
    let token = m.issue_token("9", Duration::from_secs(60)).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap();
    assert!(claims.as_object_mut().unwrap().remove("jti").is_some());
    assert_eq!(claims, json!({"exp": NOW + 60, "iat": NOW, "sub": "9"}));
    assert_eq!(m.decode_token(&token).unwrap().user_id(), "9");
    let flask = sign_claims(&format!(r#"{{"exp":{},"user_id":"9"}}"#, NOW + 60));
    assert_eq!(
        m.decode_token(&flask),
        Err(TokenError::MissingClaim("user id"))
    );
    // Every claim this crate itself reads or writes: `type` too, which would otherwise be written
    // twice into a token pair and let a refresh token pass an access layer as user "refresh".
    for bad in ["", "exp", "iat", "nbf", "iss", "aud", "jti", "sid", "type"] {
        let err = LoginManager::builder(SECRET)
            .user_id_claim(bad)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InvalidUserIdClaim(bad), "{bad:?}");
        let message = err.to_string();
        if bad.is_empty() {
            assert!(message.contains("empty"), "{message}");
        } else {
            assert!(message.contains(&format!("`{bad}`")), "{message}");
        }
    }
}

#[test]
fn rfc7519_section4_1_3_aud_without_configured_audience_is_refused() {
    let exp = NOW + 60;
    let token = sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1","aud":"orders"}}"#));
    assert_eq!(decode(&token), Err(TokenError::InvalidAudience));
}

#[test]
fn rfc7519_sections4_1_1_and_4_1_3_issuer_and_audience_when_configured() {
    let m = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .issuer("https://auth.example")
        .audience("orders")
        .build()
        .unwrap();
    let exp = NOW + 60;
    let with = |extra: &str| sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1"{extra}}}"#));
    let cases = [
        (
            with(r#","iss":"https://auth.example","aud":"orders""#),
            Ok(()),
        ),
        (
            with(r#","iss":"https://auth.example","aud":["billing","orders"]"#),
            Ok(()),
        ),
        (
            with(r#","iss":"https://auth.example","aud":"billing""#),
            Err(TokenError::InvalidAudience),
        ),
        (
            with(r#","iss":"https://auth.example","aud":[]"#),
            Err(TokenError::InvalidAudience),
        ),
        (
            with(r#","iss":"https://auth.example","aud":["billing"]"#),
            Err(TokenError::InvalidAudience),
        ),
        (
            with(r#","iss":"https://auth.example","aud":7"#),
            Err(TokenError::InvalidClaim("aud")),
        ),
        (
            with(r#","iss":"https://auth.example""#),
            Err(TokenError::MissingClaim("aud")),
        ),
        (
            with(r#","iss":"https://evil.example","aud":"orders""#),
            Err(TokenError::InvalidIssuer),
        ),
        (
            with(r#","aud":"orders""#),
            Err(TokenError::MissingClaim("iss")),
        ),
    ];
    for (token, want) in cases {
        assert_eq!(m.decode_token(&token).map(|_| ()), want);
    }
    // What it issues, it accepts.
    let own = m.issue_token("5", Duration::from_secs(60)).unwrap();
    assert_eq!(m.decode_token(&own).unwrap().user_id(), "5");
}

#[test]
fn rfc8725_section3_1_only_hs256_is_accepted() {
    let claims = format!(r#"{{"exp":{},"user_id":"1"}}"#, NOW + 60);
    let secret = SECRET.as_bytes();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"alg":"HS384"}"#,
        r#"{"alg":"HS512"}"#,
        r#"{"alg":"RS256"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        let token = sign_raw(header.as_bytes(), claims.as_bytes(), secret);
        assert_eq!(decode(&token), Err(TokenError::WrongAlgorithm), "{header}");
    }
    let token = sign_raw(br#"{"alg":7}"#, claims.as_bytes(), secret);
    assert_eq!(decode(&token), Err(TokenError::Malformed));
}

#[test]
fn rfc7515_section4_1_11_crit_is_refused() {
    let claims = format!(r#"{{"exp":{},"user_id":"1"}}"#, NOW + 60);
    let token = sign_raw(
        br#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        claims.as_bytes(),
        SECRET.as_bytes(),
    );
    assert_eq!(decode(&token), Err(TokenError::UnsupportedCritical));
}

#[test]
fn rfc7519_section4_repeated_claims_are_refused_not_last_wins() {
    let exp = NOW + 60;
    for claims in [
        format!(r#"{{"exp":{exp},"user_id":"1","user_id":"2"}}"#),
        format!(r#"{{"exp":1,"exp":{exp},"user_id":"1"}}"#),
        // Claims this crate does not read are held to the same rule (Claims::extra reads them).
        format!(r#"{{"exp":{exp},"user_id":"1","role":"user","role":"admin"}}"#),
        format!(r#"{{"exp":{exp},"user_id":"1","role":"user","r\u006fle":"admin"}}"#),
    ] {
        assert_eq!(
            decode(&sign_claims(&claims)),
            Err(TokenError::InvalidClaims),
            "{claims}"
        );
    }
    // Repeated header members are refused too.
    let token = sign_raw(
        br#"{"alg":"HS256","alg":"HS256"}"#,
        format!(r#"{{"exp":{exp},"user_id":"1"}}"#).as_bytes(),
        SECRET.as_bytes(),
    );
    assert_eq!(decode(&token), Err(TokenError::Malformed));
    let token = sign_raw(
        br#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
        format!(r#"{{"exp":{exp},"user_id":"1"}}"#).as_bytes(),
        SECRET.as_bytes(),
    );
    assert_eq!(decode(&token), Err(TokenError::Malformed));
}

/// RFC 7519 section 2: a NumericDate is whole seconds, so sub-second lifetimes and leeways are
/// rounded up, never down: a token is never issued already expired.
#[test]
fn rfc7519_section2_sub_second_ttls_and_leeways_round_up_to_whole_seconds() {
    let m = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .access_ttl(Duration::from_millis(500))
        .refresh_ttl(Duration::from_millis(1_500))
        .build()
        .unwrap();
    let pair = m.issue_token_pair("1").unwrap();
    let claims = m.decode_token(&pair.access_token).unwrap();
    assert_eq!(claims.expires_at(), NOW + 1, "access_ttl 500 ms");
    let token = m.issue_token("1", Duration::from_nanos(1)).unwrap();
    assert_eq!(m.decode_token(&token).unwrap().expires_at(), NOW + 1);
    let token = m.issue_token("1", Duration::from_millis(2_001)).unwrap();
    assert_eq!(m.decode_token(&token).unwrap().expires_at(), NOW + 3);
    let pair = m.issue_token_pair("1").unwrap();
    assert_eq!((pair.expires_in, pair.refresh_expires_in), (1, 2));
    let refresh = m.decode_token(&pair.refresh_token).unwrap();
    assert_eq!(refresh.expires_at(), NOW + 2);
    // A zero lifetime stays zero: that token is expired at once, as asked.
    let token = m.issue_token("1", Duration::ZERO).unwrap();
    assert_eq!(m.decode_token(&token), Err(TokenError::Expired));

    // A leeway of 500 ms tolerates one second: `exp == now` passes, `exp == now - 1` does not.
    let lenient = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .leeway(Duration::from_millis(500))
        .build()
        .unwrap();
    let at = |exp: u64| sign_claims(&format!(r#"{{"exp":{exp},"user_id":"1"}}"#));
    assert_eq!(lenient.decode_token(&at(NOW)).unwrap().user_id(), "1");
    assert_eq!(lenient.decode_token(&at(NOW - 1)), Err(TokenError::Expired));
}

#[test]
fn tokens_over_the_size_cap_are_refused_before_decoding() {
    let big = sign_claims(&format!(
        r#"{{"exp":{},"user_id":"1","pad":"{}"}}"#,
        NOW + 60,
        "x".repeat(9000)
    ));
    assert_eq!(decode(&big), Err(TokenError::TooLarge));
    // The cap is 8 KiB: the longest token under it is accepted, the next one is not.
    let padded = |n: usize| {
        sign_claims(&format!(
            r#"{{"exp":{},"user_id":"1","pad":"{}"}}"#,
            NOW + 60,
            "x".repeat(n)
        ))
    };
    let over = (1000..).find(|&n| padded(n).len() > 8 * 1024).unwrap();
    assert!(padded(over - 1).len() <= 8 * 1024);
    assert!(decode(&padded(over - 1)).is_ok());
    assert_eq!(decode(&padded(over)), Err(TokenError::TooLarge));
}

#[test]
fn tokens_are_never_issued_over_the_size_cap_the_manager_refuses() {
    // Found by review: a long user id or many extra claims gave `Ok` with a token that every
    // request then had refused as `TooLarge`. The largest token issued is still accepted.
    let manager = manager();
    let ttl = Duration::from_secs(60);
    assert_eq!(
        manager.issue_token(&"u".repeat(9_000), ttl),
        Err(TokenError::TooLarge)
    );
    assert_eq!(
        manager.issue_token_pair(&"u".repeat(9_000)),
        Err(TokenError::TooLarge)
    );
    let roles = |n: usize| json!({ "roles": vec!["r"; n] });
    let issued = |n: usize| {
        manager
            .with_claims(&roles(n))
            .unwrap()
            .issue_token("1", ttl)
    };
    let over = (1000..).find(|&n| issued(n).is_err()).unwrap();
    assert_eq!(issued(over), Err(TokenError::TooLarge));
    let largest = issued(over - 1).unwrap();
    assert!(largest.len() > 8 * 1024 - 8, "{}", largest.len());
    assert_eq!(manager.decode_token(&largest).unwrap().user_id(), "1");
}

#[test]
fn unknown_claims_and_header_members_are_ignored() {
    let exp = NOW + 60;
    let token = sign_raw(
        br#"{"alg":"HS256","typ":"JWT","kid":"../../etc/passwd","jku":"https://evil.example/k"}"#,
        format!(r#"{{"exp":{exp},"user_id":"1","role":"admin","nested":{{"a":[1,2]}}}}"#)
            .as_bytes(),
        SECRET.as_bytes(),
    );
    assert_eq!(decode(&token), Ok("1".into()));
}

#[test]
fn rfc7515_section4_the_header_must_be_a_json_object() {
    // Found by the differential test: a derived struct also reads `["HS256"]` as a header.
    let claims = format!(r#"{{"exp":{},"user_id":"1"}}"#, NOW + 60);
    for header in [
        &br#"["HS256"]"#[..],
        br#""HS256""#,
        b"null",
        br#"{"alg":"HS256"}x"#,
    ] {
        let token = sign_raw(header, claims.as_bytes(), SECRET.as_bytes());
        assert_eq!(
            decode(&token),
            Err(TokenError::Malformed),
            "{}",
            String::from_utf8_lossy(header)
        );
    }
}

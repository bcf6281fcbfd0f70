//! The claims: RFC 7519 sections 2 (NumericDate) and 4.1 (the registered claims), and the
//! `user_id` claim (a non-empty string without control characters, up to the 8 KiB cap).

use tower_login_manager::TokenError;

use crate::support::{NOW, sign_claims};
use crate::{Case, check};

// ---------------------------------------------------------------------------------------------
// Claims: RFC 7519 sections 2 (NumericDate), 4.1.3-4.1.6, and the user id.
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc7519_section4_1_registered_claims() {
    let fut = NOW + 60;
    let t = |claims: String| sign_claims(&claims);
    let cases = vec![
        Case {
            name: "RFC 7519 4.1.4: exp missing",
            token: t(r#"{"user_id":"1"}"#.into()),
            want: Err(TokenError::MissingClaim("exp")),
        },
        Case {
            name: "RFC 7519 2: exp a numeric string",
            token: t(format!(r#"{{"exp":"{fut}","user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaim("exp")),
        },
        Case {
            name: "RFC 7519 2: exp null",
            token: t(r#"{"exp":null,"user_id":"1"}"#.into()),
            want: Err(TokenError::InvalidClaim("exp")),
        },
        Case {
            name: "RFC 7519 2: exp an array",
            token: t(format!(r#"{{"exp":[{fut}],"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaim("exp")),
        },
        Case {
            name: "RFC 7519 2: exp an object",
            token: t(format!(r#"{{"exp":{{"t":{fut}}},"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaim("exp")),
        },
        Case {
            name: "RFC 7519 2: exp a float in the future (fraction truncated)",
            token: t(format!(r#"{{"exp":{fut}.999,"user_id":"1"}}"#)),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7519 2: exp now + 0.5 truncates to now: expired",
            token: t(format!(r#"{{"exp":{NOW}.5,"user_id":"1"}}"#)),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 2: exp in exponent notation, future",
            token: t(r#"{"exp":2e9,"user_id":"1"}"#.into()),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7519 2: exp in exponent notation, past",
            token: t(r#"{"exp":1.6e9,"user_id":"1"}"#.into()),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp negative",
            token: t(r#"{"exp":-1,"user_id":"1"}"#.into()),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp i64::MIN",
            token: t(format!(r#"{{"exp":{},"user_id":"1"}}"#, i64::MIN)),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp below i64::MIN",
            token: t(r#"{"exp":-99999999999999999999,"user_id":"1"}"#.into()),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp -0.0",
            token: t(r#"{"exp":-0.0,"user_id":"1"}"#.into()),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp zero",
            token: t(r#"{"exp":0,"user_id":"1"}"#.into()),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp one second ago",
            token: t(format!(r#"{{"exp":{},"user_id":"1"}}"#, NOW - 1)),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp == now",
            token: t(format!(r#"{{"exp":{NOW},"user_id":"1"}}"#)),
            want: Err(TokenError::Expired),
        },
        Case {
            name: "RFC 7519 4.1.4: exp u64::MAX is the far future",
            token: t(format!(r#"{{"exp":{},"user_id":"1"}}"#, u64::MAX)),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7519 4.1.4: exp u64::MAX + 1 is refused, as jsonwebtoken refuses it",
            token: t(r#"{"exp":18446744073709551616,"user_id":"1"}"#.into()),
            want: Err(TokenError::InvalidClaim("exp")),
        },
        Case {
            name: "RFC 8259 6: exp 1e400 is out of range: invalid JSON",
            token: t(r#"{"exp":1e400,"user_id":"1"}"#.into()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 6: exp -1e400 is out of range: invalid JSON",
            token: t(r#"{"exp":-1e400,"user_id":"1"}"#.into()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 6: exp NaN is not JSON",
            token: t(r#"{"exp":NaN,"user_id":"1"}"#.into()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 6: exp with a leading zero is not JSON",
            token: t(format!(r#"{{"exp":0{fut},"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4.1.5: nbf in the future",
            token: t(format!(
                r#"{{"exp":{fut},"nbf":{},"user_id":"1"}}"#,
                NOW + 1
            )),
            want: Err(TokenError::NotYetValid),
        },
        Case {
            name: "RFC 7519 4.1.5: nbf u64::MAX",
            token: t(format!(
                r#"{{"exp":{fut},"nbf":{},"user_id":"1"}}"#,
                u64::MAX
            )),
            want: Err(TokenError::NotYetValid),
        },
        Case {
            name: "RFC 7519 4.1.5: nbf now",
            token: t(format!(r#"{{"exp":{fut},"nbf":{NOW},"user_id":"1"}}"#)),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7519 4.1.5: nbf negative is the past",
            token: t(format!(r#"{{"exp":{fut},"nbf":-5,"user_id":"1"}}"#)),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7519 4.1.5: nbf a string",
            token: t(format!(r#"{{"exp":{fut},"nbf":"0","user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaim("nbf")),
        },
        Case {
            name: "RFC 7519 4.1.6: iat in the future",
            token: t(format!(
                r#"{{"exp":{fut},"iat":{},"user_id":"1"}}"#,
                NOW + 1
            )),
            want: Err(TokenError::NotYetValid),
        },
        Case {
            name: "RFC 7519 4.1.6: iat a boolean",
            token: t(format!(r#"{{"exp":{fut},"iat":true,"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaim("iat")),
        },
        Case {
            name: "RFC 7519 4.1.3: aud without a configured audience",
            token: t(format!(r#"{{"exp":{fut},"aud":"api","user_id":"1"}}"#)),
            want: Err(TokenError::InvalidAudience),
        },
        Case {
            name: "RFC 7519 4.1.3: aud array without a configured audience",
            token: t(format!(r#"{{"exp":{fut},"aud":["api"],"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidAudience),
        },
        Case {
            name: "RFC 7519 4.1.3: aud null without a configured audience",
            token: t(format!(r#"{{"exp":{fut},"aud":null,"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidAudience),
        },
        Case {
            name: "RFC 7519 4.1.1: iss without a configured issuer is ignored",
            token: t(format!(r#"{{"exp":{fut},"iss":"evil","user_id":"1"}}"#)),
            want: Ok("1"),
        },
    ];
    check(cases);
}

#[test]
fn the_user_id_claim_is_a_non_empty_string_without_control_characters() {
    let fut = NOW + 60;
    let t = |user_id: &str| sign_claims(&format!(r#"{{"exp":{fut},"user_id":{user_id}}}"#));
    let cases = vec![
        Case {
            name: "missing",
            token: sign_claims(&format!(r#"{{"exp":{fut}}}"#)),
            want: Err(TokenError::MissingClaim("user id")),
        },
        Case {
            name: "empty",
            token: t(r#""""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "null",
            token: t("null"),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a number (the original writes str(user.id))",
            token: t("1"),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a float",
            token: t("1.0"),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a boolean",
            token: t("true"),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "an object",
            token: t(r#"{"id":"1"}"#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "an array of one string",
            token: t(r#"["1"]"#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a NUL",
            token: t(r#""1\u0000""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a line feed (log injection)",
            token: t(r#""1\nINFO admin logged in""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a carriage return",
            token: t(r#""1\r""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "an escape (terminal injection)",
            token: t(r#""\u001b[2J""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "DEL",
            token: t(r#""1\u007f""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "a C1 control (NEL)",
            token: t(r#""1\u0085""#),
            want: Err(TokenError::InvalidClaim("user id")),
        },
        Case {
            name: "written with JSON escapes, no control characters",
            token: t(r#""\u0031""#),
            want: Ok("1"),
        },
        Case {
            name: "non-ASCII",
            token: t(r#""ü-😀""#),
            want: Ok("ü-😀"),
        },
        Case {
            name: "SQL text is just an id (the loader must bind it)",
            token: t(r#""1' OR '1'='1""#),
            want: Ok("1' OR '1'='1"),
        },
    ];
    check(cases);
}

#[test]
fn a_long_user_id_is_accepted_up_to_the_8_kib_cap_and_refused_past_it() {
    // The whole token: 36 (header) + 1 + claims + 1 + 43 (MAC) characters.
    let with_len = |n: usize| {
        let claims = format!(r#"{{"exp":{},"user_id":"{}"}}"#, NOW + 60, "a".repeat(n));
        sign_claims(&claims)
    };
    let mut n = 1;
    while with_len(n + 1).len() <= 8 * 1024 {
        n += 1;
    }
    let at_cap = with_len(n);
    let over_cap = with_len(n + 1);
    assert_eq!(at_cap.len(), 8 * 1024);
    let long_id: &'static str = "a".repeat(n).leak();
    let cases = vec![
        Case {
            name: "a 600-character user id (past the verifier's stack buffer)",
            token: with_len(600),
            want: Ok("a".repeat(600).leak()),
        },
        Case {
            name: "a token of exactly 8 KiB",
            token: at_cap,
            want: Ok(long_id),
        },
        Case {
            name: "a token one character over 8 KiB",
            token: over_cap,
            want: Err(TokenError::TooLarge),
        },
        Case {
            name: "1 MB of garbage",
            token: "a".repeat(1 << 20),
            want: Err(TokenError::TooLarge),
        },
    ];
    check(cases);
}

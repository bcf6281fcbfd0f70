//! The compact JWS itself: algorithm attacks (RFC 8725 section 3.1), the structure and the
//! base64url of its segments, the JSON of the header and the claims (RFC 7515 sections 2, 3.1,
//! 5.2 and 7.1), the signature (RFC 7515 section 5.2 step 8), and the header parameters (RFC 7515
//! section 4.1: `alg`, `kid`, `crit`).

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};
use tower_login_manager::{LoginManager, TokenError};

use crate::support::{NOW, SECRET, b64, sign_claims, sign_raw};
use crate::{
    Case, HEADER, check, check_with, claims, noncanonical, resign, segments, token, token_mac,
    valid,
};

// ---------------------------------------------------------------------------------------------
// Algorithm attacks: RFC 8725 section 3.1 (algorithm verification), RFC 7515 section 4.1.1.
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc8725_section3_1_algorithm_attacks() {
    let c = claims("");
    let none = |alg: &str| {
        // RFC 7518 section 3.6: an unsecured JWS has an empty signature.
        format!(
            "{}.{}.",
            b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes()),
            b64(c.as_bytes())
        )
    };
    let cases = vec![
        Case {
            name: "control: HS256 is accepted",
            token: valid(),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7518 3.6: alg none, empty signature",
            token: none("none"),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.6: alg None",
            token: none("None"),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.6: alg NONE",
            token: none("NONE"),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.6: alg nOnE",
            token: none("nOnE"),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.6: alg none with a correct HS256 MAC",
            token: token(r#"{"alg":"none"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.2: HS384 with a correct HMAC-SHA384 under the same secret",
            token: token_mac::<Hmac<Sha384>>(r#"{"alg":"HS384","typ":"JWT"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7518 3.2: HS512 with a correct HMAC-SHA512 under the same secret",
            token: token_mac::<Hmac<Sha512>>(r#"{"alg":"HS512","typ":"JWT"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 8725 2.8 key confusion: RS256 header, HS256 MAC with the secret",
            token: token(r#"{"alg":"RS256","typ":"JWT"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 8725 2.8 key confusion: ES256 header, HS256 MAC with the secret",
            token: token(r#"{"alg":"ES256","typ":"JWT"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 8725 2.8 key confusion: PS256 header, HS256 MAC with the secret",
            token: token(r#"{"alg":"PS256"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg is case-sensitive (hs256)",
            token: token(r#"{"alg":"hs256"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg with a trailing space",
            token: token(r#"{"alg":"HS256 "}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg with a NUL",
            token: token(r#"{"alg":"HS256\u0000"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg spelled with JSON escapes is the same string",
            token: token(r#"{"alg":"HS\u0032\u0035\u0036"}"#, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.1: alg missing",
            token: token(r#"{"typ":"JWT"}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg null is not a string",
            token: token(r#"{"alg":null}"#, &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4.1.1: alg empty",
            token: token(r#"{"alg":""}"#, &c),
            want: Err(TokenError::WrongAlgorithm),
        },
        Case {
            name: "RFC 7515 4.1.1: alg a number",
            token: token(r#"{"alg":256}"#, &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4.1.1: alg an array",
            token: token(r#"{"alg":["HS256"]}"#, &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4.1.1: alg an object",
            token: token(r#"{"alg":{"HS256":true}}"#, &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4.1.1: alg a boolean",
            token: token(r#"{"alg":true}"#, &c),
            want: Err(TokenError::Malformed),
        },
    ];
    check(cases);
}

// ---------------------------------------------------------------------------------------------
// Structure: RFC 7515 sections 3.1 and 7.1 (compact serialization), section 2 and RFC 4648
// section 5 (base64url without padding), RFC 7515 section 5.2 steps 1-4.
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc7515_section7_1_compact_serialization_structure() {
    let v = valid();
    let (h, c, s) = segments(&v);
    let cases = vec![
        Case {
            name: "RFC 7515 7.1: empty string",
            token: String::new(),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: one segment",
            token: h.clone(),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: two segments",
            token: format!("{h}.{c}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: four segments",
            token: format!("{v}.{s}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7516 9: five segments (a JWE shape)",
            token: format!("{h}.{c}.{s}.{s}.{s}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: trailing dot",
            token: format!("{v}."),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: leading dot",
            token: format!(".{v}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: only dots",
            token: "..".into(),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: empty header segment",
            token: format!(".{c}.{s}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 7.1: empty claims segment, MAC of the real input",
            token: format!("{h}..{s}"),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7519 7.2 step 10: empty claims segment, correct MAC",
            token: resign(&h, ""),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7515 7.1: doubled dot between header and claims",
            token: format!("{h}..{c}.{s}"),
            want: Err(TokenError::Malformed),
        },
    ];
    check(cases);
}

#[test]
fn rfc7515_section2_strict_base64url() {
    // A claims text whose base64url holds both `-` and `_`: runs of 5 `~` (0x7E) and 5 `?`
    // (0x3F) each hold one aligned triple, "~~~" -> "fn5-" and "???" -> "Pz8_".
    let tricky = claims(r#","p":"~~~~~?????""#);
    let tricky_b64 = b64(tricky.as_bytes());
    assert!(
        tricky_b64.contains('-') && tricky_b64.contains('_'),
        "{tricky_b64}"
    );
    let std_b64 = tricky_b64.replace('-', "+").replace('_', "/");
    let h = b64(HEADER.as_bytes());

    // Claims whose base64url length is not a multiple of 4, so that padding and unused bits
    // exist.
    let mut padded_claims = claims("");
    while b64(padded_claims.as_bytes()).len().is_multiple_of(4) {
        padded_claims.push(' ');
    }
    let c = b64(padded_claims.as_bytes());
    let pad = "=".repeat((4 - c.len() % 4) % 4);
    let v = token(HEADER, &padded_claims);
    let (_, _, s) = segments(&v);
    assert_eq!(s.len() % 4, 3);

    // A header of 16 bytes: 22 characters, the last carrying 4 unused bits.
    let short_header = r#"{"alg":"HS256"} "#;
    let short_h = b64(short_header.as_bytes());
    assert_eq!(short_h.len() % 4, 2);

    let cases = vec![
        Case {
            name: "control: the tricky claims in base64url",
            token: resign(&h, &tricky_b64),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 2: standard alphabet `+` `/` in the claims, MAC over that text",
            token: resign(&h, &std_b64),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 2: standard alphabet in the header",
            token: resign(&STANDARD.encode(r#"{"alg":"HS256","x":"~~~~~?????"}"#), &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 2: `=` padding on the claims, MAC over the padded text",
            token: resign(&h, &format!("{c}{pad}")),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 2: `=` padding on the header, MAC over the padded text",
            token: resign(&format!("{short_h}=="), &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 2: `=` padding on the signature",
            token: format!("{v}="),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "control: a 22-character header",
            token: resign(&short_h, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 4648 3.5: non-canonical trailing bits in the header",
            token: resign(&noncanonical(&short_h), &c),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 4648 3.5: non-canonical trailing bits in the claims",
            token: resign(&h, &noncanonical(&c)),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 4648 3.5: non-canonical trailing bits in the signature",
            token: format!("{h}.{c}.{}", noncanonical(&s)),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 4648 3.3: a character outside the alphabet (`*`)",
            token: resign(&h, &format!("*{c}")),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 4648 5: an impossible length (4k+1 characters)",
            token: resign(&h, &format!("{c}{}", "A".repeat((5 - c.len() % 4) % 4))),
            want: Err(TokenError::Malformed),
        },
    ];
    check(cases);
}

#[test]
fn rfc7515_section2_no_whitespace_or_control_bytes_inside_a_token() {
    let h = b64(HEADER.as_bytes());
    let c = b64(claims("").as_bytes());
    let v = valid();
    let mut cases = Vec::new();
    for (name, byte) in [
        ("space", " "),
        ("tab", "\t"),
        ("line feed", "\n"),
        ("carriage return", "\r"),
        ("NUL", "\0"),
        ("vertical tab", "\x0b"),
        ("DEL", "\x7f"),
    ] {
        let named = |place: &str| -> &'static str { format!("RFC 7515 2: {name} {place}").leak() };
        cases.push(Case {
            name: named("in the middle of the claims"),
            token: resign(&h, &format!("{}{byte}{}", &c[..8], &c[8..])),
            want: Err(TokenError::Malformed),
        });
        cases.push(Case {
            name: named("at the start of the header"),
            token: resign(&format!("{byte}{h}"), &c),
            want: Err(TokenError::Malformed),
        });
        cases.push(Case {
            name: named("right after the first dot"),
            token: resign(&h, &format!("{byte}{c}")),
            want: Err(TokenError::Malformed),
        });
        cases.push(Case {
            name: named("at the end of the signature"),
            token: format!("{v}{byte}"),
            want: Err(TokenError::BadSignature),
        });
    }
    check(cases);
}

#[test]
fn rfc7515_section5_2_header_must_be_utf8_json_object() {
    let c = claims("");
    let raw = |header: &[u8]| sign_raw(header, c.as_bytes(), SECRET.as_bytes());
    let cases = vec![
        Case {
            name: "RFC 7515 5.2 step 3: header `\\xff` outside a string",
            token: raw(b"{\"alg\":\"HS256\"}\xff"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 3: non-UTF-8 in alg",
            token: raw(b"{\"alg\":\"HS256\xff\"}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 3: non-UTF-8 in a member name",
            token: raw(b"{\"alg\":\"HS256\",\"\xc0\xaf\":1}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 8259 8.1: UTF-8 BOM before the header",
            token: raw(b"\xef\xbb\xbf{\"alg\":\"HS256\"}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header a JSON string",
            token: raw(b"\"HS256\""),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header a JSON number",
            token: raw(b"256"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header null",
            token: raw(b"null"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header empty",
            token: raw(b""),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header invalid JSON (unterminated)",
            token: raw(b"{\"alg\":\"HS256\""),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header with trailing garbage",
            token: raw(b"{\"alg\":\"HS256\"}x"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: two header objects",
            token: raw(b"{\"alg\":\"HS256\"}{}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: single quotes",
            token: raw(b"{'alg':'HS256'}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: trailing comma",
            token: raw(b"{\"alg\":\"HS256\",}"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 8259 2: insignificant whitespace around the header is JSON",
            token: raw(b" \n{ \"alg\" : \"HS256\" }\t"),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4 / 5.2 step 4: duplicate alg (same value)",
            token: raw(br#"{"alg":"HS256","alg":"HS256"}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4 / 5.2 step 4: duplicate alg (none last)",
            token: raw(br#"{"alg":"HS256","alg":"none"}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4 / 5.2 step 4: duplicate alg spelled with an escape",
            token: raw(br#"{"alg":"HS256","\u0061lg":"none"}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4.1.11: duplicate crit",
            token: raw(br#"{"alg":"HS256","crit":["x"],"crit":["x"]}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4 / 4.1.4: duplicate kid",
            token: raw(br#"{"alg":"HS256","kid":"a","kid":"b"}"#),
            want: Err(TokenError::Malformed),
        },
        // RFC 7515 section 4: "The Header Parameter names within the JOSE Header MUST be
        // unique"; any repeated member is refused, not only the ones this crate reads.
        Case {
            name: "RFC 7515 4: a repeated member this crate does not read (typ)",
            token: raw(br#"{"alg":"HS256","typ":"JWT","typ":"JOSE"}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4: a repeated typ spelled with an escape",
            token: raw(br#"{"alg":"HS256","typ":"JWT","t\u0079p":"JWT"}"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 4: a repeated unknown member, same value",
            token: raw(br#"{"x":1,"alg":"HS256","x":1}"#),
            want: Err(TokenError::Malformed),
        },
    ];
    check(cases);
}

/// Decision: the header must be a JSON object (RFC 7515 section 5.2 step 4: "a completely valid
/// JSON object").
#[test]
fn rfc7515_section5_2_step4_header_json_array_is_not_an_object() {
    let c = claims("");
    let raw = |header: &[u8]| sign_raw(header, c.as_bytes(), SECRET.as_bytes());
    check(vec![
        Case {
            name: "RFC 7515 5.2 step 4: header a JSON array with no alg",
            token: raw(b"[]"),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header the JSON array [\"HS256\"]",
            token: raw(br#"["HS256"]"#),
            want: Err(TokenError::Malformed),
        },
        Case {
            name: "RFC 7515 5.2 step 4: header the JSON array [\"HS256\",null]",
            token: raw(br#"["HS256",null]"#),
            want: Err(TokenError::Malformed),
        },
    ]);
}

/// RFC 7515 section 5.2 step 3: the header must be UTF-8, including in members this crate does
/// not read.
#[test]
fn rfc7515_section5_2_step3_non_utf8_in_an_ignored_header_member_is_refused() {
    check(vec![Case {
        name: "RFC 7515 5.2 step 3: non-UTF-8 in the typ header member",
        token: sign_raw(
            b"{\"alg\":\"HS256\",\"typ\":\"JWT\xff\"}",
            claims("").as_bytes(),
            SECRET.as_bytes(),
        ),
        want: Err(TokenError::Malformed),
    }]);
}

/// RFC 7519 section 7.2 step 10: the claims must be UTF-8, including in claims this crate does
/// not read.
#[test]
fn rfc7519_section7_2_step10_non_utf8_in_an_ignored_claim_is_refused() {
    let claims_bytes = format!(r#"{{"exp":{},"user_id":"1","role":"#, NOW + 60).into_bytes();
    let claims_bytes = [claims_bytes.as_slice(), b"\"\xff\xfe\"}"].concat();
    check(vec![Case {
        name: "RFC 7519 7.2 step 10: non-UTF-8 in an unknown claim",
        token: sign_raw(HEADER.as_bytes(), &claims_bytes, SECRET.as_bytes()),
        want: Err(TokenError::InvalidClaims),
    }]);
}

#[test]
fn rfc7519_section7_2_claims_must_be_a_utf8_json_object() {
    let exp = NOW + 60;
    let raw = |claims: &[u8]| sign_raw(HEADER.as_bytes(), claims, SECRET.as_bytes());
    let cases = vec![
        Case {
            name: "RFC 7519 7.2 step 10: non-UTF-8 in the user id",
            token: raw(&[
                format!(r#"{{"exp":{exp},"user_id":"1"#).as_bytes(),
                b"\xff\"}",
            ]
            .concat()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 3629 3: overlong UTF-8 in the user id",
            token: raw(&[
                format!(r#"{{"exp":{exp},"user_id":""#).as_bytes(),
                b"\xc0\xb1\"}",
            ]
            .concat()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 3629 3: an encoded surrogate in the user id",
            token: raw(&[
                format!(r#"{{"exp":{exp},"user_id":""#).as_bytes(),
                b"\xed\xa0\x80\"}",
            ]
            .concat()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 8.1: UTF-8 BOM before the claims",
            token: raw(&[b"\xef\xbb\xbf".as_slice(), claims("").as_bytes()].concat()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims a JSON array",
            token: raw(br#"["1"]"#),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims a JSON string",
            token: raw(br#""1""#),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims a JSON number",
            token: raw(b"1"),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims null",
            token: raw(b"null"),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims invalid JSON",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1""#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: claims with trailing garbage",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1"}}x"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: two claims objects",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1"}}{{}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 7.2 step 10: a lone surrogate escape in the user id",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"\ud800"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate exp (expired one last)",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","exp":1}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate user_id",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","user_id":"2"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate user_id spelled with an escape",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","user\u005fid":"2"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate exp spelled with an escape",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","\u0065xp":1}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate nbf",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","nbf":1,"nbf":1}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate iat",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","iat":1,"iat":1}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate iss",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","iss":"a","iss":"a"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate aud",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","aud":"a","aud":"a"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4.1.7: duplicate jti",
            token: raw(format!(r#"{{"exp":{exp},"user_id":"1","jti":"a","jti":"b"}}"#).as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: duplicate type (access, then refresh)",
            token: raw(format!(
                r#"{{"exp":{exp},"user_id":"1","type":"access","type":"refresh"}}"#
            )
            .as_bytes()),
            want: Err(TokenError::InvalidClaims),
        },
        // RFC 7519 section 4: "the Claim Names within a JWT Claims Set MUST be unique"; any
        // repeated claim is refused, on the fast path (plain members) and through serde_json.
        Case {
            name: "RFC 7519 4: a repeated claim this crate does not read (role)",
            token: raw(
                format!(r#"{{"exp":{exp},"user_id":"1","role":"user","role":"admin"}}"#)
                    .as_bytes(),
            ),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: a repeated role spelled with an escape",
            token: raw(
                format!(r#"{{"exp":{exp},"user_id":"1","role":"user","r\u006fle":"admin"}}"#)
                    .as_bytes(),
            ),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: a repeated role beside a value only serde_json reads",
            token: raw(
                format!(r#"{{"exp":{exp},"user_id":"1","role":"user","x":true,"role":"admin"}}"#)
                    .as_bytes(),
            ),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: a repeated unknown claim among many",
            token: raw(
                format!(
                    r#"{{"exp":{exp},"user_id":"1","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"a":11}}"#
                )
                .as_bytes(),
            ),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: a repeated claim past the first eight names",
            token: raw(
                format!(
                    r#"{{"exp":{exp},"user_id":"1","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"j":11}}"#
                )
                .as_bytes(),
            ),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 7519 4: many distinct unknown claims are accepted",
            token: raw(
                format!(
                    r#"{{"exp":{exp},"user_id":"1","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11}}"#
                )
                .as_bytes(),
            ),
            want: Ok("1"),
        },
    ];
    check(cases);
}

/// RFC 8259 section 9 lets a parser limit nesting: serde_json stops at 128 levels where it builds
/// values and skips ignored values without recursion, so no nesting overflows the stack. The
/// deepest nesting that fits in 8 KiB.
#[test]
fn rfc8259_section9_deep_nesting_within_the_cap_never_overflows_the_stack() {
    let depth = 2900;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let shallow = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let exp = NOW + 60;
    let cases = vec![
        Case {
            name: "RFC 8259 9: 100 levels in an unknown claim are skipped",
            token: sign_claims(&claims(&format!(r#","x":{shallow}"#))),
            want: Ok("1"),
        },
        Case {
            name: "RFC 8259 9: 2900 levels in an unknown claim are skipped too",
            token: sign_claims(&claims(&format!(r#","x":{nested}"#))),
            want: Ok("1"),
        },
        Case {
            name: "RFC 8259 9: 2900 levels in the user id",
            token: sign_claims(&format!(r#"{{"exp":{exp},"user_id":{nested}}}"#)),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 9: 2900 levels in exp",
            token: sign_claims(&format!(r#"{{"exp":{nested},"user_id":"1"}}"#)),
            want: Err(TokenError::InvalidClaims),
        },
        Case {
            name: "RFC 8259 9: 2900 levels in an unknown header member are skipped",
            token: token(&format!(r#"{{"alg":"HS256","x":{nested}}}"#), &claims("")),
            want: Ok("1"),
        },
        Case {
            name: "RFC 8259 9: 2900 levels in crit (skipped, then crit refused)",
            token: token(
                &format!(r#"{{"alg":"HS256","crit":{nested}}}"#),
                &claims(""),
            ),
            want: Err(TokenError::UnsupportedCritical),
        },
    ];
    for case in &cases {
        assert!(case.token.len() <= 8 * 1024, "{}", case.name);
    }
    check(cases);
}

// ---------------------------------------------------------------------------------------------
// Signature: RFC 7515 section 5.2 step 8, RFC 7518 section 3.2 (full-length HMAC-SHA256).
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc7515_section5_2_step8_signature_attacks() {
    let v = valid();
    let (h, c, s) = segments(&v);
    let other = token(HEADER, &claims(r#","role":"admin""#));
    let (_, _, other_s) = segments(&other);
    let raw_mac = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let other_secret = LoginManager::builder("another-secret-of-at-least-32-bytes!!")
        .clock(|| NOW)
        .build()
        .unwrap()
        .issue_token("1", Duration::from_secs(60))
        .unwrap();
    let cases = vec![
        Case {
            name: "control: the untouched token",
            token: v.clone(),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 5.2 step 8: signature stripped, dot kept",
            token: format!("{h}.{c}."),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: truncated by one character",
            token: format!("{h}.{c}.{}", &s[..s.len() - 1]),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: truncated to one character",
            token: format!("{h}.{c}.{}", &s[..1]),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7518 3.2: HMAC truncated to 16 bytes (correct prefix)",
            token: format!("{h}.{c}.{}", b64(&raw_mac[..16])),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: extended by one character",
            token: format!("{v}A"),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: extended by one byte (correct prefix)",
            token: format!("{h}.{c}.{}", b64(&[raw_mac.as_slice(), &[0]].concat())),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: extended to 1000 characters",
            token: format!("{v}{}", "A".repeat(1000)),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: all-zero MAC",
            token: format!("{h}.{c}.{}", b64(&[0; 32])),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: the signature of another token",
            token: format!("{h}.{c}.{other_s}"),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: a token of another secret",
            token: other_secret,
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.1: MAC of the decoded bytes rather than the base64url text",
            token: {
                let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                m.update(HEADER.as_bytes());
                m.update(b".");
                m.update(claims("").as_bytes());
                format!("{h}.{c}.{}", b64(&m.finalize().into_bytes()))
            },
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 5.2 step 8: claims swapped, signature kept",
            token: format!("{h}.{}.{s}", b64(claims(r#","role":"admin""#).as_bytes())),
            want: Err(TokenError::BadSignature),
        },
    ];
    check(cases);
}

// ---------------------------------------------------------------------------------------------
// Header parameters: RFC 7515 section 4.1 and RFC 8725 section 3.10 (no key from the token).
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc7515_section4_1_header_parameters() {
    let c = claims("");
    // A loopback listener that `jku`/`x5u` point at: nothing may connect to it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/keys.json", listener.local_addr().unwrap());
    let other_key = "an-attacker-chosen-key-of-32-bytes-or-more";
    let embedded = format!(
        r#"{{"alg":"HS256","jwk":{{"kty":"oct","k":"{}"}}}}"#,
        b64(other_key.as_bytes())
    );
    let cases = vec![
        Case {
            name: "RFC 7515 4.1.11: crit naming a registered parameter",
            token: token(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &c),
            want: Err(TokenError::UnsupportedCritical),
        },
        Case {
            name: "RFC 7515 4.1.11: crit naming an unknown extension",
            token: token(r#"{"alg":"HS256","crit":["x-unknown"],"x-unknown":1}"#, &c),
            want: Err(TokenError::UnsupportedCritical),
        },
        Case {
            name: "RFC 7797 6: crit b64 (unencoded payload)",
            token: token(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, &c),
            want: Err(TokenError::UnsupportedCritical),
        },
        Case {
            name: "RFC 7515 4.1.11: crit empty list",
            token: token(r#"{"alg":"HS256","crit":[]}"#, &c),
            want: Err(TokenError::UnsupportedCritical),
        },
        Case {
            name: "RFC 7515 4.1.11: crit a string",
            token: token(r#"{"alg":"HS256","crit":"exp"}"#, &c),
            want: Err(TokenError::UnsupportedCritical),
        },
        Case {
            name: "RFC 7515 4.1.2: jku pointing at a listener is ignored",
            token: token(&format!(r#"{{"alg":"HS256","jku":"{url}"}}"#), &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.5: x5u pointing at a listener is ignored",
            token: token(&format!(r#"{{"alg":"HS256","x5u":"{url}"}}"#), &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.3: an embedded jwk is ignored",
            token: token(&embedded, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 8725 3.10: a token MACed with its own embedded jwk is refused",
            token: sign_raw(embedded.as_bytes(), c.as_bytes(), other_key.as_bytes()),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 4.1.6: x5c is ignored",
            token: token(
                r#"{"alg":"HS256","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"]}"#,
                &c,
            ),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.4: kid with path traversal is inert",
            token: token(r#"{"alg":"HS256","kid":"../../../../../../dev/null"}"#, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.4: kid with SQL is inert",
            token: token(r#"{"alg":"HS256","kid":"x' UNION SELECT 'secret' --"}"#, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7515 4.1.4: kid naming /dev/null with an empty-key MAC is refused",
            token: sign_raw(br#"{"alg":"HS256","kid":"/dev/null"}"#, c.as_bytes(), b""),
            want: Err(TokenError::BadSignature),
        },
        Case {
            name: "RFC 7515 4.1.10: cty JWT (nested) is not followed",
            token: token(r#"{"alg":"HS256","cty":"JWT"}"#, &c),
            want: Ok("1"),
        },
        Case {
            name: "RFC 7797 3: b64 false without crit is ignored (payload still base64url)",
            token: token(r#"{"alg":"HS256","b64":false}"#, &c),
            want: Ok("1"),
        },
    ];
    check(cases);
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "nothing was fetched from jku/x5u"
    );
}

/// Decision: `crit` is refused whatever its value (RFC 7515 section 4.1.11: when present it
/// MUST be understood and processed, and this crate understands none).
#[test]
fn rfc7515_section4_1_11_crit_null_is_refused() {
    check(vec![Case {
        name: "RFC 7515 4.1.11: crit null",
        token: token(r#"{"alg":"HS256","crit":null}"#, &claims("")),
        want: Err(TokenError::UnsupportedCritical),
    }]);
}

/// RFC 7515 sections 4.1.2 to 4.1.10: the registered header parameters this crate does not use
/// still have their types: `typ`, `cty`, `jku`, `x5u`, `x5t` and `x5t#S256` strings, `x5c` an
/// array of strings, `jwk` an object. One of another type is a malformed header, as jsonwebtoken
/// answers, not a member to skip (found by fuzzing: `"x5c":"JWT"` was accepted). `null` is
/// refused too, as for `kid`.
#[test]
fn rfc7515_section4_1_registered_header_parameters_of_another_type_are_malformed() {
    let c = claims("");
    for (member, value) in [
        ("typ", "5"),
        ("typ", "null"),
        ("cty", "[]"),
        ("jku", "{}"),
        ("x5u", "true"),
        ("x5t", "1"),
        ("x5t#S256", r#"["a"]"#),
        ("x5c", r#""JWT""#),
        ("x5c", "[1]"),
        ("x5c", r#"["a",null]"#),
        ("x5c", "null"),
        ("jwk", r#""key""#),
        ("jwk", "[]"),
    ] {
        check(vec![Case {
            name: "a registered header parameter of another type",
            token: token(&format!(r#"{{"alg":"HS256","{member}":{value}}}"#), &c),
            want: Err(TokenError::Malformed),
        }]);
    }
    // Their own types pass, used or not.
    for (member, value) in [
        ("typ", r#""at+jwt""#),
        ("cty", r#""JWT""#),
        ("x5t", r#""dGh1bWI""#),
        ("x5t#S256", r#""dGh1bWI""#),
        ("x5c", "[]"),
        ("jwk", r#"{"kty":"oct"}"#),
    ] {
        check(vec![Case {
            name: "a registered header parameter of its type",
            token: token(&format!(r#"{{"alg":"HS256","{member}":{value}}}"#), &c),
            want: Ok("1"),
        }]);
    }
}

/// RFC 7515 section 4.1.4: "The "kid" value is a case-sensitive string": any other type is a
/// malformed header, as PyJWT and jsonwebtoken answer, never a token checked as if it had no `kid`
/// (with every key in turn). Decision: `"kid":null` is refused too (PyJWT refuses it, jsonwebtoken
/// reads it as absent): null is not a string, and an issuer that has no key id leaves `kid` out.
#[test]
fn rfc7515_section4_1_4_a_kid_that_is_not_a_string_is_malformed() {
    let c = claims("");
    let rotated = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .key_id("current")
        .previous_key(Some("old"), "a former secret of thirty-two bytes or more")
        .build()
        .unwrap();
    for kid in [
        "1",
        "true",
        "false",
        r#"["current"]"#,
        r#"{"id":"current"}"#,
        r#"{"$ne":null}"#,
        "null",
        "1.5",
    ] {
        let header = format!(r#"{{"alg":"HS256","kid":{kid}}}"#);
        let case = |name| Case {
            name,
            token: token(&header, &c),
            want: Err(TokenError::Malformed),
        };
        check(vec![case("no key ids configured")]);
        check_with(&rotated, vec![case("key ids configured")]);
    }
    // A string `kid` still works, known or not (unknown: every key is tried).
    for kid in [r#""current""#, r#""unknown""#, r#""""#] {
        let header = format!(r#"{{"alg":"HS256","kid":{kid}}}"#);
        check_with(
            &rotated,
            vec![Case {
                name: "a string kid",
                token: token(&header, &c),
                want: Ok("1"),
            }],
        );
    }
}

//! Differential test: our HS256 verifier against jsonwebtoken 12, the reference, on the same
//! inputs. We must never accept what the reference refuses; where we refuse what it accepts, the
//! reason must be one of the documented, deliberate extra rules.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use support::{SECRET, b64, sign_raw};
use tower_login_manager::{LoginManager, TokenError};

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

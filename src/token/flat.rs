//! The fast path for the claims of a token: a flat JSON object whose values are strings without
//! escapes and non-negative integers, which is what this crate, PyJWT and jsonwebtoken write for
//! login tokens, and arrays of such strings in claims this crate does not read (`roles`). On the
//! way it notes where the values of `scope` and `roles` are, for a requirement to read them there.
//!
//! [`parse`] either reads such an object exactly as the serde_json path ([`super::parse::ClaimsSeed`])
//! would, or declines with `None`, and the caller then runs the serde_json path, which stays the
//! authority: escapes, fractions, exponents, negative numbers, `true`/`false`/`null`, arrays,
//! nested objects, control characters, repeated claims, more than a few claims this crate does not
//! read, and every malformed input go there. So the
//! fast path never accepts or rejects anything on its own; `tests` below and
//! `tests/properties.rs` hold the two paths to the same result.

use std::borrow::Cow;

use super::parse::{Date, NOTED, RawClaims, Spot, Value, noted};

/// Past JSON whitespace (RFC 8259 section 2), from `i`: the claims parsers' one (the fast path
/// here, a requirement's search in `require/claim.rs`).
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A string starting at `text[i] == '"'`, without escapes or control characters: its contents
/// and the index after its closing quote.
fn string(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    loop {
        match *b.get(j)? {
            b'"' => break,
            // Escapes and control characters (an error) are left to serde_json. Bytes of 0x80
            // and up are the rest of UTF-8 characters, already validated with the whole text.
            b'\\' | 0..=0x1f => return None,
            _ => j += 1,
        }
    }
    // `start` and `j` are next to ASCII quotes: character boundaries.
    Some((text.get(start..j)?, j + 1))
}

/// A value starting at `text[i]`: a string without escapes, or a non-negative integer that fits
/// in a `u64` (serde_json reads larger ones as floats), with no leading zero, fraction or exponent.
fn value(text: &str, i: usize) -> Option<(Value<'_>, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'"' => string(text, i).map(|(s, next)| (Value::Str(Cow::Borrowed(s)), next)),
        b'0'..=b'9' => {
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let next = i + digits;
            if digits > 1 && b[i] == b'0' {
                return None;
            }
            if let Some(b'.' | b'e' | b'E') = b.get(next) {
                return None;
            }
            let n = b[i..next].iter().try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })?;
            Some((Value::Date(Date::Secs(n)), next))
        }
        _ => None,
    }
}

/// An array of strings without escapes starting at `text[i] == '['`, in a claim this crate does
/// not read: the index after it.
fn strings(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        let (_, next) = string(text, i)?;
        i = skip_ws(b, next);
        match *b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// How many claims this crate does not read the fast path takes; a token with more goes to
/// serde_json. Enough for the application claims tokens usually carry, few enough that checking
/// each name against the others stays cheaper than a hash set.
const MAX_OTHER_CLAIMS: usize = 8;

/// The claims of `text` if it is a flat object of plain strings and integers (and arrays of plain
/// strings in claims this crate does not read) with no repeated claim (RFC 7519 section 4) and at
/// most [`MAX_OTHER_CLAIMS`] claims this crate does not read; `None` to let serde_json decide
/// (and refuse a repeated claim).
pub(super) fn parse<'a>(text: &'a str, user_id_claim: &str) -> Option<RawClaims<'a>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    // The places noted are `u32`s (a token is at most `MAX_TOKEN_LEN`, 8 KiB, long).
    if b.get(i) != Some(&b'{') || u32::try_from(b.len()).is_err() {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut claims = RawClaims {
        // Every member is seen: one not noted below is not there. The user id claim's value is
        // read as the user id, never noted: a requirement on it searches the text itself.
        noted: NOTED.map(|name| match name == user_id_claim {
            true => Spot::Unknown,
            false => Spot::Absent,
        }),
        ..RawClaims::default()
    };
    // The names of the claims `slot` has no place for; without escapes, so compared as written.
    let mut others = [""; MAX_OTHER_CLAIMS];
    let mut n_others = 0;
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            let (name, next) = string(text, i)?;
            i = skip_ws(b, next);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_ws(b, i + 1);
            // The mapping `ClaimsSeed::visit_map` uses; claims this crate does not read are skipped.
            let next = match claims.slot(name, user_id_claim) {
                Some(Some(_)) => return None,
                Some(slot) => {
                    let (value, next) = value(text, start)?;
                    *slot = Some(value);
                    next
                }
                None => {
                    if others[..n_others].contains(&name) {
                        return None;
                    }
                    *others.get_mut(n_others)? = name;
                    n_others += 1;
                    let end = match b.get(start) {
                        Some(b'[') => strings(text, start)?,
                        _ => value(text, start)?.1,
                    };
                    if let Some(noted) = noted(name) {
                        // Lossless: the text is shorter than 4 GiB (checked above).
                        claims.noted[noted] = Spot::At {
                            start: start as u32,
                            end: end as u32,
                        };
                    }
                    end
                }
            };
            i = skip_ws(b, next);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(b, i) == b.len()).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::super::parse::{ClaimsSeed, NOTED, RawClaims, Spot};
    use serde::de::DeserializeSeed;

    fn serde_path<'a>(text: &'a str, user_id_claim: &str) -> Option<RawClaims<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let claims = ClaimsSeed { user_id_claim }.deserialize(&mut de).ok()?;
        de.end().ok().map(|()| claims)
    }

    /// Where the fast path answers, it answers what serde_json does, and notes `scope` and
    /// `roles` where serde_json finds them.
    pub(crate) fn agrees(text: &str) -> bool {
        match super::parse(text, "user_id") {
            None => true,
            Some(mut fast) => {
                let noted_right = noted_where_serde_json_finds(text, &fast);
                // serde_json's path notes nothing.
                fast.noted = Default::default();
                noted_right && serde_path(text, "user_id").is_some_and(|slow| fast == slow)
            }
        }
    }

    /// Each noted claim is absent from the object, or its value is the JSON text noted for it,
    /// whole, with no whitespace around it and no escape.
    fn noted_where_serde_json_finds(text: &str, fast: &RawClaims<'_>) -> bool {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).expect("the fast path read a JSON object");
        NOTED
            .iter()
            .zip(fast.noted)
            .all(|(name, spot)| match (object.get(*name), spot) {
                (None, Spot::Absent) => true,
                (Some(value), Spot::At { start, end }) => {
                    let noted = &text[start as usize..end as usize];
                    noted.trim() == noted
                        && !noted.contains('\\')
                        && serde_json::from_str::<serde_json::Value>(noted)
                            .is_ok_and(|v| v == *value)
                }
                _ => false,
            })
    }

    #[test]
    fn notes_the_values_of_scope_and_roles() {
        let text = r#"{"user_id":"1", "scope" : "a b","roles":[ "x" , "y" ],"exp":2}"#;
        let fast = super::parse(text, "user_id").unwrap();
        let at = |start, end| Spot::At { start, end };
        assert_eq!(fast.noted, [at(26, 31), at(40, 53)]);
        assert_eq!(&text[26..31], r#""a b""#);
        assert_eq!(&text[40..53], r#"[ "x" , "y" ]"#);
        assert!(agrees(text));
        let fast = super::parse(r#"{"user_id":"1"}"#, "user_id").unwrap();
        assert_eq!(fast.noted, [Spot::Absent; 2]);
        // The user id claim is read as the user id: not noted, a requirement searches.
        let fast = super::parse(r#"{"scope":"1","roles":[]}"#, "scope").unwrap();
        assert_eq!(fast.noted, [Spot::Unknown, at(21, 23)]);
        // serde_json's path notes nothing.
        let slow = serde_path(r#"{"user_id":"1","roles":["\u0061"]}"#, "user_id").unwrap();
        assert_eq!(slow.noted, [Spot::Unknown; 2]);
    }

    #[test]
    fn arrays_of_plain_strings_in_other_claims_take_the_fast_path() {
        for text in [
            r#"{"user_id":"1","roles":[]}"#,
            r#"{"user_id":"1","roles":["admin"]}"#,
            r#"{"user_id":"1","roles": [ "a" ,"b c","é" ] ,"groups":["g"]}"#,
        ] {
            assert!(super::parse(text, "user_id").is_some(), "{text}");
            assert!(agrees(text), "{text}");
        }
        for text in [
            r#"{"user_id":"1","roles":["a",]}"#,
            r#"{"user_id":"1","roles":[,"a"]}"#,
            r#"{"user_id":"1","roles":["a" "b"]}"#,
            r#"{"user_id":"1","roles":["\u0061"]}"#,
            r#"{"user_id":"1","roles":[1]}"#,
            r#"{"user_id":"1","roles":[["a"]]}"#,
            r#"{"user_id":"1","roles":["a"}"#,
            r#"{"user_id":"1","roles":["a","#,
            r#"{"user_id":"1","roles":[}"#,
            r#"{"user_id":"1","roles":["a"],"roles":[]}"#,
        ] {
            assert!(super::parse(text, "user_id").is_none(), "{text}");
            assert!(agrees(text), "{text}");
        }
    }

    #[test]
    fn reads_the_tokens_this_crate_and_the_flask_original_write() {
        for text in [
            r#"{"exp":1700003600,"iat":1700000000,"user_id":"42"}"#,
            r#"{"exp": 1700003600, "iat": 1700000000, "user_id": "42"}"#,
            r#"{"user_id":"ada","exp":1,"type":"refresh","jti":"abc","role":"x","n":7}"#,
            "{}",
            " {\n\t\"user_id\" : \"é\" } \r\n",
        ] {
            assert!(super::parse(text, "user_id").is_some(), "{text}");
            assert!(agrees(text), "{text}");
        }
    }

    #[test]
    fn leaves_everything_else_to_serde_json() {
        for text in [
            r#"{"user_id":"a\"b"}"#,
            r#"{"user_id":"\u0061"}"#,
            r#"{"u\u0073er_id":"a"}"#,
            "{\"user_id\":\"a\u{1}b\"}",
            r#"{"exp":1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":01}"#,
            r#"{"exp":18446744073709551616}"#,
            r#"{"exp":00}"#,
            r#"{"aud":["a","b"]}"#,
            r#"{"x":{"y":1}}"#,
            r#"{"x":true}"#,
            r#"{"x":null}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"user_id":"a",}"#,
            r#"{"user_id":"a"} x"#,
            r#"{"user_id" "a"}"#,
            r#"{"user_id":"a""#,
            r#"["user_id"]"#,
            "",
            "{",
        ] {
            assert!(super::parse(text, "user_id").is_none(), "{text}");
            assert!(agrees(text), "{text}");
        }
    }

    /// RFC 7519 section 4: claims this crate does not read may not repeat either; the fast path
    /// leaves them to serde_json, which refuses them.
    #[test]
    fn repeated_unknown_claims_are_left_to_serde_json_which_refuses_them() {
        for text in [
            r#"{"user_id":"a","x":1,"x":"2"}"#,
            r#"{"x":1,"user_id":"a","x":1}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"a":9}"#,
        ] {
            assert!(super::parse(text, "user_id").is_none(), "{text}");
            assert!(serde_path(text, "user_id").is_none(), "{text}");
        }
    }

    #[test]
    fn up_to_eight_claims_this_crate_does_not_read_take_the_fast_path() {
        let eight = r#"{"user_id":"u","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#;
        assert!(super::parse(eight, "user_id").is_some());
        assert!(agrees(eight));
        let nine = r#"{"user_id":"u","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}"#;
        assert!(super::parse(nine, "user_id").is_none());
        assert!(serde_path(nine, "user_id").is_some());
    }

    #[test]
    fn the_configured_user_id_claim_is_read_first() {
        let text = r#"{"sub":"a","user_id":"b"}"#;
        let mut fast = super::parse(text, "sub").unwrap();
        assert!(fast.has_extra);
        fast.noted = Default::default();
        assert!(fast == serde_path(text, "sub").unwrap());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    /// Claims objects of the shapes tokens carry, some spaced out, some with odd values.
    fn object() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            proptest::sample::select(vec![
                "user_id", "exp", "iat", "nbf", "jti", "type", "aud", "iss", "role", "scope",
                "roles"
            ])
            .prop_map(String::from),
            "[a-z_\\\\\"é]{0,6}",
        ];
        let value = prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            (u128::from(u64::MAX) - 5..u128::from(u64::MAX) + 5).prop_map(|n| n.to_string()),
            (0u64..100).prop_map(|n| format!("0{n}")),
            "-?[0-9]{1,21}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            "\"[ -~é\\x00-\\x1f]{0,8}\"",
            proptest::collection::vec(("[ \\t]{0,1}", "\"[ -~é\\x00-\\x1f]{0,4}\""), 0..3)
                .prop_map(|strings| {
                    let strings: Vec<String> = strings
                        .into_iter()
                        .map(|(w, s)| format!("{w}{s}{w}"))
                        .collect();
                    format!("[{}]", strings.join(","))
                }),
            proptest::sample::select(vec![
                "true",
                "null",
                "[\"a\"]",
                "{}",
                "{\"a\":1}",
                "\"\\u0041\""
            ])
            .prop_map(String::from),
        ];
        let ws = "[ \\t\\n\\r]{0,2}";
        proptest::collection::vec((name, value, ws), 0..6).prop_map(|members| {
            let body: Vec<String> = members
                .into_iter()
                .map(|(n, v, w)| format!("{w}\"{n}\"{w}:{w}{v}{w}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    /// Fragments of JSON put together at random: mostly malformed.
    fn fragments() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec![
                "{", "}", "\"", ":", ",", " ", "\\", "0", "7", "user_id", "exp", "-", ".", "e",
                "[", "]", "true", "null", "é", "\u{1}",
            ]),
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    /// Objects of plain strings and integers under distinct names: what the fast path is for.
    fn plain_object() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            "\"[ !#-\\[\\]-~é]{0,12}\"",
        ];
        proptest::collection::btree_map("[a-z_]{1,8}", value, 0..8).prop_map(|members| {
            let body: Vec<String> = members
                .iter()
                .map(|(n, v)| format!("\"{n}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn the_fast_path_reads_plain_objects(text in plain_object()) {
            prop_assert!(super::parse(&text, "user_id").is_some(), "{}", text);
            prop_assert!(super::tests::agrees(&text), "{}", text);
        }

        #[test]
        fn the_fast_path_agrees_with_serde_json_on_claims_objects(text in object()) {
            prop_assert!(super::tests::agrees(&text), "{}", text);
        }

        #[test]
        fn the_fast_path_agrees_with_serde_json_on_fragments(text in fragments()) {
            prop_assert!(super::tests::agrees(&text), "{}", text);
        }
    }
}

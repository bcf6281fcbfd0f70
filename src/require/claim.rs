//! One claim of a verified token, read in place in the claims JSON the verifier accepted: the
//! space-separated `scope` string (RFC 8693 section 4.2, RFC 9068 section 2.2.3) and an array of
//! strings such as `roles` (RFC 9068 section 2.2.3.1).
//!
//! The text was accepted whole by the verifier (a JSON object, UTF-8, no repeated member), so
//! this only walks it: to the member's value, skipping the others. A name or a string with an
//! escape is decoded by serde_json, off the usual path; nothing else allocates.
//!
//! The verifier notes where the values of `scope` and `roles` are while it reads the text
//! (`Claims::spot`), so a requirement on them reads the value there, known to hold no escape.
//! Any other claim is looked for: walking the text byte by byte cost a tenth of the layer's
//! valid path (issue 24 allows a twentieth), a reverse search from the end 1.08x; the member's
//! quoted name is found with memchr's SIMD search over the whole text instead, and taken when
//! the text after it shows it is a key of the outer object; the walk decides whenever that
//! cannot be shown. `tests` below hold the search and the walk to the same result, and
//! `token/flat.rs`'s tests the noted values to serde_json's.

use std::borrow::Cow;

use memchr::memmem::Finder;

use crate::token::{Claims, Spot, skip_ws};

/// A claim's name, prepared once for [`member`].
#[derive(Clone, Debug)]
pub(super) struct Name {
    name: Box<str>,
    /// Its place among the claims the verifier notes ([`Claims::spot`]), if it is one.
    noted: Option<usize>,
    /// `"name"`, searched for in the text; `None` for a name that search cannot find whole
    /// (one with a quote, a backslash, whitespace or a JSON delimiter).
    quoted: Option<Finder<'static>>,
}

impl Name {
    pub(super) fn new(name: &str) -> Self {
        let plain = !name.bytes().any(|b| {
            matches!(
                b,
                b'"' | b'\\'
                    | b':'
                    | b','
                    | b'{'
                    | b'}'
                    | b'['
                    | b']'
                    | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
            )
        });
        let quoted = plain.then(|| Finder::new(format!("\"{name}\"").as_bytes()).into_owned());
        Self {
            noted: crate::token::noted(name),
            name: name.into(),
            quoted,
        }
    }
}

/// A claim's value: its JSON text, whole, and whether a string in it may hold an escape.
#[derive(Clone, Copy, Debug)]
pub(super) struct Value<'a> {
    pub(super) json: &'a [u8],
    pub(super) escapes: bool,
}

/// [`member`] of the verified claims: where the verifier noted the value (its fast path reads
/// no escape), or found in the text.
pub(super) fn value_of<'a>(claims: &'a Claims, name: &Name) -> Option<Value<'a>> {
    let json = claims.raw_json()?;
    match name.noted.map_or(Spot::Unknown, |noted| claims.spot(noted)) {
        Spot::Absent => None,
        Spot::At { start, end } => Some(Value {
            json: json.get(start as usize..end as usize)?,
            escapes: false,
        }),
        Spot::Unknown => member(json, name).map(|json| Value {
            json,
            escapes: true,
        }),
    }
}

/// The JSON text of the value of the top-level member `name` of the object `json`; `None` when
/// there is no such member. Out of line, so that reading a noted claim does not pay for the
/// search's stack frame.
#[inline(never)]
pub(super) fn member<'a>(json: &'a [u8], name: &Name) -> Option<&'a [u8]> {
    name.quoted
        .as_ref()
        .and_then(|quoted| searched(json, quoted))
        .or_else(|| walk(json, &name.name))
}

/// [`member`] for the first `"name"` followed by `:`, when the text after it shows that it is
/// a key of the outer object: its opening quote is not escaped (no backslash before it; a
/// closing quote is followed by whitespace or a delimiter, which a plain name does not start
/// with), and the first `}` after it is the outer object's own, so no inner object is open
/// there. `None` when not found so (the walk decides; absent members included).
fn searched<'a>(json: &'a [u8], quoted: &Finder<'_>) -> Option<&'a [u8]> {
    for at in quoted.find_iter(json) {
        let after = skip_ws(json, at + quoted.needle().len());
        if json.get(after) != Some(&b':') {
            // A string value, not a key.
            continue;
        }
        let close = at + memchr::memchr(b'}', &json[at..])?;
        if at == 0 || json[at - 1] == b'\\' || skip_ws(json, close + 1) != json.len() {
            return None;
        }
        let start = skip_ws(json, after + 1);
        return Some(&json[start..value_end(json, start)?]);
    }
    None
}

/// [`member`] by walking every member of the object.
fn walk<'a>(json: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(json, i);
        // `}` of an empty object, or not JSON.
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(json, i)?;
        let key = &json[i..key_end];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, i + 1);
        let end = value_end(json, start)?;
        if key_is(key, name) {
            return Some(&json[start..end]);
        }
        i = skip_ws(json, end);
        if json.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

/// Whether `value` is a JSON string whose space-separated tokens (RFC 6749 section 3.3)
/// include every one of `required`: exact, case-sensitive matches, never a prefix.
pub(super) fn has_scopes(value: Value<'_>, required: &[Box<str>]) -> bool {
    let scopes = match value.escapes {
        // An escape may be there: the string decoded if there is one, off the usual path.
        true => string(value.json),
        false => quoted(value.json).map(Cow::Borrowed),
    };
    scopes.is_some_and(|scopes| {
        required
            .iter()
            .all(|want| has_token(&scopes, want.as_bytes()))
    })
}

/// Whether `want` is one of the space-separated tokens of `scopes`: compared where each token
/// starts, so that the bytes between are only looked at for the next space.
fn has_token(scopes: &[u8], want: &[u8]) -> bool {
    let mut rest = scopes;
    loop {
        // The first byte alone rules most tokens out, before a call to compare the rest.
        if rest.first() == want.first()
            && rest.starts_with(want)
            && rest.get(want.len()).is_none_or(|&b| b == b' ')
        {
            return true;
        }
        match rest.iter().position(|&b| b == b' ') {
            Some(space) => rest = &rest[space + 1..],
            None => return false,
        }
    }
}

/// Whether `value` is a JSON array of strings that holds every one of `required`
/// (exact, case-sensitive). An array holding anything but strings is the wrong type: `false`.
pub(super) fn has_all(value: &[u8], required: &[Box<str>]) -> bool {
    required.iter().all(|want| {
        let mut found = false;
        each_string(value, |s| found |= s == want.as_bytes()).is_some() && found
    })
}

/// Calls `f` with each string of the JSON array `value`; `None` if it is not an array of
/// strings.
fn each_string(value: &[u8], mut f: impl FnMut(&[u8])) -> Option<()> {
    if value.first() != Some(&b'[') {
        return None;
    }
    let mut i = skip_ws(value, 1);
    if value.get(i) == Some(&b']') {
        return Some(());
    }
    loop {
        if value.get(i) != Some(&b'"') {
            return None;
        }
        let body = &value[i + 1..];
        let end = match body.iter().position(|&b| b == b'"' || b == b'\\')? {
            // No escape: the string as it is written, in one pass.
            n if body[n] == b'"' => {
                f(&body[..n]);
                i + n + 2
            }
            _ => {
                let end = string_end(value, i)?;
                f(&string(&value[i..end])?);
                end
            }
        };
        i = skip_ws(value, end);
        match value.get(i)? {
            b',' => i = skip_ws(value, i + 1),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// Whether the JSON string `key` (quotes included) is `name`.
fn key_is(key: &[u8], name: &str) -> bool {
    string(key).is_some_and(|key| *key == *name.as_bytes())
}

/// The contents of the JSON string `value` (quotes included), unescaped; `None` if it is not
/// one string.
fn string(value: &[u8]) -> Option<Cow<'_, [u8]>> {
    let inner = quoted(value)?;
    if !inner.contains(&b'\\') {
        return Some(Cow::Borrowed(inner));
    }
    let decoded: String = serde_json::from_slice(value).ok()?;
    Some(Cow::Owned(decoded.into_bytes()))
}

/// What is between the quotes of `value`, as written; `None` if it is not quoted.
fn quoted(value: &[u8]) -> Option<&[u8]> {
    value.strip_prefix(b"\"")?.strip_suffix(b"\"")
}

/// The index after the string that starts at `json[i] == b'"'`.
fn string_end(json: &[u8], i: usize) -> Option<usize> {
    // Claims' strings are short: a plain loop beats `memchr`'s setup.
    let mut j = i + 1;
    loop {
        match *json.get(j)? {
            b'"' => return Some(j + 1),
            // A backslash and the character it escapes (the hex digits of `\uXXXX` are plain).
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// The index after the value that starts at `json[i]`.
fn value_end(json: &[u8], i: usize) -> Option<usize> {
    match *json.get(i)? {
        b'"' => string_end(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *json.get(j)? {
                    b'"' => {
                        j = string_end(json, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        // A number, `true`, `false` or `null`.
        _ => {
            let rest = &json[i..];
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            Some(i + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`member`], the name prepared.
    fn m<'a>(json: &'a [u8], name: &str) -> Option<&'a [u8]> {
        member(json, &Name::new(name))
    }

    /// [`has_scopes`] of a value found in the text; one without an escape, as if noted too:
    /// both must give the same verdict.
    fn scoped(json: &[u8], required: &[Box<str>]) -> bool {
        let found = has_scopes(
            Value {
                json,
                escapes: true,
            },
            required,
        );
        if !json.contains(&b'\\') {
            let noted = has_scopes(
                Value {
                    json,
                    escapes: false,
                },
                required,
            );
            assert_eq!(found, noted, "{}", String::from_utf8_lossy(json));
        }
        found
    }

    fn owned(values: &[&str]) -> Vec<Box<str>> {
        values.iter().map(|&v| v.into()).collect()
    }

    #[test]
    fn finds_a_top_level_member_and_skips_the_others() {
        let json = br#" { "a" : {"scope":"x","b":[1,"]}",{"c":null}]} , "s\"" : "}" ,
            "n": -1.5e3, "t": true, "scope" : "read write" } "#;
        assert_eq!(m(json, "scope"), Some(&br#""read write""#[..]));
        assert_eq!(m(json, "n"), Some(&b"-1.5e3"[..]));
        assert_eq!(m(json, "t"), Some(&b"true"[..]));
        assert_eq!(m(json, "s\""), Some(&br#""}""#[..]));
        assert_eq!(m(json, "b"), None, "only top-level members");
        assert_eq!(m(b"{}", "scope"), None);
    }

    #[test]
    fn an_escaped_name_or_value_is_decoded() {
        let json = br#"{"sc\u006fpe":"re\u0061d write","roles":["\u0061dmin"]}"#;
        let scope = m(json, "scope").unwrap();
        assert!(scoped(scope, &owned(&["read", "write"])));
        assert!(has_all(m(json, "roles").unwrap(), &owned(&["admin"])));
    }

    #[test]
    fn rfc6749_section3_3_scope_tokens_match_whole_and_case_sensitively() {
        let scope = br#""read:admin read""#;
        assert!(scoped(scope, &owned(&["read"])));
        assert!(scoped(scope, &owned(&["read", "read:admin"])));
        assert!(!scoped(scope, &owned(&["rea"])));
        assert!(!scoped(scope, &owned(&["READ"])));
        assert!(!scoped(br#"["read"]"#, &owned(&["read"])), "not a string");
        assert!(!scoped(br#""read"#, &owned(&["read"])), "not one string");
    }

    #[test]
    fn an_array_of_anything_but_strings_is_the_wrong_type() {
        assert!(has_all(br#"[ "a" , "b" ]"#, &owned(&["b", "a"])));
        assert!(!has_all(br#"["a", 1]"#, &owned(&["a"])));
        assert!(!has_all(br#""a""#, &owned(&["a"])));
        assert!(has_all(b"[]", &[]));
        assert!(!has_all(b"[]", &owned(&["a"])));
    }

    /// A JSON object of a few members whose values nest strings (with escapes), numbers,
    /// literals, arrays and objects.
    fn object() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z \"\\\\\\]\\[{}:,\u{e9}\u{1}]{0,6}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z\"]{0,3}", inner, 0..3)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map("[a-z\"\\\\]{0,4}", value, 0..5)
            .prop_map(|m| m.into_iter().collect())
    }

    /// A flat object as tokens carry them: no nested object, no escape; values of plain
    /// strings, numbers, literals and arrays of those.
    fn plain_object() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
        let leaf = prop_oneof![
            any::<u32>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            "[a-z :,\\[\\]]{0,8}".prop_map(serde_json::Value::from),
        ];
        let value = prop_oneof![
            leaf.clone(),
            prop::collection::vec(leaf, 0..4).prop_map(serde_json::Value::from),
        ];
        prop::collection::btree_map("[a-z_]{0,6}", value, 0..8)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        /// The fast path finds what the walk finds, for every name in the object and a few that
        /// are not, however the text is written.
        #[test]
        fn the_fast_path_agrees_with_the_walk(
            object in plain_object(),
            others in prop::collection::vec("[a-z_ :]{0,6}", 0..4),
            pretty in any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            for name in object.keys().chain(&others) {
                let prepared = Name::new(name);
                let fast = prepared.quoted.as_ref().and_then(|q| searched(&text, q));
                prop_assert!(fast.is_none() || fast == walk(&text, name), "{}", name);
                prop_assert_eq!(member(&text, &prepared), walk(&text, name), "{}", name);
            }
        }

        /// The walk finds each member's value as serde_json reads the object, however it is
        /// written (compact or pretty).
        #[test]
        fn member_agrees_with_serde_json(object in object(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            // As serde_json reads it back (a float may come back one ulp off).
            let whole: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&text).unwrap();
            for name in object.keys() {
                let want = &whole[name];
                if let Some(quoted) = &Name::new(name).quoted {
                    let fast = searched(&text, quoted);
                    prop_assert!(fast.is_none() || fast == walk(&text, name), "{}", name);
                }
                let found = m(&text, name).expect("every member is found");
                let found: serde_json::Value = serde_json::from_slice(found).unwrap();
                prop_assert_eq!(&found, want);
            }
            prop_assert_eq!(m(&text, "not a member"), None);
        }
    }
}

//! Reading a token: its three segments, strict base64url, the header and the claims, borrowed
//! from the decoded bytes. Nothing here decides whether a token is valid; `validate` does.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::TokenError;

/// The parts of a compact JWS (RFC 7515 section 7.1).
pub(super) struct Parts<'a> {
    pub(super) signing_input: &'a [u8],
    pub(super) header: &'a [u8],
    pub(super) claims: &'a [u8],
    pub(super) signature: &'a [u8],
}

/// Splits a compact JWS into its signing input and three segments: exactly two dots.
pub(super) fn split(token: &[u8]) -> Result<Parts<'_>, TokenError> {
    let mut dots = memchr::memchr_iter(b'.', token);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(TokenError::Malformed);
    };
    Ok(Parts {
        signing_input: &token[..second],
        header: &token[..first],
        claims: &token[first + 1..second],
        signature: &token[second + 1..],
    })
}

/// Strict base64url (RFC 7515 section 2): no padding, no `+` or `/`, no whitespace, canonical
/// trailing bits. Small inputs decode into `stack`, larger ones into `heap`.
pub(super) fn b64_decode<'a>(
    input: &[u8],
    stack: &'a mut [u8],
    heap: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    if base64::decoded_len_estimate(input.len()) <= stack.len() {
        let n = URL_SAFE_NO_PAD.decode_slice(input, stack).ok()?;
        Some(&stack[..n])
    } else {
        *heap = URL_SAFE_NO_PAD.decode(input).ok()?;
        Some(heap)
    }
}

/// Claims through serde_json: every shape the fast path leaves alone. Out of line, so the usual
/// path stays short.
#[inline(never)]
pub(super) fn parse_claims<'a>(
    text: &'a str,
    user_id_claim: &str,
) -> Result<RawClaims<'a>, TokenError> {
    let mut de = serde_json::Deserializer::from_str(text);
    ClaimsSeed { user_id_claim }
        .deserialize(&mut de)
        .and_then(|c| de.end().map(|()| c))
        .map_err(|_| TokenError::InvalidClaims)
}

/// A header other than the known ones: decoded (into `heap`, which the parsed header borrows
/// from) and parsed. Out of line, so the usual path stays short.
#[inline(never)]
pub(super) fn decode_header<'h>(
    b64: &[u8],
    heap: &'h mut Vec<u8>,
) -> Result<Header<'h>, TokenError> {
    *heap = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| TokenError::Malformed)?;
    parse_header(heap)
}

/// The header members this crate reads. Parsed as a JSON *object* only: a derived struct would
/// also take the array `["HS256"]` (RFC 7515 section 4: the header is a JSON object).
#[derive(Default)]
pub(super) struct Header<'a> {
    pub(super) alg: Option<Value<'a>>,
    /// RFC 7515 section 4.1.4: a string; any other type (`null` included) is malformed.
    pub(super) kid: Option<Cow<'a, str>>,
    pub(super) crit: bool,
}

pub(super) struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut header = Header::default();
        let mut names = MemberNames::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // RFC 7515 section 4: "The Header Parameter names within the JOSE Header MUST be
            // unique"; every repeat is refused, not only of the members read here.
            match &*names.first_time(key)? {
                "alg" => header.alg = Some(map.next_value_seed(ValueSeed)?),
                "kid" => header.kid = Some(map.next_value_seed(KeySeed)?),
                "crit" => {
                    map.next_value::<IgnoredAny>()?;
                    header.crit = true;
                }
                // RFC 7515 sections 4.1.2 to 4.1.10: not used here, but of set types; another
                // type is a malformed header, as jsonwebtoken answers.
                "typ" | "cty" | "jku" | "x5u" | "x5t" | "x5t#S256" => {
                    map.next_value_seed(KeySeed)?;
                }
                "x5c" => {
                    if !matches!(map.next_value_seed(ValueSeed)?, Value::Strs(_)) {
                        return Err(de::Error::custom("x5c is not an array of strings"));
                    }
                }
                "jwk" => map.next_value_seed(SkippedObject)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

/// A JSON object, its members skipped: the header's `jwk` (RFC 7515 section 4.1.3), which this
/// crate never uses (RFC 8725 section 3.10).
struct SkippedObject;

impl<'de> DeserializeSeed<'de> for SkippedObject {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SkippedObject {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

pub(super) fn parse_header(raw: &[u8]) -> Result<Header<'_>, TokenError> {
    // RFC 7515 section 5.2 step 3: UTF-8 throughout, skipped members included.
    let text = std::str::from_utf8(raw).map_err(|_| TokenError::Malformed)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let header = de
        .deserialize_map(HeaderVisitor)
        .and_then(|h| de.end().map(|()| h))
        .map_err(|_| TokenError::Malformed)?;
    match &header.alg {
        Some(Value::Str(_)) => {}
        None => return Err(TokenError::WrongAlgorithm),
        Some(_) => return Err(TokenError::Malformed),
    }
    if header.crit {
        return Err(TokenError::UnsupportedCritical);
    }
    Ok(header)
}

/// A NumericDate (RFC 7519 section 2) as read: whole seconds, with fractions truncated as PyJWT
/// does, negative values kept apart (they are in the past).
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) enum Date {
    Secs(u64),
    BeforeEpoch,
}

/// One claim value as it came, so that each claim can say precisely what is wrong with it.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) enum Value<'a> {
    Date(Date),
    Str(Cow<'a, str>),
    Strs(Vec<Cow<'a, str>>),
    Other,
}

impl<'a> Value<'a> {
    pub(super) fn date(&self, claim: &'static str) -> Result<Date, TokenError> {
        match self {
            Value::Date(d) => Ok(*d),
            _ => Err(TokenError::InvalidClaim(claim)),
        }
    }
}

/// 2^64 as an `f64`: the first float that does not fit in a `u64` seconds count.
const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;

pub(super) struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Date(Date::Secs(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Date(if v < 0 {
            Date::BeforeEpoch
        } else {
            Date::Secs(v as u64)
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(if v < 0.0 {
            Value::Date(Date::BeforeEpoch)
        } else if v < U64_LIMIT {
            Value::Date(Date::Secs(v as u64))
        } else {
            // Past u64::MAX (`1e300`, `18446744073709551616`): not a date this crate can hold,
            // and jsonwebtoken, the reference, refuses it; never read as "the far future".
            Value::Other
        })
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut strs = Vec::new();
        let mut all_strings = true;
        while let Some(v) = seq.next_element_seed(ValueSeed)? {
            match v {
                Value::Str(s) if all_strings => strs.push(s),
                _ => all_strings = false,
            }
        }
        Ok(if all_strings {
            Value::Strs(strs)
        } else {
            Value::Other
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Other)
    }
}

/// The member names of one JSON object seen so far, unescaped: RFC 7515 section 4 and RFC 7519
/// section 4 require them unique, and a name spelled with escapes is the same name. The first
/// [`FEW_NAMES`] are kept in place and compared one by one (no allocation for the objects tokens
/// carry); past them, a hash set keeps an object of many members linear in time.
#[derive(Default)]
pub(super) struct MemberNames<'de> {
    few: [Cow<'de, str>; FEW_NAMES],
    len: usize,
    many: HashSet<Cow<'de, str>>,
}

pub(super) const FEW_NAMES: usize = 8;

impl<'de> MemberNames<'de> {
    /// `name` back if it was not seen before; an error if it was.
    fn first_time<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<Cow<'de, str>, E> {
        if self.few[..self.len].contains(&name) || self.many.contains(&name) {
            return Err(E::custom("repeated member"));
        }
        match self.few.get_mut(self.len) {
            Some(slot) => {
                *slot = name.clone();
                self.len += 1;
            }
            None => {
                self.many.insert(name.clone());
            }
        }
        Ok(name)
    }
}

/// A member name, or any other string this crate keeps (`kid`), borrowed from the input unless
/// it has escapes (`Cow`'s own `Deserialize` always copies).
pub(super) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

pub(super) struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Where the value of a claim that a [`RequireLayer`](crate::RequireLayer) reads is in the
/// claims text (`scope` and `roles`, RFC 9068 sections 2.2.3 and 2.2.3.1): noted by the fast
/// path (`flat.rs`) while it reads the text, so that the requirement does not search it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Spot {
    /// Not noted (serde_json read the text, or the name is the user id claim): the text must be
    /// searched.
    #[default]
    Unknown,
    /// The claims object has no such member.
    Absent,
    /// The member's value is `text[start..end]`, and no string in it has an escape (the fast
    /// path reads only plain strings).
    At { start: u32, end: u32 },
}

/// The claims whose values are noted: `scope` and `roles`, in [`RawClaims::noted`]'s
/// and [`Claims::spot`](super::Claims::spot)'s order.
pub(super) const NOTED: [&str; 2] = ["scope", "roles"];

/// `name`'s place in [`NOTED`]: what [`Claims::spot`](super::Claims::spot) takes.
pub(crate) fn noted(name: &str) -> Option<usize> {
    NOTED.iter().position(|noted| *noted == name)
}

/// The claims this crate reads, borrowed from the decoded payload.
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawClaims<'a> {
    pub(super) user_id: Option<Value<'a>>,
    pub(super) exp: Option<Value<'a>>,
    pub(super) nbf: Option<Value<'a>>,
    pub(super) iat: Option<Value<'a>>,
    pub(super) iss: Option<Value<'a>>,
    pub(super) aud: Option<Value<'a>>,
    pub(super) jti: Option<Value<'a>>,
    pub(super) sid: Option<Value<'a>>,
    pub(super) kind: Option<Value<'a>>,
    /// Claims this crate does not read are present (see [`Claims::extra`]).
    pub(super) has_extra: bool,
    /// Where the values of the [`NOTED`] claims are.
    pub(super) noted: [Spot; 2],
}

pub(super) struct ClaimsSeed<'c> {
    pub(super) user_id_claim: &'c str,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawClaims<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims<'de>, A::Error> {
        let mut claims = RawClaims::default();
        let mut names = MemberNames::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // RFC 7519 section 4: a repeated claim name is rejected, never "last wins", whether
            // or not this crate reads it (`Claims::extra` reads the rest).
            let key = names.first_time(key)?;
            match claims.slot(&key, self.user_id_claim) {
                Some(slot) => *slot = Some(map.next_value_seed(ValueSeed)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(claims)
    }
}

impl<'a> RawClaims<'a> {
    /// Where the value of the claim `name` goes; `None` for a claim this crate does not read
    /// (noted in `has_extra`). One mapping for the serde_json path and the fast path.
    pub(super) fn slot(
        &mut self,
        name: &str,
        user_id_claim: &str,
    ) -> Option<&mut Option<Value<'a>>> {
        Some(match name {
            n if n == user_id_claim => &mut self.user_id,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "iss" => &mut self.iss,
            "aud" => &mut self.aud,
            "jti" => &mut self.jti,
            "sid" => &mut self.sid,
            "type" => &mut self.kind,
            _ => {
                self.has_extra = true;
                return None;
            }
        })
    }
}

//! Issuing and verifying HS256 tokens: a strict compact-JWS verifier on a prepared HMAC key.
//!
//! The order of checks follows RFC 7515 section 5.2 and RFC 8725: size, structure, header,
//! algorithm, MAC, and only then the claims, so nothing an attacker controls is interpreted before
//! the MAC has been checked (apart from the header, which is needed to know the algorithm).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sha2::Sha256;

use crate::error::TokenError;
use crate::revocation::Revocation;

mod flat;

/// The header every issued token carries, `{"alg":"HS256","typ":"JWT"}`, as PyJWT writes it.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// Headers meaning "HS256, no `kid`, no `crit`", in the encodings that this crate and PyJWT
/// (`{"alg":"HS256","typ":"JWT"}`), jsonwebtoken (`{"typ":"JWT","alg":"HS256"}`) and minimal
/// issuers (`{"alg":"HS256"}`) write. Any other header is decoded and parsed.
const KNOWN_HEADERS: [&str; 3] = [
    HEADER_B64,
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJIUzI1NiJ9",
];
/// The claims this crate itself reads or writes besides the user id claim, which therefore cannot
/// be the user id claim: `exp`, `iat`, `nbf`, `iss`, `aud` and `jti` (RFC 7519 section 4.1) and
/// `type` (access or refresh, see [`TokenKind`]).
pub(crate) const CRATE_CLAIMS: [&str; 7] = ["exp", "iat", "nbf", "iss", "aud", "jti", "type"];
/// An HS256 MAC is 32 bytes, 43 characters of unpadded base64url.
const MAC_LEN: usize = 32;
const MAC_B64_LEN: usize = 43;
/// Decoded claims up to this size stay on the stack.
const STACK_BUF: usize = 512;

/// Access or refresh: the `type` claim of a token (Flask-JWT-Extended's convention).
///
/// A token without `type` (as the Flask original writes them) is an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenKind {
    /// Sent with every request; short-lived.
    #[default]
    Access,
    /// Exchanged for a new access token at a refresh route; long-lived.
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// The verified claims of a token, as put into the request's extensions by the layer.
#[derive(Clone, PartialEq, Eq)]
pub struct Claims {
    pub(crate) user_id: UserId,
    pub(crate) exp: Option<u64>,
    pub(crate) iat: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) jti: Option<String>,
    pub(crate) kind: TokenKind,
    /// The first second at which the verifier refuses the token by itself: `exp` plus the
    /// leeway, `u64::MAX` without `exp`.
    pub(crate) refused_from: u64,
    /// The manager's clock when the token was verified.
    pub(crate) verified_at: u64,
    /// The decoded claims JSON, kept only when it has claims this crate does not read.
    pub(crate) raw: Option<Box<[u8]>>,
}

impl Claims {
    /// The user id the token was issued for (the `user_id` claim, or the configured one).
    pub fn user_id(&self) -> &str {
        self.user_id.as_str()
    }

    /// When the token expires (`exp`), in seconds since the Unix epoch. `None` only when `exp`
    /// was made optional and the token has none.
    pub fn expires_at(&self) -> Option<u64> {
        self.exp
    }

    /// When the token was issued (`iat`), in seconds since the Unix epoch, if it says.
    pub fn issued_at(&self) -> Option<u64> {
        self.iat
    }

    /// The token is not valid before this time (`nbf`), in seconds since the Unix epoch, if set.
    pub fn not_before(&self) -> Option<u64> {
        self.nbf
    }

    /// The token's id (`jti`, RFC 7519 section 4.1.7), which revocation works with, if it has one.
    pub fn token_id(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// What a [`Revocations`](crate::Revocations) store needs to refuse this token for as long
    /// as the verifier would otherwise accept it (its `exp` plus the manager's leeway): hand it
    /// to [`Revocations::revoke`](crate::Revocations::revoke). `None` when the token has no id
    /// (`jti`) and so cannot be revoked; see
    /// [`token_ids`](crate::LoginManagerBuilder::token_ids).
    pub fn revocation(&self) -> Option<Revocation<'_>> {
        let jti = self.jti.as_deref()?;
        Some(Revocation::new(jti, self.refused_from, self.verified_at))
    }

    /// Access or refresh token.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The application's own claims, typed: deserializes `T` from the claims object, so `T`
    /// names the claims it wants (absent ones need `#[serde(default)]` or `Option`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use serde::{Deserialize, Serialize};
    /// use tower_login_manager::LoginManager;
    ///
    /// #[derive(Serialize, Deserialize, Debug, PartialEq)]
    /// struct Roles { roles: Vec<String> }
    ///
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let roles = Roles { roles: vec!["admin".into()] };
    /// let token = manager.issue_token_with_claims("1", Duration::from_secs(60), &roles)?;
    /// let claims = manager.decode_token(&token)?;
    /// assert_eq!(claims.extra::<Roles>()?, roles);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extra<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.raw.as_deref().unwrap_or(b"{}"))
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("user_id", &self.user_id.as_str())
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("jti", &self.jti)
            .field("kind", &self.kind)
            .field("refused_from", &self.refused_from)
            .field("extra", &self.raw.is_some())
            .finish()
    }
}

/// A user id, stored inline when it is short (every integer id, most string ids) so that the
/// verified path does not allocate for it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum UserId {
    Inline { len: u8, bytes: [u8; INLINE_ID] },
    Heap(Box<str>),
}

const INLINE_ID: usize = 30;

impl UserId {
    pub(crate) fn new(id: &str) -> Self {
        if id.len() <= INLINE_ID {
            let mut bytes = [0u8; INLINE_ID];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Self::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(id.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole, so always UTF-8.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Heap(id) => id,
        }
    }
}

/// What a token must satisfy besides its MAC.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) require_exp: bool,
    pub(crate) leeway: u64,
    pub(crate) user_id_claim: Cow<'static, str>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) max_len: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            require_exp: true,
            leeway: 0,
            user_id_claim: Cow::Borrowed("user_id"),
            issuer: None,
            audience: None,
            max_len: 8 * 1024,
        }
    }
}

/// The HS256 key: the `hmac` crate's HMAC-SHA-256 with the key absorbed once, when the manager
/// is built (both padded key blocks hashed); each token clones that state and hashes only its own
/// signing input. Shared by issue and verify.
#[derive(Clone)]
pub(crate) struct Key {
    mac: Hmac<Sha256>,
}

impl Key {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    fn keyed(&self, signing_input: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(signing_input);
        mac
    }

    fn sign(&self, signing_input: &[u8]) -> [u8; MAC_LEN] {
        self.keyed(signing_input).finalize().into_bytes().into()
    }

    /// The MAC of `signing_input` equals `tag`, compared in constant time (`Mac::verify_slice`,
    /// backed by `subtle`).
    fn verify(&self, signing_input: &[u8], tag: &[u8; MAC_LEN]) -> bool {
        self.keyed(signing_input).verify_slice(tag).is_ok()
    }
}

/// The claims an issued token carries besides `exp`, `iat` and the user id.
#[derive(Default)]
pub(crate) struct Issue<'a> {
    pub(crate) kind: Option<TokenKind>,
    pub(crate) jti: Option<&'a str>,
    /// A serialized JSON object of application claims, reserved names already refused.
    pub(crate) extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The signing key (with its `kid`, if any) and older keys still accepted for verification, so
/// that a secret can be rotated without logging everyone out.
#[derive(Clone)]
pub(crate) struct KeySet {
    current: Key,
    current_kid: Option<String>,
    /// The base64url header of issued tokens: `{"alg":"HS256","typ":"JWT"}`, plus `kid`.
    header_b64: String,
    previous: Vec<(Option<String>, Key)>,
}

impl KeySet {
    pub(crate) fn new(
        current: &[u8],
        current_kid: Option<String>,
        previous: &[(Option<String>, Vec<u8>)],
    ) -> Self {
        let header_b64 = match &current_kid {
            None => HEADER_B64.to_owned(),
            Some(kid) => {
                let mut header = br#"{"alg":"HS256","typ":"JWT","kid":"#.to_vec();
                serde_json::to_writer(&mut header, kid).expect("writing to a Vec cannot fail");
                header.push(b'}');
                URL_SAFE_NO_PAD.encode(&header)
            }
        };
        Self {
            current: Key::new(current),
            current_kid,
            header_b64,
            previous: previous
                .iter()
                .map(|(kid, secret)| (kid.clone(), Key::new(secret)))
                .collect(),
        }
    }

    /// Issues `{"exp":..,"iat":..,"<user id claim>":".."}` (then `iss`/`aud` when configured,
    /// `type`, `jti` and the application's claims when asked), claim for claim what the Flask
    /// original writes when nothing more is asked.
    pub(crate) fn issue(
        &self,
        rules: &Rules,
        user_id: &str,
        now: u64,
        ttl: u64,
        more: &Issue<'_>,
    ) -> String {
        let mut claims = Vec::with_capacity(64 + user_id.len());
        claims.extend_from_slice(b"{\"exp\":");
        serde_json::to_writer(&mut claims, &now.saturating_add(ttl)).expect("writing to a Vec");
        claims.extend_from_slice(b",\"iat\":");
        serde_json::to_writer(&mut claims, &now).expect("writing to a Vec cannot fail");
        push_string_claim(&mut claims, &rules.user_id_claim, user_id);
        if let Some(iss) = &rules.issuer {
            push_string_claim(&mut claims, "iss", iss);
        }
        if let Some(aud) = &rules.audience {
            push_string_claim(&mut claims, "aud", aud);
        }
        if let Some(kind) = more.kind {
            push_string_claim(&mut claims, "type", kind.as_str());
        }
        if let Some(jti) = more.jti {
            push_string_claim(&mut claims, "jti", jti);
        }
        if let Some(extra) = more.extra {
            for (name, value) in extra {
                claims.push(b',');
                serde_json::to_writer(&mut claims, name).expect("writing to a Vec cannot fail");
                claims.push(b':');
                serde_json::to_writer(&mut claims, value).expect("writing to a Vec cannot fail");
            }
        }
        claims.push(b'}');

        let claims_len = claims.len().div_ceil(3) * 4;
        let mut token = String::with_capacity(self.header_b64.len() + 2 + claims_len + MAC_B64_LEN);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let tag = self.current.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }

    /// The MAC check: with the key the token's `kid` names, or else with every key in order.
    fn verify(&self, kid: Option<&str>, signing_input: &[u8], tag: &[u8; MAC_LEN]) -> bool {
        if let Some(kid) = kid {
            if self.current_kid.as_deref() == Some(kid) {
                return self.current.verify(signing_input, tag);
            }
            if let Some((_, key)) = self
                .previous
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
            {
                return key.verify(signing_input, tag);
            }
        }
        self.current.verify(signing_input, tag)
            || self
                .previous
                .iter()
                .any(|(_, key)| key.verify(signing_input, tag))
    }

    /// Verifies a compact JWS and its claims at time `now` (seconds since the epoch).
    pub(crate) fn verify_token(
        &self,
        rules: &Rules,
        token: &[u8],
        now: u64,
    ) -> Result<Claims, TokenError> {
        if token.len() > rules.max_len {
            return Err(TokenError::TooLarge);
        }
        let parts = split(token)?;

        // RFC 7515 section 5.2 steps 2-5 and RFC 8725 section 3.1: the header, and the algorithm
        // pinned to HS256, before any key is used. The headers that this crate, PyJWT and
        // jsonwebtoken write are known byte for byte: no need to decode and parse them again.
        let mut header_heap = Vec::new();
        let parsed;
        let kid = if KNOWN_HEADERS.iter().any(|h| h.as_bytes() == parts.header) {
            None
        } else if parts.header == self.header_b64.as_bytes() {
            self.current_kid.as_deref()
        } else {
            parsed = decode_header(parts.header, &mut header_heap)?;
            parsed.kid.as_deref()
        };

        // Steps 6-7: the payload and the MAC must be strict base64url too.
        let mut claims_stack = [0u8; STACK_BUF];
        let mut claims_heap = Vec::new();
        let raw = b64_decode(parts.claims, &mut claims_stack, &mut claims_heap)
            .ok_or(TokenError::Malformed)?;
        // Into exactly 32 bytes: any other length of signature does not fit, or falls short.
        let mut tag = [0u8; MAC_LEN];
        if URL_SAFE_NO_PAD.decode_slice(parts.signature, &mut tag) != Ok(MAC_LEN) {
            return Err(TokenError::BadSignature);
        }

        // Step 8: the MAC, compared in constant time.
        if !self.verify(kid, parts.signing_input, &tag) {
            return Err(TokenError::BadSignature);
        }

        // RFC 7519 section 7.2 steps 9-10: only now are the claims read; a JSON object.
        // RFC 7519 section 7.2 step 10 / RFC 8259 section 8.1: UTF-8 throughout, members this
        // crate skips included (serde_json does not check what it skips).
        let text = std::str::from_utf8(raw).map_err(|_| TokenError::InvalidClaims)?;
        // The claims tokens usually carry take the fast path; anything else goes to serde_json.
        let claims = match flat::parse(text, &rules.user_id_claim) {
            Some(claims) => claims,
            None => parse_claims(text, &rules.user_id_claim)?,
        };
        let has_extra = claims.has_extra;
        let mut claims = claims.validate(rules, now)?;
        if has_extra {
            claims.raw = Some(raw.into());
        }
        Ok(claims)
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("current_kid", &self.current_kid)
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// The parts of a compact JWS (RFC 7515 section 7.1).
struct Parts<'a> {
    signing_input: &'a [u8],
    header: &'a [u8],
    claims: &'a [u8],
    signature: &'a [u8],
}

/// Splits a compact JWS into its signing input and three segments: exactly two dots.
fn split(token: &[u8]) -> Result<Parts<'_>, TokenError> {
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
fn b64_decode<'a>(input: &[u8], stack: &'a mut [u8], heap: &'a mut Vec<u8>) -> Option<&'a [u8]> {
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
fn parse_claims<'a>(text: &'a str, user_id_claim: &str) -> Result<RawClaims<'a>, TokenError> {
    let mut de = serde_json::Deserializer::from_str(text);
    ClaimsSeed { user_id_claim }
        .deserialize(&mut de)
        .and_then(|c| de.end().map(|()| c))
        .map_err(|_| TokenError::InvalidClaims)
}

/// A header other than the known ones: decoded (into `heap`, which the parsed header borrows
/// from) and parsed. Out of line, so the usual path stays short.
#[inline(never)]
fn decode_header<'h>(b64: &[u8], heap: &'h mut Vec<u8>) -> Result<Header<'h>, TokenError> {
    *heap = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| TokenError::Malformed)?;
    parse_header(heap)
}

/// The header members this crate reads. Parsed as a JSON *object* only: a derived struct would
/// also take the array `["HS256"]` (RFC 7515 section 4: the header is a JSON object).
#[derive(Default)]
struct Header<'a> {
    alg: Option<Value<'a>>,
    /// RFC 7515 section 4.1.4: a string; any other type (`null` included) is malformed.
    kid: Option<Cow<'a, str>>,
    crit: bool,
}

struct HeaderVisitor;

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
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

fn parse_header(raw: &[u8]) -> Result<Header<'_>, TokenError> {
    // RFC 7515 section 5.2 step 3: UTF-8 throughout, skipped members included.
    let text = std::str::from_utf8(raw).map_err(|_| TokenError::Malformed)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let header = de
        .deserialize_map(HeaderVisitor)
        .and_then(|h| de.end().map(|()| h))
        .map_err(|_| TokenError::Malformed)?;
    match &header.alg {
        Some(Value::Str(alg)) if alg == "HS256" => {}
        None | Some(Value::Str(_)) => return Err(TokenError::WrongAlgorithm),
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
enum Date {
    Secs(u64),
    BeforeEpoch,
}

/// One claim value as it came, so that each claim can say precisely what is wrong with it.
#[cfg_attr(test, derive(Debug, PartialEq))]
enum Value<'a> {
    Date(Date),
    Str(Cow<'a, str>),
    Strs(Vec<Cow<'a, str>>),
    Other,
}

impl<'a> Value<'a> {
    fn date(&self, claim: &'static str) -> Result<Date, TokenError> {
        match self {
            Value::Date(d) => Ok(*d),
            _ => Err(TokenError::InvalidClaim(claim)),
        }
    }
}

struct ValueVisitor;

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
        Ok(Value::Date(if v < 0.0 {
            Date::BeforeEpoch
        } else {
            // `as` saturates: 1e300 becomes u64::MAX, the far future.
            Date::Secs(v as u64)
        }))
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
struct MemberNames<'de> {
    few: [Cow<'de, str>; FEW_NAMES],
    len: usize,
    many: HashSet<Cow<'de, str>>,
}

const FEW_NAMES: usize = 8;

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
struct KeySeed;

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

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// The claims this crate reads, borrowed from the decoded payload.
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct RawClaims<'a> {
    user_id: Option<Value<'a>>,
    exp: Option<Value<'a>>,
    nbf: Option<Value<'a>>,
    iat: Option<Value<'a>>,
    iss: Option<Value<'a>>,
    aud: Option<Value<'a>>,
    jti: Option<Value<'a>>,
    kind: Option<Value<'a>>,
    /// Claims this crate does not read are present (see [`Claims::extra`]).
    has_extra: bool,
}

struct ClaimsSeed<'c> {
    user_id_claim: &'c str,
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
    fn slot(&mut self, name: &str, user_id_claim: &str) -> Option<&mut Option<Value<'a>>> {
        Some(match name {
            n if n == user_id_claim => &mut self.user_id,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "iss" => &mut self.iss,
            "aud" => &mut self.aud,
            "jti" => &mut self.jti,
            "type" => &mut self.kind,
            _ => {
                self.has_extra = true;
                return None;
            }
        })
    }

    fn validate(self, rules: &Rules, now: u64) -> Result<Claims, TokenError> {
        let leeway = rules.leeway;
        // RFC 7519 section 4.1.4: the current time must be before `exp` (PyJWT: exp <= now - leeway
        // is expired). From `refused_from` on, the token is refused by this check alone.
        let (exp, refused_from) = match &self.exp {
            Some(v) => match v.date("exp")? {
                Date::Secs(exp) if exp.saturating_add(leeway) > now => {
                    (Some(exp), exp.saturating_add(leeway))
                }
                _ => return Err(TokenError::Expired),
            },
            None if rules.require_exp => return Err(TokenError::MissingClaim("exp")),
            None => (None, u64::MAX),
        };
        // RFC 7519 section 4.1.5: not before `nbf`; an `iat` in the future is refused the same way,
        // as PyJWT does.
        let nbf = future_date(self.nbf.as_ref(), "nbf", now, leeway)?;
        let iat = future_date(self.iat.as_ref(), "iat", now, leeway)?;

        if let Some(want) = &rules.issuer {
            match &self.iss {
                Some(Value::Str(iss)) if iss == want => {}
                Some(Value::Str(_)) => return Err(TokenError::InvalidIssuer),
                Some(_) => return Err(TokenError::InvalidClaim("iss")),
                None => return Err(TokenError::MissingClaim("iss")),
            }
        }
        match (&rules.audience, &self.aud) {
            (None, None) => {}
            (None, Some(_)) => return Err(TokenError::InvalidAudience),
            (Some(_), None) => return Err(TokenError::MissingClaim("aud")),
            (Some(want), Some(Value::Str(aud))) if aud == want => {}
            (Some(want), Some(Value::Strs(auds))) if auds.iter().any(|a| a == want) => {}
            (Some(_), Some(Value::Str(_) | Value::Strs(_))) => {
                return Err(TokenError::InvalidAudience);
            }
            (Some(_), Some(_)) => return Err(TokenError::InvalidClaim("aud")),
        }

        let kind = match self.kind.as_ref() {
            None => TokenKind::Access,
            Some(Value::Str(k)) if k == "access" => TokenKind::Access,
            Some(Value::Str(k)) if k == "refresh" => TokenKind::Refresh,
            Some(_) => return Err(TokenError::InvalidClaim("type")),
        };
        let jti = match self.jti {
            None => None,
            Some(Value::Str(jti)) if !jti.is_empty() => Some(jti.into_owned()),
            Some(_) => return Err(TokenError::InvalidClaim("jti")),
        };
        let user_id = match self.user_id {
            Some(Value::Str(id)) if valid_user_id(&id) => UserId::new(&id),
            Some(_) => return Err(TokenError::InvalidClaim("user id")),
            None => return Err(TokenError::MissingClaim("user id")),
        };
        Ok(Claims {
            user_id,
            exp,
            iat,
            nbf,
            jti,
            kind,
            refused_from,
            verified_at: now,
            raw: None,
        })
    }
}

/// Whole seconds, rounded up: JWT times are whole seconds (RFC 7519 section 2), and a lifetime or
/// leeway rounded down would issue tokens that expire early (500 ms: already expired).
pub(crate) fn whole_secs(d: std::time::Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// A user id is a non-empty string without control characters. Numbers are refused: the Flask
/// original always writes `str(user.id)`, and `1`, `1.0` and `"1"` must not name one user.
pub(crate) fn valid_user_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(char::is_control)
}

fn future_date(
    value: Option<&Value<'_>>,
    claim: &'static str,
    now: u64,
    leeway: u64,
) -> Result<Option<u64>, TokenError> {
    match value {
        None => Ok(None),
        Some(v) => match v.date(claim)? {
            Date::BeforeEpoch => Ok(Some(0)),
            Date::Secs(t) if t > now.saturating_add(leeway) => Err(TokenError::NotYetValid),
            Date::Secs(t) => Ok(Some(t)),
        },
    }
}

fn push_string_claim(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b',');
    serde_json::to_writer(&mut *out, name).expect("writing to a Vec cannot fail");
    out.push(b':');
    serde_json::to_writer(&mut *out, value).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The fast path must mean exactly what parsing would: pin the known encodings.
    #[test]
    fn known_headers_are_what_they_claim_to_be() {
        let decoded: Vec<serde_json::Value> = super::KNOWN_HEADERS
            .iter()
            .map(|h| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap())
            .collect();
        assert_eq!(
            decoded,
            [
                serde_json::json!({"alg": "HS256", "typ": "JWT"}),
                serde_json::json!({"typ": "JWT", "alg": "HS256"}),
                serde_json::json!({"alg": "HS256"}),
            ]
        );
        for h in super::KNOWN_HEADERS {
            assert!(super::parse_header(&URL_SAFE_NO_PAD.decode(h).unwrap()).is_ok());
        }
    }
}

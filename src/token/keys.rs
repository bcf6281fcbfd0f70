//! The HS256 keys (the signing secret and the former ones, prepared once), and issuing a token
//! signed with them or with an asymmetric [`SigningKey`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{MAC_B64_LEN, MAC_LEN, Rules, TokenKind};
use crate::keys::{SIGNATURE_B64_LEN, SigningKey, header_b64};

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
pub(crate) struct Issue<'a> {
    pub(crate) kind: Option<TokenKind>,
    /// The token's id: every issued token has one.
    pub(crate) jti: &'a str,
    /// The session (the grant) a pair belongs to: `sid`.
    pub(crate) sid: Option<&'a str>,
    /// A serialized JSON object of application claims, reserved names already refused.
    pub(crate) extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The signing key (with its `kid`, if any) and older keys still accepted for verification, so
/// that a secret can be rotated without logging everyone out.
#[derive(Clone)]
pub(crate) struct KeySet {
    current: Key,
    pub(super) current_kid: Option<String>,
    /// The base64url header of issued tokens: `{"alg":"HS256","typ":"JWT"}`, plus `kid`.
    pub(super) header_b64: String,
    previous: Vec<(Option<String>, Key)>,
}

impl KeySet {
    pub(crate) fn new(
        current: &[u8],
        current_kid: Option<String>,
        previous: &[(Option<String>, Vec<u8>)],
    ) -> Self {
        let header_b64 = header_b64("HS256", current_kid.as_deref());
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

    /// The MAC check: with the key the token's `kid` names, or else with every key in order.
    pub(super) fn verify(
        &self,
        kid: Option<&str>,
        signing_input: &[u8],
        tag: &[u8; MAC_LEN],
    ) -> bool {
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
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("current_kid", &self.current_kid)
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// What signs an issued token: the HS256 keys' current secret, or an asymmetric key.
#[derive(Clone, Copy)]
pub(crate) enum Signer<'a> {
    Hmac(&'a KeySet),
    Key(&'a SigningKey),
}

/// Issues `{"exp":..,"iat":..,"<user id claim>":".."}`, claim for claim what the Flask original
/// writes, then `iss`/`aud` when configured, `type` when asked, the `jti` every token carries,
/// and `sid` and the application's claims when asked; signed by `signer`.
pub(crate) fn issue(
    signer: Signer<'_>,
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
    push_string_claim(&mut claims, "jti", more.jti);
    if let Some(sid) = more.sid {
        push_string_claim(&mut claims, "sid", sid);
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

    let header = signer.header_b64();
    let mut token = String::with_capacity(
        header.len() + 2 + claims.len().div_ceil(3) * 4 + signer.signature_b64_len(),
    );
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    signer.sign_appended(&mut token);
    token
}

impl<'a> Signer<'a> {
    /// The base64url header of the tokens it signs; an asymmetric key's names its `kid` (RFC 7515
    /// section 4.1.4), so a verifier never guesses.
    fn header_b64(self) -> &'a str {
        match self {
            Self::Hmac(keys) => &keys.header_b64,
            Self::Key(key) => key.header_b64(),
        }
    }

    fn signature_b64_len(self) -> usize {
        match self {
            Self::Hmac(_) => MAC_B64_LEN,
            Self::Key(_) => SIGNATURE_B64_LEN,
        }
    }

    /// Signs `token`, the signing input `header.payload`, and appends `.` and the signature,
    /// base64url (RFC 7515 section 7.1).
    fn sign_appended(self, token: &mut String) {
        match self {
            Self::Hmac(keys) => {
                let tag = keys.current.sign(token.as_bytes());
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(tag, token);
            }
            Self::Key(key) => key.sign_appended(token),
        }
    }
}

fn push_string_claim(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b',');
    serde_json::to_writer(&mut *out, name).expect("writing to a Vec cannot fail");
    out.push(b':');
    serde_json::to_writer(&mut *out, value).expect("writing to a Vec cannot fail");
}

//! JSON Web Keys (RFC 7517): one key read or written, a [`JwkSet`], and the RFC 7638 thumbprint
//! that names a key without a `kid`. EC keys carry `crv`/`x`/`y` (RFC 7518 section 6.2), OKP keys
//! `crv`/`x` (RFC 8037 section 2), RSA keys `n`/`e` (RFC 7518 section 6.3).

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::{Algorithm, Private, Public, VerifyingKey, ed25519, rsa_public};
use crate::error::ConfigError;

/// The largest JWK Set read, in bytes: identity providers publish a few keys, a few KiB.
pub(crate) const MAX_JWKS_LEN: usize = 256 * 1024;

/// A JWK Set (RFC 7517 section 5): the public keys a service verifies tokens with, as an issuer
/// publishes them (`LoginManager::jwks`) or an identity provider serves them.
///
/// Reading a set is forgiving of what a verifier cannot use and strict about what it keeps: a key
/// of an unknown `kty`, `crv` or `alg`, an encryption key (`use` other than `sig`, `key_ops`
/// without `verify`), a key with private members or one that is invalid or weak (a point off the
/// curve, a non-canonical or small-order Ed25519 point, an RSA modulus under 2048 bits or of the
/// ROCA family) is skipped, with a log line under the `tracing` feature, and the rest of the set
/// is kept. Keys that share a `kid` are all skipped: which one a token meant cannot be known.
///
/// ```
/// use tower_login_manager::{JwkSet, SigningKey};
///
/// let key = SigningKey::generate_es256();
/// let published = JwkSet::from_keys([key.verifying_key()]).to_json();
/// let junk = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
/// let served = published.replace(r#""keys":["#, &format!(r#""keys":[{junk},"#));
/// let set = JwkSet::from_json(&served)?;
/// assert_eq!(set.keys().len(), 1);
/// assert_eq!(set.keys()[0].kid(), key.kid());
/// # Ok::<(), tower_login_manager::ConfigError>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct JwkSet {
    keys: Vec<VerifyingKey>,
}

impl JwkSet {
    /// A set of these keys. Keys that share a `kid` are all dropped, as when reading one.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            keys: without_shared_kids(keys.into_iter().collect()),
        }
    }

    /// Reads a JWK Set: a JSON object whose `keys` member is an array (RFC 7517 section 5).
    /// Fails only if the text is not that, or is over 256 KiB; keys this crate cannot use are
    /// skipped, never fatal (see the type's docs).
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(ConfigError::InvalidKey("a JWK Set is larger than 256 KiB"));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|_| ConfigError::InvalidKey("a JWK Set is not JSON"))?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(ConfigError::InvalidKey(
                "a JWK Set is a JSON object with a `keys` array (RFC 7517 section 5)",
            ));
        };
        let mut keys = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            match public_from_jwk(entry) {
                Ok(key) => keys.push(key),
                Err(_reason) => {
                    #[cfg(feature = "tracing")]
                    {
                        let kid = entry.get("kid").and_then(|kid| kid.as_str());
                        tracing::warn!(index, kid, reason = _reason, "JWK Set: a key was skipped");
                    }
                    let _ = index;
                }
            }
        }
        Ok(Self {
            keys: without_shared_kids(keys),
        })
    }

    /// The keys kept, in the set's order.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The set as JSON, `{"keys":[..]}`, each key as [`VerifyingKey::to_jwk`] writes it: what
    /// `GET /.well-known/jwks.json` serves.
    pub fn to_json(&self) -> String {
        let keys: Vec<Value> = self.keys.iter().map(VerifyingKey::to_jwk).collect();
        json!({ "keys": keys }).to_string()
    }
}

impl fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

fn without_shared_kids(keys: Vec<VerifyingKey>) -> Vec<VerifyingKey> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for key in &keys {
        *count.entry(key.kid()).or_default() += 1;
    }
    let shared: Vec<String> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(kid, _)| kid.to_owned())
        .collect();
    if shared.is_empty() {
        return keys;
    }
    #[cfg(feature = "tracing")]
    tracing::warn!(kids = ?shared, "JWK Set: keys that share a kid were skipped");
    keys.into_iter()
        .filter(|key| !shared.iter().any(|kid| kid == key.kid()))
        .collect()
}

/// A public key from a JWK object; the error says why it cannot be used.
pub(super) fn public_from_jwk(jwk: &Value) -> Result<VerifyingKey, &'static str> {
    let jwk = jwk.as_object().ok_or("a JWK is not a JSON object")?;
    let kty = member(jwk, "kty")?.ok_or("a JWK has no `kty`")?;
    meant_for(jwk, "verify")?;
    if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|name| jwk.contains_key(*name))
    {
        return Err("a JWK with private members is not a public key");
    }
    let public = match kty {
        "EC" => Public::Es256(ec_public(jwk)?),
        "OKP" => Public::Ed25519(okp_public(jwk)?),
        "RSA" => {
            let n = b64_member(jwk, "n")?;
            let e = b64_member(jwk, "e")?;
            if n.first() == Some(&0) || e.first() == Some(&0) {
                // RFC 7518 section 6.3.1.1: the minimal big-endian encoding.
                return Err("an RSA JWK's `n` or `e` has leading zeros");
            }
            rsa_public(&n, &e)?
        }
        _ => return Err("a JWK of an unknown `kty`"),
    };
    let key = VerifyingKey::new(public, member(jwk, "kid")?.map(str::to_owned));
    check_alg(jwk, key.algorithm())?;
    Ok(key)
}

/// A private key from a JWK object with `d`, and its `kid`.
pub(super) fn private_from_jwk(jwk: &Value) -> Result<(Private, Option<String>), &'static str> {
    let jwk = jwk.as_object().ok_or("a JWK is not a JSON object")?;
    let d = b64_member(jwk, "d")?;
    meant_for(jwk, "sign")?;
    let private = match member(jwk, "kty")? {
        Some("EC") => {
            let public = ec_public(jwk)?;
            let key = p256::ecdsa::SigningKey::from_slice(&d)
                .map_err(|_| "an EC JWK's `d` is not a P-256 private key")?;
            if *key.verifying_key() != public {
                return Err("an EC JWK's `x`/`y` is not the public key of its `d`");
            }
            check_alg(jwk, Algorithm::ES256)?;
            Private::Es256(key)
        }
        Some("OKP") => {
            let public = okp_public(jwk)?;
            let d: [u8; 32] = d.try_into().map_err(|_| "an Ed25519 `d` is 32 bytes")?;
            let key = ed25519_dalek::SigningKey::from_bytes(&d);
            if key.verifying_key().as_bytes() != public.as_bytes() {
                return Err("an OKP JWK's `x` is not the public key of its `d`");
            }
            check_alg(jwk, Algorithm::EdDSA)?;
            Private::Ed25519(key)
        }
        _ => return Err("a private JWK is `EC` on P-256 or `OKP` on Ed25519"),
    };
    Ok((private, member(jwk, "kid")?.map(str::to_owned)))
}

/// RFC 7518 section 6.2.1: `crv` P-256, `x` and `y` of 32 bytes each, a point on the curve.
fn ec_public(jwk: &Map<String, Value>) -> Result<p256::ecdsa::VerifyingKey, &'static str> {
    if member(jwk, "crv")? != Some("P-256") {
        return Err("an EC JWK on a curve other than P-256");
    }
    let (x, y) = (b64_member(jwk, "x")?, b64_member(jwk, "y")?);
    if x.len() != 32 || y.len() != 32 {
        return Err("an EC JWK's `x` and `y` are 32 bytes each (RFC 7518 section 6.2.1.2)");
    }
    let mut sec1 = [4u8; 65];
    sec1[1..33].copy_from_slice(&x);
    sec1[33..].copy_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| "an EC JWK's point is not on P-256")
}

/// RFC 8037 section 2: `crv` Ed25519, `x` of 32 bytes, the canonical encoding of a point not of
/// small order.
fn okp_public(jwk: &Map<String, Value>) -> Result<ed25519::PublicKey, &'static str> {
    if member(jwk, "crv")? != Some("Ed25519") {
        return Err("an OKP JWK on a curve other than Ed25519");
    }
    let x: [u8; 32] = b64_member(jwk, "x")?
        .try_into()
        .map_err(|_| "an Ed25519 JWK's `x` is 32 bytes")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
        .map_err(|_| "an Ed25519 JWK's `x` is not a point")?;
    ed25519::PublicKey::new(key)
}

/// RFC 7517 sections 4.2 and 4.3: a key is used only for what it is meant for: `use`, if
/// present, is `sig`, and `key_ops`, if present, holds `operation` (`sign` or `verify`).
fn meant_for(jwk: &Map<String, Value>, operation: &str) -> Result<(), &'static str> {
    if member(jwk, "use")?.is_some_and(|usage| usage != "sig") {
        return Err("a JWK whose `use` is not `sig`");
    }
    match jwk.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.iter().any(|op| op == operation) => Ok(()),
        Some(_) => Err("a JWK whose `key_ops` does not hold this operation (`sign` or `verify`)"),
    }
}

/// RFC 7517 section 4.4: `alg`, if present, is the algorithm the key is used with; a key meant
/// for another one is not used for this one (RFC 8725 section 3.1).
fn check_alg(jwk: &Map<String, Value>, algorithm: Algorithm) -> Result<(), &'static str> {
    match member(jwk, "alg")? {
        None => Ok(()),
        Some(alg) if Algorithm::from_header(alg) == Some(algorithm) => Ok(()),
        Some(_) => Err("a JWK whose `alg` is not its key type's algorithm"),
    }
}

/// A string member, `None` if absent; any other type is refused.
fn member<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, &'static str> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("a JWK member is not a string"),
    }
}

/// A required base64url member (RFC 7518 section 2, no padding).
fn b64_member(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, &'static str> {
    let value = member(jwk, name)?.ok_or("a JWK lacks a member its key type requires")?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| "a JWK member is not base64url")
}

/// The public members of a key in the lexicographic order of RFC 7638 section 3.2, base64url.
fn required_members(public: &Public) -> Vec<(&'static str, String)> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match public {
        Public::Es256(key) => {
            let point = key.to_sec1_point(false);
            let bytes = point.as_bytes();
            vec![
                ("crv", "P-256".to_owned()),
                ("kty", "EC".to_owned()),
                ("x", b64(&bytes[1..33])),
                ("y", b64(&bytes[33..65])),
            ]
        }
        Public::Ed25519(key) => vec![
            ("crv", "Ed25519".to_owned()),
            ("kty", "OKP".to_owned()),
            ("x", b64(key.as_bytes())),
        ],
        Public::Rs256(key) => {
            use rsa::traits::PublicKeyParts as _;
            let key: &rsa::PublicKey = key.as_ref();
            vec![
                ("e", b64(&key.e().to_be_bytes_trimmed_vartime())),
                ("kty", "RSA".to_owned()),
                ("n", b64(&key.n().to_be_bytes_trimmed_vartime())),
            ]
        }
    }
}

/// The RFC 7638 thumbprint: SHA-256 of the required members, sorted, no whitespace; base64url.
pub(super) fn thumbprint(public: &Public) -> String {
    let members: Map<String, Value> = required_members(public)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    // serde_json's map is ordered by key (no `preserve_order` feature): the section 3.2 order.
    let canonical = serde_json::to_vec(&members).expect("a map of strings serializes");
    URL_SAFE_NO_PAD.encode(Sha256::digest(&canonical))
}

pub(super) fn to_jwk(key: &VerifyingKey) -> Value {
    let mut jwk: Map<String, Value> = required_members(key.public())
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    jwk.insert("kid".into(), key.kid().into());
    jwk.insert("alg".into(), key.algorithm().as_str().into());
    jwk.insert("use".into(), "sig".into());
    Value::Object(jwk)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 section 3.1's example key and thumbprint.
    #[test]
    fn rfc7638_section3_1_thumbprint_of_the_example_rsa_key() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = public_from_jwk(&jwk).unwrap();
        assert_eq!(
            thumbprint(key.public()),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.kid(), "2011-04-29");
    }
}

//! Asymmetric keys: a [`SigningKey`] (private, ES256 or EdDSA) that an issuer signs access tokens
//! with, and a [`VerifyingKey`] (public, ES256, EdDSA or RS256) that any service checks them with.
//! Each key carries exactly one [`Algorithm`] (RFC 8725 section 3.1) and a key id (`kid`), the
//! RFC 7638 thumbprint unless one is set. The primitives are RustCrypto's: `p256` (ECDSA),
//! `ed25519-dalek` (with `verify_strict`'s verdicts) and `rsa` (verification only). Key material never
//! appears in `Debug` or in an error. This module imports only the crate's errors.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ConfigError;

mod ed25519;
#[cfg(feature = "jwks-fetch")]
mod fetch;
mod jwk;
#[cfg(test)]
mod wycheproof;

pub use jwk::JwkSet;

/// The smallest RSA modulus accepted, in bits (RFC 7518 section 3.3: 2048 or larger).
const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits: larger keys cost a verifier more than they protect.
const MAX_RSA_BITS: usize = 8192;

/// The signature algorithm a key is pinned to (RFC 7518 section 3.1, RFC 8037 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256; the signature is the 64-byte `r || s` (RFC 7518 section 3.4).
    ES256,
    /// EdDSA on Ed25519 (RFC 8037); tokens whose header says `Ed25519` (RFC 9864) are accepted
    /// too, `EdDSA` is written.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, modulus of 2048 bits or more: verification only, for
    /// identity providers whose default it is.
    RS256,
}

impl Algorithm {
    /// The `alg` header value written for this algorithm (also its `Display`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    /// The algorithm an `alg` header value names, if it is one of these (`Ed25519`, RFC 9864, is
    /// EdDSA on Ed25519).
    pub(crate) fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "ES256" => Some(Self::ES256),
            "EdDSA" | "Ed25519" => Some(Self::EdDSA),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key, pinned to one [`Algorithm`], with its key id: what a service that verifies
/// tokens and cannot mint them holds. Load it from PEM (SPKI) or a JWK, or take it from a
/// [`SigningKey`] or a [`JwkSet`].
///
/// ```
/// use tower_login_manager::{Algorithm, SigningKey, VerifyingKey};
///
/// let signing = SigningKey::generate_es256();
/// let public = signing.verifying_key();
/// assert_eq!(public.algorithm(), Algorithm::ES256);
/// // The JWK round-trips, kid included (the RFC 7638 thumbprint by default).
/// let again = VerifyingKey::from_jwk(&public.to_jwk().to_string())?;
/// assert_eq!(again.kid(), public.kid());
/// # Ok::<(), tower_login_manager::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<Public>,
    kid: Arc<str>,
    /// The base64url JWS header this key's tokens carry when this crate signs them, prepared
    /// once: its `alg` and `kid`.
    header_b64: Arc<str>,
}

pub(crate) enum Public {
    Es256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519::PublicKey),
    Rs256(rsa::pkcs1v15::VerifyingKey<rsa::sha2::Sha256>),
}

impl Public {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Es256(_) => Algorithm::ES256,
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::Rs256(..) => Algorithm::RS256,
        }
    }
}

impl VerifyingKey {
    /// `public` with key id `kid`, or its RFC 7638 thumbprint without one.
    pub(super) fn new(public: Public, kid: Option<String>) -> Self {
        let kid: Arc<str> = kid.unwrap_or_else(|| jwk::thumbprint(&public)).into();
        Self {
            header_b64: header_b64(public.algorithm().as_str(), Some(&kid)).into(),
            inner: Arc::new(public),
            kid,
        }
    }

    /// A public key from PEM: an SPKI `PUBLIC KEY` block of a P-256 key (ES256), an Ed25519 key
    /// (EdDSA, canonically encoded, not of small order) or an RSA key of 2048 to 8192 bits, not of
    /// the ROCA family (RS256). Its key id is its RFC 7638 thumbprint.
    pub fn from_pem(pem: &str) -> Result<Self, ConfigError> {
        use p256::pkcs8::DecodePublicKey as _;
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(Self::new(Public::Es256(key), None));
        }
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            let key = ed25519::PublicKey::new(key).map_err(ConfigError::InvalidKey)?;
            return Ok(Self::new(Public::Ed25519(key), None));
        }
        if let Ok(RsaSpki(key)) = RsaSpki::from_public_key_pem(pem) {
            let key = key
                .and_then(|(n, e)| rsa_public(&n, &e))
                .map_err(ConfigError::InvalidKey)?;
            return Ok(Self::new(key, None));
        }
        Err(ConfigError::InvalidKey(
            "not a PEM public key (SPKI) of P-256, Ed25519 or RSA",
        ))
    }

    /// A public key from one JWK (RFC 7517): `EC` on `P-256`, `OKP` on `Ed25519` or `RSA`, with
    /// `alg`, if present, the key's algorithm and `use`, if present, `sig`. Its `kid` is kept;
    /// without one, the RFC 7638 thumbprint is its key id. A JWK with private members is refused.
    pub fn from_jwk(jwk: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(jwk)
            .map_err(|_| ConfigError::InvalidKey("a JWK is not a JSON object"))?;
        jwk::public_from_jwk(&value).map_err(ConfigError::InvalidKey)
    }

    /// This key with key id `kid` instead of its thumbprint.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into().into();
        self.header_b64 = header_b64(self.algorithm().as_str(), Some(&self.kid)).into();
        self
    }

    /// The key id (`kid`) tokens signed with this key carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm()
    }

    /// This key as a public JWK: `kty`, `crv`/`x`/`y` (EC, RFC 7518 section 6.2), `crv`/`x`
    /// (OKP, RFC 8037) or `n`/`e` (RSA), with `kid`, `alg` and `use: "sig"`.
    pub fn to_jwk(&self) -> serde_json::Value {
        jwk::to_jwk(self)
    }

    /// The signature `signature` (the decoded third segment of a compact JWS) is this key's over
    /// `signing_input`: 64 bytes `r || s` for ES256 (never DER), 64 bytes given
    /// `verify_strict`'s verdict for EdDSA, the modulus's length for RS256.
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        use signature::Verifier as _;
        match &*self.inner {
            Public::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(signing_input, &sig).is_ok()),
            Public::Ed25519(key) => key.verify(signing_input, signature),
            Public::Rs256(key) => {
                use rsa::traits::PublicKeyParts as _;
                signature.len() == key.as_ref().size()
                    && rsa::pkcs1v15::Signature::try_from(signature)
                        .is_ok_and(|sig| key.verify(signing_input, &sig).is_ok())
            }
        }
    }

    pub(crate) fn public(&self) -> &Public {
        &self.inner
    }
}

/// Why an RSA key of another size is refused.
const RSA_SIZE: &str = "an RSA modulus must have 2048 to 8192 bits (RFC 7518 section 3.3)";

/// An RS256 key from its modulus `n` and public exponent `e` (big-endian, no leading zero), as a
/// PEM or a JWK carries them: a modulus of 2048 to 8192 bits, not of the ROCA family; or why not.
fn rsa_public(n: &[u8], e: &[u8]) -> Result<Public, &'static str> {
    use rsa::traits::PublicKeyParts as _;
    // Before any arithmetic: no modulus of more bytes is in range, no exponent the `rsa` crate
    // takes (at most 2^33 - 1) is longer.
    if n.len() > MAX_RSA_BITS / 8 {
        return Err(RSA_SIZE);
    }
    if e.len() > 8 {
        return Err("not a valid RSA public key");
    }
    let int = |bytes: &[u8]| rsa::BoxedUint::from_be_slice(bytes, (bytes.len() * 8) as u32).ok();
    let (Some(n), Some(e)) = (int(n), int(e)) else {
        return Err("an RSA key's `n` or `e` is not an integer");
    };
    let key = rsa::PublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS).map_err(
        |error| match error {
            rsa::Error::ModulusTooSmall | rsa::Error::ModulusTooLarge => RSA_SIZE,
            _ => "not a valid RSA public key",
        },
    )?;
    if roca_fingerprint(&key.n().to_be_bytes_trimmed_vartime()) {
        return Err("an RSA modulus of the ROCA family (CVE-2017-15361): it can be factored");
    }
    Ok(Public::Rs256(rsa::pkcs1v15::VerifyingKey::new(key)))
}

/// `id-RSASSA-PSS` (RFC 4055 section 3.1).
const ID_RSASSA_PSS: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// An RSA public key in an SPKI: its modulus and exponent for [`rsa_public`], or why an RS256
/// verifier may not take it. The `rsa` crate's own decoding holds the modulus to its default
/// limits (1024 to 8192 bits) and then cannot say why a key failed; its docs ask for the
/// components, taken this way, for other limits. The algorithm is checked as it checks it.
struct RsaSpki(Result<(Vec<u8>, Vec<u8>), &'static str>);

impl TryFrom<rsa::pkcs8::SubjectPublicKeyInfoRef<'_>> for RsaSpki {
    type Error = rsa::pkcs8::spki::Error;

    fn try_from(spki: rsa::pkcs8::SubjectPublicKeyInfoRef<'_>) -> Result<Self, Self::Error> {
        use rsa::pkcs8::der::asn1::Null;
        use rsa::pkcs8::spki::Error::{KeyMalformed, OidUnknown};
        match spki.algorithm.oid {
            // RFC 3279 section 2.3.1: `rsaEncryption`, its parameters NULL.
            rsa::pkcs1::ALGORITHM_OID if spki.algorithm.parameters_any()? == Null.into() => {}
            rsa::pkcs1::ALGORITHM_OID => return Err(KeyMalformed),
            ID_RSASSA_PSS => {
                return Ok(Self(Err(
                    "an RSASSA-PSS key, which RS256 (PKCS#1 v1.5) must not use (RFC 4055 section 1.2)",
                )));
            }
            oid => return Err(OidUnknown { oid }),
        }
        let bytes = spki.subject_public_key.as_bytes().ok_or(KeyMalformed)?;
        let key = rsa::pkcs1::RsaPublicKeyRef::try_from(bytes).map_err(|_| KeyMalformed)?;
        Ok(Self(Ok((
            key.modulus.as_bytes().to_vec(),
            key.public_exponent.as_bytes().to_vec(),
        ))))
    }
}

/// The modulus `n` (big-endian) is of the ROCA family (CVE-2017-15361, Infineon's RSALib; Nemec
/// et al., CCS 2017), whose primes are `k * M + (65537^a mod M)` with `M` the product of the first
/// 126 primes for moduli of 1984 bits or more: anyone can factor it from the public key. Then
/// `n mod r` lies in the subgroup 65537 generates modulo `r` for every odd prime `r <= 701`; a
/// random modulus does so with a chance of about 2^-167.
fn roca_fingerprint(n: &[u8]) -> bool {
    let is_prime = |r: &u32| {
        (2..*r)
            .take_while(|d| d * d <= *r)
            .all(|d| !r.is_multiple_of(d))
    };
    (3..=701u32).filter(is_prime).all(|r| {
        let residue = n.iter().fold(0, |acc, &b| (acc * 256 + u32::from(b)) % r);
        let generator = 65_537 % r;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % r;
            if power == 1 {
                return false;
            }
        }
    })
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PartialEq for VerifyingKey {
    /// The same algorithm, public key and key id.
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.to_jwk() == other.to_jwk()
    }
}

/// A private key, pinned to one [`Algorithm`] (ES256 or EdDSA), with its key id: what an issuer
/// signs access tokens with (see
/// [`LoginManagerBuilder::signing_key`](crate::LoginManagerBuilder::signing_key)). Load it from
/// PEM (PKCS#8) or a JWK, or generate one. The key never appears in `Debug` or an error.
///
/// ```
/// use tower_login_manager::{Algorithm, SigningKey};
///
/// let key = SigningKey::generate_ed25519().with_kid("2026-12");
/// assert_eq!((key.algorithm(), key.kid()), (Algorithm::EdDSA, "2026-12"));
/// assert!(!format!("{key:?}").contains("d\""));
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<Private>,
    public: VerifyingKey,
}

enum Private {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    fn new(private: Private) -> Self {
        let public = match &private {
            Private::Es256(key) => Public::Es256(*key.verifying_key()),
            Private::Ed25519(key) => Public::Ed25519(
                ed25519::PublicKey::new(key.verifying_key())
                    .expect("the public key of a private key is of the prime order"),
            ),
        };
        Self::with_public(Arc::new(private), VerifyingKey::new(public, None))
    }

    fn with_public(inner: Arc<Private>, public: VerifyingKey) -> Self {
        Self { inner, public }
    }

    /// A new random P-256 key for ES256, from `rand`'s thread-local CSPRNG (seeded from the
    /// operating system).
    pub fn generate_es256() -> Self {
        loop {
            // A 32-byte string is a valid scalar unless it is zero or at least the group order
            // (a chance of about 2^-32); draw again then.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random_32()) {
                return Self::new(Private::Es256(key));
            }
        }
    }

    /// A new random Ed25519 key for EdDSA, from `rand`'s thread-local CSPRNG (seeded from the
    /// operating system).
    pub fn generate_ed25519() -> Self {
        Self::new(Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &random_32(),
        )))
    }

    /// A private key from PEM: a PKCS#8 `PRIVATE KEY` block of a P-256 key (ES256) or an Ed25519
    /// key (EdDSA). Its key id is its public key's RFC 7638 thumbprint.
    pub fn from_pem(pem: &str) -> Result<Self, ConfigError> {
        use p256::pkcs8::DecodePrivateKey as _;
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Self::new(Private::Es256(key)));
        }
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Self::new(Private::Ed25519(key)));
        }
        Err(ConfigError::InvalidKey(
            "not a PEM private key (PKCS#8) of P-256 or Ed25519",
        ))
    }

    /// A private key from one JWK with its private member `d`: `EC` on `P-256` or `OKP` on
    /// `Ed25519`; `x` (and `y`) must be the public key of `d`. Its `kid` is kept.
    pub fn from_jwk(jwk: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(jwk)
            .map_err(|_| ConfigError::InvalidKey("a JWK is not a JSON object"))?;
        let (private, kid) = jwk::private_from_jwk(&value).map_err(ConfigError::InvalidKey)?;
        let key = Self::new(private);
        Ok(match kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }

    /// This key with key id `kid` instead of its thumbprint.
    pub fn with_kid(self, kid: impl Into<String>) -> Self {
        Self::with_public(self.inner, self.public.with_kid(kid))
    }

    /// The key id (`kid`) written into the header of the tokens this key signs.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// The one algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The public half, with the same key id: what verifiers hold.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.public.clone()
    }

    /// The base64url JWS header of the tokens this key signs: `{"alg":..,"typ":"JWT","kid":..}`.
    pub(crate) fn header_b64(&self) -> &str {
        &self.public.header_b64
    }

    /// Signs `token`, the signing input `header.payload`, and appends `.` and the signature,
    /// base64url (RFC 7515 section 7.1).
    pub(crate) fn sign_appended(&self, token: &mut String) {
        use signature::Signer as _;
        let signature: [u8; 64] = match &*self.inner {
            Private::Es256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(token.as_bytes());
                sig.to_bytes().into()
            }
            Private::Ed25519(key) => key.sign(token.as_bytes()).to_bytes(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, token);
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// The length of an ES256 or EdDSA signature in base64url: 64 bytes, 86 characters.
pub(crate) const SIGNATURE_B64_LEN: usize = 86;

/// The base64url JWS header `{"alg":"<alg>","typ":"JWT"}`, with `"kid":<kid>` last when given:
/// the form PyJWT writes, for the HS256 secret and the signing keys alike.
pub(crate) fn header_b64(alg: &str, kid: Option<&str>) -> String {
    let mut header = format!(r#"{{"alg":"{alg}","typ":"JWT""#).into_bytes();
    if let Some(kid) = kid {
        header.extend_from_slice(br#","kid":"#);
        serde_json::to_writer(&mut header, kid).expect("writing to a Vec cannot fail");
    }
    header.push(b'}');
    URL_SAFE_NO_PAD.encode(&header)
}

fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes
}

/// The public keys a verifier holds, shared with whoever updates them (a rotating issuer, a JWK
/// Set fetcher): readers load a snapshot without a lock (`arc-swap`), writers replace it whole.
/// No set yet (a fetcher before its first good answer) is apart from an empty set.
#[derive(Clone, Default)]
pub(crate) struct PublicKeys(Arc<Shared>);

#[derive(Default)]
struct Shared {
    keys: arc_swap::ArcSwapOption<Vec<VerifyingKey>>,
    /// Called when a token finds no set yet, or names a `kid` the set does not hold: a fetcher
    /// refreshes on it, at its own pace. It must return at once.
    on_missing_key: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl PublicKeys {
    /// A set that is there from the start.
    pub(crate) fn new(keys: Vec<VerifyingKey>) -> Self {
        let this = Self::default();
        this.store(keys);
        this
    }

    /// No set yet, and a task that fetches it from `url` and keeps it fresh (see
    /// `keys/fetch.rs`); it ends when the last clone of this is dropped. Needs a Tokio runtime.
    #[cfg(feature = "jwks-fetch")]
    pub(crate) fn fetched(url: &str) -> Result<Self, ConfigError> {
        fetch::spawn(url)
    }

    pub(crate) fn store(&self, keys: Vec<VerifyingKey>) {
        self.0.keys.store(Some(Arc::new(keys)));
    }

    /// The keys now, or `None` before the first set.
    pub(crate) fn snapshot(&self) -> Option<Arc<Vec<VerifyingKey>>> {
        self.0.keys.load_full()
    }

    /// RFC 7515 section 5.2 step 8 with RFC 8725 section 3.1: the key the `kid` names, which
    /// must be of the header's algorithm; without a `kid`, the one key of that algorithm.
    pub(crate) fn verify(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), crate::error::TokenError> {
        use crate::error::TokenError;
        let guard = self.0.keys.load();
        let Some(keys) = guard.as_deref() else {
            self.missing_key();
            return Err(TokenError::KeysUnavailable);
        };
        let verified = match kid {
            Some(kid) => {
                let Some(key) = keys.iter().find(|key| key.kid() == kid) else {
                    self.missing_key();
                    return Err(TokenError::UnknownKey);
                };
                if key.algorithm() != algorithm {
                    return Err(TokenError::WrongAlgorithm);
                }
                key.verify(signing_input, signature)
            }
            // RFC 7515 section 4.1.4: `kid` is optional; without one, the key of the token's
            // algorithm, if there is exactly one. Never each in turn: a forged token would cost
            // as many signature checks as the set has keys of its algorithm.
            None => {
                let mut of_algorithm = keys.iter().filter(|k| k.algorithm() == algorithm);
                match (of_algorithm.next(), of_algorithm.next()) {
                    (None, _) => return Err(TokenError::WrongAlgorithm),
                    (Some(key), None) => key.verify(signing_input, signature),
                    (Some(_), Some(_)) => return Err(TokenError::UnknownKey),
                }
            }
        };
        if verified {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// The key whose tokens, as this crate signs them, carry exactly `header` (base64url): the
    /// `alg` and `kid` it stands for are that key's, with no need to decode and parse it.
    pub(crate) fn with_header(&self, header: &[u8]) -> Option<VerifyingKey> {
        let guard = self.0.keys.load();
        let keys = guard.as_deref()?;
        keys.iter()
            .find(|key| key.header_b64.as_bytes() == header)
            .cloned()
    }

    /// Tells the fetcher, if there is one, that a token found no key; it does not wait for it.
    fn missing_key(&self) {
        if let Some(hook) = self.0.on_missing_key.get() {
            hook();
        }
    }
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.snapshot() {
            Some(keys) => f.debug_list().entries(keys.iter()).finish(),
            None => f.write_str("<no key set yet>"),
        }
    }
}

//! [`TokenVerifier`]: checks tokens and cannot issue them. A [`LoginLayer`](crate::LoginLayer)
//! holds one; a [`LoginManager`](crate::LoginManager) hands out its own, and a service that only
//! verifies builds one from public keys or a JWK Set.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ConfigError, TokenError};
use crate::keys::{JwkSet, PublicKeys, VerifyingKey};
use crate::token::{CRATE_CLAIMS, Claims, Keys, Rules};

pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The claim rules' setters, one text for [`TokenVerifierBuilder`] and
/// [`LoginManagerBuilder`](crate::LoginManagerBuilder): a verifier of another service's tokens
/// states the same rules as that service's manager. `$issued` ends the `iss`/`aud` docs.
macro_rules! claim_rule_setters {
    ($issued:literal) => {
        /// Tolerance for clock skew, applied to `exp`, `nbf` and `iat` alike. Default: 0, as in
        /// PyJWT. Whole seconds, rounded up (JWT times are whole seconds). A revoked token stays
        /// revoked through the leeway: see [`Claims::revocation`](crate::Claims::revocation).
        pub fn leeway(mut self, leeway: std::time::Duration) -> Self {
            self.rules.leeway = crate::token::whole_secs(leeway);
            self
        }

        /// The claim that holds the user id. Default: `user_id`, as in the Flask original; `sub`
        /// is the RFC 7519 choice. The claims this crate itself reads or writes (`exp`, `iat`,
        /// `nbf`, `iss`, `aud`, `jti`, `sid`, `type`) are refused by [`build`](Self::build),
        /// naming the claim.
        pub fn user_id_claim(
            mut self,
            claim: impl Into<std::borrow::Cow<'static, str>>,
        ) -> Self {
            self.rules.user_id_claim = claim.into();
            self
        }

        #[doc = concat!("Require `iss` to be this issuer (RFC 7519 section 4.1.1)", $issued, ".")]
        pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
            self.rules.issuer = Some(issuer.into());
            self
        }

        #[doc = concat!("Require `aud` to name this audience (RFC 7519 section 4.1.3)", $issued, ".")]
        /// Without an audience, a token that carries `aud` is refused.
        pub fn audience(mut self, audience: impl Into<String>) -> Self {
            self.rules.audience = Some(audience.into());
            self
        }

        /// The clock tokens are judged by, in seconds since the Unix epoch. Default: the system
        /// clock. Tests pin time with it.
        pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
            self.clock = Some(std::sync::Arc::new(clock));
            self
        }
    };
}
pub(crate) use claim_rule_setters;

/// Verifies tokens and has no way to issue one: what a service that did not mint its tokens
/// holds, built from public keys ([`VerifyingKey`], [`JwkSet`]). A [`LoginLayer`](crate::LoginLayer)
/// takes it as it takes a [`LoginManager`](crate::LoginManager) (whose own verifier is
/// [`LoginManager::verifier`](crate::LoginManager::verifier)).
///
/// Cheap to clone. Each public key verifies only its own algorithm (RFC 8725 section 3.1): a
/// token whose `alg` is not its key's, an HS256 token (the verifier holds no secret), a DER
/// ECDSA signature or a `kid` it does not know is an invalid token.
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::{JwkSet, LoginManager, SigningKey, TokenError, TokenVerifier};
///
/// // The login service signs access tokens with ES256 and publishes its JWK Set...
/// let issuer = LoginManager::builder("a secret of at least thirty-two bytes!!")
///     .signing_key(SigningKey::generate_es256())
///     .build()?;
/// let published = issuer.jwks().to_json();
///
/// // ...which another service verifies with, holding no secret.
/// let verifier = TokenVerifier::builder().jwks(JwkSet::from_json(&published)?).build()?;
/// let token = issuer.issue_token("42", Duration::from_secs(60))?;
/// assert_eq!(verifier.decode_token(&token)?.user_id(), "42");
///
/// // Refresh tokens stay HS256: they never leave the issuer.
/// let pair = issuer.issue_token_pair("42")?;
/// assert_eq!(verifier.decode_token(&pair.refresh_token), Err(TokenError::WrongAlgorithm));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    rules: Rules,
    clock: Option<Clock>,
}

impl TokenVerifier {
    /// A builder: the keys, then the claim rules; see [`TokenVerifierBuilder`].
    pub fn builder() -> TokenVerifierBuilder {
        TokenVerifierBuilder {
            keys: Vec::new(),
            #[cfg(feature = "jwks-fetch")]
            jwks_url: None,
            rules: Rules::default(),
            clock: None,
        }
    }

    pub(crate) fn new(keys: Keys, rules: Rules, clock: Option<Clock>) -> Self {
        Self {
            inner: Arc::new(Inner { keys, rules, clock }),
        }
    }

    /// Verifies `token` and returns its claims, or why it was refused:
    /// [`TokenError::Expired`] apart from every kind of invalid token.
    #[doc(alias = "verify")]
    pub fn decode_token(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode_bytes(token.as_bytes())
    }

    pub(crate) fn decode_bytes(&self, token: &[u8]) -> Result<Claims, TokenError> {
        let inner = &*self.inner;
        inner.keys.verify_token(&inner.rules, token, self.now())
    }

    pub(crate) fn rules(&self) -> &Rules {
        &self.inner.rules
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The current time in seconds since the Unix epoch, from the configured clock.
    pub(crate) fn now(&self) -> u64 {
        match &self.inner.clock {
            Some(clock) => clock(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("TokenVerifier")
            .field("hs256", &inner.keys.hmac.as_ref().map(|_| "<redacted>"))
            .field("public_keys", &inner.keys.public)
            .field("rules", &inner.rules)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`TokenVerifier`]; from [`TokenVerifier::builder`]: its keys, and the claim
/// rules of [`LoginManagerBuilder`](crate::LoginManagerBuilder), which a verifier of another
/// service's tokens states as that service's manager does.
pub struct TokenVerifierBuilder {
    keys: Vec<VerifyingKey>,
    #[cfg(feature = "jwks-fetch")]
    jwks_url: Option<String>,
    rules: Rules,
    clock: Option<Clock>,
}

impl TokenVerifierBuilder {
    /// A public key to verify with, under its key id.
    pub fn key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Every key of a JWK Set, as published by an issuer (see
    /// [`LoginManager::jwks`](crate::LoginManager::jwks)).
    pub fn jwks(mut self, set: JwkSet) -> Self {
        self.keys.extend(set.keys().iter().cloned());
        self
    }

    /// The JWK Set at `url`, fetched and kept fresh by a task that [`build`](Self::build)
    /// spawns on the current Tokio runtime (so `build` must run inside one) and that ends when
    /// the last clone of the verifier is dropped. Instead of [`key`](Self::key) and
    /// [`jwks`](Self::jwks), not beside them.
    ///
    /// `url` is `https`, or `http` to a loopback address. Requests never wait for a fetch: they
    /// read the last good set, and before the first one they are refused with
    /// [`TokenError::KeysUnavailable`] (503 from a [`LoginLayer`](crate::LoginLayer)), never 401.
    /// The set is fetched again when its `Cache-Control: max-age` runs out, no sooner than 30 s
    /// and no later than 24 h after the last fetch (5 min without a `max-age`). A token whose
    /// `kid` is not in the set is refused at once ([`TokenError::UnknownKey`]) and asks for a
    /// fetch, which comes no sooner than 30 s after the last one began, however many ask. A fetch
    /// that fails (5 s to connect, 10 s in all, a body of at most 256 KiB, a 2xx status, a JWK
    /// Set with at least one usable key) keeps the last good set and is retried after 1 s, 2 s,
    /// 4 s... up to 5 min. DESIGN.md, "Fetching a JWK Set", says why.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_login_manager::{LoginManager, SigningKey, TokenError, TokenVerifier};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let url = "http://127.0.0.1:9/.well-known/jwks.json";
    /// // `url`: e.g. "https://login.example.com/.well-known/jwks.json"
    /// let verifier = TokenVerifier::builder()
    ///     .jwks_url(url)
    ///     .issuer("https://login.example.com")
    ///     .build()?;
    ///
    /// // Until the first set has come, tokens are refused as "keys unavailable" (503), not as
    /// // invalid (401): the service is not ready, the token may well be good.
    /// let issuer = LoginManager::builder("a secret of at least thirty-two bytes!!")
    ///     .signing_key(SigningKey::generate_es256())
    ///     .issuer("https://login.example.com")
    ///     .build()?;
    /// let token = issuer.issue_token("42", Duration::from_secs(60))?;
    /// assert_eq!(verifier.decode_token(&token), Err(TokenError::KeysUnavailable));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "jwks-fetch")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks-fetch")))]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    claim_rule_setters!("");

    /// Checks the settings and builds the verifier. Fails if two keys share a key id, or as
    /// [`LoginManagerBuilder::build`](crate::LoginManagerBuilder::build) does for the user id
    /// claim; with a JWK Set URL, if it is not one, or keys are given beside it, or there is no
    /// Tokio runtime.
    pub fn build(self) -> Result<TokenVerifier, ConfigError> {
        check_rules(&self.rules)?;
        check_unique_kids(&self.keys)?;
        #[cfg(feature = "jwks-fetch")]
        let public = match self.jwks_url {
            Some(_) if !self.keys.is_empty() => {
                return Err(ConfigError::InvalidKey(
                    "a verifier takes keys or a JWK Set URL, not both",
                ));
            }
            Some(url) => PublicKeys::fetched(&url)?,
            None => PublicKeys::new(self.keys),
        };
        #[cfg(not(feature = "jwks-fetch"))]
        let public = PublicKeys::new(self.keys);
        let keys = Keys { hmac: None, public };
        Ok(TokenVerifier::new(keys, self.rules, self.clock))
    }
}

impl fmt::Debug for TokenVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("TokenVerifierBuilder");
        f.field("keys", &self.keys);
        #[cfg(feature = "jwks-fetch")]
        f.field("jwks_url", &self.jwks_url);
        f.field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// The user id claim is neither empty nor a claim this crate reads or writes itself.
pub(crate) fn check_rules(rules: &Rules) -> Result<(), ConfigError> {
    let claim = &*rules.user_id_claim;
    if claim.is_empty() {
        return Err(ConfigError::InvalidUserIdClaim(""));
    }
    match CRATE_CLAIMS.iter().find(|name| **name == claim) {
        Some(taken) => Err(ConfigError::InvalidUserIdClaim(taken)),
        None => Ok(()),
    }
}

/// No two keys share a key id: a token's `kid` names one key, never a choice.
fn check_unique_kids(keys: &[VerifyingKey]) -> Result<(), ConfigError> {
    for (i, key) in keys.iter().enumerate() {
        if keys[..i].iter().any(|k| k.kid() == key.kid()) {
            return Err(ConfigError::InvalidKey("two keys share a key id"));
        }
    }
    Ok(())
}

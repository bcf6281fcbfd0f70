//! [`LoginManager`]: the token authority. It issues and verifies tokens (keys, claim rules,
//! clock) and knows nothing of HTTP answers, which belong to the layer.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::error::{ConfigError, TokenError};
use crate::keys::{JwkSet, PublicKeys, SigningKey};
use crate::store::Revocation;
use crate::token::{
    CRATE_CLAIMS, Claims, Issue, KeySet, Keys, MAX_TOKEN_LEN, Rules, Signer, TokenKind, issue,
    valid_user_id, whole_secs,
};
use crate::verifier::{Clock, TokenVerifier, check_rules};

/// The smallest HS256 secret accepted, in bytes (RFC 7518 section 3.2).
const MIN_SECRET_LEN: usize = 32;

/// Issues and verifies HS256 login tokens: the `APILoginManager` of the Flask original.
///
/// Cheap to clone (everything is shared behind one `Arc`). The secret never appears in `Debug`.
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::{LoginManager, TokenError};
///
/// let manager = LoginManager::new("a secret of at least thirty-two bytes!!")?;
/// let token = manager.issue_token("42", Duration::from_secs(60 * 60))?;
/// let claims = manager.decode_token(&token)?;
/// assert_eq!(claims.user_id(), "42");
///
/// // One flipped character in the MAC and the token is refused.
/// let mut tampered = token.clone();
/// let last = if tampered.ends_with('A') { "B" } else { "A" };
/// tampered.replace_range(tampered.len() - 1.., last);
/// assert_eq!(manager.decode_token(&tampered), Err(TokenError::BadSignature));
///
/// // Secrets shorter than 32 bytes are refused up front.
/// assert!(LoginManager::new("too short").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[doc(alias = "APILoginManager")]
pub struct LoginManager {
    inner: Arc<Inner>,
    /// The application's own claims, written into every issued token; see
    /// [`LoginManager::with_claims`].
    extra: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
}

struct Inner {
    /// The asymmetric keys: the one that signs access tokens, and those published.
    signing: Signing,
    /// This manager's own verifier: the HS256 keys (which sign refresh tokens, and access tokens
    /// without a signing key), the published public keys, the rules.
    verifier: TokenVerifier,
    refresh_ttl: Duration,
    access_ttl: Duration,
}

/// The asymmetric keys of an issuer: published keys (their public halves are in the verifier's
/// key set, so the manager accepts what it publishes) and the one that signs access tokens.
struct Signing {
    current: ArcSwapOption<SigningKey>,
    /// The published keys, private halves; rotation steps hold the lock, token issuing never.
    published: Mutex<Vec<SigningKey>>,
}

impl LoginManager {
    /// A manager with the default settings: HS256 only, `exp` required, no leeway, `user_id` as the
    /// user id claim, tokens valid for 60 minutes. Fails if `secret` is shorter than 32 bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::builder(secret).build()
    }

    /// A builder to change the defaults; see [`LoginManagerBuilder`].
    pub fn builder(secret: impl AsRef<[u8]>) -> LoginManagerBuilder {
        LoginManagerBuilder {
            secret: secret.as_ref().to_vec(),
            key_id: None,
            previous: Vec::new(),
            signing_key: None,
            refresh_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            rules: Rules::default(),
            access_ttl: Duration::from_secs(60 * 60),
            clock: None,
        }
    }

    /// Issues a token for `user_id` that expires after `ttl` (whole seconds, rounded up, so that
    /// 500 ms lives one second rather than none): an HS256 JWT with
    /// the claims `exp`, `iat` and `user_id` (a string), exactly as the Flask original's
    /// `encode_token` writes them, so that PyJWT reads it and this crate reads PyJWT's, plus a
    /// random 128-bit `jti` (RFC 7519 section 4.1.7), so that any token can be revoked (PyJWT
    /// ignores it).
    ///
    /// The original's `get_token_for(user)` is `issue_token(&user.id.to_string(), ttl)`.
    ///
    /// Fails, since the token would be refused, with [`TokenError::InvalidClaim`] if `user_id`
    /// is empty or has control characters, and with [`TokenError::TooLarge`] if the token would
    /// be longer than the 8 KiB the layer accepts (a very long user id, or many
    /// [extra claims](Self::with_claims)).
    #[doc(alias = "encode_token", alias = "get_token_for")]
    pub fn issue_token(&self, user_id: &str, ttl: Duration) -> Result<String, TokenError> {
        self.issue(user_id, ttl, None, None)
    }

    /// An access token (lifetime: [`access_ttl`](LoginManagerBuilder::access_ttl)) and a
    /// refresh token (lifetime: [`refresh_ttl`](LoginManagerBuilder::refresh_ttl)) for `user_id`,
    /// told apart by their `type` claim and each carrying a `jti` for revocation. Routes behind a
    /// default [`LoginLayer`](crate::LoginLayer) accept only the access token; a layer set to
    /// [`TokenKind::Refresh`] accepts only the refresh token. Fails as
    /// [`issue_token`](Self::issue_token) does.
    ///
    /// The pair starts a session (the grant of RFC 9700 section 4.14.2): both tokens carry a
    /// random 128-bit `sid` (OpenID Connect's registered claim), which the pairs
    /// [`refresh_token_pair`](Self::refresh_token_pair) issues from them keep, so that
    /// [`Revocations::revoke_session`](crate::Revocations::revoke_session) ends them all.
    ///
    /// ```
    /// use tower_login_manager::{LoginManager, TokenError};
    ///
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let pair = manager.issue_token_pair("42")?;
    /// assert_eq!((pair.expires_in, pair.refresh_expires_in), (60 * 60, 30 * 24 * 60 * 60));
    /// assert_eq!(manager.decode_token(&pair.access_token)?.user_id(), "42");
    /// // Both verify; the layer tells them apart by the `type` claim.
    /// assert_ne!(pair.access_token, pair.refresh_token);
    /// assert!(manager.decode_token(&pair.refresh_token).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_token_pair(&self, user_id: &str) -> Result<TokenPair, TokenError> {
        self.pair(user_id, &new_token_id())
    }

    /// A new pair for the user of a refresh token, in the same session (`sid`): what a refresh
    /// route answers once it has spent the presented token
    /// ([`Revocations::revoke`](crate::Revocations::revoke) answered `true`). A token of no
    /// session (issued elsewhere, or by [`issue_token`](Self::issue_token)) starts a new one.
    /// Fails as [`issue_token`](Self::issue_token) does.
    ///
    /// A client refreshes once at a time: where a refresh route spends each refresh token in a
    /// [`Revocations`](crate::Revocations) store, two requests with the same one are a use too
    /// many, and the second ends the session (RFC 9700 section 4.14.2). A page's tabs share it
    /// too (see [`SessionCookies`](crate::SessionCookies)).
    ///
    /// ```
    /// use tower_login_manager::LoginManager;
    ///
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let first = manager.issue_token_pair("42")?;
    /// let spent = manager.decode_token(&first.refresh_token)?;
    /// let next = manager.refresh_token_pair(&spent)?;
    /// let next = manager.decode_token(&next.refresh_token)?;
    /// assert_eq!(next.user_id(), "42");
    /// assert_eq!(next.revocation().session_id(), spent.revocation().session_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_token_pair(&self, refresh: &Claims) -> Result<TokenPair, TokenError> {
        match refresh.revocation().session_id() {
            Some(sid) => self.pair(refresh.user_id(), sid),
            None => self.pair(refresh.user_id(), &new_token_id()),
        }
    }

    /// What [`Revocations::revoke_user`](crate::Revocations::revoke_user) needs to refuse every
    /// token of `user_id` issued before now, on this manager's clock ("log out everywhere", a
    /// password change or reset), with or without a token of the user at hand. The cutoff is the
    /// current second: tokens with an earlier `iat` are refused, a pair issued from now on is
    /// not. Kept for the longest pair lifetime plus the leeway. It names no token and no session:
    /// [`revoke`](crate::Revocations::revoke) and
    /// [`revoke_session`](crate::Revocations::revoke_session) revoke nothing with it.
    ///
    /// Take it when the cutoff is to fall, not earlier: a handler that spends time first (hashing
    /// a new password) sets the cutoff after that, so that no token issued meanwhile escapes it.
    ///
    /// ```
    /// use tower_login_manager::{LoginManager, MemoryRevocations, Revocations};
    ///
    /// # tokio_test::block_on(async {
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let revocations = MemoryRevocations::new();
    /// // An administrator ends every session of user 42: no token of theirs at hand.
    /// assert!(revocations.revoke_user(manager.user_revocation("42")).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "logout_everywhere")]
    pub fn user_revocation<'a>(&self, user_id: &'a str) -> Revocation<'a> {
        let now = self.now();
        let rules = self.inner.verifier.rules();
        Revocation {
            jti: None,
            sid: None,
            user_id,
            issued_at: None,
            refused_from: now,
            all_refused_from: now
                .saturating_add(rules.longest_ttl)
                .saturating_add(rules.leeway),
            verified_at: now,
        }
    }

    fn pair(&self, user_id: &str, sid: &str) -> Result<TokenPair, TokenError> {
        let inner = &*self.inner;
        let (access, refresh) = (Some(TokenKind::Access), Some(TokenKind::Refresh));
        Ok(TokenPair {
            access_token: self.issue(user_id, inner.access_ttl, access, Some(sid))?,
            refresh_token: self.issue(user_id, inner.refresh_ttl, refresh, Some(sid))?,
            expires_in: whole_secs(inner.access_ttl),
            refresh_expires_in: whole_secs(inner.refresh_ttl),
        })
    }

    /// This manager, writing the application's own claims into every token it issues (by
    /// [`issue_token`](Self::issue_token) and [`issue_token_pair`](Self::issue_token_pair)):
    /// `extra` must serialize to a JSON object, and may not set a claim this crate writes or reads
    /// (`exp`, `iat`, `nbf`, `iss`, `aud`, `sub`, `jti`, `sid`, `type`, the user id claim); that is
    /// refused with `TokenError::InvalidClaim("extra claims")`. Read them back with
    /// [`Claims::extra`]. Verification is unchanged: the copy checks tokens as `self` does. The
    /// copy's claims replace any `self` had from an earlier `with_claims`: pass them all at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_login_manager::LoginManager;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Roles { roles: Vec<String> }
    ///
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let admin = Roles { roles: vec!["admin".into()] };
    /// let pair = manager.with_claims(&admin)?.issue_token_pair("1")?;
    /// assert_eq!(manager.decode_token(&pair.access_token)?.extra::<Roles>()?, admin);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_claims<T: serde::Serialize + ?Sized>(
        &self,
        extra: &T,
    ) -> Result<LoginManager, TokenError> {
        Ok(Self {
            inner: self.inner.clone(),
            extra: Some(Arc::new(self.extra_claims(extra)?)),
        })
    }

    fn issue(
        &self,
        user_id: &str,
        ttl: Duration,
        kind: Option<TokenKind>,
        sid: Option<&str>,
    ) -> Result<String, TokenError> {
        if !valid_user_id(user_id) {
            return Err(TokenError::InvalidClaim("user id"));
        }
        let inner = &*self.inner;
        let jti = new_token_id();
        let more = Issue {
            kind,
            jti: &jti,
            sid,
            extra: self.extra.as_deref(),
        };
        // Refresh tokens never leave the issuer: HS256 always. Access tokens: the signing key's.
        let current = inner.signing.current.load();
        let signer = match (kind, current.as_deref()) {
            (Some(TokenKind::Refresh), _) | (_, None) => Signer::Hmac(self.hmac()),
            (_, Some(key)) => Signer::Key(key),
        };
        let rules = inner.verifier.rules();
        let token = issue(signer, rules, user_id, self.now(), whole_secs(ttl), &more);
        match token.len() {
            0..=MAX_TOKEN_LEN => Ok(token),
            _ => Err(TokenError::TooLarge),
        }
    }

    fn extra_claims<T: serde::Serialize + ?Sized>(
        &self,
        extra: &T,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
        const INVALID: TokenError = TokenError::InvalidClaim("extra claims");
        let serde_json::Value::Object(map) = serde_json::to_value(extra).map_err(|_| INVALID)?
        else {
            return Err(INVALID);
        };
        let user_id_claim = &*self.inner.verifier.rules().user_id_claim;
        let reserved =
            |name: &str| name == user_id_claim || name == "sub" || CRATE_CLAIMS.contains(&name);
        if map.keys().any(|name| reserved(name)) {
            return Err(INVALID);
        }
        Ok(map)
    }

    /// Verifies `token` and returns its claims, or why it was refused:
    /// [`TokenError::Expired`] apart from every kind of invalid token.
    #[doc(alias = "verify")]
    pub fn decode_token(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode_bytes(token.as_bytes())
    }

    pub(crate) fn decode_bytes(&self, token: &[u8]) -> Result<Claims, TokenError> {
        self.inner.verifier.decode_bytes(token)
    }

    /// This manager's verifier: it accepts every token the manager does and can issue none. A
    /// [`LoginLayer`](crate::LoginLayer) given the manager holds this.
    pub fn verifier(&self) -> TokenVerifier {
        self.inner.verifier.clone()
    }

    /// The public keys this manager publishes, for `GET /.well-known/jwks.json` (RFC 7517
    /// section 5): the signing key's and those of [`publish_key`](Self::publish_key), never the
    /// HS256 secret.
    pub fn jwks(&self) -> JwkSet {
        let keys = self.public_keys().snapshot().unwrap_or_default();
        JwkSet::from_keys(keys.iter().cloned())
    }

    /// Rotation, step 1 of 3: publish `next` (in [`jwks`](Self::jwks), and accepted by this
    /// manager), still signing with the current key. Verifiers that fetch the set learn the key
    /// before any token is signed with it. Fails if a published key has the same key id.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_login_manager::{LoginManager, SigningKey, TokenVerifier};
    ///
    /// let (old, next) = (SigningKey::generate_es256(), SigningKey::generate_es256());
    /// let manager = LoginManager::builder([7u8; 32]).signing_key(old.clone()).build()?;
    /// let earlier = manager.issue_token("1", Duration::from_secs(60))?;
    ///
    /// manager.publish_key(next.clone())?; // 1. publish; wait for verifiers' caches to expire
    /// manager.sign_with(next.kid())?; // 2. sign with it
    /// let later = manager.issue_token("1", Duration::from_secs(60))?;
    /// let verifier = TokenVerifier::builder().jwks(manager.jwks()).build()?;
    /// assert!(verifier.decode_token(&earlier).is_ok() && verifier.decode_token(&later).is_ok());
    ///
    /// manager.retire_key(old.kid())?; // 3. once the last token `old` signed has expired
    /// assert_eq!(manager.jwks().keys().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish_key(&self, next: SigningKey) -> Result<(), ConfigError> {
        let mut published = self.published();
        if published.iter().any(|key| key.kid() == next.kid()) {
            return Err(ConfigError::InvalidKey(
                "a key with this kid is already published",
            ));
        }
        published.push(next);
        self.store_public(&published);
        Ok(())
    }

    /// Rotation, step 2 of 3: sign access tokens with the published key `kid` from now on. The
    /// key it replaces stays published and accepted until [`retire_key`](Self::retire_key).
    /// Fails if no published key has this key id.
    pub fn sign_with(&self, kid: &str) -> Result<(), ConfigError> {
        let published = self.published();
        let key = published
            .iter()
            .find(|key| key.kid() == kid)
            .ok_or(ConfigError::InvalidKey("no published key has this kid"))?;
        self.inner
            .signing
            .current
            .store(Some(Arc::new(key.clone())));
        Ok(())
    }

    /// Rotation, step 3 of 3: stop publishing and accepting the key `kid`, once the longest
    /// lifetime of a token it signed has passed (its access tokens':
    /// [`access_ttl`](LoginManagerBuilder::access_ttl), or the longest `ttl` given to
    /// [`issue_token`](Self::issue_token)). Fails if no published key has this key id, or if it
    /// is the key that signs.
    pub fn retire_key(&self, kid: &str) -> Result<(), ConfigError> {
        let mut published = self.published();
        let signing = self.inner.signing.current.load();
        if signing.as_ref().is_some_and(|key| key.kid() == kid) {
            return Err(ConfigError::InvalidKey(
                "the key that signs cannot be retired",
            ));
        }
        let before = published.len();
        published.retain(|key| key.kid() != kid);
        if published.len() == before {
            return Err(ConfigError::InvalidKey("no published key has this kid"));
        }
        self.store_public(&published);
        Ok(())
    }

    fn published(&self) -> std::sync::MutexGuard<'_, Vec<SigningKey>> {
        // A panic cannot leave the list half-changed: each step changes it in one statement.
        self.inner
            .signing
            .published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn store_public(&self, published: &[SigningKey]) {
        self.public_keys()
            .store(published.iter().map(SigningKey::verifying_key).collect());
    }

    fn public_keys(&self) -> &PublicKeys {
        &self.inner.verifier.keys().public
    }

    /// The HS256 keys, which the manager's verifier always holds.
    fn hmac(&self) -> &KeySet {
        let hmac = self.inner.verifier.keys().hmac.as_ref();
        hmac.expect("a manager's verifier holds its secret")
    }

    /// The current time in seconds since the Unix epoch, from the configured clock.
    pub(crate) fn now(&self) -> u64 {
        self.inner.verifier.now()
    }
}

impl From<LoginManager> for TokenVerifier {
    fn from(manager: LoginManager) -> Self {
        manager.verifier()
    }
}

impl From<&LoginManager> for TokenVerifier {
    fn from(manager: &LoginManager) -> Self {
        manager.verifier()
    }
}

impl fmt::Debug for LoginManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let rules = inner.verifier.rules();
        f.debug_struct("LoginManager")
            .field("secret", &"<redacted>")
            .field("signing_key", &inner.signing.current.load_full())
            .field("leeway", &rules.leeway)
            .field("user_id_claim", &rules.user_id_claim)
            .field("issuer", &rules.issuer)
            .field("audience", &rules.audience)
            .field("access_ttl", &inner.access_ttl)
            .field("refresh_ttl", &inner.refresh_ttl)
            .field("keys", self.hmac())
            .field("published", &self.public_keys())
            .field(
                "extra_claims",
                &self.extra.as_ref().map(|extra| extra.len()),
            )
            .finish_non_exhaustive()
    }
}

/// An access token and a refresh token, from [`LoginManager::issue_token_pair`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPair {
    /// The access token, sent with every request.
    pub access_token: String,
    /// The refresh token, exchanged for a new pair at the refresh route.
    pub refresh_token: String,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
    /// Lifetime of the refresh token, in seconds.
    pub refresh_expires_in: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish()
    }
}

/// A random token id: 128 bits, base64url, from `rand`'s thread-local CSPRNG (ChaCha12, seeded
/// and reseeded from the operating system): a system call per token made issuing one cost 2.7x.
fn new_token_id() -> String {
    let mut bytes = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// Settings for a [`LoginManager`]; from [`LoginManager::builder`].
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::LoginManager;
///
/// let manager = LoginManager::builder(std::env::var("SECRET_KEY").unwrap_or("x".repeat(32)))
///     .access_ttl(Duration::from_secs(15 * 60))
///     .leeway(Duration::from_secs(30))
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .build()?;
/// # Ok::<(), tower_login_manager::ConfigError>(())
/// ```
pub struct LoginManagerBuilder {
    secret: Vec<u8>,
    key_id: Option<String>,
    previous: Vec<(Option<String>, Vec<u8>)>,
    signing_key: Option<SigningKey>,
    refresh_ttl: Duration,
    rules: Rules,
    access_ttl: Duration,
    clock: Option<Clock>,
}

impl LoginManagerBuilder {
    /// Lifetime of the access tokens of [`LoginManager::issue_token_pair`]. Default: 60 minutes,
    /// as the original's `get_token_for`. Whole seconds, rounded up.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Lifetime of refresh tokens from [`LoginManager::issue_token_pair`]. Default: 30 days.
    /// Whole seconds, rounded up.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// The key id (`kid`, RFC 7515 section 4.1.4) of the signing secret, written into the header
    /// of every issued token. Set it when rotating secrets; see
    /// [`previous_key`](Self::previous_key).
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// A former secret, still accepted for verification (never used to sign) so that a rotation
    /// logs no one out. With a key id, tokens whose `kid` names it are checked with it; `None` is
    /// for tokens signed before key ids were used. Tokens without a known `kid` are checked with
    /// every key in turn. Remove it once the longest token lifetime has passed. At least 32 bytes,
    /// like the current secret.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_login_manager::LoginManager;
    ///
    /// let old = LoginManager::builder([1u8; 32]).key_id("2026-10").build()?;
    /// let token = old.issue_token("1", Duration::from_secs(60))?;
    ///
    /// let rotated = LoginManager::builder([2u8; 32])
    ///     .key_id("2026-11")
    ///     .previous_key(Some("2026-10"), [1u8; 32])
    ///     .build()?;
    /// assert_eq!(rotated.decode_token(&token)?.user_id(), "1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn previous_key(mut self, kid: Option<&str>, secret: impl AsRef<[u8]>) -> Self {
        self.previous
            .push((kid.map(str::to_owned), secret.as_ref().to_vec()));
        self
    }

    /// Sign access tokens (those of [`LoginManager::issue_token`] and
    /// [`LoginManager::issue_token_pair`]) with this ES256 or EdDSA key, and publish its public
    /// half in [`LoginManager::jwks`], so that other services verify them holding no secret (see
    /// [`TokenVerifier`]). Refresh tokens stay HS256: they never leave the issuer. Default: none,
    /// every token HS256. Rotate it with [`LoginManager::publish_key`].
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    crate::verifier::claim_rule_setters!("; issued tokens carry it");

    /// Checks the settings and builds the manager.
    pub fn build(mut self) -> Result<LoginManager, ConfigError> {
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::SecretTooShort {
                len: self.secret.len(),
            });
        }
        check_rules(&self.rules)?;
        if let Some((_, secret)) = self.previous.iter().find(|(_, s)| s.len() < MIN_SECRET_LEN) {
            return Err(ConfigError::SecretTooShort { len: secret.len() });
        }
        let hmac = KeySet::new(&self.secret, self.key_id, &self.previous);
        self.rules.longest_ttl = whole_secs(self.access_ttl.max(self.refresh_ttl));
        let published: Vec<SigningKey> = self.signing_key.iter().cloned().collect();
        let public = published.iter().map(SigningKey::verifying_key).collect();
        let keys = Keys {
            hmac: Some(hmac),
            public: PublicKeys::new(public),
        };
        Ok(LoginManager {
            extra: None,
            inner: Arc::new(Inner {
                signing: Signing {
                    current: ArcSwapOption::new(self.signing_key.map(Arc::new)),
                    published: Mutex::new(published),
                },
                verifier: TokenVerifier::new(keys, self.rules, self.clock),
                refresh_ttl: self.refresh_ttl,
                access_ttl: self.access_ttl,
            }),
        })
    }
}

impl fmt::Debug for LoginManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginManagerBuilder")
            .field("secret", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("previous_keys", &self.previous.len())
            .field("signing_key", &self.signing_key)
            .field("rules", &self.rules)
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

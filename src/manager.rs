//! [`LoginManager`]: the token authority. It issues and verifies tokens (keys, claim rules,
//! clock) and knows nothing of HTTP answers, which belong to the layer.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{ConfigError, TokenError};
use crate::store::Revocation;
use crate::token::{
    CRATE_CLAIMS, Claims, Issue, KeySet, MAX_TOKEN_LEN, Rules, TokenKind, valid_user_id, whole_secs,
};

/// The smallest HS256 secret accepted, in bytes (RFC 7518 section 3.2).
const MIN_SECRET_LEN: usize = 32;

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

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
    keys: KeySet,
    refresh_ttl: Duration,
    rules: Rules,
    access_ttl: Duration,
    clock: Option<Clock>,
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
        let rules = &self.inner.rules;
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
        let token = inner
            .keys
            .issue(&inner.rules, user_id, self.now(), whole_secs(ttl), &more);
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
        let user_id_claim = &*self.inner.rules.user_id_claim;
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
        let inner = &*self.inner;
        inner.keys.verify_token(&inner.rules, token, self.now())
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

impl fmt::Debug for LoginManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("LoginManager")
            .field("secret", &"<redacted>")
            .field("algorithm", &"HS256")
            .field("leeway", &inner.rules.leeway)
            .field("user_id_claim", &inner.rules.user_id_claim)
            .field("issuer", &inner.rules.issuer)
            .field("audience", &inner.rules.audience)
            .field("access_ttl", &inner.access_ttl)
            .field("refresh_ttl", &inner.refresh_ttl)
            .field("keys", &inner.keys)
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

    /// Tolerance for clock skew, applied to `exp`, `nbf` and `iat` alike. Default: 0, as in PyJWT.
    /// Whole seconds, rounded up (JWT times are whole seconds). A revoked token stays revoked
    /// through the leeway: see [`Claims::revocation`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.rules.leeway = whole_secs(leeway);
        self
    }

    /// The claim that holds the user id. Default: `user_id`, as in the Flask original; `sub` is the
    /// RFC 7519 choice. The claims this crate itself reads or writes (`exp`, `iat`, `nbf`, `iss`,
    /// `aud`, `jti`, `sid`, `type`) are refused by [`build`](Self::build), naming the claim.
    pub fn user_id_claim(mut self, claim: impl Into<Cow<'static, str>>) -> Self {
        self.rules.user_id_claim = claim.into();
        self
    }

    /// Require `iss` to be this issuer (RFC 7519 section 4.1.1); issued tokens carry it.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.rules.issuer = Some(issuer.into());
        self
    }

    /// Require `aud` to name this audience (RFC 7519 section 4.1.3); issued tokens carry it.
    /// Without an audience, a token that carries `aud` is refused.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.rules.audience = Some(audience.into());
        self
    }

    /// The clock tokens are judged by, in seconds since the Unix epoch. Default: the system
    /// clock. Tests pin time with it.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the settings and builds the manager.
    pub fn build(mut self) -> Result<LoginManager, ConfigError> {
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::SecretTooShort {
                len: self.secret.len(),
            });
        }
        let claim = &*self.rules.user_id_claim;
        if claim.is_empty() {
            return Err(ConfigError::InvalidUserIdClaim(""));
        }
        if let Some(taken) = CRATE_CLAIMS.iter().find(|name| **name == claim) {
            return Err(ConfigError::InvalidUserIdClaim(taken));
        }
        if let Some((_, secret)) = self.previous.iter().find(|(_, s)| s.len() < MIN_SECRET_LEN) {
            return Err(ConfigError::SecretTooShort { len: secret.len() });
        }
        let keys = KeySet::new(&self.secret, self.key_id, &self.previous);
        self.rules.longest_ttl = whole_secs(self.access_ttl.max(self.refresh_ttl));
        Ok(LoginManager {
            extra: None,
            inner: Arc::new(Inner {
                keys,
                refresh_ttl: self.refresh_ttl,
                rules: self.rules,
                access_ttl: self.access_ttl,
                clock: self.clock,
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
            .field("rules", &self.rules)
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

//! [`SessionCookies`]: issued tokens as `Set-Cookie` headers for browsers, and the headers that
//! clear them.

use std::borrow::Cow;
use std::time::Duration;

use cookie::Cookie;
use http::HeaderValue;

use crate::error::TokenError;
use crate::manager::TokenPair;
use crate::source::TokenLocation;
use crate::token::{TokenKind, whole_secs};

/// The longest name and value a browser keeps together, in octets (RFC 6265bis section 5.6).
const MAX_NAME_AND_VALUE: usize = 4096;

/// The `SameSite` attribute of the session cookies (RFC 6265bis section 4.1.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests from this site.
    Strict,
    /// Also sent when the user follows a link to this site (top-level `GET`): the default.
    Lax,
    /// Sent with every request, cross-site ones included (a front end on another site).
    None,
}

/// The cookies a browser keeps its tokens in: turns an issued token or [`TokenPair`] into
/// `Set-Cookie` headers, and gives the headers that clear them at logout. Built and formatted by
/// the `cookie` crate.
///
/// - the access token: cookie `access_token`, `HttpOnly` (no script can read it), `Secure`
///   (browsers accept it on `http://localhost` and `http://127.0.0.1`, so development needs no
///   switch), `SameSite=Lax`, `Path=/`, `Max-Age` its lifetime;
/// - the refresh token: cookie `refresh_token`, the same, but `Path` only the refresh route
///   (`/refresh` unless [`refresh_path`](Self::refresh_path) says otherwise), so the browser
///   sends it nowhere else; a refresh cookie named with the `__Host-` prefix must have
///   `Path=/`, and is then sent with every request.
///
/// The layer reads the access cookie at [`location`](Self::location)`(TokenKind::Access)`, and
/// then refuses cross-origin requests that would use it (see
/// [`LoginLayer::trusted_origins`](crate::LoginLayer::trusted_origins)); the refresh route's
/// layer reads the refresh cookie.
///
/// A sibling subdomain (`evil.example.com` beside `app.example.com`) can set a cookie of any
/// name but a `__Host-` one for the whole domain (`Domain=example.com`; RFC 6265bis section
/// 4.1.3.1 asks only `Secure` of a `__Secure-` one). The layer refuses a request that carries
/// two (400), but a planted cookie alone is read: a planted refresh cookie reaches the refresh
/// route, which answers a new pair in cookies, and the user is logged in as the sibling's
/// account (login CSRF); a planted access cookie does the same on every route; one beside the
/// real cookie locks the user out until it expires. Where subdomains are not all trusted, name
/// both cookies with the `__Host-` prefix, which browsers accept only from this host, `Secure`,
/// with `Path=/` and no `Domain` (section 4.1.3.2):
/// `names("__Host-access_token", "__Host-refresh_token")`; the layer reads the names it is
/// given by [`location`](Self::location). The cost: the refresh cookie is on `Path=/`, sent
/// with every request to the host rather than to the refresh route only (a few hundred octets
/// more per request, and the refresh token in front of every route; the layer of the other
/// routes reads only the access cookie, and its cross-origin check guards the refresh route as
/// any other). A binding between the two cookies (the refresh route asking for the access
/// cookie's user) was weighed and not chosen: the access cookie is gone once its token expires,
/// which is when the refresh route is needed. [`names`](Self::names) refuses a `__Host-` access
/// cookie beside a refresh cookie a sibling can plant.
///
/// The tabs of one browser share the cookies: two that ask the refresh route before either is
/// answered send the same refresh token, and a server that rotates refresh tokens takes the
/// second use for a stolen token (RFC 9700 section 4.14.2). A page refreshes under a lock its
/// tabs share (the Web Locks API, one origin's), and a tab that waited for it asks again
/// first; the example server's page (`examples/server/static/app.js`) does.
///
/// ```
/// use tower_login_manager::{LoginManager, SessionCookies};
///
/// let manager = LoginManager::new([7u8; 32])?;
/// let cookies = SessionCookies::new();
/// let [access, refresh] = cookies.set_pair(&manager.issue_token_pair("1")?)?;
/// assert!(access.to_str()?.starts_with("access_token=ey"));
/// assert!(access.to_str()?.ends_with("; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600"));
/// assert!(refresh.to_str()?.ends_with("; HttpOnly; SameSite=Lax; Secure; Path=/refresh; Max-Age=2592000"));
///
/// // Logout: both cookies expire at once.
/// let [access, refresh] = cookies.clear();
/// assert_eq!(access, "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0");
/// assert_eq!(refresh, "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/refresh; Max-Age=0");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionCookies {
    access: Cow<'static, str>,
    refresh: Cow<'static, str>,
    /// `None` until [`refresh_path`](Self::refresh_path) says one: `/refresh`, or `/` for a
    /// `__Host-` refresh cookie.
    refresh_path: Option<Cow<'static, str>>,
    same_site: SameSite,
}

impl Default for SessionCookies {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionCookies {
    /// `access_token` and `refresh_token`, the refresh token for `/refresh` only, `SameSite=Lax`.
    pub fn new() -> Self {
        Self {
            access: Cow::Borrowed("access_token"),
            refresh: Cow::Borrowed("refresh_token"),
            refresh_path: None,
            same_site: SameSite::Lax,
        }
    }

    /// The cookies' names.
    ///
    /// # Panics
    ///
    /// If a name is empty or not an RFC 9110 token (letters, digits and ``!#$%&'*+-.^_`|~``), if
    /// both names are the same (the refresh cookie would replace the access cookie, or be sent
    /// beside it), if the access cookie's has the `__Host-` prefix and the refresh cookie's not
    /// (a sibling subdomain could plant the refresh cookie: see [`SessionCookies`]), or if the
    /// refresh cookie's has the `__Host-` prefix while
    /// [`refresh_path`](Self::refresh_path) said a path other than `/` (browsers refuse such a
    /// cookie): a mistake in the program found at its start.
    pub fn names(
        mut self,
        access: impl Into<Cow<'static, str>>,
        refresh: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.access = valid_name(access.into());
        self.refresh = valid_name(refresh.into());
        // Compared octet for octet, as a browser tells its cookies apart (RFC 6265 section 5.3)
        // and the layer finds one: `Session` and `session` are two cookies. The `__Host-` prefix
        // is matched without regard to case only for the rules it brings (RFC 6265bis section
        // 4.1.3), not for which cookie is which.
        assert!(
            self.access != self.refresh,
            "both cookies are named {:?}: the refresh token would replace the access token, or \
             be sent beside it; give each its own name",
            self.access,
        );
        // A `__Host-` access cookie is chosen against sibling subdomains (beyond `__Secure-`, the
        // prefix only keeps out a `Domain` and another path), so a refresh cookie a sibling can
        // plant beside it is a mistake: the refresh route would turn the planted token into an
        // access cookie for the sibling's account. Refused at start, as a name that is not a
        // token is; names without the prefix say nothing of siblings, and are left alone.
        assert!(
            !host_prefixed(&self.access) || host_prefixed(&self.refresh),
            "the access cookie {:?} has the __Host- prefix, against sibling subdomains, but a \
             sibling subdomain can plant the refresh cookie {:?} (with Domain=, which only \
             __Host- forbids), and the refresh route would log the user in as the sibling's \
             account: name the refresh cookie with the __Host- prefix too",
            self.access,
            self.refresh,
        );
        self.check_host_prefix()
    }

    /// The path of the refresh route, the only one the refresh cookie is sent to. Default:
    /// `/refresh`; `/` for a refresh cookie named with the `__Host-` prefix, which browsers
    /// accept only with `Path=/` (RFC 6265bis section 4.1.3.2).
    ///
    /// # Panics
    ///
    /// If `path` does not start with `/` or holds a `;` or a control character, or is not `/`
    /// while the refresh cookie's name has the `__Host-` prefix.
    pub fn refresh_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        let path = path.into();
        assert!(
            path.starts_with('/') && !path.contains(';') && !path.chars().any(char::is_control),
            "refresh path {path:?} must start with `/` and hold no `;` or control character"
        );
        self.refresh_path = Some(path);
        self.check_host_prefix()
    }

    /// The refresh cookie's path: the one said, else the default.
    fn refresh_path_or_default(&self) -> &str {
        match &self.refresh_path {
            Some(path) => path,
            None if self.refresh_is_host_prefixed() => "/",
            None => "/refresh",
        }
    }

    fn refresh_is_host_prefixed(&self) -> bool {
        host_prefixed(&self.refresh)
    }

    /// A browser keeps a `__Host-` cookie only with `Path=/`.
    fn check_host_prefix(self) -> Self {
        let path = self.refresh_path_or_default();
        assert!(
            !self.refresh_is_host_prefixed() || path == "/",
            "the refresh cookie {:?} has the __Host- prefix, which browsers accept only with \
             Path=/, but its path is {path:?}: use the __Secure- prefix, or refresh_path(\"/\")",
            self.refresh,
        );
        self
    }

    /// The `SameSite` attribute of both cookies. Default: [`SameSite::Lax`]. Every cookie is
    /// `Secure`, as [`SameSite::None`] requires.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Where the layer finds the token of `kind` that these cookies hold: the access cookie
    /// ([`TokenKind::Access`]) for the routes of the application, the refresh cookie
    /// ([`TokenKind::Refresh`]) for the refresh route's layer. The cookie's name is written once,
    /// here.
    ///
    /// ```
    /// use tower_login_manager::{LoginLayer, LoginManager, SessionCookies, TokenKind, TokenLocation};
    ///
    /// # let loader = tower_login_manager::loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
    /// let cookies = SessionCookies::new().names("__Host-access", "__Host-refresh");
    /// let layer = LoginLayer::new(LoginManager::new([7u8; 32])?, loader)
    ///     .token_locations([TokenLocation::Header, cookies.location(TokenKind::Access)]);
    /// assert_eq!(cookies.location(TokenKind::Access), TokenLocation::Cookie("__Host-access".into()));
    /// # Ok::<(), tower_login_manager::ConfigError>(())
    /// ```
    pub fn location(&self, kind: TokenKind) -> TokenLocation {
        TokenLocation::Cookie(match kind {
            TokenKind::Access => self.access.clone(),
            TokenKind::Refresh => self.refresh.clone(),
        })
    }

    /// `Set-Cookie` for an access token that lives `lifetime` (whole seconds, rounded up, as
    /// the token's own).
    ///
    /// Fails with [`TokenError::TooLarge`] when the cookie's name and the token are together
    /// longer than the 4096 octets a browser keeps (RFC 6265bis section 5.6): the browser would
    /// drop the cookie, so the login would seem to work and every request after it be refused.
    /// A token of this crate reaches that with many [extra claims](crate::LoginManager::with_claims).
    /// Fails with [`TokenError::Malformed`] when `token` holds a character a cookie value cannot
    /// (RFC 6265 section 4.1.1: controls, whitespace, `"`, `,`, `;`, `\`), never the case for a
    /// token this crate issues (base64url and dots).
    pub fn set_access(&self, token: &str, lifetime: Duration) -> Result<HeaderValue, TokenError> {
        self.header(&self.access, token, "/", whole_secs(lifetime))
    }

    /// `Set-Cookie` for both tokens of `pair`, access first. Fails as
    /// [`set_access`](Self::set_access) does, for either token.
    pub fn set_pair(&self, pair: &TokenPair) -> Result<[HeaderValue; 2], TokenError> {
        Ok([
            self.header(&self.access, &pair.access_token, "/", pair.expires_in)?,
            self.header(
                &self.refresh,
                &pair.refresh_token,
                self.refresh_path_or_default(),
                pair.refresh_expires_in,
            )?,
        ])
    }

    /// `Set-Cookie` headers that remove both cookies (empty, `Max-Age=0`), access first.
    pub fn clear(&self) -> [HeaderValue; 2] {
        let clear = |name, path| {
            self.header(name, "", path, 0)
                .expect("a valid name and an empty value always make a cookie")
        };
        [
            clear(&self.access, "/"),
            clear(&self.refresh, self.refresh_path_or_default()),
        ]
    }

    fn header(
        &self,
        name: &str,
        value: &str,
        path: &str,
        max_age: u64,
    ) -> Result<HeaderValue, TokenError> {
        let cookie_octet =
            |b: u8| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
        if !value.bytes().all(cookie_octet) {
            return Err(TokenError::Malformed);
        }
        if name.len() + value.len() > MAX_NAME_AND_VALUE {
            return Err(TokenError::TooLarge);
        }
        let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
        let cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(match self.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            })
            .secure(true)
            .path(path)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        // Names are tokens, the path has no `;` or control character, and the value is cookie
        // octets: always a valid header value.
        Ok(HeaderValue::try_from(cookie.to_string()).expect("a Set-Cookie of checked parts"))
    }
}

/// RFC 6265bis section 4.1.3.2: the `__Host-` prefix, matched without regard to case.
fn host_prefixed(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("__Host-"))
}

fn valid_name(name: Cow<'static, str>) -> Cow<'static, str> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    assert!(
        !name.is_empty() && name.bytes().all(tchar),
        "cookie name {name:?} is not an RFC 9110 token"
    );
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> TokenPair {
        TokenPair {
            access_token: "a.b.c".into(),
            refresh_token: "d.e.f".into(),
            expires_in: 900,
            refresh_expires_in: 86_400,
        }
    }

    #[test]
    fn rfc6265bis_attributes_of_both_cookies() {
        let [access, refresh] = SessionCookies::new()
            .same_site(SameSite::Strict)
            .refresh_path("/auth/refresh")
            .names("sid", "rid")
            .set_pair(&pair())
            .unwrap();
        assert_eq!(
            access,
            "sid=a.b.c; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=900"
        );
        assert_eq!(
            refresh,
            "rid=d.e.f; HttpOnly; SameSite=Strict; Secure; Path=/auth/refresh; Max-Age=86400"
        );
    }

    /// RFC 6265bis section 4.1.2.7: `SameSite=None` needs `Secure`, which every cookie has.
    #[test]
    fn same_site_none_is_secure() {
        let access = SessionCookies::new()
            .same_site(SameSite::None)
            .set_access("a.b.c", Duration::from_millis(1_500))
            .unwrap();
        assert_eq!(
            access,
            "access_token=a.b.c; HttpOnly; SameSite=None; Secure; Path=/; Max-Age=2"
        );
    }

    /// The longest lifetime rounds as the token's own does (saturating), not over to zero.
    #[test]
    fn the_longest_lifetime_does_not_overflow() {
        let access = SessionCookies::new()
            .set_access("a.b.c", Duration::MAX)
            .unwrap();
        let max_age = format!("; Max-Age={}", i64::MAX);
        assert!(access.to_str().unwrap().ends_with(&max_age), "{access:?}");
    }

    #[test]
    fn a_value_cannot_add_attributes() {
        let set =
            SessionCookies::new().set_access("x; Domain=evil.example", Duration::from_secs(1));
        assert_eq!(set, Err(TokenError::Malformed));
    }

    /// RFC 6265bis section 5.6: a browser ignores a cookie whose name and value together are
    /// longer than 4096 octets, so such a token would seem to log in and then never be sent.
    #[test]
    fn rfc6265bis_section5_6_a_cookie_over_4096_octets_is_refused() {
        let cookies = SessionCookies::new();
        let fits = "t".repeat(4096 - "access_token".len());
        let over = format!("{fits}t");
        let lifetime = Duration::from_secs(60);
        assert!(cookies.set_access(&fits, lifetime).is_ok());
        assert_eq!(
            cookies.set_access(&over, lifetime),
            Err(TokenError::TooLarge)
        );
        let refresh_fits = "t".repeat(4096 - "refresh_token".len());
        let pair = |access: &str, refresh: &str| TokenPair {
            access_token: access.into(),
            refresh_token: refresh.into(),
            ..pair()
        };
        assert!(cookies.set_pair(&pair(&fits, &refresh_fits)).is_ok());
        assert_eq!(
            cookies.set_pair(&pair(&over, "d.e.f")),
            Err(TokenError::TooLarge)
        );
        assert_eq!(
            cookies.set_pair(&pair("a.b.c", &format!("{refresh_fits}t"))),
            Err(TokenError::TooLarge)
        );
    }

    #[test]
    #[should_panic(expected = "is not an RFC 9110 token")]
    fn a_cookie_name_must_be_a_token() {
        let _ = SessionCookies::new().names("access token", "refresh_token");
    }

    /// RFC 6265 section 5.3, step 11: a browser keeps one cookie per name, domain and path. One
    /// name for both tokens, with `__Host-` (both on `/`), makes the refresh token replace the
    /// access cookie (every request 401); with plain names, `/refresh` is sent both (400).
    #[test]
    #[should_panic(expected = "both cookies are named \"__Host-session\"")]
    fn rfc6265_section5_3_one_name_for_both_cookies_is_refused() {
        let _ = SessionCookies::new().names("__Host-session", "__Host-session");
    }

    #[test]
    #[should_panic(expected = "both cookies are named \"session\"")]
    fn one_plain_name_for_both_cookies_is_refused() {
        let _ = SessionCookies::new().names("session", "session");
    }

    /// Names are compared as browsers and the layer compare them, octet for octet (RFC 6265
    /// section 5.3): `Session` and `session` are two cookies, each read by its own name.
    #[test]
    fn names_that_differ_in_case_are_two_cookies() {
        let [access, refresh] = SessionCookies::new()
            .names("Session", "session")
            .set_pair(&pair())
            .unwrap();
        assert!(access.to_str().unwrap().starts_with("Session="));
        assert!(refresh.to_str().unwrap().starts_with("session="));
    }

    /// RFC 6265bis section 4.1.3.2: a browser refuses a `__Host-` cookie whose path is not `/`,
    /// so a refresh cookie of that name would never be kept.
    #[test]
    fn rfc6265bis_section4_1_3_2_a_host_refresh_cookie_needs_the_root_path() {
        fn names(cookies: SessionCookies) -> SessionCookies {
            cookies.names("__Host-a", "__host-r")
        }
        let refused = |make: fn() -> SessionCookies| {
            let panic = std::panic::catch_unwind(make).unwrap_err();
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(message.contains("__Host-"), "{message}");
        };
        refused(|| names(SessionCookies::new().refresh_path("/refresh")));
        refused(|| names(SessionCookies::new().refresh_path("/")).refresh_path("/refresh"));
        // Found by review: the check depended on the order of the calls, `names` first meeting
        // the default path. A `__Host-` refresh cookie whose path is not said is on `/`, in
        // either order, and `/` said after the names is accepted.
        let on_root = |cookies: SessionCookies| {
            let [access, refresh] = cookies.set_pair(&pair()).unwrap();
            assert!(access.to_str().unwrap().contains("; Path=/;"), "{access:?}");
            assert!(
                refresh.to_str().unwrap().contains("; Path=/;"),
                "{refresh:?}"
            );
        };
        on_root(names(SessionCookies::new().refresh_path("/")));
        on_root(names(SessionCookies::new()).refresh_path("/"));
        on_root(names(SessionCookies::new()));
    }

    /// Found by review (issue 22): `names("__Host-access_token", "__Secure-refresh_token")`, the
    /// names the docs recommended against sibling subdomains, let a sibling plant the refresh
    /// cookie with `Domain=` the parent (RFC 6265bis section 4.1.3.1 asks only `Secure` of a
    /// `__Secure-` cookie), and the refresh route turned it into an access cookie for the
    /// attacker's account (login CSRF). A `__Host-` access cookie says that siblings are not
    /// trusted, so a refresh cookie they can plant beside it is refused at start.
    #[test]
    fn rfc6265bis_section4_1_3_a_host_access_cookie_needs_a_host_refresh_cookie() {
        for (access, refresh) in [
            ("__Host-access_token", "__Secure-refresh_token"),
            ("__Host-access_token", "refresh_token"),
            ("__host-a", "__Host_r"),
        ] {
            let panic = std::panic::catch_unwind(|| SessionCookies::new().names(access, refresh))
                .expect_err(refresh);
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(
                message.contains("a sibling subdomain can plant"),
                "{message}"
            );
        }
        // Cookies no sibling can plant, and names that do not say siblings are untrusted.
        for (access, refresh) in [
            ("__Host-access_token", "__Host-refresh_token"),
            ("__HOST-a", "__host-r"),
            ("__Secure-access_token", "__Secure-refresh_token"),
            ("access_token", "__Host-refresh_token"),
        ] {
            let [_, set] = SessionCookies::new()
                .names(access, refresh)
                .set_pair(&pair())
                .unwrap();
            assert!(set.to_str().unwrap().starts_with(refresh), "{set:?}");
        }
    }

    #[test]
    #[should_panic(expected = "must start with `/`")]
    fn a_refresh_path_must_be_a_path() {
        let _ = SessionCookies::new().refresh_path("/refresh; Domain=evil.example");
    }
}

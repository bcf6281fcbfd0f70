//! Tokens in cookies, at the HTTP level: the cross-origin check that guards them (Go 1.25's
//! `CrossOriginProtection`; the full table of header combinations is the unit test in
//! `src/cross_origin.rs`), and cookie parsing that a planted cookie cannot toss (RFC 6265).

mod support;

use std::time::Duration;

use http::{Method, Request, StatusCode, header};
use http_body_util::Empty;
use support::{InMemory, manager};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{Anonymous, LoginLayer, TokenLocation};

fn token(id: &str) -> String {
    manager().issue_token(id, Duration::from_secs(60)).unwrap()
}

/// The layer with the token in the `access_token` cookie only.
fn cookie_layer() -> LoginLayer<InMemory<String>> {
    layer([TokenLocation::Cookie("access_token".into())])
}

fn layer(locations: impl IntoIterator<Item = TokenLocation>) -> LoginLayer<InMemory<String>> {
    let users = InMemory::new().user("1", "ada".to_owned());
    LoginLayer::new(manager(), users).token_locations(locations)
}

/// A request to `https://api.example.com/logout` as a browser sends it.
struct Browser {
    method: Method,
    cookies: Vec<String>,
    authorization: Option<String>,
    sec_fetch_site: Vec<&'static str>,
    origin: Vec<&'static str>,
    grpc: bool,
    /// A WebSocket handshake: `Upgrade: websocket` and the RFC 6455 headers.
    websocket: bool,
}

impl Browser {
    fn post() -> Self {
        Self {
            method: Method::POST,
            cookies: Vec::new(),
            authorization: None,
            sec_fetch_site: Vec::new(),
            origin: Vec::new(),
            grpc: false,
            websocket: false,
        }
    }

    /// A page opening `new WebSocket(..)`: a `GET` with `Upgrade: websocket` (RFC 6455
    /// section 4.1); Fetch calls its mode `websocket`.
    fn websocket() -> Self {
        Self {
            method: Method::GET,
            websocket: true,
            ..Self::post()
        }
    }

    fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookies.push(cookie.into());
        self
    }

    fn site(mut self, value: &'static str) -> Self {
        self.sec_fetch_site.push(value);
        self
    }

    fn origin(mut self, value: &'static str) -> Self {
        self.origin.push(value);
        self
    }

    /// A form on another site posting to the API.
    fn cross_site(self) -> Self {
        self.site("cross-site").origin("https://evil.example")
    }

    fn request(&self) -> Request<Empty<bytes::Bytes>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri("/logout")
            .header(header::HOST, "api.example.com")
            .body(Empty::new())
            .unwrap();
        let headers = req.headers_mut();
        for cookie in &self.cookies {
            headers.append(header::COOKIE, cookie.parse().unwrap());
        }
        if let Some(authorization) = &self.authorization {
            headers.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        }
        for value in &self.sec_fetch_site {
            headers.append("sec-fetch-site", value.parse().unwrap());
        }
        for value in &self.origin {
            headers.append(header::ORIGIN, value.parse().unwrap());
        }
        if self.grpc {
            headers.insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
        }
        if self.websocket {
            headers.insert(header::CONNECTION, "Upgrade".parse().unwrap());
            headers.insert(header::UPGRADE, "websocket".parse().unwrap());
            headers.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
            let key = "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap();
            headers.insert(header::SEC_WEBSOCKET_KEY, key);
            headers.insert("sec-fetch-mode", "websocket".parse().unwrap());
        }
        req
    }
}

/// Status, body, and the request's user if it got through.
async fn send(layer: LoginLayer<InMemory<String>>, browser: &Browser) -> (StatusCode, String) {
    let svc = layer.layer(service_fn(|req: Request<Empty<bytes::Bytes>>| async move {
        let user = req
            .extensions()
            .get::<String>()
            .cloned()
            .unwrap_or_default();
        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::from(format!(
            "user {user}"
        ))))
    }));
    let res = svc.oneshot(browser.request()).await.unwrap();
    support::read(res).await.status_and_body()
}

const REFUSED: &str = r#"{"status":403,"message":"Cross-origin request refused"}"#;

fn ok() -> (StatusCode, String) {
    (StatusCode::OK, "user ada".into())
}

fn refused() -> (StatusCode, String) {
    (StatusCode::FORBIDDEN, REFUSED.into())
}

#[tokio::test]
async fn a_cookie_token_on_a_cross_site_post_is_refused_with_403() {
    let cookie = format!("access_token={}", token("1"));
    let browser = Browser::post().cookie(&cookie).cross_site();
    assert_eq!(send(cookie_layer(), &browser).await, refused());

    // The answer: JSON, no authentication challenge (this is not a login failure).
    let svc = cookie_layer().layer(service_fn(|_: Request<Empty<bytes::Bytes>>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<bytes::Bytes>::new()))
    }));
    let res = svc.clone().oneshot(browser.request()).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());

    // gRPC: PERMISSION_DENIED, with the message.
    let grpc = Browser {
        grpc: true,
        ..Browser::post().cookie(&cookie).cross_site()
    };
    let res = svc.oneshot(grpc.request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "7");
    assert_eq!(
        res.headers()["grpc-message"],
        "Cross-origin request refused"
    );
}

#[tokio::test]
async fn same_origin_requests_and_safe_methods_use_the_cookie() {
    let cookie = format!("access_token={}", token("1"));
    for browser in [
        Browser::post().cookie(&cookie).site("same-origin"),
        Browser::post().cookie(&cookie).site("none"),
        Browser::post()
            .cookie(&cookie)
            .origin("https://api.example.com"),
        // Not a browser: no cookie rides on someone else's page.
        Browser::post().cookie(&cookie),
        Browser {
            method: Method::GET,
            ..Browser::post().cookie(&cookie).cross_site()
        },
    ] {
        assert_eq!(send(cookie_layer(), &browser).await, ok(), "{browser:?}");
    }
}

/// RFC 6455 section 4.1: a WebSocket handshake is a `GET`, which a page on another origin of the
/// same site (another port, a sibling subdomain) can open with the user's `SameSite=Lax` cookie;
/// no page can put an `Authorization` header on one, so the cookie is how a browser app
/// authenticates it. It is checked as a `POST` is: cross-site WebSocket hijacking.
#[tokio::test]
async fn rfc6455_section4_1_a_cookie_token_on_a_websocket_handshake_is_checked() {
    let cookie = format!("access_token={}", token("1"));
    let same_site = Browser::websocket()
        .cookie(&cookie)
        .site("same-site")
        .origin("https://app.example.com");
    assert_eq!(send(cookie_layer(), &same_site).await, refused());
    let cross_site = Browser::websocket().cookie(&cookie).cross_site();
    assert_eq!(send(cookie_layer(), &cross_site).await, refused());
    // Firefox and Safari may send `Origin` alone: it must name the `Host`.
    let sibling = Browser::websocket()
        .cookie(&cookie)
        .origin("https://blog.example.com");
    assert_eq!(send(cookie_layer(), &sibling).await, refused());
    for browser in [
        Browser::websocket()
            .cookie(&cookie)
            .site("same-origin")
            .origin("https://api.example.com"),
        Browser::websocket()
            .cookie(&cookie)
            .origin("https://api.example.com"),
    ] {
        assert_eq!(send(cookie_layer(), &browser).await, ok(), "{browser:?}");
    }
    let trusting = cookie_layer()
        .trusted_origins(["https://app.example.com"])
        .unwrap();
    assert_eq!(send(trusting, &same_site).await, ok());
    // A token in the `Authorization` header (a client that is not a browser) is never checked.
    let bearer = Browser {
        authorization: Some(format!("Bearer {}", token("1"))),
        ..Browser::websocket().cross_site()
    };
    let both = [
        TokenLocation::Header,
        TokenLocation::Cookie("access_token".into()),
    ];
    assert_eq!(send(layer(both), &bearer).await, ok());
}

#[tokio::test]
async fn the_check_comes_before_the_token_and_holds_for_optional_login() {
    // Refused for what the browser says, whatever the token: a cross-site page learns nothing.
    let browser = Browser::post()
        .cookie("access_token=not.a.token")
        .cross_site();
    assert_eq!(send(cookie_layer(), &browser).await, refused());
    // Optional login does not turn a cross-site request into an anonymous one.
    let cookie = format!("access_token={}", token("1"));
    let browser = Browser::post().cookie(&cookie).cross_site();
    assert_eq!(
        send(cookie_layer().anonymous(Anonymous::NoToken), &browser).await,
        refused()
    );
}

#[tokio::test]
async fn a_token_in_the_authorization_header_is_never_checked() {
    // A single-page app on another origin calling the API with a bearer token is legitimate.
    let bearer = Browser {
        authorization: Some(format!("Bearer {}", token("1"))),
        ..Browser::post().cross_site()
    };
    let both = [
        TokenLocation::Header,
        TokenLocation::Cookie("access_token".into()),
    ];
    assert_eq!(send(layer(both.clone()), &bearer).await, ok());

    // Header and cookie both sent: the locations' order decides which is used, and only the
    // cookie's path is checked.
    let cookie = format!("access_token={}", token("1"));
    let with_both = Browser {
        authorization: Some(format!("Bearer {}", token("1"))),
        ..Browser::post().cookie(&cookie).cross_site()
    };
    assert_eq!(send(layer(both.clone()), &with_both).await, ok());
    let cookie_first = [
        TokenLocation::Cookie("access_token".into()),
        TokenLocation::Header,
    ];
    assert_eq!(send(layer(cookie_first), &with_both).await, refused());
}

#[tokio::test]
async fn trusted_origins_and_turning_the_check_off() {
    let cookie = format!("access_token={}", token("1"));
    let from_app = Browser::post()
        .cookie(&cookie)
        .site("same-site")
        .origin("https://app.example.com");
    assert_eq!(send(cookie_layer(), &from_app).await, refused());
    let trusting = || {
        cookie_layer()
            .trusted_origins(["https://app.example.com"])
            .unwrap()
    };
    assert_eq!(send(trusting(), &from_app).await, ok());
    // Trusting one origin trusts no other.
    let evil = Browser::post().cookie(&cookie).cross_site();
    assert_eq!(send(trusting(), &evil).await, refused());
    // Turned off: one explicit call.
    assert_eq!(
        send(cookie_layer().disable_cross_origin_protection(), &evil).await,
        ok()
    );
}

#[tokio::test]
async fn repeated_sec_fetch_site_or_origin_headers_are_refused() {
    let cookie = format!("access_token={}", token("1"));
    let twice_site = Browser::post()
        .cookie(&cookie)
        .site("same-origin")
        .site("cross-site");
    assert_eq!(send(cookie_layer(), &twice_site).await, refused());
    let twice_origin = Browser::post()
        .cookie(&cookie)
        .origin("https://api.example.com")
        .origin("https://evil.example");
    assert_eq!(send(cookie_layer(), &twice_origin).await, refused());
}

/// RFC 6265 section 5.4 lets a sibling subdomain set a cookie of the same name, which the browser
/// sends beside the real one: neither may be picked.
#[tokio::test]
async fn two_cookies_of_the_name_are_ambiguous_and_answered_400() {
    const AMBIGUOUS: &str = r#"{"status":400,"message":"Send exactly one Authorization header"}"#;
    let valid = token("1");
    for cookies in [
        vec![format!("access_token=; access_token={valid}")],
        vec![format!("access_token={valid}; access_token={valid}")],
        vec![
            format!("access_token={valid}"),
            "access_token=planted".into(),
        ],
    ] {
        let mut browser = Browser::post().site("same-origin");
        browser.cookies = cookies.clone();
        assert_eq!(
            send(cookie_layer(), &browser).await,
            (StatusCode::BAD_REQUEST, AMBIGUOUS.into()),
            "{cookies:?}"
        );
    }
    // RFC 6265 section 4.1.1: a quoted value is the value.
    let quoted = Browser::post()
        .site("same-origin")
        .cookie(format!("theme=dark; access_token=\"{valid}\""));
    assert_eq!(send(cookie_layer(), &quoted).await, ok());
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token: only which headers are there.
        f.debug_struct("Browser")
            .field("method", &self.method)
            .field("cookies", &self.cookies.len())
            .field("sec_fetch_site", &self.sec_fetch_site)
            .field("origin", &self.origin)
            .field("websocket", &self.websocket)
            .finish()
    }
}

/// A trusted origin that is not a web origin (RFC 6454 section 4: `http` or `https`, host and
/// port, nothing else; what browsers send in `Origin`) is a configuration error the program can
/// report at its start, never a panic and never a silently trusted default; the error says why.
/// tower-http 0.7's `CsrfLayer` refuses the same strings.
#[test]
fn rfc6454_a_trusted_origin_that_is_not_a_web_origin_is_an_error() {
    use tower_login_manager::ConfigError;
    for (origin, why) in [
        ("app.example.com", "not `scheme://host[:port]`"),
        ("https://", "not `scheme://host[:port]`"),
        ("ftp://app.example.com", "scheme"),
        ("ftp://files.example:21", "scheme"),
        ("ws://app.example.com:80", "scheme"),
        ("chrome-extension://abcdef:1", "scheme"),
        ("https://front.example#frag", "fragment"),
        ("https://front.example/#frag", "fragment"),
        ("https://front.example?q=1", "query"),
        ("https://app.example.com/path", "path"),
        ("https://app.example.com/", "path"),
        ("https://user@app.example.com", "user info"),
        ("https://user:pw@app.example.com:8443", "user info"),
        ("https://app.example.com:99999", "port"),
        ("https://b\u{fc}cher.example", "punycode"),
    ] {
        let refused = cookie_layer().trusted_origins(["https://ok.example.com", origin]);
        match refused.err() {
            Some(ConfigError::InvalidOrigin {
                origin: named,
                reason,
            }) => {
                assert_eq!(named, origin);
                assert!(reason.contains(why), "{origin}: {reason}");
                let message = ConfigError::InvalidOrigin {
                    origin: named,
                    reason,
                }
                .to_string();
                assert!(message.contains(reason), "{message}");
            }
            other => panic!("{origin}: {other:?}"),
        }
    }
    // What browsers send is accepted, the scheme and host in any case, the default port or not.
    for origin in [
        "https://app.example.com",
        "HTTPS://App.Example.com:443",
        "http://127.0.0.1:3000",
        "http://[::1]:8080",
        "https://xn--bcher-kva.example",
    ] {
        assert!(cookie_layer().trusted_origins([origin]).is_ok(), "{origin}");
    }
}

/// A handler tells a browser's request (token from a cookie) from an API client's by the claims
/// the layer inserted: the location the token was found in, of the layer's own list. The cookie
/// location comes from the `SessionCookies` that set the cookie, so the name is written once.
#[tokio::test]
async fn the_claims_say_where_the_layer_found_the_token() {
    use tower_login_manager::{Claims, SessionCookies, TokenKind};
    let cookies = SessionCookies::new().names("__Host-access", "__Host-refresh");
    assert_eq!(
        cookies.location(TokenKind::Access),
        TokenLocation::Cookie("__Host-access".into())
    );
    assert_eq!(
        cookies.location(TokenKind::Refresh),
        TokenLocation::Cookie("__Host-refresh".into())
    );
    let layer = layer([
        TokenLocation::Header,
        cookies.location(TokenKind::Access),
        TokenLocation::Query("access_token".into()),
    ]);
    let svc = layer.layer(service_fn(|req: Request<Empty<bytes::Bytes>>| async move {
        let location = req.extensions().get::<Claims>().unwrap().token_location();
        let body = http_body_util::Full::from(format!("{location:?}"));
        Ok::<_, std::convert::Infallible>(http::Response::new(body))
    }));
    let token = token("1");
    let get = |uri: String| Request::get(uri);
    for (req, want) in [
        (
            get("/".into()).header(header::AUTHORIZATION, format!("Bearer {token}")),
            TokenLocation::Header,
        ),
        (
            get("/".into()).header(header::COOKIE, format!("__Host-access={token}")),
            TokenLocation::Cookie("__Host-access".into()),
        ),
        (
            get(format!("/?access_token={token}")),
            TokenLocation::Query("access_token".into()),
        ),
    ] {
        let res = svc.clone().oneshot(req.body(Empty::new()).unwrap()).await;
        let (status, body) = support::read(res.unwrap()).await.status_and_body();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("{:?}", Some(&want)));
    }
    // Claims from `decode_token` were found by nobody.
    let claims = manager().decode_token(&token).unwrap();
    assert_eq!(claims.token_location(), None);
}

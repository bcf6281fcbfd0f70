//! Cross-origin protection for tokens that came from a cookie: the token-free check of Go 1.25's
//! `net/http.CrossOriginProtection`, as Filippo Valsorda describes it in "Cross-Site Request
//! Forgery" (2025) and tower-http's `csrf` module does it.
//!
//! A browser attaches cookies to a request whatever page made it, so a token from a cookie proves
//! nothing about who asked. Browsers say where a request comes from: `Sec-Fetch-Site` (all
//! browsers since 2023) and `Origin`. Safe methods (`GET`, `HEAD`, `OPTIONS`) always pass, so
//! they must not change state; but a WebSocket handshake, a `GET` that opens a two-way channel,
//! is checked as an unsafe method is (cross-site WebSocket hijacking; Go's check lets it
//! through). A token from the `Authorization` header is never checked: a page on another origin
//! cannot make the browser send one.

use http::header::{HOST, ORIGIN, UPGRADE};
use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// An origin (RFC 6454): scheme, host (lowercase) and port (the scheme's default if unsaid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// `scheme://host[:port]` with `http` or `https` and nothing else, as browsers send it
    /// (RFC 6454 section 6.1); `Err` says why anything else is not an origin, `null` included.
    /// The checks are tower-http 0.7's `CsrfLayer`'s, and user info is refused as well.
    pub(crate) fn parse(origin: &str) -> Result<Self, &'static str> {
        // `Uri` drops a fragment without a word.
        if origin.contains('#') {
            return Err("an origin has no fragment");
        }
        if !origin.is_ascii() {
            return Err(
                "an origin is ASCII: write an international host in punycode \
                        (`xn--...`), as browsers send it",
            );
        }
        const NOT_AN_ORIGIN: &str = "it is not `scheme://host[:port]`";
        let uri: Uri = origin.parse().map_err(|_| NOT_AN_ORIGIN)?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(NOT_AN_ORIGIN);
        };
        if authority.host().is_empty() {
            return Err(NOT_AN_ORIGIN);
        }
        // RFC 6454 section 4: other schemes (`ftp`, `ws`, `chrome-extension`, `file`) make
        // origins that no web page's requests carry, or opaque ones.
        let scheme = scheme.as_str().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err("its scheme is not http or https");
        }
        if authority.as_str().contains('@') {
            return Err("an origin has no user info");
        }
        if uri.query().is_some() {
            return Err("an origin has no query");
        }
        // `Uri` reads `http://host` and `http://host/` alike; an origin has no trailing slash.
        if uri.path() != "/" || origin.ends_with('/') {
            return Err("an origin has no path, not even `/`");
        }
        Ok(Self {
            port: port_of(authority, &scheme).ok_or("its port is not a number up to 65535")?,
            scheme,
            host: authority.host().to_ascii_lowercase(),
        })
    }

    /// Whether this origin names the host the request was sent to: host and port, the port
    /// defaulting to this origin's scheme's when the `Host` leaves it out.
    fn is_host(&self, host: &Authority) -> bool {
        host.host().eq_ignore_ascii_case(&self.host)
            && port_of(host, &self.scheme) == Some(self.port)
    }
}

/// Whether a request whose token came from a cookie may use it. `trusted`: the origins allowed
/// to send cross-origin requests. In order, as Go's `CrossOriginProtection::Check`:
///
/// 1. `GET`, `HEAD` and `OPTIONS` pass, but for a WebSocket handshake (a `GET`), which goes on;
/// 2. `Sec-Fetch-Site: same-origin` or `none` (typed in the address bar) passes; any other value
///    (`cross-site`, `same-site`) passes only from a trusted `Origin`;
/// 3. without `Sec-Fetch-Site`: no `Origin` either passes (not a browser, or a browser old
///    enough to send neither, which no page can be made to forge); an `Origin` that names the
///    `Host` the request was sent to passes; a trusted `Origin` passes; anything else is refused.
///
/// Either header sent twice is refused: a browser sends each once.
pub(crate) fn allows<B>(req: &Request<B>, trusted: &[Origin]) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !is_websocket_handshake(req)
    {
        return true;
    }
    let headers = req.headers();
    let (Ok(site), Ok(origin)) = (single(headers, &SEC_FETCH_SITE), single(headers, &ORIGIN))
    else {
        return false;
    };
    let origin = origin.map(|value| value.to_str().ok().and_then(|o| Origin::parse(o).ok()));
    let is_trusted = || matches!(&origin, Some(Some(origin)) if trusted.contains(origin));
    match site.map(HeaderValue::as_bytes) {
        Some(b"same-origin" | b"none") => true,
        Some(_) => is_trusted(),
        None => match &origin {
            None => true,
            Some(Some(parsed)) => {
                host(req).is_some_and(|host| parsed.is_host(&host)) || is_trusted()
            }
            Some(None) => false,
        },
    }
}

/// A WebSocket opening handshake (RFC 6455 section 4.1): a `GET` whose `Upgrade` list names
/// `websocket` (without regard to case, with a version or not: RFC 9110 section 7.8), or that Fetch sent in mode
/// `websocket` (`Sec-Fetch-Mode`). Over HTTP/2 (RFC 8441) the handshake is a `CONNECT`, which
/// is checked anyway.
fn is_websocket_handshake<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    *req.method() == Method::GET
        && (headers.get_all(UPGRADE).iter().any(|value| {
            value
                .as_bytes()
                .split(|b| *b == b',')
                .map(|protocol| protocol.split(|b| *b == b'/').next().unwrap_or_default())
                .any(|name| name.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        }) || headers
            .get_all(SEC_FETCH_MODE)
            .iter()
            .any(|mode| mode.as_bytes().eq_ignore_ascii_case(b"websocket")))
}

/// The header's one value; `Err` when it is sent more than once.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h HeaderValue>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// Where the request was sent: the URI's authority (HTTP/2, absolute-form), else `Host`.
fn host<B>(req: &Request<B>) -> Option<Authority> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.clone());
    }
    req.headers().get(HOST)?.to_str().ok()?.parse().ok()
}

/// The authority's port, or the scheme's default when it names none (or an empty one, RFC 3986
/// section 3.2.3); `None` when it names one above 65535, which `port_u16` alone reads as naming
/// none.
fn port_of(authority: &Authority, scheme: &str) -> Option<u16> {
    // After an IPv6 literal's `]`, or in the whole authority: a `:` starts the port.
    let names_port = authority
        .as_str()
        .rsplit(']')
        .next()
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(_, port)| !port.is_empty());
    match authority.port_u16() {
        Some(port) => Some(port),
        None if names_port => None,
        None => default_port(scheme),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        method: Method,
        host: &'static str,
        sec_fetch_site: &'static [&'static str],
        origin: &'static [&'static str],
        want: bool,
    }

    const POST: Method = Method::POST;

    fn case(
        name: &'static str,
        sec_fetch_site: &'static [&'static str],
        origin: &'static [&'static str],
        want: bool,
    ) -> Case {
        Case {
            name,
            method: POST,
            host: "app.example.com",
            sec_fetch_site,
            origin,
            want,
        }
    }

    /// Go 1.25 `net/http` `TestCrossOriginProtection*` and tower-http's table, with this crate's
    /// additions: repeated headers, default and explicit ports, unparseable origins.
    #[test]
    fn the_cross_origin_table() {
        let trusted = [Origin::parse("https://trusted.example").unwrap()];
        let mut cases = vec![
            case("same-origin", &["same-origin"], &[], true),
            case("none: typed in the address bar", &["none"], &[], true),
            case(
                "cross-site",
                &["cross-site"],
                &["https://evil.example"],
                false,
            ),
            case(
                "same-site: a sibling subdomain",
                &["same-site"],
                &["https://blog.example.com"],
                false,
            ),
            case(
                "cross-site, trusted origin",
                &["cross-site"],
                &["https://trusted.example"],
                true,
            ),
            case(
                "same-site, trusted origin",
                &["same-site"],
                &["https://trusted.example"],
                true,
            ),
            case("cross-site without Origin", &["cross-site"], &[], false),
            case(
                "unknown Sec-Fetch-Site value",
                &["something-new"],
                &[],
                false,
            ),
            case(
                "same-origin wins over a foreign Origin",
                &["same-origin"],
                &["https://evil.example"],
                true,
            ),
            case("neither header: not a browser", &[], &[], true),
            case(
                "Origin matches Host",
                &[],
                &["https://app.example.com"],
                true,
            ),
            case(
                "Origin matches Host, any scheme",
                &[],
                &["http://app.example.com"],
                true,
            ),
            case(
                "Origin matches Host, case",
                &[],
                &["https://APP.example.com"],
                true,
            ),
            case("foreign Origin", &[], &["https://evil.example"], false),
            case("trusted Origin", &[], &["https://trusted.example"], true),
            case(
                "trusted host, other scheme",
                &[],
                &["http://trusted.example"],
                false,
            ),
            case(
                "trusted host, other port",
                &[],
                &["https://trusted.example:8443"],
                false,
            ),
            case(
                "Origin null (sandboxed, file:, redirects)",
                &[],
                &["null"],
                false,
            ),
            case("unparseable Origin", &[], &["not a url"], false),
            case(
                "Origin with a path",
                &[],
                &["https://app.example.com/x"],
                false,
            ),
            case(
                "Origin with a trailing slash",
                &[],
                &["https://app.example.com/"],
                false,
            ),
            case(
                "Origin with user info",
                &[],
                &["https://u@app.example.com"],
                false,
            ),
            case(
                "repeated Sec-Fetch-Site",
                &["same-origin", "same-origin"],
                &[],
                false,
            ),
            case(
                "repeated Origin",
                &[],
                &["https://app.example.com", "https://app.example.com"],
                false,
            ),
            case(
                "repeated Origin with same-origin",
                &["same-origin"],
                &["https://a.example", "https://b.example"],
                false,
            ),
        ];
        // Ports: explicit against default (the Host header may carry the default port or not).
        for (host, origin, want) in [
            ("app.example.com:443", "https://app.example.com", true),
            ("app.example.com", "https://app.example.com:443", true),
            ("app.example.com:80", "http://app.example.com", true),
            ("app.example.com:8080", "http://app.example.com:8080", true),
            ("app.example.com:8080", "http://app.example.com", false),
            ("app.example.com", "http://app.example.com:8080", false),
            ("127.0.0.1:3000", "http://127.0.0.1:3000", true),
            ("127.0.0.1:3000", "http://localhost:3000", false),
            ("127.0.0.1:3000", "http://127.0.0.1:3001", false),
            ("[::1]:3000", "http://[::1]:3000", true),
        ] {
            cases.push(Case {
                name: "ports",
                method: POST,
                host,
                sec_fetch_site: &[],
                origin: Box::leak(Box::new([origin])),
                want,
            });
        }
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            cases.push(Case {
                name: "safe method",
                method,
                host: "app.example.com",
                sec_fetch_site: &["cross-site"],
                origin: &["https://evil.example"],
                want: true,
            });
        }
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            cases.push(Case {
                name: "unsafe method",
                method,
                host: "app.example.com",
                sec_fetch_site: &["cross-site"],
                origin: &["https://evil.example"],
                want: false,
            });
        }
        for case in cases {
            let mut req = Request::builder()
                .method(case.method.clone())
                .uri("/logout")
                .header(HOST, case.host)
                .body(())
                .unwrap();
            for value in case.sec_fetch_site {
                req.headers_mut()
                    .append(SEC_FETCH_SITE, HeaderValue::from_static(value));
            }
            for value in case.origin {
                req.headers_mut()
                    .append(ORIGIN, HeaderValue::from_static(value));
            }
            assert_eq!(
                allows(&req, &trusted),
                case.want,
                "{} ({} {:?} {:?} host {})",
                case.name,
                case.method,
                case.sec_fetch_site,
                case.origin,
                case.host
            );
        }
    }

    /// RFC 6455 section 4.1: a WebSocket handshake is a `GET` with `Upgrade: websocket` (a
    /// token list, matched without regard to case, RFC 9110 section 7.8), and a browser always
    /// sends `Origin` with it; Fetch names the request's mode `websocket` (`Sec-Fetch-Mode`).
    /// Browsers send the `SameSite=Lax` cookie with it from any origin of the same site, and no
    /// page can put an `Authorization` header on one, so a handshake whose token came from a
    /// cookie is checked as an unsafe method is: cross-site WebSocket hijacking.
    #[test]
    fn rfc6455_section4_1_websocket_handshakes_are_checked() {
        struct Case {
            name: &'static str,
            method: Method,
            headers: &'static [(&'static str, &'static str)],
            want: bool,
        }
        const GET: Method = Method::GET;
        const WS: (&str, &str) = ("upgrade", "websocket");
        const MODE: (&str, &str) = ("sec-fetch-mode", "websocket");
        const SIBLING: (&str, &str) = ("origin", "http://app.example.com:8080");
        #[rustfmt::skip]
        let cases = [
            Case { name: "a plain GET from a sibling still passes", method: GET, headers: &[("sec-fetch-site", "same-site"), SIBLING], want: true },
            Case { name: "same-origin (Chromium)", method: GET, headers: &[WS, MODE, ("sec-fetch-site", "same-origin"), ("origin", "http://app.example.com")], want: true },
            Case { name: "same-origin by Origin alone (Firefox, Safari)", method: GET, headers: &[WS, ("origin", "http://app.example.com")], want: true },
            Case { name: "another port: same-site", method: GET, headers: &[WS, MODE, ("sec-fetch-site", "same-site"), SIBLING], want: false },
            Case { name: "another port, Origin alone", method: GET, headers: &[WS, SIBLING], want: false },
            Case { name: "a sibling subdomain", method: GET, headers: &[WS, ("origin", "http://blog.example.com")], want: false },
            Case { name: "cross-site", method: GET, headers: &[WS, MODE, ("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")], want: false },
            Case { name: "trusted origin", method: GET, headers: &[WS, MODE, ("sec-fetch-site", "same-site"), ("origin", "https://trusted.example")], want: true },
            Case { name: "Origin null", method: GET, headers: &[WS, ("origin", "null")], want: false },
            Case { name: "no Origin, no Sec-Fetch-Site: not a browser", method: GET, headers: &[WS], want: true },
            Case { name: "Upgrade in any case", method: GET, headers: &[("upgrade", "WebSocket"), SIBLING], want: false },
            Case { name: "Upgrade as a list", method: GET, headers: &[("upgrade", "h2c, websocket"), SIBLING], want: false },
            Case { name: "Upgrade list without spaces", method: GET, headers: &[("upgrade", "foo,WEBSOCKET"), SIBLING], want: false },
            Case { name: "Upgrade in a second header", method: GET, headers: &[("upgrade", "h2c"), WS, SIBLING], want: false },
            Case { name: "Sec-Fetch-Mode alone", method: GET, headers: &[MODE, ("sec-fetch-site", "same-site"), SIBLING], want: false },
            Case { name: "another upgrade is not a WebSocket", method: GET, headers: &[("upgrade", "h2c"), SIBLING], want: true },
            Case { name: "Upgrade with a version", method: GET, headers: &[("upgrade", "websocket/13"), SIBLING], want: false },
            Case { name: "a name that only starts like one", method: GET, headers: &[("upgrade", "websocketx"), SIBLING], want: true },
            Case { name: "HEAD is no handshake", method: Method::HEAD, headers: &[WS, SIBLING], want: true },
            Case { name: "RFC 8441 CONNECT is unsafe anyway", method: Method::CONNECT, headers: &[("sec-fetch-site", "same-site"), SIBLING], want: false },
        ];
        let trusted = [Origin::parse("https://trusted.example").unwrap()];
        for case in cases {
            let mut req = Request::builder()
                .method(case.method.clone())
                .uri("/ws")
                .header(HOST, "app.example.com")
                .body(())
                .unwrap();
            for (name, value) in case.headers {
                req.headers_mut().append(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            assert_eq!(allows(&req, &trusted), case.want, "{}", case.name);
        }
    }

    #[test]
    fn http2_uses_the_uri_authority() {
        let req = Request::post("https://app.example.com/logout")
            .header(ORIGIN, "https://app.example.com")
            .body(())
            .unwrap();
        assert!(allows(&req, &[]));
        let req = Request::post("https://app.example.com/logout")
            .header(ORIGIN, "https://evil.example")
            .body(())
            .unwrap();
        assert!(!allows(&req, &[]));
    }

    /// A port above 65535 is no port (the URL Standard, port state: "failure"), never the
    /// scheme's default: `trusted_origins` refuses such an origin, and a `Host` with one does not
    /// name the origin's host.
    #[test]
    fn a_port_above_65535_is_not_the_default_port() {
        assert!(Origin::parse("https://app.example.com:99999").is_err());
        // An empty port is the default one (RFC 3986 section 3.2.3).
        assert_eq!(
            Origin::parse("https://app.example.com:"),
            Origin::parse("https://app.example.com")
        );
        let req = Request::post("/logout")
            .header(HOST, "app.example.com:65979")
            .header(ORIGIN, "https://app.example.com")
            .body(())
            .unwrap();
        assert!(!allows(&req, &[]));
        let req = Request::post("/logout")
            .header(HOST, "[::1]:8080")
            .header(ORIGIN, "http://[::1]:8080")
            .body(())
            .unwrap();
        assert!(allows(&req, &[]));
    }

    #[test]
    fn origins_parse_as_browsers_send_them() {
        let parsed = Origin::parse("HTTPS://App.Example.com").unwrap();
        assert_eq!(
            parsed,
            Origin::parse("https://app.example.com:443").unwrap()
        );
        for bad in [
            "null",
            "",
            "app.example.com",
            "https://",
            "ftp//x",
            "https://a.example/p",
            "ftp://files.example:21",
            "ws://app.example.com:80",
            "chrome-extension://abcdef:1",
            "https://front.example#frag",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }
}

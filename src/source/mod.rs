//! Where tokens are found: the `Authorization` header, a cookie, a query parameter; and the
//! cross-origin check that guards a cookie's token.

use std::borrow::Cow;

use http::Request;
use http::header::{AUTHORIZATION, COOKIE};

use crate::rejection::Rejection;

pub(crate) mod cross_origin;

/// A place a token is looked for; see [`LoginLayer::token_locations`](crate::LoginLayer::token_locations).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenLocation {
    /// `Authorization: Bearer <token>` (RFC 6750 section 2.1). The default, and the only place the
    /// Flask original looks.
    Header,
    /// A cookie with this name (e.g. `access_token`), the `Cookie` header split as the `cookie`
    /// crate splits it; two cookies of the name are refused as ambiguous (400). A request whose
    /// token comes from a cookie passes the cross-origin check first: see
    /// [`LoginLayer::trusted_origins`](crate::LoginLayer::trusted_origins). Take it from the
    /// [`SessionCookies`](crate::SessionCookies) that set the cookie, with
    /// [`SessionCookies::location`](crate::SessionCookies::location), so that its name is
    /// written once.
    Cookie(Cow<'static, str>),
    /// A query parameter with this name (RFC 6750 section 2.3). Off unless configured: URLs end
    /// up in server logs, proxy logs and browser history, and the token with them.
    Query(Cow<'static, str>),
}

/// A token and the location it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'r> {
    pub(crate) token: &'r [u8],
    pub(crate) location: &'r TokenLocation,
}

impl Found<'_> {
    /// Whether the token came from a cookie, which a browser sends by itself (and which the
    /// cross-origin check therefore guards).
    pub(crate) fn in_cookie(&self) -> bool {
        matches!(self.location, TokenLocation::Cookie(_))
    }
}

/// The token of the first location that has one, trying them in order: only a *missing* token
/// moves on to the next location. `Ok(None)`: no token anywhere.
pub(crate) fn find_token<'r, B>(
    req: &'r Request<B>,
    locations: &'r [TokenLocation],
) -> Result<Option<Found<'r>>, Rejection> {
    for location in locations {
        let token = match location {
            TokenLocation::Header => bearer_token(req)?,
            TokenLocation::Cookie(name) => cookie(req, name)?,
            TokenLocation::Query(name) => query(req, name),
        };
        if let Some(token) = token {
            return Ok(Some(Found { token, location }));
        }
    }
    Ok(None)
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 section 2.1). No header, another
/// scheme, or nothing after `Bearer` is a missing token; two headers are ambiguous (RFC 6750
/// section 3.1, `invalid_request`).
fn bearer_token<B>(req: &Request<B>) -> Result<Option<&[u8]>, Rejection> {
    let mut values = req.headers().get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::AmbiguousCredentials);
    }
    Ok(parse_bearer(value.as_bytes()))
}

/// The scheme is matched without regard to case (RFC 9110 section 11.1) and is followed by one or
/// more spaces (RFC 9110 section 11.4).
pub(crate) fn parse_bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = &value[SCHEME.len()..];
    if rest[0] != b' ' {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    Some(&rest[start..])
}

/// The value of the cookie `name` in the `Cookie` header(s) (RFC 6265 section 5.4), without its
/// quotes if it has them (RFC 6265 section 4.1.1). An empty value is a missing token. Two cookies
/// of that name are ambiguous, as two `Authorization` headers are: a sibling subdomain can plant a
/// cookie beside the real one, and neither may be picked. The header is read as bytes: a byte
/// outside ASCII in another cookie (some sites write UTF-8) does not hide this one, and one in
/// this cookie's value makes a token the verifier refuses.
///
/// The pairs are split as the `cookie` crate's `Cookie::split_parse` splits them (a property test
/// holds the two to the same answer on ASCII headers): on `;`, each pair trimmed, the name before
/// the first `=`. One difference: the crate trims any Unicode whitespace, this trims only spaces
/// and tabs, as RFC 6265 section 5.2 says, so a cookie named `\u{a0}access_token` is another
/// cookie here, as it is to the browser that stored it.
/// Written here rather than calling that crate, which builds a whole `Cookie` per pair: with it,
/// a browser's `POST` with the token in a cookie cost 1.32x to 1.35x the same request with a
/// bearer header in `cargo bench --bench decode`, over issue 14's 1.2x (see BENCHMARKS.md).
#[inline(never)]
fn cookie<'r, B>(req: &'r Request<B>, name: &str) -> Result<Option<&'r [u8]>, Rejection> {
    let mut found = None;
    for header in req.headers().get_all(COOKIE) {
        for (pair_name, value) in cookie_pairs(header.as_bytes()) {
            if pair_name != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(Rejection::AmbiguousCredentials);
            }
            found = Some(
                value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value),
            );
        }
    }
    Ok(found.filter(|value| !value.is_empty()))
}

/// The `(name, value)` pairs of one `Cookie` header, split as `cookie::Cookie::split_parse` does:
/// pairs without `=` or with an empty name are skipped.
fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    // `memchr` finds the separators: a token makes a pair of a few hundred bytes.
    let mut rest = Some(header);
    std::iter::from_fn(move || {
        loop {
            let unread = rest?;
            let (pair, next) = match memchr::memchr(b';', unread) {
                Some(i) => (&unread[..i], Some(&unread[i + 1..])),
                None => (unread, None),
            };
            rest = next;
            if let Some(eq) = memchr::memchr(b'=', pair) {
                let name = pair[..eq].trim_ascii();
                if !name.is_empty() {
                    return Some((name, pair[eq + 1..].trim_ascii()));
                }
            }
        }
    })
}

/// `name=value` from the query string (RFC 6750 section 2.3); the first non-empty match. Tokens
/// are base64url and dots, so they need no percent-decoding; an encoded one is simply invalid.
#[inline(never)]
fn query<'r, B>(req: &'r Request<B>, name: &str) -> Option<&'r [u8]> {
    req.uri().query()?.split('&').find_map(|pair| {
        let value = pair.strip_prefix(name)?.strip_prefix('=')?;
        (!value.is_empty()).then_some(value.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6750_section2_1_bearer_scheme() {
        struct Case {
            name: &'static str,
            input: &'static [u8],
            want: Option<&'static [u8]>,
        }
        #[rustfmt::skip]
        let cases = [
            Case { name: "plain", input: b"Bearer abc", want: Some(b"abc") },
            Case { name: "lower case scheme (RFC 9110 11.1)", input: b"bearer abc", want: Some(b"abc") },
            Case { name: "upper case scheme", input: b"BEARER abc", want: Some(b"abc") },
            Case { name: "two spaces", input: b"Bearer  abc", want: Some(b"abc") },
            Case { name: "scheme alone", input: b"Bearer", want: None },
            Case { name: "scheme and spaces", input: b"Bearer   ", want: None },
            Case { name: "no space", input: b"Bearerabc", want: None },
            Case { name: "tab is not a separator", input: b"Bearer\tabc", want: None },
            Case { name: "other scheme", input: b"Basic YWxhZGRpbjpvcGVuc2VzYW1l", want: None },
            Case { name: "empty", input: b"", want: None },
            Case { name: "spaces inside the token stay in it", input: b"Bearer a b", want: Some(b"a b") },
        ];
        for case in cases {
            assert_eq!(parse_bearer(case.input), case.want, "{}", case.name);
        }
    }

    fn req(uri: &str, cookies: &[&str]) -> Request<()> {
        let mut b = Request::get(uri);
        for c in cookies {
            b = b.header(COOKIE, *c);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn rfc6265_cookie_lookup() {
        type Want = Result<Option<&'static [u8]>, Rejection>;
        const AMBIGUOUS: Want = Err(Rejection::AmbiguousCredentials);
        #[rustfmt::skip]
        let cases: [(&[&str], Want); 14] = [
            (&["a=1; access_token=t.o.k; b=2"], Ok(Some(b"t.o.k"))),
            // RFC 6265 section 4.1.1: a cookie-value may be quoted.
            (&["access_token=\"t.o.k\""], Ok(Some(b"t.o.k"))),
            (&["access_token=\"t.o.k"], Ok(Some(b"\"t.o.k"))),
            (&["x_access_token=nope"], Ok(None)),
            (&["access_token="], Ok(None)),
            (&["access_token=\"\""], Ok(None)),
            (&["a=1", "access_token=second.header.ok"], Ok(Some(b"second.header.ok"))),
            (&[], Ok(None)),
            // A pair without a name is skipped, not the whole header.
            (&["=x; access_token=t.o.k"], Ok(Some(b"t.o.k"))),
            // Two cookies of the name are ambiguous, whatever their values and wherever they are:
            // a sibling subdomain can plant the second one.
            (&["access_token=; access_token=other"], AMBIGUOUS),
            (&["access_token=one; access_token=one"], AMBIGUOUS),
            (&["access_token=one", "access_token=two"], AMBIGUOUS),
            // Names are case-sensitive (RFC 6265 section 5.4).
            (&["Access_Token=other; access_token=t.o.k"], Ok(Some(b"t.o.k"))),
            (&["theme=dark; access_token=t.o.k; access_token2=x"], Ok(Some(b"t.o.k"))),
        ];
        for (cookies, want) in cases {
            assert_eq!(
                cookie(&req("/", cookies), "access_token"),
                want,
                "{cookies:?}"
            );
        }
    }

    /// The hand-written split agrees with the `cookie` crate's on every header made of names,
    /// values, quotes, `=`, `;` and whitespace.
    #[test]
    fn cookie_pairs_are_split_as_the_cookie_crate_splits_them() {
        use proptest::prelude::*;
        let header = proptest::string::string_regex(r#"[ab=;" \t]{0,24}"#).unwrap();
        proptest!(|(header in header)| {
            let ours: Vec<_> = cookie_pairs(header.as_bytes())
                .map(|(n, v)| (std::str::from_utf8(n).unwrap(), std::str::from_utf8(v).unwrap()))
                .collect();
            let theirs: Vec<_> = cookie::Cookie::split_parse(header.as_str())
                .flatten()
                .map(|c| (c.name_raw().unwrap(), c.value_raw().unwrap()))
                .collect();
            prop_assert_eq!(ours, theirs, "{:?}", header);
        });
    }

    #[test]
    fn bytes_outside_ascii_stay_in_their_own_cookie() {
        let header = |bytes: &[u8]| {
            let mut r = req("/", &[]);
            r.headers_mut()
                .append(COOKIE, http::HeaderValue::from_bytes(bytes).unwrap());
            r
        };
        // Another cookie's UTF-8 does not hide the token.
        let r = header("name=Zo\u{eb}; access_token=t.o.k".as_bytes());
        assert_eq!(cookie(&r, "access_token"), Ok(Some(&b"t.o.k"[..])));
        // In the token's own value, it makes a token the verifier refuses as malformed.
        let r = header(b"access_token=t\xffo");
        assert_eq!(cookie(&r, "access_token"), Ok(Some(&b"t\xffo"[..])));
    }

    #[test]
    fn rfc6750_section2_3_query_lookup() {
        assert_eq!(
            query(&req("/?a=1&access_token=t.o.k", &[]), "access_token"),
            Some(&b"t.o.k"[..])
        );
        assert_eq!(query(&req("/?xaccess_token=t", &[]), "access_token"), None);
        assert_eq!(query(&req("/?access_token=", &[]), "access_token"), None);
        assert_eq!(query(&req("/", &[]), "access_token"), None);
    }

    #[test]
    fn locations_are_tried_in_order_and_only_a_missing_token_moves_on() {
        let locations = [
            TokenLocation::Header,
            TokenLocation::Cookie("access_token".into()),
        ];
        let r = req("/", &["access_token=from.the.cookie"]);
        assert_eq!(
            find_token(&r, &locations),
            Ok(Some(Found {
                token: b"from.the.cookie",
                location: &locations[1]
            }))
        );
        let mut r = req("/", &["access_token=from.the.cookie"]);
        r.headers_mut()
            .insert(AUTHORIZATION, "Bearer from.the.header".parse().unwrap());
        assert_eq!(
            find_token(&r, &locations),
            Ok(Some(Found {
                token: b"from.the.header",
                location: &locations[0]
            }))
        );
        assert_eq!(
            find_token(&req("/?access_token=q", &[]), &locations),
            Ok(None)
        );
    }
}

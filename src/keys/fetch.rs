//! A JWK Set fetched from a URL and kept fresh (feature `jwks-fetch`): one Tokio task per
//! verifier, spawned when it is built, ended when its last clone is dropped. Requests never wait
//! for it: they read the [`PublicKeys`] snapshot, which the task replaces whole after each good
//! answer; a request that finds no set, or a `kid` not in it, only signals the task.
//!
//! The schedule (DESIGN.md, "Fetching a JWK Set"): the next fetch when the answer's
//! `Cache-Control: max-age` (less its `Age`) runs out, clamped to [`FLOOR`]..=[`CEILING`], or
//! [`DEFAULT_MAX_AGE`] without one; a signal brings it forward to no earlier than [`FLOOR`] after
//! the last fetch began; a failed answer is retried after [`FIRST_BACKOFF`], doubling to
//! [`MAX_BACKOFF`], while the last good set stays in use. One task, one loop: at most one fetch
//! is in flight.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Uri, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout};

use super::jwk::MAX_JWKS_LEN;
use super::{JwkSet, PublicKeys, Shared};
use crate::error::ConfigError;

/// The shortest time between two fetches a schedule or a signal asks for: a `max-age` under it,
/// and a flood of unknown `kid`s, cannot make the identity provider answer more often.
pub(crate) const FLOOR: Duration = Duration::from_secs(30);
/// The longest time a set is kept without asking again, whatever its `max-age`.
pub(crate) const CEILING: Duration = Duration::from_secs(24 * 60 * 60);
/// The refresh interval of an answer without `Cache-Control: max-age`.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// The time a TCP connection may take to open.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The time a whole fetch may take: connection, TLS, request, status, headers and body.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait before retrying a failed fetch, doubled after each further failure...
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// ...up to this.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A set of public keys with no set yet, and the task that fetches it from `url` (checked
/// first: `https`, or `http` to a loopback address; no user info). Needs a Tokio runtime.
pub(super) fn spawn(url: &str) -> Result<PublicKeys, ConfigError> {
    let url = check_url(url)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        ConfigError::InvalidKey(
            "fetching a JWK Set needs a Tokio runtime: build the verifier in one",
        )
    })?;
    let keys = PublicKeys::default();
    let signal = Arc::new(Signal::default());
    let fetcher = Fetcher {
        client: client()?,
        url,
        keys: Arc::downgrade(&keys.0),
        signal: Arc::clone(&signal),
    };
    let task = Task {
        signal,
        handle: runtime.spawn(fetcher.run()).abort_handle(),
    };
    if keys
        .0
        .on_missing_key
        .set(Box::new(move || task.signal()))
        .is_err()
    {
        unreachable!("a new key set has no hook yet");
    }
    Ok(keys)
}

/// The fetching task, as the key set's hook holds it: signalled by a request that misses a key,
/// and ended when dropped, with the hook: when the last clone of the verifier goes, so does the
/// task, wherever it is (waiting, or in the middle of a fetch).
struct Task {
    signal: Arc<Signal>,
    handle: tokio::task::AbortHandle,
}

impl Task {
    /// Asks for a fetch. Any number of signals until the next fetch ends are one, and cost one
    /// atomic load each after the first.
    fn signal(&self) {
        let signal = &*self.signal;
        if !signal.wanted.load(Ordering::Acquire) && !signal.wanted.swap(true, Ordering::AcqRel) {
            signal.notify.notify_one();
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// A request's "fetch again, please": `wanted` is set by the first request that asks after a
/// fetch ended, which wakes the task; the task clears it when a fetch ends, since that fetch
/// answered every request that asked before.
#[derive(Default)]
struct Signal {
    wanted: AtomicBool,
    notify: Notify,
}

struct Fetcher {
    client: HttpsClient,
    url: Uri,
    /// Weak: the task must not keep the verifier's keys (and so itself) alive.
    keys: Weak<Shared>,
    signal: Arc<Signal>,
}

impl Fetcher {
    async fn run(self) {
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let outcome = timeout(FETCH_TIMEOUT, fetch(&self.client, &self.url))
                .await
                .unwrap_or(Err("no complete answer within the fetch timeout"));
            // A set's freshness counts from when it was asked for, a retry's wait from the
            // failure (a fetch that timed out took 10 s of it).
            let next = match outcome {
                Ok((set, fresh_for)) => {
                    let Some(shared) = self.keys.upgrade() else {
                        return;
                    };
                    PublicKeys(shared).store(set.keys().to_vec());
                    failures = 0;
                    started + fresh_for.unwrap_or(DEFAULT_MAX_AGE).clamp(FLOOR, CEILING)
                }
                Err(_reason) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures);
                    #[cfg(feature = "tracing")]
                    tracing::warn!(
                        url = %self.url,
                        reason = _reason,
                        failures,
                        retry_in_secs = wait.as_secs(),
                        "JWK Set: fetch failed; the last good set, if any, stays in use"
                    );
                    Instant::now() + wait
                }
            };
            self.wait(next, started + FLOOR).await;
        }
    }

    /// Until `next`, or, if a request asks for a fetch, until `earliest` (or now if later).
    async fn wait(&self, next: Instant, earliest: Instant) {
        let signal = &*self.signal;
        signal.wanted.store(false, Ordering::Release);
        loop {
            tokio::select! {
                () = sleep_until(next) => return,
                // A wake-up left by a request that asked during the fetch just ended finds
                // `wanted` cleared: that fetch answered it.
                () = signal.notify.notified() => if signal.wanted.load(Ordering::Acquire) {
                    return sleep_until(next.min(earliest)).await;
                },
            }
        }
    }
}

/// The wait after the `failures`-th failure in a row: 1 s, 2 s, 4 s, ... up to 5 min.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// One fetch: a good answer is a 2xx whose body (at most 256 KiB, counted as it arrives) is a
/// JWK Set with at least one usable key; with how long it stays fresh, if it says.
async fn fetch(
    client: &HttpsClient,
    url: &Uri,
) -> Result<(JwkSet, Option<Duration>), &'static str> {
    let request = http::Request::get(url.clone())
        .header(header::ACCEPT, "application/jwk-set+json, application/json")
        .body(Empty::new())
        .map_err(|_| "the request could not be built")?;
    let response = client
        .request(request)
        .await
        .map_err(|_| "no answer (connection, TLS or HTTP error)")?;
    if !response.status().is_success() {
        return Err("the answer's status is not 2xx");
    }
    let too_long = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_JWKS_LEN as u64);
    if too_long {
        return Err("the body is larger than 256 KiB");
    }
    let fresh_for = freshness(response.headers());
    let body = Limited::new(response.into_body(), MAX_JWKS_LEN)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                "the body is larger than 256 KiB"
            } else {
                "the body was cut off"
            }
        })?
        .to_bytes();
    let text = std::str::from_utf8(&body).map_err(|_| "the body is not UTF-8")?;
    let set = JwkSet::from_json(text).map_err(|_| "the body is not a JWK Set")?;
    if set.keys().is_empty() {
        return Err("the JWK Set holds no usable key");
    }
    Ok((set, fresh_for))
}

/// How long an answer stays fresh (RFC 9111 sections 4.2.1 and 4.2.3): the smallest
/// `Cache-Control: max-age` less the `Age` header; zero for `no-cache` or `no-store`; `None`
/// without a `max-age`.
pub(crate) fn freshness(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age: Option<u64> = None;
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for directive in directives {
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(Duration::ZERO);
        }
        if let (true, Some(seconds)) = (
            name.eq_ignore_ascii_case("max-age"),
            argument.and_then(delta_seconds),
        ) {
            max_age = Some(max_age.map_or(seconds, |earlier| earlier.min(seconds)));
        }
    }
    let age = headers
        .get(header::AGE)
        .and_then(|age| delta_seconds(age.to_str().ok()?.trim()))
        .unwrap_or(0);
    max_age.map(|max_age| Duration::from_secs(max_age.saturating_sub(age)))
}

/// RFC 9111 section 1.2.2: digits only; a number too large for a `u64` is as large as can be.
fn delta_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// An absolute `https` URL, or `http` to a loopback address (a test, a sidecar): over plain HTTP
/// anyone on the path could hand the verifier their own keys. No user info: it would be logged.
fn check_url(url: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ConfigError::InvalidKey("the JWK Set URL is not a URL"))?;
    let authority = uri
        .authority()
        .ok_or(ConfigError::InvalidKey("the JWK Set URL has no host"))?;
    if authority.as_str().contains('@') {
        return Err(ConfigError::InvalidKey("the JWK Set URL carries user info"));
    }
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(authority.host()) => Ok(uri),
        _ => Err(ConfigError::InvalidKey(
            "the JWK Set URL must be https (http only to a loopback address)",
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// hyper-util's HTTP/1 client over rustls with the `ring` provider given here (never a
/// process-wide default, which panics when feature unification brings two or none) and the
/// Mozilla roots of webpki-roots. No pooled connections: one fetch every few minutes gains
/// nothing from an idle connection.
fn client() -> Result<HttpsClient, ConfigError> {
    // Deprecated in rustls 0.23.48 for lacking a post-quantum key exchange, which guards secrets
    // recorded now against decryption later: a JWK Set is public, and its integrity rests on the
    // certificate's signature either way. `ring` keeps the build free of a C/CMake toolchain.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| ConfigError::InvalidKey("TLS could not be set up for the JWK Set URL"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_of_cache_control() {
        struct Case {
            name: &'static str,
            headers: &'static [(&'static str, &'static str)],
            want: Option<u64>,
        }
        let cases = [
            Case {
                name: "absent",
                headers: &[],
                want: None,
            },
            Case {
                name: "max-age",
                headers: &[("cache-control", "public, max-age=600")],
                want: Some(600),
            },
            Case {
                name: "case and spaces",
                headers: &[("cache-control", " Max-Age = 60 ")],
                want: Some(60),
            },
            Case {
                name: "quoted",
                headers: &[("cache-control", "max-age=\"60\"")],
                want: Some(60),
            },
            Case {
                name: "smallest of two",
                headers: &[
                    ("cache-control", "max-age=600"),
                    ("cache-control", "max-age=60"),
                ],
                want: Some(60),
            },
            Case {
                name: "less its age",
                headers: &[("cache-control", "max-age=600"), ("age", "100")],
                want: Some(500),
            },
            Case {
                name: "older than its max-age",
                headers: &[("cache-control", "max-age=60"), ("age", "100")],
                want: Some(0),
            },
            Case {
                name: "no-cache",
                headers: &[("cache-control", "max-age=600, no-cache")],
                want: Some(0),
            },
            Case {
                name: "no-store",
                headers: &[("cache-control", "no-store")],
                want: Some(0),
            },
            Case {
                name: "huge",
                headers: &[("cache-control", "max-age=99999999999999999999999")],
                want: Some(u64::MAX),
            },
            Case {
                name: "not a number",
                headers: &[("cache-control", "max-age=-1")],
                want: None,
            },
            Case {
                name: "s-maxage is for shared caches",
                headers: &[("cache-control", "s-maxage=60")],
                want: None,
            },
        ];
        for case in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in case.headers {
                headers.append(*name, value.parse().unwrap());
            }
            let got = freshness(&headers).map(|d| d.as_secs());
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn urls() {
        let ok = [
            "https://idp.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:80/jwks",
        ];
        for url in ok {
            assert!(check_url(url).is_ok(), "{url}");
        }
        let refused = [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "ftp://idp.example/jwks",
            "/jwks",
            "https://user:pass@idp.example/jwks",
            "not a url",
        ];
        for url in refused {
            assert!(check_url(url).is_err(), "{url}");
        }
    }
}

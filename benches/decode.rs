//! What verifying (and issuing) a token costs, next to the least any HS256 verifier must do and to
//! jsonwebtoken, and what the whole layer adds to a request.
//!
//! ```text
//! cargo bench --bench decode             # every case, then a table of medians and ratios
//! cargo bench --bench decode -- layer_   # only the layer cases (the table shows what ran)
//! BENCH_CLOCK=wall cargo bench --bench decode   # wall clock instead of the thread's CPU time
//! ```
//!
//! Every case is in the one group `hs256`, run in one process, so that the ratios printed at the
//! end compare numbers taken under the same conditions. By default the clock is the bench thread's
//! CPU time, which leaves out the time other processes hold the core: on a small shared machine
//! that is most of the noise of a wall clock (see `ThreadCpuTime`).
//!
//! - `floor`: the work no HS256 verifier can skip, written plainly: split at the dots, base64url
//!   into stack buffers, the MAC from a key state prepared once, the header and the claims parsed
//!   into borrowed structs, `exp` against the clock.
//! - `jsonwebtoken_decode` / `decode_token`: the reference and this crate on the same token.
//! - `layer_*` / `bare_*`: one request through `LoginLayer` around a no-op service, and through the
//!   no-op service alone. Each iteration builds its request, so `layer_valid - bare_with_header`
//!   is what the layer adds (`bare_no_header` is the baseline of `layer_missing`).
//! - `issue_token` / `jsonwebtoken_encode`: issuing the same claims.
//! - `layer_scoped` / `require_scopes` / `require_roles`: a token with a `scope` and a `roles`
//!   claim through the layer alone, and through the layer and a `RequireLayer` on scopes or on
//!   roles (issue 24: a requirement costs at most 5% of the layer's valid path).
//!
//! After criterion, the same cases run once more, *interleaved*: every case in turn for a batch of
//! about half a millisecond, round after round, so that contention that comes and goes hits every
//! case alike, and the target ratios are taken within each round. On a busy machine, trust those
//! ratios over the ones from criterion's medians, which are taken minutes apart. Only for a run
//! without a filter; `INTERLEAVED_ROUNDS` (default 300, 0 to skip) sets the rounds, and
//! `INTERLEAVED_ONLY=1` skips criterion (a quick A/B check).

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use hmac::{Hmac, KeyInit};
use http::{HeaderValue, Request, Response, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::Sha256;
use tower::{Layer, Service};
use tower_login_manager::{
    CachedLoader, LoginLayer, LoginManager, RequireLayer, TokenLocation, UserLoader,
};

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::thread_cpu_time;

#[path = "support/interleaved.rs"]
mod interleaved;

use interleaved::{Run, interleaved, percentile};

const SECRET: &str = "a benchmark secret of at least thirty-two bytes";
const GROUP: &str = "hs256";
/// Far enough ahead that the token outlives any run: ten years.
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

// ---------------------------------------------------------------------------------------------
// The floor (the least work any HS256 verifier must do) and jsonwebtoken's view of the claims,
// shared with `loadtest/src/bin/loadtest_app.rs`.

#[path = "../tests/support/reference.rs"]
mod reference;

use reference::{JwtClaims, JwtClaimsRef, floor};

// ---------------------------------------------------------------------------------------------
// The layer: an in-memory loader and a no-op service, shared with `tests/alloc.rs` and
// `loadtest/src/bin/loadtest_app.rs`.

#[path = "../tests/support/in_memory.rs"]
mod in_memory;

use in_memory::{InMemory, bearer, loader, noop, one_post};

/// The same user cache on `moka::future::Cache`, the library `CachedLoader` (on quick_cache) was
/// chosen over: `try_get_with` shares one load among concurrent requests, and its future is
/// boxed, as a loader's future on moka must be named. Held against `CachedLoader` by
/// `layer_valid_cached` and `layer_valid_moka`, which `src/cache.rs` quotes.
#[derive(Clone)]
struct MokaLoader {
    inner: InMemory,
    users: moka::future::Cache<String, std::sync::Arc<in_memory::User>>,
}

impl MokaLoader {
    /// As `CachedLoader` is built in the cases: 10,000 users, for longer than any run.
    fn new(inner: InMemory) -> Self {
        let users = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(FAR_FUTURE)
            .build();
        Self { inner, users }
    }
}

impl UserLoader for MokaLoader {
    type User = std::sync::Arc<in_memory::User>;
    type Error = std::sync::Arc<std::io::Error>;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<Self::User>, Self::Error>> + Send>,
    >;

    fn load_user(&self, user_id: &str) -> Self::Future {
        let (inner, users, id) = (self.inner.clone(), self.users.clone(), user_id.to_owned());
        Box::pin(async move {
            let load = async {
                match inner.load_user(&id).await {
                    Ok(Some(user)) => Ok(user),
                    Ok(None) => Err(std::io::ErrorKind::NotFound.into()),
                    Err(e) => Err(e),
                }
            };
            match users.try_get_with_by_ref(id.as_str(), load).await {
                Ok(user) => Ok(Some(user)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

/// `MokaLoader` with its hit taken without a box: moka's `get` future is polled once in place
/// (it is ready at once on a hit); only a miss goes through the boxed `try_get_with`. The best
/// a cache on `moka::future::Cache` can do for a hit. Held against `CachedLoader` by
/// `layer_valid_moka_polled`.
#[derive(Clone)]
struct MokaPolled(MokaLoader);

impl UserLoader for MokaPolled {
    type User = std::sync::Arc<in_memory::User>;
    type Error = std::sync::Arc<std::io::Error>;
    type Future = polled::PolledLoad<Self::User, Self::Error>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        let mut get = std::pin::pin!(self.0.users.get(user_id));
        let waker = std::task::Waker::noop();
        if let std::task::Poll::Ready(Some(user)) = get
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            return polled::PolledLoad::Hit(Some(user));
        }
        polled::PolledLoad::Miss(self.0.load_user(user_id))
    }
}

mod polled {
    /// A hit, ready at once, or a boxed miss.
    pub enum PolledLoad<U, E> {
        Hit(Option<U>),
        Miss(std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<U>, E>> + Send>>),
    }

    // Nothing in it is pinned.
    impl<U, E> Unpin for PolledLoad<U, E> {}

    impl<U, E> std::future::Future for PolledLoad<U, E> {
        type Output = Result<Option<U>, E>;

        fn poll(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            match self.get_mut() {
                PolledLoad::Hit(user) => std::task::Poll::Ready(Ok(user.take())),
                PolledLoad::Miss(fut) => fut.as_mut().poll(cx),
            }
        }
    }
}

/// One request through `svc` (`in_memory::one_request`, as `tests/alloc.rs` counts it): its status.
fn one_request<S, B>(svc: &mut S, authorization: Option<&HeaderValue>) -> StatusCode
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    in_memory::one_request(svc, authorization).status()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// Everything the cases share, built (and checked) once.
struct Fixture {
    manager: LoginManager,
    token: String,
    valid: HeaderValue,
    /// `access_token=<the valid token>`, a `Cookie` header.
    cookie: HeaderValue,
    expired: HeaderValue,
    bad_signature: HeaderValue,
    /// A valid token with `"scope":"profile reports:read"` and `"roles":["user","admin"]`.
    scoped: HeaderValue,
    mac: Hmac<Sha256>,
    decoding_key: DecodingKey,
    validation: Validation,
    encoding_key: EncodingKey,
    jwt_header: Header,
}

impl Fixture {
    fn new() -> Self {
        let manager = LoginManager::new(SECRET).expect("a valid secret");
        let token = manager
            .issue_token("42", FAR_FUTURE)
            .expect("a valid user id");
        // Expired for ages: issued by a clock in 1970 with a one-minute lifetime.
        let expired = LoginManager::builder(SECRET)
            .clock(|| 1_000_000)
            .build()
            .expect("a valid secret")
            .issue_token("42", Duration::from_secs(60))
            .expect("a valid user id");
        // One character flipped in the middle of the MAC: still strict base64url, the MAC is
        // computed and compared, and it does not match.
        let bad_signature = {
            let mut t = token.clone().into_bytes();
            let i = t.len() - 10;
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(t).expect("ASCII")
        };
        let scoped = manager
            .with_claims(&serde_json::json!({
                "scope": "profile reports:read",
                "roles": ["user", "admin"],
            }))
            .expect("claims")
            .issue_token("42", FAR_FUTURE)
            .expect("a valid user id");
        let fx = Self {
            scoped: bearer(&scoped),
            valid: bearer(&token),
            cookie: HeaderValue::from_static(Box::leak(
                format!("theme=dark; access_token={token}").into_boxed_str(),
            )),
            expired: bearer(&expired),
            bad_signature: bearer(&bad_signature),
            mac: Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length"),
            decoding_key: DecodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
            validation: Validation::new(Algorithm::HS256),
            encoding_key: EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
            jwt_header: Header::new(Algorithm::HS256),
            manager,
            token,
        };

        // Every case must do what it claims before it is timed.
        assert_eq!(floor(&fx.mac, fx.token.as_bytes()), Some(2));
        assert_eq!(floor(&fx.mac, bad_signature.as_bytes()), None);
        let decoded =
            jsonwebtoken::decode::<JwtClaims>(&fx.token, &fx.decoding_key, &fx.validation)
                .expect("valid");
        assert_eq!(decoded.claims.user_id, "42");
        assert_eq!(
            fx.manager.decode_token(&fx.token).expect("valid").user_id(),
            "42"
        );
        let mut layered = LoginLayer::new(fx.manager.clone(), loader("42")).layer(noop());
        let cases = [
            (Some(&fx.valid), StatusCode::OK),
            (None, StatusCode::UNAUTHORIZED),
            (Some(&fx.bad_signature), StatusCode::UNAUTHORIZED),
            (Some(&fx.expired), StatusCode::UNAUTHORIZED),
        ];
        for (authorization, want) in cases {
            assert_eq!(one_request(&mut layered, authorization), want);
        }
        // The requirements let the scoped token through.
        let login = || LoginLayer::new(fx.manager.clone(), loader("42"));
        let mut by_scope = login().layer(scopes().layer(noop()));
        assert_eq!(one_request(&mut by_scope, Some(&fx.scoped)), StatusCode::OK);
        let mut by_role = login().layer(RequireLayer::roles(["admin"]).layer(noop()));
        assert_eq!(one_request(&mut by_role, Some(&fx.scoped)), StatusCode::OK);
        // The browser cases: a same-origin POST is let through with either location.
        let mut browser = LoginLayer::new(fx.manager.clone(), loader("42"))
            .token_locations([
                TokenLocation::Header,
                TokenLocation::Cookie("access_token".into()),
            ])
            .layer(noop());
        for (name, value) in [
            (header::AUTHORIZATION, &fx.valid),
            (header::COOKIE, &fx.cookie),
        ] {
            let headers = [
                (name, value.clone()),
                (
                    header::HeaderName::from_static("sec-fetch-site"),
                    HeaderValue::from_static("same-origin"),
                ),
            ];
            assert_eq!(one_post(&mut browser, &headers).status(), StatusCode::OK);
        }
        fx
    }
}

/// The requirement of `require_scopes`.
fn scopes() -> RequireLayer {
    RequireLayer::scopes(["reports:read"]).expect("a scope token")
}

/// The cases, by name, in the order they are reported. Each layer case has its own service.
fn cases(fx: &Fixture) -> Vec<(&'static str, Run<'_>)> {
    let layered = LoginLayer::new(fx.manager.clone(), loader("42")).layer(noop());
    let layer = |authorization: Option<&HeaderValue>| -> Run<'_> {
        let mut svc = layered.clone();
        let authorization = authorization.cloned();
        Box::new(move || {
            black_box(one_request(&mut svc, black_box(authorization.as_ref())));
        })
    };
    // A browser's unsafe request (`POST`, `Sec-Fetch-Site: same-origin`) with the token in
    // `name`, through a layer that looks in the header, then the cookie (issue 14: the cookie's
    // path, cross-origin check included, costs at most 1.2x the header's).
    let browser = |name: header::HeaderName, value: &HeaderValue| -> Run<'_> {
        let mut svc = LoginLayer::new(fx.manager.clone(), loader("42"))
            .token_locations([
                TokenLocation::Header,
                TokenLocation::Cookie("access_token".into()),
            ])
            .layer(noop());
        let headers = [
            (name, value.clone()),
            (
                header::HeaderName::from_static("sec-fetch-site"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        Box::new(move || {
            black_box(one_post(&mut svc, black_box(&headers)));
        })
    };
    let bare = |authorization: Option<&HeaderValue>| -> Run<'_> {
        let mut svc = noop();
        let authorization = authorization.cloned();
        Box::new(move || {
            black_box(one_request(&mut svc, black_box(authorization.as_ref())));
        })
    };
    vec![
        (
            "floor",
            Box::new(|| {
                black_box(floor(black_box(&fx.mac), black_box(fx.token.as_bytes())));
            }),
        ),
        (
            "jsonwebtoken_decode",
            Box::new(|| {
                let token = black_box(&fx.token);
                let decoded =
                    jsonwebtoken::decode::<JwtClaims>(token, &fx.decoding_key, &fx.validation);
                black_box(decoded.is_ok());
            }),
        ),
        (
            "decode_token",
            Box::new(|| {
                black_box(fx.manager.decode_token(black_box(&fx.token)).is_ok());
            }),
        ),
        ("layer_valid", layer(Some(&fx.valid))),
        // The same user from a cache, a hit: the crate's `CachedLoader` on quick_cache (a future
        // ready at once), and the same cache on moka (its future boxed, or its `get` polled in
        // place).
        ("layer_valid_cached", {
            let cached = CachedLoader::new(loader("42"), FAR_FUTURE, 10_000);
            valid_requests(
                LoginLayer::new(fx.manager.clone(), cached).layer(noop()),
                &fx.valid,
            )
        }),
        ("layer_valid_moka", {
            let moka = MokaLoader::new(loader("42"));
            valid_requests(
                LoginLayer::new(fx.manager.clone(), moka).layer(noop()),
                &fx.valid,
            )
        }),
        ("layer_valid_moka_polled", {
            let moka = MokaPolled(MokaLoader::new(loader("42")));
            valid_requests(
                LoginLayer::new(fx.manager.clone(), moka).layer(noop()),
                &fx.valid,
            )
        }),
        ("layer_missing", layer(None)),
        (
            "layer_post_bearer",
            browser(header::AUTHORIZATION, &fx.valid),
        ),
        ("layer_post_cookie", browser(header::COOKIE, &fx.cookie)),
        ("layer_bad_signature", layer(Some(&fx.bad_signature))),
        ("layer_expired", layer(Some(&fx.expired))),
        // Side by side: the same scoped token through the layer alone and with a requirement.
        ("layer_scoped", layer(Some(&fx.scoped))),
        ("require_scopes", {
            let login = LoginLayer::new(fx.manager.clone(), loader("42"));
            valid_requests(login.layer(scopes().layer(noop())), &fx.scoped)
        }),
        ("require_roles", {
            let login = LoginLayer::new(fx.manager.clone(), loader("42"));
            let roles = RequireLayer::roles(["admin"]);
            valid_requests(login.layer(roles.layer(noop())), &fx.scoped)
        }),
        ("bare_with_header", bare(Some(&fx.valid))),
        ("bare_no_header", bare(None)),
        (
            "issue_token",
            Box::new(|| {
                black_box(fx.manager.issue_token(black_box("42"), FAR_FUTURE).is_ok());
            }),
        ),
        (
            "jsonwebtoken_encode",
            Box::new(|| {
                let iat = unix_now();
                let claims = JwtClaimsRef {
                    exp: iat + FAR_FUTURE.as_secs(),
                    iat,
                    user_id: black_box("42"),
                };
                black_box(jsonwebtoken::encode(&fx.jwt_header, &claims, &fx.encoding_key).is_ok());
            }),
        ),
    ]
}

/// Requests through `svc` with a valid `authorization`: one before the timing, which must be
/// let through (for a cache, its one load: every timed request is then a hit), then the timed ones.
fn valid_requests<'a, S, B>(mut svc: S, authorization: &HeaderValue) -> Run<'a>
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible> + 'a,
{
    let authorization = Some(authorization.clone());
    assert_eq!(
        one_request(&mut svc, authorization.as_ref()),
        StatusCode::OK
    );
    Box::new(move || {
        black_box(one_request(&mut svc, black_box(authorization.as_ref())));
    })
}

fn criterion_run<M: Measurement>(c: Criterion<M>, cases: &mut [(&'static str, Run<'_>)]) {
    let mut c = c
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    let mut g = c.benchmark_group(GROUP);
    for (name, run) in cases.iter_mut() {
        g.bench_function(*name, |b| b.iter(&mut *run));
    }
    g.finish();
    c.final_summary();
}

// ---------------------------------------------------------------------------------------------
// The clock.

/// The time this thread spent on a CPU (`CLOCK_THREAD_CPUTIME_ID`): unlike the wall clock, it does
/// not count the time the thread waits while other processes have the core, which on a small
/// shared machine is most of the noise. The cases are single-threaded and do no I/O, so for them
/// CPU time is the time the work takes.
struct ThreadCpuTime;

fn wall_time() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Durations, as for the wall clock.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

// ---------------------------------------------------------------------------------------------
// The run and the summary.

/// `BENCH_CLOCK=wall` measures with the wall clock; the default is the thread's CPU time.
fn main() {
    let started = SystemTime::now();
    let wall = std::env::var("BENCH_CLOCK").is_ok_and(|v| v == "wall");
    let fx = Fixture::new();
    let mut cases = cases(&fx);
    // `INTERLEAVED_ONLY=1`: a quick A/B check without criterion.
    let criterion = !std::env::var("INTERLEAVED_ONLY").is_ok_and(|v| v == "1");
    if criterion && wall {
        criterion_run(Criterion::default(), &mut cases);
    } else if criterion {
        criterion_run(
            Criterion::default().with_measurement(ThreadCpuTime),
            &mut cases,
        );
    }

    // Interleaved only for a full `cargo bench` run: not with a filter, nor under `cargo test`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full_run = args.iter().any(|a| a == "--bench") && args.iter().all(|a| a.starts_with('-'));
    let rounds = std::env::var("INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let interleaved = (full_run && rounds > 0).then(|| {
        let clock = if wall { wall_time } else { thread_cpu_time };
        interleaved(&mut cases, clock, rounds)
    });
    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    let clock = if wall {
        "wall clock"
    } else {
        "thread CPU time"
    };
    summary(&names, started, clock, interleaved.as_deref());
}

/// Where criterion writes its estimates: as criterion itself decides, short of `cargo metadata`
/// (the bench binary is `<target>/<profile>/deps/decode-<hash>`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(Path::new(&target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.ancestors().nth(3)?.join("criterion"))
}

/// Criterion's median of `case`, in nanoseconds per iteration, if this run measured it.
fn criterion_median(dir: &Path, case: &str, since: SystemTime) -> Option<f64> {
    let path = dir
        .join(GROUP)
        .join(case)
        .join("new")
        .join("estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// The ratios the targets are stated in, from one set of times per case.
fn ratios(t: &dyn Fn(&str) -> Option<f64>) -> Vec<(&'static str, Option<f64>)> {
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let added = t("layer_valid")
        .zip(t("bare_with_header"))
        .map(|(v, b)| v - b);
    vec![
        (
            "(layer_valid - bare_with_header) / floor (target <= 1.5)",
            div(added, t("floor")),
        ),
        ("decode_token / floor", div(t("decode_token"), t("floor"))),
        (
            "decode_token / jsonwebtoken_decode",
            div(t("decode_token"), t("jsonwebtoken_decode")),
        ),
        (
            "layer_valid_moka - layer_valid_cached, ns (what quick_cache's hit saves over moka's)",
            t("layer_valid_moka")
                .zip(t("layer_valid_cached"))
                .map(|(m, c)| m - c),
        ),
        (
            "layer_valid_moka_polled - layer_valid_cached, ns (the same, moka's `get` polled in place)",
            t("layer_valid_moka_polled")
                .zip(t("layer_valid_cached"))
                .map(|(m, c)| m - c),
        ),
        (
            "layer_post_cookie / layer_post_bearer (target <= 1.2)",
            div(t("layer_post_cookie"), t("layer_post_bearer")),
        ),
        (
            "layer_missing / layer_valid (target <= 1)",
            div(t("layer_missing"), t("layer_valid")),
        ),
        (
            "layer_bad_signature / layer_valid (target <= 1)",
            div(t("layer_bad_signature"), t("layer_valid")),
        ),
        (
            "layer_expired / layer_valid (target <= 1)",
            div(t("layer_expired"), t("layer_valid")),
        ),
        (
            "require_scopes / layer_scoped (target <= 1.05)",
            div(t("require_scopes"), t("layer_scoped")),
        ),
        (
            "require_roles / layer_scoped (target <= 1.05)",
            div(t("require_roles"), t("layer_scoped")),
        ),
        (
            "issue_token / jsonwebtoken_encode (target <= 1)",
            div(t("issue_token"), t("jsonwebtoken_encode")),
        ),
    ]
}

fn summary(names: &[&str], started: SystemTime, clock: &str, interleaved: Option<&[Vec<f64>]>) {
    let dir = criterion_dir();
    let medians: HashMap<&str, f64> = names
        .iter()
        .filter_map(|name| Some((*name, criterion_median(dir.as_ref()?, name, started)?)))
        .collect();
    let rounds = interleaved.map_or(0, |times| times.first().map_or(0, Vec::len));
    let interleaved: HashMap<&str, &[f64]> = interleaved
        .map(|times| {
            names
                .iter()
                .copied()
                .zip(times.iter().map(Vec::as_slice))
                .collect()
        })
        .unwrap_or_default();
    if medians.is_empty() && interleaved.is_empty() {
        return;
    }

    let floor = medians.get("floor").copied();
    let i_floor = interleaved.get("floor").map(|t| percentile(t, 0.5));
    println!("\n{clock}; interleaved: {rounds} rounds\n");
    println!("| case ({GROUP}) | criterion median | vs floor | interleaved median | vs floor |");
    println!("|---|---:|---:|---:|---:|");
    let cell = |v: Option<f64>, base: Option<f64>| match (v, base) {
        (Some(v), Some(b)) => (format!("{v:.1} ns"), format!("{:.2}x", v / b)),
        (Some(v), None) => (format!("{v:.1} ns"), String::new()),
        _ => (String::new(), String::new()),
    };
    for name in names {
        let (m, m_vs) = cell(medians.get(name).copied(), floor);
        let (i, i_vs) = cell(interleaved.get(name).map(|t| percentile(t, 0.5)), i_floor);
        println!("| `{name}` | {m} | {m_vs} | {i} | {i_vs} |");
    }

    // The targets: from criterion's medians, and, interleaved, the median over the rounds of the
    // ratio within each round.
    let from_medians = ratios(&|name: &str| medians.get(name).copied());
    let per_round: Vec<Vec<(&str, Option<f64>)>> = (0..rounds)
        .map(|r| ratios(&|name: &str| interleaved.get(name).map(|t| t[r])))
        .collect();
    println!("\n| ratio | from criterion medians | interleaved (median of per-round ratios) |");
    println!("|---|---:|---:|");
    for (i, (label, from_median)) in from_medians.iter().enumerate() {
        let per_round: Vec<f64> = per_round.iter().filter_map(|r| r[i].1).collect();
        let fmt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
        let interleaved = (!per_round.is_empty()).then(|| percentile(&per_round, 0.5));
        println!("| {label} | {} | {} |", fmt(*from_median), fmt(interleaved));
    }
}

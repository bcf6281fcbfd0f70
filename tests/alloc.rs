//! Heap allocations per request through `LoginLayer`, counted by a counting global allocator.
//!
//! Each case builds its request and drives one call to completion, exactly as
//! `benches/decode.rs` does; the layer's count is compared with the same request through a
//! service without the layer, so what is left is what the layer itself allocates.
//!
//! ```text
//! cargo test --test alloc -- --nocapture                       # the counts
//! ALLOC_BACKTRACE=1 cargo test --test alloc -- --nocapture     # and where each one comes from
//! ```
//!
//! The counters are per thread, so the tests can run in parallel.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use tower::{Layer, service_fn};
use tower_login_manager::{Claims, LoginLayer, LoginManager};

// ---------------------------------------------------------------------------------------------
// The counting allocator.

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

thread_local! {
    /// Count allocations made by this thread while set.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Set while the allocator itself allocates (to record a backtrace): not counted.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// Whether to keep a backtrace of each counted allocation (set outside counting).
    static TRACE: Cell<bool> = const { Cell::new(false) };
    static BACKTRACES: RefCell<Vec<Backtrace>> = const { RefCell::new(Vec::new()) };
}

/// `ALLOC_BACKTRACE=1`: keep a backtrace of every counted allocation.
fn backtraces_wanted() -> bool {
    std::env::var_os("ALLOC_BACKTRACE").is_some_and(|v| v == "1")
}

fn record() {
    let counting = ENABLED.try_with(Cell::get).unwrap_or(false)
        && !IN_HOOK.try_with(Cell::get).unwrap_or(true);
    if !counting {
        return;
    }
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    if TRACE.try_with(Cell::get).unwrap_or(false) {
        IN_HOOK.with(|h| h.set(true));
        let trace = Backtrace::force_capture();
        BACKTRACES.with(|b| b.borrow_mut().push(trace));
        IN_HOOK.with(|h| h.set(false));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting touches only
// const-initialized thread-locals (and, when tracing, allocates with counting switched off).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many times to repeat each case: the count reported is the total divided by this.
const RUNS: u64 = 64;

/// Allocations (alloc, alloc_zeroed and realloc calls) per call of `f`, after one warm-up call
/// (which pays for one-time work such as promoting a shared `Bytes`).
fn allocations_per_call<R>(name: &str, mut f: impl FnMut() -> R) -> f64 {
    drop(f());
    let trace = backtraces_wanted();
    TRACE.with(|t| t.set(trace));
    COUNT.with(|c| c.set(0));
    ENABLED.with(|e| e.set(true));
    // With backtraces, one call is enough to see where each allocation comes from.
    let runs = if trace { 1 } else { RUNS };
    for _ in 0..runs {
        drop(f());
    }
    ENABLED.with(|e| e.set(false));
    TRACE.with(|t| t.set(false));
    let total = COUNT.with(Cell::get);
    if trace {
        let traces = BACKTRACES.with(|b| std::mem::take(&mut *b.borrow_mut()));
        for (i, bt) in traces.iter().enumerate() {
            eprintln!(
                "--- {name}: allocation {} of {total}\n{}",
                i + 1,
                frames(bt)
            );
        }
    }
    total as f64 / runs as f64
}

/// The frames of a backtrace that say something: the allocator's own and the test harness's
/// frames are left out.
fn frames(bt: &Backtrace) -> String {
    let text = bt.to_string();
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let symbol = line.trim_start();
        let Some((_, name)) = symbol.split_once(": ") else {
            continue;
        };
        let location = lines
            .next_if(|l| l.trim_start().starts_with("at "))
            .map(str::trim_start);
        let noise = [
            "std::backtrace",
            "alloc::counting",
            "alloc::record",
            "<alloc::Counting",
            "__rustc::",
            "alloc::alloc::",
        ];
        if noise.iter().any(|n| name.starts_with(n)) {
            continue;
        }
        if name.starts_with("alloc::allocations_per_call") {
            break;
        }
        match location {
            Some(at) => out.push(format!("    {name}\n        {at}")),
            None => out.push(format!("    {name}")),
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------------
// The services: `tests/support/in_memory.rs`, the very ones benches/decode.rs times.

mod support;

use support::SECRET;
use support::in_memory::{User, bearer, loader, noop, now_or_never, one_request};

fn token(manager: &LoginManager) -> String {
    manager
        .issue_token("42", Duration::from_secs(3600))
        .expect("a valid user id")
}

// ---------------------------------------------------------------------------------------------
// The targets.

#[test]
fn valid_request_allocates_at_most_4_beyond_the_bare_service() {
    // The real clock, as in production (not `support::manager()`'s pinned one).
    let manager = LoginManager::new(SECRET).expect("a valid secret");
    let token = bearer(&token(&manager));
    let mut layered = LoginLayer::new(manager.clone(), loader("42")).layer(noop());
    let mut bare = noop();

    // What reached the inner service, once: the user and the claims are in the extensions.
    let mut seen = LoginLayer::new(manager, loader("42")).layer(service_fn(|req: Request<()>| {
        let ext = req.extensions();
        let ok = ext.get::<Arc<User>>().is_some()
            && ext.get::<Claims>().is_some_and(|c| c.user_id() == "42");
        let mut res = Response::new(Empty::<Bytes>::new());
        if !ok {
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        ready(Ok::<_, Infallible>(res))
    }));
    let res = one_request(&mut seen, Some(&token));
    assert_eq!(res.status(), StatusCode::OK);

    let request_only = allocations_per_call("request only", || {
        let mut req = Request::get("/");
        req = req.header(AUTHORIZATION, token.clone());
        req.body(()).expect("a valid request")
    });
    let bare_count = allocations_per_call("bare", || one_request(&mut bare, Some(&token)));
    let layer_count = allocations_per_call("layer valid", || {
        let res = one_request(&mut layered, Some(&token));
        assert_eq!(res.status(), StatusCode::OK);
        res
    });
    let added = layer_count - bare_count;
    eprintln!(
        "valid token: building the request {request_only}, bare service {bare_count}, \
         layer {layer_count}: the layer adds {added} allocations per request (target <= 4)"
    );
    assert!(
        added <= 4.0,
        "the layer adds {added} allocations per valid request; target <= 4"
    );
}

/// Issue 22: the revocation check (the token's id, its session and its user's cutoff, under one
/// lock) adds nothing on the valid path: a pair's access token through `MemoryRevocations` that
/// holds revoked tokens, a revoked session and another user's cutoff.
#[test]
fn valid_request_with_the_memory_store_allocates_at_most_4_beyond_the_bare_service() {
    use tower_login_manager::{MemoryRevocations, Revocations};
    let manager = LoginManager::new(SECRET).expect("a valid secret");
    let store = MemoryRevocations::new();
    for user in ["7", "8"] {
        let pair = manager.issue_token_pair(user).expect("a valid user id");
        let claims = manager.decode_token(&pair.access_token).expect("valid");
        assert!(now_or_never(store.revoke(claims.revocation())).expect("infallible"));
        assert!(now_or_never(store.revoke_session(claims.revocation())).expect("infallible"));
        assert!(now_or_never(store.revoke_user(claims.revocation())).expect("infallible"));
    }
    let pair = manager.issue_token_pair("42").expect("a valid user id");
    let token = bearer(&pair.access_token);
    let mut layered = LoginLayer::new(manager, loader("42"))
        .revocations(store)
        .layer(noop());
    let mut bare = noop();
    let bare_count = allocations_per_call("bare", || one_request(&mut bare, Some(&token)));
    let layer_count = allocations_per_call("layer valid, memory store", || {
        let res = one_request(&mut layered, Some(&token));
        assert_eq!(res.status(), StatusCode::OK);
        res
    });
    let added = layer_count - bare_count;
    eprintln!(
        "valid pair token, MemoryRevocations: bare service {bare_count}, layer {layer_count}: \
         the layer adds {added} allocations per request (target <= 4)"
    );
    assert!(added <= 4.0, "the layer adds {added}; target <= 4");
}

#[test]
fn missing_header_allocates_nothing_beyond_the_response() {
    // The real clock, as in production (not `support::manager()`'s pinned one).
    let manager = LoginManager::new(SECRET).expect("a valid secret");
    let mut layered = LoginLayer::new(manager.clone(), loader("42")).layer(noop());

    // The rejection, once: its status, headers and body are what a service answering 401 itself
    // would have to build too.
    let rejection = one_request(&mut layered, None);
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    let (parts, body) = rejection.into_parts();
    let body: Bytes = now_or_never(body.collect())
        .expect("a rejection body does not fail")
        .to_bytes();
    let headers: HeaderMap = parts.headers;
    assert!(headers.contains_key(http::header::WWW_AUTHENTICATE));

    // A bare service answering that same response: its headers cloned into a new map.
    let mut bare_401 = service_fn(move |_: Request<()>| {
        let mut res = Response::new(body.clone());
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        let map = res.headers_mut();
        for (name, value) in &headers {
            map.insert(name.clone(), value.clone());
        }
        ready(Ok::<_, Infallible>(res))
    });
    let mut bare_200 = noop();

    let bare_empty = allocations_per_call("bare 200", || one_request(&mut bare_200, None));
    let bare_rejection = allocations_per_call("bare 401", || one_request(&mut bare_401, None));
    let layer_missing = allocations_per_call("layer missing", || {
        let res = one_request(&mut layered, None);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        res
    });

    // The other rejections, for the record (same response shape, same baseline).
    let expired = bearer(
        &LoginManager::builder(SECRET)
            .clock(|| 1_000_000)
            .build()
            .expect("a valid secret")
            .issue_token("42", Duration::from_secs(60))
            .expect("a valid user id"),
    );
    let bad_signature = {
        // One character flipped in the middle of the MAC: the MAC is computed, and differs.
        let mut t = token(&manager).into_bytes();
        let i = t.len() - 10;
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).expect("ASCII");
        assert_eq!(
            manager.decode_token(&t),
            Err(tower_login_manager::TokenError::BadSignature)
        );
        bearer(&t)
    };
    let layer_expired = allocations_per_call("layer expired", || {
        let res = one_request(&mut layered, Some(&expired));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        res
    });
    let layer_bad_signature = allocations_per_call("layer bad signature", || {
        let res = one_request(&mut layered, Some(&bad_signature));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        res
    });

    eprintln!(
        "missing header: bare service empty 200 {bare_empty}, bare service answering the same \
         401 {bare_rejection}, layer {layer_missing}: the layer adds {} beyond the response \
         (target 0); with a header (request +2): expired {layer_expired}, bad signature \
         {layer_bad_signature}",
        layer_missing - bare_rejection
    );
    assert!(
        layer_missing <= bare_rejection,
        "the layer allocates {layer_missing} per missing-header request, a service answering \
         the same response {bare_rejection}"
    );
}

/// Issue 24: a requirement adds no allocation when it lets the request through: the same token
/// (with a `scope` and a `roles` claim) through the layer alone and through the layer and a
/// requirement on scopes, on roles, or on the loaded user.
#[test]
fn a_requirement_adds_no_allocation_on_the_accepted_path() {
    use tower_login_manager::RequireLayer;
    let claims = serde_json::json!({ "scope": "profile reports:read", "roles": ["user", "admin"] });
    let manager = LoginManager::new(SECRET).expect("a valid secret");
    let token = bearer(&token(&manager.with_claims(&claims).expect("claims")));
    let login = || LoginLayer::new(manager.clone(), loader("42"));
    let mut plain = login().layer(noop());
    let plain_count = allocations_per_call("layer", || {
        let res = one_request(&mut plain, Some(&token));
        assert_eq!(res.status(), StatusCode::OK);
        res
    });
    let scopes = RequireLayer::scopes(["reports:read"]).expect("a scope token");
    let mut by_scope = login().layer(scopes.layer(noop()));
    let mut by_role = login().layer(RequireLayer::roles(["admin"]).layer(noop()));
    let admins =
        RequireLayer::user(|user: &Arc<User>| ready(Ok::<_, Infallible>(!user.name.is_empty())));
    let mut by_user = login().layer(admins.layer(noop()));
    let counts = [
        (
            "scopes",
            allocations_per_call("layer + scopes", || {
                one_request(&mut by_scope, Some(&token))
            }),
        ),
        (
            "roles",
            allocations_per_call("layer + roles", || one_request(&mut by_role, Some(&token))),
        ),
        (
            "user",
            allocations_per_call("layer + user", || one_request(&mut by_user, Some(&token))),
        ),
    ];
    for (name, count) in counts {
        let added = count - plain_count;
        eprintln!(
            "valid token with scope and roles: layer {plain_count}, layer + requirement on \
             {name} {count}: the requirement adds {added} allocations per request (target 0)"
        );
        assert_eq!(
            added, 0.0,
            "a requirement on {name} adds {added} allocations; target 0"
        );
    }
    // And each let the request through.
    assert_eq!(
        one_request(&mut by_scope, Some(&token)).status(),
        StatusCode::OK
    );
    assert_eq!(
        one_request(&mut by_role, Some(&token)).status(),
        StatusCode::OK
    );
    assert_eq!(
        one_request(&mut by_user, Some(&token)).status(),
        StatusCode::OK
    );
}

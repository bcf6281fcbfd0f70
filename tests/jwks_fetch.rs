//! `TokenVerifierBuilder::jwks_url` (feature `jwks-fetch`) against an identity provider started
//! here, on a loopback port, that can rotate its keys, fail, hang, take no connection, send junk
//! or a huge body, and say `max-age=0`. Tokio's clock is paused (`start_paused`): it moves only
//! when every task waits, straight to the next timer, so each fetch is recorded at the exact
//! second the schedule says, and no test sleeps on a wall clock. The provider runs on the same
//! runtime, so a fetch's socket traffic is work the runtime sees, not idleness that would move
//! the clock; a connect the kernel leaves unanswered is idleness, and the clock moves on to the
//! connect's timeout.
#![cfg(feature = "jwks-fetch")]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use support::send;
use tokio::time::{Instant, sleep, sleep_until};
use tower_login_manager::{
    ConfigError, JwkSet, LoginLayer, LoginManager, SigningKey, TokenError, TokenVerifier, loader_fn,
};

const SECRET: &str = "a secret of at least thirty-two bytes!!";

/// What the identity provider answers next.
#[derive(Clone)]
enum Answer {
    /// 200 with this JWK Set and, if given, this `Cache-Control`.
    Keys(String, Option<&'static str>),
    /// This status, empty body.
    Status(StatusCode),
    /// Reads the request and never answers.
    Hang,
    /// Sends the status, the headers and a first piece of the body, then nothing.
    HangInBody,
    /// 200 with this body.
    Text(&'static str),
    /// 200 with 10 MB, its length not announced (chunked): only counting while reading stops it.
    Huge,
    /// 200 with 10 MB and `Content-Length`.
    HugeDeclared,
    /// 200 with a body that never ends, as fast as it is read: only a limit counted while
    /// reading ends the fetch before its timeout.
    Endless,
}

struct Idp {
    addr: SocketAddr,
    started: Instant,
    answer: Arc<Mutex<Answer>>,
    /// When each request came, since `started`.
    fetches: Arc<Mutex<Vec<Duration>>>,
}

impl Idp {
    async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, answer)
    }

    /// The provider on `listener`, from now on.
    fn serve(listener: tokio::net::TcpListener, answer: Answer) -> Self {
        let idp = Self {
            addr: listener.local_addr().unwrap(),
            started: Instant::now(),
            answer: Arc::new(Mutex::new(answer)),
            fetches: Arc::default(),
        };
        let (answer, fetches, started) = (idp.answer.clone(), idp.fetches.clone(), idp.started);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (answer, fetches) = (answer.clone(), fetches.clone());
                let svc =
                    hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                        fetches.lock().unwrap().push(started.elapsed());
                        let answer = answer.lock().unwrap().clone();
                        async move { Ok::<_, Infallible>(respond(answer).await) }
                    });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        idp
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// The whole seconds at which each request came.
    fn fetches(&self) -> Vec<u64> {
        self.fetches
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect()
    }

    /// Sleeps until `secs` seconds after the provider started.
    async fn until(&self, secs: f64) {
        sleep_until(self.started + Duration::from_secs_f64(secs)).await;
    }
}

async fn respond(answer: Answer) -> Response<TestBody> {
    let ok = |body| Response::new(body);
    match answer {
        Answer::Keys(json, cache_control) => {
            let mut res = ok(TestBody::Full(Some(json.into())));
            if let Some(value) = cache_control {
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, value.parse().unwrap());
            }
            res
        }
        Answer::Status(status) => {
            let mut res = ok(TestBody::Full(None));
            *res.status_mut() = status;
            res
        }
        Answer::Hang => std::future::pending().await,
        Answer::HangInBody => ok(TestBody::Stalled(Some(Bytes::from_static(b"{\"keys\":[")))),
        Answer::Text(text) => ok(TestBody::Full(Some(Bytes::from_static(text.as_bytes())))),
        Answer::Huge => ok(TestBody::Spaces {
            left: 10_000_000,
            declared: false,
        }),
        Answer::HugeDeclared => ok(TestBody::Spaces {
            left: 10_000_000,
            declared: true,
        }),
        Answer::Endless => ok(TestBody::Spaces {
            left: usize::MAX,
            declared: false,
        }),
    }
}

enum TestBody {
    Full(Option<Bytes>),
    /// A first piece, then never another frame.
    Stalled(Option<Bytes>),
    /// `left` bytes of JSON whitespace, their length announced if `declared`.
    Spaces {
        left: usize,
        declared: bool,
    },
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Stalled(first) => match first.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Poll::Pending,
            },
            Self::Spaces { left, .. } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let n = (*left).min(64 * 1024);
                *left -= n;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; n])))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Spaces {
                left,
                declared: true,
                ..
            } => SizeHint::with_exact(*left as u64),
            _ => SizeHint::default(),
        }
    }
}

/// An issuer that signs its access tokens with `key`.
fn issuer(key: &SigningKey) -> LoginManager {
    LoginManager::builder(SECRET)
        .signing_key(key.clone())
        .build()
        .unwrap()
}

fn token(key: &SigningKey) -> String {
    issuer(key)
        .issue_token("42", Duration::from_secs(3600))
        .unwrap()
}

fn set_of(keys: &[&SigningKey]) -> String {
    JwkSet::from_keys(keys.iter().map(|key| key.verifying_key())).to_json()
}

fn keys(json: String, cache_control: &'static str) -> Answer {
    Answer::Keys(json, Some(cache_control))
}

fn verifier(idp: &Idp) -> TokenVerifier {
    TokenVerifier::builder()
        .jwks_url(idp.url())
        .build()
        .unwrap()
}

/// Waits, a millisecond of the paused clock at a time, until `token` verifies.
async fn until_verified(verifier: &TokenVerifier, token: &str) {
    for _ in 0..2000 {
        if verifier.decode_token(token).is_ok() {
            return;
        }
        sleep(Duration::from_millis(1)).await;
    }
    panic!("{:?}", verifier.decode_token(token));
}

/// A key that is `kid` and is published nowhere.
fn made_up(kid: usize) -> SigningKey {
    SigningKey::generate_es256().with_kid(format!("made-up-{kid}"))
}

/// A new key appears: the first token of it is refused at once (401, the request does not wait)
/// and asks for a fetch, after which it verifies. Unknown `kid`s within the floor (30 s) after
/// that fetch, however many, ask for one more fetch, which waits for the floor.
#[tokio::test(start_paused = true)]
async fn a_new_kid_is_fetched_and_made_up_kids_fetch_once_per_floor() {
    let (old, new) = (SigningKey::generate_es256(), SigningKey::generate_ed25519());
    let idp = Idp::start(keys(set_of(&[&old]), "max-age=600")).await;
    let verifier = verifier(&idp);
    until_verified(&verifier, &token(&old)).await;

    idp.until(60.0).await;
    assert_eq!(idp.fetches(), [0], "max-age=600: nothing before 600 s");
    idp.answer(keys(set_of(&[&old, &new]), "max-age=600"));
    let new_token = token(&new);
    assert_eq!(
        verifier.decode_token(&new_token),
        Err(TokenError::UnknownKey)
    );
    until_verified(&verifier, &new_token).await;
    assert_eq!(
        idp.fetches(),
        [0, 60],
        "the unknown kid asked, over 30 s after the last fetch"
    );

    // A flood of made-up kids right after: no fetch within the floor, then one.
    for kid in 0..100 {
        assert_eq!(
            verifier.decode_token(&token(&made_up(kid))),
            Err(TokenError::UnknownKey)
        );
    }
    idp.until(89.5).await;
    assert_eq!(idp.fetches(), [0, 60]);
    idp.until(90.5).await;
    assert_eq!(idp.fetches(), [0, 60, 90]);
    // Quiet again: the schedule is max-age's, 600 s after the last fetch.
    idp.until(689.5).await;
    assert_eq!(idp.fetches(), [0, 60, 90]);
    idp.until(690.5).await;
    assert_eq!(idp.fetches(), [0, 60, 90, 690]);
    assert!(verifier.decode_token(&token(&old)).is_ok());
}

/// Keys this crate cannot use (an unknown `kty`, `crv` or `alg`, a symmetric or private key) are
/// skipped, never fatal to the set: the usable key beside them verifies.
#[tokio::test(start_paused = true)]
async fn unusable_keys_are_skipped_not_fatal_to_the_set() {
    let key = SigningKey::generate_es256();
    let mut set: serde_json::Value = serde_json::from_str(&set_of(&[&key])).unwrap();
    let mut other_alg = key.verifying_key().to_jwk();
    other_alg["alg"] = "ES512".into();
    other_alg["kid"] = "other-alg".into();
    let junk = [
        serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "oct"}),
        serde_json::json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"}),
        serde_json::json!({"kty": "OKP", "crv": "X25519", "x": "AA", "kid": "x25519"}),
        serde_json::json!({"kty": "PQC", "kid": "future"}),
        other_alg,
    ];
    set["keys"].as_array_mut().unwrap().splice(0..0, junk);
    let idp = Idp::start(keys(set.to_string(), "max-age=60")).await;
    let verifier = verifier(&idp);
    until_verified(&verifier, &token(&key)).await;
    assert_eq!(idp.fetches(), [0]);
}

/// The next fetch comes when `max-age` runs out, held between the floor (30 s) and the ceiling
/// (24 h); 5 min without one.
#[tokio::test(start_paused = true)]
async fn max_age_is_held_between_the_floor_and_the_ceiling() {
    struct Case {
        name: &'static str,
        cache_control: Option<&'static str>,
        want_next: u64,
    }
    let cases = [
        Case {
            name: "max-age=0",
            cache_control: Some("max-age=0"),
            want_next: 30,
        },
        Case {
            name: "no-store",
            cache_control: Some("no-store"),
            want_next: 30,
        },
        Case {
            name: "max-age=120",
            cache_control: Some("public, max-age=120"),
            want_next: 120,
        },
        Case {
            name: "absent",
            cache_control: None,
            want_next: 300,
        },
        Case {
            name: "max-age of ten years",
            cache_control: Some("max-age=315360000"),
            want_next: 86_400,
        },
    ];
    let key = SigningKey::generate_es256();
    for case in cases {
        let idp = Idp::start(Answer::Keys(set_of(&[&key]), case.cache_control)).await;
        let verifier = verifier(&idp);
        until_verified(&verifier, &token(&key)).await;
        let next = case.want_next as f64;
        idp.until(next - 0.5).await;
        assert_eq!(idp.fetches(), [0], "{}", case.name);
        idp.until(next + 0.5).await;
        assert_eq!(idp.fetches(), [0, case.want_next], "{}", case.name);
    }

    // max-age=0 over five minutes: one fetch per floor, eleven in all.
    let idp = Idp::start(keys(set_of(&[&key]), "max-age=0")).await;
    let _verifier = verifier(&idp);
    idp.until(315.0).await;
    let want: Vec<u64> = (0..=10).map(|n| n * 30).collect();
    assert_eq!(idp.fetches(), want);
}

/// A 500 keeps the last good set in use; retries back off 1 s, 2 s, 4 s...; the first good
/// answer ends the backoff and max-age rules again.
#[tokio::test(start_paused = true)]
async fn a_failing_provider_keeps_the_last_set_and_is_retried_with_backoff() {
    let key = SigningKey::generate_es256();
    let idp = Idp::start(keys(set_of(&[&key]), "max-age=60")).await;
    let verifier = verifier(&idp);
    until_verified(&verifier, &token(&key)).await;

    idp.answer(Answer::Status(StatusCode::INTERNAL_SERVER_ERROR));
    idp.until(91.5).await;
    assert_eq!(idp.fetches(), [0, 60, 61, 63, 67, 75, 91]);
    assert!(verifier.decode_token(&token(&key)).is_ok());

    idp.answer(keys(set_of(&[&key]), "max-age=60"));
    idp.until(183.5).await;
    assert_eq!(idp.fetches(), [0, 60, 61, 63, 67, 75, 91, 123, 183]);
}

/// A fetch that hangs (before the headers, or in the body) is given up after 10 s and retried;
/// meanwhile requests are answered at once from the last good set, and no second fetch starts,
/// however many unknown kids ask.
#[tokio::test(start_paused = true)]
async fn a_hanging_fetch_times_out_and_blocks_no_request() {
    let key = SigningKey::generate_es256();
    let good = token(&key);
    for hang in [Answer::Hang, Answer::HangInBody] {
        let idp = Idp::start(keys(set_of(&[&key]), "max-age=60")).await;
        let verifier = verifier(&idp);
        until_verified(&verifier, &good).await;
        let layer = LoginLayer::new(
            verifier.clone(),
            loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) }),
        );

        idp.answer(hang);
        idp.until(60.5).await;
        assert_eq!(idp.fetches(), [0, 60], "the fetch at 60 s hangs");
        let before = Instant::now();
        assert!(verifier.decode_token(&good).is_ok());
        for kid in 0..100 {
            assert_eq!(
                verifier.decode_token(&token(&made_up(kid))),
                Err(TokenError::UnknownKey)
            );
        }
        assert_eq!(send(&layer, &good).await.0, StatusCode::OK);
        assert_eq!(
            before.elapsed(),
            Duration::ZERO,
            "nothing waited for the fetch"
        );

        idp.until(69.5).await;
        assert_eq!(idp.fetches(), [0, 60], "one fetch in flight");
        // Timed out at 70 s; retried 1 s later (and hangs again).
        idp.until(71.5).await;
        assert_eq!(idp.fetches(), [0, 60, 71]);
        assert!(verifier.decode_token(&good).is_ok());
    }
}

/// A provider whose port completes no connection (its listen queue is full, so the kernel drops
/// the handshake): the connect is given up after 5 s, before the fetch's 10 s, and retried 1 s
/// later, at 6 s, when the provider answers.
#[tokio::test(start_paused = true)]
async fn a_connect_that_never_completes_is_given_up_after_5_s() {
    let key = SigningKey::generate_es256();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    // Connections nobody accepts, until one is not completed within 200 ms (of the wall clock):
    // the queue is full, however the kernel sizes it.
    let queued: Vec<_> = (0..8)
        .map_while(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    assert!(queued.len() < 8, "the listen queue never filled");
    let started = Instant::now();
    let verifier = TokenVerifier::builder()
        .jwks_url(format!("http://{addr}/.well-known/jwks.json"))
        .build()
        .unwrap();

    sleep(Duration::from_millis(5500)).await;
    assert_eq!(
        verifier.decode_token(&token(&key)),
        Err(TokenError::KeysUnavailable)
    );
    // The provider takes connections from 5.5 s on: the retry at 6 s gets the set.
    let idp = Idp::serve(listener, keys(set_of(&[&key]), "max-age=60"));
    until_verified(&verifier, &token(&key)).await;
    assert_eq!(
        *idp.fetches.lock().unwrap(),
        [Duration::from_millis(500)],
        "one fetch, at 6 s: 5 s to give up the connect, 1 s of backoff"
    );
    assert!(started.elapsed() < Duration::from_secs(7));
}

/// Junk, a set without a usable key, a status that is not 2xx, and 10 MB (announced or not):
/// each a failed fetch (retried 1 s later), the last good set kept.
#[tokio::test(start_paused = true)]
async fn junk_and_huge_bodies_keep_the_last_set() {
    struct Case {
        name: &'static str,
        answer: Answer,
    }
    let cases = [
        Case {
            name: "HTML",
            answer: Answer::Text("<html>Moved</html>"),
        },
        Case {
            name: "not a set",
            answer: Answer::Text(r#"{"keys":"none"}"#),
        },
        Case {
            name: "no usable key",
            answer: Answer::Text(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#),
        },
        Case {
            name: "empty set",
            answer: Answer::Text(r#"{"keys":[]}"#),
        },
        Case {
            name: "404",
            answer: Answer::Status(StatusCode::NOT_FOUND),
        },
        Case {
            name: "redirect",
            answer: Answer::Status(StatusCode::FOUND),
        },
        Case {
            name: "10 MB, chunked",
            answer: Answer::Huge,
        },
        Case {
            name: "10 MB, Content-Length",
            answer: Answer::HugeDeclared,
        },
        // Cut while reading: the retry comes 1 s after, not after the 10 s timeout.
        Case {
            name: "endless",
            answer: Answer::Endless,
        },
    ];
    let key = SigningKey::generate_es256();
    let good = token(&key);
    for case in cases {
        let idp = Idp::start(keys(set_of(&[&key]), "max-age=60")).await;
        let verifier = verifier(&idp);
        until_verified(&verifier, &good).await;
        idp.answer(case.answer);
        idp.until(61.5).await;
        assert_eq!(
            idp.fetches(),
            [0, 60, 61],
            "{}: failed, retried after 1 s",
            case.name
        );
        assert!(verifier.decode_token(&good).is_ok(), "{}", case.name);
    }
}

/// Before the first good set: 503 with the JSON body, never 401; then the retry brings the set.
#[tokio::test(start_paused = true)]
async fn before_the_first_set_requests_get_503() {
    let key = SigningKey::generate_es256();
    let good = token(&key);
    let idp = Idp::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let verifier = verifier(&idp);
    let layer = LoginLayer::new(
        verifier.clone(),
        loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) }),
    );
    idp.until(0.5).await;
    assert_eq!(idp.fetches(), [0]);
    assert_eq!(
        verifier.decode_token(&good),
        Err(TokenError::KeysUnavailable)
    );
    assert_eq!(
        send(&layer, &good).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":503,"message":"Service temporarily unavailable. Please try again"}"#
                .to_owned()
        )
    );

    idp.answer(keys(set_of(&[&key]), "max-age=60"));
    idp.until(1.5).await;
    assert_eq!(idp.fetches(), [0, 1]);
    assert_eq!(send(&layer, &good).await, (StatusCode::OK, "ok".to_owned()));
}

/// When the last clone of the verifier (the layer's included) is dropped, the task ends.
#[tokio::test(start_paused = true)]
async fn dropping_the_verifier_ends_the_task() {
    let key = SigningKey::generate_es256();
    let idp = Idp::start(keys(set_of(&[&key]), "max-age=0")).await;
    let verifier = verifier(&idp);
    let layer = LoginLayer::new(
        verifier.clone(),
        loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) }),
    );
    until_verified(&verifier, &token(&key)).await;
    idp.until(45.0).await;
    assert_eq!(idp.fetches(), [0, 30]);
    drop((verifier, layer));
    idp.until(3600.0).await;
    assert_eq!(idp.fetches(), [0, 30]);
}

/// `build` refuses a URL over plain HTTP to another host, keys beside a URL, and no runtime.
#[test]
fn build_refuses_what_cannot_be_fetched_safely() {
    let refused = |builder: tower_login_manager::TokenVerifierBuilder| match builder.build() {
        Err(ConfigError::InvalidKey(reason)) => reason,
        other => panic!("{other:?}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _in_runtime = runtime.enter();
    let reason = refused(TokenVerifier::builder().jwks_url("http://login.example.com/jwks.json"));
    assert!(reason.contains("https"), "{reason}");
    let key = SigningKey::generate_es256().verifying_key();
    let reason = refused(
        TokenVerifier::builder()
            .key(key)
            .jwks_url("https://login.example.com/jwks.json"),
    );
    assert!(reason.contains("not both"), "{reason}");
    drop(_in_runtime);

    let reason = refused(TokenVerifier::builder().jwks_url("https://login.example.com/jwks.json"));
    assert!(reason.contains("Tokio runtime"), "{reason}");
}

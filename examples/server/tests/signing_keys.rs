//! `SIGNING_KEYS_FILE`: access tokens signed with ES256 or EdDSA, the JWK Set at
//! `GET /.well-known/jwks.json`, and a rotation in three edits of the file, each applied on SIGHUP.

mod support;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
use serde_json::Value;
use support::{Launch, Server, TIMING, TempDir, error};

const SECRET: &str = "a test secret of at least thirty-two bytes";
const INVALID: &str = "Invalid token. Please register or login";

/// A fixed P-256 key (the scalar `seed` repeated), as PKCS#8 PEM.
fn es256_pem(seed: u8) -> String {
    let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// A fixed Ed25519 key, as PKCS#8 PEM.
fn ed25519_pem(seed: u8) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// The decoded header of a compact JWS.
fn header(token: &str) -> Value {
    use base64::Engine as _;
    let segment = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn start(dir: &TempDir, keys_file: &Path) -> Server {
    start_with_max_age(dir, keys_file, "60").await
}

async fn start_with_max_age(dir: &TempDir, keys_file: &Path, max_age: &str) -> Server {
    let file = keys_file.to_str().unwrap();
    let env = [("SIGNING_KEYS_FILE", file), ("JWKS_MAX_AGE_SECS", max_age)];
    let database_url = dir.database_url();
    let launch = issuer(&database_url, &env);
    Server::start_with_user(&launch, "ada", "correct horse battery").await
}

/// The issuing server on `database_url`, with `env`.
fn issuer<'a>(database_url: &'a str, env: &'a [(&'a str, &'a str)]) -> Launch<'a> {
    Launch {
        name: "issuer",
        timing: TIMING,
        secret: Some(SECRET),
        database_url,
        env,
    }
}

/// The kids of the served JWK Set, and its `Cache-Control`.
async fn jwks(server: &Server) -> (Vec<String>, String) {
    let (status, headers, body) = server.get_text("/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    let set: Value = serde_json::from_str(&body).unwrap();
    let kids = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            assert_eq!(key["use"], "sig");
            assert!(key.get("d").is_none(), "a private member was published");
            key["kid"].as_str().unwrap().to_owned()
        })
        .collect();
    let cache = headers["cache-control"].to_str().unwrap().to_owned();
    (kids, cache)
}

/// Sends SIGHUP and waits for the log line of its reload (the `n`th).
async fn reload(server: &Server, n: usize) -> Vec<String> {
    server.hangup();
    server
        .wait_for_log(|lines| {
            lines
                .iter()
                .filter(|l| l.contains("signing keys reloaded") || l.contains("not reloaded"))
                .count()
                >= n
        })
        .await
}

#[tokio::test]
async fn access_tokens_are_es256_published_in_the_jwks_and_refresh_tokens_stay_hs256() {
    let dir = TempDir::new("signing-keys-es256");
    let keys_file = dir.path().join("keys.pem");
    std::fs::write(&keys_file, es256_pem(1)).unwrap();
    let server = start(&dir, &keys_file).await;

    let (access, refresh) = server.login_pair("ada", "correct horse battery").await;
    let (kids, cache) = jwks(&server).await;
    assert_eq!(cache, "public, max-age=60");
    assert_eq!(kids.len(), 1);
    // RFC 7515 section 4.1.4: the kid names the published key (its RFC 7638 thumbprint).
    assert_eq!(header(&access)["alg"], "ES256");
    assert_eq!(header(&access)["kid"], kids[0].as_str());
    assert_eq!(header(&refresh)["alg"], "HS256");
    assert_eq!(server.me(&access).await.0, StatusCode::OK);

    // The reference implementation verifies the access token with the published key alone.
    let (_, _, body) = server.get_text("/.well-known/jwks.json").await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&body).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims = ["exp".to_owned()].into();
    let claims = jsonwebtoken::decode::<Value>(&access, &key, &validation).unwrap();
    assert_eq!(claims.claims["user_id"], "1");
}

/// The three steps of a rotation, each one edit of the file and one SIGHUP: no token is refused
/// while they are followed, and the retired key's tokens are refused after.
#[tokio::test]
async fn a_rotation_is_three_edits_of_the_file_each_applied_on_sighup() {
    let dir = TempDir::new("signing-keys-rotation");
    let keys_file = dir.path().join("keys.pem");
    let (old, next) = (es256_pem(1), ed25519_pem(2));
    std::fs::write(&keys_file, &old).unwrap();
    let server = start(&dir, &keys_file).await;
    let (old_token, _) = server.login_pair("ada", "correct horse battery").await;
    let (old_kids, _) = jwks(&server).await;

    // 1. Publish: the next key is in the set, the old one still signs.
    std::fs::write(&keys_file, format!("{old}{next}")).unwrap();
    reload(&server, 1).await;
    let (kids, _) = jwks(&server).await;
    assert_eq!(kids.len(), 2);
    let (token, _) = server.login_pair("ada", "correct horse battery").await;
    assert_eq!(header(&token)["kid"], old_kids[0].as_str());

    // 2. Sign with it: new tokens are EdDSA under the next kid; the old token still passes.
    std::fs::write(&keys_file, format!("{next}{old}")).unwrap();
    reload(&server, 2).await;
    let (new_token, _) = server.login_pair("ada", "correct horse battery").await;
    assert_eq!(header(&new_token)["alg"], "EdDSA");
    let new_kid = header(&new_token)["kid"].as_str().unwrap().to_owned();
    assert!(kids.contains(&new_kid) && new_kid != old_kids[0]);
    assert_eq!(server.me(&old_token).await.0, StatusCode::OK);
    assert_eq!(server.me(&new_token).await.0, StatusCode::OK);

    // 3. Retire the old key: gone from the set, its tokens refused.
    std::fs::write(&keys_file, &next).unwrap();
    let lines = reload(&server, 3).await;
    assert_eq!(jwks(&server).await.0, [new_kid]);
    assert_eq!(server.me(&new_token).await.0, StatusCode::OK);
    assert_eq!(
        server.me(&old_token).await,
        error(StatusCode::UNAUTHORIZED, INVALID)
    );
    for line in &lines {
        assert!(!line.contains("PRIVATE KEY"), "key material logged: {line}");
    }
}

#[tokio::test]
async fn a_bad_file_on_sighup_changes_nothing_and_logs_no_key() {
    let dir = TempDir::new("signing-keys-bad-reload");
    let keys_file = dir.path().join("keys.pem");
    std::fs::write(&keys_file, es256_pem(1)).unwrap();
    let server = start(&dir, &keys_file).await;
    let before = jwks(&server).await.0;

    // A truncated second key: the whole file is refused.
    let broken = ed25519_pem(2);
    let cut = &broken[..broken.len() / 2];
    std::fs::write(
        &keys_file,
        format!("{}{cut}\n-----END PRIVATE KEY-----\n", es256_pem(1)),
    )
    .unwrap();
    let lines = reload(&server, 1).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("not reloaded") && l.contains("key 2 of the file")),
        "{lines:?}"
    );
    for line in &lines {
        assert!(!line.contains(&cut[40..60]), "key material logged: {line}");
    }
    assert_eq!(jwks(&server).await.0, before);
    let (token, _) = server.login_pair("ada", "correct horse battery").await;
    assert_eq!(server.me(&token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_server_whose_keys_file_cannot_be_used_does_not_start() {
    let dir = TempDir::new("signing-keys-bad-start");
    let keys_file = dir.path().join("keys.pem");
    // An RSA key: this crate verifies RS256 and does not sign with RSA.
    let rsa = include_str!("../../../tests/data/keys/rsa2048_private.pem");
    std::fs::write(&keys_file, rsa).unwrap();
    let file = keys_file.to_str().unwrap();
    let env = [("SIGNING_KEYS_FILE", file)];
    let database_url = dir.database_url();
    let launch = issuer(&database_url, &env);
    let mut server = Server::spawn(&launch);
    let status = server.wait_exit();
    assert!(!status.success());
    let (_, stderr) = server.output();
    assert!(stderr.contains("SIGNING_KEYS_FILE"), "{stderr}");
    assert!(stderr.contains("key 1 of the file"), "{stderr}");
    let body = rsa.lines().nth(5).unwrap();
    assert!(!stderr.contains(body), "key material echoed: {stderr}");
}

/// The whole story: the issuer signs with ES256, a second process (`--bin verifier`) verifies
/// through the fetched JWK Set, holding no secret, and the issuer rotates to an EdDSA key in the
/// three steps while a load runs against the second process: not one request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_under_load_refuses_no_request_at_a_service_verifying_through_the_jwks() {
    const CLIENTS: usize = 4;
    let dir = TempDir::new("signing-keys-second-service");
    let keys_file = dir.path().join("keys.pem");
    let (old, next) = (es256_pem(3), ed25519_pem(4));
    std::fs::write(&keys_file, &old).unwrap();
    // max-age=1: the verifier's own floor (30 s) decides when it fetches again.
    let issuer = start_with_max_age(&dir, &keys_file, "1").await;
    let jwks_url = format!("http://{}/.well-known/jwks.json", issuer.addr());
    let verifier = Server::start_verifier("verifier", TIMING, &jwks_url).await;

    let (access, refresh) = issuer.login_pair("ada", "correct horse battery").await;
    // The verifier answers 503 until its first fetch has come, then 200.
    loop {
        match verifier.me(&access).await {
            (StatusCode::OK, body) => break assert_eq!(body["user_id"], "1"),
            (StatusCode::SERVICE_UNAVAILABLE, _) => {
                tokio::time::sleep(TIMING.poll).await;
            }
            other => panic!("before the load: {other:?}"),
        }
    }
    // A refresh token (HS256) never verifies there: it holds no secret.
    assert_eq!(
        verifier.me(&refresh).await,
        error(StatusCode::UNAUTHORIZED, INVALID)
    );

    let current = Mutex::new(access);
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let refused = Mutex::new(Vec::new());
    let token = || current.lock().unwrap().clone();

    // The clients: the latest access token, again and again.
    let client = || async {
        while !stop.load(Ordering::Relaxed) {
            let token = token();
            let (status, body) = verifier.me(&token).await;
            if status != StatusCode::OK {
                refused.lock().unwrap().push((status, body, header(&token)));
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    };
    // The issuer's client: a new pair every 100 ms, signed by whichever key signs now.
    let refresher = async {
        let mut refresh = refresh.clone();
        while !stop.load(Ordering::Relaxed) {
            let (status, body) = issuer.post_token("/refresh", &refresh).await;
            assert_eq!(status, StatusCode::OK, "refresh: {body}");
            refresh = body["refresh_token"].as_str().unwrap().to_owned();
            *current.lock().unwrap() = body["token"].as_str().unwrap().to_owned();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    // Waits until every client has finished a request started from now on.
    let settle = || async {
        let from = done.load(Ordering::Relaxed);
        while done.load(Ordering::Relaxed) < from + 2 * CLIENTS {
            tokio::time::sleep(TIMING.poll).await;
        }
    };
    let rotation = async {
        settle().await;
        // 1. Publish the next key; the old one still signs. Then wait for the verifier's next
        //    fetch of the set (a line of the issuer's request log after the reload's).
        std::fs::write(&keys_file, format!("{old}{next}")).unwrap();
        let lines = reload(&issuer, 1).await;
        let reloaded = lines.len();
        issuer
            .wait_for_log_within(Duration::from_secs(45), |lines| {
                lines[reloaded..]
                    .iter()
                    .any(|l| l.starts_with("GET /.well-known/jwks.json 200"))
            })
            .await;
        settle().await;

        // 2. Sign with it: the clients move to EdDSA tokens as the refresher brings them.
        std::fs::write(&keys_file, format!("{next}{old}")).unwrap();
        reload(&issuer, 2).await;
        while header(&token())["alg"] != "EdDSA" {
            tokio::time::sleep(TIMING.poll).await;
        }
        settle().await;

        // 3. Retire the old key: no token of it is in use any more.
        std::fs::write(&keys_file, &next).unwrap();
        reload(&issuer, 3).await;
        settle().await;
        settle().await;
        stop.store(true, Ordering::Relaxed);
    };
    let clients = futures_util::future::join_all((0..CLIENTS).map(|_| client()));
    tokio::join!(clients, refresher, rotation);

    let refused = refused.into_inner().unwrap();
    assert!(
        refused.is_empty(),
        "refused during the rotation: {refused:?}"
    );
    assert!(done.load(Ordering::Relaxed) > 50, "the load ran");
}

/// Found by review: `--bin verifier` served with `axum::serve`, which sets no timer, so a
/// connection that sent nothing was held for ever; it now serves as the server does (headers
/// within 10 s, a request answered within 20 s, the same graceful shutdown).
#[tokio::test]
async fn the_verifier_closes_a_silent_connection() {
    use tokio::io::AsyncReadExt;
    // No issuer: `/health` answers without a key set, and nothing here needs one.
    let verifier =
        Server::start_verifier("verifier-silent", TIMING, "http://127.0.0.1:9/jwks.json").await;
    let started = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(verifier.addr())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(40), silent.read_to_end(&mut answer));
    assert!(
        read.await.is_ok(),
        "a silent connection is still open after 40 s"
    );
    assert_eq!(answer, b"", "a silent connection gets no answer");
    let after = started.elapsed();
    assert!(after < Duration::from_secs(15), "closed after {after:?}");
}

//! The one hand-written piece left in the verifier, against the library that could do its work:
//! the flat claims parser (`src/token/flat.rs`) against the serde_json path it falls back to.
//! Issue 13's rule: a piece stays hand-written only if it buys at least 2% of an end-to-end
//! request. `decode_token` runs on a token whose claims take the flat path, and on the same claims
//! with `iat` written `1700000000.0`, which the flat path leaves to serde_json at once.
//!
//! ```text
//! cargo bench --bench pieces        # ROUNDS=400 by default
//! ```
//!
//! Interleaved: every case runs a batch of about 0.2 ms in turn, round after round, timed by the
//! thread's CPU clock; each case's median over the rounds is printed, and the pair's difference
//! and ratio taken within every round.
//!
//! At commit 83faba4 this bench also held the crate's own HMAC-SHA-256 and base64url against the
//! `hmac` and `base64` crates. One run there (400 rounds, a cargo-mutants run on the other core),
//! median ns per operation:
//!
//! | piece | own | library | library - own |
//! |---|---:|---:|---:|
//! | HMAC-SHA-256 and compare | 164.3 | 198.8 | +33.9 (1.21x) |
//! | base64url of the claims | 72.8 | 96.1 | +23.0 (1.32x) |
//! | base64url of the MAC | 49.0 | 69.5 | +20.0 (1.40x) |
//! | the claims: flat path / serde_json path (`decode_token`) | 660.3 | 982.6 | +310.8 (1.46x) |
//!
//! Against a bare axum request of about 11 us of server CPU on this machine, the three library
//! pieces together cost about 77 ns (0.7%): under the 2% rule, so the libraries replaced them.
//! The flat claims parser saves about 311 ns (2.8%): over it, so it stays.
//!
//! A second run, at 272e5ec (the crates under the verifier, a quiet machine): flat path 754.4 ns,
//! serde_json path 1091.1 ns, +333.9 ns (1.44x), 3.0% of that request.

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tower_login_manager::LoginManager;

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::thread_cpu_time;

const SECRET: &str = "a benchmark secret of at least thirty-two bytes";
const FAR: u64 = 4_102_444_800; // 2100-01-01

fn sign(claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{tag}")
}

type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn main() {
    let flat = sign(&format!(
        r#"{{"exp":{FAR},"iat":1700000000,"user_id":"42"}}"#
    ));
    let serde = sign(&format!(
        r#"{{"iat":1700000000.0,"exp":{FAR},"user_id":"42"}}"#
    ));
    let manager = LoginManager::new(SECRET).unwrap();
    assert_eq!(manager.decode_token(&flat).unwrap().user_id(), "42");
    assert_eq!(manager.decode_token(&serde).unwrap().user_id(), "42");

    let mut cases: Vec<Case<'_>> = vec![
        (
            "decode_token_flat_path",
            Box::new(|| {
                black_box(manager.decode_token(black_box(&flat)).is_ok());
            }),
        ),
        (
            "decode_token_serde_path",
            Box::new(|| {
                black_box(manager.decode_token(black_box(&serde)).is_ok());
            }),
        ),
    ];

    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400);
    // Batch sizes giving about 0.2 ms per case and round.
    let batch: Vec<u32> = cases
        .iter_mut()
        .map(|(_, run)| {
            let start = thread_cpu_time();
            for _ in 0..1000 {
                run();
            }
            let per = (thread_cpu_time() - start).as_nanos().max(1) / 1000;
            (200_000 / per).clamp(10, 1_000_000) as u32
        })
        .collect();
    let mut per_op = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in cases.iter_mut().enumerate() {
            let start = thread_cpu_time();
            for _ in 0..batch[i] {
                run();
            }
            per_op[i].push((thread_cpu_time() - start).as_nanos() as f64 / f64::from(batch[i]));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("{rounds} interleaved rounds, thread CPU time, median ns per operation:");
    for (i, (name, _)) in cases.iter().enumerate() {
        println!("  {name:<26} {:>8.1}", median(&per_op[i]));
    }
    println!("pairs (median over rounds of the within-round difference and ratio):");
    for pair in cases.chunks(2).zip(per_op.chunks(2)) {
        let ((a, _), (b, _)) = (&pair.0[0], &pair.0[1]);
        let (ta, tb) = (&pair.1[0], &pair.1[1]);
        let diff: Vec<f64> = tb.iter().zip(ta).map(|(b, a)| b - a).collect();
        let ratio: Vec<f64> = tb.iter().zip(ta).map(|(b, a)| b / a).collect();
        println!(
            "  {b} - {a}: {:+.1} ns ({:.2}x)",
            median(&diff),
            median(&ratio)
        );
    }
}

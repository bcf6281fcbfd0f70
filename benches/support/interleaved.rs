//! The interleaved runs of `benches/decode.rs` and `benches/keys.rs`: every case in turn for a
//! batch of about half a millisecond, round after round, so that contention that comes and goes
//! hits every case alike and ratios are taken within each round. Each round runs the cases at
//! another depth of the stack, sixteen in turn over 4 KiB: where the stack lies changes the
//! speed of some code (EdDSA verification ran from 0.90x to 1.15x as fast at different depths,
//! the same at the same depth; `setarch -R` with the environment grown by 256 bytes at a time),
//! so one process, whose stack lies where it happens to, measured one of those speeds, and now
//! measures them all.

use std::time::Duration;

/// One case: a closure doing one iteration.
pub type Run<'a> = Box<dyn FnMut() + 'a>;

/// Every case in turn, a batch of about half a millisecond each, `rounds` times. Returns the time
/// per iteration of each case in each round, in nanoseconds.
pub fn interleaved(
    cases: &mut [(&'static str, Run<'_>)],
    clock: fn() -> Duration,
    rounds: usize,
) -> Vec<Vec<f64>> {
    let batch = |run: &mut Run<'_>, n: u64| {
        let start = clock();
        for _ in 0..n {
            run();
        }
        clock().saturating_sub(start)
    };
    let sizes: Vec<u64> = cases
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 1;
            while n < 1 << 20 && batch(run, n) < Duration::from_micros(500) {
                n *= 2;
            }
            n
        })
        .collect();
    let mut times = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..rounds {
        for ((_, run), (n, out)) in cases.iter_mut().zip(sizes.iter().zip(&mut times)) {
            let time = deeper(round % STACK_DEPTHS, &mut || batch(run, *n));
            out.push(time.as_nanos() as f64 / *n as f64);
        }
    }
    times
}

/// How many depths of the stack the rounds take in turn, [`STACK_STEP`] bytes apart.
const STACK_DEPTHS: usize = 16;
const STACK_STEP: usize = 256;

/// `f()`, called `depth` × [`STACK_STEP`] bytes deeper in the stack than with `depth` 0.
#[inline(never)]
fn deeper<R>(depth: usize, f: &mut dyn FnMut() -> R) -> R {
    let pad = [0u8; STACK_STEP];
    std::hint::black_box(&pad);
    if depth == 0 {
        f()
    } else {
        deeper(depth - 1, f)
    }
}

/// The `p` quantile (0 to 1) of `values`, nearest rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

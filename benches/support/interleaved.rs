//! The interleaved runs of `benches/decode.rs` and `benches/keys.rs`: every case in turn for a
//! batch of about half a millisecond, round after round, so that contention that comes and goes
//! hits every case alike and ratios are taken within each round.

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
    for _ in 0..rounds {
        for ((_, run), (n, out)) in cases.iter_mut().zip(sizes.iter().zip(&mut times)) {
            out.push(batch(run, *n).as_nanos() as f64 / *n as f64);
        }
    }
    times
}

/// The `p` quantile (0 to 1) of `values`, nearest rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

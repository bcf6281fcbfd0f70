//! The time this thread spent on a CPU, shared by the benches: `benches/decode.rs` and
//! `benches/pieces.rs`. Included as a module: `#[path = "support/cpu_time.rs"] mod cpu_time;`.

use std::time::Duration;

/// `CLOCK_THREAD_CPUTIME_ID`: unlike the wall clock, it does not count the time the thread waits
/// while other processes have the core, which on a small shared machine is most of the noise.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

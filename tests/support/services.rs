//! PostgreSQL and Redis for the tests that need real ones, started in a scratch directory by
//! `scripts/services.sh` and stopped on drop: the library's Redis store tests (`tests/redis.rs`)
//! and the example server's scale-out test (`examples/server/tests/scale_out.rs`), which
//! includes this file with `#[path]`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long a script step (starting or stopping PostgreSQL or Redis) may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().unwrap().port()
}

/// A scratch directory, `tower-login-manager-<label>-<pid>-<n>` in the system's temporary
/// directory; removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tower-login-manager-{label}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A SQLite database in this directory, created on first use.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("users.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scratch directory owned by PostgreSQL and Redis; both are stopped and the directory removed
/// on drop (and the script's watchdogs stop them if this process dies first).
pub struct Services {
    dir: TempDir,
}

impl Services {
    /// `None` (the test is skipped) when PostgreSQL or Redis is not installed, unless `CI` is set:
    /// then the test fails.
    pub fn new() -> Option<Self> {
        let check = Command::new("bash")
            .arg(script())
            .arg("check")
            .output()
            .expect("run bash scripts/services.sh check");
        if !check.status.success() {
            let why = String::from_utf8_lossy(&check.stderr);
            let ci = std::env::var_os("CI").is_some_and(|ci| !ci.is_empty());
            assert!(
                !ci,
                "PostgreSQL and redis-server are needed ({}); CI must install them first with \
                 `bash scripts/services.sh install`",
                why.trim()
            );
            eprintln!(
                "SKIPPED: this test needs PostgreSQL and redis-server ({}); install them \
                 with `bash scripts/services.sh install`",
                why.trim()
            );
            return None;
        }
        Some(Self {
            dir: TempDir::new("scale-out"),
        })
    }

    /// A fresh PostgreSQL cluster on a free port; its `DATABASE_URL`.
    pub fn start_postgres(&self) -> String {
        self.url("start-postgres", &[], "DATABASE_URL=")
    }

    /// Redis on `port`; its `REDIS_URL`.
    pub fn start_redis(&self, port: u16) -> String {
        self.url("start-redis", &[&port.to_string()], "REDIS_URL=")
    }

    /// Sends `SIGSTOP`, `SIGCONT`, .. to Redis.
    pub fn signal_redis(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.path().join("redis.pid")).expect("redis.pid");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    pub fn stop_redis(&self) {
        self.run(&["stop-redis"]);
    }

    fn url(&self, command: &str, args: &[&str], prefix: &str) -> String {
        let mut all = vec![command];
        all.extend_from_slice(args);
        let stdout = self.run(&all);
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("scripts/services.sh {command} printed no {prefix}"))
            .to_owned()
    }

    /// `bash scripts/services.sh <command> <dir> <args..>`, bounded; its standard output.
    fn run(&self, args: &[&str]) -> String {
        let mut command = Command::new("bash");
        command
            .arg(script())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .env("OWNER_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("run bash scripts/services.sh");
        // A thread waits, so that a hung script fails the test instead of hanging it.
        let (done, wait) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait_with_output());
        });
        let output = wait
            .recv_timeout(SCRIPT_TIMEOUT)
            .unwrap_or_else(|_| {
                panic!("scripts/services.sh {args:?}: no end in {SCRIPT_TIMEOUT:?}")
            })
            .expect("scripts/services.sh runs");
        assert!(
            output.status.success(),
            "scripts/services.sh {args:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        // Then `dir` is removed.
    }
}

/// `scripts/services.sh` of the repository, from the library's directory or a member's.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("scripts/services.sh"))
        .find(|script| script.exists())
        .expect("scripts/services.sh in the repository")
}

//! Small checks and waits the CLI tests share: output lines, IDs, inspect
//! fields and readiness files.

use crate::{wait_for, Output, TestDaemon};
use std::path::Path;
use std::time::{Duration, Instant};

/// The non-empty lines of `s`, trimmed and sorted.
pub fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// A full container or image ID: 64 hex digits.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Waits until a file exists (containers signal readiness through a bind mount).
#[track_caller]
pub fn wait_until_exists(p: &Path) {
    wait_for(&format!("{}", p.display()), Duration::from_secs(20), || {
        p.exists().then_some(())
    });
}

impl TestDaemon {
    /// Waits until `docker inspect -f FORMAT name` prints `want`.
    #[track_caller]
    pub fn wait_docker_inspect(&self, name: &str, format: &str, want: &str, limit: Duration) {
        wait_inspect(|a| self.docker_run(a), name, format, want, limit)
    }

    /// Waits until `pouch inspect -f FORMAT name` prints `want`.
    #[track_caller]
    pub fn wait_pouch_inspect(&self, name: &str, format: &str, want: &str) {
        wait_inspect(
            |a| self.pouch_run(a),
            name,
            format,
            want,
            Duration::from_secs(20),
        )
    }
}

#[track_caller]
fn wait_inspect(
    run: impl Fn(&[&str]) -> Output,
    name: &str,
    format: &str,
    want: &str,
    limit: Duration,
) {
    let start = Instant::now();
    loop {
        let o = run(&["inspect", "-f", format, name]);
        if o.status.success() && o.stdout.trim() == want {
            return;
        }
        if start.elapsed() > limit {
            panic!(
                "{name}: {format} never became {want:?} within {limit:?}; last: {:?} {:?}",
                o.stdout.trim(),
                o.stderr.trim()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

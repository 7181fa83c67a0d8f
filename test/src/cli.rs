//! Running commands from tests: the docker and pouch CLIs pointed at a test
//! daemon, with a time limit, and what they printed.

use crate::{docker_bin, pouch_bin, TestDaemon};
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Output of a finished command.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "command failed ({}): stdout {:?} stderr {:?}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts failure and returns stderr.
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert!(
            !self.status.success(),
            "command unexpectedly succeeded: stdout {:?} stderr {:?}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

/// Runs a command with piped output, optional stdin, and a time limit (the
/// command is killed and the test fails when it is exceeded).
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    let start = Instant::now();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
            // Dropping the pipe closes it: the command sees EOF.
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let out = out_t.join().unwrap_or_default();
            let err = err_t.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {limit:?}; stdout {:?} stderr {:?}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    Output {
        status,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

impl TestDaemon {
    /// The docker CLI pointed at this daemon, with its own config dir.
    pub fn docker(&self) -> Command {
        let mut c = Command::new(docker_bin());
        self.docker_env(&mut c);
        c
    }

    fn docker_env(&self, c: &mut Command) {
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
    }

    /// Runs `sh -c SCRIPT` (60 s limit) with the docker CLI's environment
    /// and `$DOCKER` set to the docker binary, for pipelines such as
    /// `"$DOCKER" export c | tar t`.
    pub fn docker_sh(&self, script: &str) -> Output {
        let mut c = Command::new("sh");
        self.docker_env(&mut c);
        c.env("DOCKER", docker_bin()).arg("-c").arg(script);
        run_with_timeout(&mut c, None, Duration::from_secs(60))
    }

    /// Runs `docker ARGS` (60 s limit) and returns its output.
    pub fn docker_run(&self, args: &[&str]) -> Output {
        run_with_timeout(self.docker().args(args), None, Duration::from_secs(60))
    }

    /// Runs `docker ARGS` with `stdin` as input.
    pub fn docker_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_timeout(
            self.docker().args(args),
            Some(stdin),
            Duration::from_secs(60),
        )
    }

    /// Runs `docker ARGS`, asserts success and returns stdout trimmed.
    #[track_caller]
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker_run(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({}): stdout {:?} stderr {:?}",
            o.status,
            o.stdout,
            o.stderr
        );
        o.stdout.trim().to_string()
    }

    /// `docker inspect -f FORMAT NAME`, trimmed.
    #[track_caller]
    pub fn inspect_field(&self, name: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, name])
    }

    /// The pouch CLI pointed at this daemon (`POUCH_HOST=unix://<sock>`).
    pub fn pouch(&self) -> Command {
        let bin = pouch_bin();
        assert!(
            bin.exists(),
            "{} does not exist: run `cargo build -p pouch-cli` (or set POUCH_BIN)",
            bin.display()
        );
        let mut c = Command::new(bin);
        c.env("POUCH_HOST", format!("unix://{}", self.sock.display()))
            .env("NO_COLOR", "1");
        c
    }

    /// Runs `pouch ARGS` (60 s limit) and returns its output.
    pub fn pouch_run(&self, args: &[&str]) -> Output {
        run_with_timeout(self.pouch().args(args), None, Duration::from_secs(60))
    }

    /// Runs `pouch ARGS` with `stdin` as input.
    pub fn pouch_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_timeout(
            self.pouch().args(args),
            Some(stdin),
            Duration::from_secs(60),
        )
    }

    /// Runs `pouch ARGS`, asserts success and returns stdout trimmed.
    #[track_caller]
    pub fn pouch_ok(&self, args: &[&str]) -> String {
        let o = self.pouch_run(args);
        assert!(
            o.status.success(),
            "pouch {args:?} failed ({}): stdout {:?} stderr {:?}",
            o.status,
            o.stdout,
            o.stderr
        );
        o.stdout.trim().to_string()
    }
}

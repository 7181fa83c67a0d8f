//! Interactive containers on a real terminal: the docker (and pouch) CLI
//! run inside a tmux session, driven with send-keys and read back with
//! capture-pane. TTY echo, window size and resize, the detach keys, attach.

use pouch_tests::{docker_bin, pouch_bin, wait_for, TestDaemon};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (socket in the test dir) killed on drop.
struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    /// Starts a detached session `main` of `width`x`height` running `cmd`.
    fn start(d: &TestDaemon, width: u16, height: u16, cmd: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("!!!!!! SKIPPED: tmux is not installed !!!!!!");
            return None;
        }
        let t = Tmux {
            sock: d.dir.join("tmux.sock"),
        };
        t.ok(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            cmd,
        ]);
        Some(t)
    }

    fn run(&self, args: &[&str]) -> pouch_tests::Output {
        pouch_tests::run_with_timeout(
            Command::new("tmux")
                .arg("-f")
                .arg("/dev/null")
                .arg("-S")
                .arg(&self.sock)
                .args(args)
                .env("TERM", "xterm"),
            None,
            Duration::from_secs(20),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "tmux {args:?}: {o:?}");
        o.stdout
    }

    fn send(&self, target: &str, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", target];
        a.extend_from_slice(keys);
        self.ok(&a);
    }

    /// Types a line and Enter.
    fn type_line(&self, target: &str, line: &str) {
        self.send(target, &["-l", line]);
        self.send(target, &["Enter"]);
    }

    fn screen(&self, target: &str) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", target]).stdout
    }

    /// Waits until a line of the pane, trimmed, equals `want`.
    #[track_caller]
    fn wait_line(&self, target: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.screen(target);
            if s.lines().any(|l| l.trim() == want) {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("no line {want:?} on the screen of {target}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the pane shows `want` somewhere.
    #[track_caller]
    fn wait_text(&self, target: &str, want: &str) {
        let start = Instant::now();
        loop {
            let s = self.screen(target);
            if s.contains(want) {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("no {want:?} on the screen of {target}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `line` until `want` shows as a line (the first keystrokes may
    /// arrive before the client attached).
    #[track_caller]
    fn type_until(&self, target: &str, line: &str, want: &str) {
        let start = Instant::now();
        let mut typed = Instant::now() - Duration::from_secs(60);
        loop {
            if typed.elapsed() > Duration::from_secs(3) {
                self.type_line(target, line);
                typed = Instant::now();
            }
            let s = self.screen(target);
            if s.lines().any(|l| l.trim() == want) {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("typing {line:?} never showed {want:?} on {target}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let _ = std::fs::remove_file(&self.sock);
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell command line running the docker CLI against `d` with `args`,
/// then writing its exit code to `code_file` and idling (so that the pane
/// stays for capture).
fn docker_line(d: &TestDaemon, args: &str, code_file: &Path) -> String {
    format!(
        "env DOCKER_HOST={} DOCKER_CONFIG={} {} {args}; echo $? > {}; exec sleep 600",
        shell_quote(&format!("unix://{}", d.sock.display())),
        shell_quote(&d.dir.join("docker-config").to_string_lossy()),
        shell_quote(&docker_bin().to_string_lossy()),
        shell_quote(&code_file.to_string_lossy()),
    )
}

fn pouch_line(d: &TestDaemon, args: &str, code_file: &Path) -> String {
    format!(
        "env POUCH_HOST={} {} {args}; echo $? > {}; exec sleep 600",
        shell_quote(&format!("unix://{}", d.sock.display())),
        shell_quote(&pouch_bin().to_string_lossy()),
        shell_quote(&code_file.to_string_lossy()),
    )
}

#[track_caller]
fn wait_code(p: &Path) -> String {
    wait_for(
        &format!("exit code in {}", p.display()),
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(p)
                .ok()
                .filter(|s| s.ends_with('\n'))
                .map(|s| s.trim().to_string())
        },
    )
}

#[test]
fn run_it_shell_and_resize() {
    let Some(d) = TestDaemon::start() else { return };
    let code = d.dir.join("run.code");
    let Some(t) = Tmux::start(
        &d,
        100,
        30,
        &docker_line(&d, "run -it --name itx busybox sh", &code),
    ) else {
        return;
    };
    t.wait_text("main", "/ #");
    t.type_line("main", "echo $((40+2))");
    t.wait_line("main", "42");
    // The terminal size reached the container at start.
    t.type_line("main", "stty size");
    t.wait_line("main", "30 100");
    // And follows a resize of the terminal.
    t.ok(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    t.type_until("main", "stty size", "40 120");
    t.ok(&["resize-window", "-t", "main", "-x", "80", "-y", "24"]);
    t.type_until("main", "stty size", "24 80");
    // It is a terminal, with TERM set.
    t.type_line("main", "tty; echo term=$TERM");
    t.wait_line("main", "term=xterm");
    assert!(
        t.screen("main")
            .lines()
            .any(|l| l.trim().starts_with("/dev/pts/")),
        "{}",
        t.screen("main")
    );
    // Ctrl-C reaches the shell's foreground process, not the CLI.
    t.type_line("main", "sleep 1000");
    std::thread::sleep(Duration::from_millis(300));
    t.send("main", &["C-c"]);
    t.type_until("main", "echo still-$((1+1))", "still-2");
    assert!(!code.exists(), "the CLI exited on Ctrl-C");

    t.type_line("main", "exit 5");
    assert_eq!(wait_code(&code), "5");
    assert_eq!(
        d.inspect_field("itx", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 5"
    );
}

#[test]
fn detach_keys_then_attach() {
    let Some(d) = TestDaemon::start() else { return };
    let run_code = d.dir.join("run.code");
    let Some(t) = Tmux::start(
        &d,
        100,
        30,
        &docker_line(&d, "run -it --name att busybox sh", &run_code),
    ) else {
        return;
    };
    t.wait_text("main", "/ #");
    t.type_line("main", "echo $((40+2)) > /tmp/marker");
    t.type_line("main", "cat /tmp/marker");
    t.wait_line("main", "42");
    // Ctrl-P Ctrl-Q: the CLI exits, the container keeps running.
    t.send("main", &["C-p", "C-q"]);
    assert_eq!(wait_code(&run_code), "0");
    assert_eq!(d.inspect_field("att", "{{.State.Status}}"), "running");
    assert_eq!(d.docker_ok(&["exec", "att", "cat", "/tmp/marker"]), "42");

    // Attach again in another window: the same shell.
    let attach_code = d.dir.join("attach.code");
    t.ok(&[
        "new-window",
        "-t",
        "main",
        &docker_line(&d, "attach att", &attach_code),
    ]);
    let w = "main:1";
    t.type_until(w, "echo $((6*7))-attached", "42-attached");
    t.type_line(w, "exit 3");
    assert_eq!(wait_code(&attach_code), "3");
    wait_for("att to exit", Duration::from_secs(10), || {
        let s = d.inspect_field("att", "{{.State.Status}} {{.State.ExitCode}}");
        (s == "exited 3").then_some(())
    });
}

#[test]
fn pouch_run_it() {
    let Some(d) = TestDaemon::start() else { return };
    let code = d.dir.join("pouch.code");
    let Some(t) = Tmux::start(
        &d,
        90,
        25,
        &pouch_line(&d, "run -it --name pit busybox sh", &code),
    ) else {
        return;
    };
    t.wait_text("main", "/ #");
    t.type_line("main", "echo $((40+2))");
    t.wait_line("main", "42");
    t.type_line("main", "stty size");
    t.wait_line("main", "25 90");
    t.ok(&["resize-window", "-t", "main", "-x", "110", "-y", "35"]);
    t.type_until("main", "stty size", "35 110");
    t.type_line("main", "exit 4");
    assert_eq!(wait_code(&code), "4");
    assert_eq!(
        d.inspect_field("pit", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 4"
    );
}

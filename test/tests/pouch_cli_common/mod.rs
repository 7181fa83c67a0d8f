//! Helpers shared by the pouch CLI image tests: the CLI with a private
//! config file, and a real terminal (tmux) to run it in.
// Each test file uses a part of these.
#![allow(dead_code)]

use pouch_tests::{run_with_timeout, Output, TestDaemon};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The pouch CLI with its config file in the test's directory.
pub struct Pouch<'a> {
    pub d: &'a TestDaemon,
    pub config_dir: PathBuf,
}

impl<'a> Pouch<'a> {
    pub fn new(d: &'a TestDaemon) -> Self {
        Self {
            d,
            config_dir: d.dir.join("pouch-config"),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.d.pouch();
        c.env("POUCH_CONFIG", &self.config_dir).args(args);
        run_with_timeout(&mut c, stdin, Duration::from_secs(120))
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, None)
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "pouch {args:?} failed ({}): stdout {:?} stderr {:?}",
            o.status,
            o.stdout,
            o.stderr
        );
        o.stdout
    }
}

/// The non-empty lines of an output.
pub fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// `s` quoted for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell line running `pouch ARGS` against `d` with `p`'s config, then
/// writing its exit code to `code` and idling so the pane stays.
pub fn pouch_script(p: &Pouch, args: &[&str], code: &Path) -> String {
    let args: Vec<String> = args.iter().map(|a| sh_quote(a)).collect();
    format!(
        "env POUCH_HOST={} POUCH_CONFIG={} {} {}; echo $? > {}; exec sleep 600",
        sh_quote(&format!("unix://{}", p.d.sock.display())),
        sh_quote(&p.config_dir.to_string_lossy()),
        sh_quote(&pouch_tests::pouch_bin().to_string_lossy()),
        args.join(" "),
        sh_quote(&code.to_string_lossy()),
    )
}

/// The exit code a [`pouch_script`] wrote.
#[track_caller]
pub fn wait_code(code: &Path) -> String {
    pouch_tests::wait_for("the command to end", Duration::from_secs(60), || {
        std::fs::read_to_string(code)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .map(|s| s.trim().to_string())
    })
}

/// A tmux server of its own (socket under the test's directory), killed
/// on drop: a real terminal for the CLI.
pub struct Terminal {
    sock: PathBuf,
}

impl Terminal {
    pub fn tmux(&self, args: &[&str]) -> Output {
        run_with_timeout(
            std::process::Command::new("tmux")
                .args(["-f", "/dev/null", "-S"])
                .arg(&self.sock)
                .args(args)
                .env("TERM", "xterm"),
            None,
            Duration::from_secs(20),
        )
    }

    /// Runs `script` in a 120x40 terminal; `None` when tmux is missing.
    pub fn start(d: &TestDaemon, script: &str) -> Option<Terminal> {
        if std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_err()
        {
            eprintln!("!!!!!! SKIPPED: tmux is not installed !!!!!!");
            return None;
        }
        let t = Terminal {
            sock: d.dir.join("tmux-images.sock"),
        };
        let o = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "40",
            script,
        ]);
        assert!(o.status.success(), "tmux: {o:?}");
        Some(t)
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

//! The pouch CLI's registry commands against pouchd and a real registry:
//! push, pull (plain and on a terminal), login and logout.

mod pouch_cli_common;

use pouch_cli_common::{lines, pouch_script, sh_quote, wait_code, Pouch, Terminal};
use pouch_tests::registry::{Registry, PASSWORD, USER};
use pouch_tests::{Options, TestDaemon};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// `base64("tester:s3cret")`, as config.json keeps it.
const STORED_AUTH: &str = "dGVzdGVyOnMzY3JldA==";

/// A daemon told to reach the registry over plain HTTP.
fn daemon(reg: &Registry) -> Option<TestDaemon> {
    TestDaemon::start_with_args(Options::default(), &["--insecure-registries", &reg.host()])
}

#[test]
fn push_remove_pull_back_and_run() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else { return };
    let p = Pouch::new(&d);
    let repo = format!("{}/test/busybox", reg.host());
    let name = format!("{repo}:v1");
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    p.ok(&["tag", "busybox", &name]);

    let out = p.ok(&["push", &name]);
    assert!(
        out.contains(&format!("The push refers to repository [{repo}]")),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    let digest = out
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .expect("digest in push output")
        .to_string();
    assert!(digest.starts_with("sha256:"), "{out}");
    assert_eq!(p.ok(&["push", "-q", &name]), format!("{name}\n"));
    // Without a tag, `latest` is pushed, and docker says so first.
    p.ok(&["tag", "busybox", &repo]);
    let out = p.ok(&["image", "push", &repo]);
    assert!(out.starts_with("Using default tag: latest\n"), "{out}");

    p.ok(&["rmi", &name, &format!("{repo}:latest"), "busybox"]);
    assert_eq!(p.ok(&["images", "-q"]), "");
    // Let containerd's GC take the blobs, so the layer is downloaded.
    d.containerd_gc();

    // Not a terminal: plain lines, no byte-counting updates.
    let out = p.ok(&["pull", &name]);
    let ls = lines(&out);
    assert_eq!(ls[0], "v1: Pulling from test/busybox", "{out}");
    assert!(
        ls.iter()
            .any(|l| l.len() > 14 && l[12..].starts_with(": Pull complete")),
        "{out}"
    );
    assert!(!out.contains("Downloading"), "{out}");
    assert!(!out.contains('{') && !out.contains('\r'), "{out}");
    let n = ls.len();
    assert_eq!(ls[n - 3], format!("Digest: {digest}"), "{out}");
    assert_eq!(
        ls[n - 2],
        format!("Status: Downloaded newer image for {name}")
    );
    assert_eq!(ls[n - 1], name);
    assert_eq!(p.ok(&["image", "inspect", "-f", "{{.Id}}", &name]), id);
    assert_eq!(p.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");

    // Quiet: only the reference; again: up to date.
    assert_eq!(p.ok(&["pull", "-q", &name]), format!("{name}\n"));
    let out = p.ok(&["image", "pull", &name]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}")),
        "{out}"
    );

    // Errors in the stream or before it: non-zero, with the message.
    let o = p.run(&["pull", &format!("{repo}:nope")]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("not found"), "{o:?}");
    let o = p.run(&["pull", "Bad/Name"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("invalid reference format"), "{o:?}");
    let o = p.run(&["push", &format!("{}/test/not-local:v1", reg.host())]);
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(o.stderr.contains("does not exist locally"), "{o:?}");
}

#[test]
fn login_stores_credentials_that_pull_and_push_use() {
    let Some(reg) = Registry::start(true) else {
        return;
    };
    let Some(d) = daemon(&reg) else { return };
    let p = Pouch::new(&d);
    let host = reg.host();
    let name = format!("{host}/private/busybox:v1");
    p.ok(&["tag", "busybox", &name]);

    // Anonymous: refused.
    let o = p.run(&["push", &name]);
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(o.stderr.contains("unauthorized"), "{o:?}");

    let o = p.run(&["login", "-u", USER, "-p", "wrong", &host]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("Error response from daemon"), "{o:?}");
    assert!(!p.config_file().exists(), "a failed login wrote the config");
    let o = p.run_stdin(&["login", &host], Some(b""));
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("non TTY"), "{o:?}");

    let pw = format!("{PASSWORD}\n");
    let o = p.run_stdin(
        &["login", "-u", USER, "--password-stdin", &host],
        Some(pw.as_bytes()),
    );
    assert_eq!(o.ok(), "Login Succeeded\n", "{o:?}");
    let meta = std::fs::metadata(p.config_file()).expect("config written");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.config_file()).unwrap()).unwrap();
    assert_eq!(
        cfg,
        serde_json::json!({"auths": {host.clone(): {"auth": STORED_AUTH}}})
    );

    // Push and pull send the stored credentials.
    let out = p.ok(&["push", &name]);
    assert!(out.contains("digest: sha256:"), "{out}");
    p.ok(&["rmi", &name]);
    let out = p.ok(&["pull", &name]);
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert_eq!(
        p.ok(&["run", "--rm", &name, "echo", "private"]),
        "private\n"
    );

    assert_eq!(
        p.ok(&["logout", &host]),
        format!("Removing login credentials for {host}\n")
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.config_file()).unwrap()).unwrap();
    assert_eq!(cfg, serde_json::json!({"auths": {}}));
    assert_eq!(
        p.ok(&["logout", &host]),
        format!("Not logged in to {host}\n")
    );
    p.ok(&["rmi", &name]);
    let o = p.run(&["pull", &name]);
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(o.stderr.contains("unauthorized"), "{o:?}");
}

#[test]
fn pull_on_a_terminal_draws_one_live_line_per_layer() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else { return };
    let p = Pouch::new(&d);
    let name = format!("{}/test/tty:v1", reg.host());
    p.ok(&["tag", "busybox", &name]);
    p.ok(&["push", &name]);
    p.ok(&["rmi", &name, "busybox"]);
    d.containerd_gc();

    let code = d.dir.join("pull.code");
    let raw = d.dir.join("pull.raw");
    let script = pouch_script(&p, &["pull", &name], &code);
    // Start paused on a `read` so the raw output is recorded from the
    // first byte.
    let Some(t) = Terminal::start(&d, &format!("read go; {script}")) else {
        return;
    };
    let o = t.tmux(&[
        "pipe-pane",
        "-o",
        "-t",
        "t",
        &format!("cat > {}", sh_quote(&raw.to_string_lossy())),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = t.tmux(&["send-keys", "-t", "t", "Enter"]);
    assert!(o.status.success(), "{o:?}");
    let rc = wait_code(&code);
    let screen = t.screen();
    assert_eq!(rc, "0", "{screen}");
    assert!(screen.contains("v1: Pulling from test/tty"), "{screen}");
    assert!(
        screen.contains(&format!("Status: Downloaded newer image for {name}")),
        "{screen}"
    );
    // Each layer has one line, updated in place to its last state (a
    // plain listing has a line per status).
    let layer_lines: Vec<&str> = screen
        .lines()
        .filter(|l| {
            l.len() > 14
                && l.as_bytes()[12] == b':'
                && l[..12].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .collect();
    assert!(!layer_lines.is_empty(), "{screen}");
    for l in &layer_lines {
        assert!(l.contains("Pull complete"), "{screen}");
    }
    let mut ids: Vec<&str> = layer_lines.iter().map(|l| &l[..12]).collect();
    ids.dedup();
    assert_eq!(ids.len(), layer_lines.len(), "{screen}");
    // The lines were redrawn with terminal control sequences.
    let raw_out = std::fs::read(&raw).unwrap_or_default();
    assert!(
        raw_out.windows(2).any(|w| w == b"\x1b["),
        "no redraw in {:?}",
        String::from_utf8_lossy(&raw_out)
    );
}

#[test]
fn login_on_a_terminal_prompts_without_echoing_the_password() {
    let Some(reg) = Registry::start(true) else {
        return;
    };
    let Some(d) = daemon(&reg) else { return };
    let p = Pouch::new(&d);
    let host = reg.host();
    let code = d.dir.join("login.code");
    let script = pouch_script(&p, &["login", &host], &code);
    let Some(t) = Terminal::start(&d, &script) else {
        return;
    };
    let wait_screen = |want: &str| {
        pouch_tests::wait_for(want, Duration::from_secs(20), || {
            let s = t.screen();
            s.contains(want).then_some(s)
        })
    };
    wait_screen("Username:");
    let o = t.tmux(&["send-keys", "-t", "t", "-l", USER]);
    assert!(o.status.success(), "{o:?}");
    t.tmux(&["send-keys", "-t", "t", "Enter"]);
    wait_screen("Password:");
    let o = t.tmux(&["send-keys", "-t", "t", "-l", PASSWORD]);
    assert!(o.status.success(), "{o:?}");
    t.tmux(&["send-keys", "-t", "t", "Enter"]);
    let screen = wait_screen("Login Succeeded");
    assert!(screen.contains(&format!("Username: {USER}")), "{screen}");
    assert!(!screen.contains(PASSWORD), "password echoed: {screen}");
    let rc = wait_code(&code);
    assert_eq!(rc, "0", "{screen}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.config_file()).unwrap()).unwrap();
    assert_eq!(cfg["auths"][&host]["auth"], STORED_AUTH);
}

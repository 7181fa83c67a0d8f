//! The pouch CLI's image commands against pouchd: pull/push/login with a
//! real registry, save/load, import, commit, history, prune, images.

use pouch_tests::registry::{Registry, PASSWORD, USER};
use pouch_tests::{run_with_timeout, Options, Output, TestDaemon};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

/// `base64("tester:s3cret")`, as config.json keeps it.
const STORED_AUTH: &str = "dGVzdGVyOnMzY3JldA==";

/// The pouch CLI with its config file in the test's directory.
struct Pouch<'a> {
    d: &'a TestDaemon,
    config_dir: PathBuf,
}

impl<'a> Pouch<'a> {
    fn new(d: &'a TestDaemon) -> Self {
        Self {
            d,
            config_dir: d.dir.join("pouch-config"),
        }
    }

    fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }

    fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.d.pouch();
        c.env("POUCH_CONFIG", &self.config_dir).args(args);
        run_with_timeout(&mut c, stdin, Duration::from_secs(120))
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, None)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
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

/// A daemon told to reach the registry over plain HTTP.
fn daemon(reg: &Registry) -> Option<TestDaemon> {
    TestDaemon::start_with_args(Options::default(), &["--insecure-registries", &reg.host()])
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
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
fn images_filters_formats_and_inspect() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&["tag", "busybox", "my/box:v1"]);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = id.trim();
    let short = &id["sha256:".len().."sha256:".len() + 12];

    let out = p.ok(&["images"]);
    let ls = lines(&out);
    assert_eq!(
        ls[0].split_whitespace().collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert_eq!(ls.len(), 3, "{out}");
    assert!(ls
        .iter()
        .any(|l| l.starts_with("my/box ") && l.contains(short)));
    assert_eq!(p.ok(&["images", "-q"]), format!("{short}\n{short}\n"));
    assert_eq!(
        p.ok(&["image", "ls", "-q", "--no-trunc", "my/box"]),
        format!("{id}\n")
    );
    let out = p.ok(&[
        "images",
        "--filter",
        "reference=my/*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(out, "my/box:v1\n");
    let out = p.ok(&[
        "image",
        "list",
        "--digests",
        "--format",
        "table {{.Repository}}\t{{.Digest}}",
    ]);
    assert!(lines(&out)[0].contains("DIGEST"), "{out}");
    let o = p.run(&["images", "-f", "bogus"]);
    assert_ne!(o.code(), 0, "{o:?}");

    let out = p.ok(&["image", "inspect", "my/box:v1"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    assert_eq!(v[0]["Id"], id);
    let o = p.run(&["image", "inspect", "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such image: no-such-image"), "{o:?}");
    p.ok(&["image", "rm", "my/box:v1"]);
    assert_eq!(p.ok(&["images", "-q"]), format!("{short}\n"));
}

#[test]
fn save_then_load_restores_the_image() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    p.ok(&["tag", "busybox", "saved/box:v1"]);
    let file = d.dir.join("saved.tar");
    let f = file.to_str().unwrap();
    assert_eq!(p.ok(&["save", "-o", f, "saved/box:v1"]), "");
    let listing = run_with_timeout(
        std::process::Command::new("tar").arg("-tf").arg(&file),
        None,
        Duration::from_secs(30),
    );
    assert!(listing.ok().contains("manifest.json"), "{listing:?}");

    // To stdout when it is not a terminal.
    let o = p.run(&["image", "save", "busybox"]);
    assert!(o.status.success(), "{:?}", o.stderr);
    assert!(o.stdout.len() > 1024, "tiny tar on stdout");

    p.ok(&["rmi", "saved/box:v1", "busybox"]);
    let out = p.ok(&["load", "-i", f]);
    assert!(out.contains("Loaded image: saved/box:v1"), "{out}");
    assert_eq!(
        p.ok(&["image", "inspect", "-f", "{{.Id}}", "saved/box:v1"]),
        id
    );
    assert_eq!(
        p.ok(&["run", "--rm", "saved/box:v1", "echo", "back"]),
        "back\n"
    );
    assert_eq!(
        p.ok(&["image", "load", "-q", "-i", f]),
        "Loaded image: saved/box:v1\n"
    );

    let o = p.run(&["save", "-o", f, "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("no-such-image"), "{o:?}");
    // The earlier archive is intact: a failed save leaves no partial file.
    assert_eq!(
        p.ok(&["load", "-q", "-i", f]),
        "Loaded image: saved/box:v1\n"
    );
}

#[test]
fn commit_then_history_shows_the_new_step() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo committed > /data.txt",
    ]);
    let out = p.ok(&[
        "commit",
        "-a",
        "Tester <t@example.com>",
        "-m",
        "add data",
        "-c",
        "ENV GREETING=hello",
        "c1",
        "committed/box:v1",
    ]);
    let new_id = out.trim();
    assert!(new_id.starts_with("sha256:"), "{out}");
    assert_eq!(
        p.ok(&["image", "inspect", "-f", "{{.Id}}", "committed/box:v1"])
            .trim(),
        new_id
    );
    assert_eq!(
        p.ok(&[
            "run",
            "--rm",
            "committed/box:v1",
            "sh",
            "-c",
            "cat /data.txt; echo $GREETING"
        ]),
        "committed\nhello\n"
    );

    let out = p.ok(&["history", "committed/box:v1"]);
    let ls = lines(&out);
    assert_eq!(
        ls[0].split_whitespace().collect::<Vec<_>>(),
        ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    );
    assert!(
        ls[1].starts_with(&new_id["sha256:".len().."sha256:".len() + 12]),
        "{out}"
    );
    assert!(ls[1].trim_end().ends_with("add data"), "{out}");
    let busybox_steps = lines(&p.ok(&["history", "-q", "busybox"])).len();
    assert_eq!(ls.len() - 1, busybox_steps + 1, "{out}");
    let ids = p.ok(&["image", "history", "-q", "--no-trunc", "committed/box:v1"]);
    assert_eq!(lines(&ids)[0], new_id);
    let sizes = p.ok(&[
        "history",
        "--human=false",
        "--format",
        "{{.Size}}",
        "committed/box:v1",
    ]);
    assert!(
        lines(&sizes).iter().all(|s| s.parse::<i64>().is_ok()),
        "{sizes}"
    );
    let o = p.run(&["history", "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = p.run(&["commit", "no-such-container"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
}

#[test]
fn import_a_rootfs_from_a_file_and_stdin() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&["create", "--name", "src", "busybox"]);
    let rootfs = d.dir.join("rootfs.tar");
    let r = rootfs.to_str().unwrap();
    p.ok(&["export", "-o", r, "src"]);

    let out = p.ok(&[
        "import",
        "-c",
        "CMD [\"echo\", \"imported\"]",
        "-m",
        "from a file",
        r,
        "imported/box:v1",
    ]);
    let id = lines(&out).last().copied().unwrap_or_default().to_string();
    assert!(id.starts_with("sha256:"), "{out}");
    assert_eq!(
        p.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Comment}}",
            "imported/box:v1"
        ])
        .trim(),
        format!("{id} from a file")
    );
    assert_eq!(p.ok(&["run", "--rm", "imported/box:v1"]), "imported\n");

    let tar = std::fs::read(&rootfs).unwrap();
    let o = p.run_stdin(&["image", "import", "-", "imported/stdin"], Some(&tar));
    assert!(o.ok().trim().starts_with("sha256:"), "{o:?}");
    let sum = |image: &str| p.ok(&["run", "--rm", image, "md5sum", "/bin/busybox"]);
    assert_eq!(sum("imported/stdin"), sum("busybox"));

    let o = p.run(&["import", "/no/such.tar"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("no such file or directory"), "{o:?}");
}

#[test]
fn prune_asks_first_and_keeps_images_in_use() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = id.trim();

    // "n" (or anything but y) keeps everything.
    let o = p.run_stdin(&["image", "prune", "-a"], Some(b"n\n"));
    let out = o.ok();
    assert!(
        out.starts_with("WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "),
        "{out}"
    );
    assert!(out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(p.ok(&["images", "-q", "--no-trunc"]).trim(), id);

    // Nothing dangling: nothing to remove.
    assert_eq!(
        p.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );

    // In use by a container: kept even with -a.
    p.ok(&["create", "--name", "user", "busybox"]);
    p.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(p.ok(&["images", "-q", "--no-trunc"]).trim(), id);

    p.ok(&["rm", "user"]);
    let o = p.run_stdin(&["image", "prune", "-a"], Some(b"y\n"));
    let out = o.ok();
    assert!(
        out.contains("Deleted Images:\nuntagged: busybox:latest\n"),
        "{out}"
    );
    assert!(out.contains(&format!("deleted: {id}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert!(!out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(p.ok(&["images", "-q"]), "");
}

/// A tmux server of its own (socket under the test's directory), killed
/// on drop: a real terminal for the CLI.
struct Terminal {
    sock: PathBuf,
}

impl Terminal {
    fn tmux(&self, args: &[&str]) -> Output {
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
    fn start(d: &TestDaemon, script: &str) -> Option<Terminal> {
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

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
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
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let script = format!(
        "env POUCH_HOST={} POUCH_CONFIG={} {} pull {}; echo $? > {}; exec sleep 600",
        q(&format!("unix://{}", d.sock.display())),
        q(&p.config_dir.to_string_lossy()),
        q(&pouch_tests::pouch_bin().to_string_lossy()),
        q(&name),
        q(&code.to_string_lossy()),
    );
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
        &format!("cat > {}", q(&raw.to_string_lossy())),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = t.tmux(&["send-keys", "-t", "t", "Enter"]);
    assert!(o.status.success(), "{o:?}");
    let rc = pouch_tests::wait_for("the pull to end", Duration::from_secs(60), || {
        std::fs::read_to_string(&code)
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    let screen = t.screen();
    assert_eq!(rc.trim(), "0", "{screen}");
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
fn save_refuses_to_write_a_tar_to_a_terminal() {
    let Some(d) = TestDaemon::start() else { return };
    let code = d.dir.join("save.code");
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let script = format!(
        "env POUCH_HOST={} {} save busybox; echo $? > {}; exec sleep 600",
        q(&format!("unix://{}", d.sock.display())),
        q(&pouch_tests::pouch_bin().to_string_lossy()),
        q(&code.to_string_lossy()),
    );
    let Some(t) = Terminal::start(&d, &script) else {
        return;
    };
    let rc = pouch_tests::wait_for("save to end", Duration::from_secs(30), || {
        std::fs::read_to_string(&code)
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    let screen = t.screen();
    assert_eq!(rc.trim(), "1", "{screen}");
    assert!(
        screen.contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
        "{screen}"
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
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let script = format!(
        "env POUCH_HOST={} POUCH_CONFIG={} {} login {}; echo $? > {}; exec sleep 600",
        q(&format!("unix://{}", d.sock.display())),
        q(&p.config_dir.to_string_lossy()),
        q(&pouch_tests::pouch_bin().to_string_lossy()),
        q(&host),
        q(&code.to_string_lossy()),
    );
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
    let rc = pouch_tests::wait_for("login to end", Duration::from_secs(20), || {
        std::fs::read_to_string(&code)
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(rc.trim(), "0", "{screen}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.config_file()).unwrap()).unwrap();
    assert_eq!(cfg["auths"][&host]["auth"], STORED_AUTH);
}

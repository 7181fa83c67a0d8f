//! Registry settings of the daemon against real registries: per-registry
//! CAs (`--registry-certs-dir`, Docker's certs.d layout) with an htpasswd
//! HTTPS registry, `--registry-mirrors` for Docker Hub, and the
//! `RepoDigests` pulls and pushes leave, across a daemon restart.

use pouch_tests::registry::Registry;
use pouch_tests::{Options, TestDaemon};
use std::process::Command;

fn inspect(d: &TestDaemon, name: &str) -> serde_json::Value {
    d.get_ok(&format!("/v1.41/images/{name}/json")).json()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Makes the docker CLI of `d` send `user:password` to `host`, as a
/// `docker login` would have stored them.
fn store_credentials(d: &TestDaemon, host: &str, user: &str, password: &str) {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(format!("{user}:{password}").as_bytes())?;
            c.wait_with_output()
        })
        .expect("base64");
    let auth = String::from_utf8(out.stdout).expect("base64 output");
    let dir = d.dir.join("docker-config");
    std::fs::create_dir_all(&dir).expect("docker config dir");
    let cfg = serde_json::json!({"auths": {host: {"auth": auth}}});
    std::fs::write(dir.join("config.json"), cfg.to_string()).expect("write config.json");
}

#[test]
fn an_https_registry_needs_its_ca_and_the_right_password() {
    let Some(reg) = Registry::start_tls(true) else {
        return;
    };
    let certs = tempfile::Builder::new()
        .prefix("pouch-test-certs-")
        .tempdir_in("/tmp")
        .expect("certs dir");
    let certs_arg = certs.path().to_string_lossy().to_string();
    let Some(d) =
        TestDaemon::start_with_args(Options::default(), &["--registry-certs-dir", &certs_arg])
    else {
        return;
    };
    let d = &d;
    let host = reg.host();
    let name = format!("{host}/private/busybox:v1");

    // Without the CA: a clear x509 error, for login, push and pull.
    let o = d.docker_run(&["login", "-u", "tester", "-p", "s3cret", &host]);
    let err = o.failed();
    assert!(
        err.contains("x509: certificate signed by unknown authority"),
        "{err}"
    );
    assert!(err.contains(&format!("{host}/ca.crt")), "{err}");
    store_credentials(d, &host, "tester", "s3cret");
    let o = d.docker_run(&["pull", &name]);
    assert!(
        o.failed()
            .contains("x509: certificate signed by unknown authority"),
        "{}",
        o.stderr
    );
    d.docker_ok(&["tag", "busybox", &name]);
    let o = d.docker_run(&["push", &name]);
    assert!(o.failed().contains("x509"), "{}", o.stderr);

    // With it (read at each operation, no restart needed).
    let ca_dir = certs.path().join(&host);
    std::fs::create_dir_all(&ca_dir).expect("ca dir");
    std::fs::copy(reg.ca_cert(), ca_dir.join("ca.crt")).expect("copy ca");
    let o = d.docker_ok(&["login", "-u", "tester", "-p", "s3cret", &host]);
    assert!(o.contains("Login Succeeded"), "{o}");
    let out = d.docker_ok(&["push", &name]);
    assert!(out.contains("digest: sha256:"), "{out}");
    d.docker_ok(&["rmi", &name]);
    let out = d.docker_ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let out = d.docker_ok(&["run", "--rm", &name, "echo", "over tls"]);
    assert_eq!(out.trim(), "over tls");

    // A wrong password: refused in the registry's words.
    d.docker_ok(&["rmi", &name]);
    store_credentials(d, &host, "tester", "wrong");
    let o = d.docker_run(&["pull", &name]);
    assert!(
        o.failed().contains("incorrect username or password"),
        "{}",
        o.stderr
    );
    let o = d.docker_run(&["login", "-u", "tester", "-p", "wrong", &host]);
    assert!(o.failed().contains("401"), "{}", o.stderr);
    let images = d.get_ok("/v1.41/images/json").json();
    assert!(!images.to_string().contains("private/busybox"), "{images}");
}

#[test]
fn docker_hub_pulls_go_through_the_mirror() {
    let Some(mirror) = Registry::start(false) else {
        return;
    };
    let url = format!("http://{}", mirror.host());
    let Some(d) = TestDaemon::start_with_args(Options::default(), &["--registry-mirrors", &url])
    else {
        return;
    };
    let d = &d;
    let in_mirror = format!("{}/library/busybox:latest", mirror.host());
    d.docker_ok(&["tag", "busybox", &in_mirror]);
    d.docker_ok(&["push", &in_mirror]);
    d.docker_ok(&["rmi", "busybox", &in_mirror]);
    assert!(d.docker_run(&["image", "inspect", "busybox"]).status.code() != Some(0));

    // No internet here: the image can only come from the mirror.
    let out = d.docker_ok(&["pull", "busybox"]);
    assert!(
        out.contains("Status: Downloaded newer image for busybox:latest"),
        "{out}"
    );
    let img = inspect(d, "busybox");
    assert_eq!(
        strings(&img["RepoTags"]),
        vec!["busybox:latest".to_string()]
    );
    let digests = strings(&img["RepoDigests"]);
    assert!(
        digests.len() == 1 && digests[0].starts_with("busybox@sha256:"),
        "{digests:?}"
    );
    let out = d.docker_ok(&["run", "--rm", "busybox", "echo", "mirrored"]);
    assert_eq!(out.trim(), "mirrored");
}

#[test]
fn pulls_and_pushes_leave_repo_digests_like_docker() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(mut d) = TestDaemon::start_with_args(Options::default(), &[]) else {
        return;
    };
    let host = reg.host();
    let repo = format!("{host}/test/busybox");
    let name = format!("{repo}:v1");
    d.docker_ok(&["tag", "busybox", &name]);
    let out = d.docker_ok(&["push", &name]);
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("digest in push output")
        .to_string();
    let by_digest = format!("{repo}@{digest}");
    assert_eq!(
        strings(&inspect(&d, &name)["RepoDigests"]),
        vec![by_digest.clone()]
    );

    d.docker_ok(&["rmi", &name]);
    // Removing the repository's last tag took the digest along.
    assert!(
        d.docker_run(&["image", "inspect", &by_digest])
            .status
            .code()
            != Some(0)
    );
    let out = d.docker_ok(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        strings(&inspect(&d, &name)["RepoDigests"]),
        vec![by_digest.clone()]
    );
    let listed = d.docker_ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
        &repo,
    ]);
    assert_eq!(listed.trim(), format!("{repo} v1 {digest}"));

    d.restart();
    assert_eq!(
        strings(&inspect(&d, &name)["RepoDigests"]),
        vec![by_digest.clone()]
    );
    let out = d.docker_ok(&["run", "--rm", &by_digest, "echo", "by digest"]);
    assert_eq!(out.trim(), "by digest");

    // Untagging the digest keeps the tag.
    let out = d.docker_ok(&["rmi", &by_digest]);
    assert!(out.contains(&format!("Untagged: {by_digest}")), "{out}");
    let img = inspect(&d, &name);
    assert!(strings(&img["RepoDigests"]).is_empty(), "{img}");
    assert!(strings(&img["RepoTags"]).contains(&name), "{img}");

    // Pulled by digest: listed with the digest, without a tag.
    d.docker_ok(&["rmi", &name]);
    let out = d.docker_ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let img = inspect(&d, &by_digest);
    assert_eq!(strings(&img["RepoDigests"]), vec![by_digest.clone()]);
    // (It is the loaded busybox, which keeps its own tag.)
    assert_eq!(
        strings(&img["RepoTags"]),
        vec!["busybox:latest".to_string()]
    );
}

//! Security options: the default seccomp profile, `seccomp=unconfined`,
//! profiles of one's own, and refusal of options Docker does not know.

use pouch_tests::TestDaemon;

/// The `Seccomp:` mode of a process in the container (0 none, 2 filter).
fn seccomp_mode(status: &str) -> &str {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
        .unwrap_or("<missing>")
}

#[test]
fn containers_and_execs_run_under_the_default_seccomp_filter() {
    let Some(d) = TestDaemon::start() else { return };
    let out = d.docker_ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&out), "2", "{out}");
    d.docker_ok(&["run", "-d", "--name", "sec1", "busybox", "sleep", "300"]);
    let out = d.docker_ok(&["exec", "sec1", "cat", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&out), "2", "exec: {out}");
    // Namespaces cannot be made without CAP_SYS_ADMIN (the filter refuses
    // the clone flags before the capability check would).
    let o = d.docker_run(&["exec", "sec1", "unshare", "-n", "true"]);
    assert_ne!(o.code(), 0, "{o:?}");

    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert_eq!(seccomp_mode(&out), "0", "{out}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert_eq!(seccomp_mode(&out), "0", "privileged: {out}");
}

#[test]
fn a_profile_of_ones_own_applies() {
    let Some(d) = TestDaemon::start() else { return };
    let profile = d.dir.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .expect("write profile");
    let opt = format!("seccomp={}", profile.display());
    let o = d.docker_run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "touch /made && mkdir /dir",
    ]);
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(o.stderr.contains("Operation not permitted"), "{o:?}");
    // The same command without the profile works.
    d.docker_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "touch /made && mkdir /dir",
    ]);
}

#[test]
fn unknown_or_broken_security_options_are_400() {
    let Some(d) = TestDaemon::start() else { return };
    // The docker CLI reads a profile file, checks it is JSON and sends it.
    let broken = d.dir.join("broken.json");
    std::fs::write(&broken, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).expect("write profile");
    let broken = format!("seccomp={}", broken.display());
    for opt in ["bogus=1", &broken, "no-new-privileges=maybe"] {
        let o = d.docker_run(&["create", "--security-opt", opt, "busybox"]);
        assert_ne!(o.code(), 0, "{opt}: {o:?}");
        assert!(o.stderr.contains("Invalid --security-opt"), "{opt}: {o:?}");
    }
    let body = serde_json::json!({
        "Image": "busybox",
        "HostConfig": {"SecurityOpt": ["seccomp={\"defaultAction\":1}"]}
    });
    let r = d.post_json("/v1.41/containers/create", &body);
    r.expect_error(400);
}

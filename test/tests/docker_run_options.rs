//! `docker run` options through the docker 20.10 CLI against pouchd:
//! restart policies, stop signals and timeouts, bind mounts, the host and
//! none networks, memory limits, users, working dir, env, entrypoint and
//! hostname.

use pouch_tests::waits::{sorted_lines, wait_until_exists};
use pouch_tests::{wait_for, TestDaemon};
use std::time::{Duration, Instant};

#[test]
fn restart_policy_always() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    assert_eq!(
        d.inspect_field(&id, "{{.HostConfig.RestartPolicy.Name}}"),
        "always"
    );
    wait_for("RestartCount >= 3", Duration::from_secs(20), || {
        let n: u32 = d.inspect_field(&id, "{{.RestartCount}}").parse().ok()?;
        (n >= 3).then_some(())
    });
    // A container that keeps restarting can be removed.
    d.docker_ok(&["rm", "-f", &id]);
    d.docker_run(&["inspect", &id]).failed();
}

#[test]
fn restart_policy_on_failure_max() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    let fmt = "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}";
    d.wait_docker_inspect(&id, fmt, "exited 2 1", Duration::from_secs(20));
    // And it stays there (the next back-off would be 400 ms).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(d.inspect_field(&id, fmt), "exited 2 1");

    // on-failure does not restart a clean exit.
    let id = d.docker_ok(&["run", "-d", "--restart", "on-failure", "busybox", "true"]);
    d.wait_docker_inspect(&id, fmt, "exited 0 0", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.inspect_field(&id, fmt), "exited 0 0");
}

#[test]
fn stop_runs_the_term_trap() {
    let Some(d) = TestDaemon::start() else { return };
    let sync = d.sync_dir();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        "-v",
        &format!("{}:/sync", sync.display()),
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; touch /sync/ready; while true; do sleep 0.1; done",
    ]);
    wait_until_exists(&sync.join("ready"));
    let start = Instant::now();
    d.docker_ok(&["stop", "trap"]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(
        d.inspect_field("trap", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    // stop of a stopped container is fine for the CLI (304).
    d.docker_ok(&["stop", "trap"]);
}

#[test]
fn stop_kills_after_timeout() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    let start = Instant::now();
    d.docker_ok(&["stop", "-t", "1", "sleeper"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "stop -t 1 took {took:?}"
    );
    assert_eq!(
        d.inspect_field("sleeper", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
}

#[test]
fn bind_mount_rw_and_ro() {
    let Some(d) = TestDaemon::start() else { return };
    let vol = d.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let vol_s = vol.to_string_lossy().to_string();
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol_s}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/f",
    ]);
    assert_eq!(std::fs::read_to_string(vol.join("f")).unwrap(), "hello\n");

    std::fs::write(vol.join("from-host"), "host data\n").unwrap();
    let o = d.docker_run(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol_s}:/data:ro"),
        "busybox",
        "sh",
        "-c",
        "cat /data/from-host; echo x > /data/g",
    ]);
    assert_eq!(o.stdout, "host data\n", "stderr {:?}", o.stderr);
    assert_ne!(o.code(), 0, "write to a :ro mount succeeded");
    assert!(
        o.stderr.contains("Read-only file system"),
        "stderr {:?}",
        o.stderr
    );
    assert!(!vol.join("g").exists());
}

fn host_interface() -> String {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .find(|n| n != "lo")
        .expect("the host has a non-loopback interface")
}

fn interfaces(net_dev: &str) -> Vec<String> {
    let mut v: Vec<String> = net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v
}

#[test]
fn network_host_default_none() {
    let Some(d) = TestDaemon::start() else { return };
    let ifname = host_interface();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert!(
        interfaces(&out).contains(&ifname),
        "host interface {ifname} not seen with --net host: {out}"
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert_eq!(interfaces(&out), ["lo"], "{out}");
    let out = d.docker_ok(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]);
    assert!(
        !interfaces(&out).contains(&ifname),
        "default network sees the host's {ifname}: {out}"
    );
    assert!(interfaces(&out).contains(&"lo".to_string()), "{out}");
}

#[test]
fn memory_limit() {
    let Some(d) = TestDaemon::start() else { return };
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "busybox",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(out, "67108864");
    let id = d.docker_ok(&["run", "-d", "-m", "64m", "busybox", "sleep", "1000"]);
    assert_eq!(d.inspect_field(&id, "{{.HostConfig.Memory}}"), "67108864");
    let host = format!("/sys/fs/cgroup/memory/{}/{id}/memory.limit_in_bytes", d.ns);
    let v = std::fs::read_to_string(&host).unwrap_or_else(|e| panic!("{host}: {e}"));
    assert_eq!(v.trim(), "67108864");
}

#[test]
fn user_option() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-u", "pouchtest", "busybox", "id", "-u"]),
        "1000"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-u", "pouchtest", "busybox", "id", "-g"]),
        "1000"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-u", "nobody", "busybox", "id", "-un"]),
        "nobody"
    );
    let id = d.docker_ok(&["run", "--rm", "-u", "1234:5678", "busybox", "id"]);
    assert!(id.starts_with("uid=1234 gid=5678"), "{id:?}");
    assert_eq!(d.docker_ok(&["run", "--rm", "busybox", "id", "-u"]), "0");
    d.docker_run(&["run", "--rm", "-u", "no-such-user", "busybox", "id"])
        .failed();
}

#[test]
fn workdir_env_entrypoint() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-w", "/tmp", "busybox", "pwd"]),
        "/tmp"
    );
    let env = d.docker_ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "busybox",
        "env",
    ]);
    let env = sorted_lines(&env);
    assert!(env.contains(&"A=1".to_string()), "{env:?}");
    assert!(env.contains(&"B=two words".to_string()), "{env:?}");
    assert!(env.iter().any(|l| l.starts_with("PATH=")), "{env:?}");
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "via",
            "entrypoint"
        ]),
        "via entrypoint"
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            "busybox",
            "-c",
            "echo $0"
        ]),
        "/bin/sh"
    );
}

#[test]
fn workdir_is_created() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-w", "/new/dir", "busybox", "pwd"]),
        "/new/dir"
    );
}

#[test]
fn hostname_and_hosts() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["create", "busybox", "hostname"]);
    let o = d.docker_run(&["start", "-a", &id]);
    assert_eq!(o.ok().trim(), &id[..12]);
    let hosts = d.docker_ok(&["run", "--rm", "busybox", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("127.0.0.1") && l.contains("localhost")),
        "{hosts}"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-h", "myhost", "busybox", "hostname"]),
        "myhost"
    );
}

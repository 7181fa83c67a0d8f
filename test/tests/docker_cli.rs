//! The docker 20.10 CLI (`$POUCH_TEST_DOCKER_BIN`) against pouchd.

use pouch_tests::{wait_for, TestDaemon};
use std::time::{Duration, Instant};

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Waits until `docker inspect -f FORMAT name` prints `want`.
#[track_caller]
fn wait_inspect(d: &TestDaemon, name: &str, format: &str, want: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let o = d.docker_run(&["inspect", "-f", format, name]);
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

/// Waits until a file exists (containers signal readiness through a bind mount).
#[track_caller]
fn wait_file(p: &std::path::Path) {
    wait_for(&format!("{}", p.display()), Duration::from_secs(20), || {
        p.exists().then_some(())
    });
}

#[test]
fn run_rm_echo_hi() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_run(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(o.ok(), "hi\n", "stderr: {}", o.stderr);
    wait_for("the --rm container to go", Duration::from_secs(10), || {
        d.docker_ok(&["ps", "-a", "-q"]).is_empty().then_some(())
    });
}

#[test]
fn run_propagates_exit_code() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_run(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(o.code(), 3, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
    let o = d.docker_run(&["run", "--rm", "busybox", "true"]);
    assert_eq!(o.code(), 0, "stderr {:?}", o.stderr);
    let o = d.docker_run(&["run", "--rm", "busybox", "false"]);
    assert_eq!(o.code(), 1, "stderr {:?}", o.stderr);
}

#[test]
fn run_missing_command_is_127() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_run(&["run", "--name", "nocmd", "busybox", "/no/such/binary"]);
    assert_eq!(o.code(), 127, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("/no/such/binary"),
        "the error should name the command: {:?}",
        o.stderr
    );
    // Not on PATH either.
    let o = d.docker_run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(o.code(), 127, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
}

#[test]
fn run_stderr_reaches_stderr() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    assert_eq!(o.ok(), "to-out\n");
    assert!(o.stderr.contains("to-err"), "stderr: {:?}", o.stderr);
    assert!(!o.stdout.contains("to-err"));
}

#[test]
fn run_interactive_stdin_eof() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_stdin(&["run", "-i", "--rm", "busybox", "cat"], b"data\n");
    assert_eq!(o.ok(), "data\n", "stderr {:?}", o.stderr);
    // Several lines, and a command that only ends at EOF.
    let o = d.docker_stdin(&["run", "-i", "--rm", "busybox", "wc", "-l"], b"a\nb\nc\n");
    assert_eq!(o.ok().trim(), "3");
}

#[test]
fn container_lifecycle() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["create", "--name", "life", "busybox", "sleep", "1000"]);
    assert!(is_full_id(&id), "create printed {id:?}");
    assert_eq!(d.inspect_field("life", "{{.State.Status}}"), "created");
    assert_eq!(d.inspect_field("life", "{{.Id}}"), id);

    assert_eq!(d.docker_ok(&["start", "life"]), "life");
    assert_eq!(d.inspect_field("life", "{{.State.Status}}"), "running");
    assert_eq!(d.inspect_field("life", "{{.State.Running}}"), "true");
    let pid: u32 = d.inspect_field("life", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);

    d.docker_ok(&["pause", "life"]);
    assert_eq!(d.inspect_field("life", "{{.State.Status}}"), "paused");
    assert_eq!(d.inspect_field("life", "{{.State.Paused}}"), "true");
    d.docker_ok(&["unpause", "life"]);
    assert_eq!(d.inspect_field("life", "{{.State.Status}}"), "running");
    assert_eq!(d.inspect_field("life", "{{.State.Paused}}"), "false");

    d.docker_ok(&["stop", "-t", "1", "life"]);
    assert_eq!(
        d.inspect_field("life", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );

    d.docker_ok(&["restart", "-t", "1", "life"]);
    assert_eq!(d.inspect_field("life", "{{.State.Status}}"), "running");
    let pid2: u32 = d.inspect_field("life", "{{.State.Pid}}").parse().unwrap();
    assert!(pid2 > 0 && pid2 != pid, "restart kept pid {pid}");
    // restart of a running container stops it first.
    d.docker_ok(&["restart", "-t", "1", "life"]);
    let pid3: u32 = d.inspect_field("life", "{{.State.Pid}}").parse().unwrap();
    assert!(pid3 > 0 && pid3 != pid2, "restart kept pid {pid2}");

    d.docker_ok(&["kill", "life"]);
    wait_inspect(
        &d,
        "life",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 137",
        Duration::from_secs(10),
    );

    assert_eq!(d.docker_ok(&["rm", "life"]), "life");
    let o = d.docker_run(&["inspect", "life"]);
    o.failed();
    assert!(
        o.stderr.to_lowercase().contains("no such"),
        "stderr {:?}",
        o.stderr
    );
    assert_eq!(d.docker_ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn kill_with_signal_and_rm_force() {
    let Some(d) = TestDaemon::start() else { return };
    let sync = d.sync_dir();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "killme",
        "-v",
        &format!("{}:/sync", sync.display()),
        "busybox",
        "sh",
        "-c",
        "trap 'exit 12' USR1; touch /sync/ready; while true; do sleep 0.1; done",
    ]);
    wait_file(&sync.join("ready"));
    d.docker_ok(&["kill", "-s", "USR1", "killme"]);
    wait_inspect(
        &d,
        "killme",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 12",
        Duration::from_secs(10),
    );
    // rm -f of a running container.
    d.docker_ok(&["run", "-d", "--name", "forced", "busybox", "sleep", "1000"]);
    assert_eq!(d.docker_ok(&["rm", "-f", "forced"]), "forced");
    d.docker_run(&["inspect", "forced"]).failed();
}

#[test]
fn ps_listing_and_filters() {
    let Some(d) = TestDaemon::start() else { return };
    let run_id = d.docker_ok(&[
        "run", "-d", "--name", "r1", "--label", "a=b", "busybox", "sleep", "1000",
    ]);
    let exited_id = d.docker_ok(&[
        "run", "-d", "--name", "e1", "--label", "a=c", "busybox", "sh", "-c", "exit 2",
    ]);
    let created_id = d.docker_ok(&[
        "create", "--name", "c1", "--label", "a=b", "busybox", "true",
    ]);
    wait_inspect(
        &d,
        "e1",
        "{{.State.Status}}",
        "exited",
        Duration::from_secs(10),
    );

    let names = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        sorted_lines(&d.docker_ok(&a))
    };
    assert_eq!(names(&[]), ["r1"]);
    assert_eq!(names(&["-a"]), ["c1", "e1", "r1"]);
    assert_eq!(d.docker_ok(&["ps", "-q"]), run_id[..12]);
    assert_eq!(
        sorted_lines(&d.docker_ok(&["ps", "-a", "-q", "--no-trunc"])),
        sorted_lines(&format!("{run_id}\n{exited_id}\n{created_id}"))
    );
    assert_eq!(names(&["--filter", "status=exited"]), ["e1"]);
    assert_eq!(names(&["-a", "--filter", "status=created"]), ["c1"]);
    assert_eq!(names(&["-a", "--filter", "label=a=b"]), ["c1", "r1"]);
    assert_eq!(names(&["--filter", "label=a=b"]), ["r1"]);
    assert_eq!(names(&["-a", "--filter", "label=a"]), ["c1", "e1", "r1"]);
    assert_eq!(names(&["-a", "--filter", "exited=2"]), ["e1"]);
    assert_eq!(names(&["-a", "--filter", "name=e1"]), ["e1"]);
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &created_id[..10])]),
        ["c1"]
    );
    assert_eq!(
        names(&["-a", "--filter", "ancestor=busybox"]),
        ["c1", "e1", "r1"]
    );
    // Newest first, and -n limits.
    assert_eq!(
        d.docker_ok(&["ps", "-n", "1", "--format", "{{.Names}}"]),
        "c1"
    );
    assert_eq!(
        d.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Image}}"])
            .lines()
            .next()
            .unwrap_or_default(),
        "c1 busybox"
    );
    // A bad filter is refused.
    let o = d.docker_run(&["ps", "--filter", "status=sleeping"]);
    o.failed();
}

#[test]
fn logs_tail_and_timestamps() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.docker_run(&[
        "run",
        "--name",
        "logs1",
        "busybox",
        "sh",
        "-c",
        // stdout and stderr are separate pipes, copied independently: only
        // writes apart in time have a defined order in the log.
        "echo one; echo two; sleep 0.2; echo oops >&2; sleep 0.2; echo three",
    ]);
    assert_eq!(o.ok(), "one\ntwo\nthree\n");
    let o = d.docker_run(&["logs", "logs1"]);
    assert_eq!(o.ok(), "one\ntwo\nthree\n");
    assert_eq!(o.stderr, "oops\n");
    let o = d.docker_run(&["logs", "--tail", "1", "logs1"]);
    assert_eq!(o.ok(), "three\n");
    assert_eq!(o.stderr, "", "the last line is on stdout");
    let o = d.docker_run(&["logs", "--tail", "2", "logs1"]);
    assert_eq!(o.ok(), "three\n");
    assert_eq!(o.stderr, "oops\n");
    let o = d.docker_run(&["logs", "-t", "logs1"]);
    let lines: Vec<&str> = o.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{:?}", o.stdout);
    for (line, want) in lines.iter().zip(["one", "two", "three"]) {
        let (ts, text) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("no timestamp: {line:?}"));
        assert_eq!(text, want);
        let b = ts.as_bytes();
        assert!(
            ts.len() >= 20
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && b[10] == b'T'
                && ts.ends_with('Z'),
            "not an RFC 3339 UTC timestamp: {ts:?}"
        );
    }
    // logs -f of an exited container ends.
    let o = d.docker_run(&["logs", "-f", "logs1"]);
    assert_eq!(o.ok(), "one\ntwo\nthree\n");
}

#[test]
fn logs_since_and_until_cut_at_logged_times() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "--name",
        "logs2",
        "busybox",
        "sh",
        "-c",
        "echo early; sleep 1.1; echo late",
    ]);
    let o = d.docker_run(&["logs", "-t", "logs2"]);
    let stamps: Vec<String> = o
        .ok()
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(ts, _)| ts.to_string()))
        .collect();
    assert_eq!(stamps.len(), 2, "{:?}", o.stdout);
    // since is inclusive, until too: each logged time selects its own line.
    let o = d.docker_run(&["logs", "--since", &stamps[1], "logs2"]);
    assert_eq!(o.ok(), "late\n");
    let o = d.docker_run(&["logs", "--until", &stamps[0], "logs2"]);
    assert_eq!(o.ok(), "early\n");
    let o = d.docker_run(&[
        "logs", "--since", &stamps[0], "--until", &stamps[1], "logs2",
    ]);
    assert_eq!(o.ok(), "early\nlate\n");
}

#[test]
fn wait_prints_exit_code() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["run", "-d", "busybox", "sh", "-c", "sleep 0.3; exit 4"]);
    assert_eq!(d.docker_ok(&["wait", &id]), "4");
    // Wait on an exited container returns at once.
    assert_eq!(d.docker_ok(&["wait", &id[..8]]), "4");
}

#[test]
fn rename_container() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["create", "--name", "old", "busybox", "true"]);
    d.docker_ok(&["rename", "old", "new"]);
    assert_eq!(d.inspect_field("new", "{{.Name}}"), "/new");
    assert_eq!(d.inspect_field("new", "{{.Id}}"), id);
    d.docker_run(&["inspect", "old"]).failed();
    // The old name is free again; a taken name is refused.
    d.docker_ok(&["create", "--name", "old", "busybox", "true"]);
    let o = d.docker_run(&["rename", "new", "old"]);
    o.failed();
    assert_eq!(d.inspect_field("new", "{{.Id}}"), id);
}

#[test]
fn images_tag_rmi() {
    let Some(d) = TestDaemon::start() else { return };
    let refs = |d: &TestDaemon| {
        sorted_lines(&d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]))
    };
    assert_eq!(refs(&d), ["busybox:latest"]);
    let id = d.inspect_field("busybox", "{{.Id}}");
    assert!(id.starts_with("sha256:") && is_full_id(&id[7..]), "{id:?}");

    d.docker_ok(&["tag", "busybox:latest", "busybox:mytag"]);
    d.docker_ok(&["tag", "busybox", "example.com/team/app:v1"]);
    assert_eq!(
        refs(&d),
        ["busybox:latest", "busybox:mytag", "example.com/team/app:v1"]
    );
    assert_eq!(d.inspect_field("busybox:mytag", "{{.Id}}"), id);
    assert_eq!(d.inspect_field("example.com/team/app:v1", "{{.Id}}"), id);
    let ids = sorted_lines(&d.docker_ok(&["images", "-q", "--no-trunc"]));
    assert!(ids.iter().all(|i| *i == id), "{ids:?}");

    let out = d.docker_ok(&["rmi", "busybox:mytag"]);
    assert!(out.contains("Untagged: busybox:mytag"), "{out:?}");
    d.docker_ok(&["rmi", "example.com/team/app:v1"]);
    assert_eq!(refs(&d), ["busybox:latest"]);
    d.docker_run(&["inspect", "busybox:mytag"]).failed();

    // An image a container uses is not removed.
    d.docker_ok(&["create", "--name", "user", "busybox", "true"]);
    let o = d.docker_run(&["rmi", "busybox"]);
    o.failed();
    assert_eq!(refs(&d), ["busybox:latest"]);
    d.docker_ok(&["rm", "user"]);
    let out = d.docker_ok(&["rmi", "busybox"]);
    assert!(out.contains("Untagged: busybox:latest"), "{out:?}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out:?}");
    assert_eq!(refs(&d), Vec::<String>::new());
    d.docker_run(&["rmi", "busybox"]).failed();
}

#[test]
fn version_and_info() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]),
        "1.41"
    );
    let out = d.docker_ok(&["version"]);
    assert!(out.contains("Server"), "{out}");
    d.docker_ok(&["create", "busybox", "true"]);
    assert_eq!(
        d.docker_ok(&[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}"
        ]),
        "1 0 1 1"
    );
    let out = d.docker_ok(&["info"]);
    assert!(out.contains("Server Version"), "{out}");
}

#[test]
fn load_from_file_and_stdin() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["rmi", "busybox"]);
    assert_eq!(d.docker_ok(&["images", "-q"]), "");
    let tar = pouch_tests::test_image();
    let out = d.docker_ok(&["load", "-i", &tar.to_string_lossy()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out:?}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "echo", "loaded"]),
        "loaded"
    );
    // Loading the same archive again (from stdin) is fine.
    let data = std::fs::read(&tar).unwrap();
    let o = d.docker_stdin(&["load"], &data);
    assert!(o.ok().contains("busybox:latest"), "{:?}", o.stdout);
    assert_eq!(
        sorted_lines(&d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])),
        ["busybox:latest"]
    );
}

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
    wait_inspect(&d, &id, fmt, "exited 2 1", Duration::from_secs(20));
    // And it stays there (the next back-off would be 400 ms).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(d.inspect_field(&id, fmt), "exited 2 1");

    // on-failure does not restart a clean exit.
    let id = d.docker_ok(&["run", "-d", "--restart", "on-failure", "busybox", "true"]);
    wait_inspect(&d, &id, fmt, "exited 0 0", Duration::from_secs(10));
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
    wait_file(&sync.join("ready"));
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

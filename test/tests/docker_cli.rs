//! The docker 20.10 CLI (`$POUCH_TEST_DOCKER_BIN`) against pouchd.

use pouch_tests::waits::{is_full_id, sorted_lines, wait_until_exists};
use pouch_tests::{wait_for, TestDaemon};
use std::time::Duration;

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
    d.wait_docker_inspect(
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
    wait_until_exists(&sync.join("ready"));
    d.docker_ok(&["kill", "-s", "USR1", "killme"]);
    d.wait_docker_inspect(
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
    d.wait_docker_inspect("e1", "{{.State.Status}}", "exited", Duration::from_secs(10));

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

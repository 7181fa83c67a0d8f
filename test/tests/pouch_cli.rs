//! The pouch CLI (`$POUCH_BIN`) against pouchd, and the pouch and docker
//! CLIs side by side on one daemon.

use pouch_tests::waits::sorted_lines;
use pouch_tests::{wait_for, TestDaemon};
use std::time::Duration;

fn status(d: &TestDaemon, name: &str) -> String {
    d.pouch_ok(&["inspect", "-f", "{{.State.Status}}", name])
}

#[test]
fn run_output_and_exit_codes() {
    let Some(d) = TestDaemon::start() else { return };
    let o = d.pouch_run(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(o.ok(), "hi\n", "stderr {:?}", o.stderr);
    wait_for("the --rm container to go", Duration::from_secs(10), || {
        d.pouch_ok(&["ps", "-a", "-q"]).is_empty().then_some(())
    });

    let o = d.pouch_run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.code(), 3, "{o:?}");
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.contains("err"), "{o:?}");

    let o = d.pouch_run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(o.code(), 127, "{o:?}");
    assert!(o.stderr.contains("no-such-command"), "{o:?}");

    let o = d.pouch_run(&["run", "--rm", "no-such-image:v9", "true"]);
    assert_eq!(o.code(), 125, "{o:?}");
    assert!(o.stderr.contains("no-such-image"), "{o:?}");

    // Stdin with -i, until EOF.
    let o = d.pouch_stdin(&["run", "-i", "--rm", "busybox", "cat"], b"data\n");
    assert_eq!(o.ok(), "data\n", "{o:?}");
    let o = d.pouch_stdin(&["run", "-i", "--rm", "busybox", "wc", "-l"], b"a\nb\nc\n");
    assert_eq!(o.ok().trim(), "3");
    assert_eq!(d.pouch_ok(&["ps", "-a", "-q"]), "", "--rm left containers");
}

#[test]
fn ps_inspect_and_logs() {
    let Some(d) = TestDaemon::start() else { return };
    for cmd in [
        &["logs", "nosuch"][..],
        &["port", "nosuch"],
        &["exec", "nosuch", "true"],
        &["start", "-a", "nosuch"],
    ] {
        let o = d.pouch_run(cmd);
        assert_ne!(o.code(), 0, "{cmd:?}: {o:?}");
        assert!(
            o.stderr.contains("Error: No such container: nosuch"),
            "{cmd:?}: {o:?}"
        );
    }
    let id = d.pouch_ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    assert_eq!(id.len(), 64, "run -d printed {id:?}");
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two; exit 2",
    ]);
    d.pouch_ok(&["create", "--name", "fresh", "busybox", "true"]);
    assert_eq!(d.pouch_ok(&["wait", "done"]), "2");

    let table = d.pouch_ok(&["ps"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("CONTAINER ID"), "{header:?}");
    for col in ["IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] {
        assert!(header.contains(col), "no {col} in {header:?}");
    }
    assert!(header.trim_end().ends_with("NAMES"), "{header:?}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].starts_with(&id[..12]), "{table}");
    assert!(rows[0].trim_end().ends_with("web"), "{table}");
    assert!(rows[0].contains("busybox"), "{table}");
    assert!(rows[0].contains("Up "), "{table}");

    assert_eq!(d.pouch_ok(&["ps", "-q"]), &id[..12]);
    assert_eq!(d.pouch_ok(&["ps", "-q", "--no-trunc"]), id);
    assert_eq!(d.pouch_ok(&["ps", "-a", "-q"]).lines().count(), 3);
    let exited = d.pouch_ok(&["ps", "-a", "--filter", "status=exited"]);
    let rows: Vec<&str> = exited.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{exited}");
    assert!(rows[0].trim_end().ends_with("done"), "{exited}");
    assert!(rows[0].contains("Exited (2)"), "{exited}");
    assert_eq!(
        sorted_lines(&d.pouch_ok(&["ps", "-a", "--format", "{{.Names}}"])),
        ["done", "fresh", "web"]
    );
    assert_eq!(
        d.pouch_ok(&["ps", "-a", "-f", "status=created", "--format", "{{.Names}}"]),
        "fresh"
    );

    assert_eq!(status(&d, "web"), "running");
    assert_eq!(status(&d, "done"), "exited");
    assert_eq!(status(&d, "fresh"), "created");
    assert_eq!(d.pouch_ok(&["inspect", "-f", "{{.Id}}", "web"]), id);
    assert_eq!(
        d.pouch_ok(&["inspect", "-f", "{{.State.ExitCode}}", "done"]),
        "2"
    );
    // Plain inspect is a JSON array.
    let v: serde_json::Value = serde_json::from_str(&d.pouch_ok(&["inspect", "web"])).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Name"], "/web");
    let o = d.pouch_run(&["inspect", "nope"]);
    o.failed();
    assert!(o.stderr.to_lowercase().contains("no such"), "{o:?}");

    assert_eq!(d.pouch_ok(&["logs", "done"]), "one\ntwo");
    assert_eq!(d.pouch_ok(&["logs", "--tail", "1", "done"]), "two");
    d.pouch_run(&["logs", "nope"]).failed();
}

#[test]
fn lifecycle_commands() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.pouch_ok(&["run", "-d", "--name", "life", "busybox", "sleep", "1000"]);
    assert_eq!(status(&d, "life"), "running");

    assert_eq!(d.pouch_ok(&["stop", "-t", "1", "life"]), "life");
    assert_eq!(
        d.pouch_ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "life"
        ]),
        "exited 137"
    );
    assert_eq!(d.pouch_ok(&["start", "life"]), "life");
    assert_eq!(status(&d, "life"), "running");
    let pid = d.pouch_ok(&["inspect", "-f", "{{.State.Pid}}", "life"]);
    assert_eq!(d.pouch_ok(&["restart", "-t", "1", "life"]), "life");
    assert_eq!(status(&d, "life"), "running");
    let pid2 = d.pouch_ok(&["inspect", "-f", "{{.State.Pid}}", "life"]);
    assert_ne!(pid, pid2, "restart kept the process");

    assert_eq!(d.pouch_ok(&["pause", "life"]), "life");
    assert_eq!(status(&d, "life"), "paused");
    assert_eq!(d.pouch_ok(&["unpause", "life"]), "life");
    assert_eq!(status(&d, "life"), "running");

    assert_eq!(d.pouch_ok(&["kill", "life"]), "life");
    d.wait_pouch_inspect(
        "life",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 137",
    );
    assert_eq!(d.pouch_ok(&["wait", "life"]), "137");

    // kill -s: a signal the container handles (PID 1 ignores unhandled ones).
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 12' USR1; touch /ready; while true; do sleep 0.1; done",
    ]);
    wait_for("the trap to be set", Duration::from_secs(10), || {
        d.docker_run(&["exec", "trap", "ls", "/ready"])
            .status
            .success()
            .then_some(())
    });
    assert_eq!(d.pouch_ok(&["kill", "-s", "USR1", "trap"]), "trap");
    d.wait_pouch_inspect("trap", "{{.State.Status}} {{.State.ExitCode}}", "exited 12");
    d.pouch_ok(&["rm", "trap"]);

    assert_eq!(d.pouch_ok(&["rename", "life", "renamed"]), "");
    assert_eq!(d.pouch_ok(&["inspect", "-f", "{{.Id}}", "renamed"]), id);
    assert_eq!(
        d.pouch_ok(&["inspect", "-f", "{{.Name}}", "renamed"]),
        "/renamed"
    );
    d.pouch_run(&["inspect", "life"]).failed();

    // wait prints the code when the container exits.
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "w4",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 4",
    ]);
    assert_eq!(d.pouch_ok(&["wait", "w4"]), "4");

    // rm -f of a running container; rm of a running one without -f fails.
    d.pouch_ok(&["start", "renamed"]);
    let o = d.pouch_run(&["rm", "renamed"]);
    o.failed();
    assert_eq!(status(&d, "renamed"), "running");
    assert_eq!(d.pouch_ok(&["rm", "-f", "renamed"]), "renamed");
    d.pouch_run(&["inspect", "renamed"]).failed();
    assert_eq!(d.pouch_ok(&["rm", "w4"]), "w4");
    assert_eq!(d.pouch_ok(&["ps", "-a", "-q"]), "");

    // Errors on unknown containers, with a non-zero exit.
    for cmd in ["start", "stop", "kill", "pause", "unpause", "rm", "wait"] {
        let o = d.pouch_run(&[cmd, "nope"]);
        assert_ne!(o.code(), 0, "pouch {cmd} nope: {o:?}");
        assert!(
            o.stderr.to_lowercase().contains("no such"),
            "pouch {cmd}: {o:?}"
        );
    }
}

#[test]
fn images_tag_rmi_load() {
    let Some(d) = TestDaemon::start() else { return };
    let table = d.pouch_ok(&["images"]);
    let header = table.lines().next().unwrap_or_default();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "no {col} in {header:?}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("busybox"))
        .unwrap_or_else(|| panic!("no busybox row: {table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..2], ["busybox", "latest"], "{row}");
    let id = d.pouch_ok(&["inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(cols[2], &id[7..19], "{row}");

    d.pouch_ok(&["tag", "busybox", "mine:v1"]);
    d.pouch_ok(&["tag", "busybox:latest", "example.com/team/app:v2"]);
    let refs = |d: &TestDaemon| {
        sorted_lines(&d.pouch_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]))
    };
    assert_eq!(
        refs(&d),
        ["busybox:latest", "example.com/team/app:v2", "mine:v1"]
    );
    assert_eq!(d.pouch_ok(&["inspect", "-f", "{{.Id}}", "mine:v1"]), id);
    let q = sorted_lines(&d.pouch_ok(&["images", "-q"]));
    assert!(q.iter().all(|l| *l == id[7..19]), "{q:?}");

    let out = d.pouch_ok(&["rmi", "mine:v1"]);
    assert!(out.contains("Untagged: mine:v1"), "{out:?}");
    d.pouch_ok(&["rmi", "example.com/team/app:v2"]);
    assert_eq!(refs(&d), ["busybox:latest"]);
    d.pouch_run(&["rmi", "mine:v1"]).failed();

    // In use: refused; then removed for good and loaded again.
    d.pouch_ok(&["create", "--name", "user", "busybox", "true"]);
    d.pouch_run(&["rmi", "busybox"]).failed();
    d.pouch_ok(&["rm", "user"]);
    let out = d.pouch_ok(&["rmi", "busybox"]);
    assert!(out.contains("Untagged: busybox:latest"), "{out:?}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out:?}");
    assert_eq!(d.pouch_ok(&["images", "-q"]), "");
    let tar = pouch_tests::test_image();
    let out = d.pouch_ok(&["load", "-i", &tar.to_string_lossy()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out:?}");
    assert_eq!(d.pouch_ok(&["inspect", "-f", "{{.Id}}", "busybox"]), id);
    // From stdin as well.
    d.pouch_ok(&["rmi", "busybox"]);
    let data = std::fs::read(&tar).unwrap();
    let o = d.pouch_stdin(&["load"], &data);
    assert!(o.ok().contains("Loaded image: busybox:latest"), "{o:?}");
    assert_eq!(
        d.pouch_ok(&["run", "--rm", "busybox", "echo", "back"]),
        "back"
    );
    // A bad archive fails.
    let o = d.pouch_stdin(&["load"], b"not a tar");
    o.failed();
}

#[test]
fn version_and_info() {
    let Some(d) = TestDaemon::start() else { return };
    let out = d.pouch_ok(&["version"]);
    assert!(out.contains("Client"), "{out}");
    assert!(out.contains("Server"), "{out}");
    assert!(out.contains("1.41"), "{out}");
    d.pouch_ok(&["run", "-d", "busybox", "sleep", "1000"]);
    d.pouch_ok(&["create", "busybox", "true"]);
    let out = d.pouch_ok(&["info"]);
    for want in [
        "Containers: 2",
        "Running: 1",
        "Stopped: 1",
        "Images: 1",
        "Server Version",
    ] {
        assert!(out.contains(want), "no {want:?} in info: {out}");
    }
    assert_eq!(
        d.pouch_ok(&[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}}"
        ]),
        "2 1 1"
    );
    assert_eq!(
        d.pouch_ok(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Client.Version}}"
        ]),
        format!("{v} {v}", v = env!("CARGO_PKG_VERSION"))
    );
    // No daemon: a clear error and a non-zero exit.
    let o = pouch_tests::run_with_timeout(
        d.pouch()
            .env(
                "POUCH_HOST",
                format!("unix://{}/none.sock", d.dir.display()),
            )
            .arg("version"),
        None,
        Duration::from_secs(30),
    );
    assert_ne!(o.code(), 0, "{o:?}");
}

#[test]
fn run_options() {
    let Some(d) = TestDaemon::start() else { return };
    let vol = d.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("in"), "from host\n").unwrap();
    let out = d.pouch_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/data", vol.display()),
        "busybox",
        "sh",
        "-c",
        "cat /data/in; echo from container > /data/out",
    ]);
    assert_eq!(out, "from host");
    assert_eq!(
        std::fs::read_to_string(vol.join("out")).unwrap(),
        "from container\n"
    );
    let o = d.pouch_run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/data:ro", vol.display()),
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(!vol.join("x").exists());

    assert_eq!(
        d.pouch_ok(&[
            "run",
            "--rm",
            "-e",
            "A=1",
            "-e",
            "B=two words",
            "busybox",
            "sh",
            "-c",
            "echo $A-$B"
        ]),
        "1-two words"
    );
    assert_eq!(
        d.pouch_ok(&["run", "--rm", "-w", "/tmp", "busybox", "pwd"]),
        "/tmp"
    );
    assert_eq!(
        d.pouch_ok(&["run", "--rm", "-u", "pouchtest", "busybox", "id", "-u"]),
        "1000"
    );
    assert_eq!(
        d.pouch_ok(&["run", "--rm", "-u", "1234:5678", "busybox", "id", "-g"]),
        "5678"
    );

    // --restart on-failure:1: one restart, then it stays exited.
    let id = d.pouch_ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:1",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    assert_eq!(
        d.pouch_ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            &id
        ]),
        "on-failure 1"
    );
    d.wait_pouch_inspect(
        &id,
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 1 1",
    );

    // -m 64m.
    let id = d.pouch_ok(&["run", "-d", "-m", "64m", "busybox", "sleep", "1000"]);
    assert_eq!(
        d.pouch_ok(&["inspect", "-f", "{{.HostConfig.Memory}}", &id]),
        "67108864"
    );
    assert_eq!(d.inspect_field(&id, "{{.HostConfig.Memory}}"), "67108864");
    let host = format!("/sys/fs/cgroup/memory/{}/{id}/memory.limit_in_bytes", d.ns);
    if std::path::Path::new(&host).exists() {
        assert_eq!(std::fs::read_to_string(&host).unwrap().trim(), "67108864");
    }

    // Labels, hostname, name.
    let id = d.pouch_ok(&[
        "run", "-d", "--name", "opts", "-l", "k=v", "-h", "box", "busybox", "sleep", "1000",
    ]);
    assert_eq!(
        d.pouch_ok(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"k\"}} {{.Config.Hostname}}",
            "opts"
        ]),
        "v box"
    );
    assert_eq!(d.docker_ok(&["exec", &id, "hostname"]), "box");
}

/// Both CLIs on one daemon see and act on the same containers and images.
#[test]
fn pouch_and_docker_side_by_side() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "from-docker",
        "busybox",
        "sleep",
        "1000",
    ]);
    let pid = d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "from-pouch",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        sorted_lines(&d.pouch_ok(&["ps", "-q", "--no-trunc"])),
        sorted_lines(&format!("{id}\n{pid}"))
    );
    assert_eq!(
        sorted_lines(&d.docker_ok(&["ps", "--format", "{{.Names}}"])),
        ["from-docker", "from-pouch"]
    );
    // Same inspect data.
    for name in ["from-docker", "from-pouch"] {
        let fmt = "{{.Id}} {{.State.Status}} {{.State.Pid}} {{.Config.Image}}";
        assert_eq!(
            d.pouch_ok(&["inspect", "-f", fmt, name]),
            d.docker_ok(&["inspect", "-f", fmt, name])
        );
    }
    // One stops what the other started.
    d.pouch_ok(&["stop", "-t", "0", "from-docker"]);
    assert_eq!(
        d.inspect_field("from-docker", "{{.State.Status}}"),
        "exited"
    );
    d.docker_ok(&["stop", "-t", "0", "from-pouch"]);
    assert_eq!(status(&d, "from-pouch"), "exited");
    // Logs written under one are read by the other.
    d.pouch_ok(&["run", "--name", "talk", "busybox", "echo", "said"]);
    assert_eq!(d.docker_ok(&["logs", "talk"]), "said");
    // Images tagged by one are listed by the other.
    d.docker_ok(&["tag", "busybox", "shared:tag"]);
    assert!(d.pouch_ok(&["images"]).contains("shared"));
    let out = d.pouch_ok(&["rmi", "shared:tag"]);
    assert!(out.contains("Untagged: shared:tag"), "{out}");
    d.docker_run(&["inspect", "shared:tag"]).failed();
    d.docker_ok(&["rm", "from-pouch"]);
    d.pouch_ok(&["rm", "from-docker", "talk"]);
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");
}

/// docker's templates name the fields of `version` after its Go structs
/// (`APIVersion`), scripts written for docker use them.
#[test]
fn version_format_uses_docker_field_names() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.pouch_ok(&[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Client.APIVersion}}"
        ]),
        "1.41 1.41"
    );
}

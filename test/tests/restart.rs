//! pouchd killed with SIGKILL and started again: containers survive it, their
//! state is recovered, output written meanwhile is not lost, and what
//! removals left in containerd is reclaimed.

use pouch_tests::waits::wait_until_exists;
use pouch_tests::{wait_for, TestDaemon};
use std::path::Path;
use std::time::Duration;

/// `NAME STATE` lines of `docker ps -a`, sorted.
fn ps_states(d: &TestDaemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn running_and_exited_containers_survive_kill9() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    d.docker_ok(&["run", "-d", "--name", "runner", "busybox", "sleep", "1000"]);
    d.docker_ok(&[
        "run", "-d", "--name", "exited5", "busybox", "sh", "-c", "exit 5",
    ]);
    assert_eq!(d.docker_ok(&["wait", "exited5"]), "5");
    let pid = d.inspect_field("runner", "{{.State.Pid}}");
    let id = d.inspect_field("runner", "{{.Id}}");
    assert_eq!(ps_states(&d), ["exited5 exited", "runner running"]);

    d.kill9();
    // The container does not depend on pouchd.
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/{}/{id}/cgroup.procs", d.ns))
        .unwrap_or_default();
    assert!(
        procs.lines().any(|l| l.trim() == pid),
        "container process {pid} gone with pouchd: {procs:?}"
    );
    d.restart();

    assert_eq!(ps_states(&d), ["exited5 exited", "runner running"]);
    assert_eq!(
        d.inspect_field("exited5", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 5"
    );
    assert_eq!(
        d.inspect_field("runner", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(d.docker_ok(&["ps", "-q", "--no-trunc"]), id);

    // The recovered container is fully under control again.
    d.docker_ok(&["stop", "-t", "1", "runner"]);
    let code = d.inspect_field("runner", "{{.State.Status}} {{.State.ExitCode}}");
    assert!(
        code == "exited 137" || code == "exited 143",
        "after stop: {code}"
    );
    assert_eq!(d.docker_ok(&["wait", "runner"]), &code[7..]);
    // And the exited one can run again.
    d.docker_ok(&["start", "exited5"]);
    assert_eq!(d.docker_ok(&["wait", "exited5"]), "5");
    d.docker_ok(&["rm", "runner", "exited5"]);
    assert_eq!(d.docker_ok(&["ps", "-a", "-q"]), "");
}

/// Reads the container's json-file log on the host.
fn log_file(d: &TestDaemon, name: &str) -> String {
    let path = d.inspect_field(name, "{{.LogPath}}");
    assert!(!path.is_empty(), "no LogPath");
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Output written while pouchd is down, and after it is back, lands in the
/// container's log; the log stays ordered.
#[test]
fn output_while_daemon_down_reaches_the_log() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let sync = d.sync_dir();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "-v",
        &format!("{}:/sync", sync.display()),
        "busybox",
        "sh",
        "-c",
        "echo early; while [ ! -e /sync/down ]; do sleep 0.05; done; echo late; \
         touch /sync/wrote; while [ ! -e /sync/back ]; do sleep 0.05; done; \
         echo after; sleep 1000",
    ]);
    wait_for("early output", Duration::from_secs(20), || {
        log_file(&d, "late").contains("\"early\\n\"").then_some(())
    });
    d.kill9();
    std::fs::write(sync.join("down"), "").unwrap();
    wait_until_exists(&sync.join("wrote"));
    d.restart();
    std::fs::write(sync.join("back"), "").unwrap();
    let log = wait_for("output after the restart", Duration::from_secs(20), || {
        let l = log_file(&d, "late");
        l.contains("\"after\\n\"").then_some(l)
    });
    let lines: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l:?}: {e}"));
            assert_eq!(v["stream"], "stdout", "{l}");
            v["log"].as_str().expect("log is a string").to_string()
        })
        .collect();
    assert_eq!(lines, ["early\n", "late\n", "after\n"]);
    assert_eq!(d.inspect_field("late", "{{.State.Status}}"), "running");
    // And through the API, as `docker logs` shows it.
    let o = d.docker_run(&["logs", "late"]);
    assert_eq!(o.ok(), "early\nlate\nafter\n");
    let o = d.docker_run(&["logs", "--tail", "2", "late"]);
    assert_eq!(o.ok(), "late\nafter\n");
}

/// A container that exits while pouchd is down is seen as exited, with its
/// exit code, once pouchd is back.
#[test]
fn exit_while_daemon_down_is_recorded() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let sync = d.sync_dir();
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "quitter",
        "-v",
        &format!("{}:/sync", sync.display()),
        "busybox",
        "sh",
        "-c",
        "while [ ! -e /sync/quit ]; do sleep 0.05; done; exit 6",
    ]);
    d.kill9();
    std::fs::write(sync.join("quit"), "").unwrap();
    // Wait for the container's processes to be gone.
    let procs = format!("/sys/fs/cgroup/pids/{}/{id}/cgroup.procs", d.ns);
    wait_for("the container to exit", Duration::from_secs(20), || {
        std::fs::read_to_string(&procs)
            .map(|s| s.trim().is_empty())
            .unwrap_or(true)
            .then_some(())
    });
    d.restart();
    wait_for("the exit to be recorded", Duration::from_secs(20), || {
        let s = d.inspect_field("quitter", "{{.State.Status}} {{.State.ExitCode}}");
        (s == "exited 6").then_some(())
    });
    assert_eq!(d.docker_ok(&["wait", "quitter"]), "6");
    assert_eq!(d.docker_ok(&["ps", "-q"]), "");
}

/// The pid of the containerd pouchd started (from its pid file).
fn containerd_pid(d: &TestDaemon) -> Option<u32> {
    std::fs::read_to_string(d.containerd_sock.with_extension("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Kills containerd and waits for pouchd to have started another one.
fn kill_containerd_and_wait_for_a_new_one(d: &TestDaemon) {
    let old = containerd_pid(d).expect("containerd pid file");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &old.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -9 {old}");
    wait_for("a new containerd", Duration::from_secs(30), || {
        containerd_pid(d)
            .filter(|p| *p != old && Path::new(&format!("/proc/{p}")).exists())
            .map(|_| ())
    });
    // Usable again: a new container runs, the old one was never touched.
    wait_for("containers to run again", Duration::from_secs(30), || {
        let o = d.docker_run(&["run", "--rm", "busybox", "echo", "back"]);
        (o.status.success() && o.stdout == "back\n").then_some(())
    });
    assert_eq!(d.inspect_field("keeper", "{{.State.Status}}"), "running");
}

#[test]
fn containerd_is_restarted_when_it_dies_also_after_pouchd_restarts() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    d.docker_ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "1000"]);
    kill_containerd_and_wait_for_a_new_one(&d);
    // A restarted pouchd finds that containerd running and supervises it too.
    d.restart();
    assert!(
        d.log()
            .contains("supervising the containerd an earlier pouchd started"),
        "{}",
        d.log()
    );
    kill_containerd_and_wait_for_a_new_one(&d);
    // And the container is still under control.
    d.docker_ok(&["stop", "-t", "1", "keeper"]);
    assert_eq!(d.inspect_field("keeper", "{{.State.Status}}"), "exited");
}

/// The container records, snapshots (with init layers) and shims of `ids`
/// containerd still holds.
fn held_by_containerd(d: &TestDaemon, ids: &[&str]) -> Vec<String> {
    let mut held = Vec::new();
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args
            .first()
            .is_some_and(|a| a.ends_with("containerd-shim-runc-v2"))
        {
            continue;
        }
        if let Some(w) = args.windows(2).find(|w| w[0] == "-id") {
            if ids.contains(&w[1].as_str()) {
                held.push(format!("shim of {}", w[1]));
            }
        }
    }
    for (what, args) in [
        ("container", &["containers", "ls", "-q"][..]),
        ("snapshot", &["snapshots", "ls"][..]),
    ] {
        let listed = d.ctr(args);
        assert!(listed.status.success(), "ctr {args:?}: {}", listed.stderr);
        for line in listed.stdout.lines() {
            let key = line.split_whitespace().next().unwrap_or_default();
            // A container's init layer is `<id>-init`.
            let owner = key
                .strip_suffix("-init-prep")
                .or_else(|| key.strip_suffix("-init"))
                .unwrap_or(key);
            if ids.contains(&owner) {
                held.push(format!("{what} {key}"));
            }
        }
    }
    held
}

fn wait_released(d: &TestDaemon, ids: &[&str]) {
    wait_for(
        "containerd to release the removed containers",
        Duration::from_secs(20),
        || held_by_containerd(d, ids).is_empty().then_some(()),
    );
}

#[test]
fn removed_containers_leave_nothing_in_containerd() {
    let Some(d) = TestDaemon::start() else {
        return;
    };
    let auto = d.docker_ok(&["run", "-d", "--rm", "busybox", "true"]);
    let created = d.docker_ok(&["create", "busybox", "true"]);
    let forced = d.docker_ok(&["run", "-d", "busybox", "sleep", "1000"]);
    // `rm` right after `stop`, while the exit's reap may still run; several
    // at once, as a loaded daemon sees them.
    let stopped: Vec<String> = (0..12)
        .map(|_| d.docker_ok(&["run", "-d", "busybox", "sleep", "1000"]))
        .collect();
    std::thread::scope(|s| {
        for id in &stopped {
            let d = &d;
            s.spawn(move || {
                let r = d.post(&format!("/containers/{id}/stop?t=0"));
                assert_eq!(r.status, 204, "stop: {}", r.text());
                let r = d.delete(&format!("/containers/{id}"));
                assert_eq!(r.status, 204, "rm: {}", r.text());
            });
        }
    });
    let mut ids = vec![auto.as_str(), created.as_str(), forced.as_str()];
    ids.extend(stopped.iter().map(String::as_str));
    assert_eq!(
        held_by_containerd(&d, &[&forced]).len(),
        4,
        "record, snapshot, init layer, shim"
    );
    d.docker_ok(&["rm", &created]);
    d.docker_ok(&["rm", "-f", &forced]);
    // --rm: gone once it exited; `docker wait` of a removed one is an error.
    wait_for("the --rm container to go", Duration::from_secs(20), || {
        d.docker_ok(&["ps", "-aq"]).is_empty().then_some(())
    });
    wait_released(&d, &ids);
}

#[test]
fn start_reclaims_containers_whose_metadata_is_gone() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let created = d.docker_ok(&["create", "busybox", "true"]);
    let running = d.docker_ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let kept = d.docker_ok(&["run", "-d", "--name", "kept", "busybox", "sleep", "1000"]);
    let pid: i32 = d
        .inspect_field(&running, "{{.State.Pid}}")
        .parse()
        .expect("pid");
    // A daemon killed in a removal, just after the metadata went.
    d.kill9();
    for id in [&created, &running] {
        std::fs::remove_dir_all(d.dir.join("home/containers").join(id)).expect("remove metadata");
    }
    d.restart();
    wait_released(&d, &[&created, &running]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the orphan's process {pid} still runs"
    );
    assert_eq!(d.docker_ok(&["ps", "-q", "--no-trunc"]), kept);
    // Record, snapshot, init layer and shim.
    assert_eq!(held_by_containerd(&d, &[&kept]).len(), 4);
    d.docker_ok(&["rm", "-f", "kept"]);
}

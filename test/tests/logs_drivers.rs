//! Log drivers: json-file rotation (max-size/max-file), reading and
//! following across rotations, the `none` driver, unknown drivers/options.

use pouch_tests::{wait_for, TestDaemon};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Files in the log's directory whose name starts with the log's name.
fn log_files(log_path: &Path) -> Vec<PathBuf> {
    let dir = log_path.parent().expect("log dir");
    let base = log_path.file_name().unwrap().to_string_lossy().to_string();
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&base))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Numbers of `lineN` lines.
fn numbers(out: &str, prefix: &str) -> Vec<u32> {
    out.lines()
        .map(|l| {
            l.strip_prefix(prefix)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log line {l:?}"))
        })
        .collect()
}

#[test]
fn json_file_rotation_keeps_the_last_lines() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done",
    ]);
    assert_eq!(d.docker_ok(&["wait", "rot"]), "0");
    assert_eq!(
        d.inspect_field("rot", "{{.HostConfig.LogConfig.Type}}"),
        "json-file"
    );
    assert_eq!(
        d.inspect_field(
            "rot",
            "{{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}"
        ),
        "1k 3"
    );

    // logs shows only what the kept files hold: the end, contiguous.
    let out = d.docker_ok(&["logs", "rot"]);
    let n = numbers(&out, "line");
    assert!(!n.is_empty());
    assert_ne!(n[0], 0, "the first lines should have been rotated away");
    assert_eq!(*n.last().unwrap(), 299);
    assert!(
        n.windows(2).all(|w| w[1] == w[0] + 1),
        "lines missing or out of order: {n:?}"
    );
    // 3 files of at most ~1 KiB: well under 300 lines.
    assert!(n.len() < 100, "{} lines kept", n.len());
    assert_eq!(
        d.docker_ok(&["logs", "--tail", "3", "rot"]),
        "line297\nline298\nline299"
    );

    let log_path = PathBuf::from(d.inspect_field("rot", "{{.LogPath}}"));
    assert!(log_path.is_absolute(), "{}", log_path.display());
    let files = log_files(&log_path);
    let base = log_path.to_string_lossy().to_string();
    let allowed = [base.clone(), format!("{base}.1"), format!("{base}.2")];
    assert!(
        !files.is_empty() && files.len() <= 3,
        "log files: {files:?}"
    );
    for f in &files {
        let name = f.to_string_lossy().to_string();
        assert!(allowed.contains(&name), "unexpected log file {name}");
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 1024 + 200, "{name} has {len} bytes");
        // Each line is a json-file record.
        let text = std::fs::read_to_string(f).unwrap();
        for l in text.lines() {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l:?}"));
            assert_eq!(v["stream"], "stdout", "{l}");
            assert!(v["log"].as_str().unwrap().starts_with("line"), "{l}");
            assert!(v["time"].as_str().is_some(), "{l}");
        }
    }
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with(".2")),
        "300 lines in 1k files should have rotated twice: {files:?}"
    );
    assert!(!Path::new(&format!("{base}.3")).exists());
}

#[test]
fn none_driver_has_no_logs() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo invisible",
    ]);
    assert_eq!(d.docker_ok(&["wait", "quiet"]), "0");
    assert_eq!(
        d.inspect_field("quiet", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    let o = d.docker_run(&["logs", "quiet"]);
    o.failed();
    assert!(
        o.stderr.contains("does not support reading"),
        "{:?}",
        o.stderr
    );
    assert!(!o.stdout.contains("invisible"));
    let m = d
        .get_ok("/v1.41/containers/quiet/logs?stdout=1&stderr=1")
        .expect_error(501);
    assert!(m.contains("does not support reading"), "{m}");
    // Nothing written to disk either.
    let log_path = d.inspect_field("quiet", "{{.LogPath}}");
    if !log_path.is_empty() {
        assert!(
            std::fs::read_to_string(&log_path)
                .map(|s| !s.contains("invisible"))
                .unwrap_or(true),
            "the none driver wrote {log_path}"
        );
    }
    // The attached output still reaches the client.
    let o = d.docker_run(&["run", "--log-driver", "none", "busybox", "echo", "attached"]);
    assert_eq!(o.ok(), "attached\n");
}

#[test]
fn unknown_driver_or_option_is_400() {
    let Some(d) = TestDaemon::start() else { return };
    let create = |log_config: serde_json::Value| {
        d.post_json(
            "/v1.41/containers/create",
            &serde_json::json!({
                "Image": "busybox",
                "Cmd": ["true"],
                "HostConfig": {"LogConfig": log_config},
            }),
        )
    };
    let m = create(serde_json::json!({"Type": "bogus", "Config": {}})).expect_error(400);
    assert!(m.contains("bogus"), "{m}");
    let m = create(serde_json::json!({"Type": "json-file", "Config": {"max-size": "abc"}}))
        .expect_error(400);
    assert!(m.contains("max-size"), "{m}");
    let m = create(serde_json::json!({"Type": "json-file", "Config": {"max-file": "x"}}))
        .expect_error(400);
    assert!(m.contains("max-file"), "{m}");
    let m = create(serde_json::json!({"Type": "json-file", "Config": {"no-such-opt": "1"}}))
        .expect_error(400);
    assert!(m.contains("no-such-opt"), "{m}");
    // Nothing was created.
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");

    let o = d.docker_run(&["run", "--log-driver", "bogus", "busybox", "true"]);
    assert_eq!(o.code(), 125, "{o:?}");
    assert!(o.stderr.contains("bogus"), "{o:?}");
    let o = d.docker_run(&["create", "--log-opt", "max-size=abc", "busybox", "true"]);
    o.failed();
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");
    // json-file explicitly and an empty type are fine.
    let r = create(serde_json::json!({"Type": "json-file", "Config": {"max-size": "10m"}}));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = create(serde_json::json!({"Type": "", "Config": {}}));
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Runs `docker logs -f` on a container that prints `ready`, waits for
/// `/sync/go`, then runs `script` printing the numbers 1..=n, one a line,
/// with the given json-file options; checks that the follower gets every
/// line once, in order, and that the log rotated at least `min_files - 1`
/// times.
fn follow_rotating(
    d: &TestDaemon,
    max_size: &str,
    max_file: u32,
    script: &str,
    n: u32,
    min_files: usize,
) {
    let sync = d.sync_dir();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "rotf",
        "--log-opt",
        &format!("max-size={max_size}"),
        "--log-opt",
        &format!("max-file={max_file}"),
        "-v",
        &format!("{}:/sync", sync.display()),
        "busybox",
        "sh",
        "-c",
        &format!("echo ready; while [ ! -e /sync/go ]; do sleep 0.05; done; {script}"),
    ]);
    let mut child = d
        .docker()
        .args(["logs", "-f", "rotf"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker logs -f");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    if first.as_deref() != Ok("ready") {
        let _ = child.kill();
        let _ = child.wait();
        panic!("logs -f did not show \"ready\" first: {first:?}");
    }
    std::fs::write(sync.join("go"), "").unwrap();

    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "logs -f did not end within 60 s after the container exited ({} lines, last {:?}, status {})",
                lines.len(),
                lines.last(),
                d.inspect_field("rotf", "{{.State.Status}}")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    assert!(status.success(), "docker logs -f: {status}");
    let got: Vec<u32> = lines
        .iter()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("unexpected line {l:?}"))
        })
        .collect();
    let want: Vec<u32> = (1..=n).collect();
    if got != want {
        let dups = got.len() as i64 - want.len() as i64;
        let first_bad = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "followed output is not 1..{n} once each: {} lines ({dups:+}), first difference at index {first_bad:?} (around it: {:?})",
            got.len(),
            first_bad.map(|i| &got[i.saturating_sub(2)..(i + 2).min(got.len())])
        );
    }
    // The files really rotated, and all the lines are still readable.
    let log_path = PathBuf::from(d.inspect_field("rotf", "{{.LogPath}}"));
    let files = log_files(&log_path);
    assert!(
        files.len() >= min_files,
        "expected more rotations: {files:?}"
    );
    assert!(files.len() <= max_file as usize, "{files:?}");
    let out = d.docker_ok(&["logs", "rotf"]);
    let mut want_all = vec!["ready".to_string()];
    want_all.extend((1..=n).map(|i| i.to_string()));
    assert_eq!(out.lines().collect::<Vec<_>>(), want_all);
    wait_for("rotf to be exited", Duration::from_secs(5), || {
        (d.inspect_field("rotf", "{{.State.Status}}") == "exited").then_some(())
    });
}

/// Rotations one at a time, the follower keeping up.
#[test]
fn follow_across_rotations_slow_writer() {
    let Some(d) = TestDaemon::start() else { return };
    // 30 batches of 20 lines (~1.5 KB), 50 ms apart: a 5k file rotates
    // every few batches, ~9 times in all; 20 files keep everything.
    follow_rotating(
        &d,
        "5k",
        20,
        "i=0; while [ $i -lt 30 ]; do seq $((i*20+1)) $((i*20+20)); i=$((i+1)); sleep 0.05; done",
        600,
        6,
    );
}

/// Bursts that rotate the file several times between two reads of the
/// follower.
#[test]
fn follow_across_rotations_burst() {
    let Some(d) = TestDaemon::start() else { return };
    // ~75 bytes per record: 3000 lines are ~225 KB, 11 rotations of 20k;
    // 15 files keep them all, so none can be lost to max-file.
    follow_rotating(
        &d,
        "20k",
        15,
        "seq 1 1500; sleep 0.5; seq 1501 3000",
        3000,
        5,
    );
}

/// 100 MiB of 100-byte lines through the json-file log and back out through
/// `docker logs`: every byte arrives, stdout and stderr apart, and the
/// container never blocks on the log.
#[test]
fn hundred_mib_through_logs() {
    let Some(d) = TestDaemon::start() else { return };
    // 99 characters and a newline, 1 Mi times.
    let script = "yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -n 1048576; echo done >&2";
    d.docker_ok(&["run", "--name", "big", "busybox", "sh", "-c", script]);
    let o = d.docker_sh("$DOCKER logs big 2>/tmp/.pouch-test-big-stderr-$$ | wc -c; cat /tmp/.pouch-test-big-stderr-$$; rm -f /tmp/.pouch-test-big-stderr-$$");
    let out = &o.stdout;
    let mut lines = out.lines();
    assert_eq!(lines.next().map(str::trim), Some("104857600"), "{out}");
    assert_eq!(lines.next(), Some("done"), "{out}");
}

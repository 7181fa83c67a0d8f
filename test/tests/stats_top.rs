//! stats (one sample and streamed, through the CLI and raw HTTP) and top.

use pouch_tests::{wait_for, TestDaemon};
use serde_json::Value;
use std::time::{Duration, Instant};

const LIMIT_64M: u64 = 64 * 1024 * 1024;

fn limited(d: &TestDaemon, name: &str) -> String {
    d.docker_ok(&[
        "run", "-d", "--name", name, "-m", "64m", "busybox", "sleep", "1000",
    ])
}

/// Parses "524KiB", "1.5MiB", "0B" into bytes.
fn parse_size(s: &str) -> f64 {
    let s = s.trim();
    let units = [
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
        ("kB", 1000.0),
        ("MB", 1e6),
        ("GB", 1e9),
        ("B", 1.0),
    ];
    for (u, m) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n
                .trim()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("size {s:?}"))
                * m;
        }
    }
    panic!("unknown size {s:?}")
}

#[test]
fn stats_no_stream_through_the_cli() {
    let Some(d) = TestDaemon::start() else { return };
    let id = limited(&d, "st");
    d.docker_ok(&["run", "-d", "--name", "other", "busybox", "sleep", "1000"]);

    let table = d.docker_ok(&["stats", "--no-stream"]);
    let header = table.lines().next().unwrap_or_default();
    for col in ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS"] {
        assert!(header.contains(col), "no {col} in {header:?}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with(&id[..12]))
        .unwrap_or_else(|| panic!("st missing from stats: {table}"));
    assert!(row.contains(" st "), "{row}");
    assert!(table.lines().any(|l| l.contains(" other ")), "{table}");

    let line = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.MemUsage}}|{{.PIDs}}",
        "st",
    ]);
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 3, "{line:?}");
    assert_eq!(parts[0], "st");
    let (usage, limit) = parts[1]
        .split_once('/')
        .unwrap_or_else(|| panic!("MemUsage {:?}", parts[1]));
    assert!(parse_size(usage) > 0.0, "zero memory usage: {line:?}");
    assert_eq!(limit.trim(), "64MiB", "{line:?}");
    assert_eq!(parts[2], "1", "{line:?}");
}

#[test]
fn stats_one_sample_over_http() {
    let Some(d) = TestDaemon::start() else { return };
    let id = limited(&d, "st");
    // Some CPU time for the counters.
    d.docker_ok(&[
        "exec",
        "st",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
    ]);
    let r = d.get_ok("/v1.41/containers/st/stats?stream=false");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json();
    let total = v["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        total > 0,
        "cpu_stats.cpu_usage.total_usage: {}",
        v["cpu_stats"]
    );
    assert!(
        v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0,
        "{}",
        v["cpu_stats"]
    );
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap_or(0) >= 1);
    let pre = &v["precpu_stats"];
    assert!(pre.is_object(), "precpu_stats: {pre}");
    assert!(
        pre["cpu_usage"]["total_usage"].is_u64(),
        "precpu_stats: {pre}"
    );
    assert!(
        pre["system_cpu_usage"].as_u64().unwrap_or(0) > 0,
        "precpu_stats not sampled: {pre}"
    );
    assert!(
        v["pids_stats"]["current"].as_u64().unwrap_or(0) >= 1,
        "{}",
        v["pids_stats"]
    );
    assert_eq!(
        v["memory_stats"]["limit"].as_u64(),
        Some(LIMIT_64M),
        "{}",
        v["memory_stats"]
    );
    assert!(v["memory_stats"]["usage"].as_u64().unwrap_or(0) > 0);
    assert_eq!(v["id"], id.as_str(), "id");
    assert_eq!(v["name"], "/st", "name");
    assert!(v["read"].as_str().is_some_and(|s| !s.starts_with("0001")));

    // one-shot, too; a container without a limit reports the host's memory.
    let r = d.get_ok("/v1.41/containers/st/stats?stream=false&one-shot=true");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["memory_stats"]["limit"].as_u64(), Some(LIMIT_64M));
    d.docker_ok(&["run", "-d", "--name", "nolimit", "busybox", "sleep", "1000"]);
    let v = d
        .get_ok("/v1.41/containers/nolimit/stats?stream=false")
        .json();
    assert!(
        v["memory_stats"]["limit"].as_u64().unwrap_or(0) > LIMIT_64M,
        "{}",
        v["memory_stats"]
    );
    d.get_ok("/v1.41/containers/nope/stats?stream=false")
        .expect_error(404);
}

#[test]
fn stats_stream_then_close() {
    let Some(d) = TestDaemon::start() else { return };
    limited(&d, "st");
    let mut s = d.open_stream("GET", "/v1.41/containers/st/stats");
    assert_eq!(s.status, 200);
    let start = Instant::now();
    let mut objs: Vec<Value> = Vec::new();
    while objs.len() < 2 {
        let left = Duration::from_secs(20).saturating_sub(start.elapsed());
        let line = s
            .next_line(left)
            .expect("read stats")
            .unwrap_or_else(|| panic!("{} stats objects within 20 s", objs.len()));
        if line.trim().is_empty() {
            continue;
        }
        objs.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")));
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "two samples took {took:?}");
    for o in &objs {
        assert_eq!(o["memory_stats"]["limit"].as_u64(), Some(LIMIT_64M), "{o}");
        assert!(o["pids_stats"]["current"].as_u64().unwrap_or(0) >= 1);
    }
    // The second sample's "pre" is the first sample.
    assert_ne!(objs[0]["read"], objs[1]["read"]);
    assert_eq!(
        objs[1]["precpu_stats"]["system_cpu_usage"], objs[0]["cpu_stats"]["system_cpu_usage"],
        "precpu_stats of a streamed sample should be the previous sample"
    );
    // Close the connection; the daemon goes on serving.
    drop(s);
    assert_eq!(d.get_ok("/_ping").status, 200);
    let r = d.get_ok("/v1.41/containers/st/stats?stream=false");
    assert_eq!(r.status, 200);

    // The docker CLI's streaming stats shows the container and is stopped by us.
    let mut child = d
        .docker()
        .args(["stats", "--format", "{{.Name}} {{.MemUsage}}", "st"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            match std::io::Read::read(&mut out, &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if String::from_utf8_lossy(&buf).matches("st ").count() >= 2 {
                break;
            }
        }
        buf
    });
    let buf = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.matches("MiB / 64MiB").count() + text.matches("KiB / 64MiB").count() >= 2,
        "docker stats did not refresh: {text:?}"
    );
}

#[test]
fn top_lists_the_container_processes() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "tp", "busybox", "sleep", "1000"]);
    let pid = d.inspect_field("tp", "{{.State.Pid}}");
    d.docker_ok(&["exec", "-d", "tp", "sleep", "999"]);
    wait_for("the exec'd sleep", Duration::from_secs(10), || {
        d.docker_ok(&["top", "tp"])
            .contains("sleep 999")
            .then_some(())
    });

    let out = d.docker_ok(&["top", "tp"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{out}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "only the container's processes: {out}");
    assert!(
        rows.iter().any(|r| r.ends_with("sleep 1000") && r.split_whitespace().nth(1) == Some(pid.as_str())),
        "{out}"
    );
    assert!(rows.iter().any(|r| r.ends_with("sleep 999")), "{out}");
    let me = std::process::id().to_string();
    for r in &rows {
        let p = r.split_whitespace().nth(1).unwrap();
        assert_ne!(p, me, "the test process is listed: {out}");
        assert!(!r.contains("pouchd") && !r.contains("containerd"), "{out}");
    }

    // ps options.
    let out = d.docker_ok(&["top", "tp", "aux"]);
    let header = out.lines().next().unwrap();
    for col in ["USER", "PID", "%CPU", "%MEM", "COMMAND"] {
        assert!(header.split_whitespace().any(|c| c == col), "{header:?}");
    }
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().any(|l| l.ends_with("sleep 1000")), "{out}");
    let v = d
        .get_ok("/v1.41/containers/tp/top?ps_args=-o%20pid,comm")
        .json();
    assert_eq!(v["Titles"], serde_json::json!(["PID", "COMMAND"]), "{v}");
    let procs = v["Processes"].as_array().unwrap();
    assert_eq!(procs.len(), 2, "{v}");
    assert!(procs.iter().all(|p| p[1] == "sleep"), "{v}");
    assert!(procs.iter().any(|p| p[0] == pid.as_str()), "{v}");

    // Not running: 409; unknown: 404.
    d.docker_ok(&["create", "--name", "idle", "busybox", "true"]);
    d.get_ok("/v1.41/containers/idle/top").expect_error(409);
    d.docker_run(&["top", "idle"]).failed();
    d.get_ok("/v1.41/containers/nope/top").expect_error(404);
}

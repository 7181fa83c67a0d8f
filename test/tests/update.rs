//! `docker update` / `pouch update`: limits reach the running container's
//! cgroups at once, and stay for the next start.

use pouch_tests::{TestDaemon, IMAGE};
use std::path::PathBuf;

/// A cgroup file of container `id` (cgroup v1 controller dir, or v2).
fn cgroup_file(d: &TestDaemon, id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/{}/{}/{id}/{}", v1.0, d.ns, v1.1));
    if v1.exists() {
        return v1;
    }
    PathBuf::from(format!("/sys/fs/cgroup/{}/{id}/{v2}", d.ns))
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn update_reaches_the_cgroups_and_survives_a_restart() {
    let Some(d) = TestDaemon::start() else { return };
    let d = &d;
    let script = "trap 'exit 0' TERM; sleep 300 & wait";
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "upd",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let mem = cgroup_file(d, &id, ("memory", "memory.limit_in_bytes"), "memory.max");
    let pids = cgroup_file(d, &id, ("pids", "pids.max"), "pids.max");
    assert_eq!(read(&pids), "max");

    d.docker_ok(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "--restart",
        "on-failure:2",
        "upd",
    ]);
    assert_eq!(read(&mem), (64u64 << 20).to_string());
    assert_eq!(read(&pids), "50");
    let fmt = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    assert_eq!(
        d.inspect_field("upd", fmt),
        "67108864 134217728 50 on-failure:2"
    );

    // Over the swap limit without a new one: refused, nothing changed.
    let err = d.docker_run(&["update", "--memory", "256m", "upd"]);
    assert!(err.failed().contains("memoryswap"), "{}", err.stderr);
    assert_eq!(read(&mem), (64u64 << 20).to_string());

    // The pouch CLI, then a restart: the limits come back with the task.
    d.pouch_ok(&["update", "--pids-limit", "40", "upd"]);
    assert_eq!(read(&pids), "40");
    d.docker_ok(&["restart", "-t", "1", "upd"]);
    let pids = cgroup_file(d, &id, ("pids", "pids.max"), "pids.max");
    assert_eq!(read(&pids), "40");
    assert_eq!(
        read(&cgroup_file(
            d,
            &id,
            ("memory", "memory.limit_in_bytes"),
            "memory.max"
        )),
        (64u64 << 20).to_string()
    );

    let err = d.docker_run(&["update", "--memory", "64m", "missing"]);
    assert!(err.failed().contains("No such container"), "{}", err.stderr);
    d.docker_ok(&["rm", "-f", "upd"]);
}

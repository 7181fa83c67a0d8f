//! `container prune`, `system df` and `system prune` with the docker CLI and
//! the pouch CLI.

use pouch_tests::{waits::sorted_lines, TestDaemon, IMAGE};

/// Starts container `name`, sleeping, without a network.
fn sleeper(d: &TestDaemon, name: &str) {
    let args = ["run", "-d", "--name", name, "--network", "none", IMAGE];
    d.docker_ok(&[&args[..], &["sleep", "300"]].concat());
}

/// Names of all containers, sorted.
fn names(d: &TestDaemon) -> Vec<String> {
    sorted_lines(&d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]))
}

#[test]
fn container_prune_keeps_running_paused_and_filtered_out_containers() {
    let Some(d) = TestDaemon::start() else { return };
    let d = &d;
    let id = |name: &str| d.inspect_field(name, "{{.Id}}");
    d.docker_ok(&[
        "create",
        "--name",
        "fresh",
        "--network",
        "none",
        IMAGE,
        "true",
    ]);
    // Writes into its layer, so that there is space to reclaim.
    let script = "head -c 100000 /dev/zero > /big";
    d.docker_ok(&[
        "run",
        "--name",
        "done",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    sleeper(d, "up");
    sleeper(d, "held");
    d.docker_ok(&["pause", "held"]);
    d.docker_ok(&[
        "create", "--name", "kept", "--label", "keep=1", IMAGE, "true",
    ]);
    let (fresh, done) = (id("fresh"), id("done"));

    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    let mut deleted: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Deleted Containers:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    deleted.sort();
    let mut want = vec![fresh.as_str(), done.as_str()];
    want.sort();
    assert_eq!(deleted, want, "{out}");
    // 100 kB written, plus the directories of the writable layer.
    let total = out.lines().last().unwrap_or_default();
    let kb: f64 = total
        .strip_prefix("Total reclaimed space: ")
        .and_then(|t| t.strip_suffix("kB"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((100.0..200.0).contains(&kb), "{out}");
    assert_eq!(names(d), ["held", "kept", "up"]);

    // Bad filters are refused in Docker's words.
    let err = d.docker_run(&["container", "prune", "-f", "--filter", "dangling=true"]);
    assert!(
        err.failed().contains("Invalid filter 'dangling'"),
        "{}",
        err.stderr
    );

    // The pouch CLI, without a filter: the labelled one goes too.
    let kept = id("kept");
    let out = d.pouch_ok(&["container", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{kept}\n")),
        "{out}"
    );
    assert_eq!(names(d), ["held", "up"]);
    d.docker_ok(&["rm", "-f", "held", "up"]);
}

#[test]
fn system_df_and_system_prune() {
    let Some(d) = TestDaemon::start() else { return };
    let d = &d;
    d.docker_ok(&["volume", "create", "data"]);
    let script = "head -c 50000 /dev/zero > /data/f";
    d.docker_ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    sleeper(d, "up");

    let out = d.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Images 1 1",
            "Containers 2 1",
            "Local Volumes 1 1",
            "Build Cache 0 0"
        ],
        "{out}"
    );
    let verbose = d.docker_ok(&["system", "df", "-v"]);
    assert!(
        verbose.contains("writer") && verbose.contains("data"),
        "{verbose}"
    );
    // The volume's 50 kB are counted.
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("data ") && l.contains("50")),
        "{verbose}"
    );
    let table = d.pouch_ok(&["system", "df"]);
    assert!(table.starts_with("TYPE"), "{table}");
    let containers = table
        .lines()
        .find(|l| l.starts_with("Containers"))
        .unwrap_or_default();
    assert_eq!(
        containers.split_whitespace().take(3).collect::<Vec<_>>(),
        ["Containers", "2", "1"]
    );

    // docker's system prune: stopped containers, unused networks, dangling
    // images and the (empty) build cache.
    let out = d.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert_eq!(names(d), ["up"]);
    // The image is used by a container and tagged: it stays; so does the volume.
    d.docker_ok(&["image", "inspect", IMAGE]);
    d.docker_ok(&["volume", "inspect", "data"]);

    // pouch's, with --volumes: the stopped container, an unused network and
    // the volume the container held go, in one report with one total.
    d.docker_ok(&[
        "create",
        "--name",
        "idle",
        "-v",
        "data:/data",
        IMAGE,
        "true",
    ]);
    let idle = d.inspect_field("idle", "{{.Id}}");
    d.docker_ok(&["network", "create", "unused"]);
    let out = d.pouch_ok(&["system", "prune", "-f", "--volumes"]);
    let want = format!(
        "Deleted Containers:\n{idle}\n\nDeleted Networks:\nunused\n\nDeleted Volumes:\ndata\n\nTotal reclaimed space: "
    );
    assert!(out.starts_with(&want), "{out}");
    assert_eq!(out.matches("Total reclaimed space").count(), 1, "{out}");
    assert_eq!(names(d), ["up"]);
    assert!(!d
        .docker_run(&["volume", "inspect", "data"])
        .status
        .success());
    d.docker_ok(&["rm", "-f", "up"]);
}

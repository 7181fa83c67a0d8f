//! Volumes through the docker 20.10 CLI, the raw API and the pouch CLI:
//! named, anonymous and image volumes, copy-up, in-use refusal, prune, and
//! survival of a pouchd kill -9.

use pouch_tests::waits::is_full_id;
use pouch_tests::TestDaemon;

fn volume_names(d: &TestDaemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .docker_ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn named_volume_carries_data_between_containers() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/f",
    ]);
    assert_eq!(
        d.inspect_field(
            "writer",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.RW}} {{.Mode}}{{end}}"
        ),
        "volume data /data local true z"
    );
    let source = d.inspect_field("writer", "{{range .Mounts}}{{.Source}}{{end}}");
    assert!(source.ends_with("/volumes/data/_data"), "{source}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/in:ro",
        "busybox",
        "sh",
        "-c",
        "cat /in/f; touch /in/g 2>/dev/null || echo read-only",
    ]);
    assert_eq!(out, "hello\nread-only");
    // --mount type=volume reaches the same volume.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/m",
        "busybox",
        "cat",
        "/m/f",
    ]);
    assert_eq!(out, "hello");
    d.docker_ok(&["rm", "writer"]);
    d.docker_ok(&["volume", "rm", "data"]);
    assert!(volume_names(&d).is_empty());
}

#[test]
fn volume_ls_inspect_rm_prune_output() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.docker_ok(&["volume", "create", "--label", "a=b", "v1"]),
        "v1"
    );
    d.docker_ok(&["volume", "create", "v2"]);
    let ls = d.docker_ok(&["volume", "ls"]);
    let lines: Vec<&str> = ls.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        ["DRIVER    VOLUME NAME", "local     v1", "local     v2"],
        "{ls}"
    );
    assert_eq!(
        d.docker_ok(&["volume", "ls", "-q", "-f", "label=a=b"]),
        "v1"
    );
    assert_eq!(d.docker_ok(&["volume", "ls", "-q", "-f", "name=2"]), "v2");
    assert_eq!(
        d.docker_ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.a}}",
            "v1",
        ]),
        "v1 local local b"
    );
    let raw = d.get_ok("/v1.41/volumes/v1").json();
    assert!(raw["Mountpoint"]
        .as_str()
        .unwrap_or("")
        .ends_with("/volumes/v1/_data"));
    let created = raw["CreatedAt"].as_str().unwrap_or("").to_string();
    assert!(chrono_like(&created), "{created}");
    let o = d.docker_run(&["volume", "inspect", "nope"]);
    assert!(!o.status.success());
    assert!(o.stderr.contains("No such volume: nope"), "{}", o.stderr);

    d.docker_ok(&["create", "--name", "user", "-v", "v2:/d", "busybox", "true"]);
    let pruned = d.docker_ok(&["volume", "prune", "-f"]);
    assert_eq!(pruned, "Deleted Volumes:\nv1\n\nTotal reclaimed space: 0B");
    assert_eq!(volume_names(&d), ["v2"]);
    assert_eq!(
        d.docker_ok(&["volume", "ls", "-q", "-f", "dangling=true"]),
        ""
    );
    d.docker_ok(&["rm", "user"]);
    assert_eq!(
        d.docker_ok(&["volume", "ls", "-q", "-f", "dangling=true"]),
        "v2"
    );
    assert_eq!(d.docker_ok(&["volume", "rm", "v2"]), "v2");
    assert!(volume_names(&d).is_empty());
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 1)
        .unwrap_or(0);
    let events = d.docker_ok(&[
        "events",
        "--since",
        "1",
        "--until",
        &until.to_string(),
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}",
    ]);
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        [
            "create v1 local",
            "create v2 local",
            "destroy v1 local",
            "destroy v2 local"
        ]
    );
}

/// `2023-03-01T10:00:00Z`.
fn chrono_like(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[test]
fn volume_in_use_is_refused_even_forced() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["create", "-v", "used:/d", "busybox", "true"]);
    for args in [
        &["volume", "rm", "used"][..],
        &["volume", "rm", "-f", "used"],
    ] {
        let o = d.docker_run(args);
        assert!(!o.status.success());
        assert!(
            o.stderr
                .contains(&format!("remove used: volume is in use - [{id}]")),
            "{}",
            o.stderr
        );
    }
    let r = d.delete("/v1.41/volumes/used");
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap_or("")
        .contains("in use"));
    d.docker_ok(&["rm", &id]);
    d.docker_ok(&["volume", "rm", "used"]);
    // -f on a missing volume is not an error, as in Docker.
    d.docker_ok(&["volume", "rm", "-f", "used"]);
    assert_eq!(d.delete("/v1.41/volumes/used").status, 404);
}

#[test]
fn anonymous_volume_goes_with_rm_v() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run", "--name", "ca", "-v", "/data", "busybox", "touch", "/data/x",
    ]);
    let name = d.inspect_field("ca", "{{range .Mounts}}{{.Name}}{{end}}");
    assert!(is_full_id(&name), "{name}");
    assert_eq!(volume_names(&d), vec![name.clone()]);
    d.docker_ok(&[
        "run", "--name", "cb", "-v", "/data", "-v", "keep:/k", "busybox", "true",
    ]);
    // --rm takes the anonymous volumes along, as Docker's auto-remove does.
    d.docker_ok(&["run", "--rm", "-v", "/gone", "busybox", "true"]);
    pouch_tests::wait_for(
        "the --rm container to go",
        std::time::Duration::from_secs(10),
        || {
            d.docker_ok(&["ps", "-aq", "-f", "status=exited"])
                .lines()
                .count()
                .eq(&2)
                .then_some(())
        },
    );
    pouch_tests::wait_for(
        "its anonymous volume to go",
        std::time::Duration::from_secs(10),
        || (volume_names(&d).len() == 3).then_some(()),
    );
    d.docker_ok(&["rm", "-v", "ca"]);
    let left = volume_names(&d);
    assert!(!left.contains(&name), "{left:?}");
    assert_eq!(left.len(), 2, "{left:?}");
    // Without -v the anonymous volume stays; a named one always does.
    d.docker_ok(&["rm", "cb"]);
    assert_eq!(volume_names(&d).len(), 2);
    d.docker_ok(&["volume", "prune", "-f"]);
    assert!(volume_names(&d).is_empty());
}

#[test]
fn fresh_volume_gets_the_image_content() {
    let Some(d) = TestDaemon::start() else { return };
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "etc:/etc",
        "busybox",
        "sh",
        "-c",
        "cat /etc/passwd; cat /etc/hostname",
    ]);
    assert!(out.starts_with("root:"), "{out}");
    // The copy is in the volume itself, owners and modes kept.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "etc:/x",
        "busybox",
        "sh",
        "-c",
        "cat /x/group >/dev/null && stat -c '%u:%g %a' /x/passwd",
    ]);
    assert_eq!(out, "0:0 644");
    // A volume that already has content is left alone.
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "own:/own",
        "busybox",
        "touch",
        "/own/mine",
    ]);
    let out = d.docker_ok(&["run", "--rm", "-v", "own:/etc", "busybox", "ls", "/etc"]);
    assert!(out.contains("mine") && !out.contains("passwd"), "{out}");
    // nocopy: nothing copied.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "empty:/etc:nocopy",
        "busybox",
        "ls",
        "/etc",
    ]);
    assert!(!out.contains("passwd"), "{out}");
}

#[test]
fn bad_names_and_drivers_are_refused() {
    let Some(d) = TestDaemon::start() else { return };
    for bad in ["a/b", "..", "x", "-lead"] {
        let r = d.post_json("/v1.41/volumes/create", &serde_json::json!({"Name": bad}));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["message"].is_string());
    }
    let r = d.post_json("/v1.41/volumes/create", &serde_json::json!({"Name": "a/b"}));
    assert_eq!(
        r.json()["message"],
        "create a/b: \"a/b\" includes invalid characters for a local volume name, only \
         \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    );
    let r = d.post_json(
        "/v1.41/volumes/create",
        &serde_json::json!({"Name": "ok", "Driver": "nfs"}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let o = d.docker_run(&["run", "--rm", "-v", "bad name:/d", "busybox", "true"]);
    assert!(!o.status.success());
    let r = d.get_ok("/v1.41/volumes?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(volume_names(&d).is_empty());
    // Nothing was made outside the volumes directory either.
    assert!(!d.dir.join("home/a").exists() && !d.dir.join("home/volumes/a").exists());
}

#[test]
fn volumes_survive_kill9() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    d.docker_ok(&["volume", "create", "--label", "k=v", "keep"]);
    d.docker_ok(&[
        "run",
        "--name",
        "user",
        "-v",
        "keep:/d",
        "busybox",
        "sh",
        "-c",
        "echo kept > /d/f",
    ]);
    d.restart();
    assert_eq!(
        d.docker_ok(&["volume", "inspect", "-f", "{{.Name}} {{.Labels.k}}", "keep"]),
        "keep v"
    );
    // Its user is known again: still refused.
    assert!(!d.docker_run(&["volume", "rm", "keep"]).status.success());
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-v", "keep:/d", "busybox", "cat", "/d/f"]),
        "kept"
    );
    d.docker_ok(&["rm", "user"]);
    d.docker_ok(&["volume", "rm", "keep"]);
}

#[test]
fn image_volume_becomes_anonymous_volume_with_the_image_content() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "--name",
        "base",
        "busybox",
        "sh",
        "-c",
        "mkdir /vol && echo baked > /vol/f",
    ]);
    d.docker_ok(&[
        "commit",
        "--change",
        "VOLUME [\"/vol\"]",
        "base",
        "withvol:1",
    ]);
    assert_eq!(
        d.docker_ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Volumes}}",
            "withvol:1"
        ]),
        r#"{"/vol":{}}"#
    );
    d.docker_ok(&["run", "--name", "user", "withvol:1", "cat", "/vol/f"]);
    assert_eq!(d.docker_ok(&["logs", "user"]), "baked");
    let name = d.inspect_field(
        "user",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
    );
    let parts: Vec<&str> = name.split(' ').collect();
    assert_eq!((parts[0], parts[2]), ("volume", "/vol"), "{name}");
    assert!(is_full_id(parts[1]), "{name}");
    // A bind at the same place wins over the image's volume.
    let host = d.sync_dir();
    let bind = format!("{}:/vol", host.display());
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "withvol:1",
        "touch",
        "/vol/from-bind",
    ]);
    assert!(host.join("from-bind").exists());
    d.docker_ok(&["rm", "-v", "user", "base"]);
    assert!(volume_names(&d).is_empty());
}

#[test]
fn pouch_cli_volume_commands() {
    let Some(d) = TestDaemon::start() else { return };
    assert_eq!(
        d.pouch_ok(&["volume", "create", "--label", "a=b", "pv1"]),
        "pv1"
    );
    assert_eq!(d.pouch_ok(&["volume", "create", "pv2"]), "pv2");
    let ls = d.pouch_ok(&["volume", "ls"]);
    let lines: Vec<&str> = ls.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        ["DRIVER    VOLUME NAME", "local     pv1", "local     pv2"]
    );
    assert_eq!(
        d.pouch_ok(&["volume", "ls", "-q", "--filter", "label=a"]),
        "pv1"
    );
    assert_eq!(
        d.pouch_ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels.a}}",
            "pv1"
        ]),
        "pv1 local b"
    );
    let json: serde_json::Value =
        serde_json::from_str(&d.pouch_ok(&["volume", "inspect", "pv2"])).expect("inspect JSON");
    assert_eq!(json[0]["Scope"], "local");
    let o = d.pouch_run(&["volume", "inspect", "nope"]);
    assert!(!o.status.success());
    assert!(o.stderr.contains("No such volume: nope"), "{}", o.stderr);

    let out = d.pouch_ok(&[
        "run",
        "--name",
        "pc",
        "-v",
        "pv1:/data",
        "busybox",
        "sh",
        "-c",
        "echo hi > /data/f; cat /data/f",
    ]);
    assert_eq!(out, "hi");
    let o = d.pouch_run(&["volume", "rm", "pv1"]);
    assert!(!o.status.success());
    assert!(o.stderr.contains("volume is in use"), "{}", o.stderr);
    d.pouch_ok(&["rm", "pc"]);
    assert_eq!(
        d.pouch_ok(&["volume", "prune", "-f", "--filter", "label=a=b"]),
        "Deleted Volumes:\npv1\n\nTotal reclaimed space: 3B"
    );
    assert_eq!(d.pouch_ok(&["volume", "rm", "pv2"]), "pv2");
    assert_eq!(d.pouch_ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn volumes_from_shares_volumes_and_binds() {
    let Some(d) = TestDaemon::start() else { return };
    let host = d.dir.join("hostdir");
    std::fs::create_dir_all(&host).expect("host dir");
    std::fs::write(host.join("x"), "from host\n").expect("write");
    let bind = format!("{}:/hb", host.display());
    d.docker_ok(&[
        "create",
        "--name",
        "data",
        "-v",
        "shared:/shared",
        "-v",
        "/anon",
        "-v",
        &bind,
        "busybox",
        "true",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "data",
        "busybox",
        "sh",
        "-c",
        "echo hi > /shared/f && echo a > /anon/g && cat /hb/x",
    ]);
    assert_eq!(out, "from host");
    // Read-only when asked: reads work, writes do not.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "data:ro",
        "busybox",
        "cat",
        "/shared/f",
        "/anon/g",
    ]);
    assert_eq!(out, "hi\na");
    let o = d.docker_run(&[
        "run",
        "--rm",
        "--volumes-from",
        "data:ro",
        "busybox",
        "touch",
        "/shared/nope",
    ]);
    assert!(!o.status.success(), "wrote to a read-only volume");
    // The consumers do not own the volumes: they outlive them.
    assert!(volume_names(&d).contains(&"shared".to_string()));
    let anon = d.inspect_field(
        "data",
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
    );
    assert!(volume_names(&d).contains(&anon), "{anon}");
    d.docker_ok(&["rm", "-v", "data"]);
    assert!(!volume_names(&d).contains(&anon));
    // An unknown source container is Docker's 404.
    let r = d.post_json(
        "/v1.41/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"VolumesFrom": ["nosuch"]}}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    d.docker_ok(&["volume", "rm", "shared"]);
}

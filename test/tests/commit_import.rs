//! docker commit (a container's changes become an image) and docker import
//! (a rootfs tarball becomes an image), through the real docker CLI.

use pouch_tests::tarball::TarBuilder;
use pouch_tests::TestDaemon;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

fn layers(d: &TestDaemon, image: &str) -> Vec<serde_json::Value> {
    let i = d.get_ok(&format!("/v1.41/images/{image}/json")).json();
    i["RootFS"]["Layers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The daemon's past events passing `filter`, one `format` line each.
fn events(d: &TestDaemon, filter: &str, format: &str) -> String {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 1;
    let out = d.docker_ok(&[
        "events",
        "--since",
        "1",
        "--until",
        &until.to_string(),
        "--filter",
        filter,
        "--format",
        format,
    ]);
    if out.is_empty() {
        out
    } else {
        out + "\n"
    }
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn commit_keeps_the_containers_changes_and_applies_changes() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo hello > /x && rm /bin/bc",
    ]);
    let id = d.docker_ok(&[
        "commit",
        "--change",
        r#"CMD ["cat","/x"]"#,
        "-c",
        "ENV A=b",
        "-m",
        "my message",
        "-a",
        "me",
        "c1",
        "committed:v1",
    ]);
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(d.inspect_field("committed:v1", "{{.Id}}"), id);

    assert_eq!(d.docker_ok(&["run", "--rm", "committed:v1"]), "hello");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "committed:v1",
        "sh",
        "-c",
        "echo $A; test -e /bin/bc || test -L /bin/bc && echo present || echo gone",
    ]);
    assert_eq!(out, "b\ngone");

    let i = d.get_ok("/v1.41/images/committed:v1/json").json();
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["cat", "/x"]));
    let env: Vec<&str> = i["Config"]["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(env.contains(&"A=b"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(i["Author"], "me");
    assert_eq!(
        layers(&d, "committed:v1").len(),
        layers(&d, "busybox").len() + 1
    );
    assert_eq!(
        layers(&d, "committed:v1")[..layers(&d, "busybox").len()],
        layers(&d, "busybox")[..]
    );
    // The new layer holds the container's changes only: not the mount
    // points runc made for /etc/hosts and the like (the init layer's).
    let o = d.docker_sh(
        "dir=$(mktemp -d) && \"$DOCKER\" save committed:v1 | tar -x -C \"$dir\" && \
         tar -tf \"$dir/$(jq -r '.[0].Layers[-1]' \"$dir/manifest.json\")\" | sort; rm -rf \"$dir\"",
    );
    let entries: Vec<&str> = o
        .stdout
        .lines()
        .map(|l| l.trim_start_matches("./"))
        .collect();
    assert_eq!(entries, ["bin/", "bin/.wh.bc", "x"], "{}", o.stderr);
    assert_eq!(
        d.docker_ok(&["diff", "c1"]).lines().collect::<Vec<_>>(),
        ["C /bin", "D /bin/bc", "A /x"]
    );

    // A commit of the committed image's container stacks one more layer.
    d.docker_ok(&[
        "run",
        "--name",
        "c2",
        "committed:v1",
        "sh",
        "-c",
        "echo 2 > /y",
    ]);
    d.docker_ok(&["commit", "c2", "committed:v2"]);
    assert_eq!(
        layers(&d, "committed:v2").len(),
        layers(&d, "committed:v1").len() + 1
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "committed:v2", "cat", "/x", "/y"]),
        "hello\n2"
    );
    // Each commit is a container event naming the new image.
    let commits = events(
        &d,
        "event=commit",
        "{{.Type}} {{.Actor.Attributes.name}} {{.Actor.Attributes.imageRef}}",
    );
    assert_eq!(
        commits.lines().collect::<Vec<_>>(),
        ["container c1 committed:v1", "container c2 committed:v2"]
    );
    // Without changes, the container's command is kept.
    assert_eq!(
        d.get_ok("/v1.41/images/committed:v2/json").json()["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "echo 2 > /y"])
    );
}

#[test]
fn commit_of_a_running_container_pauses_and_leaves_it_running() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "runner", "busybox", "sleep", "1000"]);
    d.docker_ok(&["exec", "runner", "sh", "-c", "echo live > /y"]);
    let id = d.docker_ok(&["commit", "--pause=true", "runner", "running:1"]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.inspect_field("runner", "{{.State.Status}}"), "running");
    assert_eq!(d.inspect_field("runner", "{{.State.Paused}}"), "false");
    // It was paused for the diff, and unpaused after.
    let pauses =
        events(&d, "event=pause", "{{.Action}}") + &events(&d, "event=unpause", "{{.Action}}");
    assert_eq!(pauses, "pause\nunpause\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "running:1", "cat", "/y"]),
        "live"
    );
    // The committed image runs the container's command.
    let i = d.get_ok("/v1.41/images/running:1/json").json();
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));

    // Without pausing, and untagged: the answer is the ID.
    let r = d.post("/v1.41/commit?container=runner&pause=0");
    assert_eq!(r.status, 201, "{}", r.text());
    let new_id = r.json()["Id"].as_str().expect("Id").to_string();
    assert_eq!(d.inspect_field(&new_id, "{{.Id}}"), new_id);
    assert_eq!(d.inspect_field("runner", "{{.State.Status}}"), "running");
    // A config in the body replaces the container's; what it leaves unset
    // comes from the container's.
    let r = d.post_json(
        "/v1.41/commit?container=runner&repo=withbody&tag=1&changes=LABEL%20c%3Dd",
        &serde_json::json!({"Cmd": ["echo", "from body"], "Labels": {"k": "v"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let i = d.get_ok("/v1.41/images/withbody:1/json").json();
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["echo", "from body"]));
    assert_eq!(
        i["Config"]["Labels"],
        serde_json::json!({"k": "v", "c": "d"})
    );
    assert!(
        i["Config"]["Env"].to_string().contains("PATH="),
        "{}",
        i["Config"]
    );
    assert_eq!(d.docker_ok(&["run", "--rm", "withbody:1"]), "from body");
    d.docker_ok(&["rm", "-f", "runner"]);
}

#[test]
fn commit_errors() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["create", "--name", "errc", "busybox", "true"]);
    let msg = d.post("/v1.41/commit?container=nope").expect_error(404);
    assert!(msg.contains("nope"), "{msg}");
    let msg = d
        .post("/v1.41/commit?container=errc&changes=RUN%20echo%20hi")
        .expect_error(400);
    assert_eq!(msg, "RUN is not a valid change command");
    let msg = d
        .post("/v1.41/commit?container=errc&changes=BOGUS%20x")
        .expect_error(400);
    assert!(msg.contains("unknown instruction: BOGUS"), "{msg}");
    d.post("/v1.41/commit?container=errc&repo=Bad%20Name")
        .expect_error(400);
    // A container that changed nothing adds a history entry, not a layer.
    d.docker_ok(&["commit", "errc", "same:1"]);
    assert_eq!(layers(&d, "same:1"), layers(&d, "busybox"));
    // A container whose image was removed (by force) cannot be committed.
    d.docker_ok(&["tag", "busybox", "other:1"]);
    d.docker_ok(&["create", "--name", "orphan", "other:1", "true"]);
    d.docker_ok(&["rmi", "-f", "busybox", "other:1"]);
    let msg = d.post("/v1.41/commit?container=orphan").expect_error(409);
    assert!(msg.contains("no longer exists"), "{msg}");
    let err = d.docker_run(&["commit", "-c", "EXPOSE notaport", "errc", "x:1"]);
    assert!(
        err.failed().contains("invalid containerPort"),
        "{}",
        err.stderr
    );
    // Nothing was created by the failed commits.
    assert!(!d.get_ok("/v1.41/images/json").text().contains("x:1"));
}

/// A busybox root filesystem as `docker export` writes it, plain and gzip.
fn rootfs_tarballs(d: &TestDaemon, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    d.docker_ok(&["create", "--name", "src", "busybox", "true"]);
    let plain = dir.join("rootfs.tar");
    let gz = dir.join("rootfs.tar.gz");
    d.docker_sh(&format!(
        "\"$DOCKER\" export src > {p} && gzip -c {p} > {g}",
        p = sh_quote(&plain),
        g = sh_quote(&gz)
    ))
    .ok();
    d.docker_ok(&["rm", "src"]);
    (plain, gz)
}

/// Serves `data` to every request on 127.0.0.1 from a thread; returns the URL.
fn serve(data: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                data.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&data);
        }
    });
    format!("http://{addr}/rootfs.tar.gz")
}

#[test]
fn import_plain_and_gzip_from_stdin_and_url() {
    let Some(d) = TestDaemon::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (plain, gz) = rootfs_tarballs(&d, tmp.path());

    let out = d
        .docker_sh(&format!(
            "\"$DOCKER\" import -m 'first import' -c 'CMD [\"echo\",\"imported\"]' - imp:plain < {}",
            sh_quote(&plain)
        ))
        .ok()
        .trim()
        .to_string();
    assert!(out.starts_with("sha256:") && out.len() == 71, "{out}");
    assert_eq!(d.inspect_field("imp:plain", "{{.Id}}"), out);
    assert_eq!(d.docker_ok(&["run", "--rm", "imp:plain"]), "imported");
    let i = d.get_ok("/v1.41/images/imp:plain/json").json();
    assert_eq!(i["Comment"], "first import");
    assert_eq!(i["Os"], "linux");
    assert_eq!(layers(&d, "imp:plain").len(), 1);

    d.docker_sh(&format!(
        "cat {} | \"$DOCKER\" import -c 'ENV X=1' -c 'WORKDIR /tmp' - imp:gz",
        sh_quote(&gz)
    ))
    .ok();
    assert_eq!(
        d.docker_ok(&["run", "--rm", "imp:gz", "sh", "-c", "echo $X; pwd"]),
        "1\n/tmp"
    );
    // Same tar inside: same diff ID.
    assert_eq!(layers(&d, "imp:gz"), layers(&d, "imp:plain"));

    let xz = tmp.path().join("rootfs.tar.xz");
    d.docker_sh(&format!(
        "xz -c {} > {x} && \"$DOCKER\" import - imp:xz < {x}",
        sh_quote(&plain),
        x = sh_quote(&xz)
    ))
    .ok();
    assert_eq!(layers(&d, "imp:xz"), layers(&d, "imp:plain"));
    assert_eq!(d.docker_ok(&["run", "--rm", "imp:xz", "echo", "xz"]), "xz");

    let url = serve(std::fs::read(&gz).expect("read gz"));
    d.docker_ok(&["import", "--change", "USER pouchtest", &url, "imp:url"]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "imp:url", "id", "-un"]),
        "pouchtest"
    );
    assert_eq!(layers(&d, "imp:url"), layers(&d, "imp:plain"));
    let r = d
        .post_raw(
            "/v1.41/images/create?fromSrc=-&repo=plat:1&platform=linux/arm64/v8",
            None,
            &std::fs::read(&plain).expect("read tar"),
        )
        .expect("post");
    assert_eq!(r.status, 200, "{}", r.text());
    let i = d.get_ok("/v1.41/images/plat:1/json").json();
    assert_eq!(
        (i["Os"].as_str(), i["Architecture"].as_str()),
        (Some("linux"), Some("arm64"))
    );
    assert_eq!(i["Variant"], "v8");
    // An untagged import answers with its ID.
    let r = d
        .post_raw(
            "/v1.41/images/create?fromSrc=-",
            Some("application/x-tar"),
            &std::fs::read(&plain).expect("read tar"),
        )
        .expect("post");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("{\"status\":\"sha256:"), "{}", r.text());
}

#[test]
fn import_errors() {
    let Some(d) = TestDaemon::start() else { return };
    let tar = TarBuilder::new().file("a", b"x").finish();
    let post = |q: &str, body: &[u8]| {
        d.post_raw(&format!("/v1.41/images/create?{q}"), None, body)
            .expect("post")
    };
    let msg = post("fromSrc=-&changes=FOO%20bar", &tar).expect_error(400);
    assert!(msg.contains("unknown instruction: FOO"), "{msg}");
    post("fromSrc=-&platform=windows/amd64", &tar).expect_error(400);
    let msg = post("fromSrc=-", b"this is not a tarball at all, not even close").expect_error(400);
    assert!(msg.contains("not a tar archive"), "{msg}");
    post("fromSrc=ftp://127.0.0.1/x", b"").expect_error(400);
    let err = d.docker_stdin(&["import", "-c", "RUN x", "-", "bad:1"], &tar);
    assert!(
        err.failed().contains("RUN is not a valid change command"),
        "{}",
        err.stderr
    );
}

#[test]
fn hostile_tarball_imports_without_writing_outside() {
    let Some(d) = TestDaemon::start() else { return };
    let tag = pouch_tests::random_hex(8);
    let escape = format!("escape-{tag}");
    let abs_target = format!("/tmp/pouch-abs-{tag}");
    let tar = TarBuilder::new()
        .file("ok", b"fine")
        .file(&format!("../{escape}"), b"out")
        .file(&format!("../../../../../../tmp/{escape}"), b"out")
        .file(&format!("/tmp/abs-{escape}"), b"out")
        .symlink("abs", &abs_target)
        .file("abs/through", b"out")
        .finish();
    let out = d.docker_stdin(&["import", "-", "hostile:1"], &tar);
    let id = out.ok().trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");

    assert!(!Path::new(&abs_target).exists(), "{abs_target} was created");
    assert!(!Path::new(&format!("/tmp/{escape}")).exists());
    assert!(!Path::new(&format!("/tmp/abs-{escape}")).exists());
    // Inside the daemon's directories, the entries may only land in a
    // snapshot's root (`.../fs/...`), never beside it.
    let out = std::process::Command::new("find")
        .arg(&d.dir)
        .arg("-name")
        .arg(&escape)
        .output()
        .expect("find");
    for p in String::from_utf8_lossy(&out.stdout).lines() {
        let parent = Path::new(p).parent().and_then(|p| p.file_name());
        assert!(
            parent.is_some_and(|n| n == "fs" || n == "tmp"),
            "entry escaped the snapshot: {p}"
        );
    }
    // The image's own files are there.
    d.docker_ok(&["create", "--name", "hostile", "hostile:1", "x"]);
    let listing = d.docker_sh("\"$DOCKER\" export hostile | tar t");
    let names: Vec<&str> = listing
        .ok()
        .lines()
        .map(|l| l.trim_start_matches("./"))
        .collect();
    assert!(names.contains(&"ok"), "{names:?}");
    // `../x` lands in the root, as containerd's applier cleans names.
    assert!(names.contains(&escape.as_str()), "{names:?}");
}

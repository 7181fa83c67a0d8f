//! Requests that must be refused, with the right status and a Docker-style
//! `{"message": "..."}` body, sent as raw HTTP over the unix socket.

use pouch_tests::tarball::{DockerArchive, TarBuilder};
use pouch_tests::TestDaemon;
use serde_json::json;
use std::path::Path;

const CT_JSON: Option<&str> = Some("application/json");

fn create_status(d: &TestDaemon, body: &str) -> pouch_tests::Response {
    d.post_raw("/v1.41/containers/create", CT_JSON, body.as_bytes())
        .expect("POST /containers/create")
}

#[test]
fn malformed_and_mistyped_create_bodies_are_400() {
    let Some(d) = TestDaemon::start() else { return };
    for body in [
        r#"{"Image": "busybox","#,
        r#"{"Image": "busybox", "Cmd": ["true"]"#,
        "not json at all",
        r#"["busybox"]"#,
        r#"{"Image":"busybox","Cmd":5}"#,
        r#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#,
        r#"{"Image":"busybox","Env":"A=1"}"#,
        r#"{"Image":"busybox","Labels":["a"]}"#,
        r#"{"Image":5}"#,
    ] {
        let r = create_status(&d, body);
        let m = r.expect_error(400);
        assert!(!m.is_empty(), "{body}");
    }
    // Nothing was created by any of them.
    let r = d.get_ok("/v1.41/containers/json?all=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]), "refused creates left containers");
    // The same body, well-formed, is fine.
    let r = create_status(&d, r#"{"Image":"busybox","Cmd":["true"]}"#);
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn unknown_container_is_404_everywhere() {
    let Some(d) = TestDaemon::start() else { return };
    let reqs: &[(&str, &str)] = &[
        ("GET", "/v1.41/containers/x/json"),
        ("POST", "/v1.41/containers/x/start"),
        ("POST", "/v1.41/containers/x/stop"),
        ("POST", "/v1.41/containers/x/restart"),
        ("POST", "/v1.41/containers/x/kill"),
        ("POST", "/v1.41/containers/x/pause"),
        ("POST", "/v1.41/containers/x/unpause"),
        ("POST", "/v1.41/containers/x/wait"),
        ("POST", "/v1.41/containers/x/rename?name=newname"),
        ("GET", "/v1.41/containers/x/logs?stdout=1"),
        ("POST", "/v1.41/containers/x/attach?stream=1&stdout=1"),
        ("DELETE", "/v1.41/containers/x"),
        ("DELETE", "/v1.41/containers/x?force=1"),
        // Unversioned paths too.
        ("GET", "/containers/x/json"),
    ];
    for (method, path) in reqs {
        let r = d
            .request(method, path, None, b"")
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let m = r.expect_error(404);
        assert_eq!(m, "No such container: x", "{method} {path}");
    }
}

#[test]
fn unknown_image_and_route() {
    let Some(d) = TestDaemon::start() else { return };
    let r = create_status(&d, r#"{"Image":"nosuch:latest"}"#);
    let m = r.expect_error(404);
    assert!(m.contains("No such image"), "{m}");
    assert!(m.contains("nosuch"), "{m}");
    d.get_ok("/v1.41/images/nosuch/json").expect_error(404);
    d.delete("/v1.41/images/nosuch").expect_error(404);
    d.get_ok("/v1.41/no/such/endpoint").expect_error(404);
}

#[test]
fn name_conflicts_are_409() {
    let Some(d) = TestDaemon::start() else { return };
    let body = json!({"Image": "busybox", "Cmd": ["true"]});
    let first = d.create_raw("dup", body.clone());
    let r = d.post_json("/v1.41/containers/create?name=dup", &body);
    let m = r.expect_error(409);
    assert!(m.contains("dup"), "{m}");
    assert!(
        m.contains(&first[..12]),
        "the message names the holder: {m}"
    );
    // Also with the leading slash, and through rename.
    d.post_json("/v1.41/containers/create?name=/dup", &body)
        .expect_error(409);
    let other = d.create_raw("other", body.clone());
    d.post(&format!("/v1.41/containers/{other}/rename?name=dup"))
        .expect_error(409);
    // Invalid names are 400.
    for bad in ["a", "bad%2Fname", "-dash", "sp%20ace"] {
        d.post_json(&format!("/v1.41/containers/create?name={bad}"), &body)
            .expect_error(400);
    }
    d.post(&format!("/v1.41/containers/{other}/rename?name=bad%2Fname"))
        .expect_error(400);
}

#[test]
fn state_conflicts_and_not_modified() {
    let Some(d) = TestDaemon::start() else { return };
    let running = d.create_raw(
        "running",
        json!({"Image": "busybox", "Cmd": ["sleep", "1000"]}),
    );
    let r = d.post(&format!("/v1.41/containers/{running}/start"));
    assert_eq!(r.status, 204, "{}", r.text());

    // Start of a started container: 304, no body.
    let r = d.post(&format!("/v1.41/containers/{running}/start"));
    assert_eq!(r.status, 304, "{}", r.text());
    assert!(r.body.is_empty(), "304 with a body: {:?}", r.text());

    // Removing a running container without force: 409, and it still runs.
    let m = d
        .delete(&format!("/v1.41/containers/{running}"))
        .expect_error(409);
    assert!(m.to_lowercase().contains("running"), "{m}");
    assert_eq!(d.inspect_raw(&running)["State"]["Running"], true);

    // A created container cannot be paused or unpaused.
    let created = d.create_raw("created", json!({"Image": "busybox", "Cmd": ["true"]}));
    d.post(&format!("/v1.41/containers/{created}/pause"))
        .expect_error(409);
    d.post(&format!("/v1.41/containers/{created}/unpause"))
        .expect_error(409);
    // Unpausing a running container that is not paused.
    d.post(&format!("/v1.41/containers/{running}/unpause"))
        .expect_error(409);

    // Stop it; stop again: 304.
    let r = d.post(&format!("/v1.41/containers/{running}/stop?t=0"));
    assert_eq!(r.status, 204, "{}", r.text());
    let r = d.post(&format!("/v1.41/containers/{running}/stop"));
    assert_eq!(r.status, 304, "{}", r.text());
    assert!(r.body.is_empty());
    // Stopped containers cannot be paused or killed.
    d.post(&format!("/v1.41/containers/{running}/pause"))
        .expect_error(409);
    d.post(&format!("/v1.41/containers/{running}/kill"))
        .expect_error(409);
    // Bad query values.
    d.post(&format!("/v1.41/containers/{running}/stop?t=soon"))
        .expect_error(400);
    d.post(&format!(
        "/v1.41/containers/{running}/wait?condition=whenever"
    ))
    .expect_error(400);
    d.get_ok(&format!("/v1.41/containers/{running}/logs"))
        .expect_error(400);
    d.get_ok(&format!(
        "/v1.41/containers/{running}/logs?stdout=1&tail=some"
    ))
    .expect_error(400);
    // Now it may go.
    let r = d.delete(&format!("/v1.41/containers/{running}"));
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn bad_restart_policies_are_400() {
    let Some(d) = TestDaemon::start() else { return };
    for policy in [
        json!({"Name": "sometimes"}),
        json!({"Name": "always", "MaximumRetryCount": 3}),
        json!({"Name": "on-failure", "MaximumRetryCount": -1}),
    ] {
        let body = json!({"Image": "busybox", "HostConfig": {"RestartPolicy": policy}});
        let r = d.post_json("/v1.41/containers/create", &body);
        r.expect_error(400);
    }
    let r = d.get_ok("/v1.41/containers/json?all=1");
    assert_eq!(r.json(), json!([]));
    // A valid one is accepted.
    let body = json!({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}}});
    let r = d.post_json("/v1.41/containers/create", &body);
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn api_versions() {
    let Some(d) = TestDaemon::start() else { return };
    let m = d.get_ok("/v1.99/version").expect_error(400);
    assert!(m.contains("1.99") && m.contains("1.41"), "{m}");
    d.get_ok("/v1.42/containers/json").expect_error(400);
    d.get_ok("/v1.0/version").expect_error(400);
    for path in ["/v1.41/version", "/v1.24/version", "/version"] {
        let r = d.get_ok(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.json()["ApiVersion"], "1.41", "{path}");
    }
}

#[test]
fn malformed_filters_are_400() {
    let Some(d) = TestDaemon::start() else { return };
    for q in [
        "filters=%7Bbad",
        "filters=%5B1%2C2%5D",
        "filters=%7B%22status%22%3A5%7D",
        "filters=%7B%22colour%22%3A%5B%22blue%22%5D%7D",
        "filters=%7B%22status%22%3A%5B%22sleeping%22%5D%7D",
        "filters=%7B%22exited%22%3A%5B%22x%22%5D%7D",
        "limit=many",
    ] {
        d.get_ok(&format!("/v1.41/containers/json?{q}"))
            .expect_error(400);
    }
    d.get_ok("/v1.41/images/json?filters=%7Bbad")
        .expect_error(400);
    // Well-formed, in both the map and the legacy list form.
    for q in [
        "filters=%7B%22status%22%3A%5B%22exited%22%5D%7D",
        "filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D",
    ] {
        let r = d.get_ok(&format!("/v1.41/containers/json?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
}

#[test]
fn image_in_use_and_unknown() {
    let Some(d) = TestDaemon::start() else { return };
    d.create_raw("user", json!({"Image": "busybox", "Cmd": ["true"]}));
    let m = d.delete("/v1.41/images/busybox:latest").expect_error(409);
    assert!(!m.is_empty());
    let r = d.get_ok("/v1.41/images/busybox:latest/json");
    assert_eq!(r.status, 200, "image gone after a refused delete");
    // Tagging to an invalid reference: 400.
    d.post("/v1.41/images/busybox:latest/tag?repo=UPPER&tag=x")
        .expect_error(400);
    d.post("/v1.41/images/nosuch/tag?repo=a&tag=b")
        .expect_error(404);
}

// ---- hostile image archives -------------------------------------------------

/// Loads an archive and expects it refused with 400.
#[track_caller]
fn load_refused(d: &TestDaemon, what: &str, needle: &str, tar: &[u8]) {
    let r = d
        .post_raw("/v1.41/images/load", Some("application/x-tar"), tar)
        .unwrap_or_else(|e| panic!("load {what}: {e}"));
    assert_eq!(
        r.status,
        400,
        "{what}: expected 400, got {} {:?}",
        r.status,
        r.text()
    );
    let m = r.message();
    assert!(
        m.contains(needle),
        "{what}: refused for another reason than {needle:?}: {m}"
    );
}

fn image_refs(d: &TestDaemon) -> Vec<String> {
    let r = d.get_ok("/v1.41/images/json");
    assert_eq!(r.status, 200);
    let mut v: Vec<String> = r
        .json()
        .as_array()
        .expect("image list")
        .iter()
        .flat_map(|i| {
            i["RepoTags"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_string))
        })
        .collect();
    v.sort();
    v
}

/// Every file or symlink under `dir` (not following links), except under `skip`.
fn entries_named_evil(dir: &Path, skip: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        if e.file_name().to_string_lossy().contains("evil") {
            out.push(p.display().to_string());
        }
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(entries_named_evil(&p, skip));
        }
    }
    out
}

#[test]
fn hostile_image_archives_are_refused() {
    let Some(d) = TestDaemon::start() else { return };
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    let dir = d.dir.to_string_lossy().to_string();
    let rel_dir = dir.trim_start_matches('/');
    // A directory outside home/ that a symlink escape would write into.
    let evil_dir = d.dir.join("evil-dir");
    std::fs::create_dir_all(&evil_dir).unwrap();

    // The control: the same archive without hostile entries loads.
    let control = DockerArchive::new("evil-control:latest");
    let r = d
        .post_raw(
            "/v1.41/images/load",
            Some("application/x-tar"),
            &control.valid(),
        )
        .unwrap();
    assert_eq!(r.status, 200, "the valid hand-made archive: {}", r.text());
    assert_eq!(image_refs(&d), ["busybox:latest", "evil-control:latest"]);

    let a = DockerArchive::new("evil-a:latest");
    let layer_path = format!("{}/layer.tar", a.layer_dir);
    let with = |extra: &dyn Fn(&mut TarBuilder), layer: bool| {
        let mut t = TarBuilder::new();
        a.add_metadata(&mut t);
        extra(&mut t);
        if layer {
            t.file(&layer_path, &a.layer);
        }
        t.finish()
    };

    // 1. `..` entries: a short one, and one climbing to the test dir from anywhere.
    load_refused(
        &d,
        "../evil",
        "escapes",
        &with(
            &|t| {
                t.file("../evil", b"pwned");
            },
            true,
        ),
    );
    let deep = format!("{}{rel_dir}/evil-dotdot", "../".repeat(24));
    load_refused(
        &d,
        "deep ../ entry",
        "escapes",
        &with(
            &|t| {
                t.file(&deep, b"pwned");
            },
            true,
        ),
    );
    load_refused(
        &d,
        "../ inside a path",
        "escapes",
        &with(
            &|t| {
                t.file(&format!("{}/../../evil-mid", a.layer_dir), b"pwned");
            },
            true,
        ),
    );
    // 2. An absolute entry.
    let abs = format!("{dir}/evil-abs");
    load_refused(
        &d,
        "absolute entry",
        "absolute",
        &with(
            &|t| {
                t.file(&abs, b"pwned");
            },
            true,
        ),
    );
    // 3. The layer as a symlink to an absolute path.
    load_refused(
        &d,
        "layer.tar -> /etc/passwd",
        "absolute",
        &with(
            &|t| {
                t.symlink(&layer_path, "/etc/passwd");
            },
            false,
        ),
    );
    // ... or to a relative path leaving the archive.
    load_refused(
        &d,
        "layer.tar -> ../../../etc/passwd",
        "escapes",
        &with(
            &|t| {
                t.symlink(&layer_path, "../../../../../../../../etc/passwd");
            },
            false,
        ),
    );
    // ... or a hard link to a host file.
    load_refused(
        &d,
        "layer.tar hardlink to /etc/passwd",
        "absolute",
        &with(
            &|t| {
                t.hardlink(&layer_path, "/etc/passwd");
            },
            false,
        ),
    );
    // 4. A directory symlink leading outside, then a file written through it.
    let b = DockerArchive::new("evil-b:latest");
    let mut t = TarBuilder::new();
    t.file("manifest.json", &b.manifest);
    t.file(&b.config_name, &b.config);
    t.symlink(&b.layer_dir, &evil_dir.to_string_lossy());
    t.file(&format!("{}/layer.tar", b.layer_dir), &b.layer);
    t.file(&format!("{}/evil-through-link", b.layer_dir), b"pwned");
    load_refused(
        &d,
        "directory symlink to an absolute path",
        "absolute",
        &t.finish(),
    );
    let mut t = TarBuilder::new();
    t.file("manifest.json", &b.manifest);
    t.file(&b.config_name, &b.config);
    t.symlink("escape", &format!("{}{rel_dir}/evil-dir", "../".repeat(24)));
    t.file("escape/evil-through-rel-link", b"pwned");
    t.file(&format!("{}/layer.tar", b.layer_dir), &b.layer);
    load_refused(
        &d,
        "file under a relative symlink leaving the archive",
        "escapes",
        &t.finish(),
    );
    // 5. manifest.json naming a layer or config outside the archive.
    let mut t = TarBuilder::new();
    let manifest = json!([{
        "Config": b.config_name,
        "RepoTags": ["evil-c:latest"],
        "Layers": ["../../../../../../../../etc/passwd"],
    }]);
    t.file("manifest.json", manifest.to_string().as_bytes());
    t.file(&b.config_name, &b.config);
    load_refused(&d, "manifest layer path with ..", "escapes", &t.finish());
    let mut t = TarBuilder::new();
    let manifest = json!([{
        "Config": "/etc/passwd",
        "RepoTags": ["evil-c:latest"],
        "Layers": [format!("{}/layer.tar", b.layer_dir)],
    }]);
    t.file("manifest.json", manifest.to_string().as_bytes());
    t.file(&format!("{}/layer.tar", b.layer_dir), &b.layer);
    load_refused(&d, "manifest config absolute path", "absolute", &t.finish());
    // 6. Not a tar at all, and an empty body.
    load_refused(
        &d,
        "garbage",
        "tar",
        b"this is not a tar archive, not even close",
    );
    load_refused(
        &d,
        "empty archive",
        "manifest.json",
        &TarBuilder::new().finish(),
    );

    // Nothing was written outside home/, nothing was loaded, the host is intact.
    assert!(!Path::new(&format!("{dir}/evil-dotdot")).exists());
    assert!(!Path::new(&abs).exists());
    assert!(!Path::new("/tmp/evil").exists() || !is_ours("/tmp/evil"));
    let found = entries_named_evil(&d.dir, &d.dir.join("home"));
    assert_eq!(
        found,
        [evil_dir.display().to_string()],
        "files written outside home/"
    );
    assert_eq!(
        std::fs::read_dir(&evil_dir).unwrap().count(),
        0,
        "something was written through a symlink"
    );
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd_before);
    assert_eq!(image_refs(&d), ["busybox:latest", "evil-control:latest"]);
    // And the daemon still works.
    let r = d.get_ok("/_ping");
    assert_eq!(r.status, 200);
}

/// Whether a file holds what our hostile archives write.
fn is_ours(p: &str) -> bool {
    std::fs::read(p).map(|c| c == b"pwned").unwrap_or(false)
}

/// Sends `body` in full, in pieces with pauses as a client streaming a file
/// does (so the answer comes before the upload ends), failing on a write
/// error as a client that reads the answer only once its request is out
/// would; then returns the answer.
fn send_whole_upload(
    d: &TestDaemon,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(&d.sock)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    for piece in body.chunks(16 * 1024) {
        s.write_all(piece)?;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn an_upload_refused_on_its_head_is_read_before_the_answer() {
    let Some(d) = TestDaemon::start() else { return };
    let body = vec![0u8; 200 * 1024];
    for (method, path, want) in [
        (
            "POST",
            "/v1.41/images/create?fromSrc=-&changes=FOO%20bar",
            "400",
        ),
        (
            "POST",
            "/v1.41/images/create?fromSrc=-&platform=windows/amd64",
            "400",
        ),
        ("PUT", "/v1.41/containers/nosuch/archive?path=/", "404"),
    ] {
        let answer = send_whole_upload(&d, method, path, &body)
            .unwrap_or_else(|e| panic!("{path}: the upload was cut: {e}"));
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert_eq!(
            status,
            want,
            "{path}: {}",
            answer.lines().next().unwrap_or("")
        );
        assert!(answer.contains("\"message\""), "{path}: {answer}");
    }
}

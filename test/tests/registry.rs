//! Pull, push and login against a real registry (`pouch_tests::registry`),
//! driven by the docker CLI and the raw API.

use pouch_tests::registry::{free_port, Registry};
use pouch_tests::{run_with_timeout, wait_for, Options, TestDaemon};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A daemon (busybox loaded) told to reach the registry over plain HTTP.
fn daemon(reg: &Registry) -> Option<TestDaemon> {
    TestDaemon::start_with_args(Options::default(), &["--insecure-registries", &reg.host()])
}

/// The lines of a JSON progress stream.
fn messages(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn image_ids(d: &TestDaemon) -> Vec<String> {
    let r = d.get_ok("/v1.41/images/json");
    r.json()
        .as_array()
        .expect("image list")
        .iter()
        .filter_map(|i| i["Id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn push_remove_pull_and_run_with_the_docker_cli() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else {
        return;
    };
    let d = &d;
    let name = format!("{}/test/busybox:v1", reg.host());
    let id = d.inspect_field("busybox", "{{.Id}}");
    d.docker_ok(&["tag", "busybox", &name]);

    let out = d.docker_ok(&["push", &name]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/test/busybox]",
            reg.host()
        )),
        "{out}"
    );
    assert!(out.contains("Pushed"), "{out}");
    let pushed_digest = out
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .expect("digest in push output")
        .to_string();

    // The registry has the exact manifest: same digest as the local one.
    let tags = reg
        .request("GET", "/v2/test/busybox/tags/list", &[], b"")
        .unwrap();
    assert!(tags.text().contains("\"v1\""), "{}", tags.text());
    let head = reg
        .request(
            "HEAD",
            "/v2/test/busybox/manifests/v1",
            &[(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            )],
            b"",
        )
        .unwrap();
    assert_eq!(
        head.header("docker-content-digest"),
        Some(pushed_digest.as_str())
    );

    // Pushing again finds every layer there.
    let again = d.docker_ok(&["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");

    d.docker_ok(&["rmi", &name, "busybox"]);
    assert!(image_ids(d).is_empty());

    let pulled = d.docker_ok(&["pull", &name]);
    assert!(pulled.contains("v1: Pulling from test/busybox"), "{pulled}");
    assert!(
        pulled.contains(&format!("Digest: {pushed_digest}")),
        "{pulled}"
    );
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled}"
    );
    assert_eq!(d.inspect_field(&name, "{{.Id}}"), id);
    assert_eq!(d.docker_ok(&["run", "--rm", &name, "echo", "hi"]), "hi");

    let twice = d.docker_ok(&["pull", &name]);
    assert!(
        twice.contains(&format!("Status: Image is up to date for {name}")),
        "{twice}"
    );
}

#[test]
fn pull_streams_docker_progress_messages() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else {
        return;
    };
    let d = &d;
    let name = format!("{}/test/progress", reg.host());
    d.docker_ok(&["tag", "busybox", &format!("{name}:v2")]);
    let r = d.post(&format!("/v1.41/images/{name}/push?tag=v2"));
    assert_eq!(r.status, 200, "{}", r.text());
    let pushed = messages(&r.text());
    assert!(
        pushed.iter().all(|m| m.get("error").is_none()),
        "{pushed:?}"
    );
    let aux = pushed
        .iter()
        .find_map(|m| m.get("aux"))
        .expect("aux message after push");
    assert_eq!(aux["Tag"], "v2");

    d.docker_ok(&["rmi", &format!("{name}:v2"), "busybox"]);
    // Let containerd's GC take the blobs, so the layer is downloaded.
    d.containerd_gc();

    let r = d.post(&format!("/v1.41/images/create?fromImage={name}&tag=v2"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type").map(str::to_string).as_deref(),
        Some("application/json")
    );
    let msgs = messages(&r.text());
    assert_eq!(msgs[0]["status"], "Pulling from test/progress");
    assert_eq!(msgs[0]["id"], "v2");
    let statuses: Vec<&str> = msgs.iter().filter_map(|m| m["status"].as_str()).collect();
    for want in [
        "Pulling fs layer",
        "Downloading",
        "Download complete",
        "Pull complete",
    ] {
        assert!(statuses.contains(&want), "no {want:?} in {statuses:?}");
    }
    let dl = msgs.iter().rfind(|m| m["status"] == "Downloading").unwrap();
    let total = dl["progressDetail"]["total"].as_i64().unwrap();
    assert!(total > 0 && dl["progressDetail"]["current"].as_i64().unwrap() <= total);
    assert_eq!(dl["id"].as_str().map(str::len), Some(12));
    let n = statuses.len();
    assert!(
        statuses[n - 2].starts_with("Digest: sha256:"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[n - 1],
        format!("Status: Downloaded newer image for {name}:v2")
    );
}

#[test]
fn pull_of_a_missing_tag_or_repository_is_a_clear_error() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else {
        return;
    };
    let d = &d;
    d.docker_ok(&["tag", "busybox", &format!("{}/test/busybox:v1", reg.host())]);
    d.docker_ok(&["push", &format!("{}/test/busybox:v1", reg.host())]);
    let before = image_ids(d);

    let missing = format!("{}/test/busybox:nope", reg.host());
    let o = d.docker_run(&["pull", &missing]);
    let err = o.failed();
    assert!(
        err.contains(&format!("manifest for {missing} not found"))
            && err.contains("manifest unknown"),
        "{err}"
    );

    let r = d.post(&format!(
        "/v1.41/images/create?fromImage={}/test/nothing-here&tag=latest",
        reg.host()
    ));
    let msg = r.expect_error(404);
    assert!(msg.contains("not found"), "{msg}");
    assert_eq!(image_ids(d), before, "a failed pull left an image");

    let o = d.docker_run(&["push", &format!("{}/test/not-local:v1", reg.host())]);
    assert!(
        o.failed()
            .contains("An image does not exist locally with the tag"),
        "{}",
        o.stderr
    );

    // Nothing listens there: the error says so, quickly.
    let port = free_port();
    let o = d.docker_run(&["pull", &format!("127.0.0.1:{port}/test/x:v1")]);
    assert!(o.failed().contains("refused"), "{}", o.stderr);
}

#[test]
fn htpasswd_registry_wants_the_right_password() {
    let Some(reg) = Registry::start(true) else {
        return;
    };
    let Some(d) = daemon(&reg) else {
        return;
    };
    let d = &d;
    let host = reg.host();
    let name = format!("{host}/private/busybox:v1");
    d.docker_ok(&["tag", "busybox", &name]);

    // Without credentials the push is refused.
    let o = d.docker_run(&["push", &name]);
    assert!(o.failed().contains("unauthorized"), "{}", o.stderr);

    let o = d.docker_run(&["login", "-u", "tester", "-p", "wrong", &host]);
    assert!(o.failed().contains("401"), "{}", o.stderr);
    let r = d.post_json(
        "/v1.41/auth",
        &serde_json::json!({"username": "tester", "password": "wrong", "serveraddress": host}),
    );
    r.expect_error(401);

    let o = d.docker_ok(&["login", "-u", "tester", "-p", "s3cret", &host]);
    assert!(o.contains("Login Succeeded"), "{o}");
    let r = d.post_json(
        "/v1.41/auth",
        &serde_json::json!({"username": "tester", "password": "s3cret", "serveraddress": host}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Status"], "Login Succeeded");

    // Logged in, the CLI sends the credentials with push and pull.
    let out = d.docker_ok(&["push", &name]);
    assert!(out.contains("digest: sha256:"), "{out}");
    d.docker_ok(&["rmi", &name]);
    let out = d.docker_ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");

    // A wrong password in X-Registry-Auth: refused before anything streams.
    let bad = base64_url(br#"{"username":"tester","password":"wrong"}"#);
    let r = d
        .request(
            "POST",
            &format!("/v1.41/images/create?fromImage={host}/private/busybox&tag=v1"),
            None,
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("unauthorized"), "{}", r.text());
    let r = raw_post_with_auth(
        d,
        &format!("/v1.41/images/create?fromImage={host}/private/busybox&tag=v1"),
        &bad,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text().contains("incorrect username or password"),
        "{}",
        r.text()
    );
}

/// POST with an `X-Registry-Auth` header, over the daemon's socket.
fn raw_post_with_auth(d: &TestDaemon, path: &str, auth: &str) -> pouch_tests::Response {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let mut s = UnixStream::connect(&d.sock).expect("connect pouchd");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: pouchd\r\nConnection: close\r\nContent-Length: 0\r\nX-Registry-Auth: {auth}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    pouch_tests::http::parse(&raw).expect("parse response")
}

fn base64_url(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Recompresses a gzip layer with zstd (the `zstd` tool); `None` without it.
fn zstd_of_gzip(dir: &Path, gz: &[u8]) -> Option<Vec<u8>> {
    if !Path::new("/usr/bin/zstd").exists() {
        eprintln!("zstd tool missing: the zstd layer case is skipped");
        return None;
    }
    let p = dir.join(format!("layer-{}.tar.gz", pouch_tests::random_hex(6)));
    std::fs::write(&p, gz).unwrap();
    let o = run_with_timeout(
        Command::new("sh").arg("-c").arg(format!(
            "gzip -dc '{0}' | zstd -q -c > '{0}.zst'",
            p.display()
        )),
        None,
        Duration::from_secs(60),
    );
    o.ok();
    std::fs::read(format!("{}.zst", p.display())).ok()
}

#[test]
fn manifest_lists_resolve_to_the_platform_and_zstd_layers_unpack() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let Some(d) = daemon(&reg) else {
        return;
    };
    let d = &d;
    let (config, gz_layer) = pouch_tests::registry::test_image_blobs(&d.dir);
    let repo = "test/multi";

    // linux/amd64: the test image, its layer recompressed with zstd when
    // the tool is there; linux/arm64: the same layer (gzip) under a config
    // that says arm64.
    let (amd_layer, amd_type) = match zstd_of_gzip(&d.dir, &gz_layer) {
        Some(z) => (z, "application/vnd.oci.image.layer.v1.tar+zstd"),
        None => (
            gz_layer.clone(),
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ),
    };
    let mut arm_config = config.clone();
    arm_config["architecture"] = "arm64".into();
    arm_config["variant"] = "v8".into();
    let mut amd_config = config.clone();
    amd_config["architecture"] = "amd64".into();

    let mut entries = Vec::new();
    for (cfg, layer, layer_type, arch, variant) in [
        (
            &arm_config,
            &gz_layer,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "arm64",
            "v8",
        ),
        (&amd_config, &amd_layer, amd_type, "amd64", ""),
    ] {
        let cfg_bytes = serde_json::to_vec(cfg).unwrap();
        let cfg_digest = reg.put_blob(repo, &cfg_bytes);
        let layer_digest = reg.put_blob(repo, layer);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cfg_digest,
                "size": cfg_bytes.len(),
            },
            "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer.len()}],
        });
        let mbytes = serde_json::to_vec(&manifest).unwrap();
        let mdigest = format!("sha256:{}", pouch_tests::tarball::sha256_hex(&mbytes));
        reg.put_manifest(
            repo,
            &mdigest,
            "application/vnd.oci.image.manifest.v1+json",
            &mbytes,
        );
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if !variant.is_empty() {
            platform["variant"] = variant.into();
        }
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdigest,
            "size": mbytes.len(),
            "platform": platform,
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let ibytes = serde_json::to_vec(&index).unwrap();
    let index_digest = reg.put_manifest(
        repo,
        "v1",
        "application/vnd.oci.image.index.v1+json",
        &ibytes,
    );

    let name = format!("{}/{repo}:v1", reg.host());
    let out = d.docker_ok(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    assert_eq!(d.inspect_field(&name, "{{.Architecture}}"), "amd64");
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "sh", "-c", "echo from-zstd"]),
        "from-zstd"
    );

    // Another platform on request (pulled, not run).
    let arm = format!("{}/{repo}:v1", reg.host());
    let r = d.post(&format!(
        "/v1.41/images/create?fromImage={}/{repo}&tag=v1&platform=linux/arm64",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("\"error"), "{}", r.text());
    assert_eq!(d.inspect_field(&arm, "{{.Architecture}}"), "arm64");
    // The amd64 image it replaced under that name stays, untagged.
    let ids = image_ids(d);
    assert!(ids.len() >= 3, "{ids:?}");

    // By digest: the index digest names it as well.
    let by_digest = format!("{}/{repo}@{index_digest}", reg.host());
    let out = d.docker_ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    wait_for("image listed", Duration::from_secs(5), || {
        d.docker_run(&["image", "inspect", &by_digest])
            .status
            .success()
            .then_some(())
    });
}

//! Image save (`docker save`, `GET /images/get`), history, prune and the
//! `before`/`since` list filters, against a real pouchd.

use pouch_tests::tarball::{sha256_hex, TarBuilder};
use pouch_tests::{run_with_timeout, Options, TestDaemon};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A docker-archive of a small image tagged `tag`: one layer per entry of
/// `layers` (each a tar holding `/<file>` with the given content), the
/// given `created` time, labels and config history.
fn archive(
    tag: &str,
    created: &str,
    labels: Value,
    layers: &[(&str, &str)],
    history: Value,
) -> Vec<u8> {
    let tars: Vec<Vec<u8>> = layers
        .iter()
        .map(|(f, c)| TarBuilder::new().file(f, c.as_bytes()).finish())
        .collect();
    let diff_ids: Vec<String> = tars
        .iter()
        .map(|t| format!("sha256:{}", sha256_hex(t)))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": ["/hello"], "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    let layer_names: Vec<String> = tars
        .iter()
        .map(|t| format!("{}/layer.tar", sha256_hex(t)))
        .collect();
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name, "RepoTags": [tag], "Layers": layer_names,
    }]))
    .unwrap();
    let mut b = TarBuilder::new();
    b.file("manifest.json", &manifest);
    b.file(&config_name, &config);
    for (name, t) in layer_names.iter().zip(&tars) {
        b.file(name, t);
    }
    b.finish()
}

/// A one-layer image created at `created` with `labels`.
fn simple(tag: &str, created: &str, labels: Value) -> Vec<u8> {
    let history = json!([{"created": created, "created_by": "test"}]);
    archive(tag, created, labels, &[("hello.txt", tag)], history)
}

fn load(d: &TestDaemon, tar: &[u8]) -> String {
    let r = d
        .post_raw("/v1.41/images/load", Some("application/x-tar"), tar)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("\"error"), "{}", r.text());
    r.text()
}

fn image_id(d: &TestDaemon, name: &str) -> String {
    d.inspect_field(name, "{{.Id}}")
}

fn exists(d: &TestDaemon, name: &str) -> bool {
    let r = d.get_ok(&format!("/v1.41/images/{name}/json"));
    match r.status {
        200 => true,
        404 => false,
        s => panic!("inspect {name}: {s} {}", r.text()),
    }
}

/// `tar ARGS` (GNU tar reads what we wrote).
fn tar(args: &[&str]) -> String {
    let o = run_with_timeout(
        Command::new("tar").args(args),
        None,
        Duration::from_secs(60),
    );
    o.ok().to_string()
}

fn member_json(archive: &Path, name: &str) -> Value {
    let out = tar(&["-xOf", &archive.to_string_lossy(), name]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}: {out:?}"))
}

#[test]
fn docker_save_rmi_load_runs_again() {
    let Some(d) = TestDaemon::start() else { return };
    let id = image_id(&d, "busybox");
    d.docker_ok(&["tag", "busybox", "busybox:v2"]);
    let file = d.dir.join("busybox.tar");
    let f = file.to_string_lossy().to_string();
    let t0 = now_ts();
    // A bare repository name saves all its tags, as with Docker.
    d.docker_ok(&["save", "-o", &f, "busybox"]);
    let until = now_ts();
    let ev = d.docker_ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &until,
        "--filter",
        "event=save",
        "--format",
        "{{.Type}} {{.ID}}",
    ]);
    assert_eq!(ev, format!("image {id}"));

    let members = tar(&["-tf", &f]);
    for m in ["oci-layout", "index.json", "manifest.json", "repositories"] {
        assert!(members.lines().any(|l| l == m), "{m} in {members}");
    }
    let manifest = member_json(&file, "manifest.json");
    assert_eq!(
        manifest[0]["RepoTags"],
        json!(["busybox:latest", "busybox:v2"])
    );
    assert_eq!(manifest[0]["Config"], format!("blobs/sha256/{}", &id[7..]));
    let index = member_json(&file, "index.json");
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );

    d.docker_ok(&["rmi", "busybox", "busybox:v2"]);
    assert!(!exists(&d, &id));
    let out = d.docker_ok(&["load", "-i", &f]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert!(out.contains("Loaded image: busybox:v2"), "{out}");
    assert_eq!(image_id(&d, "busybox"), id);
    assert_eq!(image_id(&d, "busybox:v2"), id);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "sh", "-c", "echo saved $((6*7))"]),
        "saved 42"
    );
}

/// The OCI test image keeps its layer gzip-compressed in the content store;
/// the archive carries it as stored, and both `docker load` and an OCI tool
/// read it.
#[test]
fn compressed_layers_are_saved_as_stored() {
    let Some(d) = TestDaemon::start_with(Options { load_image: false }) else {
        return;
    };
    d.load_image_file(&pouch_tests::test_image_oci());
    let file = d.dir.join("oci.tar");
    let f = file.to_string_lossy().to_string();
    let out = d.docker_sh(&format!("\"$DOCKER\" save busybox:latest > {f}"));
    out.ok();
    let manifest = member_json(&file, "manifest.json");
    let layer = manifest[0]["Layers"][0].as_str().unwrap().to_string();
    let head = run_with_timeout(
        Command::new("sh")
            .arg("-c")
            .arg(format!("tar -xOf {f} {layer} | head -c 2 | od -An -tx1")),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(head.ok().trim(), "1f 8b", "gzip layer kept as stored");

    // An independent reader of the OCI layout half of the archive.
    let dir = d.dir.join("oci-layout");
    std::fs::create_dir_all(&dir).unwrap();
    tar(&["-xf", &f, "-C", &dir.to_string_lossy()]);
    let umoci = run_with_timeout(
        Command::new("umoci")
            .arg("stat")
            .arg("--image")
            .arg(format!("{}:latest", dir.display())),
        None,
        Duration::from_secs(60),
    );
    assert!(umoci.ok().contains("pouch-rs hack/build-test-image"));

    d.docker_ok(&["rmi", "busybox"]);
    let out = d.docker_ok(&["load", "-i", &f]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "echo", "from gzip"]),
        "from gzip"
    );
}

/// Several images (and several tags of one) in one archive, loaded back by
/// pouchd's own `POST /images/load`.
#[test]
fn two_images_in_one_archive_load_back() {
    let Some(d) = TestDaemon::start() else { return };
    load(
        &d,
        &simple("hello:1", "2024-02-01T00:00:00Z", json!({"a": "b"})),
    );
    d.docker_ok(&["tag", "busybox", "mybox:v1"]);
    let bb = image_id(&d, "busybox");
    let hello = image_id(&d, "hello:1");
    assert_ne!(bb, hello);

    let r = d.get_ok("/v1.41/images/get?names=busybox:latest&names=hello:1&names=mybox:v1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    let file = d.dir.join("two.tar");
    std::fs::write(&file, &r.body).unwrap();
    let manifest = member_json(&file, "manifest.json");
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{manifest}");
    assert_eq!(
        entries[0]["RepoTags"],
        json!(["busybox:latest", "mybox:v1"])
    );
    assert_eq!(entries[1]["RepoTags"], json!(["hello:1"]));
    let repos = member_json(&file, "repositories");
    assert!(repos["mybox"]["v1"].is_string(), "{repos}");

    d.docker_ok(&["rmi", "busybox", "mybox:v1", "hello:1"]);
    assert!(!exists(&d, "hello:1"));
    let out = load(&d, &r.body);
    for want in ["busybox:latest", "mybox:v1", "hello:1"] {
        assert!(out.contains(&format!("Loaded image: {want}")), "{out}");
    }
    assert_eq!(image_id(&d, "mybox:v1"), bb);
    assert_eq!(image_id(&d, "hello:1"), hello);
    assert_eq!(d.inspect_field("hello:1", "{{.Config.Labels.a}}"), "b");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "mybox:v1", "echo", "ok"]),
        "ok"
    );
}

#[test]
fn save_by_id_loads_untagged() {
    let Some(d) = TestDaemon::start() else { return };
    let id = image_id(&d, "busybox");
    let file = d.dir.join("byid.tar");
    let f = file.to_string_lossy().to_string();
    d.docker_ok(&["save", "-o", &f, &id[7..19]]);
    assert_eq!(
        member_json(&file, "manifest.json")[0]["RepoTags"],
        Value::Null
    );

    d.docker_ok(&["rmi", "busybox"]);
    let out = d.docker_ok(&["load", "-i", &f]);
    assert!(out.contains(&format!("Loaded image ID: {id}")), "{out}");
    let listed = d.docker_ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]);
    assert_eq!(listed, id);
    assert_eq!(d.docker_ok(&["run", "--rm", &id, "echo", "by id"]), "by id");
}

#[test]
fn single_image_endpoint_and_unknown_names() {
    let Some(d) = TestDaemon::start() else { return };
    // Names with slashes and a registry port reach /images/{name}/get.
    d.docker_ok(&["tag", "busybox", "localhost:5000/team/box:v2"]);
    let r = d.get_ok("/v1.41/images/localhost:5000/team/box:v2/get");
    assert_eq!(r.status, 200, "{}", r.text());
    let file = d.dir.join("one.tar");
    std::fs::write(&file, &r.body).unwrap();
    let manifest = member_json(&file, "manifest.json");
    assert_eq!(
        manifest[0]["RepoTags"],
        json!(["localhost:5000/team/box:v2"])
    );
    assert_eq!(
        member_json(&file, "repositories")["localhost:5000/team/box"]["v2"],
        manifest[0]["Layers"][0]
            .as_str()
            .unwrap()
            .trim_start_matches("blobs/sha256/")
    );

    let r = d.get_ok("/v1.41/images/nosuch:1/get");
    assert!(r.expect_error(404).contains("nosuch"), "{}", r.text());
    let r = d.get_ok("/v1.41/images/get?names=busybox&names=nosuch");
    r.expect_error(404);
    let r = d.get_ok("/v1.41/images/get");
    r.expect_error(400);
    let file = d.dir.join("none.tar");
    let out = d.docker_run(&["save", "-o", &file.to_string_lossy(), "nosuch"]);
    assert!(out.failed().contains("No such image"), "{}", out.stderr);
}

#[test]
fn history_through_cli_and_api() {
    let Some(d) = TestDaemon::start() else { return };
    let history = json!([
        {"created": "2024-01-01T00:00:00Z", "created_by": "ADD a", "comment": "first"},
        {"created": "2024-01-01T00:01:00Z", "created_by": "ENV x=1", "empty_layer": true},
        {"created": "2024-01-01T00:02:00Z", "created_by": "RUN b"},
        {"created": "2024-01-01T00:03:00Z", "created_by": "CMD [\"/hello\"]", "empty_layer": true},
    ]);
    let layers = [("a.txt", "a"), ("b.txt", &*"b".repeat(3000))];
    load(
        &d,
        &archive(
            "hist:1",
            "2024-01-01T00:03:00Z",
            json!({}),
            &layers,
            history,
        ),
    );
    let id = image_id(&d, "hist:1");
    let sizes: Vec<i64> = layers
        .iter()
        .map(|(f, c)| TarBuilder::new().file(f, c.as_bytes()).finish().len() as i64)
        .collect();

    let h = d.get_ok("/v1.41/images/hist:1/history");
    assert_eq!(h.status, 200, "{}", h.text());
    let h = h.json();
    let items = h.as_array().unwrap();
    let by: Vec<&str> = items
        .iter()
        .map(|i| i["CreatedBy"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["CMD [\"/hello\"]", "RUN b", "ENV x=1", "ADD a"]);
    let got: Vec<i64> = items.iter().map(|i| i["Size"].as_i64().unwrap()).collect();
    assert_eq!(got, [0, sizes[1], 0, sizes[0]]);
    assert_eq!(items[0]["Id"], id.as_str());
    assert_eq!(items[0]["Tags"], json!(["hist:1"]));
    assert_eq!(items[0]["Created"], 1704067380);
    assert_eq!(items[3]["Comment"], "first");
    for i in &items[1..] {
        assert_eq!(i["Id"], "<missing>");
    }
    let total: i64 = got.iter().sum();
    assert_eq!(d.inspect_field("hist:1", "{{.Size}}"), total.to_string());

    let cli = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
        "hist:1",
    ]);
    let lines: Vec<&str> = cli.lines().collect();
    assert_eq!(lines.len(), 4, "{cli}");
    assert_eq!(lines[0], format!("{id}|CMD [\"/hello\"]|"));
    assert_eq!(lines[3], "<missing>|ADD a|first");

    // The busybox test image: one step, the whole image.
    let bb = d.get_ok("/v1.41/images/busybox/history").json();
    assert_eq!(bb.as_array().map(Vec::len), Some(1));
    assert_eq!(
        bb[0]["Size"].as_i64().unwrap().to_string(),
        d.inspect_field("busybox", "{{.Size}}")
    );
    d.get_ok("/v1.41/images/nosuch/history").expect_error(404);
}

fn deleted(report: &Value) -> Vec<String> {
    report["ImagesDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["Deleted"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn prune_removes_dangling_and_unused_images_only() {
    let Some(d) = TestDaemon::start() else { return };
    // hello:1 loses its tag to busybox: dangling, used by nobody.
    load(&d, &simple("hello:1", "2024-02-01T00:00:00Z", json!({})));
    let hello = image_id(&d, "hello:1");
    d.docker_ok(&["tag", "busybox", "hello:1"]);
    // used:1 loses its tag too, but a stopped container uses it.
    load(&d, &simple("used:1", "2024-02-01T00:00:00Z", json!({})));
    let used = image_id(&d, "used:1");
    d.docker_ok(&["create", "--name", "user", "used:1"]);
    d.docker_ok(&["tag", "busybox", "used:1"]);
    // Untagged images are kept in containerd, not only in pouchd's cache.
    let mut d = d;
    d.restart();
    let dangling = d.docker_ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]);
    let mut dangling: Vec<&str> = dangling.lines().collect();
    dangling.sort();
    let mut want = vec![hello.as_str(), used.as_str()];
    want.sort();
    assert_eq!(dangling, want);

    let t0 = now_ts();
    let r = d.post("/v1.41/images/prune");
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(deleted(&report), std::slice::from_ref(&hello), "{report}");
    assert!(report["SpaceReclaimed"].as_u64().unwrap() > 0, "{report}");
    assert!(!exists(&d, &hello));
    assert!(exists(&d, &used), "a container's image stays");
    assert!(exists(&d, "busybox"));

    // dangling=false: every image no container uses, tagged or not.
    load(&d, &simple("extra:1", "2024-02-01T00:00:00Z", json!({})));
    d.docker_ok(&["create", "--name", "bb", "busybox"]);
    let out = d.docker_ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: extra:1"), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(!exists(&d, "extra:1"));
    assert!(exists(&d, &used));
    assert!(exists(&d, "busybox"));
    assert!(exists(&d, "hello:1"), "busybox's other tag");

    let r = d.post("/v1.41/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D");
    assert_eq!(r.status, 200);
    assert!(deleted(&r.json()).is_empty(), "{}", r.text());
    assert_eq!(r.json()["SpaceReclaimed"], 0);

    // Removals are reported like `docker rmi`'s.
    let until = now_ts();
    let ev = d.docker_ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--filter",
        "event=delete",
        "--format",
        "{{.ID}}",
    ]);
    assert!(ev.lines().any(|l| l == hello), "{ev}");
}

/// Now as `seconds.nanoseconds`, the form `docker events --since` takes.
fn now_ts() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

#[test]
fn prune_filters_until_and_labels() {
    let Some(d) = TestDaemon::start_with(Options { load_image: false }) else {
        return;
    };
    load(
        &d,
        &simple("old:1", "2023-01-01T00:00:00Z", json!({"keep": "yes"})),
    );
    load(
        &d,
        &simple("mid:1", "2024-01-01T00:00:00Z", json!({"team": "a"})),
    );
    load(
        &d,
        &simple("new:1", "2025-01-01T00:00:00Z", json!({"team": "a"})),
    );
    let prune = |filters: &str| {
        let q: String = url_encode(filters);
        let r = d.post(&format!("/v1.41/images/prune?filters={q}"));
        assert_eq!(r.status, 200, "{filters}: {}", r.text());
        r.json()
    };
    // Tagged images are not dangling: nothing goes by default.
    assert!(deleted(&prune(r#"{"until":["2024-06-01T00:00:00Z"]}"#)).is_empty());
    let old = image_id(&d, "old:1");
    let mid = image_id(&d, "mid:1");

    let r = prune(r#"{"dangling":["false"],"until":["2024-06-01T00:00:00Z"],"label!":["keep"]}"#);
    assert_eq!(deleted(&r), [mid], "{r}");
    assert!(exists(&d, "old:1") && exists(&d, "new:1"));

    let r = prune(r#"{"dangling":["false"],"label":["team=a"]}"#);
    assert_eq!(deleted(&r).len(), 1, "{r}");
    assert!(!exists(&d, "new:1"));

    let r = prune(r#"{"dangling":["false"],"until":["24h"]}"#);
    assert_eq!(deleted(&r), [old], "{r}");

    for bad in [
        r#"{"until":["soon"]}"#,
        r#"{"dangling":["maybe"]}"#,
        r#"{"x":["y"]}"#,
    ] {
        let r = d.post(&format!("/v1.41/images/prune?filters={}", url_encode(bad)));
        r.expect_error(400);
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn list_before_and_since() {
    let Some(d) = TestDaemon::start() else { return };
    load(&d, &simple("old:1", "2023-01-01T00:00:00Z", json!({})));
    load(&d, &simple("new:1", "2025-01-01T00:00:00Z", json!({})));
    let list = |f: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}"];
        for x in f {
            args.push("--filter");
            args.push(x);
        }
        let mut v: Vec<String> = d.docker_ok(&args).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(list(&["before=busybox"]), ["old"]);
    assert_eq!(list(&["since=busybox"]), ["new"]);
    assert_eq!(list(&["since=old:1", "before=new:1"]), ["busybox"]);
    let id = image_id(&d, "busybox");
    assert_eq!(list(&[&format!("before={}", &id[7..19])]), ["old"]);
    assert_eq!(list(&[&format!("since={id}")]), ["new"]);
    assert!(list(&["before=old:1"]).is_empty());

    let r = d.get_ok(&format!(
        "/v1.41/images/json?filters={}",
        url_encode(r#"{"before":["nosuch:1"]}"#)
    ));
    r.expect_error(404);
    let r = d.get_ok(&format!(
        "/v1.41/images/json?filters={}",
        url_encode(r#"{"x":["y"]}"#)
    ));
    let msg = r.expect_error(400);
    assert_eq!(msg.to_lowercase(), "invalid filter 'x'");
}

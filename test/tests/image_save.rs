//! Image save (`docker save`, `GET /images/get`) and history against a
//! real pouchd.

use pouch_tests::images::{
    image_exists as exists, image_id, load_archive as load, simple_image as simple,
};
use pouch_tests::tarball::image_archive;
use pouch_tests::{run_with_timeout, Options, TestDaemon};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
        &image_archive(
            "hist:1",
            "2024-01-01T00:03:00Z",
            json!({}),
            &layers,
            history,
        ),
    );
    let id = image_id(&d, "hist:1");

    let h = d.get_ok("/v1.41/images/hist:1/history");
    assert_eq!(h.status, 200, "{}", h.text());
    let h = h.json();
    let items = h.as_array().unwrap();
    let by: Vec<&str> = items
        .iter()
        .map(|i| i["CreatedBy"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["CMD [\"/hello\"]", "RUN b", "ENV x=1", "ADD a"]);
    // Sizes of the unpacked layers, as containerd measures them (disk
    // usage), which is what Docker's containerd image store shows too; steps
    // that made no layer show 0.
    let got: Vec<i64> = items.iter().map(|i| i["Size"].as_i64().unwrap()).collect();
    assert_eq!((got[0], got[2]), (0, 0), "{got:?}");
    assert!(got[1] >= 3000 && got[3] >= 1, "{got:?}");
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

/// Now as `seconds.nanoseconds`, the form `docker events --since` takes.
fn now_ts() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

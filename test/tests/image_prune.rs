//! Image prune (`POST /images/prune`, `docker image prune`) and the
//! `before`/`since` filters of the image list, against a real pouchd.

use pouch_tests::images::{
    image_exists as exists, image_id, load_archive as load, simple_image as simple,
};
use pouch_tests::{Options, TestDaemon};
use serde_json::{json, Value};

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

/// Now as `seconds.nanoseconds`, the form `docker events --since` takes.
fn now_ts() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

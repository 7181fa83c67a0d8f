//! Images: loading both archive formats, listing, inspecting, tagging and
//! removing them.

use bollard::query_parameters::{
    ImportImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions,
};
use futures::StreamExt;
use pouch_tests::{Options, TestDaemon};

fn refs(d: &TestDaemon) -> Vec<String> {
    let r = d.get_ok("/v1.41/images/json");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut v: Vec<String> = r
        .json()
        .as_array()
        .expect("list")
        .iter()
        .flat_map(|i| i["RepoTags"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn oci_layout_archive_loads_and_runs() {
    let Some(d) = TestDaemon::start_with(Options { load_image: false }) else {
        return;
    };
    assert!(refs(&d).is_empty());
    let data = std::fs::read(pouch_tests::test_image_oci()).unwrap();
    let r = d
        .post_raw("/v1.41/images/load", Some("application/x-tar"), &data)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("busybox:latest"), "{}", r.text());
    assert!(!r.text().contains("\"error"), "{}", r.text());
    assert_eq!(refs(&d), ["busybox:latest"]);

    let i = d.get_ok("/v1.41/images/busybox:latest/json").json();
    assert_eq!(i["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "echo", "from oci"]),
        "from oci"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-u", "pouchtest", "busybox", "id", "-un"]),
        "pouchtest"
    );
}

#[test]
fn oci_layout_archive_through_docker_load() {
    let Some(d) = TestDaemon::start_with(Options { load_image: false }) else {
        return;
    };
    let tar = pouch_tests::test_image_oci();
    let out = d.docker_ok(&["load", "-i", &tar.to_string_lossy()]);
    assert!(out.contains("busybox:latest"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "sh", "-c", "echo $((6*7))"]),
        "42"
    );
}

#[test]
fn both_formats_give_the_same_layers() {
    let Some(d) = TestDaemon::start() else { return };
    let archive = d.get_ok("/v1.41/images/busybox:latest/json").json();
    d.docker_ok(&["rmi", "busybox"]);
    d.load_image_file(&pouch_tests::test_image_oci());
    let oci = d.get_ok("/v1.41/images/busybox:latest/json").json();
    assert_eq!(archive["RootFS"], oci["RootFS"], "same uncompressed layers");
    assert_eq!(archive["Config"]["Cmd"], oci["Config"]["Cmd"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_api_through_bollard() {
    let Some(d) = TestDaemon::start_with(Options { load_image: false }) else {
        return;
    };
    let docker = d.bollard();
    let data = std::fs::read(pouch_tests::test_image()).unwrap();
    let mut s = docker.import_image(
        ImportImageOptions::default(),
        bollard::body_full(data.into()),
        None,
    );
    let mut msgs = Vec::new();
    while let Some(m) = s.next().await {
        msgs.push(format!("{:?}", m.expect("load progress")));
    }
    assert!(
        msgs.iter()
            .any(|m| m.contains("Loaded image: busybox:latest")),
        "{msgs:?}"
    );

    let list = docker
        .list_images(None::<ListImagesOptions>)
        .await
        .expect("list images");
    assert_eq!(list.len(), 1);
    let img = &list[0];
    assert_eq!(img.repo_tags, ["busybox:latest"]);
    assert!(
        img.id.starts_with("sha256:") && img.id.len() == 71,
        "{}",
        img.id
    );
    assert!(img.size > 0, "{img:?}");
    assert_eq!(
        img.containers, -1,
        "Containers is -1 unless asked, as Docker does"
    );

    let i = docker.inspect_image("busybox").await.expect("inspect");
    assert_eq!(i.id.as_deref(), Some(img.id.as_str()));
    assert_eq!(i.repo_tags, Some(vec!["busybox:latest".to_string()]));
    assert_eq!(i.os.as_deref(), Some("linux"));
    let by_id = docker.inspect_image(&img.id).await.expect("inspect by id");
    assert_eq!(by_id.id, i.id);
    let short = &img.id[7..19];
    let by_short = docker
        .inspect_image(short)
        .await
        .expect("inspect by short id");
    assert_eq!(by_short.id, i.id);

    docker
        .tag_image(
            "busybox:latest",
            Some(TagImageOptions {
                repo: Some("localhost:5000/team/box".into()),
                tag: Some("v2".into()),
            }),
        )
        .await
        .expect("tag");
    let i2 = docker
        .inspect_image("localhost:5000/team/box:v2")
        .await
        .expect("inspect new tag");
    assert_eq!(i2.id, i.id);
    let removed = docker
        .remove_image(
            "localhost:5000/team/box:v2",
            None::<RemoveImageOptions>,
            None,
        )
        .await
        .expect("remove tag");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(
        removed[0].untagged.as_deref(),
        Some("localhost:5000/team/box:v2")
    );
    assert!(docker.inspect_image("busybox:latest").await.is_ok());

    let removed = docker
        .remove_image("busybox", None::<RemoveImageOptions>, None)
        .await
        .expect("remove image");
    assert!(
        removed
            .iter()
            .any(|r| r.deleted.as_deref() == i.id.as_deref()),
        "{removed:?}"
    );
    assert!(docker
        .list_images(None::<ListImagesOptions>)
        .await
        .unwrap()
        .is_empty());
}

/// `reference` filters match like Docker's: path globs against the familiar
/// name (with or without tag), and only the matching tags are listed.
#[test]
fn image_reference_filter() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["tag", "busybox", "localhost:5000/team/box:v2"]);
    let list = |f: &str| {
        let mut v: Vec<String> = d
            .docker_ok(&[
                "images",
                "--filter",
                f,
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(list("reference=busybox"), ["busybox:latest"]);
    assert_eq!(list("reference=busybox:latest"), ["busybox:latest"]);
    assert_eq!(
        list("reference=localhost:5000/team/box"),
        ["localhost:5000/team/box:v2"]
    );
    assert_eq!(
        list("reference=localhost:5000/team/*"),
        ["localhost:5000/team/box:v2"]
    );
    assert_eq!(list("reference=bus*"), ["busybox:latest"]);
    assert_eq!(
        list("reference=*:v2"),
        Vec::<String>::new(),
        "the tag is not part of a name glob"
    );
    assert_eq!(list("reference=*/*/*:v2"), ["localhost:5000/team/box:v2"]);
    assert!(list("reference=nothing*").is_empty());
}

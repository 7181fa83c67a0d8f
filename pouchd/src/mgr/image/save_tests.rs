//! Save against the fake content store: what goes in comes back out of our
//! own archive reader, and the tar itself is well formed. Also the sizes a
//! loaded image reports.

use super::*;
use crate::mgr::image::archive;
use crate::testutil::FakeRuntime;
use sha2::{Digest, Sha256};

struct Env {
    dir: tempfile::TempDir,
    rt: Arc<FakeRuntime>,
    mgr: ImageMgr,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::default());
    let bus = Arc::new(crate::mgr::events::EventBus::new(None).unwrap());
    let mgr = ImageMgr::new(rt.clone(), dir.path().join("tmp"), bus)
        .await
        .unwrap();
    Env { dir, rt, mgr }
}

fn hex_of(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn tar_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A docker-archive of one image: a plain layer holding `content`, then a
/// "gzip" layer (only its magic matters to the loader and the fake store).
fn docker_archive(tag: &str, content: &str) -> (Vec<u8>, String) {
    let mut l = tar::Builder::new(Vec::new());
    tar_file(&mut l, "hello", content.as_bytes());
    let plain = l.into_inner().unwrap();
    let gz = [&[0x1f, 0x8b, 0x08, 0x00][..], content.as_bytes()].concat();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [
            format!("sha256:{}", hex_of(&plain)),
            format!("sha256:{}", hex_of(content.as_bytes())),
        ]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": "config.json", "RepoTags": [tag], "Layers": ["a/layer.tar", "b/layer.tar"],
    }]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    tar_file(&mut b, "manifest.json", &manifest);
    tar_file(&mut b, "config.json", &config);
    tar_file(&mut b, "a/layer.tar", &plain);
    tar_file(&mut b, "b/layer.tar", &gz);
    (
        b.into_inner().unwrap(),
        format!("sha256:{}", hex_of(&config)),
    )
}

async fn load(e: &Env, tag: &str, content: &str) -> String {
    let (tar, id) = docker_archive(tag, content);
    e.mgr.load(std::io::Cursor::new(tar)).await.unwrap();
    id
}

async fn collect(mut s: BlobStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

async fn save(e: &Env, names: &[&str]) -> Vec<u8> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    collect(e.mgr.save(&names).await.unwrap()).await.unwrap()
}

fn read_back(e: &Env, tar: &[u8]) -> Vec<archive::ArchiveImage> {
    let staging = e.dir.path().join(format!("read-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&staging).unwrap();
    archive::read_archive(std::io::Cursor::new(tar.to_vec()), &staging).unwrap()
}

fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(std::io::Cursor::new(tar));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn saved_image_reads_back_with_its_tag_and_stored_layers() {
    let e = env().await;
    let id = load(&e, "busybox:latest", "one").await;
    let tar = save(&e, &["busybox:latest"]).await;
    assert_eq!(tar.len() % 512, 0);

    let images = read_back(&e, &tar);
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].refs, ["busybox:latest"]);
    assert_eq!(images[0].config.digest, id);
    let img = e.mgr.get("busybox").unwrap();
    let stored = e.mgr.manifest_layers(&img).await.unwrap();
    let got: Vec<&str> = images[0]
        .layers
        .iter()
        .map(|l| l.blob.digest.as_str())
        .collect();
    let want: Vec<&str> = stored.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(got, want, "layers as stored, the compressed one too");
    assert!(images[0].layers[1].media_type.ends_with("gzip"));

    let files = entries(&tar);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..6],
        [
            "oci-layout",
            "index.json",
            "manifest.json",
            "repositories",
            "blobs/",
            "blobs/sha256/"
        ]
    );
    let file = |n: &str| -> serde_json::Value {
        let (_, d) = files.iter().find(|(name, _)| name == n).unwrap();
        serde_json::from_slice(d).unwrap()
    };
    let index = file("index.json");
    let m = &index["manifests"][0];
    assert_eq!(
        m["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert_eq!(m["digest"], img.manifest.digest.as_str());
    assert_eq!(m["platform"]["os"], "linux");
    let top = stored[1].digest.trim_start_matches("sha256:");
    assert_eq!(file("repositories")["busybox"]["latest"], top);
    for (name, data) in &files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(hex_of(data), hex, "{name} holds what its name says");
        }
    }
    assert_eq!(
        e.rt.state.lock().unwrap().leases.len(),
        0,
        "the save lease is gone"
    );
}

#[tokio::test]
async fn repository_name_saves_every_tag_and_ids_save_no_tag() {
    let e = env().await;
    let id = load(&e, "busybox:latest", "one").await;
    e.mgr.tag("busybox", "busybox", "v2").await.unwrap();
    e.mgr.tag("busybox", "other", "x").await.unwrap();
    let images = read_back(&e, &save(&e, &["busybox"]).await);
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].refs, ["busybox:latest", "busybox:v2"]);

    for by_id in [id.as_str(), &id[7..], &id[7..19]] {
        let images = read_back(&e, &save(&e, &[by_id]).await);
        assert_eq!(images.len(), 1, "{by_id}");
        assert!(images[0].refs.is_empty(), "{by_id}: {:?}", images[0].refs);
    }
}

#[tokio::test]
async fn several_images_in_one_archive_share_blobs_once() {
    let e = env().await;
    let a = load(&e, "a:1", "one").await;
    let b = load(&e, "b:1", "two").await;
    e.mgr.tag("a:1", "a", "2").await.unwrap();
    let tar = save(&e, &["a:1", "b:1", "a:2", "a:1"]).await;
    let images = read_back(&e, &tar);
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].config.digest, a);
    assert_eq!(images[0].refs, ["a:1", "a:2"]);
    assert_eq!(images[1].config.digest, b);
    assert_eq!(images[1].refs, ["b:1"]);
    let names: Vec<String> = entries(&tar).into_iter().map(|(n, _)| n).collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "no member twice: {names:?}");
}

#[tokio::test]
async fn unknown_names_fail_before_any_byte() {
    let e = env().await;
    load(&e, "busybox:latest", "one").await;
    let names = vec!["busybox".to_string(), "nosuch:tag".to_string()];
    let err = e.mgr.save(&names).await.err().unwrap();
    assert!(err.is_not_found(), "{err}");
    let err = e.mgr.save(&["Bad Name".to_string()]).await.err().unwrap();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err}");
    assert!(e.mgr.save(&[]).await.is_err());
    assert!(e.rt.state.lock().unwrap().leases.is_empty());
}

#[tokio::test]
async fn a_blob_of_the_wrong_size_breaks_the_stream() {
    let e = env().await;
    load(&e, "busybox:latest", "one").await;
    let img = e.mgr.get("busybox").unwrap();
    let layer = e.mgr.manifest_layers(&img).await.unwrap()[1].digest.clone();
    e.rt.state
        .lock()
        .unwrap()
        .blobs
        .insert(layer, b"short".to_vec());
    let s = e.mgr.save(&["busybox".to_string()]).await.unwrap();
    let err = collect(s).await.unwrap_err();
    assert!(err.to_string().contains("descriptor says"), "{err}");
}

#[test]
fn headers_and_padding() {
    let h = header("blobs/sha256/ab", 1000, false).unwrap();
    assert_eq!(h.len(), 512);
    let parsed = tar::Header::from_byte_slice(&h);
    assert_eq!(parsed.size().unwrap(), 1000);
    assert_eq!(parsed.path().unwrap().to_str(), Some("blobs/sha256/ab"));
    assert_eq!(padding(1000).map(|p| p.len()), Some(24));
    assert_eq!(padding(1024), None);
    assert_eq!(padding(0), None);
}

#[tokio::test]
async fn a_client_going_away_ends_the_save_and_its_lease() {
    let e = env().await;
    load(&e, "busybox:latest", "one").await;
    let mut s = e.mgr.save(&["busybox".to_string()]).await.unwrap();
    assert!(s.next().await.is_some());
    assert_eq!(
        e.rt.state.lock().unwrap().leases.len(),
        1,
        "held while saving"
    );
    drop(s);
    for _ in 0..500 {
        if e.rt.state.lock().unwrap().leases.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the save lease outlived its client");
}

#[tokio::test]
async fn missing_layer_content_fails_before_any_byte() {
    let e = env().await;
    load(&e, "busybox:latest", "one").await;
    let img = e.mgr.get("busybox").unwrap();
    let layer = e.mgr.manifest_layers(&img).await.unwrap()[0].digest.clone();
    e.rt.state.lock().unwrap().blobs.remove(&layer);
    let err = e.mgr.save(&["busybox".to_string()]).await.err().unwrap();
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(e.rt.state.lock().unwrap().leases.is_empty());
}

#[tokio::test]
async fn sizes_are_those_of_the_unpacked_layers() {
    let e = env().await;
    load(&e, "busybox:latest", "one").await;
    let img = e.mgr.get("busybox").unwrap();
    let blobs: Vec<i64> = e
        .mgr
        .manifest_layers(&img)
        .await
        .unwrap()
        .iter()
        .map(|l| l.size)
        .collect();
    // The fake's unpacked layers are 1000 bytes larger than their blobs.
    let unpacked: Vec<i64> = blobs.iter().map(|s| s + 1000).collect();
    assert_eq!(img.layer_sizes, unpacked);
    assert_eq!(img.size, unpacked.iter().sum::<i64>());
    // Without the unpacked layers (snapshots gone), the blob sizes.
    e.rt.state.lock().unwrap().unpacked.clear();
    let read = e.mgr.read_image(&img.manifest).await.unwrap();
    assert_eq!(read.layer_sizes, blobs);
}

//! Pulls that go wrong (a platform missing from the manifest list, a
//! connection cut mid-layer, a client going away), concurrent pulls,
//! mirrors and `RepoDigests`, against the fake registry and store.

use super::pull_tests::{env, publish, pull, Env};
use super::{AuthConfig, Progress, Registries, RegistryError};
use crate::error::Error;
use crate::mgr::image::ImageMgr;
use std::sync::Arc;
use std::time::Duration;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Names and blobs of the fake store, to compare before and after.
fn store_state(e: &Env) -> (Vec<String>, usize) {
    let st = e.rt.state.lock().unwrap();
    (st.images.keys().cloned().collect(), st.leases.len())
}

/// Polls `f` for a while (the lease of a dropped pull goes in a task).
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_manifest_list_without_the_platform_is_a_clear_error() {
    let e = env().await;
    let p = publish(&e.reg, "lib/armonly", "v1", &[b"arm layer"]);
    // Re-tag with an index that keeps only the arm64 entry.
    let (_, raw) = e.reg.manifest("lib/armonly", "v1").unwrap();
    let mut index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["platform"]["architecture"] == "arm64");
    e.reg.put_manifest(
        "lib/armonly",
        Some("v1"),
        OCI_INDEX,
        &serde_json::to_vec(&index).unwrap(),
    );
    let before = store_state(&e);
    let name = format!("{}/lib/armonly:v1", e.reg.host);
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    match r {
        Err(RegistryError::Other(Error::NotFound(m))) => {
            assert!(m.contains("no matching manifest for linux/amd64"), "{m}")
        }
        other => panic!("want not found, got {other:?}"),
    }
    assert_eq!(store_state(&e), before);
    assert!(e.rt.state.lock().unwrap().blobs.is_empty());
    assert_eq!(e.reg.blob_gets(&p.layers[0]), 0);
    assert!(e.mgr.get(&name).is_err());
}

#[tokio::test]
async fn a_connection_cut_mid_layer_fails_and_a_retry_succeeds() {
    let e = env().await;
    let big = vec![3u8; 4096];
    let p = publish(&e.reg, "lib/cut", "v1", &[b"first", &big]);
    e.reg.state.lock().unwrap().cut.insert(p.layers[1].clone());
    let name = format!("{}/lib/cut:v1", e.reg.host);
    let before = store_state(&e);
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    let err = r.unwrap_err().to_string();
    assert!(err.contains(&p.layers[1]), "{err}");
    assert_eq!(store_state(&e), before, "no image, no lease left");
    assert!(!e.rt.state.lock().unwrap().blobs.contains_key(&p.layers[1]));
    assert!(e.mgr.get(&name).is_err());

    e.reg.state.lock().unwrap().cut.clear();
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    r.unwrap();
    assert_eq!(e.mgr.get(&name).unwrap().id, p.config);
    let st = e.rt.state.lock().unwrap();
    assert_eq!(st.blobs.get(&p.layers[1]), Some(&big));
    assert!(st.leases.is_empty());
}

#[tokio::test]
async fn concurrent_pulls_fetch_shared_layers_once() {
    let e = env().await;
    let base = vec![5u8; 16 * 20];
    let a = publish(&e.reg, "lib/a", "v1", &[&base, b"only-a"]);
    let b = publish(&e.reg, "lib/b", "v1", &[&base, b"only-b"]);
    assert_eq!(a.layers[0], b.layers[0]);
    // Slow, so that both pulls are at it at once.
    e.reg.state.lock().unwrap().slow.insert(a.layers[0].clone());
    let (na, nb) = (
        format!("{}/lib/a:v1", e.reg.host),
        format!("{}/lib/b:v1", e.reg.host),
    );
    let none = AuthConfig::default();
    let ((ra, _), (rb, _)) =
        tokio::join!(pull(&e.mgr, &na, "", &none), pull(&e.mgr, &nb, "", &none));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(e.reg.blob_gets(&a.layers[0]), 1);
    assert_eq!(e.reg.blob_gets(&a.layers[1]), 1);
    assert_eq!(e.reg.blob_gets(&b.layers[1]), 1);
    assert_eq!(e.mgr.get(&na).unwrap().id, a.config);
    assert_eq!(e.mgr.get(&nb).unwrap().id, b.config);
    assert!(e.rt.state.lock().unwrap().leases.is_empty());
}

#[tokio::test]
async fn a_dropped_pull_leaves_no_image_nor_lease_and_the_next_completes() {
    let e = env().await;
    let big = vec![9u8; 16 * 40];
    let p = publish(&e.reg, "lib/slow", "v1", &[&big]);
    e.reg.state.lock().unwrap().slow.insert(p.layers[0].clone());
    let name = format!("{}/lib/slow:v1", e.reg.host);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    let mgr = e.mgr.clone();
    let n = name.clone();
    let task = tokio::spawn(async move {
        mgr.pull(
            &n,
            "",
            &super::pull_tests::amd64(),
            &AuthConfig::default(),
            &Progress::new(tx),
        )
        .await
    });
    // Wait until the layer is being downloaded, then drop the pull.
    loop {
        let m = rx.recv().await.expect("progress");
        if m.status == "Downloading" {
            break;
        }
    }
    assert_eq!(e.rt.state.lock().unwrap().leases.len(), 1);
    task.abort();
    let _ = task.await;
    assert!(
        eventually(|| e.rt.state.lock().unwrap().leases.is_empty()).await,
        "the dropped pull's lease is deleted"
    );
    assert!(e.mgr.get(&name).is_err());
    assert!(e.rt.state.lock().unwrap().images.is_empty());

    e.reg.state.lock().unwrap().slow.clear();
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    r.unwrap();
    assert_eq!(e.mgr.get(&name).unwrap().id, p.config);
}

#[tokio::test]
async fn repo_digests_after_pull_and_push_survive_a_restart() {
    let e = env().await;
    let p = publish(&e.reg, "lib/app", "v1", &[b"layer-one"]);
    let repo = format!("{}/lib/app", e.reg.host);
    let (r, _) = pull(&e.mgr, &repo, "v1", &AuthConfig::default()).await;
    r.unwrap();
    let by_digest = format!("{repo}@{}", p.index);
    let img = e.mgr.get(&format!("{repo}:v1")).unwrap();
    assert_eq!(img.repo_digests(), vec![by_digest.clone()]);
    assert_eq!(img.repo_tags(), vec![format!("{repo}:v1")]);
    assert_eq!(e.mgr.get(&by_digest).unwrap().id, p.config);

    // Pushed elsewhere: that repository's digest (of the manifest) too.
    let copy = format!("{}/copy/app", e.reg.host);
    e.mgr.tag(&format!("{repo}:v1"), &copy, "v2").await.unwrap();
    e.mgr
        .push(&copy, "v2", &AuthConfig::default(), &Progress::discard())
        .await
        .unwrap();
    let pushed = format!("{copy}@{}", p.manifest);
    let mut want = vec![by_digest.clone(), pushed.clone()];
    want.sort();
    assert_eq!(e.mgr.get(&pushed).unwrap().repo_digests(), want);

    // A new manager (a daemon restart) reads them back from the store.
    let bus = Arc::new(crate::mgr::events::EventBus::new(None).unwrap());
    let again = ImageMgr::new(e.rt.clone(), e._dir.path().join("tmp2"), bus)
        .await
        .unwrap();
    assert_eq!(again.get(&by_digest).unwrap().repo_digests(), want);

    // Untagging a repository's last tag takes its digest along.
    let out = again
        .remove(&format!("{copy}:v2"), false, &[])
        .await
        .unwrap();
    let untagged: Vec<_> = out.iter().filter_map(|o| o.untagged.clone()).collect();
    assert_eq!(untagged, vec![format!("{copy}:v2"), pushed.clone()]);
    assert!(again.get(&pushed).is_err());
    // And by digest: the image keeps its tag.
    again.remove(&by_digest, false, &[]).await.unwrap();
    let img = again.get(&format!("{repo}:v1")).unwrap();
    assert!(img.repo_digests().is_empty());
    // Pulled again while present: the digest is recorded, nothing fetched.
    let (r, _) = pull(&again, &repo, "v1", &AuthConfig::default()).await;
    r.unwrap();
    assert_eq!(
        again.get(&format!("{repo}:v1")).unwrap().repo_digests(),
        vec![by_digest]
    );
    assert_eq!(e.reg.blob_gets(&p.layers[0]), 1);
}

#[tokio::test]
async fn docker_hub_images_come_from_a_mirror() {
    let e = env().await;
    let p = publish(&e.reg, "library/busybox", "latest", &[b"from the mirror"]);
    e.mgr.set_registries(
        Registries::new(&[])
            .unwrap()
            .with_mirrors(&[format!("http://{}", e.reg.host)])
            .unwrap(),
    );
    let (r, msgs) = pull(&e.mgr, "busybox", "", &AuthConfig::default()).await;
    r.unwrap();
    let img = e.mgr.get("busybox").unwrap();
    assert_eq!(img.id, p.config);
    assert_eq!(img.repo_tags(), vec!["busybox:latest".to_string()]);
    assert_eq!(img.repo_digests(), vec![format!("busybox@{}", p.index)]);
    assert_eq!(
        msgs.last().unwrap().status,
        "Status: Downloaded newer image for busybox:latest"
    );
    assert_eq!(e.reg.blob_gets(&p.layers[0]), 1);
    // Only docker.io goes through mirrors.
    assert!(Registries::new(&[])
        .unwrap()
        .with_mirrors(&[format!("http://{}", e.reg.host)])
        .unwrap()
        .mirrors_for("quay.io")
        .is_empty());
}

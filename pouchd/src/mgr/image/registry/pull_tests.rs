//! Pull, push and login of the image manager against the in-process fake
//! registry and the fake content store.

use super::fake::{digest_of, FakeRegistry};
use super::{AuthConfig, Progress, RegResult, RegistryError};
use crate::error::Error;
use crate::mgr::image::{ImageMgr, WantPlatform};
use crate::testutil::FakeRuntime;
use pouch_api::JsonMessage;
use std::sync::Arc;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const GZIP_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub(super) struct Env {
    pub _dir: tempfile::TempDir,
    pub rt: Arc<FakeRuntime>,
    pub mgr: Arc<ImageMgr>,
    pub reg: FakeRegistry,
}

pub(super) async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::default());
    let bus = Arc::new(crate::mgr::events::EventBus::new(None).unwrap());
    let mgr = Arc::new(
        ImageMgr::new(rt.clone(), dir.path().join("tmp"), bus)
            .await
            .unwrap(),
    );
    let reg = FakeRegistry::start().await;
    Env {
        _dir: dir,
        rt,
        mgr,
        reg,
    }
}

/// What [`publish`] put in the registry.
pub(super) struct Published {
    pub index: String,
    pub manifest: String,
    pub config: String,
    pub layers: Vec<String>,
}

/// Publishes `repo:tag` as an index (amd64 and arm64 entries) whose amd64
/// image has the given layer contents.
pub(super) fn publish(reg: &FakeRegistry, repo: &str, tag: &str, layers: &[&[u8]]) -> Published {
    let layer_digests: Vec<String> = layers.iter().map(|l| reg.put_blob(l)).collect();
    // The fake store does not unpack: any diff IDs do.
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| digest_of(&[l, b"-diff".as_slice()].concat()))
        .collect();
    let mut manifests = Vec::new();
    let mut amd64 = (String::new(), String::new());
    for arch in ["arm64", "amd64"] {
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let cfg = serde_json::to_vec(&config).unwrap();
        let cfg_digest = reg.put_blob(&cfg);
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg_digest, "size": cfg.len()},
            "layers": layers.iter().zip(&layer_digests).map(|(l, d)| serde_json::json!({
                "mediaType": GZIP_LAYER, "digest": d, "size": l.len()
            })).collect::<Vec<_>>(),
        });
        let mb = serde_json::to_vec(&m).unwrap();
        let md = reg.put_manifest(repo, None, DOCKER_MANIFEST, &mb);
        manifests.push(serde_json::json!({
            "mediaType": DOCKER_MANIFEST, "digest": md, "size": mb.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
        if arch == "amd64" {
            amd64 = (md, cfg_digest);
        }
    }
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let ib = serde_json::to_vec(&index).unwrap();
    let index = reg.put_manifest(repo, Some(tag), OCI_INDEX, &ib);
    Published {
        index,
        manifest: amd64.0,
        config: amd64.1,
        layers: layer_digests,
    }
}

pub(super) fn amd64() -> WantPlatform {
    WantPlatform::parse("linux/amd64").unwrap()
}

pub(super) async fn pull(
    mgr: &ImageMgr,
    image: &str,
    tag: &str,
    auth: &AuthConfig,
) -> (RegResult<()>, Vec<JsonMessage>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    let r = mgr
        .pull(image, tag, &amd64(), auth, &Progress::new(tx))
        .await;
    let mut msgs = Vec::new();
    while let Ok(m) = rx.try_recv() {
        msgs.push(m);
    }
    (r, msgs)
}

pub(super) fn statuses(msgs: &[JsonMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            if m.id.is_empty() {
                m.status.clone()
            } else {
                format!("{}: {}", m.id, m.status)
            }
        })
        .collect()
}

pub(super) fn short(d: &str) -> String {
    d.trim_start_matches("sha256:")[..12].to_string()
}

#[tokio::test]
async fn pulls_through_an_index_and_reports_like_docker() {
    let e = env().await;
    let p = publish(&e.reg, "lib/app", "v1", &[b"layer-one", b"layer-two"]);
    let name = format!("{}/lib/app", e.reg.host);
    let (r, msgs) = pull(&e.mgr, &name, "v1", &AuthConfig::default()).await;
    r.unwrap();
    let st = statuses(&msgs);
    assert_eq!(st[0], "v1: Pulling from lib/app");
    let (l1, l2) = (short(&p.layers[0]), short(&p.layers[1]));
    for want in [
        format!("{l1}: Pulling fs layer"),
        format!("{l2}: Pulling fs layer"),
        format!("{l1}: Downloading"),
        format!("{l1}: Download complete"),
        format!("{l1}: Pull complete"),
        format!("{l2}: Pull complete"),
    ] {
        assert!(st.contains(&want), "no {want:?} in {st:?}");
    }
    // Layers complete in order.
    let pos = |s: &str| st.iter().position(|x| x == s).unwrap();
    assert!(pos(&format!("{l1}: Pull complete")) < pos(&format!("{l2}: Pull complete")));
    let n = st.len();
    assert_eq!(st[n - 2], format!("Digest: {}", p.index));
    assert_eq!(
        st[n - 1],
        format!("Status: Downloaded newer image for {name}:v1")
    );
    let dl = msgs.iter().find(|m| m.status == "Downloading").unwrap();
    let detail = dl.progress_detail.as_ref().unwrap();
    assert_eq!(detail.total, 9);
    assert!(dl.progress.contains("9B"), "{}", dl.progress);

    let img = e.mgr.get(&format!("{name}:v1")).unwrap();
    assert_eq!(img.id, p.config);
    assert_eq!(img.manifest.digest, p.manifest);
    assert_eq!(img.config.architecture, "amd64");
    assert!(e.rt.state.lock().unwrap().leases.is_empty());

    let (r, msgs) = pull(&e.mgr, &name, "v1", &AuthConfig::default()).await;
    r.unwrap();
    let st = statuses(&msgs);
    assert_eq!(
        st.last().unwrap(),
        &format!("Status: Image is up to date for {name}:v1")
    );

    // By digest (of the index).
    let (r, _) = pull(&e.mgr, &name, &p.index, &AuthConfig::default()).await;
    r.unwrap();
    assert_eq!(
        e.mgr.get(&format!("{name}@{}", p.index)).unwrap().id,
        p.config
    );
}

#[tokio::test]
async fn layers_already_here_are_not_fetched_again() {
    let e = env().await;
    let a = publish(&e.reg, "lib/a", "v1", &[b"shared-base", b"only-a"]);
    let b = publish(&e.reg, "lib/b", "v1", &[b"shared-base", b"only-b"]);
    let (r, _) = pull(
        &e.mgr,
        &format!("{}/lib/a:v1", e.reg.host),
        "",
        &AuthConfig::default(),
    )
    .await;
    r.unwrap();
    let (r, msgs) = pull(
        &e.mgr,
        &format!("{}/lib/b:v1", e.reg.host),
        "",
        &AuthConfig::default(),
    )
    .await;
    r.unwrap();
    let st = statuses(&msgs);
    assert!(
        st.contains(&format!("{}: Already exists", short(&a.layers[0]))),
        "{st:?}"
    );
    assert!(
        st.contains(&format!("{}: Pull complete", short(&b.layers[1]))),
        "{st:?}"
    );
    let fetched = e
        .reg
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET") && r.ends_with(&a.layers[0]))
        .count();
    assert_eq!(fetched, 1);
}

#[tokio::test]
async fn a_corrupt_layer_fails_the_pull_and_leaves_nothing() {
    let e = env().await;
    let p = publish(&e.reg, "lib/bad", "v1", &[b"fine", b"will be corrupted"]);
    e.reg
        .state
        .lock()
        .unwrap()
        .corrupt
        .insert(p.layers[1].clone());
    let name = format!("{}/lib/bad:v1", e.reg.host);
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    let err = r.unwrap_err().to_string();
    assert!(err.contains("igest"), "{err}");
    assert!(e.mgr.get(&name).is_err());
    let st = e.rt.state.lock().unwrap();
    assert!(st.images.is_empty());
    assert!(st.leases.is_empty(), "lease left: {:?}", st.leases);
    assert!(!st.blobs.contains_key(&p.layers[1]));
}

#[tokio::test]
async fn a_client_going_away_cancels_the_pull() {
    let e = env().await;
    let big = vec![7u8; 16 * 40];
    let p = publish(&e.reg, "lib/slow", "v1", &[&big]);
    e.reg.state.lock().unwrap().slow.insert(p.layers[0].clone());
    let name = format!("{}/lib/slow:v1", e.reg.host);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let mgr = e.mgr.clone();
    let n = name.clone();
    let task = tokio::spawn(async move {
        mgr.pull(&n, "", &amd64(), &AuthConfig::default(), &Progress::new(tx))
            .await
    });
    let first = rx.recv().await.unwrap();
    assert_eq!(first.status, "Pulling from lib/slow");
    drop(rx);
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("cancelled pull ends")
        .unwrap();
    assert!(r.unwrap_err().to_string().contains("went away"));
    assert!(e.mgr.get(&name).is_err());
    assert!(e.rt.state.lock().unwrap().leases.is_empty());
}

#[tokio::test]
async fn unknown_tags_are_not_found() {
    let e = env().await;
    publish(&e.reg, "lib/app", "v1", &[b"x"]);
    let name = format!("{}/lib/app", e.reg.host);
    let (r, msgs) = pull(&e.mgr, &name, "nope", &AuthConfig::default()).await;
    match r {
        Err(RegistryError::Other(Error::NotFound(m))) => {
            assert!(m.contains("manifest unknown"), "{m}");
            assert!(m.contains(&format!("{name}:nope")), "{m}");
        }
        other => panic!("want not found, got {other:?}"),
    }
    assert!(msgs.is_empty());
    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    assert!(matches!(r, Err(RegistryError::Other(Error::NotFound(_)))));
}

fn creds(user: &str, pass: &str, server: &str) -> AuthConfig {
    AuthConfig {
        username: user.into(),
        password: pass.into(),
        serveraddress: server.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn basic_auth_registries_want_the_right_password() {
    let e = env().await;
    publish(&e.reg, "priv/app", "v1", &[b"secret layer"]);
    e.reg.state.lock().unwrap().basic = Some(("me".into(), "pw".into()));
    let name = format!("{}/priv/app:v1", e.reg.host);

    let (r, _) = pull(&e.mgr, &name, "", &AuthConfig::default()).await;
    assert!(matches!(r, Err(RegistryError::Unauthorized(_))), "{r:?}");
    let (r, _) = pull(&e.mgr, &name, "", &creds("me", "bad", "")).await;
    match r {
        Err(RegistryError::Unauthorized(m)) => assert!(m.contains("incorrect"), "{m}"),
        other => panic!("{other:?}"),
    }
    let (r, _) = pull(&e.mgr, &name, "", &creds("me", "pw", "")).await;
    r.unwrap();

    let host = e.reg.host.clone();
    assert!(matches!(
        e.mgr.login(&creds("me", "bad", &host)).await,
        Err(RegistryError::Unauthorized(_))
    ));
    assert_eq!(e.mgr.login(&creds("me", "pw", &host)).await.unwrap(), "");
    let with_scheme = format!("http://{host}/");
    assert!(e.mgr.login(&creds("me", "pw", &with_scheme)).await.is_ok());
}

#[tokio::test]
async fn push_sends_the_stored_manifest_bytes() {
    let e = env().await;
    let p = publish(&e.reg, "lib/app", "v1", &[b"layer-one", b"layer-two"]);
    let src = format!("{}/lib/app:v1", e.reg.host);
    let (r, _) = pull(&e.mgr, &src, "", &AuthConfig::default()).await;
    r.unwrap();
    let dest_repo = format!("{}/copy/app", e.reg.host);
    e.mgr.tag(&src, &dest_repo, "v2").await.unwrap();
    // Only the copy's blobs should be in the registry: forget the originals.
    e.reg.state.lock().unwrap().blobs.clear();

    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    e.mgr
        .push(&dest_repo, "v2", &AuthConfig::default(), &Progress::new(tx))
        .await
        .unwrap();
    let mut msgs = Vec::new();
    while let Ok(m) = rx.try_recv() {
        msgs.push(m);
    }
    let st = statuses(&msgs);
    assert_eq!(
        st[0],
        format!("The push refers to repository [{dest_repo}]")
    );
    assert!(
        st.iter().filter(|s| s.ends_with(": Pushed")).count() == 2,
        "{st:?}"
    );
    assert!(
        st.contains(&format!("v2: digest: {} size: {}", p.manifest, {
            e.reg.manifest("lib/app", &p.manifest).unwrap().1.len()
        }))
    );
    let aux = msgs.iter().find_map(|m| m.aux.clone()).unwrap();
    assert_eq!(aux["Tag"], "v2");
    assert_eq!(aux["Digest"], p.manifest.as_str());

    let (mt, bytes) = e.reg.manifest("copy/app", "v2").unwrap();
    assert_eq!(mt, DOCKER_MANIFEST);
    assert_eq!(digest_of(&bytes), p.manifest);
    {
        let st = e.reg.state.lock().unwrap();
        for d in p.layers.iter().chain([&p.config]) {
            assert!(st.blobs.contains_key(d), "{d} not pushed");
        }
    }

    // Again: every layer is there.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    e.mgr
        .push(&dest_repo, "v2", &AuthConfig::default(), &Progress::new(tx))
        .await
        .unwrap();
    let mut again = Vec::new();
    while let Ok(m) = rx.try_recv() {
        again.push(m);
    }
    let st = statuses(&again);
    assert_eq!(
        st.iter()
            .filter(|s| s.ends_with(": Layer already exists"))
            .count(),
        2,
        "{st:?}"
    );

    let r = e
        .mgr
        .push(
            &format!("{}/none", e.reg.host),
            "v1",
            &AuthConfig::default(),
            &Progress::discard(),
        )
        .await;
    assert!(matches!(r, Err(RegistryError::Other(Error::NotFound(_)))));
}

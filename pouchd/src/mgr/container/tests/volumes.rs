//! The container manager's use of the volume manager.

use super::*;

fn with_binds(binds: &[&str]) -> HostConfig {
    HostConfig {
        binds: binds.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_references_volumes_and_rm_v_drops_anonymous_ones() {
    let e = env().await;
    let mut cfg = config(&["true"]);
    cfg.volumes.insert(
        "/image-vol".into(),
        pouch_api::container::EmptyObject::default(),
    );
    let id = e
        .mgr
        .create(Some("c1"), cfg, with_binds(&["data:/data", "/anon"]))
        .await
        .unwrap()
        .id;
    let m = e.mgr.get(&id).unwrap().meta();
    assert_eq!(m.mounts.len(), 3);
    let data = e.volumes.get("data").unwrap();
    assert_eq!(data.refs, vec![id.clone()]);
    assert_eq!(m.mounts[0].source, data.mountpoint.to_string_lossy());
    let anon: Vec<String> = m.mounts[1..].iter().map(|r| r.name.clone()).collect();
    for a in &anon {
        assert_eq!(a.len(), 64);
        assert!(e.volumes.get(a).is_ok());
    }
    // In use by a container that is not even running: refused.
    assert!(e.volumes.remove("data", true).unwrap_err().is_conflict());

    e.mgr.remove(&id, false, true).await.unwrap();
    assert!(e.volumes.get("data").unwrap().refs.is_empty());
    for a in &anon {
        assert!(e.volumes.get(a).unwrap_err().is_not_found());
    }
    e.volumes.remove("data", false).unwrap();
}

#[tokio::test]
async fn rm_without_v_keeps_anonymous_volumes_and_shared_ones_stay() {
    let e = env().await;
    let a = e
        .mgr
        .create(
            Some("ca"),
            config(&["true"]),
            with_binds(&["shared:/s", "/anon"]),
        )
        .await
        .unwrap()
        .id;
    let b = e
        .mgr
        .create(Some("cb"), config(&["true"]), with_binds(&["shared:/s"]))
        .await
        .unwrap()
        .id;
    let anon = e.mgr.get(&a).unwrap().meta().mounts[1].name.clone();
    e.mgr.remove(&a, false, false).await.unwrap();
    assert!(e.volumes.get(&anon).unwrap().refs.is_empty());
    assert_eq!(e.volumes.get("shared").unwrap().refs, vec![b.clone()]);
    e.mgr.remove(&b, false, true).await.unwrap();
    // Named: kept even with -v.
    assert!(e.volumes.get("shared").is_ok());
}

#[tokio::test]
async fn bad_volume_names_and_failed_creates_leave_nothing() {
    let e = env().await;
    let err = e
        .mgr
        .create(Some("c1"), config(&["true"]), with_binds(&["a/b:/x"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err}");
    // The name is taken: the anonymous volume made for it goes again.
    e.mgr
        .create(Some("c2"), config(&["true"]), HostConfig::default())
        .await
        .unwrap();
    let err = e
        .mgr
        .create(Some("c2"), config(&["true"]), with_binds(&["/anon"]))
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert!(e
        .volumes
        .list(&crate::mgr::volume::VolumeFilters::default())
        .is_empty());
}

#[tokio::test]
async fn restart_recovers_references() {
    let e = env().await;
    let id = e
        .mgr
        .create(Some("c1"), config(&["true"]), with_binds(&["data:/data"]))
        .await
        .unwrap()
        .id;
    let vols = Arc::new(VolumeMgr::new(e.volumes.root(), e.bus.clone()).unwrap());
    assert!(vols.get("data").unwrap().refs.is_empty());
    let (tx, rx) = crate::testutil::event_channel();
    let _mgr = ContainerMgr::new(
        e.rt.clone(),
        e.images.clone(),
        e.net.clone(),
        e.cfg.clone(),
        rx,
        e.bus.clone(),
        vols.clone(),
    )
    .await
    .unwrap();
    drop(tx);
    assert_eq!(vols.get("data").unwrap().refs, [id]);
}

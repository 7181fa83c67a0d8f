//! `container prune`: stopped containers go, running and paused ones stay,
//! filters narrow it down.

use super::*;
use crate::mgr::container::PruneOptions;

#[tokio::test]
async fn prune_removes_stopped_containers_only() {
    let e = env().await;
    let created_only = created(&e, &["true"]).await;
    let exited = created(&e, &["true"]).await;
    e.mgr.start(&exited).await.unwrap();
    e.events.send(e.rt.exit(&exited, 0)).await.unwrap();
    status_becomes(&e.mgr, &exited, Status::Exited).await;
    let running = created(&e, &["sleep", "100"]).await;
    e.mgr.start(&running).await.unwrap();
    let paused = created(&e, &["sleep", "100"]).await;
    e.mgr.start(&paused).await.unwrap();
    e.mgr.pause(&paused).await.unwrap();
    let mut labelled = config(&["true"]);
    labelled.labels.insert("keep".into(), "yes".into());
    let kept = e
        .mgr
        .create(None, labelled, HostConfig::default())
        .await
        .unwrap()
        .id;

    // `label!=keep`: the labelled one stays this time.
    let opts = PruneOptions {
        not_labels: vec!["keep".into()],
        ..Default::default()
    };
    let out = e.mgr.prune(&opts).await.unwrap();
    let mut deleted = out.containers_deleted.unwrap_or_default();
    deleted.sort();
    let mut want = vec![created_only.clone(), exited.clone()];
    want.sort();
    assert_eq!(deleted, want);
    for id in [&created_only, &exited] {
        assert!(e.mgr.get(id).is_err(), "{id} still there");
    }
    for id in [&running, &paused, &kept] {
        assert!(e.mgr.get(id).is_ok(), "{id} was pruned");
    }

    // `until` in the past: nothing is old enough.
    let opts = PruneOptions {
        until: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        ..Default::default()
    };
    let out = e.mgr.prune(&opts).await.unwrap();
    assert_eq!(out.containers_deleted, None);
    // No filters: the labelled one goes too, never the running ones.
    let out = e.mgr.prune(&PruneOptions::default()).await.unwrap();
    assert_eq!(out.containers_deleted, Some(vec![kept.clone()]));
    assert!(e.mgr.get(&running).is_ok() && e.mgr.get(&paused).is_ok());
}

//! `docker update`: kept in the host config, applied to a live task only.

use super::*;
use pouch_api::container::ContainerUpdateRequest;

#[tokio::test]
async fn update_applies_to_running_tasks_and_persists() {
    let e = env().await;
    let id = created(&e, &["sleep", "100"]).await;
    let req = ContainerUpdateRequest {
        memory: 64 << 20,
        pids_limit: Some(40),
        ..Default::default()
    };
    // Not running: recorded, nothing to apply.
    e.mgr.update(&id, &req).await.unwrap();
    assert!(e.rt.st_updates().is_empty());
    assert_eq!(e.mgr.get(&id).unwrap().meta().host_config.memory, 64 << 20);

    e.mgr.start(&id).await.unwrap();
    let cpus = ContainerUpdateRequest {
        nano_cpus: 500_000_000,
        ..Default::default()
    };
    e.mgr.update(&id, &cpus).await.unwrap();
    let updates = e.rt.st_updates();
    assert_eq!(updates.len(), 1);
    let (uid, res) = &updates[0];
    assert_eq!(uid, &id);
    // The whole set of limits, old and new.
    assert_eq!(res["memory"]["limit"], 64 << 20);
    assert_eq!(res["pids"]["limit"], 40);
    assert_eq!(
        (res["cpu"]["quota"].as_i64(), res["cpu"]["period"].as_u64()),
        (Some(50_000), Some(100_000))
    );

    // A bad update changes nothing.
    let bad = ContainerUpdateRequest {
        memory: 1024,
        ..Default::default()
    };
    assert!(matches!(
        e.mgr.update(&id, &bad).await,
        Err(Error::InvalidParameter(_))
    ));
    assert_eq!(e.mgr.get(&id).unwrap().meta().host_config.memory, 64 << 20);
    assert!(e
        .mgr
        .update("nope", &cpus)
        .await
        .unwrap_err()
        .is_not_found());
}

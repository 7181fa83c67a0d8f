//! Removal: force and auto-remove, and the reap and reclaim that run
//! behind it.

use super::*;

#[tokio::test]
async fn remove_needs_force_for_running_containers() {
    let e = env().await;
    let id = e
        .mgr
        .create(
            Some("victim"),
            config(&["sleep", "1"]),
            HostConfig::default(),
        )
        .await
        .unwrap()
        .id;
    e.mgr.start(&id).await.unwrap();
    assert!(matches!(
        e.mgr.remove(&id, false, false).await,
        Err(Error::Conflict(_))
    ));
    let removed = e.mgr.wait(&id, WaitCondition::Removed).unwrap();
    exit_on_kill(&e, &id, None, 137);
    e.mgr.remove(&id, true, false).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), removed)
            .await
            .unwrap()
            .unwrap(),
        137
    );
    assert!(e.mgr.get("victim").is_err());
    e.mgr.reclaimer.settled().await;
    assert!(!e.rt.has_snapshot(&id));
    // The name is free again.
    e.mgr
        .create(Some("victim"), config(&["true"]), HostConfig::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn auto_remove_after_exit() {
    let e = env().await;
    let hc = HostConfig {
        auto_remove: true,
        ..Default::default()
    };
    let id = e.mgr.create(None, config(&["true"]), hc).await.unwrap().id;
    let removed = e.mgr.wait(&id, WaitCondition::Removed).unwrap();
    e.mgr.start(&id).await.unwrap();
    e.events.send(e.rt.exit(&id, 0)).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), removed)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    assert!(e.mgr.get(&id).is_err());
}

#[tokio::test]
async fn removal_does_not_wait_for_the_reap() {
    let e = env().await;
    let gate = e.rt.gate_reaps();
    let hc = HostConfig {
        auto_remove: true,
        ..Default::default()
    };
    let auto = e.mgr.create(None, config(&["true"]), hc).await.unwrap().id;
    let forced = created(&e, &["sleep", "9"]).await;
    let removed = e.mgr.wait(&auto, WaitCondition::Removed).unwrap();
    e.mgr.start(&auto).await.unwrap();
    e.mgr.start(&forced).await.unwrap();
    e.events.send(e.rt.exit(&auto, 0)).await.unwrap();
    let within = Duration::from_secs(5);
    assert_eq!(
        tokio::time::timeout(within, removed)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    exit_on_kill(&e, &forced, None, 137);
    tokio::time::timeout(within, e.mgr.remove(&forced, true, false))
        .await
        .expect("rm -f waits for no reap")
        .unwrap();
    // Nor does `rm` right after an ordinary exit, whose reap is under way.
    let exited = created(&e, &["true"]).await;
    e.mgr.start(&exited).await.unwrap();
    let stopped = e.mgr.wait(&exited, WaitCondition::NotRunning).unwrap();
    e.events.send(e.rt.exit(&exited, 0)).await.unwrap();
    tokio::time::timeout(within, stopped)
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(within, e.mgr.remove(&exited, false, false))
        .await
        .expect("rm waits for no reap")
        .unwrap();
    for id in [&auto, &forced, &exited] {
        assert!(e.mgr.get(id).is_err());
        // Still held by containerd until the (slow) reap is through.
        assert!(e.rt.has_task(id) && e.rt.has_snapshot(id));
    }
    gate.add_permits(4);
    e.mgr.reclaimer.settled().await;
    for id in [&auto, &forced, &exited] {
        assert!(!e.rt.has_task(id), "task of {id} reaped");
        assert!(!e.rt.has_container(id) && !e.rt.has_snapshot(id));
    }
}

#[tokio::test]
async fn start_waits_for_the_previous_runs_reap() {
    let e = env().await;
    let gate = e.rt.gate_reaps();
    let id = created(&e, &["true"]).await;
    e.mgr.start(&id).await.unwrap();
    let stopped = e.mgr.wait(&id, WaitCondition::NotRunning).unwrap();
    e.events.send(e.rt.exit(&id, 3)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .unwrap()
        .unwrap();
    let again = tokio::spawn({
        let mgr = e.mgr.clone();
        let id = id.clone();
        async move { mgr.start(&id).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!again.is_finished(), "start went ahead of the reap");
    gate.add_permits(1);
    again.await.unwrap().unwrap();
    assert_eq!(e.mgr.get(&id).unwrap().meta().state.status, Status::Running);
}

#[tokio::test]
async fn start_sweeps_what_removals_left_behind() {
    let e = env().await;
    let kept = e
        .mgr
        .create(Some("kept"), config(&["sleep", "9"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    e.mgr.start(&kept).await.unwrap();
    let created_only = created(&e, &["true"]).await;
    let ran = created(&e, &["sleep", "9"]).await;
    e.mgr.start(&ran).await.unwrap();
    // A daemon killed right after two removals took their metadata: the
    // record, task and snapshot of one, the snapshot of the other are left.
    e.mgr.meta.remove(&created_only).unwrap();
    e.mgr.meta.remove(&ran).unwrap();
    let (mgr, _tx) = e.restarted().await;
    mgr.reclaimer.settled().await;
    assert!(!e.rt.has_snapshot(&created_only));
    assert!(!e.rt.has_task(&ran) && !e.rt.has_container(&ran) && !e.rt.has_snapshot(&ran));
    assert!(
        e.rt.kills().iter().any(|(id, sig)| id == &ran && *sig == 9),
        "a running orphan is killed"
    );
    assert!(e.rt.has_task(&kept) && e.rt.has_container(&kept) && e.rt.has_snapshot(&kept));
    assert_eq!(mgr.get("kept").unwrap().id, kept);
}

//! Container manager logic against the fake runtime.

use super::*;
use crate::error::Error;
use crate::mgr::volume::VolumeMgr;
use crate::testutil::{event_channel, FakeNetwork, FakeRuntime};
use pouch_api::container::{Config, HostConfig, RestartPolicy};
use std::time::Duration;
use tokio::sync::mpsc;

pub(super) struct Env {
    _dir: tempfile::TempDir,
    pub(super) rt: Arc<FakeRuntime>,
    pub(super) net: Arc<FakeNetwork>,
    pub(super) mgr: Arc<ContainerMgr>,
    pub(super) events: mpsc::Sender<RuntimeEvent>,
    cfg: ContainerMgrConfig,
    images: Arc<ImageMgr>,
    bus: Arc<crate::mgr::events::EventBus>,
    volumes: Arc<VolumeMgr>,
}

pub(super) async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::default());
    rt.add_image(
        "docker.io/library/busybox:latest",
        serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": []}
        }),
    );
    let bus = Arc::new(crate::mgr::events::EventBus::new(None).unwrap());
    let images = Arc::new(
        ImageMgr::new(rt.clone(), dir.path().join("tmp"), bus.clone())
            .await
            .unwrap(),
    );
    let cfg = ContainerMgrConfig {
        root: dir.path().join("containers"),
        exec_root: dir.path().join("fifo"),
        namespace: "test".into(),
        log_config: Default::default(),
    };
    let (tx, rx) = event_channel();
    let net = Arc::new(FakeNetwork::default());
    let volumes = Arc::new(VolumeMgr::new(dir.path().join("volumes"), bus.clone()).unwrap());
    let mgr = ContainerMgr::new(
        rt.clone(),
        images.clone(),
        net.clone(),
        cfg.clone(),
        rx,
        bus.clone(),
        volumes.clone(),
    )
    .await
    .unwrap();
    Env {
        _dir: dir,
        rt,
        net,
        mgr,
        events: tx,
        cfg,
        images,
        bus,
        volumes,
    }
}

impl Env {
    /// A second manager over the same runtime and state: the daemon started
    /// again; with the sender of its (unfed) event channel, to keep open.
    pub(super) async fn restarted(&self) -> (Arc<ContainerMgr>, mpsc::Sender<RuntimeEvent>) {
        let (tx, rx) = event_channel();
        let mgr = ContainerMgr::new(
            self.rt.clone(),
            self.images.clone(),
            self.net.clone(),
            self.cfg.clone(),
            rx,
            self.bus.clone(),
            self.volumes.clone(),
        )
        .await
        .unwrap();
        (mgr, tx)
    }
}

/// Makes the fake task exit with `code` once it gets `signal` (any signal when `None`),
/// as a process would.
fn exit_on_kill(e: &Env, id: &str, signal: Option<u32>, code: u32) {
    let rt = e.rt.clone();
    let events = e.events.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        loop {
            if rt
                .kills()
                .iter()
                .any(|(_, s)| signal.is_none_or(|want| *s == want))
            {
                let _ = events.send(rt.exit(&id, code)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// A container running `cmd`, unnamed, with the default host config.
async fn created(e: &Env, cmd: &[&str]) -> String {
    e.mgr
        .create(None, config(cmd), HostConfig::default())
        .await
        .unwrap()
        .id
}

/// Host config with only a restart policy.
fn policy(name: &str, maximum_retry_count: i64) -> HostConfig {
    HostConfig {
        restart_policy: RestartPolicy {
            name: name.into(),
            maximum_retry_count,
        },
        ..Default::default()
    }
}

pub(super) fn config(cmd: &[&str]) -> Config {
    Config {
        image: "busybox".into(),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

async fn until(mgr: &ContainerMgr, id: &str, what: &str, f: impl Fn(&ContainerMeta) -> bool) {
    for _ in 0..300 {
        if mgr.get(id).is_ok_and(|c| f(&c.meta())) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{id} never got {what}: {:?}",
        mgr.get(id).map(|c| c.meta().state)
    );
}

pub(super) async fn status_becomes(mgr: &ContainerMgr, id: &str, want: Status) {
    for _ in 0..200 {
        if mgr.get(id).map(|c| c.meta().state.status).ok() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{id} never became {want:?}: {:?}",
        mgr.get(id).map(|c| c.meta().state)
    );
}

#[tokio::test]
async fn create_merges_image_defaults_and_reserves_the_name() {
    let e = env().await;
    let c = e
        .mgr
        .create(
            Some("web"),
            Config {
                image: "busybox".into(),
                ..Default::default()
            },
            HostConfig::default(),
        )
        .await
        .unwrap();
    let m = e.mgr.get("web").unwrap().meta();
    assert_eq!(m.id, c.id);
    assert_eq!(m.path, "sh");
    assert_eq!(m.config.env, vec!["PATH=/bin".to_string()]);
    assert_eq!(m.state.status, Status::Created);
    assert!(e.rt.has_snapshot(&c.id));
    let again = e
        .mgr
        .create(Some("web"), config(&["true"]), HostConfig::default())
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    // Prefix lookup.
    assert_eq!(e.mgr.get(&c.id[..8]).unwrap().id, c.id);
    assert!(matches!(e.mgr.get("nosuch"), Err(Error::NotFound(_))));
}

#[tokio::test]
async fn unknown_image_and_bad_names_are_refused() {
    let e = env().await;
    let mut cfg = config(&["true"]);
    cfg.image = "nosuch".into();
    assert!(matches!(
        e.mgr.create(None, cfg, HostConfig::default()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        e.mgr
            .create(Some("bad name"), config(&["true"]), HostConfig::default())
            .await,
        Err(Error::InvalidParameter(_))
    ));
}

#[tokio::test]
async fn lifecycle_start_exit_wait() {
    let e = env().await;
    let id = created(&e, &["true"]).await;
    let waiter = e.mgr.wait(&id, WaitCondition::NextExit).unwrap();
    e.mgr.start(&id).await.unwrap();
    assert_eq!(e.mgr.get(&id).unwrap().meta().state.status, Status::Running);
    assert!(matches!(e.mgr.start(&id).await, Err(Error::NotModified(_))));
    e.events.send(e.rt.exit(&id, 3)).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap(),
        3
    );
    let m = e.mgr.get(&id).unwrap().meta();
    assert_eq!((m.state.status, m.state.exit_code), (Status::Exited, 3));
    assert!(!e.rt.has_task(&id), "task reaped");
    assert!(matches!(
        e.mgr.stop(&id, None).await,
        Err(Error::NotModified(_))
    ));
    assert!(matches!(e.mgr.pause(&id).await, Err(Error::Conflict(_))));
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_timeout() {
    let e = env().await;
    let id = created(&e, &["sleep", "1000"]).await;
    e.mgr.start(&id).await.unwrap();
    exit_on_kill(&e, &id, Some(9), 137);
    e.mgr.stop(&id, Some(0)).await.unwrap();
    let sigs: Vec<u32> = e.rt.kills().iter().map(|(_, s)| *s).collect();
    assert_eq!(sigs, vec![15, 9]);
    assert_eq!(e.mgr.get(&id).unwrap().meta().state.exit_code, 137);
}

#[tokio::test]
async fn restart_policy_always_restarts_until_stopped() {
    let e = env().await;
    let hc = policy("always", 0);
    let id = e.mgr.create(None, config(&["false"]), hc).await.unwrap().id;
    e.mgr.start(&id).await.unwrap();
    e.events.send(e.rt.exit(&id, 1)).await.unwrap();
    until(&e.mgr, &id, "restarted once", |m| {
        m.restart_count == 1 && m.state.status == Status::Running
    })
    .await;
    // A manual stop is final.
    exit_on_kill(&e, &id, None, 143);
    e.mgr.stop(&id, Some(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.mgr.get(&id).unwrap().meta().state.status, Status::Exited);
}

#[tokio::test]
async fn on_failure_gives_up_after_max_retries() {
    let e = env().await;
    let hc = policy("on-failure", 1);
    let id = e.mgr.create(None, config(&["false"]), hc).await.unwrap().id;
    e.mgr.start(&id).await.unwrap();
    e.events.send(e.rt.exit(&id, 1)).await.unwrap();
    until(&e.mgr, &id, "restarted once", |m| {
        m.restart_count == 1 && m.state.status == Status::Running
    })
    .await;
    e.events.send(e.rt.exit(&id, 1)).await.unwrap();
    status_becomes(&e.mgr, &id, Status::Exited).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = e.mgr.get(&id).unwrap().meta();
    assert_eq!((m.state.status, m.restart_count), (Status::Exited, 1));
}

#[tokio::test]
async fn pause_and_unpause() {
    let e = env().await;
    let id = created(&e, &["sleep", "1"]).await;
    e.mgr.start(&id).await.unwrap();
    e.mgr.pause(&id).await.unwrap();
    assert_eq!(e.mgr.get(&id).unwrap().meta().state.status, Status::Paused);
    assert!(matches!(e.mgr.pause(&id).await, Err(Error::Conflict(_))));
    assert!(matches!(e.mgr.start(&id).await, Err(Error::Conflict(_))));
    e.mgr.unpause(&id).await.unwrap();
    assert!(matches!(e.mgr.unpause(&id).await, Err(Error::Conflict(_))));
}

#[tokio::test]
async fn rename_moves_the_name() {
    let e = env().await;
    let a = e
        .mgr
        .create(Some("a1"), config(&["true"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    e.mgr
        .create(Some("b1"), config(&["true"]), HostConfig::default())
        .await
        .unwrap();
    assert!(matches!(
        e.mgr.rename("a1", "b1").await,
        Err(Error::Conflict(_))
    ));
    e.mgr.rename("a1", "c1").await.unwrap();
    assert_eq!(e.mgr.get("c1").unwrap().id, a);
    assert!(e.mgr.get("a1").is_err());
}

#[tokio::test]
async fn failed_start_is_recorded() {
    let e = env().await;
    let id = created(&e, &["nosuch"]).await;
    e.rt.set_fail_start(Some("exec: \"nosuch\": executable file not found in $PATH"));
    assert!(e.mgr.start(&id).await.is_err());
    let m = e.mgr.get(&id).unwrap().meta();
    assert_eq!((m.state.status, m.state.exit_code), (Status::Created, 127));
    assert!(m.state.error.contains("executable file not found"));
}

#[tokio::test]
async fn restart_of_the_daemon_recovers_state() {
    let e = env().await;
    let run = e
        .mgr
        .create(
            Some("run"),
            config(&["sleep", "1000"]),
            HostConfig::default(),
        )
        .await
        .unwrap()
        .id;
    let ex = e
        .mgr
        .create(Some("ex"), config(&["false"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    let gone = e
        .mgr
        .create(Some("gone"), config(&["sleep", "1"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    e.mgr.start(&run).await.unwrap();
    e.mgr.start(&ex).await.unwrap();
    e.mgr.start(&gone).await.unwrap();
    let waited = e.mgr.wait(&ex, WaitCondition::NotRunning).unwrap();
    e.events.send(e.rt.exit(&ex, 5)).await.unwrap();
    // As a client learns of it: once `wait` answers, the exit is on disk.
    assert_eq!(waited.await.unwrap(), 5);
    // While the daemon is down, `gone` exits unseen.
    let _ = e.rt.exit(&gone, 2);

    let (mgr2, _events) = e.restarted().await;
    assert_eq!(
        mgr2.get("run").unwrap().meta().state.status,
        Status::Running
    );
    let m = mgr2.get("ex").unwrap().meta();
    assert_eq!((m.state.status, m.state.exit_code), (Status::Exited, 5));
    status_becomes(&mgr2, &gone, Status::Exited).await;
    assert_eq!(mgr2.get("gone").unwrap().meta().state.exit_code, 2);
}

#[tokio::test]
async fn list_filters_and_order() {
    let e = env().await;
    let mut cfg = config(&["true"]);
    cfg.labels.insert("tier".into(), "web".into());
    let a = e
        .mgr
        .create(Some("first"), cfg, HostConfig::default())
        .await
        .unwrap()
        .id;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = e
        .mgr
        .create(Some("second"), config(&["true"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    e.mgr.start(&b).await.unwrap();
    let ids = |opts: ListOptions| {
        e.mgr
            .list(&opts)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(ListOptions::default()), vec![b.clone()]);
    assert_eq!(
        ids(ListOptions {
            all: true,
            ..Default::default()
        }),
        vec![b.clone(), a.clone()]
    );
    let f = |k: &str, v: &str| ListOptions {
        all: true,
        filters: pouch_api::Filters::new().with(k, v),
        ..Default::default()
    };
    assert_eq!(ids(f("label", "tier=web")), vec![a.clone()]);
    assert_eq!(ids(f("status", "created")), vec![a.clone()]);
    assert_eq!(ids(f("name", "sec")), vec![b.clone()]);
    assert_eq!(ids(f("ancestor", "busybox")).len(), 2);
    assert!(e.mgr.list(&f("bogus", "x")).is_err());
    assert!(e.mgr.list(&f("status", "sleeping")).is_err());
}

#[tokio::test]
async fn exec_lifecycle() {
    use pouch_api::exec::ExecConfig;
    let e = env().await;
    let id = created(&e, &["sleep", "1000"]).await;
    let cfg = ExecConfig {
        cmd: Some(vec!["true".into()]),
        ..Default::default()
    };
    assert!(matches!(
        e.mgr.exec_create(&id, cfg.clone()),
        Err(Error::Conflict(_))
    ));
    e.mgr.start(&id).await.unwrap();
    assert!(matches!(
        e.mgr.exec_create(&id, ExecConfig::default()),
        Err(Error::InvalidParameter(_))
    ));
    let x = e.mgr.exec_create(&id, cfg).unwrap();
    assert_eq!(e.mgr.exec_inspect(&x).unwrap().exit_code, None);
    e.mgr.exec_start(&x, None).await.unwrap();
    assert!(e.mgr.exec_inspect(&x).unwrap().running);
    assert!(matches!(
        e.mgr.exec_start(&x, None).await,
        Err(Error::Conflict(_))
    ));
    e.events
        .send(RuntimeEvent::ExecExit {
            id: id.clone(),
            exec_id: x.clone(),
            exit: crate::ctrd::ExitInfo {
                exit_status: 0,
                exited_at: None,
            },
        })
        .await
        .unwrap();
    for _ in 0..200 {
        if e.mgr.exec_inspect(&x).unwrap().exit_code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ins = e.mgr.exec_inspect(&x).unwrap();
    assert_eq!((ins.running, ins.exit_code), (false, Some(0)));
    assert_eq!(e.mgr.exec_ids(&id), vec![x.clone()]);
    assert!(matches!(
        e.mgr.exec_inspect("nosuch"),
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn daemon_start_restarts_always_and_unless_stopped() {
    let e = env().await;
    let always = e
        .mgr
        .create(Some("al"), config(&["sleep", "9"]), policy("always", 0))
        .await
        .unwrap()
        .id;
    let unless = e
        .mgr
        .create(
            Some("un"),
            config(&["sleep", "9"]),
            policy("unless-stopped", 0),
        )
        .await
        .unwrap()
        .id;
    let plain = e
        .mgr
        .create(Some("pl"), config(&["sleep", "9"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    let never = e
        .mgr
        .create(Some("nv"), config(&["sleep", "9"]), policy("always", 0))
        .await
        .unwrap()
        .id;
    for id in [&always, &unless, &plain] {
        e.mgr.start(id).await.unwrap();
        exit_on_kill(&e, id, None, 143);
        e.mgr.stop(id, Some(10)).await.unwrap();
    }
    let (mgr2, _events) = e.restarted().await;
    status_becomes(&mgr2, &always, Status::Running).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        mgr2.get(&unless).unwrap().meta().state.status,
        Status::Exited
    );
    assert_eq!(
        mgr2.get(&plain).unwrap().meta().state.status,
        Status::Exited
    );
    assert_eq!(
        mgr2.get(&never).unwrap().meta().state.status,
        Status::Created
    );
}

/// Volumes of containers: kept apart, this file is long enough.
mod names;
mod prune;
mod removal;
mod update;
mod volumes;

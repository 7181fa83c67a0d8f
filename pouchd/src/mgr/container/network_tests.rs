//! The container manager's use of the network, against the fake network:
//! when it attaches and releases, and what it does with ports.

use super::tests::{config, env, status_becomes};
use super::*;
use pouch_api::container::{HostConfig, PortBinding};

fn published(port: &str) -> HostConfig {
    let mut hc = HostConfig::default();
    hc.port_bindings.insert(
        "80/tcp".into(),
        Some(vec![PortBinding {
            host_ip: "127.0.0.1".into(),
            host_port: port.into(),
        }]),
    );
    hc
}

#[tokio::test]
async fn a_run_is_attached_and_its_exit_releases() {
    let e = env().await;
    let id = e
        .mgr
        .create(Some("web"), config(&["sleep", "1000"]), published("8080"))
        .await
        .unwrap()
        .id;
    e.mgr.start(&id).await.unwrap();
    let m = e.mgr.get(&id).unwrap().meta();
    let ep = m.network.clone().expect("attached");
    assert!(e.net.st().attached.contains(&id));
    assert_eq!(ep.ports[0].host_port, 8080);
    let hosts = std::fs::read_to_string(&m.hosts_path).unwrap();
    assert!(hosts.contains(&ep.ip_address), "{hosts}");
    // runc joins the namespace the network was set up in.
    let spec: serde_json::Value =
        serde_json::from_slice(&e.rt.state.lock().unwrap().containers[&id].spec).unwrap();
    let netns = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "network")
        .cloned()
        .unwrap();
    assert_eq!(netns["path"], ep.sandbox_key);

    e.events.send(e.rt.exit(&id, 0)).await.unwrap();
    status_becomes(&e.mgr, &id, Status::Exited).await;
    assert_eq!(e.mgr.get(&id).unwrap().meta().network, None);
    assert!(e.net.st().attached.is_empty());
    // Started again: attached again.
    e.mgr.start(&id).await.unwrap();
    assert!(e.mgr.get(&id).unwrap().meta().network.is_some());
    e.mgr.remove(&id, true, false).await.ok();
}

#[tokio::test]
async fn none_and_host_never_attach() {
    let e = env().await;
    for mode in ["none", "host"] {
        let hc = HostConfig {
            network_mode: mode.into(),
            ..Default::default()
        };
        let id = e
            .mgr
            .create(None, config(&["sleep", "1000"]), hc)
            .await
            .unwrap()
            .id;
        e.mgr.start(&id).await.unwrap();
        assert_eq!(e.mgr.get(&id).unwrap().meta().network, None, "{mode}");
    }
    assert_eq!(e.net.st().attaches, 0);
}

#[tokio::test]
async fn a_published_port_is_one_containers() {
    let e = env().await;
    let a = e
        .mgr
        .create(Some("pa"), config(&["sleep", "1000"]), published("9090"))
        .await
        .unwrap()
        .id;
    let b = e
        .mgr
        .create(Some("pb"), config(&["sleep", "1000"]), published("9090"))
        .await
        .unwrap()
        .id;
    e.mgr.start(&a).await.unwrap();
    let err = e.mgr.start(&b).await.unwrap_err();
    assert!(err.to_string().contains("already allocated"), "{err}");
    let m = e.mgr.get(&b).unwrap().meta();
    assert_eq!(m.network, None);
    assert_eq!(m.state.status, Status::Created);
    // Released by `a`'s exit, the port is free for `b`.
    e.events.send(e.rt.exit(&a, 0)).await.unwrap();
    status_becomes(&e.mgr, &a, Status::Exited).await;
    e.mgr.start(&b).await.unwrap();
}

#[tokio::test]
async fn bad_port_bindings_are_refused_at_create() {
    let e = env().await;
    let err = e
        .mgr
        .create(None, config(&["true"]), published("notaport"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");
}

#[tokio::test]
async fn a_restarted_daemon_releases_what_no_longer_runs() {
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
    let gone = e
        .mgr
        .create(Some("gone"), config(&["sleep", "1"]), HostConfig::default())
        .await
        .unwrap()
        .id;
    e.mgr.start(&run).await.unwrap();
    e.mgr.start(&gone).await.unwrap();
    // While the daemon is down, `gone` exits unseen.
    let _ = e.rt.exit(&gone, 0);
    let (mgr2, _events) = e.restarted().await;
    status_becomes(&mgr2, &gone, Status::Exited).await;
    for _ in 0..100 {
        if !e.net.st().attached.contains(&gone) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let st = e.net.st();
    assert_eq!(
        st.attached.iter().collect::<Vec<_>>(),
        vec![&run],
        "only the running container keeps its network"
    );
    assert!(st.orphan_sweeps.last().unwrap().contains(&run));
    drop(st);
    assert!(mgr2.get(&run).unwrap().meta().network.is_some());
    assert_eq!(mgr2.get(&gone).unwrap().meta().network, None);
}

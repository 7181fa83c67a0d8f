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
    let ep = m.endpoints.first().cloned().expect("attached");
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
    assert!(e.mgr.get(&id).unwrap().meta().endpoints.is_empty());
    assert!(e.net.st().attached.is_empty());
    // Started again: attached again.
    e.mgr.start(&id).await.unwrap();
    assert!(!e.mgr.get(&id).unwrap().meta().endpoints.is_empty());
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
        assert!(
            e.mgr.get(&id).unwrap().meta().endpoints.is_empty(),
            "{mode}"
        );
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
    assert!(m.endpoints.is_empty());
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
    assert!(!mgr2.get(&run).unwrap().meta().endpoints.is_empty());
    assert!(mgr2.get(&gone).unwrap().meta().endpoints.is_empty());
}

fn on(network: &str) -> HostConfig {
    HostConfig {
        network_mode: network.into(),
        ..Default::default()
    }
}

fn with_alias(network: &str, alias: &str) -> pouch_api::container::NetworkingConfig {
    pouch_api::container::NetworkingConfig {
        endpoints_config: std::collections::HashMap::from([(
            network.to_string(),
            pouch_api::container::EndpointSettings {
                aliases: vec![alias.to_string()],
                ..Default::default()
            },
        )]),
    }
}

async fn user_network(e: &super::tests::Env, name: &str) -> crate::mgr::network::NetConfig {
    e.mgr
        .create_network(&pouch_api::network::NetworkCreateRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

fn hosts_of(e: &super::tests::Env, id: &str) -> String {
    std::fs::read_to_string(e.mgr.get(id).unwrap().meta().hosts_path).unwrap()
}

#[tokio::test]
async fn containers_on_a_user_network_find_each_other_by_name() {
    let e = env().await;
    let net = user_network(&e, "app_default").await;
    assert_eq!(e.net.st().set_up, vec!["app_default".to_string()]);
    let db = e
        .mgr
        .create_with(
            Some("app_db_1"),
            config(&["sleep", "1000"]),
            on("app_default"),
            &with_alias("app_default", "db"),
        )
        .await
        .unwrap()
        .id;
    let web = e
        .mgr
        .create(
            Some("app_web_1"),
            config(&["sleep", "1000"]),
            on(&net.id[..12]),
        )
        .await
        .unwrap()
        .id;
    // Configured, not attached: the network shows while stopped.
    let m = e.mgr.get(&db).unwrap().meta();
    assert_eq!(m.networks["app_default"].aliases, vec!["db".to_string()]);
    assert_eq!(m.networks["app_default"].network_id, net.id);
    e.mgr.start(&db).await.unwrap();
    e.mgr.start(&web).await.unwrap();
    let dbm = e.mgr.get(&db).unwrap().meta();
    let webm = e.mgr.get(&web).unwrap().meta();
    assert_eq!(dbm.endpoints.len(), 1);
    assert_eq!(dbm.endpoints[0].network_name, "app_default");
    assert_eq!(dbm.endpoints[0].ifname, "eth0");
    // Docker adds the short ID to the aliases on a user-defined network.
    assert!(dbm.networks["app_default"]
        .aliases
        .contains(&db[..12].to_string()));
    let db_ip = dbm.endpoints[0].ip_address.clone();
    let web_ip = webm.endpoints[0].ip_address.clone();
    // The one started first learns of the later one too.
    let hosts = hosts_of(&e, &db);
    assert!(
        hosts.contains(&format!("{web_ip}\tapp_web_1 {}", &web[..12])),
        "{hosts}"
    );
    let hosts = hosts_of(&e, &web);
    assert!(
        hosts.contains(&format!("{db_ip}\tapp_db_1 db {}", &db[..12])),
        "{hosts}"
    );

    // web leaves: db's hosts forget it.
    e.events.send(e.rt.exit(&web, 0)).await.unwrap();
    status_becomes(&e.mgr, &web, Status::Exited).await;
    let hosts = hosts_of(&e, &db);
    assert!(!hosts.contains("app_web_1"), "{hosts}");

    // The network cannot go while db is on it; removing it afterwards
    // removes its bridge too.
    let err = e.mgr.remove_network("app_default").await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    e.events.send(e.rt.exit(&db, 0)).await.unwrap();
    status_becomes(&e.mgr, &db, Status::Exited).await;
    e.mgr.remove_network("app_default").await.unwrap();
    assert_eq!(e.net.st().removed, vec!["app_default".to_string()]);
    // Its containers then fail to start, as Docker's do.
    let err = e.mgr.start(&db).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn connect_and_disconnect_a_running_container() {
    let e = env().await;
    user_network(&e, "back").await;
    let id = e
        .mgr
        .create(
            Some("c1"),
            config(&["sleep", "1000"]),
            HostConfig::default(),
        )
        .await
        .unwrap()
        .id;
    let peer = e
        .mgr
        .create(Some("peer"), config(&["sleep", "1000"]), on("back"))
        .await
        .unwrap()
        .id;
    e.mgr.start(&id).await.unwrap();
    e.mgr.start(&peer).await.unwrap();
    let ep = pouch_api::container::EndpointSettings {
        aliases: vec!["api".into()],
        ..Default::default()
    };
    e.mgr.connect("c1", "back", Some(&ep)).await.unwrap();
    let m = e.mgr.get(&id).unwrap().meta();
    let names: Vec<(&str, &str)> = m
        .endpoints
        .iter()
        .map(|e| (e.network_name(), e.ifname()))
        .collect();
    assert_eq!(names, [("bridge", "eth0"), ("back", "eth1")]);
    let back_ip = m.endpoints[1].ip_address.clone();
    assert!(hosts_of(&e, &peer).contains(&format!("{back_ip}\tc1 api")));
    assert!(hosts_of(&e, &id).contains("\tpeer "));
    // Twice is refused, as are host and none.
    let err = e.mgr.connect("c1", "back", None).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let err = e.mgr.connect("c1", "host", None).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");

    e.mgr.disconnect("c1", "back", false).await.unwrap();
    let m = e.mgr.get(&id).unwrap().meta();
    assert_eq!(m.endpoints.len(), 1);
    assert!(!m.networks.contains_key("back"));
    assert!(!hosts_of(&e, &peer).contains("\tc1"));
    assert!(!hosts_of(&e, &id).contains("\tpeer"));
    let err = e.mgr.disconnect("c1", "back", false).await.unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");

    // A stopped container is connected for its next start.
    e.events.send(e.rt.exit(&id, 0)).await.unwrap();
    status_becomes(&e.mgr, &id, Status::Exited).await;
    e.mgr.connect(&id, "back", None).await.unwrap();
    assert!(e.mgr.get(&id).unwrap().meta().endpoints.is_empty());
    e.mgr.start(&id).await.unwrap();
    assert_eq!(e.mgr.get(&id).unwrap().meta().endpoints.len(), 2);
}

#[tokio::test]
async fn network_settings_are_checked_at_create() {
    let e = env().await;
    let net = user_network(&e, "fixed").await;
    let subnet = net.subnet().unwrap();
    let create = |hc: HostConfig, nc: pouch_api::container::NetworkingConfig| {
        let mgr = e.mgr.clone();
        async move {
            mgr.create_with(None, config(&["true"]), hc, &nc)
                .await
                .map(|r| r.id)
        }
    };
    let err = create(on("nosuchnet"), Default::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = create(HostConfig::default(), with_alias("bridge", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");
    let mut two = with_alias("fixed", "a");
    two.endpoints_config
        .insert("other".into(), Default::default());
    let err = create(on("fixed"), two).await.unwrap_err();
    assert!(err.to_string().contains("fixed, other"), "{err}");
    let fixed_ip = |ip: &str| pouch_api::container::NetworkingConfig {
        endpoints_config: std::collections::HashMap::from([(
            "fixed".to_string(),
            pouch_api::container::EndpointSettings {
                ipam_config: Some(pouch_api::container::EndpointIpamConfig {
                    ipv4_address: ip.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )]),
    };
    let err = create(on("fixed"), fixed_ip("192.0.2.9"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");
    let want = std::net::Ipv4Addr::from(u32::from(subnet.network()) + 77);
    let id = create(on("fixed"), fixed_ip(&want.to_string()))
        .await
        .unwrap();
    e.mgr.start(&id).await.unwrap();
    assert_eq!(
        e.mgr.get(&id).unwrap().meta().endpoints[0].ip_address,
        want.to_string()
    );
}

#[tokio::test]
async fn prune_removes_only_unused_user_networks() {
    let e = env().await;
    user_network(&e, "used").await;
    user_network(&e, "idle").await;
    e.mgr
        .create(None, config(&["true"]), on("used"))
        .await
        .unwrap();
    let gone = e.mgr.prune_networks(&Default::default()).await.unwrap();
    assert_eq!(gone, vec!["idle".to_string()]);
    let names: Vec<String> = e.net.networks().all().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["bridge", "host", "none", "used"]);
}

//! The container API through bollard (a real Docker API client).

use bollard::models::{ContainerStateStatusEnum, ContainerSummaryStateEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use pouch_tests::containers_api::{
    body, create, inspect, listed, run, server_status, status, wait, wait_file,
};
use pouch_tests::{wait_for_async, TestDaemon};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn create_and_inspect() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let mut b = body(&["sh", "-c", "echo $A; sleep 1000"]);
    b.env = Some(vec!["A=1".into(), "B=two".into()]);
    b.labels = Some(HashMap::from([
        ("app".to_string(), "web".to_string()),
        ("tier".to_string(), "front".to_string()),
    ]));
    let id = create(&docker, "inspected", b).await;

    let i = inspect(&docker, &id).await;
    assert_eq!(i.id.as_deref(), Some(id.as_str()));
    assert_eq!(i.name.as_deref(), Some("/inspected"));
    assert_eq!(i.path.as_deref(), Some("sh"));
    assert_eq!(
        i.args,
        Some(vec!["-c".to_string(), "echo $A; sleep 1000".to_string()])
    );
    let cfg = i.config.clone().expect("Config");
    assert_eq!(cfg.image.as_deref(), Some("busybox"));
    assert_eq!(
        cfg.cmd,
        Some(vec![
            "sh".to_string(),
            "-c".to_string(),
            "echo $A; sleep 1000".to_string()
        ])
    );
    let env = cfg.env.unwrap_or_default();
    assert!(env.contains(&"A=1".to_string()), "{env:?}");
    assert!(env.contains(&"B=two".to_string()), "{env:?}");
    let labels = cfg.labels.unwrap_or_default();
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
    let st = i.state.clone().expect("State");
    assert_eq!(st.status, Some(ContainerStateStatusEnum::CREATED));
    assert_eq!(st.running, Some(false));
    let image_id = docker.inspect_image("busybox").await.unwrap().id;
    assert_eq!(i.image, image_id, "Image is the image ID");
    assert!(i.created.is_some());

    docker.start_container(&id, None).await.unwrap();
    let st = inspect(&docker, &id).await.state.expect("State");
    assert_eq!(st.status, Some(ContainerStateStatusEnum::RUNNING));
    assert_eq!(st.running, Some(true));
    assert!(st.pid.unwrap_or(0) > 0, "{st:?}");
    assert!(
        st.started_at
            .as_deref()
            .is_some_and(|s| !s.starts_with("0001")),
        "{st:?}"
    );

    // Created with a name that is taken: 409.
    let e = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some("inspected".into()),
                ..Default::default()
            }),
            body(&["true"]),
        )
        .await
        .unwrap_err();
    assert_eq!(server_status(&e), 409, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_all_limit_filters() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let mut b = body(&["sleep", "1000"]);
    b.labels = Some(HashMap::from([("role".to_string(), "web".to_string())]));
    let running = create(&docker, "list-running", b).await;
    docker.start_container(&running, None).await.unwrap();
    let mut b = body(&["sh", "-c", "exit 3"]);
    b.labels = Some(HashMap::from([("role".to_string(), "db".to_string())]));
    let exited = create(&docker, "list-exited", b).await;
    docker.start_container(&exited, None).await.unwrap();
    assert_eq!(wait(&docker, &exited, "not-running").await, 3);
    let created = create(&docker, "list-created", body(&["true"])).await;

    let list = |all: bool, limit: Option<i32>, filters: &[(&str, &str)]| {
        let mut f: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            f.entry(k.to_string()).or_default().push(v.to_string());
        }
        let opts = ListContainersOptions {
            all,
            limit,
            filters: (!f.is_empty()).then_some(f),
            ..Default::default()
        };
        let docker = docker.clone();
        async move {
            let mut names: Vec<String> = docker
                .list_containers(Some(opts))
                .await
                .expect("list containers")
                .into_iter()
                .map(|c| c.names.unwrap_or_default().join(","))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(list(false, None, &[]).await, ["/list-running"]);
    assert_eq!(
        list(true, None, &[]).await,
        ["/list-created", "/list-exited", "/list-running"]
    );
    // limit: the most recently created.
    assert_eq!(list(true, Some(1), &[]).await, ["/list-created"]);
    assert_eq!(
        list(true, Some(2), &[]).await,
        ["/list-created", "/list-exited"]
    );
    assert_eq!(
        list(true, None, &[("id", &exited[..12])]).await,
        ["/list-exited"]
    );
    assert_eq!(
        list(true, None, &[("id", &running)]).await,
        ["/list-running"]
    );
    assert_eq!(
        list(true, None, &[("name", "list-created")]).await,
        ["/list-created"]
    );
    assert_eq!(
        list(true, None, &[("name", "list-")]).await.len(),
        3,
        "name filters match substrings"
    );
    assert_eq!(
        list(true, None, &[("label", "role=db")]).await,
        ["/list-exited"]
    );
    assert_eq!(
        list(true, None, &[("label", "role")]).await,
        ["/list-exited", "/list-running"]
    );
    assert_eq!(
        list(true, None, &[("status", "exited")]).await,
        ["/list-exited"]
    );
    assert_eq!(
        list(true, None, &[("status", "created")]).await,
        ["/list-created"]
    );
    assert_eq!(
        list(true, None, &[("status", "running")]).await,
        ["/list-running"]
    );
    assert_eq!(
        list(true, None, &[("status", "running"), ("status", "created")]).await,
        ["/list-created", "/list-running"]
    );
    assert_eq!(list(true, None, &[("exited", "3")]).await, ["/list-exited"]);
    assert!(list(true, None, &[("exited", "0")]).await.is_empty());
    assert_eq!(list(true, None, &[("ancestor", "busybox")]).await.len(), 3);
    assert_eq!(
        list(true, None, &[("ancestor", "busybox:latest")])
            .await
            .len(),
        3
    );
    assert_eq!(
        list(true, None, &[("label", "role=web"), ("status", "running")]).await,
        ["/list-running"]
    );
    assert!(
        list(true, None, &[("label", "role=web"), ("status", "exited")])
            .await
            .is_empty()
    );

    // The summary fields.
    let ex = listed(&docker, &exited).await;
    assert_eq!(ex.state, Some(ContainerSummaryStateEnum::EXITED));
    assert_eq!(ex.image.as_deref(), Some("busybox"));
    assert_eq!(
        ex.labels
            .as_ref()
            .and_then(|l| l.get("role"))
            .map(String::as_str),
        Some("db")
    );
    assert!(
        ex.status
            .as_deref()
            .is_some_and(|s| s.starts_with("Exited (3)")),
        "{:?}",
        ex.status
    );
    let cr = listed(&docker, &created).await;
    assert_eq!(cr.state, Some(ContainerSummaryStateEnum::CREATED));

    // An unknown filter and a bad status are refused.
    let e = docker
        .list_containers(Some(ListContainersOptions {
            filters: Some(HashMap::from([(
                "colour".to_string(),
                vec!["blue".to_string()],
            )])),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(server_status(&e), 400, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_conditions() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();

    // First the never-started container: any later start or removal may
    // trigger containerd's GC (see created_container_survives_gc).
    // not-running on a created container returns at once.
    let created = create(&docker, "wait-created", body(&["sh", "-c", "exit 4"])).await;
    assert_eq!(wait(&docker, &created, "not-running").await, 0);
    // next-exit on a created container: its first exit.
    let waiter = {
        let docker = docker.clone();
        let id = created.clone();
        tokio::spawn(async move { wait(&docker, &id, "next-exit").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    docker.start_container(&created, None).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 4);

    // not-running on a running container: returns at its exit with the code.
    let id = run(&docker, "wait-running", &["sh", "-c", "sleep 0.5; exit 3"]).await;
    let start = Instant::now();
    assert_eq!(wait(&docker, &id, "not-running").await, 3);
    assert!(start.elapsed() >= Duration::from_millis(200));
    // ... and at once on an exited one.
    assert_eq!(wait(&docker, &id, "not-running").await, 3);

    // next-exit waits for the next run, even for an exited container.
    let waiter = {
        let docker = docker.clone();
        let id = id.clone();
        tokio::spawn(async move { wait(&docker, &id, "next-exit").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "next-exit returned before the next exit"
    );
    docker.start_container(&id, None).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 3);

    // removed, with AutoRemove: returns once the container is gone.
    let mut b = body(&["sh", "-c", "sleep 0.3; exit 5"]);
    b.host_config = Some(HostConfig {
        auto_remove: Some(true),
        ..Default::default()
    });
    let auto = create(&docker, "wait-removed", b).await;
    let waiter = {
        let docker = docker.clone();
        let id = auto.clone();
        tokio::spawn(async move { wait(&docker, &id, "removed").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    docker.start_container(&auto, None).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 5);
    let e = docker.inspect_container(&auto, None).await.unwrap_err();
    assert_eq!(server_status(&e), 404, "{e}");

    // A bad condition is refused.
    let opts = WaitContainerOptions {
        condition: "whenever".into(),
    };
    let r = docker.wait_container(&id, Some(opts)).next().await;
    match r {
        Some(Err(e)) => assert_eq!(server_status(&e), 400, "{e}"),
        other => panic!("bad wait condition accepted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_with_signal_names() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let sync = d.sync_dir();
    let mut b = body(&[
        "sh",
        "-c",
        "trap 'echo hup >> /sync/got' HUP; trap 'echo usr1 >> /sync/got' USR1; \
         trap 'exit 9' TERM; touch /sync/ready; while true; do sleep 0.1; done",
    ]);
    b.host_config = Some(HostConfig {
        binds: Some(vec![format!("{}:/sync", sync.display())]),
        ..Default::default()
    });
    let id = create(&docker, "signals", b).await;
    docker.start_container(&id, None).await.unwrap();
    wait_file(&sync.join("ready")).await;
    let got = sync.join("got");
    let mut want = String::new();
    for (sig, line) in [
        ("SIGHUP", "hup"),
        ("USR1", "usr1"),
        ("1", "hup"),
        ("sigusr1", "usr1"),
    ] {
        docker
            .kill_container(
                &id,
                Some(KillContainerOptions {
                    signal: sig.to_string(),
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("kill -s {sig}: {e}"));
        want.push_str(line);
        want.push('\n');
        let w = want.clone();
        wait_for_async(
            &format!("the trap of {sig}"),
            Duration::from_secs(10),
            || {
                let got = got.clone();
                let w = w.clone();
                async move { (std::fs::read_to_string(&got).ok()? == w).then_some(()) }
            },
        )
        .await;
    }
    // Unknown signal: 400, and the container still runs.
    let e = docker
        .kill_container(
            &id,
            Some(KillContainerOptions {
                signal: "SIGNOPE".into(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(server_status(&e), 400, "{e}");
    assert_eq!(
        status(&docker, &id).await,
        ContainerStateStatusEnum::RUNNING
    );

    docker
        .kill_container(
            &id,
            Some(KillContainerOptions {
                signal: "SIGTERM".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(wait(&docker, &id, "not-running").await, 9);

    // Killing a stopped container: 409.
    let e = docker
        .kill_container(&id, None::<KillContainerOptions>)
        .await
        .unwrap_err();
    assert_eq!(server_status(&e), 409, "{e}");

    // Default signal is SIGKILL.
    let id = run(&docker, "killed", &["sleep", "1000"]).await;
    docker
        .kill_container(&id, None::<KillContainerOptions>)
        .await
        .unwrap();
    assert_eq!(wait(&docker, &id, "not-running").await, 137);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_unpause() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(&docker, "pausable", &["sleep", "1000"]).await;
    docker.pause_container(&id).await.unwrap();
    let st = inspect(&docker, &id).await.state.unwrap();
    assert_eq!(st.status, Some(ContainerStateStatusEnum::PAUSED));
    assert_eq!(st.paused, Some(true));
    assert_eq!(
        st.running,
        Some(true),
        "a paused container is still running"
    );
    let freezer = format!("/sys/fs/cgroup/freezer/{}/{id}/freezer.state", d.ns);
    if let Ok(s) = std::fs::read_to_string(&freezer) {
        assert_eq!(s.trim(), "FROZEN", "{freezer}");
    }
    // Pausing twice: 409.
    let e = docker.pause_container(&id).await.unwrap_err();
    assert_eq!(server_status(&e), 409, "{e}");
    let listed = docker
        .list_containers(None::<ListContainersOptions>)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, Some(ContainerSummaryStateEnum::PAUSED));

    docker.unpause_container(&id).await.unwrap();
    let st = inspect(&docker, &id).await.state.unwrap();
    assert_eq!(st.status, Some(ContainerStateStatusEnum::RUNNING));
    assert_eq!(st.paused, Some(false));
    if let Ok(s) = std::fs::read_to_string(&freezer) {
        assert_eq!(s.trim(), "THAWED", "{freezer}");
    }
    let e = docker.unpause_container(&id).await.unwrap_err();
    assert_eq!(server_status(&e), 409, "{e}");

    // A paused container can be stopped.
    docker.pause_container(&id).await.unwrap();
    docker
        .stop_container(
            &id,
            Some(StopContainerOptions {
                t: Some(1),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert_eq!(status(&docker, &id).await, ContainerStateStatusEnum::EXITED);
}

#[tokio::test(flavor = "multi_thread")]
async fn prefixes_and_names_everywhere() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = create(&docker, "by-name", body(&["sleep", "1000"])).await;
    let prefix = &id[..7];

    assert_eq!(
        inspect(&docker, prefix).await.id.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        inspect(&docker, "by-name").await.id.as_deref(),
        Some(id.as_str())
    );
    docker.start_container(prefix, None).await.unwrap();
    docker.pause_container("by-name").await.unwrap();
    docker.unpause_container(prefix).await.unwrap();
    docker
        .stop_container(
            "by-name",
            Some(StopContainerOptions {
                t: Some(0),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    docker.start_container("by-name", None).await.unwrap();
    docker
        .restart_container(
            prefix,
            Some(bollard::query_parameters::RestartContainerOptions {
                t: Some(0),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    docker
        .kill_container(prefix, None::<KillContainerOptions>)
        .await
        .unwrap();
    assert_eq!(wait(&docker, "by-name", "not-running").await, 137);
    assert_eq!(wait(&docker, prefix, "not-running").await, 137);
    docker
        .rename_container(
            prefix,
            RenameContainerOptions {
                name: "renamed".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        inspect(&docker, "renamed").await.name.as_deref(),
        Some("/renamed")
    );
    let e = docker.inspect_container("by-name", None).await.unwrap_err();
    assert_eq!(server_status(&e), 404, "{e}");
    let r = d.get_ok(&format!("/v1.41/containers/{prefix}/logs?stdout=1"));
    assert_eq!(r.status, 200, "{}", r.text());
    docker
        .remove_container(prefix, None::<RemoveContainerOptions>)
        .await
        .unwrap();
    let e = docker.inspect_container(&id, None).await.unwrap_err();
    assert_eq!(server_status(&e), 404, "{e}");

    // A prefix shared by two containers is ambiguous; the full ID still works.
    let mut ids = Vec::new();
    let shared = loop {
        let i = create(&docker, "", body(&["true"])).await;
        if let Some(other) = ids.iter().find(|o: &&String| o[..1] == i[..1]) {
            break (other.clone(), i);
        }
        ids.push(i);
    };
    let e = docker
        .inspect_container(&shared.0[..1], None)
        .await
        .unwrap_err();
    let code = server_status(&e);
    assert!(code == 400 || code == 404 || code == 409, "{e}");
    assert!(inspect(&docker, &shared.1).await.id.is_some());
}

/// `Command` in the list quotes arguments with spaces, as Docker does
/// (`sh -c 'exit 3'`).
#[tokio::test(flavor = "multi_thread")]
async fn list_command_quotes_arguments() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = create(&docker, "quoted", body(&["sh", "-c", "exit 3"])).await;
    let c = listed(&docker, &id).await;
    assert_eq!(c.command.as_deref(), Some("sh -c 'exit 3'"));
}

/// A container's writable layer survives containerd's garbage collector
/// whatever state the container is in: created and never started, exited
/// (its containerd record is re-made at every start), running.
#[tokio::test(flavor = "multi_thread")]
async fn container_snapshot_survives_gc() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = create(
        &docker,
        "not-yet",
        body(&["sh", "-c", "echo x >> /f; wc -l < /f"]),
    )
    .await;
    // Any deletion in containerd (a removed container, an image, a lease)
    // makes it collect garbage soon; do it now.
    d.containerd_gc();
    docker
        .start_container(&id, None)
        .await
        .unwrap_or_else(|e| panic!("start after a GC: {e}"));
    assert_eq!(wait(&docker, &id, "not-running").await, 0);
    d.containerd_gc();
    docker
        .start_container(&id, None)
        .await
        .unwrap_or_else(|e| panic!("second start after a GC: {e}"));
    assert_eq!(wait(&docker, &id, "not-running").await, 0);
    // The writable layer is the same one: the file has two lines now.
    let out = d.docker_ok(&["start", "-a", &id]);
    assert_eq!(out, "3");

    let running = run(&docker, "running", &["sleep", "1000"]).await;
    d.containerd_gc();
    docker
        .restart_container(
            &running,
            Some(bollard::query_parameters::RestartContainerOptions {
                t: Some(0),
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("restart after a GC: {e}"));
    assert_eq!(
        status(&docker, &running).await,
        ContainerStateStatusEnum::RUNNING
    );
}

//! The container API through bollard (a real Docker API client).

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerSummaryStateEnum, HostConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RenameContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use pouch_tests::{wait_for_async, TestDaemon};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn body(cmd: &[&str]) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some("busybox".to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

async fn create(docker: &Docker, name: &str, b: ContainerCreateBody) -> String {
    let opts = (!name.is_empty()).then(|| CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    });
    let r = docker
        .create_container(opts, b)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    assert_eq!(r.id.len(), 64, "id {:?}", r.id);
    r.id
}

async fn run(docker: &Docker, name: &str, cmd: &[&str]) -> String {
    let id = create(docker, name, body(cmd)).await;
    docker
        .start_container(&id, None)
        .await
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    id
}

async fn inspect(docker: &Docker, id: &str) -> ContainerInspectResponse {
    docker
        .inspect_container(id, None)
        .await
        .unwrap_or_else(|e| panic!("inspect {id}: {e}"))
}

async fn status(docker: &Docker, id: &str) -> ContainerStateStatusEnum {
    inspect(docker, id)
        .await
        .state
        .and_then(|s| s.status)
        .expect("State.Status")
}

/// The exit code from a wait response (bollard turns non-zero codes into errors).
fn wait_code(r: Option<Result<bollard::models::ContainerWaitResponse, BollardError>>) -> i64 {
    match r {
        Some(Ok(w)) => w.status_code,
        Some(Err(BollardError::DockerContainerWaitError { code, .. })) => code,
        other => panic!("unexpected wait result {other:?}"),
    }
}

async fn wait(docker: &Docker, id: &str, condition: &str) -> i64 {
    let opts = WaitContainerOptions {
        condition: condition.to_string(),
    };
    let mut s = docker.wait_container(id, Some(opts));
    let r = tokio::time::timeout(Duration::from_secs(30), s.next())
        .await
        .unwrap_or_else(|_| panic!("wait {condition} on {id} did not return"));
    wait_code(r)
}

async fn wait_status(docker: &Docker, id: &str, want: ContainerStateStatusEnum) {
    wait_for_async(
        &format!("{id} to be {want:?}"),
        Duration::from_secs(20),
        || async { (status(docker, id).await == want).then_some(()) },
    )
    .await
}

fn server_status(e: &BollardError) -> u16 {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => *status_code,
        other => panic!("expected an error response, got {other:?}"),
    }
}

async fn wait_file(p: &Path) {
    wait_for_async(
        &format!("{}", p.display()),
        Duration::from_secs(20),
        || async { p.exists().then_some(()) },
    )
    .await
}

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
    let all = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap();
    let ex = all
        .iter()
        .find(|c| c.id.as_deref() == Some(exited.as_str()))
        .expect("exited container listed");
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
    let cr = all
        .iter()
        .find(|c| c.id.as_deref() == Some(created.as_str()))
        .expect("created container listed");
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

/// Follow ends once the container exits (whatever the content).
#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_ends_when_container_exits() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "follow-end",
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let start = Instant::now();
    let mut s = docker.logs(&id, Some(opts));
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            item.expect("log stream item");
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "logs --follow did not end after the container exited"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "ended too early"
    );
    wait_status(&docker, &id, ContainerStateStatusEnum::EXITED).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_content() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "follow-content",
        &[
            "sh",
            "-c",
            // The last write is not right before the exit: see
            // logs_follow_ends_after_a_burst for that case.
            "echo bad >&2; for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut s = docker.logs(&id, Some(opts));
    let mut out = String::new();
    let mut err = String::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            match item.expect("log item") {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => panic!("unexpected log frame {other:?}"),
            }
        }
    })
    .await
    .expect("follow ends");
    assert_eq!(out, "line1\nline2\nline3\n");
    assert_eq!(err, "bad\n");
    // Without follow, with tail.
    let opts = LogsOptions {
        stdout: true,
        tail: "1".into(),
        ..Default::default()
    };
    let lines: Vec<String> = docker
        .logs(&id, Some(opts))
        .map(|i| i.expect("log item").to_string())
        .collect()
        .await;
    assert_eq!(lines.concat(), "line3\n");
}

/// Follow ends even when the last lines are written just before the exit,
/// and delivers all of them.
#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_ends_after_a_burst() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "burst",
        &["sh", "-c", "sleep 0.3; seq 1 20000; echo end >&2"],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut s = docker.logs(&id, Some(opts));
    let mut out = String::new();
    let mut err = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            match item.expect("log item") {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => panic!("unexpected log frame {other:?}"),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "logs --follow still open 15 s after the container exited ({} stdout lines so far, stderr {err:?}, status {:?})",
        out.lines().count(),
        status(&docker, &id).await
    );
    assert_eq!(out.lines().count(), 20000);
    assert_eq!(out.lines().last(), Some("20000"));
    assert_eq!(err, "end\n");
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
    let all = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap();
    let c = all
        .iter()
        .find(|c| c.id.as_deref() == Some(id.as_str()))
        .expect("listed");
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

#[test]
fn a_slow_attached_client_gets_every_byte() {
    let Some(d) = TestDaemon::start() else { return };
    // 20 MB through `docker run` (attach) into a reader that starts only
    // after 8 s: the pipe and socket buffers fill and the client falls far
    // behind the container, which must wait for it rather than lose output.
    let o = d.docker_sh(
        "\"$DOCKER\" run --rm busybox sh -c 'yes 0123456789 | head -c 20000000' \
         | (sleep 8; wc -c)",
    );
    assert_eq!(o.ok().trim(), "20000000", "{o:?}");
}

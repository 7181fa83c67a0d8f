//! The CRI (v1) server of a real pouchd, driven by a gRPC client of the
//! same proto kubelet and crictl use: runtime and image status, a pod with
//! two containers sharing its network namespace, ExecSync, stop and remove,
//! and a pod surviving a daemon restart. Only the test's own addresses are
//! used.

use pouch_cri::v1;
use pouch_cri::v1::image_service_client::ImageServiceClient;
use pouch_cri::v1::runtime_service_client::RuntimeServiceClient;
use pouch_tests::TestDaemon;
use std::collections::HashMap;
use std::path::PathBuf;
use tonic::transport::{Channel, Endpoint, Uri};

async fn channel(path: PathBuf) -> Channel {
    Endpoint::try_from("http://[::]:50051")
        .expect("endpoint")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let p = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(p).await?,
                ))
            }
        }))
        .await
        .expect("connect to the CRI socket")
}

fn pod_config(name: &str, logs: &std::path::Path) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: format!("{name}-host"),
        log_directory: logs.to_string_lossy().into_owned(),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        ..Default::default()
    }
}

fn container_config(name: &str, cmd: &[&str]) -> v1::ContainerConfig {
    v1::ContainerConfig {
        metadata: Some(v1::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(v1::ImageSpec {
            image: "busybox".into(),
            ..Default::default()
        }),
        command: cmd.iter().map(|s| s.to_string()).collect(),
        envs: vec![v1::KeyValue {
            key: "ROLE".into(),
            value: name.as_bytes().to_vec(),
        }],
        labels: HashMap::from([("role".to_string(), name.to_string())]),
        log_path: format!("{name}.log"),
        ..Default::default()
    }
}

async fn exec(
    rt: &mut RuntimeServiceClient<Channel>,
    id: &str,
    cmd: &[&str],
) -> v1::ExecSyncResponse {
    rt.exec_sync(v1::ExecSyncRequest {
        container_id: id.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout: 20,
    })
    .await
    .expect("exec_sync")
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_containers_and_images_through_the_cri() {
    let Some(mut d) = tokio::task::block_in_place(TestDaemon::start) else {
        return;
    };
    let ch = channel(d.cri_sock()).await;
    let mut rt = RuntimeServiceClient::new(ch.clone());
    let mut img = ImageServiceClient::new(ch);

    let v = rt
        .version(v1::VersionRequest {
            version: "v1".into(),
        })
        .await
        .expect("version")
        .into_inner();
    assert_eq!(v.runtime_name, "pouch");
    assert_eq!(v.runtime_api_version, "v1");
    let st = rt
        .status(v1::StatusRequest { verbose: false })
        .await
        .expect("status")
        .into_inner();
    let conds = st.status.expect("status").conditions;
    assert!(conds.iter().all(|c| c.status), "{conds:?}");

    // Images.
    let images = img
        .list_images(v1::ListImagesRequest { filter: None })
        .await
        .expect("list images")
        .into_inner()
        .images;
    let busybox = images
        .iter()
        .find(|i| {
            i.repo_tags
                .iter()
                .any(|t| t == "docker.io/library/busybox:latest")
        })
        .unwrap_or_else(|| panic!("busybox not listed: {images:?}"));
    assert!(busybox.id.starts_with("sha256:") && busybox.size > 0);
    let status = |name: &str| v1::ImageStatusRequest {
        image: Some(v1::ImageSpec {
            image: name.into(),
            ..Default::default()
        }),
        verbose: false,
    };
    let found = img
        .image_status(status("busybox"))
        .await
        .expect("image status")
        .into_inner();
    assert_eq!(found.image.expect("busybox").id, busybox.id);
    let missing = img
        .image_status(status("no/such:image"))
        .await
        .expect("image status")
        .into_inner();
    assert!(missing.image.is_none());
    let fs = img
        .image_fs_info(v1::ImageFsInfoRequest {})
        .await
        .expect("fs info")
        .into_inner();
    assert!(
        fs.image_filesystems[0]
            .used_bytes
            .as_ref()
            .expect("used")
            .value
            > 0
    );

    // A pod with two containers sharing its network.
    let logs = d.dir.join("pod-logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let pod = rt
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(pod_config("web", &logs)),
            runtime_handler: String::new(),
        })
        .await
        .expect("run pod")
        .into_inner()
        .pod_sandbox_id;
    let ps = rt
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: pod.clone(),
            verbose: false,
        })
        .await
        .expect("pod status")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(ps.state, v1::PodSandboxState::SandboxReady as i32);
    let pod_ip = ps.network.expect("network").ip;
    assert!(pod_ip.starts_with(&d.net.prefix()), "{pod_ip}");
    assert_eq!(ps.metadata.expect("metadata").name, "web");

    let mut ids = Vec::new();
    for (name, cmd) in [
        (
            "server",
            [
                "sh",
                "-c",
                "echo started; while true; do echo tick; sleep 0.2; done",
            ],
        ),
        ("client", ["sleep", "1000", ""]),
    ] {
        let cmd: Vec<&str> = cmd.iter().copied().filter(|c| !c.is_empty()).collect();
        let id = rt
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(container_config(name, &cmd)),
                sandbox_config: Some(pod_config("web", &logs)),
            })
            .await
            .expect("create container")
            .into_inner()
            .container_id;
        rt.start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .expect("start container");
        ids.push(id);
    }
    let cs = rt
        .container_status(v1::ContainerStatusRequest {
            container_id: ids[0].clone(),
            verbose: false,
        })
        .await
        .expect("container status")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(cs.state, v1::ContainerState::ContainerRunning as i32);
    assert_eq!(cs.metadata.expect("md").name, "server");
    assert_eq!(cs.labels.get("role").map(String::as_str), Some("server"));
    assert!(cs.log_path.ends_with("server.log"), "{}", cs.log_path);

    // The output is in the CRI log file kubelet reads, and follows the file
    // after kubelet rotates it.
    let log = logs.join("server.log");
    let first = pouch_tests::wait_for("the CRI log", std::time::Duration::from_secs(20), || {
        let t = std::fs::read_to_string(&log).ok()?;
        t.contains(" stdout F tick").then_some(t)
    });
    let line = first.lines().next().expect("a line");
    let fields: Vec<&str> = line.splitn(4, ' ').collect();
    assert_eq!(fields[1..], ["stdout", "F", "started"], "{line}");
    assert!(
        fields[0].ends_with('Z') && fields[0].contains('T'),
        "{line}"
    );
    std::fs::rename(&log, logs.join("server.log.1")).expect("rotate");
    rt.reopen_container_log(v1::ReopenContainerLogRequest {
        container_id: ids[0].clone(),
    })
    .await
    .expect("reopen log");
    pouch_tests::wait_for(
        "the reopened CRI log",
        std::time::Duration::from_secs(20),
        || {
            let t = std::fs::read_to_string(&log).ok()?;
            t.contains(" stdout F tick").then_some(())
        },
    );

    // Both see the pod's address, hostname and their own environment.
    for id in &ids {
        let o = exec(&mut rt, id, &["ip", "-4", "addr", "show", "eth0"]).await;
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(&format!("{pod_ip}/")), "{text}");
        let h = exec(&mut rt, id, &["hostname"]).await;
        assert_eq!(String::from_utf8_lossy(&h.stdout).trim(), "web-host");
    }
    let o = exec(
        &mut rt,
        &ids[1],
        &["sh", "-c", "echo out $ROLE; echo err >&2; exit 3"],
    )
    .await;
    assert_eq!(o.exit_code, 3);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out client\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");

    let listed = rt
        .list_containers(v1::ListContainersRequest {
            filter: Some(v1::ContainerFilter {
                pod_sandbox_id: pod.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("list")
        .into_inner()
        .containers;
    assert_eq!(listed.len(), 2);

    // Stats of the running containers, from their cgroups.
    let stats = rt
        .list_container_stats(v1::ListContainerStatsRequest {
            filter: Some(v1::ContainerStatsFilter {
                pod_sandbox_id: pod.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("stats")
        .into_inner()
        .stats;
    assert_eq!(stats.len(), 2);
    for s in &stats {
        let mem = s
            .memory
            .as_ref()
            .and_then(|m| m.usage_bytes.as_ref())
            .map(|v| v.value);
        assert!(mem.is_some_and(|m| m > 0), "{s:?}");
        let cpu = s
            .cpu
            .as_ref()
            .and_then(|c| c.usage_core_nano_seconds.as_ref())
            .map(|v| v.value);
        assert!(cpu.is_some_and(|c| c > 0), "{s:?}");
        assert!(s.writable_layer.is_some());
    }

    // The pod survives a daemon restart.
    tokio::task::block_in_place(|| d.restart());
    let ch = channel(d.cri_sock()).await;
    let mut rt = RuntimeServiceClient::new(ch);
    let pods = rt
        .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
        .await
        .expect("list pods")
        .into_inner()
        .items;
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].state, v1::PodSandboxState::SandboxReady as i32);
    let o = exec(&mut rt, &ids[0], &["ip", "-4", "addr", "show", "eth0"]).await;
    assert!(String::from_utf8_lossy(&o.stdout).contains(&pod_ip));

    // Stop, then remove: containers exit, then go, and the namespace too.
    rt.stop_pod_sandbox(v1::StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .expect("stop pod");
    let cs = rt
        .container_status(v1::ContainerStatusRequest {
            container_id: ids[0].clone(),
            verbose: false,
        })
        .await
        .expect("status")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(cs.state, v1::ContainerState::ContainerExited as i32);
    rt.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .expect("remove pod");
    rt.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .expect("removing again is no error");
    let left = rt
        .list_containers(v1::ListContainersRequest { filter: None })
        .await
        .expect("list")
        .into_inner()
        .containers;
    assert!(left.is_empty(), "{left:?}");
    let netns: Vec<_> = std::fs::read_dir(d.dir.join("run/netns"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(netns.is_empty(), "{netns:?}");
    let err = rt
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: pod,
            verbose: false,
        })
        .await
        .expect_err("gone");
    assert_eq!(err.code(), tonic::Code::NotFound);
    // Streaming calls are not served yet, and say so.
    let err = rt
        .exec(v1::ExecRequest {
            container_id: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("unimplemented");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}

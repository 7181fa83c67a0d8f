//! [`Runtime`] on containerd: snapshots, container records and tasks.

use super::client::{timestamp_to_utc, Ctrd};
use super::{
    ContainerRecord, ExitInfo, Mount, NewContainer, Runtime, Stdio, TaskInfo, TaskStatus,
    CONTAINER_LABEL, SNAPSHOT_LABEL,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use containerd_client::services::v1::container::Runtime as CtrRuntime;
use containerd_client::services::v1::snapshots::{
    ListSnapshotsRequest, MountsRequest, PrepareSnapshotRequest, RemoveSnapshotRequest,
    UsageRequest,
};
use containerd_client::services::v1::{
    CloseIoRequest, Container, CreateContainerRequest, CreateTaskRequest, DeleteContainerRequest,
    DeleteProcessRequest, DeleteTaskRequest, ExecProcessRequest, KillRequest,
    ListContainersRequest, ListPidsRequest, ListTasksRequest, PauseTaskRequest, ResizePtyRequest,
    ResumeTaskRequest, StartRequest, UpdateTaskRequest,
};
use containerd_client::types::v1::Status;

const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
const PROCESS_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";
const RESOURCES_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
const RUNC_V2: &str = "io.containerd.runc.v2";

fn not_found_ok(r: std::result::Result<(), tonic::Status>) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
        Err(s) => Err(s.into()),
    }
}

fn to_proto_mount(m: &Mount) -> containerd_client::types::Mount {
    containerd_client::types::Mount {
        r#type: m.kind.clone(),
        source: m.source.clone(),
        target: m.target.clone(),
        options: m.options.clone(),
    }
}

pub(super) fn from_proto_mount(m: containerd_client::types::Mount) -> Mount {
    Mount {
        kind: m.r#type,
        source: m.source,
        target: m.target,
        options: m.options,
    }
}

#[async_trait]
impl Runtime for Ctrd {
    async fn prepare_snapshot(&self, key: &str, parent: &str) -> Result<()> {
        // Until the containerd container record that references it exists
        // (it is made at start), nothing holds the snapshot: its labels make
        // it a GC root, and name it for the start-up sweep should its
        // container's metadata be gone (a daemon killed during a removal).
        // pouchd removes it with the container.
        let below = self.prepare_init_layer(key, parent).await?;
        let req = PrepareSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
            parent: below.clone(),
            labels: Self::container_snapshot_labels(key),
        };
        match self.snapshots().prepare(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => {
                if below != parent {
                    let _ = self.remove_snapshot(key).await;
                }
                Err(Error::from(s).context(format!("prepare snapshot {key}")))
            }
        }
    }

    async fn remove_snapshot(&self, key: &str) -> Result<()> {
        // The container's layer first: its init layer is its parent.
        for k in [
            key.to_string(),
            super::init_layer::init_name(key),
            super::init_layer::init_work_key(key),
        ] {
            let req = RemoveSnapshotRequest {
                snapshotter: self.snapshotter.clone(),
                key: k,
            };
            not_found_ok(self.snapshots().remove(req).await.map(|_| ()))?;
        }
        Ok(())
    }

    async fn snapshot_mounts(&self, key: &str) -> Result<Vec<Mount>> {
        let req = MountsRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        let resp = self.snapshots().mounts(req).await?.into_inner();
        Ok(resp.mounts.into_iter().map(from_proto_mount).collect())
    }

    async fn snapshot_usage(&self, key: &str) -> Result<u64> {
        let req = UsageRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        let resp = self.snapshots().usage(req).await?.into_inner();
        Ok(resp.size.max(0) as u64)
    }

    async fn create_container(&self, c: NewContainer) -> Result<()> {
        let req = CreateContainerRequest {
            container: Some(Container {
                id: c.id.clone(),
                labels: c.labels,
                image: c.image,
                runtime: Some(CtrRuntime {
                    name: RUNC_V2.to_string(),
                    options: None,
                }),
                spec: Some(prost_types::Any {
                    type_url: SPEC_TYPE_URL.to_string(),
                    value: c.spec,
                }),
                snapshotter: self.snapshotter.clone(),
                snapshot_key: c.snapshot_key,
                created_at: None,
                updated_at: None,
                extensions: Default::default(),
                sandbox: String::new(),
            }),
        };
        // A record left from an earlier run of the same container is replaced
        // (the spec may have changed: rename, restart after update). Create
        // first: a record is rarely there, and a delete ahead of every create
        // would cost each start one more round trip.
        match self.containers().create(req.clone()).await {
            Err(st) if st.code() == tonic::Code::AlreadyExists => {
                self.delete_container(&c.id).await?;
                self.containers().create(req).await?;
            }
            r => {
                r?;
            }
        }
        Ok(())
    }

    async fn delete_container(&self, id: &str) -> Result<()> {
        let req = DeleteContainerRequest { id: id.to_string() };
        not_found_ok(self.containers().delete(req).await.map(|_| ()))
    }

    async fn start_task(&self, id: &str, rootfs: &[Mount], stdio: &Stdio) -> Result<u32> {
        let req = CreateTaskRequest {
            container_id: id.to_string(),
            rootfs: rootfs.iter().map(to_proto_mount).collect(),
            stdin: stdio.stdin.clone(),
            stdout: stdio.stdout.clone(),
            stderr: stdio.stderr.clone(),
            terminal: stdio.terminal,
            checkpoint: None,
            options: None,
            runtime_path: String::new(),
        };
        let created = match self.tasks().create(req.clone()).await {
            // A stopped task an exit handler left unreaped (its container
            // was being removed when that removal failed).
            Err(st) if st.code() == tonic::Code::AlreadyExists => {
                self.delete_task(id).await?;
                self.tasks().create(req).await?
            }
            r => r?,
        }
        .into_inner();
        let start = StartRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
        };
        if let Err(s) = self.tasks().start(start).await {
            // Leave no created-but-never-started task behind.
            let _ = self.delete_task(id).await;
            return Err(s.into());
        }
        Ok(created.pid)
    }

    async fn update_task(&self, id: &str, resources: Vec<u8>) -> Result<()> {
        let req = UpdateTaskRequest {
            container_id: id.to_string(),
            resources: Some(prost_types::Any {
                type_url: RESOURCES_TYPE_URL.to_string(),
                value: resources,
            }),
            annotations: Default::default(),
        };
        self.tasks().update(req).await?;
        Ok(())
    }

    async fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()> {
        let req = KillRequest {
            container_id: id.to_string(),
            exec_id: String::new(),
            signal,
            all,
        };
        self.tasks().kill(req).await?;
        Ok(())
    }

    async fn delete_task(&self, id: &str) -> Result<Option<ExitInfo>> {
        let req = DeleteTaskRequest {
            container_id: id.to_string(),
        };
        match self.tasks().delete(req).await {
            Ok(r) => {
                let r = r.into_inner();
                Ok(Some(ExitInfo {
                    exit_status: r.exit_status,
                    exited_at: timestamp_to_utc(r.exited_at),
                }))
            }
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(s.into()),
        }
    }

    async fn close_stdin(&self, id: &str, exec_id: &str) -> Result<()> {
        let req = CloseIoRequest {
            container_id: id.to_string(),
            exec_id: exec_id.to_string(),
            stdin: true,
        };
        self.tasks().close_io(req).await?;
        Ok(())
    }

    async fn resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<()> {
        let req = ResizePtyRequest {
            container_id: id.to_string(),
            exec_id: exec_id.to_string(),
            width,
            height,
        };
        self.tasks().resize_pty(req).await?;
        Ok(())
    }

    async fn exec(&self, id: &str, exec_id: &str, process: Vec<u8>, stdio: &Stdio) -> Result<u32> {
        let req = ExecProcessRequest {
            container_id: id.to_string(),
            stdin: stdio.stdin.clone(),
            stdout: stdio.stdout.clone(),
            stderr: stdio.stderr.clone(),
            terminal: stdio.terminal,
            spec: Some(prost_types::Any {
                type_url: PROCESS_TYPE_URL.to_string(),
                value: process,
            }),
            exec_id: exec_id.to_string(),
        };
        self.tasks().exec(req).await?;
        let start = StartRequest {
            container_id: id.to_string(),
            exec_id: exec_id.to_string(),
        };
        match self.tasks().start(start).await {
            Ok(r) => Ok(r.into_inner().pid),
            Err(s) => {
                let _ = self.delete_process(id, exec_id).await;
                Err(s.into())
            }
        }
    }

    async fn delete_process(&self, id: &str, exec_id: &str) -> Result<Option<ExitInfo>> {
        let req = DeleteProcessRequest {
            container_id: id.to_string(),
            exec_id: exec_id.to_string(),
        };
        match self.tasks().delete_process(req).await {
            Ok(r) => {
                let r = r.into_inner();
                Ok(Some(ExitInfo {
                    exit_status: r.exit_status,
                    exited_at: timestamp_to_utc(r.exited_at),
                }))
            }
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(s.into()),
        }
    }

    async fn pause(&self, id: &str) -> Result<()> {
        let req = PauseTaskRequest {
            container_id: id.to_string(),
        };
        self.tasks().pause(req).await?;
        Ok(())
    }

    async fn resume(&self, id: &str) -> Result<()> {
        let req = ResumeTaskRequest {
            container_id: id.to_string(),
        };
        self.tasks().resume(req).await?;
        Ok(())
    }

    async fn list_tasks(&self) -> Result<Vec<TaskInfo>> {
        let resp = self
            .tasks()
            .list(ListTasksRequest {
                filter: String::new(),
            })
            .await?
            .into_inner();
        Ok(resp
            .tasks
            .into_iter()
            .map(|p| TaskInfo {
                status: match Status::try_from(p.status) {
                    Ok(Status::Created) => TaskStatus::Created,
                    Ok(Status::Running) => TaskStatus::Running,
                    Ok(Status::Paused) | Ok(Status::Pausing) => TaskStatus::Paused,
                    Ok(Status::Stopped) => TaskStatus::Stopped,
                    _ => TaskStatus::Unknown,
                },
                id: if p.container_id.is_empty() {
                    p.id
                } else {
                    p.container_id
                },
                pid: p.pid,
                exit_status: p.exit_status,
                exited_at: timestamp_to_utc(p.exited_at),
            })
            .collect())
    }

    async fn task_pids(&self, id: &str) -> Result<Vec<u32>> {
        let req = ListPidsRequest {
            container_id: id.to_string(),
        };
        let resp = self.tasks().list_pids(req).await?.into_inner();
        Ok(resp.processes.into_iter().map(|p| p.pid).collect())
    }

    async fn list_containers(&self) -> Result<Vec<ContainerRecord>> {
        let req = ListContainersRequest {
            filters: vec![format!("labels.\"{CONTAINER_LABEL}\"")],
        };
        let resp = self.containers().list(req).await?.into_inner();
        Ok(resp
            .containers
            .into_iter()
            .filter(|c| c.labels.contains_key(CONTAINER_LABEL))
            .map(|c| ContainerRecord {
                id: c.id,
                snapshot_key: c.snapshot_key,
            })
            .collect())
    }

    async fn list_container_snapshots(&self) -> Result<Vec<String>> {
        let req = ListSnapshotsRequest {
            snapshotter: self.snapshotter.clone(),
            filters: vec![format!("labels.\"{SNAPSHOT_LABEL}\"")],
        };
        let mut stream = self.snapshots().list(req).await?.into_inner();
        // A container's init layer carries the container's key too.
        let mut keys = std::collections::BTreeSet::new();
        while let Some(resp) = stream.message().await? {
            keys.extend(
                resp.info
                    .into_iter()
                    .filter_map(|mut i| i.labels.remove(SNAPSHOT_LABEL)),
            );
        }
        Ok(keys.into_iter().collect())
    }
}

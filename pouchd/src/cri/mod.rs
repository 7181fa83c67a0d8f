//! The Kubernetes CRI (v1) server of pouchd, on its own unix socket
//! (`--cri-listen`): RuntimeService and ImageService over the container,
//! image and network managers. Pods are network namespaces
//! ([`pods::PodStore`]); a pod's containers are pouchd containers joining
//! that namespace, marked with labels that hold their CRI metadata.
//!
//! Not served yet (answered UNIMPLEMENTED): the streaming calls (Exec,
//! Attach, PortForward), pod sandbox stats, checkpoints and events.

mod containers;
mod images;
pub mod pods;

use crate::error::Error;
use crate::mgr::container::ContainerMgr;
use crate::mgr::image::ImageMgr;
use pods::PodStore;
use pouch_cri::v1;
use pouch_cri::v1::image_service_server::ImageServiceServer;
use pouch_cri::v1::runtime_service_server::RuntimeServiceServer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Errors as gRPC statuses, in one place.
pub fn status(e: Error) -> Status {
    match e {
        Error::InvalidParameter(m) => Status::invalid_argument(m),
        Error::NotFound(m) => Status::not_found(m),
        Error::Forbidden(m) => Status::permission_denied(m),
        Error::Conflict(m) => Status::failed_precondition(m),
        Error::NotModified(m) => Status::already_exists(m),
        Error::NotImplemented(m) => Status::unimplemented(m),
        Error::Unavailable(m) => Status::unavailable(m),
        Error::System(m) => Status::internal(m),
    }
}

type Res<T> = std::result::Result<Response<T>, Status>;

/// The CRI services.
#[derive(Clone)]
pub struct Cri {
    containers: Arc<ContainerMgr>,
    images: Arc<ImageMgr>,
    pods: Arc<PodStore>,
    /// The containerd root: the image filesystem ImageFsInfo reports.
    image_fs: PathBuf,
}

impl Cri {
    pub fn new(
        containers: Arc<ContainerMgr>,
        images: Arc<ImageMgr>,
        home: &Path,
    ) -> crate::error::Result<Self> {
        Ok(Cri {
            containers,
            images,
            pods: Arc::new(PodStore::open(home.join("cri").join("sandboxes"))?),
            image_fs: home.join("containerd"),
        })
    }
}

/// Serves the CRI on the unix socket `path` until the task is dropped.
pub async fn serve(path: &Path, cri: Cri) -> crate::error::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    tracing::info!(socket = %path.display(), "CRI server listening");
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    tonic::transport::Server::builder()
        .add_service(RuntimeServiceServer::new(cri.clone()))
        .add_service(ImageServiceServer::new(cri))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| Error::system(format!("CRI server: {e}")))
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

#[tonic::async_trait]
impl v1::runtime_service_server::RuntimeService for Cri {
    async fn version(&self, _req: Request<v1::VersionRequest>) -> Res<v1::VersionResponse> {
        Ok(Response::new(v1::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "pouch".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        }))
    }

    async fn status(&self, _req: Request<v1::StatusRequest>) -> Res<v1::StatusResponse> {
        let cond = |t: &str| v1::RuntimeCondition {
            r#type: t.into(),
            status: true,
            reason: String::new(),
            message: String::new(),
        };
        Ok(Response::new(v1::StatusResponse {
            status: Some(v1::RuntimeStatus {
                conditions: vec![cond("RuntimeReady"), cond("NetworkReady")],
            }),
            ..Default::default()
        }))
    }

    async fn update_runtime_config(
        &self,
        _req: Request<v1::UpdateRuntimeConfigRequest>,
    ) -> Res<v1::UpdateRuntimeConfigResponse> {
        // The pod CIDR is the default bridge's, set at daemon start.
        Ok(Response::new(v1::UpdateRuntimeConfigResponse {}))
    }

    async fn run_pod_sandbox(
        &self,
        req: Request<v1::RunPodSandboxRequest>,
    ) -> Res<v1::RunPodSandboxResponse> {
        let req = req.into_inner();
        let cfg = req
            .config
            .ok_or_else(|| Status::invalid_argument("sandbox config is required"))?;
        let pod = self
            .pods
            .run(self.containers.network(), cfg, req.runtime_handler)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RunPodSandboxResponse {
            pod_sandbox_id: pod.id,
        }))
    }

    async fn stop_pod_sandbox(
        &self,
        req: Request<v1::StopPodSandboxRequest>,
    ) -> Res<v1::StopPodSandboxResponse> {
        let id = req.into_inner().pod_sandbox_id;
        let pod = match self.pods.get(&id) {
            Ok(p) => p,
            // Stopping what is gone succeeds, as the CRI asks.
            Err(Error::NotFound(_)) => return Ok(Response::new(v1::StopPodSandboxResponse {})),
            Err(e) => return Err(status(e)),
        };
        for c in self.pod_containers(&pod.id) {
            if c.state.status.is_alive() {
                if let Err(e) = self.containers.stop(&c.id, Some(0)).await {
                    if !matches!(e, Error::NotModified(_) | Error::NotFound(_)) {
                        return Err(status(e));
                    }
                }
            }
        }
        self.pods
            .stop(self.containers.network(), &pod.id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::StopPodSandboxResponse {}))
    }

    async fn remove_pod_sandbox(
        &self,
        req: Request<v1::RemovePodSandboxRequest>,
    ) -> Res<v1::RemovePodSandboxResponse> {
        let id = req.into_inner().pod_sandbox_id;
        let pod = match self.pods.get(&id) {
            Ok(p) => p,
            Err(Error::NotFound(_)) => return Ok(Response::new(v1::RemovePodSandboxResponse {})),
            Err(e) => return Err(status(e)),
        };
        for c in self.pod_containers(&pod.id) {
            match self.containers.remove(&c.id, true, false).await {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(status(e)),
            }
        }
        if pod.ready {
            self.pods
                .stop(self.containers.network(), &pod.id)
                .await
                .map_err(status)?;
        }
        self.pods.remove(&pod.id).map_err(status)?;
        Ok(Response::new(v1::RemovePodSandboxResponse {}))
    }

    async fn pod_sandbox_status(
        &self,
        req: Request<v1::PodSandboxStatusRequest>,
    ) -> Res<v1::PodSandboxStatusResponse> {
        let pod = self
            .pods
            .get(&req.into_inner().pod_sandbox_id)
            .map_err(status)?;
        let network = pod.endpoint.as_ref().map(|e| v1::PodSandboxNetworkStatus {
            ip: e.ip_address.clone(),
            additional_ips: Vec::new(),
        });
        let mode = if pod.host_network {
            v1::NamespaceMode::Node
        } else {
            v1::NamespaceMode::Pod
        };
        Ok(Response::new(v1::PodSandboxStatusResponse {
            status: Some(v1::PodSandboxStatus {
                id: pod.id.clone(),
                metadata: Some(pod.metadata()),
                state: pod.state() as i32,
                created_at: pod.created_at,
                network,
                linux: Some(v1::LinuxPodSandboxStatus {
                    namespaces: Some(v1::Namespace {
                        options: Some(v1::NamespaceOption {
                            network: mode as i32,
                            pid: v1::NamespaceMode::Container as i32,
                            ipc: v1::NamespaceMode::Container as i32,
                            ..Default::default()
                        }),
                    }),
                }),
                labels: pod.labels.clone(),
                annotations: pod.annotations.clone(),
                runtime_handler: pod.runtime_handler.clone(),
            }),
            ..Default::default()
        }))
    }

    async fn list_pod_sandbox(
        &self,
        req: Request<v1::ListPodSandboxRequest>,
    ) -> Res<v1::ListPodSandboxResponse> {
        let filter = req.into_inner().filter.unwrap_or_default();
        let items = self
            .pods
            .all()
            .into_iter()
            .filter(|p| filter.id.is_empty() || p.id.starts_with(&filter.id))
            .filter(|p| {
                filter
                    .state
                    .as_ref()
                    .is_none_or(|s| s.state == p.state() as i32)
            })
            .filter(|p| {
                filter
                    .label_selector
                    .iter()
                    .all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .map(|p| v1::PodSandbox {
                id: p.id.clone(),
                metadata: Some(p.metadata()),
                state: p.state() as i32,
                created_at: p.created_at,
                labels: p.labels.clone(),
                annotations: p.annotations.clone(),
                runtime_handler: p.runtime_handler.clone(),
            })
            .collect();
        Ok(Response::new(v1::ListPodSandboxResponse { items }))
    }

    async fn create_container(
        &self,
        req: Request<v1::CreateContainerRequest>,
    ) -> Res<v1::CreateContainerResponse> {
        let id = self.create(req.into_inner()).await.map_err(status)?;
        Ok(Response::new(v1::CreateContainerResponse {
            container_id: id,
        }))
    }

    async fn start_container(
        &self,
        req: Request<v1::StartContainerRequest>,
    ) -> Res<v1::StartContainerResponse> {
        let id = self
            .cri_container(&req.into_inner().container_id)
            .map_err(status)?;
        self.containers.start(&id).await.map_err(status)?;
        Ok(Response::new(v1::StartContainerResponse {}))
    }

    async fn stop_container(
        &self,
        req: Request<v1::StopContainerRequest>,
    ) -> Res<v1::StopContainerResponse> {
        let req = req.into_inner();
        let id = match self.cri_container(&req.container_id) {
            Ok(id) => id,
            Err(Error::NotFound(_)) => return Ok(Response::new(v1::StopContainerResponse {})),
            Err(e) => return Err(status(e)),
        };
        match self.containers.stop(&id, Some(req.timeout)).await {
            Ok(()) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(status(e)),
        }
        Ok(Response::new(v1::StopContainerResponse {}))
    }

    async fn remove_container(
        &self,
        req: Request<v1::RemoveContainerRequest>,
    ) -> Res<v1::RemoveContainerResponse> {
        let id = match self.cri_container(&req.into_inner().container_id) {
            Ok(id) => id,
            Err(Error::NotFound(_)) => return Ok(Response::new(v1::RemoveContainerResponse {})),
            Err(e) => return Err(status(e)),
        };
        match self.containers.remove(&id, true, false).await {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(status(e)),
        }
        Ok(Response::new(v1::RemoveContainerResponse {}))
    }

    async fn list_containers(
        &self,
        req: Request<v1::ListContainersRequest>,
    ) -> Res<v1::ListContainersResponse> {
        let filter = req.into_inner().filter.unwrap_or_default();
        Ok(Response::new(v1::ListContainersResponse {
            containers: self.list(&filter),
        }))
    }

    async fn container_status(
        &self,
        req: Request<v1::ContainerStatusRequest>,
    ) -> Res<v1::ContainerStatusResponse> {
        let s = self
            .container_status_of(&req.into_inner().container_id)
            .map_err(status)?;
        Ok(Response::new(v1::ContainerStatusResponse {
            status: Some(s),
            ..Default::default()
        }))
    }

    async fn container_stats(
        &self,
        req: Request<v1::ContainerStatsRequest>,
    ) -> Res<v1::ContainerStatsResponse> {
        let s = self
            .stats_of(&req.into_inner().container_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ContainerStatsResponse { stats: Some(s) }))
    }

    async fn list_container_stats(
        &self,
        req: Request<v1::ListContainerStatsRequest>,
    ) -> Res<v1::ListContainerStatsResponse> {
        let f = req.into_inner().filter.unwrap_or_default();
        let filter = v1::ContainerFilter {
            id: f.id,
            pod_sandbox_id: f.pod_sandbox_id,
            label_selector: f.label_selector,
            state: None,
        };
        let mut stats = Vec::new();
        for c in self.list(&filter) {
            match self.stats_of(&c.id).await {
                Ok(s) => stats.push(s),
                // Removed meanwhile.
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(status(e)),
            }
        }
        Ok(Response::new(v1::ListContainerStatsResponse { stats }))
    }

    async fn reopen_container_log(
        &self,
        req: Request<v1::ReopenContainerLogRequest>,
    ) -> Res<v1::ReopenContainerLogResponse> {
        let id = self
            .cri_container(&req.into_inner().container_id)
            .map_err(status)?;
        self.containers.reopen_log(&id).map_err(status)?;
        Ok(Response::new(v1::ReopenContainerLogResponse {}))
    }

    async fn exec_sync(&self, req: Request<v1::ExecSyncRequest>) -> Res<v1::ExecSyncResponse> {
        let req = req.into_inner();
        let out = self.exec_sync_of(req).await.map_err(status)?;
        Ok(Response::new(out))
    }
}

#[tonic::async_trait]
impl v1::image_service_server::ImageService for Cri {
    async fn list_images(
        &self,
        req: Request<v1::ListImagesRequest>,
    ) -> Res<v1::ListImagesResponse> {
        let want = req
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .unwrap_or_default();
        Ok(Response::new(v1::ListImagesResponse {
            images: self.list_images_of(&want),
        }))
    }

    async fn image_status(
        &self,
        req: Request<v1::ImageStatusRequest>,
    ) -> Res<v1::ImageStatusResponse> {
        let name = req.into_inner().image.map(|s| s.image).unwrap_or_default();
        Ok(Response::new(v1::ImageStatusResponse {
            image: self.image_of(&name),
            info: Default::default(),
        }))
    }

    async fn pull_image(&self, req: Request<v1::PullImageRequest>) -> Res<v1::PullImageResponse> {
        let req = req.into_inner();
        let id = self.pull(req).await.map_err(status)?;
        Ok(Response::new(v1::PullImageResponse { image_ref: id }))
    }

    async fn remove_image(
        &self,
        req: Request<v1::RemoveImageRequest>,
    ) -> Res<v1::RemoveImageResponse> {
        let name = req.into_inner().image.map(|s| s.image).unwrap_or_default();
        self.remove_image_of(&name).await.map_err(status)?;
        Ok(Response::new(v1::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _req: Request<v1::ImageFsInfoRequest>,
    ) -> Res<v1::ImageFsInfoResponse> {
        let used: i64 = self.images.list().iter().map(|i| i.size).sum();
        Ok(Response::new(v1::ImageFsInfoResponse {
            image_filesystems: vec![v1::FilesystemUsage {
                timestamp: now_ns(),
                fs_id: Some(v1::FilesystemIdentifier {
                    mountpoint: self.image_fs.to_string_lossy().into_owned(),
                }),
                used_bytes: Some(v1::UInt64Value {
                    value: used.max(0) as u64,
                }),
                inodes_used: Some(v1::UInt64Value { value: 0 }),
            }],
            container_filesystems: Vec::new(),
        }))
    }
}

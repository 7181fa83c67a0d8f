//! Connection to containerd: one tonic channel, every call tagged with the
//! namespace by an interceptor.

use crate::error::{Error, Result};
use containerd_client::services::v1::{
    containers_client::ContainersClient, content_client::ContentClient, diff_client::DiffClient,
    events_client::EventsClient, images_client::ImagesClient,
    introspection_client::IntrospectionClient, leases_client::LeasesClient,
    namespaces_client::NamespacesClient, snapshots::snapshots_client::SnapshotsClient,
    tasks_client::TasksClient, version_client::VersionClient,
};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;

pub(super) type Svc = InterceptedService<Channel, Namespaced>;

/// Adds `containerd-namespace` to every request (containerd rejects calls without it).
#[derive(Clone)]
pub struct Namespaced {
    ns: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for Namespaced {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert("containerd-namespace", self.ns.clone());
        Ok(req)
    }
}

/// pouchd's handle on containerd. Cheap to clone.
#[derive(Clone)]
pub struct Ctrd {
    channel: Channel,
    ns: Namespaced,
    namespace: String,
    pub(super) snapshotter: String,
    socket: PathBuf,
    /// Where containerd's content store keeps its blobs, when it says so and
    /// this mount namespace sees it: layers are read from there directly.
    pub(super) content_root: Option<PathBuf>,
    /// Layers extracted ahead of their turn (see `apply.rs`).
    pub(super) staging: std::sync::Arc<super::apply::Staging>,
}

impl Ctrd {
    /// Connects to containerd at `socket` using `namespace`, and starts the
    /// supervised event watcher, whose events arrive on the returned receiver.
    pub async fn connect(
        socket: &Path,
        namespace: &str,
    ) -> Result<(Self, mpsc::Receiver<super::RuntimeEvent>)> {
        let channel = containerd_client::connect(socket).await.map_err(|e| {
            Error::Unavailable(format!("connect containerd {}: {e}", socket.display()))
        })?;
        let ns = Namespaced {
            ns: namespace
                .parse()
                .map_err(|_| Error::invalid(format!("invalid namespace {namespace:?}")))?,
        };
        let ctrd = Ctrd {
            channel,
            ns,
            namespace: namespace.to_string(),
            snapshotter: "overlayfs".to_string(),
            socket: socket.to_path_buf(),
            content_root: None,
            staging: Default::default(),
        };
        let mut ctrd = ctrd;
        ctrd.content_root = ctrd.plugin_root("io.containerd.content.v1", None).await;
        let snapshots = ctrd
            .plugin_root("io.containerd.snapshotter.v1", Some(&ctrd.snapshotter))
            .await;
        ctrd.staging =
            std::sync::Arc::new(super::apply::Staging::new(snapshots.as_deref(), namespace));
        ctrd.ensure_namespace().await?;
        ctrd.sweep_leases().await;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(super::events::watch(ctrd.clone(), tx));
        Ok((ctrd, rx))
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Deletes the temporary leases (pulls, loads) a previous daemon left
    /// when it died half-way, so that GC can take their content.
    async fn sweep_leases(&self) {
        use containerd_client::services::v1::{DeleteRequest, ListRequest};
        let leases = match self
            .leases()
            .list(ListRequest {
                filters: Vec::new(),
            })
            .await
        {
            Ok(r) => r.into_inner().leases,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list leases");
                return;
            }
        };
        for l in leases
            .into_iter()
            .filter(|l| l.labels.contains_key(super::image::TEMPORARY_LEASE))
        {
            tracing::info!(lease = %l.id, "deleting a lease left by a previous run");
            let req = DeleteRequest {
                id: l.id.clone(),
                sync: false,
            };
            if let Err(e) = self.leases().delete(req).await {
                tracing::warn!(lease = %l.id, error = %e, "cannot delete lease");
            }
        }
    }

    async fn ensure_namespace(&self) -> Result<()> {
        use containerd_client::services::v1::CreateNamespaceRequest;
        use containerd_client::services::v1::Namespace;
        let req = CreateNamespaceRequest {
            namespace: Some(Namespace {
                name: self.namespace.clone(),
                labels: Default::default(),
            }),
        };
        match NamespacesClient::with_interceptor(self.channel.clone(), self.ns.clone())
            .create(req)
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => Err(s.into()),
        }
    }

    /// containerd's version string.
    pub async fn version(&self) -> Result<String> {
        let v = VersionClient::with_interceptor(self.channel.clone(), self.ns.clone())
            .version(())
            .await?
            .into_inner();
        Ok(v.version)
    }

    pub(super) fn containers(&self) -> ContainersClient<Svc> {
        ContainersClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    pub(super) fn tasks(&self) -> TasksClient<Svc> {
        TasksClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    pub(super) fn snapshots(&self) -> SnapshotsClient<Svc> {
        SnapshotsClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    pub(super) fn content(&self) -> ContentClient<Svc> {
        ContentClient::with_interceptor(self.channel.clone(), self.ns.clone())
            .max_decoding_message_size(64 << 20)
    }
    pub(super) fn images(&self) -> ImagesClient<Svc> {
        ImagesClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    fn introspection(&self) -> IntrospectionClient<Svc> {
        IntrospectionClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }

    /// The `root` a plugin of `kind` (and `id`) exports (containerd's
    /// introspection), if it is a directory here.
    async fn plugin_root(&self, kind: &str, id: Option<&str>) -> Option<PathBuf> {
        let mut filter = format!("type=={kind}");
        if let Some(id) = id {
            filter.push_str(&format!(",id=={id}"));
        }
        let req = containerd_client::services::v1::PluginsRequest {
            filters: vec![filter],
        };
        let plugins = match self.introspection().plugins(req).await {
            Ok(r) => r.into_inner().plugins,
            Err(s) => {
                tracing::debug!(error = %s, "containerd introspection");
                return None;
            }
        };
        let root = plugins
            .iter()
            .find_map(|p| p.exports.get("root"))
            .map(PathBuf::from)?;
        root.is_dir().then_some(root)
    }

    pub(super) fn diff(&self) -> DiffClient<Svc> {
        DiffClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    pub(super) fn leases(&self) -> LeasesClient<Svc> {
        LeasesClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
    pub(super) fn events(&self) -> EventsClient<Svc> {
        EventsClient::with_interceptor(self.channel.clone(), self.ns.clone())
    }
}

/// A request carrying a lease, so content and snapshots made under it survive GC.
pub(super) fn leased<T>(msg: T, lease: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = lease.parse() {
        req.metadata_mut().insert("containerd-lease", v);
    }
    req
}

pub(super) fn timestamp_to_utc(
    ts: Option<prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let ts = ts?;
    if ts.seconds <= 0 {
        return None;
    }
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
}

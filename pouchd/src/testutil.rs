//! Fakes of the ctrd traits for unit tests of the managers: an in-memory
//! containerd that records calls and lets a test deliver task exits.

use crate::ctrd::{
    BlobSource, ContainerRecord, Descriptor, ExitInfo, ImageRecord, ImageStore, Mount,
    NewContainer, Runtime, RuntimeEvent, SnapshotDiff, Stdio, TaskInfo, TaskStatus,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// An in-memory runtime. Tasks "run" until the test calls [`FakeRuntime::exit`].
#[derive(Default)]
pub struct FakeRuntime {
    pub state: Mutex<FakeState>,
}

#[derive(Default)]
pub struct FakeState {
    pub snapshots: BTreeMap<String, String>,
    pub containers: BTreeMap<String, NewContainer>,
    pub tasks: BTreeMap<String, TaskInfo>,
    pub kills: Vec<(String, u32)>,
    /// exec id → pid
    pub execs: HashMap<String, u32>,
    pub next_pid: u32,
    /// When set, start_task fails with this message.
    pub fail_start: Option<String>,
    pub blobs: HashMap<String, Vec<u8>>,
    pub images: BTreeMap<String, ImageRecord>,
    /// Leases created and not deleted yet.
    pub leases: std::collections::BTreeSet<String>,
    pub lease_seq: u64,
    /// When set, each task deletion waits for a permit of it: a slow reap.
    pub reap_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Unpacked layer (chain ID) → its size.
    pub unpacked: HashMap<String, u64>,
    /// `update_task` calls: (id, resources JSON).
    pub updates: Vec<(String, serde_json::Value)>,
}

impl FakeRuntime {
    fn st(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `update_task` calls so far.
    pub fn st_updates(&self) -> Vec<(String, serde_json::Value)> {
        self.st().updates.clone()
    }

    /// Ends the task of `id` with `code`, as containerd would, and returns the
    /// event the watcher would deliver.
    pub fn exit(&self, id: &str, code: u32) -> RuntimeEvent {
        let mut st = self.st();
        let pid = match st.tasks.get_mut(id) {
            Some(t) => {
                t.status = TaskStatus::Stopped;
                t.exit_status = code;
                t.pid
            }
            None => 0,
        };
        RuntimeEvent::TaskExit {
            id: id.to_string(),
            pid,
            exit: ExitInfo {
                exit_status: code,
                exited_at: Some(chrono::Utc::now()),
            },
        }
    }

    pub fn kills(&self) -> Vec<(String, u32)> {
        self.st().kills.clone()
    }

    pub fn has_task(&self, id: &str) -> bool {
        self.st().tasks.contains_key(id)
    }

    pub fn has_container(&self, id: &str) -> bool {
        self.st().containers.contains_key(id)
    }

    /// Makes task deletions wait for permits of the returned gate.
    pub fn gate_reaps(&self) -> std::sync::Arc<tokio::sync::Semaphore> {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        self.st().reap_gate = Some(gate.clone());
        gate
    }

    pub fn has_snapshot(&self, key: &str) -> bool {
        self.st().snapshots.contains_key(key)
    }

    pub fn set_fail_start(&self, msg: Option<&str>) {
        self.st().fail_start = msg.map(str::to_string);
    }

    /// Adds an image `name` with the given image config JSON.
    pub fn add_image(&self, name: &str, config: serde_json::Value) {
        let cfg = serde_json::to_vec(&config).unwrap_or_default();
        let cfg_digest = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&cfg))
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg_digest, "size": cfg.len()},
            "layers": []
        });
        let m = serde_json::to_vec(&manifest).unwrap_or_default();
        let m_digest = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&m))
        );
        let mut st = self.st();
        st.blobs.insert(cfg_digest, cfg);
        st.blobs.insert(m_digest.clone(), m.clone());
        st.images.insert(
            name.to_string(),
            ImageRecord {
                name: name.to_string(),
                target: Descriptor {
                    media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                    digest: m_digest,
                    size: m.len() as i64,
                },
                labels: HashMap::new(),
                created_at: None,
            },
        );
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn prepare_snapshot(&self, key: &str, parent: &str) -> Result<()> {
        self.st()
            .snapshots
            .insert(key.to_string(), parent.to_string());
        Ok(())
    }
    async fn remove_snapshot(&self, key: &str) -> Result<()> {
        self.st().snapshots.remove(key);
        Ok(())
    }
    async fn snapshot_mounts(&self, key: &str) -> Result<Vec<Mount>> {
        if !self.st().snapshots.contains_key(key) {
            return Err(Error::not_found(format!("snapshot {key} does not exist")));
        }
        Ok(Vec::new())
    }
    async fn snapshot_usage(&self, _key: &str) -> Result<u64> {
        Ok(4096)
    }
    async fn create_container(&self, c: NewContainer) -> Result<()> {
        self.st().containers.insert(c.id.clone(), c);
        Ok(())
    }
    async fn delete_container(&self, id: &str) -> Result<()> {
        self.st().containers.remove(id);
        Ok(())
    }
    async fn start_task(&self, id: &str, _rootfs: &[Mount], _stdio: &Stdio) -> Result<u32> {
        let mut st = self.st();
        if let Some(msg) = &st.fail_start {
            return Err(Error::system(msg.clone()));
        }
        if st.tasks.contains_key(id) {
            return Err(Error::conflict(format!("task {id} already exists")));
        }
        st.next_pid += 1;
        let pid = 1000 + st.next_pid;
        st.tasks.insert(
            id.to_string(),
            TaskInfo {
                id: id.to_string(),
                pid,
                status: TaskStatus::Running,
                exit_status: 0,
                exited_at: None,
            },
        );
        Ok(pid)
    }
    async fn kill(&self, id: &str, signal: u32, _all: bool) -> Result<()> {
        let mut st = self.st();
        if !st.tasks.contains_key(id) {
            return Err(Error::not_found(format!("task {id} not found")));
        }
        st.kills.push((id.to_string(), signal));
        if signal == 9 {
            // SIGKILL cannot be caught: the task is dead at once; its exit
            // event is the test's to send (FakeRuntime::exit).
            if let Some(t) = st.tasks.get_mut(id) {
                t.status = TaskStatus::Stopped;
                t.exit_status = 137;
            }
        }
        Ok(())
    }
    async fn delete_task(&self, id: &str) -> Result<Option<ExitInfo>> {
        let gate = self.st().reap_gate.clone();
        if let Some(gate) = gate {
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
        }
        let mut st = self.st();
        if st
            .tasks
            .get(id)
            .is_some_and(|t| t.status != TaskStatus::Stopped)
        {
            return Err(Error::conflict(format!(
                "task {id} must be stopped before deletion"
            )));
        }
        Ok(st.tasks.remove(id).map(|t| ExitInfo {
            exit_status: t.exit_status,
            exited_at: t.exited_at,
        }))
    }
    async fn close_stdin(&self, _id: &str, _exec_id: &str) -> Result<()> {
        Ok(())
    }
    async fn resize(&self, _id: &str, _exec_id: &str, _width: u32, _height: u32) -> Result<()> {
        Ok(())
    }
    async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        _process: Vec<u8>,
        _stdio: &Stdio,
    ) -> Result<u32> {
        let mut st = self.st();
        if !st.tasks.contains_key(id) {
            return Err(Error::not_found(format!("task {id} not found")));
        }
        st.next_pid += 1;
        let pid = 5000 + st.next_pid;
        st.execs.insert(exec_id.to_string(), pid);
        Ok(pid)
    }
    async fn delete_process(&self, _id: &str, exec_id: &str) -> Result<Option<ExitInfo>> {
        Ok(self.st().execs.remove(exec_id).map(|_| ExitInfo {
            exit_status: 0,
            exited_at: None,
        }))
    }
    async fn update_task(&self, id: &str, resources: Vec<u8>) -> Result<()> {
        let mut st = self.st();
        if !st.tasks.contains_key(id) {
            return Err(Error::not_found("no task"));
        }
        let json = serde_json::from_slice(&resources)
            .map_err(|e| Error::invalid(format!("resources: {e}")))?;
        st.updates.push((id.to_string(), json));
        Ok(())
    }

    async fn pause(&self, id: &str) -> Result<()> {
        match self.st().tasks.get_mut(id) {
            Some(t) => {
                t.status = TaskStatus::Paused;
                Ok(())
            }
            None => Err(Error::not_found("no task")),
        }
    }
    async fn resume(&self, id: &str) -> Result<()> {
        match self.st().tasks.get_mut(id) {
            Some(t) => {
                t.status = TaskStatus::Running;
                Ok(())
            }
            None => Err(Error::not_found("no task")),
        }
    }
    async fn list_tasks(&self) -> Result<Vec<TaskInfo>> {
        Ok(self.st().tasks.values().cloned().collect())
    }
    async fn task_pids(&self, id: &str) -> Result<Vec<u32>> {
        Ok(self
            .st()
            .tasks
            .get(id)
            .map(|t| vec![t.pid])
            .unwrap_or_default())
    }
    async fn list_containers(&self) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .st()
            .containers
            .values()
            .filter(|c| c.labels.contains_key(crate::ctrd::CONTAINER_LABEL))
            .map(|c| ContainerRecord {
                id: c.id.clone(),
                snapshot_key: c.snapshot_key.clone(),
            })
            .collect())
    }
    async fn list_container_snapshots(&self) -> Result<Vec<String>> {
        // Only containers prepare snapshots through the fake.
        Ok(self.st().snapshots.keys().cloned().collect())
    }
}

#[async_trait]
impl ImageStore for FakeRuntime {
    async fn lease_create(&self) -> Result<String> {
        let mut st = self.st();
        st.lease_seq += 1;
        let id = format!("lease-{}", st.lease_seq);
        st.leases.insert(id.clone());
        Ok(id)
    }
    async fn lease_delete(&self, lease: &str) -> Result<()> {
        self.st().leases.remove(lease);
        Ok(())
    }
    async fn write_blob(
        &self,
        _lease: &str,
        digest: &str,
        _size: u64,
        src: BlobSource,
        _labels: HashMap<String, String>,
    ) -> Result<()> {
        let bytes = match src {
            BlobSource::Bytes(b) => b,
            BlobSource::File(p) => std::fs::read(p)?,
            BlobSource::Stream(mut s) => {
                use futures::StreamExt;
                let mut v = Vec::new();
                while let Some(chunk) = s.next().await {
                    v.extend_from_slice(&chunk?);
                }
                v
            }
        };
        self.st().blobs.insert(digest.to_string(), bytes);
        Ok(())
    }
    async fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        self.st()
            .blobs
            .get(digest)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("blob {digest}")))
    }
    async fn has_blob(&self, digest: &str) -> Result<bool> {
        Ok(self.st().blobs.contains_key(digest))
    }
    /// Unpacked layers take 1000 bytes more than their blobs, so that
    /// tests can tell the two sizes apart.
    async fn unpack(
        &self,
        _lease: &str,
        layers: &[Descriptor],
        diff_ids: &[String],
    ) -> Result<String> {
        let chains = crate::ctrd::chain_ids(diff_ids);
        let mut st = self.st();
        for (chain, layer) in chains.iter().zip(layers) {
            st.unpacked
                .insert(chain.clone(), layer.size.max(0) as u64 + 1000);
        }
        Ok(chains.last().cloned().unwrap_or_default())
    }
    async fn layer_usage(&self, chain_id: &str) -> Result<u64> {
        self.st()
            .unpacked
            .get(chain_id)
            .copied()
            .ok_or_else(|| Error::not_found(format!("snapshot {chain_id} not found")))
    }
    /// A made-up gzip layer named after the snapshot, stored as a blob.
    async fn diff_snapshot(&self, _lease: &str, key: &str) -> Result<SnapshotDiff> {
        use sha2::{Digest, Sha256};
        let mut st = self.st();
        if !st.snapshots.contains_key(key) {
            return Err(Error::not_found(format!("snapshot {key} does not exist")));
        }
        let blob = format!("layer of {key}").into_bytes();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&blob)));
        let diff_id = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("tar of {key}").as_bytes()))
        );
        let size = blob.len() as i64;
        st.blobs.insert(digest.clone(), blob);
        Ok(SnapshotDiff {
            layer: Descriptor {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                digest,
                size,
            },
            diff_id,
        })
    }
    async fn put_image(&self, rec: ImageRecord) -> Result<()> {
        self.st().images.insert(rec.name.clone(), rec);
        Ok(())
    }
    async fn list_images(&self) -> Result<Vec<ImageRecord>> {
        Ok(self.st().images.values().cloned().collect())
    }
    async fn delete_image(&self, name: &str) -> Result<()> {
        self.st().images.remove(name);
        Ok(())
    }
}

/// A channel to feed the manager's monitor with events.
pub fn event_channel() -> (mpsc::Sender<RuntimeEvent>, mpsc::Receiver<RuntimeEvent>) {
    mpsc::channel(64)
}

/// A network that hands out addresses in memory and records what it did;
/// its network store is real, in a directory of its own.
pub struct FakeNetwork {
    store: crate::mgr::network::NetworkStore,
    _dir: tempfile::TempDir,
    pub state: Mutex<FakeNetState>,
}

#[derive(Default)]
pub struct FakeNetState {
    /// Container IDs with a namespace.
    pub attached: std::collections::BTreeSet<String>,
    /// (container ID, network name, ifname) of live endpoints.
    pub endpoints: Vec<(String, String, String)>,
    pub attaches: u32,
    pub detaches: u32,
    pub orphan_sweeps: Vec<std::collections::HashSet<String>>,
    /// Names of networks set up and removed on the host.
    pub set_up: Vec<String>,
    pub removed: Vec<String>,
}

impl Default for FakeNetwork {
    fn default() -> Self {
        let dir = tempfile::tempdir().expect("tempdir for fake networks");
        let bridge = crate::mgr::network::BridgeConfig::parse("fake0", "10.88.0.1/16")
            .expect("valid fake bridge");
        let pools = vec![
            crate::mgr::network::pool::Pool::parse("base=10.89.0.0/16,size=24")
                .expect("valid fake pool"),
        ];
        FakeNetwork {
            store: crate::mgr::network::NetworkStore::open(
                dir.path().to_path_buf(),
                &bridge,
                pools,
            )
            .expect("fake network store"),
            _dir: dir,
            state: Mutex::default(),
        }
    }
}

impl FakeNetwork {
    pub fn st(&self) -> std::sync::MutexGuard<'_, FakeNetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl crate::mgr::network::Network for FakeNetwork {
    fn networks(&self) -> &crate::mgr::network::NetworkStore {
        &self.store
    }

    async fn create_sandbox(&self, id: &str) -> Result<crate::mgr::network::Sandbox> {
        self.st().attached.insert(id.to_string());
        Ok(crate::mgr::network::Sandbox {
            id: format!("sb-{id}"),
            key: format!("/fake/netns/{id}"),
        })
    }

    async fn remove_sandbox(&self, sandbox: &crate::mgr::network::Sandbox) -> Result<()> {
        let id = sandbox.key.trim_start_matches("/fake/netns/").to_string();
        let mut st = self.st();
        st.attached.remove(&id);
        st.endpoints.retain(|(c, _, _)| *c != id);
        Ok(())
    }

    async fn attach(
        &self,
        id: &str,
        sandbox: &crate::mgr::network::Sandbox,
        net: &crate::mgr::network::NetConfig,
        req: crate::mgr::network::AttachRequest<'_>,
    ) -> Result<crate::mgr::network::Endpoint> {
        let mut st = self.st();
        st.attaches += 1;
        let n = st.attaches;
        let mut mappings = Vec::new();
        for r in req.ports {
            let host_port = match r.host_ports {
                Some((p, _)) => p,
                None => 40000 + n as u16,
            };
            if req.taken.iter().any(|t| t.host_port == host_port) {
                return Err(Error::system(format!(
                    "Bind for 0.0.0.0:{host_port} failed: port is already allocated"
                )));
            }
            mappings.push(crate::mgr::network::ports::PortMapping {
                host_ip: r.host_ip.clone(),
                host_port,
                container_port: r.container_port,
                protocol: r.protocol.clone(),
            });
        }
        let b = net
            .bridge
            .clone()
            .ok_or_else(|| Error::invalid("no bridge"))?;
        let ip = match req.ip {
            Some(ip) => ip.to_string(),
            None => std::net::Ipv4Addr::from(u32::from(b.network()) + 1 + n).to_string(),
        };
        st.endpoints
            .push((id.to_string(), net.name.clone(), req.ifname.to_string()));
        Ok(crate::mgr::network::Endpoint {
            network_id: net.id.clone(),
            network_name: net.name.clone(),
            endpoint_id: format!("ep{n}"),
            bridge: b.name.clone(),
            ifname: req.ifname.to_string(),
            sandbox_id: sandbox.id.clone(),
            sandbox_key: sandbox.key.clone(),
            ip_address: ip,
            ip_prefix_len: b.prefix_len,
            gateway: b.gateway.to_string(),
            mac_address: "02:42:0a:58:00:02".into(),
            ports: mappings,
            cni_result: serde_json::Value::Null,
            cni_config: serde_json::Value::Null,
        })
    }

    async fn detach(&self, id: &str, ep: &crate::mgr::network::Endpoint) -> Result<()> {
        let mut st = self.st();
        st.detaches += 1;
        st.endpoints
            .retain(|(c, n, _)| !(c == id && n == ep.network_name()));
        Ok(())
    }

    async fn setup_network(&self, net: &crate::mgr::network::NetConfig) -> Result<()> {
        self.st().set_up.push(net.name.clone());
        Ok(())
    }

    async fn remove_network(&self, net: &crate::mgr::network::NetConfig) -> Result<()> {
        self.st().removed.push(net.name.clone());
        Ok(())
    }

    async fn release_orphans(
        &self,
        keep: &std::collections::HashSet<String>,
        _nets: &[crate::mgr::network::NetConfig],
    ) {
        let mut st = self.st();
        st.attached.retain(|id| keep.contains(id));
        st.endpoints.retain(|(id, _, _)| keep.contains(id));
        st.orphan_sweeps.push(keep.clone());
    }
}

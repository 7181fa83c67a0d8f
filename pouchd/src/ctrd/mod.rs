//! ctrd: pouchd's client of containerd.
//!
//! Everything containerd-specific (gRPC clients, prost types, namespaces,
//! leases, the event stream) stays in this module. Managers see it through the
//! [`Runtime`] and [`ImageStore`] traits with plain Rust types, so their logic
//! can be tested with a fake. Events flow up on a channel ([`RuntimeEvent`]);
//! this layer never calls into the managers.

mod apply;
mod client;
mod container;
mod events;
mod image;
mod init_layer;
mod supervisor;
mod unpack;

pub use client::Ctrd;
pub use supervisor::{ensure_containerd, ContainerdOptions};

use crate::error::Result;
use async_trait::async_trait;
use std::collections::HashMap;
use std::path::PathBuf;

/// A filesystem mount as containerd describes rootfs mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: String,
    pub source: String,
    pub target: String,
    pub options: Vec<String>,
}

/// Standard I/O of a task: FIFO paths (empty when unused).
#[derive(Debug, Clone, Default)]
pub struct Stdio {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// Status of a containerd task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Created,
    Running,
    Paused,
    Stopped,
    Unknown,
}

/// A task as listed by containerd.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub id: String,
    pub pid: u32,
    pub status: TaskStatus,
    pub exit_status: u32,
    pub exited_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub exit_status: u32,
    pub exited_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What ctrd reports upwards from containerd's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// The init process of container `id` exited.
    TaskExit {
        id: String,
        pid: u32,
        exit: ExitInfo,
    },
    /// Exec process `exec_id` of container `id` exited.
    ExecExit {
        id: String,
        exec_id: String,
        exit: ExitInfo,
    },
    /// The kernel OOM-killed a process of container `id`.
    TaskOom { id: String },
    /// The event stream broke and was re-established: events in the gap are
    /// lost, so consumers must re-list tasks.
    Resync,
}

/// What is needed to create a container in containerd.
#[derive(Debug, Clone)]
pub struct NewContainer {
    pub id: String,
    /// The OCI runtime spec, JSON.
    pub spec: Vec<u8>,
    pub image: String,
    pub snapshot_key: String,
    pub labels: HashMap<String, String>,
}

/// The label of every containerd container record pouchd makes (its value:
/// the container's name).
pub const CONTAINER_LABEL: &str = "io.pouch.name";
/// The label of every writable snapshot pouchd prepares for a container.
pub const SNAPSHOT_LABEL: &str = "io.pouch.container-rootfs";

/// A container record pouchd made, as containerd lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    pub id: String,
    pub snapshot_key: String,
}

/// Containers and tasks in containerd.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Prepares a writable snapshot `key` on top of the committed `parent` chain ID
    /// (empty parent: an empty layer). Existing snapshots are kept.
    async fn prepare_snapshot(&self, key: &str, parent: &str) -> Result<()>;
    /// Removes the snapshot `key`; a missing one is not an error.
    async fn remove_snapshot(&self, key: &str) -> Result<()>;
    /// Mounts that produce the snapshot's filesystem.
    async fn snapshot_mounts(&self, key: &str) -> Result<Vec<Mount>>;
    /// Bytes used by the snapshot's own (upper) layer.
    async fn snapshot_usage(&self, key: &str) -> Result<u64>;
    /// Creates (or replaces) the container record.
    async fn create_container(&self, c: NewContainer) -> Result<()>;
    /// Deletes the container record; a missing one is not an error.
    async fn delete_container(&self, id: &str) -> Result<()>;
    /// Creates and starts the task of container `id` on the `rootfs` mounts
    /// (its snapshot's), returning its pid.
    async fn start_task(&self, id: &str, rootfs: &[Mount], stdio: &Stdio) -> Result<u32>;
    /// Sends `signal` to the task's init process (or all processes).
    async fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()>;
    /// Deletes (reaps) the task, returning its exit status; `None` when there is no task.
    async fn delete_task(&self, id: &str) -> Result<Option<ExitInfo>>;
    /// Closes the task's stdin: the shim drops its own write end of the
    /// stdin FIFO, so the process reads EOF once pouchd's end is closed too.
    async fn close_stdin(&self, id: &str, exec_id: &str) -> Result<()>;
    /// Resizes the terminal of the task (`exec_id` empty) or of an exec process.
    async fn resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<()>;
    /// Starts an extra process (`process`: OCI Process JSON) in the task; returns its pid.
    async fn exec(&self, id: &str, exec_id: &str, process: Vec<u8>, stdio: &Stdio) -> Result<u32>;
    /// Reaps an exec process, returning its exit status; `None` when it is gone.
    async fn delete_process(&self, id: &str, exec_id: &str) -> Result<Option<ExitInfo>>;
    async fn pause(&self, id: &str) -> Result<()>;
    async fn resume(&self, id: &str) -> Result<()>;
    /// Applies new cgroup limits (OCI `LinuxResources` JSON) to the task.
    async fn update_task(&self, id: &str, resources: Vec<u8>) -> Result<()>;
    /// Every task of the namespace.
    async fn list_tasks(&self) -> Result<Vec<TaskInfo>>;
    /// Processes of the task (pids).
    async fn task_pids(&self, id: &str) -> Result<Vec<u32>>;
    /// The container records pouchd made (labelled [`CONTAINER_LABEL`]).
    async fn list_containers(&self) -> Result<Vec<ContainerRecord>>;
    /// Keys of the writable snapshots pouchd prepared for containers.
    async fn list_container_snapshots(&self) -> Result<Vec<String>>;
}

/// An image record in containerd.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    pub name: String,
    pub target: Descriptor,
    pub labels: HashMap<String, String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

/// A layer made from a snapshot's changes ([`ImageStore::diff_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDiff {
    /// The layer blob (OCI gzip media type, as containerd's differ writes it).
    pub layer: Descriptor,
    /// `sha256:` of the uncompressed layer tar.
    pub diff_id: String,
}

/// A stream of blob bytes (a registry download, a content store read).
pub type BlobStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// A blob to put into the content store.
pub enum BlobSource {
    File(PathBuf),
    Bytes(Vec<u8>),
    /// Bytes as they arrive; an error item aborts the write.
    Stream(BlobStream),
}

impl std::fmt::Debug for BlobSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobSource::File(p) => f.debug_tuple("File").field(p).finish(),
            BlobSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            BlobSource::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Images, content and unpacking in containerd.
#[async_trait]
pub trait ImageStore: Send + Sync + 'static {
    /// Starts a lease that protects new content from GC until dropped.
    async fn lease_create(&self) -> Result<String>;
    async fn lease_delete(&self, lease: &str) -> Result<()>;
    /// Writes a blob unless present, with GC labels, under `lease`.
    async fn write_blob(
        &self,
        lease: &str,
        digest: &str,
        size: u64,
        src: BlobSource,
        labels: HashMap<String, String>,
    ) -> Result<()>;
    /// Reads a whole (small) blob.
    async fn read_blob(&self, digest: &str) -> Result<Vec<u8>>;
    /// Whether a blob is present.
    async fn has_blob(&self, digest: &str) -> Result<bool>;
    /// Reads a blob as a stream of chunks (for blobs too large to hold).
    async fn read_blob_stream(&self, digest: &str) -> Result<BlobStream> {
        let data = bytes::Bytes::from(self.read_blob(digest).await?);
        Ok(Box::pin(futures::stream::once(async move { Ok(data) })))
    }
    /// Makes `lease` hold the (present) blob `digest`, so that GC cannot
    /// take it while a pull that found it goes on.
    async fn lease_add_blob(&self, _lease: &str, _digest: &str) -> Result<()> {
        Ok(())
    }
    /// Unpacks layers (base first) with their diff IDs into committed snapshots
    /// named by chain ID; returns the top chain ID.
    async fn unpack(
        &self,
        lease: &str,
        layers: &[Descriptor],
        diff_ids: &[String],
    ) -> Result<String>;
    /// [`ImageStore::unpack`] when all but the last of `layers` are unpacked
    /// already (a pull, unpacking layer by layer): only the last is looked at.
    async fn unpack_last(
        &self,
        lease: &str,
        layers: &[Descriptor],
        diff_ids: &[String],
    ) -> Result<String> {
        self.unpack(lease, layers, diff_ids).await
    }
    /// Starts extracting `layer` (its blob present) ahead of its turn, so
    /// that layers extract side by side as they arrive; the `unpack` that
    /// reaches it then only moves it into place. A hint: stores may ignore it.
    async fn stage_layer(&self, _layer: &Descriptor, _chain_id: &str, _has_parent: bool) {}
    /// Drops what `stage_layer` made for `digests` that no `unpack` used
    /// (a failed pull).
    fn unstage_layers(&self, _digests: &[String]) {}
    /// Bytes the unpacked layer `chain_id` (a committed snapshot) takes.
    async fn layer_usage(&self, chain_id: &str) -> Result<u64>;
    /// Writes the changes of the (active) snapshot `key` over its parent as
    /// a gzip layer into the content store under `lease`; returns the layer
    /// and its diff ID (sha256 of the uncompressed tar).
    async fn diff_snapshot(&self, lease: &str, key: &str) -> Result<SnapshotDiff>;
    /// Creates or updates an image record.
    async fn put_image(&self, rec: ImageRecord) -> Result<()>;
    async fn list_images(&self) -> Result<Vec<ImageRecord>>;
    async fn delete_image(&self, name: &str) -> Result<()>;
}

/// Chain IDs as the OCI image spec defines them: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_of_one_layer_is_its_diff_id() {
        let d = vec!["sha256:aa".to_string()];
        assert_eq!(chain_ids(&d), d);
    }

    #[test]
    fn chain_id_hashes_parent_and_diff() {
        use sha2::{Digest, Sha256};
        let d = vec!["sha256:aa".to_string(), "sha256:bb".to_string()];
        let want = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(b"sha256:aa sha256:bb"))
        );
        assert_eq!(chain_ids(&d)[1], want);
    }
}

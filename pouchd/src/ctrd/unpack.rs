//! Unpacking a layer into a committed snapshot: prepare, apply (pouchd's own
//! applier, a staged extraction, or containerd's `Diff.Apply`), check the
//! diff ID, commit.

use super::client::{leased, Ctrd};
use super::image::{rand_suffix, to_proto_desc};
use super::Descriptor;
use crate::error::{Error, Result};
use containerd_client::services::v1::snapshots::{
    CommitSnapshotRequest, PrepareSnapshotRequest, RemoveSnapshotRequest,
};
use containerd_client::services::v1::ApplyRequest;

impl Ctrd {
    /// Unpacks `layer` as snapshot `chain` over `parent`, unless it exists;
    /// either way `lease` holds it from now on.
    pub(super) async fn unpack_one(
        &self,
        lease: &str,
        layer: &Descriptor,
        diff_id: &str,
        chain: &str,
        parent: &str,
    ) -> Result<()> {
        // As with blobs: a snapshot found here is held from now on.
        if !lease.is_empty() {
            let snapshots = format!("snapshots/{}", self.snapshotter);
            self.lease_add(lease, &snapshots, chain).await?;
        }
        if !self.snapshot_exists(chain).await? {
            self.apply_layer(lease, layer, diff_id, chain, parent)
                .await?;
        }
        Ok(())
    }

    async fn apply_layer(
        &self,
        lease: &str,
        layer: &Descriptor,
        diff_id: &str,
        chain: &str,
        parent: &str,
    ) -> Result<()> {
        let key = format!("extract-{}-{chain}", rand_suffix());
        let mut mounts = self.prepare_extract(lease, &key, chain, parent).await?;
        let result = async {
            let mut applied = None;
            if let Some(target) = super::apply::local_target(&mounts, !parent.is_empty()) {
                applied = self.place_staged(&layer.digest, &target).await;
                if applied.is_none() {
                    match self.apply_locally(layer, target).await {
                        Ok(a) => applied = a,
                        // pouchd's extractor refuses what it will not do
                        // safely in place (`..` entries, parents through
                        // symlinks); containerd's differ rewrites such
                        // entries inside the root, as Docker does. Its turn,
                        // on a fresh snapshot.
                        Err(Error::InvalidParameter(m)) => {
                            tracing::info!(
                                "layer {}: {m}; applying it with containerd",
                                layer.digest
                            );
                            self.remove_snapshot(&key).await;
                            mounts = self.prepare_extract(lease, &key, chain, parent).await?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if applied.is_none() {
                let apply = ApplyRequest {
                    diff: Some(to_proto_desc(layer)),
                    mounts,
                    ..Default::default()
                };
                applied = self
                    .diff()
                    .apply(leased(apply, lease))
                    .await
                    .map_err(|s| Error::from(s).context(format!("apply layer {}", layer.digest)))?
                    .into_inner()
                    .applied
                    .map(|d| d.digest);
            }
            // The snapshot is named after the diff IDs the image claims: a
            // layer whose content does not match would poison that name.
            if let Some(a) = applied {
                if !a.is_empty() && a != diff_id {
                    return Err(Error::invalid(format!(
                        "layer {} unpacks to {a} but the image config says {diff_id}",
                        layer.digest
                    )));
                }
            }
            let commit = CommitSnapshotRequest {
                snapshotter: self.snapshotter.clone(),
                name: chain.to_string(),
                key: key.clone(),
                ..Default::default()
            };
            match self.snapshots().commit(leased(commit, lease)).await {
                Ok(_) => Ok(()),
                // Another unpack of the same layer won the race: same content.
                Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
                Err(s) => Err(Error::from(s).context(format!("commit layer {chain}"))),
            }
        }
        .await;
        if result.is_err() {
            self.remove_snapshot(&key).await;
        }
        result
    }

    /// Prepares the active snapshot `key` over `parent` to extract layer
    /// `chain` into; returns its mounts.
    async fn prepare_extract(
        &self,
        lease: &str,
        key: &str,
        chain: &str,
        parent: &str,
    ) -> Result<Vec<containerd_client::types::Mount>> {
        let prep = PrepareSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
            parent: parent.to_string(),
            labels: Default::default(),
        };
        Ok(self
            .snapshots()
            .prepare(leased(prep, lease))
            .await
            .map_err(|s| Error::from(s).context(format!("prepare layer {chain}")))?
            .into_inner()
            .mounts)
    }

    async fn remove_snapshot(&self, key: &str) {
        let rm = RemoveSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        let _ = self.snapshots().remove(rm).await;
    }
}

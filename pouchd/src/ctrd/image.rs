//! [`ImageStore`] on containerd: content under leases, image records, and
//! unpacking layers with the Diff and Snapshots services (containerd 1.6 has
//! no Transfer service, so this is the client's job).

use super::client::{leased, timestamp_to_utc, Ctrd};
use super::{chain_ids, BlobSource, BlobStream, Descriptor, ImageRecord, ImageStore, SnapshotDiff};
use crate::error::{Error, Result};
use async_trait::async_trait;
use containerd_client::services::v1::snapshots::{
    MountsRequest, RemoveSnapshotRequest, StatSnapshotRequest, ViewSnapshotRequest,
};
use containerd_client::services::v1::{
    AbortRequest, AddResourceRequest, Resource as LeaseResource,
};
use containerd_client::services::v1::{
    CreateImageRequest, DeleteImageRequest, DiffRequest, Image, InfoRequest, ListImagesRequest,
    ReadContentRequest, UpdateImageRequest, WriteAction, WriteContentRequest,
};
use containerd_client::services::v1::{CreateRequest as LeaseCreate, DeleteRequest as LeaseDelete};
use futures::StreamExt;
use std::collections::HashMap;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 1 << 20;
/// Bytes of a download sent to containerd per Write message.
const STREAM_BATCH: usize = 1 << 20;

pub(super) fn to_proto_desc(d: &Descriptor) -> containerd_client::types::Descriptor {
    containerd_client::types::Descriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        annotations: Default::default(),
    }
}

pub(super) fn rand_suffix() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

impl Ctrd {
    /// Makes `lease` hold resource `id` of `kind` (`content`,
    /// `snapshots/<snapshotter>`); the resource need not exist yet.
    pub(super) async fn lease_add(&self, lease: &str, kind: &str, id: &str) -> Result<()> {
        let req = AddResourceRequest {
            id: lease.to_string(),
            resource: Some(LeaseResource {
                id: id.to_string(),
                r#type: kind.to_string(),
            }),
        };
        self.leases().add_resource(req).await?;
        Ok(())
    }

    pub(super) async fn snapshot_exists(&self, key: &str) -> Result<bool> {
        let req = StatSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        match self.snapshots().stat(req).await {
            Ok(_) => Ok(true),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(false),
            Err(s) => Err(s.into()),
        }
    }
}

/// Label of the leases pouchd deletes itself (see `lease_create`).
pub(super) const TEMPORARY_LEASE: &str = "pouchd.io/temporary";

#[async_trait]
impl ImageStore for Ctrd {
    async fn layer_usage(&self, chain_id: &str) -> Result<u64> {
        // A committed overlay snapshot's usage was measured at its commit:
        // this is a metadata read, not a walk of the layer.
        super::Runtime::snapshot_usage(self, chain_id).await
    }

    async fn lease_create(&self) -> Result<String> {
        let id = format!("pouchd-{}", rand_suffix());
        // No gc.expire: containerd cannot renew a lease, and a pull or load
        // slower than any fixed expiry would lose its content. The caller
        // deletes it when done; a crashed daemon's are swept at its start
        // (`Ctrd::sweep_leases`).
        let mut labels = HashMap::new();
        labels.insert(TEMPORARY_LEASE.to_string(), "true".to_string());
        self.leases()
            .create(LeaseCreate {
                id: id.clone(),
                labels,
            })
            .await?;
        Ok(id)
    }

    async fn lease_delete(&self, lease: &str) -> Result<()> {
        let req = LeaseDelete {
            id: lease.to_string(),
            sync: false,
        };
        match self.leases().delete(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(s.into()),
        }
    }

    async fn write_blob(
        &self,
        lease: &str,
        digest: &str,
        size: u64,
        src: BlobSource,
        labels: HashMap<String, String>,
    ) -> Result<()> {
        // Held before it is looked at: the content of an image just removed
        // may still be here, waiting for GC, which must not take it while
        // this write counts on it.
        if !lease.is_empty() {
            self.lease_add_blob(lease, digest).await?;
        }
        if self.has_blob(digest).await? {
            return Ok(());
        }
        // A stream (a download) gets its own ingest ref: concurrent pulls of
        // one layer must not fight over a lock, and a failed one is aborted.
        let streamed = matches!(src, BlobSource::Stream(_));
        let reference = if streamed {
            format!("pouchd-pull-{}-{digest}", rand_suffix())
        } else {
            format!("pouchd-load-{digest}")
        };
        let total = size as i64;
        let expected = digest.to_string();
        let (tx, rx) = tokio::sync::mpsc::channel::<WriteContentRequest>(4);
        let feeder = {
            let reference = reference.clone();
            let expected = expected.clone();
            async move {
                let mut offset: i64 = 0;
                let send =
                    |offset: i64, data: Vec<u8>, action: WriteAction, labels| WriteContentRequest {
                        action: action as i32,
                        r#ref: reference.clone(),
                        total,
                        expected: expected.clone(),
                        offset,
                        data,
                        labels,
                    };
                match src {
                    BlobSource::Stream(mut chunks) => {
                        // HTTP bodies arrive in chunks of a few KiB: one
                        // Write message each would cost containerd a
                        // round of work per chunk. Batch them.
                        let mut buf: Vec<u8> = Vec::with_capacity(STREAM_BATCH);
                        loop {
                            let chunk = chunks.next().await.transpose()?;
                            if let Some(c) = &chunk {
                                buf.extend_from_slice(c);
                            }
                            if buf.is_empty() || (chunk.is_some() && buf.len() < STREAM_BATCH) {
                                if chunk.is_none() {
                                    break;
                                }
                                continue;
                            }
                            let data =
                                std::mem::replace(&mut buf, Vec::with_capacity(STREAM_BATCH));
                            let n = data.len() as i64;
                            let req = send(offset, data, WriteAction::Write, HashMap::new());
                            offset += n;
                            if tx.send(req).await.is_err() {
                                return Ok(());
                            }
                            if chunk.is_none() {
                                break;
                            }
                        }
                        let req = send(offset, Vec::new(), WriteAction::Commit, labels);
                        let _ = tx.send(req).await;
                    }
                    BlobSource::Bytes(b) => {
                        let req = send(0, b, WriteAction::Commit, labels);
                        let _ = tx.send(req).await;
                    }
                    BlobSource::File(path) => {
                        let mut f = tokio::fs::File::open(&path).await?;
                        loop {
                            let mut buf = vec![0u8; CHUNK];
                            let mut n = 0;
                            while n < CHUNK {
                                let r = f.read(&mut buf[n..]).await?;
                                if r == 0 {
                                    break;
                                }
                                n += r;
                            }
                            buf.truncate(n);
                            let last = offset + n as i64 >= total || n < CHUNK;
                            let action = if last {
                                WriteAction::Commit
                            } else {
                                WriteAction::Write
                            };
                            let req = send(
                                offset,
                                buf,
                                action,
                                if last { labels.clone() } else { HashMap::new() },
                            );
                            offset += n as i64;
                            if tx.send(req).await.is_err() || last {
                                break;
                            }
                        }
                    }
                }
                Ok::<(), std::io::Error>(())
            }
        };
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let call = async {
            let mut resp = self
                .content()
                .write(leased(stream, lease))
                .await?
                .into_inner();
            while let Some(r) = resp.next().await {
                r?;
            }
            Ok::<(), tonic::Status>(())
        };
        let (fed, written) = tokio::join!(feeder, call);
        let result = match (fed, written) {
            (Err(e), _) => Err(Error::from(e).context(format!("write blob {digest}"))),
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(s)) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            (Ok(()), Err(s)) => Err(Error::from(s).context(format!("write blob {digest}"))),
        };
        if result.is_err() && streamed {
            let abort = AbortRequest { r#ref: reference };
            if let Err(s) = self.content().abort(leased(abort, lease)).await {
                if s.code() != tonic::Code::NotFound {
                    tracing::warn!(error = %s, "cannot abort ingest of {digest}");
                }
            }
        }
        result
    }

    async fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let req = ReadContentRequest {
            digest: digest.to_string(),
            offset: 0,
            size: 0,
        };
        let mut stream = self.content().read(req).await?.into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            out.extend_from_slice(&chunk.data);
        }
        Ok(out)
    }

    async fn read_blob_stream(&self, digest: &str) -> Result<BlobStream> {
        let req = ReadContentRequest {
            digest: digest.to_string(),
            offset: 0,
            size: 0,
        };
        let stream = self.content().read(req).await?.into_inner();
        Ok(Box::pin(stream.map(|chunk| {
            chunk
                .map(|c| bytes::Bytes::from(c.data))
                .map_err(|s| std::io::Error::other(format!("read content: {}", s.message())))
        })))
    }

    async fn lease_add_blob(&self, lease: &str, digest: &str) -> Result<()> {
        self.lease_add(lease, "content", digest).await
    }

    async fn has_blob(&self, digest: &str) -> Result<bool> {
        let req = InfoRequest {
            digest: digest.to_string(),
        };
        match self.content().info(req).await {
            Ok(_) => Ok(true),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(false),
            Err(s) => Err(s.into()),
        }
    }

    async fn unpack(
        &self,
        lease: &str,
        layers: &[Descriptor],
        diff_ids: &[String],
    ) -> Result<String> {
        if layers.len() != diff_ids.len() {
            return Err(Error::invalid(format!(
                "image has {} layers but {} diff IDs",
                layers.len(),
                diff_ids.len()
            )));
        }
        let chains = chain_ids(diff_ids);
        let mut parent = String::new();
        for ((layer, chain), diff_id) in layers.iter().zip(&chains).zip(diff_ids) {
            self.unpack_one(lease, layer, diff_id, chain, &parent)
                .await?;
            parent = chain.clone();
        }
        Ok(parent)
    }

    async fn unpack_last(
        &self,
        lease: &str,
        layers: &[Descriptor],
        diff_ids: &[String],
    ) -> Result<String> {
        let chains = chain_ids(diff_ids);
        let (Some(layer), Some(diff_id), Some(chain)) =
            (layers.last(), diff_ids.last(), chains.last())
        else {
            return self.unpack(lease, layers, diff_ids).await;
        };
        if layers.len() != diff_ids.len() {
            return self.unpack(lease, layers, diff_ids).await;
        }
        let parent = match chains.len() {
            n if n >= 2 => chains[n - 2].clone(),
            _ => String::new(),
        };
        self.unpack_one(lease, layer, diff_id, chain, &parent)
            .await?;
        Ok(chain.clone())
    }

    async fn stage_layer(&self, layer: &Descriptor, chain_id: &str, has_parent: bool) {
        self.stage(layer, chain_id, has_parent).await
    }

    fn unstage_layers(&self, digests: &[String]) {
        self.unstage(digests)
    }

    async fn diff_snapshot(&self, lease: &str, key: &str) -> Result<SnapshotDiff> {
        let stat = StatSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        let parent = self
            .snapshots()
            .stat(stat)
            .await
            .map_err(|s| Error::from(s).context(format!("snapshot {key}")))?
            .into_inner()
            .info
            .map(|i| i.parent)
            .unwrap_or_default();
        // The lower side: a read-only view of the parent chain (empty for a
        // snapshot without parent), gone again once the diff is written.
        let view_key = format!("commit-view-{}-{key}", rand_suffix());
        let view = ViewSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: view_key.clone(),
            parent,
            labels: Default::default(),
        };
        let lower = self
            .snapshots()
            .view(leased(view, lease))
            .await
            .map_err(|s| Error::from(s).context("view of the parent layers"))?
            .into_inner()
            .mounts;
        let result = async {
            let mounts = MountsRequest {
                snapshotter: self.snapshotter.clone(),
                key: key.to_string(),
            };
            let upper = self.snapshots().mounts(mounts).await?.into_inner().mounts;
            let req = DiffRequest {
                left: lower,
                right: upper,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".to_string(),
                r#ref: format!("pouchd-commit-{}", rand_suffix()),
                ..Default::default()
            };
            let desc = self
                .diff()
                .diff(leased(req, lease))
                .await
                .map_err(|s| Error::from(s).context("diff of the container's changes"))?
                .into_inner()
                .diff
                .ok_or_else(|| Error::system("containerd's differ returned no layer"))?;
            let info = self
                .content()
                .info(InfoRequest {
                    digest: desc.digest.clone(),
                })
                .await?
                .into_inner()
                .info
                .ok_or_else(|| Error::system(format!("no content info for {}", desc.digest)))?;
            let diff_id = info
                .labels
                .get("containerd.io/uncompressed")
                .cloned()
                .ok_or_else(|| {
                    Error::system(format!("layer {} has no uncompressed digest", desc.digest))
                })?;
            Ok(SnapshotDiff {
                layer: Descriptor {
                    media_type: desc.media_type,
                    digest: desc.digest,
                    size: desc.size,
                },
                diff_id,
            })
        }
        .await;
        let rm = RemoveSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: view_key,
        };
        if let Err(s) = self.snapshots().remove(rm).await {
            tracing::warn!(error = %s, "cannot remove the commit view of {key}");
        }
        result
    }

    async fn put_image(&self, rec: ImageRecord) -> Result<()> {
        let image = Image {
            name: rec.name.clone(),
            labels: rec.labels,
            target: Some(to_proto_desc(&rec.target)),
            created_at: None,
            updated_at: None,
        };
        let create = CreateImageRequest {
            image: Some(image.clone()),
            source_date_epoch: None,
        };
        match self.images().create(create).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::AlreadyExists => {
                let update = UpdateImageRequest {
                    image: Some(image),
                    update_mask: None,
                    source_date_epoch: None,
                };
                self.images().update(update).await?;
                Ok(())
            }
            Err(s) => Err(s.into()),
        }
    }

    async fn list_images(&self) -> Result<Vec<ImageRecord>> {
        let resp = self
            .images()
            .list(ListImagesRequest { filters: vec![] })
            .await?
            .into_inner();
        Ok(resp
            .images
            .into_iter()
            .filter_map(|i| {
                let t = i.target?;
                Some(ImageRecord {
                    name: i.name,
                    target: Descriptor {
                        media_type: t.media_type,
                        digest: t.digest,
                        size: t.size,
                    },
                    labels: i.labels,
                    created_at: timestamp_to_utc(i.created_at),
                })
            })
            .collect())
    }

    async fn delete_image(&self, name: &str) -> Result<()> {
        let req = DeleteImageRequest {
            name: name.to_string(),
            sync: false,
            target: None,
        };
        match self.images().delete(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(s.into()),
        }
    }
}

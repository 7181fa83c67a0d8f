//! Fetching what a pull resolved: config and layers into containerd's
//! content store under the pull's lease (layers streamed straight into
//! Content.Write, a few at a time, each blob fetched once even by concurrent
//! pulls), unpacked in order as they arrive.

use super::super::registry::{
    counting, map_error, short_id, Doing, Progress, RegResult, RegistryError,
};
use super::super::ImageMgr;
use super::resolve::{sha256_digest, AnyManifest, Desc, CONCURRENT, MAX_CONFIG};
use crate::ctrd::{BlobSource, Descriptor};
use crate::error::Error;
use futures::StreamExt;
use pouch_api::image::ImageConfigFile;
use std::collections::HashMap;

impl ImageMgr {
    /// Fetches config and layers into the content store under `lease` and
    /// unpacks the layers; writes config and manifest with their GC labels.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fetch(
        &self,
        client: &oci_client::Client,
        oref: &oci_client::Reference,
        creds: &oci_client::secrets::RegistryAuth,
        doing: &Doing<'_>,
        lease: &str,
        doc: &AnyManifest,
        config_desc: &Desc,
        manifest: &Descriptor,
        manifest_raw: &[u8],
        progress: &Progress,
    ) -> RegResult<()> {
        // oci-client sends stored credentials with blob requests.
        client
            .store_auth_if_needed(oref.resolve_registry(), creds)
            .await;
        let cfg_bytes = self
            .fetch_config(client, oref, doing, lease, config_desc)
            .await?;
        let config: ImageConfigFile = serde_json::from_slice(&cfg_bytes)
            .map_err(|e| Error::invalid(format!("{}: invalid image config: {e}", doing.name)))?;
        if !config.os.is_empty() && !config.os.eq_ignore_ascii_case("linux") {
            return Err(Error::invalid(format!(
                "image operating system {:?} cannot be used on this platform",
                config.os
            ))
            .into());
        }
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != doc.layers.len() {
            return Err(Error::invalid(format!(
                "{}: the manifest has {} layers but the config {} diff IDs",
                doing.name,
                doc.layers.len(),
                diff_ids.len()
            ))
            .into());
        }
        let layers: Vec<Descriptor> = doc
            .layers
            .iter()
            .map(|l| Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
            })
            .collect();

        // Blobs already here are held by the lease from now on, then reused.
        let mut present = Vec::with_capacity(layers.len());
        for l in &layers {
            self.store.lease_add_blob(lease, &l.digest).await?;
            present.push(self.store.has_blob(&l.digest).await?);
        }
        for (l, here) in layers.iter().zip(&present) {
            let status = if *here {
                "Already exists"
            } else {
                "Pulling fs layer"
            };
            progress.status(&short_id(&l.digest), status).await?;
        }

        // Layers extract ahead of their turn as their blobs arrive; whatever
        // a failed pull staged is dropped with this guard.
        let chains = crate::ctrd::chain_ids(&diff_ids);
        let _staged = Unstage {
            store: &*self.store,
            digests: layers.iter().map(|l| l.digest.clone()).collect(),
        };
        for (i, l) in layers.iter().enumerate() {
            if present[i] {
                self.store.stage_layer(l, &chains[i], i > 0).await;
            }
        }
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let downloads = async {
            let todo: Vec<usize> = (0..layers.len()).filter(|i| !present[*i]).collect();
            let mut running = futures::stream::iter(todo)
                .map(|i| {
                    let layer = &layers[i];
                    async move {
                        self.download_layer(client, oref, doing, lease, layer, progress)
                            .await
                            .map(|()| i)
                    }
                })
                .buffer_unordered(CONCURRENT);
            while let Some(done) = running.next().await {
                let i = done?;
                self.store.stage_layer(&layers[i], &chains[i], i > 0).await;
                let _ = done_tx.send(i);
            }
            drop(done_tx);
            Ok::<(), RegistryError>(())
        };
        let extract = async {
            let mut ready = present.clone();
            let mut next = 0;
            while next < layers.len() {
                if !ready[next] {
                    match done_rx.recv().await {
                        Some(i) => ready[i] = true,
                        // The downloads failed; their error is reported.
                        None => return Ok(()),
                    }
                    continue;
                }
                let id = short_id(&layers[next].digest);
                if !present[next] {
                    progress.status(&id, "Extracting").await?;
                }
                self.store
                    .unpack_last(lease, &layers[..=next], &diff_ids[..=next])
                    .await
                    .map_err(|e| e.context(format!("unpack layer {}", layers[next].digest)))?;
                if !present[next] {
                    progress.status(&id, "Pull complete").await?;
                }
                next += 1;
            }
            Ok::<(), RegistryError>(())
        };
        tokio::try_join!(downloads, extract)?;

        // GC labels: the manifest holds config and layers, the config the
        // unpacked snapshot chain.
        let top = crate::ctrd::chain_ids(&diff_ids).pop().unwrap_or_default();
        let cfg_labels = super::super::config_gc_labels(&top);
        self.store
            .write_blob(
                lease,
                &config_desc.digest,
                cfg_bytes.len() as u64,
                BlobSource::Bytes(cfg_bytes),
                cfg_labels,
            )
            .await?;
        let m_labels = super::super::manifest_gc_labels(
            &config_desc.digest,
            layers.iter().map(|l| l.digest.as_str()),
        );
        self.store
            .write_blob(
                lease,
                &manifest.digest,
                manifest_raw.len() as u64,
                BlobSource::Bytes(manifest_raw.to_vec()),
                m_labels,
            )
            .await?;
        Ok(())
    }

    /// The image config, from the content store or the registry (verified).
    async fn fetch_config(
        &self,
        client: &oci_client::Client,
        oref: &oci_client::Reference,
        doing: &Doing<'_>,
        lease: &str,
        desc: &Desc,
    ) -> RegResult<Vec<u8>> {
        self.store.lease_add_blob(lease, &desc.digest).await?;
        if self.store.has_blob(&desc.digest).await? {
            return Ok(self.store.read_blob(&desc.digest).await?);
        }
        if desc.size > MAX_CONFIG {
            return Err(Error::invalid(format!(
                "{}: image config of {} bytes is too large",
                doing.name, desc.size
            ))
            .into());
        }
        let mut s = client
            .pull_blob_stream(oref, desc.digest.as_str())
            .await
            .map_err(|e| map_error(e, doing))?;
        let mut out = Vec::with_capacity(desc.size.max(0) as usize);
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| Error::system(format!("{}: config: {e}", doing.name)))?;
            out.extend_from_slice(&chunk);
            if out.len() as i64 > MAX_CONFIG {
                return Err(
                    Error::invalid(format!("{}: image config too large", doing.name)).into(),
                );
            }
        }
        if sha256_digest(&out) != desc.digest {
            return Err(Error::invalid(format!(
                "{}: config does not match its digest {}",
                doing.name, desc.digest
            ))
            .into());
        }
        Ok(out)
    }

    async fn download_layer(
        &self,
        client: &oci_client::Client,
        oref: &oci_client::Reference,
        doing: &Doing<'_>,
        lease: &str,
        layer: &Descriptor,
        progress: &Progress,
    ) -> RegResult<()> {
        let id = short_id(&layer.digest);
        let size = u64::try_from(layer.size)
            .map_err(|_| Error::invalid(format!("layer {}: negative size", layer.digest)))?;
        // One download per blob at a time: a concurrent pull of an image
        // sharing this layer waits here, then finds it in the store.
        let slot = self.downloads.slot(&layer.digest);
        let _one = slot.lock().await;
        if self.store.has_blob(&layer.digest).await? {
            progress.status(&id, "Download complete").await?;
            return Ok(());
        }
        let sized = client
            .pull_blob_stream(oref, layer.digest.as_str())
            .await
            .map_err(|e| map_error(e, doing))?;
        // oci-client verifies the digest as the stream ends; containerd
        // verifies digest and size again at commit.
        let stream = counting(
            sized.stream,
            progress.clone(),
            id.clone(),
            "Downloading",
            size,
        );
        self.store
            .write_blob(
                lease,
                &layer.digest,
                size,
                BlobSource::Stream(stream),
                HashMap::new(),
            )
            .await
            .map_err(|e| e.context(format!("{}: layer {}", doing.name, layer.digest)))?;
        progress.status(&id, "Verifying Checksum").await?;
        progress.status(&id, "Download complete").await?;
        Ok(())
    }
}

/// Drops the staged extractions of a pull that no unpack used.
struct Unstage<'a> {
    store: &'a dyn crate::ctrd::ImageStore,
    digests: Vec<String>,
}

impl Drop for Unstage<'_> {
    fn drop(&mut self) {
        self.store.unstage_layers(&self.digests);
    }
}

/// Per-blob locks of the downloads in progress, shared by all pulls.
#[derive(Default)]
pub(in crate::mgr::image) struct Downloads {
    // std lock: held only to find or drop a slot, never across an await.
    slots: std::sync::Mutex<HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>>,
}

impl Downloads {
    /// The lock of `digest`'s download; slots nobody holds any more are
    /// dropped on the way.
    fn slot(&self, digest: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let Ok(mut slots) = self.slots.lock() else {
            // A poisoned map only costs the sharing: a private lock.
            return Default::default();
        };
        slots.retain(|_, w| w.strong_count() > 0);
        if let Some(s) = slots.get(digest).and_then(|w| w.upgrade()) {
            return s;
        }
        let s = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        slots.insert(digest.to_string(), std::sync::Arc::downgrade(&s));
        s
    }
}

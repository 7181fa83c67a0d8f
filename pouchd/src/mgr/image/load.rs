//! `POST /images/load`: docker-archive and OCI layout tars into containerd.

use super::archive::{self, ArchiveError, ArchiveImage};
use super::reference::{familiar, Reference};
use super::{dangling_name, ImageMgr};
use crate::ctrd::{chain_ids, BlobSource, Descriptor};
use crate::error::{Error, Result};
use pouch_api::image::ImageConfigFile;
use std::collections::HashMap;
use std::io::Read;

impl From<ArchiveError> for Error {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Invalid(m) => Error::InvalidParameter(m),
            other => Error::System(other.to_string()),
        }
    }
}

impl ImageMgr {
    /// Loads every image of the tar read from `input` (a blocking reader, run
    /// on the blocking pool). Returns one line per loaded name, as Docker
    /// prints them (`Loaded image: busybox:latest`).
    pub async fn load<R: Read + Send + 'static>(&self, input: R) -> Result<Vec<String>> {
        let staging = tempdir_in(&self.staging)?;
        let dir = staging.clone();
        let parsed = tokio::task::spawn_blocking(move || archive::read_archive(input, &dir))
            .await
            .map_err(|e| Error::system(format!("load task: {e}")));
        let result = match parsed {
            Ok(Ok(images)) => self.import_all(images).await,
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    async fn import_all(&self, images: Vec<ArchiveImage>) -> Result<Vec<String>> {
        if images.is_empty() {
            return Err(Error::invalid("no images found in the archive"));
        }
        let _guard = self.write.lock().await;
        let lease = self.store.lease_create().await?;
        let result = async {
            let mut lines = Vec::new();
            for img in images {
                lines.extend(self.import_one(&lease, img).await?);
            }
            Ok(lines)
        }
        .await;
        // Once the image records exist they hold their content; the lease only
        // protected the half-written state.
        if let Err(e) = self.store.lease_delete(&lease).await {
            tracing::warn!(error = %e, "cannot delete lease {lease}");
        }
        result
    }

    async fn import_one(&self, lease: &str, img: ArchiveImage) -> Result<Vec<String>> {
        let cfg_bytes = std::fs::read(&img.config.path)?;
        let config: ImageConfigFile = serde_json::from_slice(&cfg_bytes)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != img.layers.len() {
            return Err(Error::invalid(
                "image config and manifest disagree on layers",
            ));
        }
        let chains = chain_ids(&diff_ids);
        let top = chains.last().cloned().unwrap_or_default();

        let mut layer_descs = Vec::with_capacity(img.layers.len());
        for layer in &img.layers {
            self.store
                .write_blob(
                    lease,
                    &layer.blob.digest,
                    layer.blob.size,
                    BlobSource::File(layer.blob.path.clone()),
                    HashMap::new(),
                )
                .await?;
            layer_descs.push(Descriptor {
                media_type: layer.media_type.clone(),
                digest: layer.blob.digest.clone(),
                size: layer.blob.size as i64,
            });
        }
        // GC labels: the manifest holds config and layers, the config holds
        // the unpacked snapshot chain.
        let cfg_labels = super::config_gc_labels(&top);
        self.store
            .write_blob(
                lease,
                &img.config.digest,
                img.config.size,
                BlobSource::File(img.config.path.clone()),
                cfg_labels,
            )
            .await?;
        let m_labels = super::manifest_gc_labels(
            &img.config.digest,
            layer_descs.iter().map(|l| l.digest.as_str()),
        );
        let manifest = Descriptor {
            media_type: img.manifest.media_type.clone(),
            digest: img.manifest.digest.clone(),
            size: img.manifest.bytes.len() as i64,
        };
        self.store
            .write_blob(
                lease,
                &manifest.digest,
                img.manifest.bytes.len() as u64,
                BlobSource::Bytes(img.manifest.bytes.clone()),
                m_labels,
            )
            .await?;
        self.store.unpack(lease, &layer_descs, &diff_ids).await?;

        let image = self.read_image(&manifest).await?;
        let mut names = Vec::new();
        for r in &img.refs {
            let full = Reference::parse(r)?.full();
            names.push(full);
        }
        let mut lines = Vec::new();
        if names.is_empty() {
            self.set_ref(&dangling_name(&image.id), &image).await?;
            lines.push(format!("Loaded image ID: {}", image.id));
        } else {
            for full in &names {
                self.set_ref(full, &image).await?;
                lines.push(format!("Loaded image: {}", familiar(full)));
                self.emit("load", &familiar(full), &familiar(full));
            }
            let dangling = dangling_name(&image.id);
            if self.has_ref(&dangling) {
                self.drop_ref(&dangling).await?;
            }
        }
        Ok(lines)
    }

    pub(super) fn has_ref(&self, full: &str) -> bool {
        self.cache
            .read()
            .map(|c| c.by_ref.contains_key(full))
            .unwrap_or(false)
    }
}

fn tempdir_in(parent: &std::path::Path) -> Result<std::path::PathBuf> {
    let dir = parent.join(format!("load-{}", hex::encode(rand::random::<[u8; 8]>())));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

//! What import and commit share: a new image made of layers already in the
//! content store plus a config built here. Writes the config and a Docker
//! schema2 manifest with containerd's GC labels, unpacks the layers into
//! committed snapshots, and names the image.

use super::reference::{familiar, Reference};
use super::{dangling_name, Image, ImageMgr};
use crate::ctrd::{chain_ids, BlobSource, Descriptor};
use crate::error::{Error, Result};
use pouch_api::image::ImageConfigFile;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(super) const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub(super) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The diff ID of a layer that changes nothing (an empty tar): Docker keeps
/// no layer for it, only a history entry marked `empty_layer`.
pub(super) const EMPTY_LAYER: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// Docker's schema2 layer media type for a layer of another flavour (the
/// bytes are the same; a schema2 manifest should not name OCI types).
pub(super) fn docker_layer_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => DOCKER_LAYER.to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip" => DOCKER_LAYER_GZIP.to_string(),
        other => other.to_string(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: ManifestDesc<'a>,
    layers: Vec<ManifestDesc<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDesc<'a> {
    media_type: &'a str,
    size: i64,
    digest: &'a str,
}

fn sha256_of(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// The full name `repo[:tag]` stands for; `None` for an empty repo.
pub(super) fn target_name(repo: &str, tag: &str) -> Result<Option<String>> {
    if repo.is_empty() {
        if !tag.is_empty() {
            return Err(Error::invalid("a tag needs a repository"));
        }
        return Ok(None);
    }
    let name = if tag.is_empty() {
        repo.to_string()
    } else {
        format!("{repo}:{tag}")
    };
    let r = Reference::parse(&name)?;
    if r.digest.is_some() {
        return Err(Error::invalid(
            "refusing to create a tag with a digest reference",
        ));
    }
    Ok(Some(r.full()))
}

impl ImageMgr {
    /// Stores `config` (whose `rootfs.diff_ids` match `layers`, present in the
    /// content store under `lease`) as a new image named `name` (a full
    /// name; untagged when `None`).
    pub(super) async fn create_image(
        &self,
        lease: &str,
        config: &ImageConfigFile,
        layers: &[Descriptor],
        name: Option<&str>,
    ) -> Result<Arc<Image>> {
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != layers.len() {
            return Err(Error::system("image config and layers disagree"));
        }
        let top = chain_ids(diff_ids).pop().unwrap_or_default();
        let cfg_bytes = serde_json::to_vec(config)?;
        let cfg_digest = sha256_of(&cfg_bytes);
        let cfg_size = cfg_bytes.len() as u64;
        self.store
            .write_blob(
                lease,
                &cfg_digest,
                cfg_size,
                BlobSource::Bytes(cfg_bytes),
                super::config_gc_labels(&top),
            )
            .await?;
        let layer_types: Vec<String> = layers
            .iter()
            .map(|l| docker_layer_type(&l.media_type))
            .collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: DOCKER_MANIFEST,
            config: ManifestDesc {
                media_type: DOCKER_CONFIG,
                size: cfg_size as i64,
                digest: &cfg_digest,
            },
            layers: layers
                .iter()
                .zip(&layer_types)
                .map(|(l, t)| ManifestDesc {
                    media_type: t,
                    size: l.size,
                    digest: &l.digest,
                })
                .collect(),
        };
        let m_bytes = serde_json::to_vec(&manifest)?;
        let m_desc = Descriptor {
            media_type: DOCKER_MANIFEST.to_string(),
            digest: sha256_of(&m_bytes),
            size: m_bytes.len() as i64,
        };
        let m_labels =
            super::manifest_gc_labels(&cfg_digest, layers.iter().map(|l| l.digest.as_str()));
        self.store
            .write_blob(
                lease,
                &m_desc.digest,
                m_bytes.len() as u64,
                BlobSource::Bytes(m_bytes),
                m_labels,
            )
            .await?;
        self.store.unpack(lease, layers, diff_ids).await?;

        let image = self.read_image(&m_desc).await?;
        let _guard = self.write.lock().await;
        let dangling = dangling_name(&image.id);
        match name {
            Some(full) => {
                self.set_ref(full, &image).await?;
                self.emit("tag", &image.id, &familiar(full));
                if self.has_ref(&dangling) {
                    self.drop_ref(&dangling).await?;
                }
            }
            None => {
                // A new image with the same ID as a named one stays named.
                if self.get(&image.id).is_err() {
                    self.set_ref(&dangling, &image).await?;
                }
            }
        }
        self.get(&image.id)
    }
}

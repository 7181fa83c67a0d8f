//! `GET /images/get` and `GET /images/{name}/get`: images as one tar stream
//! in Docker 25's `docker save` format, which is both a docker-archive and
//! an OCI image layout:
//!
//! ```text
//! oci-layout, index.json       OCI layout (one index entry per tag)
//! manifest.json, repositories  docker-archive ([{Config, RepoTags, Layers}])
//! blobs/sha256/<hex>           manifests, configs and layers as stored
//! ```
//!
//! Layers stay as containerd holds them (compressed or not): loaders detect
//! compression. Names are resolved, and every blob checked, before the first
//! byte goes out, so an unknown name is a clean 404; after that the layers
//! are streamed from the content store as they are read, under a lease that
//! keeps them from containerd's GC while the client reads.

use super::reference::{familiar, Reference};
use super::{Image, ImageMgr};
use crate::ctrd::{BlobStream, Descriptor, ImageStore};
use crate::error::{Error, Result};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::Arc;
use tokio::sync::mpsc;

const BLOCK: usize = 512;
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;
const NAME_ANNOTATION: &str = "io.containerd.image.name";
const TAG_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// An image chosen for the archive, with the tags (full names) to record.
#[derive(Debug)]
pub(super) struct Selected {
    pub img: Arc<Image>,
    pub tags: Vec<String>,
}

/// An image with its stored manifest and config read.
pub(super) struct SaveImage {
    pub img: Arc<Image>,
    pub tags: Vec<String>,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub layers: Vec<Descriptor>,
}

/// One member of the archive.
pub(super) enum Part {
    Dir(String),
    File(String, Bytes),
    /// A blob streamed from the content store: path, digest, size.
    Blob(String, String, u64),
}

/// The layer (and config) descriptors of a stored image manifest.
#[derive(Deserialize)]
struct ManifestDoc {
    config: ManifestDesc,
    #[serde(default)]
    layers: Vec<ManifestDesc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDesc {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
}

impl From<ManifestDesc> for Descriptor {
    fn from(d: ManifestDesc) -> Self {
        Descriptor {
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
        }
    }
}

impl ImageMgr {
    /// Layers of `img` as its stored manifest lists them, base first.
    pub(super) async fn manifest_layers(&self, img: &Image) -> Result<Vec<Descriptor>> {
        let raw = self.store.read_blob(&img.manifest.digest).await?;
        Ok(parse_manifest(&raw, &img.manifest.digest)?.1)
    }

    /// Starts writing the archive of `names` (tags, repositories, IDs).
    /// Errors (unknown names, missing content) come before the stream.
    pub async fn save(&self, names: &[String]) -> Result<BlobStream> {
        if names.is_empty() {
            return Err(Error::invalid("no image names given"));
        }
        let selected = self.select(names)?;
        let mut images = Vec::with_capacity(selected.len());
        for Selected { img, tags } in selected {
            let manifest = self.store.read_blob(&img.manifest.digest).await?;
            let (config, layers) = parse_manifest(&manifest, &img.manifest.digest)?;
            let config = self.store.read_blob(&config.digest).await?;
            images.push(SaveImage {
                img,
                tags,
                manifest,
                config,
                layers,
            });
        }
        let parts = layout(&images)?;
        let lease = self.store.lease_create().await?;
        let held = async {
            for p in &parts {
                if let Part::Blob(_, digest, _) = p {
                    // Held first, then checked: GC cannot slip in between.
                    self.store.lease_add_blob(&lease, digest).await?;
                    if !self.store.has_blob(digest).await? {
                        return Err(Error::system(format!("content {digest} is missing")));
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = held {
            let _ = self.store.lease_delete(&lease).await;
            return Err(e);
        }
        for i in &images {
            self.emit("save", &i.img.id, &i.img.id);
        }
        let (tx, rx) = mpsc::channel(8);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = write_parts(store.as_ref(), parts, &tx).await {
                // A client that went away gets nothing; one still reading
                // sees its body fail instead of a short, valid-looking tar.
                tracing::warn!(error = %e, "image save stopped");
                let _ = tx.send(Err(e)).await;
            }
            if let Err(e) = store.lease_delete(&lease).await {
                tracing::warn!(error = %e, "cannot delete lease {lease}");
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// Resolves names as Docker's `docker save` does: a tag records that
    /// tag, a bare repository every tag of it, an ID (full, short or
    /// `sha256:`) or digest reference the image without tags. Images named
    /// twice are saved once.
    pub(super) fn select(&self, names: &[String]) -> Result<Vec<Selected>> {
        let mut out: Vec<Selected> = Vec::new();
        let mut add = |img: Arc<Image>, tag: Option<String>| {
            let i = match out.iter().position(|s| s.img.id == img.id) {
                Some(i) => i,
                None => {
                    out.push(Selected {
                        img,
                        tags: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(t) = tag {
                if !out[i].tags.contains(&t) {
                    out[i].tags.push(t);
                }
            }
        };
        for name in names {
            let hex = name.strip_prefix("sha256:");
            let full_id = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if hex.is_some() || full_id {
                add(self.get(name)?, None);
                continue;
            }
            let r = Reference::parse_any(name)?;
            if r.digest.is_some() {
                add(self.get(name)?, None);
            } else if r.tag.is_some() {
                add(self.get(name)?, Some(r.full()));
            } else {
                let tagged = self.tags_of_repo(&r.repo)?;
                if tagged.is_empty() {
                    // A short ID parses as a repository name.
                    add(self.get(name)?, None);
                }
                for (full, img) in tagged {
                    add(img, Some(full));
                }
            }
        }
        Ok(out)
    }

    /// `(full name, image)` of every tag of repository `repo`.
    fn tags_of_repo(&self, repo: &str) -> Result<Vec<(String, Arc<Image>)>> {
        let cache = self
            .cache
            .read()
            .map_err(|_| Error::system("image cache poisoned"))?;
        let prefix = format!("{repo}:");
        Ok(cache
            .by_ref
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, id)| cache.by_id.get(id).map(|i| (k.clone(), i.clone())))
            .collect())
    }
}

/// The config and layers of a stored manifest.
pub(super) fn parse_manifest(raw: &[u8], digest: &str) -> Result<(Descriptor, Vec<Descriptor>)> {
    let m: ManifestDoc = serde_json::from_slice(raw)
        .map_err(|e| Error::system(format!("manifest {digest}: {e}")))?;
    Ok((
        m.config.into(),
        m.layers.into_iter().map(Descriptor::from).collect(),
    ))
}

fn blob_path(digest: &str) -> Result<String> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("blobs/sha256/{hex}"))
        }
        _ => Err(Error::system(format!("unsupported digest {digest:?}"))),
    }
}

fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDesc {
    media_type: String,
    digest: String,
    size: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
    platform: Platform,
}

#[derive(Serialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
}

/// The members of the archive, metadata first, each blob once.
pub(super) fn layout(images: &[SaveImage]) -> Result<Vec<Part>> {
    let mut manifest_json = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut index = Vec::new();
    let mut blobs: Vec<Part> = Vec::new();
    let mut seen = HashSet::new();
    for i in images {
        let c = &i.img.config;
        let platform = || Platform {
            architecture: c.architecture.clone(),
            os: c.os.clone(),
            variant: c.variant.clone(),
        };
        let m_digest = sha256(&i.manifest);
        let config_path = blob_path(&i.img.id)?;
        let mut layer_paths = Vec::with_capacity(i.layers.len());
        if seen.insert(m_digest.clone()) {
            blobs.push(Part::File(
                blob_path(&m_digest)?,
                Bytes::from(i.manifest.clone()),
            ));
        }
        if seen.insert(i.img.id.clone()) {
            blobs.push(Part::File(
                config_path.clone(),
                Bytes::from(i.config.clone()),
            ));
        }
        for l in &i.layers {
            let path = blob_path(&l.digest)?;
            let size = u64::try_from(l.size)
                .map_err(|_| Error::system(format!("layer {} has size {}", l.digest, l.size)))?;
            if seen.insert(l.digest.clone()) {
                blobs.push(Part::Blob(path.clone(), l.digest.clone(), size));
            }
            layer_paths.push(path);
        }
        let mut repo_tags = Vec::new();
        for full in &i.tags {
            let r = Reference::parse(full)?;
            let tag = r.tag.clone().unwrap_or_default();
            repo_tags.push(familiar(full));
            if let Some(top) = i.layers.last() {
                let hex = top.digest.trim_start_matches("sha256:").to_string();
                repositories
                    .entry(familiar(&r.repo))
                    .or_default()
                    .insert(tag.clone(), hex);
            }
            index.push(IndexDesc {
                media_type: i.img.manifest.media_type.clone(),
                digest: m_digest.clone(),
                size: i.manifest.len(),
                annotations: BTreeMap::from([
                    (NAME_ANNOTATION, full.clone()),
                    (TAG_ANNOTATION, tag),
                ]),
                platform: platform(),
            });
        }
        if i.tags.is_empty() {
            // Untagged: still reachable for OCI layout readers.
            index.push(IndexDesc {
                media_type: i.img.manifest.media_type.clone(),
                digest: m_digest.clone(),
                size: i.manifest.len(),
                annotations: BTreeMap::new(),
                platform: platform(),
            });
        }
        manifest_json.push(ManifestItem {
            config: config_path,
            repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
            layers: layer_paths,
        });
    }
    let index_json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": index,
    });
    let mut parts = vec![
        Part::File("oci-layout".into(), Bytes::from_static(OCI_LAYOUT)),
        Part::File(
            "index.json".into(),
            Bytes::from(serde_json::to_vec(&index_json)?),
        ),
        Part::File(
            "manifest.json".into(),
            Bytes::from(serde_json::to_vec(&manifest_json)?),
        ),
    ];
    if !repositories.is_empty() {
        parts.push(Part::File(
            "repositories".into(),
            Bytes::from(serde_json::to_vec(&repositories)?),
        ));
    }
    parts.push(Part::Dir("blobs/".into()));
    parts.push(Part::Dir("blobs/sha256/".into()));
    parts.extend(blobs);
    Ok(parts)
}

/// A ustar header (files 0644, directories 0755, owned by root, time 0).
fn header(path: &str, size: u64, dir: bool) -> io::Result<Bytes> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    Ok(Bytes::copy_from_slice(h.as_bytes()))
}

/// Zeros that fill the last block of an entry of `size` bytes.
fn padding(size: u64) -> Option<Bytes> {
    let rem = (size % BLOCK as u64) as usize;
    (rem != 0).then(|| Bytes::from(vec![0u8; BLOCK - rem]))
}

async fn send(tx: &mpsc::Sender<io::Result<Bytes>>, b: Bytes) -> io::Result<()> {
    tx.send(Ok(b))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
}

/// Writes the archive into `tx`, reading blobs as the client takes them.
pub(super) async fn write_parts(
    store: &dyn ImageStore,
    parts: Vec<Part>,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    for part in parts {
        match part {
            Part::Dir(path) => send(tx, header(&path, 0, true)?).await?,
            Part::File(path, data) => {
                let size = data.len() as u64;
                send(tx, header(&path, size, false)?).await?;
                send(tx, data).await?;
                if let Some(p) = padding(size) {
                    send(tx, p).await?;
                }
            }
            Part::Blob(path, digest, size) => {
                send(tx, header(&path, size, false)?).await?;
                let mut s = store
                    .read_blob_stream(&digest)
                    .await
                    .map_err(|e| io::Error::other(format!("read {digest}: {e}")))?;
                let mut got = 0u64;
                while let Some(chunk) = s.next().await {
                    let chunk = chunk?;
                    got += chunk.len() as u64;
                    if got > size {
                        break;
                    }
                    send(tx, chunk).await?;
                }
                if got != size {
                    return Err(io::Error::other(format!(
                        "blob {digest}: read {got} bytes, its descriptor says {size}"
                    )));
                }
                if let Some(p) = padding(size) {
                    send(tx, p).await?;
                }
            }
        }
    }
    // The end of a tar: two zero blocks.
    send(tx, Bytes::from(vec![0u8; 2 * BLOCK])).await
}

#[cfg(test)]
#[path = "save_tests.rs"]
mod tests;

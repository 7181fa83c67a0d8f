//! Image manager: the images pouchd knows, cached in memory from containerd's
//! image store, and the operations on them (load, save, tag, remove, prune,
//! history).
//!
//! Calls down into [`crate::ctrd::ImageStore`] only.

pub mod archive;
pub mod changes;
mod commit;
mod create;
mod history;
mod import;
mod load;
mod prune;
mod pull;
mod push;
pub mod reference;
pub mod registry;
mod remove;
mod save;
mod shellwords;
mod tag;

pub use commit::CommitRequest;
pub use import::{download, ImportOptions, ImportPlan};
pub use pull::WantPlatform;

pub use prune::PruneOptions;
pub use remove::ImageUse;

use crate::ctrd::{chain_ids, Descriptor, ImageRecord, ImageStore};
use crate::error::{Error, Result};
use crate::mgr::events::EventBus;
use pouch_api::image::ImageConfigFile;
use reference::Reference;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Prefix of containerd image names that hold untagged images.
const DANGLING: &str = "pouch-dangling@";

/// One image, by config digest.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<config digest>`, Docker's image ID.
    pub id: String,
    /// Full names (`docker.io/library/busybox:latest`) pointing at it.
    pub refs: BTreeSet<String>,
    pub manifest: Descriptor,
    pub config: ImageConfigFile,
    /// Chain ID of the top layer: the parent of containers' snapshots.
    pub top_chain: String,
    /// Bytes of each layer, base first: unpacked, as Docker shows them
    /// (the blob's size for a layer not unpacked here).
    pub layer_sizes: Vec<i64>,
    /// Sum of `layer_sizes`.
    pub size: i64,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

impl Image {
    /// Tags in familiar form (`busybox:latest`), as Docker lists them.
    pub fn repo_tags(&self) -> Vec<String> {
        self.refs
            .iter()
            .filter(|r| !r.starts_with(DANGLING) && !r.contains('@'))
            .map(|r| reference::familiar(r))
            .collect()
    }

    /// Digest references in familiar form (`busybox@sha256:...`): what the
    /// image was pulled by or pushed as, as Docker lists them.
    pub fn repo_digests(&self) -> Vec<String> {
        self.refs
            .iter()
            .filter(|r| !r.starts_with(DANGLING) && r.contains('@'))
            .map(|r| match r.split_once('@') {
                // `repo:tag@digest` is listed as `repo@digest`.
                Some((name, digest)) => {
                    let repo = match name.rsplit_once(':') {
                        Some((repo, tag)) if !tag.contains('/') => repo,
                        _ => name,
                    };
                    format!("{}@{digest}", reference::familiar(repo))
                }
                None => reference::familiar(r),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

#[derive(Default)]
struct Cache {
    by_id: BTreeMap<String, Arc<Image>>,
    /// full name → image ID
    by_ref: BTreeMap<String, String>,
}

/// The image manager.
pub struct ImageMgr {
    store: Arc<dyn ImageStore>,
    // std lock: held only for map lookups and swaps, never across an await.
    cache: RwLock<Cache>,
    staging: PathBuf,
    // Serialises changes to image records (load, tag, remove) so that the
    // cache and containerd's records move together.
    write: tokio::sync::Mutex<()>,
    events: Arc<EventBus>,
    // Registry settings (--insecure-registries), set after construction.
    registries: RwLock<registry::Registries>,
    // One prune at a time, as with Docker.
    pruning: std::sync::atomic::AtomicBool,
    // Blobs being downloaded, so that concurrent pulls fetch each once.
    downloads: pull::Downloads,
}

impl ImageMgr {
    /// Builds the manager and fills its cache from containerd.
    pub async fn new(
        store: Arc<dyn ImageStore>,
        staging: PathBuf,
        events: Arc<EventBus>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&staging)?;
        let mgr = ImageMgr {
            store,
            cache: RwLock::new(Cache::default()),
            staging,
            write: tokio::sync::Mutex::new(()),
            events,
            registries: RwLock::new(registry::Registries::default()),
            pruning: Default::default(),
            downloads: pull::Downloads::default(),
        };
        mgr.reload().await?;
        Ok(mgr)
    }

    /// Re-reads every image record from containerd.
    pub async fn reload(&self) -> Result<()> {
        let records = self.store.list_images().await?;
        let mut cache = Cache::default();
        let mut by_manifest: BTreeMap<String, Arc<Image>> = BTreeMap::new();
        for rec in records {
            let img = match by_manifest.get(&rec.target.digest) {
                Some(i) => i.clone(),
                None => match self.read_image(&rec.target).await {
                    Ok(i) => {
                        let i = Arc::new(i);
                        by_manifest.insert(rec.target.digest.clone(), i.clone());
                        i
                    }
                    Err(e) => {
                        tracing::warn!(name = %rec.name, error = %e, "skipping unreadable image");
                        continue;
                    }
                },
            };
            cache.by_ref.insert(rec.name.clone(), img.id.clone());
            let entry = cache
                .by_id
                .entry(img.id.clone())
                .or_insert_with(|| img.clone());
            refs_mut(entry).insert(rec.name);
        }
        *self
            .cache
            .write()
            .map_err(|_| Error::system("image cache poisoned"))? = cache;
        Ok(())
    }

    /// Reads manifest and config of an image from the content store.
    async fn read_image(&self, manifest: &Descriptor) -> Result<Image> {
        #[derive(serde::Deserialize)]
        struct Manifest {
            config: ManifestDesc,
            #[serde(default)]
            layers: Vec<ManifestDesc>,
        }
        #[derive(serde::Deserialize)]
        struct ManifestDesc {
            digest: String,
            #[serde(default)]
            size: i64,
        }
        let raw = self.store.read_blob(&manifest.digest).await?;
        let m: Manifest = serde_json::from_slice(&raw)
            .map_err(|e| Error::system(format!("manifest {}: {e}", manifest.digest)))?;
        let raw_cfg = self.store.read_blob(&m.config.digest).await?;
        let config: ImageConfigFile = serde_json::from_slice(&raw_cfg)
            .map_err(|e| Error::system(format!("image config {}: {e}", m.config.digest)))?;
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut layer_sizes = Vec::with_capacity(m.layers.len());
        for (i, l) in m.layers.iter().enumerate() {
            let unpacked = match chains.get(i) {
                Some(chain) => self.store.layer_usage(chain).await.ok(),
                None => None,
            };
            layer_sizes.push(unpacked.map_or(l.size, |u| u as i64));
        }
        Ok(Image {
            id: m.config.digest,
            refs: BTreeSet::new(),
            manifest: manifest.clone(),
            top_chain: chains.last().cloned().unwrap_or_default(),
            size: layer_sizes.iter().sum(),
            layer_sizes,
            created: config
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|c| c.with_timezone(&chrono::Utc)),
            config,
        })
    }

    /// Every image.
    pub fn list(&self) -> Vec<Arc<Image>> {
        match self.cache.read() {
            Ok(c) => c.by_id.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Finds an image by name (`busybox`, `busybox:1`), full ID, `sha256:`
    /// ID or unique ID prefix, as Docker does.
    pub fn get(&self, name: &str) -> Result<Arc<Image>> {
        let cache = self
            .cache
            .read()
            .map_err(|_| Error::system("image cache poisoned"))?;
        let not_found = || Error::not_found(format!("No such image: {name}"));
        if let Ok(r) = Reference::parse(name) {
            if let Some(id) = cache.by_ref.get(&r.full()) {
                if let Some(img) = cache.by_id.get(id) {
                    return Ok(img.clone());
                }
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let prefix = format!("sha256:{hex}");
            let mut hits = cache
                .by_id
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix));
            if let Some((_, img)) = hits.next() {
                if hits.next().is_some() {
                    return Err(Error::invalid(format!("ambiguous image ID prefix: {name}")));
                }
                return Ok(img.clone());
            }
        }
        Err(not_found())
    }

    /// Points `full_name` at `img` in containerd and in the cache.
    async fn set_ref(&self, full_name: &str, img: &Image) -> Result<()> {
        // An image that loses its last name to this one stays, untagged, as
        // with Docker: its dangling record goes in first, so that there is no
        // moment when containerd's GC could take its content.
        if let Some(old) = self.orphaned_by(full_name, &img.id)? {
            let dangling = dangling_name(&old.id);
            self.store
                .put_image(ImageRecord {
                    name: dangling.clone(),
                    target: old.manifest.clone(),
                    labels: Default::default(),
                    created_at: None,
                })
                .await?;
            let mut cache = self
                .cache
                .write()
                .map_err(|_| Error::system("image cache poisoned"))?;
            cache.by_ref.insert(dangling.clone(), old.id.clone());
            if let Some(e) = cache.by_id.get_mut(&old.id) {
                refs_mut(e).insert(dangling);
            }
        }
        self.store
            .put_image(ImageRecord {
                name: full_name.to_string(),
                target: img.manifest.clone(),
                labels: Default::default(),
                created_at: None,
            })
            .await?;
        let mut cache = self
            .cache
            .write()
            .map_err(|_| Error::system("image cache poisoned"))?;
        if let Some(old) = cache.by_ref.insert(full_name.to_string(), img.id.clone()) {
            if let Some(e) = cache.by_id.get_mut(&old) {
                refs_mut(e).remove(full_name);
            }
        }
        let entry = cache.by_id.entry(img.id.clone()).or_insert_with(|| {
            Arc::new(Image {
                refs: BTreeSet::new(),
                ..img.clone()
            })
        });
        refs_mut(entry).insert(full_name.to_string());
        // The dangling record is no longer needed once the image has a tag.
        Ok(())
    }

    /// The image whose only name is `full_name`, unless that is `id` itself.
    fn orphaned_by(&self, full_name: &str, id: &str) -> Result<Option<Arc<Image>>> {
        let cache = self
            .cache
            .read()
            .map_err(|_| Error::system("image cache poisoned"))?;
        Ok(cache
            .by_ref
            .get(full_name)
            .filter(|old| *old != id)
            .and_then(|old| cache.by_id.get(old))
            .filter(|old| old.refs.len() == 1)
            .cloned())
    }

    /// Removes `full_name` in containerd and the cache; drops the image from
    /// the cache when no name is left.
    async fn drop_ref(&self, full_name: &str) -> Result<()> {
        self.store.delete_image(full_name).await?;
        let mut cache = self
            .cache
            .write()
            .map_err(|_| Error::system("image cache poisoned"))?;
        if let Some(id) = cache.by_ref.remove(full_name) {
            let empty = match cache.by_id.get_mut(&id) {
                Some(e) => {
                    refs_mut(e).remove(full_name);
                    e.refs.is_empty()
                }
                None => false,
            };
            if empty {
                cache.by_id.remove(&id);
            }
        }
        Ok(())
    }
}

/// Copy-on-write access to an image's names.
fn refs_mut(img: &mut Arc<Image>) -> &mut BTreeSet<String> {
    &mut Arc::make_mut(img).refs
}

impl ImageMgr {
    fn emit(&self, action: &str, id: &str, name: &str) {
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("name".to_string(), name.to_string());
        self.events.publish("image", action, id, attrs);
    }
}

/// containerd GC labels of an image config: it holds the unpacked snapshot
/// chain (`top_chain`, empty for an image without layers).
fn config_gc_labels(top_chain: &str) -> std::collections::HashMap<String, String> {
    let mut labels = std::collections::HashMap::new();
    if !top_chain.is_empty() {
        labels.insert(
            "containerd.io/gc.ref.snapshot.overlayfs".to_string(),
            top_chain.to_string(),
        );
    }
    labels
}

/// containerd GC labels of a manifest: it holds its config and its layers.
fn manifest_gc_labels<'a>(
    config_digest: &str,
    layer_digests: impl Iterator<Item = &'a str>,
) -> std::collections::HashMap<String, String> {
    let mut labels = std::collections::HashMap::new();
    labels.insert(
        "containerd.io/gc.ref.content.config".to_string(),
        config_digest.to_string(),
    );
    for (i, d) in layer_digests.enumerate() {
        labels.insert(format!("containerd.io/gc.ref.content.l.{i}"), d.to_string());
    }
    labels
}

fn dangling_name(id: &str) -> String {
    format!("{DANGLING}{id}")
}

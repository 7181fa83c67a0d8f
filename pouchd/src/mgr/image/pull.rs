//! `POST /images/create?fromImage=`: pulling from a registry.
//!
//! containerd 1.6 has no Transfer service, so this is done here: resolve the
//! manifest (a manifest list / index to the daemon's platform), fetch config
//! and layers into containerd's content store under a lease (layers streamed
//! straight into Content.Write, three at a time, skipping blobs already
//! there), unpack them in order as they arrive, and only then write the image
//! record. A failed or cancelled pull leaves no record; its lease is deleted
//! (and expires anyway) so GC takes what it fetched.

use super::reference::{familiar, Reference};
use super::registry::{
    self, counting, map_error, oci_reference, resolve_auth, short_id, split_repo, AuthConfig,
    Doing, Progress, RegResult, RegistryError,
};
use super::{dangling_name, ImageMgr};
use crate::ctrd::{BlobSource, Descriptor};
use crate::error::{Error, Result};
use futures::StreamExt;
use pouch_api::image::ImageConfigFile;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(super) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Layer media types containerd's differ can apply.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

/// Image configs are small; a larger one is refused rather than held.
const MAX_CONFIG: i64 = 32 << 20;
/// Layers downloaded at once (Docker's default).
const CONCURRENT: usize = 3;

/// A content descriptor in a manifest.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Desc {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
}

#[derive(Debug, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: String,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    platform: Option<Platform>,
}

/// Any manifest-like document, told apart by its fields.
#[derive(Debug, Deserialize)]
pub(super) struct AnyManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: i64,
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    manifests: Option<Vec<IndexEntry>>,
    pub config: Option<Desc>,
    #[serde(default)]
    pub layers: Vec<Desc>,
}

impl AnyManifest {
    pub(super) fn parse(raw: &[u8], what: &str) -> Result<Self> {
        let m: AnyManifest = serde_json::from_slice(raw)
            .map_err(|e| Error::invalid(format!("{what}: invalid manifest: {e}")))?;
        if m.schema_version != 2 {
            return Err(Error::invalid(format!(
                "{what}: unsupported manifest schema version {} (only schema 2 and OCI images are supported)",
                m.schema_version
            )));
        }
        Ok(m)
    }

    fn is_index(&self) -> bool {
        self.manifests.is_some()
            || self.media_type == DOCKER_MANIFEST_LIST
            || self.media_type == OCI_INDEX
    }

    /// The media type to record: the declared one, else what the config says.
    pub(super) fn manifest_media_type(&self) -> String {
        if !self.media_type.is_empty() {
            return self.media_type.clone();
        }
        match &self.config {
            Some(c) if c.media_type == DOCKER_CONFIG => DOCKER_MANIFEST.to_string(),
            _ => OCI_MANIFEST.to_string(),
        }
    }
}

/// The platform images are pulled for: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq)]
pub struct WantPlatform {
    pub os: String,
    pub arch: String,
    pub variant: String,
}

impl WantPlatform {
    /// The daemon's own platform.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        WantPlatform {
            os: "linux".into(),
            arch: arch.into(),
            variant: String::new(),
        }
    }

    /// Parses the `platform` query parameter (`linux/arm64/v8`); empty: the host's.
    pub fn parse(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Ok(Self::host());
        }
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = || Error::invalid(format!("invalid platform {s:?}: want os/arch[/variant]"));
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(WantPlatform {
                os: os.to_ascii_lowercase(),
                arch: arch.to_ascii_lowercase(),
                variant: String::new(),
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() => Ok(WantPlatform {
                os: os.to_ascii_lowercase(),
                arch: arch.to_ascii_lowercase(),
                variant: variant.to_ascii_lowercase(),
            }),
            _ => Err(bad()),
        }
    }

    fn show(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.arch)
        } else {
            format!("{}/{}/{}", self.os, self.arch, self.variant)
        }
    }

    /// The index entry for this platform: same os and architecture, the
    /// asked variant first (no variant asked: a plain entry first).
    fn choose<'a>(&self, entries: &'a [IndexEntry]) -> Option<&'a IndexEntry> {
        let matching: Vec<&IndexEntry> = entries
            .iter()
            .filter(|e| e.media_type != DOCKER_MANIFEST_LIST && e.media_type != OCI_INDEX)
            .filter(|e| {
                e.platform.as_ref().is_some_and(|p| {
                    p.os.eq_ignore_ascii_case(&self.os)
                        && p.architecture.eq_ignore_ascii_case(&self.arch)
                })
            })
            .collect();
        let variant = |e: &&IndexEntry| {
            e.platform
                .as_ref()
                .map(|p| p.variant.to_ascii_lowercase())
                .unwrap_or_default()
        };
        let preferred = if self.variant.is_empty() {
            matching
                .iter()
                .find(|e| variant(e).is_empty() || (self.arch == "arm64" && variant(e) == "v8"))
        } else {
            matching.iter().find(|e| variant(e) == self.variant)
        };
        preferred.or_else(|| matching.first()).copied()
    }
}

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Applies the API's `fromImage` and `tag` as Docker does: a `tag` replaces
/// the tag of `fromImage` and may be a digest; no tag at all means `latest`.
pub fn pull_reference(image: &str, tag: &str) -> Result<Reference> {
    let r = Reference::parse_any(image)?;
    let tag = tag.trim();
    if tag.is_empty() {
        return Reference::parse(&r.full());
    }
    if tag.starts_with("sha256:") {
        Reference::parse(&format!("{}@{tag}", r.repo))
    } else {
        Reference::parse(&format!("{}:{tag}", r.repo))
    }
}

impl ImageMgr {
    /// Pulls `image` (with `tag`, which may be a digest) for `platform`,
    /// reporting on `progress`.
    pub async fn pull(
        &self,
        image: &str,
        tag: &str,
        platform: &WantPlatform,
        auth: &AuthConfig,
        progress: &Progress,
    ) -> RegResult<()> {
        let r = pull_reference(image, tag)?;
        let full = r.full();
        let name = familiar(&full);
        let (host, path) = split_repo(&r.repo);
        let registries = self.registries();
        let client = registries.client(host);
        let doing = Doing {
            name: &name,
            host,
            insecure: registries.is_insecure(host),
            with_credentials: auth.has_credentials(),
            push: false,
        };
        let creds = resolve_auth(&registries, host, path, false, auth).await?;
        let oref = oci_reference(&r.repo, r.tag.as_deref(), r.digest.as_deref());

        // The manifest, through a manifest list / index when there is one.
        let accept = [
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            OCI_INDEX,
        ];
        let (raw, _) = client
            .pull_manifest_raw(&oref, &creds, &accept)
            .await
            .map_err(|e| map_error(e, &doing))?;
        let top_digest = sha256_digest(&raw);
        if let Some(d) = &r.digest {
            if *d != top_digest {
                return Err(Error::invalid(format!(
                    "{name}: the registry sent a manifest with digest {top_digest}"
                ))
                .into());
            }
        }
        let mut doc = AnyManifest::parse(&raw, &name)?;
        let mut manifest_raw = raw.to_vec();
        if doc.is_index() {
            let entries = doc.manifests.take().unwrap_or_default();
            let entry = platform.choose(&entries).ok_or_else(|| {
                Error::not_found(format!(
                    "no matching manifest for {} in the manifest list entries of {name}",
                    platform.show()
                ))
            })?;
            let by_digest = oci_reference(&r.repo, None, Some(&entry.digest));
            let (raw, _) = client
                .pull_manifest_raw(&by_digest, &creds, &accept)
                .await
                .map_err(|e| map_error(e, &doing))?;
            if sha256_digest(&raw) != entry.digest {
                return Err(Error::invalid(format!(
                    "{name}: manifest {} does not match its digest",
                    entry.digest
                ))
                .into());
            }
            doc = AnyManifest::parse(&raw, &name)?;
            if doc.is_index() {
                return Err(Error::invalid(format!("{name}: nested manifest lists")).into());
            }
            manifest_raw = raw.to_vec();
        }
        let manifest = Descriptor {
            media_type: doc.manifest_media_type(),
            digest: sha256_digest(&manifest_raw),
            size: manifest_raw.len() as i64,
        };
        let config_desc = doc
            .config
            .clone()
            .ok_or_else(|| Error::invalid(format!("{name}: manifest has no config")))?;
        if config_desc.media_type != DOCKER_CONFIG && config_desc.media_type != OCI_CONFIG {
            return Err(Error::invalid(format!(
                "{name} is not a container image (config media type {:?})",
                config_desc.media_type
            ))
            .into());
        }
        if let Some(l) = doc
            .layers
            .iter()
            .find(|l| !LAYER_TYPES.contains(&l.media_type.as_str()))
        {
            return Err(Error::invalid(format!(
                "{name}: unsupported layer media type {:?}",
                l.media_type
            ))
            .into());
        }

        let id_for_status = r.digest.clone().or(r.tag.clone()).unwrap_or_default();
        progress
            .status(&id_for_status, &format!("Pulling from {path}"))
            .await?;

        let previous = self.get(&full).ok();
        let up_to_date = previous
            .as_ref()
            .is_some_and(|p| p.manifest.digest == manifest.digest);
        if !up_to_date {
            let lease = self.store.lease_create().await?;
            let fetched = self
                .fetch(
                    &client,
                    &oref,
                    &creds,
                    &doing,
                    &lease,
                    &doc,
                    &config_desc,
                    &manifest,
                    &manifest_raw,
                    progress,
                )
                .await;
            let recorded = match fetched {
                Ok(()) => self.record_pull(&full, &manifest, previous).await,
                Err(e) => Err(e),
            };
            if let Err(e) = self.store.lease_delete(&lease).await {
                tracing::warn!(error = %e, "cannot delete lease {lease}");
            }
            recorded?;
        }
        progress
            .status("", &format!("Digest: {top_digest}"))
            .await?;
        let status = if up_to_date {
            format!("Status: Image is up to date for {name}")
        } else {
            format!("Status: Downloaded newer image for {name}")
        };
        progress.status("", &status).await?;
        Ok(())
    }

    /// Points `full` at the pulled image; the image it pointed at before
    /// stays as a dangling image when that was its last name, as in Docker.
    async fn record_pull(
        &self,
        full: &str,
        manifest: &Descriptor,
        previous: Option<std::sync::Arc<super::Image>>,
    ) -> RegResult<()> {
        let image = self.read_image(manifest).await?;
        let _guard = self.write.lock().await;
        self.set_ref(full, &image).await?;
        let dangling = dangling_name(&image.id);
        if self.has_ref(&dangling) {
            self.drop_ref(&dangling).await?;
        }
        if let Some(old) = previous.filter(|o| o.id != image.id) {
            let left = self.get(&old.id).map(|o| o.refs.len()).unwrap_or(0);
            if left == 0 {
                self.set_ref(&dangling_name(&old.id), &old).await?;
            }
        }
        let short = familiar(full);
        self.emit("pull", &short, &short);
        Ok(())
    }

    /// Fetches config and layers into the content store under `lease` and
    /// unpacks the layers; writes config and manifest with their GC labels.
    #[allow(clippy::too_many_arguments)]
    async fn fetch(
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
                let _ = done_tx.send(done?);
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
                    .unpack(lease, &layers[..=next], &diff_ids[..=next])
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
        let cfg_labels = super::config_gc_labels(&top);
        self.store
            .write_blob(
                lease,
                &config_desc.digest,
                cfg_bytes.len() as u64,
                BlobSource::Bytes(cfg_bytes),
                cfg_labels,
            )
            .await?;
        let m_labels = super::manifest_gc_labels(
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

    /// The registry settings (`--insecure-registries`).
    pub(super) fn registries(&self) -> registry::Registries {
        self.registries
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Sets the registry settings (from the daemon's configuration).
    pub fn set_registries(&self, r: registry::Registries) {
        if let Ok(mut g) = self.registries.write() {
            *g = r;
        }
    }

    /// `POST /auth`: checks credentials against a registry; returns the
    /// identity token to keep (usually empty).
    pub async fn login(&self, auth: &AuthConfig) -> RegResult<String> {
        registry::login(&self.registries(), auth).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: &str, digest: &str) -> IndexEntry {
        IndexEntry {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            platform: Some(Platform {
                architecture: arch.into(),
                os: os.into(),
                variant: variant.into(),
            }),
        }
    }

    #[test]
    fn chooses_the_platform() {
        let entries = vec![
            entry("linux", "arm", "v7", "a"),
            entry("linux", "arm64", "v8", "b"),
            entry("windows", "amd64", "", "c"),
            entry("linux", "amd64", "", "d"),
            entry("unknown", "unknown", "", "e"),
        ];
        let amd64 = WantPlatform::parse("linux/amd64").unwrap();
        assert_eq!(amd64.choose(&entries).unwrap().digest, "d");
        let arm64 = WantPlatform::parse("linux/arm64").unwrap();
        assert_eq!(arm64.choose(&entries).unwrap().digest, "b");
        let armv7 = WantPlatform::parse("linux/arm/v7").unwrap();
        assert_eq!(armv7.choose(&entries).unwrap().digest, "a");
        let s390 = WantPlatform::parse("linux/s390x").unwrap();
        assert!(s390.choose(&entries).is_none());
        assert!(WantPlatform::parse("linux").is_err());
        assert_eq!(WantPlatform::parse("").unwrap(), WantPlatform::host());
    }

    #[test]
    fn references_from_the_api() {
        let r = pull_reference("busybox", "").unwrap();
        assert_eq!(r.full(), "docker.io/library/busybox:latest");
        let r = pull_reference("busybox:1.36", "").unwrap();
        assert_eq!(r.full(), "docker.io/library/busybox:1.36");
        let r = pull_reference("busybox:1.36", "musl").unwrap();
        assert_eq!(r.full(), "docker.io/library/busybox:musl");
        let d = format!("sha256:{}", "b".repeat(64));
        let r = pull_reference("127.0.0.1:5000/x/y", &d).unwrap();
        assert_eq!(r.full(), format!("127.0.0.1:5000/x/y@{d}"));
        assert!(pull_reference("busybox", "sha256:zz").is_err());
        assert!(pull_reference("Bad", "").is_err());
    }

    #[test]
    fn manifests_are_told_apart() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(AnyManifest::parse(idx, "x").unwrap().is_index());
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:aa","size":1},"layers":[]}"#;
        let m = AnyManifest::parse(m, "x").unwrap();
        assert!(!m.is_index());
        assert_eq!(m.manifest_media_type(), DOCKER_MANIFEST);
        let v1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(AnyManifest::parse(v1, "x").is_err());
    }
}

//! Interpreting what was staged: docker-archive (`manifest.json`) and OCI
//! layout (`index.json`) images, media types and platform choice.

use super::*;

impl Staging<'_> {
    pub(super) fn images(&self) -> Result<Vec<ArchiveImage>, ArchiveError> {
        if let Some(idx) = self.lookup(vec!["manifest.json".into()])? {
            return self.docker_images(idx);
        }
        if let Some(idx) = self.lookup(vec!["index.json".into()])? {
            return self.oci_images(idx);
        }
        bail!("not an image archive: found neither manifest.json (docker save format) nor index.json (OCI image layout)")
    }

    fn docker_images(&self, idx: usize) -> Result<Vec<ArchiveImage>, ArchiveError> {
        let (_, entries): (_, Vec<DockerManifestEntry>) = self.read_json(idx, "manifest.json")?;
        if entries.is_empty() {
            bail!("manifest.json lists no images");
        }
        entries.iter().map(|e| self.docker_image(e)).collect()
    }

    fn docker_image(&self, entry: &DockerManifestEntry) -> Result<ArchiveImage, ArchiveError> {
        let config_idx = self.require(&entry.config, "config")?;
        let paths = entry.layers.as_deref().unwrap_or_default();
        let what = format!("image config {:?}", entry.config);
        let diff_ids = self.diff_ids(config_idx, &what, paths.len())?;
        let mut layers = Vec::with_capacity(paths.len());
        for (path, diff_id) in paths.iter().zip(&diff_ids) {
            let file = &self.files[self.require(path, "layer")?];
            let media_type = file.sniff_layer_type(true);
            if media_type == DOCKER_LAYER {
                check_diff_id(file, diff_id, path)?;
            }
            layers.push(Layer {
                blob: file.blob(),
                media_type: media_type.to_owned(),
            });
        }
        let config = self.files[config_idx].blob();
        let manifest = schema2_manifest(&config, &layers)?;
        let refs = entry
            .repo_tags
            .iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        Ok(ArchiveImage {
            refs,
            config,
            layers,
            manifest,
        })
    }

    fn oci_images(&self, idx: usize) -> Result<Vec<ArchiveImage>, ArchiveError> {
        let (_, index): (_, OciDoc) = self.read_json(idx, "index.json")?;
        let mut images: Vec<ArchiveImage> = Vec::new();
        for desc in index.manifests.iter().flatten() {
            if is_attestation(desc) || media_kind(&desc.media_type) == Kind::Other {
                continue;
            }
            let image = self.oci_image(desc, 0)?;
            let refs = refs_of(desc);
            // Several index.json entries (one per tag) may share a manifest.
            match images
                .iter_mut()
                .find(|i| i.manifest.digest == image.manifest.digest)
            {
                Some(known) => {
                    for r in refs {
                        if !known.refs.contains(&r) {
                            known.refs.push(r);
                        }
                    }
                }
                None => images.push(ArchiveImage { refs, ..image }),
            }
        }
        if images.is_empty() {
            bail!("index.json lists no image manifests");
        }
        Ok(images)
    }

    /// Loads the image a descriptor points at, descending into indexes.
    fn oci_image(&self, desc: &OciDescriptor, depth: usize) -> Result<ArchiveImage, ArchiveError> {
        let what = format!("manifest {}", desc.digest);
        let idx = self.blob(desc, "manifest")?;
        let (bytes, doc): (_, OciDoc) = self.read_json(idx, &what)?;
        // The descriptor's media type, else the document's own, else guess.
        let guess = if doc.manifests.is_some() {
            OCI_INDEX
        } else {
            OCI_MANIFEST
        };
        let declared = Some(desc.media_type.as_str()).filter(|m| !m.is_empty());
        let media_type = declared
            .or(doc.media_type.as_deref())
            .unwrap_or(guess)
            .to_owned();
        match media_kind(&media_type) {
            Kind::Index if depth >= MAX_INDEX_DEPTH => {
                bail!("{what}: image indexes are nested too deeply")
            }
            Kind::Index => {
                let Some(chosen) = pick_platform(doc.manifests.as_deref().unwrap_or_default())
                else {
                    bail!(
                        "image index {} has no manifest for linux/{}",
                        desc.digest,
                        host_arch()
                    );
                };
                self.oci_image(chosen, depth + 1)
            }
            Kind::Manifest | Kind::Unspecified => self.oci_manifest(desc, doc, bytes, media_type),
            Kind::Other => bail!("{what} has unsupported media type {media_type:?}"),
        }
    }

    /// Loads the config and layers an image manifest points at.
    fn oci_manifest(
        &self,
        desc: &OciDescriptor,
        doc: OciDoc,
        bytes: Vec<u8>,
        media_type: String,
    ) -> Result<ArchiveImage, ArchiveError> {
        let Some(config) = &doc.config else {
            bail!("manifest {} has no config descriptor", desc.digest);
        };
        let descs = doc.layers.as_deref().unwrap_or_default();
        let config_idx = self.blob(config, "config")?;
        let what = format!("image config {}", config.digest);
        let diff_ids = self.diff_ids(config_idx, &what, descs.len())?;
        let mut layers = Vec::with_capacity(descs.len());
        for (desc, diff_id) in descs.iter().zip(&diff_ids) {
            let file = &self.files[self.blob(desc, "layer")?];
            let media_type = match desc.media_type.as_str() {
                "" => file.sniff_layer_type(false).to_owned(),
                mt => mt.to_owned(),
            };
            if media_type.ends_with(".tar") {
                check_diff_id(file, diff_id, &desc.digest)?;
            }
            layers.push(Layer {
                blob: file.blob(),
                media_type,
            });
        }
        let config = self.files[config_idx].blob();
        let manifest = ManifestBlob {
            media_type,
            bytes,
            digest: desc.digest.clone(),
        };
        Ok(ArchiveImage {
            refs: Vec::new(),
            config,
            layers,
            manifest,
        })
    }

    /// Finds and verifies the blob an OCI descriptor points at.
    fn blob(&self, desc: &OciDescriptor, what: &str) -> Result<usize, ArchiveError> {
        let digest = &desc.digest;
        let hex = match digest.split_once(':') {
            Some(("sha256", hex)) if is_hex64(hex) => hex,
            Some((alg, _)) if alg != "sha256" => {
                bail!("{what} digest {digest:?} uses unsupported algorithm {alg:?}")
            }
            _ => bail!("{what} digest {digest:?} is malformed"),
        };
        let comps = vec!["blobs".to_owned(), "sha256".to_owned(), hex.to_owned()];
        let Some(idx) = self.lookup(comps)? else {
            bail!("{what} blob {digest} is missing from the archive");
        };
        let file = &self.files[idx];
        if file.hex != hex {
            bail!(
                "{what} blob {digest} does not match its digest (content is {})",
                file.digest()
            );
        }
        match desc.size {
            Some(size) if size != file.size => {
                bail!(
                    "{what} blob {digest} has size {} but its descriptor says {size}",
                    file.size
                )
            }
            _ => Ok(idx),
        }
    }
}

/// Builds a deterministic Docker schema2 manifest for a docker-archive image.
pub(super) fn schema2_manifest(
    config: &Blob,
    layers: &[Layer],
) -> Result<ManifestBlob, ArchiveError> {
    let descriptor = |media_type, blob: &'_ Blob| Schema2Descriptor {
        media_type,
        size: blob.size,
        digest: blob.digest.clone(),
    };
    let manifest = Schema2Manifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST,
        config: descriptor(DOCKER_CONFIG, config),
        layers: layers
            .iter()
            .map(|l| descriptor(&l.media_type, &l.blob))
            .collect(),
    };
    let bytes =
        serde_json::to_vec(&manifest).map_err(|e| invalid!("cannot encode image manifest: {e}"))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    Ok(ManifestBlob {
        media_type: DOCKER_MANIFEST.to_owned(),
        bytes,
        digest,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Manifest,
    Index,
    Unspecified,
    Other,
}

pub(super) fn media_kind(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        "" => Kind::Unspecified,
        _ => Kind::Other,
    }
}

/// The host architecture, spelled as in OCI platforms (GOARCH).
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Buildx attestation manifests are not images.
pub(super) fn is_attestation(desc: &OciDescriptor) -> bool {
    let kind = desc
        .annotations
        .as_ref()
        .and_then(|a| a.get("vnd.docker.reference.type"));
    let unknown = desc
        .platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
    unknown || kind.is_some_and(|t| t == "attestation-manifest")
}

/// Chooses the manifest for linux/<host arch> from an index, or its only
/// image manifest.
pub(super) fn pick_platform(manifests: &[OciDescriptor]) -> Option<&OciDescriptor> {
    let candidates: Vec<&OciDescriptor> = manifests
        .iter()
        .filter(|d| !is_attestation(d) && media_kind(&d.media_type) != Kind::Other)
        .collect();
    let arch = host_arch();
    let native = candidates.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    });
    match (native, candidates.as_slice()) {
        (Some(d), _) | (None, [d]) => Some(*d),
        _ => None,
    }
}

/// Image names carried by an index.json descriptor.
pub(super) fn refs_of(desc: &OciDescriptor) -> Vec<String> {
    let Some(annotations) = &desc.annotations else {
        return Vec::new();
    };
    if let Some(name) = annotations.get("io.containerd.image.name") {
        return vec![name.clone()];
    }
    match annotations.get("org.opencontainers.image.ref.name") {
        // A bare tag ("latest") names no repository; only keep full refs.
        Some(name) if name.contains(['/', ':', '@']) => vec![name.clone()],
        _ => Vec::new(),
    }
}

/// One element of a docker-archive manifest.json.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DockerManifestEntry {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Option<Vec<String>>,
}

/// The part of an image config this reader needs.
#[derive(Deserialize)]
pub(super) struct ImageConfig {
    pub(super) rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
pub(super) struct RootFs {
    pub(super) diff_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OciDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: Option<u64>,
    annotations: Option<BTreeMap<String, String>>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
pub(super) struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// An OCI index or image manifest (or their Docker counterparts).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OciDoc {
    media_type: Option<String>,
    manifests: Option<Vec<OciDescriptor>>,
    config: Option<OciDescriptor>,
    layers: Option<Vec<OciDescriptor>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schema2Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Schema2Descriptor<'a>,
    layers: Vec<Schema2Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schema2Descriptor<'a> {
    media_type: &'a str,
    size: u64,
    digest: String,
}

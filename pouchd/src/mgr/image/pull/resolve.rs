//! Resolving what a pull fetches: the reference from the API's `fromImage`
//! and `tag`, the manifest (through a manifest list / index, to the wanted
//! platform) and its checks, before anything is written.

use super::super::reference::Reference;
use super::super::registry::{map_error, Doing, RegResult};
use crate::ctrd::Descriptor;
use crate::error::{Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub(in crate::mgr::image) const DOCKER_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v2+json";
pub(in crate::mgr::image) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(in crate::mgr::image) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(in crate::mgr::image) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
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
pub(super) const MAX_CONFIG: i64 = 32 << 20;
/// Layers downloaded at once (Docker's default).
pub(super) const CONCURRENT: usize = 3;

/// A content descriptor in a manifest.
#[derive(Debug, Clone, Deserialize)]
pub(in crate::mgr::image) struct Desc {
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
pub(in crate::mgr::image) struct AnyManifest {
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
    pub(in crate::mgr::image) fn parse(raw: &[u8], what: &str) -> Result<Self> {
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
    pub(in crate::mgr::image) fn manifest_media_type(&self) -> String {
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

pub(super) fn sha256_digest(data: &[u8]) -> String {
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

/// What a reference resolved to.
pub(super) struct Resolved {
    /// Digest of what the reference names (index or manifest): the one
    /// `RepoDigests` shows and `Digest:` reports.
    pub top_digest: String,
    /// The platform's manifest.
    pub doc: AnyManifest,
    pub manifest: Descriptor,
    pub manifest_raw: Vec<u8>,
    pub config: Desc,
}

/// Fetches and checks the manifest `oref` names, for `platform`; with
/// `want_digest` (a pull by digest), the registry must send exactly that.
pub(super) async fn resolve(
    client: &oci_client::Client,
    oref: &oci_client::Reference,
    creds: &oci_client::secrets::RegistryAuth,
    doing: &Doing<'_>,
    want_digest: Option<&str>,
    platform: &WantPlatform,
) -> RegResult<Resolved> {
    let name = doing.name;
    let accept = [
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        OCI_INDEX,
    ];
    let (raw, _) = client
        .pull_manifest_raw(oref, creds, &accept)
        .await
        .map_err(|e| map_error(e, doing))?;
    let top_digest = sha256_digest(&raw);
    if let Some(d) = want_digest {
        if d != top_digest {
            return Err(Error::invalid(format!(
                "{name}: the registry sent a manifest with digest {top_digest}"
            ))
            .into());
        }
    }
    let mut doc = AnyManifest::parse(&raw, name)?;
    let mut manifest_raw = raw.to_vec();
    if doc.is_index() {
        let entries = doc.manifests.take().unwrap_or_default();
        let entry = platform.choose(&entries).ok_or_else(|| {
            Error::not_found(format!(
                "no matching manifest for {} in the manifest list entries of {name}",
                platform.show()
            ))
        })?;
        let by_digest = oci_client::Reference::with_digest(
            oref.registry().to_string(),
            oref.repository().to_string(),
            entry.digest.clone(),
        );
        let (raw, _) = client
            .pull_manifest_raw(&by_digest, creds, &accept)
            .await
            .map_err(|e| map_error(e, doing))?;
        if sha256_digest(&raw) != entry.digest {
            return Err(Error::invalid(format!(
                "{name}: manifest {} does not match its digest",
                entry.digest
            ))
            .into());
        }
        doc = AnyManifest::parse(&raw, name)?;
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
    let config = doc
        .config
        .clone()
        .ok_or_else(|| Error::invalid(format!("{name}: manifest has no config")))?;
    if config.media_type != DOCKER_CONFIG && config.media_type != OCI_CONFIG {
        return Err(Error::invalid(format!(
            "{name} is not a container image (config media type {:?})",
            config.media_type
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
    Ok(Resolved {
        top_digest,
        doc,
        manifest,
        manifest_raw,
        config,
    })
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

//! Reader for `POST /images/load` input: a tar stream holding either a
//! docker-archive (`docker save` output, `manifest.json` at the root) or an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).
//!
//! The reader is pure and synchronous. Because tar entries may come in any
//! order (`manifest.json` is often last), every regular file is first copied
//! into a caller-provided staging directory under a generated name while its
//! sha256 and size are computed; links become aliases in an in-memory map of
//! archive paths. Only after the whole stream has been consumed are the
//! manifests interpreted. Nothing is ever created from an entry's name, and
//! every path (entry names, link targets, paths referenced from JSON) is
//! resolved lexically inside the archive root; anything that tries to escape
//! it, devices/FIFOs, missing references and corrupt blobs are rejected with
//! [`ArchiveError::Invalid`].

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Media types (Docker schema2 and OCI).
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Largest JSON document (manifest.json, index.json, manifests, configs)
/// read into memory.
const MAX_JSON: u64 = 16 << 20;
/// Largest amount of tar metadata (headers, PAX records, GNU long names)
/// the tar parser may consume between two entries.
const MAX_TAR_METADATA: u64 = 1 << 20;
/// Most entries accepted in one archive.
const MAX_ENTRIES: usize = 100_000;
/// Most link substitutions while resolving one path.
const MAX_LINK_HOPS: usize = 64;
/// Deepest nesting of OCI indexes followed.
const MAX_INDEX_DEPTH: usize = 8;

/// A file staged from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The staged copy, inside the staging directory.
    pub path: PathBuf,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer content, exactly as found in the archive.
    pub blob: Blob,
    /// Layer media type (Docker or OCI, compressed or not).
    pub media_type: String,
}

/// The manifest an image record in containerd will point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBlob {
    /// Manifest media type.
    pub media_type: String,
    /// The manifest bytes (built for a docker-archive, verbatim for OCI).
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

/// One image found in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveImage {
    /// Names as found in the archive, not normalized: `busybox:latest`,
    /// `docker.io/library/busybox:latest`, … Empty for an untagged image
    /// (loaded by ID). Bare OCI `ref.name` tags such as `latest`, which do
    /// not name a repository, are left out.
    pub refs: Vec<String>,
    /// The image config JSON.
    pub config: Blob,
    /// Layers in order, base first.
    pub layers: Vec<Layer>,
    /// The image manifest.
    pub manifest: ManifestBlob,
}

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The input is malformed, hostile or unsupported (a client error).
    #[error("{0}")]
    Invalid(String),
    /// Staging failed, or the input stream broke (a server-side error).
    #[error("archive I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Returns early with [`ArchiveError::Invalid`] and a formatted message.
macro_rules! bail {
    ($($arg:tt)*) => { return Err(ArchiveError::Invalid(format!($($arg)*))) };
}

/// Builds an [`ArchiveError::Invalid`] with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => { ArchiveError::Invalid(format!($($arg)*)) };
}

/// Maps an error met while reading the input: format problems are the
/// client's fault, anything else (e.g. a broken connection) is I/O.
fn read_error(e: io::Error, context: &str) -> ArchiveError {
    use io::ErrorKind::*;
    match e.kind() {
        Other | InvalidData | InvalidInput | UnexpectedEof => invalid!("{context}: {e}"),
        _ => ArchiveError::Io(e),
    }
}

/// Reads an image archive (plain tar) and returns the images it holds.
///
/// Every regular file of the archive is copied into `staging`, a directory
/// the caller creates beforehand and removes afterwards (also on error); the
/// returned [`Blob`]s point into it. Nothing is written anywhere else.
pub fn read_archive<R: Read>(input: R, staging: &Path) -> Result<Vec<ArchiveImage>, ArchiveError> {
    let input = sniff_compression(input)?;
    let mut archive = Staging {
        dir: staging,
        files: Vec::new(),
        nodes: HashMap::new(),
    };
    archive.ingest(input)?;
    archive.images()
}

/// Rejects empty and compressed input; returns a reader replaying the
/// peeked bytes.
fn sniff_compression<R: Read>(mut input: R) -> Result<impl Read, ArchiveError> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e, "reading archive")),
        }
    }
    let head = &head[..got];
    let kind = match head {
        [] => bail!("empty input: expected a tar archive"),
        [0x1f, 0x8b, ..] => "gzip",
        [b'B', b'Z', b'h', ..] => "bzip2",
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => "xz",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "zstd",
        _ => return Ok(io::Cursor::new(head.to_vec()).chain(input)),
    };
    bail!("{kind}-compressed archives are not supported: send an uncompressed tar (as written by `docker save`)")
}

/// Input wrapper that caps how much the tar parser may read while a budget
/// is set (i.e. between entries, where it buffers metadata in memory).
struct Metered<R> {
    inner: R,
    budget: Rc<Cell<Option<u64>>>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(left) = self.budget.get() else {
            return self.inner.read(buf);
        };
        if left == 0 {
            let msg = "tar headers (long names, PAX records) are too large";
            return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
        }
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        self.budget.set(Some(left.saturating_sub(n as u64)));
        Ok(n)
    }
}

/// A regular file copied into the staging directory.
struct Staged {
    path: PathBuf,
    hex: String,
    size: u64,
    /// The first bytes, to recognize compressed layers.
    head: Vec<u8>,
}

impl Staged {
    fn digest(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    fn blob(&self) -> Blob {
        Blob {
            path: self.path.clone(),
            digest: self.digest(),
            size: self.size,
        }
    }

    /// The layer media type matching the content's compression.
    fn sniff_layer_type(&self, docker: bool) -> &'static str {
        match (self.head.as_slice(), docker) {
            ([0x1f, 0x8b, ..], true) => DOCKER_LAYER_GZIP,
            ([0x1f, 0x8b, ..], false) => OCI_LAYER_GZIP,
            ([0x28, 0xb5, 0x2f, 0xfd, ..], _) => OCI_LAYER_ZSTD,
            (_, true) => DOCKER_LAYER,
            (_, false) => OCI_LAYER,
        }
    }
}

/// What an archive path stands for.
enum Node {
    /// A staged regular file (hardlinks point straight at their target).
    File(usize),
    /// A symlink, with its target resolved to root-relative components.
    Link(Vec<String>),
}

/// Lexically cleans `raw` relative to `base` (root-relative components).
/// Errors with the reason when `raw` is absolute or climbs above the root.
fn clean(base: &[String], raw: &str) -> Result<Vec<String>, &'static str> {
    if raw.starts_with('/') {
        return Err("is an absolute path");
    }
    let mut out = base.to_vec();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                out.pop().ok_or("escapes the archive root")?;
            }
            c => out.push(c.to_owned()),
        }
    }
    Ok(out)
}

struct Staging<'a> {
    dir: &'a Path,
    files: Vec<Staged>,
    /// Archive path (components joined by `/`) → what is there.
    nodes: HashMap<String, Node>,
}

impl Staging<'_> {
    /// Consumes the tar stream, staging files and recording links.
    fn ingest<R: Read>(&mut self, input: R) -> Result<(), ArchiveError> {
        let budget = Rc::new(Cell::new(None));
        let mut archive = tar::Archive::new(Metered {
            inner: input,
            budget: Rc::clone(&budget),
        });
        let mut entries = archive
            .entries()
            .map_err(|e| read_error(e, "reading tar archive"))?;
        for count in 1.. {
            budget.set(Some(MAX_TAR_METADATA));
            let next = entries.next();
            budget.set(None);
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|e| read_error(e, "malformed tar archive"))?;
            if count > MAX_ENTRIES {
                bail!("archive has more than {MAX_ENTRIES} entries");
            }
            self.add_entry(&mut entry)?;
            // Skip whatever data a non-file entry carries, outside the budget.
            io::copy(&mut entry, &mut io::sink())
                .map_err(|e| read_error(e, "reading tar archive"))?;
        }
        Ok(())
    }

    fn add_entry<T: Read>(&mut self, entry: &mut tar::Entry<'_, T>) -> Result<(), ArchiveError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let Ok(name) = String::from_utf8(entry.path_bytes().into_owned()) else {
            bail!("archive entry has a non-UTF-8 path");
        };
        let comps = clean(&[], &name).map_err(|why| invalid!("archive entry {name:?} {why}"))?;
        let key = comps.join("/");
        let file_like = kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse();
        if kind.is_dir() || (file_like && name.ends_with('/')) {
            return Ok(());
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            bail!("archive entry {name:?} is a device or FIFO, which an image archive must not contain");
        }
        if !(file_like || kind.is_symlink() || kind.is_hard_link()) {
            bail!(
                "archive entry {name:?} has unsupported type {:?}",
                char::from(kind.as_byte())
            );
        }
        if key.is_empty() {
            bail!("archive entry {name:?} names the archive root");
        }
        if file_like {
            let idx = self.stage(entry)?;
            self.nodes.insert(key, Node::File(idx));
            return Ok(());
        }
        // Symlink targets are relative to the link's directory, hardlink
        // targets to the archive root.
        let (what, base): (_, &[String]) = match comps.split_last() {
            Some((_, parent)) if kind.is_symlink() => ("symlink", parent),
            _ => ("hardlink", &[]),
        };
        let target = match entry
            .link_name_bytes()
            .map(|t| String::from_utf8(t.into_owned()))
        {
            Some(Ok(t)) if !t.is_empty() => t,
            Some(Err(_)) => bail!("{what} {name:?} has a non-UTF-8 target"),
            _ => bail!("{what} {name:?} has no target"),
        };
        let resolved = clean(base, &target)
            .map_err(|why| invalid!("{what} {name:?} -> {target:?}: target {why}"))?;
        let node = if kind.is_symlink() {
            Node::Link(resolved)
        } else {
            let Some(idx) = self.lookup(resolved)? else {
                bail!(
                    "hardlink {name:?} -> {target:?}: target is not an earlier file of the archive"
                );
            };
            Node::File(idx)
        };
        self.nodes.insert(key, node);
        Ok(())
    }

    /// Copies an entry's content into a fresh staging file.
    fn stage(&mut self, src: &mut impl Read) -> Result<usize, ArchiveError> {
        let idx = self.files.len();
        let path = self.dir.join(format!("blob-{idx}"));
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let (mut size, mut head) = (0u64, Vec::with_capacity(4));
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e, "reading archive entry")),
            };
            let chunk = &buf[..n];
            let take = (4 - head.len().min(4)).min(n);
            head.extend_from_slice(&chunk[..take]);
            hasher.update(chunk);
            out.write_all(chunk)?;
            size += n as u64;
        }
        out.flush()?;
        let hex = hex::encode(hasher.finalize());
        self.files.push(Staged {
            path,
            hex,
            size,
            head,
        });
        Ok(idx)
    }

    /// Resolves root-relative components to a staged file, following
    /// symlinks (also on parent directories). `None` when nothing is there.
    fn lookup(&self, mut comps: Vec<String>) -> Result<Option<usize>, ArchiveError> {
        let original = comps.join("/");
        for _ in 0..MAX_LINK_HOPS {
            match self.nodes.get(&comps.join("/")) {
                Some(Node::File(idx)) => return Ok(Some(*idx)),
                Some(Node::Link(target)) => {
                    comps = target.clone();
                    continue;
                }
                None => {}
            }
            // Is some parent directory a symlink?
            let parent_link =
                (1..comps.len()).find_map(|i| match self.nodes.get(&comps[..i].join("/")) {
                    Some(Node::Link(target)) => Some([target.as_slice(), &comps[i..]].concat()),
                    _ => None,
                });
            match parent_link {
                Some(next) => comps = next,
                None => return Ok(None),
            }
        }
        bail!("{original:?}: too many levels of symbolic links")
    }

    /// Resolves a path referenced from manifest.json.
    fn require(&self, raw: &str, what: &str) -> Result<usize, ArchiveError> {
        let comps =
            clean(&[], raw).map_err(|why| invalid!("manifest.json: {what} path {raw:?} {why}"))?;
        self.lookup(comps)?
            .ok_or_else(|| invalid!("manifest.json: {what} {raw:?} is missing from the archive"))
    }

    /// Reads a staged JSON document, refusing oversized ones.
    fn read_json<T: DeserializeOwned>(
        &self,
        idx: usize,
        what: &str,
    ) -> Result<(Vec<u8>, T), ArchiveError> {
        let file = &self.files[idx];
        if file.size > MAX_JSON {
            bail!(
                "{what} is too large ({} bytes, limit {MAX_JSON})",
                file.size
            );
        }
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        fs::File::open(&file.path)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut bytes)?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid!("{what} is not valid JSON: {e}"))?;
        Ok((bytes, value))
    }

    /// Reads an image config and checks it lists one diff ID per layer.
    fn diff_ids(&self, idx: usize, what: &str, layers: usize) -> Result<Vec<String>, ArchiveError> {
        let (_, config): (_, ImageConfig) = self.read_json(idx, what)?;
        let Some(rootfs) = config.rootfs else {
            bail!("{what} has no rootfs section");
        };
        let diff_ids = rootfs.diff_ids.unwrap_or_default();
        if diff_ids.len() != layers {
            bail!(
                "{what} lists {} layer diff_ids but the manifest has {layers} layers",
                diff_ids.len()
            );
        }
        Ok(diff_ids)
    }

    fn images(&self) -> Result<Vec<ArchiveImage>, ArchiveError> {
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

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An uncompressed layer's digest is its diff ID.
fn check_diff_id(file: &Staged, diff_id: &str, name: &str) -> Result<(), ArchiveError> {
    if file.digest() != diff_id {
        bail!(
            "layer {name:?} has content {} but the image config expects diff_id {diff_id}",
            file.digest()
        );
    }
    Ok(())
}

/// Builds a deterministic Docker schema2 manifest for a docker-archive image.
fn schema2_manifest(config: &Blob, layers: &[Layer]) -> Result<ManifestBlob, ArchiveError> {
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
enum Kind {
    Manifest,
    Index,
    Unspecified,
    Other,
}

fn media_kind(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        "" => Kind::Unspecified,
        _ => Kind::Other,
    }
}

/// The host architecture, spelled as in OCI platforms (GOARCH).
fn host_arch() -> &'static str {
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
fn is_attestation(desc: &OciDescriptor) -> bool {
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
fn pick_platform(manifests: &[OciDescriptor]) -> Option<&OciDescriptor> {
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
fn refs_of(desc: &OciDescriptor) -> Vec<String> {
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
struct DockerManifestEntry {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Option<Vec<String>>,
}

/// The part of an image config this reader needs.
#[derive(Deserialize)]
struct ImageConfig {
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    diff_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: Option<u64>,
    annotations: Option<BTreeMap<String, String>>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// An OCI index or image manifest (or their Docker counterparts).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciDoc {
    media_type: Option<String>,
    manifests: Option<Vec<OciDescriptor>>,
    config: Option<OciDescriptor>,
    layers: Option<Vec<OciDescriptor>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Schema2Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Schema2Descriptor<'a>,
    layers: Vec<Schema2Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Schema2Descriptor<'a> {
    media_type: &'a str,
    size: u64,
    digest: String,
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;

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

// After the macros: they are in scope for the modules declared below them.
pub(crate) mod formats;
use formats::*;

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

#[cfg(test)]
mod tests;

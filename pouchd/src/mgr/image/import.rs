//! `POST /images/create?fromSrc=`: a root filesystem tarball (plain or
//! gzip, from the request body or downloaded from a URL) becomes a
//! one-layer image.
//!
//! The tarball is staged to a file while its digest and, for gzip, the
//! digest of the uncompressed tar (the diff ID) are computed, then written
//! into the content store as the layer blob. Nothing here extracts it:
//! containerd's applier unpacks it into a snapshot and keeps every entry
//! (`../x`, absolute link targets) inside the snapshot's root.

use super::changes;
use super::create::{target_name, DOCKER_LAYER, DOCKER_LAYER_GZIP};
use super::{ImageMgr, WantPlatform};
use crate::ctrd::{BlobSource, BlobStream, Descriptor};
use crate::error::{Error, Result};
use bytes::Bytes;
use futures::StreamExt;
use pouch_api::container::Config;
use pouch_api::image::{ImageConfigFile, ImageConfigRootFs, ImageHistoryEntry};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// What `docker import` asks for besides the tarball.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub repo: String,
    pub tag: String,
    /// The commit message (`-m`), kept as the image's comment.
    pub message: String,
    /// Dockerfile instructions (`--change`).
    pub changes: Vec<String>,
    /// `os[/arch[/variant]]`; empty: the daemon's.
    pub platform: String,
}

/// What [`ImageMgr::import`] checked before reading any input.
pub struct ImportPlan {
    name: Option<String>,
    config: Config,
    platform: WantPlatform,
    message: String,
}

/// A staged tarball.
#[derive(Debug, PartialEq, Eq)]
struct Staged {
    digest: String,
    size: u64,
    diff_id: String,
    gzip: bool,
}

impl ImageMgr {
    /// Checks the options (a client error here is answered before the
    /// tarball is read).
    pub fn plan_import(&self, opts: ImportOptions) -> Result<ImportPlan> {
        let name = target_name(&opts.repo, &opts.tag)?;
        let config = changes::apply(Config::default(), &opts.changes)?;
        let platform = WantPlatform::parse(&opts.platform)?;
        if platform.os != "linux" {
            return Err(Error::invalid(format!(
                "unsupported os {}: only linux images can be imported",
                platform.os
            )));
        }
        Ok(ImportPlan {
            name,
            config,
            platform,
            message: opts.message,
        })
    }

    /// Imports the tarball read from `input`; returns the image ID.
    pub async fn import(&self, plan: ImportPlan, input: BlobStream) -> Result<String> {
        let path = self
            .staging
            .join(format!("import-{}", hex::encode(rand::random::<[u8; 8]>())));
        let result = self.import_staged(plan, input, &path).await;
        let _ = std::fs::remove_file(&path);
        result
    }

    async fn import_staged(
        &self,
        plan: ImportPlan,
        input: BlobStream,
        path: &Path,
    ) -> Result<String> {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
        let feeder = tokio::spawn(async move {
            let mut input = input;
            while let Some(chunk) = input.next().await {
                let stop = chunk.is_err();
                if tx.send(chunk).await.is_err() || stop {
                    return;
                }
            }
        });
        let dest = path.to_path_buf();
        let staged = tokio::task::spawn_blocking(move || stage(rx, &dest))
            .await
            .map_err(|e| Error::system(format!("import task: {e}")))?;
        feeder.abort();
        let staged = staged?;

        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let config = ImageConfigFile {
            architecture: plan.platform.arch.clone(),
            os: plan.platform.os.clone(),
            variant: plan.platform.variant.clone(),
            created: Some(created.clone()),
            comment: plan.message.clone(),
            config: Some(plan.config),
            rootfs: ImageConfigRootFs {
                r#type: "layers".to_string(),
                diff_ids: vec![staged.diff_id.clone()],
            },
            history: vec![ImageHistoryEntry {
                created: Some(created),
                comment: plan.message,
                ..Default::default()
            }],
            ..Default::default()
        };
        let layer = Descriptor {
            media_type: if staged.gzip {
                DOCKER_LAYER_GZIP
            } else {
                DOCKER_LAYER
            }
            .to_string(),
            digest: staged.digest.clone(),
            size: staged.size as i64,
        };
        let lease = self.store.lease_create().await?;
        let result = async {
            self.store
                .write_blob(
                    &lease,
                    &staged.digest,
                    staged.size,
                    BlobSource::File(path.to_path_buf()),
                    HashMap::new(),
                )
                .await?;
            self.create_image(&lease, &config, &[layer], plan.name.as_deref())
                .await
        }
        .await;
        if let Err(e) = self.store.lease_delete(&lease).await {
            tracing::warn!(error = %e, "cannot delete lease {lease}");
        }
        let image = result?;
        self.emit("import", &image.id, &image.id);
        Ok(image.id.clone())
    }
}

/// Downloads `src` (`http://…`, `https://…`, or a bare host/path taken as
/// http, as Docker does) as a stream.
pub async fn download(src: &str) -> Result<BlobStream> {
    let url = if src.contains("://") {
        src.to_string()
    } else {
        format!("http://{src}")
    };
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| Error::invalid(format!("invalid fromSrc URL {src:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "invalid fromSrc URL {src:?}: only http and https are supported"
        )));
    }
    super::registry::install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("pouchd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::system(format!("http client: {e}")))?;
    let resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| Error::system(format!("failed to GET {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::system(format!(
            "failed to GET {url} with status {}",
            resp.status()
        )));
    }
    let stream = futures::stream::unfold(Some(resp), |resp| async move {
        let mut resp = resp?;
        match resp.chunk().await {
            Ok(Some(b)) => Some((Ok(b), Some(resp))),
            Ok(None) => None,
            Err(e) => Some((Err(io::Error::other(format!("download: {e}"))), None)),
        }
    });
    Ok(Box::pin(stream))
}

/// Hashes what is written, keeping the first tar block to check it.
struct TarHasher {
    sha: Sha256,
    head: Vec<u8>,
    size: u64,
}

impl Write for TarHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha.update(buf);
        let take = (512 - self.head.len().min(512)).min(buf.len());
        self.head.extend_from_slice(&buf[..take]);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TarHasher {
    /// The diff ID, once the stream looked like a tar archive.
    fn finish(self) -> Result<String> {
        let not_tar = || Error::invalid("the imported file is not a tar archive");
        if self.head.len() < 512 {
            return Err(not_tar());
        }
        // An all-zero block ends an (empty) archive; anything else must be a
        // header with a valid checksum.
        if self.head.iter().any(|b| *b != 0) {
            let mut header = [0u8; 512];
            header.copy_from_slice(&self.head);
            let stored = tar::Header::from_byte_slice(&header)
                .cksum()
                .map_err(|_| not_tar())?;
            let sum: u32 = header
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        *b as u32
                    }
                })
                .sum();
            if sum != stored {
                return Err(not_tar());
            }
        }
        Ok(format!("sha256:{}", hex::encode(self.sha.finalize())))
    }
}

enum Sink {
    Plain(TarHasher),
    Gzip(Box<flate2::write::MultiGzDecoder<TarHasher>>),
}

/// Copies the chunks from `rx` into a new file at `path`, computing the
/// blob digest and the diff ID. Runs on the blocking pool.
fn stage(mut rx: mpsc::Receiver<io::Result<Bytes>>, path: &PathBuf) -> Result<Staged> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut raw = Sha256::new();
    let mut size = 0u64;
    let mut head: Vec<u8> = Vec::new();
    let mut sink: Option<Sink> = None;
    let hasher = || TarHasher {
        sha: Sha256::new(),
        head: Vec::with_capacity(512),
        size: 0,
    };
    let bad_gzip = |e: io::Error| Error::invalid(format!("invalid gzip data: {e}"));
    loop {
        let chunk = match rx.blocking_recv() {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => return Err(Error::system(format!("reading the tarball: {e}"))),
            None => None,
        };
        let eof = chunk.is_none();
        let data = chunk.unwrap_or_default();
        raw.update(&data);
        size += data.len() as u64;
        file.write_all(&data)?;
        // The compression is known from the first bytes.
        let pending: Vec<u8> = match sink {
            Some(_) => data.to_vec(),
            None => {
                head.extend_from_slice(&data);
                if head.len() < 6 && !eof {
                    continue;
                }
                sink = Some(match head.as_slice() {
                    [0x1f, 0x8b, ..] => {
                        Sink::Gzip(Box::new(flate2::write::MultiGzDecoder::new(hasher())))
                    }
                    [b'B', b'Z', b'h', ..] => return Err(unsupported("bzip2")),
                    [0xfd, b'7', b'z', b'X', b'Z', 0x00] => return Err(unsupported("xz")),
                    [0x28, 0xb5, 0x2f, 0xfd, ..] => return Err(unsupported("zstd")),
                    _ => Sink::Plain(hasher()),
                });
                std::mem::take(&mut head)
            }
        };
        match sink.as_mut() {
            Some(Sink::Plain(h)) => h.write_all(&pending)?,
            Some(Sink::Gzip(d)) => d.write_all(&pending).map_err(bad_gzip)?,
            None => {}
        }
        if eof {
            break;
        }
    }
    file.flush()?;
    file.sync_all()?;
    let digest = format!("sha256:{}", hex::encode(raw.finalize()));
    let (diff_id, gzip) = match sink {
        Some(Sink::Plain(h)) => (h.finish()?, false),
        Some(Sink::Gzip(d)) => (d.finish().map_err(bad_gzip)?.finish()?, true),
        None => return Err(Error::invalid("empty input: expected a tar archive")),
    };
    Ok(Staged {
        digest,
        size,
        diff_id,
        gzip,
    })
}

fn unsupported(kind: &str) -> Error {
    Error::invalid(format!(
        "{kind}-compressed tarballs are not supported: import a plain or gzip-compressed tar"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "x", &b"abc"[..]).expect("append");
        b.into_inner().expect("tar")
    }

    fn run(input: Vec<u8>) -> Result<Staged> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, rx) = mpsc::channel(4);
        // Small chunks: the compression sniffing must cope with them.
        let chunks: Vec<_> = input.chunks(3).map(Bytes::copy_from_slice).collect();
        std::thread::spawn(move || {
            for c in chunks {
                let _ = tx.blocking_send(Ok(c));
            }
        });
        stage(rx, &dir.path().join("blob"))
    }

    fn sha(b: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(b)))
    }

    #[test]
    fn plain_tar_diff_id_is_its_digest() {
        let t = tar_bytes();
        let s = run(t.clone()).expect("stage");
        assert_eq!(s.digest, sha(&t));
        assert_eq!(s.diff_id, sha(&t));
        assert!(!s.gzip);
    }

    #[test]
    fn gzip_tar_diff_id_is_the_uncompressed_digest() {
        let t = tar_bytes();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&t).expect("gzip");
        let gz = enc.finish().expect("gzip");
        let s = run(gz.clone()).expect("stage");
        assert_eq!(s.digest, sha(&gz));
        assert_eq!(s.size, gz.len() as u64);
        assert_eq!(s.diff_id, sha(&t));
        assert!(s.gzip);
    }

    #[test]
    fn non_tar_and_other_compressions_are_refused() {
        for input in [
            Vec::new(),
            b"hello world, not a tar".to_vec(),
            vec![b'x'; 2048],
            vec![0xfd, b'7', b'z', b'X', b'Z', 0x00, 1, 2],
            vec![0x1f, 0x8b, 0, 0, 0, 0, 0],
        ] {
            let e = run(input).expect_err("must fail");
            assert!(matches!(e, Error::InvalidParameter(_)), "{e:?}");
        }
    }
}

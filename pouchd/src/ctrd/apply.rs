//! Applying a layer blob to a prepared snapshot in pouchd (see
//! [`crate::archive::apply_layer`] for why), with containerd's `Diff.Apply`
//! left for what pouchd does not handle: other snapshotters' mounts, rootless
//! overlay (`userxattr`), and zstd layers.

use super::client::Ctrd;
use super::Descriptor;
use crate::archive::{self, ArchiveError, LayerTarget};
use crate::error::{Error, Result};
use bytes::{Buf, Bytes};
use containerd_client::types::Mount;
use futures::StreamExt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Where the layer goes: a directory, and the overlay lower directories
/// (topmost first) when it is an overlay upper directory.
#[derive(Debug, PartialEq)]
pub(super) struct LocalTarget {
    dir: PathBuf,
    lowers: Option<Vec<PathBuf>>,
}

/// The target of a snapshot prepared with `mounts`, when pouchd can write it
/// directly: the bind mount of a parentless snapshot, or an overlay's upper
/// directory (as containerd's own overlay applier does).
pub(super) fn local_target(mounts: &[Mount], has_parent: bool) -> Option<LocalTarget> {
    let [m] = mounts else { return None };
    let target = match m.r#type.as_str() {
        // A bind mount with a parent is a full copy (the native snapshotter),
        // where an opaque directory must delete what is below it.
        "bind" if !has_parent => LocalTarget {
            dir: PathBuf::from(&m.source),
            lowers: None,
        },
        "overlay" => {
            let (mut upper, mut lowers) = (None, None);
            for o in &m.options {
                match o.split_once('=') {
                    Some(("upperdir", v)) => upper = Some(PathBuf::from(v)),
                    Some(("lowerdir", v)) => {
                        lowers = Some(v.split(':').map(PathBuf::from).collect::<Vec<_>>())
                    }
                    // Rootless overlay takes user.* whiteout xattrs.
                    None if o == "userxattr" => return None,
                    _ => {}
                }
            }
            LocalTarget {
                dir: upper?,
                lowers: Some(lowers?),
            }
        }
        _ => return None,
    };
    // A containerd in another mount namespace: its paths are not ours.
    let visible = |p: &Path| p.is_dir();
    let lowers_visible = target.lowers.iter().flatten().all(|p| visible(p));
    (visible(&target.dir) && lowers_visible).then_some(target)
}

impl Ctrd {
    /// Applies `layer` (from the content store) to `target`; returns its diff
    /// ID, or `None` when the blob's compression is one pouchd leaves to
    /// containerd.
    pub(super) async fn apply_locally(
        &self,
        layer: &Descriptor,
        target: LocalTarget,
    ) -> Result<Option<String>> {
        // The blob file itself when containerd's content store is here: no
        // second trip of the layer through gRPC.
        let file = self
            .content_root
            .as_ref()
            .and_then(|root| blob_path(root, &layer.digest))
            .and_then(|p| std::fs::File::open(p).ok());
        let (blob, first): (Box<dyn Read + Send>, Bytes) = match file {
            Some(f) => {
                let mut f = io::BufReader::with_capacity(256 << 10, f);
                let first = io::BufRead::fill_buf(&mut f)
                    .map_err(|e| Error::system(format!("read {}: {e}", layer.digest)))?;
                let first = Bytes::copy_from_slice(&first[..first.len().min(8)]);
                (Box::new(f), first)
            }
            None => self.blob_over_grpc(&layer.digest).await?,
        };
        if first.starts_with(ZSTD_MAGIC) {
            return Ok(None);
        }
        let gzip = first.starts_with(GZIP_MAGIC);
        let applied = tokio::task::spawn_blocking(move || {
            let input: Box<dyn Read> = match gzip {
                true => Box::new(flate2::read::MultiGzDecoder::new(blob)),
                false => blob,
            };
            let target = match &target.lowers {
                None => LayerTarget::Base(&target.dir),
                Some(lowers) => LayerTarget::Overlay {
                    upper: &target.dir,
                    lowers,
                },
            };
            archive::apply_layer(target, input)
        })
        .await;
        match applied {
            Ok(Ok(diff_id)) => Ok(Some(diff_id)),
            Ok(Err(ArchiveError::Invalid(m))) => Err(Error::invalid(m)),
            Ok(Err(e)) => Err(Error::system(e)),
            Err(e) => Err(Error::system(format!("layer extraction: {e}"))),
        }
    }
}

/// `<root>/blobs/sha256/<hex>`, for a well-formed sha256 digest only: the
/// digest comes from a registry's manifest.
fn blob_path(root: &Path, digest: &str) -> Option<PathBuf> {
    let hex = digest.strip_prefix("sha256:")?;
    let well_formed =
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then(|| root.join("blobs/sha256").join(hex))
}

impl Ctrd {
    /// A blocking reader of blob `digest` streamed from containerd's
    /// Content.Read through a small queue (never the whole layer in memory),
    /// and its first chunk, also at the reader's start.
    async fn blob_over_grpc(&self, digest: &str) -> Result<(Box<dyn Read + Send>, Bytes)> {
        let mut stream = super::ImageStore::read_blob_stream(self, digest).await?;
        let first = match stream.next().await {
            Some(chunk) => chunk.map_err(|e| Error::system(format!("read {digest}: {e}")))?,
            None => Bytes::new(),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(8);
        let head = first.clone();
        tokio::spawn(async move {
            if tx.send(Ok(head)).await.is_err() {
                return;
            }
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk).await.is_err() {
                    return; // the extraction stopped and said why
                }
            }
        });
        let reader = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        Ok((Box::new(reader), first))
    }
}

/// A blocking reader over chunks arriving on a channel.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.cur = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(ty: &str, source: &str, options: &[&str]) -> Mount {
        Mount {
            r#type: ty.to_string(),
            source: source.to_string(),
            target: String::new(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn blob_paths_only_for_well_formed_digests() {
        let root = Path::new("/c");
        let hex = "ab".repeat(32);
        let want = PathBuf::from(format!("/c/blobs/sha256/{hex}"));
        assert_eq!(blob_path(root, &format!("sha256:{hex}")), Some(want));
        for bad in [
            format!("sha256:../../{}", &hex[6..]),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha512:{hex}"),
            format!("sha256:{hex}0"),
            "sha256:".to_string(),
        ] {
            assert_eq!(blob_path(root, &bad), None, "{bad}");
        }
    }

    #[test]
    fn channel_reader_reads_across_chunks_and_reports_errors() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"hel"))).unwrap();
        tx.try_send(Ok(Bytes::new())).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"lo"))).unwrap();
        drop(tx);
        let mut out = String::new();
        let mut r = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello");

        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"x"))).unwrap();
        tx.try_send(Err(io::Error::other("gone"))).unwrap();
        let mut r = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "gone");
    }

    #[test]
    fn targets_of_containerd_mounts() {
        let tmp = tempfile::TempDir::new().unwrap();
        let d = |n: &str| {
            let p = tmp.path().join(n);
            std::fs::create_dir_all(&p).unwrap();
            p.to_string_lossy().into_owned()
        };
        let (up, l1, l2, fs) = (d("3/fs"), d("2/fs"), d("1/fs"), d("1b/fs"));
        let bind = [mount("bind", &fs, &["rw", "rbind"])];
        assert_eq!(
            local_target(&bind, false),
            Some(LocalTarget {
                dir: fs.clone().into(),
                lowers: None
            })
        );
        // A native snapshotter's copy of its parent.
        assert_eq!(local_target(&bind, true), None);
        let work = d("3/work");
        let lower = format!("lowerdir={l1}:{l2}");
        let (upper, workdir) = (format!("upperdir={up}"), format!("workdir={work}"));
        let ov = [mount(
            "overlay",
            "overlay",
            &["index=off", &workdir, &upper, &lower],
        )];
        assert_eq!(
            local_target(&ov, true),
            Some(LocalTarget {
                dir: up.clone().into(),
                lowers: Some(vec![l1.clone().into(), l2.clone().into()])
            })
        );
        let rootless = [mount("overlay", "overlay", &[&upper, &lower, "userxattr"])];
        assert_eq!(local_target(&rootless, true), None);
        // A read-only view, and paths this mount namespace does not have.
        let view = [mount("overlay", "overlay", &[&lower])];
        assert_eq!(local_target(&view, true), None);
        let elsewhere = [mount("bind", "/nonexistent/1/fs", &["rbind"])];
        assert_eq!(local_target(&elsewhere, false), None);
        assert_eq!(local_target(&[], false), None);
        assert_eq!(
            local_target(&[bind[0].clone(), bind[0].clone()], false),
            None
        );
    }
}

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
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Where the layer goes: a directory, and the overlay lower directories
/// (topmost first) when it is an overlay upper directory.
#[derive(Debug, PartialEq)]
pub(super) struct LocalTarget {
    pub(super) dir: PathBuf,
    pub(super) lowers: Option<Vec<PathBuf>>,
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
        let Some(input) = self.layer_reader(&layer.digest).await? else {
            return Ok(None);
        };
        let applied = tokio::task::spawn_blocking(move || {
            let target = match &target.lowers {
                None => LayerTarget::Base(&target.dir),
                Some(lowers) => LayerTarget::Overlay {
                    upper: &target.dir,
                    lowers,
                },
            };
            let applied = archive::apply_layer(target, input);
            release_memory();
            applied
        })
        .await;
        extraction_result(applied).map(|a| Some(a.diff_id))
    }

    /// The uncompressed tar of layer blob `digest`, or `None` for zstd. Read
    /// from the blob file itself when containerd's content store is here (no
    /// second trip of the layer through gRPC).
    async fn layer_reader(&self, digest: &str) -> Result<Option<Box<dyn Read + Send>>> {
        let file = self
            .content_root
            .as_ref()
            .and_then(|root| blob_path(root, digest))
            .and_then(|p| std::fs::File::open(p).ok());
        let (blob, first): (Box<dyn Read + Send>, Bytes) = match file {
            Some(f) => {
                let mut f = io::BufReader::with_capacity(256 << 10, f);
                let first = io::BufRead::fill_buf(&mut f)
                    .map_err(|e| Error::system(format!("read {digest}: {e}")))?;
                let first = Bytes::copy_from_slice(&first[..first.len().min(8)]);
                (Box::new(f), first)
            }
            None => self.blob_over_grpc(digest).await?,
        };
        Ok(match first {
            f if f.starts_with(ZSTD_MAGIC) => None,
            f if f.starts_with(GZIP_MAGIC) => {
                Some(Box::new(flate2::read::MultiGzDecoder::new(blob)))
            }
            _ => Some(blob),
        })
    }

    /// Starts extracting `layer` into a staging directory of its own, so
    /// that layers downloaded out of order extract side by side; the unpack
    /// that reaches the layer then only moves it into its snapshot
    /// ([`Ctrd::place_staged`]). Nothing to do when its snapshot (`chain`)
    /// exists, it is being staged already, or there is no staging directory.
    pub(super) async fn stage(&self, layer: &Descriptor, chain: &str, has_parent: bool) {
        let Some(root) = self.staging.root.clone() else {
            return;
        };
        if self.staging.contains(&layer.digest)
            || matches!(self.snapshot_exists(chain).await, Ok(true))
        {
            return;
        }
        let me = self.clone();
        let digest = layer.digest.clone();
        self.staging.start(&layer.digest, async move {
            // The digest comes from a manifest: only its hex digits name a path.
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            let short: String = hex
                .chars()
                .filter(char::is_ascii_hexdigit)
                .take(12)
                .collect();
            let dir = root.join(format!("{short}-{}", super::image::rand_suffix()));
            me.extract_staged(&digest, dir, has_parent).await
        });
    }

    async fn extract_staged(
        &self,
        digest: &str,
        dir: PathBuf,
        overlay: bool,
    ) -> Result<Option<Staged>> {
        let Some(input) = self.layer_reader(digest).await? else {
            return Ok(None);
        };
        let staged_dir = dir.clone();
        let applied = tokio::task::spawn_blocking(move || {
            std::fs::create_dir(&staged_dir)?;
            // It becomes the snapshot's root, which containerd makes 0755.
            std::fs::set_permissions(
                &staged_dir,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )?;
            let target = LayerTarget::Staged {
                dir: &staged_dir,
                overlay,
            };
            let applied = archive::apply_layer(target, input);
            release_memory();
            applied
        })
        .await;
        match extraction_result(applied) {
            Ok(a) => Ok(Some(Staged {
                dir,
                overlay,
                applied: a,
            })),
            Err(e) => {
                remove_staged(dir).await;
                Err(e)
            }
        }
    }

    /// Moves the staged extraction of `digest`, if there is one, into
    /// `target` (an empty snapshot directory); returns its diff ID. `None`
    /// (and the staged files gone) when there was none, it failed, or it was
    /// made for another kind of target: the caller applies the layer itself.
    pub(super) async fn place_staged(&self, digest: &str, target: &LocalTarget) -> Option<String> {
        let job = self.staging.take(digest)?;
        let staged = match job.await {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => return None,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "staged extraction of {digest}");
                return None;
            }
            Err(e) => {
                tracing::debug!(error = %e, "staged extraction of {digest}");
                return None;
            }
        };
        if staged.overlay != target.lowers.is_some() {
            remove_staged(staged.dir).await;
            return None;
        }
        let (dir, lowers) = (
            target.dir.clone(),
            target.lowers.clone().unwrap_or_default(),
        );
        let implicit = staged.applied.implicit_dirs;
        let from = staged.dir.clone();
        let placed = tokio::task::spawn_blocking(move || {
            archive::adopt_parents(&from, &implicit, &lowers)?;
            // containerd made `dir` empty; a directory renamed onto an empty
            // one replaces it.
            std::fs::rename(&from, &dir)?;
            Ok::<_, ArchiveError>(())
        })
        .await;
        match placed {
            Ok(Ok(())) => Some(staged.applied.diff_id),
            r => {
                tracing::debug!(result = ?r.map(|r| r.err()), "placing staged layer {digest}");
                remove_staged(staged.dir).await;
                None
            }
        }
    }

    /// Drops what [`Ctrd::stage`] made for `digests` and no unpack used.
    pub(super) fn unstage(&self, digests: &[String]) {
        for d in digests {
            if let Some(job) = self.staging.take(d) {
                tokio::spawn(async move {
                    if let Ok(Ok(Some(s))) = job.await {
                        remove_staged(s.dir).await;
                    }
                });
            }
        }
    }
}

/// Gives the extraction's buffers (decompressor windows, read and copy
/// buffers, freed by now) back to the system: glibc keeps freed memory in
/// the arena of the blocking thread that used it, and an idle daemon would
/// carry every pull's high-water mark.
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn extraction_result<T>(
    r: std::result::Result<std::result::Result<T, ArchiveError>, tokio::task::JoinError>,
) -> Result<T> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(ArchiveError::Invalid(m))) => Err(Error::invalid(m)),
        Ok(Err(e)) => Err(Error::system(e)),
        Err(e) => Err(Error::system(format!("layer extraction: {e}"))),
    }
}

async fn remove_staged(dir: PathBuf) {
    let r = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err((dir, e)),
        _ => Ok(()),
    })
    .await;
    if let Ok(Err((dir, e))) = r {
        tracing::warn!(error = %e, "cannot remove staged layer {}", dir.display());
    }
}

/// A layer extracted ahead of its turn.
struct Staged {
    pub(super) dir: PathBuf,
    /// Whiteouts made for overlayfs (the layer has a parent).
    overlay: bool,
    applied: archive::Applied,
}

type StagingJob = tokio::task::JoinHandle<Result<Option<Staged>>>;

/// The staging directory (`<snapshotter root>/pouchd-staging/<namespace>`,
/// on the snapshots' filesystem so that a staged layer moves in with one
/// rename) and the extractions under way or done there, by layer digest.
#[derive(Default)]
pub(super) struct Staging {
    root: Option<PathBuf>,
    jobs: std::sync::Mutex<HashMap<String, StagingJob>>,
}

impl Staging {
    /// Staging under `snapshotter_root`, emptied of what an earlier daemon
    /// left (a staged layer is never in use across restarts).
    pub(super) fn new(snapshotter_root: Option<&Path>, namespace: &str) -> Staging {
        let root = snapshotter_root.and_then(|r| {
            let root = r.join("pouchd-staging").join(namespace);
            match std::fs::remove_dir_all(&root) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    tracing::warn!(error = %e, "cannot empty {}", root.display());
                }
                _ => {}
            }
            std::fs::create_dir_all(&root).ok().map(|()| root)
        });
        Staging {
            root,
            jobs: Default::default(),
        }
    }

    fn contains(&self, digest: &str) -> bool {
        self.jobs
            .lock()
            .map(|j| j.contains_key(digest))
            .unwrap_or(true)
    }

    /// Spawns `extraction` as the job of `digest`, unless one is there
    /// already (two pulls sharing a layer): checked and recorded under one
    /// lock, so that no job goes unrecorded and its files unremoved.
    fn start(
        &self,
        digest: &str,
        extraction: impl std::future::Future<Output = Result<Option<Staged>>> + Send + 'static,
    ) {
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        if !jobs.contains_key(digest) {
            jobs.insert(digest.to_string(), tokio::spawn(extraction));
        }
    }

    fn take(&self, digest: &str) -> Option<StagingJob> {
        self.jobs.lock().ok()?.remove(digest)
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

    #[tokio::test]
    async fn one_staging_job_per_layer() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let staging = Staging::default();
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let runs = runs.clone();
            staging.start("sha256:aa", async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            });
        }
        assert!(staging.contains("sha256:aa"));
        let job = staging.take("sha256:aa").unwrap();
        assert!(matches!(job.await, Ok(Ok(None))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(staging.take("sha256:aa").is_none());
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

//! A container's init layer, as Docker's: a committed snapshot `<key>-init`
//! between the image and the container's writable snapshot, holding the
//! mount points runc would otherwise create in the writable layer (the
//! files pouchd bind-mounts: /etc/hosts, /etc/hostname, /etc/resolv.conf;
//! /proc, /sys, /dev) and Docker's /.dockerenv. A commit, `diff` and the
//! container's size then see only what the container itself changed.
//!
//! Only what the image lacks is made, so the image's own files stay visible
//! when the container does not run (`cp`, `export`). Missing parents take
//! the owner and mode the image gives them.

use super::apply::local_target;
use super::client::Ctrd;
use super::SNAPSHOT_LABEL;
use crate::archive::{apply_layer, LayerTarget};
use crate::error::{Error, Result};
use containerd_client::services::v1::snapshots::{
    CommitSnapshotRequest, PrepareSnapshotRequest, RemoveSnapshotRequest,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Paths of the init layer: directories end with `/`.
const ENTRIES: &[&str] = &[
    "dev/",
    "proc/",
    "sys/",
    "etc/",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    ".dockerenv",
];

/// The committed init snapshot of container snapshot `key`.
pub(super) fn init_name(key: &str) -> String {
    format!("{key}-init")
}

/// The active snapshot the init layer is written in before its commit.
pub(super) fn init_work_key(key: &str) -> String {
    format!("{key}-init-prep")
}

/// Whether `rel` exists in the topmost of `lowers` that has it (an overlay
/// whiteout there means it was deleted).
fn in_lowers(lowers: &[PathBuf], rel: &str) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for l in lowers {
        if let Ok(md) = std::fs::symlink_metadata(l.join(rel.trim_end_matches('/'))) {
            return !(md.file_type().is_char_device() && md.rdev() == 0);
        }
    }
    false
}

/// The init layer as a tar of what `lowers` lack.
fn init_tar(lowers: &[PathBuf]) -> std::io::Result<Option<Vec<u8>>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut any = false;
    for e in ENTRIES {
        if in_lowers(lowers, e) {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        if let Some(dir) = e.strip_suffix('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_mtime(0);
            b.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(0);
            h.set_mtime(0);
            b.append_data(&mut h, e, std::io::empty())?;
        }
        any = true;
    }
    let data = b.into_inner()?;
    Ok(any.then_some(data))
}

/// Writes the init layer into `dir`, above `lowers`. Blocking.
fn write_init_layer(dir: &Path, lowers: &[PathBuf]) -> Result<()> {
    let Some(tar) = init_tar(lowers)? else {
        return Ok(());
    };
    let target = if lowers.is_empty() {
        LayerTarget::Base(dir)
    } else {
        LayerTarget::Overlay { upper: dir, lowers }
    };
    apply_layer(target, std::io::Cursor::new(tar))
        .map_err(|e| Error::system(format!("writing the init layer: {e}")))?;
    Ok(())
}

impl Ctrd {
    /// Labels of a container's snapshots: a GC root until the container
    /// record references them (containerd's collector keeps them), and the
    /// container's key, by which the start-up sweep finds them should the
    /// container's metadata be gone.
    pub(super) fn container_snapshot_labels(key: &str) -> HashMap<String, String> {
        HashMap::from([
            (
                "containerd.io/gc.root".to_string(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            (SNAPSHOT_LABEL.to_string(), key.to_string()),
        ])
    }

    /// Makes `<key>-init` over `parent`; its name, or `parent` itself when
    /// the snapshotter's directories are not usable here (then runc's mount
    /// points land in the container's own layer, as before).
    pub(super) async fn prepare_init_layer(&self, key: &str, parent: &str) -> Result<String> {
        let name = init_name(key);
        let work = init_work_key(key);
        let prepare = PrepareSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: work.clone(),
            parent: parent.to_string(),
            labels: Self::container_snapshot_labels(key),
        };
        let mounts = match self.snapshots().prepare(prepare).await {
            Ok(r) => r.into_inner().mounts,
            Err(s) if s.code() == tonic::Code::AlreadyExists => {
                // Left by an earlier attempt: redone from scratch.
                self.remove_work_snapshot(&work).await?;
                return Box::pin(self.prepare_init_layer(key, parent)).await;
            }
            Err(s) => return Err(Error::from(s).context(format!("prepare snapshot {work}"))),
        };
        let Some(target) = local_target(&mounts, !parent.is_empty()) else {
            self.remove_work_snapshot(&work).await?;
            return Ok(parent.to_string());
        };
        let dir = target.dir.clone();
        let lowers = target.lowers.clone().unwrap_or_default();
        let written = tokio::task::spawn_blocking(move || write_init_layer(&dir, &lowers))
            .await
            .map_err(|e| Error::system(format!("init layer task: {e}")))?;
        if let Err(e) = written {
            // An image the strict extractor refuses (a parent through a
            // symlink): the container goes without an init layer.
            tracing::warn!(key, error = %e, "container without an init layer");
            self.remove_work_snapshot(&work).await?;
            return Ok(parent.to_string());
        }
        let commit = CommitSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            name: name.clone(),
            key: work.clone(),
            labels: Self::container_snapshot_labels(key),
        };
        match self.snapshots().commit(commit).await {
            Ok(_) => Ok(name),
            Err(s) if s.code() == tonic::Code::AlreadyExists => {
                self.remove_work_snapshot(&work).await?;
                Ok(name)
            }
            Err(s) => {
                let _ = self.remove_work_snapshot(&work).await;
                Err(Error::from(s).context(format!("commit snapshot {name}")))
            }
        }
    }

    async fn remove_work_snapshot(&self, key: &str) -> Result<()> {
        let req = RemoveSnapshotRequest {
            snapshotter: self.snapshotter.clone(),
            key: key.to_string(),
        };
        match self.snapshots().remove(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(Error::from(s).context(format!("remove snapshot {key}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_image_lacks_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("proc")).unwrap();
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::write(lower.join("etc/hosts"), "image hosts\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(lower.join("etc"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        write_init_layer(&upper, std::slice::from_ref(&lower)).unwrap();
        let exists = |p: &str| upper.join(p).exists();
        assert!(exists("etc/hostname"));
        assert!(exists("etc/resolv.conf"));
        assert!(exists(".dockerenv"));
        assert!(exists("sys") && exists("dev"));
        // The image's own stay visible.
        assert!(!exists("etc/hosts"));
        assert!(!exists("proc"));
        // A parent made for the layer keeps the image's mode.
        let mode = std::fs::metadata(upper.join("etc"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o750);
        let md = std::fs::metadata(upper.join("etc/hostname")).unwrap();
        assert_eq!(md.len(), 0);
        assert_eq!(md.permissions().mode() & 0o777, 0o644);
    }

    #[test]
    fn a_whited_out_file_counts_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("top");
        let below = dir.path().join("below");
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::create_dir_all(below.join("etc")).unwrap();
        std::fs::write(below.join("etc/hostname"), "x").unwrap();
        nix::sys::stat::mknod(
            &top.join("etc/hostname"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        assert!(!in_lowers(&[top.clone(), below.clone()], "etc/hostname"));
        assert!(in_lowers(&[below], "etc/hostname"));
    }
}

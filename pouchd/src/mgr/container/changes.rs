//! `GET /containers/{id}/changes`: what the container changed, read from the
//! upper (writable) layer of its overlay snapshot without following links.

use super::ContainerMgr;
use crate::error::Result;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Docker's change kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// One changed path, absolute inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

fn exists_below(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

/// Walks `upper`, classifying each entry against the `lowers` (top first).
pub fn diff(upper: &Path, lowers: &[PathBuf]) -> Vec<Change> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(upper.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = rel.join(entry.file_name());
            let Ok(md) = entry.metadata() else { continue };
            let path = format!("/{}", child.display());
            // overlayfs marks deletions with a 0/0 character device.
            if md.file_type().is_char_device() && md.rdev() == 0 {
                out.push(Change {
                    path,
                    kind: ChangeKind::Deleted,
                });
                continue;
            }
            let kind = if exists_below(lowers, &child) {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            };
            out.push(Change { path, kind });
            if md.is_dir() {
                stack.push(child);
            }
        }
    }
    // runc creates empty mount points for the files pouchd bind-mounts; they
    // are not the container's changes (Docker hides them in an init layer).
    out.retain(|c| {
        let mount_point =
            ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].contains(&c.path.as_str());
        !(mount_point
            && c.kind == ChangeKind::Added
            && std::fs::symlink_metadata(upper.join(&c.path[1..])).is_ok_and(|m| m.len() == 0))
    });
    // A directory only counts as modified when something in it changed.
    let paths: Vec<String> = out.iter().map(|c| c.path.clone()).collect();
    out.retain(|c| {
        c.kind != ChangeKind::Modified
            || !std::fs::symlink_metadata(upper.join(&c.path[1..])).is_ok_and(|m| m.is_dir())
            || paths.iter().any(|p| p.starts_with(&format!("{}/", c.path)))
    });
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

impl ContainerMgr {
    pub async fn changes(&self, reference: &str) -> Result<Vec<Change>> {
        let c = self.get(reference)?;
        let mounts = self.rt.snapshot_mounts(&c.meta().snapshot_key).await?;
        let dirs = super::start::layer_dirs(&mounts);
        let upper = mounts
            .iter()
            .flat_map(|m| m.options.iter())
            .find_map(|o| o.strip_prefix("upperdir="))
            .map(PathBuf::from);
        Ok(match upper {
            Some(u) => {
                let lowers: Vec<PathBuf> = dirs.into_iter().filter(|d| *d != u).collect();
                tokio::task::spawn_blocking(move || diff(&u, &lowers))
                    .await
                    .unwrap_or_default()
            }
            // A bind mount of a single layer: everything in it was added.
            None => match dirs.first().cloned() {
                Some(d) => tokio::task::spawn_blocking(move || diff(&d, &[]))
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_added_modified_deleted() {
        let upper = tempfile::tempdir().unwrap();
        let lower = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(lower.path().join("etc")).unwrap();
        std::fs::write(lower.path().join("etc/hosts"), "x").unwrap();
        std::fs::write(lower.path().join("gone"), "x").unwrap();
        std::fs::create_dir_all(upper.path().join("etc")).unwrap();
        std::fs::write(upper.path().join("etc/hosts"), "y").unwrap();
        std::fs::write(upper.path().join("new"), "y").unwrap();
        nix::sys::stat::mknod(
            &upper.path().join("gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0),
            0,
        )
        .unwrap();
        // A link in the upper layer is reported, never followed.
        std::os::unix::fs::symlink("/", upper.path().join("rootlink")).unwrap();
        let got = diff(upper.path(), &[lower.path().to_path_buf()]);
        let kinds: Vec<(&str, ChangeKind)> =
            got.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("/etc", ChangeKind::Modified),
                ("/etc/hosts", ChangeKind::Modified),
                ("/gone", ChangeKind::Deleted),
                ("/new", ChangeKind::Added),
                ("/rootlink", ChangeKind::Added),
            ]
        );
    }
}

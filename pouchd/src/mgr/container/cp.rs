//! `docker cp` and `docker export`: the container's filesystem, reached as a
//! root directory fd on which every path is resolved inside the container
//! (see `archive`). A running container is reached through its process's
//! root; a stopped one (and every export) through a private mount of its
//! snapshot that is unmounted when the operation ends.

use super::ContainerMgr;
use crate::archive::{self, ArchiveError, PathStat};
use crate::error::{Error, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

fn map_err(e: ArchiveError, id: &str) -> Error {
    match e {
        ArchiveError::NotFound(_) => Error::not_found(format!("{e} in container {id}")),
        ArchiveError::Invalid(m) => Error::InvalidParameter(m),
        ArchiveError::Io(e) => Error::system(e),
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    let fd = open(
        p,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::system(format!("open {}: {e}", p.display())))?;
    // SAFETY: `open` returned a new descriptor that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// A private mount of a snapshot, unmounted on drop.
pub(super) struct TempMount(PathBuf);

impl TempMount {
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempMount {
    fn drop(&mut self) {
        if let Err(e) = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH) {
            tracing::warn!(path = %self.0.display(), error = %e, "unmounting copy mount");
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// How the filesystem is wanted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// What processes see (bind mounts included) when running.
    Live,
    /// Writes land in the container's writable layer.
    Write,
    /// The container's own layers only, read-only (export).
    Layers,
}

impl ContainerMgr {
    /// Mounts the snapshot at a private dir: writable (the container must be
    /// stopped, its upper dir may not be in use), or a read-only union of
    /// all its layers, which is safe next to a running container.
    pub(super) async fn mount_snapshot(
        &self,
        id: &str,
        key: &str,
        writable: bool,
    ) -> Result<TempMount> {
        let mounts = self.rt.snapshot_mounts(key).await?;
        let target = self
            .cfg
            .exec_root
            .join(id)
            .join(format!("cp-{}", hex::encode(rand::random::<[u8; 4]>())));
        std::fs::create_dir_all(&target)?;
        let guard = TempMount(target.clone());
        use nix::mount::{mount, MsFlags};
        let fail = |e: nix::Error| Error::system(format!("mounting container filesystem: {e}"));
        if writable {
            for m in &mounts {
                let mut flags = MsFlags::empty();
                let mut data = Vec::new();
                for o in &m.options {
                    match o.as_str() {
                        "ro" => flags |= MsFlags::MS_RDONLY,
                        "bind" | "rbind" => flags |= MsFlags::MS_BIND,
                        "rw" => {}
                        other => data.push(other.to_string()),
                    }
                }
                if m.kind == "bind" {
                    flags |= MsFlags::MS_BIND;
                }
                let data = data.join(",");
                mount(
                    Some(m.source.as_str()),
                    &target,
                    Some(m.kind.as_str()),
                    flags,
                    (!data.is_empty()).then_some(data.as_str()),
                )
                .map_err(fail)?;
            }
        } else {
            let dirs = super::start::layer_dirs(&mounts);
            match dirs.len() {
                0 => return Err(Error::system("container snapshot has no layers")),
                1 => {
                    mount(
                        Some(dirs[0].as_path()),
                        &target,
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(fail)?;
                    mount(
                        None::<&str>,
                        &target,
                        None::<&str>,
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                        None::<&str>,
                    )
                    .map_err(fail)?;
                }
                _ => {
                    let lower: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                    let data = format!("lowerdir={}", lower.join(":"));
                    mount(
                        Some("overlay"),
                        &target,
                        Some("overlay"),
                        MsFlags::MS_RDONLY,
                        Some(data.as_str()),
                    )
                    .map_err(fail)?;
                }
            }
        }
        Ok(guard)
    }

    /// Runs `f` on the container's root fd in the blocking pool.
    async fn with_root<T: Send + 'static>(
        &self,
        reference: &str,
        access: Access,
        f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> std::result::Result<T, ArchiveError>
            + Send
            + 'static,
    ) -> Result<T> {
        let c = self.get(reference)?;
        let m = c.meta();
        let live = m.state.status.is_alive() && m.state.pid != 0;
        // A stopped container must not start while its layer is mounted here.
        let _op = if live { None } else { Some(c.op.lock().await) };
        let (fd, _mount) = if live && access != Access::Layers {
            (
                open_dir(Path::new(&format!("/proc/{}/root", m.state.pid)))?,
                None,
            )
        } else {
            let mnt = self
                .mount_snapshot(&m.id, &m.snapshot_key, access == Access::Write && !live)
                .await?;
            (open_dir(&mnt.0)?, Some(mnt))
        };
        let id = m.id.clone();
        tokio::task::spawn_blocking(move || f(fd.as_fd()))
            .await
            .map_err(|e| Error::system(format!("copy task: {e}")))?
            .map_err(|e| map_err(e, &id))
    }

    /// Stat of `path` inside the container.
    pub async fn path_stat(&self, reference: &str, path: &str) -> Result<PathStat> {
        let path = path.to_string();
        self.with_root(reference, Access::Live, move |root| {
            archive::stat_in_root(root, &path)
        })
        .await
    }

    /// Streams a tar of `path` into `out` (a blocking writer), returning the stat.
    pub async fn archive_path<W: std::io::Write + Send + 'static>(
        &self,
        reference: &str,
        path: &str,
        out: W,
    ) -> Result<()> {
        // The whole filesystem of a running container is its layers: the live
        // view would descend into /proc, /sys and /dev.
        let whole = path.split('/').all(|c| c.is_empty() || c == ".");
        let access = if whole { Access::Layers } else { Access::Live };
        let path = path.to_string();
        self.with_root(reference, access, move |root| {
            archive::archive_in_root(root, &path, out)
        })
        .await
    }

    /// Extracts the tar read from `input` into directory `dest` of the
    /// container; entries belong to the container's root unless `copy_uid_gid`.
    pub async fn extract_to<R: std::io::Read + Send + 'static>(
        &self,
        reference: &str,
        dest: &str,
        input: R,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    ) -> Result<()> {
        let c = self.get(reference)?;
        if c.meta().host_config.readonly_rootfs {
            return Err(Error::invalid("container rootfs is marked read-only"));
        }
        let dest = dest.to_string();
        let owner = (!copy_uid_gid).then_some((0, 0));
        self.with_root(reference, Access::Write, move |root| {
            let mut input = input;
            archive::extract_in_root_as(root, &dest, &mut input, no_overwrite_dir_non_dir, owner)?;
            // The tar ends before the body does (padding blocks): read the
            // rest, or the client's last writes hit a closed connection.
            std::io::copy(&mut input, &mut std::io::sink())?;
            Ok(())
        })
        .await
    }

    /// Streams a tar of the container's filesystem (its layers, without mounts).
    pub async fn export<W: std::io::Write + Send + 'static>(
        &self,
        reference: &str,
        out: W,
    ) -> Result<()> {
        self.with_root(reference, Access::Layers, move |root| {
            archive::archive_in_root(root, "/", out)
        })
        .await
    }
}

//! Applying an image layer (a tar "diff") to a snapshot directory in pouchd,
//! instead of containerd's `Diff.Apply`.
//!
//! Why here: containerd 1.6 hashes the uncompressed stream with Go's sha256,
//! which on this CPU class runs without the SHA extensions, and its gzip is
//! single-threaded Go as well; applying in pouchd takes that work out of the
//! pull's critical path. The result on disk is what containerd's overlay
//! applier makes: entries are written into the snapshot's upper directory,
//! whiteouts become overlayfs whiteouts (a 0/0 character device, or the
//! `trusted.overlay.opaque` xattr for `.wh..wh..opq`), and parent directories
//! the layer does not list get the owner and mode they have in the layers
//! below. The diff ID is the sha256 of the whole uncompressed stream, trailing
//! padding included.
//!
//! Safety is the `cp` extractor's (see the parent module): every entry is
//! created through `*at` calls on directory fds opened one component at a time
//! without following symlinks, so a hostile layer cannot write outside the
//! snapshot.

use super::unpack::{child_dir, chown_result, remove_all, Extractor, Meta};
use super::*;
use nix::sys::stat::{fchmodat, makedev, mknodat, FchmodatFlags, SFlag};
use sha2::{Digest, Sha256};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Names starting with this mark a whiteout: `.wh.<name>` hides `<name>` of
/// the layers below.
pub(super) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Hides everything of the layers below in its directory.
const OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Where a layer is applied.
#[derive(Debug, Clone, Copy)]
pub enum LayerTarget<'a> {
    /// A snapshot without parents (the bind-mounted directory of the first
    /// layer): there is nothing below for whiteouts to hide.
    Base(&'a Path),
    /// An overlay upper directory above `lowers` (overlay's `lowerdir` order:
    /// the topmost first).
    Overlay {
        upper: &'a Path,
        lowers: &'a [PathBuf],
    },
    /// A directory of its own, for a layer extracted before the layers below
    /// it are in place (to be moved into its snapshot later): whiteouts are
    /// made for overlayfs when `overlay`, and the directories made only as
    /// missing parents are reported, for [`adopt_parents`] to set once the
    /// layers below are known.
    Staged { dir: &'a Path, overlay: bool },
}

/// What applying a layer found.
#[derive(Debug)]
pub struct Applied {
    /// `sha256:<hex>` of the whole uncompressed stream.
    pub diff_id: String,
    /// [`LayerTarget::Staged`]: directories the layer does not list but has
    /// entries in, parents first (components below the directory).
    pub implicit_dirs: Vec<Vec<Vec<u8>>>,
}

/// How [`Extractor`] applies a layer's whiteouts and missing parents.
pub(super) struct LayerMode {
    /// The lower layers, topmost first (empty for a base layer).
    lowers: Vec<OwnedFd>,
    overlay: bool,
    /// Staged: missing parents are recorded here, not copied from `lowers`.
    implicit: Option<Vec<Vec<Vec<u8>>>>,
}

/// Applies the uncompressed layer tar `input` to `target`.
pub fn apply_layer<R: Read>(target: LayerTarget<'_>, input: R) -> Result<Applied> {
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let open_dir = |p: &Path| -> Result<OwnedFd> {
        nix::fcntl::open(p, dir_flags, Mode::empty())
            .map(owned)
            .map_err(|e| ArchiveError::Io(io::Error::other(format!("{}: {e}", p.display()))))
    };
    let (dest, mode) = match target {
        LayerTarget::Base(dir) => (
            open_dir(dir)?,
            LayerMode {
                lowers: Vec::new(),
                overlay: false,
                implicit: None,
            },
        ),
        LayerTarget::Overlay { upper, lowers } => (
            open_dir(upper)?,
            LayerMode {
                lowers: lowers.iter().map(|l| open_dir(l)).collect::<Result<_>>()?,
                overlay: true,
                implicit: None,
            },
        ),
        LayerTarget::Staged { dir, overlay } => (
            open_dir(dir)?,
            LayerMode {
                lowers: Vec::new(),
                overlay,
                implicit: Some(Vec::new()),
            },
        ),
    };
    let mut hashed = HashReader {
        inner: input,
        hasher: Sha256::new(),
    };
    let mut x = Extractor::new(dest, false, None, Some(mode));
    let mut ar = tar::Archive::new(&mut hashed);
    for entry in ar.entries().map_err(bad_tar)? {
        x.entry(&mut entry.map_err(bad_tar)?)?;
    }
    let implicit_dirs = x.layer_mode().and_then(|m| m.implicit.take());
    x.finish()?;
    // What follows the end-of-archive marker is part of the diff ID too.
    io::copy(&mut hashed, &mut io::sink())?;
    Ok(Applied {
        diff_id: format!("sha256:{}", hex::encode(hashed.hasher.finalize())),
        implicit_dirs: implicit_dirs.unwrap_or_default(),
    })
}

/// Gives the directories a staged layer made only as parents (`implicit`,
/// below `dir`) the owner and mode they have in the topmost of `lowers`
/// having them, as applying the layer in place would have. A path the layer
/// turned into something else later is skipped: it is walked one component
/// at a time, never following a symlink.
pub fn adopt_parents(dir: &Path, implicit: &[Vec<Vec<u8>>], lowers: &[PathBuf]) -> Result<()> {
    if implicit.is_empty() || lowers.is_empty() {
        return Ok(());
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let open = |p: &Path| {
        nix::fcntl::open(p, flags, Mode::empty())
            .map(owned)
            .map_err(|e| ArchiveError::Io(io::Error::other(format!("{}: {e}", p.display()))))
    };
    let root = open(dir)?;
    let mode = LayerMode {
        lowers: lowers.iter().map(|l| open(l)).collect::<Result<_>>()?,
        overlay: true,
        implicit: None,
    };
    'dirs: for comps in implicit {
        let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
        let Some(st) = mode.lower_dir_stat(&comps) else {
            continue;
        };
        let mut cur: Option<OwnedFd> = None;
        for c in &comps {
            let at = cur.as_ref().map_or(root.as_raw_fd(), |f| f.as_raw_fd());
            match child_dir(at, c, false) {
                Ok(fd) => cur = Some(fd),
                Err(_) => continue 'dirs,
            }
        }
        if let Some(fd) = cur {
            let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
            chown_result(fchown(fd.as_raw_fd(), Some(uid), Some(gid)))?;
            fchmod(
                fd.as_raw_fd(),
                Mode::from_bits_truncate(st.st_mode & 0o7777),
            )?;
        }
    }
    Ok(())
}

struct HashReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl LayerMode {
    /// Opens directory `comps` (its last component) in `dir`, the directory
    /// of the components before it, making it when missing. A made directory
    /// takes owner and mode from the topmost lower layer that has it, as
    /// overlayfs would otherwise show this layer's default over the real one.
    pub(super) fn parent_dir(&mut self, dir: RawFd, comps: &[&[u8]]) -> Result<OwnedFd> {
        let Some(name) = comps.last() else {
            return invalid("empty directory path");
        };
        match child_dir(dir, name, false) {
            Err(ArchiveError::Io(e)) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r,
        }
        match mkdirat(Some(dir), *name, Mode::from_bits_truncate(0o755)) {
            Ok(()) => {
                if let Some(implicit) = &mut self.implicit {
                    implicit.push(comps.iter().map(|c| c.to_vec()).collect());
                } else if let Some(st) = self.lower_dir_stat(comps) {
                    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
                    let perms = Mode::from_bits_truncate(st.st_mode & 0o7777);
                    let fd = child_dir(dir, name, false)?;
                    chown_result(fchown(fd.as_raw_fd(), Some(uid), Some(gid)))?;
                    fchmod(fd.as_raw_fd(), perms)?;
                    return Ok(fd);
                }
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        child_dir(dir, name, false)
    }

    /// The stat of directory `comps` in the topmost lower layer having it,
    /// resolved inside that layer only.
    fn lower_dir_stat(&self, comps: &[&[u8]]) -> Option<FileStat> {
        let path = OsStr::from_bytes(&comps.join(&b'/')).to_owned();
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        self.lowers.iter().find_map(|lower| {
            let fd = open_in_root(lower.as_raw_fd(), path.as_os_str(), flags).ok()?;
            let st = fstat(fd.as_raw_fd()).ok()?;
            is(&st, libc::S_IFDIR).then_some(st)
        })
    }
}

impl LayerMode {
    /// Directory `comps` is listed by the layer: its own owner and mode win.
    pub(super) fn listed(&mut self, comps: &[&[u8]]) {
        if let Some(implicit) = &mut self.implicit {
            implicit.retain(|c| !c.iter().map(Vec::as_slice).eq(comps.iter().copied()));
        }
    }
}

impl Extractor {
    fn mode(&self) -> Result<&LayerMode> {
        match &self.layer {
            Some(m) => Ok(m),
            None => invalid("whiteouts are only applied to image layers"),
        }
    }

    /// `.wh.<name>` in `parents`: `<name>` of the layers below is hidden (an
    /// overlayfs whiteout), and anything this layer put there is removed.
    /// `.wh..wh..opq`: the directory hides all of theirs.
    pub(super) fn whiteout<R: Read>(
        &mut self,
        parents: &[&[u8]],
        name: &[u8],
        e: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        let overlay = self.mode()?.overlay;
        let meta = Meta::of(e)?;
        let parent = self.dir(parents, true)?;
        let pfd = parent.as_raw_fd();
        if name == OPAQUE {
            if overlay {
                fsetxattr(pfd, OPAQUE_XATTR.as_bytes(), b"y")?;
            }
            return Ok(());
        }
        let hidden = &name[WHITEOUT_PREFIX.len()..];
        if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
            return invalid(format!("invalid whiteout {:?}", lossy(name)));
        }
        self.cache = None; // it may have been (below) the cached dir
        remove_all(pfd, hidden)?;
        if overlay {
            mknodat(
                Some(pfd),
                hidden,
                SFlag::S_IFCHR,
                Mode::empty(),
                makedev(0, 0),
            )?;
            chown_result(fchownat(
                Some(pfd),
                hidden,
                Some(meta.uid),
                Some(meta.gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ))?;
        }
        Ok(())
    }

    /// A character or block device or a FIFO.
    pub(super) fn device(
        &mut self,
        pfd: RawFd,
        name: &[u8],
        ty: EntryType,
        h: &Header,
        meta: &Meta,
    ) -> Result<()> {
        let kind = match ty {
            EntryType::Char => SFlag::S_IFCHR,
            EntryType::Block => SFlag::S_IFBLK,
            _ => SFlag::S_IFIFO,
        };
        let num = |r: io::Result<Option<u32>>| r.map(|v| u64::from(v.unwrap_or(0)));
        let dev = match kind {
            SFlag::S_IFIFO => 0,
            _ => makedev(
                num(h.device_major()).map_err(bad_tar)?,
                num(h.device_minor()).map_err(bad_tar)?,
            ),
        };
        mknodat(Some(pfd), name, kind, Mode::empty(), dev)?;
        chown_result(fchownat(
            Some(pfd),
            name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ))?;
        // mknod is not a symlink: following the name is following nothing.
        fchmodat(Some(pfd), name, meta.mode, FchmodatFlags::FollowSymlink)?;
        self.set_xattrs_at(pfd, name, meta)?;
        let t = meta.mtime;
        utimensat(Some(pfd), name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
        Ok(())
    }

    /// Restores a layer entry's xattrs on the open file or directory `fd`
    /// (`cp` archives' are not restored, as with Docker).
    pub(super) fn set_xattrs(&self, fd: RawFd, meta: &Meta) -> Result<()> {
        if self.layer.is_none() {
            return Ok(());
        }
        for (name, value) in &meta.xattrs {
            xattr_result(fsetxattr(fd, name, value))?;
        }
        Ok(())
    }

    /// [`Extractor::set_xattrs`] for `name` in directory `pfd`, which cannot
    /// be opened (a symlink or device): set through the daemon's own
    /// `/proc/self/fd/<pfd>`, which is that very directory.
    pub(super) fn set_xattrs_at(&self, pfd: RawFd, name: &[u8], meta: &Meta) -> Result<()> {
        if self.layer.is_none() || meta.xattrs.is_empty() {
            return Ok(());
        }
        let mut path = format!("/proc/self/fd/{pfd}/").into_bytes();
        path.extend_from_slice(name);
        for (xname, value) in &meta.xattrs {
            xattr_result(lsetxattr(&path, xname, value))?;
        }
        Ok(())
    }
}

/// Filesystems without xattr support of a namespace skip it, as containerd
/// does; anything else fails the layer.
fn xattr_result(r: Result<()>) -> Result<()> {
    match r {
        Err(ArchiveError::Io(e)) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(()),
        r => r,
    }
}

fn cstring(b: &[u8]) -> Result<CString> {
    CString::new(b).map_err(|_| ArchiveError::Invalid(format!("NUL in {:?}", lossy(b))))
}

fn fsetxattr(fd: RawFd, name: &[u8], value: &[u8]) -> Result<()> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated and `value` is valid for its length.
    let r = unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(r).map(drop).map_err(Into::into)
}

fn lsetxattr(path: &[u8], name: &[u8], value: &[u8]) -> Result<()> {
    let (path, name) = (cstring(path)?, cstring(name)?);
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    let r = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(r).map(drop).map_err(Into::into)
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;

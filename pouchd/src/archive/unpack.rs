//! `PUT /containers/{id}/archive`: a client's tar extracted below `root`,
//! every entry created through `*at` calls on open directory fds (see the
//! parent module).

use super::*;

/// Extracts the tar `input` into the directory `dest` (resolved inside `root`,
/// following symlinks there) (`PUT /containers/{id}/archive`).
///
/// * `dest` must exist ([`ArchiveError::NotFound`]) and be a directory
///   ([`ArchiveError::Invalid`]).
/// * Entry names lose any leading `/`, and `.`/`..` are applied lexically; an
///   entry climbing out of `dest` rejects the archive (Invalid). Extraction
///   streams, so the entries before a bad one stay extracted.
/// * Missing parent directories are created (0755). Existing parents must be
///   real directories: a symlink (or file) in the way is Invalid, never
///   followed. An entry for `dest` itself (`./`) is skipped, like Docker.
/// * Regular files, directories, symlinks (target stored verbatim) and
///   hardlinks (source relative to `dest`, looked up without following
///   symlinks; absolute or escaping sources are Invalid) are created; mode,
///   numeric uid/gid (PAX-aware; `EPERM` ignored when not root) and mtime are
///   applied (directory mtimes at the end). Xattrs are not restored.
/// * Character/block devices and FIFOs are skipped; other types are Invalid.
/// * An existing entry at the same path is replaced (a directory by a directory
///   is merged); with `no_overwrite_dir_non_dir`, replacing a directory by a
///   non-directory or vice versa is Invalid (Docker's `noOverwriteDirNonDir`).
pub fn extract_in_root<R: Read>(
    root: BorrowedFd<'_>,
    dest: &str,
    input: R,
    no_overwrite_dir_non_dir: bool,
) -> Result<()> {
    extract_in_root_as(root, dest, input, no_overwrite_dir_non_dir, None)
}

/// [`extract_in_root`], with every entry owned by `owner` (uid, gid) when
/// given, instead of the owners recorded in the tar (Docker's default for
/// `cp` without `copyUIDGID`).
pub fn extract_in_root_as<R: Read>(
    root: BorrowedFd<'_>,
    dest: &str,
    input: R,
    no_overwrite_dir_non_dir: bool,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let p = ClientPath::parse(dest)?;
    let fd = open_in_root(root.as_raw_fd(), rel(&p.comps).as_str(), OFlag::O_PATH)
        .map_err(|e| resolve_err(e, dest))?;
    if !is(&fstat(fd.as_raw_fd())?, libc::S_IFDIR) {
        return invalid(format!("{dest}: not a directory"));
    }
    let mut x = Extractor::new(fd, no_overwrite_dir_non_dir, owner, None);
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries().map_err(bad_tar)? {
        x.entry(&mut entry.map_err(bad_tar)?)?;
    }
    x.finish()
}

/// Owner, mode, mtime and extended attributes of an extracted entry.
pub(super) struct Meta {
    pub(super) uid: Uid,
    pub(super) gid: Gid,
    pub(super) mode: Mode,
    pub(super) mtime: TimeSpec,
    /// `SCHILY.xattr.<name>` PAX records: (name, value).
    pub(super) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    pub(super) fn of<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let (h, old) = (e.header(), e.header().as_old());
        // Empty numeric fields read as 0, like Go's archive/tar.
        let num = |r: io::Result<u64>, raw: &[u8]| match raw.iter().all(|b| matches!(b, 0 | b' ')) {
            true => Ok(0),
            false => r.map_err(bad_tar),
        };
        let (mut uid, mut gid) = (num(h.uid(), &old.uid)?, num(h.gid(), &old.gid)?);
        let mode = num(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777;
        let mut mtime = (num(h.mtime(), &old.mtime)? as i64, 0);
        let mut xattrs = Vec::new();
        for ext in e
            .pax_extensions()
            .map_err(bad_tar)?
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                continue;
            }
            let value = ext.value().unwrap_or_default();
            match ext.key() {
                Ok("uid") => uid = value.parse().unwrap_or(uid),
                Ok("gid") => gid = value.parse().unwrap_or(gid),
                Ok("mtime") => {
                    // `<secs>[.<fraction>]`
                    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
                    let nanos = format!("{frac:0<9.9}").parse().unwrap_or(0);
                    mtime = secs.parse().map_or(mtime, |s| (s, nanos));
                }
                _ => {}
            }
        }
        let id = |v: u64| {
            u32::try_from(v).map_err(|_| ArchiveError::Invalid(format!("bad uid/gid {v}")))
        };
        Ok(Meta {
            uid: Uid::from_raw(id(uid)?),
            gid: Gid::from_raw(id(gid)?),
            mode: Mode::from_bits_truncate(mode),
            mtime: TimeSpec::new(mtime.0, mtime.1),
            xattrs,
        })
    }
}

/// chown errors are fatal only when running as root (Docker likewise
/// tolerates EPERM when unprivileged).
pub(super) fn chown_result(r: nix::Result<()>) -> Result<()> {
    match r {
        Err(Errno::EPERM) if !Uid::effective().is_root() => Ok(()),
        r => Ok(r?),
    }
}

/// Cleans a tar entry or hardlink name: leading `/` dropped, `.` and `..`
/// applied lexically; climbing above the top is Invalid.
pub(super) fn clean_entry(raw: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |why| invalid(format!("invalid tar entry {:?}: {why}", lossy(raw)));
    if raw.contains(&0) {
        return bad("contains NUL");
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." if out.pop().is_none() => return bad("escapes the destination"),
            b".." => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Opens the directory `name` in `dir` without following symlinks; with
/// `create`, makes it (0755) if missing.
pub(super) fn child_dir(dir: RawFd, name: &[u8], create: bool) -> Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut r = openat(Some(dir), name, flags, Mode::empty());
    if create && r == Err(Errno::ENOENT) {
        match mkdirat(Some(dir), name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        r = openat(Some(dir), name, flags, Mode::empty());
    }
    match r {
        Ok(fd) => Ok(owned(fd)),
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => invalid(format!(
            "{}: not a directory ({e}); symlinks in the way are not followed",
            lossy(name)
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` in `parent`, recursively if it is a directory, without
/// following symlinks (iterative: the depth is container-controlled).
pub(super) fn remove_all(parent: RawFd, name: &[u8]) -> Result<()> {
    let unlink = |dir, name: &[u8], flag| match unlinkat(Some(dir), name, flag) {
        Ok(()) | Err(Errno::ENOENT) => Ok(true),
        Err(Errno::EISDIR) => Ok(false),
        Err(e) => Err(ArchiveError::from(e)),
    };
    if unlink(parent, name, UnlinkatFlags::NoRemoveDir)? {
        return Ok(());
    }
    let top = child_dir(parent, name, false)?;
    let names = list_dir(top.as_raw_fd())?;
    let mut stack = vec![(top, names, OsStr::from_bytes(name).to_owned())];
    while let Some((dir, names, _)) = stack.last_mut() {
        let dir = dir.as_raw_fd();
        if let Some(n) = names.pop() {
            if !unlink(dir, n.as_bytes(), UnlinkatFlags::NoRemoveDir)? {
                let sub = child_dir(dir, n.as_bytes(), false)?;
                let names = list_dir(sub.as_raw_fd())?;
                stack.push((sub, names, n));
            }
        } else {
            let (_, _, n) = stack.pop().expect("stack is not empty");
            let up = stack.last().map_or(parent, |(d, _, _)| d.as_raw_fd());
            unlink(up, n.as_bytes(), UnlinkatFlags::RemoveDir)?;
        }
    }
    Ok(())
}

pub(super) struct Extractor {
    dest: Rc<OwnedFd>,
    no_overwrite_dir_non_dir: bool,
    owner: Option<(u32, u32)>,
    /// The last parent directory used: its components below `dest`, and fd.
    pub(super) cache: Option<(Vec<Vec<u8>>, Rc<OwnedFd>)>,
    /// Directories whose mtime is set at the end (children change it).
    dirs: Vec<(Vec<Vec<u8>>, TimeSpec)>,
    /// Set when applying an image layer rather than a `cp` archive: devices,
    /// xattrs and whiteouts are applied (see `layer.rs`).
    pub(super) layer: Option<super::layer::LayerMode>,
}

impl Extractor {
    pub(super) fn new(
        dest: OwnedFd,
        no_overwrite_dir_non_dir: bool,
        owner: Option<(u32, u32)>,
        layer: Option<super::layer::LayerMode>,
    ) -> Self {
        Extractor {
            dest: Rc::new(dest),
            no_overwrite_dir_non_dir,
            owner,
            cache: None,
            dirs: Vec::new(),
            layer,
        }
    }

    /// Opens (with `create`, making missing ones) the directory `comps` below
    /// `dest`, one component at a time, never following symlinks.
    pub(super) fn dir(&mut self, comps: &[&[u8]], create: bool) -> Result<Rc<OwnedFd>> {
        if let Some((c, fd)) = &self.cache {
            if c.iter().map(Vec::as_slice).eq(comps.iter().copied()) {
                return Ok(fd.clone());
            }
        }
        let mut cur = self.dest.clone();
        for (i, c) in comps.iter().enumerate() {
            cur = Rc::new(match &mut self.layer {
                Some(layer) if create => layer.parent_dir(cur.as_raw_fd(), &comps[..=i])?,
                _ => child_dir(cur.as_raw_fd(), c, create)?,
            });
        }
        self.cache = Some((comps.iter().map(|c| c.to_vec()).collect(), cur.clone()));
        Ok(cur)
    }

    pub(super) fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = e.path_bytes().into_owned();
        let ty = match e.header().entry_type() {
            // Pre-POSIX archives mark directories by a trailing slash only.
            EntryType::Regular if raw.ends_with(b"/") => EntryType::Directory,
            ty => ty,
        };
        match ty {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {}
            EntryType::Directory | EntryType::Symlink | EntryType::Link => {}
            // An image layer's devices and FIFOs are made; a `cp` archive's are not.
            EntryType::Char | EntryType::Block | EntryType::Fifo if self.layer.is_some() => {}
            // Global PAX headers carry nothing we use.
            EntryType::Char | EntryType::Block | EntryType::Fifo | EntryType::XGlobalHeader => {
                return Ok(())
            }
            other => {
                return invalid(format!(
                    "tar entry {:?}: unsupported type {other:?}",
                    lossy(&raw)
                ))
            }
        }
        let comps = clean_entry(&raw)?;
        let Some((name, parents)) = comps.split_last() else {
            // `dest` itself: kept as it is, like Docker.
            return match ty {
                EntryType::Directory => Ok(()),
                _ => invalid("tar entry \".\" is not a directory"),
            };
        };
        if self.layer.is_some() && name.starts_with(super::layer::WHITEOUT_PREFIX) {
            return self.whiteout(parents, name, e);
        }
        let meta = Meta::of(e)?;
        let parent = self.dir(parents, true)?;
        let pfd = parent.as_raw_fd();
        let want_dir = ty == EntryType::Directory;
        let mut keep_dir = false;
        match fstatat(Some(pfd), *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = is(&st, libc::S_IFDIR);
                if self.no_overwrite_dir_non_dir && is_dir != want_dir {
                    let (what, with) = match is_dir {
                        true => ("directory", "non-directory"),
                        false => ("non-directory", "directory"),
                    };
                    return invalid(format!(
                        "cannot overwrite {what} {:?} with {with}",
                        lossy(&raw)
                    ));
                }
                keep_dir = is_dir && want_dir;
                if !keep_dir {
                    self.cache = None; // it may have been (below) the cached dir
                    remove_all(pfd, name)?;
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let (uid, gid) = self.owner.map_or((meta.uid, meta.gid), |(u, g)| {
            (Uid::from_raw(u), Gid::from_raw(g))
        });
        let (uid, gid, t) = (Some(uid), Some(gid), meta.mtime);
        match ty {
            EntryType::Directory => {
                if let Some(layer) = &mut self.layer {
                    layer.listed(&comps);
                }
                if !keep_dir {
                    mkdirat(Some(pfd), *name, Mode::from_bits_truncate(0o700))?;
                }
                let fd = child_dir(pfd, name, false)?;
                chown_result(fchown(fd.as_raw_fd(), uid, gid))?;
                fchmod(fd.as_raw_fd(), meta.mode)?;
                self.set_xattrs(fd.as_raw_fd(), &meta)?;
                self.dirs
                    .push((comps.iter().map(|c| c.to_vec()).collect(), t));
            }
            EntryType::Symlink => {
                let target = e.link_name_bytes().unwrap_or_default();
                if target.is_empty() || target.contains(&0) {
                    return invalid(format!("tar entry {:?}: bad symlink target", lossy(&raw)));
                }
                symlinkat(target.as_ref(), Some(pfd), *name)?;
                chown_result(fchownat(
                    Some(pfd),
                    *name,
                    uid,
                    gid,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                ))?;
                self.set_xattrs_at(pfd, name, &meta)?;
                utimensat(Some(pfd), *name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
            }
            EntryType::Link => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                let bad = |why| invalid(format!("hardlink to {:?}: {why}", lossy(&target)));
                // A layer's links name paths from its root, with or without `/`.
                if target.starts_with(b"/") && self.layer.is_none() {
                    return bad("absolute hardlink targets are not allowed");
                }
                let tcomps = clean_entry(&target)?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return bad("empty");
                };
                let tdir = self.dir(tparents, false)?;
                match linkat(
                    Some(tdir.as_raw_fd()),
                    *tname,
                    Some(pfd),
                    *name,
                    AtFlags::empty(),
                ) {
                    Err(Errno::ENOENT) => return bad("no such file in the destination"),
                    Err(Errno::EPERM) => return bad("cannot hardlink a directory"),
                    r => r?,
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.device(pfd, name, ty, e.header(), &meta)?;
            }
            _ => {
                let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
                let fd = openat(
                    Some(pfd),
                    *name,
                    flags | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let mut file = File::from(owned(fd));
                copy_data(e, &mut file)?;
                chown_result(fchown(file.as_raw_fd(), uid, gid))?;
                fchmod(file.as_raw_fd(), meta.mode)?;
                // After chown, which clears security.capability.
                self.set_xattrs(file.as_raw_fd(), &meta)?;
                futimens(file.as_raw_fd(), &t, &t)?;
            }
        }
        Ok(())
    }

    /// Sets the deferred directory mtimes (skipping directories replaced later
    /// in the archive).
    pub(super) fn layer_mode(&mut self) -> Option<&mut super::layer::LayerMode> {
        self.layer.as_mut()
    }

    pub(super) fn finish(mut self) -> Result<()> {
        for (comps, t) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
            let (name, parents) = comps.split_last().expect("dir entries have a name");
            let Ok(parent) = self.dir(parents, false) else {
                continue;
            };
            match utimensat(
                Some(parent.as_raw_fd()),
                *name,
                &t,
                &t,
                UtimensatFlags::NoFollowSymlink,
            ) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// `io::copy` with a larger buffer: layers carry files of many MiB, and each
/// read goes through the tar, decompression and digest layers.
fn copy_data<R: Read>(src: &mut R, dst: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; 128 << 10];
    let mut total = 0;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

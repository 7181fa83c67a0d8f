//! The filesystem core of `docker cp` (`GET`/`HEAD`/`PUT /containers/{id}/archive`).
//!
//! Every function takes `root`, a directory fd that *is* the container's root
//! filesystem (`/proc/<pid>/root` of a running container, or a private mount of
//! a stopped container's snapshot). Everything below it belongs to a possibly
//! hostile container, so:
//!
//! * client-given paths are opened with `openat2(root, path, RESOLVE_IN_ROOT |
//!   RESOLVE_NO_MAGICLINKS)`: symlinks (absolute or with `..`) resolve as if
//!   `root` were `/`, never reaching the host;
//! * below that, the tree is only ever touched one component at a time through
//!   `*at` calls relative to already-open directory fds, with `O_NOFOLLOW` /
//!   `AT_SYMLINK_NOFOLLOW`, and files are created with `O_EXCL`, so a symlink
//!   planted (or raced) into the tree is never followed.
//!
//! Client paths are cleaned like Docker does (`filepath.Join("/", path)`): they
//! are always taken as absolute in the container and `..` is applied lexically
//! before any lookup. A trailing `/` or `/.` means "follow the last component,
//! which must be a directory".
//!
//! Requires Linux >= 5.6 (`openat2`).

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fstat, fstatat, futimens, mkdirat, utimensat, FileStat, Mode, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use nix::NixPath;
use serde::Serialize;
use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;
use tar::{Builder, EntryType, Header};

/// What `HEAD /containers/{id}/archive` reports about a path
/// (Docker's `ContainerPathStat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStat {
    /// Base name of the requested path (`/` for the root, `.` for `dir/.`).
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode` bits: permissions, plus e.g. [`MODE_DIR`] or [`MODE_SYMLINK`].
    pub mode: u32,
    /// Modification time, RFC 3339 with nanoseconds, UTC.
    pub mtime: String,
    /// For a symlink: the absolute in-container path it fully resolves to
    /// (as Docker reports it); empty otherwise.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go `os.ModeDir`.
pub const MODE_DIR: u32 = 1 << 31;
/// Go `os.ModeSymlink`.
pub const MODE_SYMLINK: u32 = 1 << 27;
const MODE_DEVICE: u32 = 1 << 26;
const MODE_PIPE: u32 = 1 << 25;
const MODE_SOCKET: u32 = 1 << 24;
const MODE_SETUID: u32 = 1 << 23;
const MODE_SETGID: u32 = 1 << 22;
const MODE_CHARDEV: u32 = 1 << 21;
const MODE_STICKY: u32 = 1 << 20;

impl PathStat {
    /// The value of Docker's `X-Docker-Container-Path-Stat` header: standard
    /// base64 of the JSON `{"name","size","mode","mtime","linkTarget"}`.
    pub fn header_value(&self) -> String {
        let json = serde_json::to_vec(self).expect("PathStat serializes");
        base64(&json)
    }
}

/// Errors of the archive operations.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path (as given by the client) does not exist in the container
    /// (404; Docker says "Could not find the file <path> in container <id>").
    #[error("Could not find the file {0}")]
    NotFound(String),
    /// Bad request: not a directory, unsafe or malformed tar entry, ... (400).
    #[error("{0}")]
    Invalid(String),
    /// Any other failure (500).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<Errno> for ArchiveError {
    fn from(e: Errno) -> Self {
        ArchiveError::Io(e.into())
    }
}

type Result<T, E = ArchiveError> = std::result::Result<T, E>;

/// Stats `path` inside `root` like `HEAD /containers/{id}/archive`: the last
/// component is not followed unless the path ends in `/` or `/.`.
pub fn stat_in_root(root: BorrowedFd<'_>, path: &str) -> Result<PathStat> {
    let p = ClientPath::parse(path)?;
    let mut flags = OFlag::O_PATH;
    if !p.follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let root = root.as_raw_fd();
    let fd = open_in_root(root, p.rel().as_str(), flags).map_err(|e| resolve_err(e, path))?;
    let st = fstat(fd.as_raw_fd())?;
    let link_target = if is(&st, libc::S_IFLNK) {
        resolve_link_target(root, &p.comps)?
    } else {
        String::new()
    };
    let name = match p.comps.last() {
        None => "/".to_string(),
        Some(_) if p.dot => ".".to_string(),
        Some(last) => last.to_string(),
    };
    Ok(PathStat {
        name,
        size: st.st_size,
        mode: go_mode(st.st_mode),
        mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
        link_target,
    })
}

/// Writes a tar of `path` (a file, symlink or directory, recursively) to `out`,
/// like `GET /containers/{id}/archive`.
///
/// * Entry names are rooted at the base name of `path`, as `docker cp` expects
///   (`/etc/hosts` → `hosts`; `/etc` → `etc/`, `etc/hosts`, ...); a path
///   ending in `/.` (and `/` itself) gives `./`, `./hosts`, ... (the directory's
///   contents, as Docker does; the CLI relies on that `./` prefix).
/// * Symlinks are archived as symlinks and never followed (except the last
///   component of a path ending in `/` or `/.`, resolved inside `root`).
/// * Mode (incl. setuid/setgid/sticky), uid/gid and mtime (seconds) are kept.
///   User/group names, xattrs and hardlink sharing are not: hardlinked files
///   are stored as separate regular files.
/// * Character/block devices and FIFOs are archived as headers only (with
///   device numbers) and are never opened; sockets are skipped (like Docker).
/// * A file that changes while it is read is cut or zero-padded to the size
///   seen when it was opened; entries vanishing during the walk are skipped.
/// * Open fds grow with the directory depth (one per level being walked).
pub fn archive_in_root<W: Write>(root: BorrowedFd<'_>, path: &str, out: W) -> Result<()> {
    let p = ClientPath::parse(path)?;
    let root = root.as_raw_fd();
    let mut b = Builder::new(out);
    let mut stack = Vec::new();
    if p.follow {
        let dir = open_in_root(root, p.rel().as_str(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| resolve_err(e, path))?;
        let name = match p.comps.last() {
            Some(last) if !p.dot => last.as_bytes(),
            _ => b".",
        };
        enter_dir(&mut b, &mut stack, dir, name)?;
    } else {
        let (base, parents) = p.comps.split_last().expect("follow is set for the root");
        let parent = ClientPath { comps: parents.to_vec(), follow: true, dot: false }.rel();
        let parent = open_in_root(root, parent.as_str(), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| resolve_err(e, path))?;
        fstatat(Some(parent.as_raw_fd()), *base, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| resolve_err(e, path))?;
        stack.push(Item {
            parent: Rc::new(parent),
            name: OsString::from(base),
            tar_name: base.as_bytes().to_vec(),
        });
    }
    while let Some(item) = stack.pop() {
        archive_item(&mut b, &mut stack, item)?;
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// Extracts the tar `input` into the directory `dest` (resolved inside
/// `root`, following symlinks there), like `PUT /containers/{id}/archive`.
///
/// * `dest` must exist ([`ArchiveError::NotFound`]) and be a directory
///   ([`ArchiveError::Invalid`]).
/// * Entry names have leading `/` stripped and `.`/`..` applied lexically; an
///   entry climbing out of `dest` rejects the archive ([`ArchiveError::Invalid`]).
///   Extraction is streaming, so entries before the bad one stay extracted.
/// * Missing parent directories are created (0755). Existing parents must be
///   real directories: a symlink (or file) in the way is an error, never
///   followed. An entry `.` (dest itself) is skipped, as Docker does.
/// * Regular files, directories, symlinks (target stored verbatim) and
///   hardlinks (relative source, resolved below `dest` without following
///   symlinks; absolute or escaping sources are Invalid) are supported; mode,
///   uid/gid (numeric, PAX-aware; `EPERM` ignored when not running as root) and
///   mtime are applied (directory mtimes at the end).
/// * Character/block devices and FIFOs are skipped; other entry types are
///   Invalid. Xattrs are not restored.
/// * An existing entry of the same path is replaced (a directory is replaced
///   only by a directory, merging); with `no_overwrite_dir_non_dir`,
///   replacing a directory by a non-directory or vice versa is Invalid.
pub fn extract_in_root<R: Read>(
    root: BorrowedFd<'_>,
    dest: &str,
    input: R,
    no_overwrite_dir_non_dir: bool,
) -> Result<()> {
    let p = ClientPath::parse(dest)?;
    let fd = open_in_root(root.as_raw_fd(), p.rel().as_str(), OFlag::O_PATH)
        .map_err(|e| resolve_err(e, dest))?;
    if !is(&fstat(fd.as_raw_fd())?, libc::S_IFDIR) {
        return Err(ArchiveError::Invalid(format!("{dest}: not a directory")));
    }
    let mut x = Extractor {
        dest: Rc::new(fd),
        no_overwrite_dir_non_dir,
        cache: None,
        dirs: Vec::new(),
    };
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries().map_err(bad_tar)? {
        x.entry(&mut entry.map_err(bad_tar)?)?;
    }
    x.finish()
}

/// A client path, cleaned lexically (always absolute in the container).
struct ClientPath<'a> {
    comps: Vec<&'a str>,
    /// Follow the last component (trailing `/` or `/.`, or the root).
    follow: bool,
    /// Ends in `/.` (or is the root): archive the contents as `./...`.
    dot: bool,
}

impl<'a> ClientPath<'a> {
    fn parse(path: &'a str) -> Result<Self> {
        if path.is_empty() || path.contains('\0') {
            return Err(ArchiveError::Invalid(format!("invalid path {path:?}")));
        }
        let mut comps = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    comps.pop();
                }
                c => comps.push(c),
            }
        }
        let dot = comps.is_empty() || path == "." || path.ends_with("/.");
        let follow = dot || path.ends_with('/');
        Ok(ClientPath { comps, follow, dot })
    }

    fn rel(&self) -> String {
        if self.comps.is_empty() {
            ".".to_string()
        } else {
            self.comps.join("/")
        }
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and nothing
    // else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat2(root, rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`,
/// retried on `EAGAIN` (a concurrent rename somewhere in the tree).
fn open_in_root<P: ?Sized + NixPath>(root: RawFd, rel: &P, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut tries = 0;
    loop {
        match openat2(root, rel, how) {
            Err(Errno::EAGAIN) if tries < 64 => tries += 1,
            r => return r.map(owned),
        }
    }
}

/// Maps a failure to resolve the client-given `path`.
fn resolve_err(e: Errno, path: &str) -> ArchiveError {
    match e {
        Errno::ENOENT => ArchiveError::NotFound(path.to_string()),
        Errno::ENOTDIR => ArchiveError::Invalid(format!("{path}: not a directory")),
        Errno::ELOOP => ArchiveError::Invalid(format!("{path}: too many levels of symbolic links")),
        e => e.into(),
    }
}

fn bad_tar(e: io::Error) -> ArchiveError {
    ArchiveError::Invalid(format!("invalid tar archive: {e}"))
}

fn is(st: &FileStat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

fn go_mode(st_mode: libc::mode_t) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => MODE_DIR,
        libc::S_IFLNK => MODE_SYMLINK,
        libc::S_IFBLK => MODE_DEVICE,
        libc::S_IFCHR => MODE_DEVICE | MODE_CHARDEV,
        libc::S_IFIFO => MODE_PIPE,
        libc::S_IFSOCK => MODE_SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, MODE_SETUID),
        (libc::S_ISGID, MODE_SETGID),
        (libc::S_ISVTX, MODE_STICKY),
    ] {
        if st_mode & bit != 0 {
            m |= go;
        }
    }
    m
}

fn rfc3339(secs: i64, nsecs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, nsecs.clamp(0, 999_999_999) as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The absolute in-container path a symlink at `comps` fully resolves to,
/// computed like Docker's `FollowSymlinkInScope` (missing components are kept
/// as they are). Lookups go through `open_in_root` on already-resolved
/// prefixes, so a racing container can only confuse the answer, not escape.
fn resolve_link_target(root: RawFd, comps: &[&str]) -> Result<String> {
    let mut todo: Vec<Vec<u8>> = comps.iter().rev().map(|c| c.as_bytes().to_vec()).collect();
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => {
                done.pop();
                continue;
            }
            _ => done.push(c),
        }
        let rel = done.join(&b'/');
        let fd = match open_in_root(root, rel.as_slice(), OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => continue,
            Err(e) => return Err(e.into()),
        };
        if !is(&fstat(fd.as_raw_fd())?, libc::S_IFLNK) {
            continue;
        }
        links += 1;
        if links > 255 {
            return Err(ArchiveError::Invalid("too many levels of symbolic links".into()));
        }
        let target = readlinkat(Some(fd.as_raw_fd()), "")?;
        done.pop();
        if target.as_bytes().starts_with(b"/") {
            done.clear();
        }
        todo.extend(target.as_bytes().split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
    }
    Ok(format!("/{}", String::from_utf8_lossy(&done.join(&b'/'))))
}

/// Names in the directory `dir` (an fd of any kind), sorted, without `.`/`..`.
fn list_dir(dir: RawFd) -> io::Result<Vec<OsString>> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = openat(Some(dir), ".", flags, Mode::empty())?;
    // SAFETY: `fd` is a directory fd we own; on success fdopendir takes it over
    // (closedir closes it), on failure we close it ourselves.
    let dirp = unsafe { libc::fdopendir(fd) };
    if dirp.is_null() {
        let e = io::Error::last_os_error();
        drop(owned(fd));
        return Err(e);
    }
    let mut names = Vec::new();
    let res = loop {
        Errno::clear();
        // SAFETY: `dirp` is a valid stream until the closedir below.
        let ent = unsafe { libc::readdir(dirp) };
        if ent.is_null() {
            break match Errno::last_raw() {
                0 => Ok(()),
                e => Err(io::Error::from_raw_os_error(e)),
            };
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_owned());
        }
    };
    // SAFETY: `dirp` came from fdopendir and is closed exactly once.
    unsafe { libc::closedir(dirp) };
    res?;
    names.sort();
    Ok(names)
}

/// A pending entry of the archive walk: `name` inside the directory `parent`.
struct Item {
    parent: Rc<OwnedFd>,
    name: OsString,
    tar_name: Vec<u8>,
}

fn tar_header(st: &FileStat, ty: EntryType, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Appends an entry with raw `name`/`link` bytes (the tar crate's path setters
/// would drop the `./` prefix Docker's CLI needs), using GNU long-name
/// records for those over 100 bytes.
fn emit<W: Write>(
    b: &mut Builder<W>,
    mut h: Header,
    name: &[u8],
    link: &[u8],
    data: impl Read,
) -> io::Result<()> {
    for (bytes, ty) in [(name, EntryType::GNULongName), (link, EntryType::GNULongLink)] {
        if bytes.len() > 100 {
            let mut l = Header::new_gnu();
            l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            l.set_entry_type(ty);
            l.set_mode(0o644);
            l.set_uid(0);
            l.set_gid(0);
            l.set_mtime(0);
            l.set_size(bytes.len() as u64 + 1);
            l.set_cksum();
            b.append(&l, bytes.chain(&[0u8][..]))?;
        }
    }
    let old = h.as_old_mut();
    let n = name.len().min(100);
    old.name[..n].copy_from_slice(&name[..n]);
    let n = link.len().min(100);
    old.linkname[..n].copy_from_slice(&link[..n]);
    h.set_cksum();
    b.append(&h, data)
}

/// Emits the header of the directory `fd` and queues its children.
fn enter_dir<W: Write>(
    b: &mut Builder<W>,
    stack: &mut Vec<Item>,
    fd: OwnedFd,
    tar_name: &[u8],
) -> Result<()> {
    let st = fstat(fd.as_raw_fd())?;
    let mut name = tar_name.to_vec();
    name.push(b'/');
    emit(b, tar_header(&st, EntryType::Directory, 0), &name, b"", io::empty())?;
    let children = list_dir(fd.as_raw_fd())?;
    let fd = Rc::new(fd);
    for child in children.into_iter().rev() {
        let mut tar_name = name.clone();
        tar_name.extend_from_slice(child.as_bytes());
        stack.push(Item { parent: fd.clone(), name: child, tar_name });
    }
    Ok(())
}

fn archive_item<W: Write>(b: &mut Builder<W>, stack: &mut Vec<Item>, it: Item) -> Result<()> {
    let dir = it.parent.as_raw_fd();
    let name = it.name.as_os_str();
    let st = match fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()), // vanished meanwhile
        Err(e) => return Err(e.into()),
    };
    // Anything replaced between the stat and the open is skipped.
    let gone = |e: Errno| matches!(e, Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR);
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
            match openat(Some(dir), name, flags | OFlag::O_CLOEXEC, Mode::empty()) {
                Ok(fd) => enter_dir(b, stack, owned(fd), &it.tar_name)?,
                Err(e) if gone(e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        libc::S_IFREG => {
            // O_NONBLOCK|O_NOCTTY: harmless should it have become a FIFO/tty.
            let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
            let fd = match openat(Some(dir), name, flags | OFlag::O_CLOEXEC, Mode::empty()) {
                Ok(fd) => owned(fd),
                Err(e) if gone(e) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let st = fstat(fd.as_raw_fd())?;
            if !is(&st, libc::S_IFREG) {
                return Ok(());
            }
            let size = st.st_size.max(0) as u64;
            let data = Exact { inner: File::from(fd), left: size };
            emit(b, tar_header(&st, EntryType::Regular, size), &it.tar_name, b"", data)?;
        }
        libc::S_IFLNK => {
            let target = match readlinkat(Some(dir), name) {
                Ok(t) => t,
                Err(e) if gone(e) || e == Errno::EINVAL => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let h = tar_header(&st, EntryType::Symlink, 0);
            emit(b, h, &it.tar_name, target.as_bytes(), io::empty())?;
        }
        kind @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
            let ty = match kind {
                libc::S_IFCHR => EntryType::Char,
                libc::S_IFBLK => EntryType::Block,
                _ => EntryType::Fifo,
            };
            let mut h = tar_header(&st, ty, 0);
            if kind != libc::S_IFIFO {
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
            }
            emit(b, h, &it.tar_name, b"", io::empty())?;
        }
        _ => {} // sockets: skipped, like Docker
    }
    Ok(())
}

/// Reads exactly `left` bytes: stops early if the file grew, pads with zeros
/// if it shrank, so the entry always matches its header.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let mut n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            buf[..want].fill(0);
            n = want;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Owner, mode and mtime of an extracted entry.
struct Meta {
    uid: Uid,
    gid: Gid,
    mode: Mode,
    mtime: TimeSpec,
}

impl Meta {
    fn of<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let h = e.header();
        let (mut uid, mut gid) = (h.uid().map_err(bad_tar)?, h.gid().map_err(bad_tar)?);
        let mode = h.mode().map_err(bad_tar)? & 0o7777;
        let mut mtime = (h.mtime().map_err(bad_tar)? as i64, 0);
        if let Some(exts) = e.pax_extensions().map_err(bad_tar)? {
            for ext in exts {
                let ext = ext.map_err(bad_tar)?;
                let (Ok(key), Ok(value)) = (ext.key(), ext.value()) else { continue };
                match key {
                    "uid" => uid = value.parse().unwrap_or(uid),
                    "gid" => gid = value.parse().unwrap_or(gid),
                    "mtime" => mtime = parse_pax_time(value).unwrap_or(mtime),
                    _ => {}
                }
            }
        }
        let id = |v: u64| {
            u32::try_from(v).map_err(|_| ArchiveError::Invalid(format!("invalid uid/gid {v}")))
        };
        Ok(Meta {
            uid: Uid::from_raw(id(uid)?),
            gid: Gid::from_raw(id(gid)?),
            mode: Mode::from_bits_truncate(mode),
            mtime: TimeSpec::new(mtime.0, mtime.1),
        })
    }
}

/// A PAX time: `<secs>[.<fraction>]`.
fn parse_pax_time(v: &str) -> Option<(i64, i64)> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() || secs < 0 {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((secs, nanos))
}

/// chown errors are fatal only when running as root (Docker likewise
/// tolerates EPERM when unprivileged).
fn chown_result(r: nix::Result<()>) -> Result<()> {
    match r {
        Err(Errno::EPERM) if !Uid::effective().is_root() => Ok(()),
        r => Ok(r?),
    }
}

/// Cleans a tar entry or hardlink name: leading `/` dropped, `.` and `..`
/// applied lexically; climbing above the top is Invalid.
fn clean_entry(raw: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |why: &str| {
        let name = String::from_utf8_lossy(raw);
        ArchiveError::Invalid(format!("invalid tar entry {name:?}: {why}"))
    };
    if raw.contains(&0) {
        return Err(bad("contains NUL"));
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop().ok_or_else(|| bad("escapes the destination"))?;
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Opens the directory `name` in `dir` without following symlinks; with
/// `create`, makes it (0755) if missing.
fn child_dir(dir: RawFd, name: &[u8], create: bool) -> Result<OwnedFd> {
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
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => Err(ArchiveError::Invalid(format!(
            "{}: not a directory ({e}); symlinks in the way are not followed",
            String::from_utf8_lossy(name)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` in `parent`, recursively if it is a directory, without
/// following symlinks (iterative: depth is container-controlled).
fn remove_all(parent: RawFd, name: &[u8]) -> Result<()> {
    match unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let top = child_dir(parent, name, false)?;
    let names = list_dir(top.as_raw_fd())?;
    let mut stack: Vec<(OwnedFd, Vec<OsString>, OsString)> =
        vec![(top, names, OsStr::from_bytes(name).to_owned())];
    while let Some((dir, names, _)) = stack.last_mut() {
        let dir = dir.as_raw_fd();
        if let Some(n) = names.pop() {
            match unlinkat(Some(dir), n.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(Errno::EISDIR) => {
                    let sub = child_dir(dir, n.as_bytes(), false)?;
                    let names = list_dir(sub.as_raw_fd())?;
                    stack.push((sub, names, n));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            let (_, _, n) = stack.pop().expect("stack is not empty");
            let up = stack.last().map_or(parent, |(d, _, _)| d.as_raw_fd());
            match unlinkat(Some(up), n.as_os_str(), UnlinkatFlags::RemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

struct Extractor {
    dest: Rc<OwnedFd>,
    no_overwrite_dir_non_dir: bool,
    /// The last parent directory used: its components below `dest` and fd.
    cache: Option<(Vec<Vec<u8>>, Rc<OwnedFd>)>,
    /// Directories whose mtime is set at the end (children change it).
    dirs: Vec<(Vec<Vec<u8>>, TimeSpec)>,
}

impl Extractor {
    /// Opens (with `create`, making missing ones) the directory `comps` below
    /// `dest`, one component at a time, never following symlinks.
    fn dir(&mut self, comps: &[&[u8]], create: bool) -> Result<Rc<OwnedFd>> {
        if let Some((c, fd)) = &self.cache {
            if c.iter().map(Vec::as_slice).eq(comps.iter().copied()) {
                return Ok(fd.clone());
            }
        }
        let mut cur = self.dest.clone();
        for c in comps {
            cur = Rc::new(child_dir(cur.as_raw_fd(), c, create)?);
        }
        self.cache = Some((comps.iter().map(|c| c.to_vec()).collect(), cur.clone()));
        Ok(cur)
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        let ty = e.header().entry_type();
        match ty {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {}
            EntryType::Directory | EntryType::Symlink | EntryType::Link => {}
            // Devices and FIFOs are not created; global PAX headers carry nothing we use.
            EntryType::Char | EntryType::Block | EntryType::Fifo | EntryType::XGlobalHeader => {
                return Ok(())
            }
            other => {
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                return Err(ArchiveError::Invalid(format!(
                    "tar entry {name:?}: unsupported type {other:?}"
                )));
            }
        }
        let raw = e.path_bytes().into_owned();
        let comps = clean_entry(&raw)?;
        let Some((name, parents)) = comps.split_last() else {
            // `dest` itself: kept as it is, like Docker.
            return match ty {
                EntryType::Directory => Ok(()),
                _ => Err(ArchiveError::Invalid("tar entry \".\" is not a directory".into())),
            };
        };
        let meta = Meta::of(e)?;
        let parent = self.dir(parents, true)?;
        let pfd = parent.as_raw_fd();
        let want_dir = ty == EntryType::Directory;
        let mut keep_dir = false;
        match fstatat(Some(pfd), *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = is(&st, libc::S_IFDIR);
                if self.no_overwrite_dir_non_dir && is_dir != want_dir {
                    let (what, with) = if is_dir {
                        ("directory", "non-directory")
                    } else {
                        ("non-directory", "directory")
                    };
                    let path = String::from_utf8_lossy(&raw);
                    return Err(ArchiveError::Invalid(format!(
                        "cannot overwrite {what} {path:?} with {with}"
                    )));
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
        match ty {
            EntryType::Directory => {
                if !keep_dir {
                    mkdirat(Some(pfd), *name, Mode::from_bits_truncate(0o700))?;
                }
                let fd = child_dir(pfd, name, false)?;
                chown_result(fchown(fd.as_raw_fd(), Some(meta.uid), Some(meta.gid)))?;
                fchmod(fd.as_raw_fd(), meta.mode)?;
                self.dirs.push((comps.iter().map(|c| c.to_vec()).collect(), meta.mtime));
            }
            EntryType::Symlink => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(ArchiveError::Invalid(format!(
                        "tar entry {:?}: bad symlink target",
                        String::from_utf8_lossy(&raw)
                    )));
                }
                symlinkat(target.as_slice(), Some(pfd), *name)?;
                let nofollow = AtFlags::AT_SYMLINK_NOFOLLOW;
                chown_result(fchownat(Some(pfd), *name, Some(meta.uid), Some(meta.gid), nofollow))?;
                let t = meta.mtime;
                utimensat(Some(pfd), *name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
            }
            EntryType::Link => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                let bad = |why: &str| {
                    let t = String::from_utf8_lossy(&target);
                    ArchiveError::Invalid(format!("hardlink to {t:?}: {why}"))
                };
                if target.starts_with(b"/") {
                    return Err(bad("absolute hardlink targets are not allowed"));
                }
                let tcomps = clean_entry(&target)?;
                let (tname, tparents) = tcomps.split_last().ok_or_else(|| bad("empty"))?;
                let tdir = self.dir(tparents, false)?;
                match linkat(Some(tdir.as_raw_fd()), *tname, Some(pfd), *name, AtFlags::empty()) {
                    Ok(()) => {}
                    Err(Errno::ENOENT) => return Err(bad("no such file in the destination")),
                    Err(Errno::EPERM) => return Err(bad("cannot hardlink a directory")),
                    Err(e) => return Err(e.into()),
                }
            }
            _ => {
                let flags = OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                let fd = openat(Some(pfd), *name, flags, Mode::from_bits_truncate(0o600))?;
                let mut file = File::from(owned(fd));
                io::copy(e, &mut file)?;
                chown_result(fchown(file.as_raw_fd(), Some(meta.uid), Some(meta.gid)))?;
                fchmod(file.as_raw_fd(), meta.mode)?;
                futimens(file.as_raw_fd(), &meta.mtime, &meta.mtime)?;
            }
        }
        Ok(())
    }

    /// Sets the deferred directory mtimes (best effort for directories that
    /// were replaced later in the archive).
    fn finish(mut self) -> Result<()> {
        for (comps, t) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
            let (name, parents) = comps.split_last().expect("dir entries have a name");
            let Ok(parent) = self.dir(parents, false) else { continue };
            let flag = UtimensatFlags::NoFollowSymlink;
            match utimensat(Some(parent.as_raw_fd()), *name, &t, &t, flag) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;

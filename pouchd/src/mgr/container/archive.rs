//! The filesystem core of `docker cp` (`GET`/`HEAD`/`PUT /containers/{id}/archive`).
//!
//! `root` is a directory fd that *is* the container's root filesystem
//! (`/proc/<pid>/root`, or a private mount of a stopped container's snapshot);
//! everything below it belongs to a possibly hostile container. So client paths
//! are opened with `openat2(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! (symlinks, absolute or with `..`, resolve as if `root` were `/`), and below
//! that the tree is only touched one component at a time through `*at` calls on
//! already-open directory fds with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW` (files are
//! created with `O_EXCL`): a symlink planted or raced into the tree is never
//! followed. Client paths are cleaned like Docker's `filepath.Join("/", path)`
//! (absolute in the container, `..` applied lexically first); a trailing `/` or
//! `/.` follows the last component, which must then be a directory.
//! Requires Linux >= 5.6 (`openat2`).

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, futimens, mkdirat, utimensat};
use nix::sys::stat::{FileStat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use nix::NixPath;
use serde::Serialize;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;
use tar::{Builder, EntryType, Header};

/// What `HEAD /containers/{id}/archive` reports (Docker's `ContainerPathStat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStat {
    /// Base name of the requested path (`/` for the root, `.` for `dir/.`).
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode` bits: permissions plus e.g. [`MODE_DIR`], [`MODE_SYMLINK`].
    pub mode: u32,
    /// Modification time, RFC 3339 with nanoseconds, UTC.
    pub mtime: String,
    /// For a symlink, the absolute in-container path it fully resolves to
    /// (as Docker reports it); empty otherwise.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go `os.ModeDir`.
pub const MODE_DIR: u32 = 1 << 31;
/// Go `os.ModeSymlink`.
pub const MODE_SYMLINK: u32 = 1 << 27;

impl PathStat {
    /// The `X-Docker-Container-Path-Stat` header value: standard base64 of the
    /// JSON `{"name","size","mode","mtime","linkTarget"}`.
    pub fn header_value(&self) -> String {
        base64(&serde_json::to_vec(self).expect("PathStat serializes"))
    }
}

/// Errors of the archive operations.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The client's path does not exist in the container (404; Docker says
    /// "Could not find the file <path> in container <id>").
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

fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(ArchiveError::Invalid(msg.into()))
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Stats `path` inside `root` (`HEAD /containers/{id}/archive`): the last
/// component is not followed unless the path ends in `/` or `/.`.
pub fn stat_in_root(root: BorrowedFd<'_>, path: &str) -> Result<PathStat> {
    let p = ClientPath::parse(path)?;
    let flags = if p.follow {
        OFlag::O_PATH
    } else {
        OFlag::O_PATH | OFlag::O_NOFOLLOW
    };
    let root = root.as_raw_fd();
    let fd = open_in_root(root, rel(&p.comps).as_str(), flags).map_err(|e| resolve_err(e, path))?;
    let st = fstat(fd.as_raw_fd())?;
    let link_target = match is(&st, libc::S_IFLNK) {
        true => resolve_link_target(root, &p.comps)?,
        false => String::new(),
    };
    let name = match p.comps.last() {
        None => "/",
        Some(_) if p.dot => ".",
        Some(last) => last,
    };
    Ok(PathStat {
        name: name.to_string(),
        size: st.st_size,
        mode: go_mode(st.st_mode),
        mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
        link_target,
    })
}

/// Writes a tar of `path` (a file, symlink or directory, recursively) to `out`
/// (`GET /containers/{id}/archive`).
///
/// * Entry names are rooted at the base name of `path`, as `docker cp` expects
///   (`/etc/hosts` → `hosts`; `/etc` → `etc/`, `etc/hosts`, ...). A path ending
///   in `/.`, and `/` itself, gives `./`, `./hosts`, ...: the directory's
///   contents with Docker's `./` prefix (which the CLI relies on).
/// * Symlinks are archived as symlinks, never followed (but for the last
///   component of a path ending in `/` or `/.`, resolved inside `root`).
/// * Mode (with setuid/setgid/sticky), numeric uid/gid and mtime (seconds) are
///   kept; user/group names, xattrs and hardlink sharing are not (hardlinked
///   files are stored as separate regular files).
/// * Character/block devices and FIFOs are archived as headers only (with
///   device numbers), never opened; sockets are skipped (like Docker).
/// * A file changing while read is cut or zero-padded to the size it had when
///   opened; entries vanishing or changing type during the walk are skipped.
/// * Open fds grow with the depth of the tree (one per level being walked).
pub fn archive_in_root<W: Write>(root: BorrowedFd<'_>, path: &str, out: W) -> Result<()> {
    let p = ClientPath::parse(path)?;
    let root = root.as_raw_fd();
    let mut b = Builder::new(out);
    let mut stack = Vec::new();
    let err = |e| resolve_err(e, path);
    match p.comps.split_last() {
        Some((base, parents)) if !p.follow => {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
            let parent = open_in_root(root, rel(parents).as_str(), flags).map_err(err)?;
            let nofollow = AtFlags::AT_SYMLINK_NOFOLLOW;
            fstatat(Some(parent.as_raw_fd()), *base, nofollow).map_err(err)?;
            let (name, tar_name) = (OsString::from(base), base.as_bytes().to_vec());
            stack.push(Item {
                parent: Rc::new(parent),
                name,
                tar_name,
            });
        }
        last => {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
            let dir = open_in_root(root, rel(&p.comps).as_str(), flags).map_err(err)?;
            let name = match last {
                Some((base, _)) if !p.dot => base.as_bytes(),
                _ => b".",
            };
            enter_dir(&mut b, &mut stack, dir, name)?;
        }
    }
    while let Some(item) = stack.pop() {
        archive_item(&mut b, &mut stack, item)?;
    }
    b.into_inner()?.flush()?;
    Ok(())
}

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
    let dest = Rc::new(fd);
    let mut x = Extractor {
        dest,
        no_overwrite_dir_non_dir,
        owner,
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
    /// Ends in `/.`, or is the root: archive the contents as `./...`.
    dot: bool,
}

impl<'a> ClientPath<'a> {
    fn parse(path: &'a str) -> Result<Self> {
        if path.is_empty() || path.contains('\0') {
            return invalid(format!("invalid path {path:?}"));
        }
        let mut comps = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => drop(comps.pop()),
                c => comps.push(c),
            }
        }
        let dot = comps.is_empty() || path == "." || path.ends_with("/.");
        Ok(ClientPath {
            comps,
            follow: dot || path.ends_with('/'),
            dot,
        })
    }
}

fn rel(comps: &[&str]) -> String {
    if comps.is_empty() {
        ".".to_string()
    } else {
        comps.join("/")
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat2(root, rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`,
/// retried on `EAGAIN` (a concurrent rename somewhere in the tree).
fn open_in_root<P: ?Sized + NixPath>(root: RawFd, rel: &P, flags: OFlag) -> nix::Result<OwnedFd> {
    let resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(resolve);
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
        Errno::ENOTDIR | Errno::ELOOP => ArchiveError::Invalid(format!("{path}: {}", e.desc())),
        e => e.into(),
    }
}

fn bad_tar(e: io::Error) -> ArchiveError {
    ArchiveError::Invalid(format!("invalid tar archive: {e}"))
}

fn is(st: &FileStat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

/// Go's `os.FileMode` of a `st_mode`.
fn go_mode(st_mode: libc::mode_t) -> u32 {
    let kind = match st_mode & libc::S_IFMT {
        libc::S_IFDIR => MODE_DIR,
        libc::S_IFLNK => MODE_SYMLINK,
        libc::S_IFBLK => 1 << 26,           // ModeDevice
        libc::S_IFCHR => 1 << 26 | 1 << 21, // ModeDevice | ModeCharDevice
        libc::S_IFIFO => 1 << 25,           // ModeNamedPipe
        libc::S_IFSOCK => 1 << 24,          // ModeSocket
        _ => 0,
    };
    let special = [
        (libc::S_ISUID, 1 << 23),
        (libc::S_ISGID, 1 << 22),
        (libc::S_ISVTX, 1 << 20),
    ];
    special
        .iter()
        .filter(|(bit, _)| st_mode & bit != 0)
        .fold(kind | st_mode & 0o777, |m, (_, go)| m | go)
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
            match i <= chunk.len() {
                true => s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char),
                false => s.push('='),
            }
        }
    }
    s
}

/// The absolute in-container path the symlink at `comps` fully resolves to,
/// like Docker's `FollowSymlinkInScope` (missing components kept as they are).
/// Lookups go through `open_in_root` on already-resolved prefixes, so a racing
/// container can only confuse the answer, never escape.
fn resolve_link_target(root: RawFd, comps: &[&str]) -> Result<String> {
    let mut todo: Vec<Vec<u8>> = comps.iter().rev().map(|c| c.as_bytes().to_vec()).collect();
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => drop(done.pop()),
            _ => done.push(c),
        }
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        let fd = match open_in_root(root, done.join(&b'/').as_slice(), flags) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => continue,
            Err(e) => return Err(e.into()),
        };
        if !is(&fstat(fd.as_raw_fd())?, libc::S_IFLNK) {
            continue;
        }
        links += 1;
        if links > 255 {
            return invalid("too many levels of symbolic links");
        }
        let target = readlinkat(Some(fd.as_raw_fd()), "")?;
        done.pop();
        if target.as_bytes().starts_with(b"/") {
            done.clear();
        }
        todo.extend(
            target
                .as_bytes()
                .split(|b| *b == b'/')
                .rev()
                .map(<[u8]>::to_vec),
        );
    }
    Ok(format!("/{}", lossy(&done.join(&b'/'))))
}

/// Names in the directory `dir` (an fd of any kind), sorted, without `.`/`..`.
/// Reopened through the daemon's own `/proc/self/fd`: that magic link is the
/// very directory `dir` refers to, not a path the container could redirect.
fn list_dir(dir: RawFd) -> io::Result<Vec<OsString>> {
    let entries = std::fs::read_dir(format!("/proc/self/fd/{dir}"))?;
    let mut names = entries
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// A pending entry of the archive walk: `name` inside the directory `parent`.
struct Item {
    parent: Rc<OwnedFd>,
    name: OsString,
    tar_name: Vec<u8>,
}

/// Appends an entry for `st` with raw `name`/`link` bytes (the tar crate's
/// path setters would drop the `./` prefix Docker's CLI needs), preceded by GNU
/// long-name records for those over 100 bytes.
fn emit<W: Write>(
    b: &mut Builder<W>,
    st: &FileStat,
    (ty, size): (EntryType, u64),
    (name, link): (&[u8], &[u8]),
    data: impl Read,
) -> io::Result<()> {
    for (bytes, ty) in [
        (name, EntryType::GNULongName),
        (link, EntryType::GNULongLink),
    ] {
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
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    if matches!(ty, EntryType::Char | EntryType::Block) {
        h.set_device_major(libc::major(st.st_rdev))?;
        h.set_device_minor(libc::minor(st.st_rdev))?;
    }
    let old = h.as_old_mut();
    old.name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    old.linkname[..link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
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
    let name = [tar_name, b"/"].concat();
    emit(b, &st, (EntryType::Directory, 0), (&name, b""), io::empty())?;
    let children = list_dir(fd.as_raw_fd())?;
    let parent = Rc::new(fd);
    for child in children.into_iter().rev() {
        let tar_name = [&name, child.as_bytes()].concat();
        stack.push(Item {
            parent: parent.clone(),
            name: child,
            tar_name,
        });
    }
    Ok(())
}

fn archive_item<W: Write>(b: &mut Builder<W>, stack: &mut Vec<Item>, it: Item) -> Result<()> {
    let (dir, name) = (it.parent.as_raw_fd(), it.name.as_os_str());
    // Whatever vanishes or changes type between the lookups is skipped.
    let gone = |e: &Errno| {
        matches!(
            e,
            Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR | Errno::EINVAL
        )
    };
    let st = match fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(e) if gone(&e) => return Ok(()),
        st => st?,
    };
    let names = (it.tar_name.as_slice(), &b""[..]);
    let open = |flags: OFlag| match openat(
        Some(dir),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Err(e) if gone(&e) => Ok(None),
        fd => fd.map(|fd| Some(owned(fd))),
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            if let Some(fd) = open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)? {
                enter_dir(b, stack, fd, &it.tar_name)?;
            }
        }
        libc::S_IFREG => {
            // O_NONBLOCK|O_NOCTTY: harmless should it have become a FIFO/tty.
            let Some(fd) = open(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY)? else {
                return Ok(());
            };
            let st = fstat(fd.as_raw_fd())?;
            if is(&st, libc::S_IFREG) {
                let size = st.st_size.max(0) as u64;
                // Exactly `size` bytes: cut if it grew, zero-padded if it shrank.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                emit(b, &st, (EntryType::Regular, size), names, data)?;
            }
        }
        libc::S_IFLNK => match readlinkat(Some(dir), name) {
            Err(e) if gone(&e) => {}
            target => {
                let target = target?;
                let names = (names.0, target.as_bytes());
                emit(b, &st, (EntryType::Symlink, 0), names, io::empty())?;
            }
        },
        libc::S_IFCHR => emit(b, &st, (EntryType::Char, 0), names, io::empty())?,
        libc::S_IFBLK => emit(b, &st, (EntryType::Block, 0), names, io::empty())?,
        libc::S_IFIFO => emit(b, &st, (EntryType::Fifo, 0), names, io::empty())?,
        _ => {} // sockets: skipped, like Docker
    }
    Ok(())
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
        let (h, old) = (e.header(), e.header().as_old());
        // Empty numeric fields read as 0, like Go's archive/tar.
        let num = |r: io::Result<u64>, raw: &[u8]| match raw.iter().all(|b| matches!(b, 0 | b' ')) {
            true => Ok(0),
            false => r.map_err(bad_tar),
        };
        let (mut uid, mut gid) = (num(h.uid(), &old.uid)?, num(h.gid(), &old.gid)?);
        let mode = num(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777;
        let mut mtime = (num(h.mtime(), &old.mtime)? as i64, 0);
        for ext in e
            .pax_extensions()
            .map_err(bad_tar)?
            .into_iter()
            .flatten()
            .flatten()
        {
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
        })
    }
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
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => invalid(format!(
            "{}: not a directory ({e}); symlinks in the way are not followed",
            lossy(name)
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` in `parent`, recursively if it is a directory, without
/// following symlinks (iterative: the depth is container-controlled).
fn remove_all(parent: RawFd, name: &[u8]) -> Result<()> {
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

struct Extractor {
    dest: Rc<OwnedFd>,
    no_overwrite_dir_non_dir: bool,
    owner: Option<(u32, u32)>,
    /// The last parent directory used: its components below `dest`, and fd.
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
        let raw = e.path_bytes().into_owned();
        let ty = match e.header().entry_type() {
            // Pre-POSIX archives mark directories by a trailing slash only.
            EntryType::Regular if raw.ends_with(b"/") => EntryType::Directory,
            ty => ty,
        };
        match ty {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {}
            EntryType::Directory | EntryType::Symlink | EntryType::Link => {}
            // Devices and FIFOs are not created; global PAX headers carry nothing we use.
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
                if !keep_dir {
                    mkdirat(Some(pfd), *name, Mode::from_bits_truncate(0o700))?;
                }
                let fd = child_dir(pfd, name, false)?;
                chown_result(fchown(fd.as_raw_fd(), uid, gid))?;
                fchmod(fd.as_raw_fd(), meta.mode)?;
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
                utimensat(Some(pfd), *name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
            }
            EntryType::Link => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                let bad = |why| invalid(format!("hardlink to {:?}: {why}", lossy(&target)));
                if target.starts_with(b"/") {
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
            _ => {
                let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
                let fd = openat(
                    Some(pfd),
                    *name,
                    flags | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let mut file = File::from(owned(fd));
                io::copy(e, &mut file)?;
                chown_result(fchown(file.as_raw_fd(), uid, gid))?;
                fchmod(file.as_raw_fd(), meta.mode)?;
                futimens(file.as_raw_fd(), &t, &t)?;
            }
        }
        Ok(())
    }

    /// Sets the deferred directory mtimes (skipping directories replaced later
    /// in the archive).
    fn finish(mut self) -> Result<()> {
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

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;

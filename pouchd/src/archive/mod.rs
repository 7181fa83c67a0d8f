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
//! Image layers are applied with the same extractor (`layer.rs`).
//! Requires Linux >= 5.6 (`openat2`).

mod layer;
mod pack;
mod unpack;

pub use layer::{adopt_parents, apply_layer, Applied, LayerTarget};
pub use pack::archive_in_root;
pub use unpack::{extract_in_root, extract_in_root_as};

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
    /// `"Could not find the file <path> in container <id>"`).
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

#[cfg(test)]
mod tests;

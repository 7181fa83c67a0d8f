//! Tar archives for `pouch cp`: packing a host path for the daemon, and
//! extracting what a container sends onto the host — safely, since the
//! archive comes from a possibly hostile container.

pub mod copy;
pub mod path;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// An error with Go's `op path: reason` shape (`lstat /x: no such file or
/// directory`), as docker prints local file errors.
pub fn go_io_error(op: &str, path: &Path, err: &io::Error) -> io::Error {
    let reason = match err.raw_os_error() {
        Some(code) => {
            // `strerror` text, lowercased as Go's syscall errors are.
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            lower_first(&text)
        }
        None => err.to_string(),
    };
    io::Error::new(err.kind(), format!("{op} {}: {reason}", path.display()))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

// ---------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------

/// Write a tar archive of `src` (a file, directory or symlink, not
/// followed) whose top entry is named `top` (`.` to archive a
/// directory's content), to `out`. Hard links within the tree are kept;
/// sockets are skipped (as docker does).
pub fn pack<W: Write>(out: W, src: &Path, top: &str) -> io::Result<W> {
    let mut b = tar::Builder::new(out);
    let mut seen: HashMap<(u64, u64), String> = HashMap::new();
    let top = top.trim_end_matches('/');
    let top = if top.is_empty() { "." } else { top };
    add_tree(&mut b, src, top, &mut seen)?;
    b.into_inner()
}

fn add_tree<W: Write>(
    b: &mut tar::Builder<W>,
    src: &Path,
    name: &str,
    seen: &mut HashMap<(u64, u64), String>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(src).map_err(|e| go_io_error("lstat", src, &e))?;
    add_entry(b, src, name, &meta, seen)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mut children: Vec<_> = fs::read_dir(src)
        .map_err(|e| go_io_error("open", src, &e))?
        .collect::<io::Result<_>>()
        .map_err(|e| go_io_error("readdirent", src, &e))?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let file_name = child.file_name();
        let child_name = format!("{name}/{}", String::from_utf8_lossy(file_name.as_bytes()));
        add_tree(b, &child.path(), &child_name, seen)?;
    }
    Ok(())
}

fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    src: &Path,
    name: &str,
    meta: &fs::Metadata,
    seen: &mut HashMap<(u64, u64), String>,
) -> io::Result<()> {
    let ft = meta.file_type();
    if std::os::unix::fs::FileTypeExt::is_socket(&ft) {
        return Ok(());
    }
    let mut h = Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h.set_mode(meta.mode() & 0o7777);
    if ft.is_dir() {
        h.set_size(0);
        return b.append_data(&mut h, format!("{name}/"), io::empty());
    }
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| go_io_error("readlink", src, &e))?;
        h.set_size(0);
        return b.append_link(&mut h, name, target);
    }
    if ft.is_file() {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = seen.get(&key) {
                h.set_entry_type(EntryType::Link);
                h.set_size(0);
                return b.append_link(&mut h, name, first);
            }
            seen.insert(key, name.to_string());
        }
        let f = fs::File::open(src).map_err(|e| go_io_error("open", src, &e))?;
        h.set_size(meta.len());
        return b.append_data(&mut h, name, f.take(meta.len()));
    }
    // FIFOs and device nodes.
    h.set_size(0);
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    h.set_device_major(major)?;
    h.set_device_minor(minor)?;
    b.append_data(&mut h, name, io::empty())
}

// ---------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------

/// Extract a tar archive into the existing directory `dest`, as docker's
/// `Untar` with `NoLchown` and `NoOverwriteDirNonDir`, after renaming
/// entries with `renames` (applied in order, see [`path::rebase`]).
///
/// Entries are never written outside `dest`: absolute names and names
/// with `..` are refused, existing symlinks are never followed (a path
/// through one is refused, a symlink at the destination is replaced, not
/// written through), symlinks whose relative target leaves `dest` and
/// hard links to anything outside it are refused.
pub fn unpack<R: Read>(reader: R, dest: &Path, renames: &[(String, String)]) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut dirs: Vec<(PathBuf, u32, u64)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            continue;
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = renames
            .iter()
            .fold(raw_name.clone(), |n, (old, new)| path::rebase(&n, old, new));
        let parts = safe_components(&name).ok_or_else(|| {
            invalid(format!(
                "refusing to extract {raw_name:?}: it is outside of {:?}",
                dest.display().to_string()
            ))
        })?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let mtime = entry.header().mtime().unwrap_or(0);
        if parts.is_empty() {
            // The destination directory itself.
            if kind.is_dir() {
                continue;
            }
            return Err(invalid(format!(
                "cannot overwrite directory {:?} with non-directory {raw_name:?}",
                dest.display().to_string()
            )));
        }
        let target = ensure_parents(dest, &parts)?;
        prepare_target(&target, kind.is_dir(), dest)?;
        match kind {
            EntryType::Directory => {
                if !is_real_dir(&target) {
                    fs::create_dir(&target).map_err(|e| go_io_error("mkdir", &target, &e))?;
                }
                dirs.push((target, mode, mtime));
                continue;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&target)
                    .map_err(|e| go_io_error("open", &target, &e))?;
                io::copy(&mut entry, &mut f)?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let link_str = String::from_utf8_lossy(&link).into_owned();
                if !link_str.starts_with('/') {
                    let joined = path::join(&parent_str(&target), &link_str);
                    if !within(dest, &joined) {
                        return Err(invalid(format!(
                            "invalid symlink {:?} -> {link_str:?}",
                            target.display().to_string()
                        )));
                    }
                }
                std::os::unix::fs::symlink(OsStr::from_bytes(&link), &target)
                    .map_err(|e| go_io_error("symlink", &target, &e))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let link = renames
                    .iter()
                    .fold(link, |n, (old, new)| path::rebase(&n, old, new));
                let bad = || invalid(format!("invalid hardlink {raw_name:?} -> {link:?}"));
                let link_parts = safe_components(&link).ok_or_else(bad)?;
                if link_parts.is_empty() {
                    return Err(bad());
                }
                let source = existing_inside(dest, &link_parts).ok_or_else(bad)?;
                fs::hard_link(&source, &target).map_err(|e| go_io_error("link", &target, &e))?;
                // A hard link shares the inode: leave its mode and times.
                continue;
            }
            EntryType::Fifo | EntryType::Char | EntryType::Block => {
                make_node(&target, kind, mode, entry.header())?;
            }
            other => {
                return Err(invalid(format!(
                    "unhandled tar header type {}",
                    other.as_byte()
                )));
            }
        }
        if !matches!(kind, EntryType::Symlink) {
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .map_err(|e| go_io_error("chmod", &target, &e))?;
        }
        set_times(&target, mtime, matches!(kind, EntryType::Symlink))?;
    }
    // Directories last: creating their content changed their mtime, and a
    // read-only mode would have prevented it.
    for (dir, mode, mtime) in dirs.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode))
            .map_err(|e| go_io_error("chmod", dir, &e))?;
        set_times(dir, *mtime, false)?;
    }
    Ok(())
}

/// The components of an archive name, without `.` and empty ones; `None`
/// for an absolute name or one with `..`.
fn safe_components(name: &str) -> Option<Vec<&str>> {
    if name.starts_with('/') {
        return None;
    }
    let mut out = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => out.push(p),
        }
    }
    Some(out)
}

fn parent_str(p: &Path) -> String {
    p.parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether the cleaned `path` is `dest` or under it.
fn within(dest: &Path, path: &str) -> bool {
    let dest = path::clean(&dest.to_string_lossy());
    let path = path::clean(path);
    path == dest || dest == "/" || path.starts_with(&format!("{dest}/"))
}

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Create the missing parent directories of `dest/parts` (mode 0755),
/// refusing to go through anything that is not a real directory (a
/// symlink planted by an earlier entry, or already there). Returns the
/// full path.
fn ensure_parents(dest: &Path, parts: &[&str]) -> io::Result<PathBuf> {
    let mut cur = dest.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        cur.push(part);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(invalid(format!(
                    "refusing to extract through the symlink {:?}",
                    cur.display().to_string()
                )));
            }
            Ok(_) => {
                return Err(go_io_error(
                    "mkdir",
                    &cur,
                    &io::Error::from_raw_os_error(libc::ENOTDIR),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(|e| go_io_error("mkdir", &cur, &e))?;
            }
            Err(e) => return Err(go_io_error("lstat", &cur, &e)),
        }
    }
    cur.push(parts[parts.len() - 1]);
    Ok(cur)
}

/// An existing path `dest/parts` reached without following a symlink.
fn existing_inside(dest: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut cur = dest.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        let m = fs::symlink_metadata(&cur).ok()?;
        if i + 1 < parts.len() && !m.is_dir() {
            return None;
        }
    }
    Some(cur)
}

/// Make room for an entry: an existing directory stays for a directory
/// entry (merge); anything else is removed, never followed. Replacing a
/// directory by a non-directory or the reverse is refused.
fn prepare_target(target: &Path, entry_is_dir: bool, dest: &Path) -> io::Result<()> {
    let Ok(m) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    let t = target.display().to_string();
    let d = dest.display().to_string();
    if m.is_dir() && !entry_is_dir {
        return Err(invalid(format!(
            "cannot overwrite directory {t:?} with non-directory {d:?}"
        )));
    }
    if !m.is_dir() && entry_is_dir {
        return Err(invalid(format!(
            "cannot overwrite non-directory {t:?} with directory {d:?}"
        )));
    }
    if !m.is_dir() {
        fs::remove_file(target).map_err(|e| go_io_error("remove", target, &e))?;
    }
    Ok(())
}

fn make_node(target: &Path, kind: EntryType, mode: u32, h: &Header) -> io::Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let perm = Mode::from_bits_truncate(mode as libc::mode_t);
    let (flag, dev) = match kind {
        EntryType::Fifo => (SFlag::S_IFIFO, 0),
        EntryType::Char | EntryType::Block => {
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            let flag = if kind == EntryType::Char {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            (flag, makedev(u64::from(major), u64::from(minor)))
        }
        _ => unreachable!("make_node called for {kind:?}"),
    };
    mknod(target, flag, perm, dev).map_err(|e| go_io_error("mknod", target, &io::Error::from(e)))
}

fn set_times(target: &Path, mtime: u64, symlink: bool) -> io::Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let secs = i64::try_from(mtime).unwrap_or(i64::MAX);
    let ts = TimeSpec::new(secs, 0);
    let flag = if symlink {
        UtimensatFlags::NoFollowSymlink
    } else {
        UtimensatFlags::FollowSymlink
    };
    utimensat(None, target, &ts, &ts, flag)
        .map_err(|e| go_io_error("chtimes", target, &io::Error::from(e)))
}

#[cfg(test)]
mod tests;

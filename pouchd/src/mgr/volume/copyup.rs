//! Docker's copy-up: a new, empty volume mounted where the image has
//! content gets a copy of that content (with owners, modes, times and
//! symlinks as they are) before the container first runs.
//!
//! The path in the container is resolved inside the rootfs (a symlink there
//! is read as the container would see it, never followed on the host), the
//! copy never follows a symlink, and everything it writes is created new
//! under the volume's directory.

use crate::error::{Error, Result};
use nix::sys::stat::{utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed while resolving one path, as Linux's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

/// Resolves `path` (absolute in the container) against `root` as if `root`
/// were `/`: `..` stops at the root and absolute symlink targets restart
/// from it. Returns a host path under `root` whose components (but the
/// last) are real directories, or `None` when the path does not exist.
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut todo: Vec<String> = Vec::new();
    push_components(&mut todo, Path::new(path));
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        let candidate = cur
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&c);
        let md = candidate.symlink_metadata().ok()?;
        if md.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return None;
            }
            let target = fs::read_link(&candidate).ok()?;
            if target.is_absolute() {
                cur.clear();
            }
            push_components(&mut todo, &target);
        } else {
            cur.push(c);
        }
    }
    Some(cur.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

/// Pushes `p`'s components onto `todo` so that popping yields them in order.
fn push_components(todo: &mut Vec<String>, p: &Path) {
    let comps: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect();
    todo.extend(comps.into_iter().rev());
}

/// Copies the content of `container_path` in `rootfs` into `volume`, if
/// `volume` is empty and the path is a directory. Returns whether it copied.
pub fn copy_up(rootfs: &Path, container_path: &str, volume: &Path) -> Result<bool> {
    let empty = fs::read_dir(volume)
        .map_err(|e| Error::system(format!("reading volume {}: {e}", volume.display())))?
        .next()
        .is_none();
    if !empty {
        return Ok(false);
    }
    let Some(src) = resolve_in_root(rootfs, container_path) else {
        return Ok(false);
    };
    let md = match src.symlink_metadata() {
        Ok(md) if md.is_dir() => md,
        _ => return Ok(false),
    };
    let fail = |p: &Path, e: &dyn std::fmt::Display| {
        Error::system(format!("copying image content {}: {e}", p.display()))
    };
    copy_dir_contents(&src, volume).map_err(|e| fail(&src, &e))?;
    // The volume's root takes the image directory's owner and mode, as in
    // Docker (a volume at /var/lib/mysql stays owned by mysql).
    apply_meta(volume, &md).map_err(|e| fail(volume, &e))?;
    Ok(true)
}

fn copy_dir_contents(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let md = from.symlink_metadata()?;
        let ft = md.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_dir_contents(&from, &to)?;
        } else if ft.is_file() {
            copy_file(&from, &to)?;
        } else {
            let kind = SFlag::from_bits_truncate(md.mode() & SFlag::S_IFMT.bits());
            nix::sys::stat::mknod(
                &to,
                kind,
                Mode::from_bits_truncate(md.mode() & 0o7777),
                md.rdev(),
            )?;
        }
        apply_meta(&to, &md)?;
    }
    Ok(())
}

/// Copies a regular file into a new file (`create_new` and `O_NOFOLLOW`:
/// nothing that exists, link or not, is written through).
fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    Ok(())
}

/// Owner, then mode (a chown clears set-id bits), then times; symlinks get
/// their owner and times only.
fn apply_meta(p: &Path, md: &fs::Metadata) -> std::io::Result<()> {
    std::os::unix::fs::lchown(p, Some(md.uid()), Some(md.gid()))?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(p, fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    utimensat(
        None,
        p,
        &TimeSpec::new(md.atime(), md.atime_nsec()),
        &TimeSpec::new(md.mtime(), md.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolves_inside_the_root_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("/usr/lib", root.join("lib")).unwrap();
        symlink("../../../../..", root.join("up")).unwrap();
        symlink("/etc", root.join("hostetc")).unwrap();
        assert_eq!(resolve_in_root(root, "/lib"), Some(root.join("usr/lib")));
        assert_eq!(resolve_in_root(root, "/up/usr"), Some(root.join("usr")));
        // /etc does not exist in this root: not the host's /etc.
        assert_eq!(resolve_in_root(root, "/hostetc"), None);
        assert_eq!(resolve_in_root(root, "/../../usr"), Some(root.join("usr")));
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(root, "/loop"), None);
    }

    #[test]
    fn copies_tree_with_links_and_modes_once() {
        let d = tempfile::tempdir().unwrap();
        let (root, vol) = (d.path().join("root"), d.path().join("vol"));
        fs::create_dir_all(root.join("etc/sub")).unwrap();
        fs::create_dir_all(&vol).unwrap();
        fs::write(root.join("etc/passwd"), "root:x:0:0\n").unwrap();
        fs::set_permissions(root.join("etc/passwd"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(root.join("etc/sub/f"), "f").unwrap();
        symlink("/etc/shadow-on-host", root.join("etc/link")).unwrap();
        assert!(copy_up(&root, "/etc", &vol).unwrap());
        assert_eq!(fs::read_to_string(vol.join("etc/passwd")).ok(), None);
        assert_eq!(
            fs::read_to_string(vol.join("passwd")).unwrap(),
            "root:x:0:0\n"
        );
        assert_eq!(vol.join("passwd").metadata().unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::read_to_string(vol.join("sub/f")).unwrap(), "f");
        assert_eq!(
            fs::read_link(vol.join("link")).unwrap(),
            PathBuf::from("/etc/shadow-on-host")
        );
        // Not empty any more: a second start copies nothing.
        fs::write(root.join("etc/new"), "n").unwrap();
        assert!(!copy_up(&root, "/etc", &vol).unwrap());
        assert!(!vol.join("new").exists());
        // Nothing at the path, or a file there: nothing to copy.
        let vol2 = d.path().join("vol2");
        fs::create_dir_all(&vol2).unwrap();
        assert!(!copy_up(&root, "/nope", &vol2).unwrap());
        assert!(!copy_up(&root, "/etc/passwd", &vol2).unwrap());
    }
}

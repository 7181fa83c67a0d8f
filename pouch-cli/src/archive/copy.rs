//! Docker's copy semantics (`pkg/archive/copy.go`): what the source and
//! destination are, where an archive must be extracted, and how its
//! entries must be renamed so that `cp a b` means "copy into b" when b is
//! an existing directory and "copy as b" otherwise.

use std::fs;
use std::io;
use std::path::Path;

use super::go_io_error;
use super::path::{self as gopath, asserts_directory, split_dir_entry};

/// What we know of one side of a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInfo {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
    /// The name the source's top entry must take (after following a
    /// symlink that changed the last element).
    pub rebase_name: Option<String>,
}

pub const ERR_CANNOT_COPY_DIR: &str = "cannot copy directory";
pub const ERR_DIR_NOT_EXISTS: &str = "no such directory";
pub const ERR_NOT_DIRECTORY: &str = "not a directory";

/// Where to extract and how to rename: docker's `PrepareArchiveCopy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The directory the archive is extracted into.
    pub dst_dir: String,
    /// Rename the source's top entry (`old` → `new`), if needed.
    pub rename: Option<(String, String)>,
}

/// Decide where the archive of `src` goes to end up at `dst`.
pub fn prepare_archive_copy(src: &CopyInfo, dst: &CopyInfo) -> Result<Prepared, String> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, src_base) = split_dir_entry(&src.path);
    let src_base = src.rebase_name.clone().unwrap_or(src_base);
    let renamed = |dst_dir: String| Prepared {
        dst_dir,
        rename: Some((src_base.clone(), dst_base.clone())),
    };
    if dst.exists && dst.is_dir {
        // Copy into the existing directory, names unchanged.
        return Ok(Prepared {
            dst_dir: dst.path.clone(),
            rename: None,
        });
    }
    if dst.exists && src.is_dir {
        return Err(ERR_CANNOT_COPY_DIR.to_string());
    }
    if dst.exists || src.is_dir {
        return Ok(renamed(dst_dir));
    }
    if asserts_directory(&dst.path) {
        return Err(ERR_DIR_NOT_EXISTS.to_string());
    }
    Ok(renamed(dst_dir))
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Docker's `CopyInfoSourcePath` for a local (absolute) source: with
/// `follow`, the path is fully resolved (and its top entry renamed back
/// to the name given); else only its parent directories are.
pub fn copy_info_source_path(path: &str, follow: bool) -> io::Result<CopyInfo> {
    let (resolved, rebase_name) = if follow {
        let real = fs::canonicalize(path).map_err(|e| go_io_error("lstat", Path::new(path), &e))?;
        gopath::rebase_name(path, &real.to_string_lossy())
    } else {
        let split = path.rfind('/').map_or(0, |i| i + 1);
        let (dir, base) = path.split_at(split);
        let dir = if dir.is_empty() { "." } else { dir };
        let real_dir =
            fs::canonicalize(dir).map_err(|e| go_io_error("lstat", Path::new(dir), &e))?;
        let real_dir = real_dir.to_string_lossy();
        let resolved = if real_dir == "/" {
            format!("/{base}")
        } else {
            format!("{real_dir}/{base}")
        };
        let rebase = (gopath::has_trailing_separator(path)
            && gopath::base(path) != gopath::base(&resolved))
        .then(|| gopath::base(path));
        (resolved, rebase)
    };
    let meta = fs::symlink_metadata(&resolved)
        .or_else(|e| {
            // `dir/` names the directory a symlink points to.
            if gopath::has_trailing_separator(&resolved) {
                fs::metadata(&resolved)
            } else {
                Err(e)
            }
        })
        .map_err(|e| go_io_error("lstat", Path::new(&resolved), &e))?;
    let is_dir = meta.is_dir()
        || (gopath::has_trailing_separator(&resolved)
            && fs::metadata(&resolved).is_ok_and(|m| m.is_dir()));
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir,
        rebase_name,
    })
}

/// Docker's `CopyInfoDestinationPath` for a local (absolute) destination:
/// a symlink at the last element is followed (up to 10 times); a missing
/// destination is fine if its parent is a directory.
pub fn copy_info_destination_path(path: &str) -> io::Result<CopyInfo> {
    let original = path.to_string();
    let mut path = path.to_string();
    let mut n = 0;
    let stat = loop {
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                if n > 10 {
                    return Err(io::Error::other(format!("too many symlinks in {original}")));
                }
                n += 1;
                let target = fs::read_link(&path)
                    .map_err(|e| go_io_error("readlink", Path::new(&path), &e))?;
                let target = target.to_string_lossy().into_owned();
                path = if target.starts_with('/') {
                    target
                } else {
                    gopath::join(&split_dir_entry(&path).0, &target)
                };
            }
            other => break other,
        }
    };
    match stat {
        Ok(m) => Ok(CopyInfo {
            path,
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: None,
        }),
        Err(e) if is_not_found(&e) => {
            let (parent, _) = split_dir_entry(&path);
            let pm =
                fs::metadata(&parent).map_err(|e| go_io_error("stat", Path::new(&parent), &e))?;
            if !pm.is_dir() {
                return Err(io::Error::other(ERR_NOT_DIRECTORY));
            }
            Ok(CopyInfo {
                path,
                ..Default::default()
            })
        }
        Err(e) => Err(go_io_error("lstat", Path::new(&path), &e)),
    }
}

/// Docker's `ValidateOutputPath`: the parent directory must exist, and an
/// existing destination must be a directory or a regular file.
pub fn validate_output_path(path: &str) -> Result<(), String> {
    let dir = gopath::dir(&gopath::clean(path));
    if !dir.is_empty() && dir != "." {
        if let Err(e) = fs::metadata(&dir) {
            if is_not_found(&e) {
                return Err(format!(
                    "invalid output path: directory {dir:?} does not exist"
                ));
            }
        }
    }
    match fs::metadata(path) {
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(go_io_error("stat", Path::new(path), &e).to_string()),
        Ok(m) if m.is_dir() || m.is_file() => Ok(()),
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let ft = m.file_type();
            let why = if ft.is_block_device() || ft.is_char_device() {
                "got a device"
            } else {
                "got an irregular file"
            };
            Err(format!(
                "invalid output path: {path:?} must be a directory or a regular file: {why}"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    fn rename(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.into(), b.into()))
    }

    #[test]
    fn prepare_like_docker() {
        // Into an existing directory: names unchanged.
        let p = prepare_archive_copy(&info("/h/f", true, false), &info("/c/dir", true, true));
        assert_eq!(
            p,
            Ok(Prepared {
                dst_dir: "/c/dir".into(),
                rename: None
            })
        );
        // Over an existing file: renamed, extracted in its parent.
        let p = prepare_archive_copy(&info("/h/f", true, false), &info("/c/g", true, false));
        assert_eq!(
            p,
            Ok(Prepared {
                dst_dir: "/c".into(),
                rename: rename("f", "g")
            })
        );
        // A directory over a file.
        assert_eq!(
            prepare_archive_copy(&info("/h/d", true, true), &info("/c/g", true, false)),
            Err("cannot copy directory".into())
        );
        // A directory to a new name; its content with `/.`.
        let p = prepare_archive_copy(&info("/h/d", true, true), &info("/c/new", false, false));
        assert_eq!(p.unwrap().rename, rename("d", "new"));
        let p = prepare_archive_copy(&info("/h/d/.", true, true), &info("/c/new", false, false));
        assert_eq!(p.unwrap().rename, rename(".", "new"));
        // A file to a missing directory.
        assert_eq!(
            prepare_archive_copy(&info("/h/f", true, false), &info("/c/nodir/", false, false)),
            Err("no such directory".into())
        );
        // A file to a new name, with a rebase name from a followed link.
        let mut src = info("/h/real", true, false);
        src.rebase_name = Some("link".into());
        let p = prepare_archive_copy(&src, &info("/c/new", false, false)).unwrap();
        assert_eq!(p.dst_dir, "/c");
        assert_eq!(p.rename, rename("link", "new"));
    }

    #[test]
    fn local_source_and_destination() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        fs::write(format!("{d}/file"), b"x").unwrap();
        fs::create_dir(format!("{d}/sub")).unwrap();
        std::os::unix::fs::symlink("sub", format!("{d}/link")).unwrap();
        std::os::unix::fs::symlink("file", format!("{d}/flink")).unwrap();

        let s = copy_info_source_path(&format!("{d}/file"), false).unwrap();
        assert!(s.exists && !s.is_dir && s.rebase_name.is_none());
        // Not followed: the link itself.
        let s = copy_info_source_path(&format!("{d}/flink"), false).unwrap();
        assert!(!s.is_dir);
        assert!(s.path.ends_with("/flink"));
        // Followed: the target, renamed back to the link's name.
        let s = copy_info_source_path(&format!("{d}/flink"), true).unwrap();
        assert!(s.path.ends_with("/file"));
        assert_eq!(s.rebase_name.as_deref(), Some("flink"));
        let s = copy_info_source_path(&format!("{d}/link/"), false).unwrap();
        assert!(s.is_dir);
        let e = copy_info_source_path(&format!("{d}/missing"), false).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("/missing: no such file or directory"),
            "{e}"
        );

        let t = copy_info_destination_path(&format!("{d}/link")).unwrap();
        assert!(t.exists && t.is_dir && t.path.ends_with("/sub"));
        let t = copy_info_destination_path(&format!("{d}/new")).unwrap();
        assert!(!t.exists);
        assert!(copy_info_destination_path(&format!("{d}/nodir/new")).is_err());
        let e = copy_info_destination_path(&format!("{d}/file/new")).unwrap_err();
        assert!(e.to_string().ends_with("not a directory"), "{e}");

        assert!(validate_output_path(&format!("{d}/new")).is_ok());
        assert!(validate_output_path(&format!("{d}/file")).is_ok());
        assert_eq!(
            validate_output_path(&format!("{d}/nodir/x")),
            Err(format!(
                "invalid output path: directory \"{d}/nodir\" does not exist"
            ))
        );
        assert!(validate_output_path("/dev/null")
            .unwrap_err()
            .ends_with("got a device"));
    }
}

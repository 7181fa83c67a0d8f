//! The user a container's process runs as, resolved against the image's own
//! passwd and group files, read from the snapshot's layer directories without
//! mounting them and without following links.

use crate::error::{Error, Result};

/// The user the process runs as, resolved against the image's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: Option<String>,
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`) against the
/// passwd/group files found in `layers` (top layer first).
pub fn resolve_user(user: &str, layers: &[std::path::PathBuf]) -> Result<ResolvedUser> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_in_layers(layers, "etc/passwd").unwrap_or_default();
    let group = read_in_layers(layers, "etc/group").unwrap_or_default();
    let mut out = ResolvedUser::default();
    let mut name = None;
    if u.is_empty() {
        out.uid = 0;
        name = Some("root".to_string());
    } else if let Ok(uid) = u.parse::<u32>() {
        out.uid = uid;
    } else {
        name = Some(u.to_string());
    }
    let mut found = false;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            continue;
        }
        let matches = match &name {
            Some(n) => f[0] == n,
            None => f[2].parse::<u32>().ok() == Some(out.uid),
        };
        if matches {
            out.uid = f[2].parse().unwrap_or(out.uid);
            out.gid = f[3].parse().unwrap_or(0);
            out.home = Some(f[5].to_string());
            name = Some(f[0].to_string());
            found = true;
            break;
        }
    }
    if !found && !u.is_empty() && u.parse::<u32>().is_err() {
        return Err(Error::system(format!(
            "unable to find user {u}: no matching entries in passwd file"
        )));
    }
    if let Some(g) = g {
        if let Ok(gid) = g.parse::<u32>() {
            out.gid = gid;
        } else {
            let gid = group.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3 && f[0] == g)
                    .then(|| f[2].parse::<u32>().ok())
                    .flatten()
            });
            out.gid = gid.ok_or_else(|| {
                Error::system(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?;
        }
    }
    if let Some(n) = &name {
        for l in group.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == n) {
                if let Ok(gid) = f[2].parse::<u32>() {
                    if gid != out.gid && !out.additional_gids.contains(&gid) {
                        out.additional_gids.push(gid);
                    }
                }
            }
        }
    }
    if out.home.is_none() && out.uid == 0 {
        out.home = Some("/root".to_string());
    }
    Ok(out)
}

/// Reads `rel` from the first layer directory that has it, refusing to
/// follow symlinks (they could point anywhere on the host).
fn read_in_layers(layers: &[std::path::PathBuf], rel: &str) -> Option<String> {
    for dir in layers {
        let mut p = dir.clone();
        let mut ok = true;
        for comp in rel.split('/') {
            p.push(comp);
            match std::fs::symlink_metadata(&p) {
                Ok(md) if md.file_type().is_symlink() => {
                    ok = false;
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.is_file() && md.len() < (4 << 20) {
                    return std::fs::read_to_string(&p).ok();
                }
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_layers() {
        let top = tempfile::tempdir().unwrap();
        let low = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(low.path().join("etc")).unwrap();
        std::fs::write(
            low.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            low.path().join("etc/group"),
            "root:x:0:\napp:x:1001:\nwheel:x:10:app\n",
        )
        .unwrap();
        let layers = vec![top.path().to_path_buf(), low.path().to_path_buf()];
        let u = resolve_user("app", &layers).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (1000, 1001, vec![10])
        );
        assert_eq!(u.home.as_deref(), Some("/home/app"));
        let u = resolve_user("1000:5", &layers).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 5));
        let u = resolve_user("4242", &layers).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
        assert!(resolve_user("nobody-here", &layers).is_err());
    }

    #[test]
    fn symlinked_passwd_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("etc/passwd")).unwrap();
        assert_eq!(
            read_in_layers(&[d.path().to_path_buf()], "etc/passwd"),
            None
        );
    }
}

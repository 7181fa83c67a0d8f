//! Named network namespaces: an nsfs bind mount per container under the
//! daemon's exec root, which runc joins by path and CNI plugins configure.
//! The mount, not a process, keeps the namespace alive, so containers keep
//! their network across a daemon crash and a restarted daemon finds it.

use crate::error::{Error, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::path::{Path, PathBuf};

/// Creates a new network namespace bound at `path`. Blocking.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(path)
        .map_err(|e| Error::system(format!("creating netns file {}: {e}", path.display())))?;
    let target = path.to_path_buf();
    // unshare(CLONE_NEWNET) moves only the calling thread: a thread of its
    // own that ends afterwards leaves the daemon's threads in the host's
    // namespace.
    let res = std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::system(format!("unshare(CLONE_NEWNET): {e}")))?;
        // runc brings `lo` up only in namespaces it creates itself; doing it
        // here spares every start the exec of CNI's loopback plugin.
        loopback_up()?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| Error::system(format!("bind-mounting netns at {}: {e}", target.display())))
    })
    .join()
    .map_err(|_| Error::system("netns thread panicked"))?;
    if res.is_err() {
        let _ = std::fs::remove_file(path);
    }
    res
}

/// Sets `lo` up in the calling thread's network namespace.
fn loopback_up() -> Result<()> {
    let fail = |what: &str| {
        Error::system(format!(
            "bringing lo up: {what}: {}",
            std::io::Error::last_os_error()
        ))
    };
    // SAFETY: a datagram socket only to address an interface by name; the
    // ifreq is zeroed, given a NUL-terminated name, and only its flags are
    // read back and changed; the fd is closed on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(fail("socket"));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let res = if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(fail("SIOCGIFFLAGS"))
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(fail("SIOCSIFFLAGS"))
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        res
    }
}

/// Unmounts and removes the namespace file; a missing one is not an error.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::system(format!(
                "unmounting netns {}: {e}",
                path.display()
            )))
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::system(format!(
            "removing netns {}: {e}",
            path.display()
        ))),
    }
}

/// Namespace files under `dir` (container IDs as names).
pub fn list(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_remove_a_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: creating a netns needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns1");
        create(&p).unwrap();
        let own = std::fs::metadata("/proc/self/ns/net").unwrap();
        let theirs = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(own.ino(), theirs.ino(), "a new namespace, not ours");
        let lo = std::process::Command::new("nsenter")
            .arg(format!("--net={}", p.display()))
            .args(["ip", "-o", "link", "show", "lo"])
            .output()
            .unwrap();
        let lo = String::from_utf8_lossy(&lo.stdout);
        assert!(lo.contains(",UP,"), "lo is not up: {lo}");
        assert_eq!(list(dir.path()).len(), 1);
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
